//! Clone's cycle, scenario by scenario, against a scripted upstream and clock.

use alloc::vec;

use super::*;

struct Upstream {
    generation: u64,
    availability: Availability,
    vars: Vec<(String, String)>,
}

impl Upstream {
    fn new(vars: &[(&str, &str)]) -> Self {
        let mut upstream = Upstream { generation: 0, availability: Availability::Fresh, vars: Vec::new() };
        upstream.set(vars);
        upstream
    }

    fn set(&mut self, vars: &[(&str, &str)]) {
        for (name, value) in vars {
            match self.vars.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.to_string(),
                None => self.vars.push((name.to_string(), value.to_string())),
            }
        }
        self.vars.sort();
        self.generation += 1;
    }

    fn snapshot(&self) -> UpstreamSnapshot {
        UpstreamSnapshot {
            generation: self.generation,
            availability: self.availability.clone(),
            variables: self.vars.clone(),
        }
    }
}

fn settings(options: &[(&str, &str)]) -> Settings {
    parse_settings(options.iter().map(|(k, v)| (*k, Some(*v)))).unwrap()
}

fn value<'a>(outcome: &'a Outcome, name: &str) -> Option<&'a str> {
    outcome.changes.iter().find_map(|c| match c {
        Change::SetValue(n, v) if n == name => Some(v.as_str()),
        _ => None,
    })
}

const OUTLET_OPTIONS: &[(&str, &str)] = &[
    ("offdelay", "10"),
    ("ondelay", "5"),
    ("mincharge", "50"),
    ("load.off", "outlet.1.load.off"),
    ("load.on", "outlet.1.load.on"),
    ("load.status", "outlet.1.status"),
];

/// One step of a scenario: seconds since start, upstream variables to set
/// first, the expected `ups.status` (None: unchanged), the expected upstream commands.
type Step = (u64, &'static [(&'static str, &'static str)], Option<&'static str>, &'static [&'static str]);

fn run(options: &[(&str, &str)], steps: &[Step]) {
    let mut upstream = Upstream::new(&[("ups.status", "OL"), ("battery.charge", "100"), ("outlet.1.status", "on")]);
    let mut clone = Clone::new(settings(options));
    for (at_s, vars, expected_status, expected_commands) in steps {
        if !vars.is_empty() {
            upstream.set(vars);
        }
        let outcome = clone.update(&upstream.snapshot(), 1_000_000 + at_s * 1000);
        assert_eq!(value(&outcome, "ups.status"), *expected_status, "status at {at_s} s");
        assert_eq!(outcome.upstream_commands, *expected_commands, "commands at {at_s} s");
    }
}

#[test]
fn charge_below_threshold_shuts_the_outlet_down_and_power_back_restores_it() {
    run(
        OUTLET_OPTIONS,
        &[
            (0, &[], Some("OL"), &[]),
            // Mains fails; above the threshold nothing happens.
            (1, &[("ups.status", "OB DISCHRG"), ("battery.charge", "80")], Some("OB DISCHRG"), &[]),
            // Below it: FSD and the countdown.
            (2, &[("battery.charge", "40")], Some("OB DISCHRG FSD"), &[]),
            (7, &[], None, &[]),
            // Timer done: load.off, FSD still this cycle, then the outlet reports off.
            (13, &[], None, &["outlet.1.load.off"]),
            (14, &[("outlet.1.status", "off")], Some("OB DISCHRG OFF"), &[]),
            // Timers count the seconds between cycles; on battery the power-on wait restarts.
            (19, &[], None, &[]),
            // Power back: ondelay of continuous mains, then load.on.
            (20, &[("ups.status", "OL CHRG")], Some("OL CHRG OFF"), &[]),
            (23, &[("ups.status", "OB")], Some("OB OFF"), &[]),
            (24, &[("ups.status", "OL")], Some("OL OFF"), &[]),
            (30, &[], None, &["outlet.1.load.on"]),
            (31, &[("outlet.1.status", "on")], Some("OL"), &[]),
        ],
    );
}

#[test]
fn power_back_during_the_countdown_does_not_cancel_it() {
    // NUT's clone has no cancel: once FSD is raised, load.off follows.
    run(
        OUTLET_OPTIONS,
        &[
            (0, &[("ups.status", "OB"), ("battery.charge", "10")], Some("OB FSD"), &[]),
            (3, &[("ups.status", "OL")], Some("OL FSD"), &[]),
            (11, &[], None, &["outlet.1.load.off"]),
            (12, &[], Some("OL"), &[]),
        ],
    );
}

#[test]
fn without_load_status_the_outlet_state_is_assumed() {
    let options = [("offdelay", "2"), ("ondelay", "1"), ("minruntime", "300"), ("load.off", "outlet.2.load.off")];
    run(
        &options,
        &[
            (0, &[("ups.status", "OB"), ("battery.runtime", "120")], Some("OB FSD"), &[]),
            (3, &[], None, &["outlet.2.load.off"]),
            (4, &[], Some("OB OFF"), &[]),
            (5, &[("ups.status", "OL")], Some("OL OFF"), &[]),
            // No load.on configured: only the assumed state changes, shown from the next cycle.
            (7, &[], None, &[]),
            (8, &[], Some("OL"), &[]),
        ],
    );
}

#[test]
fn zero_thresholds_never_trigger() {
    run(
        &[("load.off", "outlet.1.load.off")],
        &[(0, &[("ups.status", "OB LB"), ("battery.charge", "1")], Some("OB LB"), &[]), (500, &[], None, &[])],
    );
}

#[test]
fn instant_commands_and_thresholds_from_clients() {
    let mut upstream = Upstream::new(&[("ups.status", "OL"), ("battery.charge", "90")]);
    let mut clone = Clone::new(settings(&[("offdelay", "20"), ("ondelay", "7")]));
    let first = clone.update(&upstream.snapshot(), 0);
    assert!(first.changes.contains(&Change::AddCommand("shutdown.return".into())));
    assert!(first.changes.contains(&Change::AddCommand("shutdown.stayoff".into())));
    assert_eq!(value(&first, "battery.charge.low"), Some("0.000000"));
    assert!(first.changes.contains(&Change::SetWritableString("battery.charge.low".into(), 3)));
    assert_eq!(value(&first, "battery.runtime.low"), None, "not before the upstream reports a runtime");
    assert_eq!(value(&first, "ups.delay.shutdown"), Some("20"));
    assert_eq!(value(&first, "ups.timer.shutdown"), Some("-1"));

    assert_eq!(clone.instcmd("SHUTDOWN.RETURN"), Ok(()));
    let outcome = clone.update(&upstream.snapshot(), 1000);
    assert_eq!(value(&outcome, "ups.status"), Some("OL FSD"));
    assert_eq!(value(&outcome, "ups.timer.start"), Some("7"));
    assert_eq!(clone.instcmd("load.off"), Err(CloneError::Unknown));

    assert_eq!(clone.set_var("battery.charge.low", "95"), Ok(()));
    assert_eq!(clone.set_var("ups.delay.shutdown", "5"), Err(CloneError::Unknown));
    upstream.set(&[("battery.charge", "89")]);
    let outcome = clone.update(&upstream.snapshot(), 2000);
    assert_eq!(value(&outcome, "battery.charge.low"), Some("95.000000"));
}

#[test]
fn upstream_values_it_owns_are_not_relayed() {
    let upstream = Upstream::new(&[
        ("driver.name", "usbhid-ups"),
        ("battery.charge.low", "10"),
        ("ups.delay.shutdown", "20"),
        ("ups.timer.start", "-1"),
        ("ups.status", "OL"),
        ("ups.load", "23"),
    ]);
    let mut clone = Clone::new(settings(&[]));
    let outcome = clone.update(&upstream.snapshot(), 0);
    assert_eq!(value(&outcome, "ups.load"), Some("23"));
    assert_eq!(value(&outcome, "driver.name"), None);
    assert_eq!(value(&outcome, "battery.charge.low"), None);
    assert_eq!(value(&outcome, "ups.delay.shutdown"), Some("120"));
    assert_eq!(value(&outcome, "ups.timer.start"), Some("-1"));
}

#[test]
fn wait_until_the_upstream_reports_and_stale_keeps_the_last_state() {
    let mut clone = Clone::new(settings(OUTLET_OPTIONS));
    let starting = UpstreamSnapshot { generation: 0, availability: Availability::Starting, variables: vec![] };
    assert_eq!(value(&clone.update(&starting, 0), "ups.status"), Some("WAIT"));
    // Not online (WAIT) and a charge of 0 would trigger in NUT's first cycle; not here.
    assert!(clone.update(&starting, 5000).upstream_commands.is_empty());
    assert_eq!(clone.timer_shutdown, -1);

    let mut upstream = Upstream::new(&[("ups.status", "OL"), ("battery.charge", "100")]);
    assert_eq!(value(&clone.update(&upstream.snapshot(), 6000), "ups.status"), Some("OL"));
    upstream.availability = Availability::Stale("device: unreachable".into());
    upstream.generation += 1;
    let outcome = clone.update(&upstream.snapshot(), 7000);
    assert_eq!(value(&outcome, "ups.status"), None, "unchanged while stale; the host marks the device stale");
    upstream.availability = Availability::Fresh;
    upstream.set(&[("ups.status", "OB"), ("battery.charge", "30")]);
    assert_eq!(value(&clone.update(&upstream.snapshot(), 8000), "ups.status"), Some("OB FSD"));
}

#[test]
fn options_are_checked() {
    assert_eq!(parse_settings([("mincharge", None)]), Err(CloneError::Invalid("'mincharge' needs a value".into())));
    assert!(
        matches!(parse_settings([("prefix", Some("outlet.1"))]), Err(CloneError::Invalid(m)) if m.contains("'prefix'"))
    );
    let defaults = parse_settings([("port", Some("dummy-ups-pdu"))]).unwrap();
    assert_eq!((defaults.offdelay, defaults.ondelay, defaults.mincharge), (120, 30, 0.0));
}
