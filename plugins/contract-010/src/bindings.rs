//! Glue between the 0.1.0 WIT world `plugin` and the host.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;

wit_bindgen::generate!({
    // The frozen 0.1.0 contract, not the workspace's current one.
    path: "wit",
    world: "plugin",
});

use exports::hazel::plugin::driver::Guest;
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting};
use hazel::plugin::{clock, log};

/// Successful updates so far.
static UPDATES: InstanceCell<u64> = InstanceCell::new(0);

/// The exported driver.
struct Contract010;

export!(Contract010);

impl Guest for Contract010 {
    fn describe() -> Description {
        Description {
            name: "contract-010".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "Hazel 0.1.0 contract test device".to_string(),
            drivers: vec!["hazel-test-contract-010".to_string()],
            capabilities: vec!["log".to_string(), "clock".to_string()],
            usb_ids: Vec::new(),
        }
    }

    fn init(_settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        log::write(log::Level::Info, "built against hazel:plugin@0.1.0");
        Ok(DeviceInfo {
            manufacturer: Some("Hazel".to_string()),
            model: Some("contract-010".to_string()),
            serial: None,
        })
    }

    fn update() -> Result<Vec<Change>, DeviceError> {
        let updates = UPDATES.with(|updates| {
            *updates += 1;
            *updates
        });
        Ok(vec![
            Change::SetStatus(vec!["OL".to_string()]),
            Change::SetValue(("test.counter".to_string(), updates.to_string())),
            Change::SetValue(("test.clock".to_string(), clock::monotonic_ms().to_string())),
        ])
    }

    fn instcmd(_name: String, _argument: Option<String>) -> Result<(), DeviceError> {
        Err(DeviceError::Unknown)
    }

    fn set_var(_name: String, _value: String) -> Result<(), DeviceError> {
        Err(DeviceError::Unknown)
    }

    fn kill_power(_mode: KillMode) -> Result<(), DeviceError> {
        Err(DeviceError::Invalid("contract-010 cannot cut power".to_string()))
    }
}
