//! A supervised device: one task that owns the device's plugin instance,
//! polls it, applies its changes to the state store, serves instant commands
//! and variable writes, and replaces a faulty instance with exponential backoff.
//!
//! Each device is independent: a plugin that traps, loops or exhausts memory
//! marks its own device stale and restarts; nothing else notices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hazel_state::{Availability, DeviceState, Edit, Snapshot, ValueRange, VarMeta};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::bindings::power_race::CyclesOnMains;
use crate::bindings::types::{Change, DeviceError, KillMode, Setting};
use crate::engine::Runtime;
use crate::grants::Grants;
use crate::instance::{CallError, DeviceInstance, StartError};
use crate::plugin::Plugin;

/// Everything needed to run one device.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// Device name (its ups.conf section).
    pub name: String,
    /// The plugin that drives it.
    pub plugin: Arc<Plugin>,
    /// What it may reach.
    pub grants: Grants,
    /// `port` and the driver-specific options, passed to `init`.
    pub settings: Vec<(String, Option<String>)>,
    /// Time between `update` calls.
    pub poll_interval: Duration,
    /// Host-side edits applied whenever an instance starts: `driver.*`
    /// variables, `default.*` initial values and `override.*` pins.
    pub host_edits: Vec<Edit>,
    /// ups.conf `ignorelb`.
    pub ignore_lb: bool,
    /// Delay before the first restart after a fault; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest delay between restarts.
    pub max_backoff: Duration,
}

/// Why a request to a device failed.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// The plugin answered with an error (NUT's unknown/invalid/failed result codes).
    #[error("{0}")]
    Device(DeviceFailure),
    /// The device has no running instance right now.
    #[error("device is not running: {0}")]
    Unavailable(String),
    /// The plugin faulted while handling the request (and is being restarted).
    #[error("{0}")]
    Fault(CallError),
}

/// A plugin's answer that a request failed, in NUT's result-code terms.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceFailure {
    /// Not handled by this plugin (NUT result 1).
    #[error("unknown command or variable")]
    Unknown,
    /// Not allowed or malformed (NUT result 2).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Value conversion failed (NUT result 4).
    #[error("bad value: {0}")]
    BadValue(String),
    /// The device did not do it (NUT result 3).
    #[error("failed: {0}")]
    Failed(String),
}

impl From<DeviceError> for DeviceFailure {
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::Unknown => DeviceFailure::Unknown,
            DeviceError::Invalid(m) => DeviceFailure::Invalid(m),
            DeviceError::BadValue(m) => DeviceFailure::BadValue(m),
            DeviceError::Failed(m) | DeviceError::Unreachable(m) => DeviceFailure::Failed(m),
        }
    }
}

fn device_error_text(e: &DeviceError) -> String {
    match e {
        DeviceError::Unreachable(m) => format!("unreachable: {m}"),
        other => DeviceFailure::from(other.clone()).to_string(),
    }
}

enum Request {
    InstCmd { name: String, argument: Option<String>, reply: oneshot::Sender<Result<(), RequestError>> },
    SetVar { name: String, value: String, reply: oneshot::Sender<Result<(), RequestError>> },
    KillPower { mode: KillMode, reply: oneshot::Sender<Result<(), RequestError>> },
}

/// A cloneable way to send requests to a device, e.g. from server connections.
#[derive(Clone, Debug)]
pub struct DeviceClient {
    requests: mpsc::Sender<Request>,
    /// What upsd sees as the driver's socket: up once an instance of the
    /// plugin finished `init`, down again when the device can no longer run.
    /// A restart keeps it up (clients see `DATA-STALE` meanwhile).
    connected: Arc<AtomicBool>,
}

/// A request queued with a device; await it for the result.
pub type PendingRequest = oneshot::Receiver<Result<(), RequestError>>;

impl DeviceClient {
    fn queue(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), RequestError>>) -> Request,
    ) -> Result<PendingRequest, RequestError> {
        let (reply, rx) = oneshot::channel();
        self.requests.try_send(make(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                RequestError::Unavailable("too many requests queued for this device".into())
            }
            mpsc::error::TrySendError::Closed(_) => RequestError::Unavailable("device task has stopped".into()),
        })?;
        Ok(rx)
    }

    /// Queue an instant command without waiting for it to run.
    pub fn queue_instcmd(&self, name: &str, argument: Option<&str>) -> Result<PendingRequest, RequestError> {
        self.queue(|reply| Request::InstCmd { name: name.into(), argument: argument.map(Into::into), reply })
    }

    /// Queue a variable write without waiting for it to run.
    pub fn queue_set_var(&self, name: &str, value: &str) -> Result<PendingRequest, RequestError> {
        self.queue(|reply| Request::SetVar { name: name.into(), value: value.into(), reply })
    }

    /// Queue a kill-power request without waiting for it to run.
    pub fn queue_kill_power(&self, mode: KillMode) -> Result<PendingRequest, RequestError> {
        self.queue(|reply| Request::KillPower { mode, reply })
    }

    /// The result of a queued request.
    pub async fn outcome(pending: PendingRequest) -> Result<(), RequestError> {
        pending.await.map_err(|_| RequestError::Unavailable("device task has stopped".into()))?
    }

    /// A client whose requests go to the returned receiver, for tests that
    /// need a client without a device.
    #[cfg(test)]
    pub(crate) fn detached() -> (DeviceClient, mpsc::Receiver<impl Sized>) {
        let (requests, rx) = mpsc::channel::<Request>(16);
        (DeviceClient { requests, connected: Arc::new(AtomicBool::new(true)) }, rx)
    }

    /// Whether the device task still runs.
    pub fn is_running(&self) -> bool {
        !self.requests.is_closed()
    }

    /// Whether the device counts as connected, as a NUT driver does once it
    /// has opened its socket to upsd: its task runs, an instance finished
    /// `init` at least once, and the configuration has not failed for good.
    /// Before that upsd answers `DRIVER-NOT-CONNECTED`, not `DATA-STALE`.
    pub fn is_connected(&self) -> bool {
        self.is_running() && self.connected.load(Ordering::Acquire)
    }
}

/// What a device's supervisor is doing, for operators (`hazel drivers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupervisorPhase {
    /// A plugin instance is being created and initialised.
    Starting,
    /// The current instance initialised and is being polled.
    Running,
    /// The last instance ended; the next one starts at `retry_at`.
    BackingOff {
        /// When the next instance starts.
        retry_at: SystemTime,
        /// Why the last one ended.
        reason: String,
    },
    /// The configuration cannot work (the plugin rejected it, or it needs
    /// a capability the host cannot grant); no more attempts.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A device supervisor's life so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisorStatus {
    /// What it is doing now.
    pub phase: SupervisorPhase,
    /// Plugin instances started after the first one (restarts after faults).
    pub restarts: u32,
    /// When the current instance finished `init`, while it runs.
    pub running_since: Option<SystemTime>,
    /// The last reason an instance ended, if one did.
    pub last_error: Option<String>,
    /// What the running instance's plugin declared, after its `init`, about
    /// the power race (`power-race.returns-while-on-mains`; `Unknown` without
    /// the export). Asked once per instance, right after `init`, so the late
    /// shutdown can be staged from the live device without opening it a
    /// second time. `None` while no instance has initialised.
    pub cycles_on_mains: Option<CyclesOnMains>,
}

impl SupervisorStatus {
    fn new() -> Self {
        SupervisorStatus {
            phase: SupervisorPhase::Starting,
            restarts: 0,
            running_since: None,
            last_error: None,
            cycles_on_mains: None,
        }
    }
}

/// Handle to a running device task. Dropping it stops the device.
pub struct DeviceHandle {
    client: DeviceClient,
    task: Option<JoinHandle<()>>,
    state: Arc<DeviceState>,
    status: watch::Receiver<SupervisorStatus>,
}

impl DeviceHandle {
    /// Start `config` as a supervised task publishing into `state`.
    pub fn spawn(runtime: Arc<Runtime>, config: DeviceConfig, state: Arc<DeviceState>) -> DeviceHandle {
        let (tx, rx) = mpsc::channel(16);
        let (status_tx, status) = watch::channel(SupervisorStatus::new());
        let connected = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(supervise(runtime, config, state.clone(), rx, status_tx, connected.clone()));
        DeviceHandle { client: DeviceClient { requests: tx, connected }, task: Some(task), state, status }
    }

    /// What the supervisor is doing now, and how often it restarted the plugin.
    pub fn supervisor_status(&self) -> SupervisorStatus {
        self.status.borrow().clone()
    }

    /// The device's state.
    pub fn state(&self) -> &Arc<DeviceState> {
        &self.state
    }

    /// A cloneable request sender for this device.
    pub fn client(&self) -> DeviceClient {
        self.client.clone()
    }

    /// Run an instant command on the device.
    pub async fn instcmd(&self, name: &str, argument: Option<&str>) -> Result<(), RequestError> {
        DeviceClient::outcome(self.client.queue_instcmd(name, argument)?).await
    }

    /// Write a variable on the device.
    pub async fn set_var(&self, name: &str, value: &str) -> Result<(), RequestError> {
        DeviceClient::outcome(self.client.queue_set_var(name, value)?).await
    }

    /// Tell the device to cut power.
    pub async fn kill_power(&self, mode: KillMode) -> Result<(), RequestError> {
        DeviceClient::outcome(self.client.queue_kill_power(mode)?).await
    }

    /// Stop the device and wait for its task to end.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.state.mark_stale("device stopped");
    }
}

impl Drop for DeviceHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// How one instance's life ended.
enum Ended {
    /// It faulted or failed to start; try again after backoff.
    Retry(String),
    /// It cannot work with this configuration; do not retry.
    Permanent(String),
}

async fn supervise(
    runtime: Arc<Runtime>,
    config: DeviceConfig,
    state: Arc<DeviceState>,
    mut rx: mpsc::Receiver<Request>,
    status: watch::Sender<SupervisorStatus>,
    connected: Arc<AtomicBool>,
) {
    state.set_ignore_lb(config.ignore_lb);
    let mut backoff = config.initial_backoff;
    loop {
        let started = Instant::now();
        let reason = match run_instance(&runtime, &config, &state, &mut rx, &status, &connected).await {
            Ended::Retry(reason) => reason,
            Ended::Permanent(reason) => {
                connected.store(false, Ordering::Release);
                tracing::error!(device = %config.name, "{reason}; not retrying until the configuration changes");
                status.send_modify(|s| {
                    s.phase = SupervisorPhase::Failed { reason: reason.clone() };
                    s.running_since = None;
                    s.cycles_on_mains = None;
                    s.last_error = Some(reason.clone());
                });
                state.mark_stale(reason.clone());
                refuse_requests_forever(&mut rx, &reason).await;
                return;
            }
        };
        // An instance that ran fine for a while earns a fresh, short backoff.
        if started.elapsed() > config.max_backoff.max(Duration::from_secs(60)) {
            backoff = config.initial_backoff;
        }
        tracing::warn!(device = %config.name, plugin = %config.plugin.name(), "{reason}; restarting in {backoff:?}");
        status.send_modify(|s| {
            s.phase = SupervisorPhase::BackingOff { retry_at: SystemTime::now() + backoff, reason: reason.clone() };
            s.running_since = None;
            s.cycles_on_mains = None;
            s.last_error = Some(reason.clone());
        });
        state.mark_stale(reason.clone());
        refuse_requests_until(&mut rx, tokio::time::Instant::now() + backoff, &reason).await;
        status.send_modify(|s| {
            s.phase = SupervisorPhase::Starting;
            s.restarts += 1;
        });
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

async fn run_instance(
    runtime: &Runtime,
    config: &DeviceConfig,
    state: &DeviceState,
    rx: &mut mpsc::Receiver<Request>,
    status: &watch::Sender<SupervisorStatus>,
    connected: &AtomicBool,
) -> Ended {
    let mut instance = match DeviceInstance::new(runtime, &config.plugin, &config.name, &config.grants).await {
        Ok(i) => i,
        Err(e @ StartError::Imports { .. }) => return Ended::Permanent(e.to_string()),
        Err(e) => return Ended::Retry(e.to_string()),
    };
    let settings: Vec<Setting> =
        config.settings.iter().map(|(k, v)| Setting { key: k.clone(), value: v.clone() }).collect();
    match instance.init(settings).await {
        Ok(Ok(info)) => {
            tracing::info!(
                device = %config.name,
                plugin = %config.plugin.name(),
                manufacturer = info.manufacturer.as_deref().unwrap_or("?"),
                model = info.model.as_deref().unwrap_or("?"),
                "device started"
            );
        }
        // A configuration the plugin rejects will not get better by retrying.
        Ok(Err(e @ DeviceError::Invalid(_))) => {
            return Ended::Permanent(format!(
                "plugin '{}' rejected the configuration: {}",
                config.plugin.name(),
                device_error_text(&e)
            ));
        }
        Ok(Err(e)) => return Ended::Retry(format!("init failed: {}", device_error_text(&e))),
        Err(fault) => return Ended::Retry(format!("init: {fault}")),
    }
    let cycles_on_mains = match instance.returns_while_on_mains().await {
        Ok(answer) => answer,
        Err(fault) => return Ended::Retry(format!("power-race: {fault}")),
    };
    state.reset();
    state.apply_host_edits(config.host_edits.iter().cloned());
    status.send_modify(|s| {
        s.phase = SupervisorPhase::Running;
        s.running_since = Some(SystemTime::now());
        s.cycles_on_mains = Some(cycles_on_mains);
    });
    connected.store(true, Ordering::Release);

    let mut ticker = tokio::time::interval(config.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A virtual device also updates whenever its upstream's state changes, as
    // NUT's clone drivers wake on data from the upstream socket.
    let mut upstream_changes = config.grants.upstream.as_ref().map(|u| u.state.subscribe());
    // A USB HID device's interrupt reports (e.g. mains lost) are published at once, not at the next poll.
    let interrupts = instance.interrupt_waiter();
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Some(fault) = poll(&mut instance, config, state).await {
                    return Ended::Retry(fault);
                }
            }
            () = upstream_changed(&mut upstream_changes) => {
                if let Some(fault) = poll(&mut instance, config, state).await {
                    return Ended::Retry(fault);
                }
            }
            () = wait_for_interrupt(interrupts.as_ref()) => {
                if let Some(fault) = poll(&mut instance, config, state).await {
                    return Ended::Retry(fault);
                }
            }
            request = rx.recv() => {
                let Some(request) = request else { return Ended::Permanent("device handle dropped".into()) };
                if let Some(fault) = serve(&mut instance, request).await {
                    return Ended::Retry(fault);
                }
            }
        }
    }
}

/// One `update` call, its changes applied; returns a description of the fault if the plugin faulted.
async fn poll(instance: &mut DeviceInstance, config: &DeviceConfig, state: &DeviceState) -> Option<String> {
    match instance.update().await {
        Ok(Ok(changes)) => match upstream_unavailable(config) {
            // The host, not the plugin, decides that a virtual device is no
            // fresher than its upstream (NUT's clone would keep publishing).
            Some(reason) => {
                state.apply_host_edits(changes.into_iter().map(to_edit));
                state.mark_stale(reason);
            }
            None => state.apply_update(changes.into_iter().map(to_edit)),
        },
        // The instance is fine, the device is not (e.g. its serial port vanished):
        // stale until an update succeeds; keep polling, which retries the device.
        Ok(Err(e)) => state.mark_stale(format!("device: {}", device_error_text(&e))),
        Err(fault) => return Some(format!("update: {fault}")),
    }
    None
}

/// Why a virtual device's upstream cannot vouch for its data now, if it cannot.
fn upstream_unavailable(config: &DeviceConfig) -> Option<String> {
    let upstream = config.grants.upstream.as_ref()?;
    match &upstream.state.snapshot().availability {
        Availability::Fresh => None,
        Availability::Starting => Some(format!("upstream '{}' is starting", upstream.device)),
        Availability::Stale(reason) => Some(format!("upstream '{}' is stale: {reason}", upstream.device)),
    }
}

/// Resolves when the watched upstream state changed; never without an upstream.
async fn upstream_changed(changes: &mut Option<watch::Receiver<Arc<Snapshot>>>) {
    // The sender lives as long as the upstream's `DeviceState`, which the grant holds.
    if let Some(rx) = changes
        && rx.changed().await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

/// Resolves when the device's interrupt pipe delivered a report; never for other devices.
async fn wait_for_interrupt(waiter: Option<&crate::capability::usb_hid::InterruptWaiter>) {
    match waiter {
        Some(waiter) => waiter.wait().await,
        None => std::future::pending().await,
    }
}

/// Answer one request; returns a description of the fault if the plugin faulted.
async fn serve(instance: &mut DeviceInstance, request: Request) -> Option<String> {
    let (outcome, reply, what) = match request {
        Request::InstCmd { name, argument, reply } => {
            (instance.instcmd(&name, argument.as_deref()).await, reply, format!("instcmd {name}"))
        }
        Request::SetVar { name, value, reply } => {
            (instance.set_var(&name, &value).await, reply, format!("set-var {name}"))
        }
        Request::KillPower { mode, reply } => (instance.kill_power(mode).await, reply, "kill-power".to_string()),
    };
    match outcome {
        Ok(result) => {
            let _ = reply.send(result.map_err(|e| RequestError::Device(e.into())));
            None
        }
        Err(fault) => {
            let _ = reply.send(Err(RequestError::Fault(fault.clone())));
            Some(format!("{what}: {fault}"))
        }
    }
}

async fn refuse_requests_until(rx: &mut mpsc::Receiver<Request>, deadline: tokio::time::Instant, reason: &str) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            request = rx.recv() => match request {
                Some(request) => refuse(request, reason),
                None => return,
            },
        }
    }
}

async fn refuse_requests_forever(rx: &mut mpsc::Receiver<Request>, reason: &str) {
    while let Some(request) = rx.recv().await {
        refuse(request, reason);
    }
}

fn refuse(request: Request, reason: &str) {
    let error = Err(RequestError::Unavailable(reason.to_string()));
    let _ = match request {
        Request::InstCmd { reply, .. } | Request::SetVar { reply, .. } | Request::KillPower { reply, .. } => {
            reply.send(error)
        }
    };
}

/// Translate a plugin's change into a state-store edit.
pub fn to_edit(change: Change) -> Edit {
    match change {
        Change::SetValue((name, value)) => Edit::SetValue(name, value),
        Change::Remove(name) => Edit::Remove(name),
        Change::SetMeta(meta) => {
            Edit::SetMeta(meta.name, VarMeta { writable: meta.writable, string_max_len: meta.string_max_len })
        }
        Change::SetEnum((name, values)) => Edit::SetEnum(name, values),
        Change::SetRanges((name, ranges)) => {
            Edit::SetRanges(name, ranges.into_iter().map(|r| ValueRange { min: r.min, max: r.max }).collect())
        }
        Change::AddCommand(name) => Edit::AddCommand(name),
        Change::RemoveCommand(name) => Edit::RemoveCommand(name),
        Change::SetStatus(tokens) => Edit::SetStatus(tokens),
        Change::SetAlarms(alarms) => Edit::SetAlarms(alarms),
    }
}
