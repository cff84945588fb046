//! The worker's directory (`--cache`, default `$XDG_CACHE_HOME/deckle` or
//! `~/.cache/deckle`):
//!
//! - `blobs/<sha256>.ipynb`: notebooks fetched by hash, verified before they are
//!   stored (and again when reused), written atomically; shared by every worker
//!   process using the directory;
//! - `work/`: the kernels' working directory (one for all attempts, so warm
//!   kernels, pooled by working directory, serve every node);
//! - `leases/<lease id>/`: an attempt's scratch directory (its output notebook, a
//!   SQL node's generated input), removed when the attempt ends.

use std::future::Future;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracing::{debug, warn};

use crate::error::{Error, Result};

/// The default cache directory: `$XDG_CACHE_HOME/deckle`, else `~/.cache/deckle`.
pub fn default_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    nonempty("XDG_CACHE_HOME")
        .or_else(|| nonempty("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("deckle"))
}

/// The lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A sha256 as the coordinator names blobs: 64 hex digits (lower-cased here).
fn checked_hash(hash: &str) -> Result<String> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash.to_ascii_lowercase())
    } else {
        Err(Error::Blob { hash: hash.to_string(), message: "not a sha256 (64 hex digits)".into() })
    }
}

/// Write `bytes` to `path` through a temporary file beside it and a rename, so a
/// reader never sees a partial file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Notebook snapshots by hash, and per-attempt scratch directories.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Open (creating) the cache at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let cache = Cache { root: root.into() };
        for dir in [cache.root.join("blobs"), cache.work_dir(), cache.root.join("leases")] {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        Ok(cache)
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where kernels run.
    pub fn work_dir(&self) -> PathBuf {
        self.root.join("work")
    }

    fn blob_path(&self, hash: &str) -> PathBuf {
        self.root.join("blobs").join(format!("{hash}.ipynb"))
    }

    /// The cached notebook for `hash`, if it is there with the right content. A
    /// corrupt copy is removed.
    pub fn get(&self, hash: &str) -> Result<Option<PathBuf>> {
        let hash = checked_hash(hash)?;
        let path = self.blob_path(&hash);
        match std::fs::read(&path) {
            Ok(bytes) if sha256_hex(&bytes) == hash => Ok(Some(path)),
            Ok(_) => {
                warn!(path = %path.display(), "cached notebook does not match its hash; fetching it again");
                let _ = std::fs::remove_file(&path);
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Store downloaded `bytes` as `hash`, after checking they are what it names.
    pub fn put(&self, hash: &str, bytes: &[u8]) -> Result<PathBuf> {
        let hash = checked_hash(hash)?;
        let actual = sha256_hex(bytes);
        if actual != hash {
            return Err(Error::Blob { hash, message: format!("downloaded content has sha256 {actual}") });
        }
        let path = self.blob_path(&hash);
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// The notebook for `hash`: from the cache, else from `download` (then stored).
    pub async fn fetch<F>(&self, hash: &str, download: impl FnOnce() -> F) -> Result<PathBuf>
    where
        F: Future<Output = Result<Vec<u8>>>,
    {
        if let Some(path) = self.get(hash)? {
            debug!(hash, "notebook from the cache");
            return Ok(path);
        }
        let bytes = download().await?;
        self.put(hash, &bytes)
    }

    /// A fresh scratch directory for one lease, removed when the guard drops.
    pub fn scratch(&self, lease: &str) -> Result<Scratch> {
        let safe: String = lease.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        let dir = self.root.join("leases").join(safe);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Scratch(dir))
    }
}

/// An attempt's scratch directory; removed on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NB: &[u8] = br#"{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn fetches_once_then_serves_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let hash = sha256_hex(NB);
        let path = cache.fetch(&hash, || async { Ok(NB.to_vec()) }).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), NB);
        // No temporary file is left beside it.
        assert_eq!(files_in(&dir.path().join("blobs")), vec![format!("{hash}.ipynb")]);
        let again = cache
            .fetch(&hash, || async { Err(Error::Http { what: "test".into(), message: "must not download".into() }) })
            .await
            .unwrap();
        assert_eq!(again, path);
    }

    #[tokio::test]
    async fn a_download_that_does_not_match_its_hash_is_refused_and_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let hash = sha256_hex(NB);
        let err = cache.fetch(&hash, || async { Ok(b"{\"tampered\": 1}".to_vec()) }).await.unwrap_err();
        assert!(matches!(err, Error::Blob { .. }), "{err}");
        assert!(err.to_string().contains("downloaded content has sha256"), "{err}");
        assert!(files_in(&dir.path().join("blobs")).is_empty());
    }

    #[tokio::test]
    async fn a_corrupt_cached_copy_is_fetched_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let hash = sha256_hex(NB);
        std::fs::write(dir.path().join("blobs").join(format!("{hash}.ipynb")), b"{\"half").unwrap();
        assert!(cache.get(&hash).unwrap().is_none());
        let path = cache.fetch(&hash, || async { Ok(NB.to_vec()) }).await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), NB);
    }

    #[test]
    fn hashes_that_could_name_other_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        for bad in ["../../etc/passwd", "abc", &"g".repeat(64)] {
            assert!(matches!(cache.get(bad), Err(Error::Blob { .. })), "{bad}");
        }
    }

    #[test]
    fn atomic_write_replaces_whole_and_scratch_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let scratch = cache.scratch("lease/../1").unwrap();
        let p = scratch.path().join("out.ipynb");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(files_in(scratch.path()), vec!["out.ipynb".to_string()]);
        let kept = scratch.path().to_path_buf();
        assert!(kept.starts_with(dir.path().join("leases")));
        drop(scratch);
        assert!(!kept.exists());
    }
}
