//! The driver as the host calls it (`init`, `update`, `instcmd`, `set-var`,
//! `kill-power`), over plain-Rust mirrors of the WIT types so it runs natively
//! in tests; `bindings.rs` converts at the boundary.
//!
//! Each `update` drains the interrupt pipe first (a bounded number of
//! reports), then walks the device: every `pollfreq` seconds a full walk,
//! otherwise the quick one; then publishes what changed. A device that
//! disconnected (the host says `unavailable`) makes the update fail as
//! unreachable; the session is dropped and the next `update` opens the device
//! again from its descriptor, so a replugged UPS needs no restart.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::commands::{self, CommandError};
use crate::device::{DeviceError as HidError, HidDevice, UsbIdentity};
use crate::session::{OpenError, Session, Settings};
use crate::status::OnlineDischarge;

/// What the driver needs beyond the device: the clock.
pub trait Clock {
    /// Monotonic milliseconds.
    fn monotonic_ms(&mut self) -> u64;
}

/// One change to the published state (the subset of WIT `change` used here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Create or update a variable: (name, value).
    SetValue(String, String),
    /// Remove a variable.
    Remove(String),
    /// Mark a variable writable; a number (`None`) or a string of at most n characters.
    SetWritable(String, Option<u32>),
    /// Replace a variable's accepted values.
    SetEnum(String, Vec<String>),
    /// Advertise an instant command.
    AddCommand(String),
    /// Replace the status tokens.
    SetStatus(Vec<String>),
    /// Replace the active alarms.
    SetAlarms(Vec<String>),
}

/// Why an operation failed (WIT `device-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverError {
    /// Not handled (NUT: unknown).
    Unknown,
    /// Not allowed or malformed (NUT: invalid).
    Invalid(String),
    /// The value could not be converted.
    BadValue(String),
    /// The device did not do it.
    Failed(String),
    /// The device cannot be reached; the host marks its data stale.
    Unreachable(String),
}

/// Options of usbhid-ups that change nothing here: USB matching and interface
/// selection are the host's (it grants the matched device), the rest tunes
/// NUT's own USB handling. Accepted so a config written for NUT loads.
const HOST_OR_IGNORED_OPTIONS: &[&str] = &[
    "port",
    "vendorid",
    "productid",
    "vendor",
    "product",
    "serial",
    "bus",
    "device",
    "busport",
    "allow_duplicates",
    "usb_set_altinterface",
    "usb_config_index",
    "usb_hid_rep_index",
    "usb_hid_desc_index",
    "usb_hid_ep_in",
    "usb_hid_ep_out",
    "langid_fix",
    "noscanlangid",
    "pollonly",
    "interruptonly",
    "interruptsize",
    "interrupt_pipe_no_events_tolerance",
    "maxreport",
    "maxage",
    "lbrb_log_delay_sec",
    "lbrb_log_delay_without_calibrating",
    "disable_fix_report_desc",
];

/// The options this driver reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// What the session needs.
    pub session: Settings,
    /// Seconds between full walks; `None`: the subdriver's default (NUT's 30, CyberPower's 12).
    pub pollfreq: Option<u64>,
    /// `explore`: publish every field as `explore.*` (see [`crate::explore`]);
    /// without `subdriver=`, NUT's explore subdriver (standard names, any vendor).
    pub explore: bool,
}

fn number(key: &str, value: Option<&str>) -> Result<i64, DriverError> {
    let text = value.ok_or_else(|| DriverError::Invalid(format!("option {key} needs a value")))?;
    text.trim().parse().map_err(|_| DriverError::Invalid(format!("option {key}: '{text}' is not a number")))
}

/// Read the ups.conf options the host passed.
pub fn parse_options<'a>(
    settings: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<Options, DriverError> {
    let mut o = Options { session: Settings::default(), pollfreq: None, explore: false };
    for (key, value) in settings {
        match key {
            "offdelay" => o.session.offdelay = Some(number(key, value)?),
            "ondelay" => o.session.ondelay = Some(number(key, value)?),
            "pollfreq" => {
                o.pollfreq = Some(u64::try_from(number(key, value)?).ok().filter(|s| *s > 0).ok_or_else(|| {
                    DriverError::Invalid("option pollfreq must be a positive number of seconds".into())
                })?)
            }
            "subdriver" => {
                let name = value.ok_or_else(|| DriverError::Invalid("option subdriver needs a value".into()))?;
                if crate::mapping::subdriver_named(name).is_none() {
                    return Err(DriverError::Invalid(format!("option subdriver: no subdriver named '{name}'")));
                }
                o.session.subdriver = Some(name.to_string());
            }
            "onlinedischarge_onbattery" | "onlinedischarge" => o.session.online_discharge = OnlineDischarge::OnBattery,
            "onlinedischarge_calibration" => o.session.online_discharge = OnlineDischarge::Calibration,
            "explore" => o.explore = true,
            k if HOST_OR_IGNORED_OPTIONS.contains(&k) => {}
            k => return Err(DriverError::Invalid(format!("usbhid-ups has no option '{k}'"))),
        }
    }
    if o.explore && o.session.subdriver.is_none() {
        o.session.subdriver = Some(crate::mapping::EXPLORE.name.to_string());
    }
    Ok(o)
}

/// A device wrapper that remembers whether the device disconnected, since
/// the session tolerates failed reads (a stalled report publishes nothing).
struct Tracked<'a> {
    dev: &'a mut dyn HidDevice,
    gone: bool,
}

impl Tracked<'_> {
    fn note<T>(&mut self, r: Result<T, HidError>) -> Result<T, HidError> {
        if matches!(r, Err(HidError::Disconnected)) {
            self.gone = true;
        }
        r
    }
}

impl HidDevice for Tracked<'_> {
    fn identity(&self) -> UsbIdentity {
        self.dev.identity()
    }
    fn report_descriptor(&mut self) -> Result<Vec<u8>, HidError> {
        let r = self.dev.report_descriptor();
        self.note(r)
    }
    fn get_feature_report(&mut self, report_id: u8) -> Result<Vec<u8>, HidError> {
        let r = self.dev.get_feature_report(report_id);
        self.note(r)
    }
    fn set_feature_report(&mut self, report_id: u8, data: &[u8]) -> Result<(), HidError> {
        let r = self.dev.set_feature_report(report_id, data);
        self.note(r)
    }
    fn interrupt_read(&mut self, timeout_ms: u32) -> Result<Option<Vec<u8>>, HidError> {
        let r = self.dev.interrupt_read(timeout_ms);
        self.note(r)
    }
    fn string_descriptor(&mut self, index: u8) -> Result<Option<String>, HidError> {
        let r = self.dev.string_descriptor(index);
        self.note(r)
    }
    fn pause(&mut self, ms: u32) {
        self.dev.pause(ms);
    }
}

const GONE: &str = "the USB device disconnected";

/// The driver of one device.
pub struct Driver {
    options: Options,
    session: Option<Session>,
    last_full_ms: u64,
    /// Variables as the host has them.
    published: BTreeMap<String, String>,
    status: Option<Vec<String>>,
    alarms: Option<Vec<String>>,
    /// Commands and writable variables announced for the current session.
    announced: BTreeSet<String>,
    /// Explore mode's entries as of the last update (empty unless `explore`).
    explored: Vec<(String, String)>,
}

impl Driver {
    /// A driver with these options; nothing is opened yet.
    pub fn new(options: Options) -> Self {
        Driver {
            options,
            session: None,
            last_full_ms: 0,
            published: BTreeMap::new(),
            status: None,
            alarms: None,
            announced: BTreeSet::new(),
            explored: Vec::new(),
        }
    }

    fn open(&mut self, dev: &mut dyn HidDevice, clock: &mut dyn Clock) -> Result<(), DriverError> {
        let mut tracked = Tracked { dev, gone: false };
        let opened = Session::open(&mut tracked, self.options.session.clone());
        if tracked.gone {
            return Err(DriverError::Unreachable(GONE.into()));
        }
        let session = opened.map_err(|e| match e {
            OpenError::NoSubdriver(vid) => DriverError::Invalid(format!(
                "no usbhid-ups subdriver supports USB vendor id {vid:04x} (set subdriver= to force one)"
            )),
            OpenError::Descriptor(e) => DriverError::Failed(format!("bad HID report descriptor: {e}")),
            OpenError::Device(HidError::Disconnected) => DriverError::Unreachable(GONE.into()),
            OpenError::Device(e) => DriverError::Failed(format!("cannot read the report descriptor: {e:?}")),
        })?;
        self.session = Some(session);
        self.last_full_ms = clock.monotonic_ms();
        self.announced.clear();
        Ok(())
    }

    /// Open the device (NUT's start-up: match, descriptor, init walk).
    pub fn init(&mut self, dev: &mut dyn HidDevice, clock: &mut dyn Clock) -> Result<UsbIdentity, DriverError> {
        self.open(dev, clock)?;
        Ok(dev.identity())
    }

    /// The open session, if any (for tests and diagnostics).
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Drain interrupts, walk the device, return what changed.
    pub fn update(&mut self, dev: &mut dyn HidDevice, clock: &mut dyn Clock) -> Result<Vec<Change>, DriverError> {
        if self.session.is_none() {
            self.open(dev, clock)?;
        } else {
            let session = self.session.as_mut().expect("checked above");
            let now = clock.monotonic_ms();
            let pollfreq = self.options.pollfreq.unwrap_or(u64::from(session.subdriver.pollfreq));
            let full = now.saturating_sub(self.last_full_ms) >= pollfreq.saturating_mul(1000);
            let mut tracked = Tracked { dev, gone: false };
            // Interrupt reports first: they are the freshest news (NUT does the same).
            let _ = session.poll_interrupts(&mut tracked, 0);
            if full {
                session.full_update(&mut tracked);
                self.last_full_ms = now;
            } else {
                session.quick_update(&mut tracked);
            }
            if tracked.gone {
                self.session = None;
                return Err(DriverError::Unreachable(GONE.into()));
            }
        }
        if self.options.explore {
            let session = self.session.as_ref().expect("opened above");
            let mut tracked = Tracked { dev, gone: false };
            self.explored = crate::explore::entries(session, &mut tracked);
            if tracked.gone {
                self.session = None;
                return Err(DriverError::Unreachable(GONE.into()));
            }
        }
        Ok(self.changes())
    }

    /// What changed since the last update, from the session's state.
    fn changes(&mut self) -> Vec<Change> {
        let Some(session) = &self.session else { return Vec::new() };
        let mut changes = Vec::new();
        let vars = session.variables();
        // Status and alarms are published as tokens; the host builds ups.status/ups.alarm.
        let current: BTreeMap<&String, &String> = vars
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ups.status" | "ups.alarm"))
            .chain(self.explored.iter().map(|(k, v)| (k, v)))
            .collect();
        for (name, value) in &current {
            if self.published.get(*name) != Some(*value) {
                changes.push(Change::SetValue((*name).clone(), (*value).clone()));
            }
        }
        for gone in self.published.keys().filter(|k| !current.contains_key(k)) {
            changes.push(Change::Remove(gone.clone()));
        }
        self.published = current.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();

        for (name, values) in session.writable_variables() {
            if self.announced.insert(format!("var {name}")) {
                changes.push(Change::SetWritable(name.into(), None));
                if !values.is_empty() {
                    changes.push(Change::SetEnum(name.into(), values.into_iter().map(Into::into).collect()));
                }
            }
        }
        for command in session.command_names() {
            if self.announced.insert(format!("cmd {command}")) {
                changes.push(Change::AddCommand(command.into()));
            }
        }
        let status: Vec<String> = session.status_tokens().into_iter().map(Into::into).collect();
        if self.status.as_ref() != Some(&status) {
            changes.push(Change::SetStatus(status.clone()));
            self.status = Some(status);
        }
        let alarms: Vec<String> = session.alarms().into_iter().map(Into::into).collect();
        if self.alarms.as_ref() != Some(&alarms) {
            changes.push(Change::SetAlarms(alarms.clone()));
            self.alarms = Some(alarms);
        }
        changes
    }

    fn with_session<T>(
        &mut self,
        dev: &mut dyn HidDevice,
        op: impl FnOnce(&mut Session, &mut dyn HidDevice) -> Result<T, CommandError>,
    ) -> Result<T, DriverError> {
        let Some(session) = self.session.as_mut() else {
            return Err(DriverError::Unreachable("the USB device is not open".into()));
        };
        let mut tracked = Tracked { dev, gone: false };
        let result = op(session, &mut tracked);
        if tracked.gone {
            self.session = None;
            return Err(DriverError::Unreachable(GONE.into()));
        }
        result.map_err(|e| match e {
            CommandError::Unknown => DriverError::Unknown,
            CommandError::InvalidValue => DriverError::BadValue("the value does not fit this device".into()),
            CommandError::Device(e) => DriverError::Failed(format!("the device refused it: {e:?}")),
        })
    }

    /// Run an instant command.
    pub fn instcmd(&mut self, dev: &mut dyn HidDevice, name: &str, argument: Option<&str>) -> Result<(), DriverError> {
        self.with_session(dev, |s, d| commands::instcmd(s, d, name, argument))?;
        // NUT re-reads everything after a command: make the next update a full one.
        self.last_full_ms = 0;
        Ok(())
    }

    /// Write a variable.
    pub fn set_var(&mut self, dev: &mut dyn HidDevice, name: &str, value: &str) -> Result<(), DriverError> {
        self.with_session(dev, |s, d| commands::set_var(s, d, name, value))?;
        self.last_full_ms = 0;
        Ok(())
    }

    /// Cut the load: `stay_off` tries `shutdown.stayoff` alone; otherwise
    /// NUT's `-k` chain (`shutdown.return`, `shutdown.reboot`,
    /// `load.off.delay`, `shutdown.stayoff`).
    pub fn kill_power(&mut self, dev: &mut dyn HidDevice, stay_off: bool) -> Result<&'static str, DriverError> {
        if stay_off {
            self.with_session(dev, |s, d| commands::instcmd(s, d, "shutdown.stayoff", None))?;
            return Ok("shutdown.stayoff");
        }
        let outcome = self.with_session(dev, |s, d| Ok(commands::kill_power(s, d)))?;
        outcome.map_err(|failures| {
            let tried: Vec<String> = failures.iter().map(|(c, e)| format!("{c}: {e:?}")).collect();
            DriverError::Failed(format!("no shutdown command worked ({})", tried.join("; ")))
        })
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
