//! The wasmtime engine every plugin instance shares, with its epoch ticker.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use crate::cache::CompiledCache;
use crate::capability::{self, DeviceContext};
use crate::limits::Limits;

/// How often the epoch advances. Call deadlines are checked (and a looping
/// plugin yields to other tasks) at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Settings of the plugin runtime.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    /// Where compiled plugins are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Limits for every instance.
    pub limits: Limits,
}

/// Errors setting up the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime refused the engine configuration.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The compiled-plugin cache directory is unusable.
    #[error("compiled-plugin cache {path}: {source}")]
    Cache {
        /// The cache directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// The shared engine, linker and cache. Create one per process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<DeviceContext>,
    cache: Option<CompiledCache>,
    limits: Limits,
    ticker: Option<Ticker>,
}

/// The engine configuration. Precompiled plugins must come from an engine
/// with exactly these settings (wasmtime checks), so both the full host and
/// the runtime-only initrd host build it here.
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config
}

/// Precompile the plugin `wasm` (read from `path`) into `.cwasm` bytes that
/// every engine built from [`engine_config`] loads, including the
/// runtime-only one of the initrd host. The result is native code for this
/// wasmtime version and this CPU's features.
#[cfg(feature = "compiler")]
pub fn precompile_plugin(path: &std::path::Path, wasm: &[u8]) -> Result<Vec<u8>, crate::plugin::PluginError> {
    let invalid =
        |e: wasmtime::Error| crate::plugin::PluginError::Invalid { path: path.into(), message: format!("{e:#}") };
    let engine = Engine::new(&engine_config()).map_err(invalid)?;
    engine.precompile_component(wasm).map_err(invalid)
}

/// Like [`precompile_plugin`], but for this architecture's baseline CPU
/// rather than this CPU: naming the target explicitly turns off wasmtime's
/// host feature detection, so the code uses no optional ISA extension (no
/// AVX) and loads on any CPU of the architecture. For a tree built on one
/// machine and run on another (an image builder's initrd, a VM under qemu
/// TCG, which lacks AVX-512).
#[cfg(feature = "compiler")]
pub fn precompile_plugin_portable(path: &std::path::Path, wasm: &[u8]) -> Result<Vec<u8>, crate::plugin::PluginError> {
    let invalid =
        |e: wasmtime::Error| crate::plugin::PluginError::Invalid { path: path.into(), message: format!("{e:#}") };
    let mut config = engine_config();
    // wasmtime checks only the architecture and OS of a precompiled module's triple.
    config.target(&format!("{}-unknown-{}", std::env::consts::ARCH, std::env::consts::OS)).map_err(invalid)?;
    let engine = Engine::new(&config).map_err(invalid)?;
    engine.precompile_component(wasm).map_err(invalid)
}

impl Runtime {
    /// Build the engine, link the capabilities and start the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Arc<Self>, RuntimeError> {
        let engine = Engine::new(&engine_config()).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        capability::add_to_linker(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let cache = match config.cache_dir {
            Some(path) => Some(CompiledCache::open(&path).map_err(|source| RuntimeError::Cache { path, source })?),
            None => None,
        };
        let ticker = Ticker::start(engine.clone());
        Ok(Arc::new(Runtime { engine, linker, cache, limits: config.limits, ticker: Some(ticker) }))
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with every capability defined.
    pub fn linker(&self) -> &Linker<DeviceContext> {
        &self.linker
    }

    /// The compiled-plugin cache, if configured.
    pub fn cache(&self) -> Option<&CompiledCache> {
        self.cache.as_ref()
    }

    /// Limits applied to every instance.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`].
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Ticker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hazel-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread only fails when the OS is out of threads");
        Ticker { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
