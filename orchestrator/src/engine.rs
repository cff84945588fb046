//! Running one workflow run to its end.
//!
//! The engine keeps a state machine per node and per foreach instance (pending →
//! ready → running → succeeded | failed | retrying …), persists every transition and
//! flushes the store before acting on it, and dispatches ready instances to the
//! [`Executor`] with bounded concurrency (`slots` overall, `foreach_parallel` per
//! node). A node starts as soon as its `needs` settle; its trigger rule decides
//! whether it runs, is skipped or is `upstream_failed`; `when` false skips it.
//! Parameters, `when`, `foreach` and SQL are evaluated at dispatch, against the
//! outputs upstream nodes recorded.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deckle_dsl::{Context, Node, NodeKind, Workflow};
use deckle_protocol::sql::SqlSpec;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, instrument};

use crate::artifacts;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::executor::{Executor, Task, TaskKind, TaskResult, TaskStatus};
use crate::record::{AttemptRecord, NodeRecord, NodeStatus, RunRecord, RunStatus};
use crate::resolve;
use crate::store::StateStore;
use crate::trigger::{self, Decision};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `--data`: state and artifacts.
    pub data_dir: PathBuf,
    /// How many node instances run at once.
    pub slots: usize,
    /// Rows a SQL node shows and records as `preview`.
    pub preview_rows: usize,
}

/// What a caller asks for.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// `-p name=value`, typed against the workflow's params.
    pub params: Vec<(String, String)>,
    /// The logical date (`YYYY-MM-DD`); default: today in the schedule's time zone.
    pub date: Option<String>,
}

/// Progress, for live views. Sent after the transition is durable.
#[derive(Debug, Clone)]
pub enum Event {
    RunStarted { run_id: String, nodes: usize },
    NodeStarted { node: String, index: Option<usize>, attempt: u32 },
    NodeSettled { node: String, index: Option<usize>, status: NodeStatus, error: Option<String> },
    RunFinished { run_id: String, status: RunStatus },
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run: RunRecord,
    /// Every node record (foreach parents and instances), in workflow order.
    pub nodes: Vec<NodeRecord>,
}

pub struct Engine {
    store: Arc<dyn StateStore>,
    executor: Arc<dyn Executor>,
    clock: Arc<dyn Clock>,
    cfg: EngineConfig,
    events: Option<mpsc::UnboundedSender<Event>>,
}

/// What comes back from a spawned unit of work.
enum Done {
    Attempt { node: String, index: Option<usize>, attempt: u32, result: TaskResult },
    RetryDue { node: String, index: Option<usize>, attempt: u32 },
}

/// A node's live state in this run.
struct NodeState {
    rec: NodeRecord,
    /// Foreach instances, by index.
    instances: Vec<NodeRecord>,
    is_foreach: bool,
    /// Items of a foreach node, in order.
    items: Vec<Value>,
    /// Instance attempts ready to dispatch: (index, attempt).
    queue: VecDeque<(Option<usize>, u32)>,
    running: usize,
}

impl NodeState {
    fn instance_mut(&mut self, index: Option<usize>) -> &mut NodeRecord {
        match index {
            Some(i) => &mut self.instances[i],
            None => &mut self.rec,
        }
    }
}

fn ts(clock: &dyn Clock) -> String {
    clock.now().to_string()
}

/// Today in the schedule's time zone (UTC without a schedule).
pub fn default_date(wf: &Workflow, clock: &dyn Clock) -> String {
    let tz = wf
        .schedule
        .as_ref()
        .and_then(|s| jiff::tz::TimeZone::get(&s.timezone).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    clock.now().to_zoned(tz).date().to_string()
}

fn new_run_id(clock: &dyn Clock) -> String {
    let t = clock.now().to_zoned(jiff::tz::TimeZone::UTC);
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{}-{suffix}", t.strftime("%Y%m%dT%H%M%S"))
}

impl Engine {
    pub fn new(store: Arc<dyn StateStore>, executor: Arc<dyn Executor>, clock: Arc<dyn Clock>, cfg: EngineConfig) -> Self {
        Engine { store, executor, clock, cfg, events: None }
    }

    pub fn with_events(mut self, tx: mpsc::UnboundedSender<Event>) -> Self {
        self.events = Some(tx);
        self
    }

    fn emit(&self, e: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// Run `wf` to the end. `cancel` resolving cancels the run: running attempts are
    /// dropped (their kernels killed), everything unfinished is `cancelled`.
    #[instrument(skip_all, fields(workflow = %wf.id))]
    pub async fn run(&self, wf: &Workflow, req: RunRequest, cancel: impl std::future::Future<Output = ()>) -> Result<RunOutcome> {
        let params = resolve::run_params(wf, &req.params)?;
        let date = match &req.date {
            Some(d) => {
                d.parse::<jiff::civil::Date>().map_err(|_| Error::Input(format!("--date {d:?} is not a date (YYYY-MM-DD)")))?;
                d.clone()
            }
            None => default_date(wf, self.clock.as_ref()),
        };
        let run_id = new_run_id(self.clock.as_ref());
        let logical_time = format!("{date}T00:00:00Z");
        let mut run = RunRecord {
            id: run_id.clone(),
            workflow: wf.id.clone(),
            date: date.clone(),
            logical_time: logical_time.clone(),
            params: params.visible.clone(),
            version: 0,
            attempt: 1,
            status: RunStatus::Running,
            started_at: ts(self.clock.as_ref()),
            ended_at: None,
        };
        let run_dir = artifacts::run_dir(&self.cfg.data_dir, &wf.id, &date, &run_id);
        std::fs::create_dir_all(&run_dir).map_err(|e| Error::Io { path: run_dir.display().to_string(), message: e.to_string() })?;
        self.store.put_run(&run)?;
        let order = wf.topo_order();
        let mut states: HashMap<String, NodeState> = HashMap::new();
        for id in &order {
            let rec = NodeRecord::new(id, None);
            self.store.put_node(&run_id, &rec)?;
            states.insert(id.clone(), NodeState { rec, instances: Vec::new(), is_foreach: false, items: Vec::new(), queue: VecDeque::new(), running: 0 });
        }
        self.store.flush().await?;
        self.emit(Event::RunStarted { run_id: run_id.clone(), nodes: order.len() });

        let mut ctx = RunCtx {
            wf,
            run_id: &run_id,
            run_json: resolve::run_context(&run_id, &wf.id, &date, &logical_time, 1),
            params: Value::Object(params.visible),
            secret_env: params.secret_env,
            run_dir,
            states,
            order: &order,
        };
        let mut join: JoinSet<Done> = JoinSet::new();
        let mut running_total = 0usize;
        tokio::pin!(cancel);
        let mut cancelled = false;

        loop {
            // Settle what can be settled, start what can start.
            self.advance(&mut ctx)?;
            self.dispatch(&mut ctx, &mut join, &mut running_total)?;
            self.store.flush().await?;
            if ctx.states.values().all(|s| s.rec.status.is_terminal()) && join.is_empty() {
                break;
            }
            let done = tokio::select! {
                d = join.join_next() => d,
                _ = &mut cancel, if !cancelled => {
                    cancelled = true;
                    None
                }
            };
            if cancelled {
                join.abort_all();
                self.cancel_all(&mut ctx)?;
                self.store.flush().await?;
                break;
            }
            match done {
                Some(Ok(Done::Attempt { node, index, attempt, result })) => {
                    running_total -= 1;
                    self.finish_attempt(&mut ctx, &mut join, &node, index, attempt, result)?;
                }
                Some(Ok(Done::RetryDue { node, index, attempt })) => {
                    if let Some(s) = ctx.states.get_mut(&node) {
                        s.queue.push_back((index, attempt));
                    }
                }
                Some(Err(e)) => return Err(Error::Store(format!("a node task panicked: {e}"))),
                None => {}
            }
        }

        run.status = if cancelled {
            RunStatus::Cancelled
        } else if ctx.states.values().any(|s| matches!(s.rec.status, NodeStatus::Failed | NodeStatus::UpstreamFailed | NodeStatus::Cancelled)) {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        run.ended_at = Some(ts(self.clock.as_ref()));
        self.store.put_run(&run)?;
        self.store.flush().await?;
        self.emit(Event::RunFinished { run_id: run_id.clone(), status: run.status });
        let mut nodes = Vec::new();
        for id in &order {
            let s = &ctx.states[id];
            nodes.push(s.rec.clone());
            nodes.extend(s.instances.iter().cloned());
        }
        Ok(RunOutcome { run, nodes })
    }

    fn save(&self, run_id: &str, rec: &NodeRecord) -> Result<()> {
        self.store.put_node(run_id, rec)
    }

    /// Settle a node without running it.
    fn settle(&self, ctx: &mut RunCtx<'_>, id: &str, status: NodeStatus, error: Option<String>) -> Result<()> {
        let now = ts(self.clock.as_ref());
        let s = ctx.states.get_mut(id).expect("known node");
        s.rec.status = status;
        s.rec.error = error.clone();
        s.rec.ended_at = Some(now);
        self.save(ctx.run_id, &s.rec)?;
        self.emit(Event::NodeSettled { node: id.to_string(), index: None, status, error });
        Ok(())
    }

    /// Decide every pending node whose upstream has settled.
    fn advance(&self, ctx: &mut RunCtx<'_>) -> Result<()> {
        let mut progress = true;
        while progress {
            progress = false;
            for id in ctx.order {
                if ctx.states[id].rec.status != NodeStatus::Pending {
                    continue;
                }
                let node = &ctx.wf.nodes[id];
                let upstream: Vec<NodeStatus> = node.needs.iter().map(|d| ctx.states[d].rec.status).collect();
                match trigger::decide(node.trigger, &upstream) {
                    Decision::Wait => continue,
                    Decision::Skip => self.settle(ctx, id, NodeStatus::Skipped, None)?,
                    Decision::UpstreamFailed => self.settle(ctx, id, NodeStatus::UpstreamFailed, None)?,
                    Decision::Run => self.start_node(ctx, node)?,
                }
                progress = true;
            }
        }
        Ok(())
    }

    /// `when`, then `foreach`; queue the first attempts.
    fn start_node(&self, ctx: &mut RunCtx<'_>, node: &Node) -> Result<()> {
        let c = ctx.context();
        if let Some(when) = &node.when {
            match when.eval_bool(&c) {
                Ok(false) => return self.settle(ctx, &node.id, NodeStatus::Skipped, None),
                Ok(true) => {}
                Err(e) => return self.settle(ctx, &node.id, NodeStatus::Failed, Some(format!("when: {e}"))),
            }
        }
        let items = match &node.foreach {
            None => None,
            Some(t) => match t.eval(&c) {
                Ok(Value::Array(items)) => Some(items),
                Ok(other) => {
                    return self.settle(ctx, &node.id, NodeStatus::Failed, Some(format!("foreach: expected a list, got {other}")))
                }
                Err(e) => return self.settle(ctx, &node.id, NodeStatus::Failed, Some(format!("foreach: {e}"))),
            },
        };
        let now = ts(self.clock.as_ref());
        let run_id = ctx.run_id;
        let s = ctx.states.get_mut(&node.id).expect("known node");
        s.rec.status = NodeStatus::Ready;
        s.rec.started_at = Some(now);
        match items {
            None => s.queue.push_back((None, 1)),
            Some(items) => {
                s.is_foreach = true;
                s.rec.items = Some(items.len());
                for i in 0..items.len() {
                    let inst = NodeRecord::new(&node.id, Some(i));
                    self.store.put_node(run_id, &inst)?;
                    s.instances.push(inst);
                    s.queue.push_back((Some(i), 1));
                }
                s.items = items;
            }
        }
        self.save(run_id, &s.rec)?;
        if s.is_foreach && s.items.is_empty() {
            // Nothing to fan out over: done, with empty output lists.
            return self.finish_foreach_if_done(ctx, &node.id);
        }
        Ok(())
    }

    /// Spawn queued attempts while there are free slots.
    fn dispatch(&self, ctx: &mut RunCtx<'_>, join: &mut JoinSet<Done>, running_total: &mut usize) -> Result<()> {
        for id in ctx.order {
            while *running_total < self.cfg.slots.max(1) {
                let node = &ctx.wf.nodes[id];
                let s = &ctx.states[id];
                let per_node = if s.is_foreach { node.foreach_parallel.max(1) } else { 1 };
                if s.running >= per_node || s.queue.is_empty() {
                    break;
                }
                let (index, attempt) = ctx.states.get_mut(id).expect("node").queue.pop_front().expect("non-empty");
                match self.build_task(ctx, node, index, attempt) {
                    Ok(task) => {
                        let now = ts(self.clock.as_ref());
                        let s = ctx.states.get_mut(id).expect("node");
                        s.running += 1;
                        s.rec.status = NodeStatus::Running;
                        let notebook = Some(task.output_path.clone());
                        let inst = s.instance_mut(index);
                        inst.status = NodeStatus::Running;
                        inst.started_at.get_or_insert(now.clone());
                        inst.attempts.push(AttemptRecord {
                            n: attempt,
                            status: NodeStatus::Running,
                            started_at: now,
                            ended_at: None,
                            duration_secs: None,
                            params: task.params.clone(),
                            outputs: Map::new(),
                            error: None,
                            notebook,
                            worker: None,
                            lost: false,
                        });
                        let inst = inst.clone();
                        self.save(ctx.run_id, &inst)?;
                        if index.is_some() {
                            let parent = ctx.states[id].rec.clone();
                            self.save(ctx.run_id, &parent)?;
                        }
                        *running_total += 1;
                        self.emit(Event::NodeStarted { node: id.clone(), index, attempt });
                        let fut = self.executor.run(task);
                        let node_id = id.clone();
                        join.spawn(async move { Done::Attempt { node: node_id, index, attempt, result: fut.await } });
                    }
                    Err(message) => {
                        // Parameters that cannot be resolved will not resolve on retry.
                        let s = ctx.states.get_mut(id).expect("node");
                        let inst = s.instance_mut(index);
                        inst.status = NodeStatus::Failed;
                        inst.error = Some(message.clone());
                        inst.ended_at = Some(ts(self.clock.as_ref()));
                        let inst = inst.clone();
                        self.save(ctx.run_id, &inst)?;
                        self.instance_settled(ctx, id, index, NodeStatus::Failed, Some(message))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Everything the executor needs for one attempt, resolved now.
    fn build_task(&self, ctx: &RunCtx<'_>, node: &Node, index: Option<usize>, attempt: u32) -> std::result::Result<Task, String> {
        let mut c = ctx.context();
        c.run["attempt"] = Value::from(attempt);
        if let Some(i) = index {
            c = c.with_item(ctx.states[&node.id].items[i].clone(), i);
        }
        let mut params = Map::new();
        for (name, t) in &node.params {
            let v = t.eval(&c).map_err(|e| format!("param {name}: {e}"))?;
            params.insert(name.clone(), v);
        }
        let output_path = artifacts::output_notebook(&ctx.run_dir, &node.id, index, attempt);
        let workdir = ctx.wf.path.parent().map(|p| p.to_string_lossy().into_owned());
        let (kind, outputs, input_copy_path) = match &node.kind {
            NodeKind::Notebook { path, .. } => (TaskKind::Notebook { path: path.to_string_lossy().into_owned(), hash: None }, node.outputs.clone(), None),
            NodeKind::Sql(sql) => {
                let engine = if sql.engine == "presto" { "trino".to_string() } else { sql.engine.clone() };
                let query = resolve::render(&sql.query, &c).map_err(|e| format!("sql query: {e}"))?;
                let save_to = sql.save_to.as_deref().map(|t| resolve::render(t, &c)).transpose().map_err(|e| format!("sql save_to: {e}"))?;
                let connection = ctx.wf.engines.get(&engine).or_else(|| ctx.wf.engines.get(&sql.engine)).cloned().unwrap_or(Value::Null);
                let mut outputs = vec!["row_count".to_string(), "columns".to_string(), "preview".to_string()];
                if save_to.is_some() {
                    outputs.push("path".into());
                }
                for o in &node.outputs {
                    if !outputs.contains(o) {
                        outputs.push(o.clone());
                    }
                }
                let spec = SqlSpec { engine, query, save_to, connection, preview_rows: self.cfg.preview_rows };
                let copy = artifacts::generated_input(&ctx.run_dir, &node.id, index, attempt);
                (TaskKind::Sql { spec }, outputs, Some(copy.to_string_lossy().into_owned()))
            }
        };
        Ok(Task {
            run_id: ctx.run_id.to_string(),
            workflow: ctx.wf.id.clone(),
            node: node.id.clone(),
            index,
            attempt,
            kind,
            params,
            secret_env: ctx.secret_env.clone(),
            outputs,
            kernel: node.kernel.clone(),
            timeout_secs: node.timeout.map(|d| d.as_secs_f64()),
            output_path: output_path.to_string_lossy().into_owned(),
            input_copy_path,
            cwd: workdir,
            labels: node.labels.clone(),
        })
    }

    /// Record an attempt's result; retry, or settle the instance.
    fn finish_attempt(&self, ctx: &mut RunCtx<'_>, join: &mut JoinSet<Done>, id: &str, index: Option<usize>, attempt: u32, result: TaskResult) -> Result<()> {
        let node = &ctx.wf.nodes[id];
        let now = ts(self.clock.as_ref());
        let ok = result.status == TaskStatus::Succeeded;
        let retry = !ok && result.status != TaskStatus::Invalid && attempt <= node.retries;
        let s = ctx.states.get_mut(id).expect("node");
        s.running -= 1;
        let inst = s.instance_mut(index);
        if let Some(a) = inst.attempts.iter_mut().rev().find(|a| a.n == attempt) {
            a.status = if ok { NodeStatus::Succeeded } else { NodeStatus::Failed };
            a.ended_at = Some(now.clone());
            a.duration_secs = Some(result.duration_secs);
            a.outputs = result.outputs.clone();
            a.error = result.error.clone();
            if !result.notebook_written {
                a.notebook = None;
            }
        }
        if ok {
            inst.status = NodeStatus::Succeeded;
            inst.outputs = result.outputs;
            inst.error = None;
            inst.ended_at = Some(now);
        } else if retry {
            inst.status = NodeStatus::Retrying;
            inst.error = result.error.clone();
        } else {
            inst.status = NodeStatus::Failed;
            inst.error = result.error.clone();
            inst.ended_at = Some(now);
        }
        let status = inst.status;
        let error = inst.error.clone();
        let inst = inst.clone();
        self.save(ctx.run_id, &inst)?;
        if retry {
            if index.is_none() {
                ctx.states.get_mut(id).expect("node").rec.status = NodeStatus::Retrying;
                let rec = ctx.states[id].rec.clone();
                self.save(ctx.run_id, &rec)?;
            }
            self.emit(Event::NodeSettled { node: id.to_string(), index, status, error });
            let delay = node.retry_delay;
            let node_id = id.to_string();
            join.spawn(async move {
                if delay > Duration::ZERO {
                    tokio::time::sleep(delay).await;
                }
                Done::RetryDue { node: node_id, index, attempt: attempt + 1 }
            });
            return Ok(());
        }
        self.instance_settled(ctx, id, index, status, error)
    }

    /// An instance reached a final state: settle the node when it was the last.
    fn instance_settled(&self, ctx: &mut RunCtx<'_>, id: &str, index: Option<usize>, status: NodeStatus, error: Option<String>) -> Result<()> {
        if index.is_some() {
            self.emit(Event::NodeSettled { node: id.to_string(), index, status, error });
            return self.finish_foreach_if_done(ctx, id);
        }
        let now = ts(self.clock.as_ref());
        let s = ctx.states.get_mut(id).expect("node");
        s.rec.status = status;
        s.rec.ended_at = Some(now);
        self.save(ctx.run_id, &s.rec)?;
        self.emit(Event::NodeSettled { node: id.to_string(), index: None, status, error });
        Ok(())
    }

    /// A foreach node is done when every instance is: its outputs become lists in
    /// item order (null where an instance recorded nothing).
    fn finish_foreach_if_done(&self, ctx: &mut RunCtx<'_>, id: &str) -> Result<()> {
        let now = ts(self.clock.as_ref());
        let s = ctx.states.get_mut(id).expect("node");
        if !s.instances.iter().all(|i| i.status.is_terminal()) {
            return Ok(());
        }
        let mut names: Vec<String> = ctx.wf.nodes[id].outputs.clone();
        for inst in &s.instances {
            for k in inst.outputs.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        let mut outputs = Map::new();
        for name in names {
            let list = s.instances.iter().map(|i| i.outputs.get(&name).cloned().unwrap_or(Value::Null)).collect();
            outputs.insert(name, Value::Array(list));
        }
        let failed = s.instances.iter().filter(|i| i.status != NodeStatus::Succeeded).count();
        s.rec.outputs = outputs;
        s.rec.status = if failed == 0 { NodeStatus::Succeeded } else { NodeStatus::Failed };
        s.rec.error = (failed > 0).then(|| format!("{failed} of {} foreach instances failed", s.instances.len()));
        s.rec.ended_at = Some(now);
        self.save(ctx.run_id, &s.rec)?;
        let (status, error) = (s.rec.status, s.rec.error.clone());
        debug!(node = id, ?status, "foreach settled");
        self.emit(Event::NodeSettled { node: id.to_string(), index: None, status, error });
        Ok(())
    }

    fn cancel_all(&self, ctx: &mut RunCtx<'_>) -> Result<()> {
        let now = ts(self.clock.as_ref());
        for id in ctx.order {
            let s = ctx.states.get_mut(id).expect("node");
            for inst in s.instances.iter_mut().filter(|i| !i.status.is_terminal()) {
                inst.status = NodeStatus::Cancelled;
                inst.ended_at = Some(now.clone());
                for a in inst.attempts.iter_mut().filter(|a| a.ended_at.is_none()) {
                    a.status = NodeStatus::Cancelled;
                    a.ended_at = Some(now.clone());
                }
                self.store.put_node(ctx.run_id, inst)?;
            }
            if !s.rec.status.is_terminal() {
                s.rec.status = NodeStatus::Cancelled;
                s.rec.ended_at = Some(now.clone());
                for a in s.rec.attempts.iter_mut().filter(|a| a.ended_at.is_none()) {
                    a.status = NodeStatus::Cancelled;
                    a.ended_at = Some(now.clone());
                }
                self.store.put_node(ctx.run_id, &s.rec)?;
                self.emit(Event::NodeSettled { node: id.clone(), index: None, status: NodeStatus::Cancelled, error: None });
            }
        }
        Ok(())
    }
}

/// Per-run state the engine threads through its steps.
struct RunCtx<'a> {
    wf: &'a Workflow,
    run_id: &'a str,
    run_json: Value,
    params: Value,
    secret_env: Vec<(String, String)>,
    run_dir: PathBuf,
    states: HashMap<String, NodeState>,
    order: &'a [String],
}

impl RunCtx<'_> {
    /// The expression context: params, run, and every node's status and outputs.
    fn context(&self) -> Context {
        let mut nodes = Map::new();
        for id in self.order {
            let s = &self.states[id];
            nodes.insert(
                id.clone(),
                serde_json::json!({"status": s.rec.status.as_str(), "outputs": Value::Object(s.rec.outputs.clone())}),
            );
        }
        Context::new(self.params.clone(), self.run_json.clone(), Value::Object(nodes))
    }
}
