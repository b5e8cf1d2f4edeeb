//! The live device set: the running devices follow `ups.conf`.
//!
//! NUT's nut-driver-enumerator gives each ups.conf section its own service and
//! compares a per-section checksum on every pass (spec `enumerator.md` §5).
//! Hazel does the same in-process: every device has a fingerprint (its
//! section's checksum, which covers the globals it inherits, plus what the
//! host adds: the resolved plugin and its digest, hazel.toml's driver mapping
//! and limits). On reload, sections that appeared start, vanished ones stop
//! and leave the store (so `LIST UPS` drops them), changed ones restart with
//! their virtual devices, and unchanged ones are not touched: same task, same
//! state, no gap for their clients. A section that cannot be used is reported
//! and its previous device keeps running.
//!
//! One task owns the set ([`LiveSet::spawn`]); reloads (file watch, SIGHUP,
//! `hazel drivers reload`) and the operator's start/stop/restart reach it as
//! [`Request`]s, one at a time.

pub mod control;
pub mod diff;
pub mod notify;
pub mod watch;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hazel_runtime::{DeviceClient, DeviceHandle, PluginCatalog, Runtime, RuntimeConfig, SupervisorPhase};
use hazel_state::{Availability, DeviceState, StateStore};
use tokio::sync::{mpsc, oneshot};

use crate::device_set::{DevicePlan, LoadedConfig, PlanProblem, plan_device_set};
use crate::host_settings::HostSettings;
use crate::nut_control::DeviceRouter;
use diff::{DeviceKey, SetDiff};

/// What makes a reload happen; logged with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadCause {
    /// The first load, at start.
    Start,
    /// The config dir changed (file watch or polling); skipped when
    /// `ups.conf` and `hazel.toml` read the same as at the last reload.
    FileChange,
    /// SIGHUP.
    Signal,
    /// `hazel drivers reload`.
    Control,
}

impl ReloadCause {
    fn as_str(self) -> &'static str {
        match self {
            ReloadCause::Start => "start",
            ReloadCause::FileChange => "file change",
            ReloadCause::Signal => "SIGHUP",
            ReloadCause::Control => "hazel drivers reload",
        }
    }
}

/// What the set's task is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// One line per device, as a table.
    List,
    /// Details of one device.
    Status(String),
    /// Start an operator-stopped device.
    Start(String),
    /// Stop a device until started again (reloads leave it stopped).
    Stop(String),
    /// Stop and start a device (and its virtual devices).
    Restart(String),
    /// Re-read the config dir and reconcile.
    Reload(ReloadCause),
}

/// The answer: lines to show, or an error message.
pub type Reply = Result<Vec<String>, String>;

/// One device of the set.
struct LiveDevice {
    name: String,
    plan: DevicePlan,
    fingerprint: u64,
    /// The supervisor; `None` while stopped.
    handle: Option<DeviceHandle>,
    /// Its latest state and client, kept while stopped so virtual devices
    /// can still be granted (and see it stale).
    state: Option<Arc<DeviceState>>,
    client: Option<DeviceClient>,
    operator_stopped: bool,
    /// When the host last started it.
    started_at: Option<SystemTime>,
    /// Starts after the first one by reloads and operators.
    host_restarts: u32,
    /// Plugin restarts of earlier supervisors of this device.
    earlier_plugin_restarts: u32,
    /// Why it could not start (e.g. its upstream never ran).
    start_error: Option<String>,
    /// The problem of the current version of its section while the previous one runs.
    config_error: Option<String>,
}

impl LiveDevice {
    fn key(&self) -> DeviceKey {
        DeviceKey {
            name: self.name.clone(),
            fingerprint: self.fingerprint,
            upstream: self.plan.upstream.as_ref().map(|u| u.device.clone()),
        }
    }

    fn plugin_restarts(&self) -> u32 {
        self.earlier_plugin_restarts + self.handle.as_ref().map_or(0, |h| h.supervisor_status().restarts)
    }
}

/// What was read from the config dir at the last reload attempt, to skip
/// file events that changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FilesDigest(u64);

impl FilesDigest {
    fn read(confdir: &Path) -> FilesDigest {
        let mut hasher = DefaultHasher::new();
        for name in ["ups.conf", "hazel.toml"] {
            match std::fs::read(confdir.join(name)) {
                Ok(bytes) => (1u8, bytes).hash(&mut hasher),
                Err(e) => (0u8, e.kind().to_string()).hash(&mut hasher),
            }
        }
        FilesDigest(hasher.finish())
    }
}

/// The running devices of one config dir, reconciled with its files.
pub struct LiveSet {
    confdir: PathBuf,
    runtime: Arc<Runtime>,
    /// The runtime's settings (cache dir, limits): a change needs a new runtime.
    runtime_key: String,
    store: Arc<StateStore>,
    router: Arc<DeviceRouter>,
    /// In start order: every virtual device after its upstream.
    devices: Vec<LiveDevice>,
    /// Section names in file order, for `LIST UPS` and `hazel drivers list`.
    file_order: Vec<String>,
    last_files: Option<FilesDigest>,
}

fn new_runtime(settings: &HostSettings) -> anyhow::Result<Arc<Runtime>> {
    let config = RuntimeConfig { cache_dir: Some(settings.cache_dir()), limits: settings.limits.runtime_limits() };
    Ok(Runtime::new(config)?)
}

fn runtime_key(settings: &HostSettings) -> String {
    format!("{:?}|{:?}", settings.cache_dir(), settings.limits)
}

/// Everything that decides what a device runs. The section checksum covers
/// the section and the globals it inherits; the rest is what the host adds.
pub fn fingerprint(plan: &DevicePlan, section_checksum: u64, runtime_key: &str) -> u64 {
    let config = &plan.config;
    let mut hasher = DefaultHasher::new();
    section_checksum.hash(&mut hasher);
    runtime_key.hash(&mut hasher);
    config.plugin.name().hash(&mut hasher);
    config.plugin.digest().hash(&mut hasher);
    // Derived from the section and hazel.toml; Debug covers every field.
    format!(
        "{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}",
        config.grants,
        config.settings,
        config.host_edits,
        config.poll_interval,
        config.ignore_lb,
        config.initial_backoff,
        config.max_backoff,
        plan.description,
        plan.upstream
    )
    .hash(&mut hasher);
    hasher.finish()
}

/// Section names (valid or not) in file order.
fn file_order(loaded: &LoadedConfig) -> Vec<String> {
    let conf = &loaded.ups_conf;
    let mut named: Vec<(usize, String)> = conf.sections().iter().map(|s| (s.line(), s.name().to_string())).collect();
    named.extend(conf.invalid_sections().iter().filter_map(|s| s.name.clone().map(|n| (s.line, n))));
    named.sort_by_key(|(line, _)| *line);
    named.into_iter().map(|(_, name)| name).collect()
}

impl LiveSet {
    /// Start every device `loaded` describes. Only a runtime that cannot be
    /// created fails; sections that cannot run are logged and skipped.
    pub async fn start(loaded: LoadedConfig) -> anyhow::Result<LiveSet> {
        let runtime = new_runtime(&loaded.settings)?;
        let mut set = LiveSet {
            confdir: loaded.confdir.clone(),
            runtime,
            runtime_key: runtime_key(&loaded.settings),
            store: Arc::new(StateStore::new()),
            router: Arc::new(DeviceRouter::new([])),
            devices: Vec::new(),
            file_order: Vec::new(),
            last_files: Some(FilesDigest::read(&loaded.confdir)),
        };
        set.apply(loaded, ReloadCause::Start).await;
        Ok(set)
    }

    /// The store the NUT server reads.
    pub fn store(&self) -> Arc<StateStore> {
        self.store.clone()
    }

    /// The router the NUT server sends commands through.
    pub fn router(&self) -> Arc<DeviceRouter> {
        self.router.clone()
    }

    /// How many devices run now.
    pub fn running(&self) -> usize {
        self.devices.iter().filter(|d| d.handle.is_some()).count()
    }

    /// Run the set in its own task; requests reach it through the handle.
    pub fn spawn(self) -> LiveSetHandle {
        let (tx, rx) = mpsc::channel(32);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(self.run(rx, stop_rx));
        LiveSetHandle { requests: tx, stop: Some((stop_tx, task)) }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<(Request, oneshot::Sender<Reply>)>, mut stop: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                _ = &mut stop => break,
                request = rx.recv() => match request {
                    Some((request, reply)) => {
                        let answer = self.handle(request).await;
                        let _ = reply.send(answer);
                    }
                    None => break,
                },
            }
        }
        self.stop_all().await;
    }

    async fn handle(&mut self, request: Request) -> Reply {
        match request {
            Request::List => Ok(self.list()),
            Request::Status(name) => self.status(&name),
            Request::Start(name) => self.operator_start(&name).await,
            Request::Stop(name) => self.operator_stop(&name).await,
            Request::Restart(name) => self.operator_restart(&name).await,
            Request::Reload(cause) => self.reload(cause).await,
        }
    }

    /// Re-read the config dir and reconcile. A file that cannot be read or
    /// whose globals are invalid changes nothing: every device keeps running.
    async fn reload(&mut self, cause: ReloadCause) -> Reply {
        let files = FilesDigest::read(&self.confdir);
        if cause == ReloadCause::FileChange && self.last_files.as_ref() == Some(&files) {
            return Ok(vec!["no change".into()]);
        }
        self.last_files = Some(files);
        notify::reloading();
        let result = match LoadedConfig::load(&self.confdir) {
            Ok(loaded) => {
                let summary = self.apply(loaded, cause).await;
                Ok(vec![summary])
            }
            Err(e) => {
                let message = format!("reload ({}): {e:#}; every device keeps running as it was", cause.as_str());
                tracing::error!("{message}");
                Err(message)
            }
        };
        notify::ready();
        result
    }

    /// Reconcile the running set with `loaded`; returns the one-line summary it logs.
    async fn apply(&mut self, loaded: LoadedConfig, cause: ReloadCause) -> String {
        for warning in loaded.ups_conf.warnings() {
            tracing::warn!("{}:{warning}", loaded.ups_conf.path().display());
        }
        let key = runtime_key(&loaded.settings);
        if key != self.runtime_key {
            match new_runtime(&loaded.settings) {
                Ok(runtime) => {
                    self.runtime = runtime;
                    self.runtime_key = key;
                }
                Err(e) => tracing::error!("hazel.toml: cannot apply the new limits: {e:#}; keeping the old ones"),
            }
        }
        let catalog = PluginCatalog::scan(&self.runtime, &loaded.settings.plugin_search_path()).await;
        for problem in catalog.problems() {
            tracing::warn!("plugin not loaded: {problem}");
        }
        let mut problems: Vec<PlanProblem> = loaded
            .ups_conf
            .invalid_sections()
            .iter()
            .map(|s| PlanProblem { section: s.name.clone().unwrap_or_default(), message: s.error.to_string() })
            .collect();
        let (plans, plan_problems) = plan_device_set(&loaded, &catalog);
        problems.extend(plan_problems);
        let planned: Vec<(DevicePlan, u64)> = plans
            .into_iter()
            .map(|plan| {
                let checksum = loaded.ups_conf.section(&plan.config.name).map_or(0, |s| s.checksum());
                let fingerprint = fingerprint(&plan, checksum, &self.runtime_key);
                (plan, fingerprint)
            })
            .collect();
        let running: Vec<DeviceKey> = self.devices.iter().map(LiveDevice::key).collect();
        let planned_keys: Vec<DeviceKey> = planned
            .iter()
            .map(|(plan, fingerprint)| DeviceKey {
                name: plan.config.name.clone(),
                fingerprint: *fingerprint,
                upstream: plan.upstream.as_ref().map(|u| u.device.clone()),
            })
            .collect();
        let broken: Vec<String> = problems.iter().map(|p| p.section.clone()).filter(|s| !s.is_empty()).collect();
        let set_diff = diff::diff(&running, &planned_keys, &broken);

        for problem in &problems {
            let running = self.find(&problem.section).is_some();
            let outcome = if running { "the device keeps its previous configuration" } else { "device skipped" };
            tracing::error!("{}; {outcome}", problem.message);
        }

        self.stop_removed(&set_diff.removed).await;
        let mut start_order: Vec<String> = Vec::new();
        for (plan, fingerprint) in planned {
            let name = plan.config.name.clone();
            let is = |list: &[String]| list.iter().any(|n| n.eq_ignore_ascii_case(&name));
            if is(&set_diff.added) {
                self.devices.push(new_device(plan, fingerprint));
                let index = self.devices.len() - 1;
                self.spawn_at(index);
            } else if let Some(index) = self.find(&name) {
                let device = &mut self.devices[index];
                device.config_error = None;
                device.plan = plan;
                device.fingerprint = fingerprint;
                if is(&set_diff.changed) {
                    self.respawn_at(index).await;
                }
            }
            start_order.push(name);
        }
        for name in &set_diff.kept {
            if let Some(index) = self.find(name) {
                let problem = problems.iter().find(|p| p.section.eq_ignore_ascii_case(name));
                self.devices[index].config_error = problem.map(|p| p.message.clone());
                if set_diff.changed.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    self.respawn_at(index).await;
                }
            }
            start_order.push(name.clone());
        }
        self.devices.sort_by_key(|d| start_order.iter().position(|n| n.eq_ignore_ascii_case(&d.name)));
        self.file_order = file_order(&loaded);
        self.store.reorder(self.file_order.iter().map(String::as_str));
        let summary = summarize(cause, &set_diff, problems.len());
        tracing::info!("{summary}");
        summary
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// Stop and forget the devices of `names`: virtual devices before their upstream.
    async fn stop_removed(&mut self, names: &[String]) {
        for index in (0..self.devices.len()).rev() {
            if names.iter().any(|n| n.eq_ignore_ascii_case(&self.devices[index].name)) {
                let device = self.devices.remove(index);
                self.router.remove(&device.name);
                self.store.remove(&device.name);
                if let Some(handle) = device.handle {
                    handle.stop().await;
                }
            }
        }
    }

    /// Start the device at `index` with its plan, granting a virtual device
    /// its upstream's current state and client.
    fn spawn_at(&mut self, index: usize) {
        let plan = self.devices[index].plan.clone();
        let mut config = plan.config;
        if let Some(upstream) = &plan.upstream {
            let grant = self.find(&upstream.device).and_then(|i| {
                let up = &self.devices[i];
                Some((up.state.clone()?, up.client.clone()?))
            });
            let Some((state, client)) = grant else {
                let error = format!("upstream device '{}' has never run", upstream.device);
                tracing::error!(device = %config.name, "{error}; not started");
                self.devices[index].start_error = Some(error);
                return;
            };
            config.grants = std::mem::take(&mut config.grants).with_upstream(
                upstream.device.clone(),
                upstream.control,
                state,
                client,
            );
        }
        let name = config.name.clone();
        let state = self.store.replace(DeviceState::new(name.clone(), plan.description));
        let handle = DeviceHandle::spawn(self.runtime.clone(), config, state.clone());
        self.router.insert(&name, handle.client());
        let device = &mut self.devices[index];
        device.client = Some(handle.client());
        device.state = Some(state);
        device.handle = Some(handle);
        device.started_at = Some(SystemTime::now());
        device.start_error = None;
    }

    /// Stop the device at `index` if it runs; keeps it listed (and its state, stale).
    async fn halt_at(&mut self, index: usize) {
        let device = &mut self.devices[index];
        if let Some(handle) = device.handle.take() {
            device.earlier_plugin_restarts += handle.supervisor_status().restarts;
            self.router.remove(&device.name);
            handle.stop().await;
        }
    }

    /// Restart the device at `index` with its (possibly new) plan, unless an
    /// operator stopped it.
    async fn respawn_at(&mut self, index: usize) {
        let was_started = self.devices[index].started_at.is_some();
        self.halt_at(index).await;
        if self.devices[index].operator_stopped {
            return;
        }
        if was_started {
            self.devices[index].host_restarts += 1;
        }
        self.spawn_at(index);
    }

    /// Restart every running virtual device over `name`, transitively, in start order.
    async fn respawn_dependents(&mut self, name: &str) {
        let mut restarted = vec![name.to_ascii_lowercase()];
        for index in 0..self.devices.len() {
            let upstream = self.devices[index].plan.upstream.as_ref().map(|u| u.device.to_ascii_lowercase());
            if upstream.is_some_and(|u| restarted.contains(&u)) {
                restarted.push(self.devices[index].name.to_ascii_lowercase());
                self.respawn_at(index).await;
            }
        }
    }

    async fn operator_stop(&mut self, name: &str) -> Reply {
        let index = self.find(name).ok_or_else(|| unknown(name))?;
        if self.devices[index].operator_stopped {
            return Ok(vec![format!("{} was already stopped", self.devices[index].name)]);
        }
        self.halt_at(index).await;
        let device = &mut self.devices[index];
        device.operator_stopped = true;
        if let Some(state) = &device.state {
            state.mark_stale("stopped by the operator (hazel drivers stop)");
        }
        tracing::info!(device = %device.name, "stopped by the operator");
        Ok(vec![format!("{} stopped", device.name)])
    }

    async fn operator_start(&mut self, name: &str) -> Reply {
        let index = self.find(name).ok_or_else(|| unknown(name))?;
        if self.devices[index].handle.is_some() {
            return Ok(vec![format!("{} is already running", self.devices[index].name)]);
        }
        self.devices[index].operator_stopped = false;
        self.respawn_at(index).await;
        let device = &self.devices[index];
        if let Some(error) = &device.start_error {
            return Err(format!("{}: {error}", device.name));
        }
        let name = device.name.clone();
        tracing::info!(device = %name, "started by the operator");
        self.respawn_dependents(&name).await;
        Ok(vec![format!("{name} started")])
    }

    async fn operator_restart(&mut self, name: &str) -> Reply {
        let index = self.find(name).ok_or_else(|| unknown(name))?;
        self.devices[index].operator_stopped = false;
        self.respawn_at(index).await;
        let device = &self.devices[index];
        if let Some(error) = &device.start_error {
            return Err(format!("{}: {error}", device.name));
        }
        let name = device.name.clone();
        tracing::info!(device = %name, "restarted by the operator");
        self.respawn_dependents(&name).await;
        Ok(vec![format!("{name} restarted")])
    }

    /// Devices in file order; devices the file no longer orders (none, normally) last.
    fn display_order(&self) -> Vec<&LiveDevice> {
        let mut devices: Vec<&LiveDevice> = self.devices.iter().collect();
        devices.sort_by_key(|d| {
            self.file_order.iter().position(|n| n.eq_ignore_ascii_case(&d.name)).unwrap_or(usize::MAX)
        });
        devices
    }

    fn list(&self) -> Vec<String> {
        let now = SystemTime::now();
        let rows: Vec<[String; 6]> = self.display_order().into_iter().map(|d| report(d, now).row()).collect();
        let header = ["NAME", "STATE", "PLUGIN", "UPTIME", "RESTARTS", "DETAIL"].map(String::from);
        let all: Vec<&[String; 6]> = std::iter::once(&header).chain(rows.iter()).collect();
        let widths: Vec<usize> = (0..5).map(|c| all.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
        all.iter()
            .map(|row| {
                let mut line = String::new();
                for (column, width) in widths.iter().enumerate() {
                    line.push_str(&format!("{:<width$}  ", row[column]));
                }
                line.push_str(&row[5]);
                line.trim_end().to_string()
            })
            .collect()
    }

    fn status(&self, name: &str) -> Reply {
        let device = &self.devices[self.find(name).ok_or_else(|| unknown(name))?];
        let report = report(device, SystemTime::now());
        let mut lines = vec![
            format!("name: {}", device.name),
            format!("state: {}", report.state),
            format!("plugin: {} ({})", device.plan.config.plugin.name(), device.plan.config.plugin.path().display()),
            format!("started: {}", device.started_at.map_or("never".into(), |t| unix_seconds(t).to_string())),
            format!("uptime: {}", report.uptime),
            format!(
                "restarts: {} (host {}, plugin {})",
                report.restarts,
                device.host_restarts,
                device.plugin_restarts()
            ),
        ];
        if !report.detail.is_empty() {
            lines.push(format!("detail: {}", report.detail));
        }
        let status = device.handle.as_ref().map(DeviceHandle::supervisor_status);
        if let Some(answer) = status.as_ref().and_then(|s| s.cycles_on_mains) {
            lines.push(format!("{POWER_RACE_STATUS_KEY}: {}", crate::late_shutdown::bundle_answer(answer).as_word()));
        }
        if let Some(error) = status.and_then(|s| s.last_error) {
            lines.push(format!("last error: {error}"));
        }
        if let Some(error) = &device.config_error {
            lines.push(format!("config error: {error}"));
        }
        Ok(lines)
    }

    /// Stop every device, virtual devices first.
    async fn stop_all(&mut self) {
        while let Some(device) = self.devices.pop() {
            self.router.remove(&device.name);
            if let Some(handle) = device.handle {
                handle.stop().await;
            }
        }
    }
}

/// The `STATUS` line with what the running instance's plugin declared about
/// the power race (`power-race.returns-while-on-mains`, asked after `init`):
/// the late-shutdown stager reads it from the live device.
pub const POWER_RACE_STATUS_KEY: &str = "returns while on mains";

fn unknown(name: &str) -> String {
    format!("no device '{name}' in ups.conf")
}

fn new_device(plan: DevicePlan, fingerprint: u64) -> LiveDevice {
    LiveDevice {
        name: plan.config.name.clone(),
        plan,
        fingerprint,
        handle: None,
        state: None,
        client: None,
        operator_stopped: false,
        started_at: None,
        host_restarts: 0,
        earlier_plugin_restarts: 0,
        start_error: None,
        config_error: None,
    }
}

fn summarize(cause: ReloadCause, set_diff: &SetDiff, problems: usize) -> String {
    let names = |list: &[String]| if list.is_empty() { "-".to_string() } else { list.join(",") };
    let mut line = format!(
        "reload ({}): added {}; removed {}; changed {}; unchanged {}",
        cause.as_str(),
        names(&set_diff.added),
        names(&set_diff.removed),
        names(&set_diff.changed),
        names(&set_diff.unchanged)
    );
    if !set_diff.kept.is_empty() {
        line.push_str(&format!("; kept on their previous configuration {}", names(&set_diff.kept)));
    }
    if problems > 0 {
        line.push_str(&format!("; {problems} section(s) with problems (logged above)"));
    }
    line
}

/// One device's line of `hazel drivers list`.
struct DeviceReport {
    name: String,
    /// running, starting, stale, backoff, stopped, failed.
    state: &'static str,
    plugin: String,
    uptime: String,
    restarts: u32,
    detail: String,
}

impl DeviceReport {
    fn row(self) -> [String; 6] {
        [self.name, self.state.to_string(), self.plugin, self.uptime, self.restarts.to_string(), self.detail]
    }
}

fn report(device: &LiveDevice, now: SystemTime) -> DeviceReport {
    let (state, mut detail) = match (&device.handle, device.operator_stopped) {
        (None, true) => ("stopped", "stopped by the operator; `hazel drivers start` starts it".to_string()),
        (None, false) => ("failed", device.start_error.clone().unwrap_or_else(|| "not started".into())),
        (Some(handle), _) => match handle.supervisor_status().phase {
            SupervisorPhase::Failed { reason } => ("failed", reason),
            SupervisorPhase::BackingOff { retry_at, reason } => {
                let wait = retry_at.duration_since(now).unwrap_or_default();
                ("backoff", format!("next retry {} (in {}): {reason}", clock_utc(retry_at), duration(wait)))
            }
            SupervisorPhase::Starting => ("starting", "plugin init in progress".to_string()),
            SupervisorPhase::Running => match &handle.state().snapshot().availability {
                Availability::Fresh => ("running", String::new()),
                Availability::Starting => ("starting", "waiting for the first update".to_string()),
                Availability::Stale(reason) => ("stale", reason.clone()),
            },
        },
    };
    if let Some(error) = &device.config_error {
        if !detail.is_empty() {
            detail.push_str("; ");
        }
        detail.push_str(&format!("previous configuration kept: {error}"));
    }
    let alive = matches!(state, "running" | "stale" | "starting" | "backoff");
    let uptime = match (alive, device.started_at) {
        (true, Some(started)) => duration(now.duration_since(started).unwrap_or_default()),
        _ => "-".to_string(),
    };
    DeviceReport {
        name: device.name.clone(),
        state,
        plugin: device.plan.config.plugin.name().to_string(),
        uptime,
        restarts: device.host_restarts + device.plugin_restarts(),
        detail,
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `HH:MM:SS UTC`.
fn clock_utc(time: SystemTime) -> String {
    let seconds = unix_seconds(time) % 86_400;
    format!("{:02}:{:02}:{:02} UTC", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// `1h02m`, `3m05s`, `12s`.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// Sends requests to the set's task.
pub struct LiveSetHandle {
    requests: mpsc::Sender<(Request, oneshot::Sender<Reply>)>,
    stop: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl LiveSetHandle {
    /// A sender for other tasks (control socket, watchers, signals).
    pub fn requester(&self) -> Requester {
        Requester { requests: self.requests.clone() }
    }

    /// Stop every device (virtual devices first) and end the task.
    pub async fn stop(mut self) {
        if let Some((stop, task)) = self.stop.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// A cloneable way to send [`Request`]s to the set.
#[derive(Clone)]
pub struct Requester {
    requests: mpsc::Sender<(Request, oneshot::Sender<Reply>)>,
}

impl Requester {
    /// Send `request` and wait for the answer.
    pub async fn request(&self, request: Request) -> Reply {
        let (reply, answer) = oneshot::channel();
        self.requests.send((request, reply)).await.map_err(|_| "hazel is shutting down".to_string())?;
        answer.await.map_err(|_| "hazel is shutting down".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_clock() {
        assert_eq!(duration(Duration::from_secs(12)), "12s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
        assert_eq!(clock_utc(UNIX_EPOCH + Duration::from_secs(86_400 + 3661)), "01:01:01 UTC");
    }

    #[test]
    fn file_order_merges_valid_and_broken_sections() {
        let text = "[b]\ndriver=x\nport=y\n[a]\nport=y\n[c]\ndriver=x\nport=y\n";
        let loaded = LoadedConfig {
            confdir: "/etc/nut".into(),
            settings: HostSettings::default(),
            ups_conf: hazel_nutconf::ups_conf::UpsConf::parse("/etc/nut/ups.conf", text).unwrap(),
        };
        assert_eq!(file_order(&loaded), ["b", "a", "c"]);
    }
}
