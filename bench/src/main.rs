//! Hazel's foundation benchmarks. Prints figures; asserts nothing.
//!
//! - resident memory of one `hazel serve` with 1, 10, 100 and 1000 dummy devices;
//! - per-device poll cost: one `update()` call in-process, and the CPU time
//!   the whole `hazel serve` process spends per device poll;
//! - plugin start time: cold (compile) and warm (compiled-plugin cache);
//! - `net`: the NUT server against real upsd, side by side (see [`net`]);
//! - `usbhid`: descriptor parse and per-poll cost of the usbhid plugin on a
//!   replayed capture (see [`usbhid`]; only when asked for by name).
//!
//! Run with `cargo xtask bench [foundation|net]` (release build; no argument
//! runs both). `cargo xtask bench killpower` runs [`killpower`]: `hazel-initrd`
//! against NUT's `nutdrv_qx -k`, process start to kill-power bytes on the wire.
//! Figures depend on the machine; bench/README.md records a run.

mod killpower;
mod net;
mod usbhid;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hazel_runtime::bindings::types::Setting;
use hazel_runtime::plugin::LoadSource;
use hazel_runtime::{DeviceInstance, Grants, Limits, Plugin, Runtime, RuntimeConfig};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A real device dump from NUT's library: 40-odd variables.
fn dev_file() -> PathBuf {
    root().join("host/hazel/demo/backups.dev")
}

const USAGE: &str = "usage: hazel-bench [foundation|net|usbhid|killpower]  (no argument: foundation and net)";

fn main() -> anyhow::Result<()> {
    let which = std::env::args().nth(1);
    let (foundation, network) = match which.as_deref() {
        None => (true, true),
        Some("foundation") => (true, false),
        Some("net") => (false, true),
        Some("killpower") => return killpower::run(),
        Some("usbhid") => return usbhid::run(),
        Some(net::NOOP_SERVER) => return net::serve_noop(),
        Some(other) => bail!("unknown benchmark {other:?}; {USAGE}"),
    };
    if foundation {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        rt.block_on(plugin_start())?;
        rt.block_on(update_cost())?;
        serve_memory_and_cpu()?;
    }
    if network {
        net::run()?;
    }
    Ok(())
}

fn hazel_binary() -> anyhow::Result<PathBuf> {
    // `cargo xtask bench` builds into its own target dir so it never blocks debug builds.
    for profile in ["bench/release", "release", "debug"] {
        let path = root().join("target").join(profile).join("hazel");
        if path.exists() {
            if profile == "debug" {
                eprintln!("note: using a debug build of hazel; run `cargo xtask bench` for release figures");
            }
            return Ok(path);
        }
    }
    bail!("no hazel binary: run `cargo xtask bench`")
}

fn plugin_path() -> PathBuf {
    root().join("target/plugins/dummy.wasm")
}

/// Cold (compile) and warm (cached) plugin load, plus instantiate + init.
async fn plugin_start() -> anyhow::Result<()> {
    println!("== plugin start time (dummy.wasm) ==");
    let rounds = 10;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..rounds {
        let cache = tempfile::tempdir()?;
        let config = RuntimeConfig { cache_dir: Some(cache.path().to_path_buf()), limits: Limits::default() };
        let runtime = Runtime::new(config.clone())?;
        let t = Instant::now();
        let p = Plugin::load(&runtime, &plugin_path()).await?;
        cold.push(t.elapsed());
        assert_eq!(p.load_source(), LoadSource::Compiled);
        drop(runtime);
        let runtime = Runtime::new(config)?;
        let t = Instant::now();
        let p = Plugin::load(&runtime, &plugin_path()).await?;
        warm.push(t.elapsed());
        assert_eq!(p.load_source(), LoadSource::Cached);
    }
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let plugin = Plugin::load(&runtime, &plugin_path()).await?;
    let grants = Grants::none().with_file("x.dev", dev_file());
    let mut inst_times = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let mut instance = DeviceInstance::new(&runtime, &plugin, "bench", &grants).await?;
        let settings = vec![Setting { key: "port".into(), value: Some("x.dev".into()) }];
        instance.init(settings).await?.map_err(|e| anyhow::anyhow!("init: {e:?}"))?;
        inst_times.push(t.elapsed());
    }
    println!("  load, cold (compile + cache store + describe): median {:?}", median(&mut cold));
    println!("  load, warm (from cache + describe):            median {:?}", median(&mut warm));
    println!("  instantiate + init (reads the .dev file):      median {:?}", median(&mut inst_times));
    Ok(())
}

/// The cost of one `update()` of the dummy plugin, in-process.
async fn update_cost() -> anyhow::Result<()> {
    println!("== per-device poll cost, in-process ==");
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let plugin = Plugin::load(&runtime, &plugin_path()).await?;
    let grants = Grants::none().with_file("x.dev", dev_file());
    let mut instance = DeviceInstance::new(&runtime, &plugin, "bench", &grants).await?;
    instance
        .init(vec![Setting { key: "port".into(), value: Some("x.dev".into()) }])
        .await?
        .map_err(|e| anyhow::anyhow!("init: {e:?}"))?;
    let first = Instant::now();
    let changes = instance.update().await?.map_err(|e| anyhow::anyhow!("update: {e:?}"))?;
    let first = first.elapsed();
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        let _ = instance.update().await?;
    }
    let per = t.elapsed() / n;
    println!("  first update ({} changes): {first:?}", changes.len());
    println!("  steady update (file unchanged: one stat, no changes): {per:?} per call over {n} calls");
    // The state store's side: applying a full update of changes.
    let state = Arc::new(hazel_state::DeviceState::new("bench", None));
    let edits: Vec<_> = changes.into_iter().map(hazel_runtime::device::to_edit).collect();
    let t = Instant::now();
    for i in 0..n {
        let mut batch = edits.clone();
        batch.push(hazel_state::Edit::SetValue("ups.load".into(), (i % 100).to_string()));
        state.apply_update(batch);
    }
    println!("  applying a full update to the state store: {:?} per update", t.elapsed() / n);
    Ok(())
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// User+system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).context("bad stat")?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// Resident memory and CPU per poll of `hazel serve` with N dummy devices.
fn serve_memory_and_cpu() -> anyhow::Result<()> {
    println!("== hazel serve: resident memory and CPU with N dummy devices (pollinterval 2 s) ==");
    println!(
        "  {:>7}  {:>8}  {:>11}  {:>12}  {:>10}  {:>20}",
        "devices", "RSS MiB", "KiB/device", "ready after", "CPU % core", "CPU µs/device-poll"
    );
    println!("  (KiB/device and µs/device-poll are marginal: measured against the 1-device row)");
    let hazel = hazel_binary()?;
    let cache = tempfile::tempdir()?;
    // Warm the compiled-plugin cache first, so every row measures a warm start.
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let runtime =
            Runtime::new(RuntimeConfig { cache_dir: Some(cache.path().to_path_buf()), limits: Limits::default() })?;
        Plugin::load(&runtime, &plugin_path()).await?;
        anyhow::Ok(())
    })?;
    let mut base: Option<(u64, f64)> = None;
    for n in [1usize, 10, 100, 1000] {
        let dir = tempfile::tempdir()?;
        std::fs::copy(dev_file(), dir.path().join("ups.dev"))?;
        let mut conf = String::new();
        for i in 0..n {
            conf.push_str(&format!("[ups{i}]\n\tdriver = dummy-ups\n\tport = ups.dev\n"));
        }
        std::fs::write(dir.path().join("ups.conf"), conf)?;
        std::fs::write(
            dir.path().join("hazel.toml"),
            format!(
                "cache_dir = {:?}\nplugin_dirs = [{:?}]\n",
                cache.path().display().to_string(),
                root().join("target/plugins").display().to_string()
            ),
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        std::fs::write(dir.path().join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n"))?;
        let started = Instant::now();
        let mut child = Command::new(&hazel)
            .args(["serve", "-c"])
            .arg(dir.path())
            .env("HAZEL_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .context("starting hazel serve")?;
        let stderr = child.stderr.take().context("stderr")?;
        let mut started_devices = 0;
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            if line.contains("skipped") || line.contains("hazel: ") {
                let _ = child.kill();
                bail!("hazel serve could not start every device: {line}");
            }
            if line.contains("device started") {
                started_devices += 1;
                if started_devices == n {
                    break;
                }
            }
        }
        if started_devices < n {
            bail!("hazel serve exited after starting {started_devices} of {n} devices");
        }
        let ready = started.elapsed();
        // Let every device complete a few polls, then measure over 10 s (5 polls each).
        std::thread::sleep(Duration::from_secs(5));
        let pid = child.id();
        let cpu0 = cpu_seconds(pid)?;
        std::thread::sleep(Duration::from_secs(10));
        let cpu = cpu_seconds(pid)? - cpu0;
        let rss = rss_kib(pid)?;
        let _ = child.kill();
        let _ = child.wait();
        let (base_rss, base_cpu) = *base.get_or_insert((rss, cpu));
        let marginal = |x: String| if n > 1 { x } else { "-".to_string() };
        let per_device = (rss.saturating_sub(base_rss)) as f64 / (n.max(2) - 1) as f64;
        let per_poll = (cpu - base_cpu).max(0.0) * 1e6 / ((n.max(2) - 1) as f64 * 5.0);
        println!(
            "  {n:>7}  {:>8.1}  {:>11}  {:>12.1?}  {:>10.1}  {:>20}",
            rss as f64 / 1024.0,
            marginal(format!("{per_device:.1}")),
            ready,
            cpu * 10.0,
            marginal(format!("{per_poll:.1}")),
        );
    }
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
