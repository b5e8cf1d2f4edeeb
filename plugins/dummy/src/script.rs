//! What a definition file tells the dummy device to do: its tokenized lines
//! turned into statements, plus the instant commands its `#CMD:` comments
//! name.
//!
//! Line rules (NUT `drivers/dummy-ups.c`, `parse_data_file`):
//! - `TIMER <seconds>`: pause processing for that long (the number is read
//!   like C's `atoi`: leading digits, anything else is 0);
//! - `ALARM <text...>`: add an alarm; a bare `ALARM` clears them;
//! - `<name>: <value words...>`: the name is word 0 cut at its first `:`,
//!   the value is the other words joined by single spaces (at most 127
//!   bytes, the driver's buffer). An empty value deletes the variable.
//!   A word 0 without a colon still names a variable, as in NUT, but a
//!   warning says so since it is usually a typo;
//! - `driver.*` names are ignored (the host owns that collection);
//! - `ups.status` values are status tokens, each word one token.
//!
//! `#CMD:<command>` comments (as in NUT's device dump library) name instant
//! commands. Real dummy-ups treats them as plain comments; Hazel advertises
//! them so a replayed device lists the commands the real one had.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::dev_file::{self, Line};

/// Longest value kept: dummy-ups builds values in a 128-byte buffer with a
/// terminating NUL.
pub const MAX_VALUE_LEN: usize = 127;

/// One action of a definition file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// Pause processing for this many seconds.
    Timer {
        /// Length of the pause.
        seconds: u64,
    },
    /// Add an alarm (`Some`) or clear all alarms (`None`).
    Alarm(Option<String>),
    /// Set a variable; an empty value deletes it.
    SetVar {
        /// Variable name as written.
        name: String,
        /// Joined value, possibly empty.
        value: String,
    },
    /// Replace the status tokens (`ups.status: OB LB`).
    SetStatus(Vec<String>),
}

/// A statement with the physical line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number, for log messages.
    pub line: u32,
    /// What to do.
    pub statement: Statement,
}

/// A compiled definition file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// Statements in file order.
    pub steps: Vec<Step>,
    /// Instant commands named by `#CMD:` comments, in file order, without
    /// duplicates (compared ignoring case).
    pub commands: Vec<String>,
    /// Problems found while compiling, each starting with `line N:`.
    pub warnings: Vec<String>,
}

impl Script {
    /// Tokenize and compile a definition file.
    pub fn compile(input: &[u8]) -> Script {
        let mut script = Script::default();
        for line in dev_file::tokenize(input) {
            match line {
                Ok(line) => script.add_line(line),
                Err(error) => {
                    script.warnings.push(format!(
                        "line {}: {}; line skipped",
                        error.line, error.message
                    ));
                }
            }
        }
        script
    }

    /// Whether any statement sets or deletes `name` (ignoring case).
    pub fn mentions_variable(&self, name: &str) -> bool {
        self.steps.iter().any(|step| match &step.statement {
            Statement::SetVar { name: set, .. } => set.eq_ignore_ascii_case(name),
            Statement::SetStatus(_) => name.eq_ignore_ascii_case("ups.status"),
            Statement::Timer { .. } | Statement::Alarm(_) => false,
        })
    }

    /// Whether any statement could produce the alarm text `text`: an
    /// `ALARM` line or an `ups.alarm` line with that text.
    pub fn mentions_alarm(&self, text: &str) -> bool {
        self.steps.iter().any(|step| match &step.statement {
            Statement::Alarm(Some(alarm)) => alarm == text,
            Statement::SetVar { name, value } => {
                name.eq_ignore_ascii_case("ups.alarm") && value == text
            }
            _ => false,
        })
    }

    /// The last value the file gives the first of `names` it sets, for the
    /// device identity `init` reports.
    pub fn last_value_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|wanted| {
            self.steps
                .iter()
                .rev()
                .find_map(|step| match &step.statement {
                    Statement::SetVar { name, value }
                        if name.eq_ignore_ascii_case(wanted) && !value.is_empty() =>
                    {
                        Some(value.as_str())
                    }
                    _ => None,
                })
        })
    }

    fn add_line(&mut self, line: Line) {
        let Some((first, rest)) = line.tokens.split_first() else {
            if let Some(comment) = &line.comment {
                self.add_command_comment(line.number, comment);
            }
            return;
        };
        let statement = match first.as_str() {
            "TIMER" => {
                let seconds = match rest.first() {
                    Some(word) => seconds_from(word),
                    None => {
                        self.warn(line.number, "TIMER without a duration; pausing 0 seconds");
                        0
                    }
                };
                Statement::Timer { seconds }
            }
            "ALARM" => {
                let text = join_words(rest, usize::MAX);
                Statement::Alarm(if text.is_empty() { None } else { Some(text) })
            }
            _ => {
                let name = match first.split_once(':') {
                    Some((name, _)) => name,
                    None => {
                        let message = format!(
                            "'{first}' has no ':' after the variable name; using it as a name anyway"
                        );
                        self.warnings
                            .push(format!("line {}: {}", line.number, message));
                        first.as_str()
                    }
                };
                if name.is_empty() {
                    self.warn(line.number, "empty variable name; line ignored");
                    return;
                }
                if name
                    .get(..7)
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case("driver."))
                {
                    // The driver.* collection belongs to the host. (NUT
                    // compares case-sensitively, but names are
                    // case-insensitive everywhere else, so DRIVER.x would
                    // clash with the host's own variables.)
                    return;
                }
                if name.eq_ignore_ascii_case("ups.status") {
                    let tokens = rest
                        .iter()
                        .filter(|word| !word.is_empty())
                        .cloned()
                        .collect();
                    Statement::SetStatus(tokens)
                } else {
                    Statement::SetVar {
                        name: name.to_string(),
                        value: join_words(rest, MAX_VALUE_LEN),
                    }
                }
            }
        };
        self.steps.push(Step {
            line: line.number,
            statement,
        });
    }

    /// Record the command of a `#CMD:<command>` comment. The command is the
    /// first word after the colon (dump files put notes after it:
    /// `#CMD:shutdown.stop\t#COMMENT: ...`).
    fn add_command_comment(&mut self, line: u32, comment: &str) {
        let Some(rest) = comment.strip_prefix("CMD:") else {
            return;
        };
        let command = rest
            .trim_start_matches([' ', '\t'])
            .split(|c: char| c.is_ascii_whitespace() || c == '#')
            .next()
            .unwrap_or("");
        if command.is_empty() {
            self.warn(line, "#CMD: without a command name; ignored");
            return;
        }
        if !command
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            let message = format!("'{command}' is not a valid instant command name; ignored");
            self.warnings.push(format!("line {line}: {message}"));
            return;
        }
        if !self
            .commands
            .iter()
            .any(|known| known.eq_ignore_ascii_case(command))
        {
            self.commands.push(command.to_string());
        }
    }

    fn warn(&mut self, line: u32, message: &str) {
        self.warnings.push(format!("line {line}: {message}"));
    }
}

/// Words joined by single spaces, cut to `max_len` bytes (all words are
/// ASCII, so any cut is on a character boundary).
fn join_words(words: &[String], max_len: usize) -> String {
    let mut joined = words.join(" ");
    joined.truncate(max_len.min(joined.len()));
    joined
}

/// C `atoi` of a TIMER argument, as whole seconds: optional sign, leading
/// digits, stop at anything else; negative or missing digits give 0, and
/// huge values saturate instead of overflowing.
fn seconds_from(word: &str) -> u64 {
    let (negative, digits) = match word.as_bytes().first() {
        Some(b'-') => (true, word.get(1..).unwrap_or("")),
        Some(b'+') => (false, word.get(1..).unwrap_or("")),
        _ => (false, word),
    };
    let value = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |acc, digit| {
            acc.saturating_mul(10)
                .saturating_add(u64::from(digit - b'0'))
        });
    if negative { 0 } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn set(name: &str, value: &str) -> Statement {
        Statement::SetVar {
            name: name.to_string(),
            value: value.to_string(),
        }
    }

    fn statements(script: &Script) -> Vec<Statement> {
        script
            .steps
            .iter()
            .map(|step| step.statement.clone())
            .collect()
    }

    #[test]
    fn values_with_spaces_are_joined_by_single_spaces() {
        let script = Script::compile(b"ups.model:   Smart-UPS    1500  \ninput.transfer.reason: input voltage out of range\n");
        assert_eq!(
            statements(&script),
            vec![
                set("ups.model", "Smart-UPS 1500"),
                set("input.transfer.reason", "input voltage out of range")
            ]
        );
        assert!(script.warnings.is_empty());
    }

    #[test]
    fn quoted_values_keep_their_spacing() {
        let script = Script::compile(b"ups.id: \"rack  1\" \"a=b\" \"\\#2\"\n");
        assert_eq!(statements(&script), vec![set("ups.id", "rack  1 a=b #2")]);
    }

    #[test]
    fn empty_values_delete() {
        let script = Script::compile(b"ups.mfr:\nups.model: \"\"\n");
        assert_eq!(
            statements(&script),
            vec![set("ups.mfr", ""), set("ups.model", "")]
        );
    }

    #[test]
    fn driver_variables_are_ignored() {
        let script =
            Script::compile(b"driver.name: dummy-ups\ndriver.parameter.port: x.dev\nups.load: 3\n");
        assert_eq!(statements(&script), vec![set("ups.load", "3")]);
    }

    #[test]
    fn status_becomes_tokens() {
        let script = Script::compile(b"ups.status: OB LB\nups.status:\n");
        assert_eq!(
            statements(&script),
            vec![
                Statement::SetStatus(vec!["OB".to_string(), "LB".to_string()]),
                Statement::SetStatus(vec![])
            ]
        );
    }

    #[test]
    fn timer_reads_like_atoi() {
        let script = Script::compile(b"TIMER 60\nTIMER 1.5\nTIMER -3\nTIMER abc\nTIMER\n");
        let seconds: Vec<u64> = statements(&script)
            .into_iter()
            .map(|s| match s {
                Statement::Timer { seconds } => seconds,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(seconds, vec![60, 1, 0, 0, 0]);
        assert_eq!(script.warnings.len(), 1);
        assert!(script.warnings[0].starts_with("line 5:"));
    }

    #[test]
    fn alarm_lines() {
        let script = Script::compile(b"ALARM Replace battery!\nALARM\n");
        assert_eq!(
            statements(&script),
            vec![
                Statement::Alarm(Some("Replace battery!".to_string())),
                Statement::Alarm(None)
            ]
        );
    }

    #[test]
    fn name_is_cut_at_first_colon_and_missing_colon_warns() {
        let script = Script::compile(b"ups.mfr:APC\nups.serial X1\n");
        assert_eq!(
            statements(&script),
            vec![set("ups.mfr", ""), set("ups.serial", "X1")]
        );
        assert_eq!(script.warnings.len(), 1);
        assert!(script.warnings[0].starts_with("line 2: 'ups.serial' has no ':'"));
    }

    #[test]
    fn quoted_name_without_colon_keeps_the_colon_in_the_value() {
        // Observed in NUT 2.8.0: `"quoted.name": q` publishes `quoted.name` = `: q`.
        let script = Script::compile(b"\"quoted.name\": q\n");
        assert_eq!(statements(&script), vec![set("quoted.name", ": q")]);
    }

    #[test]
    fn long_values_are_cut_like_the_driver_buffer() {
        let long = "y".repeat(300);
        let script = Script::compile(alloc::format!("x: {long}\n").as_bytes());
        match &statements(&script)[0] {
            Statement::SetVar { value, .. } => assert_eq!(value.len(), MAX_VALUE_LEN),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cmd_comments_name_commands() {
        let file = b"#CMD:beeper.toggle\n#CMD:shutdown.stop\t#COMMENT: Stop only\n#CMD: load.on\n\
#CMD:BEEPER.toggle\n# load.off:COMMENT:\nups.load: 1 #CMD:not.a.command\n#CMD:\n#CMD:bad\"name\n";
        let script = Script::compile(file);
        assert_eq!(
            script.commands,
            vec!["beeper.toggle", "shutdown.stop", "load.on"]
        );
        assert_eq!(script.warnings.len(), 2, "{:?}", script.warnings);
    }

    #[test]
    fn parse_errors_are_reported_with_line_numbers() {
        let script = Script::compile(b"a: 1\nb: \"x#y\"\nc: 3\n");
        assert_eq!(statements(&script), vec![set("a", "1"), set("c", "3")]);
        assert_eq!(
            script.warnings,
            vec!["line 2: unbalanced word due to unescaped # in quotes; line skipped"]
        );
    }

    #[test]
    fn real_device_dump_compiles() {
        let file = b"battery.charge: 100\ndevice.mfr: EATON\nups.alarm: Bypass not available! Internal failure!\n\
ups.status: ALARM OL\n\n#CMD:load.off\n# DEVICE:COMMENT-BLOCK:FIXME:UPSCMD:\n# load.off - Turn off the load immediately\n";
        let script = Script::compile(file);
        assert_eq!(script.steps.len(), 4);
        assert_eq!(script.commands, vec!["load.off"]);
        assert!(script.warnings.is_empty());
        assert_eq!(
            script.last_value_of(&["device.mfr", "ups.mfr"]),
            Some("EATON")
        );
        assert!(script.mentions_alarm("Bypass not available! Internal failure!"));
        assert!(script.mentions_variable("UPS.STATUS"));
    }
}
