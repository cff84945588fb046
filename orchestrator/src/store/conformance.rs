//! The contract of [`StateStore`], as tests every implementation must pass: call
//! [`semantics`] on a fresh, empty store, and [`durability`] with a function that
//! opens the same backing storage again (a store without one, like
//! [`MemStore`](super::MemStore), skips it). A new backend (PostgreSQL, …) adds a
//! test calling both; build with the `conformance` feature to use it from another
//! crate.
//!
//! Failures panic with what broke: this is test code.

use std::sync::Arc;

use serde_json::json;

use super::{docs, get_doc, put_doc, DocKind, LeaseRecord, NodeRecord, RunQuery, RunRecord, StateStore, WorkflowEntry};
use deckle_protocol::record::{NodeStatus, RunStatus};
use deckle_protocol::task::{Task, TaskKind, TaskResult, TaskStatus};

/// A run record with `id`.
pub fn run(id: &str) -> RunRecord {
    RunRecord {
        id: id.into(),
        workflow: "w".into(),
        date: "2026-01-01".into(),
        logical_time: "2026-01-01T00:00:00Z".parse().unwrap(),
        params: json!({"region": "fr", "n": 3}).as_object().unwrap().clone(),
        version: 1,
        attempt: 1,
        trigger: Default::default(),
        status: RunStatus::Running,
        started_at: "2026-01-01T00:00:01Z".parse().unwrap(),
        ended_at: None,
        attempts_started_at: Vec::new(),
        hooks_pending: false,
        notifications: Vec::new(),
    }
}

/// A lease record with `id`.
pub fn lease(id: &str) -> LeaseRecord {
    let task = Task {
        run_id: "r1".into(),
        workflow: "w".into(),
        node: "a".into(),
        index: Some(2),
        attempt: 1,
        kind: TaskKind::Notebook { path: "/wf/a.ipynb".into(), hash: Some("ab".into()) },
        params: json!({"x": 1}).as_object().unwrap().clone(),
        secret_env: vec![],
        secret_params: vec!["token".into()],
        outputs: vec!["total".into()],
        kernel: None,
        timeout_secs: Some(60.0),
        output_path: "/data/runs/a.1.ipynb".into(),
        input_copy_path: None,
        cwd: None,
        labels: vec!["gpu".into()],
    };
    LeaseRecord { id: id.into(), worker: "w1".into(), task, result: None }
}

fn workflow(id: &str) -> WorkflowEntry {
    WorkflowEntry { id: id.into(), description: Some(format!("{id} described")), versions: Vec::new() }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> String) -> Vec<String> {
    items.iter().map(id).collect()
}

/// Everything but durability, on a fresh, empty store.
pub async fn semantics(store: &dyn StateStore) {
    empty_reads_are_none_and_empty(store);
    runs_are_replaced_whole_and_listed_by_id(store);
    a_runs_nodes_are_its_own_and_in_order(store);
    leases_are_put_listed_and_deleted(store);
    workflows_are_replaced_whole_and_listed_by_id(store);
    documents_are_kept_apart_by_kind(store);
    concurrent_flushes_all_return(store).await;
    pages_of_runs_come_newest_first_filtered_from_a_cursor(store);
    open_runs_and_counts_follow_every_change_of_status(store);
}

/// Runs apart from the earlier cases' (their ids start with `p-`).
fn paged(id: &str, workflow: &str, status: RunStatus) -> RunRecord {
    let mut r = run(id);
    r.workflow = workflow.into();
    r.status = status;
    r
}

fn pages_of_runs_come_newest_first_filtered_from_a_cursor(s: &dyn StateStore) {
    let q = |workflow: Option<&str>, status: Option<RunStatus>, before: Option<&str>, limit: usize| {
        let q = RunQuery { workflow: workflow.map(Into::into), status, date: None, before: before.map(Into::into), limit };
        ids(&s.run_page(&q).unwrap(), |r| r.id.clone())
    };
    for (id, wf, st) in [("p-1", "pa", RunStatus::Succeeded), ("p-2", "pb", RunStatus::Running), ("p-3", "pa", RunStatus::Running), ("p-4", "pa", RunStatus::Failed), ("p-5", "pb", RunStatus::Succeeded)] {
        s.put_run(&paged(id, wf, st)).unwrap();
    }
    assert_eq!(q(Some("pa"), None, None, 10), ["p-4", "p-3", "p-1"], "a workflow's runs, newest first");
    assert_eq!(q(Some("pa"), None, None, 2), ["p-4", "p-3"], "at most `limit`");
    assert_eq!(q(Some("pa"), None, Some("p-3"), 2), ["p-1"], "the next page starts after the cursor");
    assert_eq!(q(Some("pb"), Some(RunStatus::Succeeded), None, 10), ["p-5"]);
    let only_p = |v: Vec<String>| v.into_iter().filter(|id| id.starts_with("p-")).collect::<Vec<_>>();
    assert_eq!(only_p(q(None, Some(RunStatus::Running), Some("p-9"), 100)), ["p-3", "p-2"], "by status, across workflows");
    assert_eq!(q(Some("nope"), None, None, 10), Vec::<String>::new());
    let mut other_day = paged("p-0", "pa", RunStatus::Succeeded);
    other_day.date = "2026-01-02".into();
    s.put_run(&other_day).unwrap();
    let by_date = |date: &str| ids(&s.run_page(&RunQuery { date: Some(date.into()), ..RunQuery::of_workflow("pa", 10) }).unwrap(), |r| r.id.clone());
    assert_eq!(by_date("2026-01-02"), ["p-0"], "by logical date");
    assert_eq!(by_date("2026-01-01"), ["p-4", "p-3", "p-1"]);
    let by_date_only = ids(&s.run_page(&RunQuery { date: Some("2026-01-02".into()), ..RunQuery::newest(10) }).unwrap(), |r| r.id.clone());
    assert_eq!(by_date_only, ["p-0"], "by logical date across workflows");
    // A run that changes status or workflow leaves its old listings.
    s.put_run(&paged("p-3", "pb", RunStatus::Succeeded)).unwrap();
    assert_eq!(q(Some("pa"), None, None, 10), ["p-4", "p-1", "p-0"], "moved to another workflow");
    assert_eq!(only_p(q(None, Some(RunStatus::Running), Some("p-9"), 100)), ["p-2"], "no longer running");
    assert_eq!(q(Some("pb"), Some(RunStatus::Succeeded), None, 10), ["p-5", "p-3"]);
}

fn open_runs_and_counts_follow_every_change_of_status(s: &dyn StateStore) {
    let open = || ids(&s.open_runs().unwrap().into_iter().filter(|r| r.id.starts_with("o-")).collect::<Vec<_>>(), |r| r.id.clone());
    let count = |st: RunStatus| s.run_counts().unwrap().into_iter().find(|c| c.0 == st).map_or(0, |c| c.1);
    let (queued0, running0, failed0) = (count(RunStatus::Queued), count(RunStatus::Running), count(RunStatus::Failed));
    s.put_run(&paged("o-1", "w", RunStatus::Queued)).unwrap();
    s.put_run(&paged("o-2", "w", RunStatus::Running)).unwrap();
    s.put_run(&paged("o-3", "w", RunStatus::Succeeded)).unwrap();
    let mut hooked = paged("o-4", "w", RunStatus::Failed);
    hooked.hooks_pending = true;
    s.put_run(&hooked).unwrap();
    assert_eq!(open(), ["o-1", "o-2", "o-4"], "unfinished runs and a finished one with its hook pending");
    assert_eq!((count(RunStatus::Queued), count(RunStatus::Running), count(RunStatus::Failed)), (queued0 + 1, running0 + 1, failed0 + 1));
    hooked.hooks_pending = false;
    s.put_run(&hooked).unwrap();
    s.put_run(&paged("o-2", "w", RunStatus::Failed)).unwrap();
    assert_eq!(open(), ["o-1"], "finished, hook called: no longer open");
    assert_eq!((count(RunStatus::Running), count(RunStatus::Failed)), (running0, failed0 + 2), "counts follow a change of status");
}

fn empty_reads_are_none_and_empty(s: &dyn StateStore) {
    assert!(s.get_run("nope").unwrap().is_none(), "a missing run");
    assert!(s.runs().unwrap().is_empty(), "a fresh store has no runs");
    assert!(s.nodes("nope").unwrap().is_empty());
    assert!(s.leases().unwrap().is_empty());
    assert!(s.get_workflow("nope").unwrap().is_none());
    assert!(s.workflows().unwrap().is_empty());
    assert!(s.get_doc_bytes(DocKind::Schedule, "nope").unwrap().is_none());
    assert!(s.doc_bytes(DocKind::Backfill).unwrap().is_empty());
    s.delete_lease("nope").expect("deleting a lease that is not there is not an error");
}

fn runs_are_replaced_whole_and_listed_by_id(s: &dyn StateStore) {
    for id in ["r2", "r10", "r1"] {
        s.put_run(&run(id)).unwrap();
    }
    let mut done = run("r2");
    done.status = RunStatus::Succeeded;
    done.ended_at = Some("2026-01-01T00:01:00Z".parse().unwrap());
    done.notifications = Vec::new();
    s.put_run(&done).unwrap();
    assert_eq!(s.get_run("r2").unwrap(), Some(done), "a put replaces the run whole");
    assert_eq!(s.get_run("r1").unwrap(), Some(run("r1")), "every field comes back as written");
    assert_eq!(ids(&s.runs().unwrap(), |r| r.id.clone()), ["r1", "r10", "r2"], "runs are listed by id");
}

fn a_runs_nodes_are_its_own_and_in_order(s: &dyn StateStore) {
    let mut inst2 = NodeRecord::new("b", Some(2));
    inst2.status = NodeStatus::Succeeded;
    inst2.outputs = json!({"n": 2}).as_object().unwrap().clone();
    for n in [NodeRecord::new("b", Some(10)), inst2.clone(), NodeRecord::new("b", None), NodeRecord::new("a", None)] {
        s.put_node("r1", &n).unwrap();
    }
    s.put_node("r10", &NodeRecord::new("other", None)).unwrap();
    let nodes = s.nodes("r1").unwrap();
    let keys: Vec<(String, Option<usize>)> = nodes.iter().map(|n| (n.node.clone(), n.index)).collect();
    assert_eq!(keys, [("a".into(), None), ("b".into(), None), ("b".into(), Some(2)), ("b".into(), Some(10))], "r1's nodes only (not r10's), by node, parent first, instances by index");
    assert_eq!(nodes[2], inst2);
    let mut again = NodeRecord::new("b", Some(2));
    again.status = NodeStatus::Failed;
    s.put_node("r1", &again).unwrap();
    let nodes = s.nodes("r1").unwrap();
    assert_eq!(nodes.len(), 4, "a put with the same (node, index) replaces");
    assert_eq!(nodes[2], again);
    assert_eq!(s.nodes("r10").unwrap().len(), 1);
}

fn leases_are_put_listed_and_deleted(s: &dyn StateStore) {
    s.put_lease(&lease("l2")).unwrap();
    s.put_lease(&lease("l1")).unwrap();
    let mut done = lease("l2");
    done.result = Some(TaskResult { status: TaskStatus::Succeeded, outputs: Default::default(), error: None, notebook_written: true, duration_secs: 1.5, worker: Some("w1".into()) });
    s.put_lease(&done).unwrap();
    let all = s.leases().unwrap();
    assert_eq!(ids(&all, |l| l.id.clone()), ["l1", "l2"]);
    assert_eq!(all[1].result.as_ref().map(|r| r.status), Some(TaskStatus::Succeeded), "a put replaces the lease");
    assert_eq!(all[0].task.labels, ["gpu"], "the task comes back whole");
    assert_eq!(all[0].task.secret_params, ["token"]);
    s.delete_lease("l1").unwrap();
    assert_eq!(ids(&s.leases().unwrap(), |l| l.id.clone()), ["l2"]);
}

fn workflows_are_replaced_whole_and_listed_by_id(s: &dyn StateStore) {
    s.put_workflow(&workflow("zeta")).unwrap();
    s.put_workflow(&workflow("alpha")).unwrap();
    let mut again = workflow("zeta");
    again.description = None;
    s.put_workflow(&again).unwrap();
    assert_eq!(s.get_workflow("zeta").unwrap().map(|w| w.description), Some(None), "a put replaces the workflow");
    assert_eq!(ids(&s.workflows().unwrap(), |w| w.id.clone()), ["alpha", "zeta"]);
}

fn documents_are_kept_apart_by_kind(s: &dyn StateStore) {
    put_doc(s, DocKind::Schedule, "w", &json!({"paused": true})).unwrap();
    put_doc(s, DocKind::Backfill, "w", &json!({"id": "b-w"})).unwrap();
    put_doc(s, DocKind::Backfill, "a", &json!({"id": "b-a"})).unwrap();
    assert_eq!(get_doc::<serde_json::Value>(s, DocKind::Schedule, "w").unwrap(), Some(json!({"paused": true})), "the same key in another kind is another document");
    put_doc(s, DocKind::Schedule, "w", &json!({"paused": false})).unwrap();
    assert_eq!(get_doc::<serde_json::Value>(s, DocKind::Schedule, "w").unwrap(), Some(json!({"paused": false})));
    let listed: Vec<serde_json::Value> = docs(s, DocKind::Backfill).unwrap();
    assert_eq!(listed, [json!({"id": "b-a"}), json!({"id": "b-w"})], "documents of one kind, by key");
    for k in ["bf-1", "bf-3", "bf-2"] {
        put_doc(s, DocKind::Backfill, k, &json!({"id": k})).unwrap();
    }
    let page = |before: Option<&str>, limit| -> Vec<serde_json::Value> { s.doc_page(DocKind::Backfill, before, limit).unwrap().iter().map(|b| serde_json::from_slice(b).unwrap()).collect() };
    // Keys now: a, bf-1, bf-2, bf-3, w.
    assert_eq!(page(None, 2), [json!({"id": "b-w"}), json!({"id": "bf-3"})], "highest keys first");
    assert_eq!(page(Some("bf-2"), 2), [json!({"id": "bf-1"}), json!({"id": "b-a"})], "a page starts below the cursor");
    assert!(page(Some("a"), 5).is_empty());
    assert_eq!(s.doc_page(DocKind::Schedule, None, 10).unwrap().len(), 1, "one kind's documents only");
    s.put_doc_bytes(DocKind::Schedule, "bad", b"{not json".to_vec()).unwrap();
    assert!(get_doc::<serde_json::Value>(s, DocKind::Schedule, "bad").is_err(), "a document that does not decode is an error, not a panic");
}

async fn concurrent_flushes_all_return(s: &dyn StateStore) {
    let flushes: Vec<_> = (0..8)
        .map(|i| {
            s.put_run(&run(&format!("f{i}"))).unwrap();
            s.flush()
        })
        .collect();
    for r in futures::future::join_all(flushes).await {
        r.expect("every concurrent flush returns Ok");
    }
}

/// What was flushed is there after the store is opened again; `open` opens the
/// same backing storage (the previous store is dropped first).
pub async fn durability(open: impl Fn() -> Arc<dyn StateStore>) {
    {
        let s = open();
        s.put_run(&run("r1")).unwrap();
        let mut n = NodeRecord::new("a", Some(2));
        n.status = NodeStatus::Succeeded;
        s.put_node("r1", &n).unwrap();
        s.put_node("r1", &NodeRecord::new("a", None)).unwrap();
        s.put_lease(&lease("l1")).unwrap();
        s.put_workflow(&workflow("w")).unwrap();
        put_doc(s.as_ref(), DocKind::Backfill, "b1", &json!({"id": "b1"})).unwrap();
        s.flush().await.unwrap();
    }
    let s = open();
    assert_eq!(s.get_run("r1").unwrap(), Some(run("r1")), "a flushed run survives");
    let nodes = s.nodes("r1").unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[1].status, NodeStatus::Succeeded);
    assert_eq!(ids(&s.leases().unwrap(), |l| l.id.clone()), ["l1"]);
    assert!(s.get_workflow("w").unwrap().is_some());
    assert_eq!(get_doc::<serde_json::Value>(s.as_ref(), DocKind::Backfill, "b1").unwrap(), Some(json!({"id": "b1"})));
    s.reopen().expect("reopening a healthy store");
    assert_eq!(s.get_run("r1").unwrap(), Some(run("r1")), "and after a reopen");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemStore, SledStore};

    #[tokio::test]
    async fn mem_store_keeps_the_contract() {
        semantics(&MemStore::default()).await;
    }

    #[tokio::test]
    async fn sled_store_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        semantics(&SledStore::open(dir.path()).unwrap()).await;
        let dir = tempfile::tempdir().unwrap();
        durability(|| Arc::new(SledStore::open(dir.path()).unwrap()) as Arc<dyn StateStore>).await;
    }
}
