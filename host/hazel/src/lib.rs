//! The `hazel` host: turns a config dir (NUT's `ups.conf`, Hazel's
//! `hazel.toml`) into running, sandboxed devices, and provides the
//! subcommands of the `hazel` binary.
#![deny(missing_docs)]

pub mod client_commands;
pub mod commands;
pub mod device_set;
pub mod driver_table;
pub mod host_settings;
pub mod late_shutdown;
pub mod live_set;
pub mod monitor;
pub mod nut_control;
pub mod usb_explore;
