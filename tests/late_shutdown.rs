//! The late shutdown end to end: a kill-power bundle staged for the `megatec`
//! plugin on a simulated Megatec UPS (`hazel-sim`), then `hazel-initrd none`
//! run in a fresh mount namespace whose root holds nothing but the binary
//! (with its shared libraries), the staged /run, /proc and /dev: no config
//! dir, no plugin dir. The simulator must receive the shutdown with the
//! configured delays, and nothing at all when the intent is of another boot
//! or a plugin's digest differs. One test stages the bundle itself; another
//! has `hazel monitor` (primary, on `hazel serve`) stage it when the
//! simulator's battery runs low, before its SHUTDOWNCMD.
//!
//! Needs `target/debug/hazel-initrd` (`cargo build -p hazel-initrd`), the
//! built plugins, root and `unshare`; without `unshare --mount` permission it
//! says so and runs the binary as a plain process on the same bundle.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use std::os::unix::fs::PermissionsExt;

use hazel_e2e::test_upsmon_conf;
use hazel_e2e::{
    E2E_USERS, EventLog, ExtraConfig, HazelMonitor, HazelServe, NutSession, PowerSource, PowerState, SimulatorPower,
    eventually,
};
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
    run_initrd_on(staged._tmp.path(), &staged.run_dir, false)
}

/// [`run_initrd`] on the /run in `run_dir` (its bundle in `hazel/killpower`,
/// the flag at `killpower`), the late root built under `scratch`. With
/// `flag_option`, the flag is named on the command line (`--flag
/// /run/killpower`), as when the manifest's POWERDOWNFLAG is a path of the
/// running system the late host does not see.
fn run_initrd_on(scratch: &Path, run_dir: &Path, flag_option: bool) -> Output {
    run_late_host(scratch, run_dir, flag_option, "none").expect("hazel-initrd none runs as a plain process")
}

/// Whether this process may make a PID namespace (with a mount namespace).
fn can_unshare_pid() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount", "sh", "-c", "[ \"$$\" = 1 ]"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// [`run_initrd_on`] with `verb`. A verb other than `none` ends in reboot(2),
/// so it runs only as PID 1 of its own PID namespace, where the kernel turns
/// reboot(2) into ending that namespace (power off or halt: SIGINT, reboot:
/// SIGHUP) instead of acting on this machine; `None` where PID namespaces are
/// not permitted. It is killed if it is still running after `LATE_HOST_LIMIT`
/// (a power-race wait would last minutes).
fn run_late_host(scratch: &Path, run_dir: &Path, flag_option: bool, verb: &str) -> Option<Output> {
    let binary = initrd_binary();
    let pid_namespace = verb != "none";
    if pid_namespace && !can_unshare_pid() {
        return None;
    }
    if !pid_namespace && !can_unshare() {
        eprintln!("unshare --mount is not permitted here: running hazel-initrd as a plain process on the bundle");
        let bundle = run_dir.join("hazel/killpower");
        let flag = run_dir.join("killpower");
        let mut command = Command::new(&binary);
        command.arg("--bundle").arg(&bundle).arg("--flag").arg(&flag).arg("none");
        return Some(command.output().expect("running hazel-initrd"));
    }
    let root = scratch.join("root");
    std::fs::create_dir_all(&root).unwrap();
    // Never reach reboot(2) outside a PID namespace of our own: there it would act on this machine.
    let guard =
        if pid_namespace { "[ \"$$\" = 1 ] || { echo 'not PID 1 of a new namespace' >&2; exit 97; }\n" } else { "" };
    let mut script = format!("set -e\n{guard}mount -t tmpfs -o mode=0755 root \"$ROOT\"\n");
    script.push_str("mkdir -p \"$ROOT/run\" \"$ROOT/dev\" \"$ROOT/proc\" \"$ROOT/sbin\"\n");
    script.push_str("mount --bind \"$RUN\" \"$ROOT/run\"\nmount --rbind /dev \"$ROOT/dev\"\n");
    script.push_str("mount -t proc proc \"$ROOT/proc\"\ncp \"$BIN\" \"$ROOT/sbin/hazel-initrd\"\n");
    for library in shared_libraries(&binary) {
        let target = format!("\"$ROOT\"{}", library.display());
        script.push_str(&format!("mkdir -p \"$(dirname {target})\"\ncp -L {} {target}\n", library.display()));
    }
    // Read-only everything but /run, as after systemd-shutdown's remount.
    script.push_str("mount -o remount,ro,bind \"$ROOT\"\n");
    let flag = if flag_option { format!(" --flag {FLAG_IN_ROOT}") } else { String::new() };
    script.push_str(&format!("exec chroot \"$ROOT\" /sbin/hazel-initrd --bundle {BUNDLE_IN_ROOT}{flag} {verb}\n"));
    let mut command = Command::new("unshare");
    if pid_namespace {
        command.args(["--pid", "--fork", "--kill-child"]);
    }
    command
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("ROOT", &root)
        .env("RUN", run_dir)
        .env("BIN", &binary)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("running unshare");
    let deadline = std::time::Instant::now() + LATE_HOST_LIMIT;
    while child.try_wait().expect("waiting for unshare").is_none() {
        if std::time::Instant::now() > deadline {
            // Our own child; --kill-child takes the namespace's PID 1 with it.
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child.wait_with_output().expect("collecting the late host's output"))
}

/// Longest a late host run may take in these tests: it sends a few commands;
/// anything longer is a wait for the power (the power race).
const LATE_HOST_LIMIT: Duration = Duration::from_secs(20);

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

/// `hazel serve` on `ups_conf` with its control socket under `tmp`, and a
/// config dir `tmp/monitor` for `hazel monitor`: the same ups.conf (the
/// stager plans the devices from it), the bundle written to `bundle_dir`
/// (the test's /run, never the machine's), and the same control socket, on
/// which the stager asks the live devices about the power race.
fn serve_with_monitor_dir(tmp: &Path, ups_conf: &str, bundle_dir: &Path) -> (HazelServe, PathBuf) {
    let control = format!("control_socket = {:?}\n", tmp.join("control/hazel.sock").display().to_string());
    let serve =
        HazelServe::start_with(ups_conf, E2E_USERS, ExtraConfig { hazel_toml: &control, upsd_conf: "" }, |_| {});
    let monitor_dir = tmp.join("monitor");
    std::fs::create_dir(&monitor_dir).unwrap();
    std::fs::write(monitor_dir.join("ups.conf"), ups_conf).unwrap();
    let plugins = hazel_e2e::plugin_dir().display().to_string();
    let bundle = bundle_dir.display().to_string();
    let settings = format!("plugin_dirs = [{plugins:?}]\ncache_dir = \"cache\"\nkillpower_dir = {bundle:?}\n{control}");
    std::fs::write(monitor_dir.join("hazel.toml"), settings).unwrap();
    (serve, monitor_dir)
}

/// The late-shutdown issue's first must-show: `hazel serve` and `hazel
/// monitor` (primary) on the Megatec simulator; the mains fail and the
/// battery runs low; the monitor stages the bundle before its SHUTDOWNCMD
/// runs; then `hazel-initrd`, with nothing but that bundle, switches the
/// simulated UPS off with the delays of ups.conf.
#[test]
fn the_monitor_stages_the_bundle_before_shutdowncmd_and_hazel_initrd_kills_the_power() {
    let tmp = tempfile::tempdir().unwrap();
    // The running system's /run, as the late host will see it: the bundle and the flag.
    let run_dir = tmp.path().join("run");
    let bundle_dir = run_dir.join("hazel/killpower");
    let flag = run_dir.join("killpower");
    let intent = bundle_dir.join(hazel_killpower::INTENT_FILE);
    std::fs::create_dir_all(&bundle_dir).unwrap();
    let events = EventLog::new(&tmp.path().join("events.log"));
    // No link: the device path is the pty under /dev, which the late host sees as well.
    let power = SimulatorPower::spawn(None);
    let ups_conf = power.ups_conf_section("rack", &format!("offdelay = {OFFDELAY}\nondelay = {ONDELAY}\n"));
    let (serve, monitor_dir) = serve_with_monitor_dir(tmp.path(), &ups_conf, &bundle_dir);
    // SHUTDOWNCMD records whether the bundle was armed and the flag written when it ran.
    let shutdown = monitor_dir.join("shutdown-late.sh");
    let script = format!(
        "#!/bin/sh\nstaged=no; [ -f '{}' ] && staged=yes\nflag=no; [ -f '{}' ] && flag=yes\n\
         echo \"primary shutdown staged=$staged flag=$flag\" >> '{}'\n",
        intent.display(),
        flag.display(),
        tmp.path().join("events.log").display()
    );
    std::fs::write(&shutdown, script).unwrap();
    std::fs::set_permissions(&shutdown, std::fs::Permissions::from_mode(0o755)).unwrap();
    let extra = format!("POWERDOWNFLAG {}\nSHUTDOWNCMD \"{}\"\n", flag.display(), shutdown.display());
    let conf = test_upsmon_conf(&serve.ups("rack"), "primary", &monitor_dir, "primary", &events, &extra);
    std::fs::write(monitor_dir.join("upsmon.conf"), conf).unwrap();
    let mut monitor = HazelMonitor::start(&monitor_dir);
    let logs = |monitor: &HazelMonitor| format!("monitor:\n{}\nserve:\n{}", monitor.log(), serve.log());
    let logged_in = || {
        let reply = NutSession::try_connect(serve.port).and_then(|mut s| s.try_request("GET NUMLOGINS rack"));
        reply.is_ok_and(|lines| lines == ["NUMLOGINS rack 1"])
    };
    eventually("the monitor logged in", logged_in);

    power.set(PowerState::OnBattery);
    eventually("ONBATT", || events.has("primary notify ONBATT"));
    assert!(!intent.exists(), "staged on battery already: {}", logs(&monitor));
    power.set(PowerState::LowBattery);
    let ran = || events.lines().into_iter().find(|l| l.starts_with("primary shutdown"));
    eventually("the primary's SHUTDOWNCMD", || ran().is_some());
    assert_eq!(ran().unwrap(), "primary shutdown staged=yes flag=yes", "{}", logs(&monitor));
    assert!(monitor.log().contains("late shutdown staged in"), "{}", logs(&monitor));
    eventually("the monitor exits", || monitor.exit_status().is_some());
    assert!(monitor.exit_status().unwrap().success(), "{}", logs(&monitor));
    // The megatec plugin declared, from the live device, that S<n>R<m> cycles the load on mains too.
    let staged = hazel_killpower::Bundle::load(&bundle_dir, &this_boot(), Some(&flag)).expect("the staged bundle");
    assert_eq!(staged.manifest().upses[0].returns_while_on_mains, ReturnsWhileOnMains::Yes, "{}", logs(&monitor));

    // The system stops hazel serve (it holds the port) before the late host runs.
    drop(serve);
    let sim = power.simulator();
    let mark = sim.log().len();
    // The manifest's flag is the running system's path (in the test's dir): name it as the late host sees it.
    // As the exitrd powering off: with every UPS cycling its load even on mains, no power-race wait.
    let output = match run_late_host(tmp.path(), &run_dir, true, "poweroff") {
        Some(output) => {
            let log = stderr(&output);
            assert!(log.contains("no power-race wait"), "{log}");
            assert!(!log.contains("for the UPS to cut the power"), "{log}");
            // Powering off its PID namespace ends it with SIGINT, at once rather than after the wait.
            use std::os::unix::process::ExitStatusExt;
            const SIGINT: i32 = 2;
            let ended = (output.status.signal(), output.status.code());
            assert!(ended == (Some(SIGINT), None) || ended == (None, Some(128 + SIGINT)), "{ended:?}: {log}");
            output
        }
        None => {
            eprintln!("unshare --pid is not permitted here: running hazel-initrd none instead of poweroff");
            let output = run_initrd_on(tmp.path(), &run_dir, true);
            assert!(output.status.success(), "hazel-initrd failed: {}", stderr(&output));
            output
        }
    };
    let log = stderr(&output);
    assert!(log.contains("UPS 'rack' (nutdrv_qx) told to cut the power"), "{log}");
    let shutdown = sim.log().wait_for_command(SHUTDOWN_RETURN, Duration::from_secs(10));
    let commands: Vec<String> = sim.log().entries()[mark..].iter().filter_map(|e| e.command()).collect();
    assert!(shutdown.is_some(), "no {SHUTDOWN_RETURN} among {commands:?}; hazel-initrd said: {log}");
    let c = commands.iter().rposition(|c| c == "C").unwrap_or_else(|| panic!("no C among {commands:?}"));
    assert_eq!(commands.last().map(String::as_str), Some(SHUTDOWN_RETURN), "{commands:?}");
    assert!(c < commands.len() - 1, "{commands:?}");

    // The shutdown did not happen after all (here: nothing went down), and the monitor starts again
    // in an ordinary state: as upsmon removes the flag at start, it removes the intent with it.
    assert!(intent.exists() && flag.exists());
    let restarted = HazelMonitor::start(&monitor_dir);
    eventually("the restarted monitor clears the flag", || !flag.exists());
    eventually("the restarted monitor removes the intent", || !intent.exists());
    assert!(bundle_dir.join(hazel_killpower::MANIFEST_FILE).exists(), "{}", restarted.log());
    drop(restarted);
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

/// A USB HID UPS (`usbhid-ups`) switched off late: `hazel serve` drives a
/// recorded Back-UPS (`port = replay:<capture>`), `hazel monitor` (primary)
/// is told to shut down (`upsmon -c fsd`) and stages the bundle, and
/// `hazel-initrd`, from that bundle alone, finds the same device by the
/// bundle's match and sends it the shutdown. What the device received is
/// read from the replay's SET_REPORT log, and what it should receive is
/// derived from its report descriptor and NUT's APC mapping: this Back-UPS
/// has no DelayBeforeStartup, so usbhid-ups's chain falls through
/// `shutdown.return` to `shutdown.reboot`, which on APC units (apc-hid.c)
/// writes 10 (seconds) to `UPS.APCGeneralCollection.APCDelayBeforeReboot`.
#[test]
fn a_usb_hid_ups_is_switched_off_late_through_its_staged_match() {
    const BK650: &str = "APC__Back-UPS_BK650M2-CH.txt";
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    let bundle_dir = run_dir.join("hazel/killpower");
    std::fs::create_dir_all(&bundle_dir).unwrap();
    let flag = run_dir.join("killpower");
    // The capture, copied: the replay logs what it is told beside it, into the .sets file made here.
    let capture = tmp.path().join(BK650);
    std::fs::copy(hazel_e2e::repo_root().join("../shared/data/hid").join(BK650), &capture).expect("the BK650 capture");
    let sets = tmp.path().join(format!("{BK650}.sets"));
    std::fs::write(&sets, "").unwrap();

    let ups_conf = format!("[desk]\n\tdriver = usbhid-ups\n\tport = \"replay:{}\"\n", capture.display());
    let (serve, monitor_dir) = serve_with_monitor_dir(tmp.path(), &ups_conf, &bundle_dir);
    let events = EventLog::new(&tmp.path().join("events.log"));
    let extra = format!("POWERDOWNFLAG {}\n", flag.display());
    let conf = test_upsmon_conf(&serve.ups("desk"), "primary", &monitor_dir, "primary", &events, &extra);
    std::fs::write(monitor_dir.join("upsmon.conf"), conf).unwrap();
    let mut monitor = HazelMonitor::start(&monitor_dir);
    let logs = |monitor: &HazelMonitor| format!("monitor:\n{}\nserve:\n{}", monitor.log(), serve.log());
    eventually("the monitor logged in", || {
        let reply = NutSession::try_connect(serve.port).and_then(|mut s| s.try_request("GET NUMLOGINS desk"));
        reply.is_ok_and(|lines| lines == ["NUMLOGINS desk 1"])
    });
    let fsd = Command::new(hazel_e2e::hazel_binary())
        .args(["monitor", "-c"])
        .arg(&monitor_dir)
        .args(["--pid-file"])
        .arg(monitor_dir.join("monitor.pid"))
        .args(["--command", "fsd"])
        .output()
        .expect("hazel monitor --command fsd");
    assert!(fsd.status.success(), "{}", stderr(&fsd));
    eventually("the monitor exits after SHUTDOWNCMD", || monitor.exit_status().is_some());
    let staged = hazel_killpower::Bundle::load(&bundle_dir, &this_boot(), Some(&flag)).unwrap_or_else(|e| {
        panic!("{e}: {}", logs(&monitor));
    });
    let entry = &staged.manifest().upses[0];
    let DeviceGrant::UsbHid(device) = &entry.device else { panic!("{:?}", entry.device) };
    assert_eq!(device.replay.as_deref(), Some(capture.as_path()));
    // The usbhid plugin does not know whether this unit cycles its load on mains.
    assert_eq!(entry.returns_while_on_mains, ReturnsWhileOnMains::Unknown);

    drop(serve);
    let before = std::fs::read_to_string(&sets).unwrap();
    // As a plain process: a replayed device is a file, which a late root would not hold.
    let output = Command::new(initrd_binary())
        .arg("--bundle")
        .arg(&bundle_dir)
        .arg("--flag")
        .arg(&flag)
        .arg("none")
        .output()
        .expect("running hazel-initrd");
    let log = stderr(&output);
    assert!(output.status.success(), "hazel-initrd failed: {log}");
    assert!(log.contains("UPS 'desk' (usbhid-ups) told to cut the power"), "{log}");
    let received = std::fs::read_to_string(&sets).unwrap()[before.len()..].to_string();

    // What the device must have been told, from its own descriptor.
    let c = usbhid::capture::parse(&std::fs::read_to_string(&capture).unwrap()).unwrap();
    let d = usbhid::descriptor::parse(&c.descriptor).unwrap();
    // APC's vendor usages by name (the capture itself was explored with the standard pages only).
    let names = usbhid::mapping::subdriver_for(0x051d).expect("APC's subdriver").names;
    let field = d
        .fields
        .iter()
        .find(|f| {
            f.kind == usbhid::descriptor::ReportKind::Feature
                && names.path_string(&f.path) == "UPS.APCGeneralCollection.APCDelayBeforeReboot"
        })
        .unwrap_or_else(|| {
            let delays: Vec<String> =
                d.fields.iter().map(|f| names.path_string(&f.path)).filter(|p| p.contains("Delay")).collect();
            panic!("no Feature APCDelayBeforeReboot among {delays:?}; received {received:?}")
        });
    let writes: Vec<Vec<u8>> = received
        .lines()
        .filter_map(|line| line.strip_prefix("set "))
        .filter_map(|rest| rest.split_once(": "))
        .map(|(_, bytes)| bytes.split(' ').map(|b| u8::from_str_radix(b, 16).unwrap()).collect())
        .collect();
    let shutdown = writes.iter().find(|w| w.first() == Some(&field.report_id));
    let Some(shutdown) = shutdown else { panic!("no SET_REPORT {:#04x} among {received:?}; {log}", field.report_id) };
    let seconds = usbhid::report::read(usbhid::report::payload(shutdown, d.uses_report_ids), field);
    assert_eq!(seconds, Some(10.0), "{received:?}");
}
