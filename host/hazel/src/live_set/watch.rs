//! Reload when `ups.conf` or `hazel.toml` changes: inotify on the config dir
//! (so atomic-rename saves and the file's removal and return are seen, which a
//! watch on the file itself would miss), with bursts debounced; polling the
//! files once a second when inotify is unavailable or the dir itself goes.
//!
//! Only finished writes count (`IN_CLOSE_WRITE`, renames, deletes): a file
//! being written is not read half-way. The set itself skips a reload whose
//! files read the same as last time.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

use super::{ReloadCause, Request, Requester};

/// The files whose change triggers a reload.
const WATCHED: [&str; 2] = ["ups.conf", "hazel.toml"];
/// Quiet time after the last event of a burst (an editor's save is several).
const DEBOUNCE: Duration = Duration::from_millis(300);
/// Polling period of the fallback.
const POLL_PERIOD: Duration = Duration::from_secs(1);

/// Watch `confdir` and ask `set` to reload on changes, until the task is dropped.
pub fn spawn(confdir: PathBuf, set: Requester) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match Inotify::watch(&confdir) {
            Ok(inotify) => {
                tracing::debug!(dir = %confdir.display(), "watching the config dir with inotify");
                match watch_events(inotify, &set).await {
                    Ok(()) => tracing::warn!(dir = %confdir.display(), "the config dir itself was removed or moved"),
                    Err(error) => tracing::warn!(dir = %confdir.display(), %error, "inotify watch failed"),
                }
            }
            Err(error) => tracing::warn!(dir = %confdir.display(), %error, "cannot watch the config dir with inotify"),
        }
        tracing::warn!("checking ups.conf and hazel.toml for changes once a second instead");
        poll_files(&confdir, &set).await;
    })
}

/// An inotify instance watching one directory.
struct Inotify {
    fd: AsyncFd<OwnedFd>,
}

impl Inotify {
    fn watch(dir: &Path) -> std::io::Result<Inotify> {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains NUL"))?;
        let mask = libc::IN_CLOSE_WRITE
            | libc::IN_MOVED_TO
            | libc::IN_MOVED_FROM
            | libc::IN_DELETE
            | libc::IN_DELETE_SELF
            | libc::IN_MOVE_SELF;
        // SAFETY: `path` is a valid C string and `fd` an inotify descriptor.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the AsyncFd owns `fd`, which stays open and the same until it is dropped.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(Inotify { fd })
    }

    /// The next batch of events, as (mask, file name).
    async fn events(&self, buffer: &mut [u8]) -> std::io::Result<Vec<(u32, Vec<u8>)>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let read = guard.try_io(|fd| {
                // SAFETY: reads into `buffer`, within its length.
                let n = unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
                if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
            });
            match read {
                Ok(Ok(n)) => return Ok(parse_events(&buffer[..n])),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Split a read of `struct inotify_event` records (header, then `len` name bytes, NUL-padded).
fn parse_events(mut bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
    const HEADER: usize = 16;
    let mut events = Vec::new();
    while bytes.len() >= HEADER {
        let field = |at: usize| u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let mask = field(4);
        let len = field(12) as usize;
        let Some(name) = bytes.get(HEADER..HEADER + len) else { break };
        let name: Vec<u8> = name.iter().copied().take_while(|b| *b != 0).collect();
        events.push((mask, name));
        bytes = &bytes[HEADER + len..];
    }
    events
}

/// Whether an event batch concerns a watched file; `Err(())` when the dir itself went.
fn relevant(events: &[(u32, Vec<u8>)]) -> Result<bool, ()> {
    if events.iter().any(|(mask, _)| mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_IGNORED) != 0) {
        return Err(());
    }
    Ok(events.iter().any(|(_, name)| WATCHED.iter().any(|w| w.as_bytes() == name.as_slice())))
}

/// Returns when the directory itself is gone; errors when inotify fails.
async fn watch_events(inotify: Inotify, set: &Requester) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 4096];
    loop {
        let Ok(hit) = relevant(&inotify.events(&mut buffer).await?) else { return Ok(()) };
        if !hit {
            continue;
        }
        // Wait for the burst to end.
        while let Ok(events) = tokio::time::timeout(DEBOUNCE, inotify.events(&mut buffer)).await {
            if relevant(&events?).is_err() {
                return Ok(());
            }
        }
        let _ = set.request(Request::Reload(ReloadCause::FileChange)).await;
    }
}

async fn poll_files(confdir: &Path, set: &Requester) {
    let mut last = super::FilesDigest::read(confdir);
    loop {
        tokio::time::sleep(POLL_PERIOD).await;
        let now = super::FilesDigest::read(confdir);
        if now != last {
            last = now;
            let _ = set.request(Request::Reload(ReloadCause::FileChange)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_by_their_name_length() {
        let mut bytes = Vec::new();
        for (mask, name) in [(libc::IN_MOVED_TO, &b"ups.conf\0\0\0\0\0\0\0\0"[..]), (libc::IN_DELETE, &b""[..])] {
            bytes.extend(1i32.to_ne_bytes());
            bytes.extend(mask.to_ne_bytes());
            bytes.extend(0u32.to_ne_bytes());
            bytes.extend((name.len() as u32).to_ne_bytes());
            bytes.extend(name);
        }
        let events = parse_events(&bytes);
        assert_eq!(events, [(libc::IN_MOVED_TO, b"ups.conf".to_vec()), (libc::IN_DELETE, Vec::new())]);
        assert_eq!(relevant(&events), Ok(true));
        assert_eq!(relevant(&[(libc::IN_CLOSE_WRITE, b"upsd.conf".to_vec())]), Ok(false));
        assert_eq!(relevant(&[(libc::IN_DELETE_SELF, Vec::new())]), Err(()));
    }

    #[tokio::test]
    async fn a_rename_into_the_dir_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let inotify = Inotify::watch(dir.path()).unwrap();
        std::fs::write(dir.path().join("ups.conf.tmp"), "x").unwrap();
        std::fs::rename(dir.path().join("ups.conf.tmp"), dir.path().join("ups.conf")).unwrap();
        let mut buffer = vec![0u8; 4096];
        let seen = async {
            loop {
                if relevant(&inotify.events(&mut buffer).await.unwrap()) == Ok(true) {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), seen).await.expect("the rename is reported");
    }
}
