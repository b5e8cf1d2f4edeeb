//! A plugin built against an earlier 0.1.y of the contract keeps loading and
//! running on this host: wasmtime matches its imports and its `driver`
//! export to the host's semver-compatible 0.1 definitions.

mod support;

use hazel_runtime::Grants;
use hazel_runtime::bindings::PACKAGE_VERSION;
use hazel_state::Availability;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_built_against_0_1_0_runs() {
    let rt = runtime();
    // contract-010 is built from a frozen copy of the 0.1.0 WIT.
    let plugin = load(&rt, "contract_010").await;
    assert_ne!(PACKAGE_VERSION, "0.1.0", "this test only means something once the host moved past 0.1.0");
    let imports = plugin.imports().join(" ");
    for import in ["hazel:plugin/log@0.1.0", "hazel:plugin/clock@0.1.0"] {
        assert!(imports.contains(import), "contract_010 should import {import}; imports: {imports}");
    }
    assert_eq!(plugin.description().name, "contract-010");

    let (_handle, state) = spawn(&rt, device("old", plugin, Grants::none(), &[]));
    // init called log (a trap if the 0.1.0 import were left unlinked), update calls clock.
    let s = wait_for(&state, "two updates from the 0.1.0 plugin", |s| counter(s) >= 2).await;
    assert_eq!(s.availability, Availability::Fresh);
    let clock: u64 = s.var("test.clock").map(|v| v.value.parse().expect("a number")).expect("test.clock published");
    assert!(clock > 0, "clock reads 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_power_race_export_is_optional() {
    use hazel_runtime::bindings::power_race::CyclesOnMains;
    let rt = runtime();
    // Built against 0.1.3 with the export (megatec, usbhid), and without it (dummy; contract-010 predates it).
    assert!(load(&rt, "megatec").await.declares_power_race());
    assert!(load(&rt, "usbhid").await.declares_power_race());
    assert!(!load(&rt, "dummy").await.declares_power_race());
    let old = load(&rt, "contract_010").await;
    assert!(!old.declares_power_race());

    // Without the export the supervisor records the safe answer once the instance is initialised.
    let (handle, state) = spawn(&rt, device("old", old, Grants::none(), &[]));
    wait_for(&state, "the 0.1.0 plugin running", |s| counter(s) >= 1).await;
    assert_eq!(handle.supervisor_status().cycles_on_mains, Some(CyclesOnMains::Unknown));
}
