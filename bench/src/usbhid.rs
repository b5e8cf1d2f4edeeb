//! `usbhid`: the cost of NUT's usbhid-ups as Hazel runs it. Prints figures;
//! asserts nothing.
//!
//! - descriptor parse time, native (the plugin's parser as a Rust library);
//! - instantiate + `init` of the `usbhid` plugin on the replay backend
//!   (descriptor read and parsed inside wasm, NUT's init walk);
//! - one quick poll and one full poll: `update()` through wasmtime with the
//!   host's `usb-hid` capability serving a replayed capture.
//!
//! Captures: the largest descriptor (Eaton 5SC 750, 1538 bytes), the one the
//! issue names (APC Back-UPS RS 1000G, 1133 bytes) and a capture with real
//! report reads (APC Back-UPS BK650M2-CH). The first two hold no reads, so
//! the bench replays them with every Feature report present (zeros, at the
//! length the descriptor declares): otherwise the device would stall on every
//! report and the init walk would drop every row, making polls look free.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use hazel_runtime::bindings::types::Setting;
use hazel_runtime::grants::UsbHidSource;
use hazel_runtime::{DeviceInstance, Grants, Plugin, Runtime, RuntimeConfig};
use usbhid::descriptor::{self, ReportKind};

use crate::median;

const CAPTURES: &[&str] = &["Eaton__5SC_750.txt", "APC__Back-UPS_RS_1000G.txt", "APC__Back-UPS_BK650M2-CH.txt"];

fn capture_dir() -> PathBuf {
    crate::root().join("../shared/data/hid")
}

/// `$HAZEL_PLUGIN_DIR/usbhid.wasm`, else `target/plugins/usbhid.wasm` (`cargo
/// xtask bench` refreshes it), else the plugins workspace's build.
fn usbhid_wasm() -> PathBuf {
    if let Some(dir) = std::env::var_os("HAZEL_PLUGIN_DIR") {
        return PathBuf::from(dir).join("usbhid.wasm");
    }
    let installed = crate::root().join("target/plugins/usbhid.wasm");
    if installed.exists() {
        return installed;
    }
    crate::root().join("plugins/target/wasm32-wasip2/release/usbhid.wasm")
}

/// The capture, with a zero-filled `get` line for every Feature report it lacks.
fn replayable(text: &str, d: &descriptor::ReportDescriptor) -> (String, usize) {
    let c = usbhid::capture::parse(text).expect("capture parses");
    let mut out = text.to_string();
    let mut added = 0;
    let mut ids: Vec<u8> = d.fields.iter().filter(|f| f.kind == ReportKind::Feature).map(|f| f.report_id).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids.into_iter().filter(|id| c.read_of(*id).is_none()) {
        let len = d.report_len(id, ReportKind::Feature).unwrap_or(1).max(1);
        let _ = write!(out, "\nget {id:02x}: {id:02x}");
        for _ in 1..len {
            out.push_str(" 00");
        }
        added += 1;
    }
    out.push('\n');
    (out, added)
}

async fn instance(runtime: &Runtime, plugin: &Plugin, file: &Path, pollfreq: u32) -> anyhow::Result<DeviceInstance> {
    let port = format!("replay:{}", file.display());
    let grants = Grants::none().with_usb_hid(port.clone(), UsbHidSource::Replay(file.to_path_buf()));
    let mut inst = DeviceInstance::new(runtime, plugin, "bench", &grants).await?;
    let settings = vec![
        Setting { key: "port".into(), value: Some(port) },
        Setting { key: "pollfreq".into(), value: Some(pollfreq.to_string()) },
    ];
    inst.init(settings).await?.map_err(|e| anyhow::anyhow!("init: {e:?}"))?;
    Ok(inst)
}

/// Run the usbhid benchmark.
pub fn run() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async())
}

async fn run_async() -> anyhow::Result<()> {
    println!("== usbhid: descriptor parse and poll cost (replay backend, inside wasmtime) ==");
    let wasm = usbhid_wasm();
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let plugin = Plugin::load(&runtime, &wasm).await.with_context(|| format!("loading {}", wasm.display()))?;
    let dir = tempfile::tempdir()?;
    for name in CAPTURES {
        let text = std::fs::read_to_string(capture_dir().join(name)).with_context(|| format!("reading {name}"))?;
        let c = usbhid::capture::parse(&text).map_err(|e| anyhow::anyhow!("{name}: {e:?}"))?;
        // Native parse: the same code the plugin runs, without wasm.
        let rounds = 2000;
        let mut parse = Vec::with_capacity(rounds);
        let mut d = descriptor::parse(&c.descriptor).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        for _ in 0..rounds {
            let t = Instant::now();
            d = std::hint::black_box(descriptor::parse(std::hint::black_box(&c.descriptor)).unwrap());
            parse.push(t.elapsed());
        }
        let (replay, added) = replayable(&text, &d);
        let file = dir.path().join(name);
        std::fs::write(&file, replay)?;
        println!(
            "  {name}: {} descriptor bytes, {} fields, {} reads in the capture (+{added} zero-filled)",
            c.descriptor.len(),
            d.fields.len(),
            c.reads.len()
        );
        println!("    descriptor parse, native:            median {:?}", median(&mut parse));

        let mut init = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let _ = instance(&runtime, &plugin, &file, 3600).await?;
            init.push(t.elapsed());
        }
        println!("    instantiate + init (parse, init walk): median {:?}", median(&mut init));

        // Quick polls: pollfreq an hour, so every update after the first is quick.
        let mut inst = instance(&runtime, &plugin, &file, 3600).await?;
        let first = inst.update().await?.map_err(|e| anyhow::anyhow!("update: {e:?}"))?;
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            inst.update().await?.map_err(|e| anyhow::anyhow!("update: {e:?}"))?;
        }
        println!(
            "    quick poll (update):                 mean {:?} ({} variables published)",
            t.elapsed() / n,
            first.len()
        );

        // Full polls: pollfreq 1 s (its minimum), one update just after each second.
        let mut inst = instance(&runtime, &plugin, &file, 1).await?;
        let mut full = Vec::new();
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(1010)).await;
            let t = Instant::now();
            inst.update().await?.map_err(|e| anyhow::anyhow!("update: {e:?}"))?;
            full.push(t.elapsed());
        }
        println!("    full poll (update):                  median {:?}", median(&mut full));
    }
    Ok(())
}
