//! `clone`: Hazel's stand-in for NUT's `clone` driver.
//!
//! A virtual UPS over another device (its upstream, named by `port=`): it
//! relays the upstream's variables and, when the upstream is not online and
//! its charge or runtime falls below this device's thresholds, raises `FSD`
//! on its own status, counts `offdelay` down and then runs the upstream's
//! `load.off` command (an outlet's power-off); once mains has been back for
//! `ondelay` it runs `load.on`. The host grants it `upstream-control` for
//! those commands.
//!
//! FSD latch: `FSD` here comes from this device's own timer and is dropped
//! when the timer ends, so a restored outlet shows its real status again.
//! Only a `upsmon primary` sending `FSD` to this device would latch it in the
//! server, which is why NUT says nobody should be primary for a clone.
//!
//! [`device`] holds the logic (tested natively); `bindings` (wasm32 only)
//! connects it to the `upstream-control-plugin` world.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod device;

#[cfg(target_arch = "wasm32")]
mod bindings;
