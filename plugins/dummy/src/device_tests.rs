//! Replay tests of [`DummyDevice`] against a fake host: a settable clock and
//! one in-memory file, plus a small model of what the host publishes from
//! the changes (to compare with real NUT's answers).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
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
        FakeHost::with_bytes(path, content.as_bytes())
    }

    fn with_bytes(path: &str, content: &[u8]) -> FakeHost {
        FakeHost {
            path: path.to_string(),
            content: Some(content.to_vec()),
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

    /// `touch`: same content, new mtime.
    fn touch(&mut self) {
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
        Ok(FileStat { size, modified_ms: self.modified_ms })
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.log.push((level, message.to_string()));
    }
}

/// What a NUT client sees, built from the changes the way Hazel's host
/// builds it (hazel-state `Snapshot`): names ignore case and keep their
/// first spelling, `set-meta` needs an existing variable, `set-alarms`
/// writes `ups.alarm` and rebuilds `ups.status` from the status tokens
/// (the dummy never sends any, so an active alarm makes it `ALARM`).
#[derive(Default)]
struct Published {
    /// lowercased name -> (name, value, flags)
    vars: BTreeMap<String, (String, String, Option<VarMeta>)>,
    commands: BTreeSet<String>,
    alarms: Vec<String>,
}

impl Published {
    fn apply(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::SetValue(name, value) => self.set(name, value),
                Change::Remove(name) => {
                    self.vars.remove(&name.to_ascii_lowercase());
                }
                Change::SetMeta(meta) => {
                    if let Some(var) = self.vars.get_mut(&meta.name.to_ascii_lowercase()) {
                        var.2 = Some(meta.clone());
                    }
                }
                Change::AddCommand(name) => {
                    self.commands.insert(name.clone());
                }
                Change::RemoveCommand(name) => {
                    self.commands.remove(name);
                }
                Change::SetAlarms(alarms) => {
                    if *alarms == self.alarms {
                        continue;
                    }
                    self.alarms = alarms.clone();
                    if alarms.is_empty() {
                        self.vars.remove("ups.alarm");
                    } else {
                        self.set("ups.alarm", &alarms.join(" "));
                        self.set("ups.status", "ALARM");
                    }
                }
            }
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.vars
            .entry(name.to_ascii_lowercase())
            .and_modify(|var| var.1 = value.to_string())
            .or_insert_with(|| (name.to_string(), value.to_string(), None));
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.vars.get(&name.to_ascii_lowercase()).map(|var| var.1.as_str())
    }

    fn spelling(&self, name: &str) -> Option<&str> {
        self.vars.get(&name.to_ascii_lowercase()).map(|var| var.0.as_str())
    }

    /// upsd's `GET TYPE` words.
    fn type_words(&self, name: &str) -> Option<String> {
        let (_, _, meta) = self.vars.get(&name.to_ascii_lowercase())?;
        Some(match meta {
            None => "NUMBER".to_string(),
            Some(meta) => {
                let rw = if meta.writable { "RW " } else { "" };
                match meta.string_max_len {
                    Some(len) => format!("{rw}STRING:{len}"),
                    None => format!("{rw}NUMBER"),
                }
            }
        })
    }
}

fn open(port: &str, host: &mut FakeHost) -> DummyDevice {
    let settings = settings::parse([("port", Some(port))]).unwrap();
    DummyDevice::open(settings, host).unwrap()
}

fn set(name: &str, value: &str) -> Change {
    Change::SetValue(name.to_string(), value.to_string())
}

fn rw_string(name: &str, len: u32) -> Change {
    Change::SetMeta(VarMeta { name: name.into(), writable: true, string_max_len: Some(len) })
}

fn rw_number(name: &str) -> Change {
    Change::SetMeta(VarMeta { name: name.into(), writable: true, string_max_len: None })
}

/// Only the value/remove/alarm changes, which is what most tests care
/// about.
fn values(changes: &[Change]) -> Vec<Change> {
    changes
        .iter()
        .filter(|c| matches!(c, Change::SetValue(..) | Change::Remove(_) | Change::SetAlarms(_)))
        .cloned()
        .collect()
}

fn has_value(changes: &[Change], name: &str, value: &str) -> bool {
    changes.contains(&set(name, value))
}

fn has_meta_for(changes: &[Change], name: &str) -> bool {
    changes.iter().any(|c| matches!(c, Change::SetMeta(m) if m.name == name))
}

/// Open a device on `content` and publish its first update.
fn first_state(port: &str, content: &str) -> (DummyDevice, FakeHost, Published) {
    let mut host = FakeHost::new(port, content);
    let mut device = open(port, &mut host);
    let mut published = Published::default();
    published.apply(&device.update(&mut host).unwrap());
    (device, host, published)
}

#[test]
fn first_update_publishes_everything_with_flags() {
    let mut host = FakeHost::new(
        "ups1.dev",
        "ups.mfr: American Power Conversion\nbattery.charge: 100\nx.custom: \"a  b\"\nups.status: OL CHRG\n",
    );
    let mut device = open("ups1.dev", &mut host);
    let changes = device.update(&mut host).unwrap();
    assert_eq!(
        changes,
        vec![
            set("battery.charge", "100"),
            rw_number("battery.charge"),
            // Start-up copies, the core's device.type and the mode carry no
            // flags (upsd: NUMBER, read-only).
            set("device.mfr", "American Power Conversion"),
            set("device.model", "Dummy UPS"),
            set("device.type", "ups"),
            set("driver.parameter.mode", "dummy-once"),
            set("ups.mfr", "American Power Conversion"),
            rw_string("ups.mfr", 32),
            set("ups.model", "Dummy UPS"),
            rw_string("ups.model", 32),
            // ups.status is an ordinary variable, published verbatim.
            set("ups.status", "OL CHRG"),
            rw_string("ups.status", 32),
            set("x.custom", "a  b"),
            rw_string("x.custom", 32),
            Change::AddCommand("load.off".into()),
        ]
    );
    // Nothing changed since: nothing to report, and the file is not re-read.
    let reads = host.reads;
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
    assert_eq!(host.reads, reads);
}

#[test]
fn defaults_without_file_lines() {
    // minimal.raw.txt / nostatus.raw.txt.
    let (_, _, nut) = first_state("nostatus.dev", "battery.charge: 80\n");
    assert_eq!(nut.value("ups.status"), Some("OL"));
    assert_eq!(nut.type_words("ups.status").unwrap(), "RW STRING:32");
    assert_eq!(nut.value("ups.mfr"), Some("Dummy Manufacturer"));
    assert_eq!(nut.value("ups.model"), Some("Dummy UPS"));
    assert_eq!(nut.value("device.type"), Some("ups"));
    assert_eq!(nut.type_words("device.type").unwrap(), "NUMBER");
    assert_eq!(nut.type_words("driver.parameter.mode").unwrap(), "NUMBER");
    assert_eq!(nut.value("device.serial"), None);
    assert_eq!(nut.commands, BTreeSet::from(["load.off".to_string()]));

    // A device.type line replaces the value and gets the default flags.
    let (_, _, nut) = first_state("epdu.dev", "device.type: pdu\n");
    assert_eq!(nut.value("device.type"), Some("pdu"));
    assert_eq!(nut.type_words("device.type").unwrap(), "RW STRING:32");
}

#[test]
fn identity_is_copied_from_ups_variables_at_start_up() {
    // mirror2.dev: the copy overwrites the file's device.mfr and keeps that
    // line's flags; device.serial comes from its own line (no ups.serial).
    let mut host = FakeHost::new(
        "mirror2.dev",
        "ups.mfr: UpsMfrFirst\ndevice.mfr: DeviceMfrSecond\ndevice.serial: DevSerial\nups.status: OB\n",
    );
    let mut device = open("mirror2.dev", &mut host);
    assert_eq!(device.identity(), (Some("UpsMfrFirst".into()), Some("Dummy UPS".into()), Some("DevSerial".into())));
    let changes = device.update(&mut host).unwrap();
    assert!(has_value(&changes, "device.mfr", "UpsMfrFirst"));
    assert!(changes.contains(&rw_string("device.mfr", 32)));
    assert!(has_value(&changes, "device.serial", "DevSerial"));
    assert!(changes.contains(&rw_string("device.serial", 32)));
    // A pure copy has no flags: no set-meta at all.
    assert!(has_value(&changes, "device.model", "Dummy UPS"));
    assert!(!has_meta_for(&changes, "device.model"));

    // Later changes of ups.* do not follow into device.*, and pure copies
    // are read-only.
    device.set_var("ups.model", "6P").unwrap();
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.model", "6P")]);
    assert!(matches!(device.set_var("device.model", "x"), Err(DeviceError::Invalid(_))));
    assert!(matches!(device.set_var("device.type", "x"), Err(DeviceError::Invalid(_))));

    // mirror3.dev: ups.serial copied without flags.
    let (device, _, nut) = first_state(
        "mirror3.dev",
        "device.mfr: DeviceMfrFirst\nups.mfr: UpsMfrSecond\nups.serial: UpsSerial\nups.status: OL\n",
    );
    assert_eq!(nut.value("device.mfr"), Some("UpsMfrSecond"));
    assert_eq!(nut.type_words("device.mfr").unwrap(), "RW STRING:32");
    assert_eq!(nut.value("device.serial"), Some("UpsSerial"));
    assert_eq!(nut.type_words("device.serial").unwrap(), "NUMBER");
    assert_eq!(device.identity().2.as_deref(), Some("UpsSerial"));

    let mut host = FakeHost::new("b.dev", "");
    let device = open("b.dev", &mut host);
    assert_eq!(device.identity(), (Some("Dummy Manufacturer".into()), Some("Dummy UPS".into()), None));
}

#[test]
fn status_and_alarm_are_published_verbatim_as_variables() {
    // Facts §f: edge2 `OL OL ob  BOGUS`, e93ps `ALARM OL` with a 39-char
    // ups.alarm that adds nothing to the status.
    let (mut device, mut host, nut) =
        first_state("a.dev", "ups.status: OL OL ob  BOGUS\nups.alarm: Bypass not available! Internal failure!\n");
    assert_eq!(nut.value("ups.status"), Some("OL OL ob BOGUS"));
    assert_eq!(nut.value("ups.alarm"), Some("Bypass not available! Internal failure!"));
    assert_eq!(nut.type_words("ups.alarm").unwrap(), "RW STRING:32");
    assert!(nut.alarms.is_empty());

    // SET VAR keeps the raw string, double spaces included.
    device.set_var("ups.status", "OB  LB").unwrap();
    device.set_var("ups.alarm", "Overheat").unwrap();
    assert_eq!(device.update(&mut host).unwrap(), vec![set("ups.alarm", "Overheat"), set("ups.status", "OB  LB")]);
    // An empty status is published as "", an empty ups.alarm removes it.
    device.set_var("ups.status", "").unwrap();
    device.set_var("ups.alarm", "").unwrap();
    assert_eq!(device.update(&mut host).unwrap(), vec![Change::Remove("ups.alarm".into()), set("ups.status", "")]);

    let (_, _, nut) = first_state("pulsar.dev", "ups.status: ALARM OL CHRG RB\n");
    assert_eq!(nut.value("ups.status"), Some("ALARM OL CHRG RB"));
}

#[test]
fn empty_status_line_publishes_an_empty_status() {
    // emptystatus.dev and ee.dev.
    for file in ["ups.status:\nbattery.charge: 5\n", "ups.status: \"\"\nbattery.charge: 3\n"] {
        let (_, _, nut) = first_state("a.dev", file);
        assert_eq!(nut.value("ups.status"), Some(""), "{file}");
        assert_eq!(nut.type_words("ups.status").unwrap(), "RW STRING:32");
    }
}

#[test]
fn empty_values_reproduce_dummy_ups_2_8_0() {
    // Facts §e: a line without value takes the previous line's value; with
    // none, or an empty one, nothing is published.
    let (_, _, nut) =
        first_state("a.dev", "ups.load: 40.0\nups.mfr:\nups.model:  2.1\nx.var: \"\"\ny.var:\nnocolonline\n");
    assert_eq!(nut.value("ups.mfr"), Some("40.0"));
    assert_eq!(nut.value("device.mfr"), Some("40.0"));
    assert_eq!(nut.value("ups.model"), Some("2.1"));
    assert_eq!(nut.value("x.var"), None);
    assert_eq!(nut.value("y.var"), None);
    assert_eq!(nut.value("nocolonline"), None);

    let (_, _, nut) = first_state("eb.dev", "x.var:\n");
    assert_eq!(nut.value("x.var"), None);
    let (_, _, nut) = first_state("ec.dev", "a.var: 1\nb.var:\n");
    assert_eq!(nut.value("b.var"), Some("1"));
    assert_eq!(nut.type_words("b.var").unwrap(), "RW STRING:32");
    let (_, _, nut) = first_state("edge.dev", "ups.temperature: 30\ninput.voltage:230\n");
    assert_eq!(nut.value("input.voltage"), Some("30"));

    // An empty value deletes an existing variable, from the file or SET VAR.
    let (mut device, mut host, _) = first_state("a.seq", "ups.id: x\nTIMER 10\nups.id: \"\"\nTIMER 10\n");
    host.advance_seconds(10);
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![Change::Remove("ups.id".into())]);
    host.advance_seconds(10);
    device.update(&mut host).unwrap();
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.id", "x")]);
    device.set_var("UPS.ID", "").unwrap();
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![Change::Remove("ups.id".into())]);
}

#[test]
fn long_values_are_cut_to_127_characters() {
    let long = "L".repeat(200);
    let (_, _, nut) = first_state("a.dev", &format!("long.value: {long}\n"));
    assert_eq!(nut.value("long.value"), Some(&long[..127]));
}

#[test]
fn driver_lines_are_ignored() {
    let (mut device, mut host, nut) = first_state(
        "a.dev",
        "driver.name: usbhid-ups\ndriver.parameter.pollinterval: 10\ndriver.parameter.foo: bar\nups.load: 1\n",
    );
    assert_eq!(nut.value("driver.name"), None);
    assert_eq!(nut.value("driver.parameter.foo"), None);
    assert_eq!(nut.value("driver.parameter.pollinterval"), None);
    assert!(matches!(device.set_var("driver.parameter.mode", "x"), Err(DeviceError::Invalid(_))));
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
}

#[test]
fn set_var_rules() {
    let (mut device, mut host, _) = first_state("a.dev", "ups.id: x\nbattery.charge: 5\n");
    assert_eq!(device.set_var("no.such.var", "1"), Err(DeviceError::Unknown));
    device.set_var("battery.CHARGE", "notanumber").unwrap();
    assert_eq!(device.update(&mut host).unwrap(), vec![set("battery.charge", "notanumber")]);
    // Non-ASCII names must not panic.
    assert_eq!(device.set_var("drivé.x", "1"), Err(DeviceError::Unknown));
}

#[test]
fn set_values_come_back_as_upsd_reads_them() {
    // Facts §g: dummy-ups sends the new value to upsd unescaped; upsd keeps the
    // first word of that line. Observed with real upsd 2.8.0 + dummy-ups.
    let (mut device, mut host, mut nut) = first_state("a.dev", "ups.mfr: Vendor\nups.model: M\n");
    let mut after_set = |var: &str, value: &str| {
        device.set_var(var, value).unwrap();
        nut.apply(&device.update(&mut host).unwrap());
        nut.value(var).map(str::to_string)
    };
    assert_eq!(after_set("ups.mfr", "Hazel \"Test\" Mfr").as_deref(), Some("Hazel "));
    assert_eq!(after_set("ups.mfr", "a\\b").as_deref(), Some("ab"));
    assert_eq!(after_set("ups.mfr", "a\\\"b").as_deref(), Some("a\"b"));
    // Nothing before the inner quote: the variable stays, empty.
    assert_eq!(after_set("ups.mfr", "\"lead").as_deref(), Some(""));
    assert_eq!(after_set("ups.mfr", "d=e  two").as_deref(), Some("d=e  two"));
    // upsd cannot parse the line (`#` inside quotes) or it never ends: the old value stays.
    assert_eq!(after_set("ups.mfr", "a#b").as_deref(), Some("d=e  two"));
    assert_eq!(after_set("ups.mfr", "ends\\").as_deref(), Some("d=e  two"));
    // ups.status goes the same way.
    assert_eq!(after_set("ups.status", "OB \"LB\"").as_deref(), Some("OB "));
}

#[test]
fn once_mode_rereads_a_changed_file_and_keeps_what_it_no_longer_sets() {
    // Facts §g (g_edit_minimal.txt, g_touch_edge.txt).
    let (mut device, mut host, mut nut) =
        first_state("minimal.dev", "battery.charge: 100\nups.status: OL\nups.id: rack1\nups.mfr: Vendor\n");
    device.set_var("ups.id", "baz").unwrap();
    device.set_var("ups.status", "OB  LB").unwrap();
    device.set_var("ups.mfr", "NewUpsMfr").unwrap();
    nut.apply(&device.update(&mut host).unwrap());
    host.advance_seconds(5);
    assert_eq!(device.update(&mut host).unwrap(), vec![]);

    // Touched: the file's values overwrite the SET VAR ones; device.mfr is
    // not copied again.
    host.touch();
    nut.apply(&device.update(&mut host).unwrap());
    assert_eq!(nut.value("ups.id"), Some("rack1"));
    assert_eq!(nut.value("ups.status"), Some("OL"));
    assert_eq!(nut.value("ups.mfr"), Some("Vendor"));
    assert_eq!(nut.value("device.mfr"), Some("Vendor"));

    // Rewritten without battery.charge, ups.mfr and ups.id: they stay;
    // new lines appear with their flags.
    device.set_var("ups.id", "baz").unwrap();
    host.rewrite("ups.status: OB\nups.serial: added\n");
    let changes = device.update(&mut host).unwrap();
    assert_eq!(values(&changes), vec![set("ups.id", "baz"), set("ups.serial", "added"), set("ups.status", "OB")]);
    assert!(changes.contains(&rw_string("ups.serial", 32)));
    nut.apply(&changes);
    assert_eq!(nut.value("battery.charge"), Some("100"));
    assert_eq!(nut.value("ups.mfr"), Some("Vendor"));
    // Never copied after start-up.
    assert_eq!(nut.value("device.serial"), None);
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
}

#[test]
fn once_mode_does_not_reread_an_unchanged_file() {
    let (mut device, mut host, _) = first_state("a.dev", "ups.load: 1\n");
    device.set_var("ups.load", "2").unwrap();
    let reads = host.reads;
    for _ in 0..5 {
        host.advance_seconds(2);
        device.update(&mut host).unwrap();
    }
    assert_eq!(host.reads, reads);
    // A size change alone counts too.
    host.content = Some(b"ups.load: 10\n".to_vec());
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.load", "10")]);
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

    // Loop mode picks up edits at the start of the next pass, and keeps
    // what the new content no longer sets.
    host.rewrite("ups.status: OB\n");
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.status", "OB")]);
}

/// Run `file` in loop mode with `update` every `pollinterval` seconds
/// (each clock reading `jitter_ms(poll)` off the ideal tick), and return
/// how long each `ups.status` value stayed published, in seconds, over
/// the polls after the first full cycle.
fn status_hold_times(file: &str, pollinterval: u64, polls: u64, jitter_ms: impl Fn(u64) -> i64) -> Vec<(String, u64)> {
    let mut host = FakeHost::new("cycle.seq", file);
    let start_ms = host.now_ms;
    let mut device = open("cycle.seq", &mut host);
    let mut nut = Published::default();
    let mut changes_at: Vec<(u64, String)> = Vec::new();
    for poll in 0..polls {
        let ideal = start_ms + poll * pollinterval * 1000;
        host.now_ms = ideal.saturating_add_signed(jitter_ms(poll));
        nut.apply(&device.update(&mut host).unwrap());
        let status = nut.value("ups.status").unwrap().to_string();
        if changes_at.last().is_none_or(|(_, last)| *last != status) {
            changes_at.push((poll * pollinterval, status));
        }
    }
    changes_at.windows(2).skip(2).map(|pair| (pair[0].1.clone(), pair[1].0 - pair[0].0)).collect()
}

#[test]
fn timer_cycle_lengths_match_nut() {
    // Facts §i: a block ending in TIMER n lasts ceil(n / P) * P; the last
    // one before EOF one more P.
    let cycle = "ups.status: OL\nbattery.charge: 100\nTIMER 3\nups.status: OB\nbattery.charge: 90\nTIMER 3\n";
    let cycle2 = "ups.status: OL\nbattery.charge: 100\nTIMER 3\nups.status: OB\nbattery.charge: 90\nTIMER 5\n";
    let cases = [
        (cycle, 2, 4, 6),  // i_cycle_seq_pollinterval2.txt: period 10
        (cycle2, 1, 3, 6), // i_cycle2_pi1_timer3_5.txt: period 9
        (cycle, 5, 5, 10), // i_cycle5_pi5_timer3_3.txt: period 15
    ];
    // Polls exactly on time, and polls whose clock reading jitters by a few
    // milliseconds either way.
    let exact = |_: u64| 0;
    let jittery = |poll: u64| [3, -4, 0, -1, 2, -3][(poll % 6) as usize];
    for (file, pollinterval, ol, ob) in cases {
        for hold in
            [status_hold_times(file, pollinterval, 60, exact), status_hold_times(file, pollinterval, 60, jittery)]
        {
            assert!(hold.len() >= 6, "{hold:?}");
            for (status, seconds) in &hold {
                let expected = if status == "OL" { ol } else { ob };
                assert_eq!(*seconds, expected, "P={pollinterval} {status}: {hold:?}");
            }
        }
    }
}

#[test]
fn divisible_timer_with_early_polls_is_not_stretched() {
    // TIMER 2 at pollinterval 2: every block lasts exactly one poll
    // interval even when each clock reading comes 1 ms early.
    let file = "ups.status: OL\nTIMER 2\nups.status: OB\nTIMER 2\n";
    let hold = status_hold_times(file, 2, 40, |poll| if poll % 2 == 0 { 0 } else { -1 });
    for (status, seconds) in &hold {
        let expected = if status == "OL" { 2 } else { 4 };
        assert_eq!(*seconds, expected, "{status}: {hold:?}");
    }
}

#[test]
fn timer_pauses_until_the_clock_has_moved() {
    let seq = "ups.status: OL\nTIMER 60\nups.status: OB\nbattery.charge: 80\nTIMER 60\nups.status: OB LB\nTIMER 60\n";
    let mut host = FakeHost::new("ups.seq", seq);
    let mut device = open("ups.seq", &mut host);
    let first = device.update(&mut host).unwrap();
    assert!(first.contains(&set("ups.status", "OL")));
    assert!(!first.iter().any(|c| matches!(c, Change::SetValue(n, _) if n == "battery.charge")));

    // Polls during the pause return nothing and never block.
    host.advance_seconds(30);
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
    host.advance_seconds(29);
    assert_eq!(device.update(&mut host).unwrap(), vec![]);

    host.advance_seconds(1);
    let second = device.update(&mut host).unwrap();
    assert_eq!(values(&second), vec![set("battery.charge", "80"), set("ups.status", "OB")]);

    host.advance_seconds(60);
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.status", "OB LB")]);

    // Loop mode: after the last TIMER the end of the file takes one poll,
    // then the file starts over.
    host.advance_seconds(60);
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![]);
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.status", "OL")]);
}

#[test]
fn once_mode_honours_timer_but_does_not_loop() {
    let mut host = FakeHost::new("a.dev", "ups.load: 1\nTIMER 5\nups.load: 2\n");
    let mut device = open("a.dev", &mut host);
    assert!(has_value(&device.update(&mut host).unwrap(), "ups.load", "1"));
    host.advance_seconds(5);
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.load", "2")]);
    for _ in 0..5 {
        host.advance_seconds(5);
        assert_eq!(device.update(&mut host).unwrap(), vec![]);
    }
}

#[test]
fn alarm_keyword_lines_use_set_alarms_and_keep_the_status_verbatim() {
    let seq =
        "ups.status: OL CHRG\nALARM Replace battery!\nALARM Overheat\nALARM Overheat\nTIMER 10\nALARM\nTIMER 10\n";
    let mut host = FakeHost::new("a.seq", seq);
    let mut device = open("a.seq", &mut host);
    let mut nut = Published::default();
    let first = device.update(&mut host).unwrap();
    assert_eq!(first[0], Change::SetAlarms(vec!["Replace battery!".into(), "Overheat".into()]));
    assert_eq!(first[1], rw_string("ups.alarm", 32));
    nut.apply(&first);
    // The host set ups.alarm and rebuilt ups.status; the verbatim status
    // came after it.
    assert_eq!(nut.value("ups.alarm"), Some("Replace battery! Overheat"));
    assert_eq!(nut.type_words("ups.alarm").unwrap(), "RW STRING:32");
    assert_eq!(nut.value("ups.status"), Some("OL CHRG"));

    host.advance_seconds(10);
    let cleared = device.update(&mut host).unwrap();
    nut.apply(&cleared);
    assert_eq!(cleared[0], Change::SetAlarms(vec![]));
    assert_eq!(nut.value("ups.alarm"), None);
    assert_eq!(nut.value("ups.status"), Some("OL CHRG"));

    // Next loop: the same alarms again, without duplicates.
    host.advance_seconds(10);
    device.update(&mut host).unwrap();
    let again = device.update(&mut host).unwrap();
    nut.apply(&again);
    assert_eq!(again[0], Change::SetAlarms(vec!["Replace battery!".into(), "Overheat".into()]));
    assert_eq!(nut.value("ups.status"), Some("OL CHRG"));

    // A file's own ups.alarm survives the host's handling of set-alarms.
    let (_, _, nut) = first_state("b.dev", "ups.alarm: Fan failure\nALARM Overheat\n");
    assert_eq!(nut.value("ups.alarm"), Some("Fan failure"));
    assert_eq!(nut.value("ups.status"), Some("OL"));
}

#[test]
fn cmd_comments_are_plain_comments_by_default() {
    let file = "ups.status: OL\n#CMD:beeper.toggle\n#CMD:load.on\n#CMD:shutdown.stop\t#COMMENT: x\n";
    let (mut device, mut host, nut) = first_state("a.dev", file);
    assert_eq!(nut.commands, BTreeSet::from(["load.off".to_string()]));
    host.rewrite("ups.status: OL\n#CMD:test.battery.start\n");
    assert_eq!(device.update(&mut host).unwrap(), vec![]);
}

#[test]
fn cmd_comments_flag_advertises_the_file_commands() {
    let file = "ups.status: OL\n#CMD:beeper.toggle\n#CMD:load.off\n#CMD:shutdown.stop\t#COMMENT: x\n";
    let mut host = FakeHost::new("a.dev", file);
    let settings = settings::parse([("port", Some("a.dev")), ("cmd_comments", None)]).unwrap();
    let mut device = DummyDevice::open(settings, &mut host).unwrap();
    let mut nut = Published::default();
    nut.apply(&device.update(&mut host).unwrap());
    assert_eq!(nut.commands, BTreeSet::from(["beeper.toggle", "load.off", "shutdown.stop"].map(String::from)));
    // A new file version replaces the list; load.off always stays.
    host.rewrite("ups.status: OL\n#CMD:test.battery.start\n");
    let changes = device.update(&mut host).unwrap();
    assert_eq!(
        changes,
        vec![
            Change::RemoveCommand("beeper.toggle".into()),
            Change::RemoveCommand("shutdown.stop".into()),
            Change::AddCommand("test.battery.start".into()),
        ]
    );
}

#[test]
fn parse_problems_are_logged_once_with_line_numbers() {
    let mut host = FakeHost::new("a.seq", "a: 1\nb: \"bad#\"\nc 3\n");
    let mut device = open("a.seq", &mut host);
    for _ in 0..3 {
        device.update(&mut host).unwrap();
    }
    let warnings: Vec<&String> = host.log.iter().filter(|(l, _)| *l == LogLevel::Warn).map(|(_, m)| m).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("a.seq: line 2:"));
    assert!(warnings[1].starts_with("a.seq: line 3:"));
}

#[test]
fn missing_file_fails_init_and_vanishing_file_makes_data_stale() {
    let mut host = FakeHost::new("a.dev", "ups.load: 1\n");
    let settings = settings::parse([("port", Some("other.dev"))]).unwrap();
    assert!(matches!(DummyDevice::open(settings, &mut host), Err(DeviceError::Failed(m)) if m.contains("other.dev")));

    let mut device = open("a.dev", &mut host);
    device.update(&mut host).unwrap();
    host.content = None;
    assert!(matches!(device.update(&mut host), Err(DeviceError::Unreachable(_))));
    // Back with the same timestamp and size: re-read anyway.
    host.content = Some(b"ups.load: 2\n".to_vec());
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("ups.load", "2")]);
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
        let mut host = FakeHost::with_bytes("f.seq", &bytes);
        let mut device = open("f.seq", &mut host);
        for _ in 0..3 {
            let _ = device.update(&mut host);
            let _ = device.set_var("ups.status", "x");
            host.advance_seconds(1_000_000);
        }
    }
}

#[test]
fn huge_timer_does_not_overflow() {
    let mut host = FakeHost::new("a.seq", "TIMER 99999999999999999999999\nups.load: 1\n");
    let mut device = open("a.seq", &mut host);
    device.update(&mut host).unwrap();
    // A century later it is still paused.
    host.advance_seconds(100 * 365 * 24 * 3600);
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![]);
}

#[test]
fn duplicates_last_wins_and_first_spelling_stays() {
    // ef.dev, edge3.dev.
    let (mut device, mut host, nut) = first_state("a.dev", "Battery.Charge: 7\nbattery.charge: 8\nUPS.ID: x\n");
    assert_eq!(nut.spelling("battery.charge"), Some("Battery.Charge"));
    assert_eq!(nut.value("battery.charge"), Some("8"));
    // Table lookups ignore case too: UPS.ID is RW STRING:16.
    assert_eq!(nut.type_words("ups.id").unwrap(), "RW STRING:16");
    device.set_var("battery.CHARGE", "9").unwrap();
    assert_eq!(values(&device.update(&mut host).unwrap()), vec![set("Battery.Charge", "9")]);
}

#[test]
fn configured_mode_is_published_as_written() {
    let mut host = FakeHost::new("data.txt", "");
    let settings = settings::parse([("port", Some("data.txt")), ("mode", Some("dummy"))]).unwrap();
    let mut device = DummyDevice::open(settings, &mut host).unwrap();
    assert!(has_value(&device.update(&mut host).unwrap(), "driver.parameter.mode", "dummy"));
}

/// Behaviour observed in real NUT 2.8.0 (tests/nut-facts). The full
/// comparison with NUT's captures runs through the host, on the built
/// component: host/hazel/tests/dummy_matches_nut.rs.
mod conformance {
    use super::*;
    use std::path::PathBuf;

    fn repo_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn edge2_timer_in_a_dev_file_and_values_after_empty_ones() {
        // edge2.upsc.txt; its `ALARM something` line is a variable named
        // ALARM in NUT 2.8.0 but an alarm here (see Statement::Alarm).
        let file = repo_root().join("tests/nut-facts/inputs/edge2.dev");
        let content = std::fs::read(file).unwrap();
        let mut host = FakeHost::with_bytes("edge2.dev", &content);
        let mut device = open("edge2.dev", &mut host);
        let mut nut = Published::default();
        nut.apply(&device.update(&mut host).unwrap());
        assert_eq!(nut.value("after.timer"), None);
        for _ in 0..3 {
            host.advance_seconds(2);
            nut.apply(&device.update(&mut host).unwrap());
        }
        let expected = [
            ("after.timer", Some("yes")),
            ("battery.charge", Some("7")),
            ("device.mfr", Some("Dummy Manufacturer")),
            ("device.model", Some("Dummy UPS")),
            ("long.value", Some(&"L".repeat(127)[..])),
            ("tab.value", Some("A B")),
            // The file's own ups.alarm, not the ALARM line's text.
            ("ups.alarm", Some("7")),
            ("ups.status", Some("OL OL ob BOGUS")),
            ("ups.id", None),
            ("ups.test.result", None),
            ("ups.firmware", None),
        ];
        for (var, value) in expected {
            assert_eq!(nut.value(var), value, "{var}");
        }
        assert_eq!(nut.alarms, vec!["something".to_string()]);
    }
}
