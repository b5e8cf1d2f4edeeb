//! `hazel monitor`: NUT's `upsmon` around `hazel-monitor`'s state machine.
//!
//! The loop reads `upsmon.conf`, keeps one connection per `MONITOR` line
//! ([`ups_link`]), sleeps until the machine's next deadline, feeds it every
//! answer and carries out its actions in order: polls (never two at once for
//! one UPS), `FSD`, `NUMLOGINS`, notifications ([`effects`]), the
//! `POWERDOWNFLAG` file, the late-shutdown staging step, `SHUTDOWNCMD`
//! through `/bin/sh -c`, and exit per `SHUTDOWNEXIT`.
//!
//! It runs alone (`hazel monitor`) or inside `hazel serve` when the config
//! dir has an `upsmon.conf`; in both it talks to its servers over TCP, as
//! upsmon talks to upsd. Requests from outside ([`Control`]): SIGTERM or
//! SIGINT stop a standalone monitor (in `hazel serve` they stop the whole
//! server), SIGUSR1 forces a shutdown (`upsmon -c fsd`), SIGHUP re-reads
//! `upsmon.conf` — but only to check it: a changed file is reported as
//! needing a restart and the running configuration stays in force, since
//! swapping it mid-event could lose what the monitor knows (how long a UPS
//! has been on battery, an FSD under way).

mod control;
mod effects;
mod ups_link;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hazel_monitor::machine::{Action, Input, LogLevel, Machine, UpsId};
use hazel_monitor::powerdown_flag::{self, StartClear};
use hazel_monitor::upsmon_conf::UpsmonConf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use control::{PidFile, check_powerdown_flag, default_pid_file, send_control};
pub use effects::{LateShutdownStage, NoLateShutdown};

use effects::Notifier;
use ups_link::{Request, UpsLink};

/// The monitor's configuration file in a config dir.
pub const UPSMON_CONF: &str = "upsmon.conf";

/// How long stopping waits for each connection's `LOGOUT`.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// A request to a running monitor, as upsmon's `-c` sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `fsd` (SIGUSR1): shut down now, as if every supply had failed.
    ForceShutdown,
    /// `stop` (SIGTERM): stop monitoring and exit.
    Stop,
    /// `reload` (SIGHUP): re-read `upsmon.conf`.
    Reload,
}

impl Control {
    /// The control named as upsmon's `-c` names it (`fsd`, `stop`, `reload`).
    pub fn from_name(name: &str) -> Option<Control> {
        match name {
            "fsd" => Some(Control::ForceShutdown),
            "stop" => Some(Control::Stop),
            "reload" => Some(Control::Reload),
            _ => None,
        }
    }
}

/// How a monitor's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorExit {
    /// It was told to stop.
    Stopped,
    /// It ran `SHUTDOWNCMD` and exited per `SHUTDOWNEXIT`.
    ShutDown,
}

/// A monitor ready to run: its configuration and late-shutdown step.
pub struct Monitor {
    path: PathBuf,
    conf: UpsmonConf,
    late_shutdown: Arc<dyn LateShutdownStage>,
}

impl Monitor {
    /// Reads `path` (an `upsmon.conf`), logging its warnings. Errors name
    /// the file and line.
    pub fn load(path: &Path) -> anyhow::Result<Monitor> {
        let conf = UpsmonConf::read(path)?;
        for warning in &conf.warnings {
            tracing::warn!("{warning}");
        }
        if conf.tls.force_ssl || conf.tls.cert_hosts.iter().any(|host| host.force_ssl) {
            anyhow::bail!(
                "{}: FORCESSL asks for TLS, which hazel monitor cannot speak yet; refusing to send passwords in \
                 plain text",
                path.display()
            );
        }
        if conf.run_as_user.is_some() {
            tracing::info!("{}: RUN_AS_USER is not used: hazel monitor runs as one process", path.display());
        }
        Ok(Monitor { path: path.to_path_buf(), conf, late_shutdown: Arc::new(NoLateShutdown) })
    }

    /// The monitor of a config dir: `Some` when it has an `upsmon.conf`.
    pub fn load_from_confdir(confdir: &Path) -> anyhow::Result<Option<Monitor>> {
        let path = confdir.join(UPSMON_CONF);
        match std::fs::metadata(&path) {
            Ok(_) => Monitor::load(&path).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(anyhow::Error::new(error).context(format!("cannot read {}", path.display()))),
        }
    }

    /// The `upsmon.conf` it runs.
    pub fn conf(&self) -> &UpsmonConf {
        &self.conf
    }

    /// Uses `stage` as the late-shutdown step instead of [`NoLateShutdown`].
    pub fn with_late_shutdown(mut self, stage: Arc<dyn LateShutdownStage>) -> Monitor {
        self.late_shutdown = stage;
        self
    }

    /// Runs the monitor in a task; SIGUSR1 and SIGHUP reach it, and also
    /// SIGTERM and SIGINT when `stop_on_signals` (else the caller stops it
    /// with [`MonitorHandle::stop`]).
    pub fn spawn(self, stop_on_signals: bool) -> anyhow::Result<MonitorHandle> {
        let (controls, received) = mpsc::unbounded_channel();
        let signals = control::forward_signals(controls.clone(), stop_on_signals)?;
        let task = tokio::spawn(self.run(received));
        Ok(MonitorHandle { controls, task, signals })
    }

    /// Monitors until stopped or until it exits after `SHUTDOWNCMD`.
    pub async fn run(self, mut controls: mpsc::UnboundedReceiver<Control>) -> MonitorExit {
        let origin = Instant::now();
        let mut machine = Machine::new(&self.conf, Duration::ZERO);
        if let Some(path) = &self.conf.powerdown_flag {
            match powerdown_flag::clear_on_start(path) {
                Ok(StartClear::Removed) => {
                    tracing::info!(path = %path.display(), "removed the power-down flag left by the last shutdown")
                }
                Ok(StartClear::Absent) => {}
                Ok(StartClear::ForeignKept) => {
                    tracing::error!(
                        path = %path.display(),
                        "POWERDOWNFLAG names a file that is not a power-down flag; it is left alone and will not be \
                         written in this run"
                    );
                    machine.disable_powerdown_flag();
                }
                Err(error) => tracing::error!("{error}"),
            }
            // With the flag goes the intent of an earlier attempt of this boot that did not end
            // in a shutdown (staging is past the point of no return, so only a failed or
            // called-off SHUTDOWNCMD leaves one). The flag alone already disarms it for
            // hazel-initrd; removing the intent too keeps a flag whose removal failed, or a
            // flag written later by someone else, from reviving it.
            if let Err(error) = self.late_shutdown.unstage() {
                tracing::error!("cannot remove the late-shutdown intent left by an earlier attempt: {error:#}");
            }
        }
        let mut run = Running::start(&self, &machine);
        tracing::info!(
            path = %self.path.display(),
            upses = self.conf.monitors.len(),
            "monitoring"
        );
        let exit = loop {
            let wake = machine.wake_at().map(|at| origin + at);
            let actions = tokio::select! {
                biased;
                control = controls.recv() => match control {
                    Some(Control::ForceShutdown) => {
                        tracing::warn!("forced shutdown requested");
                        machine.handle(origin.elapsed(), Input::ForceShutdown)
                    }
                    Some(Control::Reload) => {
                        self.check_reload();
                        continue;
                    }
                    Some(Control::Stop) | None => break MonitorExit::Stopped,
                },
                Some(input) = run.inputs.recv() => {
                    if let Input::Poll { ups, .. } = &input {
                        run.polling[ups.0] = false;
                    }
                    machine.handle(origin.elapsed(), input)
                }
                () = sleep_until(wake) => machine.handle(origin.elapsed(), Input::Tick),
            };
            if run.perform(&self, actions).await {
                break MonitorExit::ShutDown;
            }
        };
        match exit {
            MonitorExit::Stopped => tracing::info!("monitor stopping"),
            MonitorExit::ShutDown => tracing::info!("monitor exiting after SHUTDOWNCMD (SHUTDOWNEXIT)"),
        }
        run.finish().await;
        exit
    }

    /// SIGHUP: re-read the file and say what it would take to apply it.
    fn check_reload(&self) {
        let path = self.path.display();
        match UpsmonConf::read(&self.path) {
            Err(error) => tracing::error!("reload: {error}; the running configuration stays in force"),
            Ok(conf) if conf == self.conf => tracing::info!("reload: {path} is unchanged"),
            Ok(_) => tracing::warn!(
                "reload: {path} changed; restart hazel monitor to apply it (the running configuration stays in \
                 force)"
            ),
        }
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The I/O side of a running monitor.
struct Running {
    links: Vec<(mpsc::UnboundedSender<Request>, JoinHandle<()>)>,
    /// Per UPS: a poll was sent and not answered yet.
    polling: Vec<bool>,
    inputs: mpsc::UnboundedReceiver<Input>,
    notifier: Notifier,
}

impl Running {
    fn start(monitor: &Monitor, machine: &Machine) -> Running {
        let (input_sender, inputs) = mpsc::unbounded_channel();
        let links: Vec<_> = machine
            .ups_ids()
            .filter_map(|ups| machine.monitor(ups).map(|line| (ups, line.clone())))
            .map(|(ups, line)| {
                let (requests, received) = mpsc::unbounded_channel();
                let task = tokio::spawn(UpsLink::new(ups, line, input_sender.clone()).run(received));
                (requests, task)
            })
            .collect();
        let polling = vec![false; links.len()];
        Running { links, polling, inputs, notifier: Notifier::new(monitor.conf.notify.command.clone()) }
    }

    /// Carries out `actions` in order; true once the monitor is to exit.
    async fn perform(&mut self, monitor: &Monitor, actions: Vec<Action>) -> bool {
        for action in actions {
            match action {
                Action::Poll { ups } => {
                    if self.polling[ups.0] {
                        tracing::debug!(ups = ups.0, "previous poll still running; not starting another");
                    } else {
                        self.polling[ups.0] = true;
                        self.request(ups, Request::Poll);
                    }
                }
                Action::SendFsd { ups } => self.request(ups, Request::Fsd),
                Action::QueryNumLogins { ups } => self.request(ups, Request::NumLogins),
                Action::Notify(notification) => self.notifier.notify(&notification),
                Action::Log { level, message } => match level {
                    LogLevel::Info => tracing::info!("{message}"),
                    LogLevel::Warning => tracing::warn!("{message}"),
                    LogLevel::Error => tracing::error!("{message}"),
                },
                Action::WritePowerdownFlag { path } => match powerdown_flag::write(&path) {
                    Ok(()) => tracing::warn!(path = %path.display(), "power-down flag written"),
                    Err(error) => tracing::error!("{error}"),
                },
                // The machine stages only past the point of no return (after FSD, or for a
                // secondary never), so no SHUTDOWN_CANCELLED can follow: nothing to unstage then.
                Action::StageLateShutdown => {
                    if let Err(error) = monitor.late_shutdown.stage(&monitor.conf) {
                        tracing::error!("late-shutdown staging failed: {error:#}; shutting down anyway");
                    }
                }
                Action::RunShutdownCmd { command } => {
                    // The SHUTDOWN notice's NOTIFYCMD starts before the system goes down.
                    self.notifier.flush().await;
                    effects::run_shutdown_command(&command).await;
                }
                Action::Exit => return true,
            }
        }
        false
    }

    fn request(&self, ups: UpsId, request: Request) {
        if let Some((requests, _)) = self.links.get(ups.0) {
            // A link stops only when the monitor drops its sender.
            let _ = requests.send(request);
        }
    }

    /// Logs out of every server and lets queued `NOTIFYCMD`s start.
    async fn finish(self) {
        let Running { links, notifier, .. } = self;
        // Every link logs out at once: closing their request channels tells them to.
        let mut tasks = Vec::with_capacity(links.len());
        for (requests, task) in links {
            drop(requests);
            tasks.push(task);
        }
        for mut task in tasks {
            if tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err() {
                task.abort();
            }
        }
        notifier.finish().await;
    }
}

/// A monitor running in a task.
pub struct MonitorHandle {
    controls: mpsc::UnboundedSender<Control>,
    task: JoinHandle<MonitorExit>,
    signals: JoinHandle<()>,
}

impl MonitorHandle {
    /// Sends `control` to the monitor.
    pub fn send(&self, control: Control) {
        // After the monitor exited there is nobody left to tell.
        let _ = self.controls.send(control);
    }

    /// Waits for the monitor to end by itself (or by a signal).
    pub async fn wait(self) -> anyhow::Result<MonitorExit> {
        let exit = self.task.await.context("the monitor task failed");
        self.signals.abort();
        exit
    }

    /// Stops the monitor and waits for it.
    pub async fn stop(self) -> anyhow::Result<MonitorExit> {
        self.send(Control::Stop);
        self.wait().await
    }
}

/// `hazel monitor`: runs the monitor of `confdir` in the foreground until
/// SIGTERM/SIGINT or its exit after `SHUTDOWNCMD`, with a PID file at
/// `pid_file` for `hazel monitor --command`.
pub async fn run_standalone(confdir: &Path, pid_file: &Path) -> anyhow::Result<ExitCode> {
    let monitor = Monitor::load(&confdir.join(UPSMON_CONF))?;
    let stage = crate::late_shutdown::monitor_stage(confdir, monitor.conf()).await;
    let monitor = monitor.with_late_shutdown(stage);
    let _pid_file = PidFile::create(pid_file)?;
    let handle = monitor.spawn(true)?;
    handle.wait().await?;
    Ok(ExitCode::SUCCESS)
}
