//! The worker loop against a stub coordinator (a tiny axum server in the test)
//! that hands out one lease for a real notebook, run on a real kernel from the
//! repository's `.venv` (`scripts/setup.sh --test`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use deckle_protocol::api::{ApiError, HeartbeatReply, Lease, LeaseRequest};
use deckle_protocol::task::{Task, TaskKind, TaskResult, TaskStatus};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

use super::cache::sha256_hex;
use super::{run_worker, WorkerConfig};
use crate::error::Error;

const LEASE: &str = "lease-1";
const TTL: f64 = 1.5;

#[derive(Debug, Clone)]
enum Event {
    Poll(LeaseRequest),
    Heartbeat,
    Upload { input: bool, nb: Value },
    Complete(TaskResult),
}

/// How heartbeats are answered once the test's trigger file exists.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    Fine,
    Conflict,
    Cancel,
}

struct Stub {
    token: Option<String>,
    lease: Mutex<Option<Lease>>,
    blobs: HashMap<String, Vec<u8>>,
    trigger: PathBuf,
    then: Then,
    events: Mutex<Vec<Event>>,
    changed: Notify,
}

impl Stub {
    fn record(&self, e: Event) {
        self.events.lock().unwrap().push(e);
        self.changed.notify_waiters();
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// A 401 unless the request carries the token.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let token = self.token.as_ref()?;
        let sent = headers.get("authorization").and_then(|v| v.to_str().ok());
        (sent != Some(&format!("Bearer {token}")))
            .then(|| api_error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token"))
    }

    /// Wait until `pred` holds of the events, for at most `secs`.
    async fn wait_for(&self, secs: u64, what: &str, pred: impl Fn(&[Event]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let notified = self.changed.notified();
            if pred(&self.events()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}; events: {:#?}", self.events());
            }
        }
    }
}

fn api_error(status: StatusCode, code: &str, error: &str) -> Response {
    (status, Json(ApiError { error: error.into(), code: code.into(), details: vec![] })).into_response()
}

type S = State<Arc<Stub>>;

async fn leases(State(s): S, headers: HeaderMap, Json(req): Json<LeaseRequest>) -> Response {
    if let Some(r) = s.refuse(&headers) {
        return r;
    }
    let wait = req.wait_secs;
    s.record(Event::Poll(req));
    let granted = s.lease.lock().unwrap().take();
    match granted {
        Some(l) => Json(vec![l]).into_response(),
        None => {
            tokio::time::sleep(Duration::from_secs_f64(wait.min(30.0))).await;
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn blob(State(s): S, headers: HeaderMap, axum::extract::Path(hash): axum::extract::Path<String>) -> Response {
    if let Some(r) = s.refuse(&headers) {
        return r;
    }
    match s.blobs.get(&hash) {
        Some(b) => b.clone().into_response(),
        None => api_error(StatusCode::NOT_FOUND, "not_found", "no such blob"),
    }
}

async fn heartbeat(State(s): S, headers: HeaderMap) -> Response {
    if let Some(r) = s.refuse(&headers) {
        return r;
    }
    s.record(Event::Heartbeat);
    let then = if s.trigger.exists() { s.then } else { Then::Fine };
    match then {
        Then::Conflict => api_error(StatusCode::CONFLICT, "stale_lease", "lease expired"),
        _ => Json(HeartbeatReply { cancel: then == Then::Cancel, ttl_secs: TTL }).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct UploadQuery {
    #[serde(default)]
    input: bool,
}

async fn upload(State(s): S, headers: HeaderMap, Query(q): Query<UploadQuery>, body: axum::body::Bytes) -> Response {
    if let Some(r) = s.refuse(&headers) {
        return r;
    }
    match serde_json::from_slice(&body) {
        Ok(nb) => {
            s.record(Event::Upload { input: q.input, nb });
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => api_error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()),
    }
}

async fn complete(State(s): S, headers: HeaderMap, Json(r): Json<TaskResult>) -> Response {
    if let Some(r) = s.refuse(&headers) {
        return r;
    }
    s.record(Event::Complete(r));
    StatusCode::NO_CONTENT.into_response()
}

async fn serve(stub: Arc<Stub>) -> String {
    let app = Router::new()
        .route("/api/v1/leases", post(leases))
        .route("/api/v1/blobs/{hash}", get(blob))
        .route("/api/v1/leases/{id}/heartbeat", post(heartbeat))
        .route("/api/v1/leases/{id}/notebook", put(upload))
        .route("/api/v1/leases/{id}/complete", post(complete))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn venv() -> PathBuf {
    let v = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv");
    assert!(
        v.join("share/jupyter/kernels/python3/kernel.json").is_file() || v.join("bin/python").exists(),
        "the test venv is missing at {}: run `scripts/setup.sh --test`",
        v.display()
    );
    v
}

fn notebook(cells: &[(&str, bool)]) -> Vec<u8> {
    let cells: Vec<Value> = cells
        .iter()
        .enumerate()
        .map(|(i, (src, parameters))| {
            let tags: Vec<&str> = if *parameters { vec!["parameters"] } else { vec![] };
            json!({"cell_type": "code", "execution_count": null, "id": format!("c{i}"),
                   "metadata": {"tags": tags}, "outputs": [], "source": src})
        })
        .collect();
    let nb = json!({"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                    "nbformat": 4, "nbformat_minor": 5});
    serde_json::to_vec_pretty(&nb).unwrap()
}

struct Setup {
    stub: Arc<Stub>,
    cfg: WorkerConfig,
    _dir: tempfile::TempDir,
    trigger: PathBuf,
}

/// A stub serving one lease of `nb` with `params`, declaring `outputs`.
async fn setup(nb: Vec<u8>, params: Value, outputs: &[&str], then: Then, token: Option<&str>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let trigger = dir.path().join("trigger");
    let hash = sha256_hex(&nb);
    let mut params = params.as_object().cloned().unwrap_or_default();
    params.insert("trigger".into(), json!(trigger.display().to_string()));
    let task = Task {
        run_id: "run-1".into(),
        workflow: "wf".into(),
        node: "n".into(),
        index: None,
        attempt: 1,
        kind: TaskKind::Notebook { path: "n.ipynb".into(), hash: Some(hash.clone()) },
        params,
        secret_env: vec![],
        secret_params: vec![],
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        kernel: None,
        timeout_secs: Some(120.0),
        output_path: "/server/side/n.1.ipynb".into(),
        input_copy_path: None,
        cwd: Some("/server/side".into()),
        labels: vec![],
    };
    let lease = Lease { id: LEASE.into(), ttl_secs: TTL, task, secret_env: Default::default() };
    let stub = Arc::new(Stub {
        token: token.map(str::to_string),
        lease: Mutex::new(Some(lease)),
        blobs: [(hash, nb)].into(),
        trigger: trigger.clone(),
        then,
        events: Mutex::default(),
        changed: Notify::new(),
    });
    let server = serve(stub.clone()).await;
    let mut cfg = WorkerConfig::new(server, dir.path().join("cache"));
    cfg.name = "test-worker".into();
    cfg.labels = vec!["py".into()];
    cfg.lease_wait = Duration::from_secs(1);
    cfg.token = token.map(str::to_string);
    cfg.search_env = Some([("VIRTUAL_ENV".to_string(), venv().display().to_string())].into());
    Setup { stub, cfg, _dir: dir, trigger }
}

/// The first cell writes the kernel's pid to the trigger file.
const WRITE_PID: &str = "import os, time\nopen(trigger + '.tmp', 'w').write(str(os.getpid()))\nos.rename(trigger + '.tmp', trigger)";

fn kernel_pid(trigger: &Path) -> i32 {
    std::fs::read_to_string(trigger).unwrap().trim().parse().unwrap()
}

/// Gone, or a zombie waiting to be reaped.
fn process_is_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

async fn wait_gone(pid: i32) {
    for _ in 0..100 {
        if process_is_gone(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kernel {pid} still running 10 s after the worker should have stopped it");
}

/// A worker running in the background until stopped.
struct Running {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<crate::Result<()>>,
}

impl Running {
    fn start(cfg: WorkerConfig) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(run_worker(cfg, async {
            let _ = stopped.await;
        }));
        Running { stop, handle }
    }

    /// Ask for shutdown; the worker must return `Ok` within `secs`.
    async fn stop(self, secs: u64) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(secs), self.handle).await.expect("worker stops").unwrap().unwrap();
    }
}

fn uploads(events: &[Event]) -> Vec<&Value> {
    events.iter().filter_map(|e| if let Event::Upload { input: false, nb } = e { Some(nb) } else { None }).collect()
}

fn completion(events: &[Event]) -> Option<&TaskResult> {
    events.iter().find_map(|e| if let Event::Complete(r) = e { Some(r) } else { None })
}

fn cell_statuses(nb: &Value) -> Vec<String> {
    nb["cells"].as_array().unwrap().iter().map(|c| c["metadata"]["papermill"]["status"].as_str().unwrap_or("").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_lease_heartbeating_uploading_partial_and_final_notebooks_then_completes() {
    let nb = notebook(&[
        ("n = 1", true),
        (WRITE_PID, false),
        ("time.sleep(1.2)\nx = n * 42", false),
        ("time.sleep(1.2)\nprint('done')", false),
    ]);
    let s = setup(nb, json!({"n": 2}), &["x"], Then::Fine, Some("sekrit")).await;
    let worker = Running::start(s.cfg.clone());
    s.stub.wait_for(60, "the completion", |e| completion(e).is_some()).await;
    let events = s.stub.events();
    let result = completion(&events).unwrap().clone();
    assert_eq!(result.status, TaskStatus::Succeeded, "{result:?}");
    assert_eq!(result.outputs.get("x"), Some(&json!(84)), "{result:?}");
    assert!(result.notebook_written);
    assert!(result.error.is_none());

    let heartbeats = events.iter().filter(|e| matches!(e, Event::Heartbeat)).count();
    assert!(heartbeats >= 2, "a 2.4 s notebook with a {TTL} s TTL: {heartbeats} heartbeats");

    let ups = uploads(&events);
    assert!(ups.len() >= 2, "partial and final uploads: {}", ups.len());
    let partial = ups[0];
    assert!(cell_statuses(partial).iter().any(|st| st == "running" || st == "pending"), "{:?}", cell_statuses(partial));
    let last = ups.last().unwrap();
    assert_eq!(cell_statuses(last), vec!["completed"; 5], "injected-parameters cell + 4");
    assert!(last.to_string().contains("done"));
    // The final upload came before the completion.
    let last_up = events.iter().rposition(|e| matches!(e, Event::Upload { .. })).unwrap();
    let done_at = events.iter().position(|e| matches!(e, Event::Complete(_))).unwrap();
    assert!(last_up < done_at);

    // The long-polls asked for the free slot with the worker's name and labels,
    // never more than one at a time (none while the slot was busy).
    let polls: Vec<&LeaseRequest> = events.iter().filter_map(|e| if let Event::Poll(r) = e { Some(r) } else { None }).collect();
    assert_eq!(polls[0].worker, "test-worker");
    assert_eq!(polls[0].labels, vec!["py".to_string()]);
    assert_eq!(polls[0].max, 1);
    let first_hb = events.iter().position(|e| matches!(e, Event::Heartbeat)).unwrap();
    assert!(
        !events[first_hb..done_at].iter().any(|e| matches!(e, Event::Poll(_))),
        "no long-poll while the only slot was busy"
    );
    worker.stop(10).await;
    // The scratch directory is gone; the notebook is cached by hash.
    let cache = s.cfg.cache_dir.clone();
    assert_eq!(std::fs::read_dir(cache.join("leases")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(cache.join("blobs")).unwrap().count(), 1);
    wait_gone(kernel_pid(&s.trigger)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_on_heartbeat_stops_the_kernel_and_nothing_is_completed() {
    let nb = notebook(&[(WRITE_PID, false), ("time.sleep(60)", false)]);
    let s = setup(nb, json!({}), &[], Then::Conflict, None).await;
    let worker = Running::start(s.cfg.clone());
    // The kernel is running the long cell; the next heartbeat gets a 409.
    let trigger = s.trigger.clone();
    s.stub.wait_for(60, "the kernel to start", move |_| trigger.exists()).await;
    let pid = kernel_pid(&s.trigger);
    wait_gone(pid).await;
    // The worker went back to asking for work, and never completed the attempt.
    s.stub
        .wait_for(10, "a new long-poll", |e| {
            let hb = e.iter().position(|e| matches!(e, Event::Heartbeat)).unwrap_or(usize::MAX);
            e.iter().skip(hb).any(|e| matches!(e, Event::Poll(_)))
        })
        .await;
    assert!(completion(&s.stub.events()).is_none());
    worker.stop(10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeps_what_ran_and_marks_the_cell_and_notebook_cancelled() {
    // The server says cancel once the trigger file exists: written after the print,
    // so what the cell printed is on its way before the cancel can come.
    let working = format!("print('working', flush=True)\n{WRITE_PID}\ntime.sleep(60)");
    let nb = notebook(&[("import time", false), (&working, false), ("print('never')", false)]);
    let s = setup(nb, json!({}), &[], Then::Cancel, None).await;
    let worker = Running::start(s.cfg.clone());
    s.stub.wait_for(60, "the completion", |e| completion(e).is_some()).await;
    wait_gone(kernel_pid(&s.trigger)).await;
    let events = s.stub.events();
    let result = completion(&events).unwrap();
    assert_eq!(result.status, TaskStatus::Cancelled, "{result:?}");
    assert!(result.notebook_written);
    let last = *uploads(&events).last().expect("the final notebook");
    let mut last = last.clone();
    crate::notebook::rejoin_lines(&mut last);
    let cells = last["cells"].as_array().unwrap();
    let cut = cells.iter().find(|c| c["source"].as_str().is_some_and(|s| s.contains("working"))).expect("the cut-short cell");
    assert_eq!(cut["metadata"]["papermill"]["status"], "failed", "{cut:#}");
    assert_eq!(cut["outputs"][0]["text"], "working\n", "what it printed before the cancel is kept");
    let err = cut["outputs"].as_array().unwrap().iter().find(|o| o["output_type"] == "error").expect("a cancel marker");
    assert_eq!(err["ename"], "Cancelled");
    assert!(err["evalue"].as_str().unwrap().contains("cancelled through the server"), "{err:#}");
    let never = cells.iter().find(|c| c["source"] == "print('never')").unwrap();
    assert_eq!(never["metadata"]["papermill"]["status"], "pending");
    assert_eq!(last["metadata"]["deckle"]["stopped"]["reason"], "Cancelled");
    assert!(last["metadata"]["papermill"]["end_time"].is_string());
    assert_eq!(cells[0]["metadata"]["tags"], json!(["papermill-error-cell-tag"]), "papermill's error cells point at it");
    worker.stop(10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_running_attempt_drain_then_hands_it_back_as_lost() {
    let nb = notebook(&[(WRITE_PID, false), ("time.sleep(60)", false)]);
    let s = setup(nb, json!({}), &[], Then::Fine, None).await;
    let mut cfg = s.cfg.clone();
    cfg.drain = Duration::from_millis(500);
    let worker = Running::start(cfg);
    let trigger = s.trigger.clone();
    s.stub.wait_for(60, "the kernel to start", move |_| trigger.exists()).await;
    worker.stop(20).await;
    wait_gone(kernel_pid(&s.trigger)).await;
    let events = s.stub.events();
    let result = completion(&events).expect("handed back");
    assert_eq!(result.status, TaskStatus::Lost, "{result:?}");
    assert!(result.error.as_deref().unwrap_or("").contains("shut down"), "{result:?}");
    let last = *uploads(&events).last().expect("the notebook as it stopped");
    assert_eq!(last["metadata"]["deckle"]["stopped"]["reason"], "WorkerShutdown", "{:#}", last["metadata"]);
    assert!(cell_statuses(last).contains(&"failed".to_string()), "{:?}", cell_statuses(last));
}

#[tokio::test]
async fn a_refused_token_ends_the_worker_with_unauthorized() {
    let s = setup(notebook(&[("1", false)]), json!({}), &[], Then::Fine, Some("right")).await;
    let mut cfg = s.cfg.clone();
    cfg.token = Some("wrong".into());
    let err = tokio::time::timeout(Duration::from_secs(10), run_worker(cfg, std::future::pending()))
        .await
        .expect("returns at once")
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert_eq!(err.exit_code(), crate::error::exit::BAD_INPUT);
    assert!(err.to_string().contains("missing or wrong bearer token"), "{err}");
}
