//! One Megatec UPS: detection at `init`, polling, instant commands, the
//! writable delays and the late shutdown.
//!
//! Each poll sends one `Q1`. Status flags follow every poll; the other
//! values only every `pollfreq` seconds (nutdrv_qx's quick and full
//! updates). A failed poll (no reply, garbage, a cut or echoed reply) keeps
//! the published data until [`FAILURES_BEFORE_STALE`] polls in a row have
//! failed; then `update` reports the UPS unreachable and the host marks the
//! data stale. One good reply recovers.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::api::{Change, CyclesOnMains, DeviceError, Host, LogLevel, ValueRange};
use crate::battery::{RuntimeModel, charge_from_voltage, guessed_limits};
use crate::protocol::{self, Identity, Ratings, Regulation, ReplyError, StatusReply};
use crate::protocol::{round_offdelay, round_ondelay};
use crate::settings::{OFFDELAY_RANGE, ONDELAY_RANGE, Settings, parse_delay};

/// How long to wait for a reply (or to conclude a command has none), ms.
pub const REPLY_TIMEOUT_MS: u32 = 1000;
/// Consecutive failed polls after which the data goes stale (observed on
/// nutdrv_qx: four failed polls keep the data, the fifth makes it stale).
pub const FAILURES_BEFORE_STALE: u32 = 5;
/// Attempts at each query during detection, and at the late shutdown.
pub const ATTEMPTS: u32 = 3;
/// Published as `driver.version.data`, as nutdrv_qx names its megatec table.
pub const DATA_VERSION: &str = "Megatec 0.06";

/// The instant commands, as nutdrv_qx advertises them for megatec.
pub const COMMANDS: &[&str] = &[
    "beeper.toggle",
    "load.off",
    "load.on",
    "shutdown.return",
    "shutdown.stayoff",
    "shutdown.stop",
    "test.battery.start",
    "test.battery.start.deep",
    "test.battery.start.quick",
    "test.battery.stop",
];

/// Alarm for the UPS-failed bit (b4).
pub const ALARM_UPS_FAILED: &str = "UPS selftest failed!";
/// Alarm for the shutdown-active bit (b1).
pub const ALARM_SHUTDOWN_ACTIVE: &str = "Shutdown imminent!";

/// How [`MegatecDevice::kill_power`] leaves the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillMode {
    /// `shutdown.return`'s bytes.
    ReturnOnMains,
    /// `shutdown.stayoff`'s bytes.
    StayOff,
}

/// One Megatec UPS and what has been published about it.
#[derive(Debug)]
pub struct MegatecDevice {
    settings: Settings,
    identity: Option<Identity>,
    /// `ups.delay.start`, seconds.
    ondelay: u32,
    /// `ups.delay.shutdown`, seconds.
    offdelay: u32,
    /// (`battery.voltage.low`, `battery.voltage.high`), when known.
    battery_limits: Option<(f64, f64)>,
    runtime: Option<RuntimeModel>,
    /// Changes decided at `init`, returned by the first `update`.
    pending: Vec<Change>,
    published: BTreeMap<String, String>,
    status_tokens: Option<Vec<String>>,
    alarms: Option<Vec<String>>,
    ups_type_published: bool,
    consecutive_failures: u32,
    last_full_update_ms: Option<u64>,
}

/// Send `query` and parse its reply with `parse`, logging a failure.
fn query<T>(host: &mut dyn Host, query: &str, parse: impl Fn(&[u8]) -> Result<T, ReplyError>) -> Result<T, ReplyError> {
    match host.transact(query, REPLY_TIMEOUT_MS) {
        Ok(reply) => parse(&reply).inspect_err(|error| {
            host.log(LogLevel::Debug, &format!("{query}: {error}: {:?}", String::from_utf8_lossy(&reply)));
        }),
        Err(error) => {
            host.log(LogLevel::Debug, &format!("{query}: {error}"));
            // Counted like silence; the reason is in the log line above.
            Err(ReplyError::NoReply)
        }
    }
}

fn query_with_retries<T>(
    host: &mut dyn Host,
    command: &str,
    parse: impl Fn(&[u8]) -> Result<T, ReplyError>,
) -> Result<T, ReplyError> {
    let mut result = Err(ReplyError::NoReply);
    for _ in 0..ATTEMPTS {
        result = query(host, command, &parse);
        if result.is_ok() {
            break;
        }
    }
    result
}

/// `value` with one decimal, two, or none, as nutdrv_qx prints each variable.
fn fixed(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

impl MegatecDevice {
    /// Detect the UPS and read what does not change: identification (`I`,
    /// unless `novendor`) and ratings (`F`, unless `norating`).
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unreachable`] when the UPS does not answer `Q1` (or
    /// `I`) as a Megatec UPS does, naming what it answered.
    pub fn open(settings: Settings, host: &mut dyn Host) -> Result<Self, DeviceError> {
        let (dtr, rts) = settings.modem_lines;
        if let Err(error) = host.set_modem_lines(dtr, rts) {
            host.log(LogLevel::Warn, &format!("cablepower: could not set DTR/RTS: {error}"));
        }
        if !settings.ignored.is_empty() {
            let names = settings.ignored.join(", ");
            host.log(LogLevel::Info, &format!("options without effect on a megatec serial UPS: {names}"));
        }
        query_with_retries(host, protocol::STATUS_QUERY, protocol::parse_status).map_err(|error| {
            DeviceError::Unreachable(format!("Megatec UPS not detected: no valid reply to Q1 ({error})"))
        })?;
        let identity = if settings.novendor {
            None
        } else {
            Some(query_with_retries(host, protocol::IDENTITY_QUERY, protocol::parse_identity).map_err(|error| {
                DeviceError::Unreachable(format!(
                    "Megatec UPS not detected: no valid reply to I ({error}); set 'novendor' to skip it"
                ))
            })?)
        };
        let ratings = if settings.norating {
            None
        } else {
            let ratings = query_with_retries(host, protocol::RATINGS_QUERY, protocol::parse_ratings);
            if let Err(error) = &ratings {
                host.log(LogLevel::Warn, &format!("no ratings from the UPS (F: {error}); continuing without them"));
            }
            ratings.ok()
        };
        Ok(Self::with_facts(settings, identity, ratings, host))
    }

    fn with_facts(
        settings: Settings,
        identity: Option<Identity>,
        ratings: Option<Ratings>,
        host: &mut dyn Host,
    ) -> Self {
        let rated_battery = ratings.as_ref().and_then(|r| r.battery_voltage);
        let nominal_battery = settings.battery_voltage_nominal.or(rated_battery);
        // Limits from ups.conf are published by the host as written; only guessed ones are published here.
        let mut guessed_battery_limits = false;
        let battery_limits = match (settings.battery_voltage_low, settings.battery_voltage_high, nominal_battery) {
            (Some(low), Some(high), _) => Some((low, high)),
            (_, _, Some(nominal)) => {
                guessed_battery_limits = true;
                let (low, high) = guessed_limits(nominal);
                host.log(
                    LogLevel::Info,
                    &format!("no battery high/low voltages: guessing low {low:.2} V, high {high:.2} V"),
                );
                Some((low, high))
            }
            _ => {
                host.log(LogLevel::Info, "no battery voltages known: battery.charge will not be estimated");
                None
            }
        };
        let runtime = match (settings.runtimecal, battery_limits) {
            (Some(calibration), Some(_)) => {
                Some(RuntimeModel::new(calibration, settings.chargetime, settings.idleload))
            }
            (Some(_), None) => {
                host.log(LogLevel::Warn, "runtimecal set but the battery voltages are unknown: no runtime estimate");
                None
            }
            (None, _) => None,
        };

        let mut pending = vec![
            Change::SetValue("device.type".into(), "ups".into()),
            Change::SetValue("driver.version.data".into(), DATA_VERSION.into()),
            Change::SetValue("driver.parameter.pollfreq".into(), settings.pollfreq.to_string()),
        ];
        if let Some(identity) = &identity {
            for (name, value) in [
                ("device.mfr", &identity.manufacturer),
                ("device.model", &identity.model),
                ("ups.firmware", &identity.firmware),
            ] {
                if let Some(value) = value {
                    pending.push(Change::SetValue(name.into(), value.clone()));
                }
            }
        }
        if let Some(ratings) = &ratings {
            for (name, value, decimals) in [
                ("input.voltage.nominal", ratings.input_voltage, 0),
                ("input.current.nominal", ratings.input_current, 1),
                ("input.frequency.nominal", ratings.input_frequency, 0),
            ] {
                if let Some(value) = value {
                    pending.push(Change::SetValue(name.into(), fixed(value, decimals)));
                }
            }
        }
        // A configured nominal voltage is the host's to publish (as written); F's is published here.
        if let Some(nominal) = rated_battery {
            pending.push(Change::SetValue("battery.voltage.nominal".into(), fixed(nominal, 1)));
        }
        if let (Some((low, high)), true) = (battery_limits, guessed_battery_limits) {
            pending.push(Change::SetValue("battery.voltage.high".into(), fixed(high, 2)));
            pending.push(Change::SetValue("battery.voltage.low".into(), fixed(low, 2)));
        }
        let (ondelay, offdelay) = (settings.ondelay, settings.offdelay);
        for (name, value, (min, max)) in
            [("ups.delay.shutdown", offdelay, OFFDELAY_RANGE), ("ups.delay.start", ondelay, ONDELAY_RANGE)]
        {
            pending.push(Change::SetValue(name.into(), value.to_string()));
            pending.push(Change::SetWritableNumber(name.into()));
            pending.push(Change::SetRanges(name.into(), vec![ValueRange { min: min.into(), max: max.into() }]));
        }
        pending.extend(COMMANDS.iter().map(|&command| Change::AddCommand(command.into())));

        MegatecDevice {
            settings,
            identity,
            ondelay,
            offdelay,
            battery_limits,
            runtime,
            pending,
            published: BTreeMap::new(),
            status_tokens: None,
            alarms: None,
            ups_type_published: false,
            consecutive_failures: 0,
            last_full_update_ms: None,
        }
    }

    /// Manufacturer, model and serial for the host (`I` has no serial).
    pub fn identity(&self) -> (Option<String>, Option<String>, Option<String>) {
        match &self.identity {
            Some(identity) => (identity.manufacturer.clone(), identity.model.clone(), None),
            None => (None, None, None),
        }
    }

    /// Consecutive failed polls so far.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    fn set(&mut self, changes: &mut Vec<Change>, name: &str, value: String) {
        if self.published.get(name) != Some(&value) {
            self.published.insert(name.to_string(), value.clone());
            changes.push(Change::SetValue(name.to_string(), value));
        }
    }

    /// Poll the UPS: what changed since the last call.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unreachable`] once [`FAILURES_BEFORE_STALE`] polls in
    /// a row failed.
    pub fn update(&mut self, host: &mut dyn Host) -> Result<Vec<Change>, DeviceError> {
        let mut changes = core::mem::take(&mut self.pending);
        for change in &changes {
            if let Change::SetValue(name, value) = change {
                self.published.insert(name.clone(), value.clone());
            }
        }
        let status = match query(host, protocol::STATUS_QUERY, protocol::parse_status) {
            Ok(status) => status,
            Err(error) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures >= FAILURES_BEFORE_STALE {
                    if self.consecutive_failures == FAILURES_BEFORE_STALE {
                        host.log(LogLevel::Warn, "Communications with the UPS lost: status read failed!");
                    }
                    return Err(DeviceError::Unreachable(format!(
                        "no valid status reply from the UPS in {} polls (last: {error})",
                        self.consecutive_failures
                    )));
                }
                return Ok(changes);
            }
        };
        if self.consecutive_failures >= FAILURES_BEFORE_STALE {
            host.log(LogLevel::Info, "Communications with the UPS re-established");
        }
        self.consecutive_failures = 0;

        let now = host.monotonic_ms();
        let full = self
            .last_full_update_ms
            .is_none_or(|last| now.saturating_sub(last) / 1000 > u64::from(self.settings.pollfreq));
        self.publish_status(&status, &mut changes);
        if full {
            self.last_full_update_ms = Some(now);
            self.publish_values(&status, now, &mut changes);
        }
        Ok(changes)
    }

    /// Status tokens, alarms, beeper and (once) the UPS type: every poll.
    fn publish_status(&mut self, status: &StatusReply, changes: &mut Vec<Change>) {
        let mut tokens = vec![if status.utility_fail { "OB" } else { "OL" }];
        if status.battery_low {
            tokens.push("LB");
        }
        match status.regulation {
            Some(Regulation::Trim) => tokens.push("TRIM"),
            Some(Regulation::Bypass) => tokens.push("BYPASS"),
            Some(Regulation::Boost) => tokens.push("BOOST"),
            None => {}
        }
        if status.test_in_progress {
            tokens.push("CAL");
        }
        let shutdown_active = status.shutdown_active && !self.settings.ignoresab;
        if shutdown_active {
            tokens.push("FSD");
        }
        let tokens: Vec<String> = tokens.into_iter().map(String::from).collect();
        if self.status_tokens.as_ref() != Some(&tokens) {
            self.status_tokens = Some(tokens.clone());
            changes.push(Change::SetStatus(tokens));
        }
        let mut alarms = Vec::new();
        if status.ups_failed {
            alarms.push(ALARM_UPS_FAILED.to_string());
        }
        if shutdown_active {
            alarms.push(ALARM_SHUTDOWN_ACTIVE.to_string());
        }
        if self.alarms.as_ref() != Some(&alarms) {
            self.alarms = Some(alarms.clone());
            changes.push(Change::SetAlarms(alarms));
        }
        if let Some(beeper_on) = status.beeper_on {
            self.set(changes, "ups.beeper.status", (if beeper_on { "enabled" } else { "disabled" }).into());
        }
        // nutdrv_qx sets the type once and keeps it.
        if !self.ups_type_published {
            self.ups_type_published = true;
            let kind = if status.line_interactive { "offline / line interactive" } else { "online" };
            self.set(changes, "ups.type", kind.into());
        }
    }

    /// Measurements, delays and the battery estimate: every `pollfreq`.
    fn publish_values(&mut self, status: &StatusReply, now: u64, changes: &mut Vec<Change>) {
        for (name, value, decimals) in [
            ("input.voltage", status.input_voltage, 1),
            ("input.voltage.fault", status.input_voltage_fault, 1),
            ("output.voltage", status.output_voltage, 1),
            ("ups.load", status.load, 0),
            ("input.frequency", status.input_frequency, 1),
            ("battery.voltage", status.battery_voltage, 2),
            ("ups.temperature", status.temperature, 1),
        ] {
            if let Some(value) = value {
                self.set(changes, name, fixed(value, decimals));
            }
        }
        self.set(changes, "ups.delay.shutdown", self.offdelay.to_string());
        self.set(changes, "ups.delay.start", self.ondelay.to_string());

        let (Some((low, high)), Some(voltage)) = (self.battery_limits, status.battery_voltage) else {
            return;
        };
        let voltage_charge = charge_from_voltage(voltage, low, high);
        let estimate = match &mut self.runtime {
            Some(model) if model.started() => model.advance(now, status.utility_fail, status.load.unwrap_or(0.0)),
            Some(model) => {
                model.start(voltage_charge, now);
                None
            }
            None => None,
        };
        match estimate {
            Some((charge, runtime)) => {
                self.set(changes, "battery.charge", fixed(charge, 0));
                self.set(changes, "battery.runtime", fixed(runtime, 0));
            }
            None => self.set(changes, "battery.charge", fixed(voltage_charge, 0)),
        }
    }

    /// Send a command that has no reply; an echo means the UPS refused it.
    fn send_command(&mut self, command: &str, host: &mut dyn Host) -> Result<(), DeviceError> {
        match host.transact(command, REPLY_TIMEOUT_MS) {
            Ok(reply) if reply.strip_suffix(b"\r") == Some(command.as_bytes()) => {
                Err(DeviceError::Failed(format!("the UPS refused '{command}' (echoed it back)")))
            }
            Ok(_) => Ok(()),
            Err(error) => Err(DeviceError::Failed(format!("'{command}' not sent: {error}"))),
        }
    }

    /// The bytes (without `\r`) an instant command sends.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unknown`] for a command this plugin does not have;
    /// [`DeviceError::Failed`] for a battery test duration out of range.
    pub fn command_bytes(&self, name: &str, argument: Option<&str>) -> Result<String, DeviceError> {
        Ok(match name {
            "beeper.toggle" => "Q".into(),
            "load.off" => "S00R0000".into(),
            "load.on" | "shutdown.stop" => "C".into(),
            "shutdown.return" => protocol::shutdown_return_command(self.offdelay, self.ondelay),
            "shutdown.stayoff" => protocol::shutdown_stayoff_command(self.offdelay),
            "test.battery.start" => protocol::battery_test_command(argument).map_err(DeviceError::Failed)?,
            "test.battery.start.deep" => "TL".into(),
            "test.battery.start.quick" => "T".into(),
            "test.battery.stop" => "CT".into(),
            _ => return Err(DeviceError::Unknown),
        })
    }

    /// Run an instant command.
    ///
    /// # Errors
    ///
    /// As [`MegatecDevice::command_bytes`], and [`DeviceError::Failed`] when
    /// the UPS echoes the command or the port fails.
    pub fn instcmd(&mut self, name: &str, argument: Option<&str>, host: &mut dyn Host) -> Result<(), DeviceError> {
        let command = self.command_bytes(name, argument)?;
        self.send_command(&command, host)
    }

    /// Set `ups.delay.shutdown` or `ups.delay.start` (seconds); the value
    /// is rounded as the UPS can do it and published by the next update.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Unknown`] for another variable, [`DeviceError::Invalid`]
    /// for a value that is not a number in range.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), DeviceError> {
        let (range, slot, round): (_, &mut u32, fn(u32) -> u32) = match name {
            "ups.delay.shutdown" => (OFFDELAY_RANGE, &mut self.offdelay, round_offdelay),
            "ups.delay.start" => (ONDELAY_RANGE, &mut self.ondelay, round_ondelay),
            _ => return Err(DeviceError::Unknown),
        };
        let seconds = parse_delay(value, range).ok_or_else(|| {
            DeviceError::Invalid(format!("{name}: '{value}' is not a number in [{}..{}]", range.0, range.1))
        })?;
        *slot = round(seconds);
        Ok(())
    }

    /// What this UPS does with [`KillMode::ReturnOnMains`] while mains is
    /// present: `Yes`. The Megatec `S<n>R<m>` command switches the output off
    /// after n minutes and back on m minutes later whether the UPS is on line
    /// or on battery; NUT lists Megatec `SnRm` among the commands that
    /// power-cycle regardless of line state (spec shutdown.md §9). Every
    /// Megatec model answers the same, so nothing learned at `init` changes it.
    pub fn cycles_on_mains(&self) -> CyclesOnMains {
        CyclesOnMains::Yes
    }

    /// Late shutdown: cancel any pending shutdown (`C`), then send
    /// `shutdown.return`'s or `shutdown.stayoff`'s bytes, retried on failure.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Failed`] when every attempt failed.
    pub fn kill_power(&mut self, mode: KillMode, host: &mut dyn Host) -> Result<(), DeviceError> {
        if let Err(error) = self.send_command("C", host) {
            host.log(LogLevel::Warn, &format!("kill-power: cancelling a pending shutdown failed: {error:?}"));
        }
        let name = match mode {
            KillMode::ReturnOnMains => "shutdown.return",
            KillMode::StayOff => "shutdown.stayoff",
        };
        let mut result = Err(DeviceError::Failed("not attempted".into()));
        for _ in 0..ATTEMPTS {
            result = self.instcmd(name, None, host);
            if result.is_ok() {
                break;
            }
        }
        result
    }
}
