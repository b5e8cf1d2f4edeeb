//! The NUT server's way to reach devices: `SET VAR` and `INSTCMD` become
//! requests to the device supervisors.

use std::collections::HashMap;
use std::sync::RwLock;

use hazel_netserver::{Completion, ControlError, DeviceControl, HandoffError};
use hazel_runtime::{DeviceClient, DeviceFailure, RequestError};

/// Routes writes from NUT clients to the devices' supervisor tasks. The
/// live device set updates it as devices start, restart and stop.
pub struct DeviceRouter {
    devices: RwLock<HashMap<String, DeviceClient>>,
}

impl DeviceRouter {
    /// A router over `devices`, keyed by device name (lower-cased, as names
    /// compare case-insensitively).
    pub fn new(devices: impl IntoIterator<Item = (String, DeviceClient)>) -> Self {
        DeviceRouter {
            devices: RwLock::new(
                devices.into_iter().map(|(name, client)| (name.to_ascii_lowercase(), client)).collect(),
            ),
        }
    }

    /// Route `device`'s requests to `client` (a device started or restarted).
    pub fn insert(&self, device: &str, client: DeviceClient) {
        self.devices.write().unwrap_or_else(|e| e.into_inner()).insert(device.to_ascii_lowercase(), client);
    }

    /// Stop routing to `device` (it was stopped or removed).
    pub fn remove(&self, device: &str) {
        self.devices.write().unwrap_or_else(|e| e.into_inner()).remove(&device.to_ascii_lowercase());
    }

    fn client(&self, device: &str) -> Result<DeviceClient, HandoffError> {
        self.devices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&device.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| HandoffError::new(format!("no running device '{device}'")))
    }
}

/// NUT's result codes for what a plugin answered.
fn control_error(e: RequestError) -> ControlError {
    match e {
        RequestError::Device(DeviceFailure::Unknown) => ControlError::Unknown,
        RequestError::Device(DeviceFailure::Invalid(_)) => ControlError::InvalidArgument,
        RequestError::Device(DeviceFailure::BadValue(_)) => ControlError::ConversionFailed,
        RequestError::Device(DeviceFailure::Failed(_)) | RequestError::Unavailable(_) | RequestError::Fault(_) => {
            ControlError::Failed
        }
    }
}

fn completion(
    device: &str,
    what: String,
    pending: Result<hazel_runtime::device::PendingRequest, RequestError>,
) -> Result<Completion, HandoffError> {
    let pending = pending.map_err(|e| HandoffError::new(format!("{device}: {e}")))?;
    let device = device.to_string();
    Ok(Box::pin(async move {
        DeviceClient::outcome(pending).await.map_err(|e| {
            tracing::info!(device = %device, "{what}: {e}");
            control_error(e)
        })
    }))
}

impl DeviceControl for DeviceRouter {
    fn instcmd(&self, device: &str, command: &str, argument: Option<&str>) -> Result<Completion, HandoffError> {
        let pending = self.client(device)?.queue_instcmd(command, argument);
        completion(device, format!("instcmd {command}"), pending)
    }

    fn set_var(&self, device: &str, variable: &str, value: &str) -> Result<Completion, HandoffError> {
        let pending = self.client(device)?.queue_set_var(variable, value);
        completion(device, format!("set {variable}"), pending)
    }

    fn is_connected(&self, device: &str) -> bool {
        self.client(device).is_ok_and(|client| client.is_connected())
    }
}
