//! Loading plugins: from `.wasm` (compiled, with the on-disk cache) or from
//! precompiled `.cwasm`, and the catalog that maps NUT driver names to them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, LinkerInstance, ResourceType};

use crate::bindings::{AllCapabilitiesPre, power_race, types::Description};
use crate::capability::DeviceContext;
use crate::engine::Runtime;
use crate::grants::{ImportKind, classify_import};
use crate::instance::DeviceInstance;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The bytes are not a valid component, or compiled for another engine.
    #[error("{path}: not a loadable plugin: {message}")]
    Invalid {
        /// The plugin file.
        path: PathBuf,
        /// wasmtime's explanation.
        message: String,
    },
    /// This build cannot compile `.wasm`; only precompiled `.cwasm` files load.
    #[error("{path}: this build has no compiler; precompile the plugin to .cwasm")]
    NoCompiler {
        /// The plugin file.
        path: PathBuf,
    },
    /// The component does not export Hazel's `driver` interface (or exports an incompatible one).
    #[error("{path}: does not implement hazel:plugin/driver: {message}")]
    NotAPlugin {
        /// The plugin file.
        path: PathBuf,
        /// wasmtime's explanation.
        message: String,
    },
    /// `describe` failed.
    #[error("{path}: describe() failed: {message}")]
    Describe {
        /// The plugin file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
}

/// How a plugin's code was obtained, for logs and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadSource {
    /// Compiled now from `.wasm` (and stored in the cache if there is one).
    Compiled,
    /// Loaded from the compiled-plugin cache.
    Cached,
    /// Loaded from a precompiled `.cwasm` file.
    Precompiled,
}

/// Define every import of `component` that is not one of Hazel's capabilities
/// (the WASI interfaces `std` links, forbidden or unsupported imports) as a
/// trap, so the component links; `grants::check_imports` decides whether it
/// may start.
///
/// Not `Linker::define_unknown_imports_as_traps`: it matches names exactly, so
/// an import of an earlier compatible contract (`hazel:plugin/log@0.1.0` on a
/// 0.1.1 host) would get a trapping instance of that exact name, which then
/// shadows the host's semver-compatible definition.
fn stub_foreign_imports(linker: &mut Linker<DeviceContext>, component: &Component) -> wasmtime::Result<()> {
    let engine = linker.engine().clone();
    for (name, item) in component.component_type().imports(&engine) {
        if !matches!(classify_import(name), ImportKind::Capability(_)) {
            stub_item(&mut linker.root(), &engine, name, name, item.ty)?;
        }
    }
    Ok(())
}

/// Define `item` as `name` in `linker`: functions trap, resources are inert,
/// instances are stubbed member by member. `path` names it in trap messages.
fn stub_item(
    linker: &mut LinkerInstance<'_, DeviceContext>,
    engine: &wasmtime::Engine,
    name: &str,
    path: &str,
    item: ComponentItem,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => {
            let path = path.to_string();
            linker.func_new(name, move |_, _, _, _| {
                Err(wasmtime::Error::msg(format!("{path} is not available to plugins")))
            })
        }
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (member, item) in instance.exports(engine) {
                stub_item(&mut inner, engine, member, &format!("{path}#{member}"), item.ty)?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) => linker.resource(name, ResourceType::host::<()>(), |_, _| Ok(())),
        // Types need no definition; anything else is left for instantiation to refuse.
        _ => Ok(()),
    }
}

/// A loaded plugin, ready to be instantiated for any number of devices.
pub struct Plugin {
    name: String,
    path: PathBuf,
    digest: String,
    imports: Vec<String>,
    pre: AllCapabilitiesPre<DeviceContext>,
    /// Where the optional `power-race` export is; `None` when the plugin has none.
    power_race: Option<power_race::GuestIndices>,
    description: Description,
    source: LoadSource,
    load_time: Duration,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("name", &self.name).field("path", &self.path).finish_non_exhaustive()
    }
}

impl Plugin {
    /// Load the plugin at `path` and ask it to describe itself (granting it nothing).
    pub async fn load(runtime: &Runtime, path: &Path) -> Result<Plugin, PluginError> {
        let started = Instant::now();
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read { path: path.into(), source })?;
        let digest = crate::cache::digest_hex(&bytes);
        let invalid = |e: wasmtime::Error| PluginError::Invalid { path: path.into(), message: format!("{e:#}") };
        let (component, source) = if path.extension().is_some_and(|e| e == "cwasm") {
            // SAFETY: deserializing trusts the bytes to be code wasmtime produced. Precompiled
            // plugins come only from the plugin directories the operator configured.
            let component = unsafe { Component::deserialize(runtime.engine(), &bytes) }.map_err(invalid)?;
            (component, LoadSource::Precompiled)
        } else {
            compile_or_cached(runtime, path, &bytes, &digest)?
        };
        Self::from_component(runtime, path, digest, component, source, started).await
    }

    /// Load precompiled code (`.cwasm` bytes, read from `path`, whose SHA-256
    /// is `digest`) and ask it to describe itself. For a caller that reads the
    /// file once and checks its digest against a trusted record (the initrd
    /// host's bundle) before this.
    ///
    /// # Safety
    ///
    /// Deserializing maps `bytes` as native code without any check: they must
    /// be exactly what wasmtime's `precompile_component` produced for an
    /// engine with [`crate::engine::engine_config`], from a trusted source.
    pub async unsafe fn load_precompiled_bytes(
        runtime: &Runtime,
        path: &Path,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Plugin, PluginError> {
        let started = Instant::now();
        // SAFETY: the caller vouches for the bytes (see above).
        let component = unsafe { deserialize_trusted(runtime, path, bytes) }?;
        Self::from_component(runtime, path, digest.to_string(), component, LoadSource::Precompiled, started).await
    }

    /// Like [`Plugin::load_precompiled_bytes`], without asking the plugin to
    /// describe itself: for a caller that already knows what the plugin is
    /// and only instantiates it (the initrd host, whose manifest names the
    /// plugin and its driver). It saves an instantiation and a call on the
    /// way to the device; [`Plugin::description`] is then empty.
    ///
    /// # Safety
    ///
    /// As for [`Plugin::load_precompiled_bytes`].
    pub async unsafe fn load_precompiled_bytes_undescribed(
        runtime: &Runtime,
        path: &Path,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Plugin, PluginError> {
        let started = Instant::now();
        // SAFETY: the caller vouches for the bytes (see above).
        let component = unsafe { deserialize_trusted(runtime, path, bytes) }?;
        let mut plugin = Self::link(runtime, path, digest.to_string(), component, LoadSource::Precompiled)?;
        plugin.load_time = started.elapsed();
        Ok(plugin)
    }

    async fn from_component(
        runtime: &Runtime,
        path: &Path,
        digest: String,
        component: Component,
        source: LoadSource,
        started: Instant,
    ) -> Result<Plugin, PluginError> {
        let mut plugin = Self::link(runtime, path, digest, component, source)?;
        let describe_error = |message: String| PluginError::Describe { path: path.into(), message };
        let mut instance =
            DeviceInstance::ungranted(runtime, &plugin).await.map_err(|e| describe_error(e.to_string()))?;
        plugin.description = instance.describe().await.map_err(|e| describe_error(e.to_string()))?;
        plugin.load_time = started.elapsed();
        Ok(plugin)
    }

    /// Link `component` against the capabilities: a plugin with an empty description.
    fn link(
        runtime: &Runtime,
        path: &Path,
        digest: String,
        component: Component,
        source: LoadSource,
    ) -> Result<Plugin, PluginError> {
        let invalid = |e: wasmtime::Error| PluginError::Invalid { path: path.into(), message: format!("{e:#}") };
        let imports: Vec<String> =
            component.component_type().imports(runtime.engine()).map(|(name, _)| name.to_string()).collect();
        let mut linker = runtime.linker().clone();
        // Imports outside Hazel's capabilities become traps here; whether a device may start
        // with them at all is decided by `grants::check_imports` before instantiation.
        stub_foreign_imports(&mut linker, &component).map_err(invalid)?;
        let not_a_plugin =
            |e: wasmtime::Error| PluginError::NotAPlugin { path: path.into(), message: format!("{e:#}") };
        let pre = linker.instantiate_pre(&component).map_err(not_a_plugin)?;
        // Optional (0.1.3): a plugin built against an earlier contract, or one that does not
        // know, has no such export; a lookup failure only means "unknown".
        let power_race = power_race::GuestIndices::new(&pre).ok();
        let pre = AllCapabilitiesPre::new(pre).map_err(not_a_plugin)?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let plugin = Plugin {
            name,
            path: path.into(),
            digest,
            imports,
            pre,
            power_race,
            description: Description {
                name: String::new(),
                version: String::new(),
                protocol: String::new(),
                drivers: Vec::new(),
                capabilities: Vec::new(),
                usb_ids: Vec::new(),
            },
            source,
            load_time: Duration::ZERO,
        };
        Ok(plugin)
    }

    /// The plugin's file name without extension, e.g. "dummy".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the file, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The component's imports, e.g. `hazel:plugin/file@0.1.0`: what it can ask for.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// What the plugin says about itself.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// How its code was obtained.
    pub fn load_source(&self) -> LoadSource {
        self.source
    }

    /// Time taken to load (compile or deserialize, link, describe).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Whether it exports the optional `power-race` interface (since 0.1.3).
    pub fn declares_power_race(&self) -> bool {
        self.power_race.is_some()
    }

    pub(crate) fn pre(&self) -> &AllCapabilitiesPre<DeviceContext> {
        &self.pre
    }

    pub(crate) fn power_race_indices(&self) -> Option<&power_race::GuestIndices> {
        self.power_race.as_ref()
    }
}

#[cfg(feature = "compiler")]
fn compile_or_cached(
    runtime: &Runtime,
    path: &Path,
    bytes: &[u8],
    digest: &str,
) -> Result<(Component, LoadSource), PluginError> {
    let invalid = |e: wasmtime::Error| PluginError::Invalid { path: path.into(), message: format!("{e:#}") };
    let Some(cache) = runtime.cache() else {
        return Ok((Component::new(runtime.engine(), bytes).map_err(invalid)?, LoadSource::Compiled));
    };
    let entry = cache.entry_path(runtime.engine(), digest);
    if entry.exists() {
        // SAFETY: the entry is named by the plugin's digest and this engine's fingerprint and lives
        // in a directory only this user can write (checked by `CompiledCache::open`).
        match unsafe { Component::deserialize_file(runtime.engine(), &entry) } {
            Ok(component) => return Ok((component, LoadSource::Cached)),
            Err(e) => tracing::warn!(entry = %entry.display(), "ignoring unusable cache entry: {e:#}"),
        }
    }
    let compiled = runtime.engine().precompile_component(bytes).map_err(invalid)?;
    if let Err(e) = cache.store(&entry, &compiled) {
        tracing::warn!(entry = %entry.display(), "cannot store compiled plugin: {e}");
    }
    // SAFETY: `compiled` was produced just now by this engine.
    let component = unsafe { Component::deserialize(runtime.engine(), &compiled) }.map_err(invalid)?;
    Ok((component, LoadSource::Compiled))
}

#[cfg(not(feature = "compiler"))]
fn compile_or_cached(
    _runtime: &Runtime,
    path: &Path,
    _bytes: &[u8],
    _digest: &str,
) -> Result<(Component, LoadSource), PluginError> {
    Err(PluginError::NoCompiler { path: path.into() })
}

/// Every plugin found in the configured directories, by name and by the NUT
/// driver names they declare.
#[derive(Default)]
pub struct PluginCatalog {
    plugins: BTreeMap<String, Arc<Plugin>>,
    by_driver: BTreeMap<String, String>,
    problems: Vec<PluginError>,
}

impl PluginCatalog {
    /// Load every `.wasm`/`.cwasm` in `dirs`. An earlier directory wins over a
    /// later one for the same plugin name. Plugins that fail to load are kept
    /// as [`PluginCatalog::problems`], not fatal: one bad file must not stop the rest.
    pub async fn scan(runtime: &Runtime, dirs: &[PathBuf]) -> PluginCatalog {
        let mut catalog = PluginCatalog::default();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wasm" || e == "cwasm"))
                .collect();
            files.sort();
            for file in files {
                let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                if catalog.plugins.contains_key(&stem) {
                    continue;
                }
                match Plugin::load(runtime, &file).await {
                    Ok(plugin) => catalog.add(plugin),
                    Err(e) => catalog.problems.push(e),
                }
            }
        }
        catalog
    }

    /// Add a loaded plugin.
    pub fn add(&mut self, plugin: Plugin) {
        for driver in &plugin.description.drivers {
            self.by_driver.entry(driver.clone()).or_insert_with(|| plugin.name.clone());
        }
        self.plugins.insert(plugin.name.clone(), Arc::new(plugin));
    }

    /// A plugin by its name (file stem).
    pub fn get(&self, name: &str) -> Option<Arc<Plugin>> {
        self.plugins.get(name).cloned()
    }

    /// The plugin that declared NUT driver `driver`.
    pub fn for_driver(&self, driver: &str) -> Option<Arc<Plugin>> {
        self.by_driver.get(driver).and_then(|name| self.get(name))
    }

    /// All loaded plugins.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }

    /// Files that were found but could not be loaded.
    pub fn problems(&self) -> &[PluginError] {
        &self.problems
    }
}

/// Deserialize precompiled component `bytes` (from `path`, for errors).
///
/// # Safety
///
/// As for [`Plugin::load_precompiled_bytes`]: the bytes must be wasmtime's
/// own output for this engine's configuration, from a trusted source.
unsafe fn deserialize_trusted(runtime: &Runtime, path: &Path, bytes: &[u8]) -> Result<Component, PluginError> {
    // SAFETY: forwarded to the caller.
    unsafe { Component::deserialize(runtime.engine(), bytes) }
        .map_err(|e| PluginError::Invalid { path: path.into(), message: format!("{e:#}") })
}
