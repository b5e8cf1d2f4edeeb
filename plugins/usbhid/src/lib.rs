//! `usbhid`: the protocol core of Hazel's port of NUT's `usbhid-ups` driver
//! (USB HID Power Device Class; spec: drivers.md §(a)).
//!
//! Layout: plain `no_std` + `alloc` logic, unit-tested natively
//! (`cargo test --target x86_64-unknown-linux-gnu -p usbhid`):
//! - [`descriptor`] parses a HID report descriptor into data fields, with
//!   hard bounds so hostile input cannot exhaust memory or time;
//! - [`usage_names`] names usages (standard and vendor pages) and renders
//!   paths like `UPS.PowerSummary.RemainingCapacity`;
//! - [`report`] extracts and inserts field values and converts them to and
//!   from physical units;
//! - [`device`] is the device abstraction (descriptor, reports, strings);
//! - [`mapping`] holds the NUT variable tables, chosen by vendor id;
//! - [`status`] derives `ups.status` and `ups.alarm`;
//! - [`session`] polls a device through a table and publishes variables;
//! - [`commands`] turns instant commands and variable writes into reports,
//!   including the kill-power chain;
//! - [`explore`] is NUT's explore mode (every field, its place and value);
//! - [`driver`] is the driver as the host calls it (`init`, `update` with
//!   `pollfreq` full walks and interrupts drained first, commands, kill-power);
//! - `capture` (feature `capture`, and in tests) reads the capture files of
//!   `shared/data/hid`; the host's recorded-device backend uses it too.
//!
//! On wasm32, `bindings` (the `wit-bindgen` glue for world `usb-hid-ups-plugin`)
//! exports the driver over the host's `usb-hid` capability: `usbhid.wasm`.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

extern crate alloc;

#[cfg(any(test, feature = "capture"))]
pub mod capture;
pub mod commands;
pub mod descriptor;
pub mod device;
pub mod driver;
pub mod explore;
pub mod mapping;
pub mod report;
pub mod session;
pub mod status;
pub mod usage_names;

#[cfg(test)]
mod capture_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod vendor_tests;

#[cfg(target_arch = "wasm32")]
mod bindings;

// The wasm build needs the runtime's allocator and panic handler linked in.
#[cfg(target_arch = "wasm32")]
use hazel_guest_rt as _;
