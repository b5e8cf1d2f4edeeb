//! Real NUT 2.8.0 pointed at a simulator: a serial driver (`nutdrv_qx` or
//! `blazer_ser`) and `upsd`, in a private config/state dir on a free loopback
//! port, killed on drop; and NUT's clients to ask them.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The UPS name in ups.conf.
pub const UPS: &str = "sim";
/// The admin user in upsd.users.
pub const ADMIN: [&str; 4] = ["-u", "admin", "-p", "sim"];

/// A serial driver and upsd serving it.
pub struct NutStack {
    driver: Child,
    upsd: Child,
    /// upsd's port on 127.0.0.1.
    pub port: u16,
    /// NUT_CONFPATH and NUT_STATEPATH (state in `state/`).
    pub dir: tempfile::TempDir,
}

impl NutStack {
    /// Start `driver` (a program in /lib/nut) on the serial port `tty` with
    /// extra ups.conf lines `options`, then upsd.
    pub fn start(driver: &str, tty: &Path, options: &str) -> NutStack {
        let program = Path::new("/lib/nut").join(driver);
        assert!(
            program.exists(),
            "{} is missing: install Debian's nut-server (`cargo xtask test` does)",
            program.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "ups.conf",
            format!("[{UPS}]\n  driver = {driver}\n  port = {}\n  pollinterval = 1\n{options}", tty.display()),
        );
        write("upsd.conf", format!("LISTEN 127.0.0.1 {port}\n"));
        write("upsd.users", "[admin]\n  password = sim\n  actions = SET\n  instcmds = ALL\n".into());
        write("nut.conf", "MODE=standalone\n".into());
        // As root, NUT would switch to its own user, who cannot open our pty or dir.
        let user: &[&str] = if nix::unistd::geteuid().is_root() { &["-u", "root"] } else { &[] };
        let spawn = |program: &Path, args: &[&str], log: &str| {
            Command::new(program)
                .args(args)
                .args(user)
                .env("NUT_CONFPATH", dir.path())
                .env("NUT_STATEPATH", &state)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join(log)).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
        };
        let mut driver_child = spawn(&program, &["-a", UPS, "-F"], "driver.log");
        let socket = state.join(format!("{driver}-{UPS}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !socket.exists() {
            if let Ok(Some(status)) = driver_child.try_wait() {
                panic!("{driver} exited ({status}): {}", read(&dir.path().join("driver.log")));
            }
            assert!(Instant::now() < deadline, "{driver} made no socket: {}", read(&dir.path().join("driver.log")));
            std::thread::sleep(Duration::from_millis(100));
        }
        // Debian's /usr/sbin/upsd is a wrapper that needs /etc/nut/nut.conf; the real one is in /lib/nut.
        let upsd = ["/lib/nut/upsd", "/usr/sbin/upsd"].map(Path::new).into_iter().find(|p| p.exists()).expect("upsd");
        let upsd = spawn(upsd, &["-F"], "upsd.log");
        NutStack { driver: driver_child, upsd, port, dir }
    }

    /// `sim@127.0.0.1:port`.
    pub fn ups(&self) -> String {
        format!("{UPS}@127.0.0.1:{}", self.port)
    }

    /// The driver's and upsd's logs, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "driver:\n{}\nupsd:\n{}",
            read(&self.dir.path().join("driver.log")),
            read(&self.dir.path().join("upsd.log"))
        )
    }

    /// `upsc sim@…` (every variable), or `None` while upsd cannot answer for the UPS.
    pub fn upsc(&self) -> Option<String> {
        let output = nut_tool("upsc", &[&self.ups()]);
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Run `upscmd` as the admin user; panics unless NUT says OK.
    pub fn instcmd(&self, command: &[&str]) {
        let ups = self.ups();
        let args: Vec<&str> = ADMIN.iter().copied().chain([ups.as_str()]).chain(command.iter().copied()).collect();
        let output = nut_tool("upscmd", &args);
        assert!(output.status.success(), "upscmd {command:?}: {}", said(&output));
    }

    /// Wait (up to a minute) until `check` holds for `upsc`'s output.
    pub fn wait_until(&self, what: &str, mut check: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = None;
        loop {
            if let Some(all) = self.upsc() {
                if check(&all) {
                    return all;
                }
                last = Some(all);
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last upsc:\n{last:?}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for NutStack {
    fn drop(&mut self) {
        for child in [&mut self.upsd, &mut self.driver] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run a NUT client tool.
pub fn nut_tool(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (Debian package nut-client): {e}"))
}

/// Standard output and error, without the TLS notice NUT's clients print.
pub fn said(output: &Output) -> String {
    let both = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    both.lines().filter(|l| !l.starts_with("Init SSL")).collect::<Vec<_>>().join("\n")
}

/// The value of `name` in `upsc` output.
pub fn value<'a>(upsc: &'a str, name: &str) -> Option<&'a str> {
    upsc.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
