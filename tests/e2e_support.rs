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

/// `upsd.users` shared by the end-to-end servers: `admin` may SET and run every
/// command; `monuser` is an upsmon primary.
pub const E2E_USERS: &str = "[admin]\n\tpassword = adminpass\n\tactions = SET\n\tinstcmds = ALL\n\
                             [monuser]\n\tpassword = monpass\n\tupsmon primary\n";
/// Admin user in [`E2E_USERS`].
pub const ADMIN_USER: &str = "admin";
/// Password of [`ADMIN_USER`].
pub const ADMIN_PASSWORD: &str = "adminpass";
/// upsmon user in [`E2E_USERS`].
pub const UPSMON_USER: &str = "monuser";
/// Password of [`UPSMON_USER`].
pub const UPSMON_PASSWORD: &str = "monpass";

/// A `ups.conf` with one `dummy-ups` section per `(name, dev file)`, whose `port`
/// is the file's name (the file is expected next to ups.conf: see [`copy_dev_files`]).
pub fn dummy_ups_conf(devices: &[(&str, &Path)]) -> String {
    let mut conf = String::new();
    for (name, file) in devices {
        let file_name = file.file_name().expect("a .dev file path").to_string_lossy();
        conf.push_str(&format!("[{name}]\n\tdriver = dummy-ups\n\tport = {file_name}\n"));
    }
    conf
}

/// Copy each device file into `dir` under its own file name (what [`dummy_ups_conf`] refers to).
pub fn copy_dev_files(devices: &[(&str, &Path)], dir: &Path) {
    for (_, file) in devices {
        let target = dir.join(file.file_name().expect("a .dev file path"));
        std::fs::copy(file, &target).unwrap_or_else(|e| panic!("copy {} to {}: {e}", file.display(), target.display()));
    }
}

/// Real NUT 2.8.0 (`/lib/nut/dummy-ups` per device, then `upsd`) in a private
/// config/state dir, on a free 127.0.0.1 port; everything is killed on drop.
///
/// Config: ups.conf from [`dummy_ups_conf`], users [`E2E_USERS`]. Both ups.conf and
/// the copied `.dev` files are in [`RealNut::confdir`], so a [`HazelServe`] can be
/// given the same bytes:
/// `HazelServe::start(&dummy_ups_conf(devs), E2E_USERS, |dir| copy_dev_files(devs, dir))`.
pub struct RealNut {
    /// Drivers first, upsd last.
    children: Vec<Child>,
    port: u16,
    confdir: tempfile::TempDir,
}

impl RealNut {
    /// Start one `dummy-ups -a NAME` per `(name, dev file)` and `upsd`; returns once
    /// every device's data has reached upsd (`LIST VAR` answers, and not just with
    /// the `ups.status "WAIT"` a driver publishes before its data).
    pub fn start(devices: &[(&str, &Path)]) -> RealNut {
        let confdir = tempfile::tempdir().expect("tempdir");
        let dir = confdir.path();
        let port = free_port();
        copy_dev_files(devices, dir);
        std::fs::write(dir.join("ups.conf"), dummy_ups_conf(devices)).unwrap();
        std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
        std::fs::write(dir.join("upsd.users"), E2E_USERS).unwrap();
        let mut nut = RealNut { children: Vec::new(), port, confdir };
        for (name, _) in devices {
            let child = nut.spawn(Path::new("/lib/nut/dummy-ups"), &["-a", name], &format!("dummy-ups-{name}.log"));
            nut.children.push(child);
        }
        // upsd only retries an absent driver socket every few seconds: wait for all of them first.
        let dir = nut.confdir.path().to_path_buf();
        for (name, _) in devices {
            let socket = dir.join(format!("dummy-ups-{name}"));
            let deadline = Instant::now() + Duration::from_secs(30);
            while !socket.exists() {
                assert!(Instant::now() < deadline, "dummy-ups {name} made no socket; log:\n{}", nut.log());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Debian's /usr/sbin/upsd is a wrapper that refuses to run unless /etc/nut/nut.conf enables it.
        let upsd = ["/lib/nut/upsd", "/usr/sbin/upsd"].map(Path::new).into_iter().find(|p| p.exists());
        let upsd = upsd.expect("upsd is missing (Debian package nut-server; `cargo xtask test` installs it)");
        let child = nut.spawn(upsd, &[], "upsd.log");
        nut.children.push(child);
        for (name, _) in devices {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let answer = NutSession::try_connect(port).and_then(|mut s| s.try_request(&format!("LIST VAR {name}")));
                // A driver first publishes only `ups.status "WAIT"`, then its data in one go.
                let waiting = format!("VAR {name} ups.status \"WAIT\"");
                let loaded = |lines: Vec<String>| {
                    lines.first().is_some_and(|l| l.starts_with("BEGIN LIST")) && !lines.contains(&waiting)
                };
                if answer.is_ok_and(loaded) {
                    break;
                }
                assert!(Instant::now() < deadline, "real NUT never served {name}; logs:\n{}", nut.log());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        nut
    }

    /// Start a NUT program in foreground in the private dirs, its output going to `log_name`.
    fn spawn(&self, program: &Path, args: &[&str], log_name: &str) -> Child {
        let dir = self.confdir.path();
        let log = std::fs::File::create(dir.join(log_name)).unwrap();
        let mut command = Command::new(program);
        command.arg("-F").args(args);
        // As root, NUT programs switch to the `nut` user, who cannot read a private temp dir.
        if is_root() {
            command.args(["-u", "root"]);
        }
        command
            .env("NUT_CONFPATH", dir)
            .env("NUT_STATEPATH", dir)
            .env("NUT_ALTPIDPATH", dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} (Debian package nut-server): {e}", program.display()))
    }

    /// upsd's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `name@127.0.0.1:port`, for NUT's client tools.
    pub fn ups(&self, name: &str) -> String {
        format!("{name}@127.0.0.1:{}", self.port)
    }

    /// The private dir holding ups.conf, upsd.conf, upsd.users, the `.dev` copies and logs.
    pub fn confdir(&self) -> &Path {
        self.confdir.path()
    }

    /// Everything the drivers and upsd logged so far.
    pub fn log(&self) -> String {
        let mut all = String::new();
        let mut entries: Vec<_> = std::fs::read_dir(self.confdir.path()).into_iter().flatten().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries.into_iter().filter(|e| e.file_name().to_string_lossy().ends_with(".log")) {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            all.push_str(&format!("== {}\n{text}", entry.file_name().to_string_lossy()));
        }
        all
    }
}

impl Drop for RealNut {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether this process runs as root (owner of `/proc/self` is the effective user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A raw NUT protocol connection (one request line, its reply lines).
pub struct NutSession {
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl NutSession {
    /// Connect to 127.0.0.1:`port`; panics if nobody answers.
    pub fn connect(port: u16) -> NutSession {
        NutSession::try_connect(port).unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
    }

    /// Connect to 127.0.0.1:`port`.
    pub fn try_connect(port: u16) -> std::io::Result<NutSession> {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(NutSession { reader: std::io::BufReader::new(stream) })
    }

    /// Send `line`; the reply: one line, or `BEGIN LIST` through `END LIST`. Panics on I/O errors.
    pub fn request(&mut self, line: &str) -> Vec<String> {
        self.try_request(line).unwrap_or_else(|e| panic!("NUT request {line:?}: {e}"))
    }

    /// Send `line`; the reply: one line, or `BEGIN LIST` through `END LIST` (without line ends).
    pub fn try_request(&mut self, line: &str) -> std::io::Result<Vec<String>> {
        use std::io::{BufRead, Write};
        self.reader.get_mut().write_all(format!("{line}\n").as_bytes())?;
        let mut lines = Vec::new();
        loop {
            let mut reply = String::new();
            if self.reader.read_line(&mut reply)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
            }
            let reply = reply.trim_end_matches('\n').to_string();
            let done = if lines.is_empty() { !reply.starts_with("BEGIN LIST") } else { reply.starts_with("END LIST") };
            lines.push(reply);
            if done {
                return Ok(lines);
            }
        }
    }
}

/// Run `hazel <subcommand> <args>` (one of the thin NUT clients: `status`, `cmd`, `set`).
pub fn hazel_client(subcommand: &str, args: &[&str]) -> Output {
    Command::new(hazel_binary())
        .arg(subcommand)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run hazel {subcommand}: {e}"))
}

/// Standard error without the `Init SSL without certificate database` line NUT's
/// clients print when their TLS library has no certificates (Hazel's do not try TLS).
pub fn stderr_without_tls_notice(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    text.split_inclusive('\n').filter(|l| !l.starts_with("Init SSL without certificate database")).collect()
}

/// Lines added to the files [`HazelServe::start_with`] writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExtraConfig<'a> {
    /// Appended to `upsd.conf` (after its `LISTEN` line).
    pub upsd_conf: &'a str,
    /// Appended to `hazel.toml` (after `plugin_dirs` and `cache_dir`).
    pub hazel_toml: &'a str,
}

impl HazelServe {
    /// [`HazelServe::start`] with `extra` lines in `upsd.conf` and `hazel.toml`
    /// (e.g. `CERTFILE`, `[tls]`).
    pub fn start_with(ups_conf: &str, upsd_users: &str, extra: ExtraConfig<'_>, prepare: impl FnOnce(&Path)) -> Self {
        let confdir = tempfile::tempdir().expect("tempdir");
        let dir = confdir.path();
        let port = free_port();
        prepare(dir);
        std::fs::write(dir.join("ups.conf"), ups_conf).unwrap();
        std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n{}", extra.upsd_conf)).unwrap();
        std::fs::write(dir.join("upsd.users"), upsd_users).unwrap();
        let plugins = plugin_dir().display().to_string();
        let settings = format!("plugin_dirs = [{plugins:?}]\ncache_dir = \"cache\"\n{}", extra.hazel_toml);
        std::fs::write(dir.join("hazel.toml"), settings).unwrap();
        let log = std::fs::File::create(dir.join("hazel.log")).unwrap();
        let child = Command::new(hazel_binary())
            .args(["serve", "-c"])
            .arg(dir)
            .env("HAZEL_LOG", "info")
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
}
