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
//! - Tripp Lite, Liebert, Powercom, PowerWalker/Phoenixtec, Belkin, Delta,
//!   Salicru, Legrand tables: not written yet (common rows; see plugins/README.md).

extern crate std;

use alloc::string::ToString;

use crate::capture_tests::{ReplayDevice, captures};
use crate::commands;
use crate::descriptor::ReportKind;
use crate::mapping::{self, CYBERPOWER_DELAYS};
use crate::report;
use crate::session::{Session, Settings};

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
