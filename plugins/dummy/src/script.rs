//! What a definition file tells the dummy device to do: its tokenized lines
//! turned into statements, plus the instant commands its `#CMD:` comments
//! name.
//!
//! Line rules, as NUT 2.8.0's dummy-ups applies them (`parse_data_file` in
//! `drivers/dummy-ups.c`; observed in tests/nut-facts/DUMMY-UPS.md §b, §e,
//! §f, §i):
//! - a line whose first word starts with `TIMER` (case-sensitive prefix,
//!   like the driver's `strncmp`): pause for that many seconds (the number
//!   is read like C's `atoi`: leading digits, anything else is 0);
//! - `ALARM <text...>` (Hazel keeps this newer-NUT keyword; see
//!   [`Statement::Alarm`]);
//! - otherwise the name is word 0 cut at its first `:` (the colon is
//!   optional) and the value is the other words joined by single spaces,
//!   cut to [`MAX_VALUE_LEN`] bytes. Whitespace around words is dropped by
//!   the tokenizer, so values come out trimmed (quoted text is kept as is);
//! - `driver.*` names are ignored (the host publishes that collection);
//! - a name starting with `ups.status` (case-sensitive) goes through the
//!   driver's status path: its words are published verbatim as the value of
//!   `ups.status` ([`Statement::StatusLine`]);
//! - any other name goes through the driver's `setvar()`; an empty value
//!   deletes the variable, and a line without a value reuses the previous
//!   line's value ([`value_or_previous_lines_value`]).
//!
//! `#CMD:<command>` comments (as in NUT's device dump library) name instant
//! commands. Real dummy-ups treats them as plain comments (facts §d); they
//! are collected in [`Script::commands`] and advertised only when the
//! Hazel-only ups.conf flag `cmd_comments` is set.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::dev_file::{self, Line};

/// Longest variable value kept: dummy-ups builds values in a 128-byte
/// buffer with a terminating NUL (facts §e: a 200-character value is
/// published as its first 127 characters).
pub const MAX_VALUE_LEN: usize = 127;

/// Longest `ups.status` value kept. Status lines do not go through the
/// 128-byte value buffer but through the driver core's status buffer
/// (`status_set`/`status_commit`, `ST_MAX_VALUE_LEN` = 256 bytes with the
/// NUL).
pub const MAX_STATUS_LEN: usize = 255;

/// One action of a definition file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// Pause processing for this many seconds.
    Timer {
        /// Length of the pause.
        seconds: u64,
    },
    /// `ALARM <text>` adds an alarm (`Some`); a bare `ALARM` clears them
    /// (`None`). Reported to the host as `set-alarms`.
    ///
    /// This is the keyword of newer NUT releases. NUT 2.8.0, which Hazel's
    /// dummy otherwise reproduces, has no such keyword: there `ALARM x` is
    /// an ordinary line that creates a variable named `ALARM` with value
    /// `x` (facts §e/§f). No data file in the repository has `ALARM` lines,
    /// so the difference never shows with them.
    Alarm(Option<String>),
    /// A line handled by dummy-ups' `setvar()`: set the variable, or delete
    /// it when the value is empty.
    SetVar {
        /// Variable name as written.
        name: String,
        /// The value, possibly empty (see [`value_or_previous_lines_value`]).
        value: String,
    },
    /// A `ups.status` line: the words joined by single spaces, published
    /// verbatim as `ups.status`, even when empty (no de-duplication, no
    /// reordering, no validation; facts §b, §f).
    StatusLine(String),
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

/// The value a variable line gets, reproducing real dummy-ups 2.8.0 — bugs
/// included, because a NUT client must see the same data from Hazel as from
/// NUT on the same file (tests/nut-facts/DUMMY-UPS.md §e).
///
/// dummy-ups 2.8.0 builds each value in one buffer that it reuses from line
/// to line and only writes when the line has value words. So:
/// - a line with value words (even just `""`) stores them, joined by
///   single spaces and cut to [`MAX_VALUE_LEN`] bytes, and uses that;
/// - a line without value words — `var:` with nothing after it, a single
///   word without a colon (`nocolonline`), or `name:value` without a space
///   (`input.voltage:230`, whose `230` is cut off with the colon) — gets
///   the previous variable line's value again: `ups.load: 40.0` then
///   `ups.mfr:` publishes `ups.mfr: 40.0` (real file `inverter`);
/// - before the first line with value words the buffer is empty, so such
///   a line has an empty value, which deletes the variable, i.e. it is not
///   created (`eb.dev`); `var: ""` likewise publishes nothing (`ed.dev`),
///   and a line reusing that empty value too (`edge2.dev`).
///
/// `buffer` is that reused buffer. One buffer serves a whole pass over the
/// file, from the top (how NUT carries it across a `TIMER` pause is not
/// observable: the buffer is an uninitialised local there). `ups.status`,
/// `driver.*`, `TIMER` and `ALARM` lines neither read nor write it; they do
/// not go through that code in the driver.
pub fn value_or_previous_lines_value(buffer: &mut String, value_words: &[String]) -> String {
    if !value_words.is_empty() {
        *buffer = join_words(value_words, MAX_VALUE_LEN);
    }
    buffer.clone()
}

/// The `ups.status` value of a status line: the driver core's
/// `status_set()` per word, which puts one space before every word but the
/// first non-empty one, cut to [`MAX_STATUS_LEN`] bytes.
fn status_value(words: &[String]) -> String {
    let mut status = String::new();
    for word in words {
        if !status.is_empty() {
            status.push(' ');
        }
        status.push_str(word);
    }
    status.truncate(MAX_STATUS_LEN.min(status.len()));
    status
}

impl Script {
    /// Tokenize and compile a definition file.
    pub fn compile(input: &[u8]) -> Script {
        let mut script = Script::default();
        let mut value_buffer = String::new();
        for line in dev_file::tokenize(input) {
            match line {
                Ok(line) => script.add_line(line, &mut value_buffer),
                Err(error) => {
                    script.warnings.push(format!("line {}: {}; line skipped", error.line, error.message));
                }
            }
        }
        script
    }

    fn add_line(&mut self, line: Line, value_buffer: &mut String) {
        let Some((first, rest)) = line.tokens.split_first() else {
            if let Some(comment) = &line.comment {
                self.add_command_comment(line.number, comment);
            }
            return;
        };
        let statement = if first.starts_with("TIMER") {
            let seconds = match rest.first() {
                Some(word) => seconds_from(word),
                None => {
                    // NUT reads a missing argument from a dangling pointer.
                    self.warn(line.number, "TIMER without a duration; pausing 0 seconds");
                    0
                }
            };
            Statement::Timer { seconds }
        } else if first == "ALARM" {
            let text = join_words(rest, usize::MAX);
            Statement::Alarm(if text.is_empty() { None } else { Some(text) })
        } else {
            let name = match first.split_once(':') {
                Some((name, after)) => {
                    if !after.is_empty() && !name.is_empty() {
                        let message = format!(
                            "'{first}' has no space after ':'; as in dummy-ups, '{after}' \
                             is cut off with the colon and is not part of the value"
                        );
                        self.warnings.push(format!("line {}: {}", line.number, message));
                    }
                    name
                }
                None => {
                    let message = format!("'{first}' has no ':' after the variable name; using it as a name anyway");
                    self.warnings.push(format!("line {}: {}", line.number, message));
                    first.as_str()
                }
            };
            if is_driver_variable(name) {
                // The driver.* collection belongs to the host. (NUT compares
                // case-sensitively, but names are case-insensitive
                // everywhere else, so DRIVER.x would clash with the host's
                // own variables.)
                return;
            }
            if name.starts_with("ups.status") {
                // dummy-ups' status path (`strncmp(name, "ups.status", 10)`).
                Statement::StatusLine(status_value(rest))
            } else {
                let value = value_or_previous_lines_value(value_buffer, rest);
                if name.is_empty() {
                    // NUT creates a variable with an empty name that upsd
                    // never lists; nothing a client could see.
                    self.warn(line.number, "empty variable name; line ignored");
                    return;
                }
                Statement::SetVar { name: name.to_string(), value }
            }
        };
        self.steps.push(Step { line: line.number, statement });
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
        if !command.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            let message = format!("'{command}' is not a valid instant command name; ignored");
            self.warnings.push(format!("line {line}: {message}"));
            return;
        }
        if !self.commands.iter().any(|known| known.eq_ignore_ascii_case(command)) {
            self.commands.push(command.to_string());
        }
    }

    fn warn(&mut self, line: u32, message: &str) {
        self.warnings.push(format!("line {line}: {message}"));
    }
}

/// Whether `name` is in the `driver.*` collection (ignoring case).
pub fn is_driver_variable(name: &str) -> bool {
    name.get(..7).is_some_and(|prefix| prefix.eq_ignore_ascii_case("driver."))
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
        .fold(0u64, |acc, digit| acc.saturating_mul(10).saturating_add(u64::from(digit - b'0')));
    if negative { 0 } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn set(name: &str, value: &str) -> Statement {
        Statement::SetVar { name: name.to_string(), value: value.to_string() }
    }

    fn status(value: &str) -> Statement {
        Statement::StatusLine(value.to_string())
    }

    fn statements(script: &Script) -> Vec<Statement> {
        script.steps.iter().map(|step| step.statement.clone()).collect()
    }

    fn compile(text: &str) -> Vec<Statement> {
        statements(&Script::compile(text.as_bytes()))
    }

    #[test]
    fn values_are_trimmed_and_joined_by_single_spaces() {
        // Facts §e (edge.dev, smartrt, inverter).
        let script = Script::compile(
            b"ups.mfr: Multi   Space    Vendor\nups.id:    leading spaces\n\
device.serial: trailing spaces   \ntab.value:\tA\t\tB\nups.model:  2.1\n\
input.transfer.reason: input voltage out of range\n",
        );
        assert_eq!(
            statements(&script),
            vec![
                set("ups.mfr", "Multi Space Vendor"),
                set("ups.id", "leading spaces"),
                set("device.serial", "trailing spaces"),
                set("tab.value", "A B"),
                set("ups.model", "2.1"),
                set("input.transfer.reason", "input voltage out of range"),
            ]
        );
        assert!(script.warnings.is_empty());
    }

    #[test]
    fn quotes_escapes_and_comments_follow_the_tokenizer() {
        assert_eq!(
            compile(
                "ups.model: \"Quoted  Model  X\"\nups.firmware.aux: a \"mid quote\" b\n\
device.contact: 'single quoted'\nups.firmware: has\\backslash\n\
ups.temperature: 30\t#inline comment\nvar.with.colon: a:b c:d\n"
            ),
            vec![
                set("ups.model", "Quoted  Model  X"),
                set("ups.firmware.aux", "a mid quote b"),
                set("device.contact", "'single quoted'"),
                set("ups.firmware", "hasbackslash"),
                set("ups.temperature", "30"),
                set("var.with.colon", "a:b c:d"),
            ]
        );
    }

    #[test]
    fn long_values_are_cut_to_127_characters() {
        let long = "L".repeat(200);
        let script = Script::compile(alloc::format!("long.value: {long}\n").as_bytes());
        assert_eq!(statements(&script), vec![set("long.value", &long[..127])]);
        // The cut applies to the joined value, not to each word.
        let words = alloc::format!("x: {} {}\n", "a".repeat(100), "b".repeat(100));
        match &compile(&words)[0] {
            Statement::SetVar { value, .. } => {
                assert_eq!(value.len(), MAX_VALUE_LEN);
                assert!(value.ends_with(" bbbbbbbbbbbbbbbbbbbbbbbbbb"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_line_without_value_reuses_the_previous_lines_value() {
        // Facts §e: inverter, smartrt, ec.dev, edge4.dev.
        assert_eq!(
            compile("ups.load: 40.0\nups.mfr:\nups.model:  2.1\n"),
            vec![set("ups.load", "40.0"), set("ups.mfr", "40.0"), set("ups.model", "2.1")]
        );
        assert_eq!(
            compile("Ups.Load: 5\nbattery.runtime:\nBattery.Runtime: 9\n"),
            vec![set("Ups.Load", "5"), set("battery.runtime", "5"), set("Battery.Runtime", "9")]
        );
        // Single word without colon, and `name:value` without a space.
        let script = Script::compile(
            b"ups.firmware.aux: a \"mid quote\" b\nnocolonline\nups.temperature: 30\ninput.voltage:230\n",
        );
        assert_eq!(
            statements(&script),
            vec![
                set("ups.firmware.aux", "a mid quote b"),
                set("nocolonline", "a mid quote b"),
                set("ups.temperature", "30"),
                set("input.voltage", "30"),
            ]
        );
        assert_eq!(script.warnings.len(), 2, "{:?}", script.warnings);
        assert!(script.warnings[0].starts_with("line 2: 'nocolonline' has no ':'"));
        assert!(script.warnings[1].starts_with("line 4: 'input.voltage:230' has no space"));
    }

    #[test]
    fn without_a_previous_value_the_value_is_empty() {
        // eb.dev: nothing published; ed.dev: `""` publishes nothing either;
        // edge2.dev: a line after `""` reuses the empty value.
        assert_eq!(compile("x.var:\n"), vec![set("x.var", "")]);
        assert_eq!(compile("x.var: \"\"\n"), vec![set("x.var", "")]);
        assert_eq!(
            compile("a: 1\nups.test.result: \"\"\nups.firmware:\n"),
            vec![set("a", "1"), set("ups.test.result", ""), set("ups.firmware", "")]
        );
    }

    #[test]
    fn the_value_function_keeps_its_buffer() {
        let words = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut buffer = String::new();
        assert_eq!(value_or_previous_lines_value(&mut buffer, &[]), "");
        assert_eq!(value_or_previous_lines_value(&mut buffer, &words(&["a", "b"])), "a b");
        assert_eq!(value_or_previous_lines_value(&mut buffer, &[]), "a b");
        assert_eq!(value_or_previous_lines_value(&mut buffer, &words(&[""])), "");
        assert_eq!(value_or_previous_lines_value(&mut buffer, &[]), "");
    }

    #[test]
    fn status_lines_are_verbatim_and_leave_the_value_buffer_alone() {
        // Facts §f: no de-duplication, reordering or case change.
        assert_eq!(
            compile("ups.status: OL OL ob  BOGUS\nups.status: ALARM \nups.status:\nups.status: \"\"\n"),
            vec![status("OL OL ob BOGUS"), status("ALARM"), status(""), status("")]
        );
        assert_eq!(compile("a: 1\nups.status: OB LB\nb:\n"), vec![set("a", "1"), status("OB LB"), set("b", "1")]);
        // status_set() spacing with empty words.
        assert_eq!(compile("ups.status: \"\" OL \"\" LB\n"), vec![status("OL  LB")]);
        // Only the exact lower-case prefix takes the status path.
        assert_eq!(compile("UPS.STATUS: OB\n"), vec![set("UPS.STATUS", "OB")]);
    }

    #[test]
    fn driver_variables_are_ignored_and_do_not_feed_the_buffer() {
        assert_eq!(
            compile("driver.name: dummy-ups\ndriver.parameter.port: x.dev\nups.load: 3\nx:\n"),
            vec![set("ups.load", "3"), set("x", "3")]
        );
        assert_eq!(compile("driver.version: 1\nx:\n"), vec![set("x", "")]);
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
        // The driver compares the first five characters, case-sensitively.
        assert_eq!(compile("TIMERS 2\ntimer: 3\n"), vec![Statement::Timer { seconds: 2 }, set("timer", "3")]);
    }

    #[test]
    fn alarm_lines() {
        let script = Script::compile(b"ALARM Replace battery!\nALARM\n");
        assert_eq!(
            statements(&script),
            vec![Statement::Alarm(Some("Replace battery!".to_string())), Statement::Alarm(None)]
        );
    }

    #[test]
    fn ups_alarm_is_an_ordinary_variable() {
        assert_eq!(
            compile("ups.alarm: Bypass not available! Internal failure!\n"),
            vec![set("ups.alarm", "Bypass not available! Internal failure!")]
        );
    }

    #[test]
    fn names_without_colon_and_quoted_names() {
        let script = Script::compile(b"nocolon withvalue\n\"quoted.name\": q\n");
        // Observed in NUT 2.8.0: `"quoted.name": q` publishes `: q`.
        assert_eq!(statements(&script), vec![set("nocolon", "withvalue"), set("quoted.name", ": q")]);
        assert_eq!(script.warnings.len(), 2);
    }

    #[test]
    fn empty_names_are_skipped_but_feed_the_buffer() {
        let script = Script::compile(b":emptyname\n: kept\nx:\n");
        assert_eq!(statements(&script), vec![set("x", "kept")]);
        assert_eq!(script.warnings.len(), 2, "{:?}", script.warnings);
    }

    #[test]
    fn cmd_comments_name_commands() {
        let file = b"#CMD:beeper.toggle\n#CMD:shutdown.stop\t#COMMENT: Stop only\n#CMD: load.on\n\
#CMD:BEEPER.toggle\n# load.off:COMMENT:\nups.load: 1 #CMD:not.a.command\n#CMD:\n#CMD:bad\"name\n";
        let script = Script::compile(file);
        assert_eq!(script.commands, vec!["beeper.toggle", "shutdown.stop", "load.on"]);
        assert_eq!(script.warnings.len(), 2, "{:?}", script.warnings);
    }

    #[test]
    fn parse_errors_are_reported_with_line_numbers() {
        let script = Script::compile(b"a: 1\nb: \"x#y\"\nc: 3\n");
        assert_eq!(statements(&script), vec![set("a", "1"), set("c", "3")]);
        assert_eq!(script.warnings, vec!["line 2: unbalanced word due to unescaped # in quotes; line skipped"]);
    }

    #[test]
    fn real_device_dump_compiles() {
        let file = b"battery.charge: 100\ndevice.mfr: EATON\nups.alarm: Bypass not available! Internal failure!\n\
ups.status: ALARM OL\n\n#CMD:load.off\n# DEVICE:COMMENT-BLOCK:FIXME:UPSCMD:\n# load.off - Turn off the load immediately\n";
        let script = Script::compile(file);
        assert_eq!(
            statements(&script),
            vec![
                set("battery.charge", "100"),
                set("device.mfr", "EATON"),
                set("ups.alarm", "Bypass not available! Internal failure!"),
                status("ALARM OL"),
            ]
        );
        assert_eq!(script.commands, vec!["load.off"]);
        assert!(script.warnings.is_empty());
    }
}
