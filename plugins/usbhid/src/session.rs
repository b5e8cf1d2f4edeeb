//! One open device: its descriptor, its subdriver's rows resolved against
//! it, cached reports, status flags and the published variables.
//!
//! [`Session::open`] does NUT's init walk (every row once; for each variable
//! the first row that publishes wins, the others are dropped);
//! [`Session::full_update`] re-reads all but `STATIC` rows,
//! [`Session::quick_update`] only `QUICK_POLL` rows, and
//! [`Session::interrupt_report`] applies an interrupt-pipe report at once, so
//! status changes are published without waiting for the next poll.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::descriptor::{self, DescriptorError, Field, ReportDescriptor, ReportKind};
use crate::device::{DeviceError, HidDevice, UsbIdentity};
use crate::mapping::{self, Action, Convert, Default, Row, Subdriver};
use crate::report;
use crate::status::{self, OnlineDischarge, StatusFlags};

/// Most interrupt reports applied by one [`Session::poll_interrupts`] call.
pub const MAX_INTERRUPTS_PER_CALL: usize = 32;

/// Driver options that change what is published or written.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `offdelay` (s): `ups.delay.shutdown`; `None`: the subdriver's default
    /// (20, CyberPower's 60).
    pub offdelay: Option<i64>,
    /// `ondelay` (s): `ups.delay.start`; `None`: the subdriver's default
    /// (30, CyberPower's 120).
    pub ondelay: Option<i64>,
    /// `onlinedischarge_onbattery` / `onlinedischarge_calibration`.
    pub online_discharge: OnlineDischarge,
    /// `subdriver=`: force a subdriver by name instead of the vendor id.
    pub subdriver: Option<String>,
}

impl core::default::Default for Settings {
    fn default() -> Self {
        Settings { offdelay: None, ondelay: None, online_discharge: OnlineDischarge::Online, subdriver: None }
    }
}

/// Why a device could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// No subdriver claims the vendor id (or the named one does not exist).
    NoSubdriver(u16),
    /// The descriptor is malformed.
    Descriptor(DescriptorError),
    /// The device failed.
    Device(DeviceError),
}

/// A row resolved against the descriptor.
#[derive(Clone, Copy, Debug)]
struct Active {
    row: &'static Row,
    /// Index of the field the row reads/writes.
    field: usize,
}

/// An open device.
#[derive(Debug)]
pub struct Session {
    /// The subdriver in use.
    pub subdriver: &'static Subdriver,
    /// The parsed (and fixed-up) descriptor.
    pub descriptor: ReportDescriptor,
    /// Path string of every field, same order.
    pub paths: Vec<String>,
    /// Settings in force.
    pub settings: Settings,
    rows: Vec<Active>,
    reports: BTreeMap<u8, Vec<u8>>,
    flags: StatusFlags,
    vars: BTreeMap<String, String>,
    /// Rows of the instant commands, first present path per name.
    commands: Vec<Active>,
    /// USB product id (some vendor conversions depend on the model).
    product_id: u16,
    /// CyberPower's battery-voltage factor, once decided.
    battery_scale: Option<f64>,
}

/// Which rows a walk reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    Init,
    Full,
    Quick,
}

impl Session {
    /// Open a device: parse its descriptor, pick the subdriver, publish
    /// identity variables and do the init walk.
    pub fn open(dev: &mut dyn HidDevice, settings: Settings) -> Result<Session, OpenError> {
        let id = dev.identity();
        let subdriver = match &settings.subdriver {
            Some(name) => mapping::subdriver_named(name),
            None => mapping::subdriver_for(id.vendor_id),
        }
        .ok_or(OpenError::NoSubdriver(id.vendor_id))?;
        let bytes = dev.report_descriptor().map_err(OpenError::Device)?;
        let mut descriptor = descriptor::parse(&bytes).map_err(OpenError::Descriptor)?;
        if let Some(fix) = subdriver.fixup {
            fix(&mut descriptor, id.product_id);
        }
        let paths: Vec<String> = descriptor.fields.iter().map(|f| subdriver.names.path_string(&f.path)).collect();
        let mut s = Session {
            subdriver,
            descriptor,
            paths,
            settings,
            rows: Vec::new(),
            reports: BTreeMap::new(),
            flags: StatusFlags::default(),
            vars: BTreeMap::new(),
            commands: Vec::new(),
            product_id: id.product_id,
            battery_scale: None,
        };
        for rows in subdriver.rows {
            for row in *rows {
                let Some(field) = s.field_index(row.path) else { continue };
                let active = Active { row, field };
                match row.action {
                    Action::Command(_) => {
                        if !s.commands.iter().any(|c| c.row.name == row.name) {
                            s.commands.push(active);
                        }
                    }
                    _ => s.rows.push(active),
                }
            }
        }
        s.publish_identity(&id);
        s.walk(dev, Walk::Init);
        Ok(s)
    }

    fn field_index(&self, path: &str) -> Option<usize> {
        let f = mapping::find_field(&self.descriptor.fields, &self.paths, path)?;
        self.descriptor.fields.iter().position(|g| core::ptr::eq(g, f))
    }

    fn publish_identity(&mut self, id: &UsbIdentity) {
        self.vars.insert("device.type".into(), "ups".into());
        self.vars.insert("ups.vendorid".into(), format!("{:04x}", id.vendor_id));
        self.vars.insert("ups.productid".into(), format!("{:04x}", id.product_id));
        for (value, names) in [
            (&id.manufacturer, ["device.mfr", "ups.mfr"]),
            (&id.product, ["device.model", "ups.model"]),
            (&id.serial, ["device.serial", "ups.serial"]),
        ] {
            if let Some(v) = value {
                for n in names {
                    self.vars.insert(n.into(), v.trim().to_string());
                }
            }
        }
    }

    /// `ups.delay.shutdown` in force: the option (or a SET VAR), else the subdriver's default.
    pub fn offdelay(&self) -> i64 {
        self.settings.offdelay.unwrap_or(self.subdriver.delays.0)
    }

    /// `ups.delay.start` in force: the option (or a SET VAR), else the subdriver's default.
    pub fn ondelay(&self) -> i64 {
        self.settings.ondelay.unwrap_or(self.subdriver.delays.1)
    }

    /// The published variables.
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// The status flags as last derived.
    pub fn status_flags(&self) -> StatusFlags {
        self.flags
    }

    /// The `ups.status` tokens as last derived.
    pub fn status_tokens(&self) -> Vec<&'static str> {
        let charge = self.vars.get("battery.charge").and_then(|c| c.parse::<f64>().ok());
        status::status_tokens(self.flags, charge, self.settings.online_discharge)
    }

    /// The active alarm texts (`ups.alarm`), in NUT's order.
    pub fn alarms(&self) -> Vec<&'static str> {
        status::alarms(self.flags)
    }

    /// The writable variables this device publishes, each with its accepted
    /// values when the row enumerates them (NUT's `ENUM` rows).
    pub fn writable_variables(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for a in &self.rows {
            let row = a.row;
            if row.flags & mapping::RW == 0
                || !self.vars.contains_key(row.name)
                || out.iter().any(|(n, _)| *n == row.name)
            {
                continue;
            }
            let values = match row.action {
                Action::Var(Convert::Lookup(table)) if row.flags & mapping::ENUM != 0 => {
                    table.iter().map(|(_, text)| *text).collect()
                }
                _ => Vec::new(),
            };
            out.push((row.name, values));
        }
        out
    }

    /// Is `name` a writable variable of this device?
    pub fn is_writable(&self, name: &str) -> bool {
        self.rows.iter().any(|a| a.row.name == name && a.row.flags & mapping::RW != 0)
    }

    /// The instant commands this device supports, NUT's derived ones
    /// (`load.off`, `load.on`, `shutdown.return`, `shutdown.stayoff`) included.
    pub fn command_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.commands.iter().map(|c| c.row.name).collect();
        let has = |n: &str| names.contains(&n);
        let (off, on) = (has("load.off.delay"), has("load.on.delay"));
        for (derived, needed) in
            [("load.off", off), ("load.on", on), ("shutdown.return", off && on), ("shutdown.stayoff", off && on)]
        {
            if needed && !names.contains(&derived) {
                names.push(derived);
            }
        }
        names
    }

    /// The command row for `name` and its field, if the device has it.
    pub(crate) fn command(&self, name: &str) -> Option<(&'static Row, &Field)> {
        self.commands.iter().find(|c| c.row.name == name).map(|c| (c.row, &self.descriptor.fields[c.field]))
    }

    /// The variable row for `name` and its field, if the device has it.
    pub(crate) fn variable(&self, name: &str) -> Option<(&'static Row, &Field)> {
        self.rows.iter().find(|a| a.row.name == name).map(|a| (a.row, &self.descriptor.fields[a.field]))
    }

    /// Store a published value directly (used after writes of `ABSENT` rows).
    pub(crate) fn set_published(&mut self, name: &str, value: String) {
        self.vars.insert(name.into(), value);
    }

    /// Re-read every non-static row.
    pub fn full_update(&mut self, dev: &mut dyn HidDevice) {
        self.walk(dev, Walk::Full);
    }

    /// Re-read the `QUICK_POLL` rows only.
    pub fn quick_update(&mut self, dev: &mut dyn HidDevice) {
        self.walk(dev, Walk::Quick);
    }

    fn fetch(&mut self, dev: &mut dyn HidDevice, id: u8, fresh: &mut Vec<u8>) -> Option<Vec<u8>> {
        if !fresh.contains(&id) {
            match dev.get_feature_report(id) {
                Ok(r) => {
                    self.reports.insert(id, r);
                    fresh.push(id);
                }
                // A report the device refuses: rows on it publish nothing.
                Err(_) => {
                    self.reports.remove(&id);
                    fresh.push(id);
                }
            }
        }
        self.reports.get(&id).cloned()
    }

    fn walk(&mut self, dev: &mut dyn HidDevice, walk: Walk) {
        let mut fresh = Vec::new();
        let mut kept = Vec::with_capacity(self.rows.len());
        let rows = core::mem::take(&mut self.rows);
        for a in rows {
            let r = a.row;
            let wanted = match walk {
                Walk::Init => true,
                Walk::Full => r.flags & mapping::STATIC == 0,
                Walk::Quick => r.flags & mapping::QUICK_POLL != 0,
            };
            let duplicate = !r.name.is_empty() && kept.iter().any(|k: &Active| k.row.name == r.name);
            if walk == Walk::Init && duplicate {
                continue; // an earlier row already published this variable
            }
            if !wanted {
                kept.push(a);
                continue;
            }
            let published = match r.action {
                Action::Default(d) => {
                    let v = match d {
                        Default::OffDelay => format!("{}", self.offdelay()),
                        Default::OnDelay => format!("{}", self.ondelay()),
                        Default::Text(t) => t.into(),
                    };
                    if walk == Walk::Init || !self.vars.contains_key(r.name) {
                        self.vars.insert(r.name.into(), v);
                    }
                    true
                }
                _ => {
                    let field = self.descriptor.fields[a.field].clone();
                    let value = self
                        .fetch(dev, field.report_id, &mut fresh)
                        .and_then(|rep| report::read(report::payload(&rep, self.descriptor.uses_report_ids), &field));
                    match value {
                        Some(v) => self.apply(dev, r, v),
                        None => false,
                    }
                }
            };
            // At init, a row that published nothing gives way to later rows
            // of the same variable; status rows always stay.
            if walk != Walk::Init || published || r.name.is_empty() {
                kept.push(a);
            }
        }
        self.rows = kept;
        self.rebuild_status();
    }

    /// Apply a value to a row; `true` if something was published.
    fn apply(&mut self, dev: &mut dyn HidDevice, row: &Row, value: f64) -> bool {
        match row.action {
            Action::Status(lookup) => {
                self.flags.apply_value(lookup, value as i64);
                true
            }
            Action::StatusBits { mask, equals, lookup } => {
                self.flags.apply_value(lookup, i64::from((value as i64) & mask == equals));
                true
            }
            Action::Var(Convert::TrippLite(measure)) => {
                let scaled = value * mapping::tripp_lite_scale(self.product_id, measure);
                self.vars.insert(row.name.into(), format_decimals(scaled, 1));
                true
            }
            Action::Var(Convert::CyberPowerBatteryVoltage) => {
                let nominal = self.vars.get("battery.voltage.nominal").and_then(|n| n.parse::<f64>().ok());
                if self.battery_scale.is_none() {
                    self.battery_scale = mapping::cyberpower_battery_scale(self.product_id, value, nominal);
                }
                // Undecided (no nominal yet): unscaled, as NUT.
                let text = format_decimals(value * self.battery_scale.unwrap_or(1.0), 1);
                self.vars.insert(row.name.into(), text);
                true
            }
            Action::Var(c) => match convert(dev, c, value) {
                Some(text) => {
                    self.vars.insert(row.name.into(), text);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Apply a report from the interrupt pipe (id byte first when ids are
    /// used): every Input field of it updates the rows on its path.
    pub fn interrupt_report(&mut self, dev: &mut dyn HidDevice, data: &[u8]) {
        let id = if self.descriptor.uses_report_ids { data.first().copied().unwrap_or(0) } else { 0 };
        let payload = report::payload(data, self.descriptor.uses_report_ids);
        let mut updates: Vec<(&'static Row, f64)> = Vec::new();
        for (f, p) in self.descriptor.fields.iter().zip(&self.paths) {
            if f.kind != ReportKind::Input || f.report_id != id {
                continue;
            }
            let Some(v) = report::read(payload, f) else { continue };
            for a in self.rows.iter().filter(|a| a.row.path == p.as_str()) {
                // String indexes need a device round trip: leave them to polls.
                if !matches!(a.row.action, Action::Var(Convert::StringIndex)) {
                    updates.push((a.row, v));
                }
            }
        }
        for (row, v) in updates {
            self.apply(dev, row, v);
        }
        self.rebuild_status();
    }

    /// Drain the interrupt pipe: apply every report that arrives within
    /// `timeout_ms` each, at most [`MAX_INTERRUPTS_PER_CALL`] so a chatty
    /// device cannot hold the plugin. Returns how many were applied.
    pub fn poll_interrupts(&mut self, dev: &mut dyn HidDevice, timeout_ms: u32) -> Result<usize, DeviceError> {
        let mut applied = 0;
        while applied < MAX_INTERRUPTS_PER_CALL {
            match dev.interrupt_read(timeout_ms)? {
                Some(data) => {
                    self.interrupt_report(dev, &data);
                    applied += 1;
                }
                None => break,
            }
        }
        Ok(applied)
    }

    fn rebuild_status(&mut self) {
        let tokens = self.status_tokens();
        self.vars.insert("ups.status".into(), status::join(&tokens));
        let alarms = status::alarms(self.flags);
        if alarms.is_empty() {
            self.vars.remove("ups.alarm");
        } else {
            self.vars.insert("ups.alarm".into(), status::join(&alarms));
        }
        match status::transfer_reason(self.flags) {
            Some(r) => self.vars.insert("input.transfer.reason".into(), r.into()),
            None => self.vars.remove("input.transfer.reason"),
        };
    }
}

/// Format a number like C's `%.Nf`.
pub fn format_decimals(v: f64, decimals: u8) -> String {
    format!("{:.*}", usize::from(decimals), v)
}

/// Turn a physical value into the published text.
fn convert(dev: &mut dyn HidDevice, c: Convert, v: f64) -> Option<String> {
    match c {
        Convert::Decimals(n) => Some(format_decimals(v, n)),
        Convert::Lookup(table) => table.iter().find(|(k, _)| *k == v as i64).map(|(_, t)| (*t).into()),
        Convert::KelvinToCelsius => Some(format_decimals(v - 273.15, 1)),
        Convert::Date => {
            let d = v as i64;
            Some(format!("{:04}/{:02}/{:02}", (d >> 9) + 1980, (d >> 5) & 0x0F, d & 0x1F))
        }
        Convert::StringIndex => {
            let index = v as i64;
            if !(1..=255).contains(&index) {
                return None;
            }
            dev.string_descriptor(index as u8).ok().flatten().map(|s| s.trim().to_string())
        }
        Convert::AmpSecondsToAmpHours => Some(format_decimals(v / 3600.0, 2)),
        Convert::PercentClamped => Some(format_decimals(v.min(100.0), 0)),
        Convert::Tenths => Some(format_decimals(v / 10.0, 1)),
        Convert::HighNibble => Some(format!("{}", (v as i64) >> 4)),
        Convert::LowNibbleLookup(table) => {
            let nibble = (v as i64) & 0x0F;
            table.iter().find(|(k, _)| *k == nibble).map(|(_, t)| (*t).into())
        }
        // Handled in `Session::apply`, which holds the scale; here unscaled.
        Convert::CyberPowerBatteryVoltage | Convert::TrippLite(_) => Some(format_decimals(v, 1)),
        Convert::DelayWord(word) => Some(format!("{}", word.decode(v as i64))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_like_printf() {
        assert_eq!(format_decimals(13.5, 1), "13.5");
        assert_eq!(format_decimals(232.0, 1), "232.0");
        assert_eq!(format_decimals(3618.0, 0), "3618");
        assert_eq!(format_decimals(-1.0, 0), "-1");
    }
}
