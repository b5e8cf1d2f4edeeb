//! Vendor tables on the captures of their vendors. CyberPower's captures hold
//! descriptors only (no report reads, no NUT variables), so what is checked
//! is what the descriptor decides: which rows resolve, the delay defaults the
//! ABSENT rows publish, the commands advertised and what they write.
//!
//! Not checkable for lack of data (listed so nobody assumes otherwise):
//! - `battery.charge` clamped to 100: no capture has a RemainingCapacity read
//!   above 100 (no CyberPower capture has any read);
//! - CyberPower's 2/3 battery-voltage scale for 0x0501 models reading above
//!   1.4 × nominal: checked on real descriptors with written reads (no
//!   capture has a read);
//! - Liebert (GXT5, PSA5, PSI5), Legrand (Keor PDU 800, UPS 1cb0:0032) and
//!   Powercom captures hold descriptors only: no read, no NUT variable, no
//!   printed path, so no published value of theirs is checked, only which
//!   rows their descriptors resolve, the delay defaults and the commands;
//! - Tripp Lite 09ae:3016: two reads and eight printed paths (PowerConverter
//!   status bits, PowerSummary.Input.Voltage); no NUT variables, so the
//!   variables of its other rows cannot be compared; its input voltage read
//!   is checked against NUT's Smart1500LCDT factor; TLDelayBeforeStartup
//!   (minutes) is checked on it and on a synthetic outlet;
//! - PowerWalker/Phoenixtec (0x06DA) go to the MGE subdriver as in NUT; the
//!   VI 1200 SHL's NUT variables are checked in `capture_tests`
//!   (`nut_variables_are_mapped_where_no_reads_exist`); VI 500 R1U is a
//!   CyberPower OEM (0764:0601) and is checked above;
//! - Belkin, Delta, Salicru: no capture at all; their tables are checked on
//!   synthetic descriptors built from the usage facts cited in each test;
//! - PowerCOM's delay words: on its real descriptor (what the commands
//!   write) and as unit tests of the encoding; its vendor-page (0x0002)
//!   rows for older models are not ported: no descriptor here uses them.

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

/// The last write of `path`'s report, decoded at that field (logical value).
fn written_logical(s: &Session, dev: &ReplayDevice, path: &str) -> i64 {
    let f = mapping::find_field(&s.descriptor.fields, &s.paths, path).unwrap();
    let (_, data) = dev.writes.iter().rev().find(|(id, _)| *id == f.report_id).unwrap();
    report::logical_value(report::payload(data, s.descriptor.uses_report_ids), f).unwrap()
}

#[test]
fn powercom_table_and_delay_words_on_its_capture() {
    let (name, c) = captures().into_iter().find(|(n, _)| n.starts_with("Powercom__")).unwrap();
    let mut dev = ReplayDevice::new(&c);
    let mut s = Session::open(&mut dev, Settings::default()).unwrap();
    assert_eq!(s.subdriver.name, "PowerCOM HID");
    for var in [
        "battery.charge",
        "battery.date",
        "ups.date",
        "ups.beeper.status",
        "ups.test.result",
        "ups.timer.start",
        "ups.timer.shutdown",
        "input.voltage",
        "input.frequency",
        "output.voltage",
        "output.voltage.nominal",
        "ups.load",
    ] {
        let resolves = s
            .subdriver
            .rows
            .iter()
            .flat_map(|r| r.iter())
            .any(|r| r.name == var && mapping::find_field(&s.descriptor.fields, &s.paths, r.path).is_some());
        assert!(resolves, "{name}: {var}");
    }
    // Its PowerSummary voltages repeat the line voltage (ConfigVoltage
    // 100..240 in this descriptor): no battery voltage, as in NUT.
    let cfg = mapping::find_field(&s.descriptor.fields, &s.paths, "UPS.PowerSummary.ConfigVoltage").unwrap();
    assert_eq!((cfg.logical_min, cfg.logical_max), (100, 240));
    assert!(!s.variables().contains_key("battery.voltage"));
    assert_eq!(s.variables()["ups.delay.start"], "60", "whole minutes");
    assert_eq!(s.variables()["ups.delay.shutdown"], "20");
    let names = s.command_names();
    for cmd in ["load.on.delay", "load.on", "shutdown.return", "shutdown.stayoff", "test.battery.start.quick"] {
        assert!(names.contains(&cmd), "{name}: {cmd} in {names:?}");
    }
    assert!(!names.contains(&"load.off.delay"), "no plain-seconds shutdown row");

    // shutdown.return: one write, 20 s = 0 min 20 s → seconds byte 20 high,
    // minutes 0 low, restart bit 14.
    commands::instcmd(&mut s, &mut dev, "shutdown.return", None).unwrap();
    assert_eq!(dev.writes.len(), 1);
    assert_eq!(written_logical(&s, &dev, "UPS.PowerSummary.DelayBeforeShutdown"), 0x5400);
    // 90 s, stay off: 1 min 30 s and bit 15.
    commands::instcmd(&mut s, &mut dev, "shutdown.stayoff", Some("90")).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.PowerSummary.DelayBeforeShutdown"), 0x9E01);
    // Startup: whole minutes, bytes swapped: 600 s = 10 min → 0x0A00.
    commands::instcmd(&mut s, &mut dev, "load.on.delay", Some("600")).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.PowerSummary.DelayBeforeStartup"), 0x0A00);
    assert_eq!(
        commands::instcmd(&mut s, &mut dev, "shutdown.return", Some("20000")),
        Err(commands::CommandError::InvalidValue),
        "minutes beyond one byte"
    );
    // Kill power is shutdown.return itself (no two-step chain).
    let mut dev = ReplayDevice::new(&c);
    let mut s = Session::open(&mut dev, Settings { offdelay: Some(130), ..Settings::default() }).unwrap();
    assert_eq!(commands::kill_power(&mut s, &mut dev), Ok("shutdown.return"));
    assert_eq!(written_logical(&s, &dev, "UPS.PowerSummary.DelayBeforeShutdown"), 0x4000 | (10 << 8) | 2);
}

#[test]
fn powercom_delay_words_encode_and_decode() {
    use mapping::DelayWord::{PowercomShutdownReturn, PowercomShutdownStayOff, PowercomStartup};
    // Facts (NUT powercom-hid): startup = minutes, bytes swapped; shutdown =
    // minutes in the low byte, seconds in the high byte, bit 14 restart /
    // bit 15 stay off; 0 s asks for the longest delay, so 1 s is sent.
    assert_eq!(PowercomStartup.encode(60), Some(0x0100));
    assert_eq!(PowercomStartup.encode(59), Some(0), "truncated to whole minutes");
    assert_eq!(PowercomStartup.encode(300 * 60), Some(0x2C01), "300 min = 0x012C, swapped");
    assert_eq!(PowercomStartup.decode(0x2C01), 300 * 60);
    assert_eq!(PowercomStartup.encode(-1), None);
    assert_eq!(PowercomShutdownReturn.encode(0), Some(0x4000 | 0x0100));
    assert_eq!(PowercomShutdownReturn.encode(125), Some(0x4000 | (5 << 8) | 2));
    assert_eq!(PowercomShutdownStayOff.encode(125), Some(0x8000 | (5 << 8) | 2));
    assert_eq!(PowercomShutdownReturn.decode((5 << 8) | 2), 125);
    assert_eq!(PowercomShutdownReturn.encode(256 * 60), None);
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
fn tripp_lite_smart1500lcdt_measurements_are_scaled_as_nut_does() {
    // 09ae:3016 (NUT: Smart1500LCDT): report 0x31 holds 1214 (`31 be 04`),
    // which the descriptor's exponent turns into 0.0001214 V (NUT's printed
    // path line shows it rounded to 0); NUT multiplies this model's
    // voltages by 100000.
    let (_, c) = captures().into_iter().find(|(n, _)| n.starts_with("Tripp_Lite__")).unwrap();
    assert_eq!(c.read_of(0x31), Some(&[0x31, 0xBE, 0x04][..]));
    let s = Session::open(&mut ReplayDevice::new(&c), Settings::default()).unwrap();
    assert_eq!(s.variables()["input.voltage"], "121.4");
    assert_eq!(mapping::tripp_lite_scale(0x3016, mapping::Measure::Hertz), 0.01);
    assert_eq!(mapping::tripp_lite_scale(0x2005, mapping::Measure::BatteryVolts), 0.1);
    assert_eq!(mapping::tripp_lite_scale(0x2005, mapping::Measure::Volts), 1.0);
}

#[test]
fn tripp_lite_tl_delay_before_startup_counts_minutes() {
    // On 09ae:3016 the descriptor says minutes itself (logical −1..32767 ↔
    // physical −60..1966020 s): the fix-up drops that range so the row's
    // minute coding applies once and −1 stays −1.
    let (_, c) = captures().into_iter().find(|(n, _)| n.starts_with("Tripp_Lite__")).unwrap();
    let raw = crate::descriptor::parse(&c.descriptor).unwrap();
    let tl =
        |d: &crate::descriptor::ReportDescriptor| d.fields.iter().find(|f| f.usage() == 0xFFFF0056).cloned().unwrap();
    assert_eq!((tl(&raw).physical_min, tl(&raw).physical_max), (-60, 1_966_020));
    let s = Session::open(&mut ReplayDevice::new(&c), Settings::default()).unwrap();
    assert_eq!((tl(&s.descriptor).physical_min, tl(&s.descriptor).physical_max), (0, 0));
    // It also has the standard (seconds) DelayBeforeStartup, which wins, as in NUT.
    let (_, f) = s.command("load.on.delay").unwrap();
    assert_eq!(f.usage(), 0x840056);

    // A Tripp Lite outlet with only the vendor's startup delay.
    let outlet = [0x840004, 0x840018, 0x840020];
    let text = synthetic_capture(
        0x09AE,
        0x2005,
        &[(&[&outlet[..], &[0x840057]].concat(), 0), (&[&outlet[..], &[0xFFFF0056]].concat(), 3)],
    );
    let c = crate::capture::parse(&text).unwrap();
    let mut dev = ReplayDevice::new(&c);
    let mut s = Session::open(&mut dev, Settings::default()).unwrap();
    assert_eq!(s.variables()["ups.timer.start"], "180", "3 minutes");
    assert_eq!(s.variables()["ups.delay.start"], "30");
    commands::instcmd(&mut s, &mut dev, "shutdown.return", None).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.OutletSystem.Outlet.TLDelayBeforeStartup"), 1, "30 s rounds up to 1 min");
    assert_eq!(written_logical(&s, &dev, "UPS.OutletSystem.Outlet.DelayBeforeShutdown"), 20, "seconds");
    commands::instcmd(&mut s, &mut dev, "shutdown.stayoff", None).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.OutletSystem.Outlet.TLDelayBeforeStartup"), -1);
    commands::instcmd(&mut s, &mut dev, "load.on.delay", Some("121")).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.OutletSystem.Outlet.TLDelayBeforeStartup"), 3);
}

/// A capture text for a synthetic device: one Feature report per field
/// (ids 1, 2, …), each a signed 16-bit value (logical −1..32767) at the end
/// of its usage path, with the given value read back.
fn synthetic_capture(vendor: u16, product: u16, fields: &[(&[u32], i16)]) -> alloc::string::String {
    use core::fmt::Write;
    fn usage(out: &mut alloc::vec::Vec<u8>, u: u32) {
        let page = (u >> 16) as u16;
        out.extend_from_slice(&[0x06, page as u8, (page >> 8) as u8, 0x0A, u as u8, (u >> 8) as u8]);
    }
    let mut d = alloc::vec::Vec::new();
    let mut gets = alloc::string::String::new();
    for (i, (path, value)) in fields.iter().enumerate() {
        let id = i as u8 + 1;
        let (collections, leaf) = path.split_at(path.len() - 1);
        for c in collections {
            usage(&mut d, *c);
            d.extend_from_slice(&[0xA1, 0x00]);
        }
        d.extend_from_slice(&[0x85, id]);
        usage(&mut d, leaf[0]);
        d.extend_from_slice(&[0x75, 16, 0x95, 1, 0x15, 0xFF, 0x26, 0xFF, 0x7F, 0xB1, 0x02]);
        d.extend(core::iter::repeat_n(0xC0, collections.len()));
        let v = *value as u16;
        let _ = writeln!(gets, "get {id:02x}: {id:02x} {:02x} {:02x}", v as u8, v >> 8);
    }
    let hex: alloc::vec::Vec<alloc::string::String> = d.iter().map(|b| alloc::format!("{b:02x}")).collect();
    alloc::format!("# vendorid: {vendor:04x}\n# productid: {product:04x}\ndescriptor: {}\n{gets}", hex.join(" "))
}

fn synthetic_session(vendor: u16, product: u16, fields: &[(&[u32], i16)]) -> (Session, ReplayDevice) {
    let c = crate::capture::parse(&synthetic_capture(vendor, product, fields)).unwrap();
    let mut dev = ReplayDevice::new(&c);
    let s = Session::open(&mut dev, Settings::default()).unwrap();
    (s, dev)
}

#[test]
fn belkin_rows_decode_tenths_packed_status_and_type() {
    // No Belkin capture exists: a synthetic descriptor with Belkin's page-0x86
    // usages (facts: NUT belkin-hid's usage notes — voltages and frequencies
    // in 0.1 units; power status bit 0 AC failure, bit 4 overload, bit 13
    // awaiting power; battery status bit 2 low battery, bit 7 replace;
    // UPS type high nibble firmware, low nibble type).
    const UPS: u32 = 0x840004;
    let (mut s, mut dev) = synthetic_session(
        0x050D,
        0x0980,
        &[
            (&[UPS, 0x860010, 0x860030], 136),
            (&[UPS, 0x86002A, 0x86001A, 0x860030], 2301),
            (&[UPS, 0x86002A, 0x86001A, 0x860032], 499),
            (&[UPS, 0x86002A, 0x86001C, 0x860035], 23),
            (&[UPS, 0x860010, 0x860039], 95),
            (&[UPS, 0x860028, 0x860021], 0x2011),
            (&[UPS, 0x860028, 0x860022], 0x84),
            (&[UPS, 0x860029, 0x86007C], 0x32),
            (&[UPS, 0x860029, 0x860074], 1),
            (&[UPS, 0x860027, 0x860057], -1),
            (&[UPS, 0x860027, 0x860056], -1),
            (&[UPS, 0x860027, 0x860058], 0),
        ],
    );
    assert_eq!(s.subdriver.name, "Belkin HID");
    let v = s.variables();
    assert_eq!(v["battery.voltage"], "13.6");
    assert_eq!(v["input.voltage"], "230.1");
    assert_eq!(v["input.frequency"], "49.9");
    assert_eq!(v["ups.load"], "23");
    assert_eq!(v["battery.charge"], "95");
    assert_eq!(v["ups.firmware"], "3");
    assert_eq!(v["ups.type"], "line-interactive");
    assert_eq!(v["input.sensitivity"], "reduced");
    assert_eq!(v["ups.test.result"], "No test initiated");
    assert_eq!(v["ups.status"], "OB LB OVER RB");
    let flags = s.status_flags();
    assert!(flags.has(Flag::AwaitingPower) && !flags.has(Flag::Depleted));
    assert_eq!(v["ups.delay.shutdown"], "20");
    // load.off is Belkin's "off in 1 s"; shutdown.return is the usual pair.
    commands::instcmd(&mut s, &mut dev, "load.off", None).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.BELKINControls.BELKINDelayBeforeShutdown"), 1);
    commands::instcmd(&mut s, &mut dev, "shutdown.return", None).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.BELKINControls.BELKINDelayBeforeStartup"), 30);
    assert_eq!(written_logical(&s, &dev, "UPS.BELKINControls.BELKINDelayBeforeShutdown"), 20);
    commands::instcmd(&mut s, &mut dev, "test.battery.start.deep", None).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.BELKINControls.BELKINTest"), 2);
    // AC back: bit 0 clear.
    dev.reports.insert(6, alloc::vec![6, 0, 0]);
    s.quick_update(&mut dev);
    assert!(s.variables()["ups.status"].starts_with("OL"), "{}", s.variables()["ups.status"]);
}

#[test]
fn delta_rows_publish_its_vendor_settings() {
    // No Delta capture exists (05dd:a011 is listed in INDEX.md without
    // bytes): synthetic, with Delta's page-0xFFFF usages (facts: NUT
    // delta_ups-hid — output source 1 = battery;
    // the restart delay and auto-restart are device settings).
    const UPS: u32 = 0x840004;
    const OUTLET: [u32; 3] = [UPS, 0x840018, 0x840020];
    let (mut s, mut dev) = synthetic_session(
        0x05DD,
        0x041B,
        &[
            (&[&OUTLET[..], &[0xFFFF0091]].concat(), 1),
            (&[&OUTLET[..], &[0xFFFF0081]].concat(), 120),
            (&[&OUTLET[..], &[0x840035]].concat(), 37),
            (&[UPS, 0x840010, 0x840012, 0x850066], 88),
            (&[&OUTLET[..], &[0x840057]].concat(), -1),
            (&[&OUTLET[..], &[0x840056]].concat(), -1),
        ],
    );
    assert_eq!(s.subdriver.name, "Delta UPS HID");
    let v = s.variables();
    assert_eq!(v["input.source"], "battery");
    assert_eq!(v["ups.load"], "37.0", "one decimal, as NUT prints it");
    assert_eq!(v["battery.charge"], "88.0");
    assert_eq!(v["ups.delay.start"], "120", "held by the device");
    assert!(!v.contains_key("ups.delay.shutdown"), "no shutdown delay row in NUT's Delta table");
    assert!(s.is_writable("ups.delay.start"));
    let names = s.command_names();
    assert!(names.contains(&"shutdown.return") && names.contains(&"shutdown.stop"), "{names:?}");
    commands::set_var(&mut s, &mut dev, "ups.delay.start", "180").unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.OutletSystem.Outlet.DeltaConfigStartPowerRestoreDelay"), 180);
    commands::instcmd(&mut s, &mut dev, "load.off.delay", None).unwrap();
    assert_eq!(written_logical(&s, &dev, "UPS.OutletSystem.Outlet.DelayBeforeShutdown"), 20);
}

#[test]
fn salicru_offers_no_commands_as_in_nut() {
    // No Salicru capture (its 27-byte 2e66:0102 descriptor in INDEX.md is
    // Megatec-over-HID, not this subdriver's). Facts: NUT salicru-hid
    // leaves every instant command out ("need testing") and reads the
    // transfer limits under PowerConverter.Output, battery voltage "%.2f".
    const UPS: u32 = 0x840004;
    let (s, _) = synthetic_session(
        0x2E66,
        0x0300,
        &[
            (&[UPS, 0x840024, 0x840030], 13),
            (&[UPS, 0x840024, 0x840057], -1),
            (&[UPS, 0x84001C, 0x840058], 1),
            (&[UPS, 0x840016, 0x84001C, 0x840054], 264),
        ],
    );
    assert_eq!(s.subdriver.name, "Salicru HID");
    assert!(s.command_names().is_empty(), "{:?}", s.command_names());
    let v = s.variables();
    assert_eq!(v["battery.voltage"], "13.00");
    assert_eq!(v["input.transfer.high"], "264");
    assert!(!s.is_writable("input.transfer.high"));
    assert_eq!(v["ups.test.result"], "Done and passed");
    assert!(!v.contains_key("ups.delay.shutdown"));
}

#[test]
fn cyberpower_battery_voltage_scale_on_0501_descriptors() {
    // No CyberPower capture has reads: the rule (NUT cps-hid: on product
    // 0x0501, a first battery reading above 1.4 × nominal means the
    // firmware reports 1.5 times the voltage; scale by 2/3 from then on)
    // on the real CP1300EPFCLCD (0501) and OR2200LCDRT2U (0601) descriptors
    // with written reads.
    let mut checked = 0;
    for (file, expected) in [("CyberPower__CP1300EPFCLCD", "16.0"), ("CyberPower__OR2200LCDRT2U", "24.0")] {
        let (_, c) = captures().into_iter().find(|(n, _)| n.starts_with(file)).unwrap();
        let mut dev = ReplayDevice::new(&c);
        let probe = Session::open(&mut dev, Settings::default()).unwrap();
        let field = |p: &str| mapping::find_field(&probe.descriptor.fields, &probe.paths, p).unwrap().clone();
        let (volts, nominal) = (field("UPS.PowerSummary.Voltage"), field("UPS.PowerSummary.ConfigVoltage"));
        for (f, value) in [(&volts, 24.0), (&nominal, 12.0)] {
            let len = probe.descriptor.report_len(f.report_id, f.kind).unwrap();
            let mut data = dev.reports.remove(&f.report_id).unwrap_or_else(|| alloc::vec![0; len]);
            data.resize(len, 0);
            data[0] = f.report_id;
            assert!(report::write(report::payload_mut(&mut data, true), f, value), "{file}");
            dev.reports.insert(f.report_id, data);
        }
        let s = Session::open(&mut dev, Settings::default()).unwrap();
        assert_eq!(s.variables()["battery.voltage.nominal"], "12", "{file}");
        assert_eq!(s.variables()["battery.voltage"], expected, "{file}");
        checked += 1;
    }
    assert_eq!(checked, 2);
    assert_eq!(mapping::cyberpower_battery_scale(0x0501, 16.0, Some(12.0)), Some(1.0), "ratio 1.33");
    assert_eq!(mapping::cyberpower_battery_scale(0x0501, 16.0, None), None, "undecided without nominal");
}

#[test]
fn id_only_vendors_are_selected_by_their_vendor_ids() {
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
    // Belkin, Delta and Salicru have no capture: their tables are checked
    // on synthetic descriptors above.
    assert!(captures().iter().all(|(_, c)| ![0x050D, 0x05DD, 0x2E66].contains(&c.vendor_id.unwrap())));
}
