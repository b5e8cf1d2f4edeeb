//! `hazel status`, `hazel cmd` and `hazel set` against NUT's own `upsc`,
//! `upscmd` and `upsrw`: the same arguments against the same server must give
//! the same standard output, standard error (less the TLS notice NUT's tools
//! print) and exit status, on `hazel serve` and on real NUT (upsd + dummy-ups).

use std::path::{Path, PathBuf};
use std::process::Output;

use hazel_e2e::*;

/// The demo config's devices: a replayed APC Back-UPS and a UPS whose mains cycles.
fn demo_devices() -> Vec<(&'static str, PathBuf)> {
    let demo = repo_root().join("host/hazel/demo");
    vec![("demo", demo.join("backups.dev")), ("cycling", demo.join("power-cycle.seq"))]
}

fn device_refs<'a>(devices: &'a [(&'static str, PathBuf)]) -> Vec<(&'static str, &'a Path)> {
    devices.iter().map(|(name, path)| (*name, path.as_path())).collect()
}

/// Runs NUT's `tool` and `hazel subcommand` with `args` and asserts they said
/// and returned the same; returns Hazel's output.
fn assert_same(tool: &str, subcommand: &str, args: &[&str]) -> Output {
    let theirs = nut_tool(tool, args);
    let ours = hazel_client(subcommand, args);
    let what = format!("`{tool} {}` vs `hazel {subcommand}`", args.join(" "));
    assert_eq!(stdout(&ours), stdout(&theirs), "standard output of {what}");
    assert_eq!(stderr_without_tls_notice(&ours), stderr_without_tls_notice(&theirs), "standard error of {what}");
    assert_eq!(ours.status.code(), theirs.status.code(), "exit status of {what}: {ours:?}");
    ours
}

/// Every comparison, against the server on `port` serving `demo` (a static
/// replay) and `cycling`.
fn compare_all(port: u16) {
    let server = format!("127.0.0.1:{port}");
    let demo = format!("demo@{server}");
    let nope = format!("nope@{server}");
    let closed = format!("demo@127.0.0.1:{}", free_port());
    let admin = ["-u", ADMIN_USER, "-p", ADMIN_PASSWORD];

    // upsc: listings, one variable, and every error it reports.
    let out = assert_same("upsc", "status", &[&demo]);
    assert!(stdout(&out).contains("ups.status: "), "{out:?}");
    assert_same("upsc", "status", &[&demo, "ups.status"]);
    assert_same("upsc", "status", &[&demo, "battery.charge"]);
    // UPS names are not case-sensitive.
    let upper = format!("DEMO@{server}");
    assert_same("upsc", "status", &[&upper, "ups.model"]);
    let out = assert_same("upsc", "status", &[&demo, "no.such.variable"]);
    assert!(!out.status.success());
    assert_same("upsc", "status", &[&demo, "nodot"]);
    assert_same("upsc", "status", &[&nope]);
    assert_same("upsc", "status", &[&nope, "ups.status"]);
    let out = assert_same("upsc", "status", &["-l", &server]);
    let text = stdout(&out);
    let listed: Vec<&str> = text.lines().collect();
    assert!(listed.contains(&"demo") && listed.contains(&"cycling"), "{out:?}");
    assert_same("upsc", "status", &["-L", &server]);
    assert_same("upsc", "status", &["-c", &demo]);
    assert_same("upsc", "status", &["-c", &nope]);
    assert_same("upsc", "status", &[&closed]);
    assert_same("upsc", "status", &["-l", &closed["demo@".len()..]]);
    assert_same("upsc", "status", &["demo@127.0.0.1:abc"]);
    assert_same("upsc", "status", &["demo@"]);
    assert_same("upsc", "status", &["demo@[::1"]);
    assert_same("upsc", "status", &["-l", "host:"]);
    assert_same("upsc", "status", &["demo@no-such-host.invalid"]);

    // upscmd: listing, running, waiting, and refusals.
    let out = assert_same("upscmd", "cmd", &["-l", &demo]);
    assert!(stdout(&out).starts_with("Instant commands supported on UPS [demo]:"), "{out:?}");
    assert_same("upscmd", "cmd", &["-l", &nope]);
    let out = assert_same("upscmd", "cmd", &[&admin[..], &[&demo, "load.off"]].concat());
    assert!(out.status.success(), "{out:?}");
    assert_same("upscmd", "cmd", &[&admin[..], &[&demo, "load.off", "5"]].concat());
    assert_same("upscmd", "cmd", &[&["-w"], &admin[..], &[&demo, "load.off"]].concat());
    assert_same("upscmd", "cmd", &["-u", ADMIN_USER, "-p", "wrong", &demo, "load.off"]);
    assert_same("upscmd", "cmd", &["-u", UPSMON_USER, "-p", UPSMON_PASSWORD, &demo, "load.off"]);
    let out = assert_same("upscmd", "cmd", &[&admin[..], &[&demo, "no.such.command"]].concat());
    assert!(!out.status.success());
    assert_same("upscmd", "cmd", &[&admin[..], &[&demo, "nodot"]].concat());
    assert_same("upscmd", "cmd", &[&admin[..], &[&nope, "load.off"]].concat());
    assert_same("upscmd", "cmd", &[&admin[..], &[&closed, "load.off"]].concat());
    assert_same("upscmd", "cmd", &[&admin[..], &["demo@127.0.0.1:abc", "load.off"]].concat());

    // upsrw: listing, setting, waiting, and refusals (a bad value: too long for STRING:32).
    let out = assert_same("upsrw", "set", &[&demo]);
    assert!(stdout(&out).contains("[battery.charge]\n"), "{out:?}");
    assert_same("upsrw", "set", &[&nope]);
    assert_same("upsrw", "set", &[&closed]);
    let out = assert_same("upsrw", "set", &[&["-s", "battery.charge=42"], &admin[..], &[&demo]].concat());
    assert!(out.status.success(), "{out:?}");
    assert_same("upsrw", "set", &[&["-w", "-s", "battery.charge=43"], &admin[..], &[&demo]].concat());
    eventually("battery.charge = 43", || stdout(&hazel_client("status", &[&demo, "battery.charge"])).trim() == "43");
    assert_same("upsrw", "set", &[&["-s", "battery.mfr.date=a b \"c\""], &admin[..], &[&demo]].concat());
    assert_same("upsrw", "set", &[&["-s", "driver.name=x"], &admin[..], &[&demo]].concat());
    assert_same("upsrw", "set", &[&["-s", "no.such.var=1"], &admin[..], &[&demo]].concat());
    let too_long = format!("battery.mfr.date={}", "x".repeat(40));
    let out = assert_same("upsrw", "set", &[&["-s", too_long.as_str()], &admin[..], &[&demo]].concat());
    assert!(!out.status.success());
    assert_same("upsrw", "set", &["-s", "battery.charge=1", "-u", ADMIN_USER, "-p", "wrong", &demo]);
    assert_same("upsrw", "set", &["-s", "battery.charge=1", "-u", UPSMON_USER, "-p", UPSMON_PASSWORD, &demo]);
    assert_same("upsrw", "set", &[&["-s", "nodot=1"], &admin[..], &[&demo]].concat());
    assert_same("upsrw", "set", &[&["-s", "battery.charge=1"], &admin[..], &[&nope]].concat());
    // After the writes, the listing still matches.
    assert_same("upsrw", "set", &[&demo]);
}

#[test]
fn thin_clients_match_nut_tools_on_hazel() {
    let devices = demo_devices();
    let devices = device_refs(&devices);
    let demo_conf = std::fs::read_to_string(repo_root().join("host/hazel/demo/ups.conf")).expect("demo ups.conf");
    let server = HazelServe::start(&demo_conf, E2E_USERS, |dir| copy_dev_files(&devices, dir));
    eventually("demo data", || nut_tool("upsc", &[&server.ups("demo"), "ups.status"]).status.success());
    compare_all(server.port);
}

#[test]
fn thin_clients_match_nut_tools_on_real_nut() {
    let devices = demo_devices();
    let nut = RealNut::start(&device_refs(&devices));
    compare_all(nut.port());
}

#[test]
fn stale_data_reads_the_same() {
    // A device file that does not exist: the device never has data, so it is stale (Hazel)
    // or its driver never connects (NUT) – either way both clients must say the same.
    let conf = "[ghost]\n\tdriver = dummy-ups\n\tport = missing.dev\n";
    let server = HazelServe::start(conf, E2E_USERS, |_| {});
    let ghost = server.ups("ghost");
    let out = assert_same("upsc", "status", &[&ghost]);
    assert!(!out.status.success(), "{out:?}");
    assert_same("upsc", "status", &[&ghost, "ups.status"]);
    assert_same("upscmd", "cmd", &["-l", &ghost]);
    assert_same("upsrw", "set", &[&ghost]);
    assert_same("upscmd", "cmd", &["-u", ADMIN_USER, "-p", ADMIN_PASSWORD, &ghost, "load.off"]);
}
