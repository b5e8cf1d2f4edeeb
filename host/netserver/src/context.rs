//! What every connection shares: devices, users, settings, FSD latches, the
//! list of connected clients and tracking results.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use hazel_state::StateStore;
use tokio::sync::Notify;

use crate::control::DeviceControl;
use crate::tls::ServerTls;
use crate::tracking::TrackingTable;
use crate::upsd_conf::UpsdConf;
use crate::users::Users;

/// The first line of `VER` and the value of `server.info`, and the version
/// `server.version` reports.
///
/// Decision: by default Hazel answers exactly as upsd 2.8.0 does
/// (`Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/`).
/// Stock clients (upsc, upsmon, aionut) do not parse it, but some exporters
/// and dashboards match the text or compare the version to enable features,
/// and 2.8.0 is the protocol behaviour Hazel reproduces. A host that prefers
/// to announce itself can set its own identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerIdentity {
    /// Version reported by `server.version` and inside the `VER` line.
    pub version: String,
    /// URL at the end of the `VER` line.
    pub url: String,
}

impl Default for ServerIdentity {
    fn default() -> Self {
        ServerIdentity { version: "2.8.0".to_string(), url: "http://www.networkupstools.org/".to_string() }
    }
}

impl ServerIdentity {
    /// The `VER` reply and `server.info` value.
    pub fn banner(&self) -> String {
        format!("Network UPS Tools upsd {} - {}", self.version, self.url)
    }
}

/// One connected client, as `NUMLOGINS` and `LIST CLIENT` see it.
#[derive(Debug)]
struct ClientEntry {
    address: IpAddr,
    /// Device name (configured spelling) after a successful `LOGIN`.
    login: Option<String>,
    /// Woken to make the connection close (its device was removed).
    kick: Arc<Notify>,
}

/// Connected clients by connection number (increasing with connect time).
#[derive(Debug, Default)]
pub(crate) struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, ClientEntry>>,
}

impl ClientRegistry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, ClientEntry>> {
        self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn register(&self, address: IpAddr) -> (u64, Arc<Notify>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let kick = Arc::new(Notify::new());
        self.lock().insert(id, ClientEntry { address, login: None, kick: kick.clone() });
        (id, kick)
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    pub(crate) fn set_login(&self, id: u64, device: &str) {
        if let Some(entry) = self.lock().get_mut(&id) {
            entry.login = Some(device.to_string());
        }
    }

    pub(crate) fn login_count(&self, device: &str) -> usize {
        self.lock()
            .values()
            .filter(|entry| entry.login.as_deref().is_some_and(|login| login.eq_ignore_ascii_case(device)))
            .count()
    }

    /// `(device, address)` of clients logged in to `device`, newest
    /// connection first (upsd's order).
    pub(crate) fn logins(&self, device: &str) -> Vec<(String, IpAddr)> {
        self.lock()
            .values()
            .rev()
            .filter_map(|entry| {
                let login = entry.login.as_deref()?;
                login.eq_ignore_ascii_case(device).then(|| (login.to_string(), entry.address))
            })
            .collect()
    }

    fn kick_logins(&self, device: &str) {
        for entry in self.lock().values() {
            if entry.login.as_deref().is_some_and(|login| login.eq_ignore_ascii_case(device)) {
                entry.kick.notify_one();
            }
        }
    }
}

/// State shared by all connections of one server.
pub struct ServerContext {
    pub(crate) store: Arc<StateStore>,
    pub(crate) control: Arc<dyn DeviceControl>,
    users: RwLock<Arc<Users>>,
    pub(crate) identity: ServerIdentity,
    maxage_secs: AtomicU64,
    /// Lower-cased names of devices whose FSD latch is set.
    fsd: Mutex<HashSet<String>>,
    pub(crate) clients: Arc<ClientRegistry>,
    pub(crate) tracking: Arc<TrackingTable>,
    /// Certificate and key for `STARTTLS`; without them it is refused.
    pub(crate) tls: Option<ServerTls>,
}

impl std::fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerContext")
            .field("identity", &self.identity)
            .field("maxage", &self.maxage())
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ServerContext {
    /// A context serving the devices of `store`, forwarding writes to
    /// `control`, checking rights against `users`, with `MAXAGE` and
    /// `TRACKINGDELAY` from `conf`.
    pub fn new(store: Arc<StateStore>, control: Arc<dyn DeviceControl>, users: Users, conf: &UpsdConf) -> Self {
        ServerContext {
            store,
            control,
            users: RwLock::new(Arc::new(users)),
            identity: ServerIdentity::default(),
            maxage_secs: AtomicU64::new(conf.maxage.as_secs()),
            fsd: Mutex::new(HashSet::new()),
            clients: Arc::new(ClientRegistry::default()),
            tracking: Arc::new(TrackingTable::new(conf.tracking_delay)),
            tls: None,
        }
    }

    /// Replace the identity announced by `VER` and `server.*`.
    pub fn with_identity(mut self, identity: ServerIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// Offer `STARTTLS` with this certificate (without one, clients are
    /// answered `ERR FEATURE-NOT-CONFIGURED` and stay in plain text).
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether `STARTTLS` is offered.
    pub fn tls_configured(&self) -> bool {
        self.tls.is_some()
    }

    /// Apply a reloaded `upsd.users` (takes effect for the next request).
    pub fn set_users(&self, users: Users) {
        *self.users.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(users);
    }

    /// Apply the reloadable settings of a re-read `upsd.conf` (`MAXAGE`,
    /// `TRACKINGDELAY`); listeners are only read at start, as in upsd.
    pub fn apply_conf(&self, conf: &UpsdConf) {
        self.maxage_secs.store(conf.maxage.as_secs(), Ordering::Relaxed);
        self.tracking.set_keep_for(conf.tracking_delay);
    }

    /// Whether `FSD <device>` has been accepted. The latch is never cleared
    /// while the device stays configured, as in upsd.
    pub fn fsd_latched(&self, device: &str) -> bool {
        let latched = self.lock_fsd();
        // Asked on every `ups.status` read: no lowercased copy while nothing is latched.
        !latched.is_empty() && latched.contains(&device.to_ascii_lowercase())
    }

    /// A device was removed from the configuration: clear its FSD latch and
    /// disconnect the clients logged in to it (upsd does both on reload).
    pub fn device_removed(&self, device: &str) {
        self.lock_fsd().remove(&device.to_ascii_lowercase());
        self.clients.kick_logins(device);
    }

    /// Number of clients logged in to `device` (`GET NUMLOGINS`).
    pub fn login_count(&self, device: &str) -> usize {
        self.clients.login_count(device)
    }

    pub(crate) fn latch_fsd(&self, device: &str) {
        self.lock_fsd().insert(device.to_ascii_lowercase());
    }

    pub(crate) fn users(&self) -> Arc<Users> {
        self.users.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(crate) fn maxage(&self) -> Duration {
        Duration::from_secs(self.maxage_secs.load(Ordering::Relaxed))
    }

    fn lock_fsd(&self) -> MutexGuard<'_, HashSet<String>> {
        self.fsd.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
