//! Shared helpers for the runtime's integration tests: where the built test
//! plugins are, a runtime with short limits, and waiting on device state.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hazel_runtime::{DeviceConfig, DeviceHandle, Grants, Limits, Plugin, Runtime, RuntimeConfig};
use hazel_state::{Availability, DeviceState, Snapshot};

/// Directory with the built plugins: `HAZEL_PLUGIN_DIR`, or the plugins
/// workspace's release output. Missing plugins fail the test with a hint:
/// `cargo xtask test` builds them first.
pub fn plugin_dir() -> PathBuf {
    std::env::var_os("HAZEL_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins/target/wasm32-wasip2/release"))
}

/// Path of a built plugin by file stem.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: build the plugins first (`cargo xtask test` does)", path.display());
    path
}

/// Limits short enough for tests to see faults quickly.
pub fn test_limits() -> Limits {
    Limits {
        memory_bytes: 16 << 20,
        call_timeout: Duration::from_millis(300),
        init_timeout: Duration::from_millis(500),
    }
}

/// A runtime with test limits and no cache.
pub fn runtime() -> Arc<Runtime> {
    Runtime::new(RuntimeConfig { cache_dir: None, limits: test_limits() }).expect("runtime")
}

/// Load a built plugin.
pub async fn load(runtime: &Runtime, name: &str) -> Arc<Plugin> {
    Arc::new(Plugin::load(runtime, &plugin_path(name)).await.expect("plugin loads"))
}

/// A device config polling every 50 ms with 100 ms restart backoff.
pub fn device(name: &str, plugin: Arc<Plugin>, grants: Grants, settings: &[(&str, &str)]) -> DeviceConfig {
    DeviceConfig {
        name: name.into(),
        plugin,
        grants,
        settings: settings.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect(),
        poll_interval: Duration::from_millis(50),
        host_edits: Vec::new(),
        ignore_lb: false,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
    }
}

/// Start a device; returns its handle and state.
pub fn spawn(runtime: &Arc<Runtime>, config: DeviceConfig) -> (DeviceHandle, Arc<DeviceState>) {
    let state = Arc::new(DeviceState::new(config.name.clone(), None));
    let handle = DeviceHandle::spawn(runtime.clone(), config, state.clone());
    (handle, state)
}

/// Wait (up to 30 s, generous for slow CI) until `cond` holds for the device's state.
pub async fn wait_for(state: &DeviceState, what: &str, mut cond: impl FnMut(&Snapshot) -> bool) -> Arc<Snapshot> {
    let mut rx = state.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let snapshot = rx.borrow_and_update().clone();
        if cond(&snapshot) {
            return snapshot;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("device '{}' state closed while waiting for: {what}", state.name()),
            Err(_) => {
                panic!("timed out waiting for: {what}; last state of '{}': {:?}", state.name(), snapshot.availability)
            }
        }
    }
}

/// The stale reason, if stale.
pub fn stale_reason(s: &Snapshot) -> Option<&str> {
    match &s.availability {
        Availability::Stale(reason) => Some(reason),
        _ => None,
    }
}

/// The healthy device's `test.counter`.
pub fn counter(s: &Snapshot) -> u64 {
    s.var("test.counter").and_then(|v| v.value.parse().ok()).unwrap_or(0)
}
