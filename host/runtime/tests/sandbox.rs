//! A plugin that traps, loops, exhausts memory, panics, reaches for files or
//! WASI it was not granted is contained: its own device goes stale (and is
//! restarted where a restart can help), and every other device keeps updating.

mod support;

use hazel_runtime::Grants;
use hazel_state::Availability;
use support::*;

/// A grant for the test plugin, which imports `file`: one harmless file.
fn some_file() -> Grants {
    Grants::none().with_file("null.dev", "/dev/null")
}

/// Run a faulty device beside a healthy one; check the fault is reported with
/// `expected` in the reason, the healthy one keeps updating after it, and the
/// faulty one is restarted (becomes fresh again).
async fn contained(behavior: &str, expected: &str) {
    let rt = runtime();
    let plugin = load(&rt, "misbehave").await;
    let (_healthy_handle, healthy) = spawn(&rt, device("healthy", plugin.clone(), some_file(), &[("behavior", "ok")]));
    let (_faulty_handle, faulty) =
        spawn(&rt, device("faulty", plugin, some_file(), &[("behavior", behavior), ("after", "2")]));

    // It works for two updates, then faults.
    wait_for(&faulty, "faulty device reports data", |s| s.availability == Availability::Fresh).await;
    let stale = wait_for(&faulty, &format!("fault mentioning '{expected}'"), |s| {
        stale_reason(s).is_some_and(|r| r.contains(expected))
    })
    .await;
    let reason = stale_reason(&stale).unwrap_or_default().to_string();

    // The other device is undisturbed: its counter keeps rising after the fault.
    let before = counter(&healthy.snapshot());
    wait_for(&healthy, "healthy device keeps updating", |s| counter(s) >= before + 3).await;
    assert_eq!(healthy.snapshot().availability, Availability::Fresh);

    // The faulty device is restarted with a fresh instance.
    wait_for(&faulty, "faulty device restarted", |s| s.availability == Availability::Fresh).await;
    println!("{behavior}: {reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_is_contained() {
    contained("trap", "trapped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_contained() {
    contained("panic", "trapped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_interrupted() {
    contained("loop", "time budget").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_is_refused() {
    contained("alloc", "memory limit").await;
}

/// Even on a single executor thread, a looping plugin yields at every epoch
/// tick, so the other device still gets polled while it spins.
#[tokio::test(flavor = "current_thread")]
async fn infinite_loop_does_not_starve_a_single_thread() {
    contained("loop", "time budget").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_capability_refuses_to_start() {
    let rt = runtime();
    let plugin = load(&rt, "misbehave").await;
    // misbehave imports `file`, but this device's config grants no file.
    let (handle, state) = spawn(&rt, device("nofile", plugin, Grants::none(), &[("behavior", "ok")]));
    let s = wait_for(&state, "refusal", |s| stale_reason(s).is_some()).await;
    let reason = stale_reason(&s).unwrap();
    for needle in ["device 'nofile'", "plugin 'misbehave'", "capability 'file'", "not granted"] {
        assert!(reason.contains(needle), "reason lacks {needle:?}: {reason}");
    }
    // It is not retried, and requests are refused with the reason.
    let err = handle.instcmd("load.off", None).await.unwrap_err();
    assert!(err.to_string().contains("capability 'file'"), "{err}");
    assert!(s.var("test.counter").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_filesystem_and_sockets_refuse_to_start() {
    let rt = runtime();
    let plugin = load(&rt, "wasi_fs").await;
    let (_handle, state) = spawn(&rt, device("wasi", plugin, Grants::none(), &[]));
    let s = wait_for(&state, "refusal", |s| stale_reason(s).is_some()).await;
    let reason = stale_reason(&s).unwrap();
    assert!(reason.contains("device 'wasi'") && reason.contains("plugin 'wasi_fs'"), "{reason}");
    assert!(reason.contains("wasi:filesystem/") && reason.contains("wasi:sockets/"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_granted_file_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted.dev");
    std::fs::write(&granted, "ups.status: OL\n").unwrap();
    let rt = runtime();
    let plugin = load(&rt, "misbehave").await;
    let grants = Grants::none().with_file("granted.dev", &granted);
    let (_handle, state) =
        spawn(&rt, device("escape", plugin, grants, &[("behavior", "escape"), ("port", "granted.dev")]));
    let s = wait_for(&state, "probe results", |s| s.var("test.read.port").is_some()).await;
    assert_eq!(s.var("test.read.port").unwrap().value, "ok:15");
    assert_eq!(s.var("test.stat.port").unwrap().value, "ok:15");
    let probes: Vec<_> = s.vars().filter(|(n, _)| n.starts_with("test.read.") || n.starts_with("test.stat.")).collect();
    assert!(probes.len() >= 6, "expected several escape probes, got {probes:?}");
    for (name, var) in probes {
        if !name.ends_with(".port") {
            assert_eq!(var.value, "denied", "{name} was not denied");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_that_never_returns_is_interrupted_and_retried() {
    let rt = runtime();
    let plugin = load(&rt, "misbehave").await;
    let (_h1, healthy) = spawn(&rt, device("healthy", plugin.clone(), some_file(), &[("behavior", "ok")]));
    let (_h2, slow) = spawn(&rt, device("slow", plugin, some_file(), &[("behavior", "slow-init")]));
    let s = wait_for(&slow, "init timeout", |s| stale_reason(s).is_some_and(|r| r.contains("init"))).await;
    assert!(stale_reason(&s).unwrap().contains("time budget"), "{:?}", s.availability);
    let before = counter(&healthy.snapshot());
    wait_for(&healthy, "healthy device keeps updating", |s| counter(s) >= before + 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_configuration_is_not_retried() {
    let rt = runtime();
    let plugin = load(&rt, "misbehave").await;
    let (handle, state) = spawn(&rt, device("bad", plugin, some_file(), &[("behavior", "nonsense")]));
    let s = wait_for(&state, "rejection", |s| stale_reason(s).is_some()).await;
    assert!(stale_reason(&s).unwrap().contains("unknown behavior 'nonsense'"), "{:?}", s.availability);
    let err = handle.set_var("x", "1").await.unwrap_err();
    assert!(matches!(err, hazel_runtime::RequestError::Unavailable(_)), "{err:?}");
}

/// A plugin that handles a refused allocation itself is not a fault: it
/// reports a device error, the data goes stale, and the instance is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_allocation_handled_by_the_plugin_is_not_a_fault() {
    let rt = runtime();
    let plugin = load(&rt, "misbehave").await;
    let (_h, state) =
        spawn(&rt, device("graceful", plugin, some_file(), &[("behavior", "alloc-graceful"), ("after", "1")]));
    let s = wait_for(&state, "device error", |s| stale_reason(s).is_some()).await;
    let reason = stale_reason(&s).unwrap();
    assert!(reason.contains("allocating 1 GiB was refused") && !reason.contains("trapped"), "{reason}");
    // Not restarted: the variables of the first update are still there.
    assert!(s.var("test.counter").is_some());
}
