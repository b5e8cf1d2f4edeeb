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
    /// A value the device counts in tenths (Belkin's voltages and
    /// frequencies carry no unit exponent): divided by 10, one decimal.
    Tenths,
    /// The high nibble as an integer (Belkin's firmware version, packed
    /// with the UPS type in one byte).
    HighNibble,
    /// The low nibble looked up (Belkin's and Delta's UPS type).
    LowNibbleLookup(&'static [(i64, &'static str)]),
    /// CyberPower's battery voltage, one decimal, scaled by 2/3 on the
    /// product ids whose firmware reports it 1.5 times too high (see
    /// [`cyberpower_battery_scale`]).
    CyberPowerBatteryVoltage,
    /// A delay word the device encodes its own way, shown in seconds.
    DelayWord(DelayWord),
    /// A Tripp Lite measurement, times its model's factor
    /// ([`tripp_lite_scale`]), one decimal.
    TrippLite(Measure),
}

/// Delay words that are not plain seconds.
///
/// PowerCOM facts from NUT's `powercom-hid` subdriver (its conversion
/// functions and the comments on its `UPS.PowerSummary.DelayBefore*` rows):
/// the firmware reads and writes both PowerSummary delays as 16-bit words
/// of two byte-sized parts. Tripp Lite's fact from NUT's `tripplite-hid`
/// usage table: TLDelayBeforeStartup (0xFFFF0056) counts minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelayWord {
    /// Whole minutes (Tripp Lite's TLDelayBeforeStartup); −1 ("do not
    /// restart") stays −1, and seconds round up to whole minutes so the
    /// load never comes back earlier than asked.
    Minutes,
    /// PowerCOM DelayBeforeStartup: whole minutes, the two bytes swapped
    /// (high byte first).
    PowercomStartup,
    /// PowerCOM DelayBeforeShutdown with "restart when AC returns"
    /// (bit 14): low byte minutes, high byte seconds.
    PowercomShutdownReturn,
    /// PowerCOM DelayBeforeShutdown with "stay off" (bit 15).
    PowercomShutdownStayOff,
}

/// PowerCOM's "restart when AC returns" bit in a shutdown word.
const POWERCOM_RESTART: i64 = 0x4000;
/// PowerCOM's "stay off" bit in a shutdown word.
const POWERCOM_STAY_OFF: i64 = 0x8000;

impl DelayWord {
    /// The seconds a word read from the device means. Reads decode as NUT
    /// does, so published timers equal NUT's (the shutdown word's flag
    /// bits are not masked there either).
    pub fn decode(self, word: i64) -> i64 {
        let bytes = word & 0xFFFF;
        match self {
            DelayWord::Minutes if word < 0 => word,
            DelayWord::Minutes => word.saturating_mul(60),
            DelayWord::PowercomStartup => 60 * (((bytes & 0xFF) << 8) | (bytes >> 8)),
            DelayWord::PowercomShutdownReturn | DelayWord::PowercomShutdownStayOff => {
                60 * (bytes & 0xFF) + (bytes >> 8)
            }
        }
    }

    /// The word that asks for `seconds`, or `None` when the encoding cannot
    /// hold it (negative; a shutdown whose minutes overflow their byte,
    /// i.e. beyond 255 min 59 s).
    pub fn encode(self, seconds: i64) -> Option<i64> {
        match self {
            DelayWord::Minutes if seconds < 0 => Some(-1),
            DelayWord::Minutes => Some((seconds.saturating_add(59)) / 60),
            DelayWord::PowercomStartup => {
                if !(0..=0xFFFF).contains(&seconds) {
                    return None;
                }
                // Whole minutes, truncated as NUT does.
                let minutes = seconds / 60;
                Some(((minutes & 0xFF) << 8) | (minutes >> 8))
            }
            DelayWord::PowercomShutdownReturn | DelayWord::PowercomShutdownStayOff => {
                // 0 would ask the firmware for its longest delay: the
                // shortest it can do is 1 s.
                let s = if seconds == 0 { 1 } else { seconds };
                if !(1..=255 * 60 + 59).contains(&s) {
                    return None;
                }
                let flag = if self == DelayWord::PowercomShutdownReturn { POWERCOM_RESTART } else { POWERCOM_STAY_OFF };
                Some(((s % 60) << 8) | (s / 60) | flag)
            }
        }
    }
}

/// CyberPower's battery-voltage factor: some 0x0501 models report the
/// battery voltage 1.5 times too high. NUT (cps-hid) decides once, at the
/// first reading with a known nominal voltage: above 1.4 × nominal the
/// readings are scaled by 2/3 from then on. `None`: not decidable yet.
pub fn cyberpower_battery_scale(product_id: u16, voltage: f64, nominal: Option<f64>) -> Option<f64> {
    if product_id != 0x0501 {
        return Some(1.0);
    }
    match nominal {
        Some(n) if n != 0.0 => Some(if voltage / n > 1.4 { 2.0 / 3.0 } else { 1.0 }),
        _ => None,
    }
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
    /// A delay (from the source the other variants name) written as the
    /// device's own delay word.
    Word(DelaySource, DelayWord),
}

/// Where an encoded command's delay comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelaySource {
    /// `ups.delay.shutdown`, or the command's parameter.
    Off,
    /// `ups.delay.start`, or the command's parameter.
    On,
    /// A fixed number of seconds.
    Fixed(i64),
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
    /// Feed the status flags from bits of a status word: the lookup gets 1
    /// when `value & mask == equals`, else 0 (Belkin's and PowerCOM's
    /// packed status bytes).
    StatusBits {
        /// Bits tested.
        mask: i64,
        /// Their value that means "1".
        equals: i64,
        /// What 1 and 0 mean.
        lookup: StatusLookup,
    },
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
/// PowerCOM's defaults: NUT's 20 s shutdown, and a 60 s startup (the
/// startup word counts whole minutes, so 30 s would be written as 0).
pub const POWERCOM_DELAYS: (i64, i64) = (20, 60);

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
/// A status row on one bit (or bit pattern) of a status word.
const fn status_bits(path: &'static str, mask: i64, equals: i64, lookup: StatusLookup, flags: u8) -> Row {
    Row { name: "", path, flags, action: Action::StatusBits { mask, equals, lookup } }
}
const fn status_bit(path: &'static str, bit: i64, lookup: StatusLookup, flags: u8) -> Row {
    status_bits(path, bit, bit, lookup, flags)
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

/// Tripp Lite: outlet-system delays first, then the common rows. The
/// startup delay is the standard DelayBeforeStartup (seconds) where the
/// device has it, else the vendor's TLDelayBeforeStartup, which counts
/// minutes (see [`DelayWord::Minutes`]); either one gives `load.on.delay`
/// and so `shutdown.return`.
pub static TRIPP_LITE_ROWS: &[Row] = &[
    absent("ups.delay.shutdown", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", Default::OffDelay),
    var("ups.timer.shutdown", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", 0, QUICK_POLL),
    cmd("load.off.delay", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", OffDelay),
    fixed("shutdown.stop", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", -1),
    absent("ups.delay.start", "UPS.OutletSystem.Outlet.DelayBeforeStartup", Default::OnDelay),
    absent("ups.delay.start", "UPS.OutletSystem.Outlet.TLDelayBeforeStartup", Default::OnDelay),
    var("ups.timer.start", "UPS.OutletSystem.Outlet.DelayBeforeStartup", 0, QUICK_POLL),
    conv(
        "ups.timer.start",
        "UPS.OutletSystem.Outlet.TLDelayBeforeStartup",
        Convert::DelayWord(DelayWord::Minutes),
        QUICK_POLL,
    ),
    cmd("load.on.delay", "UPS.OutletSystem.Outlet.DelayBeforeStartup", OnDelay),
    cmd(
        "load.on.delay",
        "UPS.OutletSystem.Outlet.TLDelayBeforeStartup",
        CommandValue::Word(DelaySource::On, DelayWord::Minutes),
    ),
    // Measurements with the per-model factors (see [`tripp_lite_scale`]);
    // the input voltage as the PowerSummary sees it comes first, as in NUT.
    conv("input.voltage", "UPS.PowerSummary.Input.Voltage", Convert::TrippLite(Measure::Volts), 0),
    conv("input.voltage", "UPS.PowerConverter.Input.Voltage", Convert::TrippLite(Measure::Volts), 0),
    conv("input.frequency", "UPS.PowerConverter.Input.Frequency", Convert::TrippLite(Measure::Hertz), 0),
    conv("output.voltage", "UPS.PowerConverter.Output.Voltage", Convert::TrippLite(Measure::Volts), 0),
    conv("output.voltage", "UPS.PowerSummary.Voltage", Convert::TrippLite(Measure::Volts), 0),
    conv("output.current", "UPS.PowerConverter.Output.Current", Convert::TrippLite(Measure::Amperes), 0),
    conv("output.frequency", "UPS.PowerConverter.Output.Frequency", Convert::TrippLite(Measure::Hertz), 0),
    conv("battery.voltage", "UPS.BatterySystem.Battery.Voltage", Convert::TrippLite(Measure::BatteryVolts), 0),
];

/// What a Tripp Lite measurement is, for [`tripp_lite_scale`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Input or output voltage.
    Volts,
    /// Input or output frequency.
    Hertz,
    /// Output current.
    Amperes,
    /// Battery voltage.
    BatteryVolts,
}

/// The factor a Tripp Lite model's readings need, from NUT's tripplite-hid
/// product table (facts, not code): the AVR550U/AVR750U/ECO550UPS
/// (0x1003, 0x1007..0x1010) and OMNI/Smart LCD (0x2005, 0x2007..0x2014)
/// report the battery voltage ten times too high; the Smart1500LCDT
/// (0x3016) gives its measurements a unit exponent of 1, so its input
/// voltage report holds 1214 for 121.4 V but decodes as 0.0001214 V:
/// volts ×100000, hertz and amperes ×0.01.
pub fn tripp_lite_scale(product_id: u16, measure: Measure) -> f64 {
    match (product_id, measure) {
        (0x3016, Measure::Volts | Measure::BatteryVolts) => 100_000.0,
        (0x3016, Measure::Hertz | Measure::Amperes) => 0.01,
        (0x1003 | 0x1007..=0x1010 | 0x2005 | 0x2007..=0x2014, Measure::BatteryVolts) => 0.1,
        _ => 1.0,
    }
}

/// Usage of Tripp Lite's TLDelayBeforeStartup.
const TL_DELAY_BEFORE_STARTUP: u32 = 0xFFFF0056;

/// Tripp Lite's descriptor fix-up: TLDelayBeforeStartup counts minutes,
/// and its rows convert (see [`DelayWord::Minutes`]). A descriptor that
/// already says so with a physical range 60 times the logical one
/// (09ae:3016: −1..32767 ↔ −60..1966020 s) has that range dropped, so
/// minutes are converted once, and −1 ("do not restart") stays −1 instead
/// of rounding to 0 through the physical mapping on the way back.
pub fn fix_tripp_lite(d: &mut ReportDescriptor, _product_id: u16) {
    for f in d.fields.iter_mut() {
        let sixty_fold = (f.logical_min.saturating_mul(60), f.logical_max.saturating_mul(60));
        if f.usage() == TL_DELAY_BEFORE_STARTUP && (f.physical_min, f.physical_max) == sixty_fold {
            f.physical_min = 0;
            f.physical_max = 0;
        }
    }
}

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

/// PowerCOM's beeper values (NUT's powercom-hid: 1 enabled, 2 disabled,
/// the reverse of the Power Device Class's 1 disabled, 2 enabled).
pub static POWERCOM_BEEPER: &[(i64, &str)] = &[(1, "enabled"), (2, "disabled")];

/// PowerCOM (NUT's powercom-hid variable set). The PowerSummary Voltage and
/// ConfigVoltage repeat the output voltage (the 0d9f:0004 descriptor gives
/// ConfigVoltage 100..240), so no battery voltage is published; the delays
/// are PowerCOM delay words ([`DelayWord`]), and `shutdown.return` /
/// `shutdown.stayoff` are single writes of the shutdown word with its
/// restart or stay-off bit.
pub static POWERCOM_ROWS: &[Row] = &[
    status("UPS.PowerSummary.PresentStatus.ACPresent", ONLINE, 0),
    status("UPS.PowerSummary.PresentStatus.BatteryPresent", BATTERY_PRESENT, 0),
    status("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, 0),
    status("UPS.PowerSummary.PresentStatus.Charging", CHARGING, 0),
    status("UPS.PowerSummary.PresentStatus.CommunicationLost", COMM_FAULT, 0),
    status("UPS.PowerSummary.PresentStatus.Discharging", DISCHARGING, 0),
    status("UPS.PowerSummary.PresentStatus.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.PowerSummary.PresentStatus.Overload", OVERLOAD, 0),
    status("UPS.PowerSummary.PresentStatus.RemainingTimeLimitExpired", TIME_LIMIT_EXPIRED, 0),
    status("UPS.PowerSummary.PresentStatus.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    status("UPS.PresentStatus.ACPresent", ONLINE, 0),
    status("UPS.PresentStatus.BatteryPresent", BATTERY_PRESENT, 0),
    status("UPS.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, 0),
    status("UPS.PresentStatus.Boost", BOOST, 0),
    status("UPS.PresentStatus.Buck", TRIM, 0),
    status("UPS.PresentStatus.Charging", CHARGING, 0),
    status("UPS.PresentStatus.CommunicationLost", COMM_FAULT, 0),
    status("UPS.PresentStatus.Discharging", DISCHARGING, 0),
    status("UPS.PresentStatus.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.PresentStatus.Overload", OVERLOAD, 0),
    status("UPS.PresentStatus.RemainingTimeLimitExpired", TIME_LIMIT_EXPIRED, 0),
    status("UPS.PresentStatus.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    var("battery.charge", "UPS.PowerSummary.RemainingCapacity", 0, 0),
    var("battery.charge", "UPS.Battery.RemainingCapacity", 0, 0),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit", 0, 0),
    var("battery.charge.warning", "UPS.PowerSummary.WarningCapacityLimit", 0, 0),
    var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", 0, 0),
    conv("battery.date", "UPS.Battery.ManufacturerDate", Date, STATIC),
    conv("battery.type", "UPS.PowerSummary.iDeviceChemistry", StringIndex, STATIC),
    // NUT prints the raw value here (no kelvin conversion).
    var("battery.temperature", "UPS.Battery.Temperature", 1, 0),
    conv("ups.beeper.status", "UPS.PowerSummary.AudibleAlarmControl", Lookup(POWERCOM_BEEPER), 0),
    conv("ups.beeper.status", "UPS.AudibleAlarmControl", Lookup(POWERCOM_BEEPER), 0),
    var("ups.load", "UPS.Output.PercentLoad", 0, 0),
    conv("ups.date", "UPS.PowerSummary.ManufacturerDate", Date, STATIC),
    conv("ups.test.result", "UPS.Battery.Test", Lookup(TEST_RESULT), 0),
    absent("ups.delay.start", "UPS.PowerSummary.DelayBeforeStartup", Default::OnDelay),
    conv("ups.timer.start", "UPS.PowerSummary.DelayBeforeStartup", Convert::DelayWord(DelayWord::PowercomStartup), 0),
    absent("ups.delay.shutdown", "UPS.PowerSummary.DelayBeforeShutdown", Default::OffDelay),
    conv(
        "ups.timer.shutdown",
        "UPS.PowerSummary.DelayBeforeShutdown",
        Convert::DelayWord(DelayWord::PowercomShutdownReturn),
        QUICK_POLL,
    ),
    absent("ups.delay.shutdown", "UPS.PowerSummary.PCMDelayBeforeShutdown", Default::OffDelay),
    conv(
        "ups.timer.shutdown",
        "UPS.PowerSummary.PCMDelayBeforeShutdown",
        Convert::DelayWord(DelayWord::PowercomShutdownReturn),
        QUICK_POLL,
    ),
    var("input.voltage", "UPS.Input.Voltage", 1, 0),
    var("input.voltage.nominal", "UPS.Input.ConfigVoltage", 0, STATIC),
    var("input.frequency", "UPS.Input.Frequency", 1, 0),
    var("output.voltage", "UPS.Output.Voltage", 1, 0),
    var("output.voltage.nominal", "UPS.Output.ConfigVoltage", 0, STATIC),
    var("output.frequency", "UPS.Output.Frequency", 1, 0),
    // The beeper commands write PowerCOM's own values (1 on, 0 off).
    fixed("beeper.toggle", "UPS.PowerSummary.AudibleAlarmControl", 1),
    fixed("beeper.enable", "UPS.PowerSummary.AudibleAlarmControl", 1),
    fixed("beeper.disable", "UPS.PowerSummary.AudibleAlarmControl", 0),
    fixed("test.battery.start.quick", "UPS.Battery.Test", 1),
    cmd(
        "load.on.delay",
        "UPS.PowerSummary.DelayBeforeStartup",
        CommandValue::Word(DelaySource::On, DelayWord::PowercomStartup),
    ),
    cmd(
        "shutdown.return",
        "UPS.PowerSummary.DelayBeforeShutdown",
        CommandValue::Word(DelaySource::Off, DelayWord::PowercomShutdownReturn),
    ),
    cmd(
        "shutdown.stayoff",
        "UPS.PowerSummary.DelayBeforeShutdown",
        CommandValue::Word(DelaySource::Off, DelayWord::PowercomShutdownStayOff),
    ),
    cmd(
        "load.on",
        "UPS.PowerSummary.PCMDelayBeforeStartup",
        CommandValue::Word(DelaySource::Fixed(0), DelayWord::PowercomStartup),
    ),
    cmd(
        "load.off",
        "UPS.PowerSummary.PCMDelayBeforeShutdown",
        CommandValue::Word(DelaySource::Fixed(0), DelayWord::PowercomShutdownStayOff),
    ),
    cmd(
        "shutdown.return",
        "UPS.PowerSummary.PCMDelayBeforeShutdown",
        CommandValue::Word(DelaySource::Off, DelayWord::PowercomShutdownReturn),
    ),
    cmd(
        "shutdown.stayoff",
        "UPS.PowerSummary.PCMDelayBeforeShutdown",
        CommandValue::Word(DelaySource::Off, DelayWord::PowercomShutdownStayOff),
    ),
];

/// Belkin's self-test results (its own numbering: 0 is "none").
pub static BELKIN_TEST_RESULT: &[(i64, &str)] = &[
    (0, "No test initiated"),
    (1, "Done and passed"),
    (2, "Done and warning"),
    (3, "Done and error"),
    (4, "Aborted"),
    (5, "In progress"),
];
/// Belkin's voltage sensitivity.
pub static BELKIN_SENSITIVITY: &[(i64, &str)] = &[(0, "normal"), (1, "reduced"), (2, "low")];
/// Belkin's UPS type (low nibble of BELKINUPSType); NUT shows the unlisted
/// values as "online", hence the tail.
pub static BELKIN_UPS_TYPE: &[(i64, &str)] = &[
    (0, "online"),
    (1, "offline"),
    (2, "line-interactive"),
    (3, "simple online"),
    (4, "simple offline"),
    (5, "simple line-interactive"),
    (6, "online"),
    (7, "online"),
    (8, "online"),
    (9, "online"),
    (10, "online"),
    (11, "online"),
    (12, "online"),
    (13, "online"),
    (14, "online"),
    (15, "online"),
];

/// Belkin's status words (bit meanings from NUT's belkin-hid usage notes).
const BELKIN_POWER_STATUS: &str = "UPS.BELKINStatus.BELKINPowerStatus";
const BELKIN_BATTERY_STATUS: &str = "UPS.BELKINStatus.BELKINBatteryStatus";
const BELKIN_CONTROLS_STARTUP: &str = "UPS.BELKINControls.BELKINDelayBeforeStartup";
const BELKIN_CONTROLS_SHUTDOWN: &str = "UPS.BELKINControls.BELKINDelayBeforeShutdown";
const BELKIN_CONTROLS_REBOOT: &str = "UPS.BELKINControls.BELKINDelayBeforeReboot";
const BELKIN_TEST: &str = "UPS.BELKINControls.BELKINTest";
const BELKIN_BEEPER: &str = "UPS.BELKINControls.BELKINAudibleAlarmControl";

/// Belkin (NUT's belkin-hid variable set): measurements on the vendor page
/// in tenths, status in two packed words, delays and tests under
/// `BELKINControls`. As in NUT, the startup delay is written in seconds
/// although Belkin's notes say the firmware counts minutes: no Belkin
/// capture exists to settle it, and NUT's behaviour is the reference.
pub static BELKIN_ROWS: &[Row] = &[
    var("battery.charge", "UPS.BELKINBatterySystem.BELKINCharge", 0, 0),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit", 0, 0),
    var("battery.charge.warning", "UPS.PowerSummary.WarningCapacityLimit", 0, 0),
    var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", 0, 0),
    conv("battery.type", "UPS.PowerSummary.iDeviceChemistry", StringIndex, 0),
    conv("battery.voltage", "UPS.BELKINBatterySystem.BELKINVoltage", Convert::Tenths, 0),
    var("battery.voltage.nominal", "UPS.BELKINConfig.BELKINConfigBatteryVoltage", 0, 0),
    conv("input.frequency", "UPS.BELKINPowerState.BELKINInput.BELKINFrequency", Convert::Tenths, 0),
    var("input.frequency.nominal", "UPS.BELKINConfig.BELKINConfigFrequency", 0, 0),
    conv("input.sensitivity", "UPS.BELKINDevice.BELKINVoltageSensitivity", Lookup(BELKIN_SENSITIVITY), RW),
    var("input.transfer.high", "UPS.BELKINConfig.BELKINHighVoltageTransfer", 0, RW),
    var("input.transfer.high.max", "UPS.BELKINConfig.BELKINHighVoltageTransferMax", 0, 0),
    var("input.transfer.high.min", "UPS.BELKINConfig.BELKINHighVoltageTransferMin", 0, 0),
    var("input.transfer.low", "UPS.BELKINConfig.BELKINLowVoltageTransfer", 0, RW),
    var("input.transfer.low.max", "UPS.BELKINConfig.BELKINLowVoltageTransferMax", 0, 0),
    var("input.transfer.low.min", "UPS.BELKINConfig.BELKINLowVoltageTransferMin", 0, 0),
    conv("input.voltage", "UPS.BELKINPowerState.BELKINInput.BELKINVoltage", Convert::Tenths, 0),
    var("input.voltage.nominal", "UPS.BELKINConfig.BELKINConfigVoltage", 0, 0),
    conv("output.frequency", "UPS.BELKINPowerState.BELKINOutput.BELKINFrequency", Convert::Tenths, 0),
    conv("output.voltage", "UPS.BELKINPowerState.BELKINOutput.BELKINVoltage", Convert::Tenths, 0),
    conv("ups.beeper.status", BELKIN_BEEPER, Lookup(BEEPER), 0),
    absent("ups.delay.start", BELKIN_CONTROLS_STARTUP, Default::OnDelay),
    absent("ups.delay.shutdown", BELKIN_CONTROLS_SHUTDOWN, Default::OffDelay),
    var("ups.timer.start", BELKIN_CONTROLS_STARTUP, 0, QUICK_POLL),
    var("ups.timer.shutdown", BELKIN_CONTROLS_SHUTDOWN, 0, QUICK_POLL),
    var("ups.timer.reboot", BELKIN_CONTROLS_REBOOT, 0, QUICK_POLL),
    conv("ups.firmware", "UPS.BELKINDevice.BELKINUPSType", Convert::HighNibble, 0),
    var("ups.load", "UPS.BELKINPowerState.BELKINOutput.BELKINPercentLoad", 0, 0),
    var("ups.load.high", "UPS.BELKINConfig.BELKINConfigOverloadTransfer", 0, 0),
    conv("ups.mfr.date", "UPS.PowerSummary.ManufacturerDate", Date, 0),
    var("ups.power.nominal", "UPS.BELKINConfig.BELKINConfigApparentPower", 0, 0),
    conv("ups.test.result", BELKIN_TEST, Lookup(BELKIN_TEST_RESULT), 0),
    conv("ups.type", "UPS.BELKINDevice.BELKINUPSType", Convert::LowNibbleLookup(BELKIN_UPS_TYPE), 0),
    status("UPS.PowerSummary.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    status("UPS.PowerSummary.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.ShutdownImminent", SHUTDOWN_IMMINENT, 0),
    status("UPS.PowerSummary.PresentStatus.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.NeedReplacement", REPLACE_BATTERY, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    // Power status: bit 0 AC failure, 4 overload, 6 overheat, 7 UPS fault,
    // 13 awaiting power.
    status_bit(BELKIN_POWER_STATUS, 0x0001, ON_BATTERY, QUICK_POLL),
    status_bit(BELKIN_POWER_STATUS, 0x0010, OVERLOAD, 0),
    status_bit(BELKIN_POWER_STATUS, 0x0040, OVERHEAT, 0),
    status_bit(BELKIN_POWER_STATUS, 0x0080, COMM_FAULT, 0),
    status_bit(BELKIN_POWER_STATUS, 0x2000, AWAITING_POWER, 0),
    // Battery status: bit 2 low, 6 empty, 7 replace.
    status_bit(BELKIN_BATTERY_STATUS, 0x04, LOW_BATTERY, QUICK_POLL),
    status_bit(BELKIN_BATTERY_STATUS, 0x40, DEPLETED, QUICK_POLL),
    status_bit(BELKIN_BATTERY_STATUS, 0x80, REPLACE_BATTERY, 0),
    fixed("test.battery.start.quick", BELKIN_TEST, 1),
    fixed("test.battery.start.deep", BELKIN_TEST, 2),
    fixed("test.battery.stop", BELKIN_TEST, 3),
    fixed("beeper.on", BELKIN_BEEPER, 2),
    fixed("beeper.off", BELKIN_BEEPER, 3),
    fixed("beeper.disable", BELKIN_BEEPER, 1),
    fixed("beeper.enable", BELKIN_BEEPER, 2),
    fixed("beeper.mute", BELKIN_BEEPER, 3),
    // Belkin's off/on are "in 1 s", not the derived "delay 0".
    fixed("load.off", BELKIN_CONTROLS_SHUTDOWN, 1),
    fixed("load.on", BELKIN_CONTROLS_STARTUP, 1),
    cmd("load.off.delay", BELKIN_CONTROLS_SHUTDOWN, OffDelay),
    cmd("load.on.delay", BELKIN_CONTROLS_STARTUP, OnDelay),
    fixed("shutdown.stop", BELKIN_CONTROLS_SHUTDOWN, -1),
    fixed("shutdown.reboot", BELKIN_CONTROLS_REBOOT, 10),
];

/// Delta's UPS type (low nibble of DeltaUPSType; 3 and 4 repeat 1 and 2,
/// 7..15 mean nothing).
pub static DELTA_UPS_TYPE: &[(i64, &str)] = &[
    (0, "online"),
    (1, "offline"),
    (2, "line-interactive"),
    (3, "offline"),
    (4, "line-interactive"),
    (5, "3-phase"),
    (6, "split-phase"),
];
/// Delta's output source → `input.source`.
pub static DELTA_OUTPUT_SOURCE: &[(i64, &str)] = &[
    (0, "normal"),
    (1, "battery"),
    (2, "bypass/reserve"),
    (3, "reducing"),
    (4, "boosting"),
    (5, "manual bypass"),
    (6, "other"),
    (7, "no output"),
    (8, "on eco"),
];

/// Delta (Amplon; NUT's delta_ups-hid variable set): the
/// PowerConverter/Flow/OutletSystem layout with one or two decimals where
/// NUT prints them, vendor settings under `UPS.DeltaCustom.[1]`, and a
/// device-held restart delay as `ups.delay.start` (there is no
/// `ups.delay.shutdown` row: `offdelay` applies).
pub static DELTA_ROWS: &[Row] = &[
    conv("input.sensitivity", "UPS.DeltaCustom.[1].DeltaConfigSensitivity", Lookup(BELKIN_SENSITIVITY), RW),
    var("input.voltage", "UPS.PowerSummary.Input.Voltage", 1, QUICK_POLL),
    var("input.transfer.low", "UPS.PowerConverter.Output.LowVoltageTransfer", 0, RW),
    var("input.transfer.high", "UPS.PowerConverter.Output.HighVoltageTransfer", 0, RW),
    var("input.transfer.low.min", "UPS.PowerConverter.Output.DeltaConfigTransferLowMin", 0, STATIC),
    var("input.transfer.low.max", "UPS.PowerConverter.Output.DeltaConfigTransferLowMax", 0, STATIC),
    var("input.transfer.high.min", "UPS.PowerConverter.Output.DeltaConfigTransferHighMin", 0, STATIC),
    var("input.transfer.high.max", "UPS.PowerConverter.Output.DeltaConfigTransferHighMax", 0, STATIC),
    conv("input.source", "UPS.OutletSystem.Outlet.DeltaOutputSource", Lookup(DELTA_OUTPUT_SOURCE), 0),
    var("input.frequency", "UPS.PowerConverter.Input.Frequency", 1, 0),
    var("battery.voltage.nominal", "UPS.BatterySystem.Battery.ConfigVoltage", 0, STATIC),
    var("battery.voltage", "UPS.BatterySystem.Battery.Voltage", 1, 0),
    var("battery.charge", "UPS.BatterySystem.Battery.RemainingCapacity", 1, 0),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit", 0, SEMI_STATIC | RW),
    var("battery.charge.warning", "UPS.PowerSummary.WarningCapacityLimit", 0, 0),
    conv("battery.temperature", "UPS.BatterySystem.Temperature", KelvinToCelsius, 0),
    var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", 0, 0),
    var("battery.capacity", "UPS.PowerSummary.FullChargeCapacity", 0, 0),
    var("output.voltage.nominal", "UPS.Flow.ConfigVoltage", 0, STATIC),
    var("output.frequency.nominal", "UPS.Flow.ConfigFrequency", 0, STATIC),
    var("output.voltage", "UPS.PowerConverter.Output.Voltage", 1, 0),
    var("output.frequency", "UPS.PowerConverter.Output.Frequency", 1, 0),
    var("output.current", "UPS.PowerConverter.Output.Current", 1, 0),
    conv("ups.beeper.status", "UPS.PowerSummary.AudibleAlarmControl", Lookup(BEEPER), 0),
    conv("ups.test.result", "UPS.BatterySystem.Test", Lookup(TEST_RESULT), 0),
    conv("ups.type", "UPS.DeltaCustom.[1].DeltaUPSType", Convert::LowNibbleLookup(DELTA_UPS_TYPE), STATIC),
    conv("ups.start.auto", "UPS.DeltaCustom.[1].DeltaConfigStartPowerRestore", Lookup(YES_NO), RW),
    var("ups.power.nominal", "UPS.Flow.ConfigApparentPower", 0, STATIC),
    var("ups.realpower", "UPS.PowerConverter.Output.ActivePower", 1, 0),
    var("ups.load", "UPS.OutletSystem.Outlet.PercentLoad", 1, 0),
    var("ups.delay.start", "UPS.OutletSystem.Outlet.DeltaConfigStartPowerRestoreDelay", 0, RW),
    var("ups.timer.start", "UPS.OutletSystem.Outlet.DelayBeforeStartup", 0, QUICK_POLL),
    var("ups.timer.shutdown", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", 0, QUICK_POLL),
    var("ups.timer.reboot", "UPS.OutletSystem.Outlet.DelayBeforeReboot", 0, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Good", GOOD, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.InternalFailure", COMM_FAULT, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.ShutdownImminent", SHUTDOWN_IMMINENT, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.FullyCharged", FULLY_CHARGED, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.FullyDischarged", DEPLETED, 0),
    status("UPS.PowerSummary.PresentStatus.NeedReplacement", REPLACE_BATTERY, 0),
    status("UPS.PowerConverter.PresentStatus.VoltageOutOfRange", VOLTAGE_RANGE, 0),
    status("UPS.PowerConverter.PresentStatus.Buck", TRIM, 0),
    status("UPS.PowerConverter.PresentStatus.Boost", BOOST, 0),
    status("UPS.PowerConverter.PresentStatus.Overload", OVERLOAD, 0),
    status("UPS.PowerConverter.PresentStatus.Used", BATTERY_PRESENT, 0),
    status("UPS.PowerConverter.PresentStatus.OverTemperature", OVERHEAT, 0),
    status("UPS.PowerConverter.PresentStatus.InternalFailure", COMM_FAULT, 0),
    status("UPS.PowerConverter.PresentStatus.AwaitingPower", AWAITING_POWER, 0),
    fixed("beeper.on", "UPS.PowerSummary.AudibleAlarmControl", 2),
    fixed("beeper.off", "UPS.PowerSummary.AudibleAlarmControl", 3),
    fixed("beeper.enable", "UPS.PowerSummary.AudibleAlarmControl", 2),
    fixed("beeper.disable", "UPS.PowerSummary.AudibleAlarmControl", 1),
    fixed("beeper.mute", "UPS.PowerSummary.AudibleAlarmControl", 3),
    fixed("test.battery.start.quick", "UPS.BatterySystem.Test", 1),
    fixed("test.battery.start.deep", "UPS.BatterySystem.Test", 2),
    fixed("test.battery.stop", "UPS.BatterySystem.Test", 3),
    cmd("load.on.delay", "UPS.OutletSystem.Outlet.DelayBeforeStartup", OnDelay),
    cmd("load.off.delay", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", OffDelay),
    fixed("shutdown.stop", "UPS.OutletSystem.Outlet.DelayBeforeShutdown", -1),
    fixed("shutdown.reboot", "UPS.OutletSystem.Outlet.DelayBeforeReboot", 10),
];

/// Salicru (SPS Home; NUT's salicru-hid variable set). NUT publishes no
/// instant commands and no delays for it ("need testing" there), so none
/// are offered here either; the transfer limits are read-only.
pub static SALICRU_ROWS: &[Row] = &[
    conv("battery.type", "UPS.PowerSummary.iDeviceChemistry", StringIndex, 0),
    var("battery.charge", "UPS.PowerSummary.RemainingCapacity", 0, 0),
    var("battery.charge.warning", "UPS.PowerSummary.WarningCapacityLimit", 0, 0),
    var("battery.charge.low", "UPS.PowerSummary.RemainingCapacityLimit", 0, SEMI_STATIC | RW),
    var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", 0, 0),
    var("battery.runtime.low", "UPS.PowerSummary.RemainingTimeLimit", 0, SEMI_STATIC | RW),
    var("battery.voltage.nominal", "UPS.PowerSummary.ConfigVoltage", 0, 0),
    var("battery.voltage", "UPS.PowerSummary.Voltage", 2, 0),
    var("ups.load", "UPS.Output.PercentLoad", 0, 0),
    conv("ups.beeper.status", "UPS.PowerSummary.AudibleAlarmControl", Lookup(BEEPER), 0),
    conv("ups.test.result", "UPS.Output.Test", Lookup(TEST_RESULT), 0),
    var("ups.realpower.nominal", "UPS.Output.ConfigActivePower", 0, 0),
    status("UPS.PowerSummary.PresentStatus.ACPresent", ONLINE, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Charging", CHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.Discharging", DISCHARGING, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit", LOW_BATTERY, QUICK_POLL),
    status("UPS.PowerSummary.PresentStatus.FullyCharged", FULLY_CHARGED, 0),
    status("UPS.PowerSummary.PresentStatus.RemainingTimeLimitExpired", TIME_LIMIT_EXPIRED, 0),
    status("UPS.Output.CommunicationLost", COMM_FAULT, 0),
    status("UPS.Output.Boost", BOOST, 0),
    status("UPS.Output.Overload", OVERLOAD, 0),
    var("input.frequency", "UPS.Input.Frequency", 1, 0),
    var("input.voltage.nominal", "UPS.Input.ConfigVoltage", 0, 0),
    var("input.voltage", "UPS.Input.Voltage", 1, 0),
    var("input.transfer.high", "UPS.PowerConverter.Output.HighVoltageTransfer", 0, STATIC),
    var("input.transfer.low", "UPS.PowerConverter.Output.LowVoltageTransfer", 0, STATIC),
    var("output.frequency", "UPS.Output.Frequency", 1, 0),
    var("output.voltage", "UPS.Output.Voltage", 1, 0),
    var("output.voltage.nominal", "UPS.Output.ConfigVoltage", 0, 0),
];

/// CyberPower: its delays, timers, self-test and status live under
/// `UPS.Output`; ahead of the common rows, which fill in the rest.
pub static CYBERPOWER_ROWS: &[Row] = &[
    conv("battery.charge", "UPS.PowerSummary.RemainingCapacity", Convert::PercentClamped, 0),
    var("battery.voltage.nominal", "UPS.PowerSummary.ConfigVoltage", 0, 0),
    // After the nominal voltage, which the scale decision reads.
    conv("battery.voltage", "UPS.PowerSummary.Voltage", Convert::CyberPowerBatteryVoltage, 0),
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
/// own here (Arduino, EcoFlow, Ever, iDowell, OpenUPS, Powervar) use the
/// common Power Device Class rows.
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
    Subdriver {
        name: "Belkin HID",
        vendor_ids: &[0x050D],
        names: UsageNames { tables: &[usage_names::BELKIN, usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM] },
        rows: &[BELKIN_ROWS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
    Subdriver {
        name: "CyberPower HID",
        vendor_ids: &[0x0764, 0x0483],
        names: UsageNames { tables: STD },
        rows: &[CYBERPOWER_ROWS, PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS],
        pollfreq: 12,
        fixup: Some(fix_cyberpower),
        delays: CYBERPOWER_DELAYS,
    },
    Subdriver {
        name: "Delta UPS HID",
        vendor_ids: &[0x05DD],
        names: UsageNames { tables: &[usage_names::DELTA, usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM] },
        rows: &[DELTA_ROWS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
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
        names: UsageNames { tables: &[usage_names::POWERCOM, usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM] },
        rows: &[POWERCOM_ROWS],
        pollfreq: 30,
        fixup: None,
        delays: POWERCOM_DELAYS,
    },
    generic("Powervar HID", &[0x4234]),
    Subdriver {
        name: "Salicru HID",
        vendor_ids: &[0x2E66],
        names: UsageNames { tables: STD },
        rows: &[SALICRU_ROWS],
        pollfreq: 30,
        fixup: None,
        delays: DEFAULT_DELAYS,
    },
    Subdriver {
        name: "TrippLite HID",
        vendor_ids: &[0x09AE],
        names: UsageNames {
            tables: &[usage_names::TRIPP_LITE, usage_names::POWER_DEVICE, usage_names::BATTERY_SYSTEM],
        },
        rows: &[TRIPP_LITE_ROWS, CONVERTER_ROWS, PDC_VALUES, PDC_DELAYS, PDC_STATUS, PDC_COMMANDS],
        pollfreq: 30,
        fixup: Some(fix_tripp_lite),
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
