//! `hazel monitor` end to end: the primary/secondary shutdown handshake with
//! Hazel on both sides, with NUT's own `upsmon` on either side and against
//! NUT's own `upsd`, a shutdown called off when the mains return, and the
//! monitor built into `hazel serve`.
//!
//! The UPS is a `dummy-ups` device file the test rewrites or, for the
//! shutdown order of a primary and a secondary through a real driver and
//! serial port, a simulated Megatec UPS whose battery drains (both are a
//! [`PowerSource`]). Every `SHUTDOWNCMD`
//! and `NOTIFYCMD` is a script that appends a line to the test's event log
//! and does nothing else. Nothing here waits for a fixed time or checks how
//! long anything took: it waits for events (with deadlines) and compares
//! their order.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hazel_e2e::{
    DevFilePower, E2E_USERS, EventLog, ExtraConfig, HazelMonitor, HazelServe, NutSession, PowerSource, PowerState,
    RealNut, RealUpsmon, SimulatorPower, dummy_power_section, eventually, hazel_binary, test_upsmon_conf,
    upsmon_command, upsmon_lock,
};

/// NUT's power-down flag content.
const FLAG_MAGIC: &str = "upsmon-shutdown-file";

/// A directory for one monitor's files inside the test's temp dir.
fn monitor_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    dir
}

/// `hazel serve` with one dummy UPS named `ups` on a device file, Online.
fn serve_dummy_ups() -> (HazelServe, DevFilePower) {
    let mut power = None;
    let serve = HazelServe::start(&dummy_power_section("ups", "ups.dev"), E2E_USERS, |dir| {
        power = Some(DevFilePower::create(&dir.join("ups.dev"), PowerState::Online));
    });
    let power = power.expect("prepare ran");
    wait_for_status(serve.port, "OL");
    (serve, power)
}

/// `hazel serve` with one `nutdrv_qx` UPS named `ups` on a simulated Megatec
/// UPS reached through a link in `dir`, Online.
fn serve_simulated_ups(dir: &Path) -> (HazelServe, SimulatorPower) {
    let power = SimulatorPower::spawn(Some(&dir.join("ttySim")));
    let serve = HazelServe::start(&power.ups_conf_section("ups", ""), E2E_USERS, |_| {});
    wait_for_status(serve.port, "OL");
    (serve, power)
}

/// Waits until the server on `port` reports `ups.status` `status` for `ups`.
fn wait_for_status(port: u16, status: &str) {
    let expected = format!("VAR ups ups.status \"{status}\"");
    eventually(&format!("ups.status {status}"), || {
        NutSession::try_connect(port)
            .and_then(|mut session| session.try_request("GET VAR ups ups.status"))
            .is_ok_and(|reply| reply == [expected.clone()])
    });
}

/// Waits until `count` sessions are logged in to `ups` on `port`; on
/// timeout, the panic shows `logs()`.
fn wait_for_logins(port: u16, count: u32, logs: impl Fn() -> String) {
    let expected = format!("NUMLOGINS ups {count}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reply = None;
    while reply.as_deref() != Some(&[expected.clone()][..]) {
        assert!(Instant::now() < deadline, "timed out waiting for {count} logins; last: {reply:?}\n{}", logs());
        std::thread::sleep(Duration::from_millis(100));
        reply = NutSession::try_connect(port).and_then(|mut session| session.try_request("GET NUMLOGINS ups")).ok();
    }
}

/// `hazel monitor <args>`'s exit code.
fn hazel_monitor_exit_code(args: &[&str]) -> Option<i32> {
    let output = Command::new(hazel_binary()).arg("monitor").args(args).output().expect("run hazel monitor");
    output.status.code()
}

/// NUT's `upsmon -K` with an upsmon.conf (in a dir of its own) whose
/// `POWERDOWNFLAG` is `flag`.
fn real_upsmon_flag_check(root: &Path, flag: &Path) -> Option<i32> {
    let dir = monitor_dir(root, "upsmon-k");
    let conf = format!("MONITOR ups@127.0.0.1:1 1 monuser monpass primary\nPOWERDOWNFLAG {}\n", flag.display());
    std::fs::write(dir.join("upsmon.conf"), conf).unwrap();
    let output = {
        let _one_at_a_time = upsmon_lock();
        upsmon_command(&dir).arg("-K").output().expect("run upsmon -K")
    };
    if !output.status.success() {
        eprintln!("upsmon -K: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
    output.status.code()
}

/// The notifications of `who` without `SHUTDOWN_HOSTSYNC`, which a primary
/// sends or not depending on how fast its secondaries leave.
fn notifications_without_hostsync(events: &EventLog, who: &str) -> Vec<String> {
    events.notifications(who).into_iter().filter(|event| event != "SHUTDOWN_HOSTSYNC").collect()
}

#[test]
fn hazel_primary_and_secondary_shut_down_in_order_on_hazel_serve() {
    let root = tempfile::tempdir().unwrap();
    let events = EventLog::new(&root.path().join("events.log"));
    let (serve, power) = serve_dummy_ups();
    let primary_dir = monitor_dir(root.path(), "primary");
    let secondary_dir = monitor_dir(root.path(), "secondary");
    let system = serve.ups("ups");
    let primary_conf = test_upsmon_conf(&system, "primary", &primary_dir, "primary", &events, "");
    std::fs::write(primary_dir.join("upsmon.conf"), primary_conf).unwrap();
    let secondary_conf = test_upsmon_conf(&system, "secondary", &secondary_dir, "secondary", &events, "");
    std::fs::write(secondary_dir.join("upsmon.conf"), secondary_conf).unwrap();
    let mut primary = HazelMonitor::start(&primary_dir);
    let mut secondary = HazelMonitor::start(&secondary_dir);
    wait_for_logins(serve.port, 2, || format!("primary:\n{}\nsecondary:\n{}", primary.log(), secondary.log()));

    power.set(PowerState::OnBattery);
    eventually("ONBATT at both", || events.has("primary notify ONBATT") && events.has("secondary notify ONBATT"));
    assert!(!events.has("primary shutdown") && !events.has("secondary shutdown"), "{:#?}", events.lines());
    power.set(PowerState::LowBattery);
    eventually("the primary's SHUTDOWNCMD", || events.has("primary shutdown"));

    let logs = format!("primary:\n{}\nsecondary:\n{}", primary.log(), secondary.log());
    assert!(events.position("secondary shutdown") < events.position("primary shutdown"), "{logs}");
    assert_eq!(notifications_without_hostsync(&events, "primary"), ["ONBATT", "LOWBATT", "FSD", "SHUTDOWN"], "{logs}");
    // The secondary went down because of the primary's FSD, not its own HOSTSYNC wait.
    let secondary_seen = events.notifications("secondary");
    assert_eq!(secondary_seen.first().map(String::as_str), Some("ONBATT"), "{logs}");
    assert_eq!(secondary_seen[secondary_seen.len() - 2..], ["FSD", "SHUTDOWN"], "{logs}");
    assert!(primary.log().contains("Secondaries have logged out"), "{logs}");
    assert!(!primary.log().contains("Host sync timer expired"), "{logs}");

    let flag = primary_dir.join("killpower");
    assert_eq!(std::fs::read_to_string(&flag).unwrap(), FLAG_MAGIC);
    // Only a primary writes the flag.
    assert!(!secondary_dir.join("killpower").exists());
    eventually("both monitors exit", || primary.exit_status().is_some() && secondary.exit_status().is_some());
    assert!(primary.exit_status().unwrap().success(), "{logs}");
    assert!(secondary.exit_status().unwrap().success(), "{logs}");

    let primary_dir_arg = primary_dir.to_str().unwrap();
    assert_eq!(hazel_monitor_exit_code(&["-K", "-c", primary_dir_arg]), Some(0));
    assert_eq!(hazel_monitor_exit_code(&["-K", "-c", secondary_dir.to_str().unwrap()]), Some(1));
    assert_eq!(real_upsmon_flag_check(root.path(), &flag), Some(0));
}

/// The end-to-end test: `hazel serve` on the Megatec simulator,
/// `hazel monitor` as primary and a second one as secondary; the mains fail,
/// the battery runs down until the UPS reports it low; the secondary's
/// SHUTDOWNCMD runs first, then the primary's, and POWERDOWNFLAG exists.
#[test]
fn hazel_primary_and_secondary_shut_down_in_order_on_the_megatec_simulator() {
    let root = tempfile::tempdir().unwrap();
    let events = EventLog::new(&root.path().join("events.log"));
    let (serve, power) = serve_simulated_ups(root.path());
    let primary_dir = monitor_dir(root.path(), "primary");
    let secondary_dir = monitor_dir(root.path(), "secondary");
    let system = serve.ups("ups");
    let primary_conf = test_upsmon_conf(&system, "primary", &primary_dir, "primary", &events, "");
    std::fs::write(primary_dir.join("upsmon.conf"), primary_conf).unwrap();
    let secondary_conf = test_upsmon_conf(&system, "secondary", &secondary_dir, "secondary", &events, "");
    std::fs::write(secondary_dir.join("upsmon.conf"), secondary_conf).unwrap();
    let mut primary = HazelMonitor::start(&primary_dir);
    let mut secondary = HazelMonitor::start(&secondary_dir);
    let logs = || {
        let sim = power.simulator().state();
        let (primary, secondary, serve) = (primary.log(), secondary.log(), serve.log());
        format!("primary:\n{primary}\nsecondary:\n{secondary}\nserve:\n{serve}\nsimulator: {sim:?}")
    };
    wait_for_logins(serve.port, 2, logs);

    power.set(PowerState::OnBattery);
    eventually("ONBATT at both", || events.has("primary notify ONBATT") && events.has("secondary notify ONBATT"));
    assert!(!events.has("primary shutdown") && !events.has("secondary shutdown"), "{:#?}", events.lines());
    // Returns once the simulated battery has drained to its low mark (the primary may
    // have raised FSD before anyone else reads `OB LB`).
    power.set(PowerState::LowBattery);
    eventually("the primary's SHUTDOWNCMD", || events.has("primary shutdown"));

    let logs = logs();
    assert!(events.position("secondary shutdown") < events.position("primary shutdown"), "{logs}");
    assert_eq!(notifications_without_hostsync(&events, "primary"), ["ONBATT", "LOWBATT", "FSD", "SHUTDOWN"], "{logs}");
    let secondary_seen = events.notifications("secondary");
    assert_eq!(secondary_seen.first().map(String::as_str), Some("ONBATT"), "{logs}");
    assert_eq!(secondary_seen[secondary_seen.len() - 2..], ["FSD", "SHUTDOWN"], "{logs}");
    assert!(primary.log().contains("Secondaries have logged out"), "{logs}");
    assert_eq!(std::fs::read_to_string(primary_dir.join("killpower")).unwrap(), FLAG_MAGIC, "{logs}");
    assert!(!secondary_dir.join("killpower").exists(), "{logs}");
    eventually("both monitors exit", || primary.exit_status().is_some() && secondary.exit_status().is_some());
    assert!(primary.exit_status().unwrap().success(), "{logs}");
    assert!(secondary.exit_status().unwrap().success(), "{logs}");
    // Nothing told the UPS to switch off: that is the late shutdown's job.
    let commands = power.simulator().log().commands();
    assert!(commands.iter().all(|c| !c.starts_with('S')), "{commands:?}");
}

#[test]
fn real_upsmon_secondary_leaves_before_the_hazel_primary_on_hazel_serve() {
    let root = tempfile::tempdir().unwrap();
    let events = EventLog::new(&root.path().join("events.log"));
    let (serve, power) = serve_dummy_ups();
    let primary_dir = monitor_dir(root.path(), "primary");
    let upsmon_dir = monitor_dir(root.path(), "upsmon");
    let system = serve.ups("ups");
    let primary_conf = test_upsmon_conf(&system, "primary", &primary_dir, "hazel", &events, "");
    std::fs::write(primary_dir.join("upsmon.conf"), primary_conf).unwrap();
    let upsmon_conf = test_upsmon_conf(&system, "secondary", &upsmon_dir, "upsmon", &events, "");
    std::fs::write(upsmon_dir.join("upsmon.conf"), upsmon_conf).unwrap();
    let primary = HazelMonitor::start(&primary_dir);
    let mut upsmon = RealUpsmon::start(&upsmon_dir);
    wait_for_logins(serve.port, 2, || format!("hazel monitor:\n{}\nupsmon:\n{}", primary.log(), upsmon.log()));

    power.set(PowerState::OnBattery);
    eventually("ONBATT at both", || events.has("hazel notify ONBATT") && events.has("upsmon notify ONBATT"));
    power.set(PowerState::LowBattery);
    eventually("the primary's SHUTDOWNCMD", || events.has("hazel shutdown"));

    let logs = format!("hazel monitor:\n{}\nupsmon:\n{}\nserve:\n{}", primary.log(), upsmon.log(), serve.log());
    assert!(events.position("upsmon shutdown") < events.position("hazel shutdown"), "{logs}");
    assert!(events.position("upsmon notify FSD") < events.position("upsmon shutdown"), "{logs}");
    assert!(primary.log().contains("Secondaries have logged out"), "{logs}");
    assert!(!primary.log().contains("Host sync timer expired"), "{logs}");
    assert_eq!(notifications_without_hostsync(&events, "hazel"), ["ONBATT", "LOWBATT", "FSD", "SHUTDOWN"], "{logs}");
    eventually("upsmon exits after its SHUTDOWNCMD", || upsmon.exit_status().is_some());
}

#[test]
fn hazel_secondary_obeys_real_upsmon_primary_on_real_upsd() {
    let root = tempfile::tempdir().unwrap();
    let events = EventLog::new(&root.path().join("events.log"));
    let initial = root.path().join("ups.dev");
    DevFilePower::create(&initial, PowerState::Online);
    let nut = RealNut::start(&[("ups", &initial)]);
    let power = DevFilePower::create(&nut.confdir().join("ups.dev"), PowerState::Online);
    let upsmon_dir = monitor_dir(root.path(), "upsmon");
    let secondary_dir = monitor_dir(root.path(), "secondary");
    let system = nut.ups("ups");
    let upsmon_conf = test_upsmon_conf(&system, "primary", &upsmon_dir, "upsmon", &events, "");
    std::fs::write(upsmon_dir.join("upsmon.conf"), upsmon_conf).unwrap();
    let secondary_conf = test_upsmon_conf(&system, "secondary", &secondary_dir, "hazel", &events, "");
    std::fs::write(secondary_dir.join("upsmon.conf"), secondary_conf).unwrap();
    let upsmon = RealUpsmon::start(&upsmon_dir);
    let mut secondary = HazelMonitor::start(&secondary_dir);
    wait_for_logins(nut.port(), 2, || format!("hazel monitor:\n{}\nupsmon:\n{}", secondary.log(), upsmon.log()));

    power.set(PowerState::OnBattery);
    eventually("ONBATT at both", || events.has("hazel notify ONBATT") && events.has("upsmon notify ONBATT"));
    power.set(PowerState::LowBattery);
    eventually("the primary's SHUTDOWNCMD", || events.has("upsmon shutdown"));

    let logs = format!("hazel monitor:\n{}\nupsmon:\n{}\nNUT:\n{}", secondary.log(), upsmon.log(), nut.log());
    assert!(events.position("hazel shutdown") < events.position("upsmon shutdown"), "{logs}");
    let seen = events.notifications("hazel");
    assert_eq!(seen.first().map(String::as_str), Some("ONBATT"), "{logs}");
    assert_eq!(seen[seen.len() - 2..], ["FSD", "SHUTDOWN"], "{logs}");
    eventually("hazel monitor exits after its SHUTDOWNCMD", || secondary.exit_status().is_some());
    assert!(secondary.exit_status().unwrap().success(), "{logs}");
    // The flag real upsmon wrote reads as set to hazel monitor -K.
    let flag = upsmon_dir.join("killpower");
    eventually("upsmon's power-down flag", || flag.exists());
    let k_dir = monitor_dir(root.path(), "hazel-k");
    let conf = format!("MONITOR {system} 1 monuser monpass primary\nPOWERDOWNFLAG {}\n", flag.display());
    std::fs::write(k_dir.join("upsmon.conf"), conf).unwrap();
    assert_eq!(hazel_monitor_exit_code(&["-K", "-c", k_dir.to_str().unwrap()]), Some(0), "{logs}");
}

#[test]
fn serve_monitor_cancels_when_mains_return_then_obeys_a_forced_shutdown() {
    let root = tempfile::tempdir().unwrap();
    let events = EventLog::new(&root.path().join("events.log"));
    let scripts = monitor_dir(root.path(), "serve-scripts");
    let mut power = None;
    // A long OBLBDURATION: the mains come back long before a low battery would count.
    let extra = "OBLBDURATION 300\nNOTIFYFLAG SHUTDOWN_CANCELLED SYSLOG+EXEC\n";
    // The late-shutdown bundle a primary stages stays in the test's dir, never in /run.
    let hazel_toml = format!("killpower_dir = {:?}\n", root.path().join("killpower-bundle").display().to_string());
    let settings = ExtraConfig { hazel_toml: &hazel_toml, ..ExtraConfig::default() };
    let ups_conf = dummy_power_section("ups", "ups.dev");
    let serve = HazelServe::start_knowing_port(&ups_conf, E2E_USERS, settings, |dir, port| {
        power = Some(DevFilePower::create(&dir.join("ups.dev"), PowerState::Online));
        let system = format!("ups@127.0.0.1:{port}");
        let conf = test_upsmon_conf(&system, "primary", &scripts, "serve", &events, extra);
        std::fs::write(dir.join("upsmon.conf"), conf).unwrap();
    });
    let power = power.expect("prepare ran");
    wait_for_logins(serve.port, 1, || serve.log());

    power.set(PowerState::LowBattery);
    eventually("LOWBATT", || events.has("serve notify LOWBATT"));
    power.set(PowerState::Online);
    eventually("ONLINE", || events.has("serve notify ONLINE"));
    eventually("SHUTDOWN_CANCELLED", || events.has("serve notify SHUTDOWN_CANCELLED"));
    let logs = || format!("serve:\n{}\nevents: {:#?}", serve.log(), events.lines());
    assert!(serve.log().contains("Shutdown pending"), "{}", logs());
    assert!(!events.has("serve shutdown") && !events.has("serve notify SHUTDOWN"), "{}", logs());
    assert!(!scripts.join("killpower").exists(), "{}", logs());

    // upsmon -c fsd, through the serve process (-P).
    let pid = serve.pid().to_string();
    assert_eq!(hazel_monitor_exit_code(&["--command", "fsd", "-P", &pid]), Some(0));
    eventually("the forced SHUTDOWNCMD", || events.has("serve shutdown"));
    assert_eq!(std::fs::read_to_string(scripts.join("killpower")).unwrap(), FLAG_MAGIC, "{}", logs());
    assert!(events.position("serve notify FSD") < events.position("serve shutdown"), "{}", logs());
    // Only the monitor exits; the server goes on serving until the system stops it.
    eventually("the monitor logged out", || serve.log().contains("monitor exiting after SHUTDOWNCMD"));
    wait_for_status(serve.port, "FSD OL");
}

#[test]
fn commands_reach_a_monitor_through_its_pid_file() {
    let root = tempfile::tempdir().unwrap();
    let events = EventLog::new(&root.path().join("events.log"));
    let (serve, _power) = serve_dummy_ups();
    let dir = monitor_dir(root.path(), "primary");
    let conf = test_upsmon_conf(&serve.ups("ups"), "primary", &dir, "primary", &events, "");
    std::fs::write(dir.join("upsmon.conf"), &conf).unwrap();
    let mut monitor = HazelMonitor::start(&dir);
    wait_for_logins(serve.port, 1, || monitor.log());
    let pid_file = dir.join("monitor.pid");
    let pid_file_arg = pid_file.to_str().unwrap();

    assert_eq!(hazel_monitor_exit_code(&["--command", "reload", "--pid-file", pid_file_arg]), Some(0));
    eventually("reload checked the file", || monitor.log().contains("is unchanged"));
    std::fs::write(dir.join("upsmon.conf"), format!("{conf}POLLFREQ 2\n")).unwrap();
    assert_eq!(hazel_monitor_exit_code(&["--command", "reload", "--pid-file", pid_file_arg]), Some(0));
    eventually("reload saw the change", || monitor.log().contains("restart hazel monitor to apply it"));

    // A second monitor with the same PID file refuses to start.
    let second_dir = monitor_dir(root.path(), "second");
    std::fs::write(second_dir.join("upsmon.conf"), &conf).unwrap();
    let mut second = HazelMonitor::start_with_pid_file(&second_dir, &pid_file);
    eventually("the second monitor exits", || second.exit_status().is_some());
    assert!(!second.exit_status().unwrap().success());
    assert!(second.log().contains("another hazel monitor is running"), "{}", second.log());

    assert_eq!(hazel_monitor_exit_code(&["--command", "stop", "--pid-file", pid_file_arg]), Some(0));
    eventually("the monitor stops", || monitor.exit_status().is_some());
    assert!(monitor.exit_status().unwrap().success(), "{}", monitor.log());
    assert!(!pid_file.exists());
    assert!(!events.has("primary shutdown"));
    // Without a running monitor there is nobody to tell.
    assert_eq!(hazel_monitor_exit_code(&["--command", "stop", "--pid-file", pid_file_arg]), Some(1));
}
