//! The ups.conf options of nutdrv_qx that matter for the megatec protocol on
//! a serial port, validated as nutdrv_qx does (`nutdrv_qx -h` lists them).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::api::DeviceError;
use crate::protocol::{round_offdelay, round_ondelay};

/// `ups.delay.start` when `ondelay` is not set (seconds).
pub const DEFAULT_ONDELAY: u32 = 180;
/// `ups.delay.shutdown` when `offdelay` is not set (seconds).
pub const DEFAULT_OFFDELAY: u32 = 30;
/// Accepted `ondelay`/`ups.delay.start`, seconds.
pub const ONDELAY_RANGE: (u32, u32) = (0, 599_940);
/// Accepted `offdelay`/`ups.delay.shutdown`, seconds.
pub const OFFDELAY_RANGE: (u32, u32) = (12, 600);
/// Seconds between full updates when `pollfreq` is not set.
pub const DEFAULT_POLLFREQ: u32 = 30;
/// Full recharge time when `chargetime` is not set (seconds).
pub const DEFAULT_CHARGETIME: f64 = 43_200.0;
/// Lowest load the runtime estimate assumes when `idleload` is not set (%).
pub const DEFAULT_IDLELOAD: f64 = 10.0;

/// Options nutdrv_qx accepts that do nothing for a megatec UPS on a serial
/// port (USB matching, other protocols' settings, `stayoff`, which only
/// changes NUT's `-k` and is the host's `kill-power` mode here). Accepted so
/// a config written for NUT loads.
const IGNORED_OPTIONS: &[&str] = &[
    "stayoff",
    "subdriver",
    "vendor",
    "product",
    "serial",
    "vendorid",
    "productid",
    "bus",
    "device",
    "usb_set_altinterface",
    "langid_fix",
    "noscanlangid",
    "reset_to_default",
    "testing",
    "bypass_alarm",
    "battery_alarm",
    "bypass_when_off",
    "alarm_control",
    "converter_mode",
    "eco_mode",
    "battery_open_status_check",
    "bypass_forbidding",
    "site_fault_detection",
    "advanced_eco_mode",
    "constant_phase_angle",
    "limited_runtime_on_battery",
    "max_bypass_volt",
    "min_bypass_volt",
    "max_bypass_freq",
    "min_bypass_freq",
    "work_range_type",
    "output_phase_angle",
    "battery_number",
    "pins_shutdown_mode",
    "series",
    "slave_address",
    "input_fault_voltage",
    "number_of_battery_cells",
    "nominal_cell_voltage",
    "runtime_half",
    "runtime_full",
    "recharge_time",
    "output_voltages",
    "fault_1",
    "fault_2",
    "fault_3",
    "fault_4",
    "fault_5",
];

/// Two runtimes at two loads (`runtimecal = rh,lh,rl,ll`): seconds on
/// battery at load `lh` % and at load `ll` %.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuntimeCal {
    /// Runtime at the higher load, seconds.
    pub runtime_high_load: f64,
    /// The higher load, percent.
    pub high_load: f64,
    /// Runtime at the lower load, seconds.
    pub runtime_low_load: f64,
    /// The lower load, percent.
    pub low_load: f64,
}

/// The validated options of one device.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `ondelay`, rounded down to whole minutes (seconds).
    pub ondelay: u32,
    /// `offdelay`, rounded to what the UPS can do (seconds).
    pub offdelay: u32,
    /// Seconds between full updates (`pollfreq`); other polls read only
    /// the status bits, as nutdrv_qx's quick updates do.
    pub pollfreq: u32,
    /// DTR and RTS per `cablepower`.
    pub modem_lines: (bool, bool),
    /// `novendor`: skip `I`.
    pub novendor: bool,
    /// `norating`: skip `F`.
    pub norating: bool,
    /// `ignoresab`: ignore the shutdown-active bit.
    pub ignoresab: bool,
    /// `runtimecal`, if set.
    pub runtimecal: Option<RuntimeCal>,
    /// `chargetime`, seconds.
    pub chargetime: f64,
    /// `idleload`, percent.
    pub idleload: f64,
    /// `default.`/`override.battery.voltage.high`, if set.
    pub battery_voltage_high: Option<f64>,
    /// `default.`/`override.battery.voltage.low`, if set.
    pub battery_voltage_low: Option<f64>,
    /// `override.`/`default.battery.voltage.nominal`, if set.
    pub battery_voltage_nominal: Option<f64>,
    /// Options accepted but without effect here, for a log line.
    pub ignored: Vec<String>,
}

fn invalid(message: String) -> DeviceError {
    DeviceError::Invalid(message)
}

/// A non-negative decimal number (`12`, `12.9`), as nutdrv_qx accepts delays.
fn decimal(text: &str) -> Option<f64> {
    let plausible = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && text.bytes().filter(|&b| b == b'.').count() <= 1
        && text.bytes().any(|b| b.is_ascii_digit());
    if plausible { text.parse().ok() } else { None }
}

/// A delay in seconds within `range`, truncated to whole seconds; `None`
/// when not a number or out of range.
pub fn parse_delay(text: &str, range: (u32, u32)) -> Option<u32> {
    let value = decimal(text.trim())?;
    if value < f64::from(range.0) || value > f64::from(range.1) {
        return None;
    }
    // In range, so the truncation cannot overflow.
    Some(value as u32)
}

fn number(key: &str, value: &str) -> Result<f64, DeviceError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| invalid(format!("'{key}' is not a number: {value}")))
}

fn parse_runtimecal(value: &str) -> Result<RuntimeCal, DeviceError> {
    let parts: Vec<&str> = value.split(',').collect();
    if parts.len() < 4 {
        return Err(invalid(format!("runtimecal needs four values (runtime,load,runtime,load), got '{value}'")));
    }
    let mut numbers = [0.0; 4];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        *slot = number("runtimecal", part)?;
    }
    let [runtime_high_load, high_load, runtime_low_load, low_load] = numbers;
    if runtime_low_load < runtime_high_load || runtime_high_load <= 0.0 {
        return Err(invalid(format!(
            "runtimecal '{value}': runtimes out of range (the one at the lower load must be longer, both positive)"
        )));
    }
    if high_load > 100.0 || low_load >= high_load || low_load <= 0.0 {
        return Err(invalid(format!(
            "runtimecal '{value}': loads out of range (the first above the second, both within 0..100 %)"
        )));
    }
    Ok(RuntimeCal { runtime_high_load, high_load, runtime_low_load, low_load })
}

fn required<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, DeviceError> {
    value.ok_or_else(|| invalid(format!("'{key}' needs a value")))
}

fn flag(key: &str, value: Option<&str>) -> Result<bool, DeviceError> {
    match value {
        None => Ok(true),
        Some(_) => Err(invalid(format!("'{key}' is a flag and takes no value"))),
    }
}

/// Validate the device's settings, given as `(key, value)` pairs in
/// ups.conf order (a later duplicate wins).
///
/// # Errors
///
/// [`DeviceError::Invalid`] for an option nutdrv_qx does not have, a
/// missing `port`, a protocol other than `megatec`, or a bad value.
pub fn parse<'a>(settings: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Result<Settings, DeviceError> {
    let mut port = None;
    let mut parsed = Settings {
        ondelay: DEFAULT_ONDELAY,
        offdelay: DEFAULT_OFFDELAY,
        pollfreq: DEFAULT_POLLFREQ,
        modem_lines: (true, false),
        novendor: false,
        norating: false,
        ignoresab: false,
        runtimecal: None,
        chargetime: DEFAULT_CHARGETIME,
        idleload: DEFAULT_IDLELOAD,
        battery_voltage_high: None,
        battery_voltage_low: None,
        battery_voltage_nominal: None,
        ignored: Vec::new(),
    };
    for (key, value) in settings {
        match key {
            "port" => port = Some(required(key, value)?),
            "ondelay" => {
                let text = required(key, value)?;
                let seconds = parse_delay(text, ONDELAY_RANGE)
                    .ok_or_else(|| invalid(format!("Start delay '{text}' out of range")))?;
                parsed.ondelay = round_ondelay(seconds);
            }
            "offdelay" => {
                let text = required(key, value)?;
                let seconds = parse_delay(text, OFFDELAY_RANGE)
                    .ok_or_else(|| invalid(format!("Shutdown delay '{text}' out of range")))?;
                parsed.offdelay = round_offdelay(seconds);
            }
            "pollfreq" => {
                let text = required(key, value)?;
                parsed.pollfreq = text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&seconds| seconds > 0)
                    .ok_or_else(|| invalid(format!("'pollfreq' must be a positive number of seconds: {text}")))?;
            }
            "protocol" => {
                let text = required(key, value)?;
                if !text.eq_ignore_ascii_case("megatec") {
                    return Err(invalid(format!(
                        "protocol '{text}' is not supported by this plugin; it speaks only 'megatec'"
                    )));
                }
            }
            "cablepower" => {
                parsed.modem_lines = match required(key, value)? {
                    "normal" => (true, false),
                    "reverse" => (false, true),
                    "both" => (true, true),
                    "none" => (false, false),
                    other => {
                        return Err(invalid(format!("cablepower '{other}' is not one of normal, reverse, both, none")));
                    }
                };
            }
            "novendor" => parsed.novendor = flag(key, value)?,
            "norating" => parsed.norating = flag(key, value)?,
            "ignoresab" => parsed.ignoresab = flag(key, value)?,
            "runtimecal" => parsed.runtimecal = Some(parse_runtimecal(required(key, value)?)?),
            "chargetime" => {
                let seconds = number(key, required(key, value)?)?;
                if seconds <= 0.0 {
                    return Err(invalid(format!("chargetime '{seconds}' out of range (must be above 0 seconds)")));
                }
                parsed.chargetime = seconds;
            }
            "idleload" => {
                let percent = number(key, required(key, value)?)?;
                if percent <= 0.0 || percent > 100.0 {
                    return Err(invalid(format!("idleload '{percent}' out of range [0..100] %")));
                }
                parsed.idleload = percent;
            }
            // nutdrv_qx reads the battery limits from its published variables,
            // where NUT's core has put `default.*`/`override.*` values first.
            "default.battery.voltage.high" | "override.battery.voltage.high" => {
                parsed.battery_voltage_high = Some(number(key, required(key, value)?)?);
            }
            "default.battery.voltage.low" | "override.battery.voltage.low" => {
                parsed.battery_voltage_low = Some(number(key, required(key, value)?)?);
            }
            "default.battery.voltage.nominal" | "override.battery.voltage.nominal" => {
                parsed.battery_voltage_nominal = Some(number(key, required(key, value)?)?);
            }
            // Any other variable's initial or pinned value: the host publishes it.
            _ if key.starts_with("default.") || key.starts_with("override.") => {}
            _ if IGNORED_OPTIONS.contains(&key) => parsed.ignored.push(key.to_string()),
            _ => return Err(invalid(format!("'{key}' is not a valid variable name for this driver"))),
        }
    }
    match port {
        Some(port) if !port.is_empty() => Ok(parsed),
        _ => Err(invalid("'port' is required: the serial port of the UPS".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_pairs(pairs: &[(&str, Option<&str>)]) -> Result<Settings, DeviceError> {
        parse(pairs.iter().copied())
    }

    fn with_port(pairs: &[(&'static str, Option<&'static str>)]) -> Result<Settings, DeviceError> {
        let mut all = alloc::vec![("port", Some("/dev/ttyS0"))];
        all.extend_from_slice(pairs);
        parse_pairs(&all)
    }

    fn message(result: Result<Settings, DeviceError>) -> String {
        match result {
            Err(DeviceError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let settings = with_port(&[]).unwrap();
        assert_eq!((settings.ondelay, settings.offdelay, settings.pollfreq), (180, 30, 30));
        assert_eq!(settings.modem_lines, (true, false));
        assert_eq!((settings.chargetime, settings.idleload), (43_200.0, 10.0));
        assert!(settings.runtimecal.is_none() && !settings.novendor && !settings.norating);
    }

    #[test]
    fn delays_are_checked_then_rounded() {
        let settings = with_port(&[("ondelay", Some("100")), ("offdelay", Some("45"))]).unwrap();
        assert_eq!((settings.ondelay, settings.offdelay), (60, 42));
        let settings = with_port(&[("ondelay", Some("60.5")), ("offdelay", Some("12.9"))]).unwrap();
        assert_eq!((settings.ondelay, settings.offdelay), (60, 12));
        assert_eq!(message(with_port(&[("ondelay", Some("600000"))])), "Start delay '600000' out of range");
        assert_eq!(message(with_port(&[("ondelay", Some("-5"))])), "Start delay '-5' out of range");
        assert_eq!(message(with_port(&[("ondelay", Some("abc"))])), "Start delay 'abc' out of range");
        assert_eq!(message(with_port(&[("offdelay", Some("5"))])), "Shutdown delay '5' out of range");
        assert_eq!(message(with_port(&[("offdelay", Some("601"))])), "Shutdown delay '601' out of range");
        assert_eq!(message(with_port(&[("offdelay", Some("30x"))])), "Shutdown delay '30x' out of range");
    }

    #[test]
    fn only_the_megatec_protocol() {
        assert!(with_port(&[("protocol", Some("megatec"))]).is_ok());
        let error = message(with_port(&[("protocol", Some("voltronic"))]));
        assert!(error.contains("'voltronic'") && error.contains("only 'megatec'"), "{error}");
    }

    #[test]
    fn cablepower_sets_dtr_and_rts() {
        for (value, lines) in
            [("normal", (true, false)), ("reverse", (false, true)), ("both", (true, true)), ("none", (false, false))]
        {
            assert_eq!(with_port(&[("cablepower", Some(value))]).unwrap().modem_lines, lines, "{value}");
        }
        assert!(message(with_port(&[("cablepower", Some("dtr"))])).contains("'dtr'"));
    }

    #[test]
    fn runtimecal_and_its_companions() {
        let settings =
            with_port(&[("runtimecal", Some("240,100,720,50")), ("chargetime", Some("3600")), ("idleload", Some("5"))])
                .unwrap();
        assert_eq!(
            settings.runtimecal,
            Some(RuntimeCal { runtime_high_load: 240.0, high_load: 100.0, runtime_low_load: 720.0, low_load: 50.0 })
        );
        assert_eq!((settings.chargetime, settings.idleload), (3600.0, 5.0));
        for bad in ["240,100,720", "240,100,120,50", "0,100,720,50", "240,50,720,100", "240,101,720,50", "a,b,c,d"] {
            message(with_port(&[("runtimecal", Some(bad))]));
        }
        message(with_port(&[("chargetime", Some("0"))]));
        message(with_port(&[("idleload", Some("0"))]));
        message(with_port(&[("idleload", Some("101"))]));
    }

    #[test]
    fn flags_nutdrv_qx_options_and_unknown_options() {
        let settings = with_port(&[
            ("novendor", None),
            ("norating", None),
            ("ignoresab", None),
            ("stayoff", None),
            ("pollfreq", Some("2")),
            ("subdriver", Some("cypress")),
        ])
        .unwrap();
        assert!(settings.novendor && settings.norating && settings.ignoresab);
        assert_eq!(settings.pollfreq, 2);
        assert_eq!(settings.ignored, ["stayoff", "subdriver"]);
        assert!(message(with_port(&[("novendor", Some("yes"))])).contains("takes no value"));
        assert_eq!(
            message(with_port(&[("baudrate", Some("2400"))])),
            "'baudrate' is not a valid variable name for this driver"
        );
        message(with_port(&[("pollfreq", Some("0"))]));
        message(parse_pairs(&[]));
        message(parse_pairs(&[("port", None)]));
    }

    #[test]
    fn battery_voltages_when_the_host_passes_them() {
        let settings = with_port(&[
            ("default.battery.voltage.high", Some("27.3")),
            ("default.battery.voltage.low", Some("21.0")),
            ("override.battery.voltage.nominal", Some("24")),
        ])
        .unwrap();
        assert_eq!(
            (settings.battery_voltage_high, settings.battery_voltage_low, settings.battery_voltage_nominal),
            (Some(27.3), Some(21.0), Some(24.0))
        );
        let pinned =
            with_port(&[("override.battery.voltage.high", Some("27")), ("override.battery.voltage.low", Some("22"))])
                .unwrap();
        assert_eq!((pinned.battery_voltage_high, pinned.battery_voltage_low), (Some(27.0), Some(22.0)));
        assert!(message(with_port(&[("default.battery.voltage.low", Some("low"))])).contains("not a number"));
    }

    #[test]
    fn other_default_and_override_options_are_left_to_the_host() {
        let settings = with_port(&[("default.ups.mfr", Some("Acme")), ("override.ups.delay.shutdown", Some("20"))]);
        assert_eq!(settings, with_port(&[]));
    }
}
