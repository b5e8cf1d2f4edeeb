//! The dummy plugin publishes what NUT's own dummy-ups publishes.
//!
//! The expectations are real NUT 2.8.0's answers (upsd + dummy-ups from
//! Debian's nut-server), captured in `tests/nut-facts/captures/` for the same
//! files: `LIST VAR`, every `GET TYPE`, and `LIST CMD`. Only the version
//! variables differ by design (they name Hazel's and the plugin's versions).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hazel::commands::start_devices;
use hazel::device_set::LoadedConfig;
use hazel_state::Availability;

/// (device name in the capture, data file). Real device dumps from NUT's DDL
/// plus the synthetic edge cases the facts were gathered with.
const CASES: &[(&str, &str)] = &[
    ("apc", "shared:APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev"),
    ("epdu", "shared:Eaton__EPDU_MI_38U-A__snmp-ups__2.7.4__01.dev"),
    ("cp1500", "shared:Cyber_Power_Systems__CP1500EPFCLCD__usbhid-ups__2.7.3__01.dev"),
    ("digitus", "shared:Digitus__DN-170076__nutdrv_qx__2.7.4__02.dev"),
    ("viper", "shared:Fideltronik_INIGO__Viper_1200__nutdrv_qx__2.7.3.1__01.dev"),
    ("smartrt", "shared:APC__Smart-UPS_RT_2000_XL__apcsmart__2.6.4__02.dev"),
    ("inverter", "shared:INVERTER__Atlantic_Star_T3__megatec__2.0.4__01.dev"),
    ("e93ps", "shared:Eaton__93PS__snmp-ups__2.7.3-167-g0a00ddb__01.dev"),
    ("pulsar", "shared:MGE_UPS_SYSTEMS__Pulsar_1500__mge-shut__2.6.5__01.dev"),
    ("minimal", "facts:minimal.dev"),
    ("edge", "facts:edge.dev"),
    ("edge3", "facts:edge3.dev"),
    ("types", "facts:types.dev"),
    ("mirror1", "facts:mirror1.dev"),
    ("mirror2", "facts:mirror2.dev"),
    ("mirror3", "facts:mirror3.dev"),
    ("emptystatus", "facts:emptystatus.dev"),
    ("nostatus", "facts:nostatus.dev"),
];

/// Variables whose values name versions, which differ by design.
const VERSION_VARS: &[&str] = &["driver.version", "driver.version.internal"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn source_file(spec: &str) -> PathBuf {
    match spec.split_once(':') {
        Some(("shared", name)) => repo_root().join("../shared/data/nut-ddl").join(name),
        Some(("facts", name)) => repo_root().join("tests/nut-facts/inputs").join(name),
        _ => panic!("bad case {spec}"),
    }
}

fn plugin_dir() -> PathBuf {
    std::env::var_os("HAZEL_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("plugins/target/wasm32-wasip2/release"))
}

/// What real NUT answered for one device.
#[derive(Default)]
struct Expected {
    values: BTreeMap<String, String>,
    types: BTreeMap<String, String>,
    commands: BTreeSet<String>,
}

fn unquote(s: &str) -> String {
    let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn expected(name: &str) -> Expected {
    let path = repo_root().join(format!("tests/nut-facts/captures/{name}.raw.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut exp = Expected::default();
    for line in text.lines() {
        let var_prefix = format!("VAR {name} ");
        let type_prefix = format!("TYPE {name} ");
        let cmd_prefix = format!("CMD {name} ");
        if let Some(rest) = line.strip_prefix(&var_prefix) {
            let (var, value) = rest.split_once(' ').expect("VAR line has a value");
            exp.values.insert(var.to_string(), unquote(value));
        } else if let Some(rest) = line.strip_prefix(&type_prefix) {
            let (var, words) = rest.split_once(' ').expect("TYPE line has words");
            exp.types.insert(var.to_string(), words.to_string());
        } else if let Some(cmd) = line.strip_prefix(&cmd_prefix) {
            exp.commands.insert(cmd.to_string());
        }
    }
    assert!(!exp.values.is_empty(), "{}: no LIST VAR lines", path.display());
    exp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dummy_publishes_what_nut_dummy_ups_publishes() {
    let confdir = tempfile::tempdir().unwrap();
    let mut ups_conf = String::new();
    for (name, spec) in CASES {
        std::fs::copy(source_file(spec), confdir.path().join(format!("{name}.dev"))).unwrap();
        ups_conf.push_str(&format!("[{name}]\n\tdriver = dummy-ups\n\tport = {name}.dev\n"));
    }
    std::fs::write(confdir.path().join("ups.conf"), ups_conf).unwrap();
    std::fs::write(
        confdir.path().join("hazel.toml"),
        format!("plugin_dirs = [{:?}]\ncache_dir = \"cache\"\n", plugin_dir().display().to_string()),
    )
    .unwrap();

    let loaded = LoadedConfig::load(confdir.path()).unwrap();
    let running = start_devices(&loaded).await.unwrap();
    assert!(running.problems.is_empty(), "{:?}", running.problems);

    let mut differences = Vec::new();
    for (name, _) in CASES {
        let state = running.store.get(name).expect("device in store");
        let mut rx = state.subscribe();
        let snapshot = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let s = rx.borrow_and_update().clone();
                if s.availability == Availability::Fresh {
                    return s;
                }
                rx.changed().await.unwrap();
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{name}: no data within 30 s: {:?}", state.snapshot().availability));

        let exp = expected(name);
        for (var, value) in &exp.values {
            if VERSION_VARS.contains(&var.as_str()) {
                assert!(snapshot.var(var).is_some(), "{name}: {var} missing");
                continue;
            }
            match snapshot.var(var) {
                None => differences.push(format!("{name}: {var} missing (NUT: {value:?})")),
                Some(v) if v.value != *value => {
                    differences.push(format!("{name}: {var} = {:?}, NUT: {value:?}", v.value))
                }
                Some(v) => {
                    let nut_type = exp.types.get(var).map(String::as_str).unwrap_or("?");
                    if v.type_words() != nut_type {
                        differences.push(format!("{name}: TYPE {var} = {}, NUT: {nut_type}", v.type_words()));
                    }
                }
            }
        }
        for (var, v) in snapshot.vars() {
            if !exp.values.keys().any(|k| k.eq_ignore_ascii_case(var)) {
                differences.push(format!("{name}: extra variable {var} = {:?}", v.value));
            }
        }
        let commands: BTreeSet<String> = snapshot.commands().map(str::to_string).collect();
        if commands != exp.commands {
            differences.push(format!("{name}: commands {commands:?}, NUT: {:?}", exp.commands));
        }
    }
    running.stop().await;
    assert!(differences.is_empty(), "{} differences from real NUT:\n{}", differences.len(), differences.join("\n"));
}
