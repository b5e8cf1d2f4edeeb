//! From a config dir to the devices to run: reads `ups.conf` and `hazel.toml`,
//! picks each device's plugin, decides its grants and host-side variables.
//!
//! A section that cannot run is reported with its file, line and reason and
//! skipped; the others still run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hazel_nutconf::ups_conf::{Section, UpsConf};
use hazel_runtime::capability::usb_hid::DeviceMatcher;
use hazel_runtime::grants::{UsbHidSource, UsbMatch};
use hazel_runtime::{DeviceConfig, Grants, Plugin, PluginCatalog};
use hazel_state::Edit;

use crate::driver_table::{PortKind, builtin_driver};
use crate::host_settings::HostSettings;

/// Everything read from one config dir.
pub struct LoadedConfig {
    /// The config dir.
    pub confdir: PathBuf,
    /// `hazel.toml` (defaults if absent).
    pub settings: HostSettings,
    /// `ups.conf`.
    pub ups_conf: UpsConf,
}

impl LoadedConfig {
    /// Read `hazel.toml` and `ups.conf` from `confdir`.
    pub fn load(confdir: &Path) -> anyhow::Result<LoadedConfig> {
        let settings = HostSettings::load(confdir)?;
        let path = confdir.join("ups.conf");
        let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let ups_conf = UpsConf::parse(&path, text)?;
        Ok(LoadedConfig { confdir: confdir.to_path_buf(), settings, ups_conf })
    }

    /// Every problem that makes a section unusable before plugins are even
    /// considered, as `file:line: message`.
    pub fn section_errors(&self) -> Vec<String> {
        self.ups_conf.invalid_sections().iter().map(|s| s.error.to_string()).collect()
    }
}

/// A device ready to start.
#[derive(Clone, Debug)]
pub struct DevicePlan {
    /// What the runtime needs. A virtual device's upstream grant is added when
    /// its upstream has started (see [`DevicePlan::upstream`]).
    pub config: DeviceConfig,
    /// `desc =` from ups.conf.
    pub description: Option<String>,
    /// For a virtual device (clone, clone-outlet), the device it mirrors.
    pub upstream: Option<UpstreamPlan>,
}

/// The device a virtual device's `port=` names, and what it may do to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamPlan {
    /// The upstream's section name.
    pub device: String,
    /// Whether instant commands and variable writes on it are granted.
    pub control: bool,
}

impl DevicePlan {
    /// The capabilities the device will be granted, for messages.
    pub fn capability_names(&self) -> Vec<&'static str> {
        let mut names = self.config.grants.capability_names();
        if let Some(upstream) = &self.upstream
            && self.config.grants.upstream.is_none()
        {
            names.push("upstream");
            if upstream.control {
                names.push("upstream-control");
            }
        }
        names
    }
}

/// A section that cannot run, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanProblem {
    /// The section name.
    pub section: String,
    /// `file:line: [name]: reason`.
    pub message: String,
}

/// Turn each valid ups.conf section into a [`DevicePlan`]; sections whose
/// driver has no plugin are returned as messages naming file, line and section.
///
/// Plans come in start order: every virtual device after its upstream (so
/// stopping in reverse stops it first). A virtual device whose upstream cannot
/// run, or that depends on itself through a chain, is a problem too.
pub fn plan_devices(loaded: &LoadedConfig, catalog: &PluginCatalog) -> (Vec<DevicePlan>, Vec<String>) {
    let (plans, problems) = plan_device_set(loaded, catalog);
    (plans, problems.into_iter().map(|p| p.message).collect())
}

/// [`plan_devices`], with each problem's section name kept apart (for the
/// live device set, which keeps a broken section's previous device running).
pub fn plan_device_set(loaded: &LoadedConfig, catalog: &PluginCatalog) -> (Vec<DevicePlan>, Vec<PlanProblem>) {
    let mut pending = Vec::new();
    let mut problems = Vec::new();
    let conf_path = loaded.ups_conf.path().display().to_string();
    let locate = |section: &Section| format!("{conf_path}:{}: [{}]", section.line(), section.name());
    for section in loaded.ups_conf.sections() {
        match plan_device(loaded, catalog, section) {
            Ok(plan) => pending.push((locate(section), plan)),
            Err(message) => problems.push(PlanProblem {
                section: section.name().to_string(),
                message: format!("{}: {message}", locate(section)),
            }),
        }
    }
    // Repeatedly take the plans whose upstream is already placed; what is left
    // waits on an upstream that will never start.
    let mut plans: Vec<DevicePlan> = Vec::new();
    loop {
        let placed_before = plans.len();
        let mut waiting = Vec::new();
        for (location, plan) in pending {
            let ready = plan.upstream.as_ref().is_none_or(|u| plans.iter().any(|p| p.config.name == u.device));
            if ready { plans.push(plan) } else { waiting.push((location, plan)) }
        }
        pending = waiting;
        if pending.is_empty() || plans.len() == placed_before {
            break;
        }
    }
    for (location, plan) in pending {
        let upstream = plan.upstream.as_ref().map(|u| u.device.as_str()).unwrap_or_default();
        let planned = loaded.ups_conf.sections().iter().any(|s| s.name() == upstream)
            && !problems.iter().any(|p| p.section == upstream);
        let why = if planned { "depends on itself through its upstream chain" } else { "cannot start" };
        problems.push(PlanProblem {
            section: plan.config.name.clone(),
            message: format!("{location}: upstream device '{upstream}' {why}; this virtual device cannot run"),
        });
    }
    (plans, problems)
}

/// The section a virtual device's `port=` names: NUT's driver-socket name
/// `<driver>-<section>` (e.g. `usbhid-ups-realups`), or just the section name.
fn resolve_upstream<'a>(loaded: &'a LoadedConfig, section: &Section) -> Result<&'a Section, String> {
    let port = section.port();
    let sections = || loaded.ups_conf.sections().iter();
    let upstream = sections()
        .find(|s| s.name() == port)
        .or_else(|| {
            sections().find(|s| port.strip_prefix(s.driver()).and_then(|r| r.strip_prefix('-')) == Some(s.name()))
        })
        .ok_or_else(|| {
            // A known section behind an unexpected driver prefix deserves its own message.
            match sections().find(|s| port.len() > s.name().len() + 1 && port.ends_with(&format!("-{}", s.name()))) {
                Some(s) => format!(
                    "port '{port}' names device '{}' with driver '{}', but [{}] (line {}) uses driver '{}'; \
                     write port = {}-{} or port = {}",
                    s.name(),
                    &port[..port.len() - s.name().len() - 1],
                    s.name(),
                    s.line(),
                    s.driver(),
                    s.driver(),
                    s.name(),
                    s.name()
                ),
                None => format!(
                    "port '{port}' names no device of this ups.conf: a virtual device's port is its upstream's \
                     '<driver>-<section>' (NUT's driver socket name) or its section name"
                ),
            }
        })?;
    if upstream.name() == section.name() {
        return Err(format!("port '{port}' names this device itself; a virtual device needs another device"));
    }
    Ok(upstream)
}

fn plan_device(loaded: &LoadedConfig, catalog: &PluginCatalog, section: &Section) -> Result<DevicePlan, String> {
    let driver = section.driver();
    let (plugin, port_kind) = resolve_plugin(&loaded.settings, catalog, driver)?;
    let port = section.port();
    let grants = match port_kind {
        PortKind::File => {
            // NUT resolves relative dummy-ups paths against its config dir.
            let path = Path::new(port);
            let resolved = if path.is_absolute() { path.to_path_buf() } else { loaded.confdir.join(path) };
            Grants::none().with_file(port, resolved)
        }
        PortKind::Serial => {
            // A device node; a relative name would depend on the host's working directory.
            if !Path::new(port).is_absolute() {
                return Err(format!(
                    "driver '{driver}' needs a serial device path for port, e.g. /dev/ttyUSB0, not '{port}'"
                ));
            }
            Grants::none().with_serial(port, port)
        }
        PortKind::UsbHid => Grants::none().with_usb_hid(port, usb_hid_source(loaded, section)?),
        // Granted when the upstream has started; see `DevicePlan::upstream`.
        PortKind::Upstream | PortKind::UpstreamControl | PortKind::None => Grants::none(),
    };
    let upstream = match port_kind {
        PortKind::Upstream | PortKind::UpstreamControl => Some(UpstreamPlan {
            device: resolve_upstream(loaded, section)?.name().to_string(),
            control: port_kind == PortKind::UpstreamControl,
        }),
        _ => None,
    };
    let mut settings = vec![("port".to_string(), Some(port.to_string()))];
    settings.extend(section.driver_options().map(|e| (e.key.clone(), e.value.clone())));
    // The host publishes `default.*`/`override.*` itself (host_edits), but some
    // drivers also read them, as nutdrv_qx reads the battery voltage limits.
    let variable_options = section.entries().iter().filter(|e| is_variable_option(&e.key));
    settings.extend(variable_options.map(|e| (e.key.clone(), e.value.clone())));
    let limits = &loaded.settings.limits;
    let initial_backoff = restart_delay(loaded, section);
    Ok(DevicePlan {
        upstream,
        description: section.desc().map(str::to_string),
        config: DeviceConfig {
            name: section.name().to_string(),
            host_edits: host_edits(section, &plugin),
            plugin,
            grants,
            settings,
            poll_interval: Duration::from_secs(u64::from(section.pollinterval())),
            ignore_lb: section.flag("ignorelb"),
            initial_backoff,
            max_backoff: Duration::from_millis(limits.max_restart_backoff_ms).max(initial_backoff),
        },
    })
}

/// Which USB HID device a section selects: `replay:PATH` (relative to the
/// config dir, as dummy-ups files are) or the match options; bad regexes are
/// reported here, naming the option.
fn usb_hid_source(loaded: &LoadedConfig, section: &Section) -> Result<UsbHidSource, String> {
    if let Some(file) = section.port().strip_prefix("replay:") {
        let path = Path::new(file);
        let resolved = if path.is_absolute() { path.to_path_buf() } else { loaded.confdir.join(path) };
        return Ok(UsbHidSource::Replay(resolved));
    }
    let mut options = UsbMatch::default();
    for name in UsbMatch::OPTIONS {
        if let Some(pattern) = section.value(name) {
            options.set(name, pattern);
        }
    }
    DeviceMatcher::new(&options).map_err(|e| e.to_string())?;
    Ok(UsbHidSource::Match(options))
}

/// The first restart delay: NUT's `retrydelay` (seconds) when ups.conf sets it,
/// else hazel.toml's `restart_backoff_ms`. NUT gives up after `maxretry`
/// attempts; Hazel keeps retrying with backoff, as a daemon should.
fn restart_delay(loaded: &LoadedConfig, section: &Section) -> Duration {
    let explicit = section.value("retrydelay").is_some() || loaded.ups_conf.globals().retrydelay().is_some();
    if explicit {
        Duration::from_secs(u64::from(section.retrydelay()))
    } else {
        Duration::from_millis(loaded.settings.limits.restart_backoff_ms)
    }
}

fn resolve_plugin(
    settings: &HostSettings,
    catalog: &PluginCatalog,
    driver: &str,
) -> Result<(Arc<Plugin>, PortKind), String> {
    if let Some(entry) = settings.drivers.get(driver) {
        let plugin = catalog.get(&entry.plugin).ok_or_else(|| {
            format!("hazel.toml maps driver '{driver}' to plugin '{}', which was not found", entry.plugin)
        })?;
        return Ok((plugin, entry.port));
    }
    let builtin = builtin_driver(driver);
    let plugin = match (catalog.for_driver(driver), builtin) {
        (Some(plugin), _) => plugin,
        (None, Some(builtin)) => catalog.get(builtin.plugin).ok_or_else(|| {
            format!("driver '{driver}' runs plugin '{}', which was not found (see `hazel plugin list`)", builtin.plugin)
        })?,
        (None, None) => return Err(format!("no plugin provides driver '{driver}' (see `hazel plugin list`)")),
    };
    Ok((plugin, builtin.map(|b| b.port).unwrap_or_default()))
}

/// `default.<var>` or `override.<var>`.
fn is_variable_option(key: &str) -> bool {
    key.starts_with("default.") || key.starts_with("override.")
}

/// Variables the host publishes for every device, as NUT's driver core does:
/// `driver.*`, then `default.*` initial values and `override.*` pins.
fn host_edits(section: &Section, plugin: &Plugin) -> Vec<Edit> {
    let mut edits = vec![
        Edit::SetValue("driver.name".into(), section.driver().into()),
        Edit::SetValue("driver.version".into(), env!("CARGO_PKG_VERSION").into()),
        Edit::SetValue("driver.version.internal".into(), plugin.description().version.clone()),
        Edit::SetValue("driver.parameter.pollinterval".into(), section.pollinterval().to_string()),
        Edit::SetValue("driver.parameter.synchronous".into(), section.value("synchronous").unwrap_or("auto").into()),
    ];
    for entry in section.entries() {
        // NUT publishes `default.*`/`override.*` as the variables they name, not as parameters.
        if matches!(entry.key.as_str(), "driver" | "desc" | "pollinterval" | "synchronous")
            || is_variable_option(&entry.key)
        {
            continue;
        }
        match &entry.value {
            Some(value) => edits.push(Edit::SetValue(format!("driver.parameter.{}", entry.key), value.clone())),
            None => edits.push(Edit::SetValue(format!("driver.flag.{}", entry.key), "enabled".into())),
        }
    }
    edits.extend(section.defaults().map(|(var, value)| Edit::SetValue(var.into(), value.into())));
    edits.extend(section.overrides().map(|(var, value)| Edit::Override(var.into(), value.into())));
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(ups_conf: &str) -> LoadedConfig {
        LoadedConfig {
            confdir: PathBuf::from("/etc/nut"),
            settings: HostSettings::default(),
            ups_conf: UpsConf::parse(Path::new("/etc/nut/ups.conf"), ups_conf.as_bytes()).unwrap(),
        }
    }

    const REAL_UPS: &str =
        "[realups]\n driver = usbhid-ups\n port = auto\n[pdu-1]\n driver = dummy-ups\n port = pdu.dev\n";

    fn upstream_of(conf: &str, section: &str) -> Result<String, String> {
        let loaded = loaded(conf);
        let section = loaded.ups_conf.sections().iter().find(|s| s.name() == section).unwrap();
        resolve_upstream(&loaded, section).map(|s| s.name().to_string())
    }

    #[test]
    fn a_virtual_port_is_nuts_socket_name_or_the_section_name() {
        for port in ["usbhid-ups-realups", "realups"] {
            let conf = format!("{REAL_UPS}[outlet1]\n driver = clone-outlet\n port = {port}\n prefix = outlet.1\n");
            assert_eq!(upstream_of(&conf, "outlet1"), Ok("realups".to_string()), "{port}");
        }
        // Section names may contain dashes.
        let conf = format!("{REAL_UPS}[c]\n driver = clone\n port = dummy-ups-pdu-1\n");
        assert_eq!(upstream_of(&conf, "c"), Ok("pdu-1".to_string()));
    }

    #[test]
    fn a_wrong_or_unknown_upstream_is_explained() {
        let conf = format!("{REAL_UPS}[c]\n driver = clone\n port = blazer_usb-realups\n");
        let err = upstream_of(&conf, "c").unwrap_err();
        assert_eq!(
            err,
            "port 'blazer_usb-realups' names device 'realups' with driver 'blazer_usb', but [realups] (line 1) uses \
             driver 'usbhid-ups'; write port = usbhid-ups-realups or port = realups"
        );
        let conf = format!("{REAL_UPS}[c]\n driver = clone\n port = usbhid-ups-nosuch\n");
        assert!(upstream_of(&conf, "c").unwrap_err().starts_with("port 'usbhid-ups-nosuch' names no device"));
        let conf = format!("{REAL_UPS}[c]\n driver = clone\n port = c\n");
        assert!(upstream_of(&conf, "c").unwrap_err().contains("names this device itself"));
    }

    #[test]
    fn a_known_driver_without_its_plugin_names_the_plugin() {
        let settings = HostSettings::default();
        let err = resolve_plugin(&settings, &PluginCatalog::default(), "nutdrv_qx").unwrap_err();
        assert_eq!(err, "driver 'nutdrv_qx' runs plugin 'megatec', which was not found (see `hazel plugin list`)");
        let err = resolve_plugin(&settings, &PluginCatalog::default(), "acme-ups").unwrap_err();
        assert!(err.starts_with("no plugin provides driver 'acme-ups'"), "{err}");
    }
}
