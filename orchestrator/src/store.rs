//! Durable state behind a trait, so the scheduler can be tested without a disk and
//! the server can swap stores. [`SledStore`] is the embedded default: every change
//! is written and then flushed (`flush_async`) before the engine acts on it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use futures::future::BoxFuture;

use crate::error::{Error, Result};
use crate::lease::LeaseRecord;
use crate::record::{NodeRecord, RunRecord};
use crate::registry::WorkflowEntry;

pub trait StateStore: Send + Sync {
    fn put_run(&self, run: &RunRecord) -> Result<()>;
    fn put_node(&self, run_id: &str, node: &NodeRecord) -> Result<()>;
    fn get_run(&self, id: &str) -> Result<Option<RunRecord>>;
    /// Every node record of a run, ordered by key.
    fn nodes(&self, run_id: &str) -> Result<Vec<NodeRecord>>;
    fn runs(&self) -> Result<Vec<RunRecord>>;
    fn put_lease(&self, lease: &LeaseRecord) -> Result<()>;
    fn delete_lease(&self, id: &str) -> Result<()>;
    fn leases(&self) -> Result<Vec<LeaseRecord>>;
    fn put_workflow(&self, wf: &WorkflowEntry) -> Result<()>;
    fn get_workflow(&self, id: &str) -> Result<Option<WorkflowEntry>>;
    fn workflows(&self) -> Result<Vec<WorkflowEntry>>;
    /// Other documents (schedule state, backfills), JSON by kind and key; see [`put_doc`].
    fn put_doc_bytes(&self, kind: DocKind, key: &str, value: Vec<u8>) -> Result<()>;
    fn get_doc_bytes(&self, kind: DocKind, key: &str) -> Result<Option<Vec<u8>>>;
    fn doc_bytes(&self, kind: DocKind) -> Result<Vec<Vec<u8>>>;
    /// Make everything written so far durable.
    fn flush(&self) -> BoxFuture<'_, Result<()>>;
}

/// Kinds of [`StateStore`] documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DocKind {
    /// A workflow's schedule state (last tick fired, paused), by workflow id.
    Schedule,
    /// A backfill, by id.
    Backfill,
}

impl DocKind {
    fn tree(self) -> &'static str {
        match self {
            DocKind::Schedule => "schedules",
            DocKind::Backfill => "backfills",
        }
    }
}

pub fn put_doc<T: serde::Serialize>(store: &dyn StateStore, kind: DocKind, key: &str, v: &T) -> Result<()> {
    store.put_doc_bytes(kind, key, encode(v)?)
}

pub fn get_doc<T: serde::de::DeserializeOwned>(store: &dyn StateStore, kind: DocKind, key: &str) -> Result<Option<T>> {
    store.get_doc_bytes(kind, key)?.map(|b| decode(&b)).transpose()
}

pub fn docs<T: serde::de::DeserializeOwned>(store: &dyn StateStore, kind: DocKind) -> Result<Vec<T>> {
    store.doc_bytes(kind)?.iter().map(|b| decode(b)).collect()
}

pub struct SledStore {
    db: sled::Db,
    /// Group commit: writes are numbered; a flush that started after a write
    /// covers it, so concurrent flushers share one fsync instead of queueing many.
    written: std::sync::atomic::AtomicU64,
    flushed: std::sync::atomic::AtomicU64,
    flushing: tokio::sync::Mutex<()>,
    runs: sled::Tree,
    nodes: sled::Tree,
    leases: sled::Tree,
    workflows: sled::Tree,
}

impl SledStore {
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir).open().map_err(|e| Error::Store(format!("opening {}: {e}", dir.display())))?;
        Ok(SledStore {
            runs: db.open_tree("runs")?,
            nodes: db.open_tree("nodes")?,
            leases: db.open_tree("leases")?,
            workflows: db.open_tree("workflows")?,
            db,
            written: Default::default(),
            flushed: Default::default(),
            flushing: tokio::sync::Mutex::new(()),
        })
    }

    fn wrote(&self) {
        self.written.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Store(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::Store(format!("corrupt record: {e}")))
}

/// `run_id \0 node \0 index` keeps a run's nodes together and in order.
fn node_key(run_id: &str, n: &NodeRecord) -> Vec<u8> {
    let idx = n.index.map_or(String::new(), |i| format!("{i:010}"));
    format!("{run_id}\0{}\0{idx}", n.node).into_bytes()
}

impl StateStore for SledStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        self.runs.insert(run.id.as_bytes(), encode(run)?)?;
        self.wrote();
        Ok(())
    }

    fn put_node(&self, run_id: &str, node: &NodeRecord) -> Result<()> {
        self.nodes.insert(node_key(run_id, node), encode(node)?)?;
        self.wrote();
        Ok(())
    }

    fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.runs.get(id.as_bytes())?.map(|b| decode(&b)).transpose()
    }

    fn nodes(&self, run_id: &str) -> Result<Vec<NodeRecord>> {
        let prefix = format!("{run_id}\0");
        self.nodes.scan_prefix(prefix.as_bytes()).map(|kv| decode(&kv?.1)).collect()
    }

    fn runs(&self) -> Result<Vec<RunRecord>> {
        self.runs.iter().map(|kv| decode(&kv?.1)).collect()
    }

    fn put_lease(&self, lease: &LeaseRecord) -> Result<()> {
        self.leases.insert(lease.id.as_bytes(), encode(lease)?)?;
        self.wrote();
        Ok(())
    }

    fn delete_lease(&self, id: &str) -> Result<()> {
        self.leases.remove(id.as_bytes())?;
        self.wrote();
        Ok(())
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>> {
        self.leases.iter().map(|kv| decode(&kv?.1)).collect()
    }

    fn put_workflow(&self, wf: &WorkflowEntry) -> Result<()> {
        self.workflows.insert(wf.id.as_bytes(), encode(wf)?)?;
        self.wrote();
        Ok(())
    }

    fn get_workflow(&self, id: &str) -> Result<Option<WorkflowEntry>> {
        self.workflows.get(id.as_bytes())?.map(|b| decode(&b)).transpose()
    }

    fn workflows(&self) -> Result<Vec<WorkflowEntry>> {
        self.workflows.iter().map(|kv| decode(&kv?.1)).collect()
    }

    fn put_doc_bytes(&self, kind: DocKind, key: &str, value: Vec<u8>) -> Result<()> {
        self.db.open_tree(kind.tree())?.insert(key.as_bytes(), value)?;
        self.wrote();
        Ok(())
    }

    fn get_doc_bytes(&self, kind: DocKind, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.open_tree(kind.tree())?.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    fn doc_bytes(&self, kind: DocKind) -> Result<Vec<Vec<u8>>> {
        self.db.open_tree(kind.tree())?.iter().map(|kv| Ok(kv?.1.to_vec())).collect()
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
            self.db.flush_async().await?;
            self.flushed.store(upto, SeqCst);
            Ok(())
        })
    }
}

/// An in-memory store, for engine tests that do not care about durability.
#[derive(Default)]
pub struct MemStore {
    runs: Mutex<BTreeMap<String, RunRecord>>,
    nodes: Mutex<BTreeMap<Vec<u8>, NodeRecord>>,
    leases: Mutex<BTreeMap<String, LeaseRecord>>,
    workflows: Mutex<BTreeMap<String, WorkflowEntry>>,
    docs: Mutex<BTreeMap<(DocKind, String), Vec<u8>>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl StateStore for MemStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        locked(&self.runs).insert(run.id.clone(), run.clone());
        Ok(())
    }

    fn put_node(&self, run_id: &str, node: &NodeRecord) -> Result<()> {
        locked(&self.nodes).insert(node_key(run_id, node), node.clone());
        Ok(())
    }

    fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        Ok(locked(&self.runs).get(id).cloned())
    }

    fn nodes(&self, run_id: &str) -> Result<Vec<NodeRecord>> {
        let prefix = format!("{run_id}\0").into_bytes();
        let nodes = locked(&self.nodes);
        Ok(nodes.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(_, v)| v.clone()).collect())
    }

    fn runs(&self) -> Result<Vec<RunRecord>> {
        Ok(locked(&self.runs).values().cloned().collect())
    }

    fn put_lease(&self, lease: &LeaseRecord) -> Result<()> {
        locked(&self.leases).insert(lease.id.clone(), lease.clone());
        Ok(())
    }

    fn delete_lease(&self, id: &str) -> Result<()> {
        locked(&self.leases).remove(id);
        Ok(())
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>> {
        Ok(locked(&self.leases).values().cloned().collect())
    }

    fn put_workflow(&self, wf: &WorkflowEntry) -> Result<()> {
        locked(&self.workflows).insert(wf.id.clone(), wf.clone());
        Ok(())
    }

    fn get_workflow(&self, id: &str) -> Result<Option<WorkflowEntry>> {
        Ok(locked(&self.workflows).get(id).cloned())
    }

    fn workflows(&self) -> Result<Vec<WorkflowEntry>> {
        Ok(locked(&self.workflows).values().cloned().collect())
    }

    fn put_doc_bytes(&self, kind: DocKind, key: &str, value: Vec<u8>) -> Result<()> {
        locked(&self.docs).insert((kind, key.to_string()), value);
        Ok(())
    }

    fn get_doc_bytes(&self, kind: DocKind, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(locked(&self.docs).get(&(kind, key.to_string())).cloned())
    }

    fn doc_bytes(&self, kind: DocKind) -> Result<Vec<Vec<u8>>> {
        Ok(locked(&self.docs).iter().filter(|((k, _), _)| *k == kind).map(|(_, v)| v.clone()).collect())
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{NodeStatus, RunStatus};

    #[tokio::test]
    async fn sled_records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunRecord {
            id: "r1".into(),
            workflow: "w".into(),
            date: "2026-01-01".into(),
            logical_time: "2026-01-01T00:00:00Z".into(),
            params: Default::default(),
            version: 0,
            attempt: 1,
            trigger: Default::default(),
            status: RunStatus::Running,
            started_at: "t".into(),
            ended_at: None,
            notifications: Vec::new(),
        };
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
