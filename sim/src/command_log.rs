//! The record of everything the simulator received, sent and did, with
//! timestamps: real time since start, simulated time since start, and the wall
//! clock. Shared between the serving thread and any number of readers, and
//! optionally written to a file one line per entry as it happens.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What an entry records.
#[derive(Debug, Clone, PartialEq)]
pub enum LogKind {
    /// A command line received, with its `\r`.
    Received(Vec<u8>),
    /// A reply written back.
    Sent(Vec<u8>),
    /// Something that happened: a script event, a timer, a test ending, noise discarded.
    Event(String),
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Real time since the simulator started.
    pub elapsed: Duration,
    /// Simulated seconds since the simulator started.
    pub simulated: f64,
    /// Wall-clock time.
    pub wall: SystemTime,
    /// What happened.
    pub kind: LogKind,
}

impl LogEntry {
    /// The command received, without `\r`, if this entry is one (lossy UTF-8).
    pub fn command(&self) -> Option<String> {
        match &self.kind {
            LogKind::Received(bytes) => {
                Some(String::from_utf8_lossy(bytes.strip_suffix(b"\r").unwrap_or(bytes)).into_owned())
            }
            _ => None,
        }
    }
}

impl fmt::Display for LogEntry {
    /// `t=1.234s sim=74.040s 2025-01-31T12:00:01.234Z recv "Q1\r"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={:.3}s sim={:.3}s {} ", self.elapsed.as_secs_f64(), self.simulated, rfc3339_utc(self.wall))?;
        match &self.kind {
            LogKind::Received(bytes) => write!(f, "recv \"{}\"", bytes.escape_ascii()),
            LogKind::Sent(bytes) => write!(f, "sent \"{}\"", bytes.escape_ascii()),
            LogKind::Event(text) => write!(f, "event {text}"),
        }
    }
}

/// A shared, growing log. Clones share the same entries.
#[derive(Clone)]
pub struct CommandLog {
    shared: Arc<Shared>,
}

struct Shared {
    start: Instant,
    inner: Mutex<Inner>,
    changed: Condvar,
}

struct Inner {
    entries: Vec<LogEntry>,
    file: Option<File>,
    /// The first write error on the file; later entries are kept in memory only.
    file_error: Option<String>,
}

impl fmt::Debug for CommandLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandLog").field("entries", &self.lock().entries.len()).finish()
    }
}

impl CommandLog {
    /// An empty log whose real-time clock starts now, also written to `file` if given.
    pub fn new(file: Option<File>) -> CommandLog {
        CommandLog {
            shared: Arc::new(Shared {
                start: Instant::now(),
                inner: Mutex::new(Inner { entries: Vec::new(), file, file_error: None }),
                changed: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the entries usable.
        self.shared.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Append an entry stamped now, at `simulated` seconds of simulated time.
    pub fn record(&self, simulated: f64, kind: LogKind) {
        let entry = LogEntry { elapsed: self.shared.start.elapsed(), simulated, wall: SystemTime::now(), kind };
        let mut inner = self.lock();
        if let Some(file) = &mut inner.file
            && let Err(err) = writeln!(file, "{entry}").and_then(|()| file.flush())
        {
            inner.file_error = Some(err.to_string());
            inner.file = None;
        }
        inner.entries.push(entry);
        drop(inner);
        self.shared.changed.notify_all();
    }

    /// Every entry so far.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.lock().entries.clone()
    }

    /// The commands received so far, without `\r`, in order.
    pub fn commands(&self) -> Vec<String> {
        self.lock().entries.iter().filter_map(LogEntry::command).collect()
    }

    /// Why writing the log file failed, if it did.
    pub fn file_error(&self) -> Option<String> {
        self.lock().file_error.clone()
    }

    /// The number of entries so far (a mark for [`CommandLog::wait_for_since`]).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing has been logged yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wait until some entry satisfies `matches` or `timeout` passes; returns
    /// that entry (the first one), or `None` on timeout.
    pub fn wait_for(&self, timeout: Duration, matches: impl FnMut(&LogEntry) -> bool) -> Option<LogEntry> {
        self.wait_for_since(0, timeout, matches)
    }

    /// Like [`CommandLog::wait_for`], looking only at entries from index `first` on.
    pub fn wait_for_since(
        &self,
        first: usize,
        timeout: Duration,
        mut matches: impl FnMut(&LogEntry) -> bool,
    ) -> Option<LogEntry> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            if let Some(entry) = inner.entries.iter().skip(first).find(|e| matches(e)) {
                return Some(entry.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            inner = self.shared.changed.wait_timeout(inner, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Wait until the command `command` (without `\r`) has been received.
    pub fn wait_for_command(&self, command: &str, timeout: Duration) -> Option<LogEntry> {
        self.wait_for(timeout, |entry| entry.command().as_deref() == Some(command))
    }
}

/// `2025-01-31T12:00:01.234Z`.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_format() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_millis(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_secs(1_767_225_599)), "2025-12-31T23:59:59.000Z");
    }

    #[test]
    fn entries_display_and_commands() {
        let log = CommandLog::new(None);
        log.record(0.0, LogKind::Received(b"Q1\r".to_vec()));
        log.record(1.5, LogKind::Sent(b"(230.0\r".to_vec()));
        log.record(2.0, LogKind::Event("mains off".into()));
        log.record(2.0, LogKind::Received(b"\xffS.5R0003\r".to_vec()));
        let entries = log.entries();
        let line = entries[0].to_string();
        assert!(line.starts_with("t=0.0"), "{line}");
        assert!(line.contains(" sim=0.000s "), "{line}");
        assert!(line.ends_with("Z recv \"Q1\\r\""), "{line}");
        assert!(entries[1].to_string().ends_with("sent \"(230.0\\r\""));
        assert!(entries[2].to_string().ends_with("event mains off"));
        assert!(entries[3].to_string().ends_with("recv \"\\xffS.5R0003\\r\""));
        assert_eq!(log.commands(), vec!["Q1".to_string(), "\u{fffd}S.5R0003".to_string()]);
    }

    #[test]
    fn wait_for_sees_entries_from_another_thread() {
        let log = CommandLog::new(None);
        let writer = log.clone();
        let thread = std::thread::spawn(move || writer.record(0.0, LogKind::Received(b"T\r".to_vec())));
        assert!(log.wait_for_command("T", Duration::from_secs(30)).is_some());
        thread.join().unwrap();
        assert!(log.wait_for_command("TL", Duration::from_millis(10)).is_none());
        assert_eq!(log.len(), 1);
        assert!(log.wait_for_since(1, Duration::from_millis(10), |_| true).is_none());
    }

    #[test]
    fn writes_lines_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.log");
        let log = CommandLog::new(Some(File::create(&path).unwrap()));
        log.record(0.0, LogKind::Received(b"Q1\r".to_vec()));
        log.record(0.0, LogKind::Event("mains off".into()));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("recv \"Q1\\r\""));
        assert!(lines[1].ends_with("event mains off"));
        assert_eq!(log.file_error(), None);
    }
}
