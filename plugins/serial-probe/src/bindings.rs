//! Glue between the WIT world `serial-plugin` and the probe in `lib.rs`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;

use crate::{QUERY, reply_text};

wit_bindgen::generate!({
    path: "../../wit",
    world: "serial-plugin",
});

use exports::hazel::plugin::driver::Guest;
use hazel::plugin::serial::{self, LineSettings, Parity, SerialError};
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting};

/// What one instance remembers between calls.
struct Instance {
    /// Reply timeout in milliseconds.
    timeout_ms: u32,
    /// Successful updates so far (published as `test.counter`).
    updates: u64,
}

static INSTANCE: InstanceCell<Instance> = InstanceCell::new(Instance { timeout_ms: 1000, updates: 0 });

/// The exported driver.
struct SerialProbe;

export!(SerialProbe);

/// A serial failure as the device error the host understands: a port that
/// is missing or failing makes the device unreachable.
fn unreachable(error: SerialError) -> DeviceError {
    match error {
        SerialError::Unavailable(message) | SerialError::Io(message) => DeviceError::Unreachable(message),
        SerialError::InvalidSettings(message) => DeviceError::Invalid(message),
    }
}

impl Guest for SerialProbe {
    fn describe() -> Description {
        Description {
            name: "serial-probe".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "Hazel serial capability test device".to_string(),
            drivers: vec!["hazel-test-serial-probe".to_string()],
            capabilities: vec!["log".to_string(), "clock".to_string(), "serial".to_string()],
            usb_ids: Vec::new(),
        }
    }

    fn init(settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        let mut timeout_ms = 1000;
        for setting in &settings {
            if setting.key == "timeout_ms" {
                let value = setting.value.as_deref().unwrap_or("");
                timeout_ms = value
                    .parse()
                    .map_err(|_| DeviceError::Invalid(format!("timeout_ms must be milliseconds, not '{value}'")))?;
            }
        }
        serial::configure(LineSettings { baud_rate: 2400, data_bits: 8, parity: Parity::None, stop_bits: 1 })
            .map_err(unreachable)?;
        INSTANCE.with(|instance| instance.timeout_ms = timeout_ms);
        Ok(DeviceInfo {
            manufacturer: Some("Hazel".to_string()),
            model: Some("serial-probe".to_string()),
            serial: None,
        })
    }

    fn update() -> Result<Vec<Change>, DeviceError> {
        let timeout_ms = INSTANCE.with(|instance| instance.timeout_ms);
        // Opening the port may be what fails: these calls all report it the same way.
        serial::set_modem_lines(true, false).map_err(unreachable)?;
        serial::discard_input().map_err(unreachable)?;
        serial::write(QUERY).map_err(unreachable)?;
        let reply = serial::read(256, Some(b'\r'), timeout_ms).map_err(unreachable)?;
        if reply.last() != Some(&b'\r') {
            return Err(DeviceError::Unreachable(format!("no complete reply to Q1 within {timeout_ms} ms")));
        }
        let updates = INSTANCE.with(|instance| {
            instance.updates += 1;
            instance.updates
        });
        Ok(vec![
            Change::SetStatus(vec!["OL".to_string()]),
            Change::SetValue(("test.reply".to_string(), reply_text(&reply))),
            Change::SetValue(("test.counter".to_string(), updates.to_string())),
        ])
    }

    fn instcmd(_name: String, _argument: Option<String>) -> Result<(), DeviceError> {
        Err(DeviceError::Unknown)
    }

    fn set_var(_name: String, _value: String) -> Result<(), DeviceError> {
        Err(DeviceError::Unknown)
    }

    fn kill_power(_mode: KillMode) -> Result<(), DeviceError> {
        Err(DeviceError::Invalid("serial-probe cannot cut power".to_string()))
    }
}
