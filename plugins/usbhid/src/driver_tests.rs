//! The driver over a replayed Back-UPS: options, what each update publishes,
//! interrupts, `pollfreq`, and a device that disconnects and returns.

extern crate std;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::capture;
use crate::capture_tests::ReplayDevice;
use crate::descriptor::ReportKind;
use crate::report;

/// The Back-UPS replay, with a plug that can be pulled.
struct Pluggable {
    device: ReplayDevice,
    present: bool,
}

impl Pluggable {
    fn bk650() -> Self {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/hid/APC__Back-UPS_BK650M2-CH.txt");
        let c = capture::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut device = ReplayDevice::new(&c);
        device.reports = c.replay_reports().0;
        Pluggable { device, present: true }
    }

    fn check(&self) -> Result<(), HidError> {
        if self.present { Ok(()) } else { Err(HidError::Disconnected) }
    }
}

impl HidDevice for Pluggable {
    fn identity(&self) -> UsbIdentity {
        self.device.identity()
    }
    fn report_descriptor(&mut self) -> Result<Vec<u8>, HidError> {
        self.check()?;
        self.device.report_descriptor()
    }
    fn get_feature_report(&mut self, id: u8) -> Result<Vec<u8>, HidError> {
        self.check()?;
        self.device.get_feature_report(id)
    }
    fn set_feature_report(&mut self, id: u8, data: &[u8]) -> Result<(), HidError> {
        self.check()?;
        self.device.set_feature_report(id, data)
    }
    fn interrupt_read(&mut self, timeout_ms: u32) -> Result<Option<Vec<u8>>, HidError> {
        self.check()?;
        self.device.interrupt_read(timeout_ms)
    }
    fn string_descriptor(&mut self, index: u8) -> Result<Option<String>, HidError> {
        self.check()?;
        self.device.string_descriptor(index)
    }
    fn pause(&mut self, ms: u32) {
        self.device.pause(ms);
    }
}

struct FakeClock(u64);

impl Clock for FakeClock {
    fn monotonic_ms(&mut self) -> u64 {
        self.0
    }
}

fn options(pairs: &[(&str, Option<&str>)]) -> Result<Options, DriverError> {
    parse_options(pairs.iter().copied())
}

fn value<'a>(changes: &'a [Change], name: &str) -> Option<&'a str> {
    changes.iter().rev().find_map(|c| match c {
        Change::SetValue(n, v) if n == name => Some(v.as_str()),
        _ => None,
    })
}

fn status(changes: &[Change]) -> Option<Vec<String>> {
    changes.iter().rev().find_map(|c| match c {
        Change::SetStatus(t) => Some(t.clone()),
        _ => None,
    })
}

#[test]
fn options_are_checked_like_nut() {
    let o = options(&[
        ("port", Some("auto")),
        ("vendorid", Some("051d")),
        ("offdelay", Some("60")),
        ("pollfreq", Some("5")),
    ])
    .unwrap();
    assert_eq!((o.session.offdelay, o.session.ondelay, o.pollfreq), (Some(60), None, Some(5)));
    assert_eq!(
        options(&[("onlinedischarge_onbattery", None)]).unwrap().session.online_discharge,
        OnlineDischarge::OnBattery
    );
    assert_eq!(options(&[("subdriver", Some("apc"))]).unwrap().session.subdriver.as_deref(), Some("apc"));
    for (bad, says) in [
        (("cablepower", Some("normal")), "no option 'cablepower'"),
        (("offdelay", Some("soon")), "offdelay: 'soon'"),
        (("pollfreq", Some("0")), "pollfreq must be"),
        (("subdriver", Some("acme")), "no subdriver named 'acme'"),
    ] {
        let Err(DriverError::Invalid(message)) = options(&[bad]) else { panic!("{bad:?} accepted") };
        assert!(message.contains(says), "{message}");
    }
}

#[test]
fn the_first_update_publishes_everything_then_only_changes() {
    let mut dev = Pluggable::bk650();
    let mut clock = FakeClock(1_000);
    let mut driver = Driver::new(options(&[]).unwrap());
    let id = driver.init(&mut dev, &mut clock).unwrap();
    assert_eq!(id.vendor_id, 0x051d);
    let first = driver.update(&mut dev, &mut clock).unwrap();
    assert_eq!(value(&first, "battery.charge"), Some("100"));
    assert_eq!(value(&first, "ups.vendorid"), Some("051d"));
    assert_eq!(status(&first), Some(vec!["OL".into(), "DISCHRG".into()]));
    assert!(first.contains(&Change::AddCommand("load.off.delay".into())));
    assert!(first.contains(&Change::SetWritable("battery.charge.low".into(), None)));
    assert!(!first.iter().any(|c| matches!(c, Change::SetValue(n, _) if n == "ups.status")));
    // Nothing moved: nothing to publish.
    assert_eq!(driver.update(&mut dev, &mut clock).unwrap(), []);
}

/// Every report holding an ACPresent field, with those fields cleared: the
/// Input reports the interrupt pipe brings, or the Feature reports a
/// GET_REPORT reads afterwards.
fn mains_lost(driver: &Driver, dev: &Pluggable, kind: ReportKind) -> BTreeMap<u8, Vec<u8>> {
    let s = driver.session().unwrap();
    let mut out = BTreeMap::new();
    for (field, _) in
        s.descriptor.fields.iter().zip(&s.paths).filter(|(f, p)| f.kind == kind && p.ends_with(".ACPresent"))
    {
        let len = s.descriptor.report_len(field.report_id, kind).unwrap();
        let data = out.entry(field.report_id).or_insert_with(|| {
            let mut d = dev.device.reports.get(&field.report_id).cloned().unwrap_or_else(|| vec![field.report_id]);
            d.resize(len, 0);
            d
        });
        report::insert_logical(report::payload_mut(data, true), field, 0);
    }
    assert!(!out.is_empty());
    out
}

#[test]
fn interrupts_are_applied_by_the_next_update() {
    let mut dev = Pluggable::bk650();
    let mut clock = FakeClock(0);
    let mut driver = Driver::new(options(&[]).unwrap());
    driver.init(&mut dev, &mut clock).unwrap();
    driver.update(&mut dev, &mut clock).unwrap();
    // The device's state changes (its Feature report) and it says so on the interrupt pipe.
    let input = mains_lost(&driver, &dev, ReportKind::Input);
    let feature = mains_lost(&driver, &dev, ReportKind::Feature);
    dev.device.reports.extend(feature);
    dev.device.interrupts.extend(input.into_values());
    let changes = driver.update(&mut dev, &mut clock).unwrap();
    assert!(dev.device.interrupts.is_empty(), "the pipe is drained by the update");
    assert_eq!(status(&changes), Some(vec!["OB".into(), "DISCHRG".into()]));
}

#[test]
fn full_walks_follow_pollfreq() {
    let mut dev = Pluggable::bk650();
    let mut clock = FakeClock(0);
    let mut driver = Driver::new(options(&[("pollfreq", Some("10"))]).unwrap());
    driver.init(&mut dev, &mut clock).unwrap();
    driver.update(&mut dev, &mut clock).unwrap();
    // battery.charge is not a quick-poll row: a quick walk does not see it change.
    dev.device.reports.insert(0x0c, vec![0x0c, 0x2a]);
    clock.0 = 9_999;
    assert_eq!(value(&driver.update(&mut dev, &mut clock).unwrap(), "battery.charge"), None);
    clock.0 = 10_000;
    assert_eq!(value(&driver.update(&mut dev, &mut clock).unwrap(), "battery.charge"), Some("42"));
}

#[test]
fn a_disconnected_device_is_unreachable_then_reopened() {
    let mut dev = Pluggable::bk650();
    let mut clock = FakeClock(0);
    let mut driver = Driver::new(options(&[("pollfreq", Some("1"))]).unwrap());
    driver.init(&mut dev, &mut clock).unwrap();
    driver.update(&mut dev, &mut clock).unwrap();
    dev.present = false;
    clock.0 = 5_000;
    assert!(matches!(driver.update(&mut dev, &mut clock), Err(DriverError::Unreachable(_))));
    assert!(matches!(driver.update(&mut dev, &mut clock), Err(DriverError::Unreachable(_))));
    assert!(matches!(driver.instcmd(&mut dev, "load.off", None), Err(DriverError::Unreachable(_))));
    dev.present = true;
    let back = driver.update(&mut dev, &mut clock).unwrap();
    // Reopened: commands are announced again for the new session; values already published stay quiet.
    assert!(back.contains(&Change::AddCommand("load.off.delay".into())), "{back:?}");
    assert_eq!(value(&back, "battery.charge"), None);
    // A stalled report is not a disconnection.
    dev.device.reports.remove(&0x0c);
    clock.0 = 10_000;
    // NUT keeps the last value of a report that stops answering.
    let stalled = driver.update(&mut dev, &mut clock).unwrap();
    assert_eq!(value(&stalled, "battery.charge"), None, "{stalled:?}");
}

#[test]
fn commands_and_kill_power_reach_the_device() {
    let mut dev = Pluggable::bk650();
    let mut clock = FakeClock(0);
    let mut driver = Driver::new(options(&[]).unwrap());
    driver.init(&mut dev, &mut clock).unwrap();
    driver.instcmd(&mut dev, "load.off.delay", Some("120")).unwrap();
    assert_eq!(driver.instcmd(&mut dev, "no.such", None), Err(DriverError::Unknown));
    assert!(matches!(driver.set_var(&mut dev, "input.sensitivity", "extreme"), Err(DriverError::BadValue(_))));
    // This Back-UPS lacks DelayBeforeStartup: the chain falls through to shutdown.reboot.
    assert_eq!(driver.kill_power(&mut dev, false), Ok("shutdown.reboot"));
    assert!(matches!(driver.kill_power(&mut dev, true), Err(DriverError::Unknown)));
}
