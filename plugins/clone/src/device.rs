//! The clone device: options, the thresholds and timers of NUT's clone, and
//! what it publishes (spec clone-outlet.md §3).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hazel_mirror::{Availability, Change, Published, StatusBuilder, UpstreamSnapshot, format_f, strtod, strtol};

/// Why an option or request is wrong (WIT `device-error` subset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloneError {
    /// A bad configuration or request (WIT `invalid`).
    Invalid(String),
    /// A command or variable this device does not handle (WIT `unknown`).
    Unknown,
}

/// The options of one clone device, with NUT's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Seconds from FSD to `load.off` (default 120).
    pub offdelay: i64,
    /// Seconds of continuous mains before `load.on` (default 30).
    pub ondelay: i64,
    /// Charge (%) below which the outlet is shut down; 0 never.
    pub mincharge: f64,
    /// Runtime (s) below which the outlet is shut down; 0 never.
    pub minruntime: f64,
    /// The upstream's instant command that switches the outlet off.
    pub load_off: Option<String>,
    /// The upstream's instant command that switches the outlet on.
    pub load_on: Option<String>,
    /// The upstream's variable that reports the outlet's state.
    pub load_status: Option<String>,
}

/// Validate the ups.conf options (`port` is the host's, as are `default.*`/`override.*`).
///
/// # Errors
///
/// [`CloneError::Invalid`] for an unknown option or one without a value.
pub fn parse_settings<'a>(
    settings: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<Settings, CloneError> {
    let mut parsed = Settings {
        offdelay: 120,
        ondelay: 30,
        mincharge: 0.0,
        minruntime: 0.0,
        load_off: None,
        load_on: None,
        load_status: None,
    };
    for (key, value) in settings {
        if key == "port" || key.starts_with("default.") || key.starts_with("override.") {
            continue;
        }
        let value = value.ok_or_else(|| CloneError::Invalid(format!("'{key}' needs a value")))?;
        match key {
            "offdelay" => parsed.offdelay = strtol(value),
            "ondelay" => parsed.ondelay = strtol(value),
            "mincharge" => parsed.mincharge = strtod(value),
            "minruntime" => parsed.minruntime = strtod(value),
            "load.off" => parsed.load_off = Some(value.to_string()),
            "load.on" => parsed.load_on = Some(value.to_string()),
            "load.status" => parsed.load_status = Some(value.to_string()),
            _ => return Err(CloneError::Invalid(format!("'{key}' is not a valid option for clone"))),
        }
    }
    Ok(parsed)
}

/// How loud a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Worth noting.
    Info,
    /// Something the operator should see.
    Warn,
}

/// What one update produced.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// Changes to this device's published state.
    pub changes: Vec<Change>,
    /// Instant commands to run on the upstream (`load.off`/`load.on`), in order.
    pub upstream_commands: Vec<String>,
    /// Log lines.
    pub logs: Vec<(LogLevel, String)>,
}

/// One clone device.
#[derive(Debug)]
pub struct Clone {
    settings: Settings,
    /// Seconds until `load.off`; -1 when no shutdown runs.
    timer_shutdown: i64,
    /// Seconds of mains still needed before `load.on`; -1 when none is due.
    timer_start: i64,
    outlet_on: bool,
    charge_actual: f64,
    charge_low: f64,
    runtime_actual: f64,
    runtime_low: f64,
    /// Since `battery.charge`/`battery.runtime` (or a write) were seen, the thresholds are published.
    charge_low_shown: bool,
    runtime_low_shown: bool,
    upstream_status: String,
    /// The upstream variables relayed, from its latest data.
    relayed: Vec<(String, String)>,
    last_generation: Option<u64>,
    /// Clock second of the previous cycle (timers count whole seconds between cycles, as `time_t` does).
    last_cycle_s: Option<u64>,
    reported_off: bool,
    reported_ob: bool,
    started: bool,
    published: Published,
}

impl Clone {
    /// A device for `settings`; its status is `WAIT` until the upstream reports.
    pub fn new(settings: Settings) -> Self {
        Clone {
            charge_low: settings.mincharge,
            runtime_low: settings.minruntime,
            settings,
            timer_shutdown: -1,
            timer_start: -1,
            outlet_on: true,
            charge_actual: 0.0,
            runtime_actual: 0.0,
            charge_low_shown: false,
            runtime_low_shown: false,
            upstream_status: "WAIT".to_string(),
            relayed: Vec::new(),
            last_generation: None,
            last_cycle_s: None,
            reported_off: false,
            reported_ob: false,
            started: false,
            published: Published::default(),
        }
    }

    /// One cycle at time `now_ms` (any clock that does not jump), with the upstream's current state.
    pub fn update(&mut self, upstream: &UpstreamSnapshot, now_ms: u64) -> Outcome {
        let mut outcome = Outcome::default();
        let now_s = now_ms / 1000;
        let elapsed = self.last_cycle_s.map_or(0, |last| now_s.saturating_sub(last));
        self.last_cycle_s = Some(now_s);
        let elapsed = i64::try_from(elapsed).unwrap_or(i64::MAX);

        let has_data = upstream.availability != Availability::Starting && !upstream.variables.is_empty();
        if has_data && self.last_generation != Some(upstream.generation) {
            self.last_generation = Some(upstream.generation);
            self.read(upstream);
        }

        let mut status = StatusBuilder::new();
        status.add(&self.upstream_status);
        // Deviation: NUT runs the thresholds from the first cycle, when nothing
        // has arrived yet and the charge reads 0; Hazel waits for the upstream's data.
        if self.last_generation.is_some() {
            self.cycle(&mut status, elapsed, &mut outcome);
        }

        self.published.begin();
        for (name, value) in &self.relayed {
            self.published.set(name, value);
        }
        if self.charge_low_shown {
            self.published.set("battery.charge.low", &format_f(self.charge_low));
        }
        if self.runtime_low_shown {
            self.published.set("battery.runtime.low", &format_f(self.runtime_low));
        }
        self.published.set("ups.delay.shutdown", &self.settings.offdelay.to_string());
        self.published.set("ups.delay.start", &self.settings.ondelay.to_string());
        self.published.set("ups.timer.shutdown", &self.timer_shutdown.to_string());
        self.published.set("ups.timer.start", &self.timer_start.to_string());
        self.published.set("ups.status", &status.compose());
        outcome.changes = self.published.take_changes();
        // Writable thresholds, as NUT's clone flags them (RW, STRING of 3 and 4).
        for change in outcome.changes.clone() {
            match change {
                Change::SetValue(name, _) if name == "battery.charge.low" => {
                    outcome.changes.push(Change::SetWritableString(name, 3));
                }
                Change::SetValue(name, _) if name == "battery.runtime.low" => {
                    outcome.changes.push(Change::SetWritableString(name, 4));
                }
                _ => {}
            }
        }
        if !self.started {
            self.started = true;
            outcome.changes.push(Change::AddCommand("shutdown.return".into()));
            outcome.changes.push(Change::AddCommand("shutdown.stayoff".into()));
        }
        outcome
    }

    /// The upstream's data through clone's SETINFO filter.
    fn read(&mut self, upstream: &UpstreamSnapshot) {
        self.relayed.clear();
        for (name, value) in &upstream.variables {
            let owned_here = name.starts_with("driver.")
                || name == "battery.charge.low"
                || name == "battery.runtime.low"
                || name.starts_with("ups.delay.")
                || name.starts_with("ups.timer.");
            if owned_here {
                continue;
            }
            if name == "ups.status" {
                self.upstream_status = value.clone();
                continue;
            }
            if self.settings.load_status.as_deref() == Some(name.as_str()) {
                if value.eq_ignore_ascii_case("off") || value.eq_ignore_ascii_case("no") {
                    self.outlet_on = false;
                } else if value.eq_ignore_ascii_case("on") || value.eq_ignore_ascii_case("yes") {
                    self.outlet_on = true;
                }
            }
            if name == "battery.charge" {
                self.charge_actual = strtod(value);
                self.charge_low_shown = true;
            }
            if name == "battery.runtime" {
                self.runtime_actual = strtod(value);
                self.runtime_low_shown = true;
            }
            self.relayed.push((name.clone(), value.clone()));
        }
    }

    /// Steps 2–6 of clone's cycle: outlet state, timers, thresholds.
    fn cycle(&mut self, status: &mut StatusBuilder, elapsed: i64, outcome: &mut Outcome) {
        let online = status.has("OL");
        if !self.outlet_on {
            status.add("OFF");
            if !self.reported_off && self.settings.load_status.is_some() {
                outcome.logs.push((LogLevel::Info, "outlet is off".into()));
            }
            self.reported_off = true;
        } else if self.reported_off {
            outcome.logs.push((LogLevel::Info, "outlet is no longer off".into()));
            self.reported_off = false;
        }

        if self.timer_shutdown >= 0 {
            status.add("FSD");
            outcome.logs.push((LogLevel::Warn, format!("outlet shutdown in {} s", self.timer_shutdown)));
            self.timer_shutdown = self.timer_shutdown.saturating_sub(elapsed);
            if self.timer_shutdown < 0 {
                self.timer_shutdown = -1;
                if let Some(command) = &self.settings.load_off {
                    outcome.upstream_commands.push(command.clone());
                }
                if self.settings.load_status.is_none() {
                    self.outlet_on = false;
                }
            }
        } else if self.timer_start >= 0 {
            if online {
                self.timer_start = self.timer_start.saturating_sub(elapsed);
            } else {
                // Mains must be back continuously for ondelay.
                self.timer_start = self.settings.ondelay;
            }
            if self.timer_start < 0 {
                self.timer_start = -1;
                if let Some(command) = &self.settings.load_on {
                    outcome.upstream_commands.push(command.clone());
                }
                if self.settings.load_status.is_none() {
                    self.outlet_on = true;
                }
            }
        } else if !online && self.outlet_on {
            if !self.reported_ob {
                outcome.logs.push((LogLevel::Warn, "upstream is not (fully) online".into()));
                self.reported_ob = true;
            }
            if self.charge_actual < self.charge_low || self.runtime_actual < self.runtime_low {
                self.start_shutdown(false, Some(status));
            }
        }

        if self.reported_ob && online {
            outcome.logs.push((LogLevel::Info, "upstream is back online".into()));
            self.reported_ob = false;
        }
    }

    /// clone's `shutdown.return`/`shutdown.stayoff`: start the countdown to
    /// `load.off` unless the outlet is off or one runs already; plan the
    /// power-on after `ondelay` (return) or not (stayoff).
    fn start_shutdown(&mut self, stay_off: bool, status: Option<&mut StatusBuilder>) {
        if self.outlet_on && self.timer_shutdown < 0 {
            self.timer_shutdown = self.settings.offdelay;
            if let Some(status) = status {
                status.add("FSD");
            }
        }
        self.timer_start = if stay_off { -1 } else { self.settings.ondelay };
    }

    /// An instant command from a client; the next update publishes its effect.
    ///
    /// # Errors
    ///
    /// [`CloneError::Unknown`] for anything but `shutdown.return`/`shutdown.stayoff`.
    pub fn instcmd(&mut self, name: &str) -> Result<(), CloneError> {
        if name.eq_ignore_ascii_case("shutdown.return") {
            self.start_shutdown(false, None);
        } else if name.eq_ignore_ascii_case("shutdown.stayoff") {
            self.start_shutdown(true, None);
        } else {
            return Err(CloneError::Unknown);
        }
        Ok(())
    }

    /// A variable write from a client: the two thresholds.
    ///
    /// # Errors
    ///
    /// [`CloneError::Unknown`] for any other variable.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), CloneError> {
        if name.eq_ignore_ascii_case("battery.charge.low") {
            self.charge_low = strtod(value);
            self.charge_low_shown = true;
        } else if name.eq_ignore_ascii_case("battery.runtime.low") {
            self.runtime_low = strtod(value);
            self.runtime_low_shown = true;
        } else {
            return Err(CloneError::Unknown);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
