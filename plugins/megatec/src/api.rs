//! Plain-Rust mirrors of the WIT types the device logic uses, and what it
//! needs from the host as a trait.
//!
//! The logic never touches the generated bindings: `bindings.rs` converts at
//! the boundary, so the protocol runs natively in tests against a scripted
//! fake line.

use alloc::string::String;
use alloc::vec::Vec;

/// An inclusive integer range a writable variable accepts (WIT `value-range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueRange {
    /// Smallest accepted value.
    pub min: i64,
    /// Largest accepted value.
    pub max: i64,
}

/// One change to the published state (the subset of WIT `change` used here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Create or update a variable: (name, value).
    SetValue(String, String),
    /// Mark a variable writable (NUT's RW) and numeric.
    SetWritableNumber(String),
    /// Replace a variable's accepted ranges.
    SetRanges(String, Vec<ValueRange>),
    /// Advertise an instant command.
    AddCommand(String),
    /// Replace the status tokens (OL, OB, LB, ...).
    SetStatus(Vec<String>),
    /// Replace the active alarms.
    SetAlarms(Vec<String>),
}

/// Why an operation failed (WIT `device-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// Not handled by this plugin (NUT: unknown).
    Unknown,
    /// Not allowed or malformed (NUT: invalid).
    Invalid(String),
    /// The value could not be converted (NUT: conversion failed).
    BadValue(String),
    /// The device did not do it (NUT: failed).
    Failed(String),
    /// The device cannot be reached; the host marks its data stale.
    Unreachable(String),
}

/// Why an exchange on the serial line failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// The port cannot be used now (missing, vanished, busy).
    Unavailable(String),
    /// Any other I/O error, or settings the port refused.
    Io(String),
}

impl core::fmt::Display for LineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LineError::Unavailable(message) => write!(f, "serial port unavailable: {message}"),
            LineError::Io(message) => write!(f, "serial I/O error: {message}"),
        }
    }
}

/// What the UPS does with a return-on-mains kill while mains is present
/// (WIT `power-race.cycles-on-mains`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CyclesOnMains {
    /// It cuts the load and restores it whatever the mains does.
    Yes,
    /// It ignores the kill while on mains.
    No,
    /// Not known.
    Unknown,
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

/// What the device logic needs from the host: the serial line, the clock
/// and the log of the `serial-plugin` world.
pub trait Host {
    /// Discard pending input, send `command` followed by `\r`, and return
    /// what arrives up to and including the next `\r`, or whatever arrived
    /// when `timeout_ms` passed (possibly nothing).
    ///
    /// # Errors
    ///
    /// A [`LineError`] when the port cannot be used.
    fn transact(&mut self, command: &str, timeout_ms: u32) -> Result<Vec<u8>, LineError>;
    /// Set the DTR and RTS modem lines (`cablepower`).
    ///
    /// # Errors
    ///
    /// A [`LineError`] when the port cannot be used.
    fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> Result<(), LineError>;
    /// Monotonic milliseconds (`clock.monotonic-ms`).
    fn monotonic_ms(&mut self) -> u64;
    /// Write a log line (`log.write`).
    fn log(&mut self, level: LogLevel, message: &str);
}
