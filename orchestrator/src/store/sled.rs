//! The embedded default [`StateStore`]: sled in the data dir. Every change is
//! written and then flushed (group-committed) before the engine acts on it; a write
//! or flush that fails for an I/O reason is reported to [`StorageHealth`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;

use super::records::{LeaseRecord, NodeRecord, RunRecord, WorkflowEntry};
use super::{decode, encode, node_key, DocKind, StateStore};
use crate::error::{Error, Result};
use crate::health::StorageHealth;

/// The open database and its trees; replaced whole when the store is reopened.
struct Sled {
    db: sled::Db,
    runs: sled::Tree,
    nodes: sled::Tree,
    leases: sled::Tree,
    workflows: sled::Tree,
    /// sled's log file, for [`durable`].
    log: std::fs::File,
}

impl Sled {
    fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir).open().map_err(|e| Error::Store(format!("opening {}: {e}", dir.display())))?;
        let io = |what: &str, e: std::io::Error| Error::Store(format!("{}: {what}: {e}", dir.display()));
        // sled writes its `conf` and creates its files without syncing them or
        // the directory: do it once, so a crash cannot leave an empty conf.
        for f in ["conf", "db"] {
            crate::durable::sync_file(&dir.join(f)).map_err(|e| io(f, e))?;
        }
        crate::durable::sync_dir(dir).map_err(|e| io("directory", e))?;
        if let Some(parent) = dir.parent() {
            crate::durable::sync_dir(parent).map_err(|e| io("parent directory", e))?;
        }
        let log = std::fs::File::open(dir.join("db")).map_err(|e| io("db", e))?;
        Ok(Sled { runs: db.open_tree("runs")?, nodes: db.open_tree("nodes")?, leases: db.open_tree("leases")?, workflows: db.open_tree("workflows")?, db, log })
    }

    /// `Db::flush` and then what it leaves out. sled 0.34 makes its log writes
    /// stable with `sync_file_range`, which syncs data but not the size and block
    /// map of a file that grew, and writes large values to `blobs/` unsynced; an OS
    /// crash or a file system gone read-only could lose them (seen: an ext4 error
    /// lost every record written since the last periodic fsync). fsync the log,
    /// and new blob files and their directory.
    fn flush(&self, dir: &Path, synced_blobs: &Mutex<std::collections::HashSet<std::ffi::OsString>>) -> sled::Result<()> {
        self.db.flush()?;
        self.log.sync_all()?;
        let blobs = dir.join("blobs");
        let mut synced = synced_blobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut fresh = false;
        let listed = match std::fs::read_dir(&blobs) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in listed {
            let name = entry?.file_name();
            if !synced.contains(&name) {
                crate::durable::sync_file(&blobs.join(&name))?;
                synced.insert(name);
                fresh = true;
            }
        }
        if fresh {
            crate::durable::sync_dir(&blobs)?;
        }
        Ok(())
    }
}

/// The embedded store. A write or flush that fails for an I/O reason (disk full,
/// read-only) is reported to its [`StorageHealth`]. sled refuses every write after
/// one such failure until the database is reopened, so [`StateStore::reopen`]
/// opens it afresh from what was flushed: everything acknowledged, nothing else.
pub struct SledStore {
    dir: PathBuf,
    cur: RwLock<Option<Arc<Sled>>>,
    health: Arc<StorageHealth>,
    /// Group commit: writes are numbered; a flush that started after a write
    /// covers it, so concurrent flushers share one fsync instead of queueing many.
    written: std::sync::atomic::AtomicU64,
    flushed: std::sync::atomic::AtomicU64,
    flushing: tokio::sync::Mutex<()>,
    /// sled's blob files already synced (they never change once written).
    synced_blobs: Arc<Mutex<std::collections::HashSet<std::ffi::OsString>>>,
}

impl SledStore {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, Arc::default())
    }

    /// Open, reporting storage faults to `health`.
    pub fn open_with(dir: &Path, health: Arc<StorageHealth>) -> Result<Self> {
        Ok(SledStore {
            cur: RwLock::new(Some(Arc::new(Sled::open(dir)?))),
            dir: dir.to_path_buf(),
            health,
            written: Default::default(),
            flushed: Default::default(),
            flushing: tokio::sync::Mutex::new(()),
            synced_blobs: Arc::default(),
        })
    }

    /// Where its storage faults are reported.
    pub fn health(&self) -> &Arc<StorageHealth> {
        &self.health
    }

    fn current(&self) -> Result<Arc<Sled>> {
        self.cur.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or_else(|| Error::Store(format!("{} is being reopened", self.dir.display())))
    }

    /// An error from sled, with I/O failures reported as a storage fault.
    fn failed(&self, e: sled::Error) -> Error {
        let sled::Error::Io(io) = &e else {
            return Error::Store(format!("{}: {e}", self.dir.display()));
        };
        // sled wraps the OS error in a string of its Debug form: say it plainly.
        let why = match io.kind() {
            std::io::ErrorKind::StorageFull => "No space left on device".to_string(),
            std::io::ErrorKind::ReadOnlyFilesystem => "Read-only file system".to_string(),
            _ => io.to_string(),
        };
        let msg = format!("{}: {why}", self.dir.display());
        self.health.set(msg.clone());
        Error::Store(msg)
    }

    fn read<T>(&self, f: impl FnOnce(&Sled) -> sled::Result<T>) -> Result<T> {
        f(&*self.current()?).map_err(|e| self.failed(e))
    }

    fn write(&self, f: impl FnOnce(&Sled) -> sled::Result<()>) -> Result<()> {
        self.read(f)?;
        self.written.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

fn decode_all<T: serde::de::DeserializeOwned>(values: Vec<sled::IVec>) -> Result<Vec<T>> {
    values.iter().map(|b| decode(b)).collect()
}

fn values(iter: sled::Iter) -> sled::Result<Vec<sled::IVec>> {
    iter.map(|kv| kv.map(|(_, v)| v)).collect()
}

fn tree(kind: DocKind) -> &'static str {
    match kind {
        DocKind::Schedule => "schedules",
        DocKind::Backfill => "backfills",
    }
}

impl StateStore for SledStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        let v = encode(run)?;
        self.write(|s| s.runs.insert(run.id.as_bytes(), v).map(drop))
    }

    fn put_node(&self, run_id: &str, node: &NodeRecord) -> Result<()> {
        let v = encode(node)?;
        self.write(|s| s.nodes.insert(node_key(run_id, node), v).map(drop))
    }

    fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.read(|s| s.runs.get(id.as_bytes()))?.map(|b| decode(&b)).transpose()
    }

    fn nodes(&self, run_id: &str) -> Result<Vec<NodeRecord>> {
        let prefix = format!("{run_id}\0");
        decode_all(self.read(|s| values(s.nodes.scan_prefix(prefix.as_bytes())))?)
    }

    fn runs(&self) -> Result<Vec<RunRecord>> {
        decode_all(self.read(|s| values(s.runs.iter()))?)
    }

    fn put_lease(&self, lease: &LeaseRecord) -> Result<()> {
        let v = encode(lease)?;
        self.write(|s| s.leases.insert(lease.id.as_bytes(), v).map(drop))
    }

    fn delete_lease(&self, id: &str) -> Result<()> {
        self.write(|s| s.leases.remove(id.as_bytes()).map(drop))
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>> {
        decode_all(self.read(|s| values(s.leases.iter()))?)
    }

    fn put_workflow(&self, wf: &WorkflowEntry) -> Result<()> {
        let v = encode(wf)?;
        self.write(|s| s.workflows.insert(wf.id.as_bytes(), v).map(drop))
    }

    fn get_workflow(&self, id: &str) -> Result<Option<WorkflowEntry>> {
        self.read(|s| s.workflows.get(id.as_bytes()))?.map(|b| decode(&b)).transpose()
    }

    fn workflows(&self) -> Result<Vec<WorkflowEntry>> {
        decode_all(self.read(|s| values(s.workflows.iter()))?)
    }

    fn put_doc_bytes(&self, kind: DocKind, key: &str, value: Vec<u8>) -> Result<()> {
        self.write(|s| s.db.open_tree(tree(kind))?.insert(key.as_bytes(), value).map(drop))
    }

    fn get_doc_bytes(&self, kind: DocKind, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.read(|s| s.db.open_tree(tree(kind))?.get(key.as_bytes()))?.map(|v| v.to_vec()))
    }

    fn doc_bytes(&self, kind: DocKind) -> Result<Vec<Vec<u8>>> {
        Ok(self.read(|s| values(s.db.open_tree(tree(kind))?.iter()))?.into_iter().map(|v| v.to_vec()).collect())
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            let mine = self.written.load(SeqCst);
            let _turn = self.flushing.lock().await;
            if self.flushed.load(SeqCst) >= mine {
                return Ok(()); // a flush that began after our writes covered them
            }
            let upto = self.written.load(SeqCst);
            // Not `flush_async`: its futures can miss their wake-up when several are
            // polled at once (sled #1241, #1308), which stalled a run's drive, and a
            // cancel waiting on it, for seconds. A blocking flush on the blocking pool
            // always returns.
            let (sled, dir, synced) = (self.current()?, self.dir.clone(), self.synced_blobs.clone());
            let flushed = tokio::task::spawn_blocking(move || sled.flush(&dir, &synced)).await.map_err(|e| Error::Store(format!("flush task: {e}")))?;
            flushed.map_err(|e| self.failed(e))?;
            self.flushed.store(upto, SeqCst);
            Ok(())
        })
    }

    fn reopen(&self) -> Result<()> {
        let mut cur = self.cur.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = cur.take() {
            // sled locks its directory: the old database must be gone before the
            // new one opens. Calls still holding it fail fast once it is poisoned.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut old = old;
            loop {
                match Arc::try_unwrap(old) {
                    Ok(s) => {
                        drop(s);
                        break;
                    }
                    Err(still) if std::time::Instant::now() < deadline => {
                        old = still;
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(still) => {
                        *cur = Some(still);
                        return Err(Error::Store(format!("{}: still in use, not reopened", self.dir.display())));
                    }
                }
            }
        }
        // Writes the old database took but never flushed were never acknowledged:
        // their flush failed. (One that had not called flush by now, a second or
        // more after the fault, would be told a later flush succeeded; writers
        // flush right after writing, so none is.)
        *cur = Some(Arc::new(Sled::open(&self.dir)?));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::NodeStatus;

    #[tokio::test]
    async fn sled_records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = crate::store::conformance::run("r1");
        run.params = Default::default();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.put_run(&run).unwrap();
            let mut n = NodeRecord::new("a", Some(2));
            n.status = NodeStatus::Succeeded;
            s.put_node("r1", &n).unwrap();
            s.put_node("r1", &NodeRecord::new("a", None)).unwrap();
            s.put_node("r10", &NodeRecord::new("other", None)).unwrap();
            s.flush().await.unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get_run("r1").unwrap(), Some(run));
        let nodes = s.nodes("r1").unwrap();
        assert_eq!(nodes.len(), 2, "r10's nodes are not r1's");
        assert_eq!(nodes[1].status, NodeStatus::Succeeded);
    }
}
