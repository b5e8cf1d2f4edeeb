//! `killpower`: the late shutdown's latency. From the start of the process
//! to the kill-power bytes on the wire of a simulated Megatec UPS
//! (`hazel-sim`, whose log stamps each command when it reads it), for the
//! static `hazel-initrd` on a staged bundle with the `megatec` plugin
//! precompiled, and for NUT's own `nutdrv_qx -k` on the same simulator and
//! the same ups.conf section. Also the size of `hazel-initrd` and the cost of
//! loading the precompiled plugin in-process. Prints figures; asserts nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use hazel_e2e::NutDevice;
use hazel_killpower::{DeviceGrant, KillMode, Manifest, PluginFile, PluginRef, ReturnsWhileOnMains, Setting, UpsEntry};
use hazel_runtime::{Plugin, Runtime, RuntimeConfig};
use hazel_sim::{RunningSimulator, Simulator, SimulatorConfig};

/// The delays both sides are given, and the shutdown they make of them (tests/nut-facts/megatec).
const OFFDELAY: &str = "60";
const ONDELAY: &str = "120";
const SHUTDOWN_RETURN: &str = "S01R0002";
const HAZEL_ROUNDS: usize = 10;
const NUT_ROUNDS: usize = 5;

/// When the UPS read the first command and the shutdown, counted from the process's start.
struct Timing {
    first: Duration,
    cancel: Duration,
    shutdown: Duration,
}

fn initrd_binary() -> anyhow::Result<PathBuf> {
    let path = crate::root().join("target/initrd/x86_64-unknown-linux-gnu/initrd/hazel-initrd");
    if !path.exists() {
        bail!("{} is missing: run `cargo xtask bench` (it builds the static initrd profile)", path.display());
    }
    Ok(path)
}

/// Run the benchmark.
pub fn run() -> anyhow::Result<()> {
    println!("== late shutdown: process start to kill-power bytes on the wire (megatec on hazel-sim) ==");
    let binary = initrd_binary()?;
    let wasm_path = crate::root().join("target/plugins/megatec.wasm");
    let wasm = std::fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
    let cwasm = hazel_runtime::engine::precompile_plugin(&wasm_path, &wasm)?;
    let load = load_precompiled(&wasm_path, &cwasm)?;

    let mut hazel = Vec::new();
    for _ in 0..HAZEL_ROUNDS {
        hazel.push(hazel_initrd_round(&binary, &cwasm)?);
    }
    let mut nut = Vec::new();
    for _ in 0..NUT_ROUNDS {
        nut.push(nut_round()?);
    }
    let size = std::fs::metadata(&binary)?.len();
    println!(
        "  hazel-initrd (static, initrd profile): {:.2} MB ({size} bytes); megatec.cwasm {} KiB",
        size as f64 / 1e6,
        cwasm.len() / 1024
    );
    println!("  loading the precompiled megatec plugin in-process: median {load:?}");
    println!("  (medians, ms from the process's start to the UPS reading each command; `C` has no reply, so each");
    println!("   side waits out its reply timeout before it sends `{SHUTDOWN_RETURN}`: the protocol's own wait)");
    println!("  {:<26} {:>11} {:>9} {:>10} {:>17}", "", "first byte", "C", SHUTDOWN_RETURN, "wait C to S");
    let (h, n) = (summary(&mut hazel), summary(&mut nut));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (name, t) in
        [(format!("hazel-initrd ({HAZEL_ROUNDS} runs)"), &h), (format!("nutdrv_qx -k ({NUT_ROUNDS} runs)"), &n)]
    {
        let wait = t.shutdown.saturating_sub(t.cancel);
        println!(
            "  {name:<26} {:>11.1} {:>9.1} {:>10.1} {:>17.1}",
            ms(t.first),
            ms(t.cancel),
            ms(t.shutdown),
            ms(wait)
        );
    }
    println!(
        "  all but the protocol's wait (start to C): hazel-initrd {:.1} ms, nutdrv_qx -k {:.1} ms ({:.0}x); \
         time to S: NUT / Hazel = {:.2}x",
        ms(h.cancel),
        ms(n.cancel),
        n.cancel.as_secs_f64() / h.cancel.as_secs_f64(),
        n.shutdown.as_secs_f64() / h.shutdown.as_secs_f64(),
    );
    Ok(())
}

/// Median of each column.
fn summary(timings: &mut [Timing]) -> Timing {
    let column = |f: fn(&Timing) -> Duration| {
        let mut values: Vec<Duration> = timings.iter().map(f).collect();
        values.sort();
        values[values.len() / 2]
    };
    Timing { first: column(|t| t.first), cancel: column(|t| t.cancel), shutdown: column(|t| t.shutdown) }
}

/// Median time to deserialize the precompiled plugin (what hazel-initrd does per UPS).
fn load_precompiled(path: &Path, cwasm: &[u8]) -> anyhow::Result<Duration> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let digest = hazel_killpower::sha256_hex(cwasm);
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        // SAFETY: the bytes were produced by precompile_plugin just now, in this process.
        tokio.block_on(unsafe { Plugin::load_precompiled_bytes(&runtime, path, cwasm, &digest) })?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn simulator() -> anyhow::Result<RunningSimulator> {
    Ok(Simulator::spawn(SimulatorConfig::default())?)
}

/// When the simulator read the first command, `C` and the shutdown, from `started`.
fn timing(sim: &RunningSimulator, started: SystemTime, said: &str) -> anyhow::Result<Timing> {
    let entries = sim.log().entries();
    let at = |pick: &dyn Fn(&str) -> bool| -> anyhow::Result<Duration> {
        let entry = entries.iter().find(|e| e.command().is_some_and(|c| pick(&c))).with_context(|| {
            let commands: Vec<String> = entries.iter().filter_map(|e| e.command()).collect();
            format!("the UPS did not receive what was expected; it received {commands:?}; the program said:\n{said}")
        })?;
        Ok(entry.wall.duration_since(started)?)
    };
    Ok(Timing { first: at(&|_| true)?, cancel: at(&|c| c == "C")?, shutdown: at(&|c| c == SHUTDOWN_RETURN)? })
}

/// One `hazel-initrd none` on a bundle staged for this boot.
fn hazel_initrd_round(binary: &Path, cwasm: &[u8]) -> anyhow::Result<Timing> {
    let sim = simulator()?;
    let dir = tempfile::tempdir()?;
    let bundle = dir.path().join("killpower");
    let flag = dir.path().join("flag");
    let port = sim.pty_path().to_path_buf();
    let manifest = Manifest {
        format: hazel_killpower::FORMAT_VERSION,
        powerdown_flag: flag.clone(),
        power_race_wait_secs: 0,
        upses: vec![UpsEntry {
            name: "rack".into(),
            driver: "nutdrv_qx".into(),
            plugin: PluginRef { file: "megatec.cwasm".into(), sha256: hazel_killpower::sha256_hex(cwasm) },
            device: DeviceGrant::Serial { path: port.clone() },
            settings: vec![
                Setting { key: "port".into(), value: Some(port.display().to_string()) },
                Setting { key: "offdelay".into(), value: Some(OFFDELAY.into()) },
                Setting { key: "ondelay".into(), value: Some(ONDELAY.into()) },
            ],
            kill_mode: KillMode::Return,
            returns_while_on_mains: ReturnsWhileOnMains::Unknown,
        }],
    };
    let plugins = [PluginFile { file: "megatec.cwasm".into(), bytes: cwasm.to_vec() }];
    hazel_killpower::stage(&bundle, &manifest, &plugins, &hazel_killpower::current_boot_id()?)?;
    hazel_monitor::powerdown_flag::write(&flag)?;
    let started = SystemTime::now();
    let output = Command::new(binary)
        .arg("--bundle")
        .arg(&bundle)
        .arg("none")
        .stdin(Stdio::null())
        .output()
        .context("running hazel-initrd")?;
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        bail!("hazel-initrd failed ({}):\n{said}", output.status);
    }
    timing(&sim, started, &said)
}

/// One `nutdrv_qx -a rack -k` with the same section, in a private config dir.
fn nut_round() -> anyhow::Result<Timing> {
    let sim = simulator()?;
    let dir = tempfile::tempdir()?;
    let port = sim.pty_path().display().to_string();
    let options = format!("offdelay = {OFFDELAY}\nondelay = {ONDELAY}\n");
    let device = NutDevice { name: "rack", driver: "nutdrv_qx", port: &port, options: &options };
    std::fs::write(dir.path().join("ups.conf"), device.section())?;
    let mut command = Command::new("/lib/nut/nutdrv_qx");
    command.args(["-a", "rack", "-k"]);
    // As root, NUT drops to the `nut` user, who cannot read a private temp dir (as RealNut does it).
    if is_root() {
        command.args(["-u", "root"]);
    }
    let started = SystemTime::now();
    let output = command
        .env("NUT_CONFPATH", dir.path())
        .env("NUT_STATEPATH", dir.path())
        .env("NUT_ALTPIDPATH", dir.path())
        .stdin(Stdio::null())
        .output()
        .context("running /lib/nut/nutdrv_qx (Debian package nut-server)")?;
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    timing(&sim, started, &said)
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
