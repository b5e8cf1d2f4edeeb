//! `POWERDOWNFLAG`: the file that tells the late-shutdown step to cut the
//! UPS's power (spec `shutdown.md` §5).
//!
//! The content is exactly [`MAGIC`] without a newline, as upsmon writes it,
//! so `hazel monitor -K` and NUT's `upsmon -K` recognise each other's file.
//! These functions do blocking file I/O with `std::fs`; every error names the
//! path.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The flag file's content, and the prefix its first line must start with.
pub const MAGIC: &str = "upsmon-shutdown-file";

/// Most bytes read when checking: the magic is short and only the start of
/// the first line matters, so a huge foreign file costs nothing.
const CHECK_READ_LIMIT: u64 = 256;

/// A flag file operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("power-down flag {}: cannot {action}: {source}", .path.display())]
pub struct PowerdownFlagError {
    /// The flag file.
    pub path: PathBuf,
    /// What was being done ("write", "read", "remove").
    pub action: &'static str,
    /// The operating system's reason.
    #[source]
    pub source: io::Error,
}

impl PowerdownFlagError {
    fn new(path: &Path, action: &'static str, source: io::Error) -> Self {
        PowerdownFlagError { path: path.to_path_buf(), action, source }
    }
}

/// Creates or truncates the flag file and writes [`MAGIC`], flushed to disk
/// (the late-shutdown step reads it after the file systems went read-only).
pub fn write(path: &Path) -> Result<(), PowerdownFlagError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| PowerdownFlagError::new(path, "write", e))?;
    file.write_all(MAGIC.as_bytes()).map_err(|e| PowerdownFlagError::new(path, "write", e))?;
    file.sync_all().map_err(|e| PowerdownFlagError::new(path, "write", e))
}

/// What [`check`] found.
#[derive(Debug)]
pub enum FlagCheck {
    /// The file's first line starts with [`MAGIC`]: power is to be cut.
    Set,
    /// There is no such file.
    Absent,
    /// The file exists with other content; upsmon logs that it lacks the
    /// magic string.
    Foreign,
    /// The file could not be read.
    Unreadable(PowerdownFlagError),
}

impl FlagCheck {
    /// `upsmon -K`'s exit status: 0 only when the flag is set.
    pub fn exit_code(&self) -> i32 {
        match self {
            FlagCheck::Set => 0,
            FlagCheck::Absent | FlagCheck::Foreign | FlagCheck::Unreadable(_) => 1,
        }
    }
}

/// `-K`: whether the flag file at `path` says to cut the power.
pub fn check(path: &Path) -> FlagCheck {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return FlagCheck::Absent,
        Err(e) => return FlagCheck::Unreadable(PowerdownFlagError::new(path, "read", e)),
    };
    let mut start = Vec::new();
    if let Err(e) = file.take(CHECK_READ_LIMIT).read_to_end(&mut start) {
        return FlagCheck::Unreadable(PowerdownFlagError::new(path, "read", e));
    }
    let first_line = start.split(|&byte| byte == b'\n').next().unwrap_or(&[]);
    if first_line.starts_with(MAGIC.as_bytes()) { FlagCheck::Set } else { FlagCheck::Foreign }
}

/// What [`clear_on_start`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartClear {
    /// A flag left by an earlier shutdown was removed.
    Removed,
    /// There was nothing to remove.
    Absent,
    /// The file has foreign content and was left alone; the flag must not be
    /// written during this run (upsmon disables the feature the same way,
    /// so a misconfigured path never clobbers someone else's file).
    ForeignKept,
}

/// At monitor start: removes a flag file carrying [`MAGIC`], leaves anything
/// else untouched.
pub fn clear_on_start(path: &Path) -> Result<StartClear, PowerdownFlagError> {
    match check(path) {
        FlagCheck::Absent => Ok(StartClear::Absent),
        FlagCheck::Foreign => Ok(StartClear::ForeignKept),
        FlagCheck::Unreadable(error) => Err(error),
        FlagCheck::Set => match fs::remove_file(path) {
            Ok(()) => Ok(StartClear::Removed),
            // Someone else removed it meanwhile: the goal is reached.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(StartClear::Absent),
            Err(e) => Err(PowerdownFlagError::new(path, "remove", e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_produces_exact_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("killpower");
        fs::write(&path, "previous longer content\n").unwrap();
        write(&path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"upsmon-shutdown-file");
        assert_eq!(check(&path).exit_code(), 0);
    }

    #[test]
    fn check_semantics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("killpower");
        assert!(matches!(check(&path), FlagCheck::Absent));
        assert_eq!(check(&path).exit_code(), 1);
        // Only the first line's start matters, as in upsmon -K.
        for content in ["upsmon-shutdown-file", "upsmon-shutdown-file\n", "upsmon-shutdown-filexyz\nsecond"] {
            fs::write(&path, content).unwrap();
            assert!(matches!(check(&path), FlagCheck::Set), "{content:?}");
        }
        for content in ["", "foo", "\nupsmon-shutdown-file", "upsmon-shutdown", " upsmon-shutdown-file"] {
            fs::write(&path, content).unwrap();
            assert!(matches!(check(&path), FlagCheck::Foreign), "{content:?}");
            assert_eq!(check(&path).exit_code(), 1);
        }
    }

    #[test]
    fn unreadable_flag_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file.
        let check = check(dir.path());
        assert_eq!(check.exit_code(), 1);
        let FlagCheck::Unreadable(error) = check else { panic!("expected unreadable, got {check:?}") };
        assert!(error.to_string().contains(&dir.path().display().to_string()), "{error}");
    }

    #[test]
    fn clear_on_start_only_removes_our_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("killpower");
        assert_eq!(clear_on_start(&path).unwrap(), StartClear::Absent);
        write(&path).unwrap();
        assert_eq!(clear_on_start(&path).unwrap(), StartClear::Removed);
        assert!(!path.exists());
        fs::write(&path, "important data").unwrap();
        assert_eq!(clear_on_start(&path).unwrap(), StartClear::ForeignKept);
        assert_eq!(fs::read(&path).unwrap(), b"important data");
    }

    #[test]
    fn write_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("killpower");
        let error = write(&path).unwrap_err();
        assert_eq!(error.action, "write");
        assert!(error.to_string().contains("missing-dir/killpower"), "{error}");
    }
}
