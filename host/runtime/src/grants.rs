//! What a device may reach, and the check of a plugin's imports against it.
//!
//! The host, not the plugin, decides grants: they follow from the device's
//! configuration (its driver and `port=`). Logging and time are always
//! granted; everything else only when the configuration names a resource.
//! A plugin whose component imports anything beyond its device's grants does
//! not start.

use std::path::PathBuf;
use std::sync::Arc;

use hazel_state::DeviceState;

use crate::bindings::{PACKAGE, PACKAGE_VERSION};
use crate::device::DeviceClient;

/// A file a device may read: the name the plugin uses (as spelled in the
/// config) and the path the host resolved it to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileGrant {
    /// The path as written in the device's configuration; the plugin must use exactly this.
    pub name: String,
    /// Where the host reads it.
    pub path: PathBuf,
}

/// The serial port a device may use: the name as spelled in the config and
/// the path the host opens. The plugin never names it; the host opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialGrant {
    /// The port as written in the device's configuration (`port=`), for messages.
    pub name: String,
    /// The device node the host opens.
    pub path: PathBuf,
}

/// The one device a virtual device reads (the `upstream` capability) and,
/// with `control`, commands (`upstream-control`).
#[derive(Clone, Debug)]
pub struct UpstreamGrant {
    /// The upstream device's name (its ups.conf section).
    pub device: String,
    /// Whether instant commands and variable writes on it are granted too.
    pub control: bool,
    /// Its published state, read and watched by the virtual device.
    pub state: Arc<DeviceState>,
    /// Its supervisor, which runs the commands.
    pub client: DeviceClient,
}

impl PartialEq for UpstreamGrant {
    /// The same device, by identity of its state, with the same rights.
    fn eq(&self, other: &Self) -> bool {
        self.device == other.device && self.control == other.control && Arc::ptr_eq(&self.state, &other.state)
    }
}

impl Eq for UpstreamGrant {}
/// NUT's USB match options (`vendorid`, `productid`, `vendor`, `product`,
/// `serial`, `bus`, `device`), each a case-insensitive regex that must match
/// the whole string; unset ones match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsbMatch {
    /// `vendorid`: matched against 4-digit lower-case hex.
    pub vendorid: Option<String>,
    /// `productid`: matched against 4-digit lower-case hex.
    pub productid: Option<String>,
    /// `vendor`: the iManufacturer string.
    pub vendor: Option<String>,
    /// `product`: the iProduct string.
    pub product: Option<String>,
    /// `serial`: the iSerialNumber string.
    pub serial: Option<String>,
    /// `bus`: the bus number, 3-digit decimal.
    pub bus: Option<String>,
    /// `device`: the device address on its bus, 3-digit decimal.
    pub device: Option<String>,
}

impl UsbMatch {
    /// The option names, in the order NUT lists them.
    pub const OPTIONS: [&'static str; 7] = ["vendorid", "productid", "vendor", "product", "serial", "bus", "device"];

    /// Set option `name` (one of [`UsbMatch::OPTIONS`]); `false` for any other name.
    pub fn set(&mut self, name: &str, pattern: &str) -> bool {
        let slot = match name {
            "vendorid" => &mut self.vendorid,
            "productid" => &mut self.productid,
            "vendor" => &mut self.vendor,
            "product" => &mut self.product,
            "serial" => &mut self.serial,
            "bus" => &mut self.bus,
            "device" => &mut self.device,
            _ => return false,
        };
        *slot = Some(pattern.to_string());
        true
    }

    /// The options that are set, as (name, pattern).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let values =
            [&self.vendorid, &self.productid, &self.vendor, &self.product, &self.serial, &self.bus, &self.device];
        Self::OPTIONS.into_iter().zip(values).filter_map(|(name, v)| v.as_deref().map(|v| (name, v)))
    }

    /// For messages: `auto (vendorid=051d, serial=X)`, or `auto (any)`.
    pub fn describe(&self) -> String {
        let set: Vec<String> = self.iter().map(|(name, v)| format!("{name}={v}")).collect();
        if set.is_empty() { "auto (any)".into() } else { format!("auto ({})", set.join(", ")) }
    }
}

/// Where a device's USB HID device comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsbHidSource {
    /// The first device on the machine's USB buses that matches (`port = auto`).
    Match(UsbMatch),
    /// A capture file replayed as a device (`port = replay:PATH`).
    Replay(PathBuf),
}

/// The USB HID device a device may use: only the one its options select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbHidGrant {
    /// The port as written in the device's configuration, for messages.
    pub name: String,
    /// How the host finds it.
    pub source: UsbHidSource,
}

/// The capabilities granted to one device beyond the always-granted `log` and `clock`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Files the device may read (the `file` capability); empty means not granted.
    pub files: Vec<FileGrant>,
    /// The serial port the device may use (the `serial` capability); none means not granted.
    pub serial: Option<SerialGrant>,
    /// The device a virtual device reads (and maybe commands); none means not granted.
    pub upstream: Option<UpstreamGrant>,
    /// The USB HID device the device may use (the `usb-hid` capability); none means not granted.
    pub usb_hid: Option<UsbHidGrant>,
}

impl Grants {
    /// Only `log` and `clock`.
    pub fn none() -> Self {
        Grants::default()
    }

    /// Grant read access to one file.
    pub fn with_file(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.files.push(FileGrant { name: name.into(), path: path.into() });
        self
    }

    /// Grant the serial port `name` (as written in the config), opened at `path`.
    pub fn with_serial(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.serial = Some(SerialGrant { name: name.into(), path: path.into() });
        self
    }

    /// Grant reading the device `device` (its `state`), and with `control` also
    /// sending it commands through its supervisor `client`.
    pub fn with_upstream(
        mut self,
        device: impl Into<String>,
        control: bool,
        state: Arc<DeviceState>,
        client: DeviceClient,
    ) -> Self {
        self.upstream = Some(UpstreamGrant { device: device.into(), control, state, client });
        self
    }

    /// Grant the USB HID device `source` selects, `name` as written in the config.
    pub fn with_usb_hid(mut self, name: impl Into<String>, source: UsbHidSource) -> Self {
        self.usb_hid = Some(UsbHidGrant { name: name.into(), source });
        self
    }

    /// Names of the granted capabilities, for messages.
    pub fn capability_names(&self) -> Vec<&'static str> {
        let mut names = vec!["log", "clock"];
        if !self.files.is_empty() {
            names.push("file");
        }
        if self.serial.is_some() {
            names.push("serial");
        }
        if let Some(upstream) = &self.upstream {
            names.push("upstream");
            if upstream.control {
                names.push("upstream-control");
            }
        }
        if self.usb_hid.is_some() {
            names.push("usb-hid");
        }
        names
    }

    fn allows(&self, capability: &str) -> Option<bool> {
        match capability {
            "types" | "log" | "clock" => Some(true),
            "file" => Some(!self.files.is_empty()),
            "serial" => Some(self.serial.is_some()),
            "upstream" => Some(self.upstream.is_some()),
            "upstream-control" => Some(self.upstream.as_ref().is_some_and(|u| u.control)),
            "usb-hid" => Some(self.usb_hid.is_some()),
            _ => None,
        }
    }
}

/// Why a plugin's imports do not fit its device's grants.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    /// The plugin imports a Hazel capability its device was not granted.
    #[error("imports capability '{capability}' ({import}), which this device is not granted (granted: {granted})")]
    NotGranted {
        /// The capability, e.g. "file".
        capability: String,
        /// The full import name.
        import: String,
        /// What the device was granted, comma-separated.
        granted: String,
    },
    /// The plugin needs a capability or package version this host does not implement.
    #[error("imports {import}, which this host does not provide (it implements {PACKAGE}@{PACKAGE_VERSION})")]
    Unsupported {
        /// The full import name.
        import: String,
    },
    /// The plugin imports WASI interfaces that would reach outside the sandbox.
    #[error("imports {}: plugins get no WASI filesystem, sockets, clocks, random or environment; device I/O goes through hazel:plugin capabilities", imports.join(", "))]
    Forbidden {
        /// Every forbidden import, in the component's order.
        imports: Vec<String>,
    },
}

/// WASI interfaces Rust's `std` links into every wasm32-wasip2 component even
/// when unused (stdio for panics, exit, environment). The host defines them as
/// traps, so a `std` plugin loads but cannot use them.
const INERT_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
];

/// Split `ns:pkg/iface@version` into (`ns:pkg`, `iface`, version).
fn split_import(import: &str) -> Option<(&str, &str, &str)> {
    let (path, version) = import.split_once('@').unwrap_or((import, ""));
    let (package, interface) = path.split_once('/')?;
    Some((package, interface, version))
}

/// Semver-compatible with the host's package version: same major, and for 0.x the same minor.
fn version_compatible(version: &str) -> bool {
    let parts = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split(['.', '-', '+']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parts(version), parts(PACKAGE_VERSION)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

/// What an import is, independent of any device's grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// A Hazel capability (`log`, `file`, ...), granted per device.
    Capability(String),
    /// A WASI interface `std` links but Hazel defines as traps.
    InertWasi,
    /// Never granted (WASI filesystem, sockets, ...).
    Forbidden,
    /// A Hazel interface or version this host does not implement.
    Unsupported,
}

/// Classify one import name, e.g. for `hazel plugin inspect`.
pub fn classify_import(import: &str) -> ImportKind {
    let Some((package, interface, version)) = split_import(import) else {
        return ImportKind::Forbidden;
    };
    if package == PACKAGE {
        if version_compatible(version) && Grants::default().allows(interface).is_some() {
            ImportKind::Capability(interface.to_string())
        } else {
            ImportKind::Unsupported
        }
    } else if INERT_WASI.contains(&format!("{package}/{interface}").as_str()) {
        ImportKind::InertWasi
    } else {
        ImportKind::Forbidden
    }
}

/// Check every import of a plugin against `grants`. Returns the first
/// ungranted or unsupported import, or else every forbidden one at once.
pub fn check_imports<'a>(imports: impl IntoIterator<Item = &'a str>, grants: &Grants) -> Result<(), ImportError> {
    let mut forbidden = Vec::new();
    for import in imports {
        match classify_import(import) {
            ImportKind::Capability(capability) => {
                if grants.allows(&capability) != Some(true) {
                    return Err(ImportError::NotGranted {
                        capability,
                        import: import.to_string(),
                        granted: grants.capability_names().join(", "),
                    });
                }
            }
            ImportKind::InertWasi => {}
            ImportKind::Forbidden => forbidden.push(import.to_string()),
            ImportKind::Unsupported => return Err(ImportError::Unsupported { import: import.to_string() }),
        }
    }
    if forbidden.is_empty() { Ok(()) } else { Err(ImportError::Forbidden { imports: forbidden }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_imports_pass() {
        let g = Grants::none().with_file("ups.dev", "/etc/hazel/ups.dev");
        let imports = ["hazel:plugin/types@0.1.0", "hazel:plugin/log@0.1.0", "hazel:plugin/file@0.1.0"];
        assert_eq!(check_imports(imports, &g), Ok(()));
    }

    #[test]
    fn ungranted_file_is_refused_with_names() {
        let err = check_imports(["hazel:plugin/file@0.1.0"], &Grants::none()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("'file'") && text.contains("granted: log, clock"), "{text}");
    }

    #[test]
    fn wasi_filesystem_and_sockets_are_forbidden() {
        for import in ["wasi:filesystem/preopens@0.2.6", "wasi:sockets/tcp@0.2.6", "wasi:random/random@0.2.6"] {
            assert!(matches!(check_imports([import], &Grants::none()), Err(ImportError::Forbidden { .. })));
        }
        assert_eq!(check_imports(["wasi:cli/stderr@0.2.6", "wasi:io/streams@0.2.6"], &Grants::none()), Ok(()));
    }

    #[test]
    fn serial_needs_a_grant() {
        let err = check_imports(["hazel:plugin/serial@0.1.1"], &Grants::none()).unwrap_err();
        assert!(matches!(&err, ImportError::NotGranted { capability, .. } if capability == "serial"), "{err}");
        let g = Grants::none().with_serial("/dev/ttyUSB0", "/dev/ttyUSB0");
        assert_eq!(g.capability_names(), ["log", "clock", "serial"]);
        assert_eq!(check_imports(["hazel:plugin/log@0.1.0", "hazel:plugin/serial@0.1.1"], &g), Ok(()));
        // A serial grant is not a file grant.
        assert!(check_imports(["hazel:plugin/file@0.1.1"], &g).is_err());
    }

    #[test]
    fn upstream_control_needs_the_control_flag() {
        let state = Arc::new(DeviceState::new("realups", None));
        let (client, _requests) = DeviceClient::detached();
        let read_only = Grants::none().with_upstream("realups", false, state.clone(), client.clone());
        assert_eq!(read_only.capability_names(), ["log", "clock", "upstream"]);
        assert_eq!(check_imports(["hazel:plugin/upstream@0.1.2"], &read_only), Ok(()));
        let err = check_imports(["hazel:plugin/upstream@0.1.2", "hazel:plugin/upstream-control@0.1.2"], &read_only)
            .unwrap_err();
        assert!(
            matches!(&err, ImportError::NotGranted { capability, .. } if capability == "upstream-control"),
            "{err}"
        );
        let control = Grants::none().with_upstream("realups", true, state, client);
        assert_eq!(check_imports(["hazel:plugin/upstream-control@0.1.2"], &control), Ok(()));
        assert!(check_imports(["hazel:plugin/upstream@0.1.2"], &Grants::none()).is_err());
    }

    #[test]
    fn usb_hid_needs_a_grant() {
        let err = check_imports(["hazel:plugin/usb-hid@0.1.2"], &Grants::none()).unwrap_err();
        assert!(matches!(&err, ImportError::NotGranted { capability, .. } if capability == "usb-hid"), "{err}");
        let g = Grants::none().with_usb_hid("auto", UsbHidSource::Match(UsbMatch::default()));
        assert_eq!(g.capability_names(), ["log", "clock", "usb-hid"]);
        assert_eq!(check_imports(["hazel:plugin/usb-hid@0.1.2"], &g), Ok(()));
        assert!(check_imports(["hazel:plugin/serial@0.1.2"], &g).is_err());
    }

    #[test]
    fn usb_match_lists_the_options_set() {
        let mut m = UsbMatch::default();
        assert_eq!(m.describe(), "auto (any)");
        assert!(m.set("vendorid", "051d") && m.set("serial", "AB.*") && !m.set("port", "auto"));
        assert_eq!(m.describe(), "auto (vendorid=051d, serial=AB.*)");
    }

    #[test]
    fn future_or_incompatible_versions_are_unsupported() {
        // A capability from a later 0.1.y this host does not know.
        assert!(matches!(
            check_imports(["hazel:plugin/snmp@0.1.3"], &Grants::none()),
            Err(ImportError::Unsupported { .. })
        ));
        // 0.1.9 of a known interface is semver-compatible; 0.2.0 is not.
        assert_eq!(check_imports(["hazel:plugin/log@0.1.9"], &Grants::none()), Ok(()));
        assert!(check_imports(["hazel:plugin/log@0.2.0"], &Grants::none()).is_err());
    }
}
