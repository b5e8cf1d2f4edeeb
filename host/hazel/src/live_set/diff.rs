//! What a reload must do: compare the running devices with the planned ones,
//! by name and fingerprint. Pure, so the rules are unit-tested apart from the
//! plugins and tasks they drive.

use std::collections::HashSet;

/// A device as the reconciler knows it: running now, or planned by the new file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceKey {
    /// Section name.
    pub name: String,
    /// Everything that decides what the device runs (see `fingerprint`).
    pub fingerprint: u64,
    /// A virtual device's upstream section.
    pub upstream: Option<String>,
}

/// The outcome of comparing the running set with the new plans. Names keep
/// the order of their input: plans in start order (upstream first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetDiff {
    /// Planned, not running: start.
    pub added: Vec<String>,
    /// Running, no longer in the file: stop and forget.
    pub removed: Vec<String>,
    /// Running with another fingerprint, or a virtual device whose upstream
    /// restarts (its grant names the upstream's old state): restart.
    pub changed: Vec<String>,
    /// Running with the same fingerprint: leave alone.
    pub unchanged: Vec<String>,
    /// Running, but the new version of its section cannot be used: keep
    /// running on the previous configuration until a valid one arrives.
    pub kept: Vec<String>,
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Compare `running` with `planned` (in start order); `broken` are the
/// sections of the new file that could not be planned.
pub fn diff(running: &[DeviceKey], planned: &[DeviceKey], broken: &[String]) -> SetDiff {
    let broken: HashSet<String> = broken.iter().map(|n| key(n)).collect();
    let planned_names: HashSet<String> = planned.iter().map(|p| key(&p.name)).collect();
    let mut result = SetDiff::default();
    // Devices that get a new state this reload; their virtual devices must follow.
    let mut respawned: HashSet<String> = HashSet::new();
    for plan in planned {
        let upstream_respawned = plan.upstream.as_ref().is_some_and(|u| respawned.contains(&key(u)));
        match running.iter().find(|r| key(&r.name) == key(&plan.name)) {
            None => {
                result.added.push(plan.name.clone());
                respawned.insert(key(&plan.name));
            }
            Some(current) if current.fingerprint != plan.fingerprint || upstream_respawned => {
                result.changed.push(plan.name.clone());
                respawned.insert(key(&plan.name));
            }
            Some(_) => result.unchanged.push(plan.name.clone()),
        }
    }
    for current in running {
        let name = key(&current.name);
        if planned_names.contains(&name) {
            continue;
        }
        if broken.contains(&name) {
            // Its old configuration runs on; re-bound if its upstream restarts.
            if current.upstream.as_ref().is_some_and(|u| respawned.contains(&key(u))) {
                result.changed.push(current.name.clone());
                respawned.insert(name);
            }
            result.kept.push(current.name.clone());
        } else {
            result.removed.push(current.name.clone());
        }
    }
    result
}

impl SetDiff {
    /// Whether nothing starts, stops or restarts.
    pub fn is_quiet(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str, fingerprint: u64) -> DeviceKey {
        DeviceKey { name: name.into(), fingerprint, upstream: None }
    }

    fn virt(name: &str, fingerprint: u64, upstream: &str) -> DeviceKey {
        DeviceKey { name: name.into(), fingerprint, upstream: Some(upstream.into()) }
    }

    #[test]
    fn added_removed_changed_unchanged() {
        let running = [dev("a", 1), dev("b", 2), dev("c", 3)];
        let planned = [dev("a", 1), dev("c", 30), dev("d", 4)];
        let d = diff(&running, &planned, &[]);
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.removed, ["b"]);
        assert_eq!(d.changed, ["c"]);
        assert_eq!(d.unchanged, ["a"]);
        assert!(d.kept.is_empty());
        assert!(!d.is_quiet());
    }

    #[test]
    fn the_same_file_is_quiet_and_names_compare_case_insensitively() {
        let running = [dev("UPS", 1), dev("b", 2)];
        let d = diff(&running, &[dev("ups", 1), dev("b", 2)], &[]);
        assert_eq!(d.unchanged, ["ups", "b"]);
        assert!(d.is_quiet());
    }

    #[test]
    fn a_broken_section_keeps_its_running_device() {
        let running = [dev("a", 1), dev("b", 2)];
        let d = diff(&running, &[dev("a", 1)], &["b".to_string()]);
        assert_eq!(d.kept, ["b"]);
        assert!(d.removed.is_empty());
        assert!(d.is_quiet());
        // A broken section that never ran is not started, nor kept.
        let d = diff(&[dev("a", 1)], &[dev("a", 1)], &["new".to_string()]);
        assert!(d.kept.is_empty() && d.added.is_empty());
    }

    #[test]
    fn a_restarted_upstream_restarts_its_virtual_devices_transitively() {
        let running = [dev("ups", 1), virt("clone", 2, "ups"), virt("outlet", 3, "clone"), dev("other", 4)];
        let planned = [dev("ups", 10), virt("clone", 2, "ups"), virt("outlet", 3, "clone"), dev("other", 4)];
        let d = diff(&running, &planned, &[]);
        assert_eq!(d.changed, ["ups", "clone", "outlet"]);
        assert_eq!(d.unchanged, ["other"]);
        // An unchanged upstream leaves them alone.
        let d = diff(&running, &running, &[]);
        assert!(d.changed.is_empty());
    }

    #[test]
    fn a_kept_virtual_device_is_rebound_when_its_upstream_restarts() {
        let running = [dev("ups", 1), virt("clone", 2, "ups")];
        let d = diff(&running, &[dev("ups", 10)], &["clone".to_string()]);
        assert_eq!(d.changed, ["ups", "clone"]);
        assert_eq!(d.kept, ["clone"]);
    }
}
