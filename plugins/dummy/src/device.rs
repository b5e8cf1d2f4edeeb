//! The dummy device: replays a compiled definition file into a NUT state and
//! reports what changed.
//!
//! All edits (file statements, `SET VAR`) go to a *working* state; each
//! `update` compares it with the state last *published* to the host and
//! returns the difference, so the host only ever sees real changes and the
//! first update returns everything.
//!
//! Replay follows dummy-ups (NUT 2.8.0, observed in
//! tests/nut-facts/DUMMY-UPS.md):
//! - a *pass* runs statements in order from the top; `TIMER n` suspends it
//!   and a later `update` (once n seconds have passed on the monotonic
//!   clock) resumes at the next statement. `update` itself never waits;
//! - `init` runs the first pass up to its first `TIMER`, like the driver's
//!   start-up, then copies `ups.mfr`/`ups.model`/`ups.serial` into
//!   `device.mfr`/`device.model`/`device.serial` (NUT's core does that once
//!   at start-up, overwriting the file's `device.*` values);
//! - in loop mode the next pass starts at the first `update` after the
//!   previous one reached the end of the file (so reaching the end costs one
//!   poll, as in NUT); edits to the file are picked up at that point;
//! - in once mode a new pass starts only when `file.stat` shows a different
//!   size or modification time than the content in use.
//!
//! When a pass starts on new file content, what the new content can no
//! longer produce is dropped first: variables no statement names are
//! removed (or go back to their start-up value: `ups.mfr`, `ups.model`,
//! `device.*` copies, `driver.parameter.mode`), `ups.status` goes back to
//! `OL` if no line sets it, and alarms no line raises are cleared.
//! Variables the new file still names keep their value until their line
//! runs, so a file with TIMERs does not flicker. (NUT never removes stale
//! variables; Hazel does.)

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::api::{Change, DeviceError, FileError, FileStat, Host, LogLevel, VarMeta};
use crate::known_vars::{self, Flags, INITIAL_STATUS, INITIAL_VALUES};
use crate::script::{Script, Statement};
use crate::settings::{Mode, Settings};

/// The only instant command dummy-ups advertises. It answers "unknown" to
/// it like to every command.
pub const ALWAYS_ADVERTISED_COMMAND: &str = "load.off";

/// Whether `#CMD:` comments add instant commands. Real dummy-ups treats
/// them as plain comments and advertises only `load.off`, whatever the file
/// says (DUMMY-UPS.md §d), so Hazel does the same; the parsed commands stay
/// available in [`Script::commands`] should Hazel choose to list them.
pub const ADVERTISE_CMD_COMMENTS: bool = false;

/// Variable through which the running mode is published, as dummy-ups does.
const MODE_VARIABLE: &str = "driver.parameter.mode";

/// Start-up copies NUT's core makes: (source, copy).
const DEVICE_COPIES: &[(&str, &str)] = &[
    ("ups.mfr", "device.mfr"),
    ("ups.model", "device.model"),
    ("ups.serial", "device.serial"),
];

/// One published variable.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Variable {
    /// The spelling first seen (names compare ignoring case, in NUT's state
    /// tree and in Hazel's host alike).
    name: String,
    value: String,
    /// Flags, or `None` for a variable without any (upsd shows `NUMBER`,
    /// read-only), such as `driver.parameter.mode` and the `device.*`
    /// start-up copies.
    flags: Option<Flags>,
}

/// Everything a NUT client can see of the device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct DeviceState {
    /// Variables other than `ups.status` and `ups.alarm`, keyed by
    /// lowercased name.
    variables: BTreeMap<String, Variable>,
    /// Status tokens; the host builds `ups.status` from them.
    status: Vec<String>,
    /// Active alarms; the host builds `ups.alarm` from them.
    alarms: Vec<String>,
    /// Advertised instant commands, keyed by lowercased name.
    commands: BTreeMap<String, String>,
}

impl DeviceState {
    /// Set a variable with dummy-ups' flags for its name (what the driver's
    /// `setvar()` does for file lines and `SET VAR`).
    fn set_with_table_flags(&mut self, name: &str, value: &str) {
        let flags = Some(known_vars::flags_for(name));
        self.set_variable(Variable {
            name: name.to_string(),
            value: value.to_string(),
            flags,
        });
    }

    /// Insert or update; an update keeps the first spelling of the name.
    fn set_variable(&mut self, variable: Variable) {
        let key = variable.name.to_ascii_lowercase();
        match self.variables.get_mut(&key) {
            Some(existing) => {
                existing.value = variable.value;
                existing.flags = variable.flags;
            }
            None => {
                self.variables.insert(key, variable);
            }
        }
    }

    fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.get(&name.to_ascii_lowercase())
    }

    fn remove_variable(&mut self, name: &str) {
        self.variables.remove(&name.to_ascii_lowercase());
    }

    /// Replace the alarm list by one alarm (`ups.alarm` value) or none.
    fn set_single_alarm(&mut self, text: &str) {
        self.alarms.clear();
        if !text.is_empty() {
            self.alarms.push(text.to_string());
        }
    }

    /// `ALARM <text>`: add an alarm unless it is already active, so a
    /// looping file does not pile up copies.
    fn add_alarm(&mut self, text: &str) {
        if !self.alarms.iter().any(|alarm| alarm == text) {
            self.alarms.push(text.to_string());
        }
    }
}

/// Status tokens of a `SET VAR ups.status` value.
fn split_status(value: &str) -> Vec<String> {
    value.split_ascii_whitespace().map(str::to_string).collect()
}

/// Whether `name` is in the `driver.*` collection (ignoring case).
fn is_driver_variable(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("driver."))
}

/// The file content in use.
struct LoadedFile {
    /// `file.stat` taken just before the content was read.
    stat: FileStat,
    script: Script,
}

/// Where replay stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    /// A pass is under way and suspended by `TIMER` until this monotonic
    /// time; then it continues at `next_step`.
    Paused { next_step: usize, resume_at_ms: u64 },
    /// No pass under way: loop mode starts one at the next update; once
    /// mode when the file changes.
    Finished,
}

/// One dummy-ups device.
pub struct DummyDevice {
    settings: Settings,
    /// `None` after the file vanished, so it is re-read whatever its
    /// timestamp when it comes back.
    loaded: Option<LoadedFile>,
    progress: Progress,
    /// Variables the device has without any file line, with the value they
    /// return to when a new file version stops setting them.
    baseline: BTreeMap<String, Variable>,
    working: DeviceState,
    published: DeviceState,
    /// The status was reported once. The first update reports it even when
    /// it is empty (NUT publishes `ups.status: ""` for `ups.status:`).
    status_sent: bool,
    /// `ups.status` flags were sent (the host keeps the variable from the
    /// first non-empty status on).
    status_meta_sent: bool,
}

impl DummyDevice {
    /// Start a device like dummy-ups starts: read the definition file (a
    /// missing or unreadable file fails `init`, as the driver exits then),
    /// replay it up to its first `TIMER`, and make the `device.*` copies.
    /// What this produced is reported by the first `update`.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Failed`] naming the file when it cannot be read.
    pub fn open(settings: Settings, host: &mut impl Host) -> Result<DummyDevice, DeviceError> {
        let mut baseline = DeviceState::default();
        for (name, value) in INITIAL_VALUES {
            baseline.set_with_table_flags(name, value);
        }
        baseline.set_variable(Variable {
            name: MODE_VARIABLE.to_string(),
            value: settings.mode_name.clone(),
            flags: None,
        });
        let mut working = baseline.clone();
        working.status = split_status(INITIAL_STATUS);
        working.commands.insert(
            ALWAYS_ADVERTISED_COMMAND.to_string(),
            ALWAYS_ADVERTISED_COMMAND.to_string(),
        );

        let mut device = DummyDevice {
            settings,
            loaded: None,
            progress: Progress::Finished,
            baseline: baseline.variables,
            working,
            published: DeviceState::default(),
            status_sent: false,
            status_meta_sent: false,
        };
        let stat = match host.stat(&device.settings.port) {
            Ok(stat) => stat,
            Err(error) => return Err(device.file_failure(&error, DeviceError::Failed)),
        };
        if let Err(error) = device.load(stat, host) {
            return Err(device.file_failure(&error, DeviceError::Failed));
        }
        let now_ms = host.monotonic_ms();
        device.run_from(0, now_ms);
        device.copy_device_identity();
        Ok(device)
    }

    /// Manufacturer, model and serial as `init` reports them: the start-up
    /// `device.*` copies.
    pub fn identity(&self) -> (Option<String>, Option<String>, Option<String>) {
        let value = |name: &str| {
            self.working
                .variable(name)
                .map(|variable| variable.value.clone())
        };
        (
            value("device.mfr"),
            value("device.model"),
            value("device.serial"),
        )
    }

    /// Advance replay as far as the clock allows and return what changed
    /// since the last call.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unreachable`] while the file cannot be read (the host
    /// marks the data stale and keeps polling; the file is re-read as soon
    /// as it is back).
    pub fn update(&mut self, host: &mut impl Host) -> Result<Vec<Change>, DeviceError> {
        let now_ms = host.monotonic_ms();
        let next_step = match self.progress {
            Progress::Paused { resume_at_ms, .. } if now_ms < resume_at_ms => None,
            Progress::Paused { next_step, .. } => Some(next_step),
            Progress::Finished => self.start_pass(host)?,
        };
        if let Some(next_step) = next_step {
            self.run_from(next_step, now_ms);
        }
        Ok(self.take_changes())
    }

    /// `SET VAR`: change the in-memory value; `update` reports it. The host
    /// has already checked that the variable exists and is writable.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unknown`] for a variable the device does not have,
    /// [`DeviceError::Invalid`] for `driver.*`.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), DeviceError> {
        if name.eq_ignore_ascii_case("ups.status") {
            self.working.status = split_status(value);
        } else if name.eq_ignore_ascii_case("ups.alarm") {
            self.working.set_single_alarm(value);
        } else if is_driver_variable(name) {
            return Err(DeviceError::Invalid(format!(
                "{name} is set by the driver, not by clients"
            )));
        } else if self.working.variable(name).is_none() {
            // dummy-ups only lets clients change variables that exist.
            return Err(DeviceError::Unknown);
        } else if value.is_empty() {
            // As in dummy-ups' setvar(): an empty value removes the variable.
            self.working.remove_variable(name);
        } else {
            self.working.set_with_table_flags(name, value);
        }
        Ok(())
    }

    /// Decide whether a new pass starts now; returns its first step.
    fn start_pass(&mut self, host: &mut impl Host) -> Result<Option<usize>, DeviceError> {
        let stat = match host.stat(&self.settings.port) {
            Ok(stat) => stat,
            Err(error) => {
                self.loaded = None;
                return Err(self.file_failure(&error, DeviceError::Unreachable));
            }
        };
        let unchanged = self.loaded.as_ref().is_some_and(|file| file.stat == stat);
        if unchanged {
            return Ok(match self.settings.mode {
                Mode::Loop => Some(0),
                Mode::Once => None,
            });
        }
        if let Err(error) = self.load(stat, host) {
            self.loaded = None;
            return Err(self.file_failure(&error, DeviceError::Unreachable));
        }
        self.forget_what_the_file_no_longer_sets();
        Ok(Some(0))
    }

    /// Read and compile the file; log its problems once per content.
    fn load(&mut self, stat: FileStat, host: &mut impl Host) -> Result<(), FileError> {
        let bytes = host.read(&self.settings.port)?;
        let script = Script::compile(&bytes);
        for warning in &script.warnings {
            host.log(
                LogLevel::Warn,
                &format!("{}: {}", self.settings.port, warning),
            );
        }
        let mut commands = BTreeMap::new();
        commands.insert(
            ALWAYS_ADVERTISED_COMMAND.to_string(),
            ALWAYS_ADVERTISED_COMMAND.to_string(),
        );
        if ADVERTISE_CMD_COMMENTS {
            for command in &script.commands {
                commands
                    .entry(command.to_ascii_lowercase())
                    .or_insert_with(|| command.clone());
            }
        }
        self.working.commands = commands;
        self.loaded = Some(LoadedFile { stat, script });
        Ok(())
    }

    /// NUT's start-up copy of `ups.*` identity into `device.*`. A copy
    /// keeps the flags of a `device.*` line the file had, else has none.
    fn copy_device_identity(&mut self) {
        for (source, copy) in DEVICE_COPIES {
            let Some(value) = self.working.variable(source).map(|v| v.value.clone()) else {
                continue;
            };
            let flags = self
                .working
                .variable(copy)
                .and_then(|existing| existing.flags);
            let variable = Variable {
                name: copy.to_string(),
                value,
                flags,
            };
            self.baseline.insert(copy.to_string(), variable.clone());
            self.working.set_variable(variable);
        }
    }

    /// Drop variables and alarms the new content never sets, and restore
    /// the start-up values it stopped overriding.
    fn forget_what_the_file_no_longer_sets(&mut self) {
        let Some(file) = &self.loaded else {
            return;
        };
        let script = &file.script;
        let baseline = &self.baseline;
        self.working.variables.retain(|key, variable| {
            baseline.contains_key(key) || script.mentions_variable(&variable.name)
        });
        for (key, start_up) in baseline {
            if !script.mentions_variable(&start_up.name) {
                self.working.variables.insert(key.clone(), start_up.clone());
            }
        }
        if !script.mentions_variable("ups.status") {
            self.working.status = split_status(INITIAL_STATUS);
        }
        self.working
            .alarms
            .retain(|alarm| script.mentions_alarm(alarm));
    }

    /// Run statements from `first_step` until a TIMER suspends the pass or
    /// the file ends.
    fn run_from(&mut self, first_step: usize, now_ms: u64) {
        self.progress = Progress::Finished;
        let Some(file) = &self.loaded else {
            return;
        };
        let steps = file.script.steps.get(first_step..).unwrap_or(&[]);
        for (offset, step) in steps.iter().enumerate() {
            let working = &mut self.working;
            match &step.statement {
                Statement::Timer { seconds } => {
                    let resume_at_ms = now_ms.saturating_add(seconds.saturating_mul(1000));
                    let next_step = first_step.saturating_add(offset).saturating_add(1);
                    self.progress = Progress::Paused {
                        next_step,
                        resume_at_ms,
                    };
                    return;
                }
                Statement::Alarm(Some(text)) => working.add_alarm(text),
                Statement::Alarm(None) => working.alarms.clear(),
                Statement::SetStatus(tokens) => working.status = tokens.clone(),
                // The host owns `ups.alarm`: the file's value becomes the
                // alarm list; an empty value clears it.
                Statement::SetVar { name, value } if name.eq_ignore_ascii_case("ups.alarm") => {
                    working.set_single_alarm(value);
                }
                Statement::SetVar { name, value } if value.is_empty() => {
                    working.remove_variable(name)
                }
                Statement::SetVar { name, value } => working.set_with_table_flags(name, value),
            }
        }
    }

    /// The changes that turn the published state into the working state;
    /// afterwards they are the same.
    fn take_changes(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        let (working, published) = (&self.working, &self.published);

        for (key, variable) in &published.variables {
            if !working.variables.contains_key(key) {
                changes.push(Change::Remove(variable.name.clone()));
            }
        }
        for (key, variable) in &working.variables {
            let old = published.variables.get(key);
            if old.is_none_or(|old| old.value != variable.value) {
                changes.push(Change::SetValue(
                    variable.name.clone(),
                    variable.value.clone(),
                ));
            }
            // Flags follow the value: the host drops them with the variable.
            if let Some(flags) = variable.flags
                && old.is_none_or(|old| old.flags != variable.flags)
            {
                changes.push(Change::SetMeta(meta(&variable.name, flags)));
            }
        }
        // Status and alarms after the variables: the host derives parts of
        // ups.status (ignorelb) from battery variables.
        if !self.status_sent || working.status != published.status {
            changes.push(Change::SetStatus(working.status.clone()));
            self.status_sent = true;
        }
        if !self.status_meta_sent && !working.status.is_empty() {
            changes.push(Change::SetMeta(meta(
                "ups.status",
                known_vars::flags_for("ups.status"),
            )));
            self.status_meta_sent = true;
        }
        if working.alarms != published.alarms {
            changes.push(Change::SetAlarms(working.alarms.clone()));
            // The host creates ups.alarm when alarms appear and removes it
            // when they clear; give it its flags each time it appears.
            if published.alarms.is_empty() && !working.alarms.is_empty() {
                changes.push(Change::SetMeta(meta(
                    "ups.alarm",
                    known_vars::flags_for("ups.alarm"),
                )));
            }
        }
        for (key, command) in &published.commands {
            if !working.commands.contains_key(key) {
                changes.push(Change::RemoveCommand(command.clone()));
            }
        }
        for (key, command) in &working.commands {
            if !published.commands.contains_key(key) {
                changes.push(Change::AddCommand(command.clone()));
            }
        }
        self.published = self.working.clone();
        changes
    }

    /// Describe a file problem as the device error `kind` makes.
    fn file_failure(&self, error: &FileError, kind: fn(String) -> DeviceError) -> DeviceError {
        kind(format!(
            "can't read dummy-ups definition file {}: {}",
            self.settings.port, error
        ))
    }
}

/// WIT metadata for `name` with `flags`.
fn meta(name: &str, flags: Flags) -> VarMeta {
    VarMeta {
        name: name.to_string(),
        writable: flags.writable,
        string_max_len: flags.string_max_len,
    }
}
