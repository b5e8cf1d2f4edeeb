//! The simulator against real NUT 2.8.0: `nutdrv_qx` and `blazer_ser` read it
//! through its pty, `upsd` serves what they read, and NUT's clients check it.
//!
//! What NUT publishes is compared with the captures in
//! `tests/nut-facts/megatec/` (the expected output for Hazel's Megatec
//! plugin); `HAZEL_SIM_RECORD=1` rewrites them from this run instead.

mod nut_stack;

use std::path::PathBuf;
use std::time::Duration;

use hazel_sim::{Action, LogKind, Script, Simulator, SimulatorConfig};
use nut_stack::{NutStack, nut_tool, said, value};

const WAIT: Duration = Duration::from_secs(60);
/// Values that move with the simulated battery from run to run.
const MOVING: &[&str] = &["battery.charge", "battery.voltage"];

#[test]
fn nutdrv_qx_reads_the_simulator() {
    // nutdrv_qx refreshes all but the status every `pollfreq` (30 s by default): every poll here.
    // Its test.battery.start takes seconds.
    scenario("nutdrv_qx", "  pollfreq = 1\n", "600");
}

#[test]
fn blazer_ser_reads_the_simulator() {
    // blazer_ser's test.battery.start takes minutes (1-99).
    scenario("blazer_ser", "", "10");
}

fn scenario(driver: &str, options: &str, ten_minute_test: &str) {
    let facts = Facts::new(driver);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUPS");
    // A simulated minute per real second: S.5R0003 takes 0.5 s, then 3 s.
    let config = SimulatorConfig { time_scale: 60.0, link: Some(link.clone()), ..SimulatorConfig::default() };
    let sim = Simulator::spawn(config).unwrap();
    let nut = NutStack::start(driver, &link, options);

    // What NUT reads on mains.
    let ol = nut.wait_until("ups.status OL", |u| value(u, "ups.status") == Some("OL"));
    facts.write("startup-commands", &(sim.log().commands().join("\n") + "\n"));
    for (name, expected) in [
        ("input.voltage", "230.0"),
        ("input.voltage.fault", "230.0"),
        ("input.frequency", "50.0"),
        ("output.voltage", "230.0"),
        ("ups.load", "30"),
        ("battery.charge", "100"),
        ("battery.voltage", "26.00"),
        ("battery.voltage.nominal", "24.0"),
        ("input.voltage.nominal", "230"),
        ("ups.temperature", "25.0"),
        ("ups.beeper.status", "enabled"),
        ("ups.type", "offline / line interactive"),
        ("ups.firmware", "V1.0"),
        ("device.mfr", "Hazel"),
        ("device.model", "SIM-1000"),
    ] {
        assert_eq!(value(&ol, name), Some(expected), "{name} in\n{ol}");
    }
    facts.check("upsc-ol", &ol, &[]);
    let ups = nut.ups();
    facts.check("upscmd-l", &said(&nut_tool("upscmd", &["-l", &ups])), &[]);
    facts.check("upsrw", &said(&nut_tool("upsrw", &[&ups])), &[]);

    // Instant commands: the bytes that reach the UPS, and what NUT then reports.
    let mut table = String::new();
    let mut instcmd_then = |command: &[&str], bytes: &str, variable: &str, expected: &str| {
        let mark = sim.log().len();
        nut.instcmd(command);
        let got = sim
            .log()
            .wait_for_since(mark, WAIT, |e| e.command().is_some_and(|c| c != "Q1"))
            .unwrap_or_else(|| panic!("{command:?} sent nothing but Q1"));
        assert_eq!(got.command().as_deref(), Some(bytes), "{command:?}");
        let seen = nut.wait_until(&format!("{variable} {expected:?} after {command:?}"), |u| {
            value(u, variable) == Some(expected)
        });
        table += &format!("{} -> \"{bytes}\\r\" -> {variable}: {expected}\n", command.join(" "));
        seen
    };
    instcmd_then(&["beeper.toggle"], "Q", "ups.beeper.status", "disabled");
    let mut instcmd = |command: &[&str], bytes: &str, status: &str| instcmd_then(command, bytes, "ups.status", status);
    instcmd(&["test.battery.start.quick"], "T", "OL");
    instcmd(&["test.battery.start.deep"], "TL", "OL CAL");
    instcmd(&["test.battery.stop"], "CT", "OL");
    instcmd(&["test.battery.start", ten_minute_test], "T10", "OL CAL");
    instcmd(&["test.battery.stop"], "CT", "OL");
    instcmd(&["shutdown.return"], "S.5R0003", "ALARM OL FSD");
    instcmd(&["shutdown.stop"], "C", "OL");
    instcmd(&["shutdown.stayoff"], "S.5R0000", "ALARM OL FSD");
    instcmd(&["load.on"], "C", "OL");
    let off = instcmd(&["load.off"], "S00R0000", "ALARM OL FSD");
    assert_eq!(value(&off, "output.voltage"), Some("0.0"));
    assert_eq!(value(&off, "ups.load"), Some("0"));
    assert_eq!(value(&off, "ups.alarm"), Some("Shutdown imminent!"));
    facts.check("upsc-load-off", &off, MOVING);
    instcmd(&["load.on"], "C", "OL");
    facts.check("instcmds", &table, &[]);

    // A scripted power cut at full load: 10 simulated minutes of battery, low at 20 %.
    sim.apply(Action::Battery(100.0));
    sim.apply(Action::Load(100));
    sim.run_script(Script::parse("1m mains off\n", "power-cut").unwrap());
    let ob = nut.wait_until("ups.status OB", |u| {
        value(u, "ups.status") == Some("OB") && value(u, "input.voltage") == Some("0.0")
    });
    assert_eq!(value(&ob, "input.voltage"), Some("0.0"));
    assert_eq!(value(&ob, "ups.load"), Some("100"));
    facts.check("upsc-ob", &ob, MOVING);
    let low = nut.wait_until("ups.status OB LB", |u| value(u, "ups.status") == Some("OB LB"));
    let charge: f64 = value(&low, "battery.charge").unwrap().parse().unwrap();
    assert!(charge <= 21.0, "NUT's charge estimate {charge} at low battery");
    facts.check("upsc-ob-lb", &low, MOVING);

    // upsmon's late step: shutdown.return on battery reaches the UPS after the power cut.
    let mark = sim.log().len();
    nut.instcmd(&["shutdown.return"]);
    sim.log().wait_for_since(mark, WAIT, |e| e.command().as_deref() == Some("S.5R0003")).expect("S.5R0003");
    let entries = sim.log().entries();
    let cut = entries.iter().position(|e| e.kind == LogKind::Event("script line 1: mains off".into())).unwrap();
    let shutdown = entries.iter().rposition(|e| e.command().as_deref() == Some("S.5R0003")).unwrap();
    assert!(cut < shutdown, "the power cut is logged before the shutdown command");
    let fsd = nut.wait_until("FSD on battery", |u| value(u, "ups.status") == Some("ALARM OB LB FSD"));
    facts.check("upsc-ob-lb-fsd", &fsd, MOVING);
    // Mains returns: 3 simulated minutes later the output is back.
    sim.set_mains(true);
    sim.log().wait_for(WAIT, |e| e.kind == LogKind::Event("output on (restore timer)".into())).expect("restore");
    nut.wait_until("back on mains", |u| {
        value(u, "ups.status").is_some_and(|s| s.starts_with("OL") && !s.contains("FSD"))
    });

    let log: String = sim.log().entries().iter().map(|e| format!("{e}\n")).collect();
    facts.write("simulator-log", &log);
}

/// The captures of one driver in `tests/nut-facts/megatec/`.
struct Facts {
    dir: PathBuf,
    driver: String,
    record: bool,
}

impl Facts {
    fn new(driver: &str) -> Facts {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/nut-facts/megatec");
        Facts { dir, driver: driver.into(), record: std::env::var_os("HAZEL_SIM_RECORD").is_some() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.{name}.txt", self.driver))
    }

    /// Record-only facts (they change from run to run): written when recording.
    fn write(&self, name: &str, text: &str) {
        if self.record {
            std::fs::write(self.path(name), text).unwrap();
        }
    }

    /// Compare `text` with the capture (the pty's path and the `moving` variables masked);
    /// when recording, write it instead.
    fn check(&self, name: &str, text: &str, moving: &[&str]) {
        let path = self.path(name);
        if self.record {
            std::fs::write(&path, text).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (HAZEL_SIM_RECORD=1 records it)", path.display()));
        assert_eq!(mask(text, moving), mask(&expected, moving), "{} differs", path.display());
    }
}

fn mask(text: &str, moving: &[&str]) -> String {
    text.lines()
        .map(|line| match line.split_once(": ") {
            Some((name, _)) if name == "driver.parameter.port" || moving.contains(&name) => format!("{name}: *"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
