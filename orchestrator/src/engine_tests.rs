//! The engine against a stub executor: scheduling, concurrency bounds, retries,
//! foreach and cancel, deterministic and without kernels.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deckle_dsl::{Node, NodeKind, Template, TriggerRule, Workflow};
use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::clock::FixedClock;
use crate::engine::{Engine, EngineConfig, RunRequest};
use crate::executor::{Executor, Task, TaskResult, TaskStatus};
use crate::record::{AttemptRecord, NodeRecord, NodeStatus, RunStatus};
use crate::store::{MemStore, StateStore};

/// One dispatched attempt: node, index, attempt, params.
type Ran = (String, Option<usize>, u32, Map<String, Value>);

/// Succeeds unless told otherwise; records what ran and how many ran at once.
#[derive(Default)]
struct Stub {
    /// node → statuses of successive attempts (default: succeed).
    script: HashMap<String, Vec<TaskStatus>>,
    /// How long each attempt takes.
    delay: Duration,
    ran: Mutex<Vec<Ran>>,
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Executor for Arc<Stub> {
    fn run(&self, task: Task) -> BoxFuture<'static, TaskResult> {
        let me = self.clone();
        Box::pin(async move {
            let cur = me.now.fetch_add(1, Ordering::SeqCst) + 1;
            me.peak.fetch_max(cur, Ordering::SeqCst);
            me.ran.lock().unwrap().push((task.node.clone(), task.index, task.attempt, task.params.clone()));
            tokio::time::sleep(me.delay).await;
            me.now.fetch_sub(1, Ordering::SeqCst);
            let status = me
                .script
                .get(&task.node)
                .and_then(|s| s.get(task.attempt as usize - 1).copied())
                .unwrap_or(TaskStatus::Succeeded);
            let mut outputs = Map::new();
            outputs.insert("attempt".into(), json!(task.attempt));
            if let Some(x) = task.params.get("x") {
                outputs.insert("double".into(), json!(x.as_i64().unwrap_or(0) * 2));
            }
            TaskResult { status, outputs, error: (status != TaskStatus::Succeeded).then(|| "scripted".into()), notebook_written: true, duration_secs: 0.0, worker: None }
        })
    }
}

fn node(id: &str, needs: &[&str]) -> Node {
    Node {
        id: id.into(),
        kind: NodeKind::Notebook { rel: format!("{id}.ipynb"), path: PathBuf::from(format!("/nb/{id}.ipynb")) },
        needs: needs.iter().map(|s| s.to_string()).collect(),
        params: IndexMap::new(),
        outputs: vec![],
        when: None,
        trigger: TriggerRule::AllSuccess,
        foreach: None,
        foreach_parallel: 4,
        retries: 0,
        retry_delay: Duration::ZERO,
        timeout: None,
        kernel: None,
        labels: vec![],
    }
}

fn workflow(nodes: Vec<Node>) -> Workflow {
    Workflow {
        id: "t".into(),
        description: None,
        schedule: None,
        params: IndexMap::new(),
        engines: IndexMap::new(),
        nodes: nodes.into_iter().map(|n| (n.id.clone(), n)).collect(),
        path: PathBuf::from("/wf/workflow.yaml"),
        max_active_runs: None,
        run_strategy: Default::default(),
        on_failure: None,
        on_success: None,
        triggers: Vec::new(),
    }
}

fn engine(stub: Arc<Stub>, slots: usize, dir: &std::path::Path) -> (Engine, Arc<MemStore>) {
    let store = Arc::new(MemStore::default());
    let clock = Arc::new(FixedClock("2026-01-02T03:04:05Z".parse().unwrap()));
    let cfg = EngineConfig { data_dir: dir.to_path_buf(), slots, preview_rows: 5 };
    (Engine::new(store.clone(), Arc::new(stub), clock, cfg), store)
}

fn never() -> impl std::future::Future<Output = ()> {
    std::future::pending()
}

#[tokio::test(start_paused = true)]
async fn independent_nodes_run_in_parallel_up_to_the_slots() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub { delay: Duration::from_secs(1), ..Default::default() });
    let wf = workflow((0..6).map(|i| node(&format!("n{i}"), &[])).collect());
    let (e, _) = engine(stub.clone(), 3, dir.path());
    let out = e.run(&wf, RunRequest::default(), never()).await.unwrap();
    assert_eq!(out.run.status, RunStatus::Succeeded);
    assert_eq!(stub.peak.load(Ordering::SeqCst), 3);
    assert_eq!(stub.ran.lock().unwrap().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_chain_runs_in_order_and_outputs_flow() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub::default());
    let mut b = node("b", &["a"]);
    b.params.insert("x".into(), Template::literal(json!(21)));
    let wf = workflow(vec![node("a", &[]), b, node("c", &["b"])]);
    let (e, store) = engine(stub.clone(), 4, dir.path());
    let out = e.run(&wf, RunRequest { date: Some("2026-05-01".into()), ..Default::default() }, never()).await.unwrap();
    let order: Vec<String> = stub.ran.lock().unwrap().iter().map(|r| r.0.clone()).collect();
    assert_eq!(order, ["a", "b", "c"]);
    let b = out.nodes.iter().find(|n| n.node == "b").unwrap();
    assert_eq!(b.outputs["double"], json!(42));
    assert_eq!(b.attempts[0].params["x"], json!(21));
    // Everything the outcome says is in the store too.
    assert_eq!(store.nodes(&out.run.id).unwrap().len(), 3);
    assert_eq!(store.get_run(&out.run.id).unwrap().unwrap().status, RunStatus::Succeeded);
    assert_eq!(out.run.date, "2026-05-01");
}

#[tokio::test(start_paused = true)]
async fn retries_wait_their_delay_and_count_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = HashMap::new();
    script.insert("flaky".to_string(), vec![TaskStatus::Failed, TaskStatus::TimedOut, TaskStatus::Succeeded]);
    script.insert("hopeless".to_string(), vec![TaskStatus::Failed, TaskStatus::Failed]);
    script.insert("invalid".to_string(), vec![TaskStatus::Invalid]);
    let stub = Arc::new(Stub { script, ..Default::default() });
    let mut flaky = node("flaky", &[]);
    flaky.retries = 2;
    flaky.retry_delay = Duration::from_secs(30);
    let mut hopeless = node("hopeless", &[]);
    hopeless.retries = 1;
    let mut invalid = node("invalid", &[]);
    invalid.retries = 5;
    let wf = workflow(vec![flaky, hopeless, invalid, node("after", &["hopeless"])]);
    let (e, _) = engine(stub.clone(), 4, dir.path());
    let started = tokio::time::Instant::now();
    let out = e.run(&wf, RunRequest::default(), never()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(60), "two 30 s retry delays");
    let get = |id: &str| out.nodes.iter().find(|n| n.node == id).unwrap();
    assert_eq!(get("flaky").status, NodeStatus::Succeeded);
    assert_eq!(get("flaky").attempts.len(), 3);
    assert_eq!(get("flaky").attempts[0].status, NodeStatus::Failed);
    assert_eq!(get("hopeless").status, NodeStatus::Failed);
    assert_eq!(get("hopeless").attempts.len(), 2);
    assert_eq!(get("invalid").attempts.len(), 1, "an invalid task is not retried");
    assert_eq!(get("after").status, NodeStatus::UpstreamFailed);
    assert_eq!(out.run.status, RunStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn foreach_respects_its_parallelism_and_collects_lists_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub { delay: Duration::from_secs(1), ..Default::default() });
    let mut fan = node("fan", &[]);
    fan.foreach = Some(Template::literal(json!([5, 6, 7, 8, 9])));
    fan.foreach_parallel = 2;
    fan.params.insert("x".into(), Template::literal(json!(3)));
    let wf = workflow(vec![fan, node("join", &["fan"])]);
    let (e, _) = engine(stub.clone(), 8, dir.path());
    let out = e.run(&wf, RunRequest::default(), never()).await.unwrap();
    assert_eq!(stub.peak.load(Ordering::SeqCst), 2);
    let fan = out.nodes.iter().find(|n| n.node == "fan" && n.index.is_none()).unwrap();
    assert_eq!(fan.items, Some(5));
    assert_eq!(fan.outputs["attempt"], json!([1, 1, 1, 1, 1]));
    let idx: Vec<Option<usize>> = stub.ran.lock().unwrap().iter().filter(|r| r.0 == "fan").map(|r| r.1).collect();
    assert_eq!(idx, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(out.nodes.iter().filter(|n| n.node == "fan").count(), 6);
}

#[tokio::test(start_paused = true)]
async fn empty_foreach_succeeds_with_empty_lists() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub::default());
    let mut fan = node("fan", &[]);
    fan.foreach = Some(Template::literal(json!([])));
    fan.outputs = vec!["y".into()];
    let wf = workflow(vec![fan, node("join", &["fan"])]);
    let (e, _) = engine(stub.clone(), 2, dir.path());
    let out = e.run(&wf, RunRequest::default(), never()).await.unwrap();
    assert_eq!(out.run.status, RunStatus::Succeeded);
    assert_eq!(out.nodes[0].outputs["y"], json!([]));
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_running_work_and_marks_the_rest_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub { delay: Duration::from_secs(3600), ..Default::default() });
    let wf = workflow(vec![node("long", &[]), node("next", &["long"])]);
    let (e, store) = engine(stub.clone(), 2, dir.path());
    let out = e.run(&wf, RunRequest::default(), tokio::time::sleep(Duration::from_secs(5))).await.unwrap();
    assert_eq!(out.run.status, RunStatus::Cancelled);
    assert!(out.nodes.iter().all(|n| n.status == NodeStatus::Cancelled));
    assert_eq!(store.nodes(&out.run.id).unwrap()[0].attempts[0].status, NodeStatus::Cancelled);
    assert_eq!(stub.now.load(Ordering::SeqCst), 1, "the running attempt was dropped mid-flight");
}

#[tokio::test(start_paused = true)]
async fn a_lost_worker_is_retried_without_spending_retries() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = HashMap::new();
    script.insert("n".to_string(), vec![TaskStatus::Lost, TaskStatus::Lost, TaskStatus::Failed, TaskStatus::Succeeded]);
    let stub = Arc::new(Stub { script, ..Default::default() });
    let mut n = node("n", &[]);
    n.retries = 1;
    n.retry_delay = Duration::from_secs(10);
    let (e, _) = engine(stub.clone(), 2, dir.path());
    let started = tokio::time::Instant::now();
    let out = e.run(&workflow(vec![n]), RunRequest::default(), never()).await.unwrap();
    let n = &out.nodes[0];
    assert_eq!(n.status, NodeStatus::Succeeded);
    assert_eq!(n.attempts.iter().map(|a| a.lost).collect::<Vec<_>>(), [true, true, false, false]);
    assert!(started.elapsed() < Duration::from_secs(20), "lost attempts are re-dispatched at once, only the failure waits");
}

#[tokio::test(start_paused = true)]
async fn a_run_in_flight_resumes_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub::default());
    let wf = workflow(vec![node("a", &[]), node("b", &["a"]), node("c", &["b"])]);
    let (e, store) = engine(stub.clone(), 4, dir.path());
    let started = e.start(&wf, RunRequest::default()).await.unwrap();
    let run_id = started.run.id.clone();
    // As a coordinator killed mid-run left it: a done, b's first attempt running.
    let mut a = NodeRecord::new("a", None);
    a.status = NodeStatus::Succeeded;
    a.outputs.insert("x".into(), json!(7));
    store.put_node(&run_id, &a).unwrap();
    let mut b = NodeRecord::new("b", None);
    b.status = NodeStatus::Running;
    b.attempts.push(AttemptRecord { worker: Some("w1".into()), ..AttemptRecord::started(1, "2026-01-01T00:00:01Z".parse().unwrap()) });
    store.put_node(&run_id, &b).unwrap();
    let out = e.drive(&wf, &run_id, &[], never()).await.unwrap();
    assert_eq!(out.run.status, RunStatus::Succeeded);
    let ran: Vec<(String, u32)> = stub.ran.lock().unwrap().iter().map(|r| (r.0.clone(), r.2)).collect();
    assert_eq!(ran, [("b".to_string(), 1), ("c".to_string(), 1)], "a is not run again; b's attempt 1 is picked up, not duplicated");
    let b = out.nodes.iter().find(|n| n.node == "b").unwrap();
    assert_eq!(b.attempts.len(), 1);
    assert_eq!(b.attempts[0].worker.as_deref(), Some("w1"));
    assert_eq!(out.nodes[0].outputs["x"], json!(7));
}

#[tokio::test(start_paused = true)]
async fn rerun_from_failed_keeps_upstream_outputs_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = HashMap::new();
    script.insert("b".to_string(), vec![TaskStatus::Failed, TaskStatus::Succeeded]);
    let stub = Arc::new(Stub { script, ..Default::default() });
    let mut b = node("b", &["a"]);
    b.params.insert("x".into(), Template::literal(json!(5)));
    let wf = workflow(vec![node("a", &[]), b, node("c", &["b"]), node("side", &[])]);
    let (e, _) = engine(stub.clone(), 4, dir.path());
    let first = e.run(&wf, RunRequest::default(), never()).await.unwrap();
    assert_eq!(first.run.status, RunStatus::Failed);
    let again = e.prepare_rerun(&wf, &first.run.id, true, &[]).await.unwrap();
    assert_eq!(again.run.attempt, 2);
    let out = e.drive(&wf, &first.run.id, &again.secret_env, never()).await.unwrap();
    assert_eq!(out.run.status, RunStatus::Succeeded);
    assert_eq!(out.run.id, first.run.id, "a rerun is the same run");
    let ran: Vec<String> = stub.ran.lock().unwrap().iter().map(|r| r.0.clone()).collect();
    assert_eq!(ran.iter().filter(|n| *n == "a").count(), 1, "succeeded nodes are kept: {ran:?}");
    assert_eq!(ran.iter().filter(|n| *n == "side").count(), 1);
    let get = |id: &str| out.nodes.iter().find(|n| n.node == id).unwrap();
    assert_eq!(get("a").attempts[0].outputs["attempt"], json!(1));
    let b = get("b");
    assert_eq!(b.attempts.iter().map(|a| (a.n, a.run_attempt, a.status)).collect::<Vec<_>>(), [(1, 1, NodeStatus::Failed), (2, 2, NodeStatus::Succeeded)]);
    assert_eq!(b.outputs["double"], json!(10));
    assert_eq!(get("c").status, NodeStatus::Succeeded);
    // A running run cannot be rerun.
    let started = e.start(&wf, RunRequest::default()).await.unwrap();
    assert!(matches!(e.prepare_rerun(&wf, &started.run.id, true, &[]).await, Err(crate::Error::Conflict(_))));
}

#[tokio::test(start_paused = true)]
async fn a_foreach_over_too_many_items_fails_instead_of_fanning_out() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub::default());
    let mut fan = node("fan", &[]);
    let items: Vec<Value> = (0..=crate::engine::MAX_FOREACH_ITEMS).map(|i| json!(i)).collect();
    fan.foreach = Some(Template::literal(Value::Array(items)));
    let (e, _) = engine(stub.clone(), 4, dir.path());
    let out = e.run(&workflow(vec![fan]), RunRequest::default(), never()).await.unwrap();
    assert_eq!(out.nodes[0].status, NodeStatus::Failed);
    assert!(out.nodes[0].error.as_deref().unwrap().contains("at most 10000"), "{:?}", out.nodes[0].error);
    assert!(stub.ran.lock().unwrap().is_empty());
}

mod dag_model {
    //! Whole runs against a reference model: random DAGs, trigger rules, `when`
    //! skips and scripted failures; the engine must settle every node exactly as
    //! the model, written independently of `trigger::decide`, says.

    use super::*;
    use deckle_dsl::Expr;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Spec {
        needs: Vec<usize>,
        rule: TriggerRule,
        skip_by_when: bool,
        fails: bool,
    }

    fn spec(i: usize) -> impl Strategy<Value = Spec> {
        let rules = prop_oneof![
            Just(TriggerRule::AllSuccess),
            Just(TriggerRule::AllDone),
            Just(TriggerRule::OneSuccess),
            Just(TriggerRule::NoneFailed)
        ];
        (proptest::collection::vec(any::<bool>(), i), rules, proptest::bool::weighted(0.2), proptest::bool::weighted(0.25)).prop_map(
            |(pick, rule, skip_by_when, fails)| Spec {
                needs: pick.iter().enumerate().filter(|(_, p)| **p).map(|(j, _)| j).collect(),
                rule,
                skip_by_when,
                fails,
            },
        )
    }

    fn dag() -> impl Strategy<Value = Vec<Spec>> {
        (1usize..8).prop_flat_map(|n| (0..n).map(spec).collect::<Vec<_>>())
    }

    /// The expected final status of every node.
    fn model(specs: &[Spec]) -> Vec<NodeStatus> {
        let mut out: Vec<NodeStatus> = Vec::new();
        for s in specs {
            let up: Vec<NodeStatus> = s.needs.iter().map(|&j| out[j]).collect();
            let ok = up.iter().filter(|u| **u == NodeStatus::Succeeded).count();
            let bad = up.iter().filter(|u| matches!(u, NodeStatus::Failed | NodeStatus::UpstreamFailed)).count();
            let runs = match s.rule {
                TriggerRule::AllDone => true,
                TriggerRule::AllSuccess => ok == up.len(),
                TriggerRule::OneSuccess => ok > 0 || up.is_empty(),
                TriggerRule::NoneFailed => bad == 0,
            };
            let status = match runs {
                true if s.skip_by_when => NodeStatus::Skipped,
                true if s.fails => NodeStatus::Failed,
                true => NodeStatus::Succeeded,
                _ if bad > 0 => NodeStatus::UpstreamFailed,
                _ if s.rule == TriggerRule::NoneFailed => unreachable!("none_failed runs without failures"),
                _ => NodeStatus::Skipped,
            };
            out.push(status);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn engine_settles_every_node_as_the_model_says(specs in dag()) {
            let dir = tempfile::tempdir().unwrap();
            let mut script = HashMap::new();
            let nodes: Vec<Node> = specs.iter().enumerate().map(|(i, s)| {
                let id = format!("n{i}");
                if s.fails {
                    script.insert(id.clone(), vec![TaskStatus::Failed]);
                }
                let needs: Vec<String> = s.needs.iter().map(|j| format!("n{j}")).collect();
                let needs: Vec<&str> = needs.iter().map(String::as_str).collect();
                let mut n = node(&id, &needs);
                n.trigger = s.rule;
                if s.skip_by_when {
                    n.when = Some(Expr::parse("1 > 2").unwrap());
                }
                n
            }).collect();
            let stub = Arc::new(Stub { script, ..Default::default() });
            let (e, _) = engine(stub.clone(), 3, dir.path());
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let out = rt.block_on(e.run(&workflow(nodes), RunRequest::default(), never())).unwrap();
            let got: Vec<NodeStatus> = (0..specs.len()).map(|i| out.nodes.iter().find(|n| n.node == format!("n{i}")).unwrap().status).collect();
            prop_assert_eq!(&got, &model(&specs));
            let ran = stub.ran.lock().unwrap().len();
            let expected_ran = got.iter().filter(|s| matches!(s, NodeStatus::Succeeded | NodeStatus::Failed)).count();
            prop_assert_eq!(ran, expected_ran, "only nodes that ran were dispatched");
            let failed = got.iter().any(|s| matches!(s, NodeStatus::Failed | NodeStatus::UpstreamFailed));
            prop_assert_eq!(out.run.status, if failed { RunStatus::Failed } else { RunStatus::Succeeded });
        }
    }
}

/// Issue 14: the retry delay was an in-memory sleep, so a server killed 5 s after a
/// failure started the retry at once on restart instead of at +60 s.
#[tokio::test(start_paused = true)]
async fn a_retry_delay_is_honoured_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = HashMap::new();
    script.insert("flaky".to_string(), vec![TaskStatus::Failed, TaskStatus::Succeeded]);
    let stub = Arc::new(Stub { script, ..Default::default() });
    let mut flaky = node("flaky", &[]);
    flaky.retries = 2;
    flaky.retry_delay = Duration::from_secs(60);
    let wf = workflow(vec![flaky]);
    let store = Arc::new(MemStore::default());
    let t0: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
    let clock = Arc::new(crate::clock::ManualClock::new(t0));
    let cfg = EngineConfig { data_dir: dir.path().to_path_buf(), slots: 2, preview_rows: 5 };
    let first = Engine::new(store.clone(), Arc::new(stub.clone()), clock.clone(), cfg.clone());
    let started = first.start(&wf, RunRequest::default()).await.unwrap();
    let run_id = started.run.id.clone();
    let (wf1, id1) = (wf.clone(), run_id.clone());
    let drive = tokio::spawn(async move { first.drive(&wf1, &id1, &[], never()).await });
    // Attempt 1 fails at t0; the server dies 5 s later.
    tokio::time::sleep(Duration::from_secs(5)).await;
    drive.abort();
    let _ = drive.await;
    let rec = store.nodes(&run_id).unwrap().into_iter().find(|n| n.node == "flaky").unwrap();
    assert_eq!(rec.status, NodeStatus::Retrying);
    assert_eq!(rec.retry_at.map(|t| t.to_string()).as_deref(), Some("2026-01-02T03:05:05Z"), "the due time is stored with the node");
    // A new server process, 5 s later by the clock.
    clock.set("2026-01-02T03:04:10Z".parse().unwrap());
    let second = Engine::new(store.clone(), Arc::new(stub.clone()), clock.clone(), cfg);
    let restarted = tokio::time::Instant::now();
    let out = second.drive(&wf, &run_id, &[], never()).await.unwrap();
    let waited = restarted.elapsed();
    assert!(waited >= Duration::from_secs(55) && waited < Duration::from_secs(56), "attempt 2 waits the 55 s left of its delay, not {waited:?}");
    assert_eq!(out.run.status, RunStatus::Succeeded);
    let flaky = &out.nodes[0];
    assert_eq!(flaky.attempts.iter().map(|a| a.n).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(flaky.retry_at, None, "cleared once the retry starts");
}

/// A retry whose due time passed while the server was down starts at once.
#[tokio::test(start_paused = true)]
async fn a_retry_due_during_downtime_starts_at_once_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let stub = Arc::new(Stub::default());
    let mut flaky = node("flaky", &[]);
    flaky.retries = 1;
    flaky.retry_delay = Duration::from_secs(60);
    let wf = workflow(vec![flaky]);
    let (e, store) = engine(stub.clone(), 2, dir.path());
    let started = e.start(&wf, RunRequest::default()).await.unwrap();
    let mut rec = NodeRecord::new("flaky", None);
    rec.status = NodeStatus::Retrying;
    rec.retry_at = Some("2026-01-02T03:00:00Z".parse().unwrap()); // before the engine's clock
    rec.attempts.push(AttemptRecord {
        n: 1,
        status: NodeStatus::Failed,
        started_at: "2026-01-02T02:59:00Z".parse().unwrap(),
        ended_at: Some("2026-01-02T02:59:00Z".parse().unwrap()),
        duration_secs: Some(0.0),
        params: Map::new(),
        outputs: Map::new(),
        error: Some("boom".into()),
        notebook: None,
        worker: None,
        lost: false,
        run_attempt: 1,
    });
    store.put_node(&started.run.id, &rec).unwrap();
    let t = tokio::time::Instant::now();
    let out = e.drive(&wf, &started.run.id, &[], never()).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "no second wait: {:?}", t.elapsed());
    assert_eq!(out.nodes[0].attempts.len(), 2);
    assert_eq!(out.run.status, RunStatus::Succeeded);
}

/// Issue 14: a rerun overwrote the run's `started_at`; the first start stays and each
/// run attempt's start is recorded.
#[tokio::test(start_paused = true)]
async fn a_rerun_keeps_the_run_s_first_start_and_records_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = HashMap::new();
    script.insert("a".to_string(), vec![TaskStatus::Failed, TaskStatus::Succeeded]);
    let stub = Arc::new(Stub { script, ..Default::default() });
    let wf = workflow(vec![node("a", &[])]);
    let store = Arc::new(MemStore::default());
    let clock = Arc::new(crate::clock::ManualClock::new("2026-01-02T03:00:00Z".parse().unwrap()));
    let cfg = EngineConfig { data_dir: dir.path().to_path_buf(), slots: 2, preview_rows: 5 };
    let e = Engine::new(store.clone(), Arc::new(stub), clock.clone(), cfg);
    let first = e.run(&wf, RunRequest::default(), never()).await.unwrap();
    assert_eq!(first.run.status, RunStatus::Failed);
    assert!(first.run.attempts_started_at.is_empty());
    clock.set("2026-01-02T04:00:00Z".parse().unwrap());
    let again = e.prepare_rerun(&wf, &first.run.id, true, &[]).await.unwrap();
    let out = e.drive(&wf, &again.run.id, &again.secret_env, never()).await.unwrap();
    assert_eq!(out.run.status, RunStatus::Succeeded);
    assert_eq!(out.run.started_at.to_string(), "2026-01-02T03:00:00Z", "the first start is kept");
    assert_eq!(out.run.attempts_started_at.iter().map(|t| t.to_string()).collect::<Vec<_>>(), ["2026-01-02T03:00:00Z", "2026-01-02T04:00:00Z"]);
    assert_eq!(out.run.attempt_started_at().to_string(), "2026-01-02T04:00:00Z");
}

/// `drive` declared a `run_id` span field and never recorded it: the main run span
/// carried no run id, so a run's log lines could not be told apart.
#[tokio::test]
async fn the_drive_span_carries_the_run_id() {
    use tracing_subscriber::layer::{Context as LayerCtx, SubscriberExt};

    #[derive(Default)]
    struct Fields(Arc<Mutex<Vec<String>>>);
    struct Visit<'a>(&'a mut Vec<String>);
    impl tracing::field::Visit for Visit<'_> {
        fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
            self.0.push(format!("{}={v:?}", f.name()));
        }
        fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
            self.0.push(format!("{}={v}", f.name()));
        }
    }
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Fields {
        fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, _: &tracing::span::Id, _: LayerCtx<'_, S>) {
            if attrs.metadata().name() == "drive" {
                attrs.record(&mut Visit(&mut self.0.lock().unwrap()));
            }
        }
        fn on_record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>, _: LayerCtx<'_, S>) {
            values.record(&mut Visit(&mut self.0.lock().unwrap()));
        }
    }
    // The process-wide subscriber, not a scoped one: with a scoped subscriber,
    // another test's thread hitting the `drive` callsite first could cache "no
    // subscriber wants this span" for every thread (it failed that way under load,
    // even after rebuilding the interest cache). Spans of other tests land here
    // too; this test looks for its own run id only.
    static SEEN: std::sync::OnceLock<Arc<Mutex<Vec<String>>>> = std::sync::OnceLock::new();
    let seen = SEEN
        .get_or_init(|| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Fields(seen.clone()))).expect("no other test sets the global subscriber");
            tracing::callsite::rebuild_interest_cache();
            seen
        })
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(Arc::new(Stub::default()), 1, dir.path());
    let out = e.run(&workflow(vec![node("a", &[])]), RunRequest::default(), never()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains(&format!("run_id={}", out.run.id)), "{seen:?}");
}
