//! The `usb-hid` capability: the one USB HID device a device's match options
//! select (`port = auto` with NUT's `vendorid`, `productid`, `vendor`,
//! `product`, `serial`, `bus`, `device` regexes), or a recorded device
//! (`port = replay:PATH`).
//!
//! The host owns the device. It finds and opens it lazily on the first call,
//! claims its HID interface (detaching the kernel's driver), and when it
//! vanished (an `unavailable` error) closes it and looks for it again on the
//! next call, by its USB identity (vendor, product, serial; never bus
//! numbers, which change on replug). The plugin names nothing: every call
//! works on the granted device.
//!
//! Hardware sits behind small traits so the logic is tested without a UPS:
//! a [`HidOpener`] finds and opens the device, a [`HidLink`] is an open one.
//! [`MatchedOpener`] applies NUT's matching over a [`UsbBus`] ([`LibUsb`] is the
//! real one, on `rusb` with a vendored libusb); [`ReplayOpener`] replays a
//! capture file. Blocking I/O runs on tokio's blocking pool, and no transfer
//! waits longer than what is left of the plugin call's time budget.
//!
//! Between calls the host keeps reading the interrupt pipe ([`InterruptWaiter`])
//! so the device's supervisor can call `update` as soon as a report arrives,
//! instead of at the next poll.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use regex::bytes::{Regex, RegexBuilder};
use rusb::UsbContext as _;
use wasmtime::component::HasData;

use crate::bindings::hazel::plugin::usb_hid::{Host, UsbError, UsbIdentity as WitIdentity};
use crate::grants::{UsbHidGrant, UsbHidSource, UsbMatch};
use crate::limits::CallDeadline;

/// Longest wait of one control transfer (NUT's drivers use a few seconds too);
/// always capped to the call's remaining budget.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(4);

/// Largest report or descriptor the host reads (HID reports are far smaller).
pub const MAX_TRANSFER_BYTES: usize = 4096;

/// Interrupt reports kept between plugin calls; older ones are dropped first.
pub const MAX_PENDING_INTERRUPTS: usize = 32;

/// How long one background interrupt read waits before the session is
/// released for a plugin call that may be waiting for it.
const WAITER_SLICE: Duration = Duration::from_millis(200);

/// What the USB device descriptor and its strings say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsbIdentity {
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// iManufacturer.
    pub manufacturer: Option<String>,
    /// iProduct.
    pub product: Option<String>,
    /// iSerialNumber.
    pub serial: Option<String>,
}

impl UsbIdentity {
    /// Same device as far as USB can tell: vendor, product and serial.
    pub fn same_device(&self, other: &UsbIdentity) -> bool {
        (self.vendor_id, self.product_id, &self.serial) == (other.vendor_id, other.product_id, &other.serial)
    }
}

/// Why a device operation failed, as the hardware layer reports it (without
/// the device's name, which the capability adds).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The device is there but did not answer this request in time, or stalled it.
    #[error("{0}")]
    NoAnswer(String),
    /// The device is gone or cannot be opened now.
    #[error("{0}")]
    Gone(String),
    /// The device is already claimed (by another device of this host, or another program).
    #[error("{0}")]
    Busy(String),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// Finds and opens the granted device.
pub trait HidOpener: Send + Sync {
    /// Open the device; `known` is the identity of the device opened before,
    /// which a reopen must match.
    fn open(&self, known: Option<&UsbIdentity>) -> Result<Box<dyn HidLink>, LinkError>;
    /// What the device is, for messages (`replay:/x.txt`, `auto (vendorid=051d)`).
    fn describe(&self) -> String;
}

/// An open USB HID device. Calls may block, at most for the timeout they are given.
pub trait HidLink: Send {
    /// Its identity, read when it was opened.
    fn identity(&self) -> UsbIdentity;
    /// The report descriptor of the claimed interface.
    fn report_descriptor(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError>;
    /// GET_REPORT(Feature, `report_id`) for up to `length` bytes.
    fn get_feature_report(&mut self, report_id: u8, length: usize, timeout: Duration) -> Result<Vec<u8>, LinkError>;
    /// SET_REPORT(Feature, `report_id`) with `data`.
    fn set_feature_report(&mut self, report_id: u8, data: &[u8], timeout: Duration) -> Result<(), LinkError>;
    /// One interrupt IN report, or `None` when none arrived within `timeout`.
    fn interrupt_read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, LinkError>;
    /// String descriptor `index`, `None` when the device has none.
    fn string_descriptor(&mut self, index: u8, timeout: Duration) -> Result<Option<String>, LinkError>;
}

// ---------------------------------------------------------------------------
// NUT's matching

/// Why match options are unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("option {option}: invalid regular expression '{pattern}': {reason}")]
pub struct MatchError {
    /// The ups.conf option.
    pub option: &'static str,
    /// Its value.
    pub pattern: String,
    /// What the regex engine said.
    pub reason: String,
}

/// What a device on the bus shows before it is claimed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsbCandidate {
    /// Identity (strings are `None` when the device could not be asked).
    pub identity: UsbIdentity,
    /// Bus number.
    pub bus: u8,
    /// Device address on the bus.
    pub address: u8,
}

/// NUT's device matcher: every option set is a case-insensitive regex that
/// must match the whole (trimmed) string; ids are matched as 4-digit
/// lower-case hex, bus and device numbers as 3-digit decimal; a missing
/// string is matched as "". Unset options match anything.
#[derive(Clone, Debug, Default)]
pub struct DeviceMatcher {
    rules: Vec<(&'static str, Regex)>,
}

impl DeviceMatcher {
    /// Compile the options.
    pub fn new(options: &UsbMatch) -> Result<Self, MatchError> {
        let mut rules = Vec::new();
        for (option, pattern) in options.iter() {
            // Anchored on both ends: NUT requires the whole string to match.
            // Case-insensitive over ASCII, as POSIX regcomp(REG_ICASE) in the C locale NUT runs in;
            // without Unicode tables, which would double the initrd host's size.
            let regex =
                RegexBuilder::new(&format!("^(?:{pattern})$")).unicode(false).case_insensitive(true).build().map_err(
                    |e| MatchError {
                        option,
                        pattern: pattern.to_string(),
                        reason: e.to_string().lines().last().unwrap_or("").trim().to_string(),
                    },
                )?;
            rules.push((option, regex));
        }
        Ok(DeviceMatcher { rules })
    }

    /// Whether `candidate` satisfies every rule.
    pub fn matches(&self, candidate: &UsbCandidate) -> bool {
        self.rules.iter().all(|(option, regex)| {
            let id = &candidate.identity;
            let text = match *option {
                "vendorid" => format!("{:04x}", id.vendor_id),
                "productid" => format!("{:04x}", id.product_id),
                "vendor" => id.manufacturer.clone().unwrap_or_default(),
                "product" => id.product.clone().unwrap_or_default(),
                "serial" => id.serial.clone().unwrap_or_default(),
                "bus" => format!("{:03}", candidate.bus),
                "device" => format!("{:03}", candidate.address),
                _ => return false,
            };
            regex.is_match(text.trim_matches([' ', '\t', '\n', '\r']).as_bytes())
        })
    }

    /// Whether the rules only look at vendor and product ids (so strings
    /// need not be read to decide).
    pub fn needs_strings(&self) -> bool {
        self.rules.iter().any(|(o, _)| matches!(*o, "vendor" | "product" | "serial"))
    }
}

/// The devices on the machine's USB buses.
pub trait UsbBus: Send + Sync {
    /// Every device with a HID interface. Strings are read only when
    /// `with_strings` (that needs opening each device).
    fn candidates(&self, with_strings: bool) -> Result<Vec<UsbCandidate>, LinkError>;
    /// Open and claim the HID interface of the device at `bus`/`address`.
    fn open(&self, candidate: &UsbCandidate) -> Result<Box<dyn HidLink>, LinkError>;
}

/// Opens the first device on a [`UsbBus`] that matches, and on a reopen the
/// first that also has the identity seen before. A device already claimed
/// (say, by another UPS with the same bogus serial) is skipped, so two UPSes
/// stay two devices.
pub struct MatchedOpener {
    matcher: DeviceMatcher,
    bus: Arc<dyn UsbBus>,
    label: String,
}

impl MatchedOpener {
    /// Match with `options` on `bus`.
    pub fn new(options: &UsbMatch, bus: Arc<dyn UsbBus>) -> Result<Self, MatchError> {
        let label = options.describe();
        Ok(MatchedOpener { matcher: DeviceMatcher::new(options)?, bus, label })
    }
}

impl HidOpener for MatchedOpener {
    fn open(&self, known: Option<&UsbIdentity>) -> Result<Box<dyn HidLink>, LinkError> {
        // Strings are needed to match them, and to recognise a device by its serial.
        let candidates = self.bus.candidates(self.matcher.needs_strings() || known.is_some())?;
        let mut busy = None;
        for candidate in candidates.iter().filter(|c| self.matcher.matches(c)) {
            if known.is_some_and(|k| !k.same_device(&candidate.identity)) {
                continue;
            }
            match self.bus.open(candidate) {
                Ok(link) => return Ok(link),
                Err(LinkError::Busy(e)) => busy = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(LinkError::Gone(match busy {
            Some(e) => format!("every matching USB device is busy ({e})"),
            None => format!("no USB device matches {}", self.label),
        }))
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

// ---------------------------------------------------------------------------
// The recorded device

/// Replays a capture file (`shared/data/hid` format) as a device.
///
/// The file must stay present: once it is removed the device is gone
/// (`unavailable`), and it is read afresh when it is back. While it runs, the
/// device is changed through a side file `PATH.update` in the same format:
/// its `get RR: …` lines replace feature reports, its `interrupt RR: …` lines
/// queue interrupt reports. Reports the capture lacks but whose values NUT
/// printed (`path` lines) are rebuilt from those values, as the plugin's
/// capture tests do. The host consumes (deletes) the side file; write
/// it whole and rename it into place. SET_REPORT replaces the report the next
/// GET_REPORT returns, as a device would, and, when a file `PATH.sets`
/// exists, is appended to it as a line `set RR: RR xx ...` (id first, the
/// bytes as received): what the device was told, for whoever created that
/// file to observe (a test of a late shutdown run by another process). The
/// log is opt-in so that replaying a shared capture never writes beside it.
#[derive(Clone, Debug)]
pub struct ReplayOpener {
    path: PathBuf,
}

impl ReplayOpener {
    /// Replay the capture at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ReplayOpener { path: path.into() }
    }

    /// The SET_REPORT log of a replay of `capture` (kept only when it exists).
    pub fn set_log_path(capture: &Path) -> PathBuf {
        let mut name = capture.as_os_str().to_os_string();
        name.push(".sets");
        PathBuf::from(name)
    }

    /// The side file that changes a running replay of `capture`.
    pub fn update_path(capture: &Path) -> PathBuf {
        let mut name = capture.as_os_str().to_os_string();
        name.push(".update");
        PathBuf::from(name)
    }
}

impl HidOpener for ReplayOpener {
    fn open(&self, _known: Option<&UsbIdentity>) -> Result<Box<dyn HidLink>, LinkError> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| LinkError::Gone(format!("cannot read replay file {}: {e}", self.path.display())))?;
        let capture = usbhid::capture::parse(&text).map_err(|e| {
            LinkError::Gone(format!("replay file {} line {}: {}", self.path.display(), e.line, e.reason))
        })?;
        let reports = capture.replay_reports().0;
        Ok(Box::new(ReplayLink {
            update: Self::update_path(&self.path),
            set_log: Self::set_log_path(&self.path),
            path: self.path.clone(),
            identity: UsbIdentity {
                vendor_id: capture.vendor_id.unwrap_or(0),
                product_id: capture.product_id.unwrap_or(0),
                ..UsbIdentity::default()
            },
            descriptor: capture.descriptor,
            reports,
            interrupts: capture.interrupts.into(),
        }))
    }

    fn describe(&self) -> String {
        format!("replay:{}", self.path.display())
    }
}

/// An open replay.
struct ReplayLink {
    path: PathBuf,
    update: PathBuf,
    /// Where SET_REPORTs are logged, if that file exists.
    set_log: PathBuf,
    identity: UsbIdentity,
    descriptor: Vec<u8>,
    /// Current content of each feature report, id byte first.
    reports: BTreeMap<u8, Vec<u8>>,
    interrupts: VecDeque<Vec<u8>>,
}

/// How often a replayed interrupt read looks at the side file while it waits.
const REPLAY_POLL: Duration = Duration::from_millis(20);

impl ReplayLink {
    /// Fail if the capture is gone; apply a pending side file.
    fn refresh(&mut self) -> Result<(), LinkError> {
        if !self.path.exists() {
            return Err(LinkError::Gone(format!("replay file {} was removed", self.path.display())));
        }
        let text = match std::fs::read_to_string(&self.update) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LinkError::NoAnswer(format!("cannot read {}: {e}", self.update.display()))),
        };
        // Consumed once read: each side file is applied exactly once.
        let _ = std::fs::remove_file(&self.update);
        let update = usbhid::capture::parse_update(&text).map_err(|e| {
            LinkError::Invalid(format!("replay update {} line {}: {}", self.update.display(), e.line, e.reason))
        })?;
        self.reports.extend(update.reads);
        self.interrupts.extend(update.interrupts);
        Ok(())
    }
}

impl ReplayLink {
    /// Append a SET_REPORT to the set log when it exists (see [`ReplayOpener`]).
    fn log_set(&self, report_id: u8, data: &[u8]) -> Result<(), LinkError> {
        use std::io::Write;
        let mut file = match std::fs::OpenOptions::new().append(true).open(&self.set_log) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LinkError::NoAnswer(format!("cannot open {}: {e}", self.set_log.display()))),
        };
        let bytes: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
        // One write per line, so lines of concurrent writers never interleave.
        let line = format!("set {report_id:02x}: {}\n", bytes.join(" "));
        file.write_all(line.as_bytes())
            .map_err(|e| LinkError::NoAnswer(format!("cannot append to {}: {e}", self.set_log.display())))
    }
}

impl HidLink for ReplayLink {
    fn identity(&self) -> UsbIdentity {
        self.identity.clone()
    }

    fn report_descriptor(&mut self, _timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.refresh()?;
        Ok(self.descriptor.clone())
    }

    fn get_feature_report(&mut self, report_id: u8, length: usize, _timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.refresh()?;
        let report = self.reports.get(&report_id).ok_or_else(|| {
            LinkError::NoAnswer(format!("report 0x{report_id:02x} stalled (the capture has no read of it)"))
        })?;
        Ok(report[..report.len().min(length)].to_vec())
    }

    fn set_feature_report(&mut self, report_id: u8, data: &[u8], _timeout: Duration) -> Result<(), LinkError> {
        self.refresh()?;
        self.log_set(report_id, data)?;
        self.reports.insert(report_id, data.to_vec());
        Ok(())
    }

    fn interrupt_read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, LinkError> {
        let until = Instant::now() + timeout;
        loop {
            self.refresh()?;
            if let Some(report) = self.interrupts.pop_front() {
                return Ok(Some(report));
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(REPLAY_POLL));
        }
    }

    fn string_descriptor(&mut self, _index: u8, _timeout: Duration) -> Result<Option<String>, LinkError> {
        // Captures hold no USB strings.
        self.refresh()?;
        Ok(None)
    }
}

// ---------------------------------------------------------------------------
// The real buses, on libusb

/// The machine's USB devices through libusb (`rusb`, libusb vendored and
/// built without libudev). Each search makes its own libusb context, never the
/// global one, whose helpers panic where USB is absent.
#[derive(Clone, Copy, Debug, Default)]
pub struct LibUsb;

const HID_CLASS: u8 = 3;
const REQUEST_GET_DESCRIPTOR: u8 = 0x06;
const REQUEST_GET_REPORT: u8 = 0x01;
const REQUEST_SET_REPORT: u8 = 0x09;
const HID_REPORT_DESCRIPTOR: u16 = 0x22;
const FEATURE_REPORT: u16 = 0x03;

fn usb_failure(what: &str, e: rusb::Error) -> LinkError {
    let text = format!("{what}: {e}");
    match e {
        rusb::Error::Timeout | rusb::Error::Pipe | rusb::Error::Overflow | rusb::Error::Interrupted => {
            LinkError::NoAnswer(text)
        }
        rusb::Error::Busy => LinkError::Busy(text),
        rusb::Error::InvalidParam => LinkError::Invalid(text),
        _ => LinkError::Gone(text),
    }
}

impl LibUsb {
    fn context() -> Result<rusb::Context, LinkError> {
        rusb::Context::new().map_err(|e| LinkError::Gone(format!("cannot use USB (libusb: {e})")))
    }

    /// The HID interface of `device` and its interrupt IN endpoint.
    fn hid_interface(device: &rusb::Device<rusb::Context>) -> Option<(u8, Option<(u8, u16)>)> {
        let config = device.active_config_descriptor().or_else(|_| device.config_descriptor(0)).ok()?;
        config.interfaces().flat_map(|i| i.descriptors()).find(|d| d.class_code() == HID_CLASS).map(|d| {
            let endpoint = d
                .endpoint_descriptors()
                .find(|e| e.direction() == rusb::Direction::In && e.transfer_type() == rusb::TransferType::Interrupt)
                .map(|e| (e.address(), e.max_packet_size()));
            (d.interface_number(), endpoint)
        })
    }
}

fn read_strings(handle: &rusb::DeviceHandle<rusb::Context>, descriptor: &rusb::DeviceDescriptor) -> UsbIdentity {
    let timeout = Duration::from_secs(1);
    let language = handle.read_languages(timeout).ok().and_then(|l| l.first().copied());
    let read = |index: Option<u8>| {
        let (index, language) = (index?, language?);
        handle.read_string_descriptor(language, index, timeout).ok()
    };
    UsbIdentity {
        vendor_id: descriptor.vendor_id(),
        product_id: descriptor.product_id(),
        manufacturer: read(descriptor.manufacturer_string_index()),
        product: read(descriptor.product_string_index()),
        serial: read(descriptor.serial_number_string_index()),
    }
}

impl UsbBus for LibUsb {
    fn candidates(&self, with_strings: bool) -> Result<Vec<UsbCandidate>, LinkError> {
        let context = Self::context()?;
        let devices = context.devices().map_err(|e| usb_failure("cannot list USB devices", e))?;
        let mut found = Vec::new();
        for device in devices.iter() {
            let Ok(descriptor) = device.device_descriptor() else { continue };
            if Self::hid_interface(&device).is_none() {
                continue;
            }
            let identity = match with_strings.then(|| device.open()) {
                Some(Ok(handle)) => read_strings(&handle, &descriptor),
                _ => UsbIdentity {
                    vendor_id: descriptor.vendor_id(),
                    product_id: descriptor.product_id(),
                    ..UsbIdentity::default()
                },
            };
            found.push(UsbCandidate { identity, bus: device.bus_number(), address: device.address() });
        }
        Ok(found)
    }

    fn open(&self, candidate: &UsbCandidate) -> Result<Box<dyn HidLink>, LinkError> {
        let context = Self::context()?;
        let devices = context.devices().map_err(|e| usb_failure("cannot list USB devices", e))?;
        let device = devices
            .iter()
            .find(|d| (d.bus_number(), d.address()) == (candidate.bus, candidate.address))
            .ok_or_else(|| LinkError::Gone("the USB device went away while it was opened".into()))?;
        let descriptor = device.device_descriptor().map_err(|e| usb_failure("device descriptor", e))?;
        let (interface, endpoint) =
            Self::hid_interface(&device).ok_or_else(|| LinkError::Gone("the device has no HID interface".into()))?;
        let handle = device.open().map_err(|e| usb_failure("cannot open the USB device", e))?;
        // Detaching the kernel's usbhid driver is not supported everywhere; claiming then says why.
        let _ = handle.set_auto_detach_kernel_driver(true);
        handle.claim_interface(interface).map_err(|e| usb_failure("cannot claim the HID interface", e))?;
        let identity = read_strings(&handle, &descriptor);
        Ok(Box::new(LibUsbLink { handle, interface, endpoint, identity }))
    }
}

/// A device opened by [`LibUsb`], its HID interface claimed.
struct LibUsbLink {
    handle: rusb::DeviceHandle<rusb::Context>,
    interface: u8,
    /// Interrupt IN endpoint address and packet size.
    endpoint: Option<(u8, u16)>,
    identity: UsbIdentity,
}

impl HidLink for LibUsbLink {
    fn identity(&self) -> UsbIdentity {
        self.identity.clone()
    }

    fn report_descriptor(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let mut buf = vec![0; MAX_TRANSFER_BYTES];
        let request_type =
            rusb::request_type(rusb::Direction::In, rusb::RequestType::Standard, rusb::Recipient::Interface);
        let n = self
            .handle
            .read_control(
                request_type,
                REQUEST_GET_DESCRIPTOR,
                HID_REPORT_DESCRIPTOR << 8,
                u16::from(self.interface),
                &mut buf,
                timeout,
            )
            .map_err(|e| usb_failure("report descriptor", e))?;
        buf.truncate(n);
        Ok(buf)
    }

    fn get_feature_report(&mut self, report_id: u8, length: usize, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let mut buf = vec![0; length.clamp(1, MAX_TRANSFER_BYTES)];
        let request_type =
            rusb::request_type(rusb::Direction::In, rusb::RequestType::Class, rusb::Recipient::Interface);
        let n = self
            .handle
            .read_control(
                request_type,
                REQUEST_GET_REPORT,
                (FEATURE_REPORT << 8) | u16::from(report_id),
                u16::from(self.interface),
                &mut buf,
                timeout,
            )
            .map_err(|e| usb_failure(&format!("GET_REPORT 0x{report_id:02x}"), e))?;
        buf.truncate(n);
        Ok(buf)
    }

    fn set_feature_report(&mut self, report_id: u8, data: &[u8], timeout: Duration) -> Result<(), LinkError> {
        let request_type =
            rusb::request_type(rusb::Direction::Out, rusb::RequestType::Class, rusb::Recipient::Interface);
        self.handle
            .write_control(
                request_type,
                REQUEST_SET_REPORT,
                (FEATURE_REPORT << 8) | u16::from(report_id),
                u16::from(self.interface),
                data,
                timeout,
            )
            .map_err(|e| usb_failure(&format!("SET_REPORT 0x{report_id:02x}"), e))?;
        Ok(())
    }

    fn interrupt_read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, LinkError> {
        let Some((address, packet)) = self.endpoint else {
            // No interrupt pipe: nothing ever arrives, as NUT's pollonly.
            std::thread::sleep(timeout);
            return Ok(None);
        };
        let mut buf = vec![0; usize::from(packet).clamp(8, MAX_TRANSFER_BYTES)];
        match self.handle.read_interrupt(address, &mut buf, timeout.max(Duration::from_millis(1))) {
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(rusb::Error::Timeout) => Ok(None),
            Err(e) => Err(usb_failure("interrupt read", e)),
        }
    }

    fn string_descriptor(&mut self, index: u8, timeout: Duration) -> Result<Option<String>, LinkError> {
        let languages = self.handle.read_languages(timeout).map_err(|e| usb_failure("string languages", e))?;
        let Some(language) = languages.first() else { return Ok(None) };
        match self.handle.read_string_descriptor(*language, index, timeout) {
            Ok(text) => Ok(Some(text)),
            Err(rusb::Error::Pipe) => Ok(None),
            Err(e) => Err(usb_failure(&format!("string {index}"), e)),
        }
    }
}

impl Drop for LibUsbLink {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.interface);
    }
}

// ---------------------------------------------------------------------------
// The capability

/// The device of one plugin instance and what the host remembers about it
/// between calls. Synchronous: the capability runs it on the blocking pool.
struct HidSession {
    device: String,
    opener: Arc<dyn HidOpener>,
    link: Option<Box<dyn HidLink>>,
    /// The identity of the device first opened; reopens must find the same.
    known: Option<UsbIdentity>,
    /// Interrupt reports read while no plugin call was running.
    pending: VecDeque<Vec<u8>>,
    /// The device is known to be down (logged once, not on every retry).
    down: bool,
}

impl HidSession {
    fn new(device: &str, opener: Arc<dyn HidOpener>) -> Self {
        HidSession { device: device.into(), opener, link: None, known: None, pending: VecDeque::new(), down: false }
    }

    fn name(&self) -> String {
        format!("USB HID device {}", self.opener.describe())
    }

    /// The open link, opening the device first if needed.
    fn link(&mut self) -> Result<&mut Box<dyn HidLink>, UsbError> {
        if self.link.is_none() {
            match self.opener.open(self.known.as_ref()) {
                Ok(link) => {
                    if self.down {
                        tracing::info!(device = %self.device, "{} is back", self.name());
                        self.down = false;
                    }
                    self.known.get_or_insert_with(|| link.identity());
                    self.pending.clear();
                    self.link = Some(link);
                }
                Err(LinkError::Invalid(e)) => return Err(UsbError::Invalid(format!("{}: {e}", self.name()))),
                Err(e) => {
                    let message = format!("cannot open {}: {e}", self.name());
                    if !self.down {
                        tracing::warn!(device = %self.device, "{message}; retrying on the next call");
                        self.down = true;
                    }
                    return Err(UsbError::Unavailable(message));
                }
            }
        }
        Ok(self.link.as_mut().expect("opened above"))
    }

    /// Turn a failure of the open link into the plugin's error; a vanished
    /// device is closed, to be looked for again on the next call.
    fn failed(&mut self, error: LinkError) -> UsbError {
        let message = format!("{}: {error}", self.name());
        match error {
            LinkError::NoAnswer(_) => UsbError::NoAnswer(message),
            LinkError::Invalid(_) => UsbError::Invalid(message),
            LinkError::Gone(_) | LinkError::Busy(_) => {
                if !self.down {
                    tracing::warn!(device = %self.device, "{message}; closing it, reopening when it is back");
                    self.down = true;
                }
                self.link = None;
                self.pending.clear();
                UsbError::Unavailable(message)
            }
        }
    }

    fn call<T>(&mut self, op: impl FnOnce(&mut dyn HidLink) -> Result<T, LinkError>) -> Result<T, UsbError> {
        let result = op(self.link()?.as_mut());
        result.map_err(|e| self.failed(e))
    }

    fn interrupt_read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, UsbError> {
        self.link()?;
        if let Some(report) = self.pending.pop_front() {
            return Ok(Some(report));
        }
        self.call(|link| link.interrupt_read(timeout))
    }

    /// One background interrupt read while no call runs: `Some(true)` if a
    /// report is pending now, `None` if the device is not open.
    fn wait_interrupt(&mut self, slice: Duration) -> Option<bool> {
        if !self.pending.is_empty() {
            return Some(true);
        }
        let link = self.link.as_mut()?;
        match link.interrupt_read(slice) {
            Ok(Some(report)) => {
                if self.pending.len() == MAX_PENDING_INTERRUPTS {
                    self.pending.pop_front();
                }
                self.pending.push_back(report);
                Some(true)
            }
            Ok(None) | Err(LinkError::NoAnswer(_) | LinkError::Invalid(_)) => Some(false),
            Err(e) => {
                // Reported to the plugin by its next call, which reopens the device.
                let _ = self.failed(e);
                None
            }
        }
    }
}

/// The `usb-hid` capability of one device.
#[derive(Default)]
pub struct UsbHidCapability {
    session: Option<Arc<Mutex<HidSession>>>,
    /// Why the grant cannot be used (a bad match option), reported on every call.
    refused: Option<String>,
}

impl UsbHidCapability {
    /// The capability of device `device` for `grant` (if any), on the real USB buses.
    pub fn new(device: &str, grant: Option<&UsbHidGrant>) -> Self {
        let Some(grant) = grant else { return UsbHidCapability::default() };
        let opener: Result<Arc<dyn HidOpener>, MatchError> = match &grant.source {
            UsbHidSource::Replay(path) => Ok(Arc::new(ReplayOpener::new(path))),
            UsbHidSource::Match(options) => {
                MatchedOpener::new(options, Arc::new(LibUsb)).map(|o| Arc::new(o) as Arc<dyn HidOpener>)
            }
        };
        match opener {
            Ok(opener) => Self::with_opener(device, opener),
            Err(e) => UsbHidCapability { session: None, refused: Some(e.to_string()) },
        }
    }

    /// The capability of device `device` reaching its device through `opener`.
    pub fn with_opener(device: &str, opener: Arc<dyn HidOpener>) -> Self {
        UsbHidCapability { session: Some(Arc::new(Mutex::new(HidSession::new(device, opener)))), refused: None }
    }

    /// A handle the device's supervisor awaits to learn that an interrupt
    /// report arrived between calls; `None` when no device is granted.
    pub fn interrupt_waiter(&self) -> Option<InterruptWaiter> {
        self.session.clone().map(|session| InterruptWaiter { session })
    }

    /// Run `op` on the device, on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut HidSession) -> Result<T, UsbError> + Send + 'static,
    ) -> wasmtime::Result<Result<T, UsbError>> {
        let Some(session) = self.session.clone() else {
            let why = self.refused.clone().unwrap_or_else(|| "this device was granted no USB HID device".into());
            return Ok(Err(UsbError::Invalid(why)));
        };
        let task = tokio::task::spawn_blocking(move || op(&mut session.lock().unwrap_or_else(PoisonError::into_inner)));
        match task.await {
            Ok(result) => Ok(result),
            Err(e) => Err(wasmtime::Error::msg(format!("USB HID task failed: {e}"))),
        }
    }
}

/// Waits for the interrupt pipe of a device between plugin calls.
#[derive(Clone)]
pub struct InterruptWaiter {
    session: Arc<Mutex<HidSession>>,
}

impl InterruptWaiter {
    /// Resolve once an interrupt report is pending. Never resolves while the
    /// device is closed (the next `update` reopens it). Cancel-safe: a report
    /// read after the future was dropped stays pending for the plugin.
    pub async fn wait(&self) {
        loop {
            let session = self.session.clone();
            let read = tokio::task::spawn_blocking(move || {
                session.lock().unwrap_or_else(PoisonError::into_inner).wait_interrupt(WAITER_SLICE)
            });
            match read.await {
                Ok(Some(true)) => return,
                Ok(Some(false)) => {}
                Ok(None) | Err(_) => std::future::pending::<()>().await,
            }
        }
    }
}

/// The capability as the linker sees it: the device, plus the deadline of
/// the plugin call in progress, which bounds every wait.
pub struct UsbHidHost<'a> {
    /// The device.
    pub device: &'a mut UsbHidCapability,
    /// The deadline of the call in progress.
    pub deadline: &'a CallDeadline,
}

impl UsbHidHost<'_> {
    /// What is left of the call's budget (nothing when no call is running).
    fn budget(&self) -> Duration {
        self.deadline.remaining().unwrap_or(Duration::ZERO)
    }
}

/// Marker type projecting a store's data onto a [`UsbHidHost`] for the linker.
pub struct UsbHidAccess;

impl HasData for UsbHidAccess {
    type Data<'a> = UsbHidHost<'a>;
}

impl Host for UsbHidHost<'_> {
    async fn identity(&mut self) -> wasmtime::Result<Result<WitIdentity, UsbError>> {
        self.device
            .run(|s| {
                let id = s.link()?.identity();
                Ok(WitIdentity {
                    vendor_id: id.vendor_id,
                    product_id: id.product_id,
                    manufacturer: id.manufacturer,
                    product: id.product,
                    serial: id.serial,
                })
            })
            .await
    }

    async fn report_descriptor(&mut self) -> wasmtime::Result<Result<Vec<u8>, UsbError>> {
        let timeout = TRANSFER_TIMEOUT.min(self.budget());
        self.device.run(move |s| s.call(|l| l.report_descriptor(timeout))).await
    }

    async fn get_feature_report(&mut self, report_id: u8, length: u16) -> wasmtime::Result<Result<Vec<u8>, UsbError>> {
        let timeout = TRANSFER_TIMEOUT.min(self.budget());
        let length = usize::from(length).min(MAX_TRANSFER_BYTES);
        self.device.run(move |s| s.call(|l| l.get_feature_report(report_id, length, timeout))).await
    }

    async fn set_feature_report(&mut self, report_id: u8, data: Vec<u8>) -> wasmtime::Result<Result<(), UsbError>> {
        if data.len() > MAX_TRANSFER_BYTES {
            return Ok(Err(UsbError::Invalid(format!(
                "a report of {} bytes is longer than {MAX_TRANSFER_BYTES}",
                data.len()
            ))));
        }
        let timeout = TRANSFER_TIMEOUT.min(self.budget());
        self.device.run(move |s| s.call(|l| l.set_feature_report(report_id, &data, timeout))).await
    }

    async fn interrupt_read(&mut self, timeout_ms: u32) -> wasmtime::Result<Result<Option<Vec<u8>>, UsbError>> {
        let timeout = Duration::from_millis(u64::from(timeout_ms)).min(self.budget());
        self.device.run(move |s| s.interrupt_read(timeout)).await
    }

    async fn string_descriptor(&mut self, index: u8) -> wasmtime::Result<Result<Option<String>, UsbError>> {
        let timeout = TRANSFER_TIMEOUT.min(self.budget());
        self.device.run(move |s| s.call(|l| l.string_descriptor(index, timeout))).await
    }

    async fn pause(&mut self, ms: u32) -> wasmtime::Result<()> {
        tokio::time::sleep(Duration::from_millis(u64::from(ms)).min(self.budget())).await;
        Ok(())
    }
}

#[cfg(test)]
#[path = "usb_hid_tests.rs"]
mod tests;
