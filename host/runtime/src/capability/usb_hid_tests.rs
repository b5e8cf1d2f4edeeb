//! Tests of the `usb-hid` capability: NUT's matching over fake buses, the
//! recorded backend over real captures, reopening and time budgets.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn identity(vendor_id: u16, product_id: u16, serial: Option<&str>) -> UsbIdentity {
    UsbIdentity {
        vendor_id,
        product_id,
        manufacturer: Some("American Power Conversion".into()),
        product: Some(" Back-UPS BK650M2-CH FW:294803G -292804G ".into()),
        serial: serial.map(Into::into),
    }
}

fn candidate(vendor_id: u16, product_id: u16, serial: Option<&str>, bus: u8, address: u8) -> UsbCandidate {
    UsbCandidate { identity: identity(vendor_id, product_id, serial), bus, address }
}

fn matcher(options: &[(&str, &str)]) -> DeviceMatcher {
    let mut m = UsbMatch::default();
    for (name, pattern) in options {
        assert!(m.set(name, pattern), "{name}");
    }
    DeviceMatcher::new(&m).unwrap()
}

#[test]
fn matching_is_whole_string_case_insensitive_regex() {
    let apc = candidate(0x051d, 0x0002, Some("9B2139A12345"), 1, 7);
    assert!(matcher(&[]).matches(&apc), "no options match anything");
    assert!(matcher(&[("vendorid", "051D")]).matches(&apc), "ids are hex, case-insensitive");
    assert!(matcher(&[("vendorid", "051d"), ("productid", "000[23]")]).matches(&apc));
    assert!(!matcher(&[("vendorid", "51d")]).matches(&apc), "the whole string must match");
    assert!(!matcher(&[("vendorid", "051")]).matches(&apc));
    assert!(!matcher(&[("productid", "0003")]).matches(&apc));
    assert!(matcher(&[("vendor", "american.*")]).matches(&apc));
    assert!(!matcher(&[("vendor", "American")]).matches(&apc), "a prefix is not a match");
    // Surrounding spaces of the device's string are trimmed before matching.
    assert!(matcher(&[("product", "back-ups bk650m2-ch.*")]).matches(&apc));
    assert!(matcher(&[("serial", "9b2139a12345")]).matches(&apc));
    assert!(matcher(&[("bus", "001"), ("device", "007")]).matches(&apc), "bus and device are 3-digit decimal");
    assert!(!matcher(&[("bus", "1")]).matches(&apc));
    assert!(matcher(&[("vendorid", "051d|0764")]).matches(&apc), "alternation spans the whole pattern");
    // A device without a serial string is matched as "".
    let anonymous = candidate(0x0764, 0x0501, None, 2, 3);
    assert!(matcher(&[("serial", "")]).matches(&anonymous));
    assert!(!matcher(&[("serial", ".+")]).matches(&anonymous));
}

#[test]
fn a_bad_regex_names_the_option() {
    let mut m = UsbMatch::default();
    m.set("serial", "AB(");
    let err = DeviceMatcher::new(&m).unwrap_err();
    assert_eq!((err.option, err.pattern.as_str()), ("serial", "AB("));
    assert!(err.to_string().starts_with("option serial: invalid regular expression 'AB('"), "{err}");
}

/// A fake bus: its devices, which of them are claimed, and what was opened.
#[derive(Default)]
struct FakeBus {
    devices: Mutex<Vec<UsbCandidate>>,
    claimed: Mutex<Vec<(u8, u8)>>,
    opened: Mutex<Vec<UsbCandidate>>,
}

impl UsbBus for FakeBus {
    fn candidates(&self, with_strings: bool) -> Result<Vec<UsbCandidate>, LinkError> {
        let mut devices = self.devices.lock().unwrap().clone();
        if !with_strings {
            for d in &mut devices {
                (d.identity.manufacturer, d.identity.product, d.identity.serial) = (None, None, None);
            }
        }
        Ok(devices)
    }

    fn open(&self, c: &UsbCandidate) -> Result<Box<dyn HidLink>, LinkError> {
        let mut claimed = self.claimed.lock().unwrap();
        if claimed.contains(&(c.bus, c.address)) {
            return Err(LinkError::Busy("Resource busy".into()));
        }
        claimed.push((c.bus, c.address));
        // Identity comes from the device itself, strings included.
        let real = self.devices.lock().unwrap().iter().find(|d| (d.bus, d.address) == (c.bus, c.address)).cloned();
        let real = real.ok_or_else(|| LinkError::Gone("gone".into()))?;
        self.opened.lock().unwrap().push(real.clone());
        Ok(Box::new(FakeLink { identity: real.identity, timeouts: Arc::default(), reports: BTreeMap::new() }))
    }
}

struct FakeLink {
    identity: UsbIdentity,
    /// Every timeout a transfer was given.
    timeouts: Arc<Mutex<Vec<Duration>>>,
    reports: BTreeMap<u8, Vec<u8>>,
}

impl HidLink for FakeLink {
    fn identity(&self) -> UsbIdentity {
        self.identity.clone()
    }
    fn report_descriptor(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.timeouts.lock().unwrap().push(timeout);
        Ok(vec![0x05, 0x84])
    }
    fn get_feature_report(&mut self, id: u8, _length: usize, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.timeouts.lock().unwrap().push(timeout);
        self.reports.get(&id).cloned().ok_or_else(|| LinkError::NoAnswer("Pipe error".into()))
    }
    fn set_feature_report(&mut self, id: u8, data: &[u8], timeout: Duration) -> Result<(), LinkError> {
        self.timeouts.lock().unwrap().push(timeout);
        self.reports.insert(id, data.to_vec());
        Ok(())
    }
    fn interrupt_read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, LinkError> {
        self.timeouts.lock().unwrap().push(timeout);
        Ok(None)
    }
    fn string_descriptor(&mut self, _index: u8, timeout: Duration) -> Result<Option<String>, LinkError> {
        self.timeouts.lock().unwrap().push(timeout);
        Ok(None)
    }
}

fn opener(bus: &Arc<FakeBus>, options: &[(&str, &str)]) -> MatchedOpener {
    let mut m = UsbMatch::default();
    for (name, pattern) in options {
        m.set(name, pattern);
    }
    MatchedOpener::new(&m, bus.clone()).unwrap()
}

#[test]
fn the_first_matching_device_is_opened_and_reopened_by_identity_not_bus() {
    let bus = Arc::new(FakeBus::default());
    *bus.devices.lock().unwrap() = vec![
        candidate(0x0764, 0x0501, Some("CPS1"), 1, 2),
        candidate(0x051d, 0x0002, Some("APC1"), 1, 3),
        candidate(0x051d, 0x0002, Some("APC2"), 1, 4),
    ];
    let apc = opener(&bus, &[("vendorid", "051d")]);
    let link = apc.open(None).unwrap();
    assert_eq!(link.identity().serial.as_deref(), Some("APC1"));
    drop(link);

    // Unplugged and replugged: new address, other bus; APC2 now enumerates first.
    bus.claimed.lock().unwrap().clear();
    *bus.devices.lock().unwrap() =
        vec![candidate(0x051d, 0x0002, Some("APC2"), 1, 4), candidate(0x051d, 0x0002, Some("APC1"), 3, 9)];
    let known = identity(0x051d, 0x0002, Some("APC1"));
    let link = apc.open(Some(&known)).unwrap();
    assert_eq!(link.identity().serial.as_deref(), Some("APC1"), "the same UPS, wherever it is now");

    // Not back yet: unavailable, naming the match.
    bus.devices.lock().unwrap().retain(|d| d.identity.serial.as_deref() != Some("APC1"));
    bus.claimed.lock().unwrap().clear();
    let Err(LinkError::Gone(message)) = apc.open(Some(&known)) else { panic!("expected gone") };
    assert_eq!(message, "no USB device matches auto (vendorid=051d)");
}

#[test]
fn two_ups_with_the_same_bogus_serial_are_two_devices() {
    let bus = Arc::new(FakeBus::default());
    *bus.devices.lock().unwrap() =
        vec![candidate(0x0665, 0x5161, Some("00000000"), 1, 2), candidate(0x0665, 0x5161, Some("00000000"), 1, 5)];
    let first = opener(&bus, &[("vendorid", "0665")]).open(None).unwrap();
    let second = opener(&bus, &[("vendorid", "0665")]).open(None).unwrap();
    drop((first, second));
    let opened: Vec<(u8, u8)> = bus.opened.lock().unwrap().iter().map(|c| (c.bus, c.address)).collect();
    assert_eq!(opened, [(1, 2), (1, 5)]);
    // A third one finds both claimed.
    let Err(LinkError::Gone(message)) = opener(&bus, &[("vendorid", "0665")]).open(None) else { panic!() };
    assert!(message.contains("busy"), "{message}");
}

#[test]
fn string_options_see_the_strings() {
    let bus = Arc::new(FakeBus::default());
    *bus.devices.lock().unwrap() =
        vec![candidate(0x051d, 0x0002, Some("AAA"), 1, 2), candidate(0x051d, 0x0002, Some("BBB"), 1, 3)];
    let link = opener(&bus, &[("serial", "bbb")]).open(None).unwrap();
    assert_eq!(link.identity().serial.as_deref(), Some("BBB"));
}

fn capture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/hid")
}

/// A copy of a capture in a temporary directory (tests remove and change it).
fn replay_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(capture_dir().join(name), &path).unwrap();
    (dir, path)
}

const BK650: &str = "APC__Back-UPS_BK650M2-CH.txt";
const SECOND: Duration = Duration::from_secs(1);

#[test]
fn replay_answers_from_the_capture_and_keeps_what_was_set() {
    let (_dir, path) = replay_copy(BK650);
    let mut link = ReplayOpener::new(&path).open(None).unwrap();
    assert_eq!((link.identity().vendor_id, link.identity().product_id), (0x051d, 0x0002));
    assert_eq!(link.report_descriptor(SECOND).unwrap().len(), 743);
    let report = link.get_feature_report(0x0c, 64, SECOND).unwrap();
    assert_eq!(report[0], 0x0c);
    link.set_feature_report(0x0c, &[0x0c, 0x2a, 0x00], SECOND).unwrap();
    assert_eq!(link.get_feature_report(0x0c, 64, SECOND).unwrap(), [0x0c, 0x2a, 0x00]);
    assert!(matches!(link.get_feature_report(0xee, 8, SECOND), Err(LinkError::NoAnswer(_))));
    assert_eq!(link.string_descriptor(1, SECOND).unwrap(), None);
}

#[test]
fn replay_logs_set_reports_only_when_asked() {
    let (dir, path) = replay_copy(BK650);
    let mut link = ReplayOpener::new(&path).open(None).unwrap();
    let log = ReplayOpener::set_log_path(&path);
    link.set_feature_report(0x0c, &[0x0c, 0x2a, 0x00], SECOND).unwrap();
    assert!(!log.exists(), "no log unless its file exists");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing written beside the capture");
    std::fs::write(&log, "").unwrap();
    link.set_feature_report(0x0c, &[0x0c, 0x2b, 0x00], SECOND).unwrap();
    link.set_feature_report(0x15, &[0x15, 0x14, 0x00], SECOND).unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "set 0c: 0c 2b 00\nset 15: 15 14 00\n");
}

#[test]
fn replay_side_file_changes_reports_and_queues_interrupts() {
    let (_dir, path) = replay_copy(BK650);
    let mut link = ReplayOpener::new(&path).open(None).unwrap();
    assert_eq!(link.interrupt_read(Duration::ZERO).unwrap(), None);
    let side = ReplayOpener::update_path(&path);
    std::fs::write(&side, "get 0c: 0c 11 00\ninterrupt 16: 16 0a 00 00\ninterrupt 0c: 0c 32\n").unwrap();
    assert_eq!(link.interrupt_read(SECOND).unwrap(), Some(vec![0x16, 0x0a, 0x00, 0x00]));
    assert!(!side.exists(), "the side file is consumed");
    assert_eq!(link.interrupt_read(SECOND).unwrap(), Some(vec![0x0c, 0x32]));
    assert_eq!(link.get_feature_report(0x0c, 64, SECOND).unwrap(), [0x0c, 0x11, 0x00]);
    std::fs::write(&side, "interrupt 16: 17 00\n").unwrap();
    let Err(LinkError::Invalid(message)) = link.interrupt_read(SECOND) else { panic!("expected invalid") };
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn removed_replay_is_unavailable_then_reopened() {
    let (_dir, path) = replay_copy(BK650);
    let mut session = HidSession::new("ups", Arc::new(ReplayOpener::new(&path)));
    session.call(|l| l.get_feature_report(0x0c, 64, SECOND)).unwrap();
    let saved = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let Err(UsbError::Unavailable(message)) = session.call(|l| l.get_feature_report(0x0c, 64, SECOND)) else {
        panic!("expected unavailable")
    };
    assert!(message.contains("was removed") && message.contains("replay:"), "{message}");
    assert!(session.link.is_none(), "closed");
    let Err(UsbError::Unavailable(message)) = session.call(|l| l.report_descriptor(SECOND)) else { panic!() };
    assert!(message.contains("cannot open"), "{message}");
    std::fs::write(&path, saved).unwrap();
    assert_eq!(session.call(|l| l.report_descriptor(SECOND)).unwrap().len(), 743);
    // A stall is not a disconnection: the device stays open.
    assert!(matches!(session.call(|l| l.get_feature_report(0xee, 8, SECOND)), Err(UsbError::NoAnswer(_))));
    assert!(session.link.is_some());
}

/// Counts opens; its links share one timeout log.
struct CountingOpener {
    opens: AtomicUsize,
    timeouts: Arc<Mutex<Vec<Duration>>>,
}

impl HidOpener for CountingOpener {
    fn open(&self, _known: Option<&UsbIdentity>) -> Result<Box<dyn HidLink>, LinkError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        let reports = BTreeMap::from([(1, vec![1, 2, 3])]);
        Ok(Box::new(FakeLink { identity: identity(1, 2, None), timeouts: self.timeouts.clone(), reports }))
    }
    fn describe(&self) -> String {
        "fake".into()
    }
}

fn host_call<T>(
    capability: &mut UsbHidCapability,
    budget: Option<Duration>,
    call: impl AsyncFnOnce(&mut UsbHidHost<'_>) -> T,
) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut deadline = CallDeadline::default();
    if let Some(budget) = budget {
        deadline.start(budget);
    }
    runtime.block_on(call(&mut UsbHidHost { device: capability, deadline: &deadline }))
}

#[test]
fn transfers_are_capped_to_the_call_budget_and_open_once() {
    let opener = Arc::new(CountingOpener { opens: AtomicUsize::new(0), timeouts: Arc::default() });
    let mut capability = UsbHidCapability::with_opener("ups", opener.clone());
    let budget = Duration::from_millis(300);
    let report = host_call(&mut capability, Some(budget), async |host| {
        host.identity().await.unwrap().unwrap();
        host.report_descriptor().await.unwrap().unwrap();
        host.interrupt_read(60_000).await.unwrap().unwrap();
        host.string_descriptor(3).await.unwrap().unwrap();
        host.set_feature_report(1, vec![1, 9]).await.unwrap().unwrap();
        host.get_feature_report(1, 3).await.unwrap().unwrap()
    });
    assert_eq!(report, [1, 9]);
    assert_eq!(opener.opens.load(Ordering::SeqCst), 1);
    let timeouts = opener.timeouts.lock().unwrap().clone();
    assert_eq!(timeouts.len(), 5);
    assert!(timeouts.iter().all(|t| *t <= budget), "{timeouts:?}");
    // Outside a call nothing may wait.
    host_call(&mut capability, None, async |host| host.interrupt_read(60_000).await.unwrap().unwrap());
    assert_eq!(opener.timeouts.lock().unwrap().last(), Some(&Duration::ZERO));
    let too_long = host_call(&mut capability, Some(budget), async |host| {
        host.set_feature_report(1, vec![0; MAX_TRANSFER_BYTES + 1]).await.unwrap()
    });
    assert!(matches!(too_long, Err(UsbError::Invalid(_))));
}

#[test]
fn an_ungranted_or_misconfigured_device_reaches_nothing() {
    let mut none = UsbHidCapability::new("ups", None);
    let result = host_call(&mut none, Some(SECOND), async |host| host.report_descriptor().await.unwrap());
    assert!(matches!(result, Err(UsbError::Invalid(m)) if m.contains("no USB HID device")));
    let mut options = UsbMatch::default();
    options.set("vendorid", "[");
    let grant = UsbHidGrant { name: "auto".into(), source: UsbHidSource::Match(options) };
    let mut bad = UsbHidCapability::new("ups", Some(&grant));
    let result = host_call(&mut bad, Some(SECOND), async |host| host.report_descriptor().await.unwrap());
    assert!(matches!(result, Err(UsbError::Invalid(m)) if m.contains("option vendorid")));
}

#[test]
fn interrupts_read_between_calls_wait_for_the_plugin() {
    let (_dir, path) = replay_copy(BK650);
    let mut capability = UsbHidCapability::with_opener("ups", Arc::new(ReplayOpener::new(&path)));
    let waiter = capability.interrupt_waiter().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    host_call(&mut capability, Some(SECOND), async |host| host.identity().await.unwrap().unwrap());
    std::fs::write(ReplayOpener::update_path(&path), "interrupt 16: 16 0a 00 00\n").unwrap();
    runtime.block_on(waiter.wait());
    let report = host_call(&mut capability, Some(SECOND), async |host| host.interrupt_read(0).await.unwrap());
    assert_eq!(report.ok(), Some(Some(vec![0x16, 0x0a, 0x00, 0x00])));
}
