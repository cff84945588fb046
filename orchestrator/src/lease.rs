//! Work handed to remote workers: the [`LeaseBoard`] is the engine's
//! [`Executor`] on a coordinator. A dispatched attempt waits in a queue until a
//! worker's long-poll takes it; the grant is made durable before the worker hears
//! of it. The worker then owns the attempt while it heartbeats: a completion, an
//! upload or a heartbeat naming a lease that expired or was superseded is refused
//! ([`Error::StaleLease`]), so a worker presumed dead can never overwrite a retry.
//!
//! A lease not heard from for its TTL expires and the attempt ends
//! [`TaskStatus::Lost`]; the engine re-dispatches it as a new attempt. After a
//! coordinator restart the durable leases come back with a fresh TTL, and the
//! engine's resumed run reattaches to them ([`Executor::resume`]).
//!
//! Every granted attempt has an output notebook from the grant on: the prepared
//! notebook is written with the grant, the worker's uploads replace it, and a lost
//! attempt's notebook is finished here ([`crate::attempt_notebook`]). Writes to an
//! attempt's notebook are serialized, and an upload checks its lease only once it
//! holds that lock, so a stale upload can never overwrite the finished record.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deckle_protocol::api::{HeartbeatReply, Lease};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, Notify};
use tracing::{debug, info, instrument, warn};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::executor::{Executor, Task, TaskKind, TaskResult, TaskStatus};
use crate::health::StorageHealth;
use crate::metrics::Metrics;
pub use crate::store::LeaseRecord;
use crate::store::StateStore;

/// Leases one worker may hold at once, whatever its `max` asks for.
pub const MAX_LEASES_PER_WORKER: usize = 256;

/// A recorded output larger than this (as JSON) fails the attempt: outputs flow into
/// expressions, records and every API reply about the run.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// (run, instance, attempt): one attempt, whoever runs it.
type AttemptKey = (String, String, u32);

fn key_of(task: &Task) -> AttemptKey {
    (task.run_id.clone(), task.instance(), task.attempt)
}

struct Pending {
    task: Task,
    enqueued: Instant,
}

/// Clears [`Active::granting`] when a grant's request ends, however it ends.
struct Unheard<'a> {
    board: &'a LeaseBoard,
    ids: Vec<String>,
}

impl Drop for Unheard<'_> {
    fn drop(&mut self) {
        self.board.unheard(&self.ids);
    }
}

struct Active {
    task: Task,
    worker: String,
    expires: Instant,
    cancel: bool,
    /// Granted, but the grant is still being made durable and the worker has not
    /// heard of it: it cannot expire yet (a slow disk is not a lost worker).
    granting: bool,
}

#[derive(Default)]
struct Inner {
    pending: VecDeque<Pending>,
    active: HashMap<String, Active>,
    by_attempt: HashMap<AttemptKey, String>,
    /// The engine's futures, waiting for their attempt to end.
    waiters: HashMap<AttemptKey, oneshot::Sender<TaskResult>>,
    /// Ends that came before the engine reattached (right after a restart), with
    /// their lease ids.
    results: HashMap<AttemptKey, (String, TaskResult)>,
    /// Notebook path → sha256 (registered snapshots never change).
    hashes: HashMap<String, String>,
    /// Output notebook path → the lock its writers (uploads, the lost finish) take.
    writing: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// Workers by name: their labels, long-polls in flight and when last heard from,
    /// to say why an attempt waits.
    workers: HashMap<String, Seen>,
}

struct Seen {
    labels: Vec<String>,
    polling: usize,
    at: Instant,
}

/// Attempts waiting for a worker, the leases workers hold, and their results: the executor of `deckle server`.
pub struct LeaseBoard {
    inner: Mutex<Inner>,
    work: Notify,
    store: Arc<dyn StateStore>,
    ttl: Duration,
    metrics: Arc<Metrics>,
    /// While the data dir cannot be written no lease is granted, and an attempt the
    /// engine drops is detached (its worker carries on) rather than cancelled.
    health: Arc<StorageHealth>,
    /// The server is shutting down: long-polls return at once, empty.
    closing: std::sync::atomic::AtomicBool,
    /// Where uploaded notebooks live (below it, directories are synced too).
    data_dir: std::path::PathBuf,
    /// Saved and finished notebooks are sent on to the artifact store, if any.
    mirror: crate::mirror::Mirror,
    /// Dates grants and losses (in records and notebooks); TTLs run on `Instant`.
    clock: Arc<dyn Clock>,
}

fn lost(worker: &str, why: &str, at: jiff::Timestamp, notebook_written: bool) -> TaskResult {
    TaskResult {
        status: TaskStatus::Lost,
        outputs: Default::default(),
        error: Some(format!("worker {worker} lost at {}: {why}", deckle_notebook::attempt::iso(at))),
        notebook_written,
        duration_secs: 0.0,
        worker: Some(worker.to_string()),
    }
}

/// Whether the attempt's output notebook was written (prepared or uploaded): a
/// lost attempt then keeps it, finished as a failure.
fn notebook_on_disk(task: &Task) -> bool {
    Path::new(&task.output_path).exists()
}

fn sha256_file(path: &str) -> std::io::Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(path)?)))
}

impl LeaseBoard {
    /// A board holding the leases the store kept, each with a fresh TTL: their
    /// workers get that long to be heard from again.
    pub fn load(store: Arc<dyn StateStore>, ttl: Duration, metrics: Arc<Metrics>, health: Arc<StorageHealth>, clock: Arc<dyn Clock>, data_dir: &Path) -> Result<Arc<Self>> {
        Self::load_mirrored(store, ttl, metrics, health, clock, data_dir, crate::mirror::Mirror::none())
    }

    /// [`Self::load`], sending notebooks on to `mirror`.
    pub fn load_mirrored(
        store: Arc<dyn StateStore>,
        ttl: Duration,
        metrics: Arc<Metrics>,
        health: Arc<StorageHealth>,
        clock: Arc<dyn Clock>,
        data_dir: &Path,
        mirror: crate::mirror::Mirror,
    ) -> Result<Arc<Self>> {
        let mut inner = Inner::default();
        let now = Instant::now();
        for mut rec in store.leases()? {
            // Granted by another coordinator on this database: its notebooks go under
            // this one's data dir.
            let rebased = |p: &str| crate::artifacts::rebase(data_dir, p).to_string_lossy().into_owned();
            rec.task.input_copy_path = rec.task.input_copy_path.as_deref().map(rebased);
            rec.task.output_path = rebased(&rec.task.output_path);
            let key = key_of(&rec.task);
            match rec.result {
                Some(r) => {
                    inner.results.insert(key, (rec.id, r));
                }
                None => {
                    inner.by_attempt.insert(key, rec.id.clone());
                    inner.active.insert(rec.id, Active { task: rec.task, worker: rec.worker, expires: now + ttl, cancel: false, granting: false });
                }
            }
        }
        if !inner.active.is_empty() {
            info!(leases = inner.active.len(), "leases held before the restart are back");
        }
        // A takeover on another machine: the notebooks of the attempts in flight are
        // in the artifact store only, and a lost attempt is finished from them.
        for a in inner.active.values() {
            if let Err(e) = mirror.localize(Path::new(&a.task.output_path)) {
                warn!(path = %a.task.output_path, error = %e, "cannot fetch a leased attempt's notebook from the artifact store");
            }
        }
        Ok(Arc::new(LeaseBoard { inner: Mutex::new(inner), work: Notify::new(), store, ttl, metrics, health, clock, closing: Default::default(), data_dir: data_dir.to_path_buf(), mirror }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long a lease lives without a heartbeat.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Attempts waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.lock().pending.len()
    }

    /// Leases held by workers now.
    pub fn active_leases(&self) -> usize {
        self.lock().active.len()
    }

    /// The worker holding an attempt's lease, if one does.
    pub fn holder(&self, run_id: &str, instance: &str, attempt: u32) -> Option<String> {
        let inner = self.lock();
        let id = inner.by_attempt.get(&(run_id.to_string(), instance.to_string(), attempt))?;
        inner.active.get(id).map(|a| a.worker.clone())
    }

    /// Up to `max` attempts whose labels `labels` cover, waiting up to `wait` for
    /// some to become ready. Durable before return.
    #[instrument(skip_all, fields(worker = %worker, max))]
    pub async fn take(&self, worker: &str, labels: &[String], max: usize, wait: Duration) -> Result<Vec<Lease>> {
        self.seen(worker, labels, 1);
        let out = self.take_polling(worker, labels, max, wait).await;
        self.seen(worker, labels, -1);
        out
    }

    /// A worker's long-poll began (`+1`) or ended (`-1`).
    fn seen(&self, worker: &str, labels: &[String], polling: isize) {
        let mut inner = self.lock();
        let s = inner.workers.entry(worker.to_string()).or_insert_with(|| Seen { labels: Vec::new(), polling: 0, at: Instant::now() });
        s.labels = labels.to_vec();
        s.polling = s.polling.saturating_add_signed(polling);
        s.at = Instant::now();
    }

    /// Why an attempt the engine dispatched has no lease yet, if it is waiting for
    /// one: which labels it needs and whether any connected worker has them. A
    /// worker counts as connected while it long-polls and for a lease TTL after.
    pub fn waiting_for(&self, run_id: &str, instance: &str, attempt: u32) -> Option<String> {
        let inner = self.lock();
        let key = (run_id.to_string(), instance.to_string(), attempt);
        let p = inner.pending.iter().find(|p| key_of(&p.task) == key)?;
        let labels = &p.task.labels;
        let now = Instant::now();
        let connected: Vec<&Seen> = inner.workers.values().filter(|s| s.polling > 0 || now.duration_since(s.at) < self.ttl).collect();
        let able = connected.iter().filter(|s| labels.iter().all(|l| s.labels.contains(l))).count();
        let which = if labels.is_empty() { "a worker".to_string() } else { format!("a worker with labels [{}]", labels.join(", ")) };
        Some(match (able, connected.len()) {
            (0, 0) => format!("waiting for {which}; no worker connected"),
            (0, n) => format!("waiting for {which}; none of the {n} connected has them"),
            (n, _) => format!("waiting for {which}; {n} connected, all busy"),
        })
    }

    async fn take_polling(&self, worker: &str, labels: &[String], max: usize, wait: Duration) -> Result<Vec<Lease>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.closing.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(Vec::new());
            }
            if self.health.is_faulted() {
                // A grant must be durable before the worker hears of it: none now.
                tokio::select! {
                    _ = self.health.recovered() => continue,
                    _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
                }
            }
            let granted = self.grant(worker, labels, max.max(1));
            if !granted.is_empty() {
                // Should this request be dropped mid-grant (the worker hung up), the
                // leases become expirable again and go to another worker after the TTL.
                let _unheard = Unheard { board: self, ids: granted.iter().map(|l| l.id.clone()).collect() };
                let stored = async {
                    for l in &granted {
                        self.store.put_lease(&LeaseRecord { id: l.id.clone(), worker: worker.to_string(), task: l.task.clone(), result: None })?;
                    }
                    self.store.flush().await
                };
                // The prepared notebooks are written while the grant is flushed, not after.
                let (stored, ()) = tokio::join!(stored, self.write_prepared(worker, &granted));
                if let Err(e) = stored {
                    self.ungrant(&granted);
                    return Err(e);
                }
                let mut inner = self.lock();
                let heard = Instant::now() + self.ttl;
                for l in &granted {
                    if let Some(a) = inner.active.get_mut(&l.id) {
                        // The TTL runs from when the worker hears of the lease
                        // (`_unheard` makes it expirable again on the way out).
                        a.expires = heard;
                    }
                }
                return Ok(granted);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
            }
        }
    }

    /// End every long-poll now and grant nothing more: the server is stopping, and a
    /// graceful shutdown waits for requests in flight.
    pub fn close(&self) {
        self.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        self.work.notify_waiters();
    }

    /// Write the prepared notebook of each granted attempt, synced. A notebook that
    /// cannot be written does not hold the grant back (the worker's uploads will
    /// write it).
    async fn write_prepared(&self, worker: &str, granted: &[Lease]) {
        let jobs: Vec<(String, Task)> = granted.iter().map(|l| (l.id.clone(), l.task.clone())).collect();
        let (worker, root, mirror) = (worker.to_string(), self.data_dir.clone(), self.mirror.clone());
        let at = self.clock.now();
        let written = tokio::task::spawn_blocking(move || {
            for (id, task) in jobs {
                let Some(text) = crate::attempt_notebook::prepared(&task, &id, &worker, at) else { continue };
                match crate::attempt_notebook::write_synced(Path::new(&task.output_path), text.as_bytes(), &root) {
                    Err(e) => warn!(path = %task.output_path, error = %e, "could not write the prepared notebook"),
                    Ok(()) => mirror.saved(Path::new(&task.output_path)),
                }
            }
        });
        if let Err(e) = written.await {
            warn!(error = %e, "the prepared notebooks' task failed");
        }
    }

    /// The notebooks of attempts leased now (output and generated input), which
    /// their workers may still write.
    pub fn open_paths(&self) -> std::collections::HashSet<std::path::PathBuf> {
        let inner = self.lock();
        inner.active.values().flat_map(|a| [Some(&a.task.output_path), a.task.input_copy_path.as_ref()]).flatten().map(std::path::PathBuf::from).collect()
    }

    /// The lock writers of the notebook at `path` take.
    fn writing(&self, path: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.lock().writing.entry(path.to_string()).or_default().clone()
    }

    /// Finish the notebook of a lost attempt, once any upload in flight has landed
    /// (in the background: the engine need not wait for it).
    fn finish_lost(&self, task: &Task, message: String, at: jiff::Timestamp) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let path = task.output_path.clone();
        let lock = self.writing(&path);
        let (root, mirror) = (self.data_dir.clone(), self.mirror.clone());
        rt.spawn(async move {
            let _held = lock.lock().await;
            let (p, m) = (path.clone(), mirror.clone());
            let done = tokio::task::spawn_blocking(move || {
                // Sent on to the artifact store and dropped here by an earlier start.
                if let Err(e) = m.localize(Path::new(&p)) {
                    warn!(path = p, error = %e, "cannot fetch the lost attempt's notebook from the artifact store");
                }
                crate::attempt_notebook::finish_lost(Path::new(&p), &message, at, &root)
            })
            .await;
            match done {
                Ok(Err(e)) => warn!(path, error = %e, "could not finish the lost attempt's notebook"),
                Err(e) => warn!(path, error = %e, "the lost attempt's notebook task failed"),
                Ok(Ok(_)) => mirror.finished(Path::new(&path)),
            }
        });
    }

    /// Put back grants that could not be made durable: the worker never hears of
    /// them, and the next poll gets them again.
    fn ungrant(&self, granted: &[Lease]) {
        let mut inner = self.lock();
        for l in granted.iter().rev() {
            if let Some(a) = inner.active.remove(&l.id) {
                inner.by_attempt.remove(&key_of(&a.task));
                inner.pending.push_front(Pending { task: a.task, enqueued: Instant::now() });
            }
        }
    }

    /// Leases of a grant the worker may not have heard of: expirable again.
    fn unheard(&self, ids: &[String]) {
        let mut inner = self.lock();
        for id in ids {
            if let Some(a) = inner.active.get_mut(id) {
                a.granting = false;
            }
        }
    }

    fn grant(&self, worker: &str, labels: &[String], max: usize) -> Vec<Lease> {
        let mut inner = self.lock();
        let held = inner.active.values().filter(|a| a.worker == worker).count();
        let max = max.min(MAX_LEASES_PER_WORKER.saturating_sub(held));
        let mut out = Vec::new();
        let mut i = 0;
        let now = Instant::now();
        while i < inner.pending.len() && out.len() < max {
            if !inner.pending[i].task.labels.iter().all(|l| labels.contains(l)) {
                i += 1;
                continue;
            }
            let p = inner.pending.remove(i).expect("in range");
            self.metrics.observe_dispatch(now.duration_since(p.enqueued));
            let id = uuid::Uuid::new_v4().simple().to_string();
            let secret_env = p.task.secret_env.iter().cloned().collect();
            debug!(lease = %id, node = %p.task.node, attempt = p.task.attempt, "leased");
            inner.by_attempt.insert(key_of(&p.task), id.clone());
            out.push(Lease { id: id.clone(), ttl_secs: self.ttl.as_secs_f64(), task: p.task.clone(), secret_env });
            inner.active.insert(id, Active { task: p.task, worker: worker.to_string(), expires: now + self.ttl, cancel: false, granting: true });
        }
        out
    }

    fn active<T>(&self, lease: &str, f: impl FnOnce(&mut Active) -> T) -> Result<T> {
        let mut inner = self.lock();
        match inner.active.get_mut(lease) {
            Some(a) => Ok(f(a)),
            None => Err(Error::StaleLease(lease.to_string())),
        }
    }

    /// The worker still runs `lease`: extend it; the reply says whether to stop (cancelled).
    pub fn heartbeat(&self, lease: &str) -> Result<HeartbeatReply> {
        let ttl = self.ttl;
        self.active(lease, |a| {
            a.expires = Instant::now() + ttl;
            HeartbeatReply { cancel: a.cancel, ttl_secs: ttl.as_secs_f64() }
        })
    }

    /// Store a (partial or final) output notebook, or a SQL node's generated input.
    pub async fn upload(&self, lease: &str, input: bool, body: &[u8]) -> Result<()> {
        // A notebook is a JSON object (nbformat); anything else is refused as the API
        // document says. Checked without building it: uploads are large and frequent.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(Error::Input("the notebook is not a JSON object".into()));
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| Error::Input(format!("the notebook is not a JSON object: {e}")))?;
        // Held until written: the lost finish of this attempt waits for it, and once
        // that is done the lease is gone and this upload refused.
        let output = self.active(lease, |a| a.task.output_path.clone())?;
        let lock = self.writing(&output);
        let _held = lock.lock().await;
        let path = self.active(lease, |a| {
            a.expires = Instant::now() + self.ttl;
            if input {
                a.task.input_copy_path.clone()
            } else {
                Some(a.task.output_path.clone())
            }
        })?;
        let Some(path) = path else {
            return Err(Error::Input("this task has no generated input notebook".into()));
        };
        write_atomic(Path::new(&path), body, &self.data_dir).await?;
        self.mirror.saved(Path::new(&path));
        Ok(())
    }

    /// The worker's result: durable, then handed to the engine.
    pub async fn complete(&self, lease: &str, mut result: TaskResult) -> Result<()> {
        let (task, worker, abandoned) = self.active(lease, |a| (a.task.clone(), a.worker.clone(), a.cancel))?;
        result.worker = Some(worker.clone());
        // Outputs come from user code on a worker: oversized ones fail the attempt.
        let oversized: Vec<String> = result
            .outputs
            .iter()
            .filter_map(|(k, v)| {
                let n = serde_json::to_vec(v).map_or(0, |b| b.len());
                (n > MAX_OUTPUT_BYTES).then(|| format!("{k} ({n} bytes)"))
            })
            .collect();
        if !oversized.is_empty() {
            result.status = TaskStatus::Failed;
            result.outputs.clear();
            result.error = Some(format!("outputs larger than {MAX_OUTPUT_BYTES} bytes are refused: {}", oversized.join(", ")));
        }
        if result.notebook_written {
            // The notebook is part of what the completion acknowledges.
            self.make_durable(&task).await?;
        }
        self.store.put_lease(&LeaseRecord { id: lease.to_string(), worker, task: task.clone(), result: Some(result.clone()) })?;
        self.store.flush().await?;
        let key = key_of(&task);
        let mut inner = self.lock();
        if inner.active.remove(lease).is_none() {
            // Expired while we were flushing: the retry owns the node now.
            return Err(Error::StaleLease(lease.to_string()));
        }
        inner.by_attempt.remove(&key);
        inner.writing.remove(&task.output_path);
        self.deliver(&mut inner, key, lease, result, abandoned);
        Ok(())
    }

    /// Sync the attempt's uploaded notebooks and the directory entries their
    /// renames made (the directories above were synced when the first upload
    /// created them, in [`write_atomic`]).
    async fn make_durable(&self, task: &Task) -> Result<()> {
        let paths: Vec<std::path::PathBuf> = [Some(&task.output_path), task.input_copy_path.as_ref()].into_iter().flatten().map(std::path::PathBuf::from).collect();
        let mirror = self.mirror.clone();
        let synced = tokio::task::spawn_blocking(move || -> Result<()> {
            for p in &paths {
                let io = |e: std::io::Error| Error::Io { path: p.display().to_string(), message: e.to_string() };
                match crate::durable::sync_file(p) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    r => r.map_err(io)?,
                }
                if let Some(dir) = p.parent() {
                    crate::durable::sync_dir(dir).map_err(io)?;
                }
                mirror.finished(p);
            }
            Ok(())
        });
        synced.await.map_err(|e| Error::Store(format!("sync task: {e}")))?
    }

    fn deliver(&self, inner: &mut Inner, key: AttemptKey, lease: &str, result: TaskResult, abandoned: bool) {
        match inner.waiters.remove(&key) {
            // The run was cancelled and already recorded the attempt as such.
            None if abandoned => {
                if let Err(e) = self.store.delete_lease(lease) {
                    warn!(error = %e, "could not drop an abandoned lease");
                }
            }
            Some(tx) => {
                let _ = tx.send(result);
                // The engine records it at once; losing this record in a crash
                // before that only makes the attempt count as lost.
                if let Err(e) = self.store.delete_lease(lease) {
                    warn!(error = %e, "could not drop a delivered lease");
                }
            }
            None => {
                inner.results.insert(key, (lease.to_string(), result));
            }
        }
    }

    /// Expire leases not heard from for their TTL. Returns how many expired.
    pub fn expire(&self) -> usize {
        let now = Instant::now();
        let at = self.clock.now();
        let mut inner = self.lock();
        let dead: Vec<String> = inner.active.iter().filter(|(_, a)| a.expires <= now && !a.granting).map(|(id, _)| id.clone()).collect();
        let mut finish = Vec::new();
        for id in &dead {
            let a = inner.active.remove(id).expect("listed");
            let key = key_of(&a.task);
            inner.by_attempt.remove(&key);
            warn!(lease = %id, worker = %a.worker, node = %a.task.node, attempt = a.task.attempt, "lease expired");
            self.metrics.lease_expired();
            let why = format!("no heartbeat for {:.0}s", self.ttl.as_secs_f64());
            // The file is the truth: prepared at the grant (even one whose request the
            // dying worker dropped mid-flush), or uploaded since.
            let written = notebook_on_disk(&a.task);
            let result = lost(&a.worker, &why, at, written);
            if written {
                finish.push((a.task.clone(), result.error.clone().unwrap_or_default()));
            }
            self.deliver(&mut inner, key, id, result, a.cancel);
        }
        drop(inner);
        for (task, message) in finish {
            self.finish_lost(&task, message, at);
        }
        dead.len()
    }

    /// Run [`Self::expire`] every `every` until the board is dropped.
    pub fn spawn_reaper(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(b) => {
                        b.expire();
                    }
                    None => return,
                }
            }
        });
    }

    fn enqueue(self: &Arc<Self>, mut task: Task, resume: bool) -> BoxFuture<'static, TaskResult> {
        if let TaskKind::Notebook { path, hash: hash @ None } = &mut task.kind {
            let mut inner = self.lock();
            let known = inner.hashes.get(path.as_str()).cloned();
            let h = match known {
                Some(h) => h,
                None => match sha256_file(path) {
                    Ok(h) => {
                        inner.hashes.insert(path.clone(), h.clone());
                        h
                    }
                    Err(e) => {
                        let r = TaskResult {
                            status: TaskStatus::Invalid,
                            outputs: Default::default(),
                            error: Some(format!("{path}: {e}")),
                            notebook_written: false,
                            duration_secs: 0.0,
                            worker: None,
                        };
                        return Box::pin(async move { r });
                    }
                },
            };
            *hash = Some(h);
        }
        let key = key_of(&task);
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.lock();
            if let Some((id, r)) = inner.results.remove(&key) {
                if let Err(e) = self.store.delete_lease(&id) {
                    warn!(error = %e, "could not drop a delivered lease");
                }
                return Box::pin(async move { r });
            }
            let queued = resume && inner.pending.iter().any(|p| key_of(&p.task) == key);
            if inner.by_attempt.contains_key(&key) || queued {
                // Held by a worker, or (after a storage fault detached it) still queued.
                inner.waiters.insert(key.clone(), tx);
            } else if resume {
                // Nobody holds it any more: the coordinator stopped between granting
                // and the worker hearing of it, or the lease expired meanwhile.
                drop(inner);
                let at = self.clock.now();
                let written = notebook_on_disk(&task);
                let r = lost("unknown", "no worker held this attempt when the coordinator restarted", at, written);
                if written {
                    self.finish_lost(&task, r.error.clone().unwrap_or_default(), at);
                }
                return Box::pin(async move { r });
            } else {
                inner.waiters.insert(key.clone(), tx);
                inner.pending.push_back(Pending { task, enqueued: Instant::now() });
                drop(inner);
                self.work.notify_waiters();
            }
        }
        let guard = Abandon { board: self.clone(), key: Some(key) };
        let clock = self.clock.clone();
        Box::pin(async move {
            let mut guard = guard;
            let r = rx.await.unwrap_or_else(|_| lost("unknown", "the coordinator dropped the attempt", clock.now(), false));
            guard.key = None;
            r
        })
    }
}

/// The engine dropped an attempt. Its run was cancelled: take it off the queue,
/// and tell the worker holding it to stop at its next heartbeat. Or the run's drive
/// stopped on a storage fault: leave the attempt queued or running, for the drive
/// that resumes from the store to reattach to.
struct Abandon {
    board: Arc<LeaseBoard>,
    key: Option<AttemptKey>,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut inner = self.board.lock();
        inner.waiters.remove(&key);
        if self.board.health.is_faulted() {
            return;
        }
        inner.pending.retain(|p| key_of(&p.task) != key);
        if let Some(id) = inner.by_attempt.get(&key).cloned() {
            if let Some(a) = inner.active.get_mut(&id) {
                a.cancel = true;
            }
        }
    }
}

/// The board, as the engine's executor.
pub struct RemoteExecutor(pub Arc<LeaseBoard>);

impl Executor for RemoteExecutor {
    fn run(&self, task: Task) -> BoxFuture<'static, TaskResult> {
        self.0.enqueue(task, false)
    }

    fn resume(&self, task: Task) -> BoxFuture<'static, TaskResult> {
        self.0.enqueue(task, true)
    }
}

/// Write `path` (below `root`) whole or not at all, unsynced: see
/// [`crate::durable::replace`] (the completion syncs it, in `make_durable`).
async fn write_atomic(path: &Path, body: &[u8], root: &Path) -> Result<()> {
    let (p, body, root) = (path.to_path_buf(), body.to_vec(), root.to_path_buf());
    let written = tokio::task::spawn_blocking(move || crate::durable::replace(&p, &body, &root, false)).await;
    let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), message: e.to_string() };
    written.map_err(|e| Error::Store(format!("write task: {e}")))?.map_err(io)
}
