//! Reaching a running monitor from outside: signals, the PID file that
//! `hazel monitor --command` uses to find it, and `hazel monitor -K`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hazel_monitor::powerdown_flag::{self, FlagCheck};
use hazel_monitor::upsmon_conf::UpsmonConf;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Control, UPSMON_CONF};

/// Where `hazel monitor` writes its PID unless told otherwise.
pub fn default_pid_file() -> PathBuf {
    PathBuf::from("/run/hazel-monitor.pid")
}

/// Turns signals into [`Control`]s: SIGUSR1 → `fsd`, SIGHUP → `reload`,
/// and with `stop_on_signals` SIGTERM and SIGINT → `stop`.
pub(super) fn forward_signals(
    controls: mpsc::UnboundedSender<Control>,
    stop_on_signals: bool,
) -> anyhow::Result<JoinHandle<()>> {
    let mut fsd = signal(SignalKind::user_defined1()).context("cannot listen for SIGUSR1")?;
    let mut reload = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let (mut terminate, mut interrupt) = if stop_on_signals {
        (
            Some(signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?),
            Some(signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?),
        )
    } else {
        (None, None)
    };
    Ok(tokio::spawn(async move {
        loop {
            let control = tokio::select! {
                Some(()) = fsd.recv() => Control::ForceShutdown,
                Some(()) = reload.recv() => Control::Reload,
                Some(()) = receive(&mut terminate) => Control::Stop,
                Some(()) = receive(&mut interrupt) => Control::Stop,
                else => return,
            };
            if controls.send(control).is_err() {
                return;
            }
        }
    }))
}

/// The next delivery of `signal`; never, without one.
async fn receive(signal: &mut Option<Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

/// The PID file of a running `hazel monitor`, removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's PID to `path`. Refuses when the file names
    /// another live `hazel` process (a monitor already running, as upsmon
    /// refuses); a stale file is replaced. A file that cannot be written
    /// (an unprivileged user and `/run`) is only logged: `--command` then
    /// cannot find this monitor, but it protects the host all the same.
    pub fn create(path: &Path) -> anyhow::Result<Option<PidFile>> {
        if let Some(pid) = read_pid(path)
            && pid != std::process::id()
            && is_hazel_process(pid)
        {
            anyhow::bail!("another hazel monitor is running (PID {pid}, from {})", path.display());
        }
        let written = std::fs::File::create(path).and_then(|mut file| writeln!(file, "{}", std::process::id()));
        match written {
            Ok(()) => Ok(Some(PidFile { path: path.to_path_buf() })),
            Err(error) => {
                tracing::warn!(
                    path = %path.display(),
                    %error,
                    "cannot write the PID file; `hazel monitor --command` will not find this monitor"
                );
                Ok(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is alive and runs a `hazel` binary (so a PID reused by
/// another program after a crash does not block the start).
fn is_hazel_process(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let program = cmdline.split(|&byte| byte == 0).next().unwrap_or_default();
    Path::new(std::ffi::OsStr::new(std::str::from_utf8(program).unwrap_or_default()))
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("hazel"))
}

/// `hazel monitor --command NAME`: signals the monitor whose PID is `pid`,
/// or else the one named in `pid_file`.
pub fn send_control(control: Control, pid: Option<u32>, pid_file: &Path) -> anyhow::Result<()> {
    let pid = match pid {
        Some(pid) => pid,
        None => read_pid(pid_file).with_context(|| {
            format!("no running hazel monitor found: cannot read a PID from {}", pid_file.display())
        })?,
    };
    let signal = match control {
        Control::ForceShutdown => libc::SIGUSR1,
        Control::Stop => libc::SIGTERM,
        Control::Reload => libc::SIGHUP,
    };
    let target = libc::pid_t::try_from(pid).with_context(|| format!("PID {pid} is out of range"))?;
    // SAFETY: kill only sends a signal; it touches no memory of ours.
    if unsafe { libc::kill(target, signal) } != 0 {
        let error = std::io::Error::last_os_error();
        return Err(anyhow::Error::new(error).context(format!("cannot signal process {pid}")));
    }
    Ok(())
}

/// `hazel monitor -K`, like `upsmon -K`: exit status 0 when the
/// `POWERDOWNFLAG` of `confdir`'s `upsmon.conf` is set, 1 otherwise (no
/// such setting, no file, foreign content, unreadable).
pub fn check_powerdown_flag(confdir: &Path) -> anyhow::Result<ExitCode> {
    let path = confdir.join(UPSMON_CONF);
    let conf = UpsmonConf::read(&path)?;
    let Some(flag) = conf.powerdown_flag else {
        eprintln!("{}: no POWERDOWNFLAG: the power-down flag is not set", path.display());
        return Ok(ExitCode::from(1));
    };
    let check = powerdown_flag::check(&flag);
    match &check {
        FlagCheck::Set => eprintln!("power-down flag {} is set", flag.display()),
        FlagCheck::Absent => eprintln!("power-down flag {} is not set", flag.display()),
        FlagCheck::Foreign => {
            eprintln!("{} lacks the power-down flag's magic string: the flag is not set", flag.display())
        }
        FlagCheck::Unreadable(error) => eprintln!("{error}: the power-down flag is not set"),
    }
    Ok(ExitCode::from(u8::try_from(check.exit_code()).unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_names_are_upsmons() {
        assert_eq!(Control::from_name("fsd"), Some(Control::ForceShutdown));
        assert_eq!(Control::from_name("stop"), Some(Control::Stop));
        assert_eq!(Control::from_name("reload"), Some(Control::Reload));
        assert_eq!(Control::from_name("FSD"), None);
    }

    #[test]
    fn pid_file_is_written_replaced_when_stale_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.pid");
        // PID 0 is never a process: a stale file is replaced.
        std::fs::write(&path, "0\n").unwrap();
        let pid_file = PidFile::create(&path).unwrap().expect("written");
        assert_eq!(read_pid(&path), Some(std::process::id()));
        // Our own PID in the file never blocks our start.
        assert!(PidFile::create(&path).unwrap().is_some());
        drop(pid_file);
        assert!(!path.exists());
    }

    #[test]
    fn unwritable_pid_file_is_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        assert!(PidFile::create(&dir.path().join("missing/dir/monitor.pid")).unwrap().is_none());
    }

    #[test]
    fn flag_check_exit_codes() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("killpower");
        let conf = format!("MONITOR ups@localhost 1 u p primary\nPOWERDOWNFLAG {}\n", flag.display());
        std::fs::write(dir.path().join(UPSMON_CONF), conf).unwrap();
        assert_eq!(check_powerdown_flag(dir.path()).unwrap(), ExitCode::from(1));
        powerdown_flag::write(&flag).unwrap();
        assert_eq!(check_powerdown_flag(dir.path()).unwrap(), ExitCode::SUCCESS);
        std::fs::write(&flag, "something else").unwrap();
        assert_eq!(check_powerdown_flag(dir.path()).unwrap(), ExitCode::from(1));
        std::fs::write(dir.path().join(UPSMON_CONF), "MONITOR ups@localhost 1 u p primary\n").unwrap();
        assert_eq!(check_powerdown_flag(dir.path()).unwrap(), ExitCode::from(1));
        std::fs::write(dir.path().join(UPSMON_CONF), "MONITOR ups@localhost 1 u p boss\n").unwrap();
        let error = check_powerdown_flag(dir.path()).unwrap_err().to_string();
        assert!(error.contains("upsmon.conf"), "{error}");
    }

    #[test]
    fn send_control_without_a_monitor_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let error = send_control(Control::Stop, None, &dir.path().join("none.pid")).unwrap_err().to_string();
        assert!(error.contains("none.pid"), "{error}");
    }
}
