//! The late shutdown's one call: switch a UPS off from a fresh instance.
//!
//! Used by the initrd host (`hazel-initrd`) and by `hazel kill-power`, the
//! same path NUT takes with a driver's `-k`: open the device, run `init` with
//! the device's settings, then `kill-power`. No supervisor, no polling.

use crate::bindings::types::{KillMode, Setting};
use crate::device::DeviceFailure;
use crate::engine::Runtime;
use crate::grants::Grants;
use crate::instance::{CallError, DeviceInstance, StartError};
use crate::plugin::Plugin;

/// Why a UPS could not be switched off.
#[derive(Debug, thiserror::Error)]
pub enum KillPowerError {
    /// The instance could not be created (imports beyond the grants, instantiation).
    #[error("{0}")]
    Start(#[from] StartError),
    /// `init` refused the device's settings or could not reach it.
    #[error("device '{device}': init failed: {reason}")]
    Init {
        /// The device.
        device: String,
        /// The plugin's answer or fault.
        reason: String,
    },
    /// `kill-power` failed.
    #[error("device '{device}': kill-power failed: {reason}")]
    KillPower {
        /// The device.
        device: String,
        /// The plugin's answer or fault.
        reason: String,
    },
}

fn reason(outcome: Result<crate::bindings::types::DeviceError, CallError>) -> String {
    match outcome {
        Ok(crate::bindings::types::DeviceError::Unreachable(m)) => format!("unreachable: {m}"),
        Ok(error) => DeviceFailure::from(error).to_string(),
        Err(fault) => fault.to_string(),
    }
}

/// Instantiate `plugin` for `device` with only `grants`, `init` it with
/// `settings` (`port` and the driver options), then call `kill-power(mode)`.
pub async fn kill_power(
    runtime: &Runtime,
    plugin: &Plugin,
    device: &str,
    grants: &Grants,
    settings: &[(String, Option<String>)],
    mode: KillMode,
) -> Result<(), KillPowerError> {
    let mut instance = DeviceInstance::new(runtime, plugin, device, grants).await?;
    let settings = settings.iter().map(|(key, value)| Setting { key: key.clone(), value: value.clone() }).collect();
    match instance.init(settings).await {
        Ok(Ok(_info)) => {}
        Ok(Err(error)) => return Err(KillPowerError::Init { device: device.into(), reason: reason(Ok(error)) }),
        Err(fault) => return Err(KillPowerError::Init { device: device.into(), reason: reason(Err(fault)) }),
    }
    match instance.kill_power(mode).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(KillPowerError::KillPower { device: device.into(), reason: reason(Ok(error)) }),
        Err(fault) => Err(KillPowerError::KillPower { device: device.into(), reason: reason(Err(fault)) }),
    }
}
