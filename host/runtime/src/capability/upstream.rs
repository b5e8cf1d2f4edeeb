//! The `upstream` and `upstream-control` capabilities: a virtual device's view
//! of the one device its configuration names (NUT's clone drivers read their
//! upstream driver's socket; here the host hands over its state store entry).
//!
//! Reading is a snapshot of the upstream's published state. Commands go to the
//! upstream's supervisor like a NUT client's would, and only when the grant
//! says `control`: a read-only device is refused by the import check before it
//! starts, and again here should it ever reach these functions.

use std::time::Duration;

use hazel_state::Availability;
use wasmtime::component::HasData;

use crate::bindings::hazel::plugin::upstream::{self as wit, Host as ReadHost};
use crate::bindings::hazel::plugin::upstream_control::Host as ControlHost;
use crate::bindings::types::DeviceError;
use crate::device::{DeviceClient, DeviceFailure, PendingRequest, RequestError};
use crate::grants::UpstreamGrant;
use crate::limits::CallDeadline;

/// The upstream one virtual device may read (none for every other device).
pub struct UpstreamCapability {
    grant: Option<UpstreamGrant>,
}

impl UpstreamCapability {
    /// Grant `grant` (possibly none).
    pub fn new(grant: Option<UpstreamGrant>) -> Self {
        UpstreamCapability { grant }
    }

    fn granted(&self) -> wasmtime::Result<&UpstreamGrant> {
        // Unreachable through the import check; a trap if the check were ever bypassed.
        self.grant.as_ref().ok_or_else(|| wasmtime::Error::msg("upstream capability used without a grant"))
    }
}

fn availability(a: &Availability) -> wit::Availability {
    match a {
        Availability::Starting => wit::Availability::Starting,
        Availability::Fresh => wit::Availability::Fresh,
        Availability::Stale(reason) => wit::Availability::Stale(reason.clone()),
    }
}

impl ReadHost for UpstreamCapability {
    fn device_name(&mut self) -> wasmtime::Result<String> {
        Ok(self.granted()?.device.clone())
    }

    fn read(&mut self) -> wasmtime::Result<wit::Snapshot> {
        let snapshot = self.granted()?.state.snapshot();
        Ok(wit::Snapshot {
            generation: snapshot.generation,
            availability: availability(&snapshot.availability),
            variables: snapshot.vars().map(|(name, var)| (name.to_string(), var.value.clone())).collect(),
        })
    }
}

/// The `upstream-control` capability as the linker sees it: the grant plus
/// the deadline of the plugin call in progress, which bounds the wait for
/// the upstream's answer.
pub struct UpstreamControlHost<'a> {
    /// The upstream grant.
    pub upstream: &'a UpstreamCapability,
    /// The deadline of the call in progress.
    pub deadline: &'a CallDeadline,
}

/// Marker type projecting a store's data onto an [`UpstreamControlHost`] for the linker.
pub struct UpstreamControlAccess;

impl HasData for UpstreamControlAccess {
    type Data<'a> = UpstreamControlHost<'a>;
}

impl UpstreamControlHost<'_> {
    /// The upstream's supervisor, if commands on it are granted.
    fn client(&self) -> Result<(&str, &DeviceClient), DeviceError> {
        match &self.upstream.grant {
            Some(grant) if grant.control => Ok((&grant.device, &grant.client)),
            Some(grant) => Err(DeviceError::Invalid(format!("device '{}' is granted read-only access", grant.device))),
            None => Err(DeviceError::Invalid("no upstream device is granted".into())),
        }
    }

    /// Wait for a queued request, no longer than what is left of the call's budget.
    async fn outcome(&self, device: &str, pending: Result<PendingRequest, RequestError>) -> Result<(), DeviceError> {
        let pending = pending.map_err(|e| to_device_error(device, e))?;
        let budget = self.deadline.remaining().unwrap_or(Duration::ZERO);
        match tokio::time::timeout(budget, DeviceClient::outcome(pending)).await {
            Ok(result) => result.map_err(|e| to_device_error(device, e)),
            Err(_) => Err(DeviceError::Failed(format!("upstream '{device}' did not answer in time"))),
        }
    }
}

/// What the upstream answered, as the virtual device's plugin sees it.
fn to_device_error(device: &str, e: RequestError) -> DeviceError {
    match e {
        RequestError::Device(DeviceFailure::Unknown) => DeviceError::Unknown,
        RequestError::Device(DeviceFailure::Invalid(m)) => DeviceError::Invalid(m),
        RequestError::Device(DeviceFailure::BadValue(m)) => DeviceError::BadValue(m),
        RequestError::Device(DeviceFailure::Failed(m)) => DeviceError::Failed(m),
        RequestError::Unavailable(m) => DeviceError::Unreachable(format!("upstream '{device}': {m}")),
        RequestError::Fault(f) => DeviceError::Failed(format!("upstream '{device}': {f}")),
    }
}

impl ControlHost for UpstreamControlHost<'_> {
    async fn instcmd(&mut self, name: String, argument: Option<String>) -> wasmtime::Result<Result<(), DeviceError>> {
        let (device, client) = match self.client() {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        let pending = client.queue_instcmd(&name, argument.as_deref());
        Ok(self.outcome(device, pending).await)
    }

    async fn set_var(&mut self, name: String, value: String) -> wasmtime::Result<Result<(), DeviceError>> {
        let (device, client) = match self.client() {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        let pending = client.queue_set_var(&name, &value);
        Ok(self.outcome(device, pending).await)
    }
}
