//! The store of all devices, and the per-device handle writers and readers share.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::name::{Name, NameRef};
use crate::snapshot::{Availability, Edit, Snapshot};

/// One device's state: its configured identity and its latest [`Snapshot`].
///
/// Writers call [`DeviceState::apply`]; readers call
/// [`DeviceState::snapshot`] or [`DeviceState::subscribe`].
#[derive(Debug)]
pub struct DeviceState {
    name: String,
    description: Option<String>,
    current: watch::Sender<Arc<Snapshot>>,
}

impl DeviceState {
    /// A device that has not reported yet.
    pub fn new(name: impl Into<String>, description: Option<String>) -> Self {
        DeviceState { name: name.into(), description, current: watch::Sender::new(Arc::new(Snapshot::new())) }
    }

    /// The device name (its ups.conf section).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `desc =` of its section, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The current state. Cheap: an `Arc` clone.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.borrow().clone()
    }

    /// A receiver woken after every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.current.subscribe()
    }

    /// Apply a batch of edits from one plugin update and mark the data fresh.
    /// Subscribers are woken once, and only if something changed.
    pub fn apply_update(&self, edits: impl IntoIterator<Item = Edit>) {
        self.modify(|s| {
            let mut changed = false;
            for edit in edits {
                changed |= s.apply(edit);
            }
            if s.ignores_lb() {
                changed |= s.rebuild_status();
            }
            if s.availability != Availability::Fresh {
                s.availability = Availability::Fresh;
                changed = true;
            }
            s.last_update = Some(Instant::now());
            changed
        });
    }

    /// Apply host edits (overrides, defaults, `driver.*`) without touching freshness.
    pub fn apply_host_edits(&self, edits: impl IntoIterator<Item = Edit>) {
        self.modify(|s| edits.into_iter().fold(false, |changed, e| s.apply(e) | changed));
    }

    /// Set `ignorelb` behaviour for this device.
    pub fn set_ignore_lb(&self, ignore: bool) {
        self.modify(|s| {
            s.set_ignore_lb(ignore);
            true
        });
    }

    /// Mark the data stale (the plugin failed, is restarting, or the device is unreachable).
    pub fn mark_stale(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.modify(|s| {
            let new = Availability::Stale(reason);
            if s.availability == new {
                return false;
            }
            s.availability = new;
            true
        });
    }

    /// Drop every variable and command: a new plugin instance is starting and
    /// will report its state afresh. The device is `Starting` until it does.
    pub fn reset(&self) {
        self.modify(|s| {
            let ignore_lb = s.ignores_lb();
            let generation = s.generation;
            *s = Snapshot::new();
            s.set_ignore_lb(ignore_lb);
            s.generation = generation;
            true
        });
    }

    fn modify(&self, f: impl FnOnce(&mut Snapshot) -> bool) {
        self.current.send_if_modified(|current| {
            let snapshot = Arc::make_mut(current);
            let changed = f(snapshot);
            if changed {
                snapshot.generation += 1;
            }
            changed
        });
    }
}

/// All configured devices, by case-insensitive name, in configuration order.
#[derive(Debug, Default)]
pub struct StateStore {
    devices: RwLock<BTreeMap<Name, (usize, Arc<DeviceState>)>>,
    next_order: std::sync::atomic::AtomicUsize,
}

impl StateStore {
    /// An empty store.
    pub fn new() -> Self {
        StateStore::default()
    }

    /// Add a device, or return the existing one of that name.
    pub fn insert(&self, device: DeviceState) -> Arc<DeviceState> {
        let mut devices = self.devices.write().unwrap_or_else(|e| e.into_inner());
        let order = self.next_order.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        devices.entry(Name::new(device.name())).or_insert_with(|| (order, Arc::new(device))).1.clone()
    }

    /// Add a device, or put it in the place of the existing one of that name
    /// (keeping its position), so readers never see the name missing.
    pub fn replace(&self, device: DeviceState) -> Arc<DeviceState> {
        let mut devices = self.devices.write().unwrap_or_else(|e| e.into_inner());
        let device = Arc::new(device);
        let name = Name::new(device.name());
        let order = match devices.get(&name) {
            Some((order, _)) => *order,
            None => self.next_order.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        devices.insert(name, (order, device.clone()));
        device
    }

    /// Put the devices in the order of `names` (e.g. after a config reload
    /// moved or inserted sections); devices not named keep their relative
    /// order after them.
    pub fn reorder<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut devices = self.devices.write().unwrap_or_else(|e| e.into_inner());
        let mut wanted: Vec<Name> = Vec::new();
        for name in names {
            let name = Name::new(name);
            if devices.contains_key(&name) && !wanted.contains(&name) {
                wanted.push(name);
            }
        }
        let mut rest: Vec<(usize, Name)> = devices
            .iter()
            .filter(|(name, _)| !wanted.contains(name))
            .map(|(name, (o, _))| (*o, name.clone()))
            .collect();
        rest.sort_by_key(|(order, _)| *order);
        let all = wanted.into_iter().chain(rest.into_iter().map(|(_, name)| name));
        let mut next = 0;
        for (position, name) in all.enumerate() {
            if let Some((order, _)) = devices.get_mut(&name) {
                *order = position;
            }
            next = position + 1;
        }
        self.next_order.store(next, std::sync::atomic::Ordering::Relaxed);
    }

    /// Remove a device; returns it if it existed.
    pub fn remove(&self, name: &str) -> Option<Arc<DeviceState>> {
        let mut devices = self.devices.write().unwrap_or_else(|e| e.into_inner());
        devices.remove(NameRef::new(name)).map(|(_, d)| d)
    }

    /// Find a device by name, ignoring case (as upsd does).
    pub fn get(&self, name: &str) -> Option<Arc<DeviceState>> {
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        devices.get(NameRef::new(name)).map(|(_, d)| d.clone())
    }

    /// All devices in the order they were added.
    pub fn devices(&self) -> Vec<Arc<DeviceState>> {
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = devices.values().cloned().collect();
        all.sort_by_key(|(order, _)| *order);
        all.into_iter().map(|(_, d)| d).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_are_woken_on_change_only() {
        let dev = DeviceState::new("ups1", None);
        let mut rx = dev.subscribe();
        rx.mark_unchanged();
        dev.apply_update([Edit::SetValue("ups.load".into(), "10".into())]);
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        dev.apply_update([Edit::SetValue("ups.load".into(), "10".into())]);
        assert!(!rx.has_changed().unwrap());
        dev.mark_stale("gone");
        assert!(rx.has_changed().unwrap());
        assert_eq!(dev.snapshot().availability, Availability::Stale("gone".into()));
    }

    #[test]
    fn store_lookup_is_case_insensitive_and_ordered() {
        let store = StateStore::new();
        store.insert(DeviceState::new("zeta", None));
        store.insert(DeviceState::new("Alpha", Some("first".into())));
        assert!(store.get("ALPHA").is_some());
        let names: Vec<_> = store.devices().iter().map(|d| d.name().to_string()).collect();
        assert_eq!(names, ["zeta", "Alpha"]);
        assert!(store.remove("zeta").is_some());
        assert!(store.get("zeta").is_none());
    }

    #[test]
    fn replace_keeps_the_place_and_reorder_follows_the_names() {
        let store = StateStore::new();
        for name in ["a", "b", "c"] {
            store.insert(DeviceState::new(name, None));
        }
        let old = store.get("b").unwrap();
        let new = store.replace(DeviceState::new("B", Some("new".into())));
        assert!(!Arc::ptr_eq(&old, &new));
        let names = |store: &StateStore| store.devices().iter().map(|d| d.name().to_string()).collect::<Vec<_>>();
        assert_eq!(names(&store), ["a", "B", "c"]);
        store.insert(DeviceState::new("d", None));
        store.reorder(["d", "c", "nosuch", "a"]);
        assert_eq!(names(&store), ["d", "c", "a", "B"]);
        store.insert(DeviceState::new("e", None));
        assert_eq!(names(&store), ["d", "c", "a", "B", "e"]);
    }
}
