//! The Megatec "Q1" serial protocol as a UPS speaks it: parsing the commands a
//! host sends and formatting the fixed-width replies.
//!
//! Every command and every reply ends in `\r`. Commands that change state get
//! no reply; a command the UPS does not know is echoed back, which is how a
//! plain Megatec UPS answers the probes of other dialects (`QS`, `QGS`, `M`…).

/// One command, as received without its `\r`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `Q1`: status inquiry.
    Status,
    /// `F`: rating information.
    Ratings,
    /// `I`: identification.
    Identification,
    /// `T`: a 10-second battery test.
    TestQuick,
    /// `TL`: a battery test until the battery is low.
    TestUntilLow,
    /// `T<nn>`: a battery test of `nn` minutes (01–99).
    TestMinutes(u8),
    /// `CT`: cancel a running test.
    CancelTest,
    /// `Q`: toggle the beeper.
    BeeperToggle,
    /// `S<n>` or `S<n>R<mmmm>`: turn the output off after a delay, then (with
    /// `R`) back on `restore_minutes` after mains is present; `R0000` means stay off.
    Shutdown {
        /// Delay before the output goes off, in seconds (`.2` = 12 s, `01` = 60 s).
        delay_seconds: u32,
        /// The `R` part in minutes; `None` without `R`.
        restore_minutes: Option<u16>,
    },
    /// `C`: cancel a pending shutdown, or turn the output back on.
    CancelShutdown,
    /// Anything else, echoed back.
    Unknown(Vec<u8>),
}

impl Command {
    /// Parse one command line (without its terminating `\r`).
    pub fn parse(line: &[u8]) -> Command {
        let unknown = || Command::Unknown(line.to_vec());
        match line {
            b"Q1" => Command::Status,
            b"F" => Command::Ratings,
            b"I" => Command::Identification,
            b"T" => Command::TestQuick,
            b"TL" => Command::TestUntilLow,
            b"CT" => Command::CancelTest,
            b"Q" => Command::BeeperToggle,
            b"C" => Command::CancelShutdown,
            [b'T', d1, d2] => match two_digits(*d1, *d2) {
                Some(n) if n >= 1 => Command::TestMinutes(n),
                _ => unknown(),
            },
            [b'S', rest @ ..] => parse_shutdown(rest).unwrap_or_else(unknown),
            _ => unknown(),
        }
    }
}

/// `<n>` or `<n>R<mmmm>` after the `S`.
fn parse_shutdown(rest: &[u8]) -> Option<Command> {
    if rest.len() < 2 {
        return None;
    }
    let (delay, tail) = rest.split_at(2);
    let delay_seconds = match delay {
        // `.2`–`.9`: tenths of a minute.
        [b'.', d] if (b'2'..=b'9').contains(d) => u32::from(d - b'0') * 6,
        [d1, d2] => match two_digits(*d1, *d2)? {
            n @ 0..=10 => u32::from(n) * 60,
            _ => return None,
        },
        _ => return None,
    };
    let restore_minutes = match tail {
        [] => None,
        [b'R', digits @ ..] if digits.len() == 4 && digits.iter().all(u8::is_ascii_digit) => {
            Some(digits.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
        }
        _ => return None,
    };
    Some(Command::Shutdown { delay_seconds, restore_minutes })
}

fn two_digits(d1: u8, d2: u8) -> Option<u8> {
    (d1.is_ascii_digit() && d2.is_ascii_digit()).then(|| (d1 - b'0') * 10 + (d2 - b'0'))
}

/// The status bits of a `Q1` reply, most significant first on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusBits {
    /// b7: utility (mains) failed.
    pub utility_fail: bool,
    /// b6: battery low.
    pub battery_low: bool,
    /// b5: bypass/boost/buck (AVR) active.
    pub avr_active: bool,
    /// b4: UPS failed.
    pub ups_failed: bool,
    /// b3: line-interactive/offline type (0 = online).
    pub line_interactive: bool,
    /// b2: a test is in progress.
    pub test_in_progress: bool,
    /// b1: a shutdown is active.
    pub shutdown_active: bool,
    /// b0: beeper on.
    pub beeper_on: bool,
}

impl StatusBits {
    /// The eight `0`/`1` characters, b7 first.
    pub fn to_field(self) -> String {
        [
            self.utility_fail,
            self.battery_low,
            self.avr_active,
            self.ups_failed,
            self.line_interactive,
            self.test_in_progress,
            self.shutdown_active,
            self.beeper_on,
        ]
        .iter()
        .map(|&bit| if bit { '1' } else { '0' })
        .collect()
    }
}

/// What a `Q1` reply carries.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReply {
    /// Input voltage (V).
    pub input_voltage: f64,
    /// Input fault voltage (V).
    pub input_fault_voltage: f64,
    /// Output voltage (V).
    pub output_voltage: f64,
    /// Load (% of rated power).
    pub load_percent: u16,
    /// Input frequency (Hz).
    pub input_frequency: f64,
    /// Battery voltage (V), per cell or per pack as the UPS reports it.
    pub battery_voltage: f64,
    /// Temperature (°C).
    pub temperature: f64,
    /// The status bits.
    pub bits: StatusBits,
}

impl StatusReply {
    /// The 47-byte reply, `(MMM.M NNN.N PPP.P QQQ RR.R S.SS TT.T b7..b0\r`.
    pub fn format(&self) -> Vec<u8> {
        format!(
            "({} {} {} {:03} {} {} {} {}\r",
            fixed(self.input_voltage, 5, 1),
            fixed(self.input_fault_voltage, 5, 1),
            fixed(self.output_voltage, 5, 1),
            self.load_percent.min(999),
            fixed(self.input_frequency, 4, 1),
            fixed(self.battery_voltage, 4, 2),
            fixed(self.temperature, 4, 1),
            self.bits.to_field(),
        )
        .into_bytes()
    }
}

/// What an `F` reply carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingsReply {
    /// Rated voltage (V).
    pub voltage: f64,
    /// Rated current (A).
    pub current: u16,
    /// Battery voltage (V).
    pub battery_voltage: f64,
    /// Rated frequency (Hz).
    pub frequency: f64,
}

impl RatingsReply {
    /// The 22-byte reply, `#MMM.M QQQ SS.SS RR.R\r`.
    pub fn format(&self) -> Vec<u8> {
        format!(
            "#{} {:03} {} {}\r",
            fixed(self.voltage, 5, 1),
            self.current.min(999),
            fixed(self.battery_voltage, 5, 2),
            fixed(self.frequency, 4, 1)
        )
        .into_bytes()
    }
}

/// What an `I` reply carries.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentificationReply {
    /// Company name (up to 15 characters).
    pub company: String,
    /// Model (up to 10 characters).
    pub model: String,
    /// Firmware version (up to 10 characters).
    pub firmware: String,
}

impl IdentificationReply {
    /// The 39-byte reply, `#` + company(15) + ` ` + model(10) + ` ` + firmware(10) + `\r`,
    /// each field left-aligned, space-padded and cut to its width.
    pub fn format(&self) -> Vec<u8> {
        format!("#{} {} {}\r", padded(&self.company, 15), padded(&self.model, 10), padded(&self.firmware, 10))
            .into_bytes()
    }
}

fn padded(text: &str, width: usize) -> String {
    let cut: String = text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).take(width).collect();
    format!("{cut:<width$}")
}

/// `value` as exactly `width` characters with a decimal point, zero-padded on
/// the left, with `decimals` decimals or fewer when the integer part needs the
/// room (at least one): `fixed(27.5, 4, 2)` = `27.5`, `fixed(2.27, 4, 2)` =
/// `2.27`, `fixed(0.0, 5, 1)` = `000.0`. Values too large for the width are
/// clamped to the largest that fits; negative values become zero (the wire
/// has no sign).
pub fn fixed(value: f64, width: usize, decimals: usize) -> String {
    let value = if value.is_finite() { value.max(0.0) } else { 0.0 };
    for decimals in (1..=decimals).rev() {
        let text = format!("{value:0width$.decimals$}");
        if text.len() == width {
            return text;
        }
    }
    // Too large even with one decimal: the largest value that fits.
    let integer_digits = width.saturating_sub(2);
    format!("{}.9", "9".repeat(integer_digits))
}

/// Splits a byte stream into command lines at `\r`, tolerating garbage: line
/// feeds and NULs are dropped, and a line longer than [`LineSplitter::MAX_LINE`]
/// bytes is discarded (it is noise, no Megatec command is that long).
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    overflowed: bool,
}

/// One item out of a [`LineSplitter`].
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A complete command, without its `\r`.
    Command(Vec<u8>),
    /// A run of this many bytes was thrown away as too long to be a command.
    Discarded(usize),
}

impl LineSplitter {
    /// The longest line kept.
    pub const MAX_LINE: usize = 64;

    /// Feed received bytes; returns the complete lines they finish.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        for &byte in bytes {
            match byte {
                b'\r' => {
                    if self.overflowed {
                        self.overflowed = false;
                    } else if !self.pending.is_empty() {
                        lines.push(Line::Command(std::mem::take(&mut self.pending)));
                    }
                }
                b'\n' | 0 => {}
                _ if self.overflowed => {}
                _ => {
                    self.pending.push(byte);
                    if self.pending.len() > Self::MAX_LINE {
                        lines.push(Line::Discarded(self.pending.len()));
                        self.pending.clear();
                        self.overflowed = true;
                    }
                }
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_queries_and_commands() {
        assert_eq!(Command::parse(b"Q1"), Command::Status);
        assert_eq!(Command::parse(b"F"), Command::Ratings);
        assert_eq!(Command::parse(b"I"), Command::Identification);
        assert_eq!(Command::parse(b"T"), Command::TestQuick);
        assert_eq!(Command::parse(b"TL"), Command::TestUntilLow);
        assert_eq!(Command::parse(b"T05"), Command::TestMinutes(5));
        assert_eq!(Command::parse(b"T99"), Command::TestMinutes(99));
        assert_eq!(Command::parse(b"CT"), Command::CancelTest);
        assert_eq!(Command::parse(b"Q"), Command::BeeperToggle);
        assert_eq!(Command::parse(b"C"), Command::CancelShutdown);
    }

    #[test]
    fn parses_shutdown_delays() {
        let shutdown = |delay_seconds, restore_minutes| Command::Shutdown { delay_seconds, restore_minutes };
        assert_eq!(Command::parse(b"S.2"), shutdown(12, None));
        assert_eq!(Command::parse(b"S.5"), shutdown(30, None));
        assert_eq!(Command::parse(b"S.9"), shutdown(54, None));
        assert_eq!(Command::parse(b"S01"), shutdown(60, None));
        assert_eq!(Command::parse(b"S10"), shutdown(600, None));
        assert_eq!(Command::parse(b"S00R0000"), shutdown(0, Some(0)));
        assert_eq!(Command::parse(b"S.5R0003"), shutdown(30, Some(3)));
        assert_eq!(Command::parse(b"S01R9999"), shutdown(60, Some(9999)));
    }

    #[test]
    fn malformed_commands_are_unknown() {
        for bad in [
            &b"S"[..],
            b"S.1",
            b"S.0",
            b"S11",
            b"S1",
            b"S.5R",
            b"S.5R003",
            b"S.5R00030",
            b"S.5X0003",
            b"SAB",
            b"T00",
            b"T1",
            b"T123",
            b"Q2",
            b"QS",
            b"QGS",
            b"M",
            b"q1",
            b"Q1 ",
        ] {
            assert_eq!(Command::parse(bad), Command::Unknown(bad.to_vec()), "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn status_reply_is_47_bytes_in_megatec_layout() {
        let reply = StatusReply {
            input_voltage: 226.0,
            input_fault_voltage: 195.0,
            output_voltage: 226.0,
            load_percent: 14,
            input_frequency: 49.0,
            battery_voltage: 27.5,
            temperature: 30.0,
            bits: StatusBits { line_interactive: true, ..StatusBits::default() },
        };
        let bytes = reply.format();
        assert_eq!(bytes, b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r");
        assert_eq!(bytes.len(), 47);
    }

    #[test]
    fn status_reply_keeps_its_width_at_the_extremes() {
        let reply = StatusReply {
            input_voltage: 0.0,
            input_fault_voltage: 1234.0,
            output_voltage: 99.96,
            load_percent: 1500,
            input_frequency: 0.0,
            battery_voltage: 2.266,
            temperature: -5.0,
            bits: StatusBits {
                utility_fail: true,
                battery_low: true,
                avr_active: false,
                ups_failed: true,
                line_interactive: false,
                test_in_progress: true,
                shutdown_active: true,
                beeper_on: true,
            },
        };
        let bytes = reply.format();
        assert_eq!(bytes, b"(000.0 999.9 100.0 999 00.0 2.27 00.0 11010111\r");
        assert_eq!(bytes.len(), 47);
    }

    #[test]
    fn fixed_width_numbers() {
        assert_eq!(fixed(27.5, 4, 2), "27.5");
        assert_eq!(fixed(2.27, 4, 2), "2.27");
        assert_eq!(fixed(8.0, 4, 2), "8.00");
        assert_eq!(fixed(120.4, 4, 2), "99.9");
        assert_eq!(fixed(230.0, 5, 1), "230.0");
        assert_eq!(fixed(0.0, 5, 1), "000.0");
        assert_eq!(fixed(24.0, 5, 2), "24.00");
        assert_eq!(fixed(50.0, 4, 1), "50.0");
        assert_eq!(fixed(0.0, 4, 1), "00.0");
        assert_eq!(fixed(f64::NAN, 4, 1), "00.0");
    }

    #[test]
    fn ratings_and_identification_replies() {
        let ratings = RatingsReply { voltage: 230.0, current: 4, battery_voltage: 24.0, frequency: 50.0 };
        assert_eq!(ratings.format(), b"#230.0 004 24.00 50.0\r");
        assert_eq!(ratings.format().len(), 22);
        let id = IdentificationReply {
            company: "Hazel".into(),
            model: "a-very-long-model-name".into(),
            firmware: "V1.0".into(),
        };
        let bytes = id.format();
        assert_eq!(bytes, b"#Hazel           a-very-lon V1.0      \r");
        assert_eq!(bytes.len(), 39);
    }

    #[test]
    fn splitter_handles_partial_input_and_garbage() {
        let mut splitter = LineSplitter::default();
        assert_eq!(splitter.feed(b"Q"), vec![]);
        assert_eq!(splitter.feed(b"1\rF\r\n\0I"), vec![Line::Command(b"Q1".to_vec()), Line::Command(b"F".to_vec())]);
        assert_eq!(splitter.feed(b"\r\r\r"), vec![Line::Command(b"I".to_vec())]);
        let noise = vec![b'x'; 100];
        let lines = splitter.feed(&noise);
        assert_eq!(lines, vec![Line::Discarded(LineSplitter::MAX_LINE + 1)]);
        // The rest of the noise up to the next `\r` is dropped too; the next line is clean.
        assert_eq!(splitter.feed(b"yyy\rQ1\r"), vec![Line::Command(b"Q1".to_vec())]);
    }
}
