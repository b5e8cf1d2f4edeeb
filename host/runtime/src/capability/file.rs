//! The `file` capability: read-only access to exactly the files a device's
//! configuration names.
//!
//! A plugin asks for a path spelled exactly as granted (as in `port=`); the
//! host maps it to the resolved path it decided on. Nothing else is reachable:
//! no directory listing, no other path, no write.

use std::path::PathBuf;

use crate::bindings::hazel::plugin::file::{FileError, FileStat, Host};
use crate::grants::FileGrant;

/// Largest file a plugin may read in one call.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The files one device may read.
pub struct FileCapability {
    grants: Vec<FileGrant>,
}

impl FileCapability {
    /// Grant read access to `grants` (possibly none).
    pub fn new(grants: Vec<FileGrant>) -> Self {
        FileCapability { grants }
    }

    fn resolve(&self, requested: &str) -> Option<PathBuf> {
        self.grants.iter().find(|g| g.name == requested).map(|g| g.path.clone())
    }
}

fn io_error(e: std::io::Error) -> FileError {
    match e.kind() {
        std::io::ErrorKind::NotFound => FileError::NotFound,
        _ => FileError::Io(e.to_string()),
    }
}

fn millis(t: std::io::Result<std::time::SystemTime>) -> u64 {
    t.ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Host for FileCapability {
    async fn read(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, FileError>> {
        let Some(resolved) = self.resolve(&path) else {
            tracing::debug!(requested = %path, "plugin denied a file it was not granted");
            return Ok(Err(FileError::Denied));
        };
        let meta = match tokio::fs::metadata(&resolved).await {
            Ok(m) => m,
            Err(e) => return Ok(Err(io_error(e))),
        };
        if meta.len() > MAX_FILE_BYTES {
            return Ok(Err(FileError::TooLarge(meta.len())));
        }
        Ok(tokio::fs::read(&resolved).await.map_err(io_error))
    }

    async fn stat(&mut self, path: String) -> wasmtime::Result<Result<FileStat, FileError>> {
        let Some(resolved) = self.resolve(&path) else {
            return Ok(Err(FileError::Denied));
        };
        Ok(tokio::fs::metadata(&resolved)
            .await
            .map(|m| FileStat { size: m.len(), modified_ms: millis(m.modified()) })
            .map_err(io_error))
    }
}
