//! `hazel.toml`: Hazel's own settings, beside NUT's files in the config dir.
//!
//! Everything is optional; a NUT config dir without `hazel.toml` works as is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::driver_table::PortKind;

/// The parsed `hazel.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSettings {
    /// Directories searched for plugins, before the built-in ones.
    #[serde(default)]
    pub plugin_dirs: Vec<PathBuf>,
    /// Where compiled plugins are cached.
    pub cache_dir: Option<PathBuf>,
    /// Sandbox limits and restart policy.
    #[serde(default)]
    pub limits: LimitSettings,
    /// Extra or overriding NUT driver names: which plugin and what `port=` names.
    #[serde(default)]
    pub drivers: BTreeMap<String, DriverSetting>,
    /// Certificate and key for STARTTLS; wins over upsd.conf's `CERTFILE`.
    pub tls: Option<TlsSettings>,
    /// Where the monitor stages the kill-power bundle for `hazel-initrd`
    /// (default `/run/hazel/killpower`).
    pub killpower_dir: Option<PathBuf>,
    /// The control socket `hazel drivers` talks to (default
    /// [`DEFAULT_CONTROL_SOCKET`]; a relative path is relative to the config dir).
    pub control_socket: Option<PathBuf>,
}

/// Where `hazel serve` listens for `hazel drivers` unless hazel.toml says otherwise.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/hazel/control.sock";

/// `[tls]`: the server certificate chain and its private key, two PEM files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with the certificate chain, server certificate first.
    pub cert: PathBuf,
    /// PEM file with the (unencrypted) private key.
    pub key: PathBuf,
}

/// `[limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Linear memory cap per plugin instance, MiB.
    pub memory_mib: u32,
    /// Time budget of one plugin call (update, instcmd, ...), milliseconds.
    pub call_timeout_ms: u64,
    /// Time budget of a plugin's `init`, milliseconds.
    pub init_timeout_ms: u64,
    /// First delay before restarting a faulted plugin, milliseconds.
    pub restart_backoff_ms: u64,
    /// Longest delay between restarts, milliseconds.
    pub max_restart_backoff_ms: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            memory_mib: 64,
            call_timeout_ms: 10_000,
            init_timeout_ms: 60_000,
            restart_backoff_ms: 1_000,
            max_restart_backoff_ms: 300_000,
        }
    }
}

impl LimitSettings {
    /// The runtime's view of these limits.
    pub fn runtime_limits(&self) -> hazel_runtime::Limits {
        hazel_runtime::Limits {
            memory_bytes: (self.memory_mib as usize) << 20,
            call_timeout: Duration::from_millis(self.call_timeout_ms),
            init_timeout: Duration::from_millis(self.init_timeout_ms),
        }
    }
}

/// `[drivers.NAME]`: map a NUT driver name to a plugin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverSetting {
    /// Plugin name (its file name without extension).
    pub plugin: String,
    /// What the device's `port=` names, and so which capability it is granted.
    #[serde(default)]
    pub port: PortKind,
}

/// Why `hazel.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What was expected.
        message: String,
    },
}

impl HostSettings {
    /// Read `hazel.toml` from `confdir`; a missing file means all defaults.
    pub fn load(confdir: &Path) -> Result<HostSettings, SettingsError> {
        let path = confdir.join("hazel.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostSettings::default()),
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        let mut settings = Self::parse(&path, &text)?;
        // Relative plugin and cache dirs are relative to the config dir, like NUT's relative paths.
        for dir in &mut settings.plugin_dirs {
            *dir = confdir.join(&*dir);
        }
        if let Some(dir) = &mut settings.cache_dir {
            *dir = confdir.join(&*dir);
        }
        if let Some(socket) = &mut settings.control_socket {
            *socket = confdir.join(&*socket);
        }
        if let Some(tls) = &mut settings.tls {
            tls.cert = confdir.join(&tls.cert);
            tls.key = confdir.join(&tls.key);
        }
        Ok(settings)
    }

    /// Parse settings text (`path` is for messages).
    pub fn parse(path: &Path, text: &str) -> Result<HostSettings, SettingsError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text.get(..s.start).unwrap_or(text).matches('\n').count() + 1).unwrap_or(1);
            SettingsError::Parse { path: path.into(), line, message: e.message().to_string() }
        })
    }

    /// Plugin directories in search order: configured ones, then the build
    /// tree or install layout next to the running binary, then system paths.
    pub fn plugin_search_path(&self) -> Vec<PathBuf> {
        let mut dirs = self.plugin_dirs.clone();
        if let Some(bin_dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
            // `cargo xtask build` puts plugins in target/plugins, beside target/debug and target/release.
            dirs.push(bin_dir.join("../plugins"));
            // An installed package: /usr/bin/hazel with /usr/lib/hazel/plugins.
            dirs.push(bin_dir.join("../lib/hazel/plugins"));
        }
        dirs.push("/usr/local/lib/hazel/plugins".into());
        dirs.push("/usr/lib/hazel/plugins".into());
        dirs
    }

    /// The control socket's path.
    pub fn control_socket(&self) -> PathBuf {
        self.control_socket.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONTROL_SOCKET))
    }

    /// The compiled-plugin cache directory.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("hazel");
        }
        match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            Some(home) if home != "/" && home != "/root" => PathBuf::from(home).join(".cache/hazel"),
            _ => PathBuf::from("/var/cache/hazel"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default() {
        let s = HostSettings::parse(Path::new("hazel.toml"), "").unwrap();
        assert!(s.plugin_dirs.is_empty());
        assert_eq!(s.limits.memory_mib, 64);
    }

    #[test]
    fn drivers_and_limits() {
        let text = "[limits]\nmemory_mib = 16\n\n[drivers.acme]\nplugin = \"acme\"\nport = \"file\"\n";
        let s = HostSettings::parse(Path::new("hazel.toml"), text).unwrap();
        assert_eq!(s.limits.memory_mib, 16);
        assert_eq!(s.limits.call_timeout_ms, 10_000);
        assert_eq!(s.drivers["acme"].port, PortKind::File);
    }

    #[test]
    fn tls_files() {
        let text = "[tls]\ncert = \"/etc/hazel/cert.pem\"\nkey = \"key.pem\"\n";
        let s = HostSettings::parse(Path::new("hazel.toml"), text).unwrap();
        let tls = s.tls.unwrap();
        assert_eq!((tls.cert.to_str(), tls.key.to_str()), (Some("/etc/hazel/cert.pem"), Some("key.pem")));
        let err = HostSettings::parse(Path::new("hazel.toml"), "[tls]\ncert = \"c.pem\"\n").unwrap_err();
        assert!(err.to_string().contains("missing field `key`"), "{err}");
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = HostSettings::parse(Path::new("/etc/hazel/hazel.toml"), "\n[limits]\nmemroy_mib = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/etc/hazel/hazel.toml:3:"), "{text}");
        assert!(text.contains("memroy_mib"), "{text}");
    }
}
