//! Hazel's sandboxed plugin runtime.
//!
//! Device protocols are WebAssembly components (the contract is `wit/plugin.wit`).
//! This crate loads them ([`plugin`]), caches their compiled code on disk
//! ([`cache`]), grants each device only the capabilities its configuration
//! names ([`grants`], [`capability`]), enforces a memory cap and a time budget on
//! every call ([`limits`]), and runs each device as a supervised task that
//! restarts a faulty instance with backoff without disturbing any other device
//! ([`device`]).
//!
//! It needs tokio's runtime but none of its networking, and Cranelift only with
//! the `compiler` feature: without it, only precompiled plugins (`.cwasm`) load,
//! which is what the initrd host uses.
#![deny(missing_docs)]

pub mod bindings;
pub mod cache;
pub mod capability;
pub mod device;
pub mod engine;
pub mod grants;
pub mod instance;
pub mod kill;
pub mod limits;
pub mod plugin;

pub use device::{
    DeviceClient, DeviceConfig, DeviceFailure, DeviceHandle, RequestError, SupervisorPhase, SupervisorStatus,
};
pub use engine::{Runtime, RuntimeConfig};
pub use grants::Grants;
pub use instance::{CallError, DeviceInstance};
pub use limits::Limits;
pub use plugin::{Plugin, PluginCatalog, PluginError};
