//! Replay tests of [`DummyDevice`] against a fake host: a settable clock and
//! one in-memory file.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::api::{Change, DeviceError, FileError, FileStat, Host, LogLevel, VarMeta};
use crate::device::DummyDevice;
use crate::settings;

/// The fake host: one file (or none), a clock the test moves, and the log.
struct FakeHost {
    path: String,
    content: Option<Vec<u8>>,
    modified_ms: u64,
    now_ms: u64,
    reads: usize,
    log: Vec<(LogLevel, String)>,
}

impl FakeHost {
    fn new(path: &str, content: &str) -> FakeHost {
        FakeHost {
            path: path.to_string(),
            content: Some(content.as_bytes().to_vec()),
            modified_ms: 1_000,
            now_ms: 50_000,
            reads: 0,
            log: Vec::new(),
        }
    }

    /// Replace the file, as an editor would (new mtime).
    fn rewrite(&mut self, content: &str) {
        self.content = Some(content.as_bytes().to_vec());
        self.modified_ms += 1_000;
    }

    fn advance_seconds(&mut self, seconds: u64) {
        self.now_ms += seconds * 1000;
    }

    fn check(&self, path: &str) -> Result<&Vec<u8>, FileError> {
        if path != self.path {
            return Err(FileError::Denied);
        }
        self.content.as_ref().ok_or(FileError::NotFound)
    }
}

impl Host for FakeHost {
    fn monotonic_ms(&mut self) -> u64 {
        self.now_ms
    }

    fn read(&mut self, path: &str) -> Result<Vec<u8>, FileError> {
        let content = self.check(path)?.clone();
        self.reads += 1;
        Ok(content)
    }

    fn stat(&mut self, path: &str) -> Result<FileStat, FileError> {
        let size = self.check(path)?.len() as u64;
        Ok(FileStat {
            size,
            modified_ms: self.modified_ms,
        })
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.log.push((level, message.to_string()));
    }
}

fn open(port: &str, host: &mut FakeHost) -> DummyDevice {
    let settings = settings::parse([("port", Some(port))]).unwrap();
    DummyDevice::open(settings, host).unwrap()
}

fn set(name: &str, value: &str) -> Change {
    Change::SetValue(name.to_string(), value.to_string())
}

fn status(tokens: &[&str]) -> Change {
    Change::SetStatus(tokens.iter().map(|t| t.to_string()).collect())
}

/// Only the value/remove/status/alarm changes, which is what most tests
/// care about.
fn values(changes: &[Change]) -> Vec<Change> {
    changes
        .iter()
        .filter(|c| {
            matches!(
                c,
                Change::SetValue(..)
                    | Change::Remove(_)
                    | Change::SetStatus(_)
                    | Change::SetAlarms(_)
            )
        })
        .cloned()
        .collect()
}

fn has_value(changes: &[Change], name: &str, value: &str) -> bool {
    changes.contains(&set(name, value))
}

#[test]
fn first_update_publishes_everything_with_flags() {
    let mut host = FakeHost::new(
        "ups1.dev",
        "ups.mfr: American Power Conversion\nbattery.charge: 100\nx.custom: \"a  b\"\nups.status: OL CHRG\n",
    );
    let mut device = open("ups1.dev", &mut host);
    let changes = device.update(&mut host).unwrap();
    let rw_string = |name: &str, len| {
        Change::SetMeta(VarMeta {
            name: name.into(),
            writable: true,
            string_max_len: Some(len),
        })
    };
    assert_eq!(
        changes,
        vec![
            set("battery.charge", "100"),
            Change::SetMeta(VarMeta {
                name: "battery.charge".into(),
                writable: true,
                string_max_len: None
            }),
            // Start-up copies and the mode carry no flags (upsd: NUMBER, read-only).
            set("device.mfr", "American Power Conversion"),
            set("device.model", "Dummy UPS"),
            set("driver.parameter.mode", "dummy-once"),
            set("ups.mfr", "American Power Conversion"),
            rw_string("ups.mfr", 32),
            set("ups.model", "Dummy UPS"),
            rw_string("ups.model", 32),
            set("x.custom", "a  b"),
            rw_string("x.custom", 32),
            status(&["OL", "CHRG"]),
            rw_string("ups.status", 32),
            Change::AddCommand("load.off".into()),
        ]
    );
    // Nothing changed since: nothing to report, and the file is not re-read.
    let reads = host.reads;
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
    assert_eq!(host.reads, reads);
}

#[test]
fn identity_is_copied_from_ups_variables_at_start_up() {
    // As in NUT: the copy overwrites the file's own device.* values.
    let mut host = FakeHost::new(
        "a.dev",
        "device.mfr: EATON\nups.model: 5P\nups.serial: G123\n",
    );
    let mut device = open("a.dev", &mut host);
    assert_eq!(
        device.identity(),
        (
            Some("Dummy Manufacturer".into()),
            Some("5P".into()),
            Some("G123".into())
        )
    );
    let changes = device.update(&mut host).unwrap();
    assert!(has_value(&changes, "device.mfr", "Dummy Manufacturer"));
    // device.mfr had a file line, so it keeps that line's flags.
    assert!(changes.contains(&Change::SetMeta(VarMeta {
        name: "device.mfr".into(),
        writable: true,
        string_max_len: Some(32)
    })));
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, Change::SetMeta(m) if m.name == "device.serial"))
    );
    // Later changes of ups.* do not follow into device.*.
    device.set_var("ups.model", "6P").unwrap();
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![set("ups.model", "6P")]
    );

    let mut host = FakeHost::new("b.dev", "");
    let device = open("b.dev", &mut host);
    assert_eq!(
        device.identity(),
        (
            Some("Dummy Manufacturer".into()),
            Some("Dummy UPS".into()),
            None
        )
    );
}

#[test]
fn empty_value_deletes_and_driver_lines_are_ignored() {
    let mut host = FakeHost::new(
        "a.dev",
        "driver.name: usbhid-ups\nups.mfr:\nups.id: rack1\nups.id: \"\"\n",
    );
    let mut device = open("a.dev", &mut host);
    let changes = device.update(&mut host).unwrap();
    assert!(!changes.iter().any(|c| matches!(c, Change::SetValue(name, _) if name == "ups.mfr" || name == "ups.id" || name == "driver.name")));
    assert!(has_value(&changes, "ups.model", "Dummy UPS"));
}

#[test]
fn timer_pauses_until_the_clock_has_moved() {
    let seq = "ups.status: OL\nTIMER 60\nups.status: OB\nbattery.charge: 80\nTIMER 60\nups.status: OB LB\nTIMER 60\n";
    let mut host = FakeHost::new("ups.seq", seq);
    let mut device = open("ups.seq", &mut host);
    let first = device.update(&mut host).unwrap();
    assert!(first.contains(&status(&["OL"])));
    assert!(
        !first
            .iter()
            .any(|c| matches!(c, Change::SetValue(n, _) if n == "battery.charge"))
    );

    // Polls during the pause return nothing and never block.
    host.advance_seconds(30);
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
    host.advance_seconds(29);
    assert_eq!(device.update(&mut host).unwrap(), vec![]);

    host.advance_seconds(1);
    let second = device.update(&mut host).unwrap();
    assert_eq!(
        values(&second),
        vec![set("battery.charge", "80"), status(&["OB"])]
    );

    host.advance_seconds(60);
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![status(&["OB", "LB"])]
    );

    // Loop mode: after the last TIMER the file starts over.
    host.advance_seconds(60);
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![]);
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![status(&["OL"])]
    );
}

#[test]
fn loop_mode_replays_from_the_top_and_overrides_set_var() {
    let mut host = FakeHost::new("data.txt", "ups.load: 10\nups.status: OL\n");
    let mut device = open("data.txt", &mut host);
    device.update(&mut host).unwrap();
    device.set_var("ups.load", "55").unwrap();
    // The next pass runs the file again, so the file's value comes back;
    // set-var and the replay cancel out and nothing is reported.
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![]);

    // Loop mode picks up edits at the start of the next pass.
    host.rewrite("ups.load: 20\nups.status: OB\n");
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![set("ups.load", "20"), status(&["OB"])]
    );
}

#[test]
fn once_mode_keeps_set_var_until_the_file_changes() {
    let mut host = FakeHost::new(
        "ups1.dev",
        "ups.id: rack1\nups.load: 23\nbattery.charge: 100\n",
    );
    let mut device = open("ups1.dev", &mut host);
    device.update(&mut host).unwrap();

    device.set_var("ups.id", "newid").unwrap();
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![set("ups.id", "newid")]
    );
    host.advance_seconds(5);
    assert_eq!(device.update(&mut host).unwrap(), vec![]);

    // A rewrite: only what differs from what was published is reported,
    // vanished variables are removed, set-var values are replaced.
    host.rewrite("ups.id: rack1\nups.load: 30\nx.new: hello\n");
    let changes = device.update(&mut host).unwrap();
    assert_eq!(
        values(&changes),
        vec![
            Change::Remove("battery.charge".into()),
            set("ups.id", "rack1"),
            set("ups.load", "30"),
            set("x.new", "hello")
        ]
    );
    assert!(changes.contains(&Change::SetMeta(VarMeta {
        name: "x.new".into(),
        writable: true,
        string_max_len: Some(32)
    })));
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
}

#[test]
fn once_mode_restores_starting_values_the_file_stops_setting() {
    let mut host = FakeHost::new("a.dev", "ups.mfr: APC\nups.status: OB\n");
    let mut device = open("a.dev", &mut host);
    device.update(&mut host).unwrap();
    host.rewrite("ups.load: 1\n");
    let changes = values(&device.update(&mut host).unwrap());
    assert_eq!(
        changes,
        vec![
            set("ups.load", "1"),
            set("ups.mfr", "Dummy Manufacturer"),
            status(&["OL"])
        ]
    );
}

#[test]
fn set_var_rules() {
    let mut host = FakeHost::new("a.dev", "ups.id: x\n");
    let mut device = open("a.dev", &mut host);
    device.update(&mut host).unwrap();
    assert_eq!(
        device.set_var("no.such.var", "1"),
        Err(DeviceError::Unknown)
    );
    assert!(matches!(
        device.set_var("driver.parameter.mode", "x"),
        Err(DeviceError::Invalid(_))
    ));
    device.set_var("UPS.ID", "").unwrap();
    device.set_var("ups.status", "OB  LB").unwrap();
    device.set_var("ups.alarm", "Overheat").unwrap();
    let changes = device.update(&mut host).unwrap();
    assert_eq!(
        values(&changes),
        vec![
            Change::Remove("ups.id".into()),
            status(&["OB", "LB"]),
            Change::SetAlarms(vec!["Overheat".into()])
        ]
    );
    // Non-ASCII names must not panic.
    assert_eq!(device.set_var("drivé.x", "1"), Err(DeviceError::Unknown));
}

#[test]
fn alarm_lines_add_and_clear() {
    let seq = "ALARM Replace battery!\nALARM Overheat\nALARM Overheat\nTIMER 10\nALARM\nTIMER 10\n";
    let mut host = FakeHost::new("a.seq", seq);
    let mut device = open("a.seq", &mut host);
    let first = device.update(&mut host).unwrap();
    assert!(first.contains(&Change::SetAlarms(vec![
        "Replace battery!".into(),
        "Overheat".into()
    ])));
    assert!(first.contains(&Change::SetMeta(VarMeta {
        name: "ups.alarm".into(),
        writable: true,
        string_max_len: Some(32)
    })));
    host.advance_seconds(10);
    let cleared = device.update(&mut host).unwrap();
    assert_eq!(cleared, vec![Change::SetAlarms(vec![])]);
    // Next loop: the same alarms again, without duplicates, flags again
    // (the host removed ups.alarm when they cleared).
    host.advance_seconds(10);
    device.update(&mut host).unwrap();
    let again = device.update(&mut host).unwrap();
    assert_eq!(
        again[0],
        Change::SetAlarms(vec!["Replace battery!".into(), "Overheat".into()])
    );
    assert_eq!(again.len(), 2);
}

#[test]
fn ups_alarm_variable_becomes_the_alarm_list() {
    let mut host = FakeHost::new(
        "a.dev",
        "ups.alarm: Bypass not available!\nups.status: ALARM OL\n",
    );
    let mut device = open("a.dev", &mut host);
    let changes = device.update(&mut host).unwrap();
    assert!(changes.contains(&Change::SetAlarms(vec!["Bypass not available!".into()])));
    assert!(changes.contains(&status(&["ALARM", "OL"])));
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, Change::SetValue(n, _) if n == "ups.alarm"))
    );
    // The alarm vanishes with the line.
    host.rewrite("ups.status: OL\n");
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![status(&["OL"]), Change::SetAlarms(vec![])]
    );
}

#[test]
fn cmd_comments_are_plain_comments_and_only_load_off_is_advertised() {
    let mut host = FakeHost::new(
        "a.dev",
        "ups.status: OL\n#CMD:beeper.toggle\n#CMD:load.on\n#CMD:shutdown.stop\t#COMMENT: x\n",
    );
    let mut device = open("a.dev", &mut host);
    let changes = device.update(&mut host).unwrap();
    let commands: Vec<&Change> = changes
        .iter()
        .filter(|c| matches!(c, Change::AddCommand(_) | Change::RemoveCommand(_)))
        .collect();
    assert_eq!(commands, vec![&Change::AddCommand("load.off".into())]);
    host.rewrite("ups.status: OL\n#CMD:test.battery.start\n");
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
}

#[test]
fn parse_problems_are_logged_once_with_line_numbers() {
    let mut host = FakeHost::new("a.seq", "a: 1\nb: \"bad#\"\nc 3\n");
    let mut device = open("a.seq", &mut host);
    for _ in 0..3 {
        device.update(&mut host).unwrap();
    }
    let warnings: Vec<&String> = host
        .log
        .iter()
        .filter(|(l, _)| *l == LogLevel::Warn)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("a.seq: line 2:"));
    assert!(warnings[1].starts_with("a.seq: line 3:"));
}

#[test]
fn missing_file_fails_init_and_vanishing_file_makes_data_stale() {
    let mut host = FakeHost::new("a.dev", "ups.load: 1\n");
    let settings = settings::parse([("port", Some("other.dev"))]).unwrap();
    assert!(
        matches!(DummyDevice::open(settings, &mut host), Err(DeviceError::Failed(m)) if m.contains("other.dev"))
    );

    let mut device = open("a.dev", &mut host);
    device.update(&mut host).unwrap();
    host.content = None;
    assert!(matches!(
        device.update(&mut host),
        Err(DeviceError::Unreachable(_))
    ));
    // Back with the same timestamp and size: re-read anyway.
    host.content = Some(b"ups.load: 2\n".to_vec());
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![set("ups.load", "2")]
    );
}

#[test]
fn the_path_is_passed_verbatim() {
    let mut host = FakeHost::new("../data//ups 1.dev", "ups.load: 1\n");
    let mut device = open("../data//ups 1.dev", &mut host);
    assert!(device.update(&mut host).is_ok());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic generator (xorshift) over bytes that exercise
    // every tokenizer state.
    let alphabet = b"ab:.# \t\r\n\"\\=TIMERALM0129\x00\xff";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..300 {
        let mut bytes = Vec::new();
        for _ in 0..(round % 97) * 3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut host = FakeHost::new("f.seq", &text);
        let mut device = open("f.seq", &mut host);
        for _ in 0..3 {
            let _ = device.update(&mut host);
            host.advance_seconds(1_000_000);
        }
    }
}

#[test]
fn huge_timer_does_not_overflow() {
    let mut host = FakeHost::new("a.seq", "TIMER 99999999999999999999999\nups.load: 1\n");
    let mut device = open("a.seq", &mut host);
    device.update(&mut host).unwrap();
    host.now_ms = u64::MAX - 1;
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![]);
}

#[test]
fn duplicates_last_wins_and_first_spelling_stays() {
    let mut host = FakeHost::new("a.dev", "Battery.Charge: 7\nbattery.charge: 8\nUPS.ID: x\n");
    let mut device = open("a.dev", &mut host);
    let changes = device.update(&mut host).unwrap();
    assert!(has_value(&changes, "Battery.Charge", "8"));
    // Table lookups ignore case too: UPS.ID is RW STRING:16.
    assert!(changes.contains(&Change::SetMeta(VarMeta {
        name: "UPS.ID".into(),
        writable: true,
        string_max_len: Some(16)
    })));
    device.set_var("battery.CHARGE", "9").unwrap();
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![set("Battery.Charge", "9")]
    );
}

#[test]
fn once_mode_honours_timer_but_does_not_loop() {
    let mut host = FakeHost::new("a.dev", "ups.load: 1\nTIMER 5\nups.load: 2\n");
    let mut device = open("a.dev", &mut host);
    assert!(has_value(
        &device.update(&mut host).unwrap(),
        "ups.load",
        "1"
    ));
    host.advance_seconds(5);
    assert_eq!(
        values(&device.update(&mut host).unwrap()),
        vec![set("ups.load", "2")]
    );
    for _ in 0..5 {
        host.advance_seconds(5);
        assert_eq!(device.update(&mut host).unwrap(), vec![]);
    }
}

#[test]
fn configured_mode_is_published_as_written() {
    let mut host = FakeHost::new("data.txt", "");
    let settings = settings::parse([("port", Some("data.txt")), ("mode", Some("dummy"))]).unwrap();
    let mut device = DummyDevice::open(settings, &mut host).unwrap();
    assert!(has_value(
        &device.update(&mut host).unwrap(),
        "driver.parameter.mode",
        "dummy"
    ));
}

#[test]
fn empty_status_line_is_still_reported() {
    // NUT publishes `ups.status: ""` for `ups.status:`; the host gets an
    // empty token list on the first update.
    let mut host = FakeHost::new("a.dev", "ups.status:\n");
    let mut device = open("a.dev", &mut host);
    let changes = device.update(&mut host).unwrap();
    assert!(changes.contains(&Change::SetStatus(vec![])));
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, Change::SetMeta(m) if m.name == "ups.status"))
    );
    device.set_var("ups.status", "OB").unwrap();
    let changes = device.update(&mut host).unwrap();
    assert_eq!(
        changes,
        vec![
            status(&["OB"]),
            Change::SetMeta(VarMeta {
                name: "ups.status".into(),
                writable: true,
                string_max_len: Some(32)
            })
        ]
    );
}
