//! The `hazel` command line: configuration problems are reported with file,
//! line and section, never a panic; plugins are inspected without grants.

use std::path::{Path, PathBuf};
use std::process::Command;

fn hazel(args: &[&str], confdir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hazel"))
        .args(args)
        .arg("-c")
        .arg(confdir)
        .env("HAZEL_LOG", "warn")
        .output()
        .expect("run hazel");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "hazel panicked:\n{text}");
    (out.status.success(), text)
}

fn plugin_dir() -> PathBuf {
    std::env::var_os("HAZEL_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/target/wasm32-wasip2/release"))
}

fn confdir(ups_conf: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ups.conf"), ups_conf).unwrap();
    std::fs::write(
        dir.path().join("hazel.toml"),
        format!("plugin_dirs = [{:?}]\ncache_dir = \"cache\"\n", plugin_dir().display().to_string()),
    )
    .unwrap();
    std::fs::write(dir.path().join("ok.dev"), "ups.status: OL\n").unwrap();
    dir
}

#[test]
fn check_config_accepts_a_good_config() {
    let dir = confdir("[ups1]\n\tdriver = dummy-ups\n\tport = ok.dev\n");
    let (ok, text) = hazel(&["check-config"], dir.path());
    assert!(ok, "{text}");
    assert!(text.contains("ok: [ups1] driver plugin 'dummy', grants: log, clock, file"), "{text}");
}

#[test]
fn check_config_names_file_line_and_section_of_each_problem() {
    let conf = "\
[good]
\tdriver = dummy-ups
\tport = ok.dev
[nodriver]
\tport = ok.dev
[badpoll]
\tdriver = dummy-ups
\tport = ok.dev
\tpollinterval = often
[nosuchdriver]
\tdriver = acme-ups
\tport = /dev/ttyS0
";
    let dir = confdir(conf);
    let (ok, text) = hazel(&["check-config"], dir.path());
    assert!(!ok, "a broken config must fail:\n{text}");
    let ups_conf = dir.path().join("ups.conf").display().to_string();
    assert!(text.contains("ok: [good]"), "{text}");
    assert!(text.contains(&format!("{ups_conf}:4")) && text.contains("driver"), "missing driver not reported:\n{text}");
    assert!(
        text.contains(&format!("{ups_conf}:9")) && text.contains("pollinterval"),
        "bad pollinterval not reported:\n{text}"
    );
    assert!(
        text.contains(&format!("{ups_conf}:10: [nosuchdriver]: no plugin provides driver 'acme-ups'")),
        "unknown driver not reported:\n{text}"
    );
}

/// A config dir whose first plugin directory holds serial-probe installed as
/// `megatec.wasm`, standing in for the Megatec plugin the serial NUT drivers
/// map to (it shadows any real one later in the search path).
fn megatec_confdir(ups_conf: &str) -> tempfile::TempDir {
    let dir = confdir(ups_conf);
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(plugin_dir().join("serial_probe.wasm"), plugins.join("megatec.wasm")).unwrap();
    std::fs::write(dir.path().join("hazel.toml"), "plugin_dirs = [\"plugins\"]\ncache_dir = \"cache\"\n").unwrap();
    dir
}

#[test]
fn serial_nut_drivers_run_megatec_with_their_port_granted() {
    let conf =
        "[qx]\n\tdriver = nutdrv_qx\n\tport = /dev/ttyUSB0\n[blazer]\n\tdriver = blazer_ser\n\tport = /dev/ttyS0\n";
    let dir = megatec_confdir(conf);
    let (ok, text) = hazel(&["check-config"], dir.path());
    assert!(ok, "{text}");
    for device in ["qx", "blazer"] {
        let line = format!("ok: [{device}] driver plugin 'megatec', grants: log, clock, serial");
        assert!(text.contains(&line), "missing {line:?}:\n{text}");
    }
}

#[test]
fn serial_driver_problems_name_file_line_and_section() {
    let conf = "[relative]\n\tdriver = nutdrv_qx\n\tport = ttyUSB0\n";
    let dir = megatec_confdir(conf);
    let (ok, text) = hazel(&["check-config"], dir.path());
    assert!(!ok, "{text}");
    let ups_conf = dir.path().join("ups.conf").display().to_string();
    assert!(
        text.contains(&format!("{ups_conf}:1: [relative]: driver 'nutdrv_qx' needs a serial device path")),
        "{text}"
    );
}

#[test]
fn hazel_toml_errors_name_the_line() {
    let dir = confdir("[ups1]\n\tdriver = dummy-ups\n\tport = ok.dev\n");
    std::fs::write(dir.path().join("hazel.toml"), "[limits]\nmemory_mib = \"lots\"\n").unwrap();
    let (ok, text) = hazel(&["check-config"], dir.path());
    assert!(!ok);
    assert!(text.contains("hazel.toml:2:"), "{text}");
}

#[test]
fn missing_ups_conf_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = hazel(&["serve"], dir.path());
    assert!(!ok);
    assert!(text.contains("ups.conf") && text.contains("No such file"), "{text}");
}

#[test]
fn inspect_shows_imports_without_running_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = plugin_dir().join("dummy.wasm");
    let (ok, text) = hazel(&["plugin", "inspect", &plugin.display().to_string()], dir.path());
    assert!(ok, "{text}");
    assert!(text.contains("drivers:      dummy-ups"), "{text}");
    let file_import = format!("hazel:plugin/file@{}", hazel_runtime::bindings::PACKAGE_VERSION);
    assert!(text.contains(&file_import), "{text}");
    assert!(!text.contains("FORBIDDEN"), "{text}");

    let wasi = plugin_dir().join("wasi_fs.wasm");
    let (_, text) = hazel(&["plugin", "inspect", &wasi.display().to_string()], dir.path());
    assert!(text.contains("wasi:filesystem/preopens@0.2.6") && text.contains("FORBIDDEN"), "{text}");
}

#[test]
fn inspecting_garbage_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"this is not WebAssembly").unwrap();
    let (ok, text) = hazel(&["plugin", "inspect", &junk.display().to_string()], dir.path());
    assert!(!ok);
    assert!(text.contains("junk.wasm") && text.contains("not a loadable plugin"), "{text}");
}
