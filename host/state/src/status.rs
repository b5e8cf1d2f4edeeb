//! Building `ups.status` from a plugin's status tokens, as NUT's driver core does.

/// Compose the `ups.status` value.
///
/// Tokens are split on whitespace and deduplicated in first-seen order;
/// `ALARM` goes first when alarms are active (and is dropped from the
/// plugin's own tokens otherwise, since only the host decides it). With
/// `ignore_lb` the device's own `LB` is dropped and `derived_lb` (charge or
/// runtime below its limit) decides instead.
pub fn compose_status(tokens: &[String], alarms_active: bool, ignore_lb: bool, derived_lb: bool) -> String {
    let mut out: Vec<&str> = Vec::new();
    if alarms_active {
        out.push("ALARM");
    }
    for token in tokens.iter().flat_map(|t| t.split_whitespace()) {
        if token == "ALARM" || (ignore_lb && token == "LB") || out.contains(&token) {
            continue;
        }
        out.push(token);
    }
    if ignore_lb && derived_lb {
        out.push("LB");
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::compose_status;

    fn t(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dedups_and_splits() {
        assert_eq!(compose_status(&t(&["OL CHRG", "OL"]), false, false, false), "OL CHRG");
    }

    #[test]
    fn alarm_first() {
        assert_eq!(compose_status(&t(&["OL", "ALARM"]), true, false, false), "ALARM OL");
        assert_eq!(compose_status(&t(&["OL", "ALARM"]), false, false, false), "OL");
    }

    #[test]
    fn ignorelb() {
        assert_eq!(compose_status(&t(&["OB", "LB"]), false, true, false), "OB");
        assert_eq!(compose_status(&t(&["OB"]), false, true, true), "OB LB");
    }
}
