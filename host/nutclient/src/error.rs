//! Errors: what a NUT server refused (`ERR <CODE>`), and what went wrong
//! reaching it or understanding it.

use std::fmt;

/// An `ERR` code a NUT server answers with. Codes the protocol defines
/// (including legacy ones old servers still send) have their own variant;
/// anything else is kept verbatim in [`ErrorCode::Other`]. Codes are
/// case-sensitive, as in NUT's clients (`access-denied` is not `ACCESS-DENIED`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `ACCESS-DENIED`: wrong user, password or permission.
    AccessDenied,
    /// `UNKNOWN-UPS`: no such UPS on this server.
    UnknownUps,
    /// `VAR-NOT-SUPPORTED`: the UPS has no such variable.
    VarNotSupported,
    /// `CMD-NOT-SUPPORTED`: the UPS has no such instant command.
    CmdNotSupported,
    /// `INVALID-ARGUMENT`: wrong arguments (also a tracking result).
    InvalidArgument,
    /// `INSTCMD-FAILED`: the server could not pass the command to the driver.
    InstcmdFailed,
    /// `SET-FAILED`: the server could not pass the setting to the driver.
    SetFailed,
    /// `READONLY`: the variable is not writable.
    Readonly,
    /// `TOO-LONG`: the value is longer than the variable allows.
    TooLong,
    /// `INVALID-VALUE`: the value is outside the variable's enum or ranges.
    InvalidValue,
    /// `FEATURE-NOT-SUPPORTED`: e.g. STARTTLS on a server built without TLS.
    FeatureNotSupported,
    /// `FEATURE-NOT-CONFIGURED`: e.g. `GET TRACKING <id>` with tracking off.
    FeatureNotConfigured,
    /// `ALREADY-SSL-MODE`: a second STARTTLS.
    AlreadySslMode,
    /// `DRIVER-NOT-CONNECTED`: the server has lost its driver.
    DriverNotConnected,
    /// `DATA-STALE`: the driver's data is too old to be trusted.
    DataStale,
    /// `ALREADY-LOGGED-IN`: a second LOGIN on this connection.
    AlreadyLoggedIn,
    /// `ALREADY-SET-USERNAME`: a second USERNAME.
    AlreadySetUsername,
    /// `ALREADY-SET-PASSWORD`: a second PASSWORD.
    AlreadySetPassword,
    /// `USERNAME-REQUIRED`: the request needs USERNAME first.
    UsernameRequired,
    /// `PASSWORD-REQUIRED`: the request needs PASSWORD first.
    PasswordRequired,
    /// `UNKNOWN-COMMAND`: the server does not know the request (old servers).
    UnknownCommand,
    /// `INVALID-USERNAME` (reserved).
    InvalidUsername,
    /// `INVALID-PASSWORD` (reserved).
    InvalidPassword,
    /// `PASSWORD-INCORRECT` (legacy).
    PasswordIncorrect,
    /// `MISSING-ARGUMENT` (legacy).
    MissingArgument,
    /// `VAR-UNKNOWN` (legacy).
    VarUnknown,
    /// `UNKNOWN-TYPE` (legacy).
    UnknownType,
    /// `UNKNOWN-VAR` (legacy).
    UnknownVar,
    /// `UNKNOWN-INSTCMD` (legacy).
    UnknownInstcmd,
    /// `UNKNOWN`: a tracked request's result is unknown (or the id expired).
    Unknown,
    /// `FAILED`: a tracked request failed in the driver.
    Failed,
    /// Any other code, verbatim.
    Other(String),
}

/// Every named code with its token and the text NUT's clients (`upsc`) print
/// for it, as observed from upsc 2.8.0. `None`: upsc says "Unknown error".
const CODES: &[(ErrorCode, &str, Option<&str>)] = &[
    (ErrorCode::AccessDenied, "ACCESS-DENIED", Some("Access denied")),
    (ErrorCode::UnknownUps, "UNKNOWN-UPS", Some("Unknown UPS")),
    (ErrorCode::VarNotSupported, "VAR-NOT-SUPPORTED", Some("Variable not supported by UPS")),
    (ErrorCode::CmdNotSupported, "CMD-NOT-SUPPORTED", Some("Instant command not supported")),
    (ErrorCode::InvalidArgument, "INVALID-ARGUMENT", None),
    (ErrorCode::InstcmdFailed, "INSTCMD-FAILED", Some("Instant command failed")),
    (ErrorCode::SetFailed, "SET-FAILED", Some("Set command failed")),
    (ErrorCode::Readonly, "READONLY", Some("Read-only variable")),
    (ErrorCode::TooLong, "TOO-LONG", Some("New value is too long")),
    (ErrorCode::InvalidValue, "INVALID-VALUE", Some("Invalid value for variable")),
    (ErrorCode::FeatureNotSupported, "FEATURE-NOT-SUPPORTED", None),
    (ErrorCode::FeatureNotConfigured, "FEATURE-NOT-CONFIGURED", None),
    (ErrorCode::AlreadySslMode, "ALREADY-SSL-MODE", None),
    (ErrorCode::DriverNotConnected, "DRIVER-NOT-CONNECTED", Some("Driver not connected")),
    (ErrorCode::DataStale, "DATA-STALE", Some("Data stale")),
    (ErrorCode::AlreadyLoggedIn, "ALREADY-LOGGED-IN", Some("Already logged in")),
    (ErrorCode::AlreadySetUsername, "ALREADY-SET-USERNAME", Some("Already set username")),
    (ErrorCode::AlreadySetPassword, "ALREADY-SET-PASSWORD", Some("Already set password")),
    (ErrorCode::UsernameRequired, "USERNAME-REQUIRED", Some("Username required")),
    (ErrorCode::PasswordRequired, "PASSWORD-REQUIRED", Some("Password required")),
    (ErrorCode::UnknownCommand, "UNKNOWN-COMMAND", Some("Unknown command")),
    (ErrorCode::InvalidUsername, "INVALID-USERNAME", Some("Invalid username")),
    (ErrorCode::InvalidPassword, "INVALID-PASSWORD", Some("Invalid password")),
    (ErrorCode::PasswordIncorrect, "PASSWORD-INCORRECT", Some("Password incorrect")),
    (ErrorCode::MissingArgument, "MISSING-ARGUMENT", Some("Missing argument")),
    (ErrorCode::VarUnknown, "VAR-UNKNOWN", Some("Variable unknown")),
    (ErrorCode::UnknownType, "UNKNOWN-TYPE", Some("Unknown variable type")),
    (ErrorCode::UnknownVar, "UNKNOWN-VAR", Some("Unknown variable")),
    (ErrorCode::UnknownInstcmd, "UNKNOWN-INSTCMD", Some("Unknown instant command")),
    (ErrorCode::Unknown, "UNKNOWN", None),
    (ErrorCode::Failed, "FAILED", None),
];

impl ErrorCode {
    /// The code for a token as the server sent it.
    pub fn from_token(token: &str) -> ErrorCode {
        CODES
            .iter()
            .find(|(_, name, _)| *name == token)
            .map(|(code, _, _)| code.clone())
            .unwrap_or_else(|| ErrorCode::Other(token.to_owned()))
    }

    /// The token on the wire, e.g. `DATA-STALE`.
    pub fn token(&self) -> &str {
        match self {
            ErrorCode::Other(token) => token,
            known => CODES.iter().find(|(code, _, _)| code == known).map(|(_, name, _)| *name).unwrap_or(""),
        }
    }

    /// What `upsc` prints for this code after `Error: `, e.g. "Data stale";
    /// "Unknown error" for codes NUT's client library does not name.
    pub fn description(&self) -> &'static str {
        CODES.iter().find(|(code, _, _)| code == self).and_then(|(_, _, text)| *text).unwrap_or("Unknown error")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// Why a request could not be completed. Every variant names the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host name did not resolve.
    #[error("cannot resolve {server}: {source}")]
    Resolve {
        /// `host:port` as given.
        server: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// No address of the server accepted a connection.
    #[error("cannot connect to {server}: {source}")]
    Connect {
        /// `host:port` as given.
        server: String,
        /// The error of the last address tried (`TimedOut` for the connect timeout).
        source: std::io::Error,
    },
    /// Sending a request failed.
    #[error("cannot send to {server}: {source}")]
    Send {
        /// `host:port`.
        server: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// Reading a reply failed (`TimedOut` when the server did not answer in time).
    #[error("cannot read the reply of {server} to `{request}`: {source}")]
    Receive {
        /// `host:port`.
        server: String,
        /// The request, as sent.
        request: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The server closed the connection before replying in full.
    #[error("{server} closed the connection instead of answering `{request}`")]
    Disconnected {
        /// `host:port`.
        server: String,
        /// The request, as sent.
        request: String,
    },
    /// The reply was not what the protocol allows for this request.
    #[error("{server} answered `{request}` with a malformed reply: {problem}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// The request, as sent.
        request: String,
        /// What is wrong with the reply.
        problem: String,
    },
    /// The server answered `ERR <code>`.
    #[error("{server} refused `{request}`: ERR {code}{}", extra_text(.extra))]
    Refused {
        /// `host:port`.
        server: String,
        /// The request, as sent.
        request: String,
        /// The code.
        code: ErrorCode,
        /// Any words after the code (e.g. TLS errors' explanations).
        extra: Vec<String>,
    },
}

fn extra_text(extra: &[String]) -> String {
    extra.iter().map(|word| format!(" {word}")).collect()
}

impl Error {
    /// The server's `ERR` code, when this is a refusal.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// True when the server refused with `code`.
    pub fn is(&self, code: &ErrorCode) -> bool {
        self.code() == Some(code)
    }

    /// The text NUT's clients print for this error after `Error: `
    /// (upsclient's wording: "Data stale", "Connection failure: Connection
    /// refused", "Server disconnected", "No such host", …).
    pub fn client_message(&self) -> String {
        match self {
            Error::Resolve { .. } => "No such host".to_owned(),
            Error::Connect { source, .. } => format!("Connection failure: {}", os_text(source)),
            Error::Send { source, .. } => format!("Write error: {}", os_text(source)),
            // upsclient gives up on a silent server after 5 s and calls it a disconnection.
            Error::Receive { source, .. } if source.kind() == std::io::ErrorKind::TimedOut => {
                "Server disconnected".to_owned()
            }
            Error::Receive { source, .. } => format!("Read error: {}", os_text(source)),
            Error::Disconnected { .. } => "Server disconnected".to_owned(),
            Error::Protocol { .. } => "Protocol error".to_owned(),
            Error::Refused { code, .. } => code.description().to_owned(),
        }
    }
}

/// An I/O error as C's `strerror` words it: without Rust's " (os error N)".
fn os_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_case_sensitive() {
        for (code, token, _) in CODES {
            assert_eq!(&ErrorCode::from_token(token), code);
            assert_eq!(code.token(), *token);
        }
        assert_eq!(ErrorCode::from_token("access-denied"), ErrorCode::Other("access-denied".into()));
        assert_eq!(ErrorCode::from_token("BOGUS").token(), "BOGUS");
        assert_eq!(ErrorCode::DataStale.to_string(), "DATA-STALE");
    }

    #[test]
    fn descriptions_are_upsc_wording() {
        assert_eq!(ErrorCode::DataStale.description(), "Data stale");
        assert_eq!(ErrorCode::UnknownUps.description(), "Unknown UPS");
        assert_eq!(ErrorCode::VarNotSupported.description(), "Variable not supported by UPS");
        assert_eq!(ErrorCode::InvalidArgument.description(), "Unknown error");
        assert_eq!(ErrorCode::Other("X".into()).description(), "Unknown error");
    }

    #[test]
    fn refusals_expose_their_code_and_name_the_server() {
        let error = Error::Refused {
            server: "ups.example:3493".into(),
            request: "GET VAR a b".into(),
            code: ErrorCode::DataStale,
            extra: vec!["more".into()],
        };
        assert!(error.is(&ErrorCode::DataStale));
        assert!(!error.is(&ErrorCode::UnknownUps));
        assert_eq!(error.to_string(), "ups.example:3493 refused `GET VAR a b`: ERR DATA-STALE more");
        assert_eq!(error.client_message(), "Data stale");
    }

    #[test]
    fn io_errors_read_like_strerror() {
        let refused = std::io::Error::from_raw_os_error(111);
        let error = Error::Connect { server: "h:1".into(), source: refused };
        assert_eq!(error.client_message(), "Connection failure: Connection refused");
        assert!(error.to_string().starts_with("cannot connect to h:1: "));
        assert!(Error::Disconnected { server: "h:1".into(), request: "VER".into() }.code().is_none());
    }
}
