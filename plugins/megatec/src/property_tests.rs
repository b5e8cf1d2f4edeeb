//! Property tests: whatever bytes the line delivers in reply to `Q1`, `F`
//! and `I` (or whatever error the port reports), the plugin never panics,
//! and each poll counts as a success or a failure exactly as the retry rule
//! says: a poll fails when its `Q1` reply does not parse, the data goes stale
//! (`Unreachable`) from the [`FAILURES_BEFORE_STALE`]th failure in a row,
//! and one good reply resets the count.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use proptest::prelude::*;

use crate::api::{Change, DeviceError, Host, LineError, LogLevel};
use crate::device::{FAILURES_BEFORE_STALE, MegatecDevice};
use crate::protocol::{self, parse_identity, parse_ratings, parse_status};
use crate::settings;

const GOOD_Q1: &[u8] = b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r";
const GOOD_F: &[u8] = b"#220.0 003 24.00 50.0\r";
const GOOD_I: &[u8] = b"#Megatec         Model 1234 Fw 1.23   \r";

/// One thing the line can do in answer to a command.
type Answer = Result<Vec<u8>, LineError>;

/// A line that answers each command from its own queue (then silence), and
/// advances the clock a second per exchange so full updates happen too.
#[derive(Default)]
struct ScriptedLine {
    q1: VecDeque<Answer>,
    f: VecDeque<Answer>,
    i: VecDeque<Answer>,
    other: VecDeque<Answer>,
    now_ms: u64,
}

impl Host for ScriptedLine {
    fn transact(&mut self, command: &str, _timeout_ms: u32) -> Result<Vec<u8>, LineError> {
        self.now_ms += 1000;
        let queue = match command {
            protocol::STATUS_QUERY => &mut self.q1,
            protocol::RATINGS_QUERY => &mut self.f,
            protocol::IDENTITY_QUERY => &mut self.i,
            _ => &mut self.other,
        };
        queue.pop_front().unwrap_or(Ok(Vec::new()))
    }

    fn set_modem_lines(&mut self, _dtr: bool, _rts: bool) -> Result<(), LineError> {
        Ok(())
    }

    fn monotonic_ms(&mut self) -> u64 {
        self.now_ms
    }

    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

/// Arbitrary bytes, biased towards what a Megatec line sends: replies that
/// start right, end in `\r`, have the right length, or mutate a good reply.
fn reply_bytes(good: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        proptest::collection::vec(any::<u8>(), 0..60).prop_map(|mut bytes| {
            bytes.insert(0, good[0]);
            bytes.push(b'\r');
            bytes
        }),
        (proptest::collection::vec((0..good.len(), any::<u8>()), 1..6), 0..=good.len()).prop_map(
            move |(edits, keep)| {
                let mut bytes = good.to_vec();
                for (position, byte) in edits {
                    bytes[position] = byte;
                }
                bytes.truncate(keep.max(1));
                bytes
            }
        ),
        // Digits, spaces, dots and status bits in every position: numbers and flags that parse oddly.
        proptest::collection::vec(prop::sample::select(b"0123456789. -+e1naif".to_vec()), 45..50).prop_map(
            move |mut bytes| {
                bytes.insert(0, good[0]);
                bytes.push(b'\r');
                bytes
            }
        ),
        Just(good.to_vec()),
    ]
}

/// What the port does: mostly replies, sometimes an error.
fn answer(good: &'static [u8]) -> impl Strategy<Value = Answer> {
    prop_oneof![
        8 => reply_bytes(good).prop_map(Ok),
        1 => ".*".prop_map(|message: String| Err(LineError::Unavailable(message))),
        1 => ".*".prop_map(|message: String| Err(LineError::Io(message))),
    ]
}

fn parses_as_status(answer: &Answer) -> bool {
    matches!(answer, Ok(bytes) if parse_status(bytes).is_ok())
}

fn open(line: &mut ScriptedLine, options: &[(&str, Option<&str>)]) -> Result<MegatecDevice, DeviceError> {
    let mut pairs = alloc::vec![("port", Some("/dev/ttyS0")), ("pollfreq", Some("1"))];
    pairs.extend_from_slice(options);
    MegatecDevice::open(settings::parse(pairs).expect("valid settings"), line)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_parsers_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = parse_status(&bytes);
        let _ = parse_ratings(&bytes);
        let _ = parse_identity(&bytes);
    }

    #[test]
    fn detection_takes_any_replies(
        q1 in proptest::collection::vec(answer(GOOD_Q1), 0..4),
        f in proptest::collection::vec(answer(GOOD_F), 0..4),
        i in proptest::collection::vec(answer(GOOD_I), 0..4),
        polls in proptest::collection::vec(answer(GOOD_Q1), 0..4),
    ) {
        let detected = q1.iter().take(3).any(parses_as_status);
        let mut line = ScriptedLine { q1: q1.into(), f: f.into(), i: i.into(), ..ScriptedLine::default() };
        match open(&mut line, &[]) {
            Ok(mut device) => {
                prop_assert!(detected, "detected without a valid Q1 reply in three attempts");
                line.q1 = polls.into();
                for _ in 0..4 {
                    let _ = device.update(&mut line);
                }
            }
            Err(error) => prop_assert!(matches!(error, DeviceError::Unreachable(_)), "{error:?}"),
        }
    }

    #[test]
    fn every_poll_counts_per_the_retry_rule(
        polls in proptest::collection::vec(answer(GOOD_Q1), 1..24),
        runtimecal in any::<bool>(),
    ) {
        let mut line = ScriptedLine::default();
        line.q1.push_back(Ok(GOOD_Q1.to_vec()));
        line.f.push_back(Ok(GOOD_F.to_vec()));
        line.i.push_back(Ok(GOOD_I.to_vec()));
        let options: &[(&str, Option<&str>)] = if runtimecal { &[("runtimecal", Some("240,100,720,50"))] } else { &[] };
        let mut device = open(&mut line, options).expect("a good UPS is detected");
        // The first update publishes what detection found.
        line.q1.push_back(Ok(GOOD_Q1.to_vec()));
        prop_assert!(device.update(&mut line).is_ok());
        let mut failures = 0;
        for poll in polls {
            let good = parses_as_status(&poll);
            line.q1.push_back(poll);
            let result = device.update(&mut line);
            failures = if good { 0 } else { failures + 1 };
            prop_assert_eq!(device.consecutive_failures(), failures);
            match result {
                Ok(changes) if !good => {
                    prop_assert!(failures < FAILURES_BEFORE_STALE);
                    prop_assert_eq!(changes, Vec::<Change>::new(), "a failed poll keeps the data as it is");
                }
                Ok(_) => {}
                Err(DeviceError::Unreachable(_)) => prop_assert!(failures >= FAILURES_BEFORE_STALE),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }

    #[test]
    fn commands_take_any_reply(reply in answer(b"S.5R0003\r"), name in prop::sample::select(crate::device::COMMANDS)) {
        let mut line = ScriptedLine::default();
        line.q1.push_back(Ok(GOOD_Q1.to_vec()));
        line.i.push_back(Ok(GOOD_I.to_vec()));
        let mut device = open(&mut line, &[]).expect("a good UPS is detected");
        let bytes = device.command_bytes(name, Some("600")).expect("a known command");
        let echoed = matches!(&reply, Ok(r) if r.strip_suffix(b"\r") == Some(bytes.as_bytes()));
        let port_failed = reply.is_err();
        line.other.push_back(reply);
        match device.instcmd(name, Some("600"), &mut line) {
            Ok(()) => prop_assert!(!echoed && !port_failed),
            Err(DeviceError::Failed(_)) => prop_assert!(echoed || port_failed),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
