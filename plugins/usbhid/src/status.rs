//! `ups.status` and `ups.alarm` from the status usages.
//!
//! Status rows of the mapping tables set or clear internal flags (ACPresent
//! 1 sets `Online`, 0 sets `Offline`, …); after every update the published
//! tokens are rebuilt from the flags in NUT's order (drivers.md §(a), status
//! derivation).

use alloc::string::String;
use alloc::vec::Vec;

/// One internal status flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Flag {
    /// On line power.
    Online,
    /// On battery (line power absent).
    Offline,
    /// Battery discharging.
    Discharging,
    /// Battery charging.
    Charging,
    /// Battery low.
    LowBattery,
    /// Output overloaded.
    Overload,
    /// Battery needs replacement.
    ReplaceBattery,
    /// The UPS will shut down imminently.
    ShutdownImminent,
    /// Trimming (buck).
    Trim,
    /// Boosting.
    Boost,
    /// On automatic bypass.
    BypassAuto,
    /// On manual bypass.
    BypassManual,
    /// Output off.
    Off,
    /// Calibrating.
    Calibrating,
    /// Over temperature.
    Overheat,
    /// Internal failure.
    CommFault,
    /// Battery fully discharged.
    Depleted,
    /// Remaining time limit expired.
    TimeLimitExpired,
    /// Battery fully charged.
    FullyCharged,
    /// Battery not fully charged.
    NotFullyCharged,
    /// Waiting for line power to return.
    AwaitingPower,
    /// Fan failure.
    FanFailure,
    /// No battery installed.
    NoBattery,
    /// Battery voltage too low.
    BatteryVoltageLow,
    /// Battery voltage too high.
    BatteryVoltageHigh,
    /// Charger failure.
    ChargerFailure,
    /// Input voltage out of range.
    VoltageRange,
    /// Input frequency out of range.
    FrequencyRange,
}

/// A change a status row applies for one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Raise the flag.
    Set(Flag),
    /// Clear the flag.
    Clear(Flag),
}

/// `(value, changes)`: what a status usage's value means.
pub type StatusLookup = &'static [(i64, &'static [Change])];

/// The set of raised flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusFlags(u32);

impl StatusFlags {
    /// Is the flag raised?
    pub fn has(self, f: Flag) -> bool {
        self.0 & (1 << f as u8) != 0
    }

    /// Apply one change.
    pub fn apply(&mut self, c: Change) {
        match c {
            Change::Set(f) => self.0 |= 1 << f as u8,
            Change::Clear(f) => self.0 &= !(1 << f as u8),
        }
    }

    /// Apply the changes a lookup gives for `value` (none if the value is
    /// not listed).
    pub fn apply_value(&mut self, lookup: StatusLookup, value: i64) {
        if let Some((_, changes)) = lookup.iter().find(|(v, _)| *v == value) {
            for c in *changes {
                self.apply(*c);
            }
        }
    }
}

/// How an online UPS that reports discharging is shown (NUT's
/// `onlinedischarge_*` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnlineDischarge {
    /// `OL` (the default; NUT logs a warning).
    #[default]
    Online,
    /// `OB` (`onlinedischarge_onbattery`).
    OnBattery,
    /// `CAL` (`onlinedischarge_calibration`).
    Calibration,
}

/// The `ups.status` tokens. `charge` is `battery.charge` when known: without
/// fully-charged information, `CHRG` needs 0 < charge < 100.
pub fn status_tokens(f: StatusFlags, charge: Option<f64>, online_discharge: OnlineDischarge) -> Vec<&'static str> {
    let mut t = Vec::new();
    let online_discharging = f.has(Flag::Online) && f.has(Flag::Discharging);
    if f.has(Flag::Calibrating) || (online_discharging && online_discharge == OnlineDischarge::Calibration) {
        t.push("CAL");
    }
    if f.has(Flag::Offline) {
        t.push("OB");
    } else if f.has(Flag::Online) {
        t.push(if online_discharging && online_discharge == OnlineDischarge::OnBattery { "OB" } else { "OL" });
    } else if f.has(Flag::Discharging) {
        t.push("OB");
    }
    if f.has(Flag::Discharging) && !f.has(Flag::Depleted) {
        t.push("DISCHRG");
    }
    if f.has(Flag::Charging) {
        let charging = if f.has(Flag::NotFullyCharged) {
            true
        } else if f.has(Flag::FullyCharged) {
            false
        } else {
            // Decision: with no charge reading either, trust the charging bit.
            charge.is_none_or(|c| c > 0.0 && c < 100.0)
        };
        if charging {
            t.push("CHRG");
        }
    }
    if f.has(Flag::LowBattery) || f.has(Flag::TimeLimitExpired) || f.has(Flag::ShutdownImminent) {
        t.push("LB");
    }
    if f.has(Flag::Overload) {
        t.push("OVER");
    }
    if f.has(Flag::ReplaceBattery) || f.has(Flag::NoBattery) {
        t.push("RB");
    }
    if f.has(Flag::Trim) {
        t.push("TRIM");
    }
    if f.has(Flag::Boost) {
        t.push("BOOST");
    }
    if f.has(Flag::BypassAuto) || f.has(Flag::BypassManual) {
        t.push("BYPASS");
    }
    if f.has(Flag::Off) {
        t.push("OFF");
    }
    t
}

/// The alarm texts, in NUT's order.
pub fn alarms(f: StatusFlags) -> Vec<&'static str> {
    let table = [
        (Flag::ReplaceBattery, "Replace battery!"),
        (Flag::ShutdownImminent, "Shutdown imminent!"),
        (Flag::FanFailure, "Fan failure!"),
        (Flag::NoBattery, "No battery installed!"),
        (Flag::BatteryVoltageLow, "Battery voltage too low!"),
        (Flag::BatteryVoltageHigh, "Battery voltage too high!"),
        (Flag::ChargerFailure, "Battery charger fail!"),
        (Flag::Overheat, "Temperature too high!"),
        (Flag::CommFault, "Internal UPS fault!"),
        (Flag::AwaitingPower, "Awaiting power!"),
        (Flag::BypassAuto, "Automatic bypass mode!"),
        (Flag::BypassManual, "Manual bypass mode!"),
    ];
    table.iter().filter(|(flag, _)| f.has(*flag)).map(|(_, text)| *text).collect()
}

/// `input.transfer.reason` while the input is out of range.
pub fn transfer_reason(f: StatusFlags) -> Option<&'static str> {
    if f.has(Flag::VoltageRange) {
        Some("input voltage out of range")
    } else if f.has(Flag::FrequencyRange) {
        Some("input frequency out of range")
    } else {
        None
    }
}

/// Join tokens with single spaces.
pub fn join(tokens: &[&str]) -> String {
    let mut s = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(t);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[Flag]) -> StatusFlags {
        let mut f = StatusFlags::default();
        for x in list {
            f.apply(Change::Set(*x));
        }
        f
    }

    #[test]
    fn online_discharging_is_ol_dischrg_unless_configured() {
        let f = flags(&[Flag::Online, Flag::Discharging]);
        assert_eq!(status_tokens(f, Some(100.0), OnlineDischarge::Online), ["OL", "DISCHRG"]);
        assert_eq!(status_tokens(f, None, OnlineDischarge::OnBattery), ["OB", "DISCHRG"]);
        assert_eq!(status_tokens(f, None, OnlineDischarge::Calibration), ["CAL", "OL", "DISCHRG"]);
    }

    #[test]
    fn chrg_needs_not_fully_charged_or_a_partial_charge() {
        let f = flags(&[Flag::Online, Flag::Charging]);
        assert_eq!(status_tokens(f, Some(66.0), OnlineDischarge::Online), ["OL", "CHRG"]);
        assert_eq!(status_tokens(f, Some(100.0), OnlineDischarge::Online), ["OL"]);
        let mut g = f;
        g.apply(Change::Set(Flag::NotFullyCharged));
        assert_eq!(status_tokens(g, Some(100.0), OnlineDischarge::Online), ["OL", "CHRG"]);
    }

    #[test]
    fn tokens_follow_nuts_order_and_lb_has_three_causes() {
        let f = flags(&[Flag::Offline, Flag::Discharging, Flag::TimeLimitExpired, Flag::Overload, Flag::NoBattery]);
        assert_eq!(status_tokens(f, None, OnlineDischarge::Online), ["OB", "DISCHRG", "LB", "OVER", "RB"]);
        let g = flags(&[Flag::Online, Flag::Trim, Flag::BypassManual, Flag::Off, Flag::Depleted, Flag::Discharging]);
        assert_eq!(status_tokens(g, None, OnlineDischarge::Online), ["OL", "TRIM", "BYPASS", "OFF"]);
        assert_eq!(alarms(g), ["Manual bypass mode!"]);
    }

    #[test]
    fn lookups_set_and_clear() {
        static AC: StatusLookup = &[
            (1, &[Change::Set(Flag::Online), Change::Clear(Flag::Offline)]),
            (0, &[Change::Set(Flag::Offline), Change::Clear(Flag::Online)]),
        ];
        let mut f = StatusFlags::default();
        f.apply_value(AC, 0);
        assert!(f.has(Flag::Offline) && !f.has(Flag::Online));
        f.apply_value(AC, 1);
        assert!(f.has(Flag::Online) && !f.has(Flag::Offline));
        f.apply_value(AC, 7);
        assert!(f.has(Flag::Online), "unlisted values change nothing");
    }
}
