//! `hazel serve` raises its soft open-file limit to the hard limit, so the
//! number of NUT clients is bounded by `MAXCONN`, not by a default of 1024.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn plugin_dir() -> PathBuf {
    std::env::var_os("HAZEL_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/target/wasm32-wasip2/release"))
}

/// (soft, hard) open-file limit of `pid`, from `/proc/PID/limits`.
fn open_file_limit(pid: u32) -> Option<(String, String)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.trim_start_matches("Max open files").split_whitespace();
    Some((fields.next()?.to_string(), fields.next()?.to_string()))
}

/// Killed on drop, so a failing test leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_raises_the_soft_open_file_limit_to_the_hard_one() {
    let (_, hard) = open_file_limit(std::process::id()).expect("our own limits");
    let hard: u64 = hard.parse().expect("a finite hard limit (Linux caps it at fs.nr_open)");
    let low = (hard / 2).clamp(1, 256);
    assert!(low < hard, "the hard open-file limit ({hard}) leaves no room to lower the soft one");

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(dir.path().join("ups.conf"), "[ups1]\n\tdriver = dummy-ups\n\tport = ok.dev\n").unwrap();
    std::fs::write(dir.path().join("ok.dev"), "ups.status: OL\n").unwrap();
    std::fs::write(dir.path().join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
    std::fs::write(
        dir.path().join("hazel.toml"),
        format!("plugin_dirs = [{:?}]\ncache_dir = \"cache\"\n", plugin_dir().display().to_string()),
    )
    .unwrap();
    // `exec` keeps the pid: the shell lowers the soft limit, then becomes hazel.
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -Sn {low} && exec \"$0\" serve -c \"$1\""))
        .arg(env!("CARGO_BIN_EXE_hazel"))
        .arg(dir.path())
        .env("HAZEL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hazel serve");
    let mut server = Server(child);
    let pid = server.0.id();

    // Once it listens, start-up (where the limit is raised) is over.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(server.0.try_wait().unwrap().is_none(), "hazel serve exited early");
        assert!(Instant::now() < deadline, "hazel serve never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (soft, hard_seen) = open_file_limit(pid).expect("hazel's limits");
    assert_eq!(hard_seen, hard.to_string());
    assert_eq!(soft, hard.to_string(), "soft limit left at {soft} (started at {low})");
}
