//! How the server hands writes (`SET VAR`, `INSTCMD`) to devices.
//!
//! The host implements [`DeviceControl`]. A write has two phases, as in
//! upsd: the *hand-off* (upsd writes the request to the driver socket) and
//! the *execution* (the driver later reports a result, which `GET TRACKING`
//! shows). The hand-off happens synchronously while the server answers, so
//! the client's `OK` means "the device has the request" and a failed hand-off
//! becomes `ERR SET-FAILED` / `ERR INSTCMD-FAILED`; the execution is the
//! returned [`Completion`] future, which the server drives to record the
//! tracking result.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (what `futures::future::BoxFuture` is), so the
/// trait stays object-safe without an extra dependency.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The outcome of a handed-off write, resolved when the device has executed it.
pub type Completion = BoxFuture<'static, Result<(), ControlError>>;

/// Why a device did not carry out a write. Each variant is one of the result
/// codes NUT drivers report (`STAT_*` in NUT), shown by `GET TRACKING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The device does not implement the command or variable, although it
    /// advertised it (NUT `STAT_INSTCMD_UNKNOWN` / `STAT_SET_UNKNOWN`).
    #[error("the device does not implement it")]
    Unknown,
    /// The argument or value was refused (`STAT_*_INVALID`).
    #[error("invalid argument")]
    InvalidArgument,
    /// The device tried and failed (`STAT_*_FAILED`).
    #[error("the device failed to carry it out")]
    Failed,
    /// The value could not be converted to what the device needs
    /// (`STAT_*_CONVERSION_FAILED`).
    #[error("value conversion failed")]
    ConversionFailed,
}

impl ControlError {
    /// The `GET TRACKING` answer for this outcome.
    pub fn tracking_reply(self) -> &'static str {
        match self {
            ControlError::Unknown => "ERR UNKNOWN",
            ControlError::InvalidArgument | ControlError::ConversionFailed => "ERR INVALID-ARGUMENT",
            ControlError::Failed => "ERR FAILED",
        }
    }
}

/// The request could not be handed to the device at all (its plugin is not
/// running, or its queue is full). The client gets `ERR SET-FAILED` or
/// `ERR INSTCMD-FAILED`, as from upsd when the driver socket write fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request not delivered to the device: {reason}")]
pub struct HandoffError {
    /// Why, for the log.
    pub reason: String,
}

impl HandoffError {
    /// A hand-off failure with a reason for the log.
    pub fn new(reason: impl Into<String>) -> Self {
        HandoffError { reason: reason.into() }
    }
}

/// The host's side of writes to devices.
///
/// Names passed in are the device's own spelling: the configured device name,
/// and the variable or command name as the device published it (clients may
/// type them in any case). The server has already checked permissions, that
/// the device is connected with fresh data, that the command is advertised,
/// and (for `SET VAR`) that the variable is writable and the value fits its
/// type, length, enum and ranges.
pub trait DeviceControl: Send + Sync {
    /// Hand instant command `command` (with its optional argument) to `device`.
    ///
    /// Called while the client waits for its answer: enqueue the request and
    /// return at once with a future that resolves when the device has run it.
    fn instcmd(&self, device: &str, command: &str, argument: Option<&str>) -> Result<Completion, HandoffError>;

    /// Hand a new `value` for `variable` to `device`; same contract as
    /// [`instcmd`](Self::instcmd).
    fn set_var(&self, device: &str, variable: &str, value: &str) -> Result<Completion, HandoffError>;

    /// Whether the device counts as connected: its plugin finished `init`
    /// once and has not failed for good. `false` answers
    /// `ERR DRIVER-NOT-CONNECTED` (upsd: no socket to the driver, which a NUT
    /// driver opens only after its own init); a connected device with stale
    /// data, or restarting, answers `ERR DATA-STALE` instead.
    fn is_connected(&self, device: &str) -> bool {
        let _ = device;
        true
    }
}

/// A [`DeviceControl`] for a read-only server: every write is refused at
/// hand-off.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOnlyControl;

impl DeviceControl for ReadOnlyControl {
    fn instcmd(&self, _device: &str, _command: &str, _argument: Option<&str>) -> Result<Completion, HandoffError> {
        Err(HandoffError::new("this server does not forward writes to devices"))
    }

    fn set_var(&self, _device: &str, _variable: &str, _value: &str) -> Result<Completion, HandoffError> {
        Err(HandoffError::new("this server does not forward writes to devices"))
    }
}
