//! Compiled plugins are cached on disk, keyed by digest and engine, so a
//! restart does not recompile.

mod support;

use hazel_runtime::plugin::LoadSource;
use hazel_runtime::{Plugin, Runtime, RuntimeConfig};
use support::*;

#[tokio::test]
async fn second_load_comes_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig { cache_dir: Some(cache.path().join("cache")), limits: test_limits() };
    let path = plugin_path("dummy");

    let rt = Runtime::new(config.clone()).unwrap();
    let first = Plugin::load(&rt, &path).await.unwrap();
    assert_eq!(first.load_source(), LoadSource::Compiled);
    drop(rt);

    // A new runtime (as after a restart) finds the compiled code.
    let rt = Runtime::new(config).unwrap();
    let second = Plugin::load(&rt, &path).await.unwrap();
    assert_eq!(second.load_source(), LoadSource::Cached);
    assert_eq!(second.description().name, "dummy");
    assert_eq!(first.digest(), second.digest());
}

#[tokio::test]
async fn corrupt_cache_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig { cache_dir: Some(cache.path().to_path_buf()), limits: test_limits() };
    let path = plugin_path("dummy");
    let rt = Runtime::new(config).unwrap();
    Plugin::load(&rt, &path).await.unwrap();
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not compiled code").unwrap();
    }
    let again = Plugin::load(&rt, &path).await.unwrap();
    assert_eq!(again.load_source(), LoadSource::Compiled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precompiled_code_loads_without_being_described_and_runs() {
    let rt = runtime();
    let path = plugin_path("contract_010");
    let wasm = std::fs::read(&path).unwrap();
    let cwasm = hazel_runtime::engine::precompile_plugin(&path, &wasm).unwrap();
    let digest = hazel_runtime::cache::digest_hex(&cwasm);
    // SAFETY: produced just now by an engine with the same settings.
    let plugin = unsafe { Plugin::load_precompiled_bytes_undescribed(&rt, &path, &cwasm, &digest) }.await.unwrap();
    assert_eq!(plugin.description().name, "", "not described");
    assert_eq!(plugin.load_source(), LoadSource::Precompiled);
    // It still runs: init and updates publish as the described plugin does.
    let (_handle, state) = spawn(&rt, device("late", std::sync::Arc::new(plugin), hazel_runtime::Grants::none(), &[]));
    wait_for(&state, "updates from the undescribed plugin", |s| counter(s) >= 1).await;
}
