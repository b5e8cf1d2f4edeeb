//! The two servers under test, on the same device set: `hazel serve` (release
//! build) and real NUT (`dummy-ups` per device, then `upsd`, started by the
//! end-to-end tests' [`RealNut`] launcher).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hazel_e2e::{NutSession, RealNut, copy_dev_files, dummy_ups_conf, free_port};

/// Client connections Hazel is configured to allow (`MAXCONN`): room for the
/// 10,000 held connections and the probes around them.
pub const HAZEL_MAXCONN: usize = 12_000;

/// A server being measured.
pub struct Target {
    /// `hazel` or `upsd`.
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The serving process (for CPU and memory readings).
    pub pid: u32,
}

/// A running `hazel serve`, killed on drop.
pub struct Hazel {
    child: Child,
    /// Its config dir and log, removed on drop.
    confdir: tempfile::TempDir,
    port: u16,
}

impl Hazel {
    /// Serve `devices` on a free port with `MAXCONN` [`HAZEL_MAXCONN`]; returns
    /// once every device answers `LIST VAR`.
    pub fn start(binary: &Path, plugin_dir: &Path, devices: &[(&str, &Path)]) -> anyhow::Result<Hazel> {
        let confdir = tempfile::tempdir().context("creating a config dir for hazel")?;
        let dir = confdir.path();
        let port = free_port();
        copy_dev_files(devices, dir);
        let files = [
            ("ups.conf", dummy_ups_conf(devices)),
            ("upsd.conf", format!("LISTEN 127.0.0.1 {port}\nMAXCONN {HAZEL_MAXCONN}\n")),
            ("hazel.toml", format!("plugin_dirs = [{:?}]\ncache_dir = \"cache\"\n", plugin_dir.display().to_string())),
        ];
        for (name, text) in files {
            std::fs::write(dir.join(name), text).with_context(|| format!("writing {}", dir.join(name).display()))?;
        }
        let log_path = dir.join("hazel.log");
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let child = Command::new(binary)
            .args(["serve", "-c"])
            .arg(dir)
            .env("HAZEL_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut hazel = Hazel { child, confdir, port };
        for (name, _) in devices {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = hazel.child.try_wait()? {
                    bail!("hazel serve exited ({status}); log:\n{}", hazel.log());
                }
                let answer = NutSession::try_connect(port).and_then(|mut s| s.try_request(&format!("LIST VAR {name}")));
                if answer.is_ok_and(|lines| lines.first().is_some_and(|l| l.starts_with("BEGIN LIST"))) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("hazel serve never served {name}; log:\n{}", hazel.log());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(hazel)
    }

    /// The server to measure.
    pub fn target(&self) -> Target {
        Target { name: "hazel", addr: SocketAddr::from(([127, 0, 0, 1], self.port)), pid: self.child.id() }
    }

    /// What hazel logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.confdir.path().join("hazel.log")).unwrap_or_default()
    }
}

impl Drop for Hazel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `upsd` of a running [`RealNut`], as a server to measure.
pub fn upsd_target(nut: &RealNut) -> anyhow::Result<Target> {
    Ok(Target {
        name: "upsd",
        addr: SocketAddr::from(([127, 0, 0, 1], nut.port())),
        pid: upsd_pid(nut.confdir()).context("finding the upsd process")?,
    })
}

/// The `upsd` process whose `NUT_STATEPATH` is `confdir` (the launcher keeps
/// its children private).
fn upsd_pid(confdir: &Path) -> anyhow::Result<u32> {
    let wanted = format!("NUT_STATEPATH={}", confdir.display());
    for entry in std::fs::read_dir("/proc").context("reading /proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != "upsd" {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|&b| b == 0).any(|var| var == wanted.as_bytes()) {
            return Ok(pid);
        }
    }
    bail!("no upsd process with {wanted}")
}

/// The plugin directory: `HAZEL_PLUGIN_DIR`, else where `cargo xtask build` puts them.
pub fn plugin_dir(root: &Path) -> PathBuf {
    std::env::var_os("HAZEL_PLUGIN_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target/plugins"))
}

/// The open-file limit of process `pid` (soft, hard), from `/proc/PID/limits`.
pub fn open_file_limit(pid: u32) -> Option<(String, String)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.trim_start_matches("Max open files").split_whitespace();
    Some((fields.next()?.to_string(), fields.next()?.to_string()))
}

/// Raise this process's soft open-file limit to its hard limit (the held
/// connections need one descriptor each); returns the new soft limit.
pub fn raise_open_file_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
        }
    }
    Ok(limit.rlim_cur)
}
