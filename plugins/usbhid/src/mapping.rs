//! NUT variable tables: HID paths → NUT variables, status flags and commands.
//!
//! A subdriver (chosen by USB vendor id, as NUT does) is a usage-name set and
//! a list of [`Row`]s. Several rows may name the same variable: the first
//! whose path the device has wins. Row flags follow NUT's semantics: `STATIC`
//! rows are read once, `SEMI_STATIC` and plain rows on full polls,
//! `QUICK_POLL` rows on every poll, `ABSENT` rows publish a default when the
//! device has the path, `ENUM` rows publish their lookup values as the
//! variable's enum, and `RW` variables are writable.

use crate::descriptor::{Field, ReportDescriptor};
use crate::status::{Change, Flag, StatusLookup};
use crate::usage_names::{self, UsageNames, UsageTable};

/// Read once, at start.
pub const STATIC: u8 = 1;
/// Re-read on full polls only.
pub const SEMI_STATIC: u8 = 2;
/// The device holds no value: publish the row's default if the path exists.
pub const ABSENT: u8 = 4;
/// Read on every (quick) poll.
pub const QUICK_POLL: u8 = 8;
/// Publish the lookup's values as the variable's enum.
pub const ENUM: u8 = 16;
/// Writable with SET VAR.
pub const RW: u8 = 32;

/// How a value becomes text.
#[derive(Clone, Copy, Debug)]
pub enum Convert {
    /// A number with this many decimals (C's `%.Nf`).
    Decimals(u8),
    /// Integer value → text; unlisted values publish nothing.
    Lookup(&'static [(i64, &'static str)]),
    /// Kelvin → °C, one decimal.
    KelvinToCelsius,
    /// HID date `(year−1980)<<9 | month<<5 | day` → `YYYY/MM/DD`.
    Date,
    /// A USB string descriptor index → the string.
    StringIndex,
    /// Ampere-seconds → ampere-hours, two decimals (Eaton's battery capacity).
    AmpSecondsToAmpHours,
    /// A percentage clamped to 100, no decimals (CyberPower reports charges above 100).
    PercentClamped,
}

/// The value a command writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandValue {
    /// A fixed value.
    Fixed(i64),
    /// `ups.delay.shutdown` (option `offdelay`), or the command's parameter.
    OffDelay,
    /// `ups.delay.start` (option `ondelay`), or the command's parameter.
    OnDelay,
}

/// The default an `ABSENT` row publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// The configured `offdelay`.
    OffDelay,
    /// The configured `ondelay`.
    OnDelay,
    /// Fixed text.
    Text(&'static str),
}

/// What a row does.
#[derive(Clone, Copy, Debug)]
pub enum Action {
    /// Publish a variable.
    Var(Convert),
    /// Publish a default (flag `ABSENT`).
    Default(Default),
    /// Feed the status flags.
    Status(StatusLookup),
    /// An instant command writing a value to the path.
    Command(CommandValue),
}

/// One table row.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// NUT variable or command name (`""` for status rows).
    pub name: &'static str,
    /// HID path, as rendered by the subdriver's usage names.
    pub path: &'static str,
    /// `STATIC`, `SEMI_STATIC`, `ABSENT`, `QUICK_POLL`, `ENUM`, `RW`.
    pub flags: u8,
    /// What the row does.
    pub action: Action,
}

/// A descriptor fix-up for devices known to describe themselves wrongly
/// (gets the USB product id).
pub type Fixup = fn(&mut ReportDescriptor, u16);

/// A vendor's tables.
#[derive(Clone, Copy, Debug)]
pub struct Subdriver {
    /// Name (NUT's subdriver name, e.g. `APC HID`).
    pub name: &'static str,
    /// USB vendor ids it claims.
    pub vendor_ids: &'static [u16],
    /// Usage names (vendor page first).
    pub names: UsageNames,
    /// Rows, in priority order.
    pub rows: &'static [&'static [Row]],
    /// Full-poll period in seconds when `pollfreq` is not set.
    pub pollfreq: u32,
    /// Descriptor fix-up, if any.
    pub fixup: Option<Fixup>,
    /// (`offdelay`, `ondelay`) defaults in seconds when ups.conf sets none.
    pub delays: (i64, i64),
}

/// NUT's default `offdelay`/`ondelay` (20 s, 30 s).
pub const DEFAULT_DELAYS: (i64, i64) = (20, 30);
/// CyberPower's defaults: its firmware counts shutdown delays in whole
/// minutes, so the usual 20/30 s would round to nothing (NUT uses 60/120).
pub const CYBERPOWER_DELAYS: (i64, i64) = (60, 120);
/// Legrand's defaults: the Keor PDU's `UPS.Output` delays have a 60 s
/// physical unit (its descriptor maps logical −1..32767 to −60..1966020 s),
/// so whole minutes, as for CyberPower (our choice, read off the descriptor).
pub const LEGRAND_DELAYS: (i64, i64) = (60, 120);

const fn var(name: &'static str, path: &'static str, decimals: u8, flags: u8) -> Row {
    Row { name, path, flags, action: Action::Var(Convert::Decimals(decimals)) }
}
const fn conv(name: &'static str, path: &'static str, c: Convert, flags: u8) -> Row {
    Row { name, path, flags, action: Action::Var(c) }
}
const fn absent(name: &'static str, path: &'static str, d: Default) -> Row {
    Row { name, path, flags: ABSENT | RW, action: Action::Default(d) }
}
const fn status(path: &'static str, lookup: StatusLookup, flags: u8) -> Row {
    Row { name: "", path, flags, action: Action::Status(lookup) }
}
const fn cmd(name: &'static str, path: &'static str, v: CommandValue) -> Row {
    Row { name, path, flags: 0, action: Action::Command(v) }
}
const fn fixed(name: &'static str, path: &'static str, v: i64) -> Row {
    cmd(name, path, CommandValue::Fixed(v))
}

use Change::{Clear, Set};

/// ACPresent-style: 1 online, 0 offline.
pub static ONLINE: StatusLookup =
    &[(1, &[Set(Flag::Online), Clear(Flag::Offline)]), (0, &[Set(Flag::Offline), Clear(Flag::Online)])];
/// The inverse of [`ONLINE`] (a "used battery input" usage).
pub static ON_BATTERY: StatusLookup =
    &[(1, &[Set(Flag::Offline), Clear(Flag::Online)]), (0, &[Set(Flag::Online), Clear(Flag::Offline)])];
/// Battery present: 0 ⇒ no battery.
pub static BATTERY_PRESENT: StatusLookup = &[(0, &[Set(Flag::NoBattery)]), (1, &[Clear(Flag::NoBattery)])];
/// Fully charged: 1 ⇒ fully, 0 ⇒ not fully.
pub static FULLY_CHARGED: StatusLookup = &[
    (1, &[Set(Flag::FullyCharged), Clear(Flag::NotFullyCharged)]),
    (0, &[Set(Flag::NotFullyCharged), Clear(Flag::FullyCharged)]),
];
/// Good: 0 ⇒ output off.
pub static GOOD: StatusLookup = &[(0, &[Set(Flag::Off)]), (1, &[Clear(Flag::Off)])];

macro_rules! flag_lookup {
    ($($name:ident => $flag:ident),* $(,)?) => {$(
        #[doc = concat!("1 raises `", stringify!($flag), "`, 0 clears it.")]
        pub static $name: StatusLookup = &[(1, &[Set(Flag::$flag)]), (0, &[Clear(Flag::$flag)])];
    )*};
}
flag_lookup! {
    DISCHARGING => Discharging, CHARGING => Charging, LOW_BATTERY => LowBattery, OVERLOAD => Overload,
    REPLACE_BATTERY => ReplaceBattery, SHUTDOWN_IMMINENT => ShutdownImminent, TRIM => Trim, BOOST => Boost,
    OVERHEAT => Overheat, COMM_FAULT => CommFault, DEPLETED => Depleted, TIME_LIMIT_EXPIRED => TimeLimitExpired,
    AWAITING_POWER => AwaitingPower, FAN_FAILURE => FanFailure, CHARGER_FAILURE => ChargerFailure,
    VOLTAGE_RANGE => VoltageRange, FREQUENCY_RANGE => FrequencyRange, BYPASS_AUTO => BypassAuto,
    BYPASS_MANUAL => BypassManual, BATTERY_VOLTAGE_LOW => BatteryVoltageLow, BATTERY_VOLTAGE_HIGH => BatteryVoltageHigh,
}

/// `ups.beeper.status` (AudibleAlarmControl).
pub static BEEPER: &[(i64, &str)] = &[(1, "disabled"), (2, "enabled"), (3, "muted")];
/// `ups.test.result` (Test).
pub static TEST_RESULT: &[(i64, &str)] = &[
    (1, "Done and passed"),
    (2, "Done and warning"),
    (3, "Done and error"),
    (4, "Aborted"),
    (5, "In progress"),
    (6, "No test initiated"),
    (7, "Test scheduled"),
];
/// yes/no.
pub static YES_NO: &[(i64, &str)] = &[(0, "no"), (1, "yes")];
/// on/off.
pub static ON_OFF: &[(i64, &str)] = &[(0, "off"), (1, "on")];
/// APC's line sensitivity.
pub static APC_SENSITIVITY: &[(i64, &str)] = &[(0, "low"), (1, "medium"), (2, "high")];
/// Eaton/MGE's converter type → `ups.type`.
pub static MGE_UPS_TYPE: &[(i64, &str)] = &[
    (1, "offline / line interactive"),
    (2, "online"),
    (3, "online - unitary/parallel"),
    (4, "online - parallel with hot standy"),
    (5, "online - hot standby redundancy"),
];
/// Eaton/MGE's sensitivity.
pub static MGE_SENSITIVITY: &[(i64, &str)] = &[(0, "normal"), (1, "high"), (2, "low")];

use CommandValue::{OffDelay, OnDelay};
use Convert::{Date, KelvinToCelsius, Lookup, StringIndex};

/// The HID Power Device Class rows every subdriver shares (PowerSummary
/// delays, timers and the shutdown commands on them).
pub static PDC_DELAYS: &[Row] = &[
    absent("ups.delay.start", "UPS.PowerSummary.DelayBeforeStartup", Default::OnDelay),
    absent("ups.delay.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.start", "UPS.PowerSummary.DelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.PowerSummary.DelayBeforeReboot", 0, QUICK_POLL),
    cmd("load.off.delay", "UPS.PowerSummary.DelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.PowerSummary.DelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.PowerSummary.DelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.PowerSummary.DelayBeforeReboot", 10),
];

/// The PresentStatus rows of the PowerSummary collection.
pub static PDC_STATUS: &[Row] = &[
    status("UPS.PowerSummary.PresentStatus.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    status("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Overload", OVERLOAD, 0),
    status("UPS.PowerSummary.PresentStatus.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.PowerSummary.PresentStatus.RemainingTimeLimitExpired", TIME_LIMIT_EXPIRED, 0),
    status("UPS.PowerSummary.PresentStatus.BatteryPresent", BATTERY_PRESENT, 0),
    status("UPS.PowerSummary.PresentStatus.FullyCharged", FULLY_CHARGED, 0),
    status("UPS.PowerSummary.PresentStatus.FullyDischarged", DEPLETED, 0),
    status("UPS.PowerSummary.PresentStatus.Boost", BOOST, 0),
    status("UPS.PowerSummary.PresentStatus.Buck", TRIM, 0),
    status("UPS.PowerSummary.PresentStatus.OverTemperature", OVERHEAT, 0),
    status("UPS.PowerSummary.PresentStatus.InternalFailure", COMM_FAULT, 0),
    status("UPS.PowerSummary.PresentStatus.AwaitingPower", AWAITING_POWER, 0),
    status("UPS.PowerSummary.PresentStatus.VoltageOutOfRange", VOLTAGE_RANGE, 0),
    status("UPS.PowerSummary.PresentStatus.FrequencyOutOfRange", FREQUENCY_RANGE, 0),
];

/// Battery-test and beeper commands on the standard paths.
pub static PDC_COMMANDS: &[Row] = &[
    fixed("test.battery.start.quick", "UPS.BatterySystem.Battery.Test", 1),
    fixed("test.battery.start.quick", "UPS.Battery.Test", 1),
    fixed("test.battery.start.deep", "UPS.BatterySystem.Battery.Test", 2),
    fixed("test.battery.start.deep", "UPS.Battery.Test", 2),
    fixed("test.battery.stop", "UPS.BatterySystem.Battery.Test", 3),
    fixed("test.battery.stop", "UPS.Battery.Test", 3),
    fixed("beeper.enable", "UPS.PowerSummary.AudibleAlarmControl", 2),
    fixed("beeper.disable", "UPS.PowerSummary.AudibleAlarmControl", 1),
    fixed("beeper.mute", "UPS.PowerSummary.AudibleAlarmControl", 3),
];

/// Common measurement rows (standard paths) for subdrivers without their own.
pub static PDC_VALUES: &[Row] = &[
    var("battery.charge", "UPS.PowerSummary.RemainingCapacity", 0, 0),
    var("battery.charge", "UPS.BatterySystem.Battery.RemainingCapacity", 0, 0),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit", 0, SEMI_STATIC | RW),
    var("battery.charge.warning", "UPS.PowerSummary.WarningCapacityLimit", 0, 0),
    var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", 0, 0),
    var("battery.runtime", "UPS.Battery.RunTimeToEmpty", 0, 0),
    var("battery.runtime.low", "UPS.PowerSummary.RemainingTimeLimit", 0, SEMI_STATIC | RW),
    var("battery.voltage", "UPS.PowerSummary.Voltage", 1, 0),
    var("battery.voltage", "UPS.Battery.Voltage", 1, 0),
    var("battery.voltage", "UPS.BatterySystem.Battery.Voltage", 1, 0),
    var("battery.voltage.nominal", "UPS.PowerSummary.ConfigVoltage", 1, STATIC),
    var("battery.voltage.nominal", "UPS.Battery.ConfigVoltage", 1, STATIC),
    conv("battery.temperature", "UPS.Battery.Temperature", KelvinToCelsius, 0),
    conv("battery.temperature", "UPS.BatterySystem.Battery.Temperature", KelvinToCelsius, 0),
    conv("battery.type", "UPS.PowerSummary.iDeviceChemistry", StringIndex, STATIC),
    conv("battery.mfr.date", "UPS.Battery.ManufacturerDate", Date, STATIC),
    conv("ups.mfr.date", "UPS.PowerSummary.ManufacturerDate", Date, STATIC),
    conv("ups.mfr.date", "UPS.ManufacturerDate", Date, STATIC),
    var("ups.load", "UPS.PowerSummary.PercentLoad", 0, 0),
    var("ups.load", "UPS.Output.PercentLoad", 0, 0),
    var("ups.load", "UPS.PowerConverter.PercentLoad", 0, 0),
    var("ups.power.nominal", "UPS.Output.ConfigApparentPower", 0, STATIC),
    var("ups.realpower.nominal", "UPS.Output.ConfigActivePower", 0, STATIC),
    var("ups.realpower.nominal", "UPS.PowerConverter.ConfigActivePower", 0, STATIC),
    conv("ups.test.result", "UPS.Battery.Test", Lookup(TEST_RESULT), 0),
    conv("ups.test.result", "UPS.BatterySystem.Battery.Test", Lookup(TEST_RESULT), 0),
    conv("ups.beeper.status", "UPS.PowerSummary.AudibleAlarmControl", Lookup(BEEPER), 0),
    var("input.voltage", "UPS.Input.Voltage", 1, 0),
    var("input.voltage", "UPS.PowerSummary.Input.Voltage", 1, 0),
    var("input.voltage.nominal", "UPS.Input.ConfigVoltage", 0, STATIC),
    var("input.frequency", "UPS.Input.Frequency", 1, 0),
    var("input.transfer.low", "UPS.Input.LowVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.high", "UPS.Input.HighVoltageTransfer", 0, SEMI_STATIC | RW),
    var("output.voltage", "UPS.Output.Voltage", 1, 0),
    var("output.voltage.nominal", "UPS.Output.ConfigVoltage", 0, STATIC),
    var("output.frequency", "UPS.Output.Frequency", 1, 0),
    var("output.current", "UPS.Output.Current", 2, 0),
    var("ups.temperature", "UPS.PowerSummary.Temperature", 1, 0),
    status("UPS.PowerConverter.PresentStatus.Overload", OVERLOAD, 0),
    status("UPS.PowerConverter.PresentStatus.Buck", TRIM, 0),
    status("UPS.PowerConverter.PresentStatus.Boost", BOOST, 0),
    status("UPS.PowerConverter.PresentStatus.OverTemperature", OVERHEAT, 0),
    status("UPS.PowerConverter.PresentStatus.InternalFailure", COMM_FAULT, 0),
    status("UPS.PowerConverter.PresentStatus.AwaitingPower", AWAITING_POWER, 0),
    status("UPS.PowerConverter.PresentStatus.VoltageOutOfRange", VOLTAGE_RANGE, 0),
];

/// APC (vendor page 0xFF86).
pub static APC_ROWS: &[Row] = &[
    var("battery.charge", "UPS.PowerSummary.RemainingCapacity", 0, 0),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit", 0, SEMI_STATIC | RW),
    var("battery.charge.warning", "UPS.PowerSummary.WarningCapacityLimit", 0, 0),
    var("battery.runtime", "UPS.Battery.RunTimeToEmpty", 0, 0),
    var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", 0, 0),
    var("battery.runtime.low", "UPS.Battery.RemainingTimeLimit", 0, SEMI_STATIC | RW),
    var("battery.runtime.low", "UPS.PowerSummary.RemainingTimeLimit", 0, SEMI_STATIC | RW),
    var("battery.voltage", "UPS.Battery.Voltage", 1, 0),
    var("battery.voltage", "UPS.PowerSummary.Voltage", 1, 0),
    var("battery.voltage.nominal", "UPS.Battery.ConfigVoltage", 1, 0),
    var("battery.voltage.nominal", "UPS.PowerSummary.ConfigVoltage", 1, 0),
    conv("battery.temperature", "UPS.Battery.Temperature", KelvinToCelsius, 0),
    conv("battery.type", "UPS.PowerSummary.iDeviceChemistry", StringIndex, 0),
    conv("battery.mfr.date", "UPS.Battery.ManufacturerDate", Date, 0),
    var("ups.load", "UPS.Output.PercentLoad", 1, 0),
    var("ups.load", "UPS.PowerConverter.PercentLoad", 0, 0),
    absent("ups.delay.start", "UPS.PowerSummary.DelayBeforeStartup", Default::OnDelay),
    absent("ups.delay.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.start", "UPS.PowerSummary.DelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.PowerSummary.DelayBeforeReboot", 0, QUICK_POLL),
    absent("ups.delay.start", "UPS.Output.DelayBeforeStartup", Default::OnDelay),
    absent("ups.delay.shutdown", "UPS.Output.DelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.start", "UPS.Output.DelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.shutdown", "UPS.Output.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.Output.DelayBeforeReboot", 0, QUICK_POLL),
    absent("ups.delay.start", "UPS.APCGeneralCollection.APCDelayBeforeStartup", Default::OnDelay),
    absent("ups.delay.shutdown", "UPS.APCGeneralCollection.APCDelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.start", "UPS.APCGeneralCollection.APCDelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.shutdown", "UPS.APCGeneralCollection.APCDelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.APCGeneralCollection.APCDelayBeforeReboot", 0, QUICK_POLL),
    conv("ups.test.result", "UPS.Battery.Test", Lookup(TEST_RESULT), 0),
    conv("ups.beeper.status", "UPS.PowerSummary.AudibleAlarmControl", Lookup(BEEPER), 0),
    conv("ups.mfr.date", "UPS.ManufacturerDate", Date, 0),
    conv("ups.mfr.date", "UPS.PowerSummary.ManufacturerDate", Date, 0),
    var("ups.realpower.nominal", "UPS.PowerConverter.ConfigActivePower", 0, 0),
    var("ups.realpower.nominal", "UPS.Output.ConfigActivePower", 0, 0),
    status("UPS.PowerSummary.PresentStatus.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    status("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Overload", OVERLOAD, 0),
    status("UPS.PowerSummary.PresentStatus.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.PowerSummary.PresentStatus.RemainingTimeLimitExpired", TIME_LIMIT_EXPIRED, 0),
    status("UPS.PowerSummary.PresentStatus.BatteryPresent", BATTERY_PRESENT, 0),
    status("UPS.PowerSummary.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    status("UPS.PowerSummary.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    var("input.voltage", "UPS.Input.Voltage", 1, 0),
    var("input.voltage.nominal", "UPS.Input.ConfigVoltage", 0, 0),
    var("input.transfer.low", "UPS.Output.LowVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.high", "UPS.Output.HighVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.low", "UPS.Input.LowVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.high", "UPS.Input.HighVoltageTransfer", 0, SEMI_STATIC | RW),
    conv("input.sensitivity", "UPS.Input.APCSensitivity", Lookup(APC_SENSITIVITY), SEMI_STATIC | RW),
    var("output.voltage", "UPS.Output.Voltage", 1, 0),
    var("output.voltage.nominal", "UPS.Output.ConfigVoltage", 1, 0),
    var("output.current", "UPS.Output.Current", 2, 0),
    var("output.frequency", "UPS.Output.Frequency", 1, 0),
    fixed("test.panel.start", "UPS.APCPanelTest", 1),
    fixed("test.panel.stop", "UPS.APCPanelTest", 0),
    fixed("test.panel.start", "UPS.PowerSummary.APCPanelTest", 1),
    fixed("test.panel.stop", "UPS.PowerSummary.APCPanelTest", 0),
    cmd("load.off.delay", "UPS.PowerSummary.DelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.PowerSummary.DelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.PowerSummary.DelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.PowerSummary.DelayBeforeReboot", 10),
    cmd("load.off.delay", "UPS.Output.DelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.Output.DelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.Output.DelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.Output.DelayBeforeReboot", 10),
    cmd("load.off.delay", "UPS.APCGeneralCollection.APCDelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.APCGeneralCollection.APCDelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.APCGeneralCollection.APCDelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.APCGeneralCollection.APCDelayBeforeReboot", 10),
];

/// Eaton/MGE (vendor page 0xFFFF): the single-phase subset.
pub static MGE_ROWS: &[Row] = &[
    var("battery.charge", "UPS.PowerSummary.RemainingCapacity", 0, 0),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimitSetting", 0, SEMI_STATIC | RW),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit", 0, STATIC),
    var("battery.charge.restart", "UPS.PowerSummary.RestartLevel", 0, SEMI_STATIC | RW),
    conv("battery.capacity", "UPS.BatterySystem.Battery.DesignCapacity", Convert::AmpSecondsToAmpHours, STATIC),
    var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", 0, 0),
    var("battery.runtime.low", "UPS.PowerSummary.RemainingTimeLimit", 0, RW),
    conv("battery.temperature", "UPS.BatterySystem.Battery.Temperature", KelvinToCelsius, 0),
    conv("battery.type", "UPS.PowerSummary.iDeviceChemistry", StringIndex, STATIC),
    var("battery.voltage", "UPS.BatterySystem.Voltage", 1, 0),
    var("battery.voltage", "UPS.PowerSummary.Voltage", 1, 0),
    var("battery.voltage.nominal", "UPS.BatterySystem.ConfigVoltage", 0, STATIC),
    var("battery.voltage.nominal", "UPS.PowerSummary.ConfigVoltage", 0, STATIC),
    conv("battery.protection", "UPS.BatterySystem.Battery.DeepDischargeProtection", Lookup(YES_NO), SEMI_STATIC | RW),
    var("ups.efficiency", "UPS.PowerConverter.Output.Efficiency", 0, 0),
    conv("ups.firmware", "UPS.PowerSummary.iVersion", StringIndex, STATIC),
    var("ups.load", "UPS.PowerSummary.PercentLoad", 0, 0),
    var("ups.load.high", "UPS.Flow.[4].ConfigPercentLoad", 0, SEMI_STATIC | RW),
    absent("ups.delay.start", "UPS.PowerSummary.DelayBeforeStartup", Default::OnDelay),
    absent("ups.delay.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.start", "UPS.PowerSummary.DelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.PowerSummary.DelayBeforeReboot", 0, QUICK_POLL),
    conv("ups.test.result", "UPS.BatterySystem.Battery.Test", Lookup(TEST_RESULT), 0),
    var("ups.test.interval", "UPS.BatterySystem.Battery.TestPeriod", 0, SEMI_STATIC | RW),
    conv("ups.beeper.status", "UPS.BatterySystem.Battery.AudibleAlarmControl", Lookup(BEEPER), SEMI_STATIC),
    conv("ups.beeper.status", "UPS.PowerSummary.AudibleAlarmControl", Lookup(BEEPER), SEMI_STATIC),
    conv("ups.temperature", "UPS.PowerSummary.Temperature", KelvinToCelsius, 0),
    var("ups.power", "UPS.PowerConverter.Output.ApparentPower", 0, 0),
    var("ups.power.nominal", "UPS.Flow.[4].ConfigApparentPower", 0, STATIC),
    var("ups.realpower", "UPS.PowerConverter.Output.ActivePower", 0, 0),
    var("ups.realpower.nominal", "UPS.Flow.[4].ConfigActivePower", 0, STATIC),
    conv("ups.start.auto", "UPS.PowerConverter.Input.[1].AutomaticRestart", Lookup(YES_NO), SEMI_STATIC | RW),
    conv("ups.start.battery", "UPS.PowerConverter.Input.[3].StartOnBattery", Lookup(YES_NO), SEMI_STATIC | RW),
    conv("ups.start.reboot", "UPS.PowerConverter.Output.ForcedReboot", Lookup(YES_NO), SEMI_STATIC | RW),
    conv("ups.type", "UPS.PowerConverter.ConverterType", Lookup(MGE_UPS_TYPE), STATIC),
    status("UPS.PowerSummary.PresentStatus.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerConverter.Input.[3].PresentStatus.Used", ON_BATTERY, 0),
    status("UPS.PowerSummary.PresentStatus.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    status("UPS.PowerConverter.Output.Overload.[1].PresentStatus.OverThreshold", OVERLOAD, 0),
    status("UPS.PowerConverter.Output.Overload.[2].PresentStatus.OverThreshold", OVERLOAD, 0),
    status("UPS.PowerSummary.PresentStatus.Overload", OVERLOAD, 0),
    status("UPS.PowerSummary.PresentStatus.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.LCMSystem.LCMAlarm.[2].PresentStatus.TimerExpired", REPLACE_BATTERY, 0),
    status("UPS.PowerConverter.Input.[1].PresentStatus.Buck", TRIM, 0),
    status("UPS.PowerConverter.Input.[1].PresentStatus.Boost", BOOST, 0),
    status("UPS.PowerConverter.Input.[1].PresentStatus.VoltageOutOfRange", VOLTAGE_RANGE, 0),
    status("UPS.PowerConverter.Input.[1].PresentStatus.FrequencyOutOfRange", FREQUENCY_RANGE, 0),
    status("UPS.PowerSummary.PresentStatus.Good", GOOD, 0),
    status("UPS.PowerConverter.Input.[2].PresentStatus.Used", BYPASS_AUTO, 0),
    status("UPS.PowerConverter.Input.[4].PresentStatus.Used", BYPASS_MANUAL, 0),
    status("UPS.PowerSummary.PresentStatus.FanFailure", FAN_FAILURE, 0),
    status("UPS.BatterySystem.Battery.PresentStatus.Present", BATTERY_PRESENT, 0),
    status("UPS.BatterySystem.Charger.PresentStatus.InternalFailure", CHARGER_FAILURE, 0),
    status("UPS.BatterySystem.Charger.PresentStatus.VoltageTooHigh", BATTERY_VOLTAGE_HIGH, 0),
    status("UPS.BatterySystem.Battery.PresentStatus.VoltageTooHigh", BATTERY_VOLTAGE_HIGH, 0),
    status("UPS.BatterySystem.Charger.PresentStatus.VoltageTooLow", BATTERY_VOLTAGE_LOW, 0),
    status("UPS.PowerSummary.PresentStatus.InternalFailure", COMM_FAULT, 0),
    status("UPS.PowerSummary.PresentStatus.OverTemperature", OVERHEAT, 0),
    status("UPS.PowerSummary.PresentStatus.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    var("input.voltage", "UPS.PowerConverter.Input.[1].Voltage", 1, 0),
    var("input.voltage.nominal", "UPS.Flow.[1].ConfigVoltage", 0, STATIC),
    var("input.current", "UPS.PowerConverter.Input.[1].Current", 2, 0),
    var("input.current.nominal", "UPS.Flow.[1].ConfigCurrent", 2, STATIC),
    var("input.frequency", "UPS.PowerConverter.Input.[1].Frequency", 1, 0),
    var("input.frequency.nominal", "UPS.Flow.[1].ConfigFrequency", 0, STATIC),
    var("input.transfer.low", "UPS.PowerConverter.Output.LowVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.boost.low", "UPS.PowerConverter.Output.LowVoltageBoostTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.boost.high", "UPS.PowerConverter.Output.HighVoltageBoostTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.trim.low", "UPS.PowerConverter.Output.LowVoltageBuckTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.high", "UPS.PowerConverter.Output.HighVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.trim.high", "UPS.PowerConverter.Output.HighVoltageBuckTransfer", 0, SEMI_STATIC | RW),
    conv("input.sensitivity", "UPS.PowerConverter.Output.SensitivityMode", Lookup(MGE_SENSITIVITY), SEMI_STATIC | RW),
    var("input.bypass.voltage", "UPS.PowerConverter.Input.[2].Voltage", 1, 0),
    var("input.bypass.frequency", "UPS.PowerConverter.Input.[2].Frequency", 1, 0),
    var("output.voltage", "UPS.PowerConverter.Output.Voltage", 1, 0),
    var("output.voltage.nominal", "UPS.Flow.[4].ConfigVoltage", 0, SEMI_STATIC | RW),
    var("output.current", "UPS.PowerConverter.Output.Current", 2, 0),
    var("output.current.nominal", "UPS.Flow.[4].ConfigCurrent", 2, 0),
    var("output.frequency", "UPS.PowerConverter.Output.Frequency", 1, 0),
    var("output.frequency.nominal", "UPS.Flow.[4].ConfigFrequency", 0, STATIC),
    var("outlet.id", "UPS.OutletSystem.Outlet.[1].OutletID", 0, STATIC),
    Row {
        name: "outlet.desc",
        path: "UPS.OutletSystem.Outlet.[1].OutletID",
        flags: ABSENT | RW,
        action: Action::Default(Default::Text("Main Outlet")),
    },
    conv("outlet.switchable", "UPS.OutletSystem.Outlet.[1].PresentStatus.Switchable", Lookup(YES_NO), STATIC),
    var("outlet.1.id", "UPS.OutletSystem.Outlet.[2].OutletID", 0, STATIC),
    Row {
        name: "outlet.1.desc",
        path: "UPS.OutletSystem.Outlet.[2].OutletID",
        flags: ABSENT | RW,
        action: Action::Default(Default::Text("PowerShare Outlet 1")),
    },
    conv("outlet.1.switchable", "UPS.OutletSystem.Outlet.[2].PresentStatus.Switchable", Lookup(YES_NO), STATIC),
    conv("outlet.1.status", "UPS.OutletSystem.Outlet.[2].PresentStatus.SwitchOn/Off", Lookup(ON_OFF), 0),
    // Low-end models with one unprotected outlet: it is on whenever AC is.
    conv("outlet.1.status", "UPS.PowerSummary.PresentStatus.ACPresent", Lookup(ON_OFF), 0),
    var("outlet.1.delay.shutdown", "UPS.OutletSystem.Outlet.[2].ShutdownTimer", 0, SEMI_STATIC | RW),
    var("outlet.1.delay.start", "UPS.OutletSystem.Outlet.[2].StartupTimer", 0, SEMI_STATIC | RW),
    var("outlet.2.id", "UPS.OutletSystem.Outlet.[3].OutletID", 0, STATIC),
    Row {
        name: "outlet.2.desc",
        path: "UPS.OutletSystem.Outlet.[3].OutletID",
        flags: ABSENT | RW,
        action: Action::Default(Default::Text("PowerShare Outlet 2")),
    },
    conv("outlet.2.switchable", "UPS.OutletSystem.Outlet.[3].PresentStatus.Switchable", Lookup(YES_NO), 0),
    conv("outlet.2.status", "UPS.OutletSystem.Outlet.[3].PresentStatus.SwitchOn/Off", Lookup(ON_OFF), 0),
    fixed("test.battery.start.quick", "UPS.BatterySystem.Battery.Test", 1),
    fixed("test.battery.start.deep", "UPS.BatterySystem.Battery.Test", 2),
    fixed("test.battery.stop", "UPS.BatterySystem.Battery.Test", 3),
    cmd("load.off.delay", "UPS.PowerSummary.DelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.PowerSummary.DelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.PowerSummary.DelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.PowerSummary.DelayBeforeReboot", 10),
    fixed("beeper.mute", "UPS.BatterySystem.Battery.AudibleAlarmControl", 3),
    fixed("beeper.mute", "UPS.PowerSummary.AudibleAlarmControl", 3),
    fixed("beeper.disable", "UPS.BatterySystem.Battery.AudibleAlarmControl", 1),
    fixed("beeper.disable", "UPS.PowerSummary.AudibleAlarmControl", 1),
    fixed("beeper.enable", "UPS.BatterySystem.Battery.AudibleAlarmControl", 2),
    fixed("beeper.enable", "UPS.PowerSummary.AudibleAlarmControl", 2),
    fixed("outlet.1.load.off", "UPS.OutletSystem.Outlet.[2].DelayBeforeShutdown", 0),
    fixed("outlet.1.load.on", "UPS.OutletSystem.Outlet.[2].DelayBeforeStartup", 0),
    fixed("outlet.2.load.off", "UPS.OutletSystem.Outlet.[3].DelayBeforeShutdown", 0),
    fixed("outlet.2.load.on", "UPS.OutletSystem.Outlet.[3].DelayBeforeStartup", 0),
];

/// Tripp Lite: outlet-system delays first, then the common rows.
pub static TRIPP_LITE_ROWS: &[Row] = &[
    absent("ups.delay.shutdown", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.shutdown", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", 0, QUICK_POLL),
    cmd("load.off.delay", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", OffDelay),
    fixed("shutdown.stop", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", -1),
];

/// The "PowerConverter / Flow / OutletSystem" layout that Tripp Lite,
/// Liebert (PSA5, PSI5) and Legrand (UPS 1cb0:0032) firmware share: input and
/// output measurements under `UPS.PowerConverter`, ratings under `UPS.Flow`,
/// the load and the shutdown delays on the (single) `UPS.OutletSystem.Outlet`.
pub static CONVERTER_ROWS: &[Row] = &[
    var("input.voltage", "UPS.PowerConverter.Input.Voltage", 1, 0),
    var("input.frequency", "UPS.PowerConverter.Input.Frequency", 1, 0),
    var("input.voltage.nominal", "UPS.PowerSummary.Input.ConfigVoltage", 0, STATIC),
    var("input.transfer.low", "UPS.PowerConverter.Output.LowVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.high", "UPS.PowerConverter.Output.HighVoltageTransfer", 0, SEMI_STATIC | RW),
    var("output.voltage", "UPS.PowerConverter.Output.Voltage", 1, 0),
    var("output.frequency", "UPS.PowerConverter.Output.Frequency", 1, 0),
    var("output.current", "UPS.PowerConverter.Output.Current", 2, 0),
    var("output.voltage.nominal", "UPS.Flow.ConfigVoltage", 0, STATIC),
    var("output.frequency.nominal", "UPS.Flow.ConfigFrequency", 0, STATIC),
    var("ups.power.nominal", "UPS.Flow.ConfigApparentPower", 0, STATIC),
    var("ups.power", "UPS.PowerConverter.Output.ApparentPower", 0, 0),
    var("ups.realpower", "UPS.PowerConverter.Output.ActivePower", 0, 0),
    var("ups.load", "UPS.OutletSystem.Outlet.PercentLoad", 0, 0),
    var("battery.voltage.nominal", "UPS.BatterySystem.Battery.ConfigVoltage", 1, STATIC),
    absent("ups.delay.shutdown", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", Default::OffDelay),
    absent("ups.delay.start", "UPS.OutletSystem.Outlet.DelayBeforeStartup", Default::OnDelay),
    var("ups.timer.shutdown", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.start", "UPS.OutletSystem.Outlet.DelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.OutletSystem.Outlet.DelayBeforeReboot", 0, QUICK_POLL),
    cmd("load.off.delay", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.OutletSystem.Outlet.DelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.OutletSystem.Outlet.DelayBeforeReboot", 10),
    status("UPS.BatterySystem.Battery.PresentStatus.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.BatterySystem.Battery.PresentStatus.FullyDischarged", DEPLETED, 0),
];

/// Liebert GXT5: its PowerSummary carries the status bits directly (no
/// PresentStatus collection) and the self-test; the rest comes from
/// [`CONVERTER_ROWS`] (PSA5/PSI5) and the common rows.
pub static LIEBERT_ROWS: &[Row] = &[
    status("UPS.PowerSummary.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    status("UPS.PowerSummary.BatteryPresent", BATTERY_PRESENT, 0),
    status("UPS.PowerSummary.FullyCharged", FULLY_CHARGED, 0),
    status("UPS.PowerSummary.FullyDischarged", DEPLETED, 0),
    status("UPS.PowerSummary.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.PowerSummary.Overload", OVERLOAD, 0),
    status("UPS.PowerSummary.OverTemperature", OVERHEAT, 0),
    status("UPS.PowerSummary.VoltageOutOfRange", VOLTAGE_RANGE, 0),
    status("UPS.PowerSummary.CommunicationLost", COMM_FAULT, 0),
    var("ups.power.nominal", "UPS.PowerSummary.ConfigApparentPower", 0, STATIC),
    var("ups.realpower.nominal", "UPS.PowerSummary.ConfigActivePower", 0, STATIC),
    var("output.frequency.nominal", "UPS.PowerSummary.ConfigFrequency", 0, STATIC),
    conv("ups.test.result", "UPS.PowerSummary.Test", Lookup(TEST_RESULT), 0),
    fixed("test.battery.start.quick", "UPS.PowerSummary.Test", 1),
    fixed("test.battery.start.deep", "UPS.PowerSummary.Test", 2),
    fixed("test.battery.stop", "UPS.PowerSummary.Test", 3),
];

/// Legrand Keor PDU: delays, self-test and converter status under
/// `UPS.Output` (the UPS 1cb0:0032 uses [`CONVERTER_ROWS`] instead).
pub static LEGRAND_ROWS: &[Row] = &[
    absent("ups.delay.shutdown", "UPS.Output.DelayBeforeShutdown", Default::OffDelay),
    absent("ups.delay.start", "UPS.Output.DelayBeforeStartup", Default::OnDelay),
    var("ups.timer.shutdown", "UPS.Output.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.start", "UPS.Output.DelayBeforeStartup", 0, QUICK_POLL),
    cmd("load.off.delay", "UPS.Output.DelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.Output.DelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.Output.DelayBeforeShutdown", -1),
    conv("ups.test.result", "UPS.Output.Test", Lookup(TEST_RESULT), 0),
    fixed("test.battery.start.quick", "UPS.Output.Test", 1),
    fixed("test.battery.start.deep", "UPS.Output.Test", 2),
    fixed("test.battery.stop", "UPS.Output.Test", 3),
    status("UPS.Output.Boost", BOOST, 0),
    status("UPS.Output.Buck", TRIM, 0),
    status("UPS.Output.Overload", OVERLOAD, 0),
    status("UPS.Output.CommunicationLost", COMM_FAULT, 0),
];

/// PowerCOM: battery values under `UPS.Battery`, the beeper and the
/// shutdown-imminent bit directly under `UPS`, ratings under `UPS.Output`.
pub static POWERCOM_ROWS: &[Row] = &[
    var("battery.charge", "UPS.Battery.RemainingCapacity", 0, 0),
    conv("battery.mfr.date", "UPS.Battery.ManufacturerDate", Date, STATIC),
    var("output.frequency.nominal", "UPS.Output.ConfigFrequency", 0, STATIC),
    conv("ups.beeper.status", "UPS.AudibleAlarmControl", Lookup(BEEPER), 0),
    status("UPS.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    fixed("beeper.enable", "UPS.AudibleAlarmControl", 2),
    fixed("beeper.disable", "UPS.AudibleAlarmControl", 1),
    fixed("beeper.mute", "UPS.AudibleAlarmControl", 3),
];

/// CyberPower: its delays, timers, self-test and status live under
/// `UPS.Output`; ahead of the common rows, which fill in the rest.
pub static CYBERPOWER_ROWS: &[Row] = &[
    conv("battery.charge", "UPS.PowerSummary.RemainingCapacity", Convert::PercentClamped, 0),
    var("battery.voltage.nominal", "UPS.PowerSummary.ConfigVoltage", 0, 0),
    var("ups.load", "UPS.Output.PercentLoad", 0, 0),
    conv("ups.test.result", "UPS.Output.Test", Lookup(TEST_RESULT), 0),
    var("ups.power", "UPS.Output.ApparentPower", 0, 0),
    var("ups.realpower", "UPS.Output.ActivePower", 0, 0),
    absent("ups.delay.start", "UPS.Output.DelayBeforeStartup", Default::OnDelay),
    absent("ups.delay.shutdown", "UPS.Output.DelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.start", "UPS.Output.DelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.shutdown", "UPS.Output.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.Output.DelayBeforeReboot", 0, QUICK_POLL),
    conv("ups.temperature", "UPS.PowerSummary.Temperature", KelvinToCelsius, 0),
    status("UPS.Output.Boost", BOOST, 0),
    status("UPS.Output.Overload", OVERLOAD, 0),
    // Some models (CP1350EPFCLCD) keep the transfer limits under Output.
    var("input.transfer.low", "UPS.Input.LowVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.high", "UPS.Input.HighVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.low", "UPS.Output.LowVoltageTransfer", 0, SEMI_STATIC | RW),
    var("input.transfer.high", "UPS.Output.HighVoltageTransfer", 0, SEMI_STATIC | RW),
    fixed("test.battery.start.quick", "UPS.Output.Test", 1),
    fixed("test.battery.start.deep", "UPS.Output.Test", 2),
    fixed("test.battery.stop", "UPS.Output.Test", 3),
    cmd("load.off.delay", "UPS.Output.DelayBeforeShutdown", OffDelay),
    cmd("load.on.delay", "UPS.Output.DelayBeforeStartup", OnDelay),
    fixed("shutdown.stop", "UPS.Output.DelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.Output.DelayBeforeReboot", 10),
    fixed("beeper.on", "UPS.PowerSummary.AudibleAlarmControl", 2),
    fixed("beeper.off", "UPS.PowerSummary.AudibleAlarmControl", 3),
];

/// Largest input/output voltage CyberPower devices report (with margin).
pub const CYBERPOWER_VOLTAGE_MAX: i64 = 511;

/// CyberPower's 0x0501/0x0601 descriptors get their voltage ranges wrong in
/// two known ways, and values above a wrong maximum would be masked to
/// garbage:
/// - the output voltage (report 0x12) repeats the high-transfer limits
///   (report 0x10), sometimes the input voltage (report 0x0f) too: both are
///   replaced by 0..[`CYBERPOWER_VOLTAGE_MAX`];
/// - a maximum encoded negative (so read as unsigned, "assumed") is raised
///   to at least [`CYBERPOWER_VOLTAGE_MAX`], the smaller of input and output
///   aligned on the larger, and capped at what the field's bits can hold.
pub fn fix_cyberpower(d: &mut ReportDescriptor, product_id: u16) {
    const VOLTAGE: u32 = 0x840030;
    const HIGH_TRANSFER: u32 = 0x840054;
    if product_id != 0x0501 && product_id != 0x0601 {
        return;
    }
    let find = |d: &ReportDescriptor, id: u8, usage: u32| {
        d.fields.iter().position(|f| f.report_id == id && f.usage() == usage)
    };
    let (input, output) = (find(d, 0x0F, VOLTAGE), find(d, 0x12, VOLTAGE));
    if let Some(hvt) = find(d, 0x10, HIGH_TRANSFER) {
        let limits = (d.fields[hvt].logical_min, d.fields[hvt].logical_max);
        if let Some(o) = output.filter(|o| (d.fields[*o].logical_min, d.fields[*o].logical_max) == limits) {
            for i in [Some(o), input.filter(|i| (d.fields[*i].logical_min, d.fields[*i].logical_max) == limits)]
                .into_iter()
                .flatten()
            {
                d.fields[i].logical_min = 0;
                d.fields[i].logical_max = CYBERPOWER_VOLTAGE_MAX;
            }
        }
    }
    let (Some(i), Some(o)) = (input, output) else { return };
    let (in_assumed, out_assumed) = (d.fields[i].logical_max_assumed, d.fields[o].logical_max_assumed);
    if !in_assumed && !out_assumed {
        return;
    }
    let (mut in_max, mut out_max) = (d.fields[i].logical_max, d.fields[o].logical_max);
    if in_assumed {
        in_max = in_max.max(CYBERPOWER_VOLTAGE_MAX);
    }
    if out_assumed {
        out_max = out_max.max(CYBERPOWER_VOLTAGE_MAX);
    }
    if out_assumed && out_max < in_max {
        out_max = in_max;
    } else if in_assumed && in_max < out_max {
        in_max = out_max;
    }
    for (idx, assumed, max) in [(i, in_assumed, in_max), (o, out_assumed, out_max)] {
        let f = &mut d.fields[idx];
        if assumed && f.size > 1 && f.size < 63 {
            f.logical_max = max.min((1i64 << f.size) - 1);
        }
    }
}

const STD: &[UsageTable] = &[usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM];
const GENERIC_ROWS: &[&[Row]] = &[PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS];

const fn generic(name: &'static str, vendor_ids: &'static [u16]) -> Subdriver {
    Subdriver {
        name,
        vendor_ids,
        names: UsageNames { tables: STD },
        rows: GENERIC_ROWS,
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    }
}

/// NUT's explore subdriver: standard usage names only, no rows; claims no
/// vendor id, used with the `explore` option (or `subdriver=explore`).
pub static EXPLORE: Subdriver = Subdriver {
    name: "explore",
    vendor_ids: &[],
    names: UsageNames { tables: STD },
    rows: &[],
    pollfreq: 30,
    fixup: None,
    delays: DEFAULT_DELAYS,
};

/// Every subdriver, in NUT's claim order. Vendors without a table of their
/// own here use the common Power Device Class rows.
pub static SUBDRIVERS: &[Subdriver] = &[
    Subdriver {
        name: "MGE HID",
        vendor_ids: &[0x0463, 0x047C, 0x0592, 0x03F0, 0x2B2D, 0x06DA, 0x04B3, 0x09D6],
        names: UsageNames { tables: &[usage_names::MGE, usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM] },
        rows: &[MGE_ROWS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
    Subdriver {
        name: "APC HID",
        vendor_ids: &[0x051D],
        names: UsageNames { tables: &[usage_names::APC, usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM] },
        rows: &[APC_ROWS, PDC_COMMANDS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
    generic("Arduino HID", &[0x2341, 0x2A03]),
    generic("Belkin HID", &[0x050D]),
    Subdriver {
        name: "CyberPower HID",
        vendor_ids: &[0x0764, 0x0483],
        names: UsageNames { tables: STD },
        rows: &[CYBERPOWER_ROWS, PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS],
        pollfreq: 12,
        fixup: Some(fix_cyberpower),
        delays: CYBERPOWER_DELAYS,
    },
    generic("Delta UPS HID", &[0x05DD]),
    generic("EcoFlow HID", &[0x3746]),
    generic("Ever HID", &[0x2E51]),
    generic("iDowell HID", &[0x075D]),
    Subdriver {
        name: "Legrand HID",
        vendor_ids: &[0x1CB0],
        names: UsageNames { tables: STD },
        rows: &[LEGRAND_ROWS, CONVERTER_ROWS, PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS],
        pollfreq: 30,
        fixup: None,
        delays: LEGRAND_DELAYS,
    },
    Subdriver {
        name: "Liebert HID",
        vendor_ids: &[0x10AF],
        names: UsageNames { tables: STD },
        rows: &[LIEBERT_ROWS, CONVERTER_ROWS, PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
    generic("OpenUPS HID", &[0x04D8]),
    Subdriver {
        name: "PowerCOM HID",
        vendor_ids: &[0x0D9F],
        names: UsageNames { tables: STD },
        rows: &[POWERCOM_ROWS, PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
    generic("Powervar HID", &[0x4234]),
    generic("Salicru HID", &[0x2E66]),
    Subdriver {
        name: "TrippLite HID",
        vendor_ids: &[0x09AE],
        names: UsageNames {
            tables: &[usage_names::TRIPP_LITE, usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM],
        },
        rows: &[TRIPP_LITE_ROWS, CONVERTER_ROWS, PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
];

/// The subdriver NUT would pick for a vendor id (first claim in order), or
/// `None` when no subdriver claims it.
pub fn subdriver_for(vendor_id: u16) -> Option<&'static Subdriver> {
    SUBDRIVERS.iter().find(|s| s.vendor_ids.contains(&vendor_id))
}

/// Every USB vendor id some subdriver claims, in claim order (for `describe`).
pub fn supported_usb_ids() -> impl Iterator<Item = u16> {
    SUBDRIVERS.iter().flat_map(|s| s.vendor_ids.iter().copied())
}

/// The subdriver with this name (NUT's `subdriver=` option), case-insensitive
/// prefix match.
pub fn subdriver_named(name: &str) -> Option<&'static Subdriver> {
    SUBDRIVERS
        .iter()
        .chain(core::iter::once(&EXPLORE))
        .find(|s| s.name.len() >= name.len() && s.name[..name.len()].eq_ignore_ascii_case(name))
}

/// The first Feature field (else any field) with this path string.
pub fn find_field<'a>(fields: &'a [Field], paths: &[alloc::string::String], path: &str) -> Option<&'a Field> {
    let mut any = None;
    for (f, p) in fields.iter().zip(paths) {
        if p == path {
            if f.kind == crate::descriptor::ReportKind::Feature {
                return Some(f);
            }
            any = any.or(Some(f));
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_ids_pick_subdrivers_in_claim_order() {
        assert_eq!(subdriver_for(0x051D).unwrap().name, "APC HID");
        assert_eq!(subdriver_for(0x06DA).unwrap().name, "MGE HID", "Phoenixtec/PowerWalker go to MGE");
        assert_eq!(subdriver_for(0x0764).unwrap().pollfreq, 12);
        assert_eq!(subdriver_for(0x03F0).unwrap().name, "MGE HID", "HP: MGE claims before Tripp Lite");
        assert!(subdriver_for(0x1234).is_none());
        assert_eq!(subdriver_named("apc").unwrap().name, "APC HID");
    }

    #[test]
    fn every_row_path_parses_with_its_subdriver_names() {
        for s in SUBDRIVERS {
            for rows in s.rows {
                for r in *rows {
                    assert!(s.names.parse_path(r.path).is_some(), "{}: {}", s.name, r.path);
                }
            }
        }
    }

    fn cps_voltage_descriptor(output_max: &[u8]) -> ReportDescriptor {
        // Input voltage 0x0f: 16 bits, 0..255 (one byte, fine); high
        // transfer 0x10: 0..255 too; output voltage 0x12 with `output_max`.
        let mut b = alloc::vec![0x05, 0x84, 0x75, 0x10, 0x95, 0x01, 0x15, 0x00, 0x26, 0xFF, 0x00];
        b.extend_from_slice(&[0x85, 0x0F, 0x09, 0x30, 0xB1, 0x02, 0x85, 0x10, 0x09, 0x54, 0xB1, 0x02]);
        b.extend_from_slice(output_max);
        b.extend_from_slice(&[0x85, 0x12, 0x09, 0x30, 0xB1, 0x02]);
        crate::descriptor::parse(&b).unwrap()
    }

    #[test]
    fn cyberpower_fixup_replaces_voltage_ranges_copied_from_the_transfer_limit() {
        let mut d = cps_voltage_descriptor(&[]);
        fix_cyberpower(&mut d, 0x0501);
        let maxima: Vec<i64> = d.fields.iter().map(|f| f.logical_max).collect();
        assert_eq!(maxima, [511, 255, 511], "input, high transfer, output");
        let mut other = cps_voltage_descriptor(&[]);
        fix_cyberpower(&mut other, 0x0005);
        assert_eq!(other.fields[2].logical_max, 255, "other products untouched");
    }

    #[test]
    fn cyberpower_fixup_raises_an_assumed_maximum() {
        // Output maximum `25 ff`: −1 read signed, assumed 255.
        let mut d = cps_voltage_descriptor(&[0x25, 0xFF, 0x15, 0x00]);
        d.fields[1].logical_max = 300; // high transfer differs: rule 1 does not apply
        fix_cyberpower(&mut d, 0x0601);
        assert!(d.fields[2].logical_max_assumed);
        assert_eq!(d.fields[2].logical_max, 511);
        assert_eq!(d.fields[0].logical_max, 255, "input's maximum was not assumed");
    }
}
