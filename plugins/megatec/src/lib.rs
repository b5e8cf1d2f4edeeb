//! `megatec`: Hazel's stand-in for NUT's `nutdrv_qx` driver with the
//! `megatec` protocol (Megatec "Q1" serial UPSes; spec: drivers.md §(b)).
//!
//! What it publishes, and the bytes it sends, follow NUT 2.8.0's nutdrv_qx as
//! observed against a scripted responder on a pty (the facts are written
//! down in `FACTS.md` beside this crate and asserted by the unit tests).
//!
//! Layout: the logic is plain Rust with no dependency on the bindings, so
//! its unit tests run natively (`cargo test --target x86_64-unknown-linux-gnu
//! -p megatec`):
//! - [`protocol`] parses the `Q1`, `F` and `I` replies and formats commands;
//! - [`settings`] validates the ups.conf options;
//! - [`battery`] estimates charge and runtime from the battery voltage;
//! - [`device`] polls, publishes changes, runs commands;
//! - [`api`] mirrors the WIT types and abstracts the host imports.
//!
//! `bindings` (wasm32 only) connects them to the `serial-ups-plugin` world
//! (`serial-plugin` plus the `power-race` declaration).
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod api;
pub mod battery;
pub mod device;
pub mod protocol;
pub mod settings;

#[cfg(test)]
mod device_tests;
#[cfg(test)]
mod property_tests;

#[cfg(target_arch = "wasm32")]
mod bindings;
