//! Writes that survive an OS crash or a file system that goes read-only: the
//! data, then the directory entry, synced before anything is acknowledged.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// fsync a file's data and metadata (any descriptor of it will do).
pub fn sync_file(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// fsync a directory, so the entries created or renamed in it are kept.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// Write a whole file and sync it (its directory is the caller's to sync, once for
/// many files).
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Replace `path` (below `root`) whole or not at all: written beside it, then
/// renamed over it. The directories created for it are synced up to `root`. With
/// `sync` the file and its directory entry are synced before returning; without,
/// that is left to a later [`sync_file`] and [`sync_dir`] (a notebook uploaded many
/// times while it runs is synced once, when the attempt completes).
pub fn replace(path: &Path, body: &[u8], root: &Path, sync: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        dir.ancestors().skip(1).take_while(|d| d.starts_with(root)).try_for_each(sync_dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", uuid::Uuid::new_v4().simple()));
    let written = if sync { write_synced(&tmp, body) } else { std::fs::write(&tmp, body) };
    written.and_then(|()| std::fs::rename(&tmp, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    if sync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Sync every file and directory under `root`, then `root`.
pub fn sync_tree(root: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        } else {
            sync_file(&entry.path())?;
        }
    }
    sync_dir(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tree_reaches_every_file_and_reports_what_is_missing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        write_synced(&d.path().join("a/b/x"), b"x").unwrap();
        write_synced(&d.path().join("y"), b"y").unwrap();
        sync_tree(d.path()).unwrap();
        assert_eq!(std::fs::read(d.path().join("a/b/x")).unwrap(), b"x");
        assert_eq!(sync_file(&d.path().join("nope")).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
