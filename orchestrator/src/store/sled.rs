//! The embedded default [`StateStore`]: sled in the data dir. Every change is
//! written and then flushed (group-committed) before the engine acts on it; a write
//! or flush that fails for an I/O reason is reported to [`StorageHealth`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;

use super::records::{LeaseRecord, NodeRecord, RunRecord, WorkflowEntry};
use super::group_commit::GroupCommit;
use super::{decode, encode, is_open, node_key, DocKind, RunQuery, StateStore};
use deckle_protocol::record::RunStatus;
use crate::error::{Error, Result};
use crate::health::StorageHealth;

/// The open database and its trees; replaced whole when the store is reopened.
struct Sled {
    db: sled::Db,
    runs: sled::Tree,
    nodes: sled::Tree,
    leases: sled::Tree,
    workflows: sled::Tree,
    /// Indexes of `runs`: `workflow \0 id`, `status \0 id`, `date \0 id`, and the
    /// ids of open runs.
    by_workflow: sled::Tree,
    by_status: sled::Tree,
    by_date: sled::Tree,
    open: sled::Tree,
    /// sled's log file, for [`durable`].
    log: std::fs::File,
}

impl Sled {
    fn open(dir: &Path) -> Result<Self> {
        // Bounded: sled's default cache (1 GiB) grew the server with its history.
        let db = sled::Config::new().path(dir).cache_capacity(CACHE_BYTES).open().map_err(|e| Error::Store(format!("opening {}: {e}", dir.display())))?;
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
        let s = Sled {
            runs: db.open_tree("runs")?,
            nodes: db.open_tree("nodes")?,
            leases: db.open_tree("leases")?,
            workflows: db.open_tree("workflows")?,
            by_workflow: db.open_tree("runs_by_workflow")?,
            by_status: db.open_tree("runs_by_status")?,
            by_date: db.open_tree("runs_by_date")?,
            open: db.open_tree("runs_open")?,
            db,
            log,
        };
        s.index_existing_runs()?;
        Ok(s)
    }

    /// A data dir from before the run indexes: build them once (streaming).
    fn index_existing_runs(&self) -> Result<()> {
        let meta = self.db.open_tree("meta")?;
        if meta.get(INDEX_KEY)?.is_some() {
            return Ok(());
        }
        for kv in self.runs.iter() {
            let (_, v) = kv?;
            if let Ok(r) = decode::<RunRecord>(&v) {
                self.put_indexed(&r, v.to_vec(), None)?;
            }
        }
        meta.insert(INDEX_KEY, &b"1"[..])?;
        self.db.flush()?;
        Ok(())
    }

    /// Write `r` with its index entries: the new entries first, then the run, then
    /// the removal of those that no longer hold (`old` is its previous version).
    /// sled recovers a prefix of its writes, so a crash leaves at worst a stale
    /// entry, which readers check against the run, never a missing one.
    fn put_indexed(&self, r: &RunRecord, body: Vec<u8>, old: Option<&RunRecord>) -> sled::Result<()> {
        self.by_workflow.insert(pair(&r.workflow, &r.id), &[])?;
        self.by_status.insert(pair(r.status.as_str(), &r.id), &[])?;
        self.by_date.insert(pair(&r.date, &r.id), &[])?;
        if is_open(r) {
            self.open.insert(r.id.as_bytes(), &[])?;
        }
        self.runs.insert(r.id.as_bytes(), body)?;
        // Every other status's key: the previous one, and any an earlier crash
        // left, so a stale one lasts only until the run's next write.
        for st in ALL_STATUSES.into_iter().filter(|s| *s != r.status) {
            self.by_status.remove(pair(st.as_str(), &r.id))?;
        }
        if let Some(o) = old {
            if o.workflow != r.workflow {
                self.by_workflow.remove(pair(&o.workflow, &o.id))?;
            }
            if o.date != r.date {
                self.by_date.remove(pair(&o.date, &o.id))?;
            }
        }
        if !is_open(r) {
            self.open.remove(r.id.as_bytes())?;
        }
        Ok(())
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
    /// Concurrent flushers share one fsync.
    commits: GroupCommit,
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
            commits: GroupCommit::default(),
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
        self.commits.wrote();
        Ok(())
    }
}

/// sled's page cache: enough for the runs in flight and recent lists.
const CACHE_BYTES: u64 = 16 << 20;
/// Set once the run indexes cover every run.
const INDEX_KEY: &[u8] = b"run_index_v2";

const ALL_STATUSES: [RunStatus; 5] = [RunStatus::Queued, RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed, RunStatus::Cancelled];

/// An index key: `a \0 id`.
fn pair(a: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + id.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
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
        DocKind::Index => "indexes",
        DocKind::Event => "events",
        DocKind::EventKey => "event_keys",
        DocKind::TriggerState => "trigger_states",
    }
}

impl StateStore for SledStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        let v = encode(run)?;
        self.write(|s| {
            let old = s.runs.get(run.id.as_bytes())?.and_then(|b| decode::<RunRecord>(&b).ok());
            s.put_indexed(run, v, old.as_ref())
        })
    }

    fn run_page(&self, q: &RunQuery) -> Result<Vec<RunRecord>> {
        // The narrowest index the query allows, newest first from the cursor; each
        // entry checked against its run (a crash may leave a stale one).
        let (tree, prefix): (fn(&Sled) -> &sled::Tree, Vec<u8>) = match (&q.workflow, &q.date, q.status) {
            (Some(w), _, _) => (|s| &s.by_workflow, pair(w, "")),
            (None, Some(d), _) => (|s| &s.by_date, pair(d, "")),
            (None, None, Some(st)) => (|s| &s.by_status, pair(st.as_str(), "")),
            (None, None, None) => (|s| &s.runs, Vec::new()),
        };
        let mut end = prefix.clone();
        match &q.before {
            Some(b) => end.extend_from_slice(b.as_bytes()),
            None => end.push(0xff),
        }
        let mut out = Vec::new();
        self.read(|s| {
            for kv in tree(s).range(prefix.clone()..end.clone()).rev() {
                let (k, _) = kv?;
                let id = &k[prefix.len()..];
                let Some(body) = s.runs.get(id)? else { continue };
                let Ok(r) = decode::<RunRecord>(&body) else { continue };
                if q.matches(&r) {
                    out.push(r);
                    if out.len() >= q.limit {
                        break;
                    }
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn open_runs(&self) -> Result<Vec<RunRecord>> {
        let mut out = Vec::new();
        self.read(|s| {
            for kv in s.open.iter() {
                let (id, _) = kv?;
                if let Some(body) = s.runs.get(&id)? {
                    match decode::<RunRecord>(&body) {
                        Ok(r) if is_open(&r) => out.push(r),
                        _ => {}
                    }
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn run_counts(&self) -> Result<Vec<(RunStatus, usize)>> {
        // Keys only: no run is read or decoded. A stale entry (a crash between an
        // index write and the run's) counts until that run is written again.
        let mut out = Vec::new();
        self.read(|s| {
            for st in ALL_STATUSES {
                let n = s.by_status.scan_prefix(pair(st.as_str(), "")).keys().count();
                if n > 0 {
                    out.push((st, n));
                }
            }
            Ok(())
        })?;
        Ok(out)
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

    fn doc_page(&self, kind: DocKind, before: Option<&str>, limit: usize) -> Result<Vec<Vec<u8>>> {
        let page = self.read(|s| {
            let t = s.db.open_tree(tree(kind))?;
            let iter = match before {
                Some(b) => t.range(..b.as_bytes()),
                None => t.iter(),
            };
            iter.rev().take(limit).map(|kv| kv.map(|(_, v)| v.to_vec())).collect::<sled::Result<Vec<_>>>()
        })?;
        Ok(page)
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.commits.flush(move || async move {
            let upto = self.commits.written();
            // Not `flush_async`: its futures can miss their wake-up when several are
            // polled at once (sled #1241, #1308), which stalled a run's drive, and a
            // cancel waiting on it, for seconds. A blocking flush on the blocking pool
            // always returns.
            let (sled, dir, synced) = (self.current()?, self.dir.clone(), self.synced_blobs.clone());
            let flushed = tokio::task::spawn_blocking(move || sled.flush(&dir, &synced)).await.map_err(|e| Error::Store(format!("flush task: {e}")))?;
            flushed.map_err(|e| self.failed(e))?;
            Ok(upto)
        }))
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
    async fn a_data_dir_from_before_the_run_indexes_is_indexed_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            let mut done = crate::store::conformance::run("r1");
            done.status = deckle_protocol::record::RunStatus::Succeeded;
            s.put_run(&done).unwrap();
            s.put_run(&crate::store::conformance::run("r2")).unwrap();
            s.flush().await.unwrap();
            // As an older deckle left it: runs, no indexes.
            let cur = s.current().unwrap();
            for t in ["runs_by_workflow", "runs_by_status", "runs_by_date", "runs_open", "meta"] {
                cur.db.drop_tree(t).unwrap();
            }
            cur.db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        let ids = |v: Vec<RunRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(s.open_runs().unwrap()), ["r2"]);
        let q = RunQuery::of_workflow("w", 10);
        assert_eq!(ids(s.run_page(&q).unwrap()), ["r2", "r1"]);
        assert_eq!(s.run_counts().unwrap(), [(RunStatus::Running, 1), (RunStatus::Succeeded, 1)]);
    }

    #[test]
    fn a_stale_status_entry_left_by_a_crash_goes_at_the_runs_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let run = crate::store::conformance::run("r1");
        s.put_run(&run).unwrap();
        // As a crash between indexing a new status and writing the run leaves it.
        s.current().unwrap().by_status.insert(pair("succeeded", "r1"), &[]).unwrap();
        let q = RunQuery { status: Some(RunStatus::Succeeded), ..RunQuery::newest(10) };
        assert!(s.run_page(&q).unwrap().is_empty(), "listings check the entry against the run");
        assert_eq!(s.run_counts().unwrap(), [(RunStatus::Running, 1), (RunStatus::Succeeded, 1)], "counts see the stale key");
        s.put_run(&run).unwrap();
        assert_eq!(s.run_counts().unwrap(), [(RunStatus::Running, 1)], "the next write drops it");
    }

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
