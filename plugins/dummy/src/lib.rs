//! `dummy`: Hazel's stand-in for NUT's `dummy-ups` driver.
//!
//! It replays a definition file (`port=`): `.dev` files (the format of
//! `upsc` output and of NUT's device dump library) and `.seq` sequences with
//! `TIMER` pauses, publishing what NUT 2.8.0's dummy-ups publishes for the
//! same file (observed facts: tests/nut-facts/DUMMY-UPS.md; spec:
//! drivers.md §(e)).
//!
//! Layout: the logic is plain Rust with no dependency on the bindings, so
//! its unit tests run natively (`cargo test --target x86_64-unknown-linux-gnu
//! -p dummy`):
//! - [`dev_file`] tokenizes with NUT's parseconf rules;
//! - [`script`] turns lines into statements and `#CMD:` commands;
//! - [`known_vars`] holds dummy-ups' variable flags;
//! - [`outlets`] makes outlets switchable (Hazel-only `switchable_outlets` flag);
//! - [`settings`] validates the ups.conf options and picks the mode;
//! - [`device`] replays statements and computes what changed;
//! - [`api`] mirrors the WIT types and abstracts the host imports.
//!
//! `bindings` (wasm32 only) connects them to the `file-plugin` world.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod api;
pub mod dev_file;
pub mod device;
pub mod known_vars;
pub mod outlets;
pub mod script;
pub mod settings;

#[cfg(test)]
mod device_tests;

#[cfg(target_arch = "wasm32")]
mod bindings;
