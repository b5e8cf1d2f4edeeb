//! `cargo xtask`: the project's build, demo, test and benchmark entry points.
//!
//! Each command installs what it needs when it is missing (the wasm32-wasip2
//! target, Debian packages for end-to-end tests), so a fresh clone on a fresh
//! Debian machine with rustup needs nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  build   build the plugins (wasm32-wasip2) and the host; plugins land in target/plugins
  demo    build, then serve the bundled demo config (a dummy UPS) on 127.0.0.1:3493
  test    build, then run every test (installs what the tests need when missing)
  bench   build in release mode and run the benchmarks in bench/ (`bench net`: NUT server vs upsd only;
          `bench killpower`: hazel-initrd vs nutdrv_qx -k)
";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("build") => build(&root),
        Some("demo") => demo(&root),
        Some("test") => test(&root, &args[1..]),
        Some("bench") => bench(&root, &args[1..]),
        _ => {
            eprint!("{USAGE}");
            bail!("unknown or missing command")
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Run a command, failing with its description if it does not succeed.
fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: {shown}");
    let status = cmd.status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// `rustup target add wasm32-wasip2` unless it is there already.
fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if let Ok(out) = &installed
        && String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))
}

/// Install Debian packages that provide `programs`, if any is missing.
fn ensure_debian_packages(packages: &[&str], programs: &[&str]) -> anyhow::Result<()> {
    if programs.iter().all(|p| have(p) || Path::new(p).exists()) {
        return Ok(());
    }
    run(&mut apt_get(&["update", "-q"]))?;
    let mut install = apt_get(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(packages);
    run(&mut install)
}

/// `apt-get ARGS` as root (through sudo when not root).
fn apt_get(args: &[&str]) -> Command {
    let mut cmd = if is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// NUT's clients (`nut-client`) and its upsd and drivers (`nut-server`).
fn ensure_nut() -> anyhow::Result<()> {
    ensure_debian_packages(
        &["nut-client", "nut-server"],
        &["upsc", "upscmd", "upsrw", "/usr/sbin/upsd", "/lib/nut/dummy-ups"],
    )
}

/// The exitrd test's VM: qemu, a static busybox and cpio from Debian, and a
/// Debian kernel extracted once into `target/qemu/vmlinuz` (the package named
/// exactly: a glob would fetch every kernel flavour).
fn ensure_qemu(root: &Path) -> anyhow::Result<()> {
    // Debian's dynamic busybox also installs /bin/busybox: look for busybox-static's own files.
    let programs = ["qemu-system-x86_64", "cpio", "/usr/share/doc/busybox-static"];
    ensure_debian_packages(&["qemu-system-x86", "busybox-static", "cpio"], &programs)?;
    let dir = root.join("target/qemu");
    let kernel = dir.join("vmlinuz");
    if kernel.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The package lists may be older than the last kernel update: refresh them first.
    run(&mut apt_get(&["update", "-q"]))?;
    let depends = Command::new("apt-cache").args(["depends", "linux-image-amd64"]).output()?;
    let package = String::from_utf8_lossy(&depends.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: ").filter(|p| p.starts_with("linux-image-")).map(str::to_string))
        .context("apt-cache depends linux-image-amd64 names no kernel package")?;
    run(Command::new("apt-get").current_dir(&dir).args(["download", &package]))?;
    let deb = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    let extract = "dpkg-deb --fsys-tarfile \"$DEB\" | tar -xO --wildcards './boot/vmlinuz-*' > vmlinuz.part \
                   && mv vmlinuz.part vmlinuz";
    run(Command::new("sh").current_dir(&dir).args(["-c", extract]).env("DEB", &deb))?;
    std::fs::remove_file(&deb).with_context(|| format!("removing {}", deb.display()))
}

/// The static `hazel-initrd` of the initrd profile, in its own target dir
/// (a static build's flags would rebuild everything in target/debug).
fn build_static_initrd(root: &Path) -> anyhow::Result<()> {
    let target = host_triple()?;
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["build", "-p", "hazel-initrd", "--profile", "initrd", "--target", &target, "--target-dir"])
        .arg(root.join("target/initrd"))
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    run(&mut cmd)
}

/// `pip install` the Python modules in `modules` that `python3` cannot import.
fn ensure_python_packages(modules: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = modules
        .iter()
        .copied()
        .filter(|m| {
            !Command::new("python3").args(["-c", &format!("import {m}")]).output().is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("python3").args(["-m", "pip", "install", "--quiet"]).args(&missing))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Build every plugin for wasm32-wasip2 and copy them to target/plugins,
/// where the host finds them (beside target/debug and target/release).
fn build_plugins(root: &Path) -> anyhow::Result<PathBuf> {
    ensure_wasm_target()?;
    run(cargo().current_dir(root.join("plugins")).args(["build", "--release", "--target", "wasm32-wasip2"]))?;
    let built = root.join("plugins/target/wasm32-wasip2/release");
    let dest = root.join("target/plugins");
    std::fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
    for entry in std::fs::read_dir(&built).with_context(|| format!("reading {}", built.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path.file_name().expect("a file name");
            // Test plugins stay out of the installed plugin set; tests load them from `built`.
            if is_test_plugin(&name.to_string_lossy()) {
                continue;
            }
            std::fs::copy(&path, dest.join(name)).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(built)
}

fn is_test_plugin(file: &str) -> bool {
    matches!(file, "misbehave.wasm" | "wasi_fs.wasm" | "serial_probe.wasm" | "contract_010.wasm")
}

fn build(root: &Path) -> anyhow::Result<()> {
    build_plugins(root)?;
    // hazel-initrd too: the late-shutdown e2e test runs it.
    run(cargo().current_dir(root).args(["build", "-p", "hazel", "-p", "hazel-initrd"]))
}

/// The pty link of the demo's simulated serial UPS: `port =` of `[serial]` in host/hazel/demo/ups.conf.
const DEMO_SERIAL_LINK: &str = "/tmp/hazel-demo-ttyUPS";

fn demo(root: &Path) -> anyhow::Result<()> {
    build(root)?;
    run(cargo().current_dir(root).args(["build", "-p", "hazel-sim"]))?;
    let confdir = root.join("host/hazel/demo");
    // The serial UPS: a simulator whose mains fail on a loop, a simulated minute per 6 real seconds.
    let mut simulator = Command::new(root.join("target/debug/hazel-sim"))
        .args(["megatec", "--time-scale", "10", "--load", "100", "--loop", "--link", DEMO_SERIAL_LINK, "--script"])
        .arg(confdir.join("mains-cycle.sim"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot start target/debug/hazel-sim")?;
    eprintln!(
        "xtask: serving {} — try `upsc demo@127.0.0.1` or `upsc serial@127.0.0.1 ups.status` in another terminal; \
         Ctrl-C stops",
        confdir.display()
    );
    let served = run(Command::new(root.join("target/debug/hazel")).arg("serve").arg("-c").arg(&confdir));
    // On Ctrl-C the terminal's SIGINT reached the simulator too; otherwise stop it here.
    let _ = simulator.kill();
    let _ = simulator.wait();
    served
}

fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    let plugin_dir = build_plugins(root)?;
    // End-to-end tests talk to Hazel with NUT's own clients and the aionut library, and
    // compare Hazel with NUT's own upsd and dummy-ups.
    ensure_nut()?;
    ensure_python_packages(&["aionut"])?;
    // The exitrd test boots the static hazel-initrd in a VM.
    if let Err(error) = ensure_qemu(root) {
        eprintln!("xtask: warning: {error:#}: the exitrd qemu test will skip");
    }
    build_static_initrd(root)?;
    // Plugin logic is plain Rust: its unit tests run natively.
    let host_target = host_triple()?;
    run(cargo().current_dir(root.join("plugins")).args(["test", "--target", &host_target, "--workspace"]))?;
    // End-to-end tests run the hazel and hazel-initrd binaries (and simulate serial UPSes with hazel-sim).
    run(cargo().current_dir(root).args(["build", "-p", "hazel", "-p", "hazel-sim", "-p", "hazel-initrd"]))?;
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("HAZEL_PLUGIN_DIR", &plugin_dir);
    run(&mut cmd)
}

fn bench(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    build_plugins(root)?;
    // Benchmarks run real upsd beside Hazel, and NUT's nutdrv_qx -k beside the static hazel-initrd.
    ensure_nut()?;
    build_static_initrd(root)?;
    // A separate target dir: a release build holds cargo's lock on its target dir for
    // minutes, and must not block debug builds and tests meanwhile.
    let target = root.join("target/bench");
    run(cargo().current_dir(root).args(["build", "--release", "-p", "hazel", "--target-dir"]).arg(&target))?;
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["run", "--release", "-p", "hazel-bench", "--target-dir"])
        .arg(&target)
        .arg("--")
        .args(extra);
    run(&mut cmd)
}

fn host_triple() -> anyhow::Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("rustc -vV printed no host triple")
}
