//! `hazel-initrd`: the last step of a shutdown. It switches the UPSes off
//! from the kill-power bundle the monitor staged under `/run`, needing
//! nothing else of the OS: no config dir, no users, no udev, no network.
//!
//! ```text
//! hazel-initrd [--bundle DIR] [--flag PATH] [none|poweroff|halt|reboot|kexec]
//! ```
//!
//! - As a systemd-shutdown hook, `none`: kill the power and return.
//! - As the exitrd (`/run/initramfs/shutdown`, started by systemd-shutdown
//!   with the verb): kill the power, then power off, halt or reboot with
//!   `reboot(2)`. If a UPS was told to cut the power and the power is still
//!   there after the bundle's `power_race_wait_secs` (mains came back, and the
//!   UPS ignores a return-on-mains shutdown while on mains), reboot instead,
//!   so the machine comes back up rather than sitting halted.

mod log;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use hazel_killpower::{
    Bundle, BundleError, DeviceGrant, KillMode, Manifest, ReturnsWhileOnMains, UpsEntry, UsbHidDevice,
};
use hazel_runtime::bindings::types::KillMode as PluginKillMode;
use hazel_runtime::grants::{UsbHidSource, UsbMatch};
use hazel_runtime::{Grants, Plugin, Runtime, RuntimeConfig};

const USAGE: &str = "usage: hazel-initrd [--bundle DIR] [--flag PATH] [none|poweroff|halt|reboot|kexec]";

/// What to do once the UPSes were dealt with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    /// Return (a systemd-shutdown hook; systemd goes on with the shutdown).
    None,
    /// Power the machine off.
    Poweroff,
    /// Halt it.
    Halt,
    /// Reboot it (systemd's `kexec` too: a plain reboot is the safe reading here).
    Reboot,
}

impl Verb {
    fn parse(text: &str) -> Option<Verb> {
        match text {
            "none" => Some(Verb::None),
            "poweroff" => Some(Verb::Poweroff),
            "halt" => Some(Verb::Halt),
            "reboot" | "kexec" => Some(Verb::Reboot),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Args {
    bundle: PathBuf,
    flag: Option<PathBuf>,
    verb: Verb,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args { bundle: hazel_killpower::DEFAULT_BUNDLE_DIR.into(), flag: None, verb: Verb::None };
    let mut verb = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bundle" => parsed.bundle = args.next().ok_or("--bundle needs a directory")?.into(),
            "--flag" => parsed.flag = Some(args.next().ok_or("--flag needs a path")?.into()),
            "-h" | "--help" => return Err(String::new()),
            other if verb.is_none() && !other.starts_with('-') => {
                verb = Some(Verb::parse(other).ok_or_else(|| format!("unknown verb '{other}'"))?);
            }
            other => return Err(format!("unexpected argument '{other}'")),
        }
    }
    parsed.verb = verb.unwrap_or(Verb::None);
    Ok(parsed)
}

/// What happens after the kill-power calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finish {
    /// Return with an exit status (`none`).
    Return,
    /// Carry out the verb now.
    Perform(Verb),
    /// Wait for the power to go; if it is still there afterwards, reboot.
    WaitThenReboot(Duration),
}

/// Decide the end. Only a UPS actually told to cut the power can lead to a
/// wait; a halt or power-off then becomes a reboot once the wait is over
/// (the power race), unless every UPS told cycles its load even on mains.
fn finish(verb: Verb, killed: &[&UpsEntry], manifest: Option<&Manifest>) -> Finish {
    let wait = Duration::from_secs(manifest.map_or(0, |m| m.power_race_wait_secs));
    if verb == Verb::None {
        return Finish::Return;
    }
    if killed.is_empty() || wait.is_zero() {
        return Finish::Perform(verb);
    }
    let all_cycle = killed
        .iter()
        .all(|ups| ups.kill_mode == KillMode::Return && ups.returns_while_on_mains == ReturnsWhileOnMains::Yes);
    match verb {
        Verb::Poweroff | Verb::Halt if all_cycle => Finish::Perform(verb),
        // A reboot also waits: booting only to lose the power mid-boot helps no one.
        _ => Finish::WaitThenReboot(wait),
    }
}

/// Per UPS told to cut the power: its kill mode and what its plugin declared, for the log.
fn power_race_answers(killed: &[&UpsEntry]) -> String {
    let answers: Vec<String> = killed
        .iter()
        .map(|ups| {
            format!("'{}' {:?}, returns while on mains: {:?}", ups.name, ups.kill_mode, ups.returns_while_on_mains)
        })
        .collect();
    answers.join("; ")
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("hazel-initrd: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    log::init();
    let (manifest, killed, ok) = match run(&args, started) {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!("{error:#}");
            (None, Vec::new(), false)
        }
    };
    let killed: Vec<&UpsEntry> = killed.iter().collect();
    match finish(args.verb, &killed, manifest.as_ref()) {
        Finish::Return => {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Finish::Perform(verb) => {
            let waits = manifest.as_ref().is_some_and(|m| m.power_race_wait_secs > 0);
            if matches!(verb, Verb::Poweroff | Verb::Halt) && !killed.is_empty() && waits {
                tracing::info!(
                    "no power-race wait: every UPS told to cut the power cycles its load even on mains ({})",
                    power_race_answers(&killed)
                );
            }
            perform(verb)
        }
        Finish::WaitThenReboot(wait) => {
            tracing::info!(
                "waiting {}s for the UPS to cut the power, then rebooting if it did not (the power race: {})",
                wait.as_secs(),
                power_race_answers(&killed)
            );
            std::thread::sleep(wait);
            tracing::warn!(
                "the power is still on {}s after kill-power (mains came back?): rebooting instead",
                wait.as_secs()
            );
            perform(Verb::Reboot)
        }
    }
}

/// Kill the power per the bundle. Returns the manifest (if the bundle was
/// armed), the UPSes told to cut the power, and whether all went as it should.
/// A bundle that is not armed, of another boot, or without the flag is not
/// an error: there is simply nothing to do.
fn run(args: &Args, started: Instant) -> anyhow::Result<(Option<Manifest>, Vec<UpsEntry>, bool)> {
    let boot_id = hazel_killpower::current_boot_id()?;
    let bundle = match Bundle::load(&args.bundle, &boot_id, args.flag.as_deref()) {
        Ok(bundle) => bundle,
        Err(
            refusal @ (BundleError::NotArmed { .. } | BundleError::OtherBoot { .. } | BundleError::FlagNotSet { .. }),
        ) => {
            tracing::info!("not killing the power: {refusal}");
            return Ok((None, Vec::new(), true));
        }
        Err(error) => return Err(error).context("not killing the power: the bundle is unusable"),
    };
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot start the async runtime")?;
    let mut killed = Vec::new();
    let mut ok = true;
    for ups in &bundle.manifest().upses {
        match tokio.block_on(kill_one(&runtime, &bundle, ups)) {
            Ok(()) => {
                tracing::info!(
                    "UPS '{}' ({}) told to cut the power ({:?}), {:.1} ms after start",
                    ups.name,
                    ups.driver,
                    ups.kill_mode,
                    started.elapsed().as_secs_f64() * 1000.0
                );
                killed.push(ups.clone());
            }
            Err(error) => {
                tracing::error!("UPS '{}': {error:#}", ups.name);
                ok = false;
            }
        }
    }
    Ok((Some(bundle.manifest().clone()), killed, ok))
}

async fn kill_one(runtime: &Runtime, bundle: &Bundle, ups: &UpsEntry) -> anyhow::Result<()> {
    // Read once, check the digest, and deserialize exactly those bytes.
    let bytes = bundle.read_plugin(ups)?;
    let path = bundle.plugin_path(ups);
    // SAFETY: `bytes` match the SHA-256 the manifest records, and the manifest is the one the
    // intent of this boot sealed, in a directory only this user can write (checked by `Bundle::load`).
    // Not described: the manifest says what it is, and every instantiation costs time before the kill.
    let plugin =
        unsafe { Plugin::load_precompiled_bytes_undescribed(runtime, &path, &bytes, &ups.plugin.sha256) }.await?;
    let grants = match &ups.device {
        DeviceGrant::Serial { path } => Grants::none().with_serial(path.display().to_string(), path),
        DeviceGrant::UsbHid(usb) => Grants::none().with_usb_hid(usb.port.clone(), usb_hid_source(usb)),
        other => anyhow::bail!("device {other:?} is not supported by this hazel-initrd"),
    };
    let settings: Vec<(String, Option<String>)> =
        ups.settings.iter().map(|s| (s.key.clone(), s.value.clone())).collect();
    let mode = match ups.kill_mode {
        KillMode::Return => PluginKillMode::ReturnOnMains,
        KillMode::StayOff => PluginKillMode::StayOff,
    };
    hazel_runtime::kill::kill_power(runtime, &plugin, &ups.name, &grants, &settings, mode).await?;
    Ok(())
}

/// Where the usb-hid capability finds the bundle's USB HID device: the
/// replayed capture, or the first device NUT's match options select (a bad
/// pattern is refused when the device is opened, naming the option).
fn usb_hid_source(usb: &UsbHidDevice) -> UsbHidSource {
    if let Some(capture) = &usb.replay {
        return UsbHidSource::Replay(capture.clone());
    }
    let UsbHidDevice { vendorid, productid, vendor, product, serial, bus, device, .. } = usb.clone();
    UsbHidSource::Match(UsbMatch { vendorid, productid, vendor, product, serial, bus, device })
}

/// Carry out `verb` with `reboot(2)`. Never returns: as the exitrd this is
/// PID 1, whose exit panics the kernel.
fn perform(verb: Verb) -> ! {
    let (command, name) = match verb {
        Verb::Poweroff => (libc::RB_POWER_OFF, "power off"),
        Verb::Halt => (libc::RB_HALT_SYSTEM, "halt"),
        Verb::Reboot | Verb::None => (libc::RB_AUTOBOOT, "reboot"),
    };
    tracing::info!("{name}");
    // SAFETY: sync and reboot have no memory-safety preconditions.
    unsafe {
        libc::sync();
        libc::reboot(command);
    }
    tracing::error!("reboot(2) to {name} failed: {}", std::io::Error::last_os_error());
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests;
