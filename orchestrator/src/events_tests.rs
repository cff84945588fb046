//! Triggers and waits on a coordinator with an injected clock and an in-memory
//! store: signals, upstream runs and files start runs exactly once, paused
//! workflows hold them, files are polled on the clock, waits time out on it.

use std::time::Duration;

use deckle_protocol::api::TriggerRun;
use deckle_protocol::event::{EventKind, EventRecord, Firing, FiringState, PostSignal};
use serde_json::json;

use crate::coordinator::Coordinator;
use crate::record::{NodeRecord, NodeStatus, RunRecord, RunStatus, RunTrigger};
use crate::store::{put_doc, DocKind, RunQuery};

use crate::test_fixture::{t, Fixture};

const ONE_NODE: &str = "nodes:\n  a: { notebook: a.ipynb }\n";

fn runs(c: &Coordinator, wf: &str) -> Vec<RunRecord> {
    let mut r = c.runs(&RunQuery::of_workflow(wf, 100_000)).unwrap();
    r.sort_by(|a, b| a.id.cmp(&b.id));
    r
}

fn signal(params: serde_json::Value, key: Option<&str>) -> PostSignal {
    PostSignal { params: serde_json::from_value(params).unwrap(), key: key.map(str::to_string), date: None }
}

#[tokio::test]
async fn a_signal_s_params_are_matched_and_mapped_into_typed_params() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let c = f.coordinator();
    let body = "params:\n  table: { type: string }\n  n: { type: int }\ntriggers:\n  - signal: table_ready\n    match: { table: plays }\n    params: { table: \"${{ trigger.params.table }}\", n: \"${{ trigger.params.n }}\" }\n";
    f.register_workflow(&c, "report", &format!("{body}{ONE_NODE}")).await;
    let other = c.signal("table_ready", &signal(json!({"table": "views", "n": 1}), None)).await.unwrap();
    assert!(other.event.firings.is_empty(), "`match` filters: {other:?}");
    assert!(runs(&c, "report").is_empty());
    let hit = c.signal("table_ready", &signal(json!({"table": "plays", "n": 3}), None)).await.unwrap();
    assert_eq!(hit.event.firings.len(), 1);
    assert_eq!(hit.event.firings[0].state, FiringState::Started);
    let r = runs(&c, "report");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].id, hit.event.firings[0].run_id, "the run has the id chosen when the event was stored");
    assert_eq!(r[0].params.get("n"), Some(&json!(3)), "typed by the workflow's declaration");
    assert_eq!(r[0].params.get("table"), Some(&json!("plays")));
    assert_eq!(r[0].date, "2026-02-01");
    let RunTrigger::Event { event, source, context } = &r[0].trigger else { panic!("{:?}", r[0].trigger) };
    assert_eq!((event.as_str(), source.as_str()), (hit.event.id.as_str(), "signal:table_ready"));
    assert_eq!(context["params"]["table"], json!("plays"));
    // Both signals are stored and listed, newest first.
    let listed = c.events(Some(EventKind::Signal), Some("table_ready"), None, 10).unwrap();
    assert_eq!(listed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![hit.event.id.clone(), other.event.id.clone()]);
    // Bad names, keys and dates are refused before anything is stored.
    assert!(matches!(c.signal("bad name", &PostSignal::default()).await, Err(crate::Error::Input(_))));
    assert!(matches!(c.signal("x", &PostSignal { key: Some(String::new()), ..Default::default() }).await, Err(crate::Error::Input(_))));
    assert!(matches!(c.signal("x", &PostSignal { date: Some("2026-02-30".into()), ..Default::default() }).await, Err(crate::Error::Input(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_signals_with_one_key_starts_one_run() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let c = f.coordinator();
    f.register_workflow(&c, "report", &format!("triggers:\n  - signal: go\n{ONE_NODE}")).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.spawn(async move {
            let mut dup = 0;
            for _ in 0..1250 {
                if c.signal("go", &signal(json!({}), Some("load-42"))).await.unwrap().duplicate {
                    dup += 1;
                }
            }
            dup
        });
    }
    let mut duplicates = 0;
    while let Some(d) = tasks.join_next().await {
        duplicates += d.unwrap();
    }
    assert_eq!(duplicates, 9_999, "10,000 signals, one accepted");
    assert_eq!(runs(&c, "report").len(), 1);
    assert_eq!(c.events(Some(EventKind::Signal), None, None, 100).unwrap().len(), 1);
    // Another key is another event.
    assert!(!c.signal("go", &signal(json!({}), Some("load-43"))).await.unwrap().duplicate);
    assert_eq!(runs(&c, "report").len(), 2);
}

/// An event stored with a pending firing, as `accept` leaves it just before a crash.
fn stored_event(c: &Coordinator, run_id: &str) -> EventRecord {
    let rec = EventRecord {
        id: "20260201T100000.000000-abcdef01".into(),
        kind: EventKind::Signal,
        name: "go".into(),
        received_at: t("2026-02-01T10:00:00Z"),
        key: Some("k".into()),
        date: None,
        context: json!({"kind": "signal", "signal": "go", "params": {}, "key": "k", "event": "20260201T100000.000000-abcdef01"}),
        firings: vec![Firing { workflow: "report".into(), version: 1, trigger: 0, source: "signal:go".into(), run_id: run_id.into(), state: FiringState::Pending, error: None }],
    };
    put_doc(c.store().as_ref(), DocKind::Index, "pending-events", &vec![rec.id.clone()]).unwrap();
    put_doc(c.store().as_ref(), DocKind::Event, &rec.id, &rec).unwrap();
    put_doc(c.store().as_ref(), DocKind::EventKey, "signal/go/k", &rec.id).unwrap();
    rec
}

#[tokio::test]
async fn a_crash_between_storing_an_event_and_starting_its_run_starts_it_once() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let c = f.coordinator();
    f.register_workflow(&c, "report", &format!("triggers:\n  - signal: go\n{ONE_NODE}")).await;
    // Crashed before the run was created: the restarted planner creates it.
    let rec = stored_event(&c, "20260201T100000-run001");
    drop(c);
    let c = f.coordinator();
    c.plan().await;
    c.plan().await;
    let r = runs(&c, "report");
    assert_eq!(r.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["20260201T100000-run001"]);
    assert_eq!(c.event(&rec.id).unwrap().firings[0].state, FiringState::Started);
    // The same key again after the restart starts nothing.
    assert!(c.signal("go", &signal(json!({}), Some("k"))).await.unwrap().duplicate);
    // Crashed after the run was created, before its firing was marked: not created again.
    let f2 = Fixture::new("2026-02-01T10:00:00Z");
    let c = f2.coordinator();
    f2.register_workflow(&c, "report", &format!("triggers:\n  - signal: go\n{ONE_NODE}")).await;
    let existing = c.trigger("report", &TriggerRun::default()).await.unwrap();
    stored_event(&c, &existing.id);
    drop(c);
    let c = f2.coordinator();
    c.plan().await;
    assert_eq!(runs(&c, "report").len(), 1);
}

#[tokio::test]
async fn a_paused_workflow_holds_triggered_runs_until_unpaused() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let c = f.coordinator();
    f.register_workflow(&c, "report", &format!("triggers:\n  - signal: go\n{ONE_NODE}")).await;
    let p = c.set_paused("report", true).await.unwrap();
    assert!(p.paused && p.schedule.is_none());
    let a = c.signal("go", &signal(json!({}), None)).await.unwrap();
    let b = c.signal("go", &signal(json!({}), None)).await.unwrap();
    assert_eq!(a.event.firings[0].state, FiringState::Held);
    assert_eq!(b.event.firings[0].state, FiringState::Held);
    c.plan().await;
    assert!(runs(&c, "report").is_empty(), "held while paused");
    assert_eq!(c.set_paused("report", true).await.unwrap().held, 2);
    c.set_paused("report", false).await.unwrap();
    c.plan().await;
    let mut ids: Vec<String> = runs(&c, "report").into_iter().map(|r| r.id).collect();
    ids.sort();
    let mut want = vec![a.event.firings[0].run_id.clone(), b.event.firings[0].run_id.clone()];
    want.sort();
    assert_eq!(ids, want, "the held runs, with the ids chosen when their events were stored");
    assert_eq!(c.event(&b.event.id).unwrap().firings[0].state, FiringState::Started);
    // A workflow with neither a schedule nor triggers has nothing to pause.
    f.register_workflow(&c, "plain", ONE_NODE).await;
    assert!(matches!(c.set_paused("plain", true).await, Err(crate::Error::Conflict(_))));
}

#[tokio::test]
async fn an_upstream_run_s_outputs_date_and_time_flow_into_the_downstream_run() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let c = f.coordinator();
    f.register_workflow(&c, "ingest", ONE_NODE).await;
    let body = "params:\n  rows: { type: int }\ntriggers:\n  - workflow: ingest\n    when: trigger.outputs.a.rows > 0\n    params: { rows: \"${{ trigger.outputs.a.rows }}\" }\n";
    f.register_workflow(&c, "report", &format!("{body}{ONE_NODE}")).await;
    let mut up = c.trigger("ingest", &TriggerRun { date: Some("2026-01-15".into()), ..Default::default() }).await.unwrap();
    up.status = RunStatus::Succeeded;
    let mut node = NodeRecord::new("a", None);
    node.status = NodeStatus::Succeeded;
    node.outputs = serde_json::from_value(json!({"rows": 42})).unwrap();
    c.publish_run_end(&up, std::slice::from_ref(&node)).await.unwrap();
    let r = runs(&c, "report");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].params.get("rows"), Some(&json!(42)));
    assert_eq!((r[0].date.as_str(), r[0].logical_time), ("2026-01-15", up.logical_time));
    // Published twice (a restart before `hooks_pending` was cleared): one run.
    c.publish_run_end(&up, std::slice::from_ref(&node)).await.unwrap();
    assert_eq!(runs(&c, "report").len(), 1);
    // `when` false, or a failed run: nothing.
    let mut up2 = c.trigger("ingest", &TriggerRun::default()).await.unwrap();
    up2.status = RunStatus::Succeeded;
    node.outputs = serde_json::from_value(json!({"rows": 0})).unwrap();
    c.publish_run_end(&up2, std::slice::from_ref(&node)).await.unwrap();
    up2.status = RunStatus::Failed;
    up2.attempt = 2;
    c.publish_run_end(&up2, &[]).await.unwrap();
    assert_eq!(runs(&c, "report").len(), 1);
    // The links, both ways.
    assert_eq!(c.workflow_links("report").unwrap(), (vec!["ingest".to_string()], vec![]));
    assert_eq!(c.workflow_links("ingest").unwrap(), (vec![], vec!["report".to_string()]));
}

#[tokio::test]
async fn registration_refuses_unknown_upstreams_and_cycles_naming_both_workflows() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let c = f.coordinator();
    let err = f.try_register(&c, "b", &format!("triggers:\n  - workflow: a\n{ONE_NODE}")).await.unwrap_err().to_string();
    assert!(err.contains("b.yaml:3:5") && err.contains("`a`, which is not registered"), "{err}");
    f.register_workflow(&c, "a", ONE_NODE).await;
    f.register_workflow(&c, "b", &format!("triggers:\n  - workflow: a\n{ONE_NODE}")).await;
    let err = f.try_register(&c, "a", &format!("triggers:\n  - workflow: b\n{ONE_NODE}")).await.unwrap_err().to_string();
    assert!(err.contains("cycle") && err.contains("workflow `a`") && err.contains("workflow: b"), "{err}");
    assert!(matches!(f.try_register(&c, "a", &format!("triggers:\n  - workflow: b\n{ONE_NODE}")).await, Err(crate::Error::InvalidWorkflow(_))));
}

#[tokio::test]
async fn files_are_polled_on_the_clock_and_each_new_file_starts_one_run() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let landing = f.dir.path().join("landing");
    std::fs::create_dir_all(landing.join("2026-01-30")).unwrap();
    std::fs::write(landing.join("2026-01-30/_SUCCESS"), b"").unwrap();
    let c = f.coordinator();
    let body = format!("triggers:\n  - files: {{ path: \"{}/{{date}}/_SUCCESS\", poll: 1m }}\n", landing.display());
    f.register_workflow(&c, "load", &format!("{body}{ONE_NODE}")).await;
    let next = c.plan().await;
    assert!(runs(&c, "load").is_empty(), "what is there at the first poll is the baseline");
    assert_eq!(next, Some(t("2026-02-01T10:01:00Z")), "the planner wakes for the next poll");
    std::fs::create_dir_all(landing.join("2026-01-31")).unwrap();
    std::fs::write(landing.join("2026-01-31/_SUCCESS"), b"").unwrap();
    f.clock.set(t("2026-02-01T10:00:30Z"));
    c.plan().await;
    assert!(runs(&c, "load").is_empty(), "not polled before `poll` has passed");
    f.clock.set(t("2026-02-01T10:01:00Z"));
    c.plan().await;
    let r = runs(&c, "load");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].date, "2026-01-31", "`{{date}}` is the logical date");
    let RunTrigger::Event { context, .. } = &r[0].trigger else { panic!() };
    assert_eq!(context["path"], json!(landing.join("2026-01-31/_SUCCESS").display().to_string()));
    // Polling again, or after a restart, starts nothing new.
    f.clock.set(t("2026-02-01T10:02:00Z"));
    c.plan().await;
    drop(c);
    let c = f.coordinator();
    f.clock.set(t("2026-02-01T10:03:00Z"));
    c.plan().await;
    assert_eq!(runs(&c, "load").len(), 1);
    // A rewritten file (new size) is a new file.
    std::fs::write(landing.join("2026-01-31/_SUCCESS"), b"again").unwrap();
    f.clock.set(t("2026-02-01T10:04:00Z"));
    c.plan().await;
    assert_eq!(runs(&c, "load").len(), 2);
}

#[tokio::test]
async fn an_unreadable_files_trigger_is_reported_and_the_planner_carries_on() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let not_a_dir = f.dir.path().join("file");
    std::fs::write(&not_a_dir, b"").unwrap();
    let c = f.coordinator();
    let body = format!("schedule: {{ cron: \"0 11 * * *\" }}\ntriggers:\n  - files: {{ path: \"{}/*.csv\", poll: 1m }}\n", not_a_dir.display());
    f.register_workflow(&c, "load", &format!("{body}{ONE_NODE}")).await;
    c.plan().await;
    let problems = c.trigger_problems().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("load trigger `files:") && problems[0].contains("not a folder"), "{problems:?}");
    let detail = c.workflow_detail("load").unwrap();
    assert!(detail.triggers[0].problem.as_deref().is_some_and(|p| p.contains("not a folder")));
    // The schedule still fires.
    f.clock.set(t("2026-02-01T11:00:00Z"));
    c.plan().await;
    assert_eq!(runs(&c, "load").len(), 1);
    // Fixed: the problem clears at the next poll, and what is there then is the
    // baseline (a first poll that failed listed nothing).
    std::fs::remove_file(&not_a_dir).unwrap();
    std::fs::create_dir_all(&not_a_dir).unwrap();
    std::fs::write(not_a_dir.join("old.csv"), b"1").unwrap();
    f.clock.set(t("2026-02-01T11:01:00Z"));
    c.plan().await;
    assert!(c.trigger_problems().unwrap().is_empty());
    assert_eq!(runs(&c, "load").len(), 1, "old.csv is the baseline");
    std::fs::write(not_a_dir.join("new.csv"), b"2").unwrap();
    f.clock.set(t("2026-02-01T11:02:00Z"));
    c.plan().await;
    assert_eq!(runs(&c, "load").len(), 2, "new.csv starts a run");
}

async fn until_finished(c: &Coordinator, run_id: &str) -> RunRecord {
    for _ in 0..500 {
        let r = c.run(run_id).unwrap();
        if r.status.is_finished() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run_id} did not finish: {:?}", c.run(run_id).unwrap());
}

async fn until_waiting(c: &Coordinator, run_id: &str) -> NodeRecord {
    for _ in 0..500 {
        let n = node(c, run_id, "gate");
        if n.status == NodeStatus::Waiting {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("node gate of {run_id} never waited: {:?}", node(c, run_id, "gate"));
}

fn node(c: &Coordinator, run_id: &str, id: &str) -> NodeRecord {
    c.store().nodes(run_id).unwrap().into_iter().find(|n| n.node == id).unwrap()
}

#[tokio::test]
async fn a_wait_node_is_released_by_a_signal_and_times_out_on_the_clock() {
    let f = Fixture::new("2026-02-01T10:00:00Z");
    let c = f.coordinator();
    let body = "nodes:\n  gate: { wait: { signal: partner_feed, match: { day: \"${{ run.date }}\" }, timeout: 1h, poll: 10m } }\n";
    f.register_workflow(&c, "gated", body).await;
    let run = c.trigger("gated", &TriggerRun::default()).await.unwrap();
    let waited = until_waiting(&c, &run.id).await;
    assert!(waited.waiting.as_deref().is_some_and(|w| w.contains("signal partner_feed")), "{waited:?}");
    assert!(waited.attempts.is_empty(), "no attempt, no worker");
    assert_eq!((c.board.queue_depth(), c.board.active_leases()), (0, 0), "no lease is offered to workers");
    // A signal for another day does not release it; the right one does.
    c.signal("partner_feed", &signal(json!({"day": "2026-01-01"}), None)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(node(&c, &run.id, "gate").status, NodeStatus::Waiting);
    let sig = c.signal("partner_feed", &signal(json!({"day": "2026-02-01"}), None)).await.unwrap();
    let done = until_finished(&c, &run.id).await;
    assert_eq!(done.status, RunStatus::Succeeded);
    let n = node(&c, &run.id, "gate");
    assert_eq!(n.outputs.get("event"), Some(&json!(sig.event.id)));

    // Timeouts follow `on_timeout`, on the injected clock.
    for (on_timeout, status, run_status) in [("skip", NodeStatus::Skipped, RunStatus::Succeeded), ("fail", NodeStatus::Failed, RunStatus::Failed)] {
        let body = format!("nodes:\n  gate: {{ wait: {{ signal: never, timeout: 1h, poll: 10m, on_timeout: {on_timeout} }} }}\n");
        let id = format!("t{on_timeout}");
        f.register_workflow(&c, &id, &body).await;
        let run = c.trigger(&id, &TriggerRun::default()).await.unwrap();
        until_waiting(&c, &run.id).await;
        f.clock.advance(Duration::from_secs(30 * 60));
        c.waits.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(node(&c, &run.id, "gate").status, NodeStatus::Waiting, "not before the timeout");
        f.clock.advance(Duration::from_secs(31 * 60));
        c.waits.wake();
        let done = until_finished(&c, &run.id).await;
        assert_eq!(done.status, run_status);
        let n = node(&c, &run.id, "gate");
        assert_eq!(n.status, status);
        assert!(n.error.as_deref().is_some_and(|e| e.contains("timed out after 1h")), "{n:?}");
    }
}
