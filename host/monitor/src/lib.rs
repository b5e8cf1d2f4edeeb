//! The core of `hazel monitor`, a drop-in for NUT's `upsmon`: when the
//! battery runs out, every system fed by the UPS shuts down cleanly,
//! secondaries first, and only then may the UPS cut the power.
//!
//! - [`upsmon_conf`]: `upsmon.conf` as typed configuration with upsmon's
//!   defaults; errors and warnings name file and line.
//! - [`status`]: `ups.status` tokens as flags.
//! - [`machine`]: upsmon's decisions as a sans-I/O state machine: inputs
//!   carry the time, outputs are actions (notify, send FSD, ask NUMLOGINS,
//!   write the power-down flag, run `SHUTDOWNCMD`, …) for the monitor's loop.
//! - [`notify`]: events, messages, flags and the `NOTIFYCMD` invocation, as data.
//! - [`powerdown_flag`]: the `POWERDOWNFLAG` file (write, `-K` check, clear
//!   on start) — the only module doing I/O.
//!
//! No networking here: the loop that connects the machine to NUT servers
//! lives with the `hazel monitor` command.
#![deny(missing_docs)]

pub mod machine;
pub mod notify;
pub mod powerdown_flag;
pub mod status;
pub mod upsmon_conf;
