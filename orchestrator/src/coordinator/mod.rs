//! The coordinator service behind `deckle server`: registered workflows, runs
//! driven by the engine with remote workers as its executor, and the operations the
//! HTTP API exposes. Runs in flight when the process stopped are carried on by
//! [`Coordinator::resume_all`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deckle_dsl::Workflow;
use deckle_protocol::api::{NodeLog, NodeSummary, ParamSummary, Rerun, RunDetail, TriggerRun, WorkflowDetail, WorkflowSummary};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, instrument};

use crate::clock::{Clock, SystemClock};
use crate::engine::{Engine, EngineConfig, Event, RunRequest, Started};
use crate::error::{Error, Result};
use crate::lease::{LeaseBoard, RemoteExecutor};
use crate::metrics::{Gauges, Metrics};
use crate::record::{NodeRecord, NodeStatus, RunRecord, RunStatus};
use crate::registry::Registry;
use crate::health::StorageHealth;
use crate::resolve;
use crate::store::{RunQuery, SledStore, StateStore};

mod storage_monitor;

/// Settings of `deckle server`.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// `--data`: state, registered workflows and artifacts.
    pub data_dir: PathBuf,
    /// A lease not heard from for this long expires.
    pub lease_ttl: Duration,
    /// Node instances of one run in flight at once (workers' slots bound the rest).
    pub run_slots: usize,
    /// How the server is reached from outside, for links in webhooks (no trailing slash).
    pub public_url: String,
    /// Leader or standby among coordinators sharing a database; the only one by default.
    pub role: Arc<crate::role::RoleStatus>,
    /// Where artifacts go beyond the data dir (`--artifacts`); none by default.
    pub mirror: crate::mirror::Mirror,
}

impl CoordinatorConfig {
    /// The defaults, with state in `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        CoordinatorConfig {
            data_dir: data_dir.to_path_buf(),
            lease_ttl: Duration::from_secs(15),
            run_slots: 1024,
            public_url: "http://127.0.0.1:8080".into(),
            role: Arc::new(crate::role::RoleStatus::single()),
            mirror: crate::mirror::Mirror::none(),
        }
    }
}

/// The drive of one run in this process.
struct Drive {
    /// Tells apart a run's successive drives (reruns).
    id: u64,
    /// Taken by the first cancel.
    cancel: Option<oneshot::Sender<()>>,
    /// The run as the drive recorded it at its end.
    ended: tokio::sync::watch::Receiver<Option<RunRecord>>,
}

/// The service behind `deckle server`.
pub struct Coordinator {
    /// Drives runs, with the lease board as its executor.
    pub engine: Arc<Engine>,
    /// Where workers take attempts.
    pub board: Arc<LeaseBoard>,
    /// Registered workflows and their versions.
    pub registry: Registry,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) data_dir: PathBuf,
    /// Where artifacts are mirrored (`--artifacts`), or nothing.
    pub mirror: crate::mirror::Mirror,
    pub(crate) public_url: String,
    /// Cancel switches of the runs this process drives.
    live: Mutex<HashMap<String, Drive>>,
    drives: std::sync::atomic::AtomicU64,
    /// Secret params of runs not started yet (queued), by run id; and of backfills, by id.
    /// Never stored: after a restart they come from the environment.
    pub(crate) secrets: Mutex<HashMap<String, Vec<(String, String)>>>,
    /// Wakes the planner: a run finished, a run or backfill was created, a workflow unpaused.
    pub(crate) wake: tokio::sync::Notify,
    /// One admission pass, rerun start or cancel decision at a time, so `max_active_runs`
    /// is never overshot and a cancel never falls between a run recorded as running
    /// and its drive starting.
    admission: tokio::sync::Mutex<()>,
    /// One change of the open-backfills index at a time (read, change, write).
    pub(crate) backfill_index: Mutex<()>,
    notifier: crate::notify::Notifier,
    /// Whether the data dir takes writes; see [`crate::health`].
    pub health: Arc<StorageHealth>,
    /// Leader or standby (see [`crate::role`]).
    pub role: Arc<crate::role::RoleStatus>,
    /// One event accepted at a time (its dedup key read, then written).
    pub(crate) events_lock: tokio::sync::Mutex<()>,
    /// One event's runs started at a time, so two passes never create one run twice.
    pub(crate) firing_lock: tokio::sync::Mutex<()>,
    /// Wakes `wait:` nodes to look again (a signal accepted, a run ended).
    pub waits: Arc<crate::wait::WaitWake>,
}

impl Coordinator {
    /// Open the state under `cfg.data_dir` (sled in `state/`, artifacts, blobs).
    pub fn open(cfg: &CoordinatorConfig) -> Result<Arc<Self>> {
        Self::open_with(cfg, Arc::new(StorageHealth::default()))
    }

    /// [`Self::open`], reporting storage faults to `health` (which the artifact
    /// mirror of `cfg` reports to as well).
    pub fn open_with(cfg: &CoordinatorConfig, health: Arc<StorageHealth>) -> Result<Arc<Self>> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn StateStore> = Arc::new(SledStore::open_with(&cfg.data_dir.join("state"), health.clone())?);
        let c = Self::with_health(cfg, store, clock, health)?;
        c.spawn_storage_monitor();
        Ok(c)
    }

    /// A coordinator over `store` (tests: an in-memory store, a fixed clock).
    pub fn with_store(cfg: &CoordinatorConfig, store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Result<Arc<Self>> {
        Self::with_health(cfg, store, clock, Arc::default())
    }

    /// With `health` the one `store` reports its faults to.
    pub fn with_health(cfg: &CoordinatorConfig, store: Arc<dyn StateStore>, clock: Arc<dyn Clock>, health: Arc<StorageHealth>) -> Result<Arc<Self>> {
        let c = Self::build(cfg, store, clock, health)?;
        c.board.spawn_reaper(Duration::from_millis(250).min(cfg.lease_ttl / 4));
        Ok(c)
    }

    /// A standby's view of a shared store: it serves reads and writes nothing (no
    /// lease reaper, no planner, no drives; the leader does all of that).
    pub fn reader(cfg: &CoordinatorConfig, store: Arc<dyn StateStore>, clock: Arc<dyn Clock>, health: Arc<StorageHealth>) -> Result<Arc<Self>> {
        Self::build(cfg, store, clock, health)
    }

    fn build(cfg: &CoordinatorConfig, store: Arc<dyn StateStore>, clock: Arc<dyn Clock>, health: Arc<StorageHealth>) -> Result<Arc<Self>> {
        let metrics = Arc::new(Metrics::default());
        let board = LeaseBoard::load_mirrored(store.clone(), cfg.lease_ttl, metrics.clone(), health.clone(), clock.clone(), &cfg.data_dir, cfg.mirror.clone())?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ecfg = EngineConfig { data_dir: cfg.data_dir.clone(), slots: cfg.run_slots, preview_rows: 20 };
        let waits = Arc::new(crate::wait::WaitWake::default());
        let waiter = Arc::new(crate::wait::StoreWaiter::new(store.clone(), clock.clone(), waits.clone()));
        let engine = Engine::new(store.clone(), Arc::new(RemoteExecutor(board.clone())), clock.clone(), ecfg).with_events(tx).with_waiter(waiter);
        let m = metrics.clone();
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                match e {
                    Event::NodeSettled { status, index: None, .. } => m.node_settled(status),
                    Event::RunFinished { status, .. } => m.run_finished(status),
                    _ => {}
                }
            }
        });
        Ok(Arc::new(Coordinator {
            engine: Arc::new(engine),
            board,
            registry: Registry::new(&cfg.data_dir, store.clone(), clock.clone()).with_mirror(cfg.mirror.clone()),
            mirror: cfg.mirror.clone(),
            metrics,
            store,
            clock,
            data_dir: cfg.data_dir.clone(),
            public_url: cfg.public_url.trim_end_matches('/').to_string(),
            live: Mutex::new(HashMap::new()),
            drives: Default::default(),
            secrets: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
            admission: tokio::sync::Mutex::new(()),
            events_lock: tokio::sync::Mutex::new(()),
            firing_lock: tokio::sync::Mutex::new(()),
            waits,
            backfill_index: Mutex::new(()),
            notifier: crate::notify::Notifier::new(),
            health,
            role: cfg.role.clone(),
        }))
    }

    /// The state store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Carry on every run the store says is running. Secret params given when a run
    /// was triggered are never stored; a resumed run takes them from this process's
    /// environment (`DECKLE_SECRET_<NAME>`).
    /// Queued runs are left to the planner ([`Self::start_planner`]).
    pub fn resume_all(self: &Arc<Self>) -> Result<usize> {
        // File runs (`deckle run` on this data dir) cannot be resumed from the
        // registry; the process that drove them is gone.
        crate::orphans::settle_interrupted(self.store.as_ref(), self.clock.as_ref(), &self.engine.cfg.data_dir, &self.mirror, crate::orphans::is_orphan_file_run, "the deckle run process that ran it")?;
        // What the data dir still stages goes to the artifact store; the notebooks of
        // attempts still leased stay, as their workers upload to them.
        let running = self.board.open_paths();
        self.mirror.recover(|p| running.contains(p));
        let mut n = 0;
        for run in self.store.open_runs()?.into_iter().filter(|r| r.status == RunStatus::Running) {
            let wf = match self.registry.load(&run.workflow, run.version) {
                Ok(wf) => wf,
                Err(e) => {
                    error!(run_id = %run.id, error = %e, "cannot resume a run: its workflow version does not load");
                    continue;
                }
            };
            let secrets = resolve::secrets_from_env(&wf);
            info!(run_id = %run.id, workflow = %run.workflow, "resuming a run in flight");
            self.spawn_drive(wf, run.id.clone(), secrets);
            n += 1;
        }
        self.call_pending_hooks()?;
        Ok(n)
    }

    /// Call the hooks of runs that finished just before the server stopped, before
    /// their hook was recorded (the webhook's retries were in-memory sleeps).
    fn call_pending_hooks(self: &Arc<Self>) -> Result<()> {
        for run in self.store.open_runs()?.into_iter().filter(|r| r.hooks_pending && r.status.is_finished()) {
            let wf = match self.registry.load(&run.workflow, run.version) {
                Ok(wf) => wf,
                Err(e) => {
                    error!(run_id = %run.id, error = %e, "cannot call a run's hook: its workflow version does not load");
                    continue;
                }
            };
            let order = wf.topo_order();
            let mut nodes = self.store.nodes(&run.id)?;
            nodes.sort_by_key(|n| (order.iter().position(|id| *id == n.node).unwrap_or(usize::MAX), n.index.map_or(0, |i| i + 1)));
            info!(run_id = %run.id, "calling the hook of a run that finished before the restart");
            let me = self.clone();
            tokio::spawn(async move { me.notify(&wf, &crate::engine::RunOutcome { run, nodes }).await });
        }
        Ok(())
    }

    fn spawn_drive(self: &Arc<Self>, wf: Arc<Workflow>, run_id: String, secrets: Vec<(String, String)>) {
        let (tx, rx) = oneshot::channel::<()>();
        let (ended_tx, ended) = tokio::sync::watch::channel(None);
        let id = self.drives.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(run_id.clone(), Drive { id, cancel: Some(tx), ended });
        let me = self.clone();
        tokio::spawn(async move {
            let mut rx = rx;
            let mut pause = Duration::from_secs(1);
            loop {
                let cancel = async {
                    // A dropped sender is not a cancel: only an explicit send is.
                    if (&mut rx).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                match me.engine.drive(&wf, &run_id, &secrets, cancel).await {
                    Ok(outcome) => {
                        ended_tx.send_replace(Some(outcome.run.clone()));
                        me.notify(&wf, &outcome).await;
                        break;
                    }
                    // The data dir failed (full, read-only): what was acknowledged is in
                    // the store, so carry on from it once writes work again.
                    Err(e @ (Error::Store(_) | Error::Io { .. })) => {
                        error!(run_id = %run_id, error = %e, retry_in_secs = pause.as_secs(), "run interrupted by a storage error");
                        tokio::select! {
                            _ = me.health.recovered() => {}
                            _ = tokio::time::sleep(pause) => {}
                        }
                        pause = (pause * 2).min(Duration::from_secs(30));
                    }
                    Err(e) => {
                        error!(run_id = %run_id, error = %e, "run stopped on an error");
                        break;
                    }
                }
            }
            {
                // Only this drive's own entry: a rerun may already have put the next
                // drive's here.
                let mut live = me.live.lock().unwrap_or_else(|p| p.into_inner());
                if live.get(&run_id).is_some_and(|d| d.id == id) {
                    live.remove(&run_id);
                }
            }
            me.wake.notify_one();
        });
    }

    /// A run ended: publish it to the workflows it triggers, wake the waits that may
    /// wait for it, and call the workflow's `on_failure` / `on_success` hook (POST its
    /// webhook and run its notebook through a worker, like a node), recording each
    /// on the run. `hooks_pending` is cleared last, so a crash before repeats this.
    async fn notify(self: &Arc<Self>, wf: &Workflow, outcome: &crate::engine::RunOutcome) {
        if outcome.run.version > 0 {
            if let Err(e) = self.publish_run_end(&outcome.run, &outcome.nodes).await {
                // Left pending: published when the server starts again.
                error!(run_id = %outcome.run.id, error = %e, "could not publish a run's end to the workflows it triggers");
                return;
            }
        }
        self.waits.wake();
        let (hook, event, which) = match outcome.run.status {
            RunStatus::Failed => (wf.on_failure.as_ref(), "run_failed", "on_failure"),
            RunStatus::Succeeded => (wf.on_success.as_ref(), "run_succeeded", "on_success"),
            _ => (None, "", ""),
        };
        let notes = match hook {
            Some(hook) => self.call_hook(hook, event, which, outcome).await,
            None => Vec::new(),
        };
        if !outcome.run.hooks_pending && notes.is_empty() {
            return;
        }
        let saved = async {
            let mut run = self.run(&outcome.run.id)?;
            run.notifications.extend(notes);
            run.hooks_pending = false;
            self.store.put_run(&run)?;
            self.store.flush().await
        };
        if let Err(e) = saved.await {
            error!(run_id = %outcome.run.id, error = %e, "could not record a hook");
        }
    }

    async fn call_hook(self: &Arc<Self>, hook: &deckle_dsl::Hook, event: &str, which: &str, outcome: &crate::engine::RunOutcome) -> Vec<crate::record::Notification> {
        let mut body = crate::notify::run_event(&outcome.run, &outcome.nodes, &self.public_url);
        body.event = event.to_string();
        let mut notes = Vec::new();
        if let Some(spec) = &hook.webhook {
            notes.push(self.notifier.deliver(&crate::notify::Webhook { url: spec.url.clone(), retries: spec.retries, timeout: spec.timeout }, &body).await);
        }
        if let Some(nb) = &hook.notebook {
            notes.push(self.run_hook_notebook(which, nb, &body).await);
        }
        notes
    }

    /// A hook notebook runs on a worker as node `@on_failure` / `@on_success` of the
    /// run (its attempts and output notebook are in the run's records, like a node's).
    async fn run_hook_notebook(self: &Arc<Self>, which: &str, nb: &deckle_dsl::HookNotebook, event: &crate::notify::RunEvent) -> crate::record::Notification {
        let run_id = event.run.clone();
        let node = format!("@{which}");
        let outcome = async {
            let run = self.run(&run_id)?;
            let mut rec = self.store.nodes(&run_id)?.into_iter().find(|n| n.node == node).unwrap_or_else(|| NodeRecord::new(&node, None));
            let attempt = rec.attempts.len() as u32 + 1;
            let run_dir = crate::artifacts::run_dir(&self.data_dir, &run.workflow, &run.date, &run_id);
            let output = crate::artifacts::output_notebook(&run_dir, &node, None, attempt);
            let failed = serde_json::to_value(&event.failed_nodes).unwrap_or_default();
            let params: serde_json::Map<String, Value> = serde_json::json!({
                "workflow": event.workflow, "run_id": run_id, "run_date": event.date, "status": event.status,
                "run_url": event.run_url, "failed_nodes": failed,
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            let task = crate::executor::Task {
                run_id: run_id.clone(),
                workflow: run.workflow.clone(),
                node: node.clone(),
                index: None,
                attempt,
                kind: crate::executor::TaskKind::Notebook { path: nb.path.to_string_lossy().into_owned(), hash: None },
                params: params.clone(),
                secret_env: Vec::new(),
                secret_params: vec![],
                outputs: Vec::new(),
                kernel: None,
                timeout_secs: None,
                output_path: output.to_string_lossy().into_owned(),
                input_copy_path: None,
                cwd: None,
                labels: Vec::new(),
            };
            let now = self.clock.now();
            rec.status = NodeStatus::Running;
            rec.started_at.get_or_insert(now.clone());
            rec.attempts.push(crate::record::AttemptRecord {
                n: attempt,
                status: NodeStatus::Running,
                started_at: now,
                ended_at: None,
                duration_secs: None,
                params,
                outputs: Default::default(),
                error: None,
                notebook: Some(output.to_string_lossy().into_owned()),
                worker: None,
                lost: false,
                run_attempt: run.attempt,
            });
            self.store.put_node(&run_id, &rec)?;
            self.store.flush().await?;
            let result = crate::executor::Executor::run(&RemoteExecutor(self.board.clone()), task).await;
            let ok = result.status == crate::executor::TaskStatus::Succeeded;
            let status = if ok { NodeStatus::Succeeded } else { NodeStatus::Failed };
            if let Some(a) = rec.attempts.last_mut() {
                a.status = status;
                a.ended_at = Some(self.clock.now());
                a.duration_secs = Some(result.duration_secs);
                a.error = result.error.clone();
                a.worker = result.worker.clone();
                a.outputs = result.outputs.clone();
            }
            rec.status = status;
            rec.error = result.error.clone();
            rec.ended_at = Some(self.clock.now());
            self.store.put_node(&run_id, &rec)?;
            self.store.flush().await?;
            Ok::<_, Error>((ok, result.error))
        };
        let (delivered, error) = match outcome.await {
            Ok((ok, error)) => (ok, error),
            Err(e) => (false, Some(e.to_string())),
        };
        crate::record::Notification { url: format!("notebook:{}", nb.rel), event: event.event.clone(), attempts: 1, delivered, status: None, error }
    }

    /// Create a run, queued, and start it now if `max_active_runs` and the run
    /// strategy allow. Secrets are held in memory until it starts.
    pub(crate) async fn create_run(self: &Arc<Self>, wf: &Workflow, mut req: RunRequest) -> Result<RunRecord> {
        self.health.check()?;
        req.queued = true;
        let Started { run, secret_env } = self.engine.start(wf, req).await?;
        self.secrets.lock().unwrap_or_else(|p| p.into_inner()).insert(run.id.clone(), secret_env);
        self.admit().await?;
        self.run(&run.id)
    }

    /// Start queued runs while their workflow's limits allow: `max_active_runs`
    /// running at once, one at a time in logical-time order when sequential.
    pub(crate) async fn admit(self: &Arc<Self>) -> Result<()> {
        let _one_pass = self.admission.lock().await;
        let runs = self.store.open_runs()?;
        let mut by_wf: HashMap<&str, (usize, Vec<&RunRecord>)> = HashMap::new();
        for r in &runs {
            let e = by_wf.entry(r.workflow.as_str()).or_default();
            match r.status {
                RunStatus::Running => e.0 += 1,
                RunStatus::Queued => e.1.push(r),
                _ => {}
            }
        }
        for (id, (mut running, mut queued)) in by_wf {
            if queued.is_empty() {
                continue;
            }
            queued.sort_by(|a, b| a.logical_time.cmp(&b.logical_time).then_with(|| a.started_at.cmp(&b.started_at)));
            let latest = self.registry.entry(id).ok().and_then(|e| e.versions.last().map(|v| v.version));
            let limits = latest.and_then(|v| self.registry.load(id, v).ok());
            let limit = match limits.as_deref() {
                Some(w) if w.run_strategy == deckle_dsl::RunStrategy::Sequential => 1,
                Some(w) => w.max_active_runs.map_or(usize::MAX, |m| m as usize),
                None => usize::MAX,
            };
            for r in queued {
                if running >= limit {
                    break;
                }
                let wf = self.registry.load(&r.workflow, r.version)?;
                let mut run = r.clone();
                run.status = RunStatus::Running;
                run.started_at = self.clock.now();
                self.store.put_run(&run)?;
                self.store.flush().await?;
                let secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner()).remove(&run.id);
                let secrets = secrets.unwrap_or_else(|| resolve::secrets_from_env(&wf));
                self.spawn_drive(wf, run.id.clone(), secrets);
                running += 1;
            }
        }
        Ok(())
    }
    /// Start a run of the latest (or a pinned) version of `workflow`; queued when `max_active_runs` is reached.

    #[instrument(skip_all, fields(workflow = %workflow))]
    pub async fn trigger(self: &Arc<Self>, workflow: &str, req: &TriggerRun) -> Result<RunRecord> {
        let entry = self.registry.entry(workflow)?;
        let version = match req.version {
            Some(v) => v,
            None => entry.versions.last().map_or(0, |v| v.version),
        };
        let wf = self.registry.load(workflow, version)?;
        let params = req.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.create_run(&wf, RunRequest { params, date: req.date.clone(), version, ..Default::default() }).await
    }

    /// Cancel a running or queued run; returns once the run is recorded as cancelled.
    pub async fn cancel(&self, run_id: &str) -> Result<RunRecord> {
        // Not between a rerun (or an admission) recording the run as running and
        // starting its drive.
        let serial = self.admission.lock().await;
        let run = self.run(run_id)?;
        if run.status.is_finished() {
            return Err(Error::Conflict(format!("run {run_id} is {}, not running", run.status.as_str())));
        }
        let drive = self.live.lock().unwrap_or_else(|p| p.into_inner()).get_mut(run_id).map(|d| (d.cancel.take(), d.ended.clone()));
        // Queued, or nothing in this process drives it: record it cancelled here.
        let Some((tx, mut ended)) = drive else {
            return self.cancel_undriven(run).await;
        };
        drop(serial);
        // Wait for this drive to end, not for the record to read "finished": a rerun
        // right after would make it read "running" again, of the next drive.
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let end = match tokio::time::timeout(Duration::from_secs(10), ended.wait_for(Option::is_some)).await {
            Ok(Ok(r)) => r.clone(),
            // The drive stopped on an error without a final record.
            Ok(Err(_)) => None,
            Err(_) => return Err(Error::Conflict(format!("run {run_id} did not stop within 10 s"))),
        };
        match end {
            Some(r) if r.status == RunStatus::Cancelled => Ok(r),
            Some(r) => Err(Error::Conflict(format!("run {run_id} finished ({}) before it could be cancelled", r.status.as_str()))),
            None => self.run(run_id),
        }
    }

    async fn cancel_undriven(&self, mut run: RunRecord) -> Result<RunRecord> {
        let now = self.clock.now();
        for mut n in self.store.nodes(&run.id)?.into_iter().filter(|n| !n.status.is_terminal()) {
            n.status = NodeStatus::Cancelled;
            n.ended_at = Some(now.clone());
            n.retry_at = None;
            for a in n.attempts.iter_mut().filter(|a| a.ended_at.is_none()) {
                a.status = NodeStatus::Cancelled;
                a.ended_at = Some(now.clone());
            }
            self.store.put_node(&run.id, &n)?;
        }
        run.status = RunStatus::Cancelled;
        run.ended_at = Some(now);
        self.store.put_run(&run)?;
        self.store.flush().await?;
        self.secrets.lock().unwrap_or_else(|p| p.into_inner()).remove(&run.id);
        self.wake.notify_one();
        Ok(run)
    }

    /// Run a finished run again as its next run attempt (all nodes, or from the failed ones).
    pub async fn rerun(self: &Arc<Self>, run_id: &str, req: &Rerun) -> Result<RunRecord> {
        self.health.check()?;
        let run = self.run(run_id)?;
        let wf = self.registry.load(&run.workflow, run.version)?;
        let params: Vec<(String, String)> = req.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        // One rerun at a time: two at once would both see the run finished and start
        // two drives of it, one of which no cancel could reach.
        let _one_at_a_time = self.admission.lock().await;
        let mut started = self.engine.prepare_rerun(&wf, run_id, req.from_failed, &params).await?;
        let given: Vec<String> = started.secret_env.iter().map(|(k, _)| k.clone()).collect();
        started.secret_env.extend(resolve::secrets_from_env(&wf).into_iter().filter(|(k, _)| !given.contains(k)));
        self.spawn_drive(wf, run_id.to_string(), started.secret_env);
        Ok(started.run)
    }

    /// Every registered workflow, with its latest run and schedule.
    pub fn workflow_summaries(&self) -> Result<Vec<WorkflowSummary>> {
        let mut out = Vec::new();
        // Who starts whom: (upstream, downstream), from the `workflow:` triggers.
        let mut starts: Vec<(String, String)> = Vec::new();
        for e in self.registry.entries()? {
            let latest = e.versions.last().map_or(0, |v| v.version);
            let wf = self.registry.load(&e.id, latest).ok();
            let nodes = wf.as_ref().map_or(0, |w| w.nodes.len());
            let latest_run = self.runs(&RunQuery::of_workflow(e.id.clone(), 1))?.into_iter().next();
            let schedule = self.schedule_state(&e.id)?;
            let triggers = match &wf {
                Some(wf) => {
                    starts.extend(crate::workflow_links::upstreams(wf).into_iter().map(|(up, _)| (up, e.id.clone())));
                    self.trigger_states(wf)?
                }
                None => Vec::new(),
            };
            let paused = self.is_paused(&e.id)?;
            out.push(WorkflowSummary { id: e.id, description: e.description, latest_version: latest, nodes, latest_run, schedule, triggers, paused, downstream: Vec::new() });
        }
        for w in &mut out {
            w.downstream = starts.iter().filter(|(up, _)| *up == w.id).map(|(_, down)| down.clone()).collect();
        }
        Ok(out)
    }

    /// A workflow's latest version, its schedule state and every version.
    pub fn workflow_detail(&self, id: &str) -> Result<WorkflowDetail> {
        let e = self.registry.entry(id)?;
        let latest = e.versions.last().map_or(0, |v| v.version);
        let wf = self.registry.load(id, latest)?;
        let nodes = wf
            .nodes
            .values()
            .map(|n| {
                let (kind, notebook) = match &n.kind {
                    deckle_dsl::NodeKind::Notebook { rel, .. } => ("notebook", Some(rel.clone())),
                    deckle_dsl::NodeKind::Sql(_) => ("sql", None),
                    deckle_dsl::NodeKind::Wait(_) => ("wait", None),
                };
                NodeSummary { id: n.id.clone(), needs: n.needs.clone(), kind: kind.into(), notebook, labels: n.labels.clone() }
            })
            .collect();
        let params = wf
            .params
            .iter()
            .map(|(name, p)| ParamSummary {
                name: name.clone(),
                ty: format!("{:?}", p.ty).to_ascii_lowercase(),
                default: if p.secret { None } else { p.default.clone() },
                secret: p.secret,
                description: p.description.clone(),
            })
            .collect();
        let strategy = match wf.run_strategy {
            deckle_dsl::RunStrategy::Parallel => "parallel",
            deckle_dsl::RunStrategy::Sequential => "sequential",
        };
        let (upstream, downstream) = self.workflow_links(id)?;
        Ok(WorkflowDetail {
            triggers: self.trigger_states(&wf)?,
            upstream,
            downstream,
            paused: self.is_paused(id)?,
            schedule: self.schedule_state(id)?,
            id: e.id,
            description: e.description,
            nodes,
            params,
            versions: e.versions,
            max_active_runs: wf.max_active_runs,
            run_strategy: strategy.into(),
        })
    }

    /// The run record `run_id`.
    pub fn run(&self, run_id: &str) -> Result<RunRecord> {
        self.store.get_run(run_id)?.ok_or_else(|| Error::NotFound(format!("run {run_id}")))
    }

    /// A page of runs, newest first (see [`StateStore::run_page`]).
    pub fn runs(&self, q: &RunQuery) -> Result<Vec<RunRecord>> {
        self.store.run_page(q)
    }

    /// A run with its node records, and why ready nodes wait.
    pub fn run_detail(&self, run_id: &str) -> Result<RunDetail> {
        let run = self.run(run_id)?;
        let mut nodes = self.store.nodes(run_id)?;
        // Workflow order when the version loads; key order otherwise.
        if let Ok(wf) = self.registry.load(&run.workflow, run.version) {
            let order = wf.topo_order();
            let pos = |n: &NodeRecord| order.iter().position(|id| *id == n.node).unwrap_or(usize::MAX);
            nodes.sort_by_key(|n| (pos(n), n.index.map_or(0, |i| i + 1)));
        }
        // A standby's board is not the leader's: it reads who holds what from the
        // leases the leader stored.
        let stored_holders: Option<HashMap<(String, u32), String>> = if self.role.is_leader() {
            None
        } else {
            Some(self.store.leases()?.into_iter().filter(|l| l.task.run_id == run_id && l.result.is_none()).map(|l| ((l.task.instance(), l.task.attempt), l.worker)).collect())
        };
        // Who holds a running attempt is the board's to say (records get it at the
        // end). One no worker holds yet is waiting in the queue: not an attempt yet
        // (no count, no duration); the node shows as `ready`, saying what it waits for.
        for n in &mut nodes {
            let key = n.key();
            // Where the server keeps a notebook is its own business: the path is
            // relative to the data dir (the API serves the file).
            for a in &mut n.attempts {
                // In an artifact store: the object's URL, which anyone with access can fetch.
                if let Some(p) = a.notebook.as_deref().filter(|_| self.mirror.enabled()) {
                    a.notebook = Some(self.mirror.url(&crate::artifacts::rebase(&self.data_dir, p)));
                } else if let Some(rel) = a.notebook.as_deref().and_then(|p| Path::new(p).strip_prefix(&self.data_dir).ok()) {
                    a.notebook = Some(rel.display().to_string());
                }
            }
            let mut waiting = None;
            for a in n.attempts.iter_mut().filter(|a| a.ended_at.is_none() && a.worker.is_none()) {
                a.worker = match &stored_holders {
                    None => self.board.holder(run_id, &key, a.n),
                    Some(h) => h.get(&(key.clone(), a.n)).cloned(),
                };
                if a.worker.is_none() {
                    let why = match &stored_holders {
                        None => self.board.waiting_for(run_id, &key, a.n),
                        Some(_) => Some("waiting for a worker".to_string()),
                    };
                    waiting = Some((a.n, why));
                }
            }
            if let Some((attempt, why)) = waiting {
                n.attempts.retain(|a| a.n != attempt);
                n.waiting = why;
                if n.items.is_none() {
                    if n.attempts.is_empty() {
                        n.started_at = None;
                    }
                    if n.status == NodeStatus::Running {
                        n.status = NodeStatus::Ready;
                    }
                }
            }
        }
        Ok(RunDetail { run, nodes })
    }

    /// `node` or `node.N` (a foreach instance).
    fn node_record(&self, run_id: &str, node: &str) -> Result<NodeRecord> {
        let nodes = self.store.nodes(run_id)?;
        nodes.into_iter().find(|n| n.key() == node).ok_or_else(|| Error::NotFound(format!("node {node} in run {run_id}")))
    }

    /// The output notebook of an attempt (the latest when `attempt` is `None`).
    pub fn notebook(&self, run_id: &str, node: &str, attempt: Option<u32>) -> Result<(u32, PathBuf, bool)> {
        let rec = self.node_record(run_id, node)?;
        let a = match attempt {
            Some(n) => rec.attempts.iter().find(|a| a.n == n),
            None => rec.attempts.last(),
        }
        .ok_or_else(|| Error::NotFound(format!("attempt {} of {node} in run {run_id}", attempt.map_or("any".into(), |n| n.to_string()))))?;
        let path = crate::artifacts::output_notebook(
            &crate::artifacts::run_dir(&self.data_dir, &self.run(run_id)?.workflow, &self.run(run_id)?.date, run_id),
            &rec.node,
            rec.index,
            a.n,
        );
        Ok((a.n, path, a.ended_at.is_some()))
    }

    /// The output notebook of an attempt, read from the data dir or the artifact
    /// store: its attempt number, bytes, and whether the attempt has ended.
    pub async fn notebook_bytes(&self, run_id: &str, node: &str, attempt: Option<u32>) -> Result<(u32, Vec<u8>, bool)> {
        let (n, path, finished) = self.notebook(run_id, node, attempt)?;
        match self.mirror.read(&path).await? {
            Some(b) => Ok((n, b, finished)),
            None => Err(Error::NotFound(format!("the output notebook of {node} attempt {n} (none was written yet)"))),
        }
    }

    /// What an attempt printed so far: stream outputs and errors of its latest saved notebook.
    pub async fn log(&self, run_id: &str, node: &str, attempt: Option<u32>) -> Result<NodeLog> {
        let (n, bytes, finished) = self.notebook_bytes(run_id, node, attempt).await?;
        let nb: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Io { path: format!("the notebook of {node} attempt {n}"), message: e.to_string() })?;
        Ok(NodeLog { run: run_id.to_string(), node: node.to_string(), attempt: n, finished, text: notebook_text(&nb) })
    }

    /// The gauges `/metrics` reports, read now.
    pub fn gauges(&self) -> Result<Gauges> {
        let runs: HashMap<RunStatus, usize> = self.store.run_counts()?.into_iter().collect();
        let mut nodes: HashMap<NodeStatus, usize> = HashMap::new();
        for r in self.store.open_runs()?.into_iter().filter(|r| r.status == RunStatus::Running) {
            for n in self.store.nodes(&r.id)? {
                *nodes.entry(n.status).or_default() += 1;
            }
        }
        let order = [RunStatus::Queued, RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed, RunStatus::Cancelled];
        Ok(Gauges {
            queue_depth: self.board.queue_depth(),
            active_leases: self.board.active_leases(),
            runs: order.iter().map(|s| (*s, runs.get(s).copied().unwrap_or(0))).collect(),
            nodes: nodes.into_iter().collect(),
            storage_ok: !self.health.is_faulted(),
        })
    }
}

/// Stream text and error tracebacks of a notebook, cell by cell.
fn notebook_text(nb: &Value) -> String {
    let mut out = String::new();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    };
    for cell in nb["cells"].as_array().into_iter().flatten() {
        for o in cell["outputs"].as_array().into_iter().flatten() {
            match o["output_type"].as_str() {
                Some("stream") => out.push_str(&text(&o["text"])),
                Some("error") => {
                    for line in o["traceback"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                _ => {}
            }
        }
    }
    out
}
