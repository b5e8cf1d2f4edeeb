//! Descriptions of standard variable and instant-command names, answered by
//! `GET DESC` and `GET CMDDESC`.
//!
//! upsd reads these from `cmdvartab`; Hazel ships the same facts built in so
//! the answers match a stock upsd 2.8.0 word for word (the texts below were
//! checked against real upsd replies, see `tests/nut-facts/captures`).
//! Names the stock table does not describe (e.g. `device.mfr`) deliberately
//! get the fallback text, as they do from upsd.
//!
//! Lookups ignore ASCII case, as upsd's do.

/// What upsd answers for a name it has no description of.
pub const FALLBACK: &str = "Description unavailable";

/// Description of a variable, if the name is a described standard one.
///
/// A leading `upstream.` (a proxied variable, e.g. from a clone driver) is
/// ignored for the lookup, as upsd does.
pub fn variable_description(name: &str) -> Option<&'static str> {
    let name = strip_prefix_ignore_case(name, "upstream.").unwrap_or(name);
    lookup(VARIABLES, name)
}

/// Description of an instant command, if the name is a described standard one.
pub fn command_description(name: &str) -> Option<&'static str> {
    lookup(COMMANDS, name)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) { text.get(prefix.len()..) } else { None }
}

fn lookup(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(known, _)| known.eq_ignore_ascii_case(name)).map(|(_, description)| *description)
}

/// `VARDESC` entries: variable name and description.
const VARIABLES: &[(&str, &str)] = &[
    ("ups.alarm", "UPS alarms"),
    ("ups.status", "UPS status"),
    ("ups.time", "Internal UPS clock time"),
    ("ups.date", "Internal UPS clock date"),
    ("ups.efficiency", "Efficiency of the UPS"),
    ("ups.model", "UPS model"),
    ("ups.mfr", "UPS manufacturer"),
    ("ups.mfr.date", "UPS manufacturing date"),
    ("ups.serial", "UPS serial number"),
    ("ups.vendorid", "Vendor ID for USB devices"),
    ("ups.productid", "Product ID for USB devices"),
    ("ups.firmware", "UPS firmware"),
    ("ups.firmware.aux", "Auxiliary device firmware"),
    ("ups.temperature", "UPS temperature (degrees C)"),
    ("ups.load", "Load on UPS (percent of full)"),
    ("ups.load.energysave", "Load on UPS that triggers energysave (percent)"),
    ("ups.load.high", "Load when UPS switches to overload condition (percent)"),
    ("ups.id", "UPS system identifier"),
    ("ups.delay.start", "Interval to wait before (re)starting the load (seconds)"),
    ("ups.delay.reboot", "Interval to wait before rebooting the UPS (seconds)"),
    ("ups.delay.shutdown", "Interval to wait after shutdown with delay command (seconds)"),
    ("ups.timer.start", "Time before the load will be started (seconds)"),
    ("ups.timer.reboot", "Time before the load will be rebooted (seconds)"),
    ("ups.timer.shutdown", "Time before the load will be shutdown (seconds)"),
    ("ups.test.interval", "Interval between self tests (seconds)"),
    ("ups.test.result", "Results of last self test"),
    ("ups.display.language", "Language to use on front panel"),
    ("ups.contacts", "UPS external contact sensors"),
    ("ups.power", "Current value of apparent power (VA)"),
    ("ups.power.nominal", "UPS power rating (VA)"),
    ("ups.realpower", "Current value of real power (W)"),
    ("ups.realpower.nominal", "UPS real power rating (W)"),
    ("ups.beeper.status", "UPS beeper status"),
    ("ups.type", "UPS type"),
    ("ups.start.auto", "UPS starts when mains is (re)applied"),
    ("ups.start.battery", "Allow to start UPS from battery"),
    ("ups.start.reboot", "UPS reboots when power returns during shutdown delay"),
    ("input.voltage", "Input voltage (V)"),
    ("input.voltage.extended", "Extended input voltage range"),
    ("input.voltage.maximum", "Maximum incoming voltage seen (V)"),
    ("input.voltage.minimum", "Minimum incoming voltage seen (V)"),
    ("input.voltage.status", "Voltage status relative to the thresholds"),
    ("input.voltage.low.warning", "Input voltage low warning threshold (V)"),
    ("input.voltage.low.critical", "Input voltage low critical threshold (V)"),
    ("input.voltage.high.warning", "Input voltage high warning threshold (V)"),
    ("input.voltage.high.critical", "Input voltage high critical threshold (V)"),
    ("input.voltage.nominal", "Nominal input voltage (V)"),
    ("input.transfer.reason", "Reason for last transfer to battery"),
    ("input.transfer.low", "Low voltage transfer point (V)"),
    ("input.transfer.high", "High voltage transfer point (V)"),
    ("input.transfer.eco.low", "Low voltage ECO transfer point (V)"),
    ("input.transfer.bypass.low", "Low voltage Bypass transfer point (V)"),
    ("input.transfer.eco.high", "High voltage ECO transfer point (V)"),
    ("input.transfer.bypass.high", "High voltage Bypass transfer point (V)"),
    ("input.transfer.frequency.bypass.range", "Frequency range Bypass transfer point (percent of nominal Hz)"),
    ("input.transfer.frequency.eco.range", "Frequency range ECO transfer point (percent of nominal Hz)"),
    ("input.transfer.hysteresis", "Threshold of switching protection modes, voltage transfer point (V)"),
    ("input.transfer.low.min", "smallest settable low voltage transfer point (V)"),
    ("input.transfer.low.max", "greatest settable low voltage transfer point (V)"),
    ("input.transfer.high.min", "smallest settable high voltage transfer point (V)"),
    ("input.transfer.high.max", "greatest settable high voltage transfer point (V)"),
    ("input.eco.switchable", "Input High Efficiency (aka ECO) mode switch"),
    ("input.transfer.forced", "Input forced transfer modes enable/disable"),
    ("input.bypass.switch.on", "Put the UPS in bypass mode"),
    ("input.bypass.switch.off", "Take the UPS out of bypass mode"),
    ("input.sensitivity", "Input power sensitivity"),
    ("input.quality", "Input power quality"),
    ("input.current", "Input current (A)"),
    ("input.current.nominal", "Nominal input current (A)"),
    ("input.current.status", "Current status relative to the thresholds"),
    ("input.current.low.warning", "Input current low warning threshold (A)"),
    ("input.current.low.critical", "Input current low critical threshold (A)"),
    ("input.current.high.warning", "Input current high warning threshold (A)"),
    ("input.current.high.critical", "Input current high critical threshold (A)"),
    ("input.frequency", "Input line frequency (Hz)"),
    ("input.frequency.extended", "Extended input frequency range"),
    ("input.frequency.status", "Frequency status"),
    ("input.frequency.nominal", "Nominal input line frequency (Hz)"),
    ("input.frequency.low", "Minimum input line frequency (Hz)"),
    ("input.frequency.high", "Maximum input line frequency (Hz)"),
    ("input.transfer.boost.low", "Low voltage boosting transfer point (V)"),
    ("input.transfer.boost.high", "High voltage boosting transfer point (V)"),
    ("input.transfer.trim.low", "Low voltage trimming transfer point (V)"),
    ("input.transfer.trim.high", "High voltage trimming transfer point (V)"),
    ("input.transfer.delay", "Delay before transfer to mains"),
    ("input.load", "Load on (ePDU) input (percent of full)"),
    ("input.realpower", "Current sum value of all (ePDU) phases real power (W)"),
    ("input.power", "Current sum value of all (ePDU) phases apparent power (VA)"),
    ("input.source", "The current input power source"),
    ("input.source.preferred", "The preferred input power source"),
    ("output.voltage", "Output voltage (V)"),
    ("output.voltage.nominal", "Nominal output voltage (V)"),
    ("output.frequency", "Output frequency (Hz)"),
    ("output.frequency.nominal", "Nominal output frequency (Hz)"),
    ("output.current", "Output current (A)"),
    ("output.current.nominal", "Nominal output current (A)"),
    ("battery.charge", "Battery charge (percent of full)"),
    ("battery.charge.approx", "Rough approximation of battery charge"),
    ("battery.charge.low", "Remaining battery level when UPS switches to LB (percent)"),
    ("battery.charge.restart", "Minimum battery level for restart after power off (percent)"),
    ("battery.charge.warning", "Battery level when UPS switches to Warning state (percent)"),
    ("battery.voltage", "Battery voltage (V)"),
    ("battery.current", "Battery current (A)"),
    ("battery.capacity", "Battery capacity (Ah)"),
    ("battery.temperature", "Battery temperature (degrees C)"),
    ("battery.voltage.nominal", "Nominal battery voltage (V)"),
    ("battery.runtime", "Battery runtime (seconds)"),
    ("battery.runtime.low", "Remaining battery runtime when UPS switches to LB (seconds)"),
    ("battery.alarm.threshold", "Battery alarm threshold"),
    ("battery.date", "Battery change date"),
    ("battery.mfr.date", "Battery manufacturing date"),
    ("battery.packs", "Number of battery packs"),
    ("battery.packs.bad", "Number of bad battery packs"),
    ("battery.type", "Battery chemistry"),
    ("battery.protection", "Prevent deep discharge of battery"),
    ("battery.energysave", "Switch off when running on battery and no/low load"),
    ("battery.energysave.load", "Switch off UPS if on battery and load level lower (percent)"),
    ("battery.energysave.delay", "Delay before switch off UPS if on battery and load level low (min)"),
    ("battery.energysave.realpower", "Switch off UPS if on battery and load level lower (Watts)"),
    ("battery.charger.status", "Battery charger status"),
    ("ambient.temperature", "Ambient temperature (degrees C)"),
    ("ambient.temperature.alarm", "Ambient temperature alarm is active"),
    ("ambient.temperature.status", "Ambient temperature status relative to the configured thresholds"),
    ("ambient.temperature.alarm.maximum", "Maximum allowed ambient temperature (degrees C)"),
    ("ambient.temperature.alarm.minimum", "Minimum allowed ambient temperature (degrees C)"),
    ("ambient.temperature.alarm.enable", "Enable ambient temperature alarm"),
    ("ambient.temperature.low", "Temperature threshold low (degrees C)"),
    ("ambient.temperature.low.warning", "Temperature threshold low warning (degrees C)"),
    ("ambient.temperature.low.critical", "Temperature threshold low critical (degrees C)"),
    ("ambient.temperature.high", "Temperature threshold high (degrees C)"),
    ("ambient.temperature.high.warning", "Temperature threshold high warning (degrees C)"),
    ("ambient.temperature.high.critical", "Temperature threshold high critical (degrees C)"),
    ("ambient.humidity", "Ambient humidity (percent)"),
    ("ambient.humidity.alarm", "Ambient humidity alarm is active"),
    ("ambient.humidity.status", "Ambient humidity status relative to the configured thresholds"),
    ("ambient.humidity.alarm.maximum", "Maximum allowed ambient humidity (percent)"),
    ("ambient.humidity.alarm.minimum", "Minimum allowed ambient humidity (percent)"),
    ("ambient.humidity.alarm.enable", "Enable ambient humidity alarm"),
    ("ambient.humidity.low", "Ambient humidity threshold low (percent)"),
    ("ambient.humidity.low.warning", "Ambient humidity threshold low warning (percent)"),
    ("ambient.humidity.low.critical", "Ambient humidity threshold low critical (percent)"),
    ("ambient.humidity.high", "Ambient humidity threshold high (percent)"),
    ("ambient.humidity.high.warning", "Ambient humidity threshold high warning (percent)"),
    ("ambient.humidity.high.critical", "Ambient humidity threshold high critical (percent)"),
    ("ambient.present", "Ambient sensor presence"),
    ("ambient.contacts.1.status", "State of the dry contact sensor 1"),
    ("ambient.contacts.2.status", "State of the dry contact sensor 2"),
    // The stock table describes only the unindexed outlet names and outlets 1 and 2.
    ("outlet.id", "Outlet system identifier"),
    ("outlet.desc", "Outlet description"),
    ("outlet.switch", "Outlet switch control"),
    ("outlet.status", "Outlet switch status"),
    ("outlet.protect.status", "Outlet protection status"),
    ("outlet.switchable", "Outlet switch ability"),
    ("outlet.autoswitch.charge.low", "Remaining battery level to power off this outlet (percent)"),
    ("outlet.delay.shutdown", "Interval to wait before shutting down this outlet (seconds)"),
    ("outlet.delay.start", "Interval to wait before restarting this outlet (seconds)"),
    ("outlet.1.id", "Outlet system identifier"),
    ("outlet.1.desc", "Outlet description"),
    ("outlet.1.switch", "Outlet switch control"),
    ("outlet.1.status", "Outlet switch status"),
    ("outlet.1.protect.status", "Outlet protection status"),
    ("outlet.1.switchable", "Outlet switch ability"),
    ("outlet.1.ecocontrol", "Master Outlet used to automatically power off the slave outlets"),
    ("outlet.1.autoswitch.charge.low", "Remaining battery level to power off this outlet (percent)"),
    ("outlet.1.delay.shutdown", "Interval to wait before shutting down this outlet (seconds)"),
    ("outlet.1.delay.start", "Interval to wait before restarting this outlet (seconds)"),
    ("outlet.2.id", "Outlet system identifier"),
    ("outlet.2.desc", "Outlet description"),
    ("outlet.2.switch", "Outlet switch control"),
    ("outlet.2.status", "Outlet switch status"),
    ("outlet.2.protect.status", "Outlet protection status"),
    ("outlet.2.switchable", "Outlet switch ability"),
    ("outlet.2.ecocontrol", "Master Outlet used to automatically power off the slave outlets"),
    ("outlet.2.autoswitch.charge.low", "Remaining battery level to power off this outlet (percent)"),
    ("outlet.2.delay.shutdown", "Interval to wait before shutting down this outlet (seconds)"),
    ("outlet.2.delay.start", "Interval to wait before restarting this outlet (seconds)"),
    ("device.part", "Device Part Number"),
    ("server.info", "Server information"),
    ("server.version", "Server version"),
    ("driver.name", "Driver name"),
    ("driver.debug", "Current debug verbosity level of the driver program"),
    (
        "driver.flag.allow_killpower",
        "Safety flip-switch to allow the driver daemon to send UPS shutdown command (accessible via driver.killpower)",
    ),
    ("driver.version", "Driver version - NUT release"),
    ("driver.version.internal", "Internal driver version"),
    ("driver.version.usb", "USB library version"),
];

/// `CMDDESC` entries: instant command name and description.
const COMMANDS: &[(&str, &str)] = &[
    (
        "driver.exit",
        "Tell the driver daemon to just exit its program (so the caller or service management framework can restart it with new options)",
    ),
    (
        "driver.killpower",
        "Tell the driver daemon to initiate UPS shutdown; should be unlocked with driver.flag.allow_killpower option or variable setting",
    ),
    (
        "driver.reload",
        "Reload running driver configuration from the file system (only works for changes in some options)",
    ),
    (
        "driver.reload-or-error",
        "Reload running driver configuration from the file system (only works for changes in some options); return an error if something changed and could not be applied live (so the caller can restart it with new options)",
    ),
    (
        "driver.reload-or-exit",
        "Reload running driver configuration from the file system (only works for changes in some options); exit the running driver if something changed and could not be applied live (so service management framework can restart it with new options)",
    ),
    ("load.off", "Turn off the load immediately"),
    ("load.on", "Turn on the load immediately"),
    ("shutdown.return", "Turn off the load and return when power is back"),
    ("shutdown.stayoff", "Turn off the load and remain off"),
    ("shutdown.stop", "Stop a shutdown in progress"),
    ("shutdown.reboot", "Shut down the load briefly while rebooting the UPS"),
    ("shutdown.reboot.graceful", "Delay briefly then shut down the load while rebooting the UPS"),
    ("test.panel.start", "Start testing the UPS panel"),
    ("test.panel.stop", "Stop a UPS panel test"),
    ("test.failure.start", "Start a simulated power failure"),
    ("test.failure.stop", "Stop simulating a power failure"),
    ("test.battery.start", "Start a battery test"),
    ("test.battery.start.quick", "Start a quick battery test"),
    ("test.battery.start.deep", "Start a deep battery test"),
    ("test.battery.stop", "Stop the battery test"),
    ("test.system.start", "Start a system test"),
    ("calibrate.start", "Start run time calibration"),
    ("calibrate.stop", "Stop run time calibration"),
    ("bypass.start", "Put the UPS in bypass mode"),
    ("bypass.stop", "Take the UPS out of bypass mode"),
    ("ecomode.enable", "Put UPS in High Efficiency (aka ECO) mode"),
    ("ecomode.disable", "Take the UPS out of High Efficiency (aka ECO) mode"),
    ("ecomode.start.auto", "Put UPS in Bypass mode then High Efficiency (aka ECO) mode"),
    ("essmode.enable", "Put UPS in Energy Saver System (aka ESS) mode"),
    ("essmode.disable", "Take the UPS out of Energy Saver System (aka ESS) mode"),
    ("reset.input.minmax", "Reset minimum and maximum input voltage status"),
    ("reset.watchdog", "Reset watchdog timer"),
    ("beeper.on", "Obsolete (use beeper.enable)"),
    ("beeper.off", "Obsolete (use beeper.disable or beeper.mute)"),
    ("beeper.enable", "Enable the UPS beeper"),
    ("beeper.disable", "Disable the UPS beeper"),
    ("beeper.mute", "Temporarily mute the UPS beeper"),
    ("beeper.toggle", "Toggle the UPS beeper"),
    ("outlet.1.load.off", "Turn off the load on outlet 1 immediately"),
    ("outlet.1.load.on", "Turn on the load on outlet 1 immediately"),
    ("outlet.1.shutdown.return", "Turn off the outlet 1 and return when power is back"),
    ("outlet.2.load.off", "Turn off the load on outlet 2 immediately"),
    ("outlet.2.load.on", "Turn on the load on outlet 2 immediately"),
    ("outlet.2.shutdown.return", "Turn off the outlet 2 and return when power is back"),
    ("load.off.delay", "Turn off the load with a delay (seconds)"),
    ("load.on.delay", "Turn on the load with a delay (seconds)"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn lookups_ignore_case_and_upstream_prefix() {
        assert_eq!(variable_description("battery.charge"), Some("Battery charge (percent of full)"));
        assert_eq!(variable_description("UPS.ID"), Some("UPS system identifier"));
        assert_eq!(variable_description("upstream.ups.status"), Some("UPS status"));
        assert_eq!(variable_description("UPSTREAM.ups.status"), Some("UPS status"));
        assert_eq!(variable_description("device.mfr"), None);
        assert_eq!(variable_description(""), None);
        assert_eq!(command_description("LOAD.OFF"), Some("Turn off the load immediately"));
        assert_eq!(command_description("load.on"), Some("Turn on the load immediately"));
        assert_eq!(command_description("no.such.cmd"), None);
    }

    #[test]
    fn names_are_unique_and_texts_fit_a_reply_line() {
        for table in [VARIABLES, COMMANDS] {
            let mut seen = HashMap::new();
            for (name, description) in table {
                assert!(seen.insert(name.to_ascii_lowercase(), ()).is_none(), "duplicate {name}");
                // sent unescaped inside quotes: must not need escaping
                assert!(!description.contains(['"', '\\', '#']), "{name}");
                assert!(description.is_ascii());
            }
        }
    }

    /// Every `DESC`/`CMDDESC` reply captured from a real upsd 2.8.0 must be
    /// reproduced, including the fallback for names it does not describe.
    #[test]
    fn matches_real_upsd_captures() {
        let captures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/nut-facts/captures");
        let Ok(entries) = std::fs::read_dir(captures) else {
            // The captures live in the repository; nothing to compare outside it.
            return;
        };
        let mut checked = 0;
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read(entry.path()) else {
                continue;
            };
            for line in hazel_nutconf::parseconf::lines(&text).flatten() {
                let tokens = line.tokens;
                let (kind, name, text) = match tokens.as_slice() {
                    [kind, _ups, name, text] => (kind.as_str(), name.as_str(), text.as_str()),
                    _ => continue,
                };
                let ours = match kind {
                    "DESC" => variable_description(name),
                    "CMDDESC" => command_description(name),
                    _ => continue,
                };
                assert_eq!(ours.unwrap_or(FALLBACK), text, "{kind} {name} in {:?}", entry.path());
                checked += 1;
            }
        }
        assert!(checked > 100, "expected many captured descriptions, found {checked}");
    }
}
