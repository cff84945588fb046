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
