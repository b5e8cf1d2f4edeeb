//! The simulated UPS: mains, battery, load, tests, beeper and the shutdown and
//! restore timers, advanced in simulated seconds.

use std::fmt;

use crate::megatec::{Command, IdentificationReply, RatingsReply, StatusBits, StatusReply};

/// Below this, a remaining time or charge counts as reached (floating-point slack).
const EPSILON: f64 = 1e-9;
/// Per 2 V lead-acid cell, the voltage reported at 0 % and 100 % charge. With
/// these, NUT's guess of a pack's empty and full voltages from its nominal
/// voltage (10.4 V and 13.0 V per 12 V block) maps the voltage back to our charge.
const CELL_VOLTS_EMPTY: f64 = 10.4 / 6.0;
const CELL_VOLTS_FULL: f64 = 13.0 / 6.0;
/// The AVR (buck/boost) steps in when the input is this far from nominal.
const AVR_THRESHOLD: f64 = 0.08;
/// Even an idle UPS draws from its battery: drain as if the load were this (%).
const IDLE_LOAD_PERCENT: f64 = 1.0;
/// Length of the `T` battery test, seconds.
const QUICK_TEST_SECONDS: f64 = 10.0;

/// How the simulated UPS is built and how it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Nominal (rated) input and output voltage, V; also the mains voltage at start.
    pub input_voltage: f64,
    /// Nominal input frequency, Hz; also the mains frequency at start.
    pub input_frequency: f64,
    /// Rated current for the `F` reply, A.
    pub input_current: u16,
    /// Load at start, % of rated power.
    pub load_percent: u16,
    /// Battery charge at start, %.
    pub charge_percent: f64,
    /// Nominal battery voltage, V (a multiple of 2 V cells).
    pub battery_voltage_nominal: f64,
    /// Report the battery voltage per cell (`2.27`) instead of per pack (`27.2`), as some UPSes do.
    pub per_cell_voltage: bool,
    /// Runtime on a full battery at 100 % load, simulated seconds; lower loads last proportionally longer.
    pub runtime_full_load: f64,
    /// Time to recharge from 0 to 100 % on mains, simulated seconds.
    pub recharge_time: f64,
    /// The low-battery flag is set at or below this charge, %.
    pub low_battery_percent: f64,
    /// UPS temperature, °C.
    pub temperature: f64,
    /// Beeper enabled at start.
    pub beeper: bool,
    /// An online (double conversion) UPS; otherwise line-interactive.
    pub online: bool,
    /// Mains present at start.
    pub mains: bool,
    /// `I` reply: company name.
    pub manufacturer: String,
    /// `I` reply: model.
    pub model: String,
    /// `I` reply: firmware version.
    pub firmware: String,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            input_voltage: 230.0,
            input_frequency: 50.0,
            input_current: 4,
            load_percent: 30,
            charge_percent: 100.0,
            battery_voltage_nominal: 24.0,
            per_cell_voltage: false,
            runtime_full_load: 600.0,
            recharge_time: 4.0 * 3600.0,
            low_battery_percent: 20.0,
            temperature: 25.0,
            beeper: true,
            online: false,
            mains: true,
            manufacturer: "Hazel".into(),
            model: "SIM-1000".into(),
            firmware: "V1.0".into(),
        }
    }
}

/// A configuration value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{setting} = {value}: {expected}")]
pub struct ConfigError {
    /// Which setting.
    pub setting: &'static str,
    /// The value given.
    pub value: String,
    /// What would be accepted.
    pub expected: &'static str,
}

impl ModelConfig {
    /// Check every value against what the protocol can carry and the model can use.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn check(
            ok: bool,
            setting: &'static str,
            value: impl fmt::Display,
            expected: &'static str,
        ) -> Result<(), ConfigError> {
            if ok { Ok(()) } else { Err(ConfigError { setting, value: value.to_string(), expected }) }
        }
        check(in_range(self.input_voltage, 1.0, 999.9), "input voltage", self.input_voltage, "1 to 999.9 V")?;
        check(in_range(self.input_frequency, 1.0, 99.9), "input frequency", self.input_frequency, "1 to 99.9 Hz")?;
        check(self.input_current <= 999, "input current", self.input_current, "0 to 999 A")?;
        check(self.load_percent <= 999, "load", self.load_percent, "0 to 999 %")?;
        check(in_range(self.charge_percent, 0.0, 100.0), "charge", self.charge_percent, "0 to 100 %")?;
        check(
            in_range(self.battery_voltage_nominal, 2.0, 99.0),
            "battery nominal voltage",
            self.battery_voltage_nominal,
            "2 to 99 V",
        )?;
        check(in_range(self.runtime_full_load, 1.0, 1e9), "runtime", self.runtime_full_load, "at least 1 s")?;
        check(in_range(self.recharge_time, 1.0, 1e9), "recharge time", self.recharge_time, "at least 1 s")?;
        check(
            in_range(self.low_battery_percent, 0.0, 100.0),
            "low battery threshold",
            self.low_battery_percent,
            "0 to 100 %",
        )?;
        check(in_range(self.temperature, 0.0, 99.9), "temperature", self.temperature, "0 to 99.9 °C")?;
        Ok(())
    }

    /// Number of 2 V cells in the battery.
    pub fn cells(&self) -> u32 {
        ((self.battery_voltage_nominal / 2.0).round() as u32).max(1)
    }
}

fn in_range(value: f64, low: f64, high: f64) -> bool {
    value.is_finite() && value >= low && value <= high
}

/// A change to the UPS's surroundings, from a script or from a test.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Mains present (`true`) or failed.
    Mains(bool),
    /// Load, % of rated power.
    Load(u16),
    /// Battery charge, %.
    Battery(f64),
    /// Temperature, °C.
    Temperature(f64),
    /// Mains voltage while present, V.
    InputVoltage(f64),
    /// Mains frequency while present, Hz.
    InputFrequency(f64),
    /// The UPS-failed flag.
    Fault(bool),
    /// The beeper, as the front panel would set it.
    Beeper(bool),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on_off = |on: bool| if on { "on" } else { "off" };
        match self {
            Action::Mains(on) => write!(f, "mains {}", on_off(*on)),
            Action::Load(percent) => write!(f, "load {percent}"),
            Action::Battery(percent) => write!(f, "battery {percent}"),
            Action::Temperature(celsius) => write!(f, "temperature {celsius}"),
            Action::InputVoltage(volts) => write!(f, "input-voltage {volts}"),
            Action::InputFrequency(hertz) => write!(f, "input-frequency {hertz}"),
            Action::Fault(on) => write!(f, "fault {}", on_off(*on)),
            Action::Beeper(on) => write!(f, "beeper {}", on_off(*on)),
        }
    }
}

/// A running battery test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Test {
    /// Ends after this many more seconds (or at low battery).
    Timed { remaining: f64 },
    /// Ends at low battery.
    UntilLow,
}

/// Where an `S` command has got to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shutdown {
    /// The output goes off in `remaining` seconds.
    Counting { remaining: f64, restore: Restore },
    /// The output is off; it comes back per `restore`.
    Off { restore: Restore },
}

/// When the output comes back after a shutdown.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Restore {
    /// `R0000`: stays off until `C`.
    Never,
    /// After `full` seconds of continuous mains; `remaining` of them to go.
    AfterMains { full: f64, remaining: f64 },
}

impl Restore {
    fn from_minutes(minutes: Option<u16>) -> Restore {
        match minutes {
            Some(0) => Restore::Never,
            // `S<n>` alone: back as soon as mains is present.
            None => Restore::AfterMains { full: 0.0, remaining: 0.0 },
            Some(m) => {
                let full = f64::from(m) * 60.0;
                Restore::AfterMains { full, remaining: full }
            }
        }
    }
}

/// Why the output is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    On,
    /// Turned off by an `S` command (see [`Shutdown`]).
    ShutDown,
    /// The battery ran flat; back on when mains returns.
    Exhausted,
}

/// The simulated UPS.
#[derive(Debug, Clone)]
pub struct Model {
    config: ModelConfig,
    mains: bool,
    input_voltage: f64,
    input_frequency: f64,
    /// The input voltage last seen while mains was present (the Q1 "fault voltage").
    last_input_voltage: f64,
    load_percent: u16,
    charge: f64,
    temperature: f64,
    beeper: bool,
    fault: bool,
    output: Output,
    test: Option<Test>,
    shutdown: Option<Shutdown>,
    /// Simulated seconds since the model was made.
    now: f64,
    /// What happened since the last [`Model::take_events`], with when.
    events: Vec<(f64, String)>,
}

/// A summary of the model's state, for tests and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelState {
    /// Mains present.
    pub mains: bool,
    /// Output powered.
    pub output_on: bool,
    /// Battery charge, %.
    pub charge_percent: f64,
    /// Low-battery flag.
    pub battery_low: bool,
    /// Load, % (0 while the output is off).
    pub load_percent: u16,
    /// Beeper enabled.
    pub beeper: bool,
    /// A battery test is running.
    pub test_in_progress: bool,
    /// A shutdown is counting down, or the output is off waiting to be restored.
    pub shutdown_active: bool,
}

impl Model {
    /// A UPS in the state `config` describes. Call [`ModelConfig::validate`] first.
    pub fn new(config: ModelConfig) -> Model {
        Model {
            mains: config.mains,
            input_voltage: config.input_voltage,
            input_frequency: config.input_frequency,
            last_input_voltage: config.input_voltage,
            load_percent: config.load_percent,
            charge: config.charge_percent,
            temperature: config.temperature,
            beeper: config.beeper,
            fault: false,
            output: Output::On,
            test: None,
            shutdown: None,
            now: 0.0,
            events: Vec::new(),
            config,
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Simulated seconds since the model was made.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// What happened (timers, tests starting and ending, battery running flat)
    /// since the last call, each with its simulated time.
    pub fn take_events(&mut self) -> Vec<(f64, String)> {
        std::mem::take(&mut self.events)
    }

    fn event(&mut self, text: &str) {
        self.events.push((self.now, text.to_string()));
    }

    /// A summary of the current state.
    pub fn state(&self) -> ModelState {
        ModelState {
            mains: self.mains,
            output_on: self.output == Output::On,
            charge_percent: self.charge,
            battery_low: self.battery_low(),
            load_percent: self.reported_load(),
            beeper: self.beeper,
            test_in_progress: self.test.is_some(),
            shutdown_active: self.shutdown.is_some(),
        }
    }

    /// Answer one command: the reply bytes (with `\r`), or `None` for the
    /// commands a Megatec UPS accepts silently.
    pub fn handle(&mut self, command: &Command) -> Option<Vec<u8>> {
        match command {
            Command::Status => return Some(self.status_reply().format()),
            Command::Ratings => return Some(self.ratings_reply().format()),
            Command::Identification => return Some(self.identification_reply().format()),
            Command::TestQuick => self.start_test(Test::Timed { remaining: QUICK_TEST_SECONDS }),
            Command::TestUntilLow => self.start_test(Test::UntilLow),
            Command::TestMinutes(minutes) => self.start_test(Test::Timed { remaining: f64::from(*minutes) * 60.0 }),
            Command::CancelTest => {
                if self.test.take().is_some() {
                    self.event("battery test cancelled");
                }
            }
            Command::BeeperToggle => self.beeper = !self.beeper,
            Command::Shutdown { delay_seconds, restore_minutes } => {
                let restore = Restore::from_minutes(*restore_minutes);
                self.shutdown = Some(Shutdown::Counting { remaining: f64::from(*delay_seconds), restore });
                self.settle();
            }
            Command::CancelShutdown => match self.shutdown.take() {
                Some(Shutdown::Counting { .. }) => self.event("shutdown cancelled"),
                Some(Shutdown::Off { .. }) => {
                    self.output = Output::On;
                    self.event("output on (shutdown cancelled)");
                }
                None => {}
            },
            Command::Unknown(line) => {
                let mut echo = line.clone();
                echo.push(b'\r');
                return Some(echo);
            }
        }
        None
    }

    /// Apply a change of surroundings.
    pub fn apply(&mut self, action: &Action) {
        match *action {
            Action::Mains(present) => {
                if present != self.mains {
                    self.mains = present;
                    if !present {
                        self.last_input_voltage = self.input_voltage;
                        // A restore needs mains for its whole delay: start over.
                        if let Some(Shutdown::Off { restore: Restore::AfterMains { full, remaining } }) =
                            &mut self.shutdown
                        {
                            *remaining = *full;
                        }
                    }
                }
            }
            Action::Load(percent) => self.load_percent = percent,
            Action::Battery(percent) => self.charge = percent.clamp(0.0, 100.0),
            Action::Temperature(celsius) => self.temperature = celsius,
            Action::InputVoltage(volts) => {
                self.input_voltage = volts;
                if self.mains {
                    self.last_input_voltage = volts;
                }
            }
            Action::InputFrequency(hertz) => self.input_frequency = hertz,
            Action::Fault(on) => self.fault = on,
            Action::Beeper(on) => self.beeper = on,
        }
        self.settle();
    }

    /// Let `seconds` of simulated time pass.
    pub fn advance(&mut self, seconds: f64) {
        let mut left = seconds.max(0.0);
        // Step from one change to the next so timers and thresholds fire at their
        // exact time whatever the caller's tick; bounded in case of float trouble.
        for _ in 0..10_000 {
            let step = self.time_to_next_change().map_or(left, |t| t.clamp(0.0, left));
            self.integrate(step);
            left -= step;
            self.settle();
            if left <= EPSILON {
                break;
            }
        }
    }

    /// The `Q1` reply for the current state.
    pub fn status_reply(&self) -> StatusReply {
        let on = self.output == Output::On;
        let nominal = self.config.input_voltage;
        let avr_active = on
            && self.mains
            && !self.config.online
            && self.test.is_none()
            && (self.input_voltage - nominal).abs() > nominal * AVR_THRESHOLD;
        let output_voltage = if !on {
            0.0
        } else if self.mains && self.test.is_none() && !self.config.online && !avr_active {
            self.input_voltage
        } else {
            nominal
        };
        let input_frequency = if self.mains {
            self.input_frequency
        } else if on {
            // On battery, what is measured is the inverter's output.
            self.config.input_frequency
        } else {
            0.0
        };
        StatusReply {
            input_voltage: if self.mains { self.input_voltage } else { 0.0 },
            input_fault_voltage: if self.mains { self.input_voltage } else { self.last_input_voltage },
            output_voltage,
            load_percent: self.reported_load(),
            input_frequency,
            battery_voltage: self.battery_voltage(),
            temperature: self.temperature,
            bits: StatusBits {
                utility_fail: !self.mains,
                battery_low: self.battery_low(),
                avr_active,
                ups_failed: self.fault,
                line_interactive: !self.config.online,
                test_in_progress: self.test.is_some(),
                shutdown_active: self.shutdown.is_some(),
                beeper_on: self.beeper,
            },
        }
    }

    /// The `F` reply.
    pub fn ratings_reply(&self) -> RatingsReply {
        RatingsReply {
            voltage: self.config.input_voltage,
            current: self.config.input_current,
            battery_voltage: self.config.battery_voltage_nominal,
            frequency: self.config.input_frequency,
        }
    }

    /// The `I` reply.
    pub fn identification_reply(&self) -> IdentificationReply {
        IdentificationReply {
            company: self.config.manufacturer.clone(),
            model: self.config.model.clone(),
            firmware: self.config.firmware.clone(),
        }
    }

    /// Battery voltage as reported: linear in charge between empty and full, per cell or per pack.
    pub fn battery_voltage(&self) -> f64 {
        let per_cell = CELL_VOLTS_EMPTY + (CELL_VOLTS_FULL - CELL_VOLTS_EMPTY) * self.charge / 100.0;
        if self.config.per_cell_voltage { per_cell } else { per_cell * f64::from(self.config.cells()) }
    }

    fn battery_low(&self) -> bool {
        self.charge <= self.config.low_battery_percent + EPSILON
    }

    fn reported_load(&self) -> u16 {
        if self.output == Output::On { self.load_percent } else { 0 }
    }

    fn start_test(&mut self, test: Test) {
        // A UPS tests its battery only while mains could take the load back.
        if self.mains && self.output == Output::On && !self.battery_low() {
            self.test = Some(test);
            self.event("battery test started");
        } else {
            self.event("battery test refused (no mains, output off or battery low)");
        }
    }

    /// Charge change per simulated second, %/s.
    fn charge_rate(&self) -> f64 {
        let on_battery = self.output == Output::On && (!self.mains || self.test.is_some());
        if on_battery {
            let load = f64::from(self.load_percent).max(IDLE_LOAD_PERCENT);
            let runtime = self.config.runtime_full_load * 100.0 / load;
            -100.0 / runtime
        } else if self.mains && self.charge < 100.0 {
            100.0 / self.config.recharge_time
        } else {
            0.0
        }
    }

    /// Simulated seconds until a timer expires or the charge crosses a threshold that matters.
    fn time_to_next_change(&self) -> Option<f64> {
        let mut next: Option<f64> = None;
        let mut consider = |t: f64| next = Some(next.map_or(t, |n: f64| n.min(t)));
        if let Some(Test::Timed { remaining }) = self.test {
            consider(remaining);
        }
        let rate = self.charge_rate();
        if rate < 0.0 {
            if self.test.is_some() && self.charge > self.config.low_battery_percent {
                consider((self.charge - self.config.low_battery_percent) / -rate);
            }
            consider(self.charge / -rate);
        } else if rate > 0.0 {
            consider((100.0 - self.charge) / rate);
        }
        match self.shutdown {
            Some(Shutdown::Counting { remaining, .. }) => consider(remaining),
            Some(Shutdown::Off { restore: Restore::AfterMains { remaining, .. } }) if self.mains => consider(remaining),
            _ => {}
        }
        next
    }

    fn integrate(&mut self, seconds: f64) {
        self.now += seconds;
        self.charge = (self.charge + self.charge_rate() * seconds).clamp(0.0, 100.0);
        if let Some(Test::Timed { remaining }) = &mut self.test {
            *remaining -= seconds;
        }
        match &mut self.shutdown {
            Some(Shutdown::Counting { remaining, .. }) => *remaining -= seconds,
            Some(Shutdown::Off { restore: Restore::AfterMains { remaining, .. } }) if self.mains => {
                *remaining -= seconds
            }
            _ => {}
        }
    }

    /// Fire whatever is due now.
    fn settle(&mut self) {
        if let Some(test) = self.test {
            let ended = match test {
                _ if !self.mains => Some("battery test ended (mains lost)"),
                _ if self.output != Output::On => Some("battery test ended (output off)"),
                _ if self.battery_low() => Some("battery test ended at low battery"),
                Test::Timed { remaining } if remaining <= EPSILON => Some("battery test finished"),
                _ => None,
            };
            if let Some(why) = ended {
                self.test = None;
                self.event(why);
            }
        }
        if let Some(Shutdown::Counting { remaining, restore }) = self.shutdown
            && remaining <= EPSILON
        {
            self.shutdown = Some(Shutdown::Off { restore });
            self.output = Output::ShutDown;
            self.test = None;
            self.event("output off (shutdown timer)");
        }
        if let Some(Shutdown::Off { restore: Restore::AfterMains { remaining, .. } }) = self.shutdown
            && self.mains
            && remaining <= EPSILON
        {
            self.shutdown = None;
            self.output = Output::On;
            self.event("output on (restore timer)");
        }
        if self.output == Output::On && !self.mains && self.charge <= EPSILON {
            self.output = Output::Exhausted;
            self.event("output off (battery exhausted)");
        }
        if self.output == Output::Exhausted && self.mains {
            self.output = Output::On;
            self.event("output on (mains returned)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::new(ModelConfig::default())
    }

    fn q1(model: &mut Model) -> String {
        String::from_utf8(model.handle(&Command::Status).unwrap()).unwrap()
    }

    #[test]
    fn default_config_is_valid_and_bad_values_are_named() {
        ModelConfig::default().validate().unwrap();
        let bad = ModelConfig { low_battery_percent: 120.0, ..ModelConfig::default() };
        let err = bad.validate().unwrap_err();
        assert_eq!(err.to_string(), "low battery threshold = 120: 0 to 100 %");
        assert!(ModelConfig { input_voltage: f64::NAN, ..ModelConfig::default() }.validate().is_err());
    }

    #[test]
    fn on_mains_status() {
        let mut ups = model();
        assert_eq!(q1(&mut ups), "(230.0 230.0 230.0 030 50.0 26.0 25.0 00001001\r");
        assert_eq!(ups.handle(&Command::Ratings).unwrap(), b"#230.0 004 24.00 50.0\r");
        assert_eq!(ups.handle(&Command::Identification).unwrap(), b"#Hazel           SIM-1000   V1.0      \r");
    }

    #[test]
    fn battery_voltage_follows_charge_per_pack_or_per_cell() {
        let mut ups = model();
        ups.apply(&Action::Battery(0.0));
        assert!((ups.battery_voltage() - 20.8).abs() < 1e-9);
        ups.apply(&Action::Battery(50.0));
        assert!((ups.battery_voltage() - 23.4).abs() < 1e-9);
        let mut per_cell = Model::new(ModelConfig { per_cell_voltage: true, ..ModelConfig::default() });
        assert_eq!(&q1(&mut per_cell)[28..32], "2.17");
    }

    #[test]
    fn unknown_commands_are_echoed_and_state_commands_are_silent() {
        let mut ups = model();
        assert_eq!(ups.handle(&Command::parse(b"QGS")).unwrap(), b"QGS\r");
        assert_eq!(ups.handle(&Command::parse(b"M")).unwrap(), b"M\r");
        assert_eq!(ups.handle(&Command::BeeperToggle), None);
        assert_eq!(ups.handle(&Command::TestQuick), None);
        assert_eq!(ups.handle(&Command::CancelTest), None);
        assert_eq!(ups.handle(&Command::CancelShutdown), None);
    }

    #[test]
    fn mains_failure_drains_battery_by_load_and_sets_low_battery() {
        // 600 s at full load; 30 % load lasts 2000 s.
        let mut ups = model();
        ups.apply(&Action::Mains(false));
        let status = q1(&mut ups);
        assert_eq!(&status[..6], "(000.0");
        assert_eq!(&status[38..46], "10001001");
        ups.advance(1000.0);
        assert!((ups.state().charge_percent - 50.0).abs() < 1e-6);
        assert!(!ups.state().battery_low);
        ups.advance(600.0);
        assert!((ups.state().charge_percent - 20.0).abs() < 1e-6);
        assert_eq!(&q1(&mut ups)[38..46], "11001001");
        ups.advance(400.0);
        assert!(!ups.state().output_on, "flat battery turns the output off");
        assert_eq!(&q1(&mut ups)[13..22], "000.0 000");
        let (at, text) = ups.take_events().pop().unwrap();
        assert_eq!(text, "output off (battery exhausted)");
        assert!((at - 2000.0).abs() < 1e-6, "{at}");
        ups.apply(&Action::Mains(true));
        assert!(ups.state().output_on);
        // Recharges on mains: 4 h from empty to full.
        ups.advance(7200.0);
        assert!((ups.state().charge_percent - 50.0).abs() < 1e-6);
        ups.advance(1e6);
        assert_eq!(ups.state().charge_percent, 100.0);
    }

    #[test]
    fn beeper_toggles_bit_0() {
        let mut ups = model();
        ups.handle(&Command::BeeperToggle);
        assert_eq!(&q1(&mut ups)[38..46], "00001000");
        assert!(!ups.state().beeper);
        ups.handle(&Command::BeeperToggle);
        assert_eq!(&q1(&mut ups)[38..46], "00001001");
    }

    #[test]
    fn quick_test_runs_ten_seconds_on_battery() {
        let mut ups = model();
        ups.handle(&Command::TestQuick);
        assert_eq!(&q1(&mut ups)[38..46], "00001101");
        ups.advance(9.0);
        assert!(ups.state().test_in_progress);
        assert!(ups.state().charge_percent < 100.0, "a test discharges the battery");
        ups.advance(1.0);
        assert!(!ups.state().test_in_progress);
        let (at, text) = ups.take_events().pop().unwrap();
        assert_eq!(text, "battery test finished");
        assert!((at - 10.0).abs() < 1e-6, "{at}");
    }

    #[test]
    fn tests_end_on_cancel_low_battery_or_timeout() {
        let mut ups = model();
        ups.handle(&Command::TestMinutes(2));
        ups.advance(119.0);
        assert!(ups.state().test_in_progress);
        ups.handle(&Command::CancelTest);
        assert!(!ups.state().test_in_progress);

        ups.apply(&Action::Battery(100.0));
        ups.handle(&Command::TestUntilLow);
        // 100 → 20 % at 30 % load takes 1600 s.
        ups.advance(1599.0);
        assert!(ups.state().test_in_progress);
        ups.advance(2.0);
        assert!(!ups.state().test_in_progress);
        assert!(ups.state().charge_percent > 19.0, "charging again after the test");

        // No test on battery.
        ups.apply(&Action::Mains(false));
        ups.handle(&Command::TestQuick);
        assert!(!ups.state().test_in_progress);
    }

    #[test]
    fn shutdown_then_restore_after_mains_returns() {
        let mut ups = model();
        ups.apply(&Action::Mains(false));
        ups.handle(&Command::parse(b"S.5R0003"));
        assert_eq!(&q1(&mut ups)[38..46], "10001011");
        ups.advance(29.0);
        assert!(ups.state().output_on);
        ups.advance(1.0);
        assert!(!ups.state().output_on);
        assert!(ups.state().shutdown_active);
        ups.advance(3600.0);
        assert!(!ups.state().output_on, "no restore without mains");
        ups.apply(&Action::Mains(true));
        ups.advance(100.0);
        // Mains flickers: the 3 minutes start over.
        ups.apply(&Action::Mains(false));
        ups.apply(&Action::Mains(true));
        ups.advance(179.0);
        assert!(!ups.state().output_on);
        ups.advance(1.0);
        assert!(ups.state().output_on);
        assert!(!ups.state().shutdown_active);
        assert_eq!(&q1(&mut ups)[38..46], "00001001");
    }

    #[test]
    fn shutdown_stay_off_and_cancel() {
        let mut ups = model();
        ups.handle(&Command::parse(b"S00R0000"));
        assert!(!ups.state().output_on, "S00 is immediate");
        ups.advance(1e6);
        assert!(!ups.state().output_on, "R0000 stays off");
        ups.handle(&Command::CancelShutdown);
        assert!(ups.state().output_on, "C turns the load back on");

        ups.handle(&Command::parse(b"S01"));
        ups.advance(30.0);
        ups.handle(&Command::CancelShutdown);
        ups.advance(600.0);
        assert!(ups.state().output_on);
        assert!(!ups.state().shutdown_active);

        // S<n> alone on mains: off at the end of the delay, back at once.
        ups.handle(&Command::parse(b"S.2"));
        ups.advance(12.0);
        assert!(ups.state().output_on);
        let events: Vec<String> = ups.take_events().into_iter().map(|(_, text)| text).collect();
        assert!(events.ends_with(&["output off (shutdown timer)".into(), "output on (restore timer)".into()]));
    }

    #[test]
    fn avr_bit_when_input_is_far_from_nominal() {
        let mut ups = model();
        ups.apply(&Action::InputVoltage(200.0));
        let status = q1(&mut ups);
        assert_eq!(&status[1..18], "200.0 200.0 230.0");
        assert_eq!(&status[38..46], "00101001");
        ups.apply(&Action::InputVoltage(225.0));
        assert_eq!(&q1(&mut ups)[38..46], "00001001");
        let mut online = Model::new(ModelConfig { online: true, ..ModelConfig::default() });
        online.apply(&Action::InputVoltage(200.0));
        assert_eq!(&q1(&mut online)[13..18], "230.0");
        assert_eq!(&q1(&mut online)[38..46], "00000001");
    }
}
