//! A client for NUT's network protocol (upsd, TCP 3493), for Hazel's
//! `status`/`cmd`/`set` commands and its monitor.
//!
//! - [`address`]: `UPS[@HOST[:PORT]]` and `HOST[:PORT]` as NUT's clients read them.
//! - [`client`]: [`Client`], a connection with one typed method per request.
//! - [`error`]: [`Error`], and [`ErrorCode`] for a server's `ERR` replies, with
//!   the text NUT's clients print for each.
//! - [`variable`]: variable types, ranges, read-write variables, tracking states.
//!
//! Nothing here panics on what a server sends: replies are bounded in size
//! and time, and a malformed one is an error naming the server.
#![deny(missing_docs)]

pub mod address;
pub mod client;
pub mod error;
pub mod variable;

pub use address::{AddressError, ServerAddress, UpsAddress};
pub use client::{Accepted, Client, ConnectOptions};
pub use error::{Error, ErrorCode};
pub use variable::{Range, RwVariable, TrackingStatus, ValueKind, VarType};
