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
        HazelServe::start_knowing_port(ups_conf, upsd_users, ExtraConfig::default(), |dir, _port| prepare(dir))
    }

    /// [`HazelServe::start_with`], with `prepare` also given the port it will serve on
    /// (for files that name it, like an `upsmon.conf` whose monitor connects to it).
    pub fn start_knowing_port(
        ups_conf: &str,
        upsd_users: &str,
        extra: ExtraConfig<'_>,
        prepare: impl FnOnce(&Path, u16),
    ) -> HazelServe {
        let confdir = tempfile::tempdir().expect("tempdir");
        let dir = confdir.path();
        let port = free_port();
        prepare(dir, port);
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

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.confdir.path().join("hazel.log")).unwrap_or_default()
    }

    /// `name@127.0.0.1:port`.
    pub fn ups(&self, name: &str) -> String {
        format!("{name}@127.0.0.1:{}", self.port)
    }

    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
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

/// Every variable of `ups` (`UPS@HOST:PORT`) as `upsc` prints it, or `None`
/// while upsc fails (no such UPS yet, data stale, ...).
pub fn upsc_all(ups: &str) -> Option<String> {
    let output = nut_tool("upsc", &[ups]);
    output.status.success().then(|| stdout(&output))
}

/// The value of `name` in `upsc` output.
pub fn upsc_value<'a>(upsc: &'a str, name: &str) -> Option<&'a str> {
    upsc.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}

/// Poll `upsc ups` until `check` holds for its output (up to a minute); returns that output.
pub fn wait_for_upsc(ups: &str, what: &str, mut check: impl FnMut(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    loop {
        if let Some(all) = upsc_all(ups) {
            if check(&all) {
                return all;
            }
            last = Some(all);
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what} on {ups}; last upsc:\n{last:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Run `upscmd` on `ups` as [`ADMIN_USER`] with `command` (and its argument, if any);
/// panics unless the server said OK.
pub fn admin_upscmd(ups: &str, command: &[&str]) {
    let mut args = vec!["-u", ADMIN_USER, "-p", ADMIN_PASSWORD, ups];
    args.extend_from_slice(command);
    let output = nut_tool("upscmd", &args);
    assert!(output.status.success(), "upscmd {command:?} on {ups}: {}", said(&output));
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
/// is the file's name (the file is expected next to ups.conf: see [`copy_dev_files`])
/// and whose `desc` is [`dev_file_description`].
pub fn dummy_ups_conf(devices: &[(&str, &Path)]) -> String {
    let mut conf = String::new();
    for (name, file) in devices {
        let file_name = file.file_name().expect("a .dev file path").to_string_lossy();
        let desc = dev_file_description(file);
        conf.push_str(&format!("[{name}]\n\tdriver = dummy-ups\n\tport = {file_name}\n\tdesc = \"{desc}\"\n"));
    }
    conf
}

/// Manufacturer and model from a device library file name, `_` read as space
/// (`APC__Back-UPS_RS_1500__newhidups__2.1.0__01.dev` → `APC Back-UPS RS 1500`).
pub fn dev_file_description(file: &Path) -> String {
    let stem = file.file_stem().expect("a .dev file path").to_string_lossy();
    stem.split("__").take(2).collect::<Vec<_>>().join(" ").replace('_', " ")
}

/// Copy each device file into `dir` under its own file name (what [`dummy_ups_conf`] refers to).
pub fn copy_dev_files(devices: &[(&str, &Path)], dir: &Path) {
    for (_, file) in devices {
        let target = dir.join(file.file_name().expect("a .dev file path"));
        std::fs::copy(file, &target).unwrap_or_else(|e| panic!("copy {} to {}: {e}", file.display(), target.display()));
    }
}

/// Real NUT 2.8.0 (one driver per device from `/lib/nut`, then `upsd`) in a
/// private config/state dir, on a free 127.0.0.1 port; everything is killed on drop.
///
/// [`RealNut::start`] runs `dummy-ups` on device files: its ups.conf is from
/// [`dummy_ups_conf`] and both it and the copied `.dev` files are in
/// [`RealNut::confdir`], so a [`HazelServe`] can be given the same bytes:
/// `HazelServe::start(&dummy_ups_conf(devs), E2E_USERS, |dir| copy_dev_files(devs, dir))`.
/// [`RealNut::start_drivers`] runs any drivers, e.g. `nutdrv_qx` on a serial port.
/// Users: [`E2E_USERS`].
pub struct RealNut {
    /// Drivers first, upsd last.
    children: Vec<Child>,
    port: u16,
    confdir: tempfile::TempDir,
}

/// One device for [`RealNut::start_drivers`]: a ups.conf section.
#[derive(Clone, Copy, Debug)]
pub struct NutDevice<'a> {
    /// The section's name.
    pub name: &'a str,
    /// A driver program in `/lib/nut`, e.g. `nutdrv_qx`.
    pub driver: &'a str,
    /// `port =`.
    pub port: &'a str,
    /// More ups.conf lines for the section, e.g. `"pollinterval = 1\n"`.
    pub options: &'a str,
}

impl NutDevice<'_> {
    /// The ups.conf section.
    pub fn section(&self) -> String {
        let options: String = self.options.lines().map(|line| format!("\t{}\n", line.trim())).collect();
        format!("[{}]\n\tdriver = {}\n\tport = {}\n{options}", self.name, self.driver, self.port)
    }
}

impl RealNut {
    /// Start one `dummy-ups -a NAME` per `(name, dev file)` and `upsd`; returns once
    /// every device's data has reached upsd (`LIST VAR` answers, and not just with
    /// the `ups.status "WAIT"` a driver publishes before its data).
    pub fn start(devices: &[(&str, &Path)]) -> RealNut {
        let confdir = tempfile::tempdir().expect("tempdir");
        copy_dev_files(devices, confdir.path());
        let drivers: Vec<(&str, &str)> = devices.iter().map(|(name, _)| (*name, "dummy-ups")).collect();
        RealNut::launch(confdir, &dummy_ups_conf(devices), &drivers)
    }

    /// Start each device's driver and `upsd`; returns once every device's data has
    /// reached upsd, as [`RealNut::start`] does.
    pub fn start_drivers(devices: &[NutDevice<'_>]) -> RealNut {
        let confdir = tempfile::tempdir().expect("tempdir");
        let ups_conf: String = devices.iter().map(NutDevice::section).collect();
        let drivers: Vec<(&str, &str)> = devices.iter().map(|d| (d.name, d.driver)).collect();
        RealNut::launch(confdir, &ups_conf, &drivers)
    }

    /// Write the config into `confdir`, start each `(name, driver)` and then upsd.
    fn launch(confdir: tempfile::TempDir, ups_conf: &str, drivers: &[(&str, &str)]) -> RealNut {
        let dir = confdir.path();
        let port = free_port();
        std::fs::write(dir.join("ups.conf"), ups_conf).unwrap();
        std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
        std::fs::write(dir.join("upsd.users"), E2E_USERS).unwrap();
        let mut nut = RealNut { children: Vec::new(), port, confdir };
        for (name, driver) in drivers {
            let program = Path::new("/lib/nut").join(driver);
            let child = nut.spawn(&program, &["-a", name], &format!("{driver}-{name}.log"));
            nut.children.push(child);
        }
        // upsd only retries an absent driver socket every few seconds: wait for all of them first.
        let dir = nut.confdir.path().to_path_buf();
        for (index, (name, driver)) in drivers.iter().enumerate() {
            let socket = dir.join(format!("{driver}-{name}"));
            let deadline = Instant::now() + Duration::from_secs(60);
            while !socket.exists() {
                if let Ok(Some(status)) = nut.children[index].try_wait() {
                    panic!("{driver} {name} exited ({status}); log:\n{}", nut.log());
                }
                assert!(Instant::now() < deadline, "{driver} {name} made no socket; log:\n{}", nut.log());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Debian's /usr/sbin/upsd is a wrapper that refuses to run unless /etc/nut/nut.conf enables it.
        let upsd = ["/lib/nut/upsd", "/usr/sbin/upsd"].map(Path::new).into_iter().find(|p| p.exists());
        let upsd = upsd.expect("upsd is missing (Debian package nut-server; `cargo xtask test` installs it)");
        let child = nut.spawn(upsd, &[], "upsd.log");
        nut.children.push(child);
        for (name, _) in drivers {
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
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (Debian package nut-server; `cargo xtask test` installs it): {e}",
                    program.display()
                )
            })
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
        use std::io::Write;
        self.reader.get_mut().write_all(format!("{line}\n").as_bytes())?;
        self.read_reply()
    }

    /// Send all `lines` at once, then read their replies in order (pipelined: upsd
    /// writes a list line by line, and each round trip can cost a delayed ACK,
    /// ~40 ms). Panics on I/O errors.
    pub fn requests(&mut self, lines: &[String]) -> Vec<Vec<String>> {
        use std::io::Write;
        let batch: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let sent = self.reader.get_mut().write_all(batch.as_bytes());
        sent.unwrap_or_else(|e| panic!("NUT requests {lines:?}: {e}"));
        lines.iter().map(|line| self.read_reply().unwrap_or_else(|e| panic!("NUT request {line:?}: {e}"))).collect()
    }

    /// One reply: one line, or `BEGIN LIST` through `END LIST`.
    fn read_reply(&mut self) -> std::io::Result<Vec<String>> {
        use std::io::BufRead;
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
        HazelServe::start_knowing_port(ups_conf, upsd_users, extra, |dir, _port| prepare(dir))
    }
}

// The monitor: a UPS power source the tests drive, `hazel monitor`, and NUT's own `upsmon`.

/// What a test UPS's mains and battery are doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    /// Mains present (`OL`).
    Online,
    /// Mains failed, battery fine (`OB`).
    OnBattery,
    /// Mains failed, battery low (`OB LB`).
    LowBattery,
}

impl PowerState {
    /// The `ups.status` a UPS reports in this state.
    pub fn ups_status(self) -> &'static str {
        match self {
            PowerState::Online => "OL",
            PowerState::OnBattery => "OB",
            PowerState::LowBattery => "OB LB",
        }
    }
}

/// The power of a UPS under test: the tests make mains fail and batteries run
/// low through this, whatever device stands behind it.
///
/// Two stand behind it: a `dummy-ups` device file ([`DevFilePower`]), read by
/// Hazel's `dummy` plugin and by NUT's `dummy-ups`, and a simulated Megatec UPS
/// ([`SimulatorPower`], `hazel-sim`) read by `nutdrv_qx` (Hazel's `megatec`
/// plugin) through a serial port, whose battery really drains. Most of
/// `tests/monitor.rs` still runs on device files (they also serve NUT's own
/// `dummy-ups`); its end-to-end shutdown order runs on the simulator.
pub trait PowerSource {
    /// Puts the UPS in `state`; the driver notices at its next poll.
    fn set(&self, state: PowerState);
}

/// A `dummy-ups` device file as a [`PowerSource`]: each state rewrites it.
pub struct DevFilePower {
    path: PathBuf,
    writes: std::cell::Cell<u64>,
}

impl DevFilePower {
    /// Writes the file at `path` in `state`.
    pub fn create(path: &Path, state: PowerState) -> DevFilePower {
        let power = DevFilePower { path: path.to_path_buf(), writes: std::cell::Cell::new(0) };
        power.set(state);
        power
    }
}

impl PowerSource for DevFilePower {
    fn set(&self, state: PowerState) {
        let charge = if state == PowerState::LowBattery { 10 } else { 100 };
        let text = format!(
            "ups.mfr: Hazel\nups.model: Monitor test\nbattery.charge: {charge}\nups.status: {}\n",
            state.ups_status()
        );
        // Written aside and renamed, so a driver never reads half a file.
        let scratch = self.path.with_extension("new");
        std::fs::write(&scratch, text).unwrap();
        // dummy-ups re-reads the file when its modification time changes, in whole
        // seconds: give every version its own second.
        let writes = self.writes.get() + 1;
        self.writes.set(writes);
        let stamp = std::time::SystemTime::now() + Duration::from_secs(writes);
        std::fs::File::options().write(true).open(&scratch).and_then(|file| file.set_modified(stamp)).unwrap();
        std::fs::rename(&scratch, &self.path).unwrap();
    }
}

/// A simulated Megatec UPS (`hazel-sim`) as a [`PowerSource`], at full load
/// with a battery that lasts 10 simulated minutes, simulated time running 60
/// times faster than real time. Time stands still except while the battery
/// is being run down: [`PowerState::OnBattery`] fails the mains with the
/// battery full; [`PowerState::LowBattery`] fails the mains and lets the
/// battery drain (seconds of real time) until the simulated UPS itself
/// reports it low, then stops time again, so the UPS stays at `OB LB` while
/// the monitors act, never running flat. Stopped on drop.
pub struct SimulatorPower {
    sim: hazel_sim::RunningSimulator,
}

impl SimulatorPower {
    /// Simulated seconds per real second.
    pub const TIME_SCALE: f64 = 60.0;

    /// A simulator on mains with a full battery, its pty reached through
    /// `link` if given (kept out of `/dev`, as a tty name would be).
    pub fn spawn(link: Option<&Path>) -> SimulatorPower {
        let model = hazel_sim::ModelConfig { load_percent: 100, ..hazel_sim::ModelConfig::default() };
        let config = hazel_sim::SimulatorConfig {
            model,
            time_scale: SimulatorPower::TIME_SCALE,
            link: link.map(Path::to_path_buf),
            ..hazel_sim::SimulatorConfig::default()
        };
        let sim = hazel_sim::Simulator::spawn(config).unwrap_or_else(|e| panic!("simulator ({link:?}): {e}"));
        sim.set_frozen(true);
        SimulatorPower { sim }
    }

    /// The port a driver opens: the link, or else the pty itself.
    pub fn port(&self) -> &Path {
        self.sim.link_path().unwrap_or_else(|| self.sim.pty_path())
    }

    /// The simulator (its command log, its state).
    pub fn simulator(&self) -> &hazel_sim::RunningSimulator {
        &self.sim
    }

    /// A `ups.conf` section running `nutdrv_qx` (Hazel's `megatec` plugin) on
    /// [`SimulatorPower::port`], polled every second (every poll a full
    /// update), with `options` lines added (e.g. `"offdelay = 60\n"`).
    pub fn ups_conf_section(&self, name: &str, options: &str) -> String {
        let port = self.port().display().to_string();
        let options = format!("pollinterval = 1\npollfreq = 1\n{options}");
        NutDevice { name, driver: "nutdrv_qx", port: &port, options: &options }.section()
    }
}

impl PowerSource for SimulatorPower {
    fn set(&self, state: PowerState) {
        match state {
            PowerState::Online => self.sim.set_mains(true),
            PowerState::OnBattery => self.sim.set_mains(false),
            PowerState::LowBattery => {
                self.sim.set_mains(false);
                self.sim.set_frozen(false);
                let deadline = Instant::now() + Duration::from_secs(60);
                while !self.sim.state().battery_low {
                    assert!(Instant::now() < deadline, "the simulated battery never ran low: {:?}", self.sim.state());
                    std::thread::sleep(Duration::from_millis(10));
                }
                self.sim.set_frozen(true);
            }
        }
    }
}

/// A `ups.conf` section running `dummy-ups` (Hazel's `dummy` plugin) on the
/// device file `file_name` beside it, polled every second.
pub fn dummy_power_section(name: &str, file_name: &str) -> String {
    format!("[{name}]\n\tdriver = dummy-ups\n\tport = {file_name}\n\tpollinterval = 1\n")
}

/// Where a monitor's harmless `SHUTDOWNCMD` and `NOTIFYCMD` report: each
/// appends one line `<who> <what>` to a file shared by every monitor of a
/// test, so the order of lines is the order things happened.
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    /// A log at `path` (created on first write).
    pub fn new(path: &Path) -> EventLog {
        EventLog { path: path.to_path_buf() }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// Whether `line` was written.
    pub fn has(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    /// Index of the first `line`, or a panic showing the log.
    pub fn position(&self, line: &str) -> usize {
        let lines = self.lines();
        lines.iter().position(|l| l == line).unwrap_or_else(|| panic!("no {line:?} in the event log:\n{lines:#?}"))
    }

    /// The `NOTIFYTYPE`s `who` was notified of, in order.
    pub fn notifications(&self, who: &str) -> Vec<String> {
        let prefix = format!("{who} notify ");
        self.lines().iter().filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned)).collect()
    }

    /// Writes `dir/notify.sh` and `dir/shutdown.sh`, which append
    /// `<who> notify <NOTIFYTYPE>` and `<who> shutdown` to this log; they
    /// touch nothing else.
    pub fn scripts(&self, dir: &Path, who: &str) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let log = self.path.display();
        let notify = dir.join("notify.sh");
        let shutdown = dir.join("shutdown.sh");
        let bodies = [
            (&notify, format!("#!/bin/sh\necho \"{who} notify $NOTIFYTYPE\" >> '{log}'\n")),
            (&shutdown, format!("#!/bin/sh\necho \"{who} shutdown\" >> '{log}'\n")),
        ];
        for (path, body) in bodies {
            std::fs::write(path, body).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        (notify, shutdown)
    }
}

/// Events both NUT's upsmon and Hazel know, whose notifications tests record.
pub const RECORDED_EVENTS: &[&str] =
    &["ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "SHUTDOWN_HOSTSYNC", "NOCOMM"];

/// An `upsmon.conf` for tests, for NUT's upsmon and `hazel monitor` alike:
/// one `MONITOR system 1 monuser monpass role` ([`UPSMON_USER`]), the
/// harmless scripts of `events` (written into `dir`) for `SHUTDOWNCMD` and
/// `NOTIFYCMD` with every [`RECORDED_EVENTS`] going to the log and the script
/// (no `wall`), `POWERDOWNFLAG dir/killpower`, one-second polls, and
/// `extra` lines last (they win).
pub fn test_upsmon_conf(system: &str, role: &str, dir: &Path, who: &str, events: &EventLog, extra: &str) -> String {
    let (notify, shutdown) = events.scripts(dir, who);
    let mut conf = format!(
        "MONITOR {system} 1 {UPSMON_USER} {UPSMON_PASSWORD} {role}\nMINSUPPLIES 1\n\
         SHUTDOWNCMD \"{}\"\nNOTIFYCMD \"{}\"\nPOWERDOWNFLAG {}\n\
         POLLFREQ 1\nPOLLFREQALERT 1\nHOSTSYNC 20\nDEADTIME 15\nFINALDELAY 1\n",
        shutdown.display(),
        notify.display(),
        dir.join("killpower").display(),
    );
    for event in RECORDED_EVENTS {
        conf.push_str(&format!("NOTIFYFLAG {event} SYSLOG+EXEC\n"));
    }
    conf.push_str(extra);
    conf
}

/// A running `hazel monitor -c DIR` (DIR holding its upsmon.conf), logging
/// to `DIR/monitor.log` with its PID file `DIR/monitor.pid`; killed on drop.
pub struct HazelMonitor {
    child: Child,
    dir: PathBuf,
}

impl HazelMonitor {
    /// Starts `hazel monitor` on `dir`.
    pub fn start(dir: &Path) -> HazelMonitor {
        HazelMonitor::start_with_pid_file(dir, &dir.join("monitor.pid"))
    }

    /// Starts `hazel monitor` on `dir` with its PID file at `pid_file`.
    pub fn start_with_pid_file(dir: &Path, pid_file: &Path) -> HazelMonitor {
        let log = std::fs::File::create(dir.join("monitor.log")).unwrap();
        let child = Command::new(hazel_binary())
            .args(["monitor", "-c"])
            .arg(dir)
            .arg("--pid-file")
            .arg(pid_file)
            .env("HAZEL_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start hazel monitor");
        HazelMonitor { child, dir: dir.to_path_buf() }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("monitor.log")).unwrap_or_default()
    }

    /// Its exit status, once it has exited.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for HazelMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// NUT's own `upsmon` in the foreground on `DIR/upsmon.conf`, with its state
/// in DIR and its output in `DIR/upsmon.log`; stopped on drop.
///
/// Whatever `NUT_ALTPIDPATH` says, Debian's upsmon 2.8.0 running as root keeps
/// its PID in `/run/nut/upsmon.pid` and refuses to start, even for `-K`,
/// while the process named there lives: one upsmon at a time per machine, so
/// each holds [`upsmon_lock`].
pub struct RealUpsmon {
    child: Child,
    dir: PathBuf,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

/// Held while NUT's `upsmon` runs (see [`RealUpsmon`]); take it around `upsmon -K` too.
pub fn upsmon_lock() -> std::sync::MutexGuard<'static, ()> {
    static UPSMON: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed while holding it leaves nothing behind to protect.
    UPSMON.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// NUT's `upsmon` program (Debian's `/sbin/upsmon` is a wrapper that needs
/// `/etc/nut/nut.conf`; the program itself is in `/lib/nut`).
pub fn upsmon_program() -> PathBuf {
    let found = ["/lib/nut/upsmon", "/sbin/upsmon", "/usr/sbin/upsmon"].map(Path::new).into_iter().find(|p| p.exists());
    found.expect("upsmon is missing (Debian package nut-client; `cargo xtask test` installs it)").to_path_buf()
}

/// A command running [`upsmon_program`] on the private `dir` (`NUT_CONFPATH`,
/// `NUT_STATEPATH`, `NUT_ALTPIDPATH`).
pub fn upsmon_command(dir: &Path) -> Command {
    let mut command = Command::new(upsmon_program());
    command.env("NUT_CONFPATH", dir).env("NUT_STATEPATH", dir).env("NUT_ALTPIDPATH", dir).stdin(Stdio::null());
    command
}

impl RealUpsmon {
    /// Starts `upsmon -F` (as root: `-p`, one process, so nothing switches to the
    /// `nut` user, who could not read the private dir).
    pub fn start(dir: &Path) -> RealUpsmon {
        let one_at_a_time = upsmon_lock();
        let log = std::fs::File::create(dir.join("upsmon.log")).unwrap();
        let mut command = upsmon_command(dir);
        command.arg("-F");
        if is_root() {
            command.arg("-p");
        }
        let child = command
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run upsmon (Debian package nut-client): {e}"));
        RealUpsmon { child, dir: dir.to_path_buf(), _one_at_a_time: one_at_a_time }
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("upsmon.log")).unwrap_or_default()
    }

    /// Its exit status, once it has exited.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for RealUpsmon {
    fn drop(&mut self) {
        // SIGTERM first, so upsmon removes its PID file in /run/nut.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").arg(self.child.id().to_string()).stderr(Stdio::null()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A readable line diff of two transcripts (`-` only in `nut`, `+` only in `hazel`), empty if equal.
pub fn line_diff(nut: &[String], hazel: &[String]) -> String {
    // Longest common subsequence: transcripts are a few hundred lines.
    let (n, h) = (nut.len(), hazel.len());
    let mut lcs = vec![vec![0u32; h + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..h).rev() {
            lcs[i][j] = if nut[i] == hazel[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < h {
        if i < n && j < h && nut[i] == hazel[j] {
            (i, j) = (i + 1, j + 1);
        } else if j < h && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("  + {}\n", hazel[j]));
            j += 1;
        } else {
            out.push_str(&format!("  - {}\n", nut[i]));
            i += 1;
        }
    }
    out
}
