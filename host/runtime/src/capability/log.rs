//! The `log` capability: plugin log lines into the host's log, tagged and rate-limited.

use std::time::Instant;

use crate::bindings::hazel::plugin::log::{Host, Level};

/// Longest log line kept from a plugin; the rest is cut.
const MAX_LINE: usize = 1024;
/// Sustained lines per second a plugin may log.
const LINES_PER_SECOND: f64 = 20.0;
/// Burst of lines allowed above the sustained rate.
const BURST: f64 = 100.0;

/// Log sink for one device's plugin.
pub struct LogCapability {
    device: String,
    tokens: f64,
    refilled: Instant,
    dropped: u64,
}

impl LogCapability {
    /// A log for device `device`.
    pub fn new(device: &str) -> Self {
        LogCapability { device: device.to_string(), tokens: BURST, refilled: Instant::now(), dropped: 0 }
    }

    /// Token bucket: a plugin stuck logging in a loop must not flood the host's log.
    fn admit(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * LINES_PER_SECOND).min(BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

/// Make plugin text safe for a log line: no control characters, bounded length.
fn sanitize(message: &str) -> String {
    let mut out: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_LINE).collect();
    if message.chars().count() > MAX_LINE {
        out.push('…');
    }
    out
}

impl Host for LogCapability {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.admit() {
            return Ok(());
        }
        if self.dropped > 0 {
            tracing::warn!(device = %self.device, "plugin log rate limit: {} lines dropped", self.dropped);
            self.dropped = 0;
        }
        let message = sanitize(&message);
        let device = &self.device;
        match level {
            Level::Debug => tracing::debug!(device = %device, "{message}"),
            Level::Info => tracing::info!(device = %device, "{message}"),
            Level::Warn => tracing::warn!(device = %device, "{message}"),
            Level::Error => tracing::error!(device = %device, "{message}"),
        }
        Ok(())
    }
}

// The `types` interface has no functions; it is linked through this capability
// only because every plugin imports it.
impl crate::bindings::hazel::plugin::types::Host for LogCapability {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_controls_and_cuts() {
        assert_eq!(sanitize("a\nb\x1b[31m"), "a b [31m");
        assert_eq!(sanitize(&"x".repeat(5000)).chars().count(), MAX_LINE + 1);
    }

    #[test]
    fn rate_limit_drops_beyond_burst() {
        let mut log = LogCapability::new("d");
        let admitted = (0..1000).filter(|_| log.admit()).count();
        assert!(admitted >= BURST as usize && admitted < 200, "admitted {admitted}");
        assert!(log.dropped > 0);
    }
}
