//! Scripts: what happens to the UPS's surroundings, and when.
//!
//! One event per line, `<time> <action>`, times in simulated time since the
//! script started (so `--time-scale` speeds them up like everything else):
//!
//! ```text
//! # comments run from '#' to the end of the line
//! 10s  mains off
//! 40s  mains on
//! 20s  load 80
//! 5s   battery 30        # charge, %
//! 1m   temperature 35.5
//! 90s  input-voltage 205
//! 2m   input-frequency 49.8
//! 3m   fault on
//! 4m   beeper off
//! ```
//!
//! Times take a unit of `ms`, `s`, `m` or `h` (a bare number is seconds), and
//! need not be in order.

use std::path::Path;

use crate::model::Action;

/// One scheduled change.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptEvent {
    /// Simulated seconds after the script's start.
    pub at: f64,
    /// What changes.
    pub action: Action,
    /// The line it came from (1-based).
    pub line: usize,
}

/// A parsed script, events in time order (stable for equal times).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// The events.
    pub events: Vec<ScriptEvent>,
}

/// A script that cannot be used, naming where.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The file could not be read.
    #[error("cannot read script {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a valid event.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file (or `<script>` for text not from a file).
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Script {
    /// Read and parse a script file.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read { file: file.clone(), source })?;
        Script::parse(&text, &file)
    }

    /// Parse script text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Script, ScriptError> {
        let mut events = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let syntax = |message: String| ScriptError::Syntax { file: file.to_string(), line, message };
            let words: Vec<&str> = content.split_whitespace().collect();
            let (time, rest) = words.split_first().expect("a non-empty line has a first word");
            let at = parse_duration(time).map_err(syntax)?;
            let action = parse_action(rest).map_err(syntax)?;
            events.push(ScriptEvent { at, action, line });
        }
        events.sort_by(|a, b| a.at.total_cmp(&b.at));
        Ok(Script { events })
    }
}

/// Parse a duration such as `500ms`, `10s`, `1.5m`, `2h` or `30` (seconds) into seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value = match number.parse::<f64>() {
        Ok(value) if value.is_finite() => value,
        _ => return Err(format!("bad time {text:?}: expected a number and a unit, like 10s or 1.5m")),
    };
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("bad time {text:?}: the unit must be ms, s, m or h")),
    };
    Ok(value * scale)
}

fn parse_action(words: &[&str]) -> Result<Action, String> {
    let Some((&name, args)) = words.split_first() else {
        return Err("a time needs an action after it (mains, load, battery, ...)".into());
    };
    let single = || match args {
        [value] => Ok(*value),
        _ => Err(format!("{name} takes exactly one value")),
    };
    let number = |low: f64, high: f64, unit: &str| -> Result<f64, String> {
        let text = single()?;
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() && (low..=high).contains(&value) => Ok(value),
            _ => Err(format!("{name} {text}: expected a number from {low} to {high} {unit}")),
        }
    };
    let on_off = || match single()? {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("{name} {other}: expected on or off")),
    };
    Ok(match name {
        "mains" => Action::Mains(on_off()?),
        "load" => Action::Load(number(0.0, 999.0, "%")?.round() as u16),
        "battery" => Action::Battery(number(0.0, 100.0, "%")?),
        "temperature" => Action::Temperature(number(0.0, 99.9, "°C")?),
        "input-voltage" => Action::InputVoltage(number(0.0, 999.9, "V")?),
        "input-frequency" => Action::InputFrequency(number(0.0, 99.9, "Hz")?),
        "fault" => Action::Fault(on_off()?),
        "beeper" => Action::Beeper(on_off()?),
        other => {
            return Err(format!(
                "unknown action {other:?} (expected mains, load, battery, temperature, input-voltage, \
                 input-frequency, fault or beeper)"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_in_time_order() {
        let text = "# a power cut\n10s mains off\n\n40s mains on # back\n20s load 80\n5s battery 30\n\
                    1.5m temperature 35.5\n500ms input-voltage 205\n2h input-frequency 49.8\n3 fault on\n4m beeper off\n";
        let script = Script::parse(text, "cut.txt").unwrap();
        let got: Vec<(f64, Action, usize)> = script.events.into_iter().map(|e| (e.at, e.action, e.line)).collect();
        assert_eq!(
            got,
            vec![
                (0.5, Action::InputVoltage(205.0), 8),
                (3.0, Action::Fault(true), 10),
                (5.0, Action::Battery(30.0), 6),
                (10.0, Action::Mains(false), 2),
                (20.0, Action::Load(80), 5),
                (40.0, Action::Mains(true), 4),
                (90.0, Action::Temperature(35.5), 7),
                (240.0, Action::Beeper(false), 11),
                (7200.0, Action::InputFrequency(49.8), 9),
            ]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            (
                "10s mains off\nten mains on\n",
                "cut.txt:2: bad time \"ten\": expected a number and a unit, like 10s or 1.5m",
            ),
            ("10x mains off\n", "cut.txt:1: bad time \"10x\": the unit must be ms, s, m or h"),
            ("\n\n10s\n", "cut.txt:3: a time needs an action after it (mains, load, battery, ...)"),
            ("1s mains maybe\n", "cut.txt:1: mains maybe: expected on or off"),
            ("1s battery 130\n", "cut.txt:1: battery 130: expected a number from 0 to 100 %"),
            ("1s load\n", "cut.txt:1: load takes exactly one value"),
            ("1s load 1 2\n", "cut.txt:1: load takes exactly one value"),
            (
                "1s explode\n",
                "cut.txt:1: unknown action \"explode\" (expected mains, load, battery, temperature, input-voltage, \
                 input-frequency, fault or beeper)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Script::parse(text, "cut.txt").unwrap_err().to_string(), expected, "{text:?}");
        }
    }

    #[test]
    fn missing_file_is_named() {
        let err = Script::load(Path::new("/nonexistent/cut.txt")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read script /nonexistent/cut.txt: "), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(0.25));
        assert_eq!(parse_duration("10"), Ok(10.0));
        assert_eq!(parse_duration("2min"), Ok(120.0));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1..2s").is_err());
    }
}
