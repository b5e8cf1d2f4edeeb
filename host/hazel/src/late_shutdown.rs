//! The late shutdown from the running system's side: `hazel kill-power UPS`
//! (NUT's `upsdrvctl shutdown UPS`), `hazel initrd-bundle` (the tree an image
//! builder copies in) and [`KillPowerStager`], which stages the kill-power
//! bundle for `hazel-initrd` when the monitor decides to shut down.

use std::path::{Path, PathBuf};

use anyhow::Context;
use hazel_killpower::{
    DeviceGrant, KillMode, Manifest, PluginFile, PluginRef, ReturnsWhileOnMains, Setting, UpsEntry, UsbHidDevice,
};
use hazel_monitor::upsmon_conf::{Role, UpsmonConf};
use hazel_nutconf::ups_conf::Section;
use hazel_runtime::bindings::power_race::CyclesOnMains;
use hazel_runtime::bindings::types::KillMode as PluginKillMode;
use hazel_runtime::grants::{UsbHidGrant, UsbHidSource, UsbMatch};
use hazel_runtime::{Plugin, PluginCatalog};

use crate::commands::open_plugins;
use crate::device_set::{DevicePlan, LoadedConfig, plan_devices};

/// The kill mode a ups.conf section asks for (the `stayoff` flag, as nutdrv_qx reads it).
fn kill_mode(section: &Section) -> KillMode {
    KillMode::from_ups_conf_flag(section.flag("stayoff"))
}

fn plugin_kill_mode(mode: KillMode) -> PluginKillMode {
    match mode {
        KillMode::Return => PluginKillMode::ReturnOnMains,
        KillMode::StayOff => PluginKillMode::StayOff,
    }
}

/// The plan of ups.conf section `name`, or an error naming what is wrong.
fn plan_for<'a>(
    loaded: &'a LoadedConfig,
    catalog: &PluginCatalog,
    name: &str,
) -> anyhow::Result<(&'a Section, DevicePlan)> {
    let section = loaded
        .ups_conf
        .sections()
        .iter()
        .find(|s| s.name() == name)
        .with_context(|| format!("{}: no UPS [{name}]", loaded.ups_conf.path().display()))?;
    let (plans, problems) = plan_devices(loaded, catalog);
    let plan = plans.into_iter().find(|p| p.config.name == name).ok_or_else(|| {
        let why = problems.iter().find(|p| p.contains(&format!("[{name}]"))).cloned();
        anyhow::anyhow!(why.unwrap_or_else(|| format!("UPS [{name}] cannot run")))
    })?;
    Ok((section, plan))
}

/// `hazel kill-power UPS`: tell UPS (a ups.conf section of `confdir`) to cut
/// its power now, through its plugin, as `upsdrvctl shutdown UPS` does with
/// NUT's drivers. The device must not be in use by a running `hazel serve`.
pub async fn kill_power(confdir: &Path, name: &str) -> anyhow::Result<()> {
    let loaded = LoadedConfig::load(confdir)?;
    let (runtime, catalog) = open_plugins(&loaded.settings).await?;
    let (section, plan) = plan_for(&loaded, &catalog, name)?;
    let mode = kill_mode(section);
    let config = &plan.config;
    hazel_runtime::kill::kill_power(
        &runtime,
        &config.plugin,
        &config.name,
        &config.grants,
        &config.settings,
        plugin_kill_mode(mode),
    )
    .await?;
    tracing::info!("UPS '{name}' told to cut the power ({mode:?})");
    Ok(())
}

/// Precompiled code of `plugin`: the `.cwasm` it was loaded from, or its
/// `.wasm` compiled now for the runtime-only engine: for this CPU, or with
/// `portable` for the architecture's baseline (code that runs on another machine).
fn precompiled(plugin: &Plugin, portable: bool) -> anyhow::Result<Vec<u8>> {
    let path = plugin.path();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "cwasm") {
        return Ok(bytes);
    }
    if portable {
        return Ok(hazel_runtime::engine::precompile_plugin_portable(path, &bytes)?);
    }
    Ok(hazel_runtime::engine::precompile_plugin(path, &bytes)?)
}

/// The USB HID device of a plan as the bundle records it: the same match
/// options (or the same replayed capture, made absolute), so the late host
/// finds the very device the running system drove.
fn usb_hid_device(grant: &UsbHidGrant) -> anyhow::Result<UsbHidDevice> {
    let mut device = UsbHidDevice { port: grant.name.clone(), ..UsbHidDevice::default() };
    match &grant.source {
        UsbHidSource::Replay(path) => {
            let absolute =
                std::path::absolute(path).with_context(|| format!("cannot make {} absolute", path.display()))?;
            device.replay = Some(absolute);
        }
        UsbHidSource::Match(options) => {
            let UsbMatch { vendorid, productid, vendor, product, serial, bus, device: address } = options.clone();
            device = UsbHidDevice { vendorid, productid, vendor, product, serial, bus, device: address, ..device };
        }
    }
    Ok(device)
}

/// The bundle entry and precompiled plugin of one planned device.
fn bundle_entry(section: &Section, plan: &DevicePlan) -> anyhow::Result<(UpsEntry, PluginFile)> {
    let config = &plan.config;
    let grants = &config.grants;
    let nothing_else = grants.files.is_empty() && grants.upstream.is_none();
    let device = match (&grants.serial, &grants.usb_hid) {
        (Some(serial), None) if nothing_else => DeviceGrant::Serial { path: serial.path.clone() },
        (None, Some(usb)) if nothing_else => DeviceGrant::UsbHid(usb_hid_device(usb)?),
        _ => anyhow::bail!(
            "UPS [{}]: only serial and USB HID devices can be switched off late so far (driver '{}')",
            config.name,
            section.driver()
        ),
    };
    // Staged on the machine that will run it: this CPU's features.
    let bytes = precompiled(&config.plugin, false)?;
    let file = format!("{}.cwasm", config.plugin.name());
    let entry = UpsEntry {
        name: config.name.clone(),
        driver: section.driver().to_string(),
        plugin: PluginRef { file: file.clone(), sha256: hazel_killpower::sha256_hex(&bytes) },
        device,
        settings: config
            .settings
            .iter()
            .map(|(key, value)| Setting { key: key.clone(), value: value.clone() })
            .collect(),
        kill_mode: kill_mode(section),
        // Filled in at staging from the live device (`KillPowerStager::stage`); until then the safe answer.
        returns_while_on_mains: ReturnsWhileOnMains::Unknown,
    };
    Ok((entry, PluginFile { file, bytes }))
}

/// Whether a `MONITOR` host names this machine, so its UPS may be a device in
/// this host's ups.conf.
fn is_local_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "localhost.localdomain")
        || std::fs::read_to_string("/proc/sys/kernel/hostname").is_ok_and(|name| name.trim() == host)
}

/// Stages the kill-power bundle when the monitor decides to shut down:
/// prepared when the monitor starts (plugins precompiled then, not at the
/// last minute), written by [`KillPowerStager::stage`], disarmed by
/// [`KillPowerStager::unstage`].
///
/// Whether each UPS cycles its load on mains (the power race) is its
/// plugin's answer for the model it found (`power-race`, asked after
/// `init`). The device is live then, driven by its instance in `hazel serve`,
/// so the stager never opens it a second time (a second `init` would talk to
/// the UPS behind the running instance's back, and a USB device cannot be
/// claimed twice): each device's supervisor asks its instance once, right
/// after `init`, and keeps the answer with the device; the stager reads it at
/// staging time with `STATUS <ups>` on `hazel serve`'s control socket. That
/// one path serves the monitor inside `hazel serve` and a separate `hazel
/// monitor` alike. A device that is not running, or a server that does not
/// answer, leaves the safe `unknown` (the late host then keeps its power-race
/// reboot).
#[derive(Debug)]
pub struct KillPowerStager {
    dir: PathBuf,
    manifest: Option<Manifest>,
    plugins: Vec<PluginFile>,
    /// `hazel serve`'s control socket, to ask the live devices.
    control_socket: Option<PathBuf>,
}

/// How long the stager waits for `hazel serve`'s answer about a device: the
/// shutdown must not wait on a server that hangs.
const LIVE_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The power-race answer in a control socket `STATUS` reply (its lines
/// before `OK`); `None` when the device has no running instance that answered.
pub fn power_race_from_status(lines: &[String]) -> Option<ReturnsWhileOnMains> {
    let prefix = format!("{}: ", crate::live_set::POWER_RACE_STATUS_KEY);
    let word = lines.iter().find_map(|line| line.strip_prefix(&prefix))?;
    ReturnsWhileOnMains::from_word(word.trim())
}

/// A live instance's `power-race` answer as the bundle records it.
pub fn bundle_answer(answer: CyclesOnMains) -> ReturnsWhileOnMains {
    match answer {
        CyclesOnMains::Yes => ReturnsWhileOnMains::Yes,
        CyclesOnMains::No => ReturnsWhileOnMains::No,
        CyclesOnMains::Unknown => ReturnsWhileOnMains::Unknown,
    }
}

/// Ask `hazel serve` at `socket` what the live device `name` declared about
/// the power race. Blocking, bounded by [`LIVE_ANSWER_TIMEOUT`] per read and
/// write: staging runs on the monitor's way to `SHUTDOWNCMD`.
fn ask_live_device(socket: &Path, name: &str) -> anyhow::Result<Option<ReturnsWhileOnMains>> {
    use std::io::{BufRead, Write};
    let stream = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("cannot reach hazel serve at {}", socket.display()))?;
    stream.set_read_timeout(Some(LIVE_ANSWER_TIMEOUT)).context("cannot set a read timeout")?;
    stream.set_write_timeout(Some(LIVE_ANSWER_TIMEOUT)).context("cannot set a write timeout")?;
    (&stream).write_all(format!("STATUS {name}\n").as_bytes()).context("cannot send STATUS")?;
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(&stream).lines() {
        let line = line.context("cannot read the STATUS answer")?;
        if line == "OK" {
            return Ok(power_race_from_status(&lines));
        }
        if let Some(message) = line.strip_prefix("ERR ") {
            anyhow::bail!("hazel serve: {message}");
        }
        lines.push(line);
    }
    anyhow::bail!("hazel serve closed the control connection without an answer")
}

impl KillPowerStager {
    /// Prepare the bundle for the UPSes this host is primary for (`MONITOR`
    /// lines of `upsmon` naming a local server) that are devices in
    /// `confdir`'s ups.conf. Nothing is staged without `POWERDOWNFLAG`,
    /// as NUT's late step never acts without it.
    pub async fn prepare(confdir: &Path, upsmon: &UpsmonConf, dir: &Path) -> anyhow::Result<KillPowerStager> {
        let mut stager =
            KillPowerStager { dir: dir.to_path_buf(), manifest: None, plugins: Vec::new(), control_socket: None };
        let Some(flag) = &upsmon.powerdown_flag else {
            tracing::info!("no POWERDOWNFLAG in upsmon.conf: no late shutdown will be staged");
            return Ok(stager);
        };
        let names: Vec<&str> = upsmon
            .monitors
            .iter()
            .filter(|m| m.role == Role::Primary && is_local_host(&m.system.host))
            .map(|m| m.system.ups.as_str())
            .collect();
        if names.is_empty() {
            return Ok(stager);
        }
        let loaded = LoadedConfig::load(confdir)?;
        stager.control_socket = Some(loaded.settings.control_socket());
        let (_runtime, catalog) = open_plugins(&loaded.settings).await?;
        let mut upses = Vec::new();
        for name in names {
            let prepared = plan_for(&loaded, &catalog, name).and_then(|(section, plan)| bundle_entry(section, &plan));
            match prepared {
                Ok((entry, plugin)) => {
                    if !stager.plugins.iter().any(|p| p.file == plugin.file) {
                        stager.plugins.push(plugin);
                    }
                    upses.push(entry);
                }
                Err(error) => tracing::warn!("late shutdown: UPS '{name}' will not be switched off: {error:#}"),
            }
        }
        if !flag.starts_with("/run") {
            tracing::warn!(
                "POWERDOWNFLAG {} is outside /run: an exitrd will not see it, so only a systemd-shutdown hook can act",
                flag.display()
            );
        }
        if !upses.is_empty() {
            stager.manifest = Some(Manifest {
                format: hazel_killpower::FORMAT_VERSION,
                powerdown_flag: flag.clone(),
                power_race_wait_secs: hazel_killpower::DEFAULT_POWER_RACE_WAIT_SECS,
                upses,
            });
        }
        Ok(stager)
    }

    /// The UPSes the bundle switches off.
    pub fn upses(&self) -> &[UpsEntry] {
        self.manifest.as_ref().map_or(&[], |m| &m.upses)
    }

    /// Write the bundle and arm it for this boot.
    pub fn stage(&self) -> anyhow::Result<()> {
        let Some(manifest) = &self.manifest else {
            tracing::info!("late shutdown: no local UPS to switch off");
            return Ok(());
        };
        let boot_id = hazel_killpower::current_boot_id()?;
        let mut manifest = manifest.clone();
        for ups in &mut manifest.upses {
            ups.returns_while_on_mains = self.live_power_race(&ups.name);
        }
        hazel_killpower::stage(&self.dir, &manifest, &self.plugins, &boot_id)?;
        let names: Vec<String> = manifest
            .upses
            .iter()
            .map(|u| format!("{} (returns while on mains: {:?})", u.name, u.returns_while_on_mains))
            .collect();
        tracing::info!("late shutdown staged in {} for {}", self.dir.display(), names.join(", "));
        Ok(())
    }

    /// What the live device `name` declared about the power race; the safe
    /// `Unknown` when that cannot be learned (said in the log).
    fn live_power_race(&self, name: &str) -> ReturnsWhileOnMains {
        let Some(socket) = &self.control_socket else { return ReturnsWhileOnMains::Unknown };
        match ask_live_device(socket, name) {
            Ok(Some(answer)) => answer,
            Ok(None) => {
                tracing::warn!("late shutdown: UPS '{name}' has no running instance to ask about the power race");
                ReturnsWhileOnMains::Unknown
            }
            Err(error) => {
                tracing::warn!("late shutdown: cannot ask UPS '{name}' about the power race: {error:#}");
                ReturnsWhileOnMains::Unknown
            }
        }
    }

    /// Disarm it (the shutdown was cancelled).
    pub fn unstage(&self) -> anyhow::Result<()> {
        Ok(hazel_killpower::unstage(&self.dir)?)
    }
}

/// `hazel initrd-bundle`: what to put in the tree.
#[derive(Debug)]
pub struct InitrdBundleRequest {
    /// Plugin names (file stems) to precompile into the tree.
    pub plugins: Vec<String>,
    /// The output directory.
    pub out: PathBuf,
    /// The `hazel-initrd` binary to copy; by default the one beside `hazel`.
    pub initrd_binary: Option<PathBuf>,
}

/// Where the tree puts things, as installed paths.
const LIB_DIR: &str = "usr/lib/hazel";
const HOOK_PATH: &str = "usr/lib/systemd/system-shutdown/hazel-killpower.shutdown";
const DRACUT_DIR: &str = "usr/lib/dracut/modules.d/91hazel";

fn write_file(path: &Path, text: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

/// `hazel initrd-bundle --plugins a,b -o DIR`: the tree an image builder
/// copies into the image: `hazel-initrd`, the precompiled plugins (with
/// their SHA-256 sums), the systemd-shutdown hook, a dracut module and a
/// README with the mkosi snippet.
pub async fn initrd_bundle(confdir: &Path, request: &InitrdBundleRequest) -> anyhow::Result<()> {
    let settings = crate::host_settings::HostSettings::load(confdir)?;
    let (_runtime, catalog) = open_plugins(&settings).await?;
    let out = &request.out;
    let mut sums = String::new();
    for name in &request.plugins {
        let plugin =
            catalog.get(name).with_context(|| format!("plugin '{name}' not found (see `hazel plugin list`)"))?;
        // The image boots on machines other than the builder's (a VM, an older CPU).
        let bytes = precompiled(&plugin, true)?;
        let file = format!("{name}.cwasm");
        write_file(&out.join(LIB_DIR).join("plugins").join(&file), &bytes, 0o644)?;
        sums.push_str(&format!("{}  {file}\n", hazel_killpower::sha256_hex(&bytes)));
    }
    write_file(&out.join(LIB_DIR).join("plugins/SHA256SUMS"), sums.as_bytes(), 0o644)?;
    let binary = match &request.initrd_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("cannot locate the hazel binary")?.with_file_name("hazel-initrd"),
    };
    let bytes = std::fs::read(&binary)
        .with_context(|| format!("cannot read {} (build it, or name it with --initrd-binary)", binary.display()))?;
    write_file(&out.join(LIB_DIR).join("hazel-initrd"), &bytes, 0o755)?;
    write_file(&out.join(HOOK_PATH), HOOK_SCRIPT.as_bytes(), 0o755)?;
    write_file(&out.join(DRACUT_DIR).join("module-setup.sh"), DRACUT_SETUP.as_bytes(), 0o755)?;
    write_file(&out.join(DRACUT_DIR).join("hazel-killpower.sh"), DRACUT_HOOK.as_bytes(), 0o755)?;
    write_file(&out.join("README.hazel-initrd.md"), README.as_bytes(), 0o644)?;
    println!("{}", out.display());
    Ok(())
}

const HOOK_SCRIPT: &str = r#"#!/bin/sh
# Hazel's late shutdown as a systemd-shutdown hook. systemd runs it after every
# service stopped and every file system is read-only, with the verb as $1.
# hazel-initrd acts only on a kill-power bundle staged in /run during this boot
# with POWERDOWNFLAG set; otherwise it does nothing. It returns, and systemd
# carries the verb out.
[ -x /usr/lib/hazel/hazel-initrd ] || exit 0
/usr/lib/hazel/hazel-initrd --bundle /run/hazel/killpower none
exit 0
"#;

const DRACUT_SETUP: &str = r#"#!/bin/bash
# dracut module: hazel-initrd at the shutdown stage of the exitrd
# (dracut's `shutdown` module unpacks the initrd to /run/initramfs at boot).
check() {
    require_binaries /usr/lib/hazel/hazel-initrd || return 1
    return 255
}

depends() {
    echo shutdown
}

install() {
    inst_simple /usr/lib/hazel/hazel-initrd
    inst_hook shutdown 90 "$moddir/hazel-killpower.sh"
}
"#;

const DRACUT_HOOK: &str = r#"#!/bin/sh
# dracut shutdown hook: the old root is gone; /run and /dev were carried over.
# Kill the UPS power per the staged bundle, then let dracut finish the verb.
/usr/lib/hazel/hazel-initrd --bundle /run/hazel/killpower none
"#;

const README: &str = r#"# hazel-initrd: late shutdown

This tree installs Hazel's late-shutdown host. When `hazel monitor` (primary)
decides to shut down, before SHUTDOWNCMD it writes POWERDOWNFLAG and stages a
kill-power bundle in /run/hazel/killpower (plugins, device, settings, an intent
stamped with the boot ID). At the very end of the shutdown `hazel-initrd`
switches the UPS off from that bundle alone.

- `usr/lib/hazel/hazel-initrd`: the static binary (wasmtime runtime only).
- `usr/lib/hazel/plugins/*.cwasm`: precompiled plugins and their SHA256SUMS;
  they must come from the same Hazel build as the binary, and are compiled
  for the architecture's baseline CPU, so they load on any machine of it.
- `usr/lib/systemd/system-shutdown/hazel-killpower.shutdown`: the hook for a
  classic OS.
- `usr/lib/dracut/modules.d/91hazel/`: a dracut module running it in the
  exitrd's shutdown stage (`add_dracutmodules+=" hazel "`).

Put POWERDOWNFLAG under /run (e.g. `POWERDOWNFLAG /run/killpower`): an exitrd
sees only /run, /dev, /proc and /sys of the old system.

## mkosi

mkosi's initrd has no shutdown stage, so make `hazel-initrd` the exitrd
itself: systemd-shutdown switches into /run/initramfs and runs
`/run/initramfs/shutdown VERB` when that file exists; /run and /dev come along.

```ini
# mkosi.conf
[Content]
ExtraTrees=hazel-initrd-tree/
```

```ini
# hazel-initrd-tree/usr/lib/tmpfiles.d/hazel-exitrd.conf
d /run/initramfs 0700 root root -
C /run/initramfs/shutdown 0700 root root - /usr/lib/hazel/hazel-initrd
```

As the exitrd it kills the power, then powers off, halts or reboots with
reboot(2); if the power is still on after `power_race_wait_secs` (120 s) it
reboots, so a host whose mains came back does not stay halted.
"#;

impl crate::monitor::LateShutdownStage for KillPowerStager {
    fn stage(&self, _conf: &UpsmonConf) -> anyhow::Result<()> {
        KillPowerStager::stage(self)
    }

    fn unstage(&self) -> anyhow::Result<()> {
        KillPowerStager::unstage(self)
    }
}

/// The monitor's late-shutdown step for `confdir`: a [`KillPowerStager`]
/// writing to hazel.toml's `killpower_dir` (default
/// [`hazel_killpower::DEFAULT_BUNDLE_DIR`]). If it cannot be prepared the
/// monitor still runs, without it, and says so.
pub async fn monitor_stage(
    confdir: &Path,
    upsmon: &UpsmonConf,
) -> std::sync::Arc<dyn crate::monitor::LateShutdownStage> {
    let dir = crate::host_settings::HostSettings::load(confdir)
        .ok()
        .and_then(|settings| settings.killpower_dir)
        .unwrap_or_else(|| hazel_killpower::DEFAULT_BUNDLE_DIR.into());
    match KillPowerStager::prepare(confdir, upsmon, &dir).await {
        Ok(stager) => std::sync::Arc::new(stager),
        Err(error) => {
            tracing::error!("late shutdown unavailable, the UPS will not be switched off: {error:#}");
            std::sync::Arc::new(crate::monitor::NoLateShutdown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_power_race_answer_is_read_from_a_status_reply() {
        let status = |word: &str| {
            vec!["name: rack".to_string(), format!("returns while on mains: {word}"), "uptime: 3".to_string()]
        };
        assert_eq!(power_race_from_status(&status("yes")), Some(ReturnsWhileOnMains::Yes));
        assert_eq!(power_race_from_status(&status("no")), Some(ReturnsWhileOnMains::No));
        assert_eq!(power_race_from_status(&status("unknown")), Some(ReturnsWhileOnMains::Unknown));
        assert_eq!(power_race_from_status(&status("maybe")), None);
        // A device without a running instance has no such line.
        assert_eq!(power_race_from_status(&["name: rack".to_string()]), None);
    }

    #[test]
    fn usb_hid_grants_keep_the_match_or_the_absolute_capture() {
        let options = UsbMatch { vendorid: Some("051d".into()), serial: Some("AS.*".into()), ..UsbMatch::default() };
        let grant = UsbHidGrant { name: "auto".into(), source: UsbHidSource::Match(options) };
        let device = usb_hid_device(&grant).unwrap();
        assert_eq!(device.port, "auto");
        assert_eq!((device.vendorid.as_deref(), device.serial.as_deref()), (Some("051d"), Some("AS.*")));
        assert_eq!((device.productid.as_deref(), device.replay.as_deref()), (None, None));

        let grant = UsbHidGrant { name: "replay:ups.txt".into(), source: UsbHidSource::Replay("ups.txt".into()) };
        let device = usb_hid_device(&grant).unwrap();
        let replay = device.replay.expect("a capture");
        assert!(replay.is_absolute() && replay.ends_with("ups.txt"), "{}", replay.display());
        assert_eq!(device.vendorid, None);
    }

    #[test]
    fn staging_without_a_server_to_ask_leaves_the_safe_answer() {
        let dir = tempfile::tempdir().unwrap();
        let stager = KillPowerStager {
            dir: dir.path().join("bundle"),
            manifest: None,
            plugins: Vec::new(),
            control_socket: Some(dir.path().join("nobody-listens.sock")),
        };
        assert_eq!(stager.live_power_race("rack"), ReturnsWhileOnMains::Unknown);
    }
}
