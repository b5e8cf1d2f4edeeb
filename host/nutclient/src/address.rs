//! Addresses as NUT's clients spell them: `UPS[@HOST[:PORT]]` and
//! `HOST[:PORT]`, IPv6 literals in brackets (`ups@[::1]:3493`).
//!
//! The rules follow upsclient's observable behaviour: the UPS name ends at
//! the first `@`; without `@` the server is `localhost`; the host ends at the
//! first `:` (so an unbracketed IPv6 address is refused); the port is read
//! like C's `strtol` (leading blanks and `+` allowed, trailing text ignored)
//! and must be 1–65535; text after a bracketed host's `]` that is not `:PORT`
//! is ignored.

use std::fmt;

/// NUT's IANA port.
pub const DEFAULT_PORT: u16 = 3493;

/// The server a client connects to when none is named.
pub const DEFAULT_HOST: &str = "localhost";

/// Why an address was refused. The texts are upsclient's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Nothing where a host was expected.
    #[error("can't parse empty string")]
    Empty,
    /// `[` without `]`.
    #[error("missing closing bracket in [domain literal]")]
    MissingBracket,
    /// A `:` not followed by a port number in 1–65535.
    #[error("no port specified after ':' separator")]
    BadPort,
}

/// A NUT server: host name or address, and TCP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl ServerAddress {
    /// A server by host and port.
    pub fn new(host: impl Into<String>, port: u16) -> ServerAddress {
        ServerAddress { host: host.into(), port }
    }

    /// Parses `HOST[:PORT]` or `[IPV6][:PORT]`.
    pub fn parse(text: &str) -> Result<ServerAddress, AddressError> {
        if text.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(bracketed) = text.strip_prefix('[') {
            let close = bracketed.find(']').ok_or(AddressError::MissingBracket)?;
            let host = &bracketed[..close];
            let port = match bracketed[close + 1..].strip_prefix(':') {
                Some(port) => parse_port(port)?,
                None => DEFAULT_PORT,
            };
            return Ok(ServerAddress::new(host, port));
        }
        match text.split_once(':') {
            Some((host, port)) => Ok(ServerAddress::new(host, parse_port(port)?)),
            None => Ok(ServerAddress::new(text, DEFAULT_PORT)),
        }
    }
}

impl Default for ServerAddress {
    fn default() -> Self {
        ServerAddress::new(DEFAULT_HOST, DEFAULT_PORT)
    }
}

impl fmt::Display for ServerAddress {
    /// `host:port`, or `[v6]:port`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A UPS on a server: `UPS[@HOST[:PORT]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsAddress {
    /// The UPS name (the `ups.conf` section); may be empty, which servers refuse.
    pub ups: String,
    /// Its server.
    pub server: ServerAddress,
}

impl UpsAddress {
    /// Parses `UPS[@HOST[:PORT]]`.
    pub fn parse(text: &str) -> Result<UpsAddress, AddressError> {
        match text.split_once('@') {
            Some((ups, server)) => Ok(UpsAddress { ups: ups.to_owned(), server: ServerAddress::parse(server)? }),
            None => Ok(UpsAddress { ups: text.to_owned(), server: ServerAddress::default() }),
        }
    }
}

impl fmt::Display for UpsAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.ups, self.server)
    }
}

/// A port as `strtol` reads it, which must then be 1–65535.
fn parse_port(text: &str) -> Result<u16, AddressError> {
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let end = digits.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    let digits = digits[..end].trim_start_matches('0');
    if negative || digits.is_empty() || digits.len() > 5 {
        return Err(AddressError::BadPort);
    }
    match digits.parse::<u32>() {
        Ok(port @ 1..=65535) => Ok(port as u16),
        _ => Err(AddressError::BadPort),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> Result<(String, u16), AddressError> {
        ServerAddress::parse(text).map(|a| (a.host, a.port))
    }

    #[test]
    fn host_and_port() {
        assert_eq!(server("ups.example"), Ok(("ups.example".into(), 3493)));
        assert_eq!(server("127.0.0.1:13493"), Ok(("127.0.0.1".into(), 13493)));
        assert_eq!(server("[::1]:13493"), Ok(("::1".into(), 13493)));
        assert_eq!(server("[::1]"), Ok(("::1".into(), 3493)));
        assert_eq!(server("[127.0.0.1]:5"), Ok(("127.0.0.1".into(), 5)));
        assert_eq!(server("[]:1"), Ok(("".into(), 1)));
    }

    #[test]
    fn ports_read_like_strtol() {
        assert_eq!(server("h:12abc"), Ok(("h".into(), 12)));
        assert_eq!(server("h:+13493"), Ok(("h".into(), 13493)));
        assert_eq!(server("h: 13493"), Ok(("h".into(), 13493)));
        assert_eq!(server("h:013493"), Ok(("h".into(), 13493)));
        assert_eq!(server("h:13493:5"), Ok(("h".into(), 13493)));
        assert_eq!(server("h:65535"), Ok(("h".into(), 65535)));
        // text after the bracket that is not :PORT is ignored
        assert_eq!(server("[::1]x"), Ok(("::1".into(), 3493)));
    }

    #[test]
    fn refused_addresses() {
        assert_eq!(server(""), Err(AddressError::Empty));
        assert_eq!(server("[::1"), Err(AddressError::MissingBracket));
        for bad in ["h:", "h:0", "h:65536", "h:99999999999999999999", "h:-5", "h:abc", "[::1]:", "::1"] {
            assert_eq!(server(bad), Err(AddressError::BadPort), "{bad}");
        }
        assert_eq!(AddressError::BadPort.to_string(), "no port specified after ':' separator");
    }

    #[test]
    fn ups_names() {
        let ups = UpsAddress::parse("demo@[::1]:3493").unwrap();
        assert_eq!((ups.ups.as_str(), ups.server.host.as_str(), ups.server.port), ("demo", "::1", 3493));
        assert_eq!(ups.to_string(), "demo@[::1]:3493");
        let ups = UpsAddress::parse("demo").unwrap();
        assert_eq!(ups.server, ServerAddress::new("localhost", 3493));
        // the name ends at the first '@'; the rest is the host
        let ups = UpsAddress::parse("a@b@h").unwrap();
        assert_eq!((ups.ups.as_str(), ups.server.host.as_str()), ("a", "b@h"));
        assert_eq!(UpsAddress::parse("@h").unwrap().ups, "");
        assert_eq!(UpsAddress::parse("demo@"), Err(AddressError::Empty));
        assert_eq!(UpsAddress::parse("demo@h:x"), Err(AddressError::BadPort));
        assert_eq!(ServerAddress::new("h", 1).to_string(), "h:1");
    }
}
