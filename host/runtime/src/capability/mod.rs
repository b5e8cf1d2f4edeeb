//! Host capabilities: one module per WIT interface a plugin may import.
//!
//! Each capability owns its state and reads nothing but the grant it was
//! given, in the manner of Spin's factors: the log knows its device's name,
//! the file capability knows the paths that device may read, the serial
//! capability the one port it may use, the upstream capability the one device
//! a virtual device mirrors, the usb-hid capability the one matched device.
//! [`DeviceContext`] bundles them as the data of one plugin instance's store.

pub mod clock;
pub mod file;
pub mod log;
pub mod serial;
pub mod upstream;
pub mod usb_hid;

use std::sync::Arc;

use crate::grants::Grants;
use crate::limits::{CallDeadline, MemoryCap};

/// Everything one plugin instance can reach: its capabilities, plus the
/// bookkeeping for its limits. This is the data of the instance's wasmtime `Store`.
pub struct DeviceContext {
    /// The `log` capability.
    pub log: log::LogCapability,
    /// The `clock` capability.
    pub clock: clock::ClockCapability,
    /// The `file` capability (grants nothing when the device names no file).
    pub file: file::FileCapability,
    /// The `serial` capability (grants nothing when the device names no port).
    pub serial: serial::SerialCapability,
    /// The `upstream` and `upstream-control` capabilities (nothing unless the device is virtual).
    pub upstream: upstream::UpstreamCapability,
    /// The `usb-hid` capability (grants nothing when the device names no USB HID device).
    pub usb_hid: usb_hid::UsbHidCapability,
    /// The memory cap.
    pub memory: MemoryCap,
    /// The deadline of the call in progress.
    pub deadline: CallDeadline,
}

impl DeviceContext {
    /// The context of an instance driving device `device` with `grants`.
    pub fn new(device: &str, grants: &Grants, memory_bytes: usize) -> Self {
        DeviceContext {
            log: log::LogCapability::new(device),
            clock: clock::ClockCapability::new(),
            file: file::FileCapability::new(grants.files.clone()),
            serial: serial::SerialCapability::new(device, grants.serial.as_ref(), Arc::new(serial::SystemPorts)),
            upstream: upstream::UpstreamCapability::new(grants.upstream.clone()),
            usb_hid: usb_hid::UsbHidCapability::new(device, grants.usb_hid.as_ref()),
            memory: MemoryCap::new(memory_bytes),
            deadline: CallDeadline::default(),
        }
    }
}

/// Link every capability into `linker`, each projected onto its own state.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<DeviceContext>) -> wasmtime::Result<()> {
    use crate::bindings::hazel::plugin as wit;
    use wasmtime::component::HasSelf;
    wit::log::add_to_linker::<DeviceContext, HasSelf<log::LogCapability>>(linker, |c| &mut c.log)?;
    wit::clock::add_to_linker::<DeviceContext, HasSelf<clock::ClockCapability>>(linker, |c| &mut c.clock)?;
    wit::file::add_to_linker::<DeviceContext, HasSelf<file::FileCapability>>(linker, |c| &mut c.file)?;
    // The serial host functions also see the call's deadline, which bounds their waits.
    wit::serial::add_to_linker::<DeviceContext, serial::SerialAccess>(linker, |c| serial::SerialHost {
        port: &mut c.serial,
        deadline: &c.deadline,
    })?;
    wit::upstream::add_to_linker::<DeviceContext, HasSelf<upstream::UpstreamCapability>>(linker, |c| &mut c.upstream)?;
    wit::upstream_control::add_to_linker::<DeviceContext, upstream::UpstreamControlAccess>(linker, |c| {
        upstream::UpstreamControlHost { upstream: &c.upstream, deadline: &c.deadline }
    })?;
    wit::usb_hid::add_to_linker::<DeviceContext, usb_hid::UsbHidAccess>(linker, |c| usb_hid::UsbHidHost {
        device: &mut c.usb_hid,
        deadline: &c.deadline,
    })?;
    wit::types::add_to_linker::<DeviceContext, HasSelf<log::LogCapability>>(linker, |c| &mut c.log)?;
    Ok(())
}
