//! `misbehave`: a test plugin for the host's sandbox tests.
//!
//! It behaves like a tiny healthy device (publishes `ups.status` = `OL` and
//! a counter `test.counter` that grows by one on every `update`) until the
//! behaviour chosen in its ups.conf section makes it misbehave:
//!
//! | `behavior=` | what happens |
//! |---|---|
//! | `ok` (default) | nothing bad, ever: the control device for "other devices keep updating" |
//! | `trap` | `update` executes `unreachable` once `after` updates have succeeded |
//! | `loop` | `update` spins forever once `after` updates have succeeded (epoch/fuel test) |
//! | `alloc` | `update` allocates and fills 1 GiB infallibly once `after` updates have succeeded, like a plugin with a runaway buffer: a refused `memory.grow` ends in the allocation-failure trap |
//! | `alloc-graceful` | the same with a fallible reservation: a refused allocation returns `failed`, a granted one publishes `test.alloc` = `ok:<bytes>` |
//! | `panic` | `update` panics once `after` updates have succeeded (the panic handler traps) |
//! | `escape` | every `update` tries `file.read`/`file.stat` on paths it was not granted ([`ESCAPE_PROBES`]) and on its `port`, publishing `test.read.<probe>`/`test.stat.<probe>` (probe `port` for the granted file) = `denied`, `not-found`, `too-large:<limit>`, `io:<message>` or `ok:<bytes>` |
//! | `slow-init` | `init` never returns |
//!
//! `after=<n>` (default 0) is the number of successful updates before the
//! misbehaviour; `port=<path>` is the one file the host grants (used by
//! `escape`). Other settings are ignored so tests can add whatever the
//! host's config parser needs.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

#[cfg(target_arch = "wasm32")]
mod bindings;

use alloc::string::String;

/// How this instance misbehaves (the `behavior` setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Stay healthy.
    Ok,
    /// Trap with `unreachable` in `update`.
    Trap,
    /// Never return from `update`.
    Loop,
    /// Allocate and touch 1 GiB in `update`, infallibly (traps when refused).
    Alloc,
    /// Reserve 1 GiB fallibly in `update`; report the refusal as `failed`.
    AllocGraceful,
    /// Panic in `update`.
    Panic,
    /// Try to read files outside the grant in `update`.
    Escape,
    /// Never return from `init`.
    SlowInit,
}

impl Behavior {
    /// Parse the `behavior` setting's value.
    pub fn parse(value: &str) -> Option<Behavior> {
        Some(match value {
            "ok" => Behavior::Ok,
            "trap" => Behavior::Trap,
            "loop" => Behavior::Loop,
            "alloc" => Behavior::Alloc,
            "alloc-graceful" => Behavior::AllocGraceful,
            "panic" => Behavior::Panic,
            "escape" => Behavior::Escape,
            "slow-init" => Behavior::SlowInit,
            _ => return None,
        })
    }
}

/// The settings `init` understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// What to do.
    pub behavior: Behavior,
    /// Successful updates before misbehaving.
    pub after: u64,
    /// The granted file, if any.
    pub port: Option<String>,
}

/// Size of the `alloc` behaviour's allocation: far above any sane store limit.
pub const HUGE_ALLOCATION: usize = 1 << 30;

/// Paths the `escape` behaviour probes, with the variable-name suffix each
/// result is published under (`test.read.<suffix>`, `test.stat.<suffix>`).
/// None of them is granted; the host must answer `denied` to every one.
pub const ESCAPE_PROBES: &[(&str, &str)] = &[
    ("etc_passwd", "/etc/passwd"),
    ("etc_hostname", "/etc/hostname"),
    ("parent_etc_passwd", "../../etc/passwd"),
    ("proc_self_environ", "/proc/self/environ"),
];

/// Spin forever without being optimised away: a volatile access per turn is
/// an observable side effect, so the loop must really run (and burn the
/// epoch or fuel budget the host gave the call).
pub fn spin_forever() -> ! {
    let mut turns: u64 = 0;
    loop {
        // SAFETY: `turns` is a live local; volatile keeps each access.
        unsafe {
            let current = core::ptr::read_volatile(&turns);
            core::ptr::write_volatile(&mut turns, current.wrapping_add(1));
        }
    }
}
