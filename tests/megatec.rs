//! Hazel's `megatec` plugin end to end: `hazel serve` with `driver = nutdrv_qx`
//! on a simulated Megatec UPS (`hazel-sim`, through a symlink to its pty),
//! read with NUT's own `upsc`/`upscmd`, next to real NUT 2.8.0 (`nutdrv_qx`
//! and `upsd`) reading another simulator in the same state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hazel_e2e::{
    E2E_USERS, HazelServe, NutDevice, RealNut, admin_upscmd, nut_tool, said, upsc_all, upsc_value, wait_for_upsc,
};
use hazel_sim::{Action, ModelConfig, RunningSimulator, Simulator, SimulatorConfig};

const WAIT: Duration = Duration::from_secs(60);
/// Every poll a full update, as the captures in tests/nut-facts/megatec were made.
const POLL_EVERY_SECOND: &str = "pollinterval = 1\npollfreq = 1\n";
/// Delays other than the defaults (30 s off, 180 s on).
const CUSTOM_DELAYS: &str = "ondelay = 120\noffdelay = 60\n";
/// What `shutdown.return` sends with [`CUSTOM_DELAYS`]: FACTS.md §4, "(60,120) `S01R0002`".
const CUSTOM_SHUTDOWN_RETURN: &str = "S01R0002";

/// A simulator serving on a pty reached through `link`.
fn simulator(link: &Path, model: ModelConfig, time_scale: f64) -> RunningSimulator {
    let config = SimulatorConfig { model, time_scale, link: Some(link.to_path_buf()), ..SimulatorConfig::default() };
    Simulator::spawn(config).unwrap_or_else(|e| panic!("simulator at {}: {e}", link.display()))
}

/// A `nutdrv_qx` section of ups.conf on `port`, with more option lines.
fn nutdrv_qx_section(name: &str, port: &Path, options: &str) -> String {
    let port = port.display().to_string();
    NutDevice { name, driver: "nutdrv_qx", port: &port, options: &format!("{POLL_EVERY_SECOND}{options}") }.section()
}

/// Real nutdrv_qx and upsd, one `(name, port, options)` section each.
fn real_nutdrv_qx(devices: &[(&str, &Path, &str)]) -> RealNut {
    let ports: Vec<String> = devices.iter().map(|(_, port, _)| port.display().to_string()).collect();
    let options: Vec<String> = devices.iter().map(|(_, _, options)| format!("{POLL_EVERY_SECOND}{options}")).collect();
    let sections: Vec<NutDevice<'_>> = devices
        .iter()
        .zip(&ports)
        .zip(&options)
        .map(|(((name, _, _), port), options)| NutDevice { name, driver: "nutdrv_qx", port, options })
        .collect();
    RealNut::start_drivers(&sections)
}

/// `upscmd shutdown.return` on `ups`; the bytes the simulator then received (without `\r`).
fn shutdown_return_bytes(ups: &str, sim: &RunningSimulator) -> String {
    let mark = sim.log().len();
    admin_upscmd(ups, &["shutdown.return"]);
    let sent = sim.log().wait_for_since(mark, WAIT, |e| e.command().is_some_and(|c| c != "Q1"));
    sent.and_then(|e| e.command()).unwrap_or_else(|| panic!("shutdown.return on {ups} sent nothing but Q1"))
}

/// The bytes real nutdrv_qx sent for `command` in the captured run (tests/nut-facts/megatec).
fn captured_bytes(command: &str) -> String {
    let path = hazel_e2e::repo_root().join("tests/nut-facts/megatec/nutdrv_qx.instcmds.txt");
    let table = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = table.lines().find(|l| l.starts_with(&format!("{command} -> "))).expect("command in the capture");
    line.split('"').nth(1).and_then(|quoted| quoted.strip_suffix("\\r")).expect("quoted bytes").to_string()
}

/// A check for [`wait_for_upsc`]: `ups.status` is `wanted`.
fn status_is(wanted: &str) -> impl Fn(&str) -> bool + '_ {
    move |all| upsc_value(all, "ups.status") == Some(wanted)
}

/// Retry `check` until it gives a value (up to a minute); on timeout, fail with `hazel`'s log.
fn wait_for<T>(what: &str, hazel: &HazelServe, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}; hazel's log:\n{}", hazel.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What `upsc UPS` says when it fails (its error line), or its output.
fn upsc_said(ups: &str) -> String {
    said(&nut_tool("upsc", &[ups]))
}

#[test]
fn power_cut_shutdown_and_a_lost_port_through_upsc() {
    let dir = tempfile::tempdir().unwrap();
    let link = |name: &str| -> PathBuf { dir.path().join(name) };
    // A simulated minute per real second, at full load: 10 simulated minutes of battery.
    let full_load = ModelConfig { load_percent: 100, ..ModelConfig::default() };
    let hazel_sim = simulator(&link("ttyHazel"), full_load.clone(), 60.0);
    let hazel_custom_sim = simulator(&link("ttyHazelCustom"), ModelConfig::default(), 60.0);
    let nut_sim = simulator(&link("ttyNut"), full_load, 60.0);
    let nut_custom_sim = simulator(&link("ttyNutCustom"), ModelConfig::default(), 60.0);

    let ups_conf = [
        nutdrv_qx_section("sim", &link("ttyHazel"), ""),
        nutdrv_qx_section("custom", &link("ttyHazelCustom"), CUSTOM_DELAYS),
        // A second device that must keep answering whatever happens to the serial one.
        "[other]\n\tdriver = dummy-ups\n\tport = other.dev\n\tpollinterval = 1\n".to_string(),
    ]
    .concat();
    let hazel = HazelServe::start(&ups_conf, E2E_USERS, |dir| {
        std::fs::write(dir.join("other.dev"), "ups.mfr: Other\nups.status: OL\nbattery.charge: 100\n").unwrap();
    });
    let nut = real_nutdrv_qx(&[("sim", &link("ttyNut"), ""), ("custom", &link("ttyNutCustom"), CUSTOM_DELAYS)]);
    let (sim, custom, other) = (hazel.ups("sim"), hazel.ups("custom"), hazel.ups("other"));
    let other_answers = || {
        let all = upsc_all(&other).unwrap_or_else(|| panic!("{other} stopped answering: {}", upsc_said(&other)));
        assert_eq!(upsc_value(&all, "ups.status"), Some("OL"), "{other}:\n{all}");
    };

    let online = wait_for_upsc(&sim, "OL from the simulator", status_is("OL"));
    assert_eq!(upsc_value(&online, "driver.name"), Some("nutdrv_qx"));
    assert_eq!(upsc_value(&online, "device.model"), Some("SIM-1000"));
    other_answers();

    // Mains fail: on battery at once, low battery as the simulated battery runs down.
    hazel_sim.set_mains(false);
    nut_sim.set_mains(false);
    // The status follows every poll; the measurements come with the next full update.
    wait_for_upsc(&sim, "OB after the mains failed", |all| {
        status_is("OB")(all) && upsc_value(all, "input.voltage") == Some("0.0")
    });
    let low = wait_for_upsc(&sim, "OB LB as the battery runs down", status_is("OB LB"));
    let charge: f64 = upsc_value(&low, "battery.charge").expect("battery.charge").parse().unwrap();
    assert!(charge < 50.0, "charge estimate {charge} at low battery:\n{low}");
    wait_for_upsc(&nut.ups("sim"), "real NUT at OB LB", status_is("OB LB"));
    other_answers();

    // upsmon's late step: the bytes for the configured delays, as real nutdrv_qx sends them.
    let expected_default = captured_bytes("shutdown.return");
    assert_eq!(expected_default, "S.5R0003");
    assert_eq!(shutdown_return_bytes(&nut.ups("sim"), &nut_sim), expected_default, "real nutdrv_qx, default delays");
    assert_eq!(shutdown_return_bytes(&sim, &hazel_sim), expected_default, "Hazel, default delays");
    let real_custom = shutdown_return_bytes(&nut.ups("custom"), &nut_custom_sim);
    assert_eq!(real_custom, CUSTOM_SHUTDOWN_RETURN, "real nutdrv_qx, {CUSTOM_DELAYS:?}");
    assert_eq!(shutdown_return_bytes(&custom, &hazel_custom_sim), real_custom, "Hazel, {CUSTOM_DELAYS:?}");
    drop(nut);

    // The port goes away: the device goes stale, the other one keeps answering.
    hazel_sim.stop().expect("the simulator served without errors");
    assert!(std::fs::symlink_metadata(link("ttyHazel")).is_err(), "the link went with the simulator");
    let stale = wait_for("upsc to say the data is stale", &hazel, || {
        other_answers();
        let answer = upsc_said(&sim);
        answer.contains("Error: Data stale").then_some(answer)
    });
    assert_eq!(stale.trim(), "Error: Data stale");
    other_answers();

    // A new simulator at the same path: the host reopens the port and the data comes back.
    let _revived = simulator(&link("ttyHazel"), ModelConfig::default(), 60.0);
    wait_for("data from the new simulator", &hazel, || {
        other_answers();
        upsc_all(&sim).filter(|all| upsc_value(all, "ups.status") == Some("OL"))
    });
    other_answers();
}

/// Variables both publish whose values differ by design: (name, why).
const DIFFERENT_VALUES: &[(&str, &str)] = &[
    ("driver.version", "the release: NUT's 2.8.0, Hazel's own version"),
    ("driver.version.internal", "nutdrv_qx's own version (0.32) against the megatec plugin's"),
    ("driver.parameter.port", "each simulator has its own pty link"),
];
/// Variables only real NUT publishes: (name, why).
const ONLY_NUT: &[(&str, &str)] = &[(
    "driver.version.usb",
    "Debian's nutdrv_qx is built with USB support and names its libusb; the megatec plugin is serial only",
)];
/// Variables only Hazel publishes: (name, why).
const ONLY_HAZEL: &[(&str, &str)] = &[];

/// `upsc` output as name → value.
fn variables(upsc: &str) -> BTreeMap<String, String> {
    upsc.lines().filter_map(|l| l.split_once(": ")).map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// How `hazel`'s variables differ from real NUT's, beyond the documented differences.
fn undocumented_differences(nut: &str, hazel: &str) -> Vec<String> {
    let (nut, hazel) = (variables(nut), variables(hazel));
    let documented = |list: &[(&str, &str)], name: &str| list.iter().any(|(n, _)| *n == name);
    let names: BTreeSet<&String> = nut.keys().chain(hazel.keys()).collect();
    let mut differences = Vec::new();
    for name in names {
        match (nut.get(name), hazel.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(_), Some(_)) if documented(DIFFERENT_VALUES, name) => {}
            (Some(_), None) if documented(ONLY_NUT, name) => {}
            (None, Some(_)) if documented(ONLY_HAZEL, name) => {}
            (a, b) => differences.push(format!("{name}: NUT {a:?}, Hazel {b:?}")),
        }
    }
    differences
}

/// Wait until real NUT and Hazel both show the `settled` values for `ups` (the
/// simulators' new state has been read, status and measurements) and then publish
/// the same, less the documented differences; fail with the differences left.
fn wait_until_alike(nut: &RealNut, hazel: &HazelServe, ups: &str, settled: &[(&str, &str)]) -> (String, String) {
    let deadline = std::time::Instant::now() + WAIT;
    let shows = |all: &str| settled.iter().all(|(name, value)| upsc_value(all, name) == Some(*value));
    loop {
        let (a, b) = (upsc_all(&nut.ups(ups)), upsc_all(&hazel.ups(ups)));
        if let (Some(a), Some(b)) = (&a, &b) {
            if shows(a) && shows(b) && undocumented_differences(a, b).is_empty() {
                return (a.clone(), b.clone());
            }
        }
        if std::time::Instant::now() > deadline {
            let differences = match (&a, &b) {
                (Some(a), Some(b)) => undocumented_differences(a, b).join("\n"),
                _ => "one of them did not answer".into(),
            };
            panic!("{ups} at {settled:?}: NUT and Hazel differ:\n{differences}\nNUT:\n{a:?}\nHazel:\n{b:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Two simulators in one state: time frozen from the start, so both show the
/// same battery whenever they are read.
struct SimulatorPair {
    nut: RunningSimulator,
    hazel: RunningSimulator,
}

impl SimulatorPair {
    fn new(dir: &Path, name: &str) -> SimulatorPair {
        let make = |side: &str| {
            let sim = simulator(&dir.join(format!("{name}-{side}")), ModelConfig::default(), 1.0);
            sim.set_frozen(true);
            sim
        };
        SimulatorPair { nut: make("nut"), hazel: make("hazel") }
    }

    fn link(&self, side: &RunningSimulator) -> PathBuf {
        side.link_path().expect("a linked simulator").to_path_buf()
    }

    fn apply(&self, action: Action) {
        self.nut.apply(action.clone());
        self.hazel.apply(action);
    }
}

#[test]
fn side_by_side_with_nutdrv_qx() {
    let dir = tempfile::tempdir().unwrap();
    let sims = SimulatorPair::new(dir.path(), "sim");
    let hazel = HazelServe::start(&nutdrv_qx_section("sim", &sims.link(&sims.hazel), ""), E2E_USERS, |_| {});
    let nut = real_nutdrv_qx(&[("sim", &sims.link(&sims.nut), "")]);

    // Commands and writable variables, as their clients list them.
    for (tool, args) in [("upscmd", ["-l"]), ("upsrw", [""])] {
        let run = |ups: String| {
            let args: Vec<&str> = args.iter().copied().filter(|a| !a.is_empty()).chain([ups.as_str()]).collect();
            said(&nut_tool(tool, &args)).replace(&ups, "UPS")
        };
        assert_eq!(run(hazel.ups("sim")), run(nut.ups("sim")), "{tool} differs");
    }

    // On mains with a full battery; on battery at half charge; on battery, nearly empty.
    let (nut_ol, _) = wait_until_alike(&nut, &hazel, "sim", &[("ups.status", "OL"), ("input.voltage", "230.0")]);
    assert_eq!(upsc_value(&nut_ol, "battery.charge"), Some("100"), "{nut_ol}");
    sims.apply(Action::Battery(50.0));
    sims.apply(Action::Mains(false));
    let (nut_ob, _) = wait_until_alike(&nut, &hazel, "sim", &[("ups.status", "OB"), ("input.voltage", "0.0")]);
    let charge: u32 = upsc_value(&nut_ob, "battery.charge").expect("battery.charge").parse().unwrap();
    assert!((20..100).contains(&charge), "half a battery estimated at {charge} %:\n{nut_ob}");
    sims.apply(Action::Battery(10.0));
    sims.apply(Action::Load(80));
    let (nut_lb, _) = wait_until_alike(&nut, &hazel, "sim", &[("ups.status", "OB LB"), ("ups.load", "80")]);
    assert_ne!(upsc_value(&nut_lb, "battery.voltage"), upsc_value(&nut_ob, "battery.voltage"), "{nut_lb}");
}

#[test]
fn battery_voltage_limits_from_ups_conf_change_the_charge_as_in_nutdrv_qx() {
    // The simulator's full battery reads 26.00 V: 100 % between the limits guessed from
    // its 24 V nominal (20.80-26.00 V), 80 % between 22 and 27 V.
    const LIMITS: &str = "default.battery.voltage.high = 27.0\ndefault.battery.voltage.low = 22.0\n";
    let dir = tempfile::tempdir().unwrap();
    let plain = SimulatorPair::new(dir.path(), "plain");
    let limited = SimulatorPair::new(dir.path(), "limited");
    let ups_conf = [
        nutdrv_qx_section("plain", &plain.link(&plain.hazel), ""),
        nutdrv_qx_section("limited", &limited.link(&limited.hazel), LIMITS),
    ]
    .concat();
    let hazel = HazelServe::start(&ups_conf, E2E_USERS, |_| {});
    let nut =
        real_nutdrv_qx(&[("plain", &plain.link(&plain.nut), ""), ("limited", &limited.link(&limited.nut), LIMITS)]);
    // ups.conf's limits are published as written, as NUT's core publishes `default.*` values.
    for (ups, charge, low, high) in [("plain", "100", "20.80", "26.00"), ("limited", "80", "22.0", "27.0")] {
        let (from_nut, from_hazel) = wait_until_alike(&nut, &hazel, ups, &[("ups.status", "OL")]);
        for upsc in [&from_nut, &from_hazel] {
            assert_eq!(upsc_value(upsc, "battery.voltage"), Some("26.00"), "{ups}:\n{upsc}");
            assert_eq!(upsc_value(upsc, "battery.charge"), Some(charge), "{ups}:\n{upsc}");
            assert_eq!(upsc_value(upsc, "battery.voltage.low"), Some(low), "{ups}:\n{upsc}");
            assert_eq!(upsc_value(upsc, "battery.voltage.high"), Some(high), "{ups}:\n{upsc}");
        }
    }
}
