//! Per-instance resource limits: the memory cap and the per-call time budget.

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// Limits applied to every plugin instance.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Longest a single `update`, `instcmd`, `set-var` or `kill-power` call may run.
    pub call_timeout: Duration,
    /// Longest `init` may run (device discovery can be slow).
    pub init_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 64 << 20, call_timeout: Duration::from_secs(10), init_timeout: Duration::from_secs(60) }
    }
}

/// Enforces [`Limits::memory_bytes`] and remembers whether the cap was hit, so
/// the resulting trap can be reported as "out of memory" rather than a bare
/// `unreachable`.
#[derive(Debug)]
pub struct MemoryCap {
    limit: usize,
    /// The largest size a refused `memory.grow` asked for.
    pub refused: Option<usize>,
}

impl MemoryCap {
    /// A cap of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryCap { limit, refused: None }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; plugins need a handful. A large bound only stops runaway growth.
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        // A component instantiates a few core modules (the plugin, its adapters).
        16
    }

    fn memories(&self) -> usize {
        4
    }

    fn tables(&self) -> usize {
        16
    }
}

/// The deadline of the call in progress, checked at every epoch tick.
#[derive(Debug, Default)]
pub struct CallDeadline {
    until: Option<Instant>,
    /// Set when the deadline interrupted the call.
    pub expired: bool,
}

impl CallDeadline {
    /// Start timing a call that may run for `budget`.
    pub fn start(&mut self, budget: Duration) {
        self.until = Some(Instant::now() + budget);
        self.expired = false;
    }

    /// The call is over.
    pub fn clear(&mut self) {
        self.until = None;
    }

    /// What is left of the running call's budget; `None` when no call runs.
    pub fn remaining(&self) -> Option<Duration> {
        self.until.map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Whether the running call has used up its budget (and remember it).
    pub fn check(&mut self) -> bool {
        if self.until.is_some_and(|t| Instant::now() >= t) {
            self.expired = true;
        }
        self.expired
    }
}
