//! What the monitor does to the host: announce notifications (log, `wall`,
//! `NOTIFYCMD`), run `SHUTDOWNCMD`, and stage the late shutdown.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hazel_monitor::notify::{Notification, NotifyCommand, NotifyEvent};
use hazel_monitor::upsmon_conf::UpsmonConf;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long a `NOTIFYCMD` may run before the next notification's starts
/// anyway (it keeps running, and is reaped when it ends).
const NOTIFY_CMD_TURN: Duration = Duration::from_secs(5);

/// The step that makes the UPS cut its power once this host is down
/// (NUT's `upsdrvctl shutdown` from the late shutdown hook).
///
/// The monitor calls [`LateShutdownStage::stage`] on a primary after
/// writing `POWERDOWNFLAG` and before `SHUTDOWNCMD`, so that whatever runs
/// after the OS stopped (for Hazel, the initrd host) has what it needs
/// (`crate::late_shutdown::KillPowerStager`; [`NoLateShutdown`] without one).
///
/// Staging happens only past the point of no return (a primary has sent
/// `FSD`, which it never takes back), so a `SHUTDOWN_CANCELLED` never follows
/// it and never needs to disarm anything. What can leave an armed intent in
/// an ordinary state is a shutdown that did not happen after all
/// (`SHUTDOWNCMD` failed, or was called off by hand): the monitor's next
/// start removes it with [`LateShutdownStage::unstage`], right after it
/// removes `POWERDOWNFLAG` as upsmon does at start. Never on stop: systemd
/// stops the monitor during the very shutdown the intent is for.
pub trait LateShutdownStage: Send + Sync {
    /// Prepares the late shutdown for `conf`. An error is logged and the
    /// shutdown goes on: this host must go down whatever happens here.
    fn stage(&self, conf: &UpsmonConf) -> anyhow::Result<()>;

    /// Disarms a late shutdown staged earlier in this boot. Called when the
    /// monitor starts, never when it stops.
    fn unstage(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// No late-shutdown step: the flag file is all there is, for NUT's own
/// late hook (`upsmon -K` then `upsdrvctl shutdown`) to act on.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLateShutdown;

impl LateShutdownStage for NoLateShutdown {
    fn stage(&self, _conf: &UpsmonConf) -> anyhow::Result<()> {
        tracing::debug!("no late-shutdown step is installed; POWERDOWNFLAG is left for the system's own hook");
        Ok(())
    }
}

/// A queued piece of work for the notifier task.
enum Job {
    /// Start a `NOTIFYCMD`.
    Exec(NotifyCommand),
    /// Answer once every job before it has been started.
    Flush(oneshot::Sender<()>),
}

/// Announces notifications per their flags. Logging and `wall` happen at
/// once; `NOTIFYCMD`s start in the order of their events, each once the
/// previous one has exited or had [`NOTIFY_CMD_TURN`], so a handler sees
/// events in order without a slow one holding the monitor.
pub(crate) struct Notifier {
    command: Option<Vec<String>>,
    jobs: mpsc::UnboundedSender<Job>,
    worker: JoinHandle<()>,
    wall_missing: Arc<AtomicBool>,
}

impl Notifier {
    /// A notifier running `command` (`NOTIFYCMD`) for `EXEC` events.
    pub(crate) fn new(command: Option<Vec<String>>) -> Notifier {
        let (jobs, queue) = mpsc::unbounded_channel();
        let worker = tokio::spawn(run_notify_commands(queue));
        Notifier { command, jobs, worker, wall_missing: Arc::new(AtomicBool::new(false)) }
    }

    /// Announces `notification`.
    pub(crate) fn notify(&self, notification: &Notification) {
        let flags = notification.flags;
        if flags.logs() {
            let (event, ups, message) =
                (notification.event.name(), notification.ups.as_deref().unwrap_or(""), &notification.message);
            if is_bad_news(notification.event) {
                tracing::warn!(event, ups, "{message}");
            } else {
                tracing::info!(event, ups, "{message}");
            }
        } else {
            tracing::debug!(event = notification.event.name(), "{} (not logged per NOTIFYFLAG)", notification.message);
        }
        if flags.walls() {
            self.wall(&notification.message);
        }
        if let Some(command) = notification.command(self.command.as_deref()) {
            // The worker only stops when the notifier is dropped.
            let _ = self.jobs.send(Job::Exec(command));
        }
    }

    /// Waits until every notification so far has had its `NOTIFYCMD`
    /// started (bounded by [`NOTIFY_CMD_TURN`] per command).
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Starts every queued `NOTIFYCMD`, then stops.
    pub(crate) async fn finish(self) {
        drop(self.jobs);
        let _ = self.worker.await;
    }

    /// Writes `message` to every terminal with `wall`; a system without
    /// `wall` is logged once and otherwise ignored.
    fn wall(&self, message: &str) {
        let mut command = Command::new("wall");
        command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                if !self.wall_missing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "cannot run `wall`; WALL notifications are only logged");
                }
                return;
            }
        };
        let text = format!("{message}\n");
        tokio::spawn(async move {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(text.as_bytes()).await;
            }
            if let Err(error) = child.wait().await {
                tracing::debug!(%error, "waiting for `wall`");
            }
        });
    }
}

/// Events that call for attention rather than report a recovery.
fn is_bad_news(event: NotifyEvent) -> bool {
    use NotifyEvent::*;
    matches!(
        event,
        OnBatt
            | LowBatt
            | Fsd
            | CommBad
            | Shutdown
            | ShutdownHostsync
            | ReplBatt
            | NoComm
            | NoParent
            | Off
            | Bypass
            | Alarm
            | Over
            | Other
            | SuspendTimejumpUnexpected
    )
}

async fn run_notify_commands(mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = queue.recv().await {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Exec(command) => {
                let mut process = Command::new(&command.program);
                process.args(&command.arguments).envs(command.environment.iter().cloned()).stdin(Stdio::null());
                let mut child = match process.spawn() {
                    Ok(child) => child,
                    Err(error) => {
                        tracing::error!(%error, program = command.program, "cannot run NOTIFYCMD");
                        continue;
                    }
                };
                if tokio::time::timeout(NOTIFY_CMD_TURN, child.wait()).await.is_err() {
                    tracing::warn!(
                        program = command.program,
                        "NOTIFYCMD still running after {} s; starting the next notification",
                        NOTIFY_CMD_TURN.as_secs()
                    );
                    // Reaped whenever it ends.
                    tokio::spawn(async move { child.wait().await });
                }
            }
        }
    }
}

/// Runs `SHUTDOWNCMD` through `/bin/sh -c` and waits for it, as upsmon
/// does; the outcome is logged.
pub(crate) async fn run_shutdown_command(command: &str) {
    tracing::warn!(command, "running SHUTDOWNCMD");
    let status = Command::new("/bin/sh").arg("-c").arg(command).stdin(Stdio::null()).status().await;
    match status {
        Ok(status) if status.success() => tracing::info!("SHUTDOWNCMD finished"),
        Ok(status) => tracing::error!(%status, command, "SHUTDOWNCMD failed"),
        Err(error) => tracing::error!(%error, command, "cannot run SHUTDOWNCMD through /bin/sh"),
    }
}
