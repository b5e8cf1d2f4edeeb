//! `serial-probe`: a test plugin for the host's `serial` capability.
//!
//! `init` configures the port (2400 8N1, DTR on, RTS off, like a Megatec
//! cable). Every `update` discards stale input, writes [`QUERY`], reads the
//! reply up to a carriage return and publishes it as `test.reply` (without
//! the `\r`), with `ups.status` = `OL` and a counter `test.counter`. A port
//! that is unavailable, fails or stays silent makes `update` return
//! `unreachable` with the host's message, so the device goes stale until
//! the port answers again.
//!
//! Settings: `port` (the host opens it; the plugin never names it) and
//! `timeout_ms` (reply timeout, default 1000). Others are ignored.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

#[cfg(target_arch = "wasm32")]
mod bindings;

use alloc::string::String;

/// What `update` sends: Megatec's status query.
pub const QUERY: &[u8] = b"Q1\r";

/// The published form of a reply: its text without the trailing `\r`.
pub fn reply_text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply.strip_suffix(b"\r").unwrap_or(reply)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_drops_the_carriage_return_only() {
        assert_eq!(reply_text(b"(230.0 50.0\r"), "(230.0 50.0");
        assert_eq!(reply_text(b"partial"), "partial");
        assert_eq!(reply_text(b"\xff\r"), "\u{fffd}");
    }
}
