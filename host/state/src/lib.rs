//! Hazel's device state store.
//!
//! Every configured device has a [`DeviceState`]: the NUT variables, instant
//! commands and freshness its plugin last reported. Writers (the device
//! supervisor) apply a batch of edits at once; readers (the NUT data server,
//! the monitor) take an immutable [`Snapshot`] or subscribe to be woken on
//! every change, so nobody polls the store.
//!
//! The data model is NUT's (see `driver-socket.md` §7 in the spec): variable
//! names are case-insensitive keys sorted case-insensitively, each variable
//! carries flags (RW, STRING with a maximum length, else NUMBER), an optional
//! enum list and range list; commands are a sorted, deduplicated set.
#![deny(missing_docs)]

mod name;
mod snapshot;
mod status;
mod store;

pub use name::{Name, NameRef};
pub use snapshot::{Availability, Edit, Snapshot, ValueRange, VarMeta, Variable};
pub use status::compose_status;
pub use store::{DeviceState, StateStore};
