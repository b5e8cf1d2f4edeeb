//! `clone-outlet`: Hazel's stand-in for NUT's `clone-outlet` driver.
//!
//! It shows one outlet of another device (its upstream, named by `port=`) as
//! a UPS of its own, for the hosts that outlet feeds: every upstream
//! variable is relayed (except `driver.*`), and `ups.status` gets `OFF` while
//! the outlet is off and `FSD` while the outlet's delayed shutdown runs. It
//! is read-only: the host grants it `upstream` but not `upstream-control`,
//! and the plugin refuses `SET`/`INSTCMD` too.
//!
//! FSD latch: `FSD` here is derived anew from the upstream on every update
//! and never latched, so it clears when the outlet's timer is cancelled. Only
//! a `upsmon primary` sending `FSD` to this device would latch it in the
//! server; the outlet's hosts monitor it as secondaries, as NUT documents.
//!
//! [`outlet`] holds the logic (tested natively); `bindings` (wasm32 only)
//! connects it to the `upstream-reader-plugin` world.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod outlet;

#[cfg(target_arch = "wasm32")]
mod bindings;
