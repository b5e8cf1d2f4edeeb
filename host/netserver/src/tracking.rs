//! Execution tracking of writes (`SET TRACKING ON`, `GET TRACKING <id>`).
//!
//! Each tracked write gets a random UUIDv4 id (upper-case hex, as upsd
//! prints it). Its result is PENDING until the device reports, then the
//! device's outcome. Entries are forgotten after `TRACKINGDELAY` seconds;
//! ids are shared by all connections, as in upsd (anyone holding an id may
//! ask about it).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::control::ControlError;

/// Most results remembered at once. upsd has no limit; a cap keeps memory
/// bounded even if a trusted client floods tracked writes (oldest go first).
const MAX_ENTRIES: usize = 10_000;

/// The result of one tracked write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Done(Result<(), ControlError>),
}

#[derive(Debug, Default)]
struct Entries {
    status: HashMap<String, Status>,
    /// Ids in creation order, with their creation time, for expiry.
    order: VecDeque<(Instant, String)>,
}

/// All tracking ids and results of one server.
#[derive(Debug)]
pub struct TrackingTable {
    entries: Mutex<Entries>,
    keep_for_secs: AtomicU64,
}

impl TrackingTable {
    /// A table that forgets results after `keep_for` (upsd.conf `TRACKINGDELAY`).
    pub fn new(keep_for: Duration) -> Self {
        TrackingTable { entries: Mutex::new(Entries::default()), keep_for_secs: AtomicU64::new(keep_for.as_secs()) }
    }

    /// Change how long results are kept (on configuration reload).
    pub fn set_keep_for(&self, keep_for: Duration) {
        self.keep_for_secs.store(keep_for.as_secs(), Ordering::Relaxed);
    }

    /// Register a new pending write under `id` (from [`new_tracking_id`]).
    pub fn begin(&self, id: String) {
        let now = Instant::now();
        let mut entries = self.lock();
        self.expire(&mut entries, now);
        while entries.order.len() >= MAX_ENTRIES {
            if let Some((_, oldest)) = entries.order.pop_front() {
                entries.status.remove(&oldest);
            }
        }
        entries.status.insert(id.clone(), Status::Pending);
        entries.order.push_back((now, id));
    }

    /// Record the device's outcome for `id` (ignored if it expired meanwhile).
    pub fn complete(&self, id: &str, outcome: Result<(), ControlError>) {
        let mut entries = self.lock();
        if let Some(status) = entries.status.get_mut(id) {
            *status = Status::Done(outcome);
        }
    }

    /// The `GET TRACKING <id>` answer: `PENDING`, `SUCCESS` or an `ERR` line
    /// text; unknown and expired ids are `ERR UNKNOWN`. Ids match
    /// case-insensitively, as in upsd.
    pub fn reply_for(&self, id: &str) -> &'static str {
        let mut entries = self.lock();
        self.expire(&mut entries, Instant::now());
        match entries.status.get(&id.to_ascii_uppercase()) {
            Some(Status::Pending) => "PENDING",
            Some(Status::Done(Ok(()))) => "SUCCESS",
            Some(Status::Done(Err(error))) => error.tracking_reply(),
            None => "ERR UNKNOWN",
        }
    }

    fn expire(&self, entries: &mut Entries, now: Instant) {
        let keep_for = Duration::from_secs(self.keep_for_secs.load(Ordering::Relaxed));
        while let Some((created, _)) = entries.order.front() {
            if now.saturating_duration_since(*created) <= keep_for {
                break;
            }
            if let Some((_, id)) = entries.order.pop_front() {
                entries.status.remove(&id);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere while holding the lock leaves consistent data.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A new random UUID version 4 in upsd's format: upper-case hex, 8-4-4-4-12.
pub fn new_tracking_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        fallback_random(&mut bytes);
    }
    // version 4, RFC 4122 variant
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or("");
    format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
}

/// Used only if the OS random source fails: std's randomly keyed SipHash over
/// a counter and the clock, still unpredictable enough for request ids.
fn fallback_random(bytes: &mut [u8; 16]) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = std::collections::hash_map::RandomState::new();
    for half in bytes.chunks_mut(8) {
        let mut hasher = state.build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        hasher.write_u128(nanos);
        half.copy_from_slice(&hasher.finish().to_le_bytes()[..half.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_uuid_v4(id: &str) -> bool {
        let groups: Vec<&str> = id.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        lengths == [8, 4, 4, 4, 12]
            && id.chars().all(|c| c == '-' || c.is_ascii_digit() || ('A'..='F').contains(&c))
            && groups[2].starts_with('4')
            && matches!(groups[3].chars().next(), Some('8' | '9' | 'A' | 'B'))
    }

    #[test]
    fn ids_are_uppercase_uuid_v4_and_distinct() {
        let a = new_tracking_id();
        let b = new_tracking_id();
        assert!(is_uuid_v4(&a), "{a}");
        assert_ne!(a, b);
        let mut bytes = [0u8; 16];
        fallback_random(&mut bytes);
        assert_ne!(bytes, [0u8; 16]);
    }

    #[test]
    fn results_follow_the_device_outcome() {
        let table = TrackingTable::new(Duration::from_secs(3600));
        let ids: Vec<String> = (0..5).map(|_| new_tracking_id()).collect();
        for id in &ids {
            table.begin(id.clone());
        }
        assert_eq!(table.reply_for(&ids[0]), "PENDING");
        table.complete(&ids[0], Ok(()));
        table.complete(&ids[1], Err(ControlError::Unknown));
        table.complete(&ids[2], Err(ControlError::InvalidArgument));
        table.complete(&ids[3], Err(ControlError::ConversionFailed));
        table.complete(&ids[4], Err(ControlError::Failed));
        let replies: Vec<_> = ids.iter().map(|id| table.reply_for(id)).collect();
        assert_eq!(replies, ["SUCCESS", "ERR UNKNOWN", "ERR INVALID-ARGUMENT", "ERR INVALID-ARGUMENT", "ERR FAILED"]);
        assert_eq!(table.reply_for(&ids[0].to_ascii_lowercase()), "SUCCESS");
        assert_eq!(table.reply_for("00000000-0000-0000-0000-000000000000"), "ERR UNKNOWN");
        assert_eq!(table.reply_for(""), "ERR UNKNOWN");
    }

    #[test]
    fn results_expire_and_memory_is_bounded() {
        let table = TrackingTable::new(Duration::ZERO);
        table.begin("A".into());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(table.reply_for("A"), "ERR UNKNOWN");
        table.complete("A", Ok(())); // late result for a forgotten id: ignored

        let table = TrackingTable::new(Duration::from_secs(3600));
        for n in 0..MAX_ENTRIES + 10 {
            table.begin(format!("ID{n}"));
        }
        assert_eq!(table.lock().status.len(), MAX_ENTRIES);
        assert_eq!(table.reply_for("ID0"), "ERR UNKNOWN");
        assert_eq!(table.reply_for(&format!("ID{}", MAX_ENTRIES + 9)), "PENDING");
    }
}
