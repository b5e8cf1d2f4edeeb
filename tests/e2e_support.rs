//! Helpers for end-to-end tests: a `hazel serve` process on a free loopback
//! port with a config dir of its own, and NUT's command-line clients.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Directory of built plugins (`HAZEL_PLUGIN_DIR`, set by `cargo xtask test`).
pub fn plugin_dir() -> PathBuf {
    std::env::var_os("HAZEL_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("plugins/target/wasm32-wasip2/release"))
}

/// The `hazel` binary of this build.
pub fn hazel_binary() -> PathBuf {
    let path = repo_root().join("target/debug/hazel");
    assert!(path.exists(), "{} is missing: run `cargo xtask test`", path.display());
    path
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A running `hazel serve`, killed on drop.
pub struct HazelServe {
    child: Child,
    /// Its NUT port on 127.0.0.1.
    pub port: u16,
    /// Its config dir (kept alive as long as the server).
    pub confdir: tempfile::TempDir,
}

impl HazelServe {
    /// Start `hazel serve` with `ups_conf` and `upsd_users`, on a free port, after
    /// `prepare` has put any data files into the config dir; waits until it answers.
    pub fn start(ups_conf: &str, upsd_users: &str, prepare: impl FnOnce(&Path)) -> HazelServe {
        let confdir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        prepare(confdir.path());
        std::fs::write(confdir.path().join("ups.conf"), ups_conf).unwrap();
        std::fs::write(confdir.path().join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
        std::fs::write(confdir.path().join("upsd.users"), upsd_users).unwrap();
        std::fs::write(
            confdir.path().join("hazel.toml"),
            format!("plugin_dirs = [{:?}]\ncache_dir = \"cache\"\n", plugin_dir().display().to_string()),
        )
        .unwrap();
        let log = std::fs::File::create(confdir.path().join("hazel.log")).unwrap();
        let child = Command::new(hazel_binary())
            .arg("serve")
            .arg("-c")
            .arg(confdir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start hazel serve");
        let server = HazelServe { child, port, confdir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "hazel serve did not listen; log:\n{}", server.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.confdir.path().join("hazel.log")).unwrap_or_default()
    }

    /// `name@127.0.0.1:port`.
    pub fn ups(&self, name: &str) -> String {
        format!("{name}@127.0.0.1:{}", self.port)
    }
}

impl Drop for HazelServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a NUT client tool; returns its output.
pub fn nut_tool(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {program} (Debian package nut-client; `cargo xtask test` installs it): {e}")
    })
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard output and standard error together, without the TLS notice NUT's
/// clients print when no certificate database is configured.
pub fn said(output: &Output) -> String {
    let both = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    both.lines().filter(|l| !l.starts_with("Init SSL")).collect::<Vec<_>>().join("\n")
}

/// Retry `check` until it returns true or 30 s pass.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
