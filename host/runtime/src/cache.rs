//! On-disk cache of compiled plugins.
//!
//! Compiled code is valid only for the exact engine that produced it (wasmtime
//! version, settings, CPU features), so entries are keyed by the plugin's
//! SHA-256 digest *and* the engine's precompile-compatibility hash. Loading an
//! entry maps native code into the process, so the cache directory must be
//! private to the user running Hazel; a directory others can write is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
#[cfg(feature = "compiler")]
use wasmtime::Engine;

/// A directory of compiled plugins.
#[derive(Debug)]
pub struct CompiledCache {
    dir: PathBuf,
}

/// SHA-256 of a plugin's bytes, in hex.
pub fn digest_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short hex fingerprint of everything that makes compiled code valid for `engine`.
/// (Only an engine that can compile knows it; the runtime-only build never writes the cache.)
#[cfg(feature = "compiler")]
pub fn engine_fingerprint(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl CompiledCache {
    /// Open (creating if needed, mode 0700) the cache at `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = std::fs::metadata(dir)?;
            // SAFETY: geteuid has no preconditions.
            let euid = unsafe { libc_geteuid() };
            if meta.uid() != euid {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "owned by another user; compiled code in it cannot be trusted",
                ));
            }
            if meta.mode() & 0o022 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(CompiledCache { dir: dir.to_path_buf() })
    }

    /// Where the compiled form of a plugin with `digest` lives for `engine`.
    #[cfg(feature = "compiler")]
    pub fn entry_path(&self, engine: &Engine, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", engine_fingerprint(engine)))
    }

    /// Store compiled bytes atomically (write a temporary file, fsync, rename),
    /// so a crash never leaves a truncated entry behind.
    pub fn store(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        let mut tmp = tempfile_in(&self.dir)?;
        tmp.1.write_all(compiled)?;
        tmp.1.sync_all()?;
        std::fs::rename(&tmp.0, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp.0);
        })
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let pid = std::process::id();
    for n in 0..1000u32 {
        let path = dir.join(format!(".tmp-{pid}-{n}"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot create a temporary file"))
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
