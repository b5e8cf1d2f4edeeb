//! NUT driver names Hazel knows, and what their `port=` names.
//!
//! The host — not the plugin — decides what a device may reach: a plugin says
//! which drivers it stands in for, but the meaning of `port=` (a file, a serial
//! line, ...) and so the capability granted comes from this table or from the
//! operator's `[drivers.NAME]` in hazel.toml.

use serde::Deserialize;

/// What a driver's `port=` names, which decides the capability its device gets.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PortKind {
    /// A file to read (dummy-ups `.dev`/`.seq`): grants `file` for exactly that path.
    File,
    /// Nothing the host resolves; only `log` and `clock` are granted.
    #[default]
    None,
}

/// The built-in kind of `port=` for a NUT driver name, if Hazel knows it.
pub fn builtin_port_kind(driver: &str) -> Option<PortKind> {
    match driver {
        "dummy-ups" => Some(PortKind::File),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_ups_reads_a_file() {
        assert_eq!(builtin_port_kind("dummy-ups"), Some(PortKind::File));
        assert_eq!(builtin_port_kind("unknown-driver"), None);
    }
}
