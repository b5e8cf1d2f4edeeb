//! Vendor tables on the captures of their vendors. CyberPower's captures hold
//! descriptors only (no report reads, no NUT variables), so what is checked
//! is what the descriptor decides: which rows resolve, the delay defaults the
//! ABSENT rows publish, the commands advertised and what they write.
//!
//! Not checkable for lack of data (listed so nobody assumes otherwise):
//! - `battery.charge` clamped to 100: no capture has a RemainingCapacity read
//!   above 100 (no CyberPower capture has any read);
//! - CyberPower's 2/3 battery-voltage scale for 0x0501 models reading above
//!   1.4 × nominal: not implemented, and no read to check it against;
//! - Liebert (GXT5, PSA5, PSI5), Legrand (Keor PDU 800, UPS 1cb0:0032) and
//!   Powercom captures hold descriptors only: no read, no NUT variable, no
//!   printed path, so no published value of theirs is checked, only which
//!   rows their descriptors resolve, the delay defaults and the commands;
//! - Tripp Lite 09ae:3016: two reads and eight printed paths (PowerConverter
//!   status bits, PowerSummary.Input.Voltage); no NUT variables, so the
//!   variables of its other rows cannot be compared; TLDelayBeforeStartup
//!   (minutes) is named but has no row;
//! - PowerWalker/Phoenixtec (0x06DA) go to the MGE subdriver as in NUT; the
//!   VI 1200 SHL's NUT variables are checked in `capture_tests`
//!   (`nut_variables_are_mapped_where_no_reads_exist`); VI 500 R1U is a
//!   CyberPower OEM (0764:0601) and is checked above;
//! - Belkin, Delta, Salicru: no capture at all; only their vendor ids'
//!   selection is checked (common rows).

extern crate std;

use alloc::string::ToString;

use crate::capture_tests::{ReplayDevice, captures};
use crate::commands;
use crate::descriptor::ReportKind;
use crate::mapping::{self, CYBERPOWER_DELAYS, DEFAULT_DELAYS};
use crate::report;
use crate::session::{Session, Settings};
use crate::status::Flag;

#[test]
fn cyberpower_delays_default_to_60_and_120_and_drive_the_output_timers() {
    let mut checked = 0;
    for (name, c) in captures().iter().filter(|(_, c)| c.vendor_id == Some(0x0764)) {
        let mut dev = ReplayDevice::new(c);
        let mut s = Session::open(&mut dev, Settings::default()).unwrap();
        assert_eq!(s.subdriver.name, "CyberPower HID", "{name}");
        let vars = s.variables();
        // Every CyberPower descriptor here has the Output delays (explore shows them).
        assert_eq!(vars.get("ups.delay.shutdown"), Some(&CYBERPOWER_DELAYS.0.to_string()), "{name}");
        assert_eq!(vars.get("ups.delay.start"), Some(&CYBERPOWER_DELAYS.1.to_string()), "{name}");
        let names = s.command_names();
        for cmd in ["load.off.delay", "load.on.delay", "shutdown.return", "shutdown.stayoff", "shutdown.stop"] {
            assert!(names.contains(&cmd), "{name}: no {cmd} in {names:?}");
        }
        assert!(names.contains(&"test.battery.start.quick"), "{name}: UPS.Output.Test");
        // load.off.delay writes the default to UPS.Output.DelayBeforeShutdown.
        commands::instcmd(&mut s, &mut dev, "load.off.delay", None).unwrap();
        let f = mapping::find_field(&s.descriptor.fields, &s.paths, "UPS.Output.DelayBeforeShutdown").unwrap();
        assert_eq!(f.kind, ReportKind::Feature);
        let (id, data) = dev.writes.last().unwrap();
        assert_eq!(*id, f.report_id, "{name}");
        let written = report::read(report::payload(data, s.descriptor.uses_report_ids), f).unwrap();
        assert_eq!(written, CYBERPOWER_DELAYS.0 as f64, "{name}");
        // An explicit option wins over the subdriver's default.
        let settings = Settings { offdelay: Some(20), ..Settings::default() };
        let s = Session::open(&mut ReplayDevice::new(c), settings).unwrap();
        assert_eq!(s.variables().get("ups.delay.shutdown").map(|v| v.as_str()), Some("20"), "{name}");
        checked += 1;
    }
    assert!(checked >= 5, "CyberPower captures checked: {checked}");
}

/// What one capture's descriptor must give: the variables whose row
/// resolves on it, the commands it advertises, and the path `load.off.delay`
/// writes (`None`: the device has no shutdown delay).
struct Expect<'a> {
    file: &'static str,
    vars: &'a [&'a str],
    commands: &'static [&'static str],
    delay_path: Option<&'static str>,
}

/// Open every capture of `vendor` and check it against its [`Expect`]:
/// subdriver, resolving rows, the subdriver's ABSENT delay default, the commands and
/// what `load.off.delay` writes. Returns the captures checked.
fn check_vendor(vendor: u16, subdriver: &str, expect: &[Expect<'_>]) -> usize {
    let mut checked = 0;
    for (name, c) in captures().iter().filter(|(_, c)| c.vendor_id == Some(vendor)) {
        let mut dev = ReplayDevice::new(c);
        let mut s = Session::open(&mut dev, Settings::default()).unwrap();
        assert_eq!(s.subdriver.name, subdriver, "{name}");
        let e = expect.iter().find(|e| name.starts_with(e.file)).unwrap_or_else(|| panic!("{name}: not listed"));
        for var in e.vars {
            let row = s
                .subdriver
                .rows
                .iter()
                .flat_map(|r| r.iter())
                .filter(|r| r.name == *var)
                .find(|r| mapping::find_field(&s.descriptor.fields, &s.paths, r.path).is_some());
            assert!(row.is_some(), "{name}: {var} has no row on this descriptor");
        }
        let names = s.command_names();
        for cmd in e.commands {
            assert!(names.contains(cmd), "{name}: no {cmd} in {names:?}");
        }
        let published = s.variables().get("ups.delay.shutdown").cloned();
        let Some(delay_path) = e.delay_path else {
            assert_eq!(published, None, "{name}");
            assert!(!names.contains(&"load.off.delay"), "{name}");
            checked += 1;
            continue;
        };
        assert_eq!(published, Some(s.subdriver.delays.0.to_string()), "{name}");
        commands::instcmd(&mut s, &mut dev, "load.off.delay", None).unwrap();
        let f = mapping::find_field(&s.descriptor.fields, &s.paths, delay_path).unwrap();
        let (id, data) = dev.writes.last().unwrap();
        assert_eq!(*id, f.report_id, "{name}: load.off.delay wrote report {id:02x}, not {delay_path}'s");
        let written = report::read(report::payload(data, s.descriptor.uses_report_ids), f).unwrap();
        assert_eq!(written, s.subdriver.delays.0 as f64, "{name}: {f:?}");
        checked += 1;
    }
    checked
}

/// Variables the PowerConverter/Flow/OutletSystem layout gives (PSA5, PSI5,
/// Legrand UPS, Tripp Lite).
const CONVERTER_VARS: &[&str] = &[
    "input.voltage",
    "input.frequency",
    "input.voltage.nominal",
    "output.voltage",
    "output.frequency",
    "output.voltage.nominal",
    "output.frequency.nominal",
    "ups.power.nominal",
    "ups.load",
    "battery.voltage",
    "battery.voltage.nominal",
    "battery.charge",
    "battery.runtime",
    "ups.delay.shutdown",
    "ups.timer.shutdown",
    "ups.timer.reboot",
    "ups.test.result",
    "ups.beeper.status",
];
const OUTLET_DELAY: Option<&str> = Some("UPS.OutletSystem.Outlet.DelayBeforeShutdown");
const DELAY_COMMANDS: &[&str] = &["load.off.delay", "shutdown.stop", "shutdown.reboot", "test.battery.start.quick"];
const ALL_DELAY_COMMANDS: &[&str] =
    &["load.off.delay", "load.on.delay", "shutdown.stop", "shutdown.return", "test.battery.start.quick"];

#[test]
fn liebert_tables_resolve_on_gxt5_psa5_psi5() {
    let expect = [
        Expect {
            file: "Liebert__GXT5",
            vars: &[
                "battery.charge",
                "battery.runtime",
                "battery.voltage",
                "battery.voltage.nominal",
                "ups.load",
                "ups.power.nominal",
                "ups.realpower.nominal",
                "output.frequency.nominal",
                "ups.test.result",
            ],
            commands: &["test.battery.start.quick", "test.battery.stop"],
            delay_path: None,
        },
        Expect { file: "Liebert__PSA5", vars: CONVERTER_VARS, commands: ALL_DELAY_COMMANDS, delay_path: OUTLET_DELAY },
        // PSI5 has no DelayBeforeStartup: no load.on.delay, so no shutdown.return.
        Expect { file: "Liebert__PSI5", vars: CONVERTER_VARS, commands: DELAY_COMMANDS, delay_path: OUTLET_DELAY },
    ];
    assert_eq!(mapping::subdriver_for(0x10AF).unwrap().delays, DEFAULT_DELAYS);
    assert_eq!(check_vendor(0x10AF, "Liebert HID", &expect), 3);
}

#[test]
fn liebert_gxt5_status_bits_outside_present_status_have_rows() {
    let (name, c) = captures().into_iter().find(|(n, _)| n.starts_with("Liebert__GXT5")).unwrap();
    let s = Session::open(&mut ReplayDevice::new(&c), Settings::default()).unwrap();
    let status_paths: alloc::vec::Vec<&str> = s
        .subdriver
        .rows
        .iter()
        .flat_map(|r| r.iter())
        .filter(|r| matches!(r.action, mapping::Action::Status(_)))
        .filter(|r| mapping::find_field(&s.descriptor.fields, &s.paths, r.path).is_some())
        .map(|r| r.path)
        .collect();
    for bit in ["ACPresent", "Charging", "Discharging", "BelowRemainingCapacityLimit", "NeedReplacement", "Overload"] {
        let path = alloc::format!("UPS.PowerSummary.{bit}");
        assert!(status_paths.contains(&path.as_str()), "{name}: {path} not a status row ({status_paths:?})");
    }
}

#[test]
fn legrand_tables_resolve_on_keor_pdu_and_ups() {
    let converter_plus =
        [CONVERTER_VARS, &["input.transfer.low", "input.transfer.high", "output.current", "ups.realpower"]].concat();
    let expect = [
        Expect {
            file: "Legrand__Keor_PDU_800",
            vars: &[
                "input.voltage",
                "input.frequency",
                "input.transfer.low",
                "input.transfer.high",
                "output.voltage",
                "output.frequency",
                "ups.load",
                "ups.realpower.nominal",
                "battery.charge",
                "battery.runtime",
                "battery.voltage",
                "ups.delay.start",
                "ups.timer.shutdown",
                "ups.test.result",
            ],
            commands: &["load.off.delay", "load.on.delay", "shutdown.return", "test.battery.start.deep", "beeper.mute"],
            delay_path: Some("UPS.Output.DelayBeforeShutdown"),
        },
        Expect {
            file: "Legrand__UPS_1cb0-0032",
            vars: &converter_plus,
            commands: ALL_DELAY_COMMANDS,
            delay_path: OUTLET_DELAY,
        },
    ];
    // The PDU's Output delays have a 60 s physical unit (logical −1..32767 ↔
    // physical −60..1966020): the defaults are whole minutes, or 20 s would
    // be written as 0.
    assert_eq!(mapping::subdriver_for(0x1CB0).unwrap().delays, mapping::LEGRAND_DELAYS);
    assert_eq!(mapping::LEGRAND_DELAYS.0 % 60, 0);
    assert_eq!(check_vendor(0x1CB0, "Legrand HID", &expect), 2);
}

#[test]
fn powercom_table_resolves_on_its_capture() {
    let expect = [Expect {
        file: "Powercom__",
        vars: &[
            "battery.charge",
            "battery.voltage",
            "battery.mfr.date",
            "battery.temperature",
            "input.voltage",
            "input.frequency",
            "output.voltage",
            "output.frequency",
            "output.voltage.nominal",
            "output.frequency.nominal",
            "ups.load",
            "ups.beeper.status",
            "ups.delay.start",
            "ups.test.result",
        ],
        commands: &[
            "load.off.delay",
            "load.on.delay",
            "shutdown.return",
            "test.battery.start.quick",
            "beeper.enable",
            "beeper.disable",
        ],
        delay_path: Some("UPS.PowerSummary.DelayBeforeShutdown"),
    }];
    assert_eq!(check_vendor(0x0D9F, "PowerCOM HID", &expect), 1);
}

#[test]
fn tripp_lite_table_resolves_and_replays_its_printed_paths() {
    let converter_plus =
        [CONVERTER_VARS, &["input.transfer.low", "input.transfer.high", "output.current", "ups.realpower"]].concat();
    let expect = [Expect {
        file: "Tripp_Lite__",
        vars: &converter_plus,
        commands: ALL_DELAY_COMMANDS,
        delay_path: OUTLET_DELAY,
    }];
    assert_eq!(check_vendor(0x09AE, "TrippLite HID", &expect), 1);
    // The printed paths: every one that a status row reads, replayed, leaves
    // the flag as the printed value says (1 sets, 0 clears).
    let (name, c) = captures().into_iter().find(|(n, _)| n.starts_with("Tripp_Lite__")).unwrap();
    let s = Session::open(&mut ReplayDevice::new(&c), Settings::default()).unwrap();
    let flags = s.status_flags();
    let mut checked = 0;
    for p in &c.paths {
        let value: i64 = p.value.parse().unwrap();
        let rows = s.subdriver.rows.iter().flat_map(|r| r.iter()).filter(|r| r.path == p.path);
        for r in rows {
            let mapping::Action::Status(lookup) = r.action else { continue };
            let Some((_, changes)) = lookup.iter().find(|(v, _)| *v == value) else { continue };
            for ch in *changes {
                let (flag, set): (Flag, bool) = match ch {
                    crate::status::Change::Set(f) => (*f, true),
                    crate::status::Change::Clear(f) => (*f, false),
                };
                assert_eq!(flags.has(flag), set, "{name}: {} = {value}", p.path);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 7, "{name}: the 7 PowerConverter status paths");
}

#[test]
fn id_only_vendors_are_selected_by_their_vendor_ids() {
    // No capture for these: only the choice of subdriver is checkable.
    for (vid, sub) in [
        (0x050D, "Belkin HID"),
        (0x05DD, "Delta UPS HID"),
        (0x2E66, "Salicru HID"),
        (0x10AF, "Liebert HID"),
        (0x1CB0, "Legrand HID"),
        (0x0D9F, "PowerCOM HID"),
        (0x09AE, "TrippLite HID"),
        (0x06DA, "MGE HID"),
    ] {
        assert_eq!(mapping::subdriver_for(vid).map(|s| s.name), Some(sub), "{vid:04x}");
    }
    assert!(captures().iter().all(|(_, c)| ![0x050D, 0x05DD, 0x2E66].contains(&c.vendor_id.unwrap())));
}
