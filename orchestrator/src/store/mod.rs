//! Durable state, the bottom layer of the coordinator: the [`StateStore`] trait, the
//! records it holds ([`records`]), and its implementations: [`SledStore`] in the
//! data dir (the embedded default) and [`MemStore`] for tests. It imports nothing
//! from the modules that use it, so a new backend is written against this module
//! alone and proven with the shared [`conformance`] suite.
//!
//! # The contract
//! - **Writes are buffered until [`StateStore::flush`]**: a `put_*` or `delete_*`
//!   that returns `Ok` may still be lost in a crash; once a `flush` that started
//!   after it returns `Ok`, it is durable. Callers flush before they act on what
//!   they wrote (grant a lease, answer a request), so a crash never loses anything
//!   acknowledged. A flush covers every write made before it started, by any caller.
//! - **Reads see every write made before them** by this process, flushed or not.
//! - **Keys**: a run by its id; a node record by (run id, node id, foreach index),
//!   the parent record (`index: None`) apart from its instances; a lease by its id;
//!   a workflow by its id; a document by (kind, key). A `put` replaces the record
//!   with the same key whole.
//! - **Order**: listings are ordered by key (byte order of the id); a run's nodes by
//!   node id, each parent before its instances, instances by index.
//! - **Errors**: an I/O failure (disk full, read-only) is an `Err` and, for stores
//!   on a disk, reported to their `StorageHealth`; [`StateStore::reopen`] then
//!   starts afresh from what was flushed. A record that no longer decodes is an
//!   `Err`, never a panic.

use futures::future::BoxFuture;

use crate::error::{Error, Result};
use deckle_protocol::record::RunStatus;

pub mod records;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod group_commit;
mod mem;
pub mod postgres;
mod sled;

pub use mem::MemStore;
pub use postgres::PgStore;
pub use records::{LeaseRecord, NodeRecord, RunRecord, WorkflowEntry};
pub use self::sled::SledStore;

/// Where the coordinator keeps runs, node records, leases, registered workflows and
/// small documents. See the [module docs](self) for the contract every
/// implementation keeps.
pub trait StateStore: Send + Sync {
    /// Create or replace the run `run.id`.
    fn put_run(&self, run: &RunRecord) -> Result<()>;
    /// The run `id`, if there is one.
    fn get_run(&self, id: &str) -> Result<Option<RunRecord>>;
    /// Every run, ordered by id. Grows with history: for tests and tools; the
    /// coordinator uses [`Self::run_page`], [`Self::open_runs`] and
    /// [`Self::run_counts`].
    fn runs(&self) -> Result<Vec<RunRecord>>;
    /// A page of the runs `q` selects, newest first: by id, descending (ids begin
    /// with their creation time). Stores on disk answer from an index, never by
    /// reading every run. The default scans [`Self::runs`].
    fn run_page(&self, q: &RunQuery) -> Result<Vec<RunRecord>> {
        let mut all: Vec<RunRecord> = self.runs()?.into_iter().filter(|r| q.matches(r)).collect();
        all.reverse();
        all.truncate(q.limit);
        Ok(all)
    }
    /// The runs the coordinator works on ([`is_open`]: not finished, or a hook
    /// still to call), by id; bounded by active work, not by history.
    fn open_runs(&self) -> Result<Vec<RunRecord>> {
        Ok(self.runs()?.into_iter().filter(is_open).collect())
    }
    /// How many runs are in each status (statuses with none left out).
    fn run_counts(&self) -> Result<Vec<(RunStatus, usize)>> {
        let mut counts: std::collections::BTreeMap<&'static str, (RunStatus, usize)> = Default::default();
        for r in self.runs()? {
            counts.entry(r.status.as_str()).or_insert((r.status, 0)).1 += 1;
        }
        Ok(counts.into_values().collect())
    }
    /// Create or replace the record of (`run_id`, `node.node`, `node.index`).
    fn put_node(&self, run_id: &str, node: &NodeRecord) -> Result<()>;
    /// Every node record of `run_id` (no other run's, even one whose id starts with
    /// it), ordered by node id, each parent before its instances by index.
    fn nodes(&self, run_id: &str) -> Result<Vec<NodeRecord>>;
    /// Create or replace the lease `lease.id`.
    fn put_lease(&self, lease: &LeaseRecord) -> Result<()>;
    /// Forget the lease `id`; forgetting one that is not there is not an error.
    fn delete_lease(&self, id: &str) -> Result<()>;
    /// Every lease, ordered by id.
    fn leases(&self) -> Result<Vec<LeaseRecord>>;
    /// Create or replace the registered workflow `wf.id` (all its versions).
    fn put_workflow(&self, wf: &WorkflowEntry) -> Result<()>;
    /// The registered workflow `id`, if there is one.
    fn get_workflow(&self, id: &str) -> Result<Option<WorkflowEntry>>;
    /// Every registered workflow, ordered by id.
    fn workflows(&self) -> Result<Vec<WorkflowEntry>>;
    /// Create or replace a document: opaque bytes (JSON, see [`put_doc`]) by kind
    /// and key; kinds do not share keys.
    fn put_doc_bytes(&self, kind: DocKind, key: &str, value: Vec<u8>) -> Result<()>;
    /// The document (`kind`, `key`), if there is one.
    fn get_doc_bytes(&self, kind: DocKind, key: &str) -> Result<Option<Vec<u8>>>;
    /// Every document of `kind`, ordered by key.
    fn doc_bytes(&self, kind: DocKind) -> Result<Vec<Vec<u8>>>;
    /// Up to `limit` documents of `kind` whose keys sort before `before` (all when
    /// `None`), highest key first: a page of a listing whose keys begin with their
    /// creation time (backfills), newest first.
    fn doc_page(&self, kind: DocKind, before: Option<&str>, limit: usize) -> Result<Vec<Vec<u8>>>;
    /// Make every write made before this call durable. Concurrent calls may share
    /// one sync.
    fn flush(&self) -> BoxFuture<'_, Result<()>>;
    /// Start afresh from what is durable, after a storage fault; writes never
    /// flushed may be gone. Blocks. Stores without faults to recover from keep the
    /// default (nothing to do).
    fn reopen(&self) -> Result<()> {
        Ok(())
    }
    /// The election of a leader among the coordinators sharing this store, for
    /// stores several can share ([`PgStore`]); `None` (sled, memory): one process
    /// owns the store and always leads.
    fn election(&self) -> Option<&dyn Election> {
        None
    }
}

/// A coordinator standing for leadership.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Unique per process (host, pid and a random suffix).
    pub id: String,
    /// Where the others send the writes they are asked for (`http://host:port`).
    pub url: String,
}

/// The leader as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderInfo {
    /// Its [`Candidate::id`].
    pub id: String,
    /// Its [`Candidate::url`].
    pub url: String,
    /// Its term: raised by every change of leader, never lowered.
    pub epoch: i64,
    /// When its term ends unless renewed.
    pub expires_at: jiff::Timestamp,
}

/// Leadership among coordinators sharing one store: a lease on a row with an
/// epoch. Winning fences the store's writes to the won epoch, so once another
/// coordinator takes over, nothing this one commits lands.
pub trait Election: Send + Sync {
    /// Become, or stay, the leader as `me` for `ttl`: the epoch this process leads
    /// in, or `None` while another's term runs. Fences this store's writes to the
    /// result (`None`: no writes).
    fn campaign<'a>(&'a self, me: &'a Candidate, ttl: std::time::Duration) -> BoxFuture<'a, Result<Option<i64>>>;
    /// The leader whose term is running, if any.
    fn leader(&self) -> BoxFuture<'_, Result<Option<LeaderInfo>>>;
    /// End this process's term now (a clean shutdown), so a standby need not wait
    /// for it to expire; stops this store's writes.
    fn resign<'a>(&'a self, me: &'a Candidate) -> BoxFuture<'a, Result<()>>;
    /// Whether this store's writes are fenced to a term it won and still holds (a
    /// commit refused after a takeover turns this off).
    fn is_leading(&self) -> bool;
}

/// Which runs a [`StateStore::run_page`] wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunQuery {
    /// Only this workflow's runs.
    pub workflow: Option<String>,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Only runs of this logical date (`YYYY-MM-DD`).
    pub date: Option<String>,
    /// Only runs whose id sorts before this one: the last id of the previous page.
    pub before: Option<String>,
    /// At most this many.
    pub limit: usize,
}

impl RunQuery {
    /// The newest `limit` runs.
    pub fn newest(limit: usize) -> Self {
        RunQuery { workflow: None, status: None, date: None, before: None, limit }
    }

    /// The newest `limit` runs of `workflow`.
    pub fn of_workflow(workflow: impl Into<String>, limit: usize) -> Self {
        RunQuery { workflow: Some(workflow.into()), ..Self::newest(limit) }
    }

    /// Whether `r` is one of the runs this query selects (any page).
    pub fn matches(&self, r: &RunRecord) -> bool {
        self.workflow.as_ref().is_none_or(|w| *w == r.workflow)
            && self.status.is_none_or(|s| s == r.status)
            && self.date.as_ref().is_none_or(|d| *d == r.date)
            && self.before.as_ref().is_none_or(|b| r.id.as_str() < b.as_str())
    }
}

/// Whether the coordinator still works on `r`: it is not finished, or its
/// `on_success`/`on_failure` hook is still to be called.
pub fn is_open(r: &RunRecord) -> bool {
    !r.status.is_finished() || r.hooks_pending
}

/// Kinds of [`StateStore`] documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DocKind {
    /// A workflow's schedule state (last tick fired, paused), by workflow id.
    Schedule,
    /// A backfill, by id.
    Backfill,
    /// An index the coordinator keeps over other documents (the open backfills, the
    /// events with runs left to start).
    Index,
    /// An accepted event (a signal, an upstream run's end, a file), by id.
    Event,
    /// What an event is deduplicated by (a signal's key, an upstream run, a file's
    /// path and size) → the event's id.
    EventKey,
    /// A workflow trigger's state (last event, problem, files seen), by
    /// `workflow/index`.
    TriggerState,
}

/// Store `v` as the JSON document (`kind`, `key`).
pub fn put_doc<T: serde::Serialize>(store: &dyn StateStore, kind: DocKind, key: &str, v: &T) -> Result<()> {
    store.put_doc_bytes(kind, key, encode(v)?)
}

/// The JSON document (`kind`, `key`), decoded.
pub fn get_doc<T: serde::de::DeserializeOwned>(store: &dyn StateStore, kind: DocKind, key: &str) -> Result<Option<T>> {
    store.get_doc_bytes(kind, key)?.map(|b| decode(&b)).transpose()
}

/// Every JSON document of `kind`, decoded, ordered by key.
pub fn docs<T: serde::de::DeserializeOwned>(store: &dyn StateStore, kind: DocKind) -> Result<Vec<T>> {
    store.doc_bytes(kind)?.iter().map(|b| decode(b)).collect()
}

/// Every run `q` selects, newest first, read `q.limit` at a time; `visit` returns
/// `false` to stop. For reads that filter or stop early (trends, the last success).
pub fn each_run_newest(store: &dyn StateStore, mut q: RunQuery, mut visit: impl FnMut(RunRecord) -> Result<bool>) -> Result<()> {
    loop {
        let page = store.run_page(&q)?;
        let full = page.len() == q.limit;
        let Some(last) = page.last() else { return Ok(()) };
        q.before = Some(last.id.clone());
        for r in page {
            if !visit(r)? {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Every JSON document of `kind` keyed before `before` (all when `None`), highest
/// key first, 200 at a time; `key_of` gives a document's key, `visit` returns
/// `false` to stop. Documents that no longer decode are skipped.
pub fn each_doc_newest<T: serde::de::DeserializeOwned>(
    store: &dyn StateStore,
    kind: DocKind,
    before: Option<String>,
    key_of: impl Fn(&T) -> String,
    mut visit: impl FnMut(T) -> Result<bool>,
) -> Result<()> {
    const PAGE: usize = 200;
    let mut cursor = before;
    loop {
        let page = store.doc_page(kind, cursor.as_deref(), PAGE)?;
        let full = page.len() == PAGE;
        for b in page {
            let Ok(doc) = decode::<T>(&b) else { continue };
            cursor = Some(key_of(&doc));
            if !visit(doc)? {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Records are stored as JSON.
fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Store(e.to_string()))
}

/// A record or document as stored, decoded.
pub fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::Store(format!("corrupt record: {e}")))
}

/// `run_id \0 node \0 index` keeps a run's nodes together and in order.
fn node_key(run_id: &str, n: &NodeRecord) -> Vec<u8> {
    let idx = n.index.map_or(String::new(), |i| format!("{i:010}"));
    format!("{run_id}\0{}\0{idx}", n.node).into_bytes()
}
