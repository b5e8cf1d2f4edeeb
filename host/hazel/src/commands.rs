//! The subcommands: `serve`, `check-config`, `plugin inspect`, `plugin list`.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use hazel_runtime::grants::{ImportKind, classify_import};
use hazel_runtime::{DeviceHandle, Plugin, PluginCatalog, Runtime, RuntimeConfig};
use hazel_state::{DeviceState, StateStore};

use crate::device_set::{LoadedConfig, plan_devices};
use crate::host_settings::HostSettings;
use crate::nut_control::DeviceRouter;
use hazel_netserver::{Server, ServerContext, ServerTls, UpsdConf, Users};

/// The plugin runtime as `hazel.toml` configures it.
fn new_runtime(settings: &HostSettings) -> anyhow::Result<Arc<Runtime>> {
    Ok(Runtime::new(RuntimeConfig { cache_dir: Some(settings.cache_dir()), limits: settings.limits.runtime_limits() })?)
}

/// Create the runtime and load every plugin in the search path.
pub async fn open_plugins(settings: &HostSettings) -> anyhow::Result<(Arc<Runtime>, PluginCatalog)> {
    let runtime = new_runtime(settings)?;
    let catalog = PluginCatalog::scan(&runtime, &settings.plugin_search_path()).await;
    for problem in catalog.problems() {
        tracing::warn!("plugin not loaded: {problem}");
    }
    Ok((runtime, catalog))
}

/// The devices of one config dir, running.
pub struct RunningDevices {
    /// Their published state.
    pub store: Arc<StateStore>,
    /// Their supervisor tasks, by device name.
    pub devices: HashMap<String, DeviceHandle>,
    /// Sections that could not be started, as `file:line: [name]: reason`.
    pub problems: Vec<String>,
    /// Device names in the order they started: every virtual device after its upstream.
    pub start_order: Vec<String>,
}

impl RunningDevices {
    /// Stop every device, in reverse start order: virtual devices before their upstream.
    pub async fn stop(mut self) {
        for name in self.start_order.iter().rev() {
            if let Some(device) = self.devices.remove(name) {
                device.stop().await;
            }
        }
    }
}

/// Load plugins and start every device `loaded` describes. Sections that
/// cannot start are logged and listed in [`RunningDevices::problems`].
pub async fn start_devices(loaded: &LoadedConfig) -> anyhow::Result<RunningDevices> {
    for warning in loaded.ups_conf.warnings() {
        tracing::warn!("{}:{warning}", loaded.ups_conf.path().display());
    }
    let mut problems = loaded.section_errors();
    let (runtime, catalog) = open_plugins(&loaded.settings).await?;
    let (plans, plan_problems) = plan_devices(loaded, &catalog);
    problems.extend(plan_problems);
    for problem in &problems {
        tracing::error!("{problem}; device skipped");
    }
    let store = Arc::new(StateStore::new());
    let mut devices: HashMap<String, DeviceHandle> = HashMap::new();
    let mut start_order = Vec::new();
    // Plans come upstream first, so a virtual device's upstream is running when it starts.
    for mut plan in plans {
        if let Some(upstream) = &plan.upstream {
            let Some(handle) = devices.get(&upstream.device) else {
                anyhow::bail!("device '{}' planned before its upstream '{}'", plan.config.name, upstream.device);
            };
            plan.config.grants = std::mem::take(&mut plan.config.grants).with_upstream(
                upstream.device.clone(),
                upstream.control,
                handle.state().clone(),
                handle.client(),
            );
        }
        let state = store.insert(DeviceState::new(plan.config.name.clone(), plan.description));
        let name = plan.config.name.clone();
        start_order.push(name.clone());
        devices.insert(name, DeviceHandle::spawn(runtime.clone(), plan.config, state));
    }
    Ok(RunningDevices { store, devices, problems, start_order })
}

/// Read an optional NUT file from the config dir: `None` when it does not exist.
fn read_optional(confdir: &Path, name: &str) -> anyhow::Result<Option<(std::path::PathBuf, Vec<u8>)>> {
    let path = confdir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some((path, bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

/// `upsd.conf` and `upsd.users` from the config dir; both optional, as a
/// NUT config dir without them means defaults and no users.
pub fn load_server_config(confdir: &Path) -> anyhow::Result<(UpsdConf, Users)> {
    let conf = match read_optional(confdir, "upsd.conf")? {
        Some((path, bytes)) => {
            let conf = UpsdConf::parse(&path, bytes)?;
            for warning in &conf.warnings {
                tracing::warn!("{}: {warning}", path.display());
            }
            conf
        }
        None => UpsdConf::default(),
    };
    let users = match read_optional(confdir, "upsd.users")? {
        Some((path, bytes)) => {
            let users = Users::parse(&path, bytes)?;
            for warning in users.warnings() {
                tracing::warn!("{warning}");
            }
            users
        }
        None => Users::empty(),
    };
    Ok((conf, users))
}

/// The STARTTLS certificate: `[tls]` of hazel.toml, else upsd.conf's
/// `CERTFILE` (relative to the config dir); `None` leaves STARTTLS refused.
pub fn load_tls(confdir: &Path, settings: &HostSettings, conf: &UpsdConf) -> anyhow::Result<Option<ServerTls>> {
    let tls = match (&settings.tls, &conf.certfile) {
        (Some(tls), certfile) => {
            if certfile.is_some() {
                tracing::info!("hazel.toml [tls] is used instead of upsd.conf CERTFILE");
            }
            ServerTls::from_pem_files(&tls.cert, &tls.key)
                .map_err(|e| anyhow::Error::new(e).context("STARTTLS certificate from hazel.toml [tls]"))?
        }
        (None, Some(certfile)) => ServerTls::from_combined_pem(confdir.join(certfile))
            .map_err(|e| anyhow::Error::new(e).context("STARTTLS certificate from upsd.conf CERTFILE"))?,
        (None, None) => return Ok(None),
    };
    tracing::info!(certificate = %tls.cert_path().display(), "STARTTLS available");
    Ok(Some(tls))
}

/// Start the NUT network server over the devices of `store`, reaching them through `router`.
pub async fn start_server(
    conf: &UpsdConf,
    users: Users,
    tls: Option<ServerTls>,
    store: Arc<StateStore>,
    router: Arc<DeviceRouter>,
) -> anyhow::Result<Server> {
    let mut context = ServerContext::new(store, router, users, conf);
    if let Some(tls) = tls {
        context = context.with_tls(tls);
    }
    let context = Arc::new(context);
    let server = Server::bind(conf, context).await?;
    for addr in server.local_addrs() {
        tracing::info!("serving the NUT protocol on {addr}");
    }
    Ok(server)
}

/// `hazel serve`: run every configured device and serve them to NUT clients
/// until SIGINT or SIGTERM; with an `upsmon.conf` in `confdir`, run the
/// monitor too (once the listener is up; after `SHUTDOWNCMD` only the
/// monitor exits, and the server keeps serving until the system stops it).
///
/// The devices follow `ups.conf` (see [`crate::live_set`]): a change in the
/// config dir, SIGHUP or `hazel drivers reload` reconciles them. The server
/// is ready (sd_notify `READY=1`) once the config is loaded, without waiting
/// for any device's first data.
pub async fn serve(confdir: &Path) -> anyhow::Result<ExitCode> {
    use crate::live_set::{LiveSet, ReloadCause, Request, control::ControlSocket, notify, watch};
    raise_open_file_limit();
    let loaded = LoadedConfig::load(confdir)?;
    // Read before anything starts, so a bad upsmon.conf stops the start with its file and line.
    let monitor = crate::monitor::Monitor::load_from_confdir(confdir)?;
    let control_path = loaded.settings.control_socket();
    let (conf, users) = load_server_config(confdir)?;
    let tls = load_tls(confdir, &loaded.settings, &conf)?;
    let live = LiveSet::start(loaded).await?;
    let server = start_server(&conf, users, tls, live.store(), live.router()).await?;
    tracing::info!(devices = live.running(), "hazel is running");
    let live = live.spawn();
    let set = live.requester();
    let mut helpers = vec![watch::spawn(confdir.to_path_buf(), set.clone())];
    match ControlSocket::bind(&control_path).await {
        Ok(Some(socket)) => helpers.push(socket.spawn(set.clone())),
        Ok(None) => tracing::warn!(
            socket = %control_path.display(),
            "another hazel serve answers on the control socket; `hazel drivers` reaches that one \
             (set control_socket in hazel.toml)"
        ),
        Err(error) => tracing::warn!("{error:#}; `hazel drivers` cannot reach this server"),
    }
    let reload_requests = set.clone();
    helpers.push(tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => return tracing::warn!(%error, "cannot listen for SIGHUP; reload with `hazel drivers reload`"),
        };
        while hangups.recv().await.is_some() {
            let _ = reload_requests.request(Request::Reload(ReloadCause::Signal)).await;
        }
    }));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));
    notify::ready();
    // Plugins are precompiled for the late shutdown now, not at the last minute.
    let monitor = match monitor {
        Some(monitor) => {
            let stage = crate::late_shutdown::monitor_stage(confdir, monitor.conf()).await;
            Some(monitor.with_late_shutdown(stage))
        }
        None => None,
    };
    // The listener is bound: the monitor connects to it over TCP, as upsmon does to upsd.
    let monitor = monitor.map(|monitor| monitor.spawn(false)).transpose()?;
    let result = wait_for_shutdown().await;
    tracing::info!("shutting down");
    notify::stopping();
    for helper in &helpers {
        helper.abort();
    }
    for helper in helpers {
        let _ = helper.await;
    }
    if let Some(monitor) = monitor
        && let Err(error) = monitor.stop().await
    {
        tracing::error!("{error:#}");
    }
    let _ = stop_tx.send(());
    let _ = server_task.await;
    live.stop().await;
    result.map(|()| ExitCode::SUCCESS)
}

/// Every NUT client costs a file descriptor, and the usual soft limit (1024)
/// would cap clients far below `MAXCONN`: raise it to the hard limit. Failing
/// only costs capacity, so it is logged, not fatal.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    let result = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            -1
        } else if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit)
        } else {
            0
        }
    };
    if result != 0 {
        let error = std::io::Error::last_os_error();
        tracing::warn!(%error, "cannot raise the open-file limit; fewer clients can connect");
    } else {
        tracing::debug!(open_files = limit.rlim_cur, "open-file limit");
    }
}

async fn wait_for_shutdown() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// `hazel check-config`: report every problem; exit 1 if any.
pub async fn check_config(confdir: &Path) -> anyhow::Result<ExitCode> {
    let loaded = LoadedConfig::load(confdir)?;
    let mut problems = loaded.section_errors();
    match load_server_config(confdir) {
        Ok((conf, _)) => {
            if let Err(e) = load_tls(confdir, &loaded.settings, &conf) {
                problems.push(format!("{e:#}"));
            }
        }
        Err(e) => problems.push(format!("{e:#}")),
    }
    let (_runtime, catalog) = open_plugins(&loaded.settings).await?;
    let (plans, plan_problems) = plan_devices(&loaded, &catalog);
    problems.extend(plan_problems);
    for warning in loaded.ups_conf.warnings() {
        println!("warning: {}:{warning}", loaded.ups_conf.path().display());
    }
    for plan in &plans {
        let c = &plan.config;
        println!(
            "ok: [{}] driver plugin '{}', grants: {}",
            c.name,
            c.plugin.name(),
            plan.capability_names().join(", ")
        );
    }
    for problem in &problems {
        println!("error: {problem}");
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `hazel plugin inspect FILE`.
pub async fn inspect_plugin(confdir: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    let settings = HostSettings::load(confdir).unwrap_or_default();
    let runtime = new_runtime(&settings)?;
    let plugin = Plugin::load(&runtime, file).await?;
    print!("{}", describe_plugin(&plugin));
    Ok(ExitCode::SUCCESS)
}

/// `hazel plugin list`.
pub async fn list_plugins(confdir: &Path) -> anyhow::Result<ExitCode> {
    let settings = HostSettings::load(confdir).unwrap_or_default();
    let (_runtime, catalog) = open_plugins(&settings).await?;
    for plugin in catalog.plugins() {
        let d = plugin.description();
        println!(
            "{:<16} {:<10} drivers: {:<30} {}",
            plugin.name(),
            d.version,
            d.drivers.join(","),
            plugin.path().display()
        );
    }
    for problem in catalog.problems() {
        println!("unusable: {problem}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The text `hazel plugin inspect` prints.
fn describe_plugin(plugin: &Plugin) -> String {
    let d = plugin.description();
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<14}{v}\n"));
    line("file:", &plugin.path().display().to_string());
    line("sha256:", plugin.digest());
    line("name:", &d.name);
    line("version:", &d.version);
    line("protocol:", &d.protocol);
    line("drivers:", &d.drivers.join(", "));
    line("declares:", &d.capabilities.join(", "));
    let usb: Vec<String> = d
        .usb_ids
        .iter()
        .map(|u| match u.product {
            Some(p) => format!("{:04x}:{p:04x}", u.vendor),
            None => format!("{:04x}:*", u.vendor),
        })
        .collect();
    line("usb ids:", if usb.is_empty() { "none" } else { "" });
    if !usb.is_empty() {
        out.push_str(&format!("              {}\n", usb.join(" ")));
    }
    out.push_str("imports:\n");
    for import in plugin.imports() {
        let kind = match classify_import(import) {
            ImportKind::Capability(c) => format!("capability '{c}' (granted per device)"),
            ImportKind::InertWasi => "WASI stub linked by std (traps if called)".into(),
            ImportKind::Forbidden => "FORBIDDEN: such a plugin will not start".into(),
            ImportKind::Unsupported => "UNSUPPORTED by this host: such a plugin will not start".into(),
        };
        out.push_str(&format!("  {import:<36} {kind}\n"));
    }
    out
}
