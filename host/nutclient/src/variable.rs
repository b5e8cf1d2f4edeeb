//! What the server says about variables: types (`GET TYPE`), ranges, and a
//! read-write variable with everything `upsrw` shows about it; and the state
//! of a tracked request (`GET TRACKING`).

use std::fmt;

use crate::error::ErrorCode;

/// A variable's type words as `GET TYPE` answers them, in order
/// (e.g. `RW ENUM STRING:10`). Words are kept verbatim so a client can show
/// ones it does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarType {
    /// The words after `TYPE <ups> <var>`.
    pub words: Vec<String>,
}

/// A variable's value kind: the first `STRING:<n>` or `NUMBER` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `STRING:<n>`: at most `max_len` characters (`n` read like C's `atoi`).
    String {
        /// The maximum length.
        max_len: i64,
    },
    /// `NUMBER`.
    Number,
}

impl VarType {
    fn has(&self, word: &str) -> bool {
        self.words.iter().any(|w| w.eq_ignore_ascii_case(word))
    }

    /// Writable (`RW`).
    pub fn is_rw(&self) -> bool {
        self.has("RW")
    }

    /// Has an enumeration of allowed values (`ENUM`, see `LIST ENUM`).
    pub fn is_enum(&self) -> bool {
        self.has("ENUM")
    }

    /// Has ranges of allowed values (`RANGE`, see `LIST RANGE`).
    pub fn is_range(&self) -> bool {
        self.has("RANGE")
    }

    /// The first `STRING:<n>` or `NUMBER` word, if any.
    pub fn kind(&self) -> Option<ValueKind> {
        self.words.iter().find_map(|word| {
            if word.eq_ignore_ascii_case("NUMBER") {
                Some(ValueKind::Number)
            } else if word.len() >= 7 && word[..7].eq_ignore_ascii_case("STRING:") {
                Some(ValueKind::String { max_len: atoi(&word[7..]) })
            } else {
                None
            }
        })
    }
}

/// One `LIST RANGE` entry: the bounds as the server sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Lower bound.
    pub min: String,
    /// Upper bound.
    pub max: String,
}

impl Range {
    /// True when `value` falls within the bounds, all read as integers the
    /// way NUT does (C's `atoi`: leading digits only, 0 when there are none).
    pub fn contains(&self, value: &str) -> bool {
        (atoi(&self.min)..=atoi(&self.max)).contains(&atoi(value))
    }
}

/// A read-write variable with everything the server says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RwVariable {
    /// Its name.
    pub name: String,
    /// Its value as listed by `LIST RW`.
    pub value: String,
    /// `GET DESC`, when the server answered it.
    pub description: Option<String>,
    /// `GET TYPE`, when the server answered it.
    pub var_type: Option<VarType>,
    /// `LIST ENUM`, for `ENUM` variables (else empty).
    pub enum_values: Vec<String>,
    /// `LIST RANGE`, for `RANGE` variables (else empty).
    pub ranges: Vec<Range>,
}

/// The state of a tracked `INSTCMD` or `SET VAR` (`GET TRACKING <id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingStatus {
    /// The driver has not answered yet.
    Pending,
    /// The driver did it.
    Success,
    /// `ERR UNKNOWN` (result unknown or id expired), `ERR INVALID-ARGUMENT` or `ERR FAILED`.
    Failed(ErrorCode),
}

impl fmt::Display for TrackingStatus {
    /// The reply line: `PENDING`, `SUCCESS` or `ERR <CODE>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackingStatus::Pending => f.write_str("PENDING"),
            TrackingStatus::Success => f.write_str("SUCCESS"),
            TrackingStatus::Failed(code) => write!(f, "ERR {code}"),
        }
    }
}

/// C's `atoi`: optional blanks and sign, then leading digits; 0 without digits.
/// Saturates instead of overflowing.
pub fn atoi(text: &str) -> i64 {
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let mut value: i64 = 0;
    for byte in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(byte - b'0'));
    }
    sign * value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var_type(words: &str) -> VarType {
        VarType { words: words.split_whitespace().map(str::to_owned).collect() }
    }

    #[test]
    fn type_words() {
        let t = var_type("RW ENUM STRING:10");
        assert!(t.is_rw() && t.is_enum() && !t.is_range());
        assert_eq!(t.kind(), Some(ValueKind::String { max_len: 10 }));
        assert_eq!(var_type("NUMBER STRING:7").kind(), Some(ValueKind::Number));
        assert_eq!(var_type("RW STRING:x").kind(), Some(ValueKind::String { max_len: 0 }));
        assert_eq!(var_type("rw range number").kind(), Some(ValueKind::Number));
        assert!(var_type("rw range number").is_range());
        assert_eq!(var_type("RW").kind(), None);
        assert!(!var_type("").is_rw());
    }

    #[test]
    fn ranges_compare_like_atoi() {
        let range = Range { min: "5".into(), max: "10".into() };
        assert!(range.contains("5") && range.contains("10") && range.contains("7.9") && range.contains("8abc"));
        assert!(!range.contains("4") && !range.contains("11") && !range.contains("abc"));
        assert!(Range { min: "0".into(), max: "5".into() }.contains("abc"));
        assert_eq!(atoi(" -12x"), -12);
        assert_eq!(atoi("+3"), 3);
        assert_eq!(atoi("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn tracking_status_reads_as_the_reply() {
        assert_eq!(TrackingStatus::Pending.to_string(), "PENDING");
        assert_eq!(TrackingStatus::Success.to_string(), "SUCCESS");
        assert_eq!(TrackingStatus::Failed(ErrorCode::Unknown).to_string(), "ERR UNKNOWN");
    }
}
