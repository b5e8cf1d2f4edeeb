//! A real exitrd: a Debian kernel booted under qemu (TCG, software
//! emulation) with an initramfs of busybox, the static `hazel-initrd` and a
//! kill-power bundle for the `megatec` plugin, whose UPS is `hazel-sim` on
//! the VM's second serial port (ttyS1 wired to the simulator's pty). The
//! initramfs' `/init` does what systemd-shutdown leaves the exitrd with: /run
//! holding the bundle and the POWERDOWNFLAG, then `exec hazel-initrd VERB` as
//! PID 1.
//!
//! The boot-ID check is the point of case (c), so the intent is never forged
//! for it. The bundle is staged on the host by `hazel_killpower::stage` for a
//! boot ID that is not the VM's (every boot gets a fresh random one). For the
//! cases that must act, `/init` re-stamps the intent with the VM's own
//! `/proc/sys/kernel/random/boot_id`, as the monitor would have stamped it
//! when it staged the bundle earlier in this boot; for case (c) it leaves the
//! intent of the other boot alone.
//!
//! The VM's power is the simulated UPS's output: when the simulator's
//! shutdown timer switches the output off, the test kills qemu.
//!
//! - (a) `poweroff`: `C`, then `S.2R0001` arrive from inside the VM, and the
//!   UPS cuts the power while `hazel-initrd` waits for it.
//! - (b) the power race: the UPS's timer (2 min) outlasts `hazel-initrd`'s
//!   wait (3 s), as when mains came back and the UPS ignores the command;
//!   `hazel-initrd` reboots the VM (qemu `-no-reboot` exits), and the console
//!   says so.
//! - (c) an intent from another boot: no byte reaches the UPS, and the VM
//!   powers off as asked.
//!
//! Needs `qemu-system-x86_64`, `/bin/busybox` from busybox-static, `cpio`,
//! a Debian kernel at `target/qemu/vmlinuz` (or `HAZEL_QEMU_KERNEL`) — `cargo
//! xtask test` installs and fetches them, and each test skips with a message
//! where they are missing — and the static `hazel-initrd` of the initrd
//! profile (`cargo xtask test` builds it). Plugins are precompiled for the
//! baseline x86-64 CPU: qemu's TCG CPU lacks AVX-512, which code compiled for
//! this host's CPU may use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hazel_killpower::{DeviceGrant, KillMode, Manifest, PluginFile, PluginRef, ReturnsWhileOnMains, Setting, UpsEntry};
use hazel_sim::{RunningSimulator, Simulator, SimulatorConfig};

/// The UPS port as the VM sees it: its second serial port.
const VM_PORT: &str = "/dev/ttyS1";
/// The boot ID the bundle is staged for on the host: never a VM's (those are random per boot).
const OTHER_BOOT: &str = "00000000-0000-4000-8000-0000000000b0";
/// How long one VM may take, boot to end. A TCG boot takes about 25 s on an idle machine.
const VM_TIMEOUT: Duration = Duration::from_secs(300);

/// What the test needs from the machine; `None` (with a message) where qemu cannot run.
struct Tools {
    qemu: PathBuf,
    kernel: PathBuf,
    busybox: PathBuf,
    hazel_initrd: PathBuf,
}

fn tools() -> Option<Tools> {
    let skip = |why: String| {
        eprintln!("SKIPPED: the exitrd qemu test cannot run here: {why} (`cargo xtask test` installs it)");
        None
    };
    let qemu = PathBuf::from("qemu-system-x86_64");
    if !Command::new(&qemu).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return skip("no qemu-system-x86_64 (Debian: qemu-system-x86)".into());
    }
    if !Command::new("cpio").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return skip("no cpio".into());
    }
    let busybox = PathBuf::from("/bin/busybox");
    if !is_static_elf(&busybox) {
        return skip("no static /bin/busybox (Debian: busybox-static)".into());
    }
    let kernel = std::env::var_os("HAZEL_QEMU_KERNEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| hazel_e2e::repo_root().join("target/qemu/vmlinuz"));
    if !kernel.exists() {
        return skip(format!("no kernel at {} (or HAZEL_QEMU_KERNEL)", kernel.display()));
    }
    // Not a skip: the binary is this project's own, and `cargo xtask test` builds it.
    let hazel_initrd = hazel_e2e::repo_root().join("target/initrd/x86_64-unknown-linux-gnu/initrd/hazel-initrd");
    assert!(
        is_static_elf(&hazel_initrd),
        "{} is missing or not static: RUSTFLAGS='-C target-feature=+crt-static' cargo build -p hazel-initrd \
         --profile initrd --target x86_64-unknown-linux-gnu --target-dir target/initrd",
        hazel_initrd.display()
    );
    Some(Tools { qemu, kernel, busybox, hazel_initrd })
}

/// Whether `path` is a 64-bit ELF executable without an interpreter (PT_INTERP): it runs with no libc around.
fn is_static_elf(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false;
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        bytes.get(at..at + 4).is_some_and(|t| u32::from_le_bytes(t.try_into().unwrap()) != 3)
    })
}

/// One case: the bundle's delays and wait, and what `/init` does.
struct Case {
    /// `hazel-initrd`'s verb.
    verb: &'static str,
    offdelay: &'static str,
    ondelay: &'static str,
    power_race_wait_secs: u64,
    /// Re-stamp the intent with the VM's boot ID (staged in this boot), or leave the other boot's.
    this_boot: bool,
    /// Simulated seconds per real second: a short shutdown delay passes quickly.
    time_scale: f64,
}

/// How the VM ended.
#[derive(Debug)]
enum End {
    /// The simulated UPS switched its output off, and the test cut the VM's power.
    PowerCut,
    /// qemu exited on its own: the guest powered off, or rebooted (`-no-reboot`).
    Exited(ExitStatus),
}

/// A qemu process, killed on drop.
struct Vm {
    child: Child,
    console: PathBuf,
}

impl Vm {
    fn console(&self) -> String {
        std::fs::read_to_string(&self.console).unwrap_or_default()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The megatec plugin, precompiled for the baseline x86-64 CPU.
fn portable_megatec() -> Vec<u8> {
    let path = hazel_e2e::plugin_dir().join("megatec.wasm");
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (build the plugins)", path.display()));
    hazel_runtime::engine::precompile_plugin_portable(&path, &wasm).expect("precompiling megatec")
}

/// The `/init` of the initramfs.
fn init_script(case: &Case) -> String {
    let restamp = if case.this_boot {
        // What the monitor would have written while staging in this boot: this boot's ID.
        "sed -i \"s/^boot_id = .*/boot_id = \\\"$(cat /proc/sys/kernel/random/boot_id)\\\"/\" \
         /run/hazel/killpower/intent.toml\n"
    } else {
        ""
    };
    format!(
        "#!/bin/busybox sh\n\
         /bin/busybox mkdir -p /proc /dev /run /sbin /usr/bin /usr/sbin\n\
         /bin/busybox --install -s\n\
         export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n\
         mount -t proc proc /proc\n\
         mount -t devtmpfs devtmpfs /dev\n\
         # /run as systemd-shutdown hands it to the exitrd: the staged bundle and the flag.\n\
         mount -t tmpfs -o mode=0755 run /run\n\
         mkdir -p /run/hazel\n\
         cp -a /staged/killpower /run/hazel/killpower\n\
         cp -a /staged/flag /run/killpower\n\
         {restamp}\
         echo \"exitrd-test: boot $(cat /proc/sys/kernel/random/boot_id), intent $(grep boot_id /run/hazel/killpower/intent.toml)\"\n\
         exec /sbin/hazel-initrd {verb}\n",
        verb = case.verb
    )
}

/// Build the initramfs for `case` in `dir`; returns the cpio archive (uncompressed: the kernel takes it as is).
fn build_initramfs(tools: &Tools, case: &Case, dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for sub in ["bin", "sbin", "staged"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(&tools.busybox, root.join("bin/busybox")).unwrap();
    std::fs::copy(&tools.hazel_initrd, root.join("sbin/hazel-initrd")).unwrap();
    let init = root.join("init");
    std::fs::write(&init, init_script(case)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();

    let bytes = portable_megatec();
    let manifest = Manifest {
        format: hazel_killpower::FORMAT_VERSION,
        powerdown_flag: "/run/killpower".into(),
        power_race_wait_secs: case.power_race_wait_secs,
        upses: vec![UpsEntry {
            name: "rack".into(),
            driver: "nutdrv_qx".into(),
            plugin: PluginRef { file: "megatec.cwasm".into(), sha256: hazel_killpower::sha256_hex(&bytes) },
            device: DeviceGrant::Serial { path: VM_PORT.into() },
            settings: vec![
                Setting { key: "port".into(), value: Some(VM_PORT.into()) },
                Setting { key: "offdelay".into(), value: Some(case.offdelay.into()) },
                Setting { key: "ondelay".into(), value: Some(case.ondelay.into()) },
            ],
            kill_mode: KillMode::Return,
            returns_while_on_mains: ReturnsWhileOnMains::Unknown,
        }],
    };
    let plugins = [PluginFile { file: "megatec.cwasm".into(), bytes }];
    let bundle = root.join("staged/killpower");
    hazel_killpower::stage(&bundle, &manifest, &plugins, OTHER_BOOT).expect("staging the bundle");
    let intent = std::fs::read_to_string(bundle.join(hazel_killpower::INTENT_FILE)).unwrap();
    assert!(intent.contains(&format!("boot_id = \"{OTHER_BOOT}\"\n")), "/init's sed expects this line: {intent}");
    hazel_monitor::powerdown_flag::write(&root.join("staged/flag")).expect("writing the flag");

    let archive = dir.join("initramfs.cpio");
    // Owned by root inside, whoever runs the test: hazel-initrd trusts only a bundle directory of its own user.
    let status = Command::new("sh")
        .arg("-c")
        .arg("cd \"$ROOT\" && find . | cpio -o -H newc -R 0:0 --quiet > \"$OUT\"")
        .env("ROOT", &root)
        .env("OUT", &archive)
        .status()
        .expect("running cpio");
    assert!(status.success(), "cpio failed: {status}");
    archive
}

/// Boot the VM with ttyS1 wired to the simulator's pty.
fn boot(tools: &Tools, initramfs: &Path, sim: &RunningSimulator, dir: &Path) -> Vm {
    let console = dir.join("console.log");
    let child = Command::new(&tools.qemu)
        .args(["-accel", "tcg", "-cpu", "max", "-m", "256", "-nodefaults", "-display", "none", "-no-reboot"])
        .args(["-monitor", "none"])
        .arg("-kernel")
        .arg(&tools.kernel)
        .arg("-initrd")
        .arg(initramfs)
        // panic=-1: should PID 1 ever exit, the kernel panics and reboots at once, and qemu exits.
        .args(["-append", "console=ttyS0 quiet panic=-1"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-serial")
        .arg(sim.pty_path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting qemu");
    Vm { child, console }
}

/// Run `case` to its end: boot, and cut the VM's power when the UPS's output goes off.
fn run(case: &Case) -> Option<(RunningSimulator, String, End)> {
    let tools = tools()?;
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::spawn(SimulatorConfig { time_scale: case.time_scale, ..SimulatorConfig::default() })
        .expect("simulator");
    let initramfs = build_initramfs(&tools, case, dir.path());
    let mut vm = boot(&tools, &initramfs, &sim, dir.path());
    let deadline = Instant::now() + VM_TIMEOUT;
    let end = loop {
        if let Some(status) = vm.child.try_wait().expect("waiting for qemu") {
            break End::Exited(status);
        }
        if !sim.state().output_on {
            // The load lost its power: so does the VM.
            let _ = vm.child.kill();
            let _ = vm.child.wait();
            break End::PowerCut;
        }
        assert!(Instant::now() < deadline, "the VM did not end within {VM_TIMEOUT:?}; console:\n{}", vm.console());
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut console = vm.console();
    if let End::Exited(status) = &end
        && !status.success()
    {
        let mut stderr = String::new();
        if let Some(mut pipe) = vm.child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        console.push_str(&format!("\n[qemu exited with {status}: {stderr}]"));
    }
    // Shown with --nocapture, or when the test fails.
    eprintln!("VM ended: {end:?}\n--- console ---\n{console}\n--- UPS ---");
    sim.log().entries().iter().for_each(|entry| eprintln!("{entry}"));
    Some((sim, console, end))
}

/// The intent's boot ID and the VM's, as `/init` printed them: they must match exactly where the test says.
fn printed_boot_ids(console: &str) -> (String, String) {
    let line = console.lines().find(|l| l.contains("exitrd-test: boot ")).unwrap_or_else(|| panic!("{console}"));
    let vm = line.split("boot ").nth(1).and_then(|s| s.split(',').next()).unwrap().trim().to_string();
    let intent = line.split("boot_id = ").nth(1).unwrap().trim().trim_matches('"').to_string();
    (vm, intent)
}

#[test]
fn the_exitrd_kills_the_power_from_inside_the_vm() {
    let case = Case {
        verb: "poweroff",
        offdelay: "12",
        ondelay: "60",
        power_race_wait_secs: 120,
        this_boot: true,
        time_scale: 10.0,
    };
    let Some((sim, console, end)) = run(&case) else { return };
    let (vm_boot, intent_boot) = printed_boot_ids(&console);
    assert_eq!(vm_boot, intent_boot, "{console}");
    assert!(console.contains("UPS 'rack' (nutdrv_qx) told to cut the power"), "{console}");
    let commands = sim.log().commands();
    let shutdown = commands.iter().position(|c| c == "S.2R0001");
    let cancel = commands.iter().position(|c| c == "C");
    assert!(
        shutdown.is_some() && cancel < shutdown,
        "expected C then S.2R0001 among {commands:?}; console:\n{console}"
    );
    // hazel-initrd was waiting for the power to go when the UPS cut it: no reboot, no power-off of its own.
    assert!(matches!(end, End::PowerCut), "{end:?}; console:\n{console}");
    assert!(console.contains("waiting 120s for the UPS to cut the power"), "{console}");
    assert!(!console.contains("reboot: "), "{console}");
}

#[test]
fn the_exitrd_reboots_when_the_power_stays_on() {
    // The UPS's shutdown timer (2 min) outlasts hazel-initrd's wait: to the VM, the same as a UPS
    // that ignores "off, return on mains" while mains is present.
    let case = Case {
        verb: "poweroff",
        offdelay: "120",
        ondelay: "60",
        power_race_wait_secs: 3,
        this_boot: true,
        time_scale: 1.0,
    };
    let Some((sim, console, end)) = run(&case) else { return };
    let commands = sim.log().commands();
    let shutdown = commands.iter().position(|c| c == "S02R0001");
    let cancel = commands.iter().position(|c| c == "C");
    assert!(
        shutdown.is_some() && cancel < shutdown,
        "expected C then S02R0001 among {commands:?}; console:\n{console}"
    );
    assert!(matches!(&end, End::Exited(status) if status.success()), "{end:?}; console:\n{console}");
    assert!(console.contains("the power is still on 3s after kill-power"), "{console}");
    // The kernel's own word for it, not a power-off and not a panic.
    assert!(console.contains("reboot: Restarting system"), "{console}");
    assert!(!console.contains("reboot: Power down") && !console.contains("Kernel panic"), "{console}");
}

#[test]
fn an_intent_from_another_boot_is_ignored_in_the_exitrd() {
    let case = Case {
        verb: "poweroff",
        offdelay: "12",
        ondelay: "60",
        power_race_wait_secs: 120,
        this_boot: false,
        time_scale: 10.0,
    };
    let Some((sim, console, end)) = run(&case) else { return };
    let (vm_boot, intent_boot) = printed_boot_ids(&console);
    assert_eq!(intent_boot, OTHER_BOOT, "{console}");
    assert_ne!(vm_boot, OTHER_BOOT, "{console}");
    assert!(console.contains("a leftover from an earlier boot, ignored"), "{console}");
    assert!(matches!(&end, End::Exited(status) if status.success()), "{end:?}; console:\n{console}");
    assert!(console.contains("reboot: Power down"), "{console}");
    // qemu has exited: whatever the VM wrote to ttyS1 is with the simulator (its reader ticks every 50 ms).
    std::thread::sleep(Duration::from_millis(200));
    let received: Vec<_> = sim
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.command().is_some() || matches!(&e.kind, hazel_sim::LogKind::Event(t) if t.contains("noise")))
        .collect();
    assert!(received.is_empty(), "the UPS received {received:?}; console:\n{console}");
}
