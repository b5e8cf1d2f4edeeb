//! Glue between the WIT world `upstream-control-plugin` and [`crate::device`].

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;
use hazel_mirror as mirror;

use crate::device::{self, Clone, CloneError, LogLevel};

wit_bindgen::generate!({
    path: "../../wit",
    world: "upstream-control-plugin",
});

use exports::hazel::plugin::driver::Guest;
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting, VarMeta};
use hazel::plugin::{clock, log, upstream, upstream_control};

static DEVICE: InstanceCell<Option<Clone>> = InstanceCell::new(None);

fn read_upstream() -> mirror::UpstreamSnapshot {
    let snapshot = upstream::read();
    mirror::UpstreamSnapshot {
        generation: snapshot.generation,
        availability: match snapshot.availability {
            upstream::Availability::Starting => mirror::Availability::Starting,
            upstream::Availability::Fresh => mirror::Availability::Fresh,
            upstream::Availability::Stale(reason) => mirror::Availability::Stale(reason),
        },
        variables: snapshot.variables,
    }
}

fn to_change(change: mirror::Change) -> Change {
    match change {
        mirror::Change::SetValue(name, value) => Change::SetValue((name, value)),
        mirror::Change::Remove(name) => Change::Remove(name),
        mirror::Change::SetWritableString(name, len) => {
            Change::SetMeta(VarMeta { name, writable: true, string_max_len: Some(len) })
        }
        mirror::Change::AddCommand(name) => Change::AddCommand(name),
    }
}

fn to_device_error(error: CloneError) -> DeviceError {
    match error {
        CloneError::Invalid(message) => DeviceError::Invalid(message),
        CloneError::Unknown => DeviceError::Unknown,
    }
}

fn with_device<T>(what: &str, f: impl FnOnce(&mut Clone) -> Result<T, DeviceError>) -> Result<T, DeviceError> {
    DEVICE.with(|slot| match slot {
        Some(device) => f(device),
        None => Err(DeviceError::Failed(alloc::format!("{what} called before a successful init"))),
    })
}

struct Plugin;

export!(Plugin);

impl Guest for Plugin {
    fn describe() -> Description {
        Description {
            name: "clone".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "NUT clone: a virtual UPS switching an outlet of another device by thresholds".to_string(),
            drivers: vec!["clone".to_string()],
            capabilities: vec![
                "log".to_string(),
                "clock".to_string(),
                "upstream".to_string(),
                "upstream-control".to_string(),
            ],
            usb_ids: Vec::new(),
        }
    }

    fn init(settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        let settings = device::parse_settings(settings.iter().map(|s| (s.key.as_str(), s.value.as_deref())))
            .map_err(to_device_error)?;
        log::write(log::Level::Info, &alloc::format!("cloning device '{}'", upstream::device_name()));
        DEVICE.with(|slot| *slot = Some(Clone::new(settings)));
        Ok(DeviceInfo { manufacturer: None, model: None, serial: None })
    }

    fn update() -> Result<Vec<Change>, DeviceError> {
        let snapshot = read_upstream();
        let outcome = with_device("update", |device| Ok(device.update(&snapshot, clock::monotonic_ms())))?;
        for (level, message) in &outcome.logs {
            let level = match level {
                LogLevel::Info => log::Level::Info,
                LogLevel::Warn => log::Level::Warn,
            };
            log::write(level, message);
        }
        // As NUT's clone: sent without waiting on tracking; a failure is only logged.
        for command in &outcome.upstream_commands {
            match upstream_control::instcmd(command, None) {
                Ok(()) => log::write(log::Level::Info, &alloc::format!("sent {command} to the upstream")),
                Err(e) => log::write(log::Level::Warn, &alloc::format!("upstream refused {command}: {e:?}")),
            }
        }
        Ok(outcome.changes.into_iter().map(to_change).collect())
    }

    fn instcmd(name: String, _argument: Option<String>) -> Result<(), DeviceError> {
        with_device("instcmd", |device| device.instcmd(&name).map_err(to_device_error))
    }

    fn set_var(name: String, value: String) -> Result<(), DeviceError> {
        with_device("set-var", |device| device.set_var(&name, &value).map_err(to_device_error))
    }

    fn kill_power(_mode: KillMode) -> Result<(), DeviceError> {
        log::write(log::Level::Error, "shutdown not supported");
        Err(DeviceError::Failed("shutdown not supported".to_string()))
    }
}
