//! The variable flags dummy-ups gives, and the values it starts with.
//!
//! Source: the `nut_data[]` table in NUT's `drivers/dummy-ups.h` (as shipped
//! with NUT 2.8.x) and `setvar()` in `drivers/dummy-ups.c`. A variable the
//! table names gets the table's flags (every entry is RW; STRING entries
//! carry their maximum length); any other variable gets `RW STRING:32`.
//! Lookups ignore case, like the driver's `strcasecmp`. Real upsd 2.8.0
//! running dummy-ups answered `TYPE ... battery.charge RW NUMBER`,
//! `battery.charge.warning RW STRING:32` and `ups.status RW STRING:32`
//! (shared/peer/transcript.txt), which this table reproduces.
//!
//! Some lengths look odd (`input.sensitivity` and `input.transfer.reason`
//! are STRING:1 in NUT's table) but are kept: upsd enforces them on
//! `SET VAR` with ERR TOO-LONG, and Hazel answers what NUT answers.

/// Flags of a variable (NUT's RW and STRING/aux, else NUMBER).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags {
    /// Clients may SET it.
    pub writable: bool,
    /// `Some(n)`: a string of at most n characters; `None`: a number.
    pub string_max_len: Option<u32>,
}

/// Flags of variables the table does not name: `ST_FLAG_STRING |
/// ST_FLAG_RW` with aux 32.
pub const DEFAULT_FLAGS: Flags = Flags { writable: true, string_max_len: Some(32) };

/// Variables dummy-ups publishes before reading its file (`DU_FLAG_INIT`
/// entries of the table), with their starting values and the table's
/// flags (all `RW STRING:32`; DUMMY-UPS.md §a). The file overrides them.
pub const INITIAL_VALUES: &[(&str, &str)] =
    &[("ups.mfr", "Dummy Manufacturer"), ("ups.model", "Dummy UPS"), ("ups.status", "OL")];

/// `(name, STRING max length or None for NUMBER)`; every entry is RW.
/// The order and duplicates follow NUT's table (`ups.serial` appears twice;
/// the first entry, 32, wins as in the driver's lookup).
const TABLE: &[(&str, Option<u32>)] = &[
    ("ups.mfr", Some(32)),
    ("ups.model", Some(32)),
    ("ups.status", Some(32)),
    ("ups.serial", Some(32)),
    ("ups.load", None),
    ("ups.alarm", Some(32)),
    ("ups.time", Some(16)),
    ("ups.date", Some(16)),
    ("ups.mfr.date", Some(16)),
    ("ups.serial", Some(16)),
    ("ups.firmware", Some(16)),
    ("ups.firmware.aux", Some(16)),
    ("ups.temperature", None),
    ("ups.id", Some(16)),
    ("ups.delay.start", None),
    ("ups.delay.reboot", None),
    ("ups.delay.shutdown", None),
    ("ups.test.interval", None),
    ("ups.test.result", Some(16)),
    ("input.voltage", None),
    ("input.voltage.maximum", None),
    ("input.voltage.minimum", None),
    ("input.voltage.nominal", None),
    ("input.transfer.reason", Some(1)),
    ("input.transfer.low", None),
    ("input.transfer.high", None),
    ("input.sensitivity", Some(1)),
    ("input.quality", Some(6)),
    ("input.frequency", None),
    ("input.transfer.boost.low", None),
    ("input.transfer.boost.high", None),
    ("input.transfer.trim.low", None),
    ("input.transfer.trim.high", None),
    ("output.voltage", None),
    ("output.frequency", None),
    ("output.current", None),
    ("battery.charge", None),
    ("battery.charge.low", None),
    ("battery.voltage", None),
    ("battery.current", None),
    ("battery.runtime", None),
    ("battery.runtime.low", None),
    ("battery.charge.restart", None),
    ("battery.temperature", None),
    ("battery.voltage.nominal", None),
    ("ambient.temperature", None),
    ("ambient.temperature.alarm", None),
    ("ambient.temperature.high", None),
    ("ambient.temperature.low", None),
    ("ambient.humidity", None),
    ("ambient.humidity.alarm", None),
    ("ambient.humidity.high", None),
    ("ambient.humidity.low", None),
];

/// The flags dummy-ups gives `name`.
pub fn flags_for(name: &str) -> Flags {
    TABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map_or(DEFAULT_FLAGS, |&(_, string_max_len)| Flags { writable: true, string_max_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_upsd_transcript() {
        assert_eq!(flags_for("battery.charge"), Flags { writable: true, string_max_len: None });
        assert_eq!(flags_for("battery.charge.warning"), DEFAULT_FLAGS);
        assert_eq!(flags_for("ups.status"), Flags { writable: true, string_max_len: Some(32) });
    }

    #[test]
    fn lookup_ignores_case_and_first_entry_wins() {
        assert_eq!(flags_for("UPS.Serial").string_max_len, Some(32));
        assert_eq!(flags_for("ups.id").string_max_len, Some(16));
    }
}
