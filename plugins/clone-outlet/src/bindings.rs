//! Glue between the WIT world `upstream-reader-plugin` and [`crate::outlet`].

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;
use hazel_mirror as mirror;

use crate::outlet::{self, CloneOutlet, OutletError};

wit_bindgen::generate!({
    path: "../../wit",
    world: "upstream-reader-plugin",
});

use exports::hazel::plugin::driver::Guest;
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting, VarMeta};
use hazel::plugin::{log, upstream};

static DEVICE: InstanceCell<Option<CloneOutlet>> = InstanceCell::new(None);

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

fn to_device_error(error: OutletError) -> DeviceError {
    match error {
        OutletError::Invalid(message) => DeviceError::Invalid(message),
        OutletError::Unknown => DeviceError::Unknown,
    }
}

struct Plugin;

export!(Plugin);

impl Guest for Plugin {
    fn describe() -> Description {
        Description {
            name: "clone_outlet".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "NUT clone-outlet: one outlet of another device as a read-only UPS".to_string(),
            drivers: vec!["clone-outlet".to_string()],
            capabilities: vec!["log".to_string(), "clock".to_string(), "upstream".to_string()],
            usb_ids: Vec::new(),
        }
    }

    fn init(settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        let settings = outlet::parse_settings(settings.iter().map(|s| (s.key.as_str(), s.value.as_deref())))
            .map_err(to_device_error)?;
        log::write(
            log::Level::Info,
            &alloc::format!("following {} of device '{}'", settings.prefix, upstream::device_name()),
        );
        DEVICE.with(|slot| *slot = Some(CloneOutlet::new(&settings)));
        Ok(DeviceInfo { manufacturer: None, model: None, serial: None })
    }

    fn update() -> Result<Vec<Change>, DeviceError> {
        let snapshot = read_upstream();
        DEVICE.with(|slot| match slot {
            Some(device) => Ok(device.update(&snapshot).into_iter().map(to_change).collect()),
            None => Err(DeviceError::Failed("update called before a successful init".to_string())),
        })
    }

    fn instcmd(name: String, _argument: Option<String>) -> Result<(), DeviceError> {
        // Read-only by design; the host grants no way to act on the upstream anyway.
        log::write(log::Level::Info, &alloc::format!("instcmd {name} refused: clone-outlet is read-only"));
        Err(DeviceError::Unknown)
    }

    fn set_var(name: String, _value: String) -> Result<(), DeviceError> {
        log::write(log::Level::Info, &alloc::format!("set {name} refused: clone-outlet is read-only"));
        Err(DeviceError::Unknown)
    }

    fn kill_power(_mode: KillMode) -> Result<(), DeviceError> {
        Err(DeviceError::Invalid("shutdown not supported".to_string()))
    }
}
