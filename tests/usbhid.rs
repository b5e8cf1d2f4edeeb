//! Hazel's `usbhid` plugin end to end: `hazel serve` with `driver = usbhid-ups`
//! on recorded devices (`port = replay:<capture>`, the captures of
//! `shared/data/hid`), read with NUT's own `upsc`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hazel_e2e::{E2E_USERS, ExtraConfig, HazelServe, upsc_all, upsc_value, wait_for_upsc};
use usbhid::capture::{self, Capture};
use usbhid::descriptor::{self, ReportKind};
use usbhid::report;

fn capture_path(name: &str) -> PathBuf {
    hazel_e2e::repo_root().join("../shared/data/hid").join(name)
}

fn read_capture(name: &str) -> Capture {
    let path = capture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    capture::parse(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

const BK650: &str = "APC__Back-UPS_BK650M2-CH.txt";
const SANTAK: &str = "Santak__TG-BOX_850.txt";

/// A `usbhid-ups` section replaying `file` (relative to the config dir).
fn section(name: &str, file: &str, options: &str) -> String {
    format!("[{name}]\n\tdriver = usbhid-ups\n\tport = \"replay:{file}\"\n{options}")
}

fn copy_into(dir: &Path, file: &str) {
    std::fs::copy(capture_path(file), dir.join(file)).unwrap();
}

/// NUT variables a replay does not publish as NUT did, with the reason
/// (`*`: every capture; a name ending in `.` is a prefix).
const DIFFERENCES: &[(&str, &str, &str)] = &[
    ("*", "driver.", "driver.* describe the driver process: Hazel's host publishes its own"),
    ("*", "device.mfr", "USB string descriptor: captures hold no strings"),
    ("*", "device.model", "USB string descriptor: captures hold no strings"),
    ("*", "device.serial", "USB string descriptor: captures hold no strings"),
    ("*", "ups.mfr", "USB string descriptor: captures hold no strings"),
    ("*", "ups.model", "USB string descriptor: captures hold no strings"),
    ("*", "ups.serial", "USB string descriptor: captures hold no strings"),
    ("*", "battery.type", "iDeviceChemistry is a string index: captures hold no strings"),
    ("*", "ups.firmware", "iVersion / product-string derived: captures hold no strings"),
    (BK650, "ups.load", "upsc listing (5) and the explore dump (PercentLoad 0) were taken at different moments"),
    (SANTAK, "battery.runtime", "vars are a NUT snapshot from another moment than the reads (INDEX.md)"),
    (SANTAK, "ups.load", "vars are a NUT snapshot from another moment than the reads (INDEX.md)"),
    (SANTAK, "battery.charger.status", "no Charger.Mode/ABM usage in this descriptor"),
    // The Santak capture holds 10 report reads; these variables' reports are not among them.
    (SANTAK, "outlet.1.id", NOT_CAPTURED),
    (SANTAK, "outlet.1.switchable", NOT_CAPTURED),
    (SANTAK, "outlet.id", NOT_CAPTURED),
    (SANTAK, "outlet.switchable", NOT_CAPTURED),
    (SANTAK, "ups.timer.shutdown", NOT_CAPTURED),
    (SANTAK, "ups.timer.start", NOT_CAPTURED),
    (SANTAK, "ups.type", NOT_CAPTURED),
];

const NOT_CAPTURED: &str = "its report is not in the capture, so the replayed device stalls on it";

fn listed(file: &str, var: &str) -> Option<&'static str> {
    DIFFERENCES
        .iter()
        .find(|(f, v, _)| (*f == "*" || *f == file) && (var == *v || (v.ends_with('.') && var.starts_with(v))))
        .map(|(_, _, why)| *why)
}

#[test]
fn replayed_captures_publish_nuts_variables() {
    let conf = format!(
        "{}{}",
        section("bk650", BK650, "\tpollinterval = 1\n"),
        section("santak", SANTAK, "\tpollinterval = 1\n")
    );
    let hazel = HazelServe::start(&conf, E2E_USERS, |dir| {
        copy_into(dir, BK650);
        copy_into(dir, SANTAK);
    });
    for (ups, file) in [("bk650", BK650), ("santak", SANTAK)] {
        let c = read_capture(file);
        let upsc = wait_for_upsc(&hazel.ups(ups), "ups.status", |all| upsc_value(all, "ups.status").is_some());
        let (mut equal, mut unlisted) = (0, Vec::new());
        for (var, theirs) in &c.vars {
            let ours = upsc_value(&upsc, var);
            match (ours == Some(theirs.as_str()), listed(file, var)) {
                (true, None) => equal += 1,
                (true, Some(why)) if !why.contains("string") && !var.starts_with("driver.") => {
                    panic!("{file}: {var} equal but listed as differing ({why})")
                }
                (true, Some(_)) => equal += 1,
                (false, Some(_)) => {}
                (false, None) => unlisted.push(format!("{var}: NUT {theirs:?} ours {ours:?}")),
            }
        }
        println!("{file}: {equal}/{} NUT variables equal", c.vars.len());
        assert!(unlisted.is_empty(), "{file}: unlisted differences:\n{}\nupsc:\n{upsc}", unlisted.join("\n"));
        assert!(equal >= 15, "{file}: only {equal} variables equal");
    }
}

#[test]
fn a_vanished_recorded_device_goes_stale_and_recovers() {
    let hazel = HazelServe::start(&section("ups", BK650, "\tpollinterval = 1\n"), E2E_USERS, |dir| {
        copy_into(dir, BK650);
    });
    let ups = hazel.ups("ups");
    wait_for_upsc(&ups, "the first update", |all| upsc_value(all, "battery.charge") == Some("100"));
    let file = hazel.confdir.path().join(BK650);
    let saved = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    // Unplugged: upsc fails (data stale) rather than serving the old values.
    hazel_e2e::eventually("the device to go stale", || upsc_all(&ups).is_none());
    std::fs::write(&file, saved).unwrap();
    wait_for_upsc(&ups, "the device to come back", |all| upsc_value(all, "battery.charge") == Some("100"));
    assert!(hazel.log().contains("is back"), "log:\n{}", hazel.log());
}

/// The `get` and `interrupt` lines of a side file in which the device lost
/// mains: every ACPresent field cleared, in its Feature and Input reports.
fn mains_lost_update(c: &Capture) -> String {
    let d = descriptor::parse(&c.descriptor).unwrap();
    let names = c.path_names();
    let (current, _) = c.replay_reports();
    let mut lines = String::new();
    for (kind, word) in [(ReportKind::Feature, "get"), (ReportKind::Input, "interrupt")] {
        let mut changed: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        for f in d.fields.iter().filter(|f| f.kind == kind && names.path_string(&f.path).ends_with(".ACPresent")) {
            let len = d.report_len(f.report_id, kind).unwrap();
            let data = changed.entry(f.report_id).or_insert_with(|| {
                let mut r = current.get(&f.report_id).cloned().unwrap_or_else(|| vec![f.report_id]);
                r.resize(len, 0);
                r
            });
            assert!(report::insert_logical(report::payload_mut(data, d.uses_report_ids), f, 0));
        }
        assert!(!changed.is_empty(), "no ACPresent {kind:?} field");
        for (id, data) in changed {
            let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
            lines.push_str(&format!("{word} {id:02x}: {}\n", hex.join(" ")));
        }
    }
    lines
}

#[test]
fn an_interrupt_report_flips_ol_to_ob_without_waiting_for_a_poll() {
    // One poll an hour: only the interrupt can bring OB within wait_for_upsc's minute.
    let extra = ExtraConfig { upsd_conf: "MAXAGE 7200\n", hazel_toml: "" };
    let hazel = HazelServe::start_with(&section("ups", BK650, "\tpollinterval = 3600\n"), E2E_USERS, extra, |dir| {
        copy_into(dir, BK650);
    });
    let ups = hazel.ups("ups");
    wait_for_upsc(&ups, "OL", |all| upsc_value(all, "ups.status") == Some("OL DISCHRG"));
    let update = mains_lost_update(&read_capture(BK650));
    let file = hazel.confdir.path().join(BK650);
    let side = hazel.confdir.path().join(format!("{BK650}.update"));
    // Written whole, then renamed into place: the host never sees half a file.
    let staging = file.with_extension("staging");
    std::fs::write(&staging, update).unwrap();
    std::fs::rename(&staging, &side).unwrap();
    wait_for_upsc(&ups, "OB from the interrupt", |all| upsc_value(all, "ups.status") == Some("OB DISCHRG"));
}

/// Run `hazel -c DIR usb explore ARGS`; its standard output.
fn hazel_usb_explore(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(hazel_e2e::hazel_binary())
        .arg("-c")
        .arg(dir)
        .args(["usb", "explore"])
        .args(args)
        .output()
        .expect("run hazel usb explore");
    assert!(out.status.success(), "hazel usb explore {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn usb_explore_lists_nuts_paths_and_values() {
    // BK650's paths are from `usbhid-ups -x explore`, so they use the standard names explore uses too.
    let c = read_capture(BK650);
    let dir = tempfile::tempdir().unwrap();
    let plugins = hazel_e2e::plugin_dir().display().to_string();
    std::fs::write(dir.path().join("hazel.toml"), format!("plugin_dirs = [{plugins:?}]\ncache_dir = \"cache\"\n"))
        .unwrap();
    std::fs::write(dir.path().join("ups.conf"), section("bk650", BK650, "")).unwrap();
    copy_into(dir.path(), BK650);
    let by_port = hazel_usb_explore(dir.path(), &["--port", &format!("replay:{}", capture_path(BK650).display())]);
    let by_section = hazel_usb_explore(dir.path(), &["bk650"]);
    assert_eq!(by_port, by_section, "the same device either way");
    let fields = descriptor::parse(&c.descriptor).unwrap().fields.len();
    assert_eq!(by_port.lines().filter(|l| l.starts_with("Path: ")).count(), fields, "one line per field");
    let mut values = 0;
    for p in &c.paths {
        let head = format!(
            "Path: {}, Type: {}, ReportID: 0x{:02x}, Offset: {}, Size: {}",
            p.path, p.kind, p.report_id, p.offset, p.size
        );
        let line = by_port.lines().find(|l| l.starts_with(&head)).unwrap_or_else(|| panic!("no line {head}"));
        // Values only where the capture holds the report as read: the replay
        // rebuilds the others from NUT's printed values, which would be circular.
        if c.read_of(p.report_id).is_some() {
            assert_eq!(line, format!("{head}, Value: {}", p.value));
            values += 1;
        }
    }
    println!("{BK650}: {} NUT paths listed, {values} values from real reads equal", c.paths.len());
}
