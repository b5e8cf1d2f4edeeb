//! The `hazel-sim` binary: pty path on stdout, link, script, log file, errors, clean exit on SIGTERM.

mod serial_client;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serial_client::SerialClient;

/// The binary, killed on drop.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_line(path: &Path, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(what)) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "no {what:?} in {}:\n{text}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serves_plays_its_script_logs_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUPS");
    let log = dir.path().join("sim.log");
    let script = dir.path().join("cut.txt");
    std::fs::write(&script, "# a short power cut\n2m mains off\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hazel-sim"))
        .args(["megatec", "--time-scale", "60", "--load", "45", "--per-cell", "--link"])
        .arg(&link)
        .arg("--script")
        .arg(&script)
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let sim = Sim(child);
    let pty = PathBuf::from(first.trim_end());
    assert!(pty.starts_with("/dev/pts"), "{first:?}");
    assert_eq!(std::fs::read_link(&link).unwrap(), pty);

    let mut port = SerialClient::open(&link);
    let status = port.ask("Q1").unwrap();
    assert_eq!(&status[19..22], "045");
    assert_eq!(&status[28..32], "2.17");
    let event = wait_for_line(&log, "event script line 2: mains off");
    assert!(event.contains(" sim=120.000s "), "{event}");
    assert_eq!(&port.ask("Q1").unwrap()[38..46], "10001001");
    let received = wait_for_line(&log, "recv \"Q1\\r\"");
    assert!(received.starts_with("t="), "{received}");

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(sim.0.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let mut sim = sim;
    let status = sim.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed on exit");
    assert!(std::fs::read_to_string(&log).unwrap().lines().last().unwrap().ends_with("event stopped"));
}

#[test]
fn script_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.txt");
    std::fs::write(&script, "10s mains off\n20s mains sideways\n").unwrap();
    let output =
        Command::new(env!("CARGO_BIN_EXE_hazel-sim")).args(["megatec", "--script"]).arg(&script).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}:2: mains sideways: expected on or off", script.display())), "{stderr}");
}

#[test]
fn bad_settings_are_refused() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_hazel-sim")).args(["megatec", "--low-battery", "150"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad UPS setting: low battery threshold = 150: 0 to 100 %"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_hazel-sim")).args(["megatec", "--time-scale", "0"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad time scale 0"));
}
