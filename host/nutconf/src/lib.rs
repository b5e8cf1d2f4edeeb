//! Readers for NUT's configuration grammar.
//!
//! - [`parseconf`]: NUT's tokenizer, shared by configuration files, the
//!   network protocol, the driver socket and dummy-ups `.dev` files. It is
//!   incremental so servers can tokenize straight from a socket with bounded
//!   memory.
//! - [`ups_conf`]: `ups.conf` as typed globals and device sections. Errors
//!   that spoil one section are reported for that section only, so a host can
//!   run the good devices and log the bad ones.
//!
//! Nothing here panics on any input: all input is untrusted.
#![deny(missing_docs)]

pub mod parseconf;
pub mod ups_conf;

#[cfg(test)]
mod test_rng;
