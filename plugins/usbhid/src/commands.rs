//! Instant commands, variable writes and the kill-power chain.
//!
//! A command row writes its value (or the command's parameter, or the
//! configured delay) to its path: the Feature report is read, the field
//! replaced, and the report sent back, so the other fields of the report
//! keep their values. Commands without a row of their own fall back as NUT
//! does: `load.off` = `load.off.delay 0`, `load.on` = `load.on.delay 0`,
//! `shutdown.return` = (`ups.start.auto=yes`) `load.on.delay ondelay`, pause
//! 125 ms, `load.off.delay offdelay`; `shutdown.stayoff` the same with
//! `load.on.delay -1` (and `ups.start.auto=no`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::descriptor::Field;
use crate::device::{DeviceError, HidDevice};
use crate::mapping::{Action, CommandValue, Convert, Default, DelaySource, RW};
use crate::report;
use crate::session::{Session, format_decimals};

/// Why a command or write failed (NUT's instcmd/setvar results).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The device has no such command or variable.
    Unknown,
    /// The value or parameter is not acceptable.
    InvalidValue,
    /// The device refused or failed the transfer.
    Device(DeviceError),
}

/// NUT's pause between the two delays of `shutdown.return`/`stayoff`.
pub const SHUTDOWN_PAUSE_MS: u32 = 125;

/// Write a physical value to a field (read-modify-write of its report).
pub fn write_field(session: &Session, dev: &mut dyn HidDevice, field: &Field, value: f64) -> Result<(), CommandError> {
    let ids = session.descriptor.uses_report_ids;
    let len = session.descriptor.report_len(field.report_id, field.kind).ok_or(CommandError::Unknown)?;
    // Start from the device's current report so sibling fields are kept; a
    // device that cannot be read gets zeros around the field.
    let mut data = dev.get_feature_report(field.report_id).unwrap_or_default();
    data.resize(len, 0);
    if ids {
        data[0] = field.report_id;
    }
    if !report::write(report::payload_mut(&mut data, ids), field, value) {
        return Err(CommandError::InvalidValue);
    }
    dev.set_feature_report(field.report_id, &data).map_err(CommandError::Device)
}

fn parse_number(s: &str) -> Result<f64, CommandError> {
    s.trim().parse::<f64>().map_err(|_| CommandError::InvalidValue)
}

/// Run an instant command, with its optional parameter.
pub fn instcmd(
    session: &mut Session,
    dev: &mut dyn HidDevice,
    name: &str,
    param: Option<&str>,
) -> Result<(), CommandError> {
    if let Some((row, field)) = session.command(name) {
        let Action::Command(v) = row.action else { return Err(CommandError::Unknown) };
        let value = match (param, v) {
            (Some(p), CommandValue::OffDelay | CommandValue::OnDelay) => parse_number(p)?,
            (_, CommandValue::OffDelay) => session.offdelay() as f64,
            (_, CommandValue::OnDelay) => session.ondelay() as f64,
            (_, CommandValue::Fixed(x)) => x as f64,
            (param, CommandValue::Word(source, word)) => {
                let seconds = match (param, source) {
                    (Some(p), DelaySource::Off | DelaySource::On) => parse_number(p)? as i64,
                    (_, DelaySource::Off) => session.offdelay(),
                    (_, DelaySource::On) => session.ondelay(),
                    (_, DelaySource::Fixed(s)) => s,
                };
                word.encode(seconds).ok_or(CommandError::InvalidValue)? as f64
            }
        };
        let field = field.clone();
        return write_field(session, dev, &field, value);
    }
    match name {
        "load.off" => instcmd(session, dev, "load.off.delay", Some("0")),
        "load.on" => instcmd(session, dev, "load.on.delay", Some("0")),
        "shutdown.return" | "shutdown.stayoff" => {
            if session.command("load.off.delay").is_none() || session.command("load.on.delay").is_none() {
                return Err(CommandError::Unknown);
            }
            let stay_off = name == "shutdown.stayoff";
            if session.is_writable("ups.start.auto") {
                // Best effort, as NUT: the delays below are what matters.
                let _ = set_var(session, dev, "ups.start.auto", if stay_off { "no" } else { "yes" });
            }
            let on = if stay_off { String::from("-1") } else { format!("{}", session.ondelay()) };
            instcmd(session, dev, "load.on.delay", Some(&on))?;
            dev.pause(SHUTDOWN_PAUSE_MS);
            let off = format!("{}", session.offdelay());
            instcmd(session, dev, "load.off.delay", Some(&off))
        }
        _ => Err(CommandError::Unknown),
    }
}

/// Write a variable (SET VAR).
pub fn set_var(session: &mut Session, dev: &mut dyn HidDevice, name: &str, value: &str) -> Result<(), CommandError> {
    let (row, field) = session.variable(name).ok_or(CommandError::Unknown)?;
    if row.flags & RW == 0 {
        return Err(CommandError::Unknown);
    }
    match row.action {
        // The delays live in the driver, not in the device.
        Action::Default(d) => {
            if matches!(d, Default::OffDelay | Default::OnDelay) {
                let n = parse_number(value)?;
                let n = n as i64;
                match d {
                    Default::OffDelay => session.settings.offdelay = Some(n),
                    _ => session.settings.ondelay = Some(n),
                }
                session.set_published(name, format!("{n}"));
            } else {
                session.set_published(name, value.into());
            }
            Ok(())
        }
        Action::Var(c) => {
            let physical = match c {
                Convert::Lookup(table) => {
                    table.iter().find(|(_, t)| *t == value).map(|(k, _)| *k as f64).ok_or(CommandError::InvalidValue)?
                }
                Convert::Decimals(_) => parse_number(value)?,
                Convert::KelvinToCelsius => parse_number(value)? + 273.15,
                _ => return Err(CommandError::InvalidValue),
            };
            let field = field.clone();
            write_field(session, dev, &field, physical)?;
            let shown = match c {
                Convert::Decimals(n) => format_decimals(physical, n),
                _ => value.into(),
            };
            session.set_published(name, shown);
            Ok(())
        }
        _ => Err(CommandError::Unknown),
    }
}

/// NUT's default late-shutdown chain (`usbhid-ups -k`): the first command of
/// `shutdown.return`, `shutdown.reboot`, `load.off.delay`,
/// `shutdown.stayoff` that succeeds. Returns the command used.
pub fn kill_power(
    session: &mut Session,
    dev: &mut dyn HidDevice,
) -> Result<&'static str, Vec<(&'static str, CommandError)>> {
    let mut failures = Vec::new();
    for cmd in ["shutdown.return", "shutdown.reboot", "load.off.delay", "shutdown.stayoff"] {
        match instcmd(session, dev, cmd, None) {
            Ok(()) => return Ok(cmd),
            Err(e) => failures.push((cmd, e)),
        }
    }
    Err(failures)
}
