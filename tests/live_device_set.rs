//! The live device set: `ups.conf` edited under a running `hazel serve` (added,
//! changed, broken, removed and inserted sections, atomic-rename saves, the
//! file deleted and restored, SIGHUP) while a client keeps polling a device
//! nobody touches: that device is never restarted and never goes stale, and
//! `LIST UPS` follows the file. Also: `hazel drivers` start/stop across
//! reloads, and a plugin whose `init` never returns delaying nothing.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use hazel_e2e::{E2E_USERS, ExtraConfig, HazelServe, NutSession, eventually, hazel_binary};

/// hazel.toml lines: a private control socket, and `misbehave` as a driver reading a file.
const HAZEL_TOML: &str =
    "control_socket = \"run/control.sock\"\n[drivers.misbehave]\nplugin = \"misbehave\"\nport = \"file\"\n";

fn dummy(name: &str, file: &str) -> String {
    format!("[{name}]\n\tdriver = dummy-ups\n\tport = {file}\n\tpollinterval = 1\n")
}

fn write_dev_files(dir: &Path) {
    for (file, charge) in [("a.dev", 91), ("b.dev", 92), ("c.dev", 93)] {
        std::fs::write(dir.join(file), format!("ups.status: OL\nbattery.charge: {charge}\n")).unwrap();
    }
}

/// Save `text` as ups.conf the way editors do: write a temporary file, rename it over.
fn save_by_rename(dir: &Path, text: &str) {
    let temporary = dir.join(".ups.conf.swp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, dir.join("ups.conf")).unwrap();
}

/// `hazel drivers ARGS` against `server`'s control socket: (success, stdout, stderr).
fn drivers(server: &HazelServe, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(hazel_binary())
        .args(["drivers", "-c"])
        .arg(server.confdir.path())
        .args(args)
        .output()
        .expect("run hazel drivers");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

/// `hazel drivers status NAME` as key → value.
fn status(server: &HazelServe, name: &str) -> std::collections::HashMap<String, String> {
    let (ok, out, err) = drivers(server, &["status", name]);
    assert!(ok, "hazel drivers status {name}: {err}");
    out.lines().filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The STATE column of `hazel drivers list` for `name`.
fn listed_state(server: &HazelServe, name: &str) -> Option<String> {
    let (ok, out, err) = drivers(server, &["list"]);
    assert!(ok, "hazel drivers list: {err}");
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&name))
        .map(|w| w[1].into())
}

fn list_ups(port: u16) -> Vec<String> {
    let reply = NutSession::connect(port).request("LIST UPS");
    reply.iter().filter_map(|l| l.strip_prefix("UPS ")).map(|l| l.split(' ').next().unwrap().to_string()).collect()
}

/// A client that keeps asking for `device`'s charge and records every answer
/// that is not the value (stale data, unknown UPS, a dropped connection).
struct Poller {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(usize, Vec<String>)>,
}

impl Poller {
    fn start(port: u16, device: &str, expected: &str) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let request = format!("GET VAR {device} battery.charge");
        let wanted = format!("VAR {device} battery.charge \"{expected}\"");
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut session = NutSession::connect(port);
            let (mut answers, mut wrong) = (0, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                match session.try_request(&request) {
                    Ok(reply) if reply == [wanted.clone()] => answers += 1,
                    Ok(reply) => wrong.push(reply.join(" | ")),
                    Err(e) => {
                        wrong.push(format!("connection: {e}"));
                        break;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            (answers, wrong)
        });
        Poller { stop, thread }
    }

    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("poller thread")
    }
}

fn reload_lines(server: &HazelServe) -> usize {
    server.log().lines().filter(|l| l.contains("reload (")).count()
}

#[test]
fn edits_under_a_running_server_touch_only_what_changed() {
    let a = dummy("a", "a.dev");
    let b = dummy("b", "b.dev");
    let c = dummy("c", "c.dev");
    let clone_b = "[cb]\n\tdriver = clone-outlet\n\tport = b\n\tprefix = outlet.1\n".to_string();
    let extra = ExtraConfig { hazel_toml: HAZEL_TOML, ..ExtraConfig::default() };
    let server = HazelServe::start_with(&format!("{a}{b}{clone_b}"), E2E_USERS, extra, write_dev_files);
    let dir = server.confdir.path().to_path_buf();
    let port = server.port;
    eventually("device a has data", || {
        NutSession::connect(port).request("GET VAR a battery.charge") == ["VAR a battery.charge \"91\""]
    });
    let a_before = status(&server, "a");
    assert_eq!(a_before["state"], "running");
    assert_eq!(a_before["restarts"], "0 (host 0, plugin 0)");
    let poller = Poller::start(port, "a", "91");

    // Added.
    save_by_rename(&dir, &format!("{a}{b}{clone_b}{c}"));
    eventually("c is listed", || list_ups(port) == ["a", "b", "cb", "c"]);
    eventually("c has data", || {
        NutSession::connect(port).request("GET VAR c battery.charge") == ["VAR c battery.charge \"93\""]
    });

    // Changed, in place: b restarts, and so does the clone-outlet over it.
    let b_changed =
        "[b]\n\tdriver = dummy-ups\n\tport = b.dev\n\tpollinterval = 1\n\tdesc = \"now described\"\n".to_string();
    std::fs::write(dir.join("ups.conf"), format!("{a}{b_changed}{clone_b}{c}")).unwrap();
    eventually("b restarted", || status(&server, "b")["restarts"] == "1 (host 1, plugin 0)");
    eventually("cb restarted with b", || status(&server, "cb")["restarts"] == "1 (host 1, plugin 0)");
    eventually("b's new description", || {
        NutSession::connect(port).request("GET UPSDESC b") == ["UPSDESC b \"now described\""]
    });
    assert_eq!(status(&server, "c")["restarts"], "0 (host 0, plugin 0)");

    // Broken: c's new version has no driver; the old c keeps running and the error names file, line and section.
    let c_broken = "[c]\n\tport = c.dev\n";
    save_by_rename(&dir, &format!("{a}{b_changed}{clone_b}{c_broken}"));
    eventually("c's problem reported", || status(&server, "c").contains_key("config error"));
    let c_status = status(&server, "c");
    let error = &c_status["config error"];
    assert!(error.contains("ups.conf:14: section [c] has no 'driver'"), "{error}");
    assert_eq!(c_status["restarts"], "0 (host 0, plugin 0)");
    assert!(server.log().contains("section [c] has no 'driver'"), "{}", server.log());
    assert_eq!(list_ups(port), ["a", "b", "cb", "c"]);
    assert_eq!(NutSession::connect(port).request("GET VAR c battery.charge"), ["VAR c battery.charge \"93\""]);

    // Removed, and a new section inserted in the middle: LIST UPS follows the file.
    save_by_rename(&dir, &format!("{a}{}{b_changed}{clone_b}", dummy("d", "c.dev")));
    eventually("c gone, d before b", || list_ups(port) == ["a", "d", "b", "cb"]);
    assert_eq!(NutSession::connect(port).request("GET VAR c battery.charge"), ["ERR UNKNOWN-UPS"]);

    // Deleted: nothing stops. Restored: nothing changed, nothing restarts.
    let text = std::fs::read_to_string(dir.join("ups.conf")).unwrap();
    let reloads = reload_lines(&server);
    std::fs::remove_file(dir.join("ups.conf")).unwrap();
    eventually("the failed reload is logged", || reload_lines(&server) > reloads);
    assert!(server.log().contains("every device keeps running"), "{}", server.log());
    assert_eq!(list_ups(port), ["a", "d", "b", "cb"]);
    let reloads = reload_lines(&server);
    std::fs::write(dir.join("ups.conf"), &text).unwrap();
    eventually("the restored file is applied", || reload_lines(&server) > reloads);
    let last_reload = server.log().lines().rfind(|l| l.contains("reload (")).unwrap().to_string();
    assert!(last_reload.contains("added -; removed -; changed -; unchanged a,d,b,cb"), "{last_reload}");

    // An operator-stopped device stays stopped across reloads until started.
    let (ok, _, err) = drivers(&server, &["stop", "d"]);
    assert!(ok, "{err}");
    assert_eq!(listed_state(&server, "d").as_deref(), Some("stopped"));
    let reloads = reload_lines(&server);
    // SIGHUP reloads too.
    let hup = Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    assert!(hup.success());
    eventually("the SIGHUP reload", || reload_lines(&server) > reloads);
    let (ok, _, err) = drivers(&server, &["reload"]);
    assert!(ok, "{err}");
    assert_eq!(listed_state(&server, "d").as_deref(), Some("stopped"));
    let (ok, _, err) = drivers(&server, &["start", "d"]);
    assert!(ok, "{err}");
    eventually("d runs again", || listed_state(&server, "d").as_deref() == Some("running"));
    let (ok, _, err) = drivers(&server, &["status", "nosuch"]);
    assert!(!ok && err.contains("no device 'nosuch'"), "{err}");

    // Through all of it, a was never restarted and its client never saw anything but its data.
    let (answers, wrong) = poller.finish();
    assert!(wrong.is_empty(), "the untouched device's client saw: {wrong:?}");
    assert!(answers > 0);
    let a_after = status(&server, "a");
    assert_eq!(a_after["started"], a_before["started"]);
    assert_eq!(a_after["restarts"], "0 (host 0, plugin 0)");
    assert_eq!(a_after["state"], "running");
}

#[test]
fn a_plugin_stuck_in_init_delays_nothing() {
    let conf = format!(
        "[slow]\n\tdriver = misbehave\n\tport = c.dev\n\tbehavior = slow-init\n{}\
         [rejected]\n\tdriver = misbehave\n\tport = c.dev\n\tbehavior = no-such-behavior\n",
        dummy("a", "a.dev")
    );
    let extra = ExtraConfig { hazel_toml: HAZEL_TOML, ..ExtraConfig::default() };
    // `start_with` returns once the server answers, which it does before `slow` finishes init.
    let server = HazelServe::start_with(&conf, E2E_USERS, extra, write_dev_files);
    let port = server.port;
    assert_eq!(list_ups(port), ["slow", "a", "rejected"]);
    eventually("a has data", || {
        NutSession::connect(port).request("GET VAR a battery.charge") == ["VAR a battery.charge \"91\""]
    });
    // `slow` never finishes init, so everything above happened while it was starting.
    assert_eq!(status(&server, "slow")["state"], "starting");
    // As upsd answers for a driver still in its init (it has no socket yet) ...
    assert_eq!(NutSession::connect(port).request("GET VAR slow ups.status"), ["ERR DRIVER-NOT-CONNECTED"]);
    // ... and for one that gave up on its configuration.
    eventually("rejected has failed", || status(&server, "rejected")["state"].starts_with("failed"));
    assert_eq!(NutSession::connect(port).request("GET VAR rejected ups.status"), ["ERR DRIVER-NOT-CONNECTED"]);

    // Another stuck device added by a reload does not hold the reload up either.
    let dir = server.confdir.path();
    let slow2 = "[slow2]\n\tdriver = misbehave\n\tport = c.dev\n\tbehavior = slow-init\n";
    std::fs::write(dir.join("ups.conf"), format!("{conf}{slow2}{}", dummy("b", "b.dev"))).unwrap();
    let (ok, _, err) = drivers(&server, &["reload"]);
    assert!(ok, "{err}");
    eventually("b has data", || {
        NutSession::connect(port).request("GET VAR b battery.charge") == ["VAR b battery.charge \"92\""]
    });
    assert_eq!(status(&server, "slow2")["state"], "starting");
    assert_eq!(list_ups(port), ["slow", "a", "rejected", "slow2", "b"]);
}
