//! `ups.status` tokens as flags (spec `shutdown.md` §1).
//!
//! Tokens are space-separated and their order does not matter. A token sets
//! its flag only on an exact, case-insensitive match (`ob` is `OB`, `OBX` is
//! nothing known). Tokens Hazel does not classify — `WAIT` from upsd before a
//! driver's first dump, vendor extras — are kept in [`Status::other`] for the
//! `OTHER` notification.
//!
//! One deliberate difference from upsmon: upsmon *clears* a flag when the
//! token is absent as a substring of the whole status line, so a status like
//! `OB LBX` neither sets nor clears `LB` and an old low-battery reading would
//! linger. Here every poll yields the complete flag set from exact tokens.

/// The flags of one `ups.status` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `OL`: mains present.
    pub online: bool,
    /// `OB`: running on battery.
    pub on_battery: bool,
    /// `LB`: low battery.
    pub low_battery: bool,
    /// `HB`: high battery.
    pub high_battery: bool,
    /// `RB`: battery needs replacing.
    pub replace_battery: bool,
    /// `CHRG`: charging.
    pub charging: bool,
    /// `DISCHRG`: discharging.
    pub discharging: bool,
    /// `BYPASS`: load on bypass, unprotected.
    pub bypass: bool,
    /// `CAL`: runtime calibration running.
    pub calibrating: bool,
    /// `OFF`: output administratively off.
    pub off: bool,
    /// `OVER`: overload.
    pub overload: bool,
    /// `TRIM`: voltage trimming (AVR buck).
    pub trim: bool,
    /// `BOOST`: voltage boosting (AVR boost).
    pub boost: bool,
    /// `FSD`: forced shutdown set by a primary (injected by upsd).
    pub forced_shutdown: bool,
    /// `ALARM`: at least one alarm, text in `ups.alarm`.
    pub alarm: bool,
    /// `ECO`: legacy economy-mode token.
    pub eco: bool,
    /// Unclassified tokens, upper-cased, in order of first appearance,
    /// without duplicates.
    pub other: Vec<String>,
}

impl Status {
    /// Classifies a `ups.status` value. Never fails: unknown tokens go to
    /// [`other`](Self::other).
    pub fn parse(value: &str) -> Status {
        let mut status = Status::default();
        for token in value.split_ascii_whitespace() {
            let upper = token.to_ascii_uppercase();
            let flag = match upper.as_str() {
                "OL" => &mut status.online,
                "OB" => &mut status.on_battery,
                "LB" => &mut status.low_battery,
                "HB" => &mut status.high_battery,
                "RB" => &mut status.replace_battery,
                "CHRG" => &mut status.charging,
                "DISCHRG" => &mut status.discharging,
                "BYPASS" => &mut status.bypass,
                "CAL" => &mut status.calibrating,
                "OFF" => &mut status.off,
                "OVER" => &mut status.overload,
                "TRIM" => &mut status.trim,
                "BOOST" => &mut status.boost,
                "FSD" => &mut status.forced_shutdown,
                "ALARM" => &mut status.alarm,
                "ECO" => &mut status.eco,
                _ => {
                    if !status.other.contains(&upper) {
                        status.other.push(upper);
                    }
                    continue;
                }
            };
            *flag = true;
        }
        status
    }

    /// On battery with a low battery: the condition that ends in a shutdown.
    pub fn on_battery_low(&self) -> bool {
        self.on_battery && self.low_battery
    }

    /// Whether upsmon polls at `POLLFREQALERT` because of this status: on
    /// battery, output off, on bypass, alarmed or overloaded.
    pub fn wants_alert_polling(&self) -> bool {
        self.on_battery || self.off || self.bypass || self.alarm || self.overload
    }

    /// The unclassified tokens as upsmon lists them in the `OTHER` message
    /// (space-separated).
    pub fn other_tokens(&self) -> String {
        self.other.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_token() {
        let status = Status::parse("OL OB LB HB RB CHRG DISCHRG BYPASS CAL OFF OVER TRIM BOOST FSD ALARM ECO");
        let expected = Status {
            online: true,
            on_battery: true,
            low_battery: true,
            high_battery: true,
            replace_battery: true,
            charging: true,
            discharging: true,
            bypass: true,
            calibrating: true,
            off: true,
            overload: true,
            trim: true,
            boost: true,
            forced_shutdown: true,
            alarm: true,
            eco: true,
            other: Vec::new(),
        };
        assert_eq!(status, expected);
    }

    #[test]
    fn case_insensitive_exact_tokens() {
        let status = Status::parse("ob lb");
        assert!(status.on_battery_low());
        // A token that merely contains a known one is not that token.
        let status = Status::parse("OBX LBAT");
        assert!(!status.on_battery && !status.low_battery);
        assert_eq!(status.other, ["OBX", "LBAT"]);
    }

    #[test]
    fn unknown_tokens_are_other_in_order_without_duplicates() {
        let status = Status::parse("  WAIT\tOL  vendor WAIT ");
        assert!(status.online);
        assert_eq!(status.other, ["WAIT", "VENDOR"]);
        assert_eq!(status.other_tokens(), "WAIT VENDOR");
    }

    #[test]
    fn empty_status_has_no_flags() {
        assert_eq!(Status::parse(""), Status::default());
        assert_eq!(Status::parse("   "), Status::default());
    }

    #[test]
    fn alert_polling_conditions() {
        for value in ["OB", "OFF", "BYPASS", "ALARM", "OVER", "OL OVER"] {
            assert!(Status::parse(value).wants_alert_polling(), "{value}");
        }
        for value in ["OL", "OL CHRG", "OL TRIM", "OL LB", "OL RB"] {
            assert!(!Status::parse(value).wants_alert_polling(), "{value}");
        }
    }
}
