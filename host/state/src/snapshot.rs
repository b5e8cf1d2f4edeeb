//! One device's published state at one moment, and the edits that change it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::name::{Name, NameRef};
use crate::status::compose_status;

/// An inclusive integer range a writable variable accepts (NUT's RANGE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueRange {
    /// Smallest accepted value.
    pub min: i64,
    /// Largest accepted value.
    pub max: i64,
}

/// A variable's type and writability, as NUT's flags express them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VarMeta {
    /// Clients may SET it (NUT's RW flag).
    pub writable: bool,
    /// `Some(n)`: a string of at most n characters (STRING flag, aux n);
    /// `None`: a number (what upsd reports as NUMBER).
    pub string_max_len: Option<u32>,
}

/// One NUT variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// The value, unescaped.
    pub value: String,
    /// Type and writability.
    pub meta: VarMeta,
    /// Accepted values, in the order they were added; empty if not an enum.
    pub enum_values: Vec<String>,
    /// Accepted ranges; empty if not ranged.
    pub ranges: Vec<ValueRange>,
    /// Set by `override.<var>` in ups.conf: the device's own reports are ignored.
    pub immutable: bool,
}

impl Variable {
    fn new(value: String) -> Self {
        Variable { value, meta: VarMeta::default(), enum_values: Vec::new(), ranges: Vec::new(), immutable: false }
    }

    /// The words upsd answers to `GET TYPE`: `RW`, `ENUM`, `RANGE`, then
    /// `STRING:<n>` or `NUMBER`.
    pub fn type_words(&self) -> String {
        let mut words = String::new();
        if self.meta.writable {
            words.push_str("RW ");
        }
        if !self.enum_values.is_empty() {
            words.push_str("ENUM ");
        }
        if !self.ranges.is_empty() {
            words.push_str("RANGE ");
        }
        match self.meta.string_max_len {
            Some(n) => words.push_str(&format!("STRING:{n}")),
            None => words.push_str("NUMBER"),
        }
        words
    }
}

/// Whether a device's data can be trusted right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// The plugin is starting and has not reported yet (upsd shows `WAIT`).
    Starting,
    /// The last update succeeded.
    Fresh,
    /// Data is stale; the reason is for logs and `hazel drivers status`.
    Stale(String),
}

/// One change to a device's state. Mirrors the WIT `change` variant plus the
/// host's own edits (freshness, overrides).
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Create or update a variable's value.
    SetValue(String, String),
    /// Remove a variable.
    Remove(String),
    /// Set a variable's type and writability (ignored if it does not exist).
    SetMeta(String, VarMeta),
    /// Replace a variable's enum list (ignored if it does not exist).
    SetEnum(String, Vec<String>),
    /// Replace a variable's range list (ignored if it does not exist).
    SetRanges(String, Vec<ValueRange>),
    /// Advertise an instant command.
    AddCommand(String),
    /// Withdraw an instant command.
    RemoveCommand(String),
    /// Replace the status tokens; `ups.status` is rebuilt from them.
    SetStatus(Vec<String>),
    /// Replace the active alarms; `ups.alarm` and the `ALARM` token follow.
    SetAlarms(Vec<String>),
    /// Pin a variable to a value the device cannot change (`override.*`).
    Override(String, String),
}

/// A device's published state. Cheap to share: the store hands out
/// `Arc<Snapshot>`s and copies on write.
#[derive(Clone, Debug)]
pub struct Snapshot {
    vars: BTreeMap<Name, Variable>,
    commands: BTreeSet<Name>,
    status_tokens: Vec<String>,
    alarms: Vec<String>,
    ignore_lb: bool,
    /// Whether the data can be trusted.
    pub availability: Availability,
    /// When the plugin last reported successfully.
    pub last_update: Option<Instant>,
    /// Incremented on every applied batch; lets readers cache derived data.
    pub generation: u64,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot::new()
    }
}

impl Snapshot {
    /// An empty state for a device that has not reported yet.
    pub fn new() -> Self {
        Snapshot {
            vars: BTreeMap::new(),
            commands: BTreeSet::new(),
            status_tokens: Vec::new(),
            alarms: Vec::new(),
            ignore_lb: false,
            availability: Availability::Starting,
            last_update: None,
            generation: 0,
        }
    }

    /// Drop `LB` from device status and derive it from charge/runtime limits
    /// instead (ups.conf `ignorelb`).
    pub fn set_ignore_lb(&mut self, ignore: bool) {
        if self.ignore_lb == ignore {
            return;
        }
        self.ignore_lb = ignore;
        self.rebuild_status();
    }

    /// Look a variable up, ignoring case.
    pub fn var(&self, name: &str) -> Option<&Variable> {
        self.vars.get(NameRef::new(name))
    }

    /// All variables, sorted case-insensitively by name (upsd's LIST order).
    pub fn vars(&self) -> impl ExactSizeIterator<Item = (&str, &Variable)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether an instant command is advertised, ignoring case.
    pub fn has_command(&self, name: &str) -> bool {
        self.commands.contains(NameRef::new(name))
    }

    /// Advertised instant commands, sorted case-insensitively.
    pub fn commands(&self) -> impl ExactSizeIterator<Item = &str> {
        self.commands.iter().map(|c| c.as_str())
    }

    /// Apply one edit. Returns whether anything visible changed.
    pub fn apply(&mut self, edit: Edit) -> bool {
        match edit {
            Edit::SetValue(name, value) => self.set_value(&name, value, false),
            Edit::Override(name, value) => self.set_value(&name, value, true),
            Edit::Remove(name) => match self.vars.get(NameRef::new(&name)) {
                Some(v) if !v.immutable => self.vars.remove(NameRef::new(&name)).is_some(),
                _ => false,
            },
            Edit::SetMeta(name, meta) => self.with_var(&name, |v| replace(&mut v.meta, meta)),
            Edit::SetEnum(name, values) => self.with_var(&name, |v| replace(&mut v.enum_values, values)),
            Edit::SetRanges(name, ranges) => self.with_var(&name, |v| replace(&mut v.ranges, ranges)),
            Edit::AddCommand(name) => self.commands.insert(Name::new(name)),
            Edit::RemoveCommand(name) => self.commands.remove(NameRef::new(&name)),
            Edit::SetStatus(tokens) => {
                let changed = replace(&mut self.status_tokens, tokens);
                changed && self.rebuild_status()
            }
            Edit::SetAlarms(alarms) => {
                let changed = replace(&mut self.alarms, alarms.clone());
                if !changed {
                    return false;
                }
                if alarms.is_empty() {
                    self.vars.remove(NameRef::new("ups.alarm"));
                } else {
                    self.set_value("ups.alarm", alarms.join(" "), false);
                }
                self.rebuild_status();
                true
            }
        }
    }

    fn set_value(&mut self, name: &str, value: String, pin: bool) -> bool {
        match self.vars.get_mut(NameRef::new(name)) {
            Some(v) if v.immutable && !pin => false,
            Some(v) => {
                v.immutable |= pin;
                // Values that differ only in letter case count as unchanged, as in
                // upsd's tree; an override always takes its exact spelling.
                if v.value == value || (!pin && v.value.eq_ignore_ascii_case(&value)) {
                    false
                } else {
                    v.value = value;
                    true
                }
            }
            None => {
                let mut v = Variable::new(value);
                v.immutable = pin;
                self.vars.insert(Name::new(name), v);
                true
            }
        }
    }

    fn with_var(&mut self, name: &str, f: impl FnOnce(&mut Variable) -> bool) -> bool {
        self.vars.get_mut(NameRef::new(name)).is_some_and(f)
    }

    /// Recompute `ups.status` from tokens, alarms and `ignorelb`.
    pub(crate) fn rebuild_status(&mut self) -> bool {
        if self.status_tokens.is_empty() && self.alarms.is_empty() {
            return false;
        }
        let charge_low = self.limit_reached("battery.charge", "battery.charge.low");
        let runtime_low = self.limit_reached("battery.runtime", "battery.runtime.low");
        let derived_lb = self.ignore_lb && (charge_low || runtime_low);
        let status = compose_status(&self.status_tokens, !self.alarms.is_empty(), self.ignore_lb, derived_lb);
        self.set_value("ups.status", status, false)
    }

    /// Whether `ignorelb` is in force (LB is then derived after every batch).
    pub fn ignores_lb(&self) -> bool {
        self.ignore_lb
    }

    fn limit_reached(&self, value: &str, limit: &str) -> bool {
        let number = |n: &str| self.var(n).and_then(|v| v.value.trim().parse::<f64>().ok());
        matches!((number(value), number(limit)), (Some(v), Some(l)) if v < l)
    }
}

/// Replace `slot` with `new`, reporting whether it differed.
fn replace<T: PartialEq>(slot: &mut T, new: T) -> bool {
    if *slot == new {
        false
    } else {
        *slot = new;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_words_follow_upsd_order() {
        let mut s = Snapshot::new();
        s.apply(Edit::SetValue("x".into(), "1".into()));
        assert_eq!(s.var("x").unwrap().type_words(), "NUMBER");
        s.apply(Edit::SetMeta("x".into(), VarMeta { writable: true, string_max_len: Some(32) }));
        assert_eq!(s.var("X").unwrap().type_words(), "RW STRING:32");
        s.apply(Edit::SetMeta("x".into(), VarMeta { writable: true, string_max_len: None }));
        s.apply(Edit::SetEnum("x".into(), vec!["a".into()]));
        s.apply(Edit::SetRanges("x".into(), vec![ValueRange { min: 1, max: 2 }]));
        assert_eq!(s.var("x").unwrap().type_words(), "RW ENUM RANGE NUMBER");
    }

    #[test]
    fn meta_on_missing_variable_is_ignored() {
        let mut s = Snapshot::new();
        assert!(!s.apply(Edit::SetMeta("nope".into(), VarMeta::default())));
        assert!(s.var("nope").is_none());
    }

    #[test]
    fn override_pins_value() {
        let mut s = Snapshot::new();
        s.apply(Edit::Override("ups.mfr".into(), "Pinned".into()));
        assert!(!s.apply(Edit::SetValue("ups.mfr".into(), "Device".into())));
        assert!(!s.apply(Edit::Remove("ups.mfr".into())));
        assert_eq!(s.var("ups.mfr").unwrap().value, "Pinned");
    }

    #[test]
    fn status_and_alarms_compose() {
        let mut s = Snapshot::new();
        s.apply(Edit::SetStatus(vec!["OB".into(), "LB".into(), "OB".into()]));
        assert_eq!(s.var("ups.status").unwrap().value, "OB LB");
        s.apply(Edit::SetAlarms(vec!["Replace battery!".into()]));
        assert_eq!(s.var("ups.status").unwrap().value, "ALARM OB LB");
        assert_eq!(s.var("ups.alarm").unwrap().value, "Replace battery!");
        s.apply(Edit::SetAlarms(vec![]));
        assert_eq!(s.var("ups.status").unwrap().value, "OB LB");
        assert!(s.var("ups.alarm").is_none());
    }

    #[test]
    fn ignore_lb_derives_lb_from_limits() {
        let mut s = Snapshot::new();
        s.set_ignore_lb(true);
        s.apply(Edit::SetValue("battery.charge".into(), "50".into()));
        s.apply(Edit::SetValue("battery.charge.low".into(), "20".into()));
        s.apply(Edit::SetStatus(vec!["OB".into(), "LB".into()]));
        assert_eq!(s.var("ups.status").unwrap().value, "OB");
        s.apply(Edit::SetValue("battery.charge".into(), "10".into()));
        s.apply(Edit::SetStatus(vec!["OB".into()]));
        assert_eq!(s.var("ups.status").unwrap().value, "OB LB");
    }

    #[test]
    fn commands_sorted_and_deduplicated() {
        let mut s = Snapshot::new();
        s.apply(Edit::AddCommand("load.on".into()));
        s.apply(Edit::AddCommand("Beeper.toggle".into()));
        assert!(!s.apply(Edit::AddCommand("LOAD.ON".into())));
        assert_eq!(s.commands().collect::<Vec<_>>(), ["Beeper.toggle", "load.on"]);
        assert!(s.has_command("beeper.TOGGLE"));
    }
}
