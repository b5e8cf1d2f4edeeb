//! Private, crash-safe writes: the late step reads these files after a hard
//! shutdown path, so a file is either its old or its new content, never torn.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::{BundleError, io_error};

/// Create `dir` (and its parents) with mode 0700; an existing one must be a
/// directory of this user and is narrowed to 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), BundleError> {
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(io_error(dir, "create directory")(e)),
    }
    let meta = fs::metadata(dir).map_err(io_error(dir, "inspect directory"))?;
    if meta.uid() != effective_uid() {
        return Err(BundleError::Unsafe { path: dir.into(), message: "owned by another user".into() });
    }
    if meta.mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error(dir, "set mode 0700 on"))?;
    }
    Ok(())
}

/// Write `bytes` to `path` atomically: a 0600 temporary file beside it,
/// fsync, rename over `path`, fsync of the directory.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (tmp_path, mut file) = create_temp(dir, &name)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    let result = written
        .map_err(io_error(&tmp_path, "write"))
        .and_then(|()| fs::rename(&tmp_path, path).map_err(io_error(path, "rename into place")));
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    result?;
    sync_dir(dir)
}

/// fsync `dir`, so renames and removals in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BundleError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir, "sync directory"))
}

fn create_temp(dir: &Path, name: &str) -> Result<(std::path::PathBuf, File), BundleError> {
    let pid = std::process::id();
    for n in 0..1000u32 {
        let path = dir.join(format!(".{name}.tmp-{pid}-{n}"));
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&path, "create")(e)),
        }
    }
    Err(io_error(dir, "create a temporary file in")(io::Error::other("too many leftover temporary files")))
}

/// This process's effective user ID.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() }
}

unsafe extern "C" {
    fn geteuid() -> u32;
}
