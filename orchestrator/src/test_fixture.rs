//! A coordinator for the planner's and the events' tests: an injected clock, an
//! in-memory store that outlives coordinator "processes" (a restart makes a new
//! coordinator over it), no workers, so runs that start stay running.

use std::collections::BTreeMap;
use std::sync::Arc;

use deckle_protocol::api::{RegisterWorkflow, WorkflowVersion};
use jiff::Timestamp;

use crate::clock::ManualClock;
use crate::coordinator::{Coordinator, CoordinatorConfig};
use crate::store::MemStore;

pub(crate) const NOTEBOOK: &str = r#"{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "x = 1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;

pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemStore>,
    pub cfg: CoordinatorConfig,
}

pub(crate) fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

impl Fixture {
    pub fn new(at: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cfg = CoordinatorConfig::new(&dir.path().join("data"));
        Fixture { clock: Arc::new(ManualClock::new(t(at))), store: Arc::new(MemStore::default()), cfg, dir }
    }

    /// A coordinator process over the same store (a restart makes a new one).
    pub fn coordinator(&self) -> Arc<Coordinator> {
        Coordinator::with_store(&self.cfg, self.store.clone(), self.clock.clone()).unwrap()
    }

    /// Register workflow `id`: `body` is the file after its `workflow:` line; the
    /// notebook `a.ipynb` comes with it.
    pub async fn try_register(&self, c: &Arc<Coordinator>, id: &str, body: &str) -> crate::Result<WorkflowVersion> {
        let content = format!("workflow: {id}\n{body}");
        let files = BTreeMap::from([("a.ipynb".to_string(), NOTEBOOK.to_string())]);
        c.register(&RegisterWorkflow { file_name: format!("{id}.yaml"), content, files }).await
    }

    /// [`Self::try_register`], which must succeed.
    pub async fn register_workflow(&self, c: &Arc<Coordinator>, id: &str, body: &str) {
        self.try_register(c, id, body).await.unwrap();
    }

    /// Workflow `wf`: `head`, then one notebook node `a`.
    pub async fn register(&self, c: &Arc<Coordinator>, head: &str) {
        self.register_workflow(c, "wf", &format!("{head}\nnodes:\n  a: {{ notebook: a.ipynb }}\n")).await;
    }
}
