//! `net`: Hazel's NUT server against real upsd 2.8.0, side by side in the
//! same run on the same device set. Prints figures; asserts nothing.
//!
//! - closed-loop throughput and p50/p99 latency with 1, 100 and 1000
//!   clients, for `GET VAR` and for `LIST VAR`, and for `GET VAR` from
//!   pipelining clients; the `GET VAR` tables also measure a no-op
//!   reference server ([`noop`]), the ceiling of what this machine shows;
//! - a burst of 1000 connects, each answering one request;
//! - 10,000 connections held open, then each asked once more.

mod load;
mod noop;
mod servers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use hazel_e2e::RealNut;
use load::{LoadResult, open_many};
use servers::{HAZEL_MAXCONN, Hazel, Target};

/// `hazel-bench noop-server`: the reference server's process.
pub const NOOP_SERVER: &str = noop::SUBCOMMAND;

/// Run the reference server (the `noop-server` subcommand).
pub fn serve_noop() -> anyhow::Result<()> {
    noop::serve()
}

/// Devices served by both servers: NUT's own device dumps, small to large.
const DEVICES: [(&str, &str); 4] = [
    ("apc", "APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev"),
    ("cyberpower", "Cyber_Power_Systems__CP1500EPFCLCD__usbhid-ups__2.7.3__01.dev"),
    ("pulsar", "MGE_UPS_SYSTEMS__Pulsar_1500__mge-shut__2.6.5__01.dev"),
    ("eaton", "Eaton__93PS__snmp-ups__2.7.3-167-g0a00ddb__01.dev"),
];

/// The variable every `GET VAR` asks for (what upsmon polls).
const GET_VARIABLE: &str = "ups.status";

const CLIENT_COUNTS: [usize; 3] = [1, 100, 1000];
/// Requests a pipelining client sends in one write.
const PIPELINE_DEPTH: usize = 8;
const WARMUP: Duration = Duration::from_secs(1);
const WINDOW: Duration = Duration::from_secs(5);
/// Connections opened at once when setting up a throughput run: below
/// upsd's listen backlog (16), so setup does not pay for its overflow; the
/// burst figure measures that separately.
const SETUP_PARALLEL: usize = 8;
const BURST: usize = 1000;
const BURST_LIMIT: Duration = Duration::from_secs(90);
const HELD: usize = 10_000;
const HELD_PARALLEL: usize = 250;
const HELD_OPEN_LIMIT: Duration = Duration::from_secs(60);
const HELD_FOR: Duration = Duration::from_secs(5);

fn nut_ddl() -> PathBuf {
    crate::root().join("../shared/data/nut-ddl")
}

/// Run the whole network benchmark.
pub fn run() -> anyhow::Result<()> {
    println!("== NUT server: hazel serve vs real upsd 2.8.0, same devices, same run ==");
    let fd_limit = servers::raise_open_file_limit()?;
    let root = crate::root();
    let hazel_binary = crate::hazel_binary()?;
    let plugin_dir = servers::plugin_dir(&root);
    let files: Vec<(&str, PathBuf)> = DEVICES.iter().map(|(name, file)| (*name, nut_ddl().join(file))).collect();
    for (_, path) in &files {
        anyhow::ensure!(path.exists(), "device dump {} is missing", path.display());
    }
    let devices: Vec<(&str, &Path)> = files.iter().map(|(name, path)| (*name, path.as_path())).collect();

    let hazel = Hazel::start(&hazel_binary, &plugin_dir, &devices)?;
    let nut = RealNut::start(&devices);
    let noop = noop::NoopServer::start()?;
    // The no-op reference server only answers GET VAR: the other runs measure the first two.
    let with_reference = [hazel.target(), servers::upsd_target(&nut)?, noop.target()];
    let targets = &with_reference[..2];

    // One thread for the load generator: it leaves the server at least one of the two cores.
    let generator = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    println!("  load average before: {}", load_average());
    generator.block_on(async {
        describe_setup(targets, &devices, fd_limit).await?;
        closed_loop_table(&with_reference, Workload::Get, &get_requests(), 1).await?;
        closed_loop_table(targets, Workload::List, &list_requests(), 1).await?;
        closed_loop_table(&with_reference, Workload::Get, &get_requests(), PIPELINE_DEPTH).await?;
        connect_burst(targets).await;
        held_connections(targets).await;
        anyhow::Ok(())
    })?;
    println!("  load average after: {} (other work on the machine skews every figure)", load_average());
    let log = hazel.log();
    if !log.trim().is_empty() {
        println!("  hazel logged (warnings and errors):");
        for line in log.lines().take(20) {
            println!("    {line}");
        }
    }
    Ok(())
}

fn get_requests() -> Vec<Vec<u8>> {
    DEVICES.iter().map(|(name, _)| format!("GET VAR {name} {GET_VARIABLE}\n").into_bytes()).collect()
}

fn list_requests() -> Vec<Vec<u8>> {
    DEVICES.iter().map(|(name, _)| format!("LIST VAR {name}\n").into_bytes()).collect()
}

async fn describe_setup(targets: &[Target], devices: &[(&str, &Path)], fd_limit: u64) -> anyhow::Result<()> {
    println!("  devices (dummy-ups replaying NUT's device dumps; client i asks device i mod {}):", devices.len());
    for (index, (name, path)) in devices.iter().enumerate() {
        let mut client = load::NutClient::connect(targets[0].addr).await?;
        client.request(format!("LIST VAR {name}\n").as_bytes()).await?;
        let reply = client.last_reply();
        let variables = reply.split(|&b| b == b'\n').filter(|l| l.starts_with(b"VAR ")).count();
        println!(
            "    {index}. {name}: {variables} variables, LIST VAR reply {} bytes ({})",
            reply.len(),
            path.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    for target in targets {
        let (soft, hard) = servers::open_file_limit(target.pid).unwrap_or_default();
        println!("  {} pid {} on {}, open-file limit soft {soft} hard {hard}", target.name, target.pid, target.addr);
    }
    println!("  hazel MAXCONN {HAZEL_MAXCONN}; upsd with its defaults (no MAXCONN: the open-file limit; backlog 16)");
    println!(
        "  load generator: one thread in this process (open-file limit {fd_limit}), sharing the machine's {} cores \
         with the server under test",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  each run: {WARMUP:?} warm-up, then {WINDOW:?} measured; each client sends its next request on a reply");
    println!(
        "  no-op: a reference server (one tokio thread, its own process) that answers every line with a fixed \
         GET VAR reply and does nothing else: no server can do less per request"
    );
    Ok(())
}

/// CPU seconds of the server and of this process over the measured window.
struct CpuReading {
    server: f64,
    generator: f64,
}

impl CpuReading {
    /// Server CPU microseconds per completed request (10 ms tick resolution).
    fn per_request(&self, run: &LoadResult) -> f64 {
        self.server * 1e6 / run.requests().max(1) as f64
    }
}

/// What a closed-loop table asks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    Get,
    List,
}

async fn closed_loop_table(
    targets: &[Target],
    workload: Workload,
    requests: &[Vec<u8>],
    depth: usize,
) -> anyhow::Result<()> {
    let what = match workload {
        Workload::Get => format!("GET VAR <ups> {GET_VARIABLE}"),
        Workload::List => "LIST VAR <ups>".into(),
    };
    if depth > 1 {
        println!(
            "== {what}, {depth} per write (a pipelining client): closed loop (next {depth} after their replies) =="
        );
        println!("  (p50/p99 are per round trip of {depth} requests)");
    } else {
        println!("== {what}: closed loop (request after reply) ==");
    }
    println!(
        "  {:>7}  {:<6}  {:>9}  {:>9}  {:>9}  {:>10}  {:>12}  {:>12}  {:>6}",
        "clients", "server", "req/s", "p50", "p99", "server CPU", "CPU µs/req", "load-gen CPU", "errors"
    );
    for clients in CLIENT_COUNTS {
        let mut results = Vec::new();
        for target in targets {
            let result = measure(target, clients, requests, depth).await;
            match &result {
                Ok((run, cpu)) => {
                    let seconds = run.window.as_secs_f64();
                    println!(
                        "  {clients:>7}  {:<6}  {:>9.0}  {:>9}  {:>9}  {:>9.0}%  {:>12.1}  {:>11.0}%  {:>6}",
                        target.name,
                        run.rate(),
                        duration(run.latencies.percentile(50.0)),
                        duration(run.latencies.percentile(99.0)),
                        cpu.server / seconds * 100.0,
                        cpu.per_request(run),
                        cpu.generator / seconds * 100.0,
                        run.errors,
                    );
                    if let Some(error) = &run.first_error {
                        println!("           {} clients failed; first error: {}", run.failed_clients, error.trim_end());
                    }
                }
                Err(error) => println!("  {clients:>7}  {:<6}  not measured: {error:#}", target.name),
            }
            results.push(result.ok());
            // Let the server finish closing this run's connections.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if let [Some((hazel, hazel_cpu)), Some((upsd, upsd_cpu)), ..] = results.as_slice() {
            println!(
                "  {:>7}  hazel/upsd: throughput {}, server CPU per request {}, p50 {}, p99 {}",
                "",
                ratio(hazel.rate(), upsd.rate()),
                ratio(hazel_cpu.per_request(hazel), upsd_cpu.per_request(upsd)),
                ratio(hazel.latencies.percentile(50.0).as_secs_f64(), upsd.latencies.percentile(50.0).as_secs_f64()),
                ratio(hazel.latencies.percentile(99.0).as_secs_f64(), upsd.latencies.percentile(99.0).as_secs_f64()),
            );
            if let Some(Some((reference, _))) = results.get(2) {
                println!(
                    "  {:>7}  no-op/upsd: throughput {} (the most any server can show here), hazel/no-op: {}",
                    "",
                    ratio(reference.rate(), upsd.rate()),
                    ratio(hazel.rate(), reference.rate()),
                );
            }
        }
    }
    Ok(())
}

/// Open `clients` connections to `target` and run them closed-loop.
async fn measure(
    target: &Target,
    clients: usize,
    requests: &[Vec<u8>],
    depth: usize,
) -> anyhow::Result<(LoadResult, CpuReading)> {
    let probe = requests.first().context("no request")?;
    let opened = open_many(target.addr, clients, SETUP_PARALLEL, probe, Duration::from_secs(30), BURST_LIMIT).await;
    if opened.failed > 0 {
        anyhow::bail!(
            "{} of {clients} connections failed ({})",
            opened.failed,
            opened.first_failure.unwrap_or_default()
        );
    }
    let pid = target.pid;
    let readings = tokio::spawn(async move {
        tokio::time::sleep(WARMUP).await;
        let start = (crate::cpu_seconds(pid), crate::cpu_seconds(std::process::id()));
        tokio::time::sleep(WINDOW).await;
        let end = (crate::cpu_seconds(pid), crate::cpu_seconds(std::process::id()));
        (start, end)
    });
    let run = load::closed_loop(opened.clients, requests, depth, WARMUP, WINDOW).await;
    let ((server0, generator0), (server1, generator1)) = readings.await?;
    let cpu = CpuReading { server: server1? - server0?, generator: generator1? - generator0? };
    Ok((run, cpu))
}

async fn connect_burst(targets: &[Target]) {
    println!("== connect burst: {BURST} connects at once, each answering one GET VAR ==");
    let probe = get_requests().swap_remove(0);
    let mut times = Vec::new();
    for target in targets {
        let burst = open_many(target.addr, BURST, BURST, &probe, BURST_LIMIT, BURST_LIMIT).await;
        println!(
            "  {:<6}  {} of {BURST} answered, the last after {} (half by {}, 90% by {}){}",
            target.name,
            burst.clients.len(),
            duration(burst.elapsed),
            duration(burst.answer_times.percentile(50.0)),
            duration(burst.answer_times.percentile(90.0)),
            failures(burst.failed, &burst.first_failure)
        );
        times.push((burst.failed == 0).then_some(burst.elapsed));
        drop(burst.clients);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if let [Some(hazel), Some(upsd)] = times.as_slice() {
        println!(
            "          upsd/hazel: {} (how many times longer upsd took)",
            ratio(upsd.as_secs_f64(), hazel.as_secs_f64())
        );
    }
}

async fn held_connections(targets: &[Target]) {
    println!(
        "== held connections: open {HELD} ({HELD_PARALLEL} connecting at a time, each answering one GET VAR), \
         hold {HELD_FOR:?}, ask each once more =="
    );
    let probe = get_requests().swap_remove(0);
    for target in targets {
        let rss_before = crate::rss_kib(target.pid).unwrap_or(0);
        let opened =
            open_many(target.addr, HELD, HELD_PARALLEL, &probe, Duration::from_secs(20), HELD_OPEN_LIMIT).await;
        let open_count = opened.clients.len();
        println!(
            "  {:<6}  opened {open_count} of {HELD} in {}{}",
            target.name,
            duration(opened.elapsed),
            failures(opened.failed, &opened.first_failure)
        );
        tokio::time::sleep(HELD_FOR).await;
        let rss_held = crate::rss_kib(target.pid).unwrap_or(0);
        let (answered, clients, first_failure) =
            load::check_all(opened.clients, &probe, HELD_PARALLEL, Duration::from_secs(20)).await;
        println!(
            "  {:<6}  after {HELD_FOR:?}: {answered} of {open_count} still answer{}; server RSS {:.1} MiB \
             ({:+.1} MiB for the connections)",
            target.name,
            failures(open_count - answered, &first_failure),
            rss_held as f64 / 1024.0,
            (rss_held as f64 - rss_before as f64) / 1024.0,
        );
        drop(clients);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn failures(count: usize, first: &Option<String>) -> String {
    match first {
        Some(first) if count > 0 => format!(" ({count} failed; first: {first})"),
        _ => String::new(),
    }
}

/// `numerator / denominator` with two significant digits below 0.1
/// (`0.00061×`), two decimals otherwise.
fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator <= 0.0 || numerator <= 0.0 {
        return "-".into();
    }
    let value = numerator / denominator;
    let decimals = if value >= 0.1 { 2 } else { (1.0 - value.log10().floor()) as usize };
    format!("{value:.decimals$}×")
}

fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1e6 {
        format!("{:.2}ms", micros / 1000.0)
    } else {
        format!("{:.2}s", micros / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_two_significant_digits_when_small() {
        assert_eq!(ratio(3.0, 1.0), "3.00×");
        assert_eq!(ratio(1.0, 8.0), "0.12×");
        assert_eq!(ratio(27e-6, 44e-3), "0.00061×");
        assert_eq!(ratio(1.0, 0.0), "-");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(Duration::from_micros(27)), "27µs");
        assert_eq!(duration(Duration::from_micros(1650)), "1.65ms");
        assert_eq!(duration(Duration::from_millis(56_430)), "56.43s");
    }
}
