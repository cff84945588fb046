//! Artifacts in object storage (`--artifacts URL`): the data dir stages them, this
//! mirror sends them on.
//!
//! Every notebook is written to the data dir first, as without `--artifacts`
//! (synced, renamed into place), and then queued here. The queue holds one entry
//! per file, so saves made while it waits or uploads fold into one upload of the
//! latest version (partial saves wait [`SETTLE`] first: a burst of cell saves costs
//! one request). A **finished** file (an attempt's final notebook) is uploaded
//! as soon as possible and then removed from the data dir: the data dir holds only
//! what is running or not yet uploaded, and that is the outbox. A coordinator that
//! starts queues every file it finds there as finished, so a crash or an outage
//! loses nothing a worker was told was saved.
//!
//! Reads take the data dir's copy when there is one, else the store's, so any
//! coordinator sharing the store serves any notebook. A failed upload raises the
//! artifact fault in [`StorageHealth`] (no new work is taken), is retried with
//! backoff, and the first upload that works again clears it.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deckle_storage::Store;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::health::StorageHealth;
use crate::side_runtime::SideRuntime;

/// How long partial saves of one file settle before they are uploaded.
pub const SETTLE: Duration = Duration::from_secs(1);
/// The longest pause between retries while the store fails.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The mirror, or nothing when artifacts stay in the data dir. Cheap to clone.
#[derive(Clone, Default)]
pub struct Mirror(Option<Arc<Inner>>);

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Mirror").field(&self.0.as_ref().map(|i| i.store.location().to_string())).finish()
    }
}

struct Inner {
    store: Store,
    data: PathBuf,
    health: Arc<StorageHealth>,
    queue: Mutex<HashMap<String, Entry>>,
    wake: Arc<Notify>,
    /// Uploads made and failed, for `/metrics`.
    uploads: AtomicU64,
    failures: AtomicU64,
    /// Notebooks finished and uploaded, and the uploads they took in all.
    notebooks: AtomicU64,
    notebook_uploads: AtomicU64,
    /// Uploads go on while callers block, and sync code can wait for a read from
    /// any thread.
    rt: SideRuntime,
}

struct Entry {
    /// Saved since its last upload. A clean entry stays until its file is finished,
    /// to count the uploads it took.
    dirty: bool,
    finished: bool,
    /// Bumped by each save: an upload that read an older version leaves the entry queued.
    seq: u64,
    due: Instant,
    /// Uploads of this file so far.
    uploads: u32,
}

/// What `/metrics` and the health report say of the mirror.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MirrorStats {
    /// Uploads made since start.
    pub uploads: u64,
    /// Uploads that failed since start.
    pub failures: u64,
    /// Files waiting to be uploaded.
    pub pending: usize,
    /// Notebooks finished and uploaded since start …
    pub notebooks: u64,
    /// … and the uploads they took in all (partial saves and the final one).
    pub notebook_uploads: u64,
}

impl Mirror {
    /// No mirror: artifacts stay in the data dir.
    pub fn none() -> Mirror {
        Mirror(None)
    }

    /// A mirror of `data`'s artifacts into `store`. Checks first that the store
    /// takes a write: a missing bucket, refused credentials or an unreachable
    /// endpoint fail here, at start. [`Self::recover`] then queues what the data
    /// dir still holds.
    pub fn start(data: &Path, store: Store, health: Arc<StorageHealth>) -> Result<Mirror> {
        let rt = SideRuntime::start("deckle-artifacts").map_err(|e| Error::StorageFault(format!("starting the artifact uploads: {e}")))?;
        let inner = Arc::new(Inner {
            store,
            data: data.to_path_buf(),
            health,
            queue: Mutex::new(HashMap::new()),
            wake: Arc::new(Notify::new()),
            uploads: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            notebooks: AtomicU64::new(0),
            notebook_uploads: AtomicU64::new(0),
            rt,
        });
        let probe = {
            let store = inner.store.clone();
            async move {
                store.put(".deckle-probe", b"deckle".to_vec()).await?;
                store.delete(".deckle-probe").await
            }
        };
        // Refused at start: a bad setting, not a fault to wait out.
        inner.block(async move { probe.await.map_err(|e| Error::Input(e.to_string())) })?;
        inner.rt.handle().spawn(upload_loop(Arc::downgrade(&inner), inner.wake.clone()));
        Ok(Mirror(Some(inner)))
    }

    /// Queues every notebook the data dir still stages (left by an earlier start,
    /// or not yet uploaded when it ended) as finished, except those `running`
    /// says are still being written, which are uploaded and kept.
    pub fn recover(&self, running: impl Fn(&Path) -> bool) {
        let Some(i) = &self.0 else { return };
        for rel in staged(&i.data.join("artifacts"), &i.data) {
            self.queue(&rel, !running(&i.data.join(&rel)));
        }
    }

    /// Whether artifacts go to a store.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The store's URL of a file under the data dir (its path, without a store).
    pub fn url(&self, path: &Path) -> String {
        match (&self.0, self.rel(path)) {
            (Some(i), Some(rel)) => i.store.url(&rel),
            _ => path.display().to_string(),
        }
    }

    fn rel(&self, path: &Path) -> Option<String> {
        let i = self.0.as_ref()?;
        path.strip_prefix(&i.data).ok().map(object_key)
    }

    /// `path` (under the data dir) was saved: upload it soon.
    pub fn saved(&self, path: &Path) {
        if let Some(rel) = self.rel(path) {
            self.queue(&rel, false);
        }
    }

    /// `path` is final: upload it now, then drop the data dir's copy.
    pub fn finished(&self, path: &Path) {
        if let Some(rel) = self.rel(path) {
            self.queue(&rel, true);
        }
    }

    fn queue(&self, rel: &str, finished: bool) {
        let Some(i) = &self.0 else { return };
        let now = Instant::now();
        let mut q = i.queue.lock().unwrap_or_else(|p| p.into_inner());
        let e = q.entry(rel.to_string()).or_insert(Entry { dirty: false, finished: false, seq: 0, due: now, uploads: 0 });
        if !e.dirty {
            e.dirty = true;
            e.due = now + SETTLE;
        }
        e.seq += 1;
        e.finished |= finished;
        if finished {
            e.due = now;
        }
        drop(q);
        i.wake.notify_one();
    }

    /// Upload `body` as `path` (under the data dir) now, for what must be in the
    /// store before it is acknowledged (a registered version's files).
    pub async fn put_now(&self, path: &Path, body: Vec<u8>) -> Result<()> {
        let (Some(i), Some(rel)) = (&self.0, self.rel(path)) else { return Ok(()) };
        let store = i.store.clone();
        i.spawn(async move { store.put(&rel, body).await.map_err(|e| Error::StorageFault(e.to_string())) }).await
    }

    /// The file at `path` (under the data dir): the data dir's copy, else the
    /// store's; `None` when neither has it.
    pub async fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        match tokio::fs::read(path).await {
            Ok(b) => return Ok(Some(b)),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::Io { path: path.display().to_string(), message: e.to_string() }),
            Err(_) => {}
        }
        // Not (or no longer) staged here: the store's copy.
        let (Some(i), Some(rel)) = (&self.0, self.rel(path)) else { return Ok(None) };
        let store = i.store.clone();
        i.spawn(async move { fetched(store.get(&rel).await) }).await
    }

    /// Makes sure `path` (under the data dir) is there, fetching it from the store
    /// when it is not; `false` when neither has it. Blocks: for sync callers.
    pub fn localize(&self, path: &Path) -> Result<bool> {
        if path.exists() {
            return Ok(true);
        }
        let (Some(i), Some(rel)) = (&self.0, self.rel(path)) else { return Ok(false) };
        let store = i.store.clone();
        let Some(body) = i.block(async move { fetched(store.get(&rel).await) })? else { return Ok(false) };
        let root = i.data.clone();
        crate::durable::replace(path, &body, &root, false).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
        Ok(true)
    }

    /// Uploads made, failed, and waiting.
    pub fn stats(&self) -> MirrorStats {
        let Some(i) = &self.0 else { return MirrorStats::default() };
        let pending = i.queue.lock().unwrap_or_else(|p| p.into_inner()).values().filter(|e| e.dirty).count();
        MirrorStats {
            uploads: i.uploads.load(Ordering::Relaxed),
            failures: i.failures.load(Ordering::Relaxed),
            pending,
            notebooks: i.notebooks.load(Ordering::Relaxed),
            notebook_uploads: i.notebook_uploads.load(Ordering::Relaxed),
        }
    }

    /// Waits until nothing is waiting to be uploaded, for at most `limit`; whether
    /// the queue emptied.
    pub async fn drain(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.stats().pending > 0 {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }
}

fn fetched(r: deckle_storage::Result<Vec<u8>>) -> Result<Option<Vec<u8>>> {
    match r {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Error::StorageFault(e.to_string())),
    }
}

impl Inner {
    /// Runs `fut` on the mirror's runtime and awaits it from any runtime.
    async fn spawn<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        self.rt.handle().spawn(fut).await.map_err(|e| Error::StorageFault(format!("artifact task: {e}")))?
    }

    /// Runs `fut` on the mirror's runtime and waits for it, from any thread.
    fn block<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        self.rt.block(fut).map_err(|e| Error::StorageFault(format!("artifact task: {e}")))?
    }
}

/// A path relative to the data dir as the object's key: `/`-separated.
fn object_key(rel: &Path) -> String {
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Every file under `dir`, relative to `data`, `/`-separated (temporary files of
/// an interrupted write are left out).
fn staged(dir: &Path, data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(staged(&p, data));
        } else if p.extension().is_some_and(|x| x == "ipynb") {
            if let Ok(rel) = p.strip_prefix(data) {
                out.push(object_key(rel));
            }
        }
    }
    out
}

/// Uploads queued files, earliest due first, one at a time, until the mirror is dropped.
async fn upload_loop(weak: std::sync::Weak<Inner>, wake: Arc<Notify>) {
    let mut failures_in_a_row = 0u32;
    loop {
        let Some(i) = weak.upgrade() else { return };
        let woken = wake.notified();
        let next = {
            let q = i.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.iter().filter(|(_, e)| e.dirty).min_by_key(|(_, e)| e.due).map(|(rel, e)| (rel.clone(), e.seq, e.finished, e.due))
        };
        let Some((rel, seq, finished, due)) = next else {
            drop(i);
            // Re-checked every second so a dropped mirror ends the loop.
            let _ = tokio::time::timeout(Duration::from_secs(1), woken).await;
            continue;
        };
        if due > Instant::now() {
            drop(i);
            let _ = tokio::time::timeout_at(due, woken).await;
            continue;
        }
        let path = i.data.join(&rel);
        let body = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    warn!(path = %path.display(), error = %e, "cannot read an artifact to upload");
                }
                let mut q = i.queue.lock().unwrap_or_else(|p| p.into_inner());
                if q.get(&rel).is_some_and(|e| e.seq == seq) {
                    q.remove(&rel);
                }
                continue;
            }
        };
        match i.store.put(&rel, body).await {
            Ok(()) => {
                failures_in_a_row = 0;
                i.uploads.fetch_add(1, Ordering::Relaxed);
                i.health.clear_artifacts();
                let mut q = i.queue.lock().unwrap_or_else(|p| p.into_inner());
                let Some(e) = q.get_mut(&rel) else { continue };
                e.uploads += 1;
                if e.seq != seq {
                    // Saved again meanwhile: the newer version goes next time.
                    e.due = e.due.max(Instant::now() + if e.finished { Duration::ZERO } else { SETTLE });
                    continue;
                }
                let uploads = e.uploads;
                if !finished {
                    e.dirty = false;
                    debug!(key = rel, uploads, "partial artifact uploaded");
                    continue;
                }
                // In the store now: the data dir's copy was only the outbox. Dropped,
                // and counted, before the entry goes, so whoever sees the queue
                // empty sees both.
                if let Err(e) = std::fs::remove_file(&path) {
                    warn!(path = %path.display(), error = %e, "cannot remove an uploaded artifact");
                }
                i.notebooks.fetch_add(1, Ordering::Relaxed);
                i.notebook_uploads.fetch_add(u64::from(uploads), Ordering::Relaxed);
                q.remove(&rel);
                drop(q);
                info!(key = rel, uploads, "artifact uploaded");
            }
            Err(e) => {
                failures_in_a_row += 1;
                i.failures.fetch_add(1, Ordering::Relaxed);
                i.health.set_artifacts(format!("artifact store: {e}"));
                let pause = Duration::from_millis(250 * 2u64.saturating_pow(failures_in_a_row.min(8))).min(MAX_BACKOFF);
                warn!(key = rel, error = %e, retry_in = ?pause, "artifact upload failed; retrying");
                drop(i);
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(name: &str) -> Store {
        Store::open(&format!("memory://{name}").parse().unwrap(), &deckle_storage::Options::default()).unwrap()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn a_finished_file_is_uploaded_then_leaves_the_data_dir_and_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artifacts/wf/2026-01-01/r1/a.1.ipynb");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"v\": 1}").unwrap();
        let m = Mirror::start(dir.path(), memory("mirror-finished"), Arc::new(StorageHealth::default())).unwrap();
        m.finished(&path);
        rt().block_on(async {
            assert!(m.drain(Duration::from_secs(10)).await, "the upload did not happen");
            assert!(!path.exists(), "the staged copy was kept after its upload");
            assert_eq!(m.read(&path).await.unwrap().unwrap(), b"{\"v\": 1}");
        });
        assert_eq!(memory("mirror-finished").url("x"), "memory://mirror-finished/x");
        assert_eq!(m.url(&path), "memory://mirror-finished/artifacts/wf/2026-01-01/r1/a.1.ipynb");
        assert_eq!(m.stats().uploads, 1);
    }

    #[test]
    fn saves_in_a_burst_fold_into_one_upload_and_the_partial_copy_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artifacts/wf/d/r/a.1.ipynb");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let m = Mirror::start(dir.path(), memory("mirror-burst"), Arc::new(StorageHealth::default())).unwrap();
        for n in 0..50 {
            std::fs::write(&path, format!("{{\"v\": {n}}}")).unwrap();
            m.saved(&path);
        }
        rt().block_on(async {
            assert!(m.drain(Duration::from_secs(10)).await);
            assert_eq!(m.read(&path).await.unwrap().unwrap(), b"{\"v\": 49}");
        });
        assert_eq!(m.stats().uploads, 1, "50 saves within the settle time are one upload");
        assert!(path.exists(), "a partial save is not the outbox's to remove");
        assert_eq!(m.stats().notebooks, 0);
        let store = memory("mirror-burst");
        assert_eq!(rt().block_on(store.get("artifacts/wf/d/r/a.1.ipynb")).unwrap(), b"{\"v\": 49}");
        m.finished(&path);
        assert!(rt().block_on(m.drain(Duration::from_secs(10))));
        let s = m.stats();
        assert_eq!((s.notebooks, s.notebook_uploads), (1, 2), "one notebook, uploaded partially once and finished once: {s:?}");
    }

    #[test]
    fn files_left_in_the_data_dir_are_uploaded_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let left = dir.path().join("artifacts/wf/d/r/a.2.ipynb");
        std::fs::create_dir_all(left.parent().unwrap()).unwrap();
        std::fs::write(&left, "{}").unwrap();
        let running = dir.path().join("artifacts/wf/d/r/b.1.ipynb");
        std::fs::write(&running, "{}").unwrap();
        let m = Mirror::start(dir.path(), memory("mirror-restart"), Arc::new(StorageHealth::default())).unwrap();
        m.recover(|p| p == running);
        assert!(rt().block_on(m.drain(Duration::from_secs(10))));
        assert!(!left.exists());
        assert!(running.exists(), "a notebook still being written stays in the data dir");
        assert!(rt().block_on(memory("mirror-restart").exists("artifacts/wf/d/r/b.1.ipynb")).unwrap());
        assert!(rt().block_on(memory("mirror-restart").exists("artifacts/wf/d/r/a.2.ipynb")).unwrap());
    }

    #[test]
    fn an_unreachable_store_fails_at_start_with_its_url() {
        // Unsigned, so the client does not go looking for instance metadata.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let opts = deckle_storage::Options { endpoint: Some(format!("http://127.0.0.1:{port}")), max_retries: 0, anonymous: true, ..Default::default() };
        let store = Store::open(&"s3://bucket/pre".parse().unwrap(), &opts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = Mirror::start(dir.path(), store, Arc::new(StorageHealth::default())).unwrap_err();
        assert!(e.to_string().contains("s3://bucket/pre/.deckle-probe: storage unavailable"), "{e}");
    }

    #[test]
    fn localize_fetches_a_file_the_data_dir_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let store = memory("mirror-localize");
        rt().block_on(store.put("blobs/abc", b"nb".to_vec())).unwrap();
        let m = Mirror::start(dir.path(), store, Arc::new(StorageHealth::default())).unwrap();
        let p = dir.path().join("blobs/abc");
        assert!(m.localize(&p).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"nb");
        assert!(!m.localize(&dir.path().join("blobs/nope")).unwrap());
        assert!(!Mirror::none().localize(&dir.path().join("blobs/nope")).unwrap());
    }
}
