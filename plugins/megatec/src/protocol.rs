//! The Megatec "Q1" protocol: parsing the `Q1` (status), `F` (ratings) and
//! `I` (identification) replies, and the bytes of each command.
//!
//! Replies are fixed-width ASCII read by position (drivers.md §(b)). A reply
//! that cannot be a status reply at all (wrong start, too short, no `\r`,
//! the command echoed back, a status bit that is not `0`/`1`) is an error
//! the caller counts; a single numeric field that does not parse is left
//! out, and the previously published value stays (as nutdrv_qx does).

use alloc::format;
use alloc::string::{String, ToString};

/// The status query.
pub const STATUS_QUERY: &str = "Q1";
/// The ratings query.
pub const RATINGS_QUERY: &str = "F";
/// The identification query.
pub const IDENTITY_QUERY: &str = "I";

/// Characters before the `\r` of a complete `Q1` reply:
/// `(MMM.M NNN.N PPP.P QQQ RR.R S.SS TT.T b7b6b5b4b3b2b1b0`.
pub const STATUS_REPLY_LEN: usize = 46;
/// Characters before the `\r` of a complete `F` reply: `#MMM.M QQQ SS.SS RR.R`.
pub const RATINGS_REPLY_LEN: usize = 21;
/// Characters before the `\r` of a complete `I` reply: `#`, company (15),
/// space, model (10), space, firmware (10).
pub const IDENTITY_REPLY_LEN: usize = 38;

/// Why a reply was not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// Nothing arrived.
    NoReply,
    /// The reply did not end with `\r` (cut short, or noise without end).
    Unterminated(usize),
    /// The UPS echoed the command back: it does not support it.
    Echoed,
    /// The reply does not start as this kind of reply must.
    WrongStart(u8),
    /// The reply is shorter than this kind of reply (characters before `\r`).
    TooShort(usize),
    /// A status bit (0-based position in the reply) is not `0` or `1`.
    BadStatusBit(usize),
    /// The bypass/boost/buck bit is set but output and input voltages do
    /// not tell which (input 0, or output below half the input).
    UnclassifiableBypass,
    /// The identification fields are all blank.
    Blank,
}

impl core::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReplyError::NoReply => f.write_str("no reply"),
            ReplyError::Unterminated(len) => write!(f, "reply cut short ({len} bytes, no CR)"),
            ReplyError::Echoed => f.write_str("command echoed back (not supported by the UPS)"),
            ReplyError::WrongStart(byte) => write!(f, "reply starts with byte 0x{byte:02x}"),
            ReplyError::TooShort(len) => write!(f, "reply too short ({len} characters)"),
            ReplyError::BadStatusBit(position) => write!(f, "status bit at position {position} is not 0/1"),
            ReplyError::UnclassifiableBypass => f.write_str("bypass/boost/buck bit set with implausible voltages"),
            ReplyError::Blank => f.write_str("identification is blank"),
        }
    }
}

/// What the bypass/boost/buck bit means, decided from output/input voltage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regulation {
    /// Output below 95 % of input: bucking (`TRIM`).
    Trim,
    /// Output within 5 % of input: on bypass (`BYPASS`).
    Bypass,
    /// Output 105 % of input or more: boosting (`BOOST`).
    Boost,
}

/// A parsed `Q1` reply. Numeric fields are `None` when they did not parse.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusReply {
    /// `input.voltage` (positions 1–5).
    pub input_voltage: Option<f64>,
    /// `input.voltage.fault` (7–11).
    pub input_voltage_fault: Option<f64>,
    /// `output.voltage` (13–17).
    pub output_voltage: Option<f64>,
    /// `ups.load`, percent (19–21).
    pub load: Option<f64>,
    /// `input.frequency` (23–26).
    pub input_frequency: Option<f64>,
    /// `battery.voltage` (28–31).
    pub battery_voltage: Option<f64>,
    /// `ups.temperature` (33–36).
    pub temperature: Option<f64>,
    /// b7: utility failed (on battery).
    pub utility_fail: bool,
    /// b6: battery low.
    pub battery_low: bool,
    /// b5 with the voltages: what the regulation is doing, if active.
    pub regulation: Option<Regulation>,
    /// b4: the UPS failed (its self test).
    pub ups_failed: bool,
    /// b3: 1 for an offline / line-interactive UPS, 0 for online.
    pub line_interactive: bool,
    /// b2: a battery test is in progress.
    pub test_in_progress: bool,
    /// b1: a shutdown is active.
    pub shutdown_active: bool,
    /// b0: the beeper is on; `None` when that character is not `0`/`1`
    /// (nutdrv_qx accepts such a reply and leaves the beeper status alone).
    pub beeper_on: Option<bool>,
}

/// The body of a reply: without the `\r`, checked for echo and emptiness.
fn reply_body<'a>(reply: &'a [u8], command: &str) -> Result<&'a [u8], ReplyError> {
    let Some((&last, body)) = reply.split_last() else {
        return Err(ReplyError::NoReply);
    };
    if last != b'\r' {
        return Err(ReplyError::Unterminated(reply.len()));
    }
    if body == command.as_bytes() {
        return Err(ReplyError::Echoed);
    }
    if body.is_empty() {
        return Err(ReplyError::TooShort(0));
    }
    Ok(body)
}

/// The fixed-width field at `start..=end`, as a number; `None` when it is
/// not one (anything but digits, one dot and a leading minus, once trimmed).
fn number_at(body: &[u8], start: usize, end: usize) -> Option<f64> {
    let field = core::str::from_utf8(body.get(start..=end)?).ok()?.trim();
    let digits = field.strip_prefix('-').unwrap_or(field);
    let plausible = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    if plausible { field.parse().ok() } else { None }
}

fn bit_at(body: &[u8], position: usize) -> Result<bool, ReplyError> {
    match body.get(position) {
        Some(b'0') => Ok(false),
        Some(b'1') => Ok(true),
        _ => Err(ReplyError::BadStatusBit(position)),
    }
}

/// Which regulation the b5 bit means, from output and input voltage:
/// below half the input the reply is not believable.
pub fn classify_regulation(output_voltage: f64, input_voltage: f64) -> Option<Regulation> {
    if input_voltage <= 0.0 {
        return None;
    }
    let ratio = output_voltage / input_voltage;
    if ratio < 0.5 {
        None
    } else if ratio < 0.95 {
        Some(Regulation::Trim)
    } else if ratio < 1.05 {
        Some(Regulation::Bypass)
    } else {
        Some(Regulation::Boost)
    }
}

/// Parse a `Q1` reply (with its `\r`).
///
/// # Errors
///
/// A [`ReplyError`] when the reply is not a usable status reply.
pub fn parse_status(reply: &[u8]) -> Result<StatusReply, ReplyError> {
    let body = reply_body(reply, STATUS_QUERY)?;
    if body[0] != b'(' {
        return Err(ReplyError::WrongStart(body[0]));
    }
    if body.len() < STATUS_REPLY_LEN {
        return Err(ReplyError::TooShort(body.len()));
    }
    let input_voltage = number_at(body, 1, 5);
    let output_voltage = number_at(body, 13, 17);
    let regulation = if bit_at(body, 40)? {
        match (output_voltage, input_voltage) {
            (Some(output), Some(input)) => {
                Some(classify_regulation(output, input).ok_or(ReplyError::UnclassifiableBypass)?)
            }
            _ => return Err(ReplyError::UnclassifiableBypass),
        }
    } else {
        None
    };
    Ok(StatusReply {
        input_voltage,
        input_voltage_fault: number_at(body, 7, 11),
        output_voltage,
        load: number_at(body, 19, 21),
        input_frequency: number_at(body, 23, 26),
        battery_voltage: number_at(body, 28, 31),
        temperature: number_at(body, 33, 36),
        utility_fail: bit_at(body, 38)?,
        battery_low: bit_at(body, 39)?,
        regulation,
        ups_failed: bit_at(body, 41)?,
        line_interactive: bit_at(body, 42)?,
        test_in_progress: bit_at(body, 43)?,
        shutdown_active: bit_at(body, 44)?,
        beeper_on: bit_at(body, 45).ok(),
    })
}

/// A parsed `F` reply. Fields are `None` when they did not parse.
#[derive(Clone, Debug, PartialEq)]
pub struct Ratings {
    /// `input.voltage.nominal` (positions 1–5).
    pub input_voltage: Option<f64>,
    /// `input.current.nominal` (7–9).
    pub input_current: Option<f64>,
    /// `battery.voltage.nominal` (11–15).
    pub battery_voltage: Option<f64>,
    /// `input.frequency.nominal` (17–20).
    pub input_frequency: Option<f64>,
}

/// Parse an `F` reply (with its `\r`).
///
/// # Errors
///
/// A [`ReplyError`] when the reply is not a ratings reply.
pub fn parse_ratings(reply: &[u8]) -> Result<Ratings, ReplyError> {
    let body = reply_body(reply, RATINGS_QUERY)?;
    if body[0] != b'#' {
        return Err(ReplyError::WrongStart(body[0]));
    }
    if body.len() < RATINGS_REPLY_LEN {
        return Err(ReplyError::TooShort(body.len()));
    }
    Ok(Ratings {
        input_voltage: number_at(body, 1, 5),
        input_current: number_at(body, 7, 9),
        battery_voltage: number_at(body, 11, 15),
        input_frequency: number_at(body, 17, 20),
    })
}

/// A parsed `I` reply; blank fields are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `device.mfr` (positions 1–15).
    pub manufacturer: Option<String>,
    /// `device.model` (17–26).
    pub model: Option<String>,
    /// `ups.firmware` (28–37).
    pub firmware: Option<String>,
}

fn text_at(body: &[u8], start: usize, end: usize) -> Option<String> {
    let bytes = body.get(start..=end.min(body.len() - 1))?;
    let text: String = bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' }).collect();
    let text = text.trim();
    if text.is_empty() { None } else { Some(text.to_string()) }
}

/// Parse an `I` reply (with its `\r`).
///
/// # Errors
///
/// A [`ReplyError`] when the reply is not an identification reply, or is
/// blank (nutdrv_qx then refuses the device).
pub fn parse_identity(reply: &[u8]) -> Result<Identity, ReplyError> {
    let body = reply_body(reply, IDENTITY_QUERY)?;
    if body[0] != b'#' {
        return Err(ReplyError::WrongStart(body[0]));
    }
    if body.len() < IDENTITY_REPLY_LEN {
        return Err(ReplyError::TooShort(body.len()));
    }
    let identity =
        Identity { manufacturer: text_at(body, 1, 15), model: text_at(body, 17, 26), firmware: text_at(body, 28, 37) };
    if identity.manufacturer.is_none() && identity.model.is_none() && identity.firmware.is_none() {
        return Err(ReplyError::Blank);
    }
    Ok(identity)
}

/// `offdelay` as the UPS can do it: whole 6 s steps below a minute, whole
/// minutes from 60 s on (what nutdrv_qx publishes as `ups.delay.shutdown`).
pub fn round_offdelay(seconds: u32) -> u32 {
    if seconds < 60 { seconds / 6 * 6 } else { seconds / 60 * 60 }
}

/// `ondelay` as the UPS can do it: whole minutes.
pub fn round_ondelay(seconds: u32) -> u32 {
    seconds / 60 * 60
}

/// The `S<n>` part: `.2`..`.9` tenths of a minute below 60 s, else two-digit
/// minutes.
fn offdelay_field(offdelay: u32) -> String {
    if offdelay < 60 { format!(".{}", offdelay / 6) } else { format!("{:02}", offdelay / 60) }
}

/// `shutdown.return`: `S<n>R<mmmm>`, or `S<n>` alone when `ondelay` is
/// under a minute.
pub fn shutdown_return_command(offdelay: u32, ondelay: u32) -> String {
    let minutes = ondelay / 60;
    if minutes == 0 {
        format!("S{}", offdelay_field(offdelay))
    } else {
        format!("S{}R{:04}", offdelay_field(offdelay), minutes.min(9999))
    }
}

/// `shutdown.stayoff`: `S<n>R0000`.
pub fn shutdown_stayoff_command(offdelay: u32) -> String {
    format!("S{}R0000", offdelay_field(offdelay))
}

/// Seconds `test.battery.start` runs for when given no argument.
pub const DEFAULT_TEST_SECONDS: i64 = 600;
/// Shortest and longest `test.battery.start`, in seconds.
pub const TEST_SECONDS_RANGE: (i64, i64) = (60, 5940);

/// Leading integer of `text` as C's `strtol` reads it: leading blanks, a
/// sign, digits; anything after is ignored and no digits is 0.
fn leading_integer(text: &str) -> i64 {
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, digit| acc.saturating_mul(10).saturating_add(i64::from(digit - b'0')));
    if negative { -value } else { value }
}

/// `test.battery.start [seconds]`: `T<mm>` for whole minutes.
///
/// # Errors
///
/// A message when the duration is outside 60–5940 s.
pub fn battery_test_command(argument: Option<&str>) -> Result<String, String> {
    let seconds = argument.map_or(DEFAULT_TEST_SECONDS, leading_integer);
    let (min, max) = TEST_SECONDS_RANGE;
    if !(min..=max).contains(&seconds) {
        return Err(format!("battery test time '{seconds}' out of range [{min}..{max}] seconds"));
    }
    Ok(format!("T{:02}", seconds / 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_Q1: &[u8] = b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r";

    fn q1(fields: &str) -> alloc::vec::Vec<u8> {
        format!("({fields}\r").into_bytes()
    }

    #[test]
    fn good_status_reply() {
        let status = parse_status(GOOD_Q1).unwrap();
        assert_eq!(status.input_voltage, Some(226.0));
        assert_eq!(status.input_voltage_fault, Some(195.0));
        assert_eq!(status.output_voltage, Some(226.0));
        assert_eq!(status.load, Some(14.0));
        assert_eq!(status.input_frequency, Some(49.0));
        assert_eq!(status.battery_voltage, Some(27.5));
        assert_eq!(status.temperature, Some(30.0));
        assert!(!status.utility_fail && !status.battery_low && !status.ups_failed);
        assert!(status.line_interactive && !status.test_in_progress && !status.shutdown_active);
        assert_eq!((status.regulation, status.beeper_on), (None, Some(false)));
    }

    #[test]
    fn every_status_bit() {
        let status = parse_status(&q1("226.0 195.0 226.0 014 49.0 27.5 30.0 11110111")).unwrap();
        assert!(status.utility_fail && status.battery_low && status.ups_failed);
        assert!(!status.line_interactive && status.test_in_progress && status.shutdown_active);
        assert_eq!((status.regulation, status.beeper_on), (Some(Regulation::Bypass), Some(true)));
    }

    #[test]
    fn truncated_missing_and_echoed_replies_fail() {
        assert_eq!(parse_status(b""), Err(ReplyError::NoReply));
        assert_eq!(parse_status(b"(226.0 195.0\r"), Err(ReplyError::TooShort(12)));
        assert_eq!(parse_status(&GOOD_Q1[..46]), Err(ReplyError::Unterminated(46)));
        assert_eq!(parse_status(b"Q1\r"), Err(ReplyError::Echoed));
        assert_eq!(parse_status(b"\r"), Err(ReplyError::TooShort(0)));
        assert_eq!(parse_ratings(b"\r"), Err(ReplyError::TooShort(0)));
        assert_eq!(parse_identity(b"\r"), Err(ReplyError::TooShort(0)));
        // One status bit missing: 45 characters.
        assert_eq!(parse_status(&q1("226.0 195.0 226.0 014 49.0 27.5 30.0 1000100")), Err(ReplyError::TooShort(45)));
        // No opening parenthesis.
        assert_eq!(parse_status(b"226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r"), Err(ReplyError::WrongStart(b'2')));
    }

    #[test]
    fn garbage_and_noise_fail_without_panicking() {
        for reply in [
            &b"\xff\xfe\x00\r"[..],
            b"((((((((((((((((((((((((((((((((((((((((((((((((\r",
            b"(\r",
            b"#220.0 003 24.00 50.0\r",
            &[0u8; 200][..],
        ] {
            assert!(parse_status(reply).is_err(), "{reply:?}");
        }
        // A shifted field (two spaces) moves the status bits: refused.
        assert_eq!(
            parse_status(&q1("226.0  111.0 226.0 014 49.0 27.5 30.0 10001000")),
            Err(ReplyError::BadStatusBit(38))
        );
    }

    #[test]
    fn bad_bits_b7_to_b1_fail_but_a_bad_beeper_bit_is_ignored() {
        for (bits, position) in [("X0001000", 38), ("0X001001", 39), ("10X01001", 40), ("00001X01", 43)] {
            let reply = q1(&format!("226.0 111.0 226.0 014 49.0 27.5 30.0 {bits}"));
            assert_eq!(parse_status(&reply), Err(ReplyError::BadStatusBit(position)), "{bits}");
        }
        let status = parse_status(&q1("226.0 195.0 226.0 014 49.0 27.5 30.0 1000100X")).unwrap();
        assert!(status.utility_fail);
        assert_eq!(status.beeper_on, None);
    }

    #[test]
    fn a_bad_numeric_field_is_left_out_and_the_rest_kept() {
        let status = parse_status(&q1("22a.0 111.0 226.0 014 49.0 27.5 30.0 00001000")).unwrap();
        assert_eq!((status.input_voltage, status.input_voltage_fault), (None, Some(111.0)));
        let status = parse_status(&q1("226.0 195.0 226.0 --- 49.0 27.5 -5.0 00001000")).unwrap();
        assert_eq!((status.load, status.temperature), (None, Some(-5.0)));
    }

    #[test]
    fn trailing_extra_characters_are_ignored() {
        let status = parse_status(&q1("226.0 111.0 226.0 014 49.0 27.5 30.0 10001000 extra")).unwrap();
        assert!(status.utility_fail);
        assert_eq!(status.input_voltage_fault, Some(111.0));
    }

    #[test]
    fn regulation_from_output_over_input() {
        // Thresholds observed on nutdrv_qx with input 200.0 V.
        for (output, expected) in [
            (100.0, Some(Regulation::Trim)),
            (189.0, Some(Regulation::Trim)),
            (190.0, Some(Regulation::Bypass)),
            (209.0, Some(Regulation::Bypass)),
            (210.0, Some(Regulation::Boost)),
            (300.0, Some(Regulation::Boost)),
            (99.0, None),
        ] {
            assert_eq!(classify_regulation(output, 200.0), expected, "{output}");
        }
        assert_eq!(classify_regulation(230.0, 0.0), None);
        assert_eq!(
            parse_status(&q1("200.0 195.0 099.0 014 49.0 27.5 30.0 00101000")),
            Err(ReplyError::UnclassifiableBypass)
        );
        assert_eq!(
            parse_status(&q1("000.0 195.0 230.0 014 49.0 27.5 30.0 00101000")),
            Err(ReplyError::UnclassifiableBypass)
        );
        // Without the bit, low output is just a number.
        assert_eq!(parse_status(&q1("200.0 195.0 000.0 014 49.0 27.5 30.0 00001000")).unwrap().regulation, None);
    }

    #[test]
    fn ratings_reply() {
        let ratings = parse_ratings(b"#220.0 003 24.00 50.0\r").unwrap();
        assert_eq!(
            ratings,
            Ratings {
                input_voltage: Some(220.0),
                input_current: Some(3.0),
                battery_voltage: Some(24.0),
                input_frequency: Some(50.0)
            }
        );
        assert_eq!(parse_ratings(b"#220.0 003\r"), Err(ReplyError::TooShort(10)));
        assert_eq!(parse_ratings(b"F\r"), Err(ReplyError::Echoed));
        assert_eq!(parse_ratings(b"(220.0 003 24.00 50.0\r"), Err(ReplyError::WrongStart(b'(')));
        assert_eq!(parse_ratings(b"#2x0.0 003 24.00 50.0\r").unwrap().input_voltage, None);
    }

    #[test]
    fn identity_reply() {
        let identity = parse_identity(b"#Megatec         Model 1234 Fw 1.23   \r").unwrap();
        assert_eq!(identity.manufacturer.as_deref(), Some("Megatec"));
        assert_eq!(identity.model.as_deref(), Some("Model 1234"));
        assert_eq!(identity.firmware.as_deref(), Some("Fw 1.23"));
        // nutdrv_qx refuses a blank or short identification.
        assert_eq!(parse_identity(&format!("#{}\r", " ".repeat(38)).into_bytes()), Err(ReplyError::Blank));
        assert_eq!(parse_identity(b"#Megatec\r"), Err(ReplyError::TooShort(8)));
        assert_eq!(parse_identity(b"I\r"), Err(ReplyError::Echoed));
        // Control bytes do not reach the published strings.
        let noisy = parse_identity(b"#Mega\x01tec         Model 1234 Fw 1.23   \r").unwrap();
        assert_eq!(noisy.manufacturer.as_deref(), Some("Mega?tec"));
    }

    #[test]
    fn delays_round_down_to_what_the_ups_can_do() {
        // Set with upsrw on nutdrv_qx, published back as these values.
        for (set, published) in [(12, 12), (17, 12), (18, 18), (59, 54), (60, 60), (119, 60), (600, 600), (45, 42)] {
            assert_eq!(round_offdelay(set), published, "offdelay {set}");
        }
        for (set, published) in [(0, 0), (59, 0), (60, 60), (119, 60), (100, 60), (599_940, 599_940)] {
            assert_eq!(round_ondelay(set), published, "ondelay {set}");
        }
    }

    #[test]
    fn shutdown_commands_as_nutdrv_qx_sends_them() {
        // (ups.delay.shutdown, ups.delay.start) -> shutdown.return, shutdown.stayoff
        for (off, on, ret, stay) in [
            (30, 180, "S.5R0003", "S.5R0000"),
            (12, 0, "S.2", "S.2R0000"),
            (18, 60, "S.3R0001", "S.3R0000"),
            (54, 60, "S.9R0001", "S.9R0000"),
            (60, 120, "S01R0002", "S01R0000"),
            (60, 599_940, "S01R9999", "S01R0000"),
            (120, 3600, "S02R0060", "S02R0000"),
            (600, 7200, "S10R0120", "S10R0000"),
            (42, 7200, "S.7R0120", "S.7R0000"),
        ] {
            assert_eq!(shutdown_return_command(off, on), ret, "{off}/{on}");
            assert_eq!(shutdown_stayoff_command(off), stay, "{off}");
        }
    }

    #[test]
    fn battery_test_durations() {
        for (argument, command) in [
            (None, "T10"),
            (Some("60"), "T01"),
            (Some("90"), "T01"),
            (Some("119"), "T01"),
            (Some("120"), "T02"),
            (Some("5940"), "T99"),
            (Some(" 600"), "T10"),
            (Some("600x"), "T10"),
            (Some("120.5"), "T02"),
        ] {
            assert_eq!(battery_test_command(argument).as_deref(), Ok(command), "{argument:?}");
        }
        for argument in ["59", "5941", "6000", "abc", "0", "-60"] {
            let error = battery_test_command(Some(argument)).unwrap_err();
            assert!(error.contains("out of range [60..5940] seconds"), "{argument}: {error}");
        }
        assert_eq!(
            battery_test_command(Some("abc")).unwrap_err(),
            "battery test time '0' out of range [60..5940] seconds"
        );
    }
}
