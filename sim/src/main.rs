//! `hazel-sim`: serve a simulated UPS on a pseudo-terminal until killed.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use hazel_sim::script::parse_duration;
use hazel_sim::{ModelConfig, Script, Simulator, SimulatorConfig};
use nix::sys::signal::{SigSet, Signal};

/// A simulated UPS on a pseudo-terminal, for tests and for trying Hazel without hardware.
#[derive(Parser)]
#[command(name = "hazel-sim", version)]
struct Cli {
    #[command(subcommand)]
    protocol: Protocol,
}

#[derive(Subcommand)]
enum Protocol {
    /// A Megatec "Q1" UPS (NUT's nutdrv_qx/blazer_ser): prints the pty's path and serves until killed.
    Megatec(MegatecArgs),
}

#[derive(Args)]
struct MegatecArgs {
    /// Also make a symlink to the pty here (removed on exit).
    #[arg(long, value_name = "PATH")]
    link: Option<PathBuf>,
    /// Play this script: lines like `10s mains off`, `40s mains on`, `20s load 80`, `5s battery 30`.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// Play the script again and again; each round starts at the previous round's last event.
    #[arg(long = "loop", requires = "script")]
    repeat: bool,
    /// Simulated seconds per real second (60: a simulated minute per second).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    time_scale: f64,
    /// Log every command, reply and event here, with timestamps.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

/// The simulated UPS (defaults: a 230 V / 50 Hz line-interactive UPS with a 24 V battery).
#[derive(Args)]
struct ModelArgs {
    /// Nominal and initial mains voltage, V.
    #[arg(long, value_name = "V", default_value_t = 230.0)]
    input_voltage: f64,
    /// Nominal and initial mains frequency, Hz.
    #[arg(long, value_name = "HZ", default_value_t = 50.0)]
    input_frequency: f64,
    /// Rated current (the `F` reply), A.
    #[arg(long, value_name = "A", default_value_t = 4)]
    input_current: u16,
    /// Load, % of rated power.
    #[arg(long, value_name = "PERCENT", default_value_t = 30)]
    load: u16,
    /// Battery charge at start, %.
    #[arg(long, value_name = "PERCENT", default_value_t = 100.0)]
    charge: f64,
    /// Nominal battery voltage, V (2 V per cell).
    #[arg(long, value_name = "V", default_value_t = 24.0)]
    battery_voltage: f64,
    /// Report the battery voltage per cell (e.g. 2.17) rather than per pack.
    #[arg(long)]
    per_cell: bool,
    /// Runtime on a full battery at 100 % load (simulated), like 10m; lower loads last longer.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    runtime: f64,
    /// Time to recharge from empty to full on mains (simulated), like 4h.
    #[arg(long, value_name = "DURATION", default_value = "4h", value_parser = parse_duration)]
    recharge_time: f64,
    /// Low-battery flag at or below this charge, %.
    #[arg(long, value_name = "PERCENT", default_value_t = 20.0)]
    low_battery: f64,
    /// Temperature, °C.
    #[arg(long, value_name = "CELSIUS", default_value_t = 25.0)]
    temperature: f64,
    /// Start with the beeper disabled.
    #[arg(long)]
    no_beeper: bool,
    /// Start with mains failed.
    #[arg(long)]
    no_mains: bool,
    /// An online (double-conversion) UPS rather than line-interactive.
    #[arg(long)]
    online: bool,
    /// Company name in the `I` reply (15 characters at most).
    #[arg(long, value_name = "TEXT", default_value = "Hazel")]
    manufacturer: String,
    /// Model in the `I` reply (10 characters at most).
    #[arg(long, value_name = "TEXT", default_value = "SIM-1000")]
    model: String,
    /// Firmware version in the `I` reply (10 characters at most).
    #[arg(long, value_name = "TEXT", default_value = "V1.0")]
    firmware: String,
}

impl From<ModelArgs> for ModelConfig {
    fn from(args: ModelArgs) -> ModelConfig {
        ModelConfig {
            input_voltage: args.input_voltage,
            input_frequency: args.input_frequency,
            input_current: args.input_current,
            load_percent: args.load,
            charge_percent: args.charge,
            battery_voltage_nominal: args.battery_voltage,
            per_cell_voltage: args.per_cell,
            runtime_full_load: args.runtime,
            recharge_time: args.recharge_time,
            low_battery_percent: args.low_battery,
            temperature: args.temperature,
            beeper: !args.no_beeper,
            online: args.online,
            mains: !args.no_mains,
            manufacturer: args.manufacturer,
            model: args.model,
            firmware: args.firmware,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let Protocol::Megatec(args) = Cli::parse().protocol;
    let script = match &args.script {
        Some(path) => Script::load(path)?,
        None => Script::default(),
    };
    // Block the stop signals in every thread, then take them in one waiting
    // thread, so a kill ends the simulator through its Drop (removing the link).
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGHUP);
    signals.thread_block().context("blocking SIGINT/SIGTERM/SIGHUP")?;
    let config = SimulatorConfig {
        model: args.model.into(),
        time_scale: args.time_scale,
        script,
        repeat_script: args.repeat,
        link: args.link,
        log_file: args.log,
    };
    let sim = Simulator::spawn(config)?;
    println!("{}", sim.pty_path().display());
    let (stop_tx, stop_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = stop_tx.send(signals.wait());
    });
    loop {
        match stop_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(_) => break,
            Err(mpsc::RecvTimeoutError::Timeout) if !sim.is_finished() => {}
            Err(_) => {
                sim.stop().context("serving the pty")?;
                bail!("the simulator stopped by itself");
            }
        }
    }
    if let Some(err) = sim.log().file_error() {
        eprintln!("hazel-sim: writing the log file failed: {err}");
    }
    sim.stop().context("serving the pty")?;
    Ok(())
}
