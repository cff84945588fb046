//! An in-memory [`StateStore`], for scheduler tests that do not care about
//! durability (nothing survives the process).

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::BoxFuture;

use super::records::{LeaseRecord, NodeRecord, RunRecord, WorkflowEntry};
use super::{node_key, DocKind, StateStore};
use crate::error::Result;

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

    fn doc_page(&self, kind: DocKind, before: Option<&str>, limit: usize) -> Result<Vec<Vec<u8>>> {
        let docs = locked(&self.docs);
        let below = docs.iter().rev().filter(|((k, key), _)| *k == kind && before.is_none_or(|b| key.as_str() < b));
        Ok(below.take(limit).map(|(_, v)| v.clone()).collect())
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

