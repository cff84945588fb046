//! The lease board without HTTP: grants, labels, fencing, expiry, abandonment and
//! reattaching after a restart.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use crate::executor::{Executor, Task, TaskKind, TaskResult, TaskStatus};
use crate::health::StorageHealth;
use crate::lease::{LeaseBoard, RemoteExecutor};
use crate::metrics::Metrics;
use crate::store::{MemStore, StateStore};
use crate::Error;

fn task(node: &str, labels: &[&str], notebook: &std::path::Path) -> Task {
    Task {
        run_id: "r1".into(),
        workflow: "w".into(),
        node: node.into(),
        index: None,
        attempt: 1,
        kind: TaskKind::Notebook { path: notebook.to_string_lossy().into_owned(), hash: None },
        params: Default::default(),
        secret_env: vec![("DECKLE_SECRET_K".into(), "v".into())],
        secret_params: vec![],
        outputs: vec![],
        kernel: None,
        timeout_secs: None,
        output_path: notebook.with_extension("out.ipynb").to_string_lossy().into_owned(),
        input_copy_path: None,
        cwd: None,
        labels: labels.iter().map(|s| s.to_string()).collect(),
    }
}

fn ok() -> TaskResult {
    TaskResult { status: TaskStatus::Succeeded, outputs: Default::default(), error: None, notebook_written: true, duration_secs: 1.0, worker: None }
}

struct Fixture {
    _dir: tempfile::TempDir,
    notebook: std::path::PathBuf,
    store: Arc<MemStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let notebook = dir.path().join("nb.ipynb");
    std::fs::write(&notebook, "{}").unwrap();
    Fixture { _dir: dir, notebook, store: Arc::new(MemStore::default()) }
}

fn board(store: &Arc<MemStore>, ttl: Duration) -> Arc<LeaseBoard> {
    board_with(store, ttl, Arc::default())
}

fn board_with(store: &Arc<MemStore>, ttl: Duration, health: Arc<StorageHealth>) -> Arc<LeaseBoard> {
    LeaseBoard::load(store.clone(), ttl, Arc::new(Metrics::default()), health, Arc::new(crate::clock::SystemClock), &std::env::temp_dir()).unwrap()
}

#[tokio::test]
async fn a_storage_fault_grants_nothing_and_detaches_dropped_attempts_for_the_resumed_drive() {
    let f = fixture();
    let health = Arc::new(StorageHealth::default());
    let b = board_with(&f.store, Duration::from_secs(30), health.clone());
    let exec = RemoteExecutor(b.clone());
    let running = exec.run(task("running", &[], &f.notebook));
    let l = b.take("w1", &[], 1, Duration::ZERO).await.unwrap().remove(0);
    let queued = exec.run(task("queued", &[], &f.notebook));
    health.set("disk full");
    assert!(b.take("w1", &[], 8, Duration::from_millis(50)).await.unwrap().is_empty(), "no grant while nothing can be stored");
    // The drive stops on the storage error: its futures are dropped.
    drop(running);
    drop(queued);
    assert!(!b.heartbeat(&l.id).unwrap().cancel, "the running attempt is not cancelled");
    assert_eq!(b.queue_depth(), 1, "the queued attempt stays queued");
    health.clear();
    // The resumed drive reattaches to both.
    let running = exec.resume(task("running", &[], &f.notebook));
    let queued = exec.resume(task("queued", &[], &f.notebook));
    let l2 = b.take("w2", &[], 8, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(l2.task.node, "queued");
    b.complete(&l.id, ok()).await.unwrap();
    b.complete(&l2.id, ok()).await.unwrap();
    assert_eq!(running.await.worker.as_deref(), Some("w1"), "the first worker's result reaches the resumed drive");
    assert_eq!(queued.await.status, TaskStatus::Succeeded);
}

#[tokio::test]
async fn a_grant_is_durable_carries_the_hash_and_secrets_and_respects_labels() {
    let f = fixture();
    let b = board(&f.store, Duration::from_secs(30));
    let exec = RemoteExecutor(b.clone());
    let gpu = exec.run(task("gpu", &["gpu"], &f.notebook));
    let plain = exec.run(task("plain", &[], &f.notebook));
    let got = b.take("cpu-worker", &[], 8, Duration::ZERO).await.unwrap();
    assert_eq!(got.iter().map(|l| l.task.node.as_str()).collect::<Vec<_>>(), ["plain"], "an unlabelled worker does not get the gpu node");
    assert_eq!(f.store.leases().unwrap().len(), 1, "granted leases are stored");
    let TaskKind::Notebook { hash: Some(h), .. } = &got[0].task.kind else { panic!("no hash") };
    assert_eq!(h, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "sha256 of the notebook");
    assert_eq!(got[0].secret_env.get("DECKLE_SECRET_K").map(String::as_str), Some("v"));
    let got_gpu = b.take("gpu-worker", &["gpu".into(), "x".into()], 8, Duration::ZERO).await.unwrap();
    assert_eq!(got_gpu.len(), 1);
    b.complete(&got[0].id, ok()).await.unwrap();
    let r = plain.await;
    assert_eq!((r.status, r.worker.as_deref()), (TaskStatus::Succeeded, Some("cpu-worker")), "the worker is taken from the lease");
    assert!(matches!(b.complete(&got[0].id, ok()).await, Err(Error::StaleLease(_))), "a second completion is refused");
    drop(gpu);
}

#[tokio::test]
async fn an_expired_lease_ends_the_attempt_lost_and_fences_its_worker() {
    let f = fixture();
    let b = board(&f.store, Duration::from_millis(200));
    let fut = RemoteExecutor(b.clone()).run(task("n", &[], &f.notebook));
    let l = b.take("w1", &[], 1, Duration::ZERO).await.unwrap().remove(0);
    b.heartbeat(&l.id).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.expire(), 1);
    let r = fut.await;
    assert_eq!(r.status, TaskStatus::Lost);
    assert_eq!(r.worker.as_deref(), Some("w1"));
    assert!(matches!(b.heartbeat(&l.id), Err(Error::StaleLease(_))));
    assert!(matches!(b.upload(&l.id, false, b"{}").await, Err(Error::StaleLease(_))));
    assert!(matches!(b.complete(&l.id, ok()).await, Err(Error::StaleLease(_))));
    assert!(f.store.leases().unwrap().is_empty(), "the expired lease is dropped from the store");
}

#[tokio::test]
async fn dropping_an_attempt_takes_it_off_the_queue_or_asks_its_worker_to_stop() {
    let f = fixture();
    let b = board(&f.store, Duration::from_secs(30));
    let exec = RemoteExecutor(b.clone());
    let queued = exec.run(task("queued", &["nobody"], &f.notebook));
    let running = exec.run(task("running", &[], &f.notebook));
    let l = b.take("w1", &[], 8, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(b.queue_depth(), 1);
    drop(queued);
    drop(running);
    assert_eq!(b.queue_depth(), 0);
    assert!(b.heartbeat(&l.id).unwrap().cancel, "the next heartbeat tells the worker to stop");
    let mut cancelled = ok();
    cancelled.status = TaskStatus::Cancelled;
    b.complete(&l.id, cancelled).await.unwrap();
    assert!(f.store.leases().unwrap().is_empty(), "nobody waits for an abandoned attempt's result: it is not kept");
}

#[tokio::test]
async fn after_a_restart_a_resumed_attempt_reattaches_to_its_lease_or_is_lost() {
    let f = fixture();
    let first = board(&f.store, Duration::from_secs(30));
    let held = task("held", &[], &f.notebook);
    let _attempt = RemoteExecutor(first.clone()).run(held.clone());
    let l = first.take("w1", &[], 1, Duration::ZERO).await.unwrap().remove(0);
    drop(first); // the coordinator dies; the store keeps the grant

    let second = board(&f.store, Duration::from_secs(30));
    assert_eq!(second.active_leases(), 1);
    second.heartbeat(&l.id).expect("the worker's lease survived the restart");
    let exec = RemoteExecutor(second.clone());
    let reattached = exec.resume(held);
    let never_granted = exec.resume(task("never", &[], &f.notebook)).now_or_never().expect("answered at once");
    assert_eq!(never_granted.status, TaskStatus::Lost, "an attempt nobody holds is lost, to be retried");
    second.complete(&l.id, ok()).await.unwrap();
    assert_eq!(reattached.await.status, TaskStatus::Succeeded);

    // A completion that landed before the engine reattached is kept for it.
    let third = board(&f.store, Duration::from_secs(30));
    let t = task("early", &[], &f.notebook);
    let _attempt2 = RemoteExecutor(third.clone()).run(t.clone());
    let l = third.take("w1", &[], 1, Duration::ZERO).await.unwrap().remove(0);
    drop(third);
    let fourth = board(&f.store, Duration::from_secs(30));
    fourth.complete(&l.id, ok()).await.unwrap();
    let r = RemoteExecutor(fourth.clone()).resume(t).now_or_never().expect("answered at once");
    assert_eq!(r.status, TaskStatus::Succeeded);
    assert!(f.store.leases().unwrap().is_empty());
}

#[tokio::test]
async fn a_long_poll_wakes_when_work_arrives() {
    let f = fixture();
    let b = board(&f.store, Duration::from_secs(30));
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.take("w1", &[], 1, Duration::from_secs(20)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let _fut = RemoteExecutor(b.clone()).run(task("n", &[], &f.notebook));
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(10), "woken by the new work, not by the 20 s timeout");
    assert!(b.take("w2", &[], 1, Duration::from_millis(50)).await.unwrap().is_empty(), "an empty poll returns after its wait");
}

#[tokio::test]
async fn oversized_outputs_fail_the_attempt_and_a_worker_holds_a_bounded_number_of_leases() {
    let f = fixture();
    let b = board(&f.store, Duration::from_secs(30));
    let exec = RemoteExecutor(b.clone());
    let mut futs = Vec::new();
    for i in 0..(crate::lease::MAX_LEASES_PER_WORKER + 5) {
        futs.push(exec.run(task(&format!("n{i}"), &[], &f.notebook)));
    }
    let mut held = Vec::new();
    while held.len() < crate::lease::MAX_LEASES_PER_WORKER + 5 {
        let got = b.take("greedy", &[], 64, Duration::ZERO).await.unwrap();
        if got.is_empty() {
            break;
        }
        held.extend(got);
    }
    assert_eq!(held.len(), crate::lease::MAX_LEASES_PER_WORKER, "one worker cannot hoard the queue");
    assert_eq!(b.take("other", &[], 64, Duration::ZERO).await.unwrap().len(), 5, "the rest go to another worker");
    let mut big = ok();
    big.outputs.insert("blob".into(), serde_json::Value::String("x".repeat(crate::lease::MAX_OUTPUT_BYTES + 1)));
    big.outputs.insert("small".into(), serde_json::json!(1));
    b.complete(&held[0].id, big).await.unwrap();
    let first = futs.remove(0).await;
    assert_eq!(first.status, TaskStatus::Failed);
    assert!(first.outputs.is_empty());
    assert!(first.error.unwrap().contains("blob ("), "the error names the output");
}

/// A registered notebook with a parameters cell and a long second cell.
const SLEEPER: &str = r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
 "cells": [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "execution_count": null, "outputs": [], "source": "secs = 1"},
           {"cell_type": "code", "id": "s", "metadata": {}, "execution_count": null, "outputs": [], "source": "import time; time.sleep(secs)"}]}"#;

fn read_json(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The finish of a lost attempt runs in the background: wait for its mark.
async fn finished(path: &str) -> serde_json::Value {
    for _ in 0..200 {
        let nb = read_json(path);
        if nb.pointer("/metadata/deckle/stopped").is_some() {
            return nb;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} was never finished");
}

#[tokio::test]
async fn a_grant_writes_the_prepared_notebook_before_the_worker_hears_of_it() {
    let f = fixture();
    std::fs::write(&f.notebook, SLEEPER).unwrap();
    let b = board(&f.store, Duration::from_secs(30));
    let mut t = task("n", &[], &f.notebook);
    t.params.insert("secs".into(), serde_json::json!(30));
    let _fut = RemoteExecutor(b.clone()).run(t.clone());
    let l = b.take("w1", &[], 1, Duration::ZERO).await.unwrap().remove(0);
    let nb = read_json(&t.output_path);
    let cells = nb["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3, "the injected parameters cell is there");
    assert_eq!(cells[1]["source"], serde_json::json!(["# Parameters\n", "secs = 30\n"]));
    assert!(cells.iter().all(|c| c["metadata"]["papermill"]["status"] == "pending"), "nothing ran");
    assert_eq!(nb["metadata"]["papermill"]["parameters"]["secs"], 30);
    let attempt = &nb["metadata"]["deckle"]["attempt"];
    assert_eq!((attempt["worker"].as_str(), attempt["lease"].as_str()), (Some("w1"), Some(l.id.as_str())));
    assert!(attempt["leased_at"].as_str().is_some_and(|s| s.ends_with("+00:00")));
    // The worker's upload replaces it.
    b.upload(&l.id, false, br#"{"uploaded": true}"#).await.unwrap();
    assert_eq!(read_json(&t.output_path)["uploaded"], true);
}

#[tokio::test]
async fn an_expired_lease_finishes_its_notebook_and_a_late_upload_cannot_replace_it() {
    let f = fixture();
    std::fs::write(&f.notebook, SLEEPER).unwrap();
    let b = board(&f.store, Duration::from_millis(200));
    let t = task("n", &[], &f.notebook);
    let fut = RemoteExecutor(b.clone()).run(t.clone());
    let l = b.take("w1", &[], 1, Duration::ZERO).await.unwrap().remove(0);
    // The worker's last upload: the sleep cell running.
    let mut running = read_json(&t.output_path);
    running["metadata"]["papermill"]["start_time"] = serde_json::json!("2026-01-01T00:00:00.000000+00:00");
    running["cells"][0]["metadata"]["papermill"]["status"] = serde_json::json!("completed");
    running["cells"][1]["metadata"]["papermill"]["status"] = serde_json::json!("running");
    running["cells"][1]["execution_count"] = serde_json::json!(2);
    b.upload(&l.id, false, running.to_string().as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.expire(), 1);
    let r = fut.await;
    assert_eq!(r.status, TaskStatus::Lost);
    assert!(r.notebook_written, "the lost attempt keeps its notebook");
    assert!(r.error.as_deref().unwrap().starts_with("worker w1 lost at "), "{:?}", r.error);
    let nb = finished(&t.output_path).await;
    // papermill's banner first, then the cells with the anchor above the failed one.
    let cells = nb["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    let failed = &cells[3];
    assert_eq!(failed["metadata"]["papermill"]["status"], "failed");
    assert_eq!(failed["outputs"][0]["ename"], "WorkerLost");
    assert!(failed["outputs"][0]["evalue"].as_str().unwrap().starts_with("worker w1 lost at "));
    assert_eq!(nb["metadata"]["papermill"]["exception"], true);
    assert!(matches!(b.upload(&l.id, false, br#"{"late": true}"#).await, Err(Error::StaleLease(_))));
    assert!(read_json(&t.output_path).get("late").is_none(), "the stale upload did not overwrite the finished record");
}

#[tokio::test]
async fn a_lease_lost_before_any_upload_leaves_the_prepared_notebook_finished() {
    let f = fixture();
    std::fs::write(&f.notebook, SLEEPER).unwrap();
    let b = board(&f.store, Duration::from_millis(100));
    let t = task("n", &[], &f.notebook);
    let fut = RemoteExecutor(b.clone()).run(t.clone());
    b.take("w1", &[], 1, Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.expire(), 1);
    assert!(fut.await.notebook_written);
    let nb = finished(&t.output_path).await;
    let cells = nb["cells"].as_array().unwrap();
    let banner: String = cells[0]["source"].as_array().unwrap().iter().filter_map(|l| l.as_str()).collect();
    assert!(banner.contains("WorkerLost: worker w1 lost at "), "{banner}");
    assert!(cells[1..].iter().all(|c| c["metadata"]["papermill"]["status"] == "pending"));
}

/// A store whose flush takes `delay`: a disk slower than a lease's TTL.
struct SlowFlush {
    inner: MemStore,
    delay: Duration,
}

impl StateStore for SlowFlush {
    fn put_run(&self, run: &crate::record::RunRecord) -> crate::Result<()> {
        self.inner.put_run(run)
    }
    fn put_node(&self, run_id: &str, node: &crate::record::NodeRecord) -> crate::Result<()> {
        self.inner.put_node(run_id, node)
    }
    fn get_run(&self, id: &str) -> crate::Result<Option<crate::record::RunRecord>> {
        self.inner.get_run(id)
    }
    fn nodes(&self, run_id: &str) -> crate::Result<Vec<crate::record::NodeRecord>> {
        self.inner.nodes(run_id)
    }
    fn runs(&self) -> crate::Result<Vec<crate::record::RunRecord>> {
        self.inner.runs()
    }
    fn put_lease(&self, lease: &crate::lease::LeaseRecord) -> crate::Result<()> {
        self.inner.put_lease(lease)
    }
    fn delete_lease(&self, id: &str) -> crate::Result<()> {
        self.inner.delete_lease(id)
    }
    fn leases(&self) -> crate::Result<Vec<crate::lease::LeaseRecord>> {
        self.inner.leases()
    }
    fn put_workflow(&self, wf: &crate::registry::WorkflowEntry) -> crate::Result<()> {
        self.inner.put_workflow(wf)
    }
    fn get_workflow(&self, id: &str) -> crate::Result<Option<crate::registry::WorkflowEntry>> {
        self.inner.get_workflow(id)
    }
    fn workflows(&self) -> crate::Result<Vec<crate::registry::WorkflowEntry>> {
        self.inner.workflows()
    }
    fn put_doc_bytes(&self, kind: crate::store::DocKind, key: &str, value: Vec<u8>) -> crate::Result<()> {
        self.inner.put_doc_bytes(kind, key, value)
    }
    fn get_doc_bytes(&self, kind: crate::store::DocKind, key: &str) -> crate::Result<Option<Vec<u8>>> {
        self.inner.get_doc_bytes(kind, key)
    }
    fn doc_bytes(&self, kind: crate::store::DocKind) -> crate::Result<Vec<Vec<u8>>> {
        self.inner.doc_bytes(kind)
    }
    fn doc_page(&self, kind: crate::store::DocKind, before: Option<&str>, limit: usize) -> crate::Result<Vec<Vec<u8>>> {
        self.inner.doc_page(kind, before, limit)
    }
    fn flush(&self) -> futures::future::BoxFuture<'_, crate::Result<()>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.flush().await
        })
    }
}

/// Found by the ten-kill test under load: a grant whose flush outlasted the TTL
/// expired before its worker heard of it, and the attempt lost its notebook link.
#[tokio::test]
async fn a_lease_cannot_expire_while_its_grant_is_made_durable() {
    let f = fixture();
    let store = Arc::new(SlowFlush { inner: MemStore::default(), delay: Duration::from_millis(400) });
    let b = LeaseBoard::load(store, Duration::from_millis(100), Arc::new(Metrics::default()), Arc::default(), Arc::new(crate::clock::SystemClock), &std::env::temp_dir()).unwrap();
    let _fut = RemoteExecutor(b.clone()).run(task("n", &[], &f.notebook));
    let taking = tokio::spawn({
        let b = b.clone();
        async move { b.take("w1", &[], 1, Duration::ZERO).await }
    });
    // The reaper runs while the grant is being flushed, well past the TTL. (Once the
    // grant returns, the TTL runs afresh: a check right after cannot expire it.)
    let mut checks = 0;
    while !taking.is_finished() {
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(b.expire(), 0, "expired before the worker heard of it");
        checks += 1;
    }
    assert!(checks >= 5, "the reaper ran only {checks} times during a 400 ms flush");
    let l = taking.await.unwrap().unwrap().remove(0);
    b.heartbeat(&l.id).expect("the lease is the worker's once it hears of it");
    // From then on the TTL applies as usual.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.expire(), 1);
}

/// Found by the ten-kill test in CI: a worker SIGKILLed while its grant was being
/// flushed dropped the request after the prepared notebook was on disk but before
/// the lease was marked as having one, so the lost attempt listed no notebook.
#[tokio::test]
async fn a_grant_dropped_mid_flush_still_leaves_the_lost_attempt_its_prepared_notebook() {
    let f = fixture();
    std::fs::write(&f.notebook, SLEEPER).unwrap();
    let store = Arc::new(SlowFlush { inner: MemStore::default(), delay: Duration::from_millis(300) });
    let b = LeaseBoard::load(store, Duration::from_millis(100), Arc::new(Metrics::default()), Arc::default(), Arc::new(crate::clock::SystemClock), &std::env::temp_dir()).unwrap();
    let t = task("n", &[], &f.notebook);
    let fut = RemoteExecutor(b.clone()).run(t.clone());
    let taking = tokio::spawn({
        let b = b.clone();
        async move { b.take("w1", &[], 1, Duration::ZERO).await }
    });
    // The prepared notebook lands while the flush is still going; then the worker hangs up.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !std::path::Path::new(&t.output_path).exists() {
        assert!(std::time::Instant::now() < until, "the prepared notebook was never written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    taking.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.expire(), 1, "a grant nobody heard of expires after the TTL");
    let r = fut.await;
    assert_eq!(r.status, TaskStatus::Lost);
    assert!(r.notebook_written, "the lost attempt lists the prepared notebook");
    let nb = finished(&t.output_path).await;
    assert_eq!(nb["metadata"]["papermill"]["exception"], true, "and it is finished as a failure");
}

/// The board read the system time directly for when an attempt was lost,
/// bypassing the injected clock.
#[tokio::test]
async fn a_lost_attempt_is_dated_by_the_injected_clock() {
    let f = fixture();
    let at: jiff::Timestamp = "2026-03-29T01:30:00Z".parse().unwrap();
    let clock = Arc::new(crate::clock::FixedClock(at));
    let b = LeaseBoard::load(f.store.clone(), Duration::from_millis(50), Arc::new(Metrics::default()), Arc::default(), clock, &std::env::temp_dir()).unwrap();
    let fut = RemoteExecutor(b.clone()).run(task("n", &[], &f.notebook));
    b.take("w1", &[], 1, Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.expire(), 1);
    let r = fut.await;
    let expected = format!("worker w1 lost at {}: ", deckle_notebook::attempt::iso(at));
    assert!(r.error.as_deref().unwrap().starts_with(&expected), "{:?}", r.error);
}

/// An upload that is not one JSON object is refused (checked without building the
/// notebook in memory), and leaves the stored notebook as it was.
#[tokio::test]
async fn an_upload_that_is_not_a_json_object_is_refused() {
    let f = fixture();
    std::fs::write(&f.notebook, SLEEPER).unwrap();
    let b = board(&f.store, Duration::from_secs(60));
    let t = task("n", &[], &f.notebook);
    let _fut = RemoteExecutor(b.clone()).run(t.clone());
    let l = b.take("w1", &[], 1, Duration::ZERO).await.unwrap().remove(0);
    let before = std::fs::read(&t.output_path).unwrap();
    for bad in [&b"[1, 2]"[..], b"  \"text\"", b"{\"cells\": [", b""] {
        assert!(matches!(b.upload(&l.id, false, bad).await, Err(Error::Input(_))), "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(std::fs::read(&t.output_path).unwrap(), before, "nothing refused was written");
    b.upload(&l.id, false, b" {\"cells\": []}").await.expect("an object is taken");
    assert_eq!(std::fs::read(&t.output_path).unwrap(), b" {\"cells\": []}");
}

/// Issue 14: a node whose labels no live worker has waited with no word of why.
#[tokio::test]
async fn an_attempt_without_a_worker_for_its_labels_says_what_it_waits_for() {
    let f = fixture();
    let b = board(&f.store, Duration::from_secs(30));
    let exec = RemoteExecutor(b.clone());
    let gpu = exec.run(task("train", &["gpu"], &f.notebook));
    let (waiting, leased) = (|| b.waiting_for("r1", "train", 1), || b.holder("r1", "train", 1));
    assert_eq!(waiting().as_deref(), Some("waiting for a worker with labels [gpu]; no worker connected"));
    // A worker without the label polls: still waiting, and now it says so.
    assert!(b.take("cpu-1", &["cpu".into()], 1, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(waiting().as_deref(), Some("waiting for a worker with labels [gpu]; none of the 1 connected has them"));
    assert_eq!(leased(), None);
    // One with it takes the attempt: no longer waiting.
    let l = b.take("gpu-1", &["gpu".into()], 1, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(waiting(), None);
    assert_eq!(leased().as_deref(), Some("gpu-1"));
    b.complete(&l.id, ok()).await.unwrap();
    assert_eq!(gpu.await.status, TaskStatus::Succeeded);
}

/// Two coordinators on two machines share the database and the artifact store, not
/// a disk: the one taking over finds a leased attempt's notebook in the store only,
/// and finishes it there when the attempt is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_on_another_machine_finishes_a_lost_attempt_from_the_artifact_store() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rel = "artifacts/w/2026-01-01/r1/n.1.ipynb";
    let objects = deckle_storage::Store::open(&"memory://lease-takeover".parse().unwrap(), &Default::default()).unwrap();
    objects.put(rel, SLEEPER.as_bytes().to_vec()).await.unwrap();
    let mut t = task("n", &[], &a.path().join("nb.ipynb"));
    t.output_path = a.path().join(rel).to_string_lossy().into_owned();
    let store = Arc::new(MemStore::default());
    store.put_lease(&crate::lease::LeaseRecord { id: "l1".into(), worker: "w1".into(), task: t, result: None }).unwrap();
    store.flush().await.unwrap();
    let mirror = crate::mirror::Mirror::start(b.path(), objects.clone(), Arc::default()).unwrap();
    let board = LeaseBoard::load_mirrored(store, Duration::from_millis(50), Arc::new(Metrics::default()), Arc::default(), Arc::new(crate::clock::SystemClock), b.path(), mirror.clone()).unwrap();
    assert!(b.path().join(rel).exists(), "the notebook is fetched under this coordinator's data dir");
    assert!(!a.path().join(rel).exists(), "nothing is written under the other coordinator's path");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(board.expire(), 1);
    for _ in 0..200 {
        if String::from_utf8(objects.get(rel).await.unwrap()).unwrap().contains("WorkerLost") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the lost attempt's notebook was not finished in the artifact store");
}
