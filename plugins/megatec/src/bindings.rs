//! Glue between the WIT world `serial-plugin` and the device logic: converts
//! types at the boundary and implements [`Host`] with the imports.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;

use crate::api::{self, Host, LineError, LogLevel};
use crate::device::{self as megatec, MegatecDevice};
use crate::settings;

wit_bindgen::generate!({
    path: "../../wit",
    world: "serial-ups-plugin",
});

use exports::hazel::plugin::driver::Guest;
use exports::hazel::plugin::power_race::{CyclesOnMains, Guest as PowerRaceGuest};
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting, ValueRange, VarMeta};
use hazel::plugin::{clock, log, serial};

/// Longest reply read at once; the longest Megatec reply is 47 bytes.
const MAX_REPLY_BYTES: u32 = 256;

/// The device this instance drives; `None` until `init` succeeds.
static DEVICE: InstanceCell<Option<MegatecDevice>> = InstanceCell::new(None);

/// The imports, as the device logic sees them.
struct Imports;

fn from_serial_error(error: serial::SerialError) -> LineError {
    match error {
        serial::SerialError::Unavailable(message) => LineError::Unavailable(message),
        serial::SerialError::InvalidSettings(message) | serial::SerialError::Io(message) => LineError::Io(message),
    }
}

impl Host for Imports {
    fn transact(&mut self, command: &str, timeout_ms: u32) -> Result<Vec<u8>, LineError> {
        // Stale bytes from an earlier, late reply must not be read as this one's.
        serial::discard_input().map_err(from_serial_error)?;
        let mut bytes = command.as_bytes().to_vec();
        bytes.push(b'\r');
        serial::write(&bytes).map_err(from_serial_error)?;
        serial::read(MAX_REPLY_BYTES, Some(b'\r'), timeout_ms).map_err(from_serial_error)
    }

    fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> Result<(), LineError> {
        serial::set_modem_lines(dtr, rts).map_err(from_serial_error)
    }

    fn monotonic_ms(&mut self) -> u64 {
        clock::monotonic_ms()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Info => log::Level::Info,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Error => log::Level::Error,
        };
        log::write(level, message);
    }
}

fn to_device_error(error: api::DeviceError) -> DeviceError {
    match error {
        api::DeviceError::Unknown => DeviceError::Unknown,
        api::DeviceError::Invalid(message) => DeviceError::Invalid(message),
        api::DeviceError::BadValue(message) => DeviceError::BadValue(message),
        api::DeviceError::Failed(message) => DeviceError::Failed(message),
        api::DeviceError::Unreachable(message) => DeviceError::Unreachable(message),
    }
}

fn to_change(change: api::Change) -> Change {
    match change {
        api::Change::SetValue(name, value) => Change::SetValue((name, value)),
        api::Change::SetWritableNumber(name) => Change::SetMeta(VarMeta { name, writable: true, string_max_len: None }),
        api::Change::SetRanges(name, ranges) => {
            Change::SetRanges((name, ranges.into_iter().map(|r| ValueRange { min: r.min, max: r.max }).collect()))
        }
        api::Change::AddCommand(name) => Change::AddCommand(name),
        api::Change::SetStatus(tokens) => Change::SetStatus(tokens),
        api::Change::SetAlarms(alarms) => Change::SetAlarms(alarms),
    }
}

fn not_initialized(call: &str) -> DeviceError {
    DeviceError::Failed(alloc::format!("{call} called before a successful init"))
}

/// The exported driver.
struct Megatec;

export!(Megatec);

impl Guest for Megatec {
    fn describe() -> Description {
        Description {
            name: "megatec".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "Megatec Q1 (serial)".to_string(),
            drivers: vec!["nutdrv_qx".to_string(), "blazer_ser".to_string()],
            capabilities: vec!["log".to_string(), "clock".to_string(), "serial".to_string()],
            usb_ids: Vec::new(),
        }
    }

    fn init(settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        let pairs = settings.iter().map(|s| (s.key.as_str(), s.value.as_deref()));
        let settings = settings::parse(pairs).map_err(to_device_error)?;
        let line = serial::LineSettings { baud_rate: 2400, data_bits: 8, parity: serial::Parity::None, stop_bits: 1 };
        if let Err(error) = serial::configure(line) {
            // The host applies the settings on the next open; say why it failed now.
            log::write(log::Level::Warn, &alloc::format!("serial configure: {}", from_serial_error(error)));
        }
        let device = MegatecDevice::open(settings, &mut Imports).map_err(to_device_error)?;
        let (manufacturer, model, serial) = device.identity();
        DEVICE.with(|slot| *slot = Some(device));
        Ok(DeviceInfo { manufacturer, model, serial })
    }

    fn update() -> Result<Vec<Change>, DeviceError> {
        DEVICE.with(|slot| match slot {
            Some(device) => device
                .update(&mut Imports)
                .map(|changes| changes.into_iter().map(to_change).collect())
                .map_err(to_device_error),
            None => Err(not_initialized("update")),
        })
    }

    fn instcmd(name: String, argument: Option<String>) -> Result<(), DeviceError> {
        DEVICE.with(|slot| match slot {
            Some(device) => device.instcmd(&name, argument.as_deref(), &mut Imports).map_err(to_device_error),
            None => Err(not_initialized("instcmd")),
        })
    }

    fn set_var(name: String, value: String) -> Result<(), DeviceError> {
        DEVICE.with(|slot| match slot {
            Some(device) => device.set_var(&name, &value).map_err(to_device_error),
            None => Err(not_initialized("set-var")),
        })
    }

    fn kill_power(mode: KillMode) -> Result<(), DeviceError> {
        let mode = match mode {
            KillMode::ReturnOnMains => megatec::KillMode::ReturnOnMains,
            KillMode::StayOff => megatec::KillMode::StayOff,
        };
        DEVICE.with(|slot| match slot {
            Some(device) => device.kill_power(mode, &mut Imports).map_err(to_device_error),
            None => Err(not_initialized("kill-power")),
        })
    }
}

impl PowerRaceGuest for Megatec {
    fn returns_while_on_mains() -> CyclesOnMains {
        DEVICE.with(|slot| match slot.as_ref().map(MegatecDevice::cycles_on_mains) {
            Some(api::CyclesOnMains::Yes) => CyclesOnMains::Yes,
            Some(api::CyclesOnMains::No) => CyclesOnMains::No,
            // Before a successful init there is no device to answer for.
            Some(api::CyclesOnMains::Unknown) | None => CyclesOnMains::Unknown,
        })
    }
}
