//! Plain-Rust mirrors of the WIT types the device logic uses, and the
//! capabilities it needs from the host as a trait.
//!
//! The logic in this crate never touches the generated bindings: the wasm
//! glue (`bindings.rs`) converts at the boundary. That keeps the parsing and
//! state machine testable natively with a fake clock and fake files.

use alloc::string::String;
use alloc::vec::Vec;

/// A variable's type and writability (WIT `var-meta`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarMeta {
    /// Variable name.
    pub name: String,
    /// NUT's RW flag.
    pub writable: bool,
    /// `Some(n)`: STRING of at most n characters; `None`: NUMBER.
    pub string_max_len: Option<u32>,
}

/// One change to the published state (the subset of WIT `change` the dummy
/// device emits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Create or update a variable: (name, value).
    SetValue(String, String),
    /// Remove a variable.
    Remove(String),
    /// Set a variable's flags; always follows the variable's creation.
    SetMeta(VarMeta),
    /// Advertise an instant command.
    AddCommand(String),
    /// Stop advertising an instant command.
    RemoveCommand(String),
    /// Replace the active alarms (only for `ALARM` keyword lines; the
    /// dummy device publishes `ups.status` and `ups.alarm` with
    /// [`Change::SetValue`] and never sends WIT `set-status`).
    SetAlarms(Vec<String>),
}

/// Why an operation failed (the subset of WIT `device-error` used here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// Not handled by this plugin (NUT: unknown).
    Unknown,
    /// Not allowed or malformed (NUT: invalid).
    Invalid(String),
    /// The device did not do it (NUT: failed).
    Failed(String),
    /// The device cannot be reached; the host marks its data stale.
    Unreachable(String),
}

/// Why a file operation failed (WIT `file-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// The path is not granted.
    Denied,
    /// The file does not exist.
    NotFound,
    /// The file exceeds the host's read limit (bytes).
    TooLarge(u64),
    /// Any other I/O error.
    Io(String),
}

impl core::fmt::Display for FileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FileError::Denied => f.write_str("access denied by the host"),
            FileError::NotFound => f.write_str("no such file"),
            FileError::TooLarge(limit) => write!(f, "larger than the host's {limit}-byte limit"),
            FileError::Io(message) => f.write_str(message),
        }
    }
}

/// Size and modification time of a file (WIT `file-stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ms since the Unix epoch.
    pub modified_ms: u64,
}

/// Severity of a log line (WIT `log.level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Developer detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something is off, the device still works.
    Warn,
    /// Something failed.
    Error,
}

/// What the device logic needs from the host: the `clock`, `file` and `log`
/// imports of the `file-plugin` world.
pub trait Host {
    /// Monotonic milliseconds (`clock.monotonic-ms`).
    fn monotonic_ms(&mut self) -> u64;
    /// Read a whole granted file (`file.read`).
    ///
    /// # Errors
    ///
    /// Whatever the host refuses or fails to do, as a [`FileError`].
    fn read(&mut self, path: &str) -> Result<Vec<u8>, FileError>;
    /// Stat a granted file (`file.stat`).
    ///
    /// # Errors
    ///
    /// As for [`Host::read`].
    fn stat(&mut self, path: &str) -> Result<FileStat, FileError>;
    /// Write a log line (`log.write`).
    fn log(&mut self, level: LogLevel, message: &str);
}
