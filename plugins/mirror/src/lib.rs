//! What the virtual-device plugins `clone` and `clone-outlet` share: the
//! upstream's state as the `upstream` capability reports it, relaying its
//! variables (NUT's clone drivers copy the upstream's `SETINFO`/`DELINFO`),
//! NUT's status composition and C's `strtol`/`strtod` readings of values.
//!
//! No bindings here: the plugins convert the WIT types at their boundary, and
//! this logic is tested natively.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Whether the upstream's data is current (WIT `upstream.availability`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Its plugin has not reported yet.
    Starting,
    /// Current.
    Fresh,
    /// Stale, with the host's reason.
    Stale(String),
}

/// The upstream's published state at one moment (WIT `upstream.snapshot`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamSnapshot {
    /// Changes whenever anything in the upstream changed.
    pub generation: u64,
    /// Whether the variables are current.
    pub availability: Availability,
    /// (name, value), sorted by name.
    pub variables: Vec<(String, String)>,
}

impl UpstreamSnapshot {
    /// The value of `name`, if the upstream publishes it.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One change to the virtual device's published state (the subset of WIT
/// `change` the virtual devices emit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Create or update a variable: (name, value).
    SetValue(String, String),
    /// Remove a variable.
    Remove(String),
    /// Make a variable writable as a string of at most this many characters.
    SetWritableString(String, u32),
    /// Advertise an instant command.
    AddCommand(String),
}

/// The variables a virtual device publishes, and the changes since it last
/// reported them: the host wants only what changed.
#[derive(Debug, Default)]
pub struct Published {
    reported: BTreeMap<String, String>,
    wanted: BTreeMap<String, String>,
}

impl Published {
    /// Start a new round: what is not set again before [`Published::take_changes`] is removed.
    pub fn begin(&mut self) {
        self.wanted.clear();
    }

    /// Publish `name = value` in this round.
    pub fn set(&mut self, name: &str, value: &str) {
        self.wanted.insert(name.to_string(), value.to_string());
    }

    /// What the round changed, as edits in name order.
    pub fn take_changes(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        for name in self.reported.keys() {
            if !self.wanted.contains_key(name) {
                changes.push(Change::Remove(name.clone()));
            }
        }
        for (name, value) in &self.wanted {
            if self.reported.get(name) != Some(value) {
                changes.push(Change::SetValue(name.clone(), value.clone()));
            }
        }
        self.reported = self.wanted.clone();
        changes
    }
}

/// `ups.status` built as NUT's status helpers build it: tokens split on
/// spaces, duplicates merged (first place wins), and an `ALARM` token moved
/// to the front.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatusBuilder {
    tokens: Vec<String>,
}

impl StatusBuilder {
    /// An empty status.
    pub fn new() -> Self {
        StatusBuilder::default()
    }

    /// Add every space-separated token of `text` not already present.
    pub fn add(&mut self, text: &str) {
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            if !self.tokens.iter().any(|t| t == token) {
                self.tokens.push(token.to_string());
            }
        }
    }

    /// Whether `token` is present.
    pub fn has(&self, token: &str) -> bool {
        self.tokens.iter().any(|t| t == token)
    }

    /// The published text: `ALARM` first, then the others in order added.
    pub fn compose(&self) -> String {
        let mut ordered: Vec<&str> = Vec::with_capacity(self.tokens.len());
        if self.has("ALARM") {
            ordered.push("ALARM");
        }
        ordered.extend(self.tokens.iter().map(String::as_str).filter(|t| *t != "ALARM"));
        ordered.join(" ")
    }
}

/// C's `strtol(value, NULL, 10)`: leading spaces, a sign, then digits; 0
/// when there are none; saturating like `strtol` at the type's limits.
pub fn strtol(value: &str) -> i64 {
    let text = value.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut magnitude: i64 = 0;
    for byte in digits.bytes().take_while(u8::is_ascii_digit) {
        let digit = i64::from(byte - b'0');
        magnitude = match magnitude.checked_mul(10).and_then(|m| m.checked_add(digit)) {
            Some(m) => m,
            None => return if negative { i64::MIN } else { i64::MAX },
        };
    }
    if negative { -magnitude } else { magnitude }
}

/// C's `strtod(value, NULL)` for plain decimals (no exponent, which UPS values do not use): the longest leading number,
/// 0 when there is none.
pub fn strtod(value: &str) -> f64 {
    let text = value.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let bytes = text.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        end = 1;
    }
    let mut longest = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    while end < bytes.len() {
        match bytes[end] {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        end += 1;
        if seen_digit {
            longest = end;
        }
    }
    text[..longest].parse().unwrap_or(0.0)
}

/// C's `printf("%f", value)`: six decimals.
pub fn format_f(value: f64) -> String {
    alloc::format!("{value:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_merges_duplicates_and_puts_alarm_first() {
        let mut status = StatusBuilder::new();
        status.add("FSD");
        status.add("OL  CHRG ALARM FSD");
        assert_eq!(status.compose(), "ALARM FSD OL CHRG");
        assert_eq!(StatusBuilder::new().compose(), "");
    }

    #[test]
    fn numbers_read_as_c_reads_them() {
        for (text, expected) in [("120", 120), (" -1", -1), ("+7x", 7), ("abc", 0), ("", 0), ("12.9", 12)] {
            assert_eq!(strtol(text), expected, "{text:?}");
        }
        for (text, expected) in [("20", 20.0), ("35.5%", 35.5), ("-", 0.0), ("x", 0.0)] {
            assert_eq!(strtod(text), expected, "{text:?}");
        }
        assert_eq!(format_f(20.0), "20.000000");
    }

    #[test]
    fn published_reports_only_differences() {
        let mut published = Published::default();
        published.begin();
        published.set("a", "1");
        published.set("b", "2");
        assert_eq!(published.take_changes().len(), 2);
        published.begin();
        published.set("a", "1");
        published.set("b", "3");
        assert_eq!(published.take_changes(), [Change::SetValue("b".into(), "3".into())]);
        published.begin();
        published.set("b", "3");
        assert_eq!(published.take_changes(), [Change::Remove("a".into())]);
    }
}
