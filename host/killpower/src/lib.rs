//! The kill-power bundle: everything the late-shutdown host (`hazel-initrd`)
//! needs to switch the UPSes off after the OS is gone, staged under `/run`
//! while the system still runs.
//!
//! A bundle is a directory (mode 0700, root only):
//!
//! ```text
//! DIR/bundle.toml          the manifest: per UPS its plugin (file + SHA-256), device, settings, kill mode
//! DIR/plugins/NAME.cwasm   precompiled plugins (native code, trusted only through the manifest's digests)
//! DIR/intent.toml          the intent: the boot it was staged in and the manifest's digest
//! ```
//!
//! The intent arms the bundle and is written last; [`unstage`] removes it
//! when the shutdown is cancelled. [`Bundle::load`] acts only on an intent of
//! the current boot whose manifest is unchanged, and only while
//! `POWERDOWNFLAG` carries NUT's magic (as `upsmon -K` checks it), so a stale
//! bundle never cuts power on a later, ordinary shutdown.
#![deny(missing_docs)]

mod atomic;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use hazel_monitor::powerdown_flag::{self, FlagCheck};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where the monitor stages the bundle unless configured otherwise. `/run`
/// survives until the very end of a shutdown and is carried into the exitrd.
pub const DEFAULT_BUNDLE_DIR: &str = "/run/hazel/killpower";
/// The manifest's file name in the bundle.
pub const MANIFEST_FILE: &str = "bundle.toml";
/// The intent's file name in the bundle.
pub const INTENT_FILE: &str = "intent.toml";
/// The directory of precompiled plugins in the bundle.
pub const PLUGIN_DIR: &str = "plugins";
/// The manifest format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Where the kernel says which boot this is.
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";
/// How long the late-shutdown host waits for the UPS to cut the power before
/// it concludes that mains came back and reboots (the power race). Longer
/// than the default Megatec shutdown delay (30 s) with margin.
pub const DEFAULT_POWER_RACE_WAIT_SECS: u64 = 120;

/// What the late-shutdown host needs, as written to `bundle.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The `POWERDOWNFLAG` file to check before acting (as `upsmon -K` does).
    pub powerdown_flag: PathBuf,
    /// After a successful kill-power, how long to wait for the power to go
    /// before rebooting (only when the host was asked to halt or power off and
    /// some UPS is not known to cycle the load while on mains). 0: never wait.
    #[serde(default = "default_power_race_wait")]
    pub power_race_wait_secs: u64,
    /// The UPSes to switch off, in order.
    #[serde(rename = "ups")]
    pub upses: Vec<UpsEntry>,
}

fn default_power_race_wait() -> u64 {
    DEFAULT_POWER_RACE_WAIT_SECS
}

/// One UPS to switch off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsEntry {
    /// The ups.conf section name, for messages.
    pub name: String,
    /// The NUT driver name from ups.conf, for messages.
    pub driver: String,
    /// The precompiled plugin that drives it.
    pub plugin: PluginRef,
    /// The one device the plugin is granted.
    pub device: DeviceGrant,
    /// Settings as the device runs them (`port` and the driver options,
    /// including `ondelay`/`offdelay`), passed to the plugin's `init`.
    #[serde(default)]
    pub settings: Vec<Setting>,
    /// How the load is left.
    #[serde(default)]
    pub kill_mode: KillMode,
    /// Whether this UPS cycles its load on "off, return when mains is back"
    /// while mains is present (the power race). Declared per plugin/model.
    #[serde(default)]
    pub returns_while_on_mains: ReturnsWhileOnMains,
}

/// A precompiled plugin in the bundle's `plugins/` directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// File name in `plugins/`, e.g. `megatec.cwasm`; a plain name, never a path.
    pub file: String,
    /// SHA-256 of the file, lowercase hex. Checked before the code is loaded.
    pub sha256: String,
}

/// What a plugin may reach. One device per UPS; SNMP grants will come with
/// their capability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum DeviceGrant {
    /// A serial port, opened by the host at `path`.
    Serial {
        /// The device node, e.g. `/dev/ttyUSB0`.
        path: PathBuf,
    },
    /// A USB HID device, found as the running system found it: by NUT's
    /// match options from ups.conf (each a regex over the whole string,
    /// ASCII case-insensitive; unset ones match anything), or a capture
    /// replayed as the device.
    UsbHid(UsbHidDevice),
}

/// How the late host finds a UPS's USB HID device ([`DeviceGrant::UsbHid`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbHidDevice {
    /// ups.conf's `port` as written (`auto`, `replay:...`), for messages.
    pub port: String,
    /// `port = replay:PATH`: the capture replayed as the device, as an
    /// absolute path. When set, the match options are not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<PathBuf>,
    /// `vendorid`: against the 4-digit lower-case hex idVendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendorid: Option<String>,
    /// `productid`: against the 4-digit lower-case hex idProduct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub productid: Option<String>,
    /// `vendor`: against the iManufacturer string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// `product`: against the iProduct string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// `serial`: against the iSerialNumber string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// `bus`: against the 3-digit decimal bus number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// `device`: against the 3-digit decimal device address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// One `init` setting: a key with a value, or a flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// The option name, e.g. `offdelay`.
    pub key: String,
    /// Its value; absent for a flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// How `kill-power` leaves the load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillMode {
    /// Off after the shutdown delay, back on when mains returns (`shutdown.return`).
    #[default]
    Return,
    /// Off, and it stays off (`shutdown.stayoff`).
    StayOff,
}

impl KillMode {
    /// The mode a ups.conf section asks for: `stay-off` when it carries the
    /// `stayoff` flag (nutdrv_qx's and blazer's flag, so NUT's drivers read the
    /// same ups.conf the same way), otherwise `return`.
    pub fn from_ups_conf_flag(stayoff: bool) -> KillMode {
        if stayoff { KillMode::StayOff } else { KillMode::Return }
    }
}

/// Whether a UPS cycles the load on a return-on-mains kill while mains is present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReturnsWhileOnMains {
    /// Not declared: assume it may not, and guard against the power race.
    #[default]
    Unknown,
    /// It does: the load is cycled whatever the mains does.
    Yes,
    /// It does not: if mains is back, the load stays on.
    No,
}

impl ReturnsWhileOnMains {
    /// Every answer, for tables and tests.
    pub const ALL: [ReturnsWhileOnMains; 3] =
        [ReturnsWhileOnMains::Unknown, ReturnsWhileOnMains::Yes, ReturnsWhileOnMains::No];

    /// The answer as a word, as `bundle.toml` writes it (`yes`, `no`, `unknown`).
    pub fn as_word(self) -> &'static str {
        match self {
            ReturnsWhileOnMains::Unknown => "unknown",
            ReturnsWhileOnMains::Yes => "yes",
            ReturnsWhileOnMains::No => "no",
        }
    }

    /// The answer a word of [`ReturnsWhileOnMains::as_word`] names.
    pub fn from_word(word: &str) -> Option<ReturnsWhileOnMains> {
        ReturnsWhileOnMains::ALL.into_iter().find(|answer| answer.as_word() == word)
    }
}

/// The intent that arms a bundle, as written to `intent.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// The boot it was staged in ([`BOOT_ID_PATH`]).
    pub boot_id: String,
    /// When it was staged, seconds since the Unix epoch (for messages).
    pub staged_at_unix: u64,
    /// SHA-256 of `bundle.toml` as staged, lowercase hex.
    pub manifest_sha256: String,
}

/// A bundle that may not be used, or could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file operation failed.
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// No intent: nothing was staged, or the shutdown was cancelled.
    #[error("{}: no kill-power intent (nothing staged, or the shutdown was cancelled)", .path.display())]
    NotArmed {
        /// The intent file.
        path: PathBuf,
    },
    /// The intent was staged in another boot: a leftover, never acted on.
    #[error("{}: staged in boot {staged}, this is boot {current}: a leftover from an earlier boot, ignored", .path.display())]
    OtherBoot {
        /// The intent file.
        path: PathBuf,
        /// The boot ID in the intent.
        staged: String,
        /// This boot's ID.
        current: String,
    },
    /// `POWERDOWNFLAG` is not set (missing, foreign content or unreadable).
    #[error("power-down flag {}: {reason}; the monitor did not ask for the power to be cut", .path.display())]
    FlagNotSet {
        /// The flag file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// A file's SHA-256 is not the one recorded.
    #[error("{}: SHA-256 is {actual}, expected {expected}: refusing to load it", .path.display())]
    DigestMismatch {
        /// The file.
        path: PathBuf,
        /// The recorded digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// A file could not be parsed or holds something invalid.
    #[error("{}: {message}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The bundle directory could be changed by someone other than its owner.
    #[error("{}: {message}; its plugins cannot be trusted", .path.display())]
    Unsafe {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_error(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io { path, action, source }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// This boot's ID, from [`BOOT_ID_PATH`].
pub fn current_boot_id() -> Result<String, BundleError> {
    let path = Path::new(BOOT_ID_PATH);
    let text = fs::read_to_string(path).map_err(io_error(path, "read"))?;
    let id = text.trim();
    if id.is_empty() {
        return Err(BundleError::Invalid { path: path.into(), message: "empty boot ID".into() });
    }
    Ok(id.to_string())
}

/// A precompiled plugin to stage: its file name in `plugins/` and its bytes.
#[derive(Clone, Debug)]
pub struct PluginFile {
    /// File name, e.g. `megatec.cwasm`.
    pub file: String,
    /// The precompiled code.
    pub bytes: Vec<u8>,
}

/// Stage a bundle in `dir` for boot `boot_id`: the plugins, the manifest,
/// then the intent, each written atomically (temporary file, fsync, rename,
/// fsync of the directory), files 0600 and directories 0700. Any earlier
/// intent is removed first, so a half-written bundle is never armed.
///
/// Every plugin the manifest references must be among `plugins` with the
/// digest the manifest records.
pub fn stage(dir: &Path, manifest: &Manifest, plugins: &[PluginFile], boot_id: &str) -> Result<(), BundleError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    validate_manifest(&manifest_path, manifest)?;
    for ups in &manifest.upses {
        let staged = plugins.iter().find(|p| p.file == ups.plugin.file).ok_or_else(|| BundleError::Invalid {
            path: manifest_path.clone(),
            message: format!("UPS '{}': plugin {} is not among the staged plugins", ups.name, ups.plugin.file),
        })?;
        let actual = sha256_hex(&staged.bytes);
        if actual != ups.plugin.sha256 {
            return Err(BundleError::DigestMismatch {
                path: dir.join(PLUGIN_DIR).join(&staged.file),
                expected: ups.plugin.sha256.clone(),
                actual,
            });
        }
    }
    atomic::create_private_dir(dir)?;
    unstage(dir)?;
    let plugin_dir = dir.join(PLUGIN_DIR);
    atomic::create_private_dir(&plugin_dir)?;
    for plugin in plugins {
        check_plain_name(&manifest_path, &plugin.file)?;
        atomic::write_file(&plugin_dir.join(&plugin.file), &plugin.bytes)?;
    }
    let manifest_text = toml::to_string(manifest)
        .map_err(|e| BundleError::Invalid { path: manifest_path.clone(), message: format!("cannot encode: {e}") })?;
    atomic::write_file(&manifest_path, manifest_text.as_bytes())?;
    let intent = Intent {
        boot_id: boot_id.to_string(),
        staged_at_unix: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        manifest_sha256: sha256_hex(manifest_text.as_bytes()),
    };
    let intent_path = dir.join(INTENT_FILE);
    let intent_text = toml::to_string(&intent)
        .map_err(|e| BundleError::Invalid { path: intent_path.clone(), message: format!("cannot encode: {e}") })?;
    atomic::write_file(&intent_path, intent_text.as_bytes())
}

/// Disarm the bundle in `dir`: remove its intent (the monitor cancelled the
/// shutdown). Nothing to remove is fine.
pub fn unstage(dir: &Path) -> Result<(), BundleError> {
    let path = dir.join(INTENT_FILE);
    match fs::remove_file(&path) {
        Ok(()) => atomic::sync_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(&path, "remove")(e)),
    }
}

/// An armed bundle, validated: the intent is of this boot, the manifest is
/// the one it was staged with, and `POWERDOWNFLAG` is set.
#[derive(Clone, Debug)]
pub struct Bundle {
    dir: PathBuf,
    intent: Intent,
    manifest: Manifest,
}

impl Bundle {
    /// Read and validate the bundle in `dir` for the boot `current_boot_id`.
    /// `flag_override` checks that file instead of the manifest's
    /// `powerdown_flag`. Any refusal says why; nothing is acted on.
    pub fn load(dir: &Path, current_boot_id: &str, flag_override: Option<&Path>) -> Result<Bundle, BundleError> {
        check_private_dir(dir)?;
        let intent_path = dir.join(INTENT_FILE);
        let intent_text = match fs::read_to_string(&intent_path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BundleError::NotArmed { path: intent_path }),
            Err(e) => return Err(io_error(&intent_path, "read")(e)),
        };
        let intent: Intent = parse_toml(&intent_path, &intent_text)?;
        if intent.boot_id != current_boot_id {
            return Err(BundleError::OtherBoot {
                path: intent_path,
                staged: intent.boot_id,
                current: current_boot_id.to_string(),
            });
        }
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_bytes = fs::read(&manifest_path).map_err(io_error(&manifest_path, "read"))?;
        let actual = sha256_hex(&manifest_bytes);
        if actual != intent.manifest_sha256 {
            return Err(BundleError::DigestMismatch { path: manifest_path, expected: intent.manifest_sha256, actual });
        }
        let manifest_text = String::from_utf8(manifest_bytes)
            .map_err(|_| BundleError::Invalid { path: manifest_path.clone(), message: "not UTF-8".into() })?;
        let manifest: Manifest = parse_toml(&manifest_path, &manifest_text)?;
        validate_manifest(&manifest_path, &manifest)?;
        let flag = flag_override.unwrap_or(&manifest.powerdown_flag);
        let reason = match powerdown_flag::check(flag) {
            FlagCheck::Set => None,
            FlagCheck::Absent => Some("absent".to_string()),
            FlagCheck::Foreign => Some(format!("does not start with {:?}", powerdown_flag::MAGIC)),
            FlagCheck::Unreadable(e) => Some(format!("unreadable ({})", e.source)),
        };
        if let Some(reason) = reason {
            return Err(BundleError::FlagNotSet { path: flag.to_path_buf(), reason });
        }
        Ok(Bundle { dir: dir.to_path_buf(), intent, manifest })
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The intent that armed it.
    pub fn intent(&self) -> &Intent {
        &self.intent
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the plugin of `ups` is.
    pub fn plugin_path(&self, ups: &UpsEntry) -> PathBuf {
        self.dir.join(PLUGIN_DIR).join(&ups.plugin.file)
    }

    /// The plugin of `ups`, read once and checked against the manifest's
    /// digest: load exactly these bytes, never the file again.
    pub fn read_plugin(&self, ups: &UpsEntry) -> Result<Vec<u8>, BundleError> {
        let path = self.plugin_path(ups);
        let bytes = fs::read(&path).map_err(io_error(&path, "read"))?;
        let actual = sha256_hex(&bytes);
        if actual != ups.plugin.sha256 {
            return Err(BundleError::DigestMismatch { path, expected: ups.plugin.sha256.clone(), actual });
        }
        Ok(bytes)
    }
}

fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, BundleError> {
    toml::from_str(text).map_err(|e| BundleError::Invalid { path: path.into(), message: e.message().to_string() })
}

fn validate_manifest(path: &Path, manifest: &Manifest) -> Result<(), BundleError> {
    let invalid = |message: String| BundleError::Invalid { path: path.into(), message };
    if manifest.format != FORMAT_VERSION {
        return Err(invalid(format!("format {} is not the supported {FORMAT_VERSION}", manifest.format)));
    }
    if manifest.upses.is_empty() {
        return Err(invalid("no UPS to switch off".into()));
    }
    if !manifest.powerdown_flag.is_absolute() {
        return Err(invalid(format!("powerdown_flag {} is not an absolute path", manifest.powerdown_flag.display())));
    }
    for ups in &manifest.upses {
        check_plain_name(path, &ups.plugin.file)?;
        let digest = &ups.plugin.sha256;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(invalid(format!("UPS '{}': sha256 {digest:?} is not 64 lowercase hex digits", ups.name)));
        }
        match &ups.device {
            DeviceGrant::Serial { path: port } if !port.is_absolute() => {
                return Err(invalid(format!(
                    "UPS '{}': serial port {} is not an absolute path",
                    ups.name,
                    port.display()
                )));
            }
            DeviceGrant::UsbHid(UsbHidDevice { replay: Some(capture), .. }) if !capture.is_absolute() => {
                return Err(invalid(format!(
                    "UPS '{}': replayed capture {} is not an absolute path",
                    ups.name,
                    capture.display()
                )));
            }
            DeviceGrant::Serial { .. } | DeviceGrant::UsbHid(_) => {}
        }
    }
    Ok(())
}

fn check_plain_name(path: &Path, name: &str) -> Result<(), BundleError> {
    if name.is_empty() || name.starts_with('.') || name.contains('/') || name.contains('\0') {
        return Err(BundleError::Invalid {
            path: path.into(),
            message: format!("plugin file {name:?} is not a plain file name"),
        });
    }
    Ok(())
}

/// The bundle's code is trusted by its digests, which are only as good as the
/// directory holding them: it must belong to this user and be writable by no one else.
fn check_private_dir(dir: &Path) -> Result<(), BundleError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).map_err(io_error(dir, "open the bundle directory"))?;
    let unsafe_dir = |message: &str| BundleError::Unsafe { path: dir.into(), message: message.into() };
    if !meta.is_dir() {
        return Err(unsafe_dir("not a directory"));
    }
    if meta.uid() != atomic::effective_uid() {
        return Err(unsafe_dir("owned by another user"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_dir("writable by group or others"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
