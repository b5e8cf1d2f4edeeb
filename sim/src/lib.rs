//! `hazel-sim`: a simulated UPS behind a real pseudo-terminal, for testing
//! serial drivers (Hazel's plugins and NUT's own) and for trying Hazel without
//! hardware.
//!
//! It speaks the Megatec "Q1" protocol ([`megatec`]) for a modelled UPS
//! ([`model`]): mains, a battery that drains with load and recharges on mains,
//! low battery, battery tests, the beeper, and the `S`/`SnRm` shutdown and
//! restore timers, all in simulated time that can run faster than real time.
//! A [`script`] changes the surroundings at set times, and every command,
//! reply and event goes to a timestamped [`command_log`].
//!
//! In a Rust test:
//!
//! ```no_run
//! use hazel_sim::{Simulator, SimulatorConfig};
//! use std::time::Duration;
//!
//! let sim = Simulator::spawn(SimulatorConfig { time_scale: 60.0, ..SimulatorConfig::default() }).unwrap();
//! // ... point a serial client at sim.pty_path() ...
//! sim.set_mains(false);
//! assert!(sim.log().wait_for_command("Q1", Duration::from_secs(30)).is_some());
//! ```

pub mod command_log;
pub mod megatec;
pub mod model;
pub mod pty;
pub mod script;
pub mod simulator;

pub use command_log::{CommandLog, LogEntry, LogKind};
pub use model::{Action, ModelConfig, ModelState};
pub use script::Script;
pub use simulator::{RunningSimulator, Simulator, SimulatorConfig, SpawnError};
