//! `hazel usb explore`: NUT's explore mode (`usbhid-ups -x explore`) for
//! users reporting a new model. Lists every field of a USB HID Power Device:
//! usage path, type, report id, bit offset, size and current value.
//!
//! The host does not parse the device: it runs the `usbhid` plugin in its
//! sandbox with the option `explore`, as `hazel serve` would run it, and
//! prints the `explore.*` entries the plugin publishes (one per field, the
//! line NUT prints). So hostile descriptors stay inside wasm, and what is
//! listed is exactly what the driver sees.

use std::path::Path;

use anyhow::{Context, bail};
use hazel_runtime::DeviceInstance;
use hazel_runtime::bindings::types::{Change, Setting};
use hazel_runtime::capability::usb_hid::DeviceMatcher;
use hazel_runtime::grants::{Grants, UsbHidSource, UsbMatch};

use crate::commands::open_plugins;
use crate::device_set::{LoadedConfig, plan_devices};
use crate::host_settings::HostSettings;

/// The NUT driver whose plugin explores.
const DRIVER: &str = "usbhid-ups";
/// The prefix of the entries the plugin publishes in explore mode.
const PREFIX: &str = "explore.";

/// `hazel usb …`.
#[derive(clap::Subcommand)]
pub enum UsbCommand {
    /// List every usage path, type, report id, offset, size and value of a
    /// USB HID UPS, like NUT's `usbhid-ups -x explore`.
    #[command(after_help = "Selects the device by a ups.conf section of CONFDIR (UPS), or by NUT's match options \
                            (--vendorid 051d --serial ...; regexes matching the whole value), or a recorded \
                            capture (--port replay:PATH). The device must not be in use by a running hazel serve.")]
    Explore(ExploreArgs),
}

/// What `hazel usb explore` explores.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ExploreArgs {
    /// A ups.conf section (driver = usbhid-ups) of the config dir.
    #[arg(value_name = "UPS", conflicts_with_all = ["port", "vendorid", "productid", "vendor", "product", "serial", "bus", "device"])]
    pub ups: Option<String>,
    /// `auto` (the first matching device) or `replay:PATH` (a capture file).
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
    /// USB vendor id regex, e.g. 051d.
    #[arg(long)]
    pub vendorid: Option<String>,
    /// USB product id regex.
    #[arg(long)]
    pub productid: Option<String>,
    /// Manufacturer string regex.
    #[arg(long)]
    pub vendor: Option<String>,
    /// Product string regex.
    #[arg(long)]
    pub product: Option<String>,
    /// Serial number regex.
    #[arg(long)]
    pub serial: Option<String>,
    /// Bus number regex (3 digits).
    #[arg(long)]
    pub bus: Option<String>,
    /// Device address regex (3 digits).
    #[arg(long)]
    pub device: Option<String>,
    /// Name paths with this subdriver's vendor tables (e.g. "APC HID")
    /// instead of the explore subdriver's standard names.
    #[arg(long, value_name = "NAME")]
    pub subdriver: Option<String>,
}

impl ExploreArgs {
    fn usb_match(&self) -> UsbMatch {
        let mut m = UsbMatch::default();
        for (name, value) in [
            ("vendorid", &self.vendorid),
            ("productid", &self.productid),
            ("vendor", &self.vendor),
            ("product", &self.product),
            ("serial", &self.serial),
            ("bus", &self.bus),
            ("device", &self.device),
        ] {
            if let Some(pattern) = value {
                m.set(name, pattern);
            }
        }
        m
    }
}

/// Run a `hazel usb` subcommand.
pub async fn run(confdir: &Path, command: UsbCommand) -> anyhow::Result<std::process::ExitCode> {
    match command {
        UsbCommand::Explore(args) => {
            let lines = explore(confdir, &args).await?;
            for line in lines {
                println!("{line}");
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// Explore the device `args` selects: a header line (`# ...`, the device's
/// identity) then NUT's `Path: …` lines in descriptor order.
pub async fn explore(confdir: &Path, args: &ExploreArgs) -> anyhow::Result<Vec<String>> {
    let (name, plugin, grants, mut settings, runtime) = match &args.ups {
        Some(ups) => {
            let loaded = LoadedConfig::load(confdir)?;
            let (runtime, catalog) = open_plugins(&loaded.settings).await?;
            let (plans, problems) = plan_devices(&loaded, &catalog);
            let plan = plans.into_iter().find(|p| p.config.name == *ups).ok_or_else(|| {
                let why = problems.iter().find(|p| p.contains(&format!("[{ups}]"))).cloned();
                anyhow::anyhow!(
                    why.unwrap_or_else(|| format!("no UPS [{ups}] in {}", loaded.ups_conf.path().display()))
                )
            })?;
            if plan.config.grants.usb_hid.is_none() {
                bail!("UPS [{ups}] is not a USB HID device (driver = {DRIVER})");
            }
            let c = plan.config;
            (c.name, c.plugin, c.grants, c.settings, runtime)
        }
        None => {
            let settings = HostSettings::load(confdir)?;
            let (runtime, catalog) = open_plugins(&settings).await?;
            let plugin = catalog.for_driver(DRIVER).with_context(|| format!("no plugin provides driver '{DRIVER}'"))?;
            let port = args.port.clone().unwrap_or_else(|| "auto".into());
            let source = match port.strip_prefix("replay:") {
                Some(file) => UsbHidSource::Replay(file.into()),
                None if port == "auto" => {
                    let m = args.usb_match();
                    DeviceMatcher::new(&m).map_err(|e| anyhow::anyhow!("{e}"))?;
                    UsbHidSource::Match(m)
                }
                None => bail!("--port must be auto or replay:PATH, not '{port}'"),
            };
            let mut options = vec![("port".to_string(), Some(port.clone()))];
            options.extend(args.usb_match().iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))));
            ("explore".to_string(), plugin, Grants::none().with_usb_hid(port, source), options, runtime)
        }
    };
    if !settings.iter().any(|(k, _)| k == "explore") {
        settings.push(("explore".into(), None));
    }
    if let Some(sub) = &args.subdriver {
        settings.retain(|(k, _)| k != "subdriver");
        settings.push(("subdriver".into(), Some(sub.clone())));
    }
    let mut instance = DeviceInstance::new(&runtime, &plugin, &name, &grants).await?;
    let settings = settings.into_iter().map(|(key, value)| Setting { key, value }).collect();
    let info = instance
        .init(settings)
        .await
        .with_context(|| format!("{name}: init"))?
        .map_err(|e| anyhow::anyhow!("{name}: init failed: {e:?}"))?;
    let changes = instance
        .update()
        .await
        .with_context(|| format!("{name}: update"))?
        .map_err(|e| anyhow::anyhow!("{name}: update failed: {e:?}"))?;
    let mut fields = Vec::new();
    let (mut vid, mut pid) = (String::from("?"), String::from("?"));
    for change in changes {
        if let Change::SetValue((key, value)) = change {
            match key.as_str() {
                "ups.vendorid" => vid = value,
                "ups.productid" => pid = value,
                // Zero-padded indexes: sorting the names keeps descriptor order.
                k if k.starts_with(PREFIX) => fields.push((key, value)),
                _ => {}
            }
        }
    }
    if fields.is_empty() {
        bail!("{name}: the {DRIVER} plugin published no explore entries (is it older than explore mode?)");
    }
    fields.sort();
    let text = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut lines = vec![format!(
        "# {vid}:{pid} manufacturer {}, product {}, serial {}; {} fields",
        text(info.manufacturer),
        text(info.model),
        text(info.serial),
        fields.len()
    )];
    lines.extend(fields.into_iter().map(|(_, line)| line));
    Ok(lines)
}
