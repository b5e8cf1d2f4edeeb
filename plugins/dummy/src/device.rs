//! The dummy device: replays a compiled definition file into a NUT state and
//! reports what changed.
//!
//! All edits (file statements, `SET VAR`) go to a *working* state; each
//! `update` compares it with the state last *published* to the host and
//! returns the difference, so the host only ever sees real changes and the
//! first update returns everything.
//!
//! Everything follows real dummy-ups of NUT 2.8.0, as observed in
//! tests/nut-facts/DUMMY-UPS.md, because a NUT client must not be able to
//! tell the two apart on the same file:
//! - before the file, the device has what the driver core and dummy-ups
//!   start with (§a): `device.type: ups` and `driver.parameter.mode`
//!   without flags (upsd: read-only `NUMBER`), and `ups.mfr: Dummy
//!   Manufacturer`, `ups.model: Dummy UPS`, `ups.status: OL`, each
//!   `RW STRING:32`;
//! - `ups.status` and `ups.alarm` are ordinary variables published
//!   verbatim with `set-value` (§b, §f): no de-duplication, no reordering,
//!   `ALARM` neither added nor removed. `set-status` is never used;
//!   `set-alarms` only for the newer-NUT `ALARM <text>` keyword lines
//!   ([`Statement::Alarm`]);
//! - a *pass* runs statements in order from the top; `TIMER n` suspends it
//!   and the first `update` at least n seconds later resumes it (§i;
//!   `update` itself never waits). With the host calling `update` every
//!   `pollinterval` P, a block ending in `TIMER n` lasts
//!   `ceil(n / P) × P`, as in NUT;
//! - `init` runs the first pass up to its first `TIMER`, then copies
//!   `ups.mfr`/`ups.model`/`ups.serial` into `device.mfr`/`device.model`/
//!   `device.serial` once (§a): the copy overwrites a value the file gave
//!   and keeps that line's flags, else it has none;
//! - in loop mode the next pass starts at the first `update` after the
//!   previous one reached the end of the file (so a file ending in `TIMER`
//!   spends one more poll there, as in NUT); edits to the file are picked
//!   up at that point;
//! - in once mode a new pass starts only when `file.stat` shows a different
//!   size or modification time than the content in use (§g);
//! - a new pass never removes anything: values the file sets overwrite the
//!   current ones (including `SET VAR` values), variables it no longer
//!   mentions keep their value (§g).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::api::{Change, DeviceError, FileError, FileStat, Host, LogLevel, VarMeta};
use crate::known_vars::{self, Flags, INITIAL_VALUES};
use crate::script::{Script, Statement, is_driver_variable};
use crate::settings::{Mode, Settings};

/// The only instant command dummy-ups advertises (DUMMY-UPS.md §d). It
/// answers "unknown" to it like to every command.
pub const ALWAYS_ADVERTISED_COMMAND: &str = "load.off";

/// How much earlier than its end a `TIMER` pause may be found over.
///
/// dummy-ups counts `TIMER` in whole seconds of `time()`, and ups.conf's
/// `pollinterval` is a whole number of seconds, so the poll that ends a
/// pause is the first one at least n seconds after the `TIMER`. The host's
/// polls come every `pollinterval`, but the clock reading inside `update`
/// jitters by a few milliseconds; without this tolerance a poll landing
/// 1 ms "early" would stretch `TIMER 2` at `pollinterval = 2` from 2 to 4
/// seconds. Half a second is far more than the jitter and less than the
/// one-second step between any two candidate poll times.
pub const TIMER_SLACK_MS: u64 = 500;

/// Variable through which the running mode is published, as dummy-ups does.
const MODE_VARIABLE: &str = "driver.parameter.mode";

/// Variables NUT's driver core publishes, without flags, before the driver
/// reads its file; a file line replaces the value and gives it flags.
const CORE_VALUES: &[(&str, &str)] = &[("device.type", "ups")];

/// The status variable.
const STATUS_VARIABLE: &str = "ups.status";

/// The alarm variable, which the host also writes for `set-alarms`.
const ALARM_VARIABLE: &str = "ups.alarm";

/// Start-up copies NUT's core makes: (source, copy).
const DEVICE_COPIES: &[(&str, &str)] =
    &[("ups.mfr", "device.mfr"), ("ups.model", "device.model"), ("ups.serial", "device.serial")];

/// One published variable.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Variable {
    /// The spelling first seen (names compare ignoring case, in NUT's state
    /// tree and in Hazel's host alike).
    name: String,
    value: String,
    /// Flags, or `None` for a variable without any (upsd shows `NUMBER`,
    /// read-only), such as `device.type` and the `device.*` start-up copies.
    flags: Option<Flags>,
}

/// Everything a NUT client can see of the device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct DeviceState {
    /// Variables, `ups.status` and `ups.alarm` included, keyed by
    /// lowercased name.
    variables: BTreeMap<String, Variable>,
    /// Alarms raised by `ALARM` keyword lines (reported with `set-alarms`).
    alarms: Vec<String>,
    /// Advertised instant commands, keyed by lowercased name.
    commands: BTreeMap<String, String>,
}

impl DeviceState {
    /// Set a variable with dummy-ups' flags for its name (what the driver's
    /// `setvar()` does for file lines and `SET VAR`).
    fn set_with_table_flags(&mut self, name: &str, value: &str) {
        let flags = Some(known_vars::flags_for(name));
        self.set(name, value, flags);
    }

    /// Set a value the way NUT's `dstate_setinfo` does: an existing
    /// variable keeps its flags, a new one has none.
    fn set_keeping_flags(&mut self, name: &str, value: &str) {
        let flags = self.variable(name).and_then(|existing| existing.flags);
        self.set(name, value, flags);
    }

    /// Insert or update; an update keeps the first spelling of the name.
    fn set(&mut self, name: &str, value: &str, flags: Option<Flags>) {
        let key = name.to_ascii_lowercase();
        match self.variables.get_mut(&key) {
            Some(existing) => {
                existing.value = value.to_string();
                existing.flags = flags;
            }
            None => {
                self.variables.insert(key, Variable { name: name.to_string(), value: value.to_string(), flags });
            }
        }
    }

    fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.get(&name.to_ascii_lowercase())
    }

    fn remove_variable(&mut self, name: &str) {
        self.variables.remove(&name.to_ascii_lowercase());
    }

    /// `ALARM <text>`: add an alarm unless it is already active, so a
    /// looping file does not pile up copies.
    fn add_alarm(&mut self, text: &str) {
        if !self.alarms.iter().any(|alarm| alarm == text) {
            self.alarms.push(text.to_string());
        }
    }
}

/// Whether `name` takes dummy-ups' status path (`strncmp(name,
/// "ups.status", 10)` in the driver: a case-sensitive prefix).
fn is_status_path(name: &str) -> bool {
    name.starts_with(STATUS_VARIABLE)
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
    working: DeviceState,
    published: DeviceState,
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
        let mut working = DeviceState::default();
        for (name, value) in CORE_VALUES {
            working.set(name, value, None);
        }
        working.set(MODE_VARIABLE, &settings.mode_name, None);
        for (name, value) in INITIAL_VALUES {
            working.set_with_table_flags(name, value);
        }
        working.commands.insert(ALWAYS_ADVERTISED_COMMAND.to_string(), ALWAYS_ADVERTISED_COMMAND.to_string());

        let mut device = DummyDevice {
            settings,
            loaded: None,
            progress: Progress::Finished,
            working,
            published: DeviceState::default(),
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
        let value = |name: &str| self.working.variable(name).map(|variable| variable.value.clone());
        (value("device.mfr"), value("device.model"), value("device.serial"))
    }

    /// One poll: continue or start a pass as the mode and the clock allow,
    /// and return what changed since the previous call.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unreachable`] when the file cannot be read any more;
    /// the host then marks the data stale and keeps polling.
    pub fn update(&mut self, host: &mut impl Host) -> Result<Vec<Change>, DeviceError> {
        let now_ms = host.monotonic_ms();
        let next_step = match self.progress {
            Progress::Paused { resume_at_ms, .. } if now_ms.saturating_add(TIMER_SLACK_MS) < resume_at_ms => None,
            Progress::Paused { next_step, .. } => Some(next_step),
            Progress::Finished => self.start_pass(host)?,
        };
        if let Some(next_step) = next_step {
            self.run_from(next_step, now_ms);
        }
        Ok(self.take_changes())
    }

    /// `SET VAR`: change the in-memory value as dummy-ups' `setvar()` does;
    /// `update` reports it. The host has already checked that the variable
    /// exists and is writable.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unknown`] for a variable the device does not have,
    /// [`DeviceError::Invalid`] for `driver.*` and read-only variables.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), DeviceError> {
        if is_status_path(name) {
            // The raw string, even "" or "OB  LB" (facts §b, §f).
            if let Some(published) = value_as_upsd_reads_it(value) {
                self.working.set_keeping_flags(STATUS_VARIABLE, &published);
            }
            return Ok(());
        }
        if is_driver_variable(name) {
            return Err(DeviceError::Invalid(format!("{name} is set by the driver, not by clients")));
        }
        let Some(variable) = self.working.variable(name) else {
            // dummy-ups only lets clients change variables that exist.
            return Err(DeviceError::Unknown);
        };
        if !variable.flags.is_some_and(|flags| flags.writable) {
            return Err(DeviceError::Invalid(format!("{name} is read-only")));
        }
        if value.is_empty() {
            // As in dummy-ups' setvar(): an empty value removes the variable.
            self.working.remove_variable(name);
        } else if let Some(published) = value_as_upsd_reads_it(value) {
            self.working.set_with_table_flags(name, &published);
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
        Ok(Some(0))
    }

    /// Read and compile the file; log its problems once per content, and
    /// set the advertised commands: `load.off`, plus the `#CMD:` ones when
    /// the `cmd_comments` flag is set.
    fn load(&mut self, stat: FileStat, host: &mut impl Host) -> Result<(), FileError> {
        let bytes = host.read(&self.settings.port)?;
        let script = Script::compile(&bytes);
        for warning in &script.warnings {
            host.log(LogLevel::Warn, &format!("{}: {}", self.settings.port, warning));
        }
        let mut commands = BTreeMap::new();
        commands.insert(ALWAYS_ADVERTISED_COMMAND.to_string(), ALWAYS_ADVERTISED_COMMAND.to_string());
        if self.settings.cmd_comments {
            for command in &script.commands {
                commands.entry(command.to_ascii_lowercase()).or_insert_with(|| command.clone());
            }
        }
        self.working.commands = commands;
        self.loaded = Some(LoadedFile { stat, script });
        Ok(())
    }

    /// NUT's start-up copy of `ups.*` identity into `device.*`: the value
    /// overwrites whatever the file gave, the flags stay (a `device.*` line
    /// made it `RW STRING:32`; a pure copy has none).
    fn copy_device_identity(&mut self) {
        for (source, copy) in DEVICE_COPIES {
            if let Some(value) = self.working.variable(source).map(|v| v.value.clone()) {
                self.working.set_keeping_flags(copy, &value);
            }
        }
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
                    self.progress = Progress::Paused { next_step, resume_at_ms };
                    return;
                }
                Statement::Alarm(Some(text)) => working.add_alarm(text),
                Statement::Alarm(None) => working.alarms.clear(),
                // status_commit() is a dstate_setinfo(): even "" is published.
                Statement::StatusLine(value) => working.set_keeping_flags(STATUS_VARIABLE, value),
                Statement::SetVar { name, value } if value.is_empty() => {
                    working.remove_variable(name);
                }
                Statement::SetVar { name, value } => working.set_with_table_flags(name, value),
            }
        }
    }

    /// The changes that turn the published state into the working state;
    /// afterwards they are the same.
    fn take_changes(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        let working = &self.working;
        let mut published = core::mem::take(&mut self.published.variables);

        // `set-alarms` first: the host answers it by rewriting `ups.alarm`
        // and rebuilding `ups.status` from status tokens (none here). Both
        // are then sent again below, so the verbatim values stay.
        if working.alarms != self.published.alarms {
            changes.push(Change::SetAlarms(working.alarms.clone()));
            published.remove(STATUS_VARIABLE);
            published.remove(ALARM_VARIABLE);
            if !working.alarms.is_empty() && working.variable(ALARM_VARIABLE).is_none() {
                // The host created ups.alarm; dummy-ups' flags for it.
                changes.push(Change::SetMeta(meta(ALARM_VARIABLE, known_vars::flags_for(ALARM_VARIABLE))));
            }
        }

        for (key, variable) in &published {
            if !working.variables.contains_key(key) {
                changes.push(Change::Remove(variable.name.clone()));
            }
        }
        for (key, variable) in &working.variables {
            let mut old = published.get(key);
            // set-meta cannot take flags away: re-create the variable.
            if old.is_some_and(|old| old.flags.is_some() && variable.flags.is_none()) {
                changes.push(Change::Remove(variable.name.clone()));
                old = None;
            }
            if old.is_none_or(|old| old.value != variable.value) {
                changes.push(Change::SetValue(variable.name.clone(), variable.value.clone()));
            }
            // Flags follow the value: the host drops them with the variable.
            if let Some(flags) = variable.flags
                && old.is_none_or(|old| old.flags != variable.flags)
            {
                changes.push(Change::SetMeta(meta(&variable.name, flags)));
            }
        }
        for (key, command) in &self.published.commands {
            if !working.commands.contains_key(key) {
                changes.push(Change::RemoveCommand(command.clone()));
            }
        }
        for (key, command) in &working.commands {
            if !self.published.commands.contains_key(key) {
                changes.push(Change::AddCommand(command.clone()));
            }
        }
        self.published = self.working.clone();
        changes
    }

    /// Describe a file problem as the device error `kind` makes.
    fn file_failure(&self, error: &FileError, kind: fn(String) -> DeviceError) -> DeviceError {
        kind(format!("can't read dummy-ups definition file {}: {}", self.settings.port, error))
    }
}

/// WIT metadata for `name` with `flags`.
fn meta(name: &str, flags: Flags) -> VarMeta {
    VarMeta { name: name.to_string(), writable: flags.writable, string_max_len: flags.string_max_len }
}

/// The value upsd ends up with after a client sets `value`: dummy-ups 2.8.0
/// sends it back to upsd as `SETINFO <var> "<value>"` without escaping, and
/// upsd tokenizes that line, keeping its first word (facts §g). So an inner
/// `"` cuts the value and a `\` escapes the next character. `None` when upsd
/// keeps the old value: an unescaped `#` inside the quotes makes the line a
/// parse error, and a trailing backslash leaves the quote open (real upsd then
/// swallows the driver's next message into the value: not imitated).
pub fn value_as_upsd_reads_it(value: &str) -> Option<String> {
    let line = format!("SETINFO x \"{value}\"\n");
    if matches!(crate::dev_file::tokenize(line.as_bytes()).first(), Some(Err(_))) {
        return None;
    }
    let mut word = Vec::new();
    let mut bytes = value.bytes();
    loop {
        match bytes.next() {
            // The closing quote upsd sees is the one dummy-ups appends.
            None | Some(b'"') => break,
            Some(b'\\') => word.push(bytes.next()?),
            Some(byte) => word.push(byte),
        }
    }
    // upsd keeps printable ASCII only, up to its word length limit.
    word.retain(|byte| (0x20..=0x7f).contains(byte));
    word.truncate(crate::dev_file::MAX_TOKEN_LEN);
    Some(word.into_iter().map(char::from).collect())
}
