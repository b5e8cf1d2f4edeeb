//! Virtual devices end to end: `hazel serve` runs a UPS with switchable
//! outlets (the dummy plugin's `switchable_outlets`), a `clone` that switches
//! outlet 1 off when the UPS's charge falls below its threshold, and a
//! `clone-outlet` that shows outlet 1 to the hosts it feeds. NUT's own
//! `upsmon` watches the clone-outlet as a secondary (those hosts) and a
//! second `upsmon` watches the real UPS: only the first shuts down when the
//! clone starts the outlet's delayed power-off.
//!
//! Both upsmons run at once, each in its own mount namespace with a private
//! `/run/nut` (Debian's upsmon keeps its PID there whatever the environment
//! says, and refuses to start next to another). Their `SHUTDOWNCMD`s only
//! append a line to the test's event log. Nothing waits for a fixed time.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use hazel_e2e::{
    ADMIN_PASSWORD, ADMIN_USER, E2E_USERS, EventLog, HazelServe, eventually, nut_tool, said, test_upsmon_conf,
    upsc_value, upsmon_command, wait_for_upsc,
};

/// The real UPS: on mains, outlet 1 powered with a 60 s delayed power-off.
fn realups_dev(status: &str, charge: u32) -> String {
    format!(
        "ups.mfr: Hazel\nups.model: Outlet test\nups.status: {status}\nbattery.charge: {charge}\n\
         outlet.1.desc: Low priority\noutlet.1.status: on\noutlet.1.delay.shutdown: 60\noutlet.1.timer.shutdown: -1\n\
         outlet.2.status: on\n"
    )
}

const UPS_CONF: &str = "[realups]\n\tdriver = dummy-ups\n\tport = realups.dev\n\tswitchable_outlets\n\tpollinterval = 1\n\
     [cloneups]\n\tdriver = clone\n\tport = dummy-ups-realups\n\tmincharge = 50\n\toffdelay = 1\n\tondelay = 5\n\
     \tload.off = outlet.1.load.off.delay\n\tload.on = outlet.1.load.on\n\tload.status = outlet.1.status\n\
     \tpollinterval = 1\n\
     [outlet1]\n\tdriver = clone-outlet\n\tport = realups\n\tprefix = outlet.1\n\tpollinterval = 1\n";

/// Rewrite the dummy's file with a later modification time, so it is re-read.
fn write_dev(dir: &Path, text: &str, generation: u64) {
    let path = dir.join("realups.dev");
    let scratch = dir.join("realups.new");
    std::fs::write(&scratch, text).unwrap();
    let stamp = std::time::SystemTime::now() + std::time::Duration::from_secs(generation);
    std::fs::File::options().write(true).open(&scratch).and_then(|f| f.set_modified(stamp)).unwrap();
    std::fs::rename(&scratch, &path).unwrap();
}

/// NUT's `upsmon -F` on the private `dir`, in a mount namespace of its own
/// whose `/run/nut` is an empty tmpfs; killed on drop.
struct IsolatedUpsmon {
    child: Child,
}

impl IsolatedUpsmon {
    fn start(dir: &Path) -> IsolatedUpsmon {
        let log = std::fs::File::create(dir.join("upsmon.log")).unwrap();
        let upsmon = upsmon_command(dir);
        let program = upsmon.get_program().to_string_lossy().into_owned();
        // `unshare` execs the shell, which execs upsmon: the child's id is upsmon's.
        let mut command = Command::new("unshare");
        command.args(["-m", "sh", "-c", &format!("mount -t tmpfs hazel-test /run/nut && exec {program} -F -p")]);
        for (key, value) in upsmon.get_envs() {
            if let Some(value) = value {
                command.env(key, value);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("unshare (util-linux) and upsmon (nut-client)");
        IsolatedUpsmon { child }
    }
}

impl Drop for IsolatedUpsmon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn clone_outlet_secondary_shuts_down_when_the_clone_starts_the_outlets_delayed_power_off() {
    let server = HazelServe::start(UPS_CONF, E2E_USERS, |dir| write_dev(dir, &realups_dev("OL", 100), 0));
    let outlet = server.ups("outlet1");
    let clone = server.ups("cloneups");
    let real = server.ups("realups");

    // Both virtual devices mirror the real one; the clone-outlet is read-only.
    let shown = wait_for_upsc(&outlet, "the outlet's status", |all| upsc_value(all, "ups.status") == Some("OL"));
    assert_eq!(upsc_value(&shown, "outlet.2.status"), Some("on"), "other variables are relayed");
    assert_eq!(upsc_value(&shown, "driver.name"), Some("clone-outlet"));
    let cloned = wait_for_upsc(&clone, "the clone's status", |all| upsc_value(all, "ups.status") == Some("OL"));
    assert_eq!(upsc_value(&cloned, "battery.charge.low"), Some("50.000000"));
    assert_eq!(upsc_value(&cloned, "ups.delay.shutdown"), Some("1"));
    let upscmd = nut_tool("upscmd", &["-u", ADMIN_USER, "-p", ADMIN_PASSWORD, &outlet, "outlet.1.load.off"]);
    assert!(!upscmd.status.success() && said(&upscmd).contains("ERR CMD-NOT-SUPPORTED"), "{}", said(&upscmd));
    let upsrw = nut_tool("upsrw", &["-s", "outlet.1.status=off", "-u", ADMIN_USER, "-p", ADMIN_PASSWORD, &outlet]);
    assert!(said(&upsrw).contains("ERR READONLY"), "{}", said(&upsrw));
    assert_eq!(upsc_value(&nut_tool_out(&real), "outlet.1.status"), Some("on"), "nothing reached the real UPS");

    // The real UPS gone: both virtual devices go stale with it, and come back with it.
    std::fs::remove_file(server.confdir.path().join("realups.dev")).unwrap();
    eventually("the clone-outlet to go stale with its upstream", || {
        said(&nut_tool("upsc", &[&outlet])).contains("Data stale")
    });
    eventually("the clone to go stale with its upstream", || said(&nut_tool("upsc", &[&clone])).contains("Data stale"));
    write_dev(server.confdir.path(), &realups_dev("OL", 100), 1);
    wait_for_upsc(&outlet, "the clone-outlet back", |all| upsc_value(all, "ups.status") == Some("OL"));

    // The hosts on outlet 1 watch the clone-outlet; another host watches the real UPS.
    let events = EventLog::new(&server.confdir.path().join("events.log"));
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let watched = [("outlet1", "outlet-host"), ("realups", "ups-host")];
    let mut monitors = Vec::new();
    for (dir, (device, who)) in dirs.iter().zip(watched) {
        let system = format!("{device}@127.0.0.1:{}", server.port);
        let conf = test_upsmon_conf(&system, "secondary", dir.path(), who, &events, "");
        std::fs::write(dir.path().join("upsmon.conf"), conf).unwrap();
        monitors.push(IsolatedUpsmon::start(dir.path()));
    }
    eventually("both upsmons logged in", || {
        let clients = |ups: &str| stdout_lines(&nut_tool("upsc", &["-c", ups]));
        clients(&outlet) >= 1 && clients(&real) >= 1
    });

    // Mains fails and the charge falls below the clone's mincharge.
    write_dev(server.confdir.path(), &realups_dev("OB DISCHRG", 30), 2);
    eventually("the outlet-host's upsmon to shut down", || events.has("outlet-host shutdown"));
    let real_now = nut_tool_out(&real);
    let timer = upsc_value(&real_now, "outlet.1.timer.shutdown").and_then(|t| t.parse::<i64>().ok());
    assert!(timer.is_some_and(|t| t >= 0), "the real UPS runs outlet 1's delayed power-off: {real_now}");
    assert!(events.notifications("ups-host").contains(&"ONBATT".to_string()), "{:?}", events.lines());
    assert!(!events.has("ups-host shutdown"), "the host on the real UPS stays up: {:?}", events.lines());
    let outlet_status = nut_tool_out(&outlet);
    assert!(upsc_value(&outlet_status, "ups.status").is_some_and(|s| s.starts_with("FSD OB")), "{outlet_status}");
    drop(monitors);
}

fn nut_tool_out(ups: &str) -> String {
    String::from_utf8_lossy(&nut_tool("upsc", &[ups]).stdout).into_owned()
}

fn stdout_lines(output: &std::process::Output) -> usize {
    String::from_utf8_lossy(&output.stdout).lines().count()
}
