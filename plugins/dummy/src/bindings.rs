//! Glue between the WIT world `file-plugin` and the device logic: converts
//! types at the boundary and implements [`Host`] with the imports.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;

use crate::api::{self, Host, LogLevel};
use crate::device::DummyDevice;
use crate::settings;

wit_bindgen::generate!({
    path: "../../wit",
    world: "file-plugin",
});

use exports::hazel::plugin::driver::Guest;
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting, VarMeta};
use hazel::plugin::{clock, file, log};

/// The device this instance drives; `None` until `init` succeeds.
static DEVICE: InstanceCell<Option<DummyDevice>> = InstanceCell::new(None);

/// The imports, as the device logic sees them.
struct Imports;

impl Host for Imports {
    fn monotonic_ms(&mut self) -> u64 {
        clock::monotonic_ms()
    }

    fn read(&mut self, path: &str) -> Result<Vec<u8>, api::FileError> {
        file::read(path).map_err(from_file_error)
    }

    fn stat(&mut self, path: &str) -> Result<api::FileStat, api::FileError> {
        file::stat(path)
            .map(|stat| api::FileStat { size: stat.size, modified_ms: stat.modified_ms })
            .map_err(from_file_error)
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

fn from_file_error(error: file::FileError) -> api::FileError {
    match error {
        file::FileError::Denied => api::FileError::Denied,
        file::FileError::NotFound => api::FileError::NotFound,
        file::FileError::TooLarge(limit) => api::FileError::TooLarge(limit),
        file::FileError::Io(message) => api::FileError::Io(message),
    }
}

fn to_device_error(error: api::DeviceError) -> DeviceError {
    match error {
        api::DeviceError::Unknown => DeviceError::Unknown,
        api::DeviceError::Invalid(message) => DeviceError::Invalid(message),
        api::DeviceError::Failed(message) => DeviceError::Failed(message),
        api::DeviceError::Unreachable(message) => DeviceError::Unreachable(message),
    }
}

fn to_change(change: api::Change) -> Change {
    match change {
        api::Change::SetValue(name, value) => Change::SetValue((name, value)),
        api::Change::Remove(name) => Change::Remove(name),
        api::Change::SetMeta(meta) => {
            Change::SetMeta(VarMeta { name: meta.name, writable: meta.writable, string_max_len: meta.string_max_len })
        }
        api::Change::AddCommand(name) => Change::AddCommand(name),
        api::Change::RemoveCommand(name) => Change::RemoveCommand(name),
        api::Change::SetAlarms(alarms) => Change::SetAlarms(alarms),
    }
}

/// The exported driver.
struct Dummy;

export!(Dummy);

impl Guest for Dummy {
    fn describe() -> Description {
        Description {
            name: "dummy".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "NUT dummy-ups .dev/.seq replay".to_string(),
            drivers: vec!["dummy-ups".to_string()],
            capabilities: vec!["log".to_string(), "clock".to_string(), "file".to_string()],
            usb_ids: Vec::new(),
        }
    }

    fn init(settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        let pairs = settings.iter().map(|s| (s.key.as_str(), s.value.as_deref()));
        let settings = settings::parse(pairs).map_err(to_device_error)?;
        let device = DummyDevice::open(settings, &mut Imports).map_err(to_device_error)?;
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
            None => Err(DeviceError::Failed("update called before a successful init".to_string())),
        })
    }

    fn instcmd(name: String, _argument: Option<String>) -> Result<(), DeviceError> {
        let outlet_result = DEVICE.with(|slot| match slot {
            Some(device) => device.instcmd(&name, clock::monotonic_ms()),
            None => Err(api::DeviceError::Unknown),
        });
        if outlet_result.is_ok() {
            log::write(log::Level::Info, &alloc::format!("instcmd: {name} (switchable outlet)"));
            return Ok(());
        }
        // dummy-ups advertises `load.off` (and, with `cmd_comments`, the
        // file's `#CMD:` commands) but carries none out: it answers
        // "unknown" (STAT_INSTCMD_UNKNOWN) to every one; upsd still says OK,
        // and ERR UNKNOWN to GET TRACKING (DUMMY-UPS.md §h).
        log::write(log::Level::Info, &alloc::format!("instcmd: unknown command [{name}]"));
        Err(DeviceError::Unknown)
    }

    fn set_var(name: String, value: String) -> Result<(), DeviceError> {
        DEVICE.with(|slot| match slot {
            Some(device) => device.set_var(&name, &value).map_err(to_device_error),
            None => Err(DeviceError::Failed("set-var called before a successful init".to_string())),
        })
    }

    fn kill_power(_mode: KillMode) -> Result<(), DeviceError> {
        Err(DeviceError::Invalid("dummy-ups does not support shutdown".to_string()))
    }
}
