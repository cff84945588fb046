//! [`StateStore`] on PostgreSQL 14+, for coordinators that share one database
//! (`deckle server --state postgres://…`), and the [`Election`] of their leader.
//!
//! - **Writes** go to an in-memory overlay that reads consult first; a
//!   [`StateStore::flush`] writes everything pending in one transaction and removes
//!   it from the overlay once committed. Concurrent flushes share one commit (as
//!   sled's share one fsync), and the statements of a commit are pipelined.
//! - **Fencing**: while this process leads in epoch *e*, every commit first takes a
//!   share lock on the leader row and checks its epoch is still *e*. A standby that
//!   takes over bumps the epoch under that lock, so a paused or partitioned
//!   ex-leader's commit fails ([`Error::Fenced`]) and nothing it writes lands.
//! - **Faults**: a commit that fails for a connection reason is retried with backoff
//!   for [`PgStore::RETRY_FOR`], then reported to the [`StorageHealth`] like a full
//!   disk; the pending writes stay in the overlay and go with the next flush.
//! - **Reads** block the calling thread on this store's own runtime (as sled's reads
//!   block on the disk), so the trait stays synchronous and works from any thread.
//!
//! tokio-postgres with deadpool's pool: the maintained asynchronous driver (sqlx's
//! compile-time checks need a database at build time, and its runtime layer brings
//! nothing this store uses).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use tokio_postgres::NoTls;
use tracing::warn;

use super::records::{LeaseRecord, NodeRecord, RunRecord, WorkflowEntry};
use super::group_commit::GroupCommit;
use super::{decode, encode, is_open, Candidate, DocKind, Election, LeaderInfo, RunQuery, StateStore};
use deckle_protocol::record::RunStatus;
use crate::clock::Clock;
use crate::error::{causes as cause, Error, Result};
use crate::health::StorageHealth;

mod migrate;
#[cfg(test)]
mod tests;

/// What this store may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// No election: every commit lands (one coordinator, or tests).
    Unfenced,
    /// Another coordinator leads (or none yet): nothing is written.
    Standby,
    /// This process leads in this epoch: commits land only while it is current.
    Leader(i64),
}

/// A record's key in the overlay; the derived order is each table's listing order
/// (`-1` puts a node's parent record before its instances).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Run(String),
    Node(String, String, i64),
    Lease(String),
    Workflow(String),
    Doc(DocKind, String),
}

/// A run's columns besides its body, for the indexed queries.
#[derive(Debug, Clone)]
struct RunCols {
    workflow: String,
    status: String,
    date: String,
    open: bool,
}

/// A pending write: the body to store, or `None` to delete.
#[derive(Debug, Clone)]
struct Change {
    seq: u64,
    body: Option<Vec<u8>>,
    run: Option<RunCols>,
}

/// The store on PostgreSQL. See the [module docs](self).
pub struct PgStore {
    rt: crate::side_runtime::SideRuntime,
    pool: Pool,
    /// The URL with its password masked, for messages.
    shown: String,
    pending: Mutex<BTreeMap<Key, Change>>,
    /// Concurrent flushers share one commit.
    commits: GroupCommit,
    fence: Mutex<Fence>,
    health: Arc<StorageHealth>,
    retry_for: Duration,
    /// Election times from this clock instead of the database's (tests).
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.shown).finish()
    }
}

/// `url` with any password replaced by `***`.
pub fn mask_password(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                out = format!("{}{}:***{}", &url[..scheme_end + 3], &rest[..colon], &rest[at..]);
            }
        }
    }
    // `password=` in a query string or a key-value connection string.
    if let Some(i) = out.find("password=") {
        let end = out[i..].find(['&', ' ']).map_or(out.len(), |e| i + e);
        out.replace_range(i + "password=".len()..end, "***");
    }
    out
}

/// A pooled connection, or why none could be had (the URL, password masked, first).
async fn client(pool: &Pool, shown: &str) -> Result<deadpool_postgres::Object> {
    pool.get().await.map_err(|e| Error::Store(format!("{shown}: {}", pool_error(e))))
}

fn pool_error(e: deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => cause(&e),
        deadpool_postgres::PoolError::Timeout(_) => "timed out connecting".into(),
        e => cause(&e),
    }
}

/// Why a commit did not land.
enum CommitError {
    Fenced(i64),
    Db(String),
}

impl PgStore {
    /// How long a commit that fails for a connection reason is retried before the
    /// fault is reported.
    pub const RETRY_FOR: Duration = Duration::from_secs(10);

    /// Connect to `url`, create or migrate the schema, and report faults to `health`.
    /// A wrong URL, a refused password or an unreachable server is an error naming
    /// the URL (password masked) and the cause.
    pub fn open(url: &str, health: Arc<StorageHealth>) -> Result<Self> {
        let shown = mask_password(url);
        let mut cfg: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| Error::Store(format!("{shown}: not a PostgreSQL URL: {}", cause(&e))))?;
        cfg.connect_timeout(Duration::from_secs(5));
        if cfg.get_application_name().is_none() {
            cfg.application_name("deckle");
        }
        let rt = crate::side_runtime::SideRuntime::start("deckle-pg").map_err(|e| Error::Store(format!("starting the database runtime: {e}")))?;
        let mgr = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = {
            let _in_rt = rt.handle().enter();
            Pool::builder(mgr)
                .max_size(16)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .create_timeout(Some(Duration::from_secs(5)))
                .wait_timeout(Some(Duration::from_secs(10)))
                .build()
                .map_err(|e| Error::Store(format!("{shown}: {e}")))?
        };
        let store = PgStore {
            rt,
            pool,
            shown: shown.clone(),
            pending: Mutex::default(),
            commits: GroupCommit::default(),
            fence: Mutex::new(Fence::Unfenced),
            health,
            retry_for: Self::RETRY_FOR,
            clock: None,
        };
        let pool = store.pool.clone();
        store.block(async move {
            let mut c = pool.get().await.map_err(|e| Error::Store(format!("{shown}: cannot connect: {}", pool_error(e))))?;
            migrate::migrate(&mut c).await.map_err(|e| Error::Store(format!("{shown}: {e}")))
        })?;
        Ok(store)
    }

    /// Take election times from `clock` instead of the database's `now()` (tests
    /// that move time by hand).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Retry failed commits for `d` instead of [`Self::RETRY_FOR`].
    pub fn with_retry_for(mut self, d: Duration) -> Self {
        self.retry_for = d;
        self
    }

    /// The database's URL, password masked.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// What this store may write now.
    pub fn fence(&self) -> Fence {
        *self.fence.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fence writes as `f` (the server starts a store it shares as [`Fence::Standby`]).
    pub fn set_fence(&self, f: Fence) {
        *self.fence.lock().unwrap_or_else(|p| p.into_inner()) = f;
    }

    /// The schema version of the database (migrated at open).
    pub fn schema_version(&self) -> Result<i32> {
        self.query_one_i32("SELECT COALESCE(MAX(version), 0) FROM deckle_schema")
    }

    fn query_one_i32(&self, sql: &'static str) -> Result<i32> {
        let pool = self.pool.clone();
        let shown = self.shown.clone();
        self.block(async move {
            let c = client(&pool, &shown).await?;
            Ok(c.query_one(sql, &[]).await.map_err(|e| Error::Store(format!("{shown}: {}", cause(&e))))?.get(0))
        })
    }

    /// Run `fut` on this store's runtime and wait for it, from any thread (a
    /// runtime's worker included: it blocks, as a read from disk would).
    fn block<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        self.rt.block(fut).map_err(|e| Error::Store(format!("database task: {e}")))?
    }

    fn now_param(&self) -> Option<jiff::Timestamp> {
        self.clock.as_ref().map(|c| c.now())
    }

    /// Queue a write; reads see it at once, a flush makes it durable.
    fn stage(&self, key: Key, body: Option<Vec<u8>>, run: Option<RunCols>) {
        // Numbered under the lock a flush snapshots under: a flush that counts this
        // write also carries it.
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let seq = self.commits.wrote();
        pending.insert(key, Change { seq, body, run });
    }

    /// The pending writes `pick` selects, taken before the database is read so a
    /// commit landing in between is seen in one or the other.
    fn staged(&self, pick: impl Fn(&Key) -> bool) -> Vec<(Key, Option<Vec<u8>>)> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|(k, _)| pick(k)).map(|(k, c)| (k.clone(), c.body.clone())).collect()
    }

    /// One record's body: pending, else from the database.
    fn get_body(&self, key: Key, sql: &str, params: Vec<String>) -> Result<Option<Vec<u8>>> {
        if let Some((_, body)) = self.staged(|k| *k == key).pop() {
            return Ok(body);
        }
        let rows = self.rows(sql, params)?;
        Ok(rows.into_iter().next().map(|(_, b)| b))
    }

    /// `(key, body)` rows of a query whose columns are a text key and the body
    /// (`json` as text, or `bytea`).
    fn rows(&self, sql: impl Into<String>, params: Vec<String>) -> Result<Vec<(String, Vec<u8>)>> {
        if params.iter().any(|p| p.contains('\0')) {
            return Ok(Vec::new()); // PostgreSQL text holds no NUL: no key matches
        }
        let (pool, shown, sql) = (self.pool.clone(), self.shown.clone(), sql.into());
        self.block(async move {
            let db = |e: tokio_postgres::Error| Error::Store(format!("{shown}: {}", cause(&e)));
            let c = client(&pool, &shown).await?;
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            let st = c.prepare_cached(&sql).await.map_err(db)?;
            let rows = c.query(&st, &refs).await.map_err(db)?;
            rows.iter()
                .map(|r| {
                    let key: String = r.try_get(0).map_err(db)?;
                    let body = match r.try_get::<_, String>(1) {
                        Ok(s) => s.into_bytes(),
                        Err(_) => r.try_get::<_, Vec<u8>>(1).map_err(db)?,
                    };
                    Ok((key, body))
                })
                .collect()
        })
    }

    /// Runs written but not committed yet, by id (`None`: deleted).
    fn staged_runs(&self) -> Result<BTreeMap<String, Option<RunRecord>>> {
        self.staged(|k| matches!(k, Key::Run(_)))
            .into_iter()
            .map(|(k, body)| {
                let Key::Run(id) = k else { unreachable!("only runs were picked") };
                Ok((id, body.map(|b| decode(&b)).transpose()?))
            })
            .collect()
    }

    /// A listing: the database's rows with the pending writes applied, in key order.
    fn listing(&self, pick: impl Fn(&Key) -> Option<String>, sql: &str, params: Vec<String>) -> Result<Vec<Vec<u8>>> {
        let staged = self.staged(|k| pick(k).is_some());
        let mut all: BTreeMap<Vec<u8>, Vec<u8>> = self.rows(sql, params)?.into_iter().map(|(k, b)| (k.into_bytes(), b)).collect();
        for (k, body) in staged {
            let k = pick(&k).unwrap_or_default().into_bytes();
            match body {
                Some(b) => all.insert(k, b),
                None => all.remove(&k),
            };
        }
        Ok(all.into_values().collect())
    }

    /// Write `batch` in one transaction, fenced.
    async fn commit(pool: Pool, batch: Arc<Vec<(Key, Change)>>, fence: Fence) -> std::result::Result<(), CommitError> {
        let db = |e: tokio_postgres::Error| CommitError::Db(cause(&e));
        let mut c = pool.get().await.map_err(|e| CommitError::Db(pool_error(e)))?;
        let tx = c.transaction().await.map_err(db)?;
        if let Fence::Leader(epoch) = fence {
            // The share lock makes a takeover (which updates this row) wait for
            // this commit, and this commit fail after one.
            let current: i64 = tx.query_one("SELECT epoch FROM deckle_leader WHERE id = 1 FOR SHARE", &[]).await.map_err(db)?.get(0);
            if current != epoch {
                return Err(CommitError::Fenced(current));
            }
        }
        write_all(&tx, &batch).await.map_err(db)?;
        tx.commit().await.map_err(db)
    }
}

/// Write a commit's changes: the frequent kinds (runs, node records, leases) one
/// statement per kind over arrays, the rest one statement each; all pipelined.
async fn write_all(tx: &deadpool_postgres::Transaction<'_>, batch: &[(Key, Change)]) -> std::result::Result<(), tokio_postgres::Error> {
    let text = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
    let (mut nodes, mut leases, mut gone_leases, mut runs) = (NodeCols::default(), (Vec::new(), Vec::new()), Vec::new(), RunRows::default());
    let mut writes: Vec<BoxFuture<'_, std::result::Result<u64, tokio_postgres::Error>>> = Vec::new();
    for (key, change) in batch {
        match (key, &change.body) {
            (Key::Node(r, n, i), Some(b)) => {
                nodes.0.push(r.clone());
                nodes.1.push(n.clone());
                nodes.2.push(*i);
                nodes.3.push(text(b));
            }
            (Key::Lease(id), Some(b)) => {
                leases.0.push(id.clone());
                leases.1.push(text(b));
            }
            (Key::Lease(id), None) => gone_leases.push(id.clone()),
            (Key::Run(id), Some(b)) => {
                let c = change.run.clone().unwrap_or(RunCols { workflow: String::new(), status: String::new(), date: String::new(), open: true });
                runs.ids.push(id.clone());
                runs.workflows.push(c.workflow);
                runs.statuses.push(c.status);
                runs.dates.push(c.date);
                runs.open.push(c.open);
                runs.bodies.push(text(b));
            }
            // The rare kinds: one statement each.
            (Key::Run(id), None) => writes.push(Box::pin(async move { tx.execute("DELETE FROM deckle_runs WHERE id = $1", &[id]).await })),
            (Key::Node(run, node, idx), None) => writes.push(Box::pin(async move { tx.execute("DELETE FROM deckle_nodes WHERE run_id = $1 AND node = $2 AND idx = $3", &[run, node, idx]).await })),
            (Key::Workflow(id), Some(b)) => {
                let b = text(b);
                writes.push(Box::pin(async move { tx.execute("INSERT INTO deckle_workflows (id, body) VALUES ($1, $2::text::json) ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body", &[id, &b]).await }));
            }
            (Key::Workflow(id), None) => writes.push(Box::pin(async move { tx.execute("DELETE FROM deckle_workflows WHERE id = $1", &[id]).await })),
            (Key::Doc(kind, k), Some(b)) => {
                let kind = kind_name(*kind);
                writes.push(Box::pin(async move { tx.execute("INSERT INTO deckle_docs (kind, key, body) VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body", &[&kind, k, b]).await }));
            }
            (Key::Doc(kind, k), None) => {
                let kind = kind_name(*kind);
                writes.push(Box::pin(async move { tx.execute("DELETE FROM deckle_docs WHERE kind = $1 AND key = $2", &[&kind, k]).await }));
            }
        }
    }
    let (nodes, leases, gone_leases, runs) = (&nodes, &leases, &gone_leases, &runs);
    if !nodes.0.is_empty() {
        writes.push(Box::pin(async move {
            let st = tx
                .prepare_cached(
                    "INSERT INTO deckle_nodes (run_id, node, idx, body) SELECT r, n, i, b::json FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS t(r, n, i, b) \
                     ON CONFLICT (run_id, node, idx) DO UPDATE SET body = EXCLUDED.body",
                )
                .await?;
            tx.execute(&st, &[&nodes.0, &nodes.1, &nodes.2, &nodes.3]).await
        }));
    }
    if !leases.0.is_empty() {
        writes.push(Box::pin(async move {
            let st = tx.prepare_cached("INSERT INTO deckle_leases (id, body) SELECT i, b::json FROM unnest($1::text[], $2::text[]) AS t(i, b) ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body").await?;
            tx.execute(&st, &[&leases.0, &leases.1]).await
        }));
    }
    if !gone_leases.is_empty() {
        writes.push(Box::pin(async move {
            let st = tx.prepare_cached("DELETE FROM deckle_leases WHERE id = ANY($1)").await?;
            tx.execute(&st, &[gone_leases]).await
        }));
    }
    if !runs.ids.is_empty() {
        writes.push(Box::pin(async move {
            let st = tx
                .prepare_cached(
                    "INSERT INTO deckle_runs (id, workflow, status, date, open, body) \
                     SELECT i, w, s, d, o, b::json FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[]) AS t(i, w, s, d, o, b) \
                     ON CONFLICT (id) DO UPDATE SET workflow = EXCLUDED.workflow, status = EXCLUDED.status, date = EXCLUDED.date, open = EXCLUDED.open, body = EXCLUDED.body",
                )
                .await?;
            tx.execute(&st, &[&runs.ids, &runs.workflows, &runs.statuses, &runs.dates, &runs.open, &runs.bodies]).await
        }));
    }
    futures::future::try_join_all(writes).await.map(drop)
}

/// Node records of a commit, column by column.
type NodeCols = (Vec<String>, Vec<String>, Vec<i64>, Vec<String>);

/// Runs of a commit, column by column.
#[derive(Default)]
struct RunRows {
    ids: Vec<String>,
    workflows: Vec<String>,
    statuses: Vec<String>,
    dates: Vec<String>,
    open: Vec<bool>,
    bodies: Vec<String>,
}

/// Make record keys of a listing sort as their key: node listings order by
/// `(node, index)`, which text order of this key gives.
fn node_sort_key(node: &str, idx: i64) -> String {
    // `\u{1}` sorts below any character a node id has; -1 (the parent) first.
    format!("{node}\u{1}{:020}", idx + 1)
}


fn kind_name(kind: DocKind) -> String {
    match kind {
        DocKind::Schedule => "schedule",
        DocKind::Backfill => "backfill",
        DocKind::Index => "index",
        DocKind::Event => "event",
        DocKind::EventKey => "event_key",
        DocKind::TriggerState => "trigger_state",
    }
    .to_string()
}

fn decode_all<T: serde::de::DeserializeOwned>(bodies: Vec<Vec<u8>>) -> Result<Vec<T>> {
    bodies.iter().map(|b| decode(b)).collect()
}

impl StateStore for PgStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        let cols = RunCols { workflow: run.workflow.clone(), status: run.status.as_str().to_string(), date: run.date.clone(), open: is_open(run) };
        self.stage(Key::Run(run.id.clone()), Some(encode(run)?), Some(cols));
        Ok(())
    }

    fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.get_body(Key::Run(id.into()), "SELECT id, body::text FROM deckle_runs WHERE id = $1", vec![id.into()])?.map(|b| decode(&b)).transpose()
    }

    fn runs(&self) -> Result<Vec<RunRecord>> {
        let pick = |k: &Key| if let Key::Run(id) = k { Some(id.clone()) } else { None };
        decode_all(self.listing(pick, "SELECT id, body::text FROM deckle_runs ORDER BY id", vec![])?)
    }

    fn run_page(&self, q: &RunQuery) -> Result<Vec<RunRecord>> {
        let staged = self.staged_runs()?;
        // One statement per filter combination, so each uses its index.
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<String> = Vec::new();
        for (col, v) in [("workflow", q.workflow.clone()), ("status", q.status.map(|s| s.as_str().to_string())), ("date", q.date.clone())] {
            if let Some(v) = v {
                params.push(v);
                conds.push(format!("{col} = ${}", params.len()));
            }
        }
        if let Some(b) = &q.before {
            params.push(b.clone());
            conds.push(format!("id < ${}", params.len()));
        }
        let filter = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        // Staged versions replace theirs: ask for enough to fill the page after.
        let sql = format!("SELECT id, body::text FROM deckle_runs {filter} ORDER BY id DESC LIMIT {}", q.limit + staged.len());
        let mut page: BTreeMap<String, RunRecord> = BTreeMap::new();
        for (id, body) in self.rows(sql, params)? {
            if !staged.contains_key(&id) {
                page.insert(id, decode(&body)?);
            }
        }
        for (id, r) in staged {
            if let Some(r) = r.filter(|r| q.matches(r)) {
                page.insert(id, r);
            }
        }
        Ok(page.into_values().rev().take(q.limit).collect())
    }

    fn open_runs(&self) -> Result<Vec<RunRecord>> {
        let staged = self.staged_runs()?;
        let mut all: BTreeMap<String, RunRecord> = BTreeMap::new();
        for (id, body) in self.rows("SELECT id, body::text FROM deckle_runs WHERE open ORDER BY id", vec![])? {
            if !staged.contains_key(&id) {
                all.insert(id, decode(&body)?);
            }
        }
        for (id, r) in staged {
            if let Some(r) = r.filter(is_open) {
                all.insert(id, r);
            }
        }
        Ok(all.into_values().collect())
    }

    fn run_counts(&self) -> Result<Vec<(RunStatus, usize)>> {
        let staged = self.staged_runs()?;
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for (status, n) in self.rows("SELECT status, count(*)::text FROM deckle_runs GROUP BY status", vec![])? {
            counts.insert(status, String::from_utf8_lossy(&n).parse().unwrap_or(0));
        }
        // Staged runs count as they are now, not as the database has them.
        if !staged.is_empty() {
            let ids: Vec<String> = staged.keys().cloned().collect();
            let (pool, shown) = (self.pool.clone(), self.shown.clone());
            let before: Vec<String> = self.block(async move {
                let c = client(&pool, &shown).await?;
                let rows = c.query("SELECT status FROM deckle_runs WHERE id = ANY($1)", &[&ids]).await.map_err(|e| Error::Store(format!("{shown}: {}", cause(&e))))?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
            })?;
            for s in before {
                *counts.entry(s).or_default() -= 1;
            }
            for r in staged.values().flatten() {
                *counts.entry(r.status.as_str().to_string()).or_default() += 1;
            }
        }
        let all = [RunStatus::Queued, RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed, RunStatus::Cancelled];
        Ok(all.into_iter().filter_map(|s| counts.get(s.as_str()).filter(|n| **n > 0).map(|n| (s, *n as usize))).collect())
    }

    fn put_node(&self, run_id: &str, node: &NodeRecord) -> Result<()> {
        let idx = node.index.map_or(-1, |i| i as i64);
        self.stage(Key::Node(run_id.into(), node.node.clone(), idx), Some(encode(node)?), None);
        Ok(())
    }

    fn nodes(&self, run_id: &str) -> Result<Vec<NodeRecord>> {
        if run_id.contains('\0') {
            return Ok(Vec::new());
        }
        let pick = |k: &Key| match k {
            Key::Node(r, n, i) if r == run_id => Some(node_sort_key(n, *i)),
            _ => None,
        };
        let staged = self.staged(|k| pick(k).is_some());
        let mut all: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let (pool, shown, run) = (self.pool.clone(), self.shown.clone(), run_id.to_string());
        let rows = self.block(async move {
            let db = |e: tokio_postgres::Error| Error::Store(format!("{shown}: {}", cause(&e)));
            let c = client(&pool, &shown).await?;
            let st = c.prepare_cached("SELECT node, idx, body::text FROM deckle_nodes WHERE run_id = $1").await.map_err(db)?;
            let rows = c.query(&st, &[&run]).await.map_err(db)?;
            rows.iter().map(|r| Ok((r.try_get::<_, String>(0).map_err(db)?, r.try_get::<_, i64>(1).map_err(db)?, r.try_get::<_, String>(2).map_err(db)?))).collect::<Result<Vec<_>>>()
        })?;
        for (node, idx, body) in rows {
            all.insert(node_sort_key(&node, idx), body.into_bytes());
        }
        for (k, body) in staged {
            let k = pick(&k).unwrap_or_default();
            match body {
                Some(b) => all.insert(k, b),
                None => all.remove(&k),
            };
        }
        decode_all(all.into_values().collect())
    }

    fn put_lease(&self, lease: &LeaseRecord) -> Result<()> {
        self.stage(Key::Lease(lease.id.clone()), Some(encode(lease)?), None);
        Ok(())
    }

    fn delete_lease(&self, id: &str) -> Result<()> {
        self.stage(Key::Lease(id.into()), None, None);
        Ok(())
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>> {
        let pick = |k: &Key| if let Key::Lease(id) = k { Some(id.clone()) } else { None };
        decode_all(self.listing(pick, "SELECT id, body::text FROM deckle_leases ORDER BY id", vec![])?)
    }

    fn put_workflow(&self, wf: &WorkflowEntry) -> Result<()> {
        self.stage(Key::Workflow(wf.id.clone()), Some(encode(wf)?), None);
        Ok(())
    }

    fn get_workflow(&self, id: &str) -> Result<Option<WorkflowEntry>> {
        self.get_body(Key::Workflow(id.into()), "SELECT id, body::text FROM deckle_workflows WHERE id = $1", vec![id.into()])?.map(|b| decode(&b)).transpose()
    }

    fn workflows(&self) -> Result<Vec<WorkflowEntry>> {
        let pick = |k: &Key| if let Key::Workflow(id) = k { Some(id.clone()) } else { None };
        decode_all(self.listing(pick, "SELECT id, body::text FROM deckle_workflows ORDER BY id", vec![])?)
    }

    fn put_doc_bytes(&self, kind: DocKind, key: &str, value: Vec<u8>) -> Result<()> {
        self.stage(Key::Doc(kind, key.into()), Some(value), None);
        Ok(())
    }

    fn get_doc_bytes(&self, kind: DocKind, key: &str) -> Result<Option<Vec<u8>>> {
        self.get_body(Key::Doc(kind, key.into()), "SELECT key, body FROM deckle_docs WHERE kind = $1 AND key = $2", vec![kind_name(kind), key.into()])
    }

    fn doc_bytes(&self, kind: DocKind) -> Result<Vec<Vec<u8>>> {
        let pick = |k: &Key| match k {
            Key::Doc(d, key) if *d == kind => Some(key.clone()),
            _ => None,
        };
        self.listing(pick, "SELECT key, body FROM deckle_docs WHERE kind = $1 ORDER BY key", vec![kind_name(kind)])
    }

    fn doc_page(&self, kind: DocKind, before: Option<&str>, limit: usize) -> Result<Vec<Vec<u8>>> {
        // No key holds a NUL (PostgreSQL text cannot): cut the cursor there.
        let before = before.map(|b| b.split('\0').next().unwrap_or_default());
        let pick = |k: &Key| match k {
            Key::Doc(d, key) if *d == kind && before.is_none_or(|b| key.as_str() < b) => Some(key.clone()),
            _ => None,
        };
        let staged = self.staged(|k| pick(k).is_some());
        let mut params = vec![kind_name(kind)];
        let mut sql = "SELECT key, body FROM deckle_docs WHERE kind = $1".to_string();
        if let Some(b) = before {
            params.push(b.to_string());
            sql.push_str(" AND key < $2");
        }
        sql.push_str(&format!(" ORDER BY key DESC LIMIT {}", limit + staged.len()));
        let mut page: BTreeMap<String, Vec<u8>> = self.rows(sql, params)?.into_iter().collect();
        for (k, body) in staged {
            let k = pick(&k).unwrap_or_default();
            match body {
                Some(b) => page.insert(k, b),
                None => page.remove(&k),
            };
        }
        Ok(page.into_values().rev().take(limit).collect())
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.commits.flush(move || async move {
            let fence = self.fence();
            if fence == Fence::Standby {
                return Err(Error::Fenced("this coordinator is a standby; only the leader writes".into()));
            }
            let (upto, batch) = {
                let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                let batch: Vec<(Key, Change)> = pending.iter().map(|(k, c)| (k.clone(), c.clone())).collect();
                (self.commits.written(), Arc::new(batch))
            };
            let started = Instant::now();
            let mut backoff = Duration::from_millis(50);
            loop {
                let done = self.rt.handle().spawn(Self::commit(self.pool.clone(), batch.clone(), fence)).await.map_err(|e| Error::Store(format!("database task: {e}")))?;
                match done {
                    Ok(()) => break,
                    Err(CommitError::Fenced(now)) => {
                        self.set_fence(Fence::Standby);
                        return Err(Error::Fenced(format!("another coordinator leads now (epoch {now}; this one led in {})", match fence {
                            Fence::Leader(e) => e,
                            _ => 0,
                        })));
                    }
                    Err(CommitError::Db(why)) if started.elapsed() < self.retry_for => {
                        warn!(error = %why, "a commit to the database failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                    Err(CommitError::Db(why)) => {
                        let msg = format!("{}: {why}", self.shown);
                        self.health.set(msg.clone());
                        return Err(Error::Store(msg));
                    }
                }
            }
            // Forget what landed, unless written again since (that goes next time).
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (k, c) in batch.iter() {
                if pending.get(k).is_some_and(|now| now.seq == c.seq) {
                    pending.remove(k);
                }
            }
            Ok(upto)
        }))
    }

    /// Nothing to reopen: the pool replaces broken connections. Succeeds once the
    /// database answers again, so a storage fault clears only then.
    fn reopen(&self) -> Result<()> {
        self.query_one_i32("SELECT 1").map(drop)
    }

    fn election(&self) -> Option<&dyn Election> {
        Some(self)
    }
}

impl Election for PgStore {
    fn is_leading(&self) -> bool {
        matches!(self.fence(), Fence::Leader(_))
    }

    fn campaign<'a>(&'a self, me: &'a Candidate, ttl: Duration) -> BoxFuture<'a, Result<Option<i64>>> {
        Box::pin(async move {
            let mine = match self.fence() {
                Fence::Leader(e) => e,
                _ => -1,
            };
            let (pool, shown, now) = (self.pool.clone(), self.shown.clone(), self.now_param());
            let (id, url, secs) = (me.id.clone(), me.url.clone(), ttl.as_secs_f64());
            let won: Option<i64> = self
                .rt
                .handle()
                .spawn(async move {
                    let db = |e: tokio_postgres::Error| Error::Store(format!("{shown}: {}", cause(&e)));
                    let c = client(&pool, &shown).await?;
                    // Keep the epoch while renewing our own term; a new term bumps it.
                    let row = c
                        .query_opt(
                            "WITH clock AS (SELECT COALESCE($4::timestamptz, now()) AS t) \
                             UPDATE deckle_leader SET \
                               epoch = CASE WHEN holder = $1 AND epoch = $5 THEN epoch ELSE epoch + 1 END, \
                               holder = $1, url = $2, expires_at = (SELECT t FROM clock) + make_interval(secs => $3) \
                             WHERE id = 1 AND ((holder = $1 AND epoch = $5) OR holder IS NULL OR expires_at IS NULL OR expires_at <= (SELECT t FROM clock)) \
                             RETURNING epoch",
                            &[&id, &url, &secs, &now, &mine],
                        )
                        .await
                        .map_err(db)?;
                    Ok::<_, Error>(row.map(|r| r.get::<_, i64>(0)))
                })
                .await
                .map_err(|e| Error::Store(format!("database task: {e}")))??;
            self.set_fence(match won {
                Some(e) => Fence::Leader(e),
                None => Fence::Standby,
            });
            Ok(won)
        })
    }

    fn leader(&self) -> BoxFuture<'_, Result<Option<LeaderInfo>>> {
        Box::pin(async move {
            let (pool, shown, now) = (self.pool.clone(), self.shown.clone(), self.now_param());
            self.rt.handle()
                .spawn(async move {
                    let db = |e: tokio_postgres::Error| Error::Store(format!("{shown}: {}", cause(&e)));
                    let c = client(&pool, &shown).await?;
                    let row = c
                        .query_one("SELECT holder, url, epoch, expires_at, expires_at > COALESCE($1::timestamptz, now()) FROM deckle_leader WHERE id = 1", &[&now])
                        .await
                        .map_err(db)?;
                    let holder: Option<String> = row.get(0);
                    let live: Option<bool> = row.get(4);
                    Ok(match (holder, live) {
                        (Some(id), Some(true)) => Some(LeaderInfo { id, url: row.get::<_, Option<String>>(1).unwrap_or_default(), epoch: row.get(2), expires_at: row.get(3) }),
                        _ => None,
                    })
                })
                .await
                .map_err(|e| Error::Store(format!("database task: {e}")))?
        })
    }

    fn resign<'a>(&'a self, me: &'a Candidate) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Fence::Leader(epoch) = self.fence() else { return Ok(()) };
            self.set_fence(Fence::Standby);
            let (pool, shown, id) = (self.pool.clone(), self.shown.clone(), me.id.clone());
            self.rt.handle()
                .spawn(async move {
                    let c = client(&pool, &shown).await?;
                    c.execute("UPDATE deckle_leader SET holder = NULL, expires_at = NULL WHERE id = 1 AND epoch = $1 AND holder = $2", &[&epoch, &id]).await.map_err(|e| Error::Store(format!("{shown}: {}", cause(&e))))?;
                    Ok(())
                })
                .await
                .map_err(|e| Error::Store(format!("database task: {e}")))?
        })
    }
}

