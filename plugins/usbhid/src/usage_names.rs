//! Usage names and path strings.
//!
//! Names of the standard pages come from the USB HID Power Device usage
//! tables (Power Device page 0x84, Battery System page 0x85); vendor pages
//! carry the names NUT's subdrivers use, since they appear in the paths and
//! debug output users compare against. A path renders as its nodes joined by
//! `.`: a known usage by name (vendor table first, then the standard one), an
//! index node as `[n]`, anything else as 8 lower-case hex digits.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::descriptor::INDEX_NODE;

/// A usage table: `(usage, name)` pairs.
pub type UsageTable = &'static [(u32, &'static str)];

/// Power Device page (0x84).
pub static POWER_DEVICE: UsageTable = &[
    (0x840001, "iName"),
    (0x840002, "PresentStatus"),
    (0x840003, "ChangedStatus"),
    (0x840004, "UPS"),
    (0x840005, "PowerSupply"),
    (0x840010, "BatterySystem"),
    (0x840011, "BatterySystemID"),
    (0x840012, "Battery"),
    (0x840013, "BatteryID"),
    (0x840014, "Charger"),
    (0x840015, "ChargerID"),
    (0x840016, "PowerConverter"),
    (0x840017, "PowerConverterID"),
    (0x840018, "OutletSystem"),
    (0x840019, "OutletSystemID"),
    (0x84001A, "Input"),
    (0x84001B, "InputID"),
    (0x84001C, "Output"),
    (0x84001D, "OutputID"),
    (0x84001E, "Flow"),
    (0x84001F, "FlowID"),
    (0x840020, "Outlet"),
    (0x840021, "OutletID"),
    (0x840022, "Gang"),
    (0x840023, "GangID"),
    (0x840024, "PowerSummary"),
    (0x840025, "PowerSummaryID"),
    (0x840030, "Voltage"),
    (0x840031, "Current"),
    (0x840032, "Frequency"),
    (0x840033, "ApparentPower"),
    (0x840034, "ActivePower"),
    (0x840035, "PercentLoad"),
    (0x840036, "Temperature"),
    (0x840037, "Humidity"),
    (0x840038, "BadCount"),
    (0x840040, "ConfigVoltage"),
    (0x840041, "ConfigCurrent"),
    (0x840042, "ConfigFrequency"),
    (0x840043, "ConfigApparentPower"),
    (0x840044, "ConfigActivePower"),
    (0x840045, "ConfigPercentLoad"),
    (0x840046, "ConfigTemperature"),
    (0x840047, "ConfigHumidity"),
    (0x840050, "SwitchOnControl"),
    (0x840051, "SwitchOffControl"),
    (0x840052, "ToggleControl"),
    (0x840053, "LowVoltageTransfer"),
    (0x840054, "HighVoltageTransfer"),
    (0x840055, "DelayBeforeReboot"),
    (0x840056, "DelayBeforeStartup"),
    (0x840057, "DelayBeforeShutdown"),
    (0x840058, "Test"),
    (0x840059, "ModuleReset"),
    (0x84005A, "AudibleAlarmControl"),
    (0x840060, "Present"),
    (0x840061, "Good"),
    (0x840062, "InternalFailure"),
    (0x840063, "VoltageOutOfRange"),
    (0x840064, "FrequencyOutOfRange"),
    (0x840065, "Overload"),
    (0x840066, "OverCharged"),
    (0x840067, "OverTemperature"),
    (0x840068, "ShutdownRequested"),
    (0x840069, "ShutdownImminent"),
    (0x84006B, "SwitchOn/Off"),
    (0x84006C, "Switchable"),
    (0x84006D, "Used"),
    (0x84006E, "Boost"),
    (0x84006F, "Buck"),
    (0x840070, "Initialized"),
    (0x840071, "Tested"),
    (0x840072, "AwaitingPower"),
    (0x840073, "CommunicationLost"),
    (0x8400FD, "iManufacturer"),
    (0x8400FE, "iProduct"),
    (0x8400FF, "iSerialNumber"),
];

/// Battery System page (0x85).
pub static BATTERY_SYSTEM: UsageTable = &[
    (0x850001, "SMBBatteryMode"),
    (0x850002, "SMBBatteryStatus"),
    (0x850003, "SMBAlarmWarning"),
    (0x850004, "SMBChargerMode"),
    (0x850005, "SMBChargerStatus"),
    (0x850006, "SMBChargerSpecInfo"),
    (0x850007, "SMBSelectorState"),
    (0x850008, "SMBSelectorPresets"),
    (0x850009, "SMBSelectorInfo"),
    (0x850010, "OptionalMfgFunction1"),
    (0x850011, "OptionalMfgFunction2"),
    (0x850012, "OptionalMfgFunction3"),
    (0x850013, "OptionalMfgFunction4"),
    (0x850014, "OptionalMfgFunction5"),
    (0x850015, "ConnectionToSMBus"),
    (0x850016, "OutputConnection"),
    (0x850017, "ChargerConnection"),
    (0x850018, "BatteryInsertion"),
    (0x850019, "Usenext"),
    (0x85001A, "OKToUse"),
    (0x85001B, "BatterySupported"),
    (0x85001C, "SelectorRevision"),
    (0x85001D, "ChargingIndicator"),
    (0x850028, "ManufacturerAccess"),
    (0x850029, "RemainingCapacityLimit"),
    (0x85002A, "RemainingTimeLimit"),
    (0x85002B, "AtRate"),
    (0x85002C, "CapacityMode"),
    (0x85002D, "BroadcastToCharger"),
    (0x85002E, "PrimaryBattery"),
    (0x85002F, "ChargeController"),
    (0x850040, "TerminateCharge"),
    (0x850041, "TerminateDischarge"),
    (0x850042, "BelowRemainingCapacityLimit"),
    (0x850043, "RemainingTimeLimitExpired"),
    (0x850044, "Charging"),
    (0x850045, "Discharging"),
    (0x850046, "FullyCharged"),
    (0x850047, "FullyDischarged"),
    (0x850048, "ConditioningFlag"),
    (0x850049, "AtRateOK"),
    (0x85004A, "SMBErrorCode"),
    (0x85004B, "NeedReplacement"),
    (0x850060, "AtRateTimeToFull"),
    (0x850061, "AtRateTimeToEmpty"),
    (0x850062, "AverageCurrent"),
    (0x850063, "MaxError"),
    (0x850064, "RelativeStateOfCharge"),
    (0x850065, "AbsoluteStateOfCharge"),
    (0x850066, "RemainingCapacity"),
    (0x850067, "FullChargeCapacity"),
    (0x850068, "RunTimeToEmpty"),
    (0x850069, "AverageTimeToEmpty"),
    (0x85006A, "AverageTimeToFull"),
    (0x85006B, "CycleCount"),
    (0x850080, "BattPackModelLevel"),
    (0x850081, "InternalChargeController"),
    (0x850082, "PrimaryBatterySupport"),
    (0x850083, "DesignCapacity"),
    (0x850084, "SpecificationInfo"),
    (0x850085, "ManufacturerDate"),
    (0x850086, "SerialNumber"),
    (0x850087, "iManufacturerName"),
    (0x850088, "iDeviceName"),
    (0x850089, "iDeviceChemistry"),
    (0x85008A, "ManufacturerData"),
    (0x85008B, "Rechargeable"),
    (0x85008C, "WarningCapacityLimit"),
    (0x85008D, "CapacityGranularity1"),
    (0x85008E, "CapacityGranularity2"),
    (0x85008F, "iOEMInformation"),
    (0x8500C0, "InhibitCharge"),
    (0x8500C1, "EnablePolling"),
    (0x8500C2, "ResetToZero"),
    (0x8500D0, "ACPresent"),
    (0x8500D1, "BatteryPresent"),
    (0x8500D2, "PowerFail"),
    (0x8500D3, "AlarmInhibited"),
    (0x8500D4, "ThermistorUnderRange"),
    (0x8500D5, "ThermistorHot"),
    (0x8500D6, "ThermistorCold"),
    (0x8500D7, "ThermistorOverRange"),
    (0x8500D8, "VoltageOutOfRange"),
    (0x8500D9, "CurrentOutOfRange"),
    (0x8500DA, "CurrentNotRegulated"),
    (0x8500DB, "VoltageNotRegulated"),
    (0x8500DC, "MasterMode"),
    (0x8500F0, "ChargerSelectorSupport"),
    (0x8500F1, "ChargerSpec"),
    (0x8500F2, "Level2"),
    (0x8500F3, "Level3"),
];

/// APC's vendor page 0xFF86 (names as NUT's APC subdriver prints them).
pub static APC: UsageTable = &[
    (0xFF860005, "APCGeneralCollection"),
    (0xFF860016, "APCBattReplaceDate"),
    (0xFF860042, "APC_UPS_FirmwareRevision"),
    (0xFF860052, "APCLineFailCause"),
    (0xFF860060, "APCStatusFlag"),
    (0xFF860061, "APCSensitivity"),
    (0xFF860072, "APCPanelTest"),
    (0xFF860076, "APCShutdownAfterDelay"),
    (0xFF860079, "APC_USB_FirmwareRevision"),
    (0xFF86007C, "APCDelayBeforeReboot"),
    (0xFF86007D, "APCDelayBeforeShutdown"),
    (0xFF86007E, "APCDelayBeforeStartup"),
];

/// Eaton/MGE's vendor page 0xFFFF (the names NUT's MGE subdriver prints).
pub static MGE: UsageTable = &[
    (0xFFFF0001, "STS"),
    (0xFFFF0002, "Environment"),
    (0xFFFF0003, "Statistic"),
    (0xFFFF0004, "StatisticSystem"),
    (0xFFFF0010, "Phase"),
    (0xFFFF0011, "PhaseID"),
    (0xFFFF0012, "Chopper"),
    (0xFFFF0013, "ChopperID"),
    (0xFFFF0014, "Inverter"),
    (0xFFFF0015, "InverterID"),
    (0xFFFF0016, "Rectifier"),
    (0xFFFF0017, "RectifierID"),
    (0xFFFF0018, "LCMSystem"),
    (0xFFFF0019, "LCMSystemID"),
    (0xFFFF001A, "LCMAlarm"),
    (0xFFFF001B, "LCMAlarmID"),
    (0xFFFF001C, "HistorySystem"),
    (0xFFFF001D, "HistorySystemID"),
    (0xFFFF001E, "Event"),
    (0xFFFF001F, "EventID"),
    (0xFFFF0020, "CircuitBreaker"),
    (0xFFFF0021, "TransferForbidden"),
    (0xFFFF0022, "OverallAlarm"),
    (0xFFFF0023, "Dephasing"),
    (0xFFFF0024, "BypassBreaker"),
    (0xFFFF0025, "PowerModule"),
    (0xFFFF0026, "PowerRate"),
    (0xFFFF0027, "PowerSource"),
    (0xFFFF0028, "CurrentPowerSource"),
    (0xFFFF0029, "RedundancyLevel"),
    (0xFFFF002A, "RedundancyLost"),
    (0xFFFF002B, "NotificationStatus"),
    (0xFFFF002C, "ProtectionLost"),
    (0xFFFF002D, "ConfigurationFailure"),
    (0xFFFF002E, "CompatibilityFailure"),
    (0xFFFF0040, "SwitchType"),
    (0xFFFF0041, "ConverterType"),
    (0xFFFF0042, "FrequencyConverterMode"),
    (0xFFFF0043, "AutomaticRestart"),
    (0xFFFF0044, "ForcedReboot"),
    (0xFFFF0045, "TestPeriod"),
    (0xFFFF0046, "EnergySaving"),
    (0xFFFF0047, "StartOnBattery"),
    (0xFFFF0048, "Schedule"),
    (0xFFFF0049, "DeepDischargeProtection"),
    (0xFFFF004A, "ShortCircuit"),
    (0xFFFF004B, "ExtendedVoltageMode"),
    (0xFFFF004C, "SensitivityMode"),
    (0xFFFF004D, "RemainingCapacityLimitSetting"),
    (0xFFFF004E, "ExtendedFrequencyMode"),
    (0xFFFF004F, "FrequencyConverterModeSetting"),
    (0xFFFF0050, "LowVoltageBoostTransfer"),
    (0xFFFF0051, "HighVoltageBoostTransfer"),
    (0xFFFF0052, "LowVoltageBuckTransfer"),
    (0xFFFF0053, "HighVoltageBuckTransfer"),
    (0xFFFF0054, "OverloadTransferEnable"),
    (0xFFFF0055, "OutOfToleranceTransferEnable"),
    (0xFFFF0056, "ForcedTransferEnable"),
    (0xFFFF0057, "LowVoltageBypassTransfer"),
    (0xFFFF0058, "HighVoltageBypassTransfer"),
    (0xFFFF0059, "FrequencyRangeBypassTransfer"),
    (0xFFFF005A, "LowVoltageEcoTransfer"),
    (0xFFFF005B, "HighVoltageEcoTransfer"),
    (0xFFFF005C, "FrequencyRangeEcoTransfer"),
    (0xFFFF005D, "ShutdownTimer"),
    (0xFFFF005E, "StartupTimer"),
    (0xFFFF005F, "RestartLevel"),
    (0xFFFF0060, "PhaseOutOfRange"),
    (0xFFFF0061, "CurrentLimitation"),
    (0xFFFF0062, "ThermalOverload"),
    (0xFFFF0063, "SynchroSource"),
    (0xFFFF0064, "FuseFault"),
    (0xFFFF0065, "ExternalProtectedTransfert"),
    (0xFFFF0066, "ExternalForcedTransfert"),
    (0xFFFF0067, "Compensation"),
    (0xFFFF0068, "EmergencyStop"),
    (0xFFFF0069, "PowerFactor"),
    (0xFFFF006A, "PeakFactor"),
    (0xFFFF006B, "ChargerType"),
    (0xFFFF006C, "HighPositiveDCBusVoltage"),
    (0xFFFF006D, "LowPositiveDCBusVoltage"),
    (0xFFFF006E, "HighNegativeDCBusVoltage"),
    (0xFFFF006F, "LowNegativeDCBusVoltage"),
    (0xFFFF0070, "FrequencyRangeTransfer"),
    (0xFFFF0071, "WiringFaultDetection"),
    (0xFFFF0072, "ControlStandby"),
    (0xFFFF0073, "ShortCircuitTolerance"),
    (0xFFFF0074, "VoltageTooHigh"),
    (0xFFFF0075, "VoltageTooLow"),
    (0xFFFF0076, "DCBusUnbalanced"),
    (0xFFFF0077, "FanFailure"),
    (0xFFFF0078, "WiringFault"),
    (0xFFFF0079, "Floating"),
    (0xFFFF007A, "OverCurrent"),
    (0xFFFF007B, "RemainingActivePower"),
    (0xFFFF007C, "Energy"),
    (0xFFFF007D, "Threshold"),
    (0xFFFF007E, "OverThreshold"),
    (0xFFFF0080, "Sensor"),
    (0xFFFF0081, "LowHumidity"),
    (0xFFFF0082, "HighHumidity"),
    (0xFFFF0083, "LowTemperature"),
    (0xFFFF0084, "HighTemperature"),
    (0xFFFF0085, "ECOControl"),
    (0xFFFF0086, "Efficiency"),
    (0xFFFF0087, "ABMEnable"),
    (0xFFFF0088, "NegativeCurrent"),
    (0xFFFF0089, "AutomaticStart"),
    (0xFFFF0090, "Count"),
    (0xFFFF0091, "Timer"),
    (0xFFFF0092, "Interval"),
    (0xFFFF0093, "TimerExpired"),
    (0xFFFF0094, "Mode"),
    (0xFFFF0095, "Country"),
    (0xFFFF0096, "State"),
    (0xFFFF0097, "Time"),
    (0xFFFF0098, "Code"),
    (0xFFFF0099, "DataValid"),
    (0xFFFF009A, "ToggleTimer"),
    (0xFFFF009B, "BypassTransferDelay"),
    (0xFFFF009C, "HysteresysVoltageTransfer"),
    (0xFFFF009D, "SlewRate"),
    (0xFFFF00A0, "PDU"),
    (0xFFFF00A1, "Breaker"),
    (0xFFFF00A2, "BreakerID"),
    (0xFFFF00A3, "OverVoltage"),
    (0xFFFF00A4, "Tripped"),
    (0xFFFF00A5, "OverEnergy"),
    (0xFFFF00A6, "OverHumidity"),
    (0xFFFF00A7, "ConfigurationReset"),
    (0xFFFF00A8, "Level"),
    (0xFFFF00A9, "PDUType"),
    (0xFFFF00AA, "ReactivePower"),
    (0xFFFF00AB, "Pole"),
    (0xFFFF00AC, "PoleID"),
    (0xFFFF00AD, "Reset"),
    (0xFFFF00AE, "WatchdogReset"),
    (0xFFFF00E0, "COPIBridge"),
    (0xFFFF00F0, "iModel"),
    (0xFFFF00F1, "iVersion"),
    (0xFFFF00F2, "iTechnicalLevel"),
    (0xFFFF00F3, "iPartNumber"),
    (0xFFFF00F4, "iReferenceNumber"),
    (0xFFFF00F5, "iGang"),
];

/// Tripp Lite's vendor usages on page 0xFFFF (those its mapping uses).
/// TLDelayBeforeStartup counts minutes, not seconds (see `mapping::fix_tripp_lite`).
pub static TRIPP_LITE: UsageTable = &[(0xFFFF0056, "TLDelayBeforeStartup")];

/// PowerCOM's delay usages on page 0x00FF (some models use them instead of
/// the standard PowerSummary ones; names as NUT's powercom-hid prints them).
pub static POWERCOM: UsageTable = &[(0x00FF0056, "PCMDelayBeforeStartup"), (0x00FF0057, "PCMDelayBeforeShutdown")];

/// Belkin's usages. Belkin firmware puts them on page 0x86, which the HID
/// Power Device specification reserves; the names are the ones NUT's
/// `belkin-hid` subdriver prints, so paths compare with NUT's debug output.
/// Units (from the same subdriver's notes): voltages and frequencies in
/// tenths, the startup delay in minutes, the shutdown delay in seconds.
pub static BELKIN: UsageTable = &[
    (0x860010, "BELKINBatterySystem"),
    (0x86001A, "BELKINInput"),
    (0x86001C, "BELKINOutput"),
    (0x860021, "BELKINPowerStatus"),
    (0x860022, "BELKINBatteryStatus"),
    (0x860026, "BELKINConfig"),
    (0x860027, "BELKINControls"),
    (0x860028, "BELKINStatus"),
    (0x860029, "BELKINDevice"),
    (0x86002A, "BELKINPowerState"),
    (0x860030, "BELKINVoltage"),
    (0x860032, "BELKINFrequency"),
    (0x860034, "BELKINPower"),
    (0x860035, "BELKINPercentLoad"),
    (0x860036, "BELKINTemperature"),
    (0x860039, "BELKINCharge"),
    (0x860040, "BELKINConfigVoltage"),
    (0x860042, "BELKINConfigFrequency"),
    (0x860043, "BELKINConfigApparentPower"),
    (0x860044, "BELKINConfigBatteryVoltage"),
    (0x860045, "BELKINConfigOverloadTransfer"),
    (0x860050, "BELKINLoadOn"),
    (0x860051, "BELKINLoadOff"),
    (0x860052, "BELKINLoadToggle"),
    (0x860053, "BELKINLowVoltageTransfer"),
    (0x860054, "BELKINHighVoltageTransfer"),
    (0x860055, "BELKINDelayBeforeReboot"),
    (0x860056, "BELKINDelayBeforeStartup"),
    (0x860057, "BELKINDelayBeforeShutdown"),
    (0x860058, "BELKINTest"),
    (0x86005A, "BELKINAudibleAlarmControl"),
    (0x86005B, "BELKINLowVoltageTransferMax"),
    (0x86005C, "BELKINLowVoltageTransferMin"),
    (0x86005D, "BELKINHighVoltageTransferMax"),
    (0x86005E, "BELKINHighVoltageTransferMin"),
    (0x86006C, "BELKINRunTimeToEmpty"),
    (0x860074, "BELKINVoltageSensitivity"),
    (0x860075, "BELKINModelString"),
    (0x860076, "BELKINModelStringOffset"),
    (0x86007C, "BELKINUPSType"),
];

/// Delta's vendor usages on page 0xFFFF (names as NUT's `delta_ups-hid`
/// subdriver prints them).
pub static DELTA: UsageTable = &[
    (0xFFFF0010, "DeltaCustom"),
    (0xFFFF0057, "DeltaConfigTransferLowMax"),
    (0xFFFF0058, "DeltaConfigTransferLowMin"),
    (0xFFFF0059, "DeltaConfigTransferHighMax"),
    (0xFFFF005A, "DeltaConfigTransferHighMin"),
    (0xFFFF0061, "DeltaConfigExternalBatteryPack"),
    (0xFFFF0075, "DeltaModelName"),
    (0xFFFF007C, "DeltaUPSType"),
    (0xFFFF0081, "DeltaConfigStartPowerRestoreDelay"),
    (0xFFFF0091, "DeltaOutputSource"),
    (0xFFFF009B, "DeltaConfigSensitivity"),
    (0xFFFF009C, "DeltaConfigStartPowerRestore"),
];

/// The name tables of one subdriver, searched in order.
#[derive(Clone, Copy, Debug)]
pub struct UsageNames {
    /// Tables searched first to last; the standard pages come last.
    pub tables: &'static [UsageTable],
}

/// Standard pages only (NUT's `explore` subdriver names the same way).
pub static STANDARD: UsageNames = UsageNames { tables: &[POWER_DEVICE, BATTERY_SYSTEM] };

impl UsageNames {
    /// The name of a usage, if a table knows it.
    pub fn name(&self, usage: u32) -> Option<&'static str> {
        self.tables.iter().find_map(|t| t.iter().find(|(u, _)| *u == usage).map(|(_, n)| *n))
    }

    /// The usage of a name, if a table knows it (first table wins).
    pub fn usage(&self, name: &str) -> Option<u32> {
        self.tables.iter().find_map(|t| t.iter().find(|(_, n)| *n == name).map(|(u, _)| *u))
    }

    /// Render a path: names, `[n]` for index nodes, 8 hex digits otherwise.
    pub fn path_string(&self, path: &[u32]) -> String {
        let mut s = String::new();
        for (i, node) in path.iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            if node & 0xFFFF_0000 == INDEX_NODE {
                let _ = write!(s, "[{}]", node & 0xFFFF);
            } else if let Some(name) = self.name(*node) {
                s.push_str(name);
            } else {
                let _ = write!(s, "{node:08x}");
            }
        }
        s
    }

    /// Parse a path string back to nodes; `None` if a node is neither a
    /// known name, `[n]`, nor 8 hex digits.
    pub fn parse_path(&self, path: &str) -> Option<Vec<u32>> {
        path.split('.')
            .map(|node| {
                if let Some(n) = node.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                    n.parse::<u16>().ok().map(|n| INDEX_NODE | u32::from(n))
                } else if let Some(u) = self.usage(node) {
                    Some(u)
                } else if node.len() == 8 {
                    u32::from_str_radix(node, 16).ok()
                } else {
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static APC_NAMES: UsageNames = UsageNames { tables: &[APC, POWER_DEVICE, BATTERY_SYSTEM] };

    #[test]
    fn renders_names_index_nodes_and_unknown_usages() {
        let p = [0x840004, 0x840016, 0x84001A, INDEX_NODE | 3, 0x840002, 0x84006D];
        assert_eq!(STANDARD.path_string(&p), "UPS.PowerConverter.Input.[3].PresentStatus.Used");
        assert_eq!(STANDARD.path_string(&[0x840004, 0xFF860005]), "UPS.ff860005");
        assert_eq!(APC_NAMES.path_string(&[0x840004, 0xFF860005]), "UPS.APCGeneralCollection");
    }

    #[test]
    fn parse_path_inverts_path_string() {
        let p = [0x840004, 0x840024, INDEX_NODE | 12, 0xFFFF00EF, 0x850066];
        assert_eq!(APC_NAMES.parse_path(&APC_NAMES.path_string(&p)).unwrap(), p);
        assert_eq!(STANDARD.parse_path("UPS.NoSuchThing"), None);
    }

    #[test]
    fn tables_have_no_duplicate_usages_within_a_page_table() {
        for t in [POWER_DEVICE, BATTERY_SYSTEM, APC, MGE, BELKIN, DELTA] {
            for (i, (u, _)) in t.iter().enumerate() {
                assert!(t[i + 1..].iter().all(|(v, _)| v != u), "{u:08x} twice");
            }
        }
    }
}
