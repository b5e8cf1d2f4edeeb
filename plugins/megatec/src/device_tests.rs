//! The device against a scripted fake line: detection, what each poll
//! publishes, failure counting, commands and the late shutdown.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::api::{Change, DeviceError, Host, LineError, LogLevel, ValueRange};
use crate::device::{FAILURES_BEFORE_STALE, KillMode, MegatecDevice};
use crate::settings;

const GOOD_Q1: &str = "(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r";
const GOOD_F: &str = "#220.0 003 24.00 50.0\r";
const GOOD_I: &str = "#Megatec         Model 1234 Fw 1.23   \r";

/// What the fake line answers to one command, in order.
type ScriptedReplies = VecDeque<Result<Vec<u8>, LineError>>;

/// A UPS that answers each command with its scripted replies in order (the
/// last one repeats), or nothing; it records what was sent.
#[derive(Default)]
struct FakeUps {
    replies: Vec<(String, ScriptedReplies)>,
    sent: Vec<String>,
    modem_lines: Option<(bool, bool)>,
    now_ms: u64,
}

impl FakeUps {
    fn answering(mut self, command: &str, reply: &str) -> Self {
        self.script(command, Ok(reply.as_bytes().to_vec()));
        self
    }

    fn script(&mut self, command: &str, reply: Result<Vec<u8>, LineError>) {
        match self.replies.iter_mut().find(|(c, _)| c == command) {
            Some((_, queue)) => queue.push_back(reply),
            None => self.replies.push((command.to_string(), VecDeque::from([reply]))),
        }
    }

    /// Replace a command's replies.
    fn set(&mut self, command: &str, reply: &str) {
        self.replies.retain(|(c, _)| c != command);
        self.script(command, Ok(reply.as_bytes().to_vec()));
    }

    fn good() -> Self {
        FakeUps::default().answering("Q1", GOOD_Q1).answering("F", GOOD_F).answering("I", GOOD_I)
    }
}

impl Host for FakeUps {
    fn transact(&mut self, command: &str, _timeout_ms: u32) -> Result<Vec<u8>, LineError> {
        self.sent.push(command.to_string());
        match self.replies.iter_mut().find(|(c, _)| c == command) {
            Some((_, queue)) if queue.len() > 1 => queue.pop_front().unwrap(),
            Some((_, queue)) => queue.front().cloned().unwrap(),
            None => Ok(Vec::new()),
        }
    }

    fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> Result<(), LineError> {
        self.modem_lines = Some((dtr, rts));
        Ok(())
    }

    fn monotonic_ms(&mut self) -> u64 {
        self.now_ms
    }

    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

fn open_with(ups: &mut FakeUps, options: &[(&str, Option<&str>)]) -> Result<MegatecDevice, DeviceError> {
    let mut pairs = vec![("port", Some("/dev/ttyS0"))];
    pairs.extend_from_slice(options);
    MegatecDevice::open(settings::parse(pairs)?, ups)
}

fn values(changes: &[Change]) -> Vec<(String, String)> {
    changes
        .iter()
        .filter_map(|change| match change {
            Change::SetValue(name, value) => Some((name.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

fn value(changes: &[Change], name: &str) -> Option<String> {
    values(changes).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn status(changes: &[Change]) -> Option<Vec<String>> {
    changes.iter().rev().find_map(|change| match change {
        Change::SetStatus(tokens) => Some(tokens.clone()),
        _ => None,
    })
}

fn alarms(changes: &[Change]) -> Option<Vec<String>> {
    changes.iter().rev().find_map(|change| match change {
        Change::SetAlarms(alarms) => Some(alarms.clone()),
        _ => None,
    })
}

#[test]
fn first_update_publishes_what_nutdrv_qx_does() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[]).unwrap();
    assert_eq!(ups.modem_lines, Some((true, false)));
    assert_eq!(device.identity(), (Some("Megatec".into()), Some("Model 1234".into()), None));
    let changes = device.update(&mut ups).unwrap();
    let mut published = values(&changes);
    published.sort();
    // `upsc` of nutdrv_qx 2.8.0 against the same replies (FACTS.md §1),
    // less what the host publishes itself (driver.name, driver.parameter.port, ...).
    let expected: Vec<(String, String)> = [
        ("battery.charge", "100"),
        ("battery.voltage", "27.50"),
        ("battery.voltage.high", "26.00"),
        ("battery.voltage.low", "20.80"),
        ("battery.voltage.nominal", "24.0"),
        ("device.mfr", "Megatec"),
        ("device.model", "Model 1234"),
        ("device.type", "ups"),
        ("driver.parameter.pollfreq", "30"),
        ("driver.version.data", "Megatec 0.06"),
        ("input.current.nominal", "3.0"),
        ("input.frequency", "49.0"),
        ("input.frequency.nominal", "50"),
        ("input.voltage", "226.0"),
        ("input.voltage.fault", "195.0"),
        ("input.voltage.nominal", "220"),
        ("output.voltage", "226.0"),
        ("ups.beeper.status", "disabled"),
        ("ups.delay.shutdown", "30"),
        ("ups.delay.start", "180"),
        ("ups.firmware", "Fw 1.23"),
        ("ups.load", "14"),
        ("ups.temperature", "30.0"),
        ("ups.type", "offline / line interactive"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(published, expected);
    assert_eq!(status(&changes), Some(vec!["OL".to_string()]));
    assert_eq!(alarms(&changes), Some(vec![]));
    let commands: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::AddCommand(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(commands, crate::device::COMMANDS);
    assert!(changes.contains(&Change::SetWritableNumber("ups.delay.start".into())));
    assert!(changes.contains(&Change::SetRanges("ups.delay.start".into(), vec![ValueRange { min: 0, max: 599_940 }])));
    assert!(changes.contains(&Change::SetRanges("ups.delay.shutdown".into(), vec![ValueRange { min: 12, max: 600 }])));
    // Nothing changed: nothing to say.
    assert_eq!(device.update(&mut ups).unwrap(), vec![]);
}

#[test]
fn detection_needs_q1_and_i_unless_novendor() {
    let mut silent = FakeUps::default();
    assert!(matches!(open_with(&mut silent, &[]), Err(DeviceError::Unreachable(m)) if m.contains("Q1")));
    let mut blank_id = FakeUps::good();
    blank_id.set("I", &alloc::format!("#{}\r", " ".repeat(38)));
    assert!(matches!(open_with(&mut blank_id, &[]), Err(DeviceError::Unreachable(m)) if m.contains("novendor")));
    // novendor and norating: neither I nor F is sent, and nothing from them published.
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[("novendor", None), ("norating", None)]).unwrap();
    assert!(!ups.sent.iter().any(|c| c == "I" || c == "F"), "{:?}", ups.sent);
    let changes = device.update(&mut ups).unwrap();
    for name in ["device.mfr", "input.voltage.nominal", "battery.voltage.nominal", "battery.charge"] {
        assert_eq!(value(&changes, name), None, "{name}");
    }
    // A missing F is tolerated.
    let mut no_f = FakeUps::default().answering("Q1", GOOD_Q1).answering("I", GOOD_I);
    assert!(open_with(&mut no_f, &[]).is_ok());
}

#[test]
fn status_flags_alarms_and_type() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[]).unwrap();
    device.update(&mut ups).unwrap();
    ups.set("Q1", "(226.0 195.0 226.0 014 49.0 27.5 30.0 11000000\r");
    assert_eq!(status(&device.update(&mut ups).unwrap()), Some(vec!["OB".into(), "LB".into()]));
    ups.set("Q1", "(226.0 195.0 226.0 014 49.0 27.5 30.0 00110111\r");
    let changes = device.update(&mut ups).unwrap();
    assert_eq!(status(&changes), Some(["OL", "BYPASS", "CAL", "FSD"].map(String::from).to_vec()));
    assert_eq!(alarms(&changes), Some(vec!["UPS selftest failed!".into(), "Shutdown imminent!".into()]));
    assert_eq!(value(&changes, "ups.beeper.status").as_deref(), Some("enabled"));
    // ups.type is set once; b3 changing later does not change it.
    assert_eq!(value(&changes, "ups.type"), None);
    ups.set("Q1", "(200.0 195.0 189.0 014 49.0 27.5 30.0 10101000\r");
    let changes = device.update(&mut ups).unwrap();
    assert_eq!(status(&changes), Some(vec!["OB".into(), "TRIM".into()]));
    assert_eq!(alarms(&changes), Some(vec![]));
    ups.set("Q1", "(200.0 195.0 210.0 014 49.0 27.5 30.0 00101001\r");
    assert_eq!(status(&device.update(&mut ups).unwrap()), Some(vec!["OL".into(), "BOOST".into()]));
}

#[test]
fn ignoresab_drops_fsd() {
    let mut ups = FakeUps::good().answering("Q1", "(226.0 195.0 226.0 014 49.0 27.5 30.0 00001010\r");
    ups.set("Q1", "(226.0 195.0 226.0 014 49.0 27.5 30.0 00001010\r");
    let mut device = open_with(&mut ups, &[("ignoresab", None)]).unwrap();
    let changes = device.update(&mut ups).unwrap();
    assert_eq!(status(&changes), Some(vec!["OL".into()]));
    assert_eq!(alarms(&changes), Some(vec![]));
}

#[test]
fn values_refresh_every_pollfreq_status_every_poll() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[("pollfreq", Some("30"))]).unwrap();
    device.update(&mut ups).unwrap();
    ups.set("Q1", "(230.0 195.0 226.0 014 49.0 27.5 30.0 10001000\r");
    ups.now_ms = 30_000;
    let quick = device.update(&mut ups).unwrap();
    assert_eq!(status(&quick), Some(vec!["OB".into()]));
    assert_eq!(value(&quick, "input.voltage"), None);
    ups.now_ms = 31_000;
    assert_eq!(value(&device.update(&mut ups).unwrap(), "input.voltage").as_deref(), Some("230.0"));
}

#[test]
fn a_bad_field_keeps_its_last_value() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[("pollfreq", Some("1"))]).unwrap();
    device.update(&mut ups).unwrap();
    ups.set("Q1", "(22a.0 111.0 226.0 014 49.0 27.5 30.0 00001000\r");
    ups.now_ms = 5_000;
    let changes = device.update(&mut ups).unwrap();
    assert_eq!(values(&changes), vec![("input.voltage.fault".to_string(), "111.0".to_string())]);
}

#[test]
fn stale_only_after_consecutive_failures_and_recovered_by_one_good_reply() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[]).unwrap();
    device.update(&mut ups).unwrap();
    let bad = ["", "(226.0 195.0\r", "Q1\r", "\u{1}\u{2}garbage\r", "(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000"];
    for (index, reply) in bad.iter().take(FAILURES_BEFORE_STALE as usize - 1).enumerate() {
        ups.set("Q1", reply);
        assert_eq!(device.update(&mut ups), Ok(vec![]), "failure {} ({reply:?}) keeps the data", index + 1);
    }
    ups.set("Q1", bad[4]);
    assert!(matches!(device.update(&mut ups), Err(DeviceError::Unreachable(_))));
    ups.script("Q1", Err(LineError::Unavailable("gone".into())));
    assert!(matches!(device.update(&mut ups), Err(DeviceError::Unreachable(_))));
    ups.set("Q1", GOOD_Q1);
    assert!(device.update(&mut ups).is_ok());
    assert_eq!(device.consecutive_failures(), 0);
    // The count starts over: a later single failure keeps the data again.
    ups.set("Q1", "");
    assert_eq!(device.update(&mut ups), Ok(vec![]));
    assert_eq!(device.consecutive_failures(), 1);
}

#[test]
fn charge_and_runtime_with_runtimecal() {
    let mut ups = FakeUps::good();
    ups.set("Q1", "(226.0 195.0 226.0 050 49.0 24.8 30.0 00001000\r");
    let mut device = open_with(&mut ups, &[("runtimecal", Some("240,100,720,50")), ("pollfreq", Some("1"))]).unwrap();
    let first = device.update(&mut ups).unwrap();
    assert_eq!(value(&first, "battery.charge").as_deref(), Some("77"));
    assert_eq!(value(&first, "battery.runtime"), None);
    ups.set("Q1", "(226.0 195.0 226.0 050 49.0 24.8 30.0 10001000\r");
    ups.now_ms = 2_000;
    let on_battery = device.update(&mut ups).unwrap();
    // 184.8 s at full load, drained 2 s at a third of full load; at 50 % it lasts three times as long.
    assert_eq!(value(&on_battery, "battery.runtime").as_deref(), Some("552"));
    // 76.7 % still prints as 77: unchanged, so not sent again.
    assert_eq!(value(&on_battery, "battery.charge"), None);
    ups.now_ms = 200_000;
    let later = device.update(&mut ups).unwrap();
    assert_eq!(value(&later, "battery.charge").as_deref(), Some("49"));
    assert_eq!(value(&later, "battery.runtime").as_deref(), Some("354"));
}

#[test]
fn instant_commands_send_nutdrv_qx_bytes() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[]).unwrap();
    for (name, argument, bytes) in [
        ("beeper.toggle", None, "Q"),
        ("load.off", None, "S00R0000"),
        ("load.on", None, "C"),
        ("shutdown.return", None, "S.5R0003"),
        ("shutdown.stayoff", None, "S.5R0000"),
        ("shutdown.stop", None, "C"),
        ("test.battery.start.deep", None, "TL"),
        ("test.battery.start.quick", None, "T"),
        ("test.battery.stop", None, "CT"),
        ("test.battery.start", None, "T10"),
        ("test.battery.start", Some("120"), "T02"),
    ] {
        device.instcmd(name, argument, &mut ups).unwrap();
        assert_eq!(ups.sent.last().map(String::as_str), Some(bytes), "{name} {argument:?}");
    }
    let before = ups.sent.len();
    assert!(matches!(device.instcmd("test.battery.start", Some("59"), &mut ups), Err(DeviceError::Failed(_))));
    assert_eq!(device.instcmd("outlet.1.load.off", None, &mut ups), Err(DeviceError::Unknown));
    assert_eq!(ups.sent.len(), before, "nothing sent for refused commands");
    // An echo is the UPS saying it does not support the command.
    ups.set("Q", "Q\r");
    assert!(
        matches!(device.instcmd("beeper.toggle", None, &mut ups), Err(DeviceError::Failed(m)) if m.contains("echoed"))
    );
}

#[test]
fn configured_and_written_delays_shape_the_shutdown_commands() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[("ondelay", Some("100")), ("offdelay", Some("45"))]).unwrap();
    assert_eq!(device.command_bytes("shutdown.return", None).unwrap(), "S.7R0001");
    let changes = device.update(&mut ups).unwrap();
    assert_eq!(value(&changes, "ups.delay.shutdown").as_deref(), Some("42"));
    assert_eq!(value(&changes, "ups.delay.start").as_deref(), Some("60"));

    device.set_var("ups.delay.shutdown", "119").unwrap();
    device.set_var("ups.delay.start", "59").unwrap();
    assert_eq!(device.command_bytes("shutdown.return", None).unwrap(), "S01");
    assert_eq!(device.command_bytes("shutdown.stayoff", None).unwrap(), "S01R0000");
    ups.now_ms = 60_000;
    let changes = device.update(&mut ups).unwrap();
    assert_eq!(value(&changes, "ups.delay.shutdown").as_deref(), Some("60"));
    assert_eq!(value(&changes, "ups.delay.start").as_deref(), Some("0"));
    assert!(matches!(device.set_var("ups.delay.shutdown", "601"), Err(DeviceError::Invalid(_))));
    assert!(matches!(device.set_var("ups.delay.start", "abc"), Err(DeviceError::Invalid(_))));
    assert_eq!(device.set_var("ups.load", "1"), Err(DeviceError::Unknown));
}

#[test]
fn kill_power_cancels_then_sends_the_shutdown() {
    let mut ups = FakeUps::good();
    let mut device = open_with(&mut ups, &[]).unwrap();
    let start = ups.sent.len();
    device.kill_power(KillMode::ReturnOnMains, &mut ups).unwrap();
    device.kill_power(KillMode::StayOff, &mut ups).unwrap();
    assert_eq!(ups.sent[start..], ["C", "S.5R0003", "C", "S.5R0000"]);
    // Retried while the port fails, then reported.
    ups.script("S.5R0003", Err(LineError::Io("broken".into())));
    let start = ups.sent.len();
    assert!(matches!(device.kill_power(KillMode::ReturnOnMains, &mut ups), Err(DeviceError::Failed(_))));
    assert_eq!(ups.sent[start..], ["C", "S.5R0003", "S.5R0003", "S.5R0003"]);
}

#[test]
fn a_megatec_ups_cycles_its_load_on_mains_too() {
    // S<n>R<m> acts whatever the line state (NUT's power-race notes): the late host need not
    // reboot a halted machine to guard against mains coming back.
    let mut ups = FakeUps::good();
    let device = open_with(&mut ups, &[]).unwrap();
    assert_eq!(device.cycles_on_mains(), crate::api::CyclesOnMains::Yes);
}

#[test]
fn battery_limits_from_ups_conf_set_the_charge_and_are_left_to_the_host_to_publish() {
    let mut ups = FakeUps::good();
    ups.set("Q1", "(226.0 195.0 226.0 014 49.0 24.5 30.0 00001000\r");
    let mut guessed = open_with(&mut ups, &[]).unwrap();
    let first = guessed.update(&mut ups).unwrap();
    // 24 V nominal from F: limits guessed as 20.80-26.00 V and published.
    assert_eq!(value(&first, "battery.charge").as_deref(), Some("71"));
    assert_eq!(value(&first, "battery.voltage.low").as_deref(), Some("20.80"));

    let limits = [("default.battery.voltage.high", Some("27.0")), ("default.battery.voltage.low", Some("22.0"))];
    let mut configured = open_with(&mut ups, &limits).unwrap();
    let first = configured.update(&mut ups).unwrap();
    assert_eq!(value(&first, "battery.charge").as_deref(), Some("50"));
    assert_eq!(value(&first, "battery.voltage.low"), None, "the host publishes ups.conf's value as written");
    assert_eq!(value(&first, "battery.voltage.high"), None);
    assert_eq!(value(&first, "battery.voltage.nominal").as_deref(), Some("24.0"), "F's nominal");
}
