//! Glue between the WIT world `usb-hid-plugin` and the driver: the host's
//! `usb-hid` capability as a [`HidDevice`], and the `driver` export.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;

use crate::descriptor::{self, ReportKind};
use crate::device::{DeviceError as HidError, HidDevice, UsbIdentity};
use crate::driver::{self, Clock, Driver, DriverError};

wit_bindgen::generate!({
    path: "../../wit",
    world: "usb-hid-ups-plugin",
});

use exports::hazel::plugin::driver::Guest;
use exports::hazel::plugin::power_race::{CyclesOnMains, Guest as PowerRaceGuest};
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting, VarMeta};
use hazel::plugin::{clock, log, usb_hid};

/// Feature report length asked for when the descriptor does not declare the id.
const FALLBACK_REPORT_LENGTH: u16 = 64;

/// The granted device, through the host.
struct HostDevice {
    identity: UsbIdentity,
    /// Feature report lengths (id byte included) from the last descriptor read.
    lengths: BTreeMap<u8, u16>,
}

fn to_hid_error(call: &str, error: usb_hid::UsbError) -> HidError {
    match error {
        usb_hid::UsbError::NoAnswer(m) => {
            log::write(log::Level::Debug, &alloc::format!("{call}: {m}"));
            HidError::NotAnswered
        }
        usb_hid::UsbError::Unavailable(m) => {
            log::write(log::Level::Warn, &alloc::format!("{call}: {m}"));
            HidError::Disconnected
        }
        usb_hid::UsbError::Invalid(m) => HidError::Other(m),
    }
}

impl HidDevice for HostDevice {
    fn identity(&self) -> UsbIdentity {
        self.identity.clone()
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, HidError> {
        let bytes = usb_hid::report_descriptor().map_err(|e| to_hid_error("report descriptor", e))?;
        // Ask the device for exactly the length its descriptor declares, as NUT does.
        self.lengths.clear();
        if let Ok(parsed) = descriptor::parse(&bytes) {
            for field in parsed.fields.iter().filter(|f| f.kind == ReportKind::Feature) {
                if let Some(len) = parsed.report_len(field.report_id, ReportKind::Feature) {
                    self.lengths.insert(field.report_id, u16::try_from(len).unwrap_or(u16::MAX));
                }
            }
        }
        Ok(bytes)
    }

    fn get_feature_report(&mut self, report_id: u8) -> Result<Vec<u8>, HidError> {
        let length = self.lengths.get(&report_id).copied().unwrap_or(FALLBACK_REPORT_LENGTH);
        usb_hid::get_feature_report(report_id, length).map_err(|e| to_hid_error("GET_REPORT", e))
    }

    fn set_feature_report(&mut self, report_id: u8, data: &[u8]) -> Result<(), HidError> {
        usb_hid::set_feature_report(report_id, data).map_err(|e| to_hid_error("SET_REPORT", e))
    }

    fn interrupt_read(&mut self, timeout_ms: u32) -> Result<Option<Vec<u8>>, HidError> {
        usb_hid::interrupt_read(timeout_ms).map_err(|e| to_hid_error("interrupt read", e))
    }

    fn string_descriptor(&mut self, index: u8) -> Result<Option<String>, HidError> {
        usb_hid::string_descriptor(index).map_err(|e| to_hid_error("string descriptor", e))
    }

    fn pause(&mut self, ms: u32) {
        usb_hid::pause(ms);
    }
}

struct HostClock;

impl Clock for HostClock {
    fn monotonic_ms(&mut self) -> u64 {
        clock::monotonic_ms()
    }
}

/// The driver and its device; `None` until `init` succeeds.
static STATE: InstanceCell<Option<(Driver, HostDevice)>> = InstanceCell::new(None);

fn to_device_error(error: DriverError) -> DeviceError {
    match error {
        DriverError::Unknown => DeviceError::Unknown,
        DriverError::Invalid(m) => DeviceError::Invalid(m),
        DriverError::BadValue(m) => DeviceError::BadValue(m),
        DriverError::Failed(m) => DeviceError::Failed(m),
        DriverError::Unreachable(m) => DeviceError::Unreachable(m),
    }
}

fn to_change(change: driver::Change) -> Change {
    match change {
        driver::Change::SetValue(name, value) => Change::SetValue((name, value)),
        driver::Change::Remove(name) => Change::Remove(name),
        driver::Change::SetWritable(name, string_max_len) => {
            Change::SetMeta(VarMeta { name, writable: true, string_max_len })
        }
        driver::Change::SetEnum(name, values) => Change::SetEnum((name, values)),
        driver::Change::AddCommand(name) => Change::AddCommand(name),
        driver::Change::SetStatus(tokens) => Change::SetStatus(tokens),
        driver::Change::SetAlarms(alarms) => Change::SetAlarms(alarms),
    }
}

fn not_initialized(call: &str) -> DeviceError {
    DeviceError::Failed(alloc::format!("{call} called before a successful init"))
}

/// The exported driver.
struct UsbHid;

export!(UsbHid);

impl Guest for UsbHid {
    fn describe() -> Description {
        Description {
            name: "usbhid".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "USB HID Power Device".to_string(),
            drivers: vec!["usbhid-ups".to_string()],
            capabilities: vec!["log".to_string(), "clock".to_string(), "usb-hid".to_string()],
            usb_ids: crate::mapping::supported_usb_ids()
                .map(|vendor| hazel::plugin::types::UsbId { vendor, product: None })
                .collect(),
        }
    }

    fn init(settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        let pairs = settings.iter().map(|s| (s.key.as_str(), s.value.as_deref()));
        let options = driver::parse_options(pairs).map_err(to_device_error)?;
        let id = usb_hid::identity().map_err(|e| match e {
            usb_hid::UsbError::Invalid(m) => DeviceError::Invalid(m),
            usb_hid::UsbError::NoAnswer(m) | usb_hid::UsbError::Unavailable(m) => DeviceError::Unreachable(m),
        })?;
        let mut device = HostDevice {
            identity: UsbIdentity {
                vendor_id: id.vendor_id,
                product_id: id.product_id,
                manufacturer: id.manufacturer,
                product: id.product,
                serial: id.serial,
            },
            lengths: BTreeMap::new(),
        };
        let mut driver = Driver::new(options);
        let identity = driver.init(&mut device, &mut HostClock).map_err(to_device_error)?;
        STATE.with(|slot| *slot = Some((driver, device)));
        Ok(DeviceInfo { manufacturer: identity.manufacturer, model: identity.product, serial: identity.serial })
    }

    fn update() -> Result<Vec<Change>, DeviceError> {
        STATE.with(|slot| match slot {
            Some((driver, device)) => driver
                .update(device, &mut HostClock)
                .map(|changes| changes.into_iter().map(to_change).collect())
                .map_err(to_device_error),
            None => Err(not_initialized("update")),
        })
    }

    fn instcmd(name: String, argument: Option<String>) -> Result<(), DeviceError> {
        STATE.with(|slot| match slot {
            Some((driver, device)) => driver.instcmd(device, &name, argument.as_deref()).map_err(to_device_error),
            None => Err(not_initialized("instcmd")),
        })
    }

    fn set_var(name: String, value: String) -> Result<(), DeviceError> {
        STATE.with(|slot| match slot {
            Some((driver, device)) => driver.set_var(device, &name, &value).map_err(to_device_error),
            None => Err(not_initialized("set-var")),
        })
    }

    fn kill_power(mode: KillMode) -> Result<(), DeviceError> {
        let stay_off = matches!(mode, KillMode::StayOff);
        STATE.with(|slot| match slot {
            Some((driver, device)) => {
                let used = driver.kill_power(device, stay_off).map_err(to_device_error)?;
                log::write(log::Level::Info, &alloc::format!("kill-power: {used} accepted"));
                Ok(())
            }
            None => Err(not_initialized("kill-power")),
        })
    }
}

impl PowerRaceGuest for UsbHid {
    /// `unknown` for every vendor. The kill chain's first choice,
    /// `shutdown.return`, writes DelayBeforeStartup and DelayBeforeShutdown;
    /// whether a unit acts on them while on line is firmware-dependent (NUT:
    /// "with shutdown.return many UPSes only act if on battery", and its
    /// usbhid-ups has no per-vendor table of which do), and no capture in
    /// shared/data/hid shows a unit cycling its load on mains. Unknown keeps
    /// the late host's power-race reboot, which is the safe side.
    fn returns_while_on_mains() -> CyclesOnMains {
        CyclesOnMains::Unknown
    }
}
