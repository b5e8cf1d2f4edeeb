//! The simulator driven through its pty as a serial client drives a UPS.

mod serial_client;

use std::time::Duration;

use hazel_sim::{Action, LogKind, Script, Simulator, SimulatorConfig};
use serial_client::SerialClient;

const WAIT: Duration = Duration::from_secs(60);

fn status_bits(reply: &str) -> &str {
    &reply[38..46]
}

#[test]
fn answers_queries_with_megatec_replies() {
    let sim = Simulator::spawn(SimulatorConfig::default()).unwrap();
    let mut port = SerialClient::open(sim.pty_path());
    let status = port.ask("Q1").unwrap();
    assert_eq!(status, "(230.0 230.0 230.0 030 50.0 26.0 25.0 00001001\r");
    assert_eq!(status.len(), 47);
    assert_eq!(port.ask("F").unwrap(), "#230.0 004 24.00 50.0\r");
    assert_eq!(port.ask("I").unwrap(), "#Hazel           SIM-1000   V1.0      \r");
    // Other dialects' probes are echoed, as a plain Megatec UPS does.
    for probe in ["QS", "QGS", "M", "D", "FW?", "QPI"] {
        assert_eq!(port.ask(probe).unwrap(), format!("{probe}\r"));
    }
    assert_eq!(sim.log().commands(), vec!["Q1", "F", "I", "QS", "QGS", "M", "D", "FW?", "QPI"]);
}

#[test]
fn silent_commands_change_the_status_bits() {
    let sim = Simulator::spawn(SimulatorConfig::default()).unwrap();
    let mut port = SerialClient::open(sim.pty_path());
    // No reply to Q: the next reply is Q1's.
    port.send(b"Q\r");
    assert_eq!(status_bits(&port.ask("Q1").unwrap()), "00001000");
    port.send(b"Q\r");
    port.send(b"T\r");
    assert_eq!(status_bits(&port.ask("Q1").unwrap()), "00001101");
    port.send(b"CT\r");
    port.send(b"S05R0001\r");
    assert_eq!(status_bits(&port.ask("Q1").unwrap()), "00001011");
    port.send(b"C\r");
    assert_eq!(status_bits(&port.ask("Q1").unwrap()), "00001001");
    assert_eq!(sim.log().commands(), vec!["Q", "Q1", "Q", "T", "Q1", "CT", "S05R0001", "Q1", "C", "Q1"]);
}

#[test]
fn tolerates_garbage_and_split_commands() {
    let sim = Simulator::spawn(SimulatorConfig::default()).unwrap();
    let mut port = SerialClient::open(sim.pty_path());
    port.send(&[0xff, 0x00, b'\n']);
    port.send(&[b'x'; 300]);
    port.send(b"\r");
    port.send(b"Q");
    port.send(b"1\r");
    let reply = port.read_reply(WAIT).unwrap();
    assert_eq!(reply.len(), 47);
    assert_eq!(reply[0], b'(');
    // The non-ASCII byte started a line the noise overflowed; only Q1 counts as a command.
    assert_eq!(sim.log().commands(), vec!["Q1"]);
    assert!(sim.log().entries().iter().any(|e| matches!(&e.kind, LogKind::Event(t) if t.starts_with("discarded"))));
}

#[test]
fn runtime_changes_show_in_the_status() {
    let sim = Simulator::spawn(SimulatorConfig::default()).unwrap();
    let mut port = SerialClient::open(sim.pty_path());
    sim.set_mains(false);
    let status = port.ask("Q1").unwrap();
    assert!(status.starts_with("(000.0 230.0 230.0 030 50.0 "), "{status}");
    assert_eq!(status_bits(&status), "10001001");
    sim.apply(Action::Battery(10.0));
    sim.apply(Action::Load(75));
    let status = port.ask("Q1").unwrap();
    assert_eq!(&status[19..22], "075");
    assert_eq!(status_bits(&status), "11001001");
    sim.set_mains(true);
    assert_eq!(status_bits(&port.ask("Q1").unwrap()), "01001001");
}

#[test]
fn a_script_fails_the_mains_and_the_battery_runs_low() {
    // 10 simulated minutes at full load, 100 % load, a simulated minute per real second:
    // from 100 % to the 20 % threshold in 8 real seconds.
    let config = SimulatorConfig {
        time_scale: 60.0,
        model: hazel_sim::ModelConfig { load_percent: 100, ..Default::default() },
        script: Script::parse("30s mains off\n", "test").unwrap(),
        ..SimulatorConfig::default()
    };
    let sim = Simulator::spawn(config).unwrap();
    let mut port = SerialClient::open(sim.pty_path());
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while seen.last().map(String::as_str) != Some("11001001") {
        assert!(std::time::Instant::now() < deadline, "no low battery; bits seen: {seen:?}");
        let bits = status_bits(&port.ask("Q1").unwrap()).to_string();
        if seen.last() != Some(&bits) {
            seen.push(bits);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Possibly missed the first OL if the script ran before the first poll.
    let from_ob = seen.iter().position(|b| b == "10001001").unwrap();
    assert_eq!(&seen[from_ob..], ["10001001", "11001001"]);
    assert!(sim.log().entries().iter().any(|e| e.kind == LogKind::Event("script line 1: mains off".into())));
}

#[test]
fn shutdown_and_restore_run_in_simulated_time() {
    // S.2R0001 = 12 s then 1 min: 72 simulated seconds, 0.12 real seconds at this scale.
    let sim = Simulator::spawn(SimulatorConfig { time_scale: 600.0, ..SimulatorConfig::default() }).unwrap();
    let mut port = SerialClient::open(sim.pty_path());
    port.send(b"S.2R0001\r");
    let off = sim.log().wait_for(WAIT, |e| e.kind == LogKind::Event("output off (shutdown timer)".into())).unwrap();
    let on = sim.log().wait_for(WAIT, |e| e.kind == LogKind::Event("output on (restore timer)".into())).unwrap();
    let sent = sim.log().wait_for_command("S.2R0001", WAIT).unwrap();
    assert!((off.simulated - sent.simulated - 12.0).abs() < 1e-6, "off at {} after {}", off.simulated, sent.simulated);
    assert!((on.simulated - off.simulated - 60.0).abs() < 1e-6, "on at {} after {}", on.simulated, off.simulated);
    assert_eq!(status_bits(&port.ask("Q1").unwrap()), "00001001");
}

#[test]
fn link_is_made_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUPS");
    let sim = Simulator::spawn(SimulatorConfig { link: Some(link.clone()), ..SimulatorConfig::default() }).unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), sim.pty_path());
    let mut port = SerialClient::open(&link);
    assert!(port.ask("Q1").unwrap().starts_with('('));
    sim.stop().unwrap();
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
}

#[test]
fn a_client_that_never_reads_does_not_stall_the_simulator() {
    let sim = Simulator::spawn(SimulatorConfig::default()).unwrap();
    let mut writer = SerialClient::open(sim.pty_path());
    // Far more replies than the pty buffers.
    for _ in 0..40 {
        writer.send(&b"Q1\r".repeat(50));
    }
    let dropped =
        sim.log().wait_for(WAIT, |e| matches!(&e.kind, LogKind::Event(t) if t.starts_with("client is not reading")));
    assert!(dropped.is_some(), "no reply dropped");
    // Still answering state changes from the handle.
    sim.set_mains(false);
    assert!(!sim.state().mains);
}

#[test]
fn frozen_time_stops_the_battery_and_the_script() {
    // A simulated hour per real second: unfrozen, the battery would be flat within a second.
    let config = SimulatorConfig {
        time_scale: 3600.0,
        script: Script::parse("1h mains on\n", "test").unwrap(),
        ..SimulatorConfig::default()
    };
    let sim = Simulator::spawn(config).unwrap();
    let mut port = SerialClient::open(sim.pty_path());
    sim.set_mains(false);
    sim.set_frozen(true);
    let (at, reply) = (sim.simulated_seconds(), port.ask("Q1").unwrap());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(port.ask("Q1").unwrap(), reply, "a frozen UPS answers the same");
    assert_eq!(sim.simulated_seconds(), at);
    assert!(!sim.log().entries().iter().any(|e| e.kind == LogKind::Event("script line 1: mains on".into())));
    sim.set_frozen(false);
    sim.log().wait_for(WAIT, |e| e.kind == LogKind::Event("script line 1: mains on".into())).expect("script resumes");
    assert!(sim.simulated_seconds() > at);
}

#[test]
fn a_repeated_script_plays_round_after_round() {
    let config = SimulatorConfig {
        time_scale: 600.0,
        script: Script::parse("30s mains off\n1m mains on\n", "test").unwrap(),
        repeat_script: true,
        ..SimulatorConfig::default()
    };
    let sim = Simulator::spawn(config).unwrap();
    let cut = LogKind::Event("script line 1: mains off".into());
    let cuts_so_far =
        || -> Vec<f64> { sim.log().entries().iter().filter(|e| e.kind == cut).map(|e| e.simulated).collect() };
    let deadline = std::time::Instant::now() + WAIT;
    let mut cuts = cuts_so_far();
    while cuts.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "three rounds; cuts so far at {cuts:?}");
        std::thread::sleep(Duration::from_millis(50));
        cuts = cuts_so_far();
    }
    // Round n starts at the previous round's last event: cuts at 30 s, 90 s, 150 s.
    for (round, at) in cuts.iter().take(3).enumerate() {
        assert!((at - (30.0 + 60.0 * round as f64)).abs() < 1e-6, "cut {round} at {at}");
    }
    let unrepeatable = SimulatorConfig { repeat_script: true, ..SimulatorConfig::default() };
    assert!(matches!(Simulator::spawn(unrepeatable), Err(hazel_sim::SpawnError::RepeatPeriod)));
}

#[test]
fn programs_started_later_do_not_inherit_the_pty() {
    let sim = Simulator::spawn(SimulatorConfig::default()).unwrap();
    // A child's open files: a copy of the master there would keep the pty up after the simulator stops.
    let output = std::process::Command::new("sh").args(["-c", "ls -l /proc/$$/fd"]).output().unwrap();
    let files = String::from_utf8_lossy(&output.stdout);
    let slave = sim.pty_path().display().to_string();
    let inherited = files.lines().any(|l| l.ends_with(" -> /dev/ptmx") || l.ends_with(&format!(" -> {slave}")));
    assert!(!inherited, "{slave} inherited:\n{files}");
}
