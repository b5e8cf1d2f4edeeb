//! Harmless oddities found while reading a configuration file.

use std::fmt;

/// Something odd but harmless in a configuration file (an ignored line, an
/// unknown or obsolete directive), for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Physical line (1-based) it refers to.
    pub line: usize,
    /// What was found and what happens to it.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        Warning { line, message: message.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}
