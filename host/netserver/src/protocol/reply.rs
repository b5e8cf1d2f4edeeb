//! Building reply bytes: NUT error tokens and reply lines that respect upsd's
//! 512-byte answer buffer.

use std::borrow::Cow;

use hazel_nutconf::parseconf::encode;

/// Longest reply line upsd can send, newline included: its answer buffer is
/// `NUT_NET_ANSWER_MAX` (512) bytes with a terminating NUL.
pub(crate) const MAX_REPLY_LINE: usize = 511;

/// The `ERR <token>` replies of the protocol (spec `net-protocol.md` §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NutError {
    AccessDenied,
    UnknownUps,
    VarNotSupported,
    CmdNotSupported,
    InvalidArgument,
    InstcmdFailed,
    SetFailed,
    Readonly,
    TooLong,
    InvalidValue,
    FeatureNotConfigured,
    AlreadySslMode,
    DriverNotConnected,
    DataStale,
    AlreadyLoggedIn,
    AlreadySetUsername,
    AlreadySetPassword,
    UsernameRequired,
    PasswordRequired,
    UnknownCommand,
}

impl NutError {
    /// The token sent after `ERR `.
    pub(crate) fn token(self) -> &'static str {
        match self {
            NutError::AccessDenied => "ACCESS-DENIED",
            NutError::UnknownUps => "UNKNOWN-UPS",
            NutError::VarNotSupported => "VAR-NOT-SUPPORTED",
            NutError::CmdNotSupported => "CMD-NOT-SUPPORTED",
            NutError::InvalidArgument => "INVALID-ARGUMENT",
            NutError::InstcmdFailed => "INSTCMD-FAILED",
            NutError::SetFailed => "SET-FAILED",
            NutError::Readonly => "READONLY",
            NutError::TooLong => "TOO-LONG",
            NutError::InvalidValue => "INVALID-VALUE",
            NutError::FeatureNotConfigured => "FEATURE-NOT-CONFIGURED",
            NutError::AlreadySslMode => "ALREADY-SSL-MODE",
            NutError::DriverNotConnected => "DRIVER-NOT-CONNECTED",
            NutError::DataStale => "DATA-STALE",
            NutError::AlreadyLoggedIn => "ALREADY-LOGGED-IN",
            NutError::AlreadySetUsername => "ALREADY-SET-USERNAME",
            NutError::AlreadySetPassword => "ALREADY-SET-PASSWORD",
            NutError::UsernameRequired => "USERNAME-REQUIRED",
            NutError::PasswordRequired => "PASSWORD-REQUIRED",
            NutError::UnknownCommand => "UNKNOWN-COMMAND",
        }
    }
}

/// The complete reply to one request, built line by line.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    bytes: Vec<u8>,
}

impl Reply {
    pub(crate) fn new() -> Self {
        Reply::default()
    }

    /// An empty reply written into `buffer` (cleared), so a connection can
    /// reuse one allocation for every reply.
    pub(crate) fn with_buffer(mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        Reply { bytes: buffer }
    }

    /// A one-line reply.
    pub(crate) fn single(line: &str) -> Self {
        let mut reply = Reply::new();
        reply.line(line);
        reply
    }

    /// Append `line` and its newline. Characters upsd can never send are
    /// dropped (see [`wire_safe`]). A line too long for upsd's buffer is cut
    /// to fit; unlike upsd (which then loses the newline and garbles the
    /// framing) the newline is always kept.
    pub(crate) fn line(&mut self, line: &str) {
        let line = wire_safe(line);
        let fitted = truncate_at_char(&line, MAX_REPLY_LINE - 1);
        self.bytes.extend_from_slice(fitted.as_bytes());
        self.bytes.push(b'\n');
    }

    /// Append `<prefix>"<value>"`, the value escaped as upsd does
    /// (`pconf_encode`). A value too long for the line is shortened (never
    /// leaving half an escape) so the closing quote survives.
    pub(crate) fn quoted_line(&mut self, prefix: &str, value: &str) {
        let encoded = encode(&wire_safe(value));
        let room = (MAX_REPLY_LINE - 1).saturating_sub(prefix.len() + 2);
        let mut kept = truncate_at_char(&encoded, room);
        let trailing_backslashes = kept.bytes().rev().take_while(|&b| b == b'\\').count();
        if trailing_backslashes % 2 == 1 {
            kept = kept.get(..kept.len() - 1).unwrap_or("");
        }
        self.line(&format!("{prefix}\"{kept}\""));
    }

    /// [`line`](Self::line) of the concatenated `parts`, without building
    /// the line first when it needs no filtering or cutting (the common case).
    pub(crate) fn line_parts(&mut self, parts: &[&str]) {
        let start = self.bytes.len();
        for part in parts {
            self.bytes.extend_from_slice(part.as_bytes());
        }
        let written = self.bytes.get(start..).unwrap_or(&[]);
        if written.len() < MAX_REPLY_LINE && is_wire_safe(written) {
            self.bytes.push(b'\n');
        } else {
            self.bytes.truncate(start);
            self.line(&parts.concat());
        }
    }

    /// [`quoted_line`](Self::quoted_line) with the prefix given in parts.
    /// When nothing needs filtering or shortening, the escaped value is
    /// written straight into the reply: an escaped value never ends in an
    /// odd run of backslashes, so the slow path would keep it whole too.
    pub(crate) fn quoted_line_parts(&mut self, prefix: &[&str], value: &str) {
        let start = self.bytes.len();
        let length = prefix.iter().map(|part| part.len()).sum::<usize>() + value.len() + 3;
        self.bytes.reserve(length);
        for part in prefix {
            self.bytes.extend_from_slice(part.as_bytes());
        }
        self.bytes.push(b'"');
        if !value.bytes().fold(false, |any, b| any | needs_escape(b)) {
            self.bytes.extend_from_slice(value.as_bytes());
        } else {
            for &byte in value.as_bytes() {
                if needs_escape(byte) {
                    self.bytes.push(b'\\');
                }
                self.bytes.push(byte);
            }
        }
        self.bytes.push(b'"');
        let written = self.bytes.get(start..).unwrap_or(&[]);
        if written.len() < MAX_REPLY_LINE && is_wire_safe(written) {
            self.bytes.push(b'\n');
        } else {
            self.bytes.truncate(start);
            self.quoted_line(&prefix.concat(), value);
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl From<NutError> for Reply {
    fn from(error: NutError) -> Self {
        Reply::single(&format!("ERR {}", error.token()))
    }
}

/// `text` without the characters NUT's tokenizer drops (below 0x20 or above
/// 0x7F). upsd's values pass through that tokenizer on the driver socket, so
/// clients never see such bytes from it; from Hazel's plugins they could
/// otherwise break the line framing (a newline in a value) or a client
/// expecting ASCII.
fn wire_safe(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| (' '..='\x7f').contains(&c);
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

/// Whether [`wire_safe`] keeps `text` as it is: every byte printable ASCII
/// or DEL (a non-ASCII character's bytes are all above 0x7F).
fn is_wire_safe(text: &[u8]) -> bool {
    // A fold without early exit lets the compiler check many bytes at once.
    !text.iter().fold(false, |unsafe_seen, &b| unsafe_seen | (b.wrapping_sub(0x20) >= 0x60))
}

/// The bytes `encode` (NUT `pconf_encode`) puts a backslash before.
fn needs_escape(byte: u8) -> bool {
    matches!(byte, b'\\' | b'"' | b'#')
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(reply: Reply) -> String {
        String::from_utf8(reply.into_bytes()).unwrap()
    }

    #[test]
    fn errors_render_as_err_token() {
        assert_eq!(text(NutError::DataStale.into()), "ERR DATA-STALE\n");
        assert_eq!(text(NutError::UnknownUps.into()), "ERR UNKNOWN-UPS\n");
    }

    #[test]
    fn quoted_values_are_escaped() {
        let mut reply = Reply::new();
        reply.quoted_line("VAR u v ", r#"a "b" \c #d"#);
        assert_eq!(text(reply), "VAR u v \"a \\\"b\\\" \\\\c \\#d\"\n");
    }

    #[test]
    fn long_lines_fit_upsd_buffer_and_keep_framing() {
        let mut reply = Reply::new();
        reply.quoted_line("VAR u v ", &"x".repeat(2000));
        let out = text(reply);
        assert_eq!(out.len(), MAX_REPLY_LINE);
        assert!(out.ends_with("x\"\n"));

        // an escape is never cut in half
        let mut reply = Reply::new();
        let prefix = "P".repeat(MAX_REPLY_LINE - 1 - 2 - 3);
        reply.quoted_line(&prefix, "ab\"");
        let out = text(reply);
        assert!(out.ends_with("ab\"\n"), "{out}");
        assert!(out.len() <= MAX_REPLY_LINE);

        // a prefix alone too long: plain cut, newline kept
        let mut reply = Reply::new();
        reply.quoted_line(&"N".repeat(600), "v");
        let out = text(reply);
        assert_eq!(out.len(), MAX_REPLY_LINE);
        assert!(out.ends_with("N\n"));
    }

    /// The direct writers produce exactly what building the line first does,
    /// including when the line has to be filtered or shortened.
    #[test]
    fn parts_match_whole_lines() {
        let values = [
            String::new(),
            "OL".into(),
            r#"a "b" \c #d\"#.into(),
            "two\nlines café\x7f".into(),
            "x".repeat(480),
            "\\".repeat(250),
            "\"".repeat(260),
            "y".repeat(2000),
        ];
        let prefixes = [vec!["VAR ", "ups1", " ", "ups.status", " "], vec!["P".repeat(470).leak() as &str, " "]];
        for value in &values {
            for prefix in &prefixes {
                let mut direct = Reply::new();
                direct.quoted_line_parts(prefix, value);
                let mut whole = Reply::new();
                whole.quoted_line(&prefix.concat(), value);
                assert_eq!(text(direct), text(whole), "{prefix:?} {value:?}");

                let mut parts = prefix.clone();
                parts.push(value);
                let mut direct = Reply::new();
                direct.line_parts(&parts);
                let mut whole = Reply::new();
                whole.line(&parts.concat());
                assert_eq!(text(direct), text(whole), "{parts:?}");
            }
        }
    }

    #[test]
    fn characters_upsd_never_sends_are_dropped() {
        let mut reply = Reply::new();
        reply.quoted_line("VAR u v ", "two\nlines\r\tcafé\x7f");
        assert_eq!(text(reply), "VAR u v \"twolinescaf\x7f\"\n");
        let mut reply = Reply::new();
        reply.line("CMD u bad\nname");
        assert_eq!(text(reply), "CMD u badname\n");
    }
}
