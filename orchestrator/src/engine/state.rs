//! A run's live state while the engine drives it: each node's record, its queued
//! attempts and foreach instances, which nodes may now be decided, and the
//! expression context a node is evaluated in. Plain data: the engine
//! ([`super::Engine`]) moves it and makes every change durable.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;

use deckle_dsl::{Context, Node, Workflow};
use serde_json::{Map, Value};

use crate::artifacts;
use crate::record::{NodeRecord, RunRecord};
use crate::resolve;

/// A `foreach` over more items than this fails its node instead of fanning out.
pub const MAX_FOREACH_ITEMS: usize = 10_000;

/// A run created by [`Engine::start`], ready for [`Engine::drive`].
#[derive(Debug, Clone)]
pub struct Started {
    /// The run record as stored.
    pub run: RunRecord,
    /// Secret params as `(ENV_NAME, value)`: held in memory only, never stored.
    pub secret_env: Vec<(String, String)>,
}

/// One queued attempt of an instance.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queued {
    pub(super) index: Option<usize>,
    pub(super) attempt: u32,
    /// The attempt is already recorded as running (a resumed run): hand it to the
    /// executor again, which reattaches to it, without recording a new attempt.
    pub(super) reattach: bool,
}

/// A node's live state in this run.
pub(super) struct NodeState {
    pub(super) rec: NodeRecord,
    /// Foreach instances, by index.
    pub(super) instances: Vec<NodeRecord>,
    pub(super) is_foreach: bool,
    /// Items of a foreach node, in order.
    pub(super) items: Vec<Value>,
    pub(super) queue: VecDeque<Queued>,
    pub(super) running: usize,
}

impl NodeState {
    pub(super) fn new(rec: NodeRecord) -> Self {
        NodeState { rec, instances: Vec::new(), is_foreach: false, items: Vec::new(), queue: VecDeque::new(), running: 0 }
    }

    pub(super) fn instance_mut(&mut self, index: Option<usize>) -> &mut NodeRecord {
        match index {
            Some(i) => &mut self.instances[i],
            None => &mut self.rec,
        }
    }
}

/// Which nodes' state a node's expressions read: `None` when it cannot be told
/// (SQL templates, or `nodes` read as a whole), so the context carries them all.
fn reads_of(node: &Node) -> Option<Vec<String>> {
    if matches!(node.kind, deckle_dsl::NodeKind::Sql(_) | deckle_dsl::NodeKind::Wait(_)) {
        return None;
    }
    let mut paths = Vec::new();
    for t in node.params.values().chain(node.foreach.iter()) {
        paths.extend(t.paths());
    }
    if let Some(w) = &node.when {
        paths.extend(w.paths());
    }
    let mut ids = BTreeSet::new();
    for p in paths {
        match p.as_slice() {
            [first, id, ..] if first == "nodes" => {
                ids.insert(id.clone());
            }
            [first] if first == "nodes" => return None,
            _ => {}
        }
    }
    Some(ids.into_iter().collect())
}

/// Per-run state the engine threads through its steps.
pub(super) struct RunCtx<'a> {
    pub(super) wf: &'a Workflow,
    pub(super) run_id: String,
    pub(super) run_attempt: u32,
    pub(super) run_json: Value,
    /// `trigger` in expressions: the event that started the run (null otherwise).
    pub(super) trigger: Value,
    /// When the run was created (a signal wait counts signals since).
    pub(super) created_at: jiff::Timestamp,
    pub(super) date: String,
    pub(super) params: Value,
    pub(super) secret_env: Vec<(String, String)>,
    pub(super) run_dir: PathBuf,
    pub(super) states: HashMap<String, NodeState>,
    pub(super) order: &'a [String],
    /// Topological position of each node.
    pub(super) pos: HashMap<String, usize>,
    /// Direct dependants, by position.
    dependants: Vec<Vec<usize>>,
    /// Nodes each node's expressions read (`None`: all).
    reads: HashMap<String, Option<Vec<String>>>,
    /// Positions of pending nodes whose upstream may have changed.
    pub(super) dirty: BTreeSet<usize>,
    /// Positions of nodes with queued attempts.
    pub(super) queued: BTreeSet<usize>,
    /// Nodes not yet in a final state.
    pub(super) unsettled: usize,
    /// Foreach instance records from earlier attempts of the run, reused on rerun.
    pub(super) old_instances: HashMap<(String, usize), NodeRecord>,
    /// Retries restored from the store that are not due yet: node, attempt, due time.
    pub(super) delayed: Vec<(String, Queued, jiff::Timestamp)>,
}

impl<'a> RunCtx<'a> {
    pub(super) fn new(wf: &'a Workflow, run: &RunRecord, data_dir: &std::path::Path, secret_env: Vec<(String, String)>, order: &'a [String]) -> Self {
        let pos: HashMap<String, usize> = order.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        let mut dependants = vec![Vec::new(); order.len()];
        for (i, id) in order.iter().enumerate() {
            for d in &wf.nodes[id].needs {
                if let Some(&p) = pos.get(d) {
                    dependants[p].push(i);
                }
            }
        }
        RunCtx {
            wf,
            run_id: run.id.clone(),
            run_attempt: run.attempt,
            run_json: resolve::run_context(&run.id, &wf.id, &run.date, &run.logical_time.to_string(), run.attempt),
            trigger: match &run.trigger {
                crate::record::RunTrigger::Event { context, .. } => context.clone(),
                _ => Value::Null,
            },
            created_at: run.attempts_started_at.first().copied().unwrap_or(run.started_at),
            date: run.date.clone(),
            params: Value::Object(run.params.clone()),
            secret_env,
            run_dir: artifacts::run_dir(data_dir, &wf.id, &run.date, &run.id),
            states: HashMap::new(),
            order,
            pos,
            dependants,
            reads: wf.nodes.values().map(|n| (n.id.clone(), reads_of(n))).collect(),
            dirty: (0..order.len()).collect(),
            queued: BTreeSet::new(),
            unsettled: 0,
            old_instances: HashMap::new(),
            delayed: Vec::new(),
        }
    }

    /// Evaluate a node's `foreach` against the run so far.
    pub(super) fn foreach_items(&self, node: &Node) -> std::result::Result<Option<Vec<Value>>, String> {
        match &node.foreach {
            None => Ok(None),
            Some(t) => match t.eval(&self.context(&node.id)) {
                Ok(Value::Array(items)) if items.len() > MAX_FOREACH_ITEMS => {
                    Err(format!("foreach: {} items; at most {MAX_FOREACH_ITEMS} instances per node", items.len()))
                }
                Ok(Value::Array(items)) => Ok(Some(items)),
                Ok(other) => Err(format!("foreach: expected a list, got {other}")),
                Err(e) => Err(format!("foreach: {e}")),
            },
        }
    }

    pub(super) fn enqueue(&mut self, id: &str, q: Queued) {
        if let Some(s) = self.states.get_mut(id) {
            s.queue.push_back(q);
            self.queued.insert(self.pos[id]);
        }
    }

    /// A node reached a final state: its dependants may now be decidable.
    pub(super) fn node_settled(&mut self, id: &str) {
        self.unsettled -= 1;
        let p = self.pos[id];
        self.dirty.extend(self.dependants[p].iter().copied());
    }

    /// The expression context for `for_node`: params, run, and the status and outputs
    /// of the nodes its expressions read.
    pub(super) fn context(&self, for_node: &str) -> Context {
        let mut nodes = Map::new();
        let mut add = |id: &String| {
            if let Some(s) = self.states.get(id) {
                nodes.insert(id.clone(), serde_json::json!({"status": s.rec.status.as_str(), "outputs": Value::Object(s.rec.outputs.clone())}));
            }
        };
        match self.reads.get(for_node) {
            Some(Some(ids)) => ids.iter().for_each(&mut add),
            _ => self.order.iter().for_each(&mut add),
        }
        Context::new(self.params.clone(), self.run_json.clone(), Value::Object(nodes)).with_trigger(self.trigger.clone())
    }
}
