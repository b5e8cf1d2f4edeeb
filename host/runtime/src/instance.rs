//! One plugin instance driving one device, with every call guarded by the
//! instance's limits.
//!
//! Any fault — a trap, a panic, an exhausted time budget, a refused memory
//! grow — poisons the instance: it must be dropped and a new one created.
//! That never affects another instance, since each has its own `Store`.

use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use crate::bindings::AllCapabilities;
use crate::bindings::power_race::{self, CyclesOnMains};
use crate::bindings::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting};
use crate::capability::DeviceContext;
use crate::engine::Runtime;
use crate::grants::{self, Grants, ImportError};
use crate::limits::Limits;
use crate::plugin::Plugin;

/// A plugin fault: the instance is unusable afterwards.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    /// The plugin trapped (including panics, which trap in plugins).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The call ran past its time budget and was interrupted.
    #[error("plugin call exceeded its {0:?} time budget and was interrupted")]
    Timeout(Duration),
    /// The plugin tried to grow its memory beyond the cap and then failed.
    #[error("plugin exceeded its memory limit of {limit} bytes (asked for {requested})")]
    OutOfMemory {
        /// The cap.
        limit: usize,
        /// The size it asked to grow to.
        requested: usize,
    },
    /// An earlier fault left the instance unusable.
    #[error("plugin instance is unusable after an earlier fault")]
    Poisoned,
}

/// Why an instance could not be created.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its imports do not fit the device's grants.
    #[error("device '{device}' (plugin '{plugin}'): {source}")]
    Imports {
        /// The device.
        device: String,
        /// The plugin.
        plugin: String,
        /// The offending import.
        source: ImportError,
    },
    /// wasmtime could not instantiate it.
    #[error("device '{device}' (plugin '{plugin}'): cannot instantiate: {message}")]
    Instantiate {
        /// The device.
        device: String,
        /// The plugin.
        plugin: String,
        /// What happened.
        message: String,
    },
}

/// Extra time the outer timeout allows beyond a call's budget, so the epoch
/// interrupt (which names the cause precisely) normally fires first; the
/// outer timeout catches a host call that never returns.
const GRACE: Duration = Duration::from_millis(500);

/// Run one plugin call under the instance's limits: arm the deadline, await the
/// call (bounded by an outer timeout too), classify the outcome.
macro_rules! guarded {
    ($self:ident, $budget:expr, |$driver:ident, $store:ident| $call:expr) => {{
        let budget = $budget;
        $self.begin(budget)?;
        let $driver = $self.bindings.hazel_plugin_driver();
        let $store = &mut $self.store;
        let outcome = tokio::time::timeout(budget + GRACE, $call).await;
        $self.finish(budget, outcome)
    }};
}

/// A running plugin instance for one device.
pub struct DeviceInstance {
    store: Store<DeviceContext>,
    bindings: AllCapabilities,
    /// The optional `power-race` export, when the plugin has it.
    power_race: Option<power_race::Guest>,
    limits: Limits,
    poisoned: bool,
}

impl DeviceInstance {
    /// Check `plugin`'s imports against `grants` and instantiate it for `device`.
    pub async fn new(runtime: &Runtime, plugin: &Plugin, device: &str, grants: &Grants) -> Result<Self, StartError> {
        grants::check_imports(plugin.imports().iter().map(String::as_str), grants).map_err(|source| {
            StartError::Imports { device: device.to_string(), plugin: plugin.name().to_string(), source }
        })?;
        Self::instantiate(runtime, plugin, device, grants).await
    }

    /// An instance granted nothing, only to call `describe` (which must not
    /// call imports; any it has are denied or trap).
    pub async fn ungranted(runtime: &Runtime, plugin: &Plugin) -> Result<Self, StartError> {
        Self::instantiate(runtime, plugin, "(describe)", &Grants::none()).await
    }

    async fn instantiate(
        runtime: &Runtime,
        plugin: &Plugin,
        device: &str,
        grants: &Grants,
    ) -> Result<Self, StartError> {
        let limits = runtime.limits().clone();
        let mut store = Store::new(runtime.engine(), DeviceContext::new(device, grants, limits.memory_bytes));
        store.limiter(|ctx| &mut ctx.memory);
        store.set_epoch_deadline(1);
        // At every epoch tick inside wasm: interrupt a call past its deadline, otherwise
        // yield so a busy plugin shares the executor thread with every other device.
        store.epoch_deadline_callback(|mut ctx| {
            if ctx.data_mut().deadline.check() { Ok(UpdateDeadline::Interrupt) } else { Ok(UpdateDeadline::Yield(1)) }
        });
        store.data_mut().deadline.start(limits.init_timeout);
        let instantiated = plugin.pre().instance_pre().instantiate_async(&mut store).await;
        store.data_mut().deadline.clear();
        let failed = |e: wasmtime::Error| StartError::Instantiate {
            device: device.to_string(),
            plugin: plugin.name().to_string(),
            message: format!("{e:#}"),
        };
        let instance = instantiated.map_err(failed)?;
        let bindings = AllCapabilities::new(&mut store, &instance).map_err(failed)?;
        // The export was found when the plugin loaded; loading it types-checks it against ours.
        let power_race = match plugin.power_race_indices() {
            Some(indices) => Some(indices.load(&mut store, &instance).map_err(failed)?),
            None => None,
        };
        Ok(DeviceInstance { store, bindings, power_race, limits, poisoned: false })
    }

    /// Resolves when the device's interrupt pipe delivered a report between
    /// calls (only USB HID devices have one), so `update` can run at once.
    pub fn interrupt_waiter(&self) -> Option<crate::capability::usb_hid::InterruptWaiter> {
        self.store.data().usb_hid.interrupt_waiter()
    }

    /// `describe()`.
    pub async fn describe(&mut self) -> Result<Description, CallError> {
        guarded!(self, self.limits.call_timeout, |driver, store| driver.call_describe(store))
    }

    /// `init(settings)`.
    pub async fn init(&mut self, settings: Vec<Setting>) -> Result<Result<DeviceInfo, DeviceError>, CallError> {
        guarded!(self, self.limits.init_timeout, |driver, store| driver.call_init(store, &settings))
    }

    /// `update()`.
    pub async fn update(&mut self) -> Result<Result<Vec<Change>, DeviceError>, CallError> {
        guarded!(self, self.limits.call_timeout, |driver, store| driver.call_update(store))
    }

    /// `instcmd(name, argument)`.
    pub async fn instcmd(&mut self, name: &str, argument: Option<&str>) -> Result<Result<(), DeviceError>, CallError> {
        guarded!(self, self.limits.call_timeout, |driver, store| driver.call_instcmd(store, name, argument))
    }

    /// `set-var(name, value)`.
    pub async fn set_var(&mut self, name: &str, value: &str) -> Result<Result<(), DeviceError>, CallError> {
        guarded!(self, self.limits.call_timeout, |driver, store| driver.call_set_var(store, name, value))
    }

    /// `kill-power(mode)`.
    pub async fn kill_power(&mut self, mode: KillMode) -> Result<Result<(), DeviceError>, CallError> {
        guarded!(self, self.limits.call_timeout, |driver, store| driver.call_kill_power(store, mode))
    }

    /// `power-race.returns-while-on-mains()`, after `init`: whether this
    /// device cycles its load on a return-on-mains kill while on mains.
    /// `Unknown` for a plugin without the export (contracts before 0.1.3, or
    /// a plugin that does not know).
    pub async fn returns_while_on_mains(&mut self) -> Result<CyclesOnMains, CallError> {
        let Some(power_race) = self.power_race.clone() else { return Ok(CyclesOnMains::Unknown) };
        let budget = self.limits.call_timeout;
        self.begin(budget)?;
        let outcome =
            tokio::time::timeout(budget + GRACE, power_race.call_returns_while_on_mains(&mut self.store)).await;
        self.finish(budget, outcome)
    }

    /// Arm the time budget before a call.
    fn begin(&mut self, budget: Duration) -> Result<(), CallError> {
        if self.poisoned {
            return Err(CallError::Poisoned);
        }
        self.store.set_epoch_deadline(1);
        let ctx = self.store.data_mut();
        ctx.deadline.start(budget);
        ctx.memory.refused = None;
        Ok(())
    }

    /// Classify a call's outcome; any fault poisons the instance.
    fn finish<T>(
        &mut self,
        budget: Duration,
        outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let ctx = self.store.data_mut();
        ctx.deadline.clear();
        let result = match outcome {
            Err(_elapsed) => Err(CallError::Timeout(budget)),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) if ctx.deadline.expired => Err(CallError::Timeout(budget)),
            Ok(Err(_)) if ctx.memory.refused.is_some() => Err(CallError::OutOfMemory {
                limit: self.limits.memory_bytes,
                requested: ctx.memory.refused.unwrap_or(0),
            }),
            Ok(Err(e)) => Err(CallError::Trap(describe_trap(&e))),
        };
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }
}

/// A one-line description of a trap: its code if it has one, plus wasmtime's message.
fn describe_trap(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("{trap}"),
        None => format!("{e:#}").lines().next().unwrap_or("unknown error").to_string(),
    }
}
