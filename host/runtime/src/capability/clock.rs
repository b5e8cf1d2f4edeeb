//! The `clock` capability: monotonic and wall time.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::bindings::hazel::plugin::clock::Host;

/// Time for one instance. The monotonic origin is the instance's creation,
/// so plugins learn nothing about host uptime.
pub struct ClockCapability {
    origin: Instant,
}

impl ClockCapability {
    /// A clock starting now.
    pub fn new() -> Self {
        ClockCapability { origin: Instant::now() }
    }
}

impl Default for ClockCapability {
    fn default() -> Self {
        Self::new()
    }
}

impl Host for ClockCapability {
    fn monotonic_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(self.origin.elapsed().as_millis() as u64)
    }

    fn wall_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0))
    }
}
