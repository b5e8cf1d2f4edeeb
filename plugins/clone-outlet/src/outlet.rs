//! The clone-outlet device: options, what it tracks of the upstream, and the
//! `ups.status` it composes (NUT clone-outlet's rules, spec clone-outlet.md §2).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hazel_mirror::{Availability, Change, Published, StatusBuilder, UpstreamSnapshot, strtol};

/// Why an option is wrong, or why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutletError {
    /// A bad configuration (WIT `invalid`).
    Invalid(String),
    /// A request this read-only device does not handle (WIT `unknown`).
    Unknown,
}

/// The options of one clone-outlet device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The outlet's variable prefix on the upstream, e.g. `outlet.1`.
    pub prefix: String,
}

/// Validate the ups.conf options (`port`, `prefix`; `default.*`/`override.*`
/// are the host's).
///
/// # Errors
///
/// [`OutletError::Invalid`] for a missing `prefix` or an unknown option.
pub fn parse_settings<'a>(
    settings: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<Settings, OutletError> {
    let mut prefix = None;
    for (key, value) in settings {
        match key {
            // The host resolved `port=` to the upstream it grants; nothing to do here.
            "port" => {}
            "prefix" => match value {
                Some(v) if !v.is_empty() => prefix = Some(v.to_string()),
                _ => return Err(OutletError::Invalid("'prefix' needs a value, e.g. prefix = outlet.1".into())),
            },
            _ if key.starts_with("default.") || key.starts_with("override.") => {}
            _ => return Err(OutletError::Invalid(format!("'{key}' is not a valid option for clone-outlet"))),
        }
    }
    let prefix = prefix.ok_or_else(|| {
        OutletError::Invalid("'prefix' is required: the outlet's variable prefix, e.g. prefix = outlet.1".into())
    })?;
    Ok(Settings { prefix })
}

/// One clone-outlet device.
#[derive(Debug)]
pub struct CloneOutlet {
    delay_name: String,
    timer_name: String,
    status_name: String,
    /// `<prefix>.delay.shutdown`; -1 until reported.
    delay_shutdown: i64,
    /// `<prefix>.timer.shutdown`; -1 until reported.
    timer_shutdown: i64,
    /// `<prefix>.status` is not `off`; on until reported.
    outlet_on: bool,
    /// The upstream's `ups.status`, once it has reported.
    upstream_status: Option<String>,
    last_generation: Option<u64>,
    published: Published,
}

impl CloneOutlet {
    /// A device for `settings`, showing `WAIT` until the upstream reports.
    pub fn new(settings: &Settings) -> Self {
        let name = |suffix: &str| format!("{}.{suffix}", settings.prefix);
        CloneOutlet {
            delay_name: name("delay.shutdown"),
            timer_name: name("timer.shutdown"),
            status_name: name("status"),
            delay_shutdown: -1,
            timer_shutdown: -1,
            outlet_on: true,
            upstream_status: None,
            last_generation: None,
            published: Published::default(),
        }
    }

    /// One update from the upstream's current state; returns what changed.
    pub fn update(&mut self, upstream: &UpstreamSnapshot) -> Vec<Change> {
        // Before the upstream's first data NUT's clone-outlet shows WAIT (no DUMPDONE yet).
        let has_data = upstream.availability != Availability::Starting && !upstream.variables.is_empty();
        if has_data && self.last_generation != Some(upstream.generation) {
            self.last_generation = Some(upstream.generation);
            self.read(upstream);
        }
        self.published.set("ups.status", &self.status());
        self.published.take_changes()
    }

    /// Take the tracked values and relay the rest, as clone-outlet's SETINFO filter does.
    fn read(&mut self, upstream: &UpstreamSnapshot) {
        self.published.begin();
        for (name, value) in &upstream.variables {
            if name.starts_with("driver.") {
                continue;
            }
            if name == "ups.status" {
                self.upstream_status = Some(value.clone());
                continue;
            }
            if *name == self.delay_name {
                self.delay_shutdown = strtol(value);
            } else if *name == self.timer_name {
                self.timer_shutdown = strtol(value);
            } else if *name == self.status_name {
                self.outlet_on = !value.eq_ignore_ascii_case("off");
            }
            self.published.set(name, value);
        }
    }

    /// `ups.status`: `OFF` if the outlet is off, `FSD` while its shutdown
    /// timer runs, then the upstream's tokens; `WAIT` before any data.
    pub fn status(&self) -> String {
        let Some(upstream_status) = &self.upstream_status else {
            return "WAIT".to_string();
        };
        let mut status = StatusBuilder::new();
        if !self.outlet_on {
            status.add("OFF");
        }
        if -1 < self.timer_shutdown && self.timer_shutdown <= self.delay_shutdown {
            status.add("FSD");
        }
        status.add(upstream_status);
        status.compose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn snapshot(generation: u64, availability: Availability, vars: &[(&str, &str)]) -> UpstreamSnapshot {
        UpstreamSnapshot {
            generation,
            availability,
            variables: vars.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        }
    }

    fn device() -> CloneOutlet {
        CloneOutlet::new(&parse_settings([("port", Some("dummy-ups-pdu")), ("prefix", Some("outlet.1"))]).unwrap())
    }

    fn status_of(changes: &[Change]) -> Option<&str> {
        changes.iter().find_map(|c| match c {
            Change::SetValue(n, v) if n == "ups.status" => Some(v.as_str()),
            _ => None,
        })
    }

    /// (case, upstream ups.status, outlet.1.status, delay.shutdown, timer.shutdown, expected ups.status)
    const STATUS_RULES: &[(&str, &str, &str, &str, &str, &str)] = &[
        ("outlet on, no timer", "OL", "on", "120", "-1", "OL"),
        ("outlet off", "OB DISCHRG", "off", "120", "-1", "OFF OB DISCHRG"),
        ("off is case-insensitive", "OL", "OFF", "120", "-1", "OFF OL"),
        ("anything else is on", "OL", "no", "120", "-1", "OL"),
        ("timer running", "OB DISCHRG", "on", "120", "100", "FSD OB DISCHRG"),
        ("timer just started", "OL", "on", "120", "120", "FSD OL"),
        ("timer at zero still runs", "OB", "on", "120", "0", "FSD OB"),
        ("timer done, outlet off", "OB LB", "off", "120", "-1", "OFF OB LB"),
        ("timer above its delay is not a countdown", "OL", "on", "10", "20", "OL"),
        ("upstream FSD merges", "FSD OB", "on", "120", "5", "FSD OB"),
        ("ALARM goes first", "OL ALARM", "off", "120", "3", "ALARM OFF FSD OL"),
    ];

    #[test]
    fn status_rules() {
        for (case, ups_status, outlet, delay, timer, expected) in STATUS_RULES {
            let mut outlet_device = device();
            let vars = [
                ("ups.status", *ups_status),
                ("outlet.1.status", *outlet),
                ("outlet.1.delay.shutdown", *delay),
                ("outlet.1.timer.shutdown", *timer),
            ];
            let changes = outlet_device.update(&snapshot(1, Availability::Fresh, &vars));
            assert_eq!(status_of(&changes), Some(*expected), "{case}");
        }
    }

    #[test]
    fn a_delay_never_reported_never_gives_fsd() {
        let mut outlet_device = device();
        let vars = [("ups.status", "OL"), ("outlet.1.timer.shutdown", "5")];
        assert_eq!(status_of(&outlet_device.update(&snapshot(1, Availability::Fresh, &vars))), Some("OL"));
    }

    #[test]
    fn timer_running_then_cancelled_when_power_returns() {
        let mut outlet_device = device();
        let mut vars = vec![
            ("ups.status", "OB DISCHRG"),
            ("outlet.1.status", "on"),
            ("outlet.1.delay.shutdown", "30"),
            ("outlet.1.timer.shutdown", "30"),
        ];
        assert_eq!(status_of(&outlet_device.update(&snapshot(1, Availability::Fresh, &vars))), Some("FSD OB DISCHRG"));
        vars[0].1 = "OL CHRG";
        vars[3].1 = "-1";
        assert_eq!(status_of(&outlet_device.update(&snapshot(2, Availability::Fresh, &vars))), Some("OL CHRG"));
    }

    #[test]
    fn wait_before_first_data_and_relaying_without_driver_vars() {
        let mut outlet_device = device();
        let changes = outlet_device.update(&snapshot(0, Availability::Starting, &[]));
        assert_eq!(changes, [Change::SetValue("ups.status".into(), "WAIT".into())]);
        let vars = [
            ("battery.charge", "80"),
            ("driver.name", "dummy-ups"),
            ("outlet.1.status", "on"),
            ("outlet.2.status", "off"),
            ("ups.status", "OL"),
        ];
        let changes = outlet_device.update(&snapshot(3, Availability::Fresh, &vars));
        let expected = [
            Change::SetValue("battery.charge".into(), "80".into()),
            Change::SetValue("outlet.1.status".into(), "on".into()),
            Change::SetValue("outlet.2.status".into(), "off".into()),
            Change::SetValue("ups.status".into(), "OL".into()),
        ];
        assert_eq!(changes, expected);
        // A variable the upstream deletes is deleted here too.
        let changes = outlet_device.update(&snapshot(4, Availability::Fresh, &vars[1..]));
        assert_eq!(changes, [Change::Remove("battery.charge".into())]);
    }

    #[test]
    fn upstream_stale_keeps_the_last_values_and_recovers() {
        // The host marks this device stale while the upstream is; the plugin
        // keeps the last values (no flapping to WAIT) and follows it again after.
        let mut outlet_device = device();
        let vars = [("outlet.1.status", "on"), ("ups.status", "OB")];
        outlet_device.update(&snapshot(1, Availability::Fresh, &vars));
        let stale = snapshot(2, Availability::Stale("device: unreachable".into()), &vars);
        assert_eq!(outlet_device.update(&stale), []);
        assert_eq!(outlet_device.status(), "OB");
        let back = [("outlet.1.status", "off"), ("ups.status", "OL")];
        assert_eq!(status_of(&outlet_device.update(&snapshot(5, Availability::Fresh, &back))), Some("OFF OL"));
    }

    #[test]
    fn settings_need_a_prefix_and_refuse_unknown_options() {
        assert!(
            matches!(parse_settings([("port", Some("x"))]), Err(OutletError::Invalid(m)) if m.contains("'prefix' is required"))
        );
        assert!(
            matches!(parse_settings([("prefix", Some("outlet.1")), ("offdelay", Some("3"))]), Err(OutletError::Invalid(m)) if m.contains("'offdelay'"))
        );
        assert!(parse_settings([("prefix", Some("outlet.1")), ("override.ups.mfr", Some("x"))]).is_ok());
    }
}
