//! Running a workflow run to its end.
//!
//! The engine keeps a state machine per node and per foreach instance (pending →
//! ready → running → succeeded | failed | retrying …), persists every transition and
//! flushes the store before acting on it, and dispatches ready instances to the
//! [`Executor`] with bounded concurrency (`slots` overall, `foreach_parallel` per
//! node). A node starts as soon as its `needs` settle; its trigger rule decides
//! whether it runs, is skipped or is `upstream_failed`; `when` false skips it.
//! Parameters, `when`, `foreach` and SQL are evaluated at dispatch, against the
//! outputs upstream nodes recorded.
//!
//! A run is created by [`Engine::start`] and carried to its end by [`Engine::drive`],
//! which rebuilds its state from the store: the same call resumes a run after a
//! coordinator restart and carries on a rerun ([`Engine::prepare_rerun`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deckle_dsl::{Node, Workflow};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, instrument};

use crate::artifacts;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::executor::{Executor, TaskResult, TaskStatus};
use crate::record::{AttemptRecord, NodeRecord, NodeStatus, RunRecord, RunStatus, RunTrigger};
use crate::resolve;
use crate::store::StateStore;
use crate::trigger::{self, Decision};
use crate::wait::{WaitOutcome, Waiter};

mod rebuild;
mod state;
mod task;
mod wait_node;

use state::{Queued, RunCtx};
pub use state::{Started, MAX_FOREACH_ITEMS};

/// A worker lost this many times running one instance fails it: something in the
/// notebook is likely taking its worker down.
pub const MAX_LOST_ATTEMPTS: u32 = 5;
/// Settings of an [`Engine`].

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `--data`: state and artifacts.
    pub data_dir: PathBuf,
    /// How many node instances of one run run at once.
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
    /// The registered version the run pins (0 for a file run directly).
    pub version: u32,
    /// The run's logical time (a schedule tick, a backfill step); its date in the
    /// schedule's time zone becomes the logical date. Default: `date` at 00:00 UTC.
    pub logical_time: Option<jiff::Timestamp>,
    /// What started the run (manual, schedule, backfill, rerun).
    pub trigger: RunTrigger,
    /// Create the run `queued`: the caller starts it later (`max_active_runs`, sequential runs).
    pub queued: bool,
    /// The run's id, when the caller chose it (an event's firing, so a crash between
    /// choosing and creating cannot create two); default a new one.
    pub id: Option<String>,
}

/// Progress, for live views and metrics. Sent after the transition is durable.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the fields say what they are
pub enum Event {
    /// A drive began (a new run, a resumed one, or a rerun).
    RunStarted { run_id: String, nodes: usize },
    /// An attempt was handed to the executor (`index`: a foreach instance).
    NodeStarted { run_id: String, node: String, index: Option<usize>, attempt: u32 },
    /// A node or foreach instance reached a final status.
    NodeSettled { run_id: String, node: String, index: Option<usize>, status: NodeStatus, error: Option<String> },
    /// The run ended.
    RunFinished { run_id: String, status: RunStatus },
}
/// A run at its end.

#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run record, ended.
    pub run: RunRecord,
    /// Every node record (foreach parents and instances), in workflow order.
    pub nodes: Vec<NodeRecord>,
}

/// Carries runs to their end; see the module docs.
pub struct Engine {
    pub(crate) store: Arc<dyn StateStore>,
    executor: Arc<dyn Executor>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cfg: EngineConfig,
    events: Option<mpsc::UnboundedSender<Event>>,
    waiter: Arc<dyn Waiter>,
}

/// What comes back from a spawned unit of work.
enum Done {
    Attempt { node: String, index: Option<usize>, attempt: u32, result: TaskResult },
    RetryDue { node: String, index: Option<usize>, attempt: u32 },
    Waited { node: String, outcome: WaitOutcome },
}

/// The schedule's time zone (UTC without a schedule).
pub fn workflow_tz(wf: &Workflow) -> jiff::tz::TimeZone {
    wf.schedule.as_ref().and_then(|s| jiff::tz::TimeZone::get(&s.timezone).ok()).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Today in the schedule's time zone (UTC without a schedule).
pub fn default_date(wf: &Workflow, clock: &dyn Clock) -> String {
    clock.now().to_zoned(workflow_tz(wf)).date().to_string()
}

/// A new run id: its creation time (so ids sort by it) and a random suffix.
pub fn new_run_id(clock: &dyn Clock) -> String {
    let t = clock.now().to_zoned(jiff::tz::TimeZone::UTC);
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{}-{suffix}", t.strftime("%Y%m%dT%H%M%S"))
}

/// A date's logical time without a schedule: its midnight, UTC.
fn midnight_utc(day: jiff::civil::Date) -> Result<jiff::Timestamp> {
    day.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| Error::Input(format!("{day}: {e}")))
}

fn io_err(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::Io { path: path.display().to_string(), message: e.to_string() }
}

impl Engine {
    /// An engine keeping state in `store`, running attempts on `executor`.
    pub fn new(store: Arc<dyn StateStore>, executor: Arc<dyn Executor>, clock: Arc<dyn Clock>, cfg: EngineConfig) -> Self {
        let waiter = Arc::new(crate::wait::StoreWaiter::files_only(store.clone(), clock.clone()));
        Engine { store, executor, clock, cfg, events: None, waiter }
    }

    /// Watch `wait:` nodes with `waiter` (the default does files only).
    pub fn with_waiter(mut self, waiter: Arc<dyn Waiter>) -> Self {
        self.waiter = waiter;
        self
    }

    /// Send [`Event`]s to `tx` as runs progress.
    pub fn with_events(mut self, tx: mpsc::UnboundedSender<Event>) -> Self {
        self.events = Some(tx);
        self
    }

    /// The state store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    fn emit(&self, e: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// Start `wf` and run it to the end. `cancel` resolving cancels the run: running
    /// attempts are dropped (their kernels killed), everything unfinished is `cancelled`.
    pub async fn run(&self, wf: &Workflow, req: RunRequest, cancel: impl std::future::Future<Output = ()>) -> Result<RunOutcome> {
        let started = self.start(wf, req).await?;
        self.drive(wf, &started.run.id, &started.secret_env, cancel).await
    }

    /// Create a run: its record and a pending record per node, durable on return.
    #[instrument(skip_all, fields(workflow = %wf.id))]
    pub async fn start(&self, wf: &Workflow, req: RunRequest) -> Result<Started> {
        let params = resolve::run_params(wf, &req.params)?;
        let (date, logical_time) = match (&req.logical_time, &req.date) {
            // An upstream run's date and time, kept as they are (time zones may differ).
            (Some(t), Some(d)) => (d.clone(), *t),
            (Some(t), None) => {
                let z = t.to_zoned(workflow_tz(wf));
                (z.date().to_string(), z.timestamp())
            }
            (None, Some(d)) => {
                let day = d.parse::<jiff::civil::Date>().map_err(|_| Error::Input(format!("--date {d:?} is not a date (YYYY-MM-DD)")))?;
                (d.clone(), midnight_utc(day)?)
            }
            (None, None) => {
                let d = default_date(wf, self.clock.as_ref());
                let day = d.parse::<jiff::civil::Date>().map_err(|e| Error::Input(format!("today ({d}): {e}")))?;
                (d, midnight_utc(day)?)
            }
        };
        let run = RunRecord {
            id: req.id.clone().unwrap_or_else(|| new_run_id(self.clock.as_ref())),
            workflow: wf.id.clone(),
            date: date.clone(),
            logical_time,
            params: params.visible,
            version: req.version,
            attempt: 1,
            trigger: req.trigger.clone(),
            status: if req.queued { RunStatus::Queued } else { RunStatus::Running },
            started_at: self.clock.now(),
            ended_at: None,
            attempts_started_at: Vec::new(),
            hooks_pending: false,
            notifications: Vec::new(),
        };
        let run_dir = artifacts::run_dir(&self.cfg.data_dir, &wf.id, &date, &run.id);
        std::fs::create_dir_all(&run_dir).map_err(|e| io_err(&run_dir, e))?;
        self.store.put_run(&run)?;
        for id in wf.nodes.keys() {
            self.store.put_node(&run.id, &NodeRecord::new(id, None))?;
        }
        self.store.flush().await?;
        Ok(Started { run, secret_env: params.secret_env })
    }

    /// Carry a run to its end from whatever state the store holds: a new run, a run
    /// that was in flight when the coordinator stopped, or a rerun.
    #[instrument(skip_all, fields(workflow = %wf.id, run_id))]
    pub async fn drive(
        &self,
        wf: &Workflow,
        run_id: &str,
        secret_env: &[(String, String)],
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<RunOutcome> {
        tracing::Span::current().record("run_id", run_id);
        let mut run = self.store.get_run(run_id)?.ok_or_else(|| Error::NotFound(format!("run {run_id}")))?;
        let order = wf.topo_order();
        let mut ctx = RunCtx::new(wf, &run, &self.cfg.data_dir, secret_env.to_vec(), &order);
        for id in rebuild::restore(self.store.as_ref(), &mut ctx)? {
            self.finish_foreach_if_done(&mut ctx, &id)?;
        }
        self.emit(Event::RunStarted { run_id: run.id.clone(), nodes: order.len() });

        let mut join: JoinSet<Done> = JoinSet::new();
        // Retries a failure scheduled before this drive (a restart): they wait out
        // what is left of their delay, by the recorded due time.
        let now = self.clock.now();
        for (node, q, due) in std::mem::take(&mut ctx.delayed) {
            spawn_retry(&mut join, node, q, Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO));
        }
        let mut running_total = 0usize;
        tokio::pin!(cancel);
        let mut cancelled = false;

        loop {
            // Settle what can be settled, start what can start, then make it durable.
            self.advance(&mut ctx)?;
            self.dispatch(&mut ctx, &mut join, &mut running_total)?;
            self.store.flush().await?;
            if ctx.unsettled == 0 && join.is_empty() {
                break;
            }
            let first = tokio::select! {
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
            // Take everything else that is already done too: one flush for the batch.
            let mut batch = vec![first];
            while let Some(d) = join.try_join_next() {
                batch.push(Some(d));
            }
            for done in batch {
                match done {
                    Some(Ok(Done::Attempt { node, index, attempt, result })) => {
                        running_total -= 1;
                        self.finish_attempt(&mut ctx, &mut join, &node, index, attempt, result)?;
                    }
                    Some(Ok(Done::RetryDue { node, index, attempt })) => {
                        ctx.enqueue(&node, Queued { index, attempt, reattach: false });
                    }
                    Some(Ok(Done::Waited { node, outcome })) => self.finish_wait(&mut ctx, &node, outcome)?,
                    Some(Err(e)) => return Err(Error::Store(format!("a node task panicked: {e}"))),
                    None => {}
                }
            }
        }

        run.status = if cancelled {
            RunStatus::Cancelled
        } else if ctx.states.values().any(|s| matches!(s.rec.status, NodeStatus::Failed | NodeStatus::UpstreamFailed | NodeStatus::Cancelled)) {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        run.ended_at = Some(self.clock.now());
        // Durable with the end, so a hook a crash kept from being called is called
        // after the restart (the coordinator clears it once the hook is recorded).
        // A registered run's end is also an event for the workflows it triggers
        // (published by the coordinator, which clears this once it has).
        run.hooks_pending = run.version > 0;
        self.store.put_run(&run)?;
        self.store.flush().await?;
        self.emit(Event::RunFinished { run_id: run.id.clone(), status: run.status });
        let mut nodes = Vec::new();
        for id in &order {
            let s = &ctx.states[id];
            nodes.push(s.rec.clone());
            nodes.extend(s.instances.iter().cloned());
        }
        Ok(RunOutcome { run, nodes })
    }

    /// Reset a finished run for a rerun, as its next run attempt: with `from_failed`
    /// succeeded nodes keep their state and outputs unless something they need is
    /// re-run; every other node goes back to pending (its attempts stay in its
    /// history). `params` change the run's params. Drive the result with
    /// [`Engine::drive`].
    pub async fn prepare_rerun(&self, wf: &Workflow, run_id: &str, from_failed: bool, params: &[(String, String)]) -> Result<Started> {
        rebuild::prepare_rerun(self.store.as_ref(), self.clock.as_ref(), wf, run_id, from_failed, params).await
    }

    fn save(&self, run_id: &str, rec: &NodeRecord) -> Result<()> {
        self.store.put_node(run_id, rec)
    }

    /// Settle a node without running it.
    fn settle(&self, ctx: &mut RunCtx<'_>, id: &str, status: NodeStatus, error: Option<String>) -> Result<()> {
        let now = self.clock.now();
        let s = ctx.states.get_mut(id).expect("known node");
        s.rec.status = status;
        s.rec.error = error.clone();
        s.rec.ended_at = Some(now);
        self.save(&ctx.run_id, &s.rec)?;
        ctx.node_settled(id);
        self.emit(Event::NodeSettled { run_id: ctx.run_id.clone(), node: id.to_string(), index: None, status, error });
        Ok(())
    }

    /// Decide every pending node whose upstream may have settled.
    fn advance(&self, ctx: &mut RunCtx<'_>) -> Result<()> {
        // Dependants always come later in topological order, so one ordered pass
        // sees every node a settlement in this pass makes decidable.
        while let Some(i) = ctx.dirty.pop_first() {
            let id = &ctx.order[i];
            if ctx.states[id].rec.status != NodeStatus::Pending {
                continue;
            }
            let node = &ctx.wf.nodes[id];
            let upstream: Vec<NodeStatus> = node.needs.iter().map(|d| ctx.states[d].rec.status).collect();
            match trigger::decide(node.trigger, &upstream) {
                Decision::Wait => {}
                Decision::Skip => self.settle(ctx, id, NodeStatus::Skipped, None)?,
                Decision::UpstreamFailed => self.settle(ctx, id, NodeStatus::UpstreamFailed, None)?,
                Decision::Run => self.start_node(ctx, node)?,
            }
        }
        Ok(())
    }

    /// `when`, then `foreach`; queue the first attempts.
    fn start_node(&self, ctx: &mut RunCtx<'_>, node: &Node) -> Result<()> {
        if let Some(when) = &node.when {
            match when.eval_bool(&ctx.context(&node.id)) {
                Ok(false) => return self.settle(ctx, &node.id, NodeStatus::Skipped, None),
                Ok(true) => {}
                Err(e) => return self.settle(ctx, &node.id, NodeStatus::Failed, Some(format!("when: {e}"))),
            }
        }
        let items = match ctx.foreach_items(node) {
            Ok(items) => items,
            Err(e) => return self.settle(ctx, &node.id, NodeStatus::Failed, Some(e)),
        };
        let now = self.clock.now();
        let run_id = ctx.run_id.clone();
        let s = ctx.states.get_mut(&node.id).expect("known node");
        s.rec.status = NodeStatus::Ready;
        s.rec.started_at = Some(now);
        let mut queued = Vec::new();
        match items {
            None => queued.push(Queued { index: None, attempt: s.rec.attempts.len() as u32 + 1, reattach: false }),
            Some(items) => {
                s.is_foreach = true;
                s.rec.items = Some(items.len());
                s.instances.clear();
                for i in 0..items.len() {
                    // A rerun keeps the history of earlier attempts.
                    let mut inst = ctx.old_instances.remove(&(node.id.clone(), i)).unwrap_or_else(|| NodeRecord::new(&node.id, Some(i)));
                    inst.status = NodeStatus::Pending;
                    inst.outputs = Map::new();
                    inst.error = None;
                    inst.ended_at = None;
                    inst.retry_at = None;
                    self.store.put_node(&run_id, &inst)?;
                    queued.push(Queued { index: Some(i), attempt: inst.attempts.len() as u32 + 1, reattach: false });
                    s.instances.push(inst);
                }
                s.items = items;
            }
        }
        self.save(&run_id, &s.rec)?;
        let empty_foreach = s.is_foreach && s.items.is_empty();
        for q in queued {
            ctx.enqueue(&node.id, q);
        }
        if empty_foreach {
            // Nothing to fan out over: done, with empty output lists.
            return self.finish_foreach_if_done(ctx, &node.id);
        }
        Ok(())
    }

    /// Spawn queued attempts while there are free slots.
    fn dispatch(&self, ctx: &mut RunCtx<'_>, join: &mut JoinSet<Done>, running_total: &mut usize) -> Result<()> {
        let slots = self.cfg.slots.max(1);
        let mut cursor = 0;
        while *running_total < slots {
            let Some(&i) = ctx.queued.range(cursor..).next() else { break };
            cursor = i + 1;
            let id = ctx.order[i].clone();
            let node = &ctx.wf.nodes[&id];
            while *running_total < slots {
                let s = &ctx.states[&id];
                let per_node = if s.is_foreach { node.foreach_parallel.max(1) } else { 1 };
                if s.running >= per_node || s.queue.is_empty() {
                    break;
                }
                let q = ctx.states.get_mut(&id).expect("node").queue.pop_front().expect("non-empty");
                if let deckle_dsl::NodeKind::Wait(w) = &node.kind {
                    // Watched here, by the coordinator: no slot, no worker, no kernel.
                    self.start_wait(ctx, join, &id, w)?;
                    continue;
                }
                match task::build_task(ctx, node, q.index, q.attempt, self.cfg.preview_rows) {
                    Ok(task) => {
                        let now = self.clock.now();
                        let run_id = ctx.run_id.clone();
                        let run_attempt = ctx.run_attempt;
                        let s = ctx.states.get_mut(&id).expect("node");
                        s.running += 1;
                        s.rec.status = NodeStatus::Running;
                        let notebook = Some(task.output_path.clone());
                        let inst = s.instance_mut(q.index);
                        inst.status = NodeStatus::Running;
                        inst.retry_at = None;
                        inst.started_at.get_or_insert(now.clone());
                        if !q.reattach {
                            inst.attempts.push(AttemptRecord {
                                params: task.params.clone(),
                                notebook,
                                run_attempt,
                                ..AttemptRecord::started(q.attempt, now)
                            });
                        }
                        let inst = inst.clone();
                        self.save(&run_id, &inst)?;
                        if q.index.is_some() {
                            let parent = ctx.states[&id].rec.clone();
                            self.save(&run_id, &parent)?;
                        }
                        *running_total += 1;
                        self.emit(Event::NodeStarted { run_id, node: id.clone(), index: q.index, attempt: q.attempt });
                        let fut = if q.reattach { self.executor.resume(task) } else { self.executor.run(task) };
                        let node_id = id.clone();
                        let (index, attempt) = (q.index, q.attempt);
                        join.spawn(async move { Done::Attempt { node: node_id, index, attempt, result: fut.await } });
                    }
                    Err(message) => {
                        // Parameters that cannot be resolved will not resolve on retry.
                        let run_id = ctx.run_id.clone();
                        let s = ctx.states.get_mut(&id).expect("node");
                        let inst = s.instance_mut(q.index);
                        inst.status = NodeStatus::Failed;
                        inst.error = Some(message.clone());
                        inst.ended_at = Some(self.clock.now());
                        let inst = inst.clone();
                        self.save(&run_id, &inst)?;
                        self.instance_settled(ctx, &id, q.index, NodeStatus::Failed, Some(message))?;
                    }
                }
            }
            if ctx.states[&id].queue.is_empty() {
                ctx.queued.remove(&i);
            }
        }
        Ok(())
    }

    /// Record an attempt's result; retry, or settle the instance.
    fn finish_attempt(&self, ctx: &mut RunCtx<'_>, join: &mut JoinSet<Done>, id: &str, index: Option<usize>, attempt: u32, result: TaskResult) -> Result<()> {
        let node = &ctx.wf.nodes[id];
        let now = self.clock.now();
        let ok = result.status == TaskStatus::Succeeded;
        let lost = result.status == TaskStatus::Lost;
        let run_id = ctx.run_id.clone();
        let run_attempt = ctx.run_attempt;
        let s = ctx.states.get_mut(id).expect("node");
        s.running -= 1;
        let inst = s.instance_mut(index);
        if let Some(a) = inst.attempts.iter_mut().rev().find(|a| a.n == attempt) {
            a.status = match result.status {
                TaskStatus::Succeeded => NodeStatus::Succeeded,
                TaskStatus::Cancelled => NodeStatus::Cancelled,
                _ => NodeStatus::Failed,
            };
            a.lost = lost;
            if result.worker.is_some() {
                a.worker = result.worker.clone();
            }
            a.ended_at = Some(now.clone());
            a.duration_secs = Some(result.duration_secs);
            a.outputs = result.outputs.clone();
            a.error = result.error.clone();
            if !result.notebook_written {
                a.notebook = None;
            }
        }
        // Failures of the notebook count against `retries`; a lost worker does not.
        let this_run = inst.attempts.iter().filter(|a| a.run_attempt == run_attempt);
        let (failures, losses) = this_run.fold((0u32, 0u32), |(f, l), a| match (a.status, a.lost) {
            (NodeStatus::Failed, true) => (f, l + 1),
            (NodeStatus::Failed, false) => (f + 1, l),
            _ => (f, l),
        });
        let retry = match result.status {
            TaskStatus::Succeeded | TaskStatus::Invalid | TaskStatus::Cancelled => false,
            TaskStatus::Lost => losses <= MAX_LOST_ATTEMPTS,
            TaskStatus::Failed | TaskStatus::TimedOut => failures <= node.retries,
        };
        if ok {
            inst.status = NodeStatus::Succeeded;
            inst.outputs = result.outputs;
            inst.error = None;
            inst.ended_at = Some(now);
        } else if retry {
            inst.status = NodeStatus::Retrying;
            inst.error = result.error.clone();
            if !lost && !node.retry_delay.is_zero() {
                let due = self.clock.now().checked_add(jiff::SignedDuration::try_from(node.retry_delay).unwrap_or(jiff::SignedDuration::MAX));
                inst.retry_at = due.ok();
            }
        } else {
            inst.status = if result.status == TaskStatus::Cancelled { NodeStatus::Cancelled } else { NodeStatus::Failed };
            inst.error = result.error.clone();
            if lost {
                inst.error = Some(format!("worker lost {losses} times; last: {}", result.error.unwrap_or_default()));
            }
            inst.ended_at = Some(now);
        }
        let status = inst.status;
        let error = inst.error.clone();
        let inst = inst.clone();
        self.save(&run_id, &inst)?;
        if retry {
            if index.is_none() {
                ctx.states.get_mut(id).expect("node").rec.status = NodeStatus::Retrying;
                let rec = ctx.states[id].rec.clone();
                self.save(&run_id, &rec)?;
            }
            self.emit(Event::NodeSettled { run_id: run_id.clone(), node: id.to_string(), index, status, error });
            let delay = if lost { Duration::ZERO } else { node.retry_delay };
            let next = Queued { index, attempt: attempt + 1, reattach: false };
            if delay.is_zero() {
                ctx.enqueue(id, next);
            } else {
                spawn_retry(join, id.to_string(), next, delay);
            }
            return Ok(());
        }
        self.instance_settled(ctx, id, index, status, error)
    }

    /// An instance reached a final state: settle the node when it was the last.
    fn instance_settled(&self, ctx: &mut RunCtx<'_>, id: &str, index: Option<usize>, status: NodeStatus, error: Option<String>) -> Result<()> {
        let run_id = ctx.run_id.clone();
        if index.is_some() {
            self.emit(Event::NodeSettled { run_id, node: id.to_string(), index, status, error });
            return self.finish_foreach_if_done(ctx, id);
        }
        let now = self.clock.now();
        let s = ctx.states.get_mut(id).expect("node");
        s.rec.status = status;
        s.rec.ended_at = Some(now);
        s.rec.error = error.clone();
        self.save(&run_id, &s.rec)?;
        ctx.node_settled(id);
        self.emit(Event::NodeSettled { run_id, node: id.to_string(), index: None, status, error });
        Ok(())
    }

    /// A foreach node is done when every instance is: its outputs become lists in
    /// item order (null where an instance recorded nothing).
    fn finish_foreach_if_done(&self, ctx: &mut RunCtx<'_>, id: &str) -> Result<()> {
        let now = self.clock.now();
        let run_id = ctx.run_id.clone();
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
        self.save(&run_id, &s.rec)?;
        let (status, error) = (s.rec.status, s.rec.error.clone());
        ctx.node_settled(id);
        debug!(node = id, ?status, "foreach settled");
        self.emit(Event::NodeSettled { run_id, node: id.to_string(), index: None, status, error });
        Ok(())
    }

    fn cancel_all(&self, ctx: &mut RunCtx<'_>) -> Result<()> {
        let now = self.clock.now();
        let run_id = ctx.run_id.clone();
        for id in ctx.order {
            let s = ctx.states.get_mut(id).expect("node");
            for inst in s.instances.iter_mut().filter(|i| !i.status.is_terminal()) {
                cancel_record(inst, now);
                self.store.put_node(&run_id, inst)?;
            }
            if !s.rec.status.is_terminal() {
                cancel_record(&mut s.rec, now);
                self.store.put_node(&run_id, &s.rec)?;
                self.emit(Event::NodeSettled { run_id: run_id.clone(), node: id.clone(), index: None, status: NodeStatus::Cancelled, error: None });
            }
        }
        Ok(())
    }
}

/// Queue `q` once `delay` has passed (a retry's delay).
fn spawn_retry(join: &mut JoinSet<Done>, node: String, q: Queued, delay: Duration) {
    join.spawn(async move {
        tokio::time::sleep(delay).await;
        Done::RetryDue { node, index: q.index, attempt: q.attempt }
    });
}

fn cancel_record(rec: &mut NodeRecord, now: jiff::Timestamp) {
    rec.status = NodeStatus::Cancelled;
    rec.retry_at = None;
    rec.ended_at = Some(now);
    for a in rec.attempts.iter_mut().filter(|a| a.ended_at.is_none()) {
        a.status = NodeStatus::Cancelled;
        a.ended_at = Some(now);
    }
}

