//! The late shutdown end to end: a kill-power bundle staged for the `megatec`
//! plugin on a simulated Megatec UPS (`hazel-sim`), then `hazel-initrd none`
//! run in a fresh mount namespace whose root holds nothing but the binary
//! (with its shared libraries), the staged /run, /proc and /dev: no config
//! dir, no plugin dir. The simulator must receive the shutdown with the
//! configured delays, and nothing at all when the intent is of another boot
//! or a plugin's digest differs.
//!
//! Needs `target/debug/hazel-initrd` (`cargo build -p hazel-initrd`), the
//! built plugins, root and `unshare`; without `unshare --mount` permission it
//! says so and runs the binary as a plain process on the same bundle.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hazel_killpower::{DeviceGrant, KillMode, Manifest, PluginFile, PluginRef, ReturnsWhileOnMains, Setting, UpsEntry};
use hazel_sim::{RunningSimulator, Simulator, SimulatorConfig};

/// Delays other than the defaults: 60 s off, 120 s on.
const OFFDELAY: &str = "60";
const ONDELAY: &str = "120";
/// What the megatec plugin sends for shutdown.return with those delays (NUT's nutdrv_qx does the same:
/// tests/nut-facts/megatec, "(60,120) `S01R0002`").
const SHUTDOWN_RETURN: &str = "S01R0002";
/// Where the bundle sits, as the late host sees it.
const BUNDLE_IN_ROOT: &str = "/run/hazel/killpower";
const FLAG_IN_ROOT: &str = "/run/killpower";

fn initrd_binary() -> PathBuf {
    let path = hazel_e2e::repo_root().join("target/debug/hazel-initrd");
    assert!(path.exists(), "{} is missing: run `cargo build -p hazel-initrd`", path.display());
    path
}

/// The megatec plugin, precompiled as `hazel initrd-bundle` and the monitor's stager do it.
fn precompiled_megatec() -> Vec<u8> {
    let path = hazel_e2e::plugin_dir().join("megatec.wasm");
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (build the plugins)", path.display()));
    hazel_runtime::engine::precompile_plugin(&path, &wasm).expect("precompiling megatec")
}

struct Staged {
    _tmp: tempfile::TempDir,
    /// The directory mounted as the late host's /run.
    run_dir: PathBuf,
    sim: RunningSimulator,
}

impl Staged {
    fn bundle_dir(&self) -> PathBuf {
        self.run_dir.join("hazel/killpower")
    }
}

/// A simulator, and a bundle for it staged in a fresh /run with the flag set, for boot `boot_id`.
fn stage(boot_id: &str) -> Staged {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    let sim = Simulator::spawn(SimulatorConfig { time_scale: 1.0, ..SimulatorConfig::default() }).expect("simulator");
    let port = sim.pty_path().to_path_buf();
    let bytes = precompiled_megatec();
    let manifest = Manifest {
        format: hazel_killpower::FORMAT_VERSION,
        powerdown_flag: FLAG_IN_ROOT.into(),
        power_race_wait_secs: 120,
        upses: vec![UpsEntry {
            name: "rack".into(),
            driver: "nutdrv_qx".into(),
            plugin: PluginRef { file: "megatec.cwasm".into(), sha256: hazel_killpower::sha256_hex(&bytes) },
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
    let plugins = [PluginFile { file: "megatec.cwasm".into(), bytes }];
    hazel_killpower::stage(&run_dir.join("hazel/killpower"), &manifest, &plugins, boot_id).expect("staging");
    hazel_monitor::powerdown_flag::write(&run_dir.join("killpower")).expect("writing the flag");
    Staged { _tmp: tmp, run_dir, sim }
}

fn this_boot() -> String {
    hazel_killpower::current_boot_id().unwrap()
}

/// Shared libraries `binary` needs, from `ldd`.
fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    let output = Command::new("ldd").arg(binary).output().expect("ldd");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// Whether this process may make a mount namespace.
fn can_unshare() -> bool {
    Command::new("unshare").args(["--mount", "true"]).output().is_ok_and(|o| o.status.success())
}

/// Run `hazel-initrd none` with only the staged /run, /dev and /proc: in a
/// new mount namespace, chrooted into a tmpfs holding the binary and its
/// libraries. Falls back to a plain process where namespaces are not allowed.
fn run_initrd(staged: &Staged) -> Output {
    let binary = initrd_binary();
    if !can_unshare() {
        eprintln!("unshare --mount is not permitted here: running hazel-initrd as a plain process on the bundle");
        let bundle = staged.bundle_dir();
        let flag = staged.run_dir.join("killpower");
        let mut command = Command::new(&binary);
        command.arg("--bundle").arg(&bundle).arg("--flag").arg(&flag).arg("none");
        return command.output().expect("running hazel-initrd");
    }
    let root = staged._tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut script = String::from("set -e\nmount -t tmpfs -o mode=0755 root \"$ROOT\"\n");
    script.push_str("mkdir -p \"$ROOT/run\" \"$ROOT/dev\" \"$ROOT/proc\" \"$ROOT/sbin\"\n");
    script.push_str("mount --bind \"$RUN\" \"$ROOT/run\"\nmount --rbind /dev \"$ROOT/dev\"\n");
    script.push_str("mount -t proc proc \"$ROOT/proc\"\ncp \"$BIN\" \"$ROOT/sbin/hazel-initrd\"\n");
    for library in shared_libraries(&binary) {
        let target = format!("\"$ROOT\"{}", library.display());
        script.push_str(&format!("mkdir -p \"$(dirname {target})\"\ncp -L {} {target}\n", library.display()));
    }
    // Read-only everything but /run, as after systemd-shutdown's remount.
    script.push_str("mount -o remount,ro,bind \"$ROOT\"\n");
    script.push_str(&format!("exec chroot \"$ROOT\" /sbin/hazel-initrd --bundle {BUNDLE_IN_ROOT} none\n"));
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("ROOT", &root)
        .env("RUN", &staged.run_dir)
        .env("BIN", &binary)
        .output()
        .expect("running unshare")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn hazel_initrd_sends_the_shutdown_with_the_configured_delays() {
    let staged = stage(&this_boot());
    let output = run_initrd(&staged);
    let log = stderr(&output);
    assert!(output.status.success(), "hazel-initrd failed: {log}");
    assert!(log.contains("UPS 'rack' (nutdrv_qx) told to cut the power"), "{log}");
    // The process has exited, so everything it sent is in the log already; the wait only
    // covers the simulator's reader thread.
    let shutdown = staged.sim.log().wait_for_command(SHUTDOWN_RETURN, Duration::from_secs(10));
    let commands = staged.sim.log().commands();
    assert!(shutdown.is_some(), "no {SHUTDOWN_RETURN} among {commands:?}; hazel-initrd said: {log}");
    // A pending shutdown is cancelled first (C), then the shutdown with return is sent, last.
    let c = commands.iter().rposition(|c| c == "C").expect("C sent");
    assert_eq!(commands.last().map(String::as_str), Some(SHUTDOWN_RETURN), "{commands:?}");
    assert!(c < commands.len() - 1, "{commands:?}");
    staged.sim.stop().unwrap();
}

#[test]
fn an_intent_from_another_boot_sends_nothing() {
    let staged = stage("00000000-0000-4000-8000-000000000000");
    let output = run_initrd(&staged);
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("not killing the power"), "{log}");
    assert!(log.contains("a leftover from an earlier boot"), "{log}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(staged.sim.log().commands(), Vec::<String>::new());
    staged.sim.stop().unwrap();
}

#[test]
fn a_plugin_whose_digest_differs_is_not_loaded_and_nothing_is_sent() {
    let staged = stage(&this_boot());
    let plugin = staged.bundle_dir().join("plugins/megatec.cwasm");
    let mut bytes = std::fs::read(&plugin).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&plugin, bytes).unwrap();
    let output = run_initrd(&staged);
    let log = stderr(&output);
    assert!(!output.status.success(), "{log}");
    assert!(log.contains("SHA-256") && log.contains("refusing to load it"), "{log}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(staged.sim.log().commands(), Vec::<String>::new());
    staged.sim.stop().unwrap();
}
