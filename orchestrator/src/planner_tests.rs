//! Schedules, admission and backfills on a coordinator with an injected clock and
//! an in-memory store: no workers, so runs that start stay running.

use std::collections::BTreeMap;
use std::sync::Arc;

use deckle_protocol::api::{CreateBackfill, RegisterWorkflow};

use crate::coordinator::Coordinator;
use crate::record::{RunStatus, RunTrigger};

use crate::test_fixture::{t, Fixture, NOTEBOOK};

fn runs(c: &Coordinator) -> Vec<crate::record::RunRecord> {
    let mut r = c.runs(&crate::store::RunQuery::of_workflow("wf", 10_000)).unwrap();
    r.sort_by(|a, b| a.logical_time.cmp(&b.logical_time));
    r
}

#[tokio::test]
async fn catchup_after_downtime_fires_every_missed_tick_once_in_order() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "schedule: { cron: \"0 3 * * *\", timezone: UTC, catchup: true }").await;
    c.plan().await;
    assert!(runs(&c).is_empty(), "nothing is due before the schedule was first seen");
    f.clock.set(t("2026-01-01T03:00:00Z"));
    c.plan().await;
    assert_eq!(runs(&c).len(), 1);
    // The coordinator is down for three days and comes back.
    drop(c);
    f.clock.set(t("2026-01-04T04:00:00Z"));
    let c = f.coordinator();
    let next = c.plan().await;
    let got: Vec<(String, String)> = runs(&c).iter().map(|r| (r.date.clone(), r.logical_time.to_string())).collect();
    assert_eq!(
        got,
        [
            ("2026-01-01".to_string(), "2026-01-01T03:00:00Z".to_string()),
            ("2026-01-02".into(), "2026-01-02T03:00:00Z".into()),
            ("2026-01-03".into(), "2026-01-03T03:00:00Z".into()),
            ("2026-01-04".into(), "2026-01-04T03:00:00Z".into()),
        ]
    );
    assert!(runs(&c).iter().all(|r| r.trigger == RunTrigger::Schedule));
    assert_eq!(next, Some(t("2026-01-05T03:00:00Z")));
    // Planning again, or after another restart, never fires a tick twice.
    c.plan().await;
    drop(c);
    let c = f.coordinator();
    c.plan().await;
    assert_eq!(runs(&c).len(), 4);
}

#[tokio::test]
async fn without_catchup_only_the_latest_missed_tick_runs() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "schedule: { cron: \"0 3 * * *\", timezone: UTC, catchup: false }").await;
    c.plan().await;
    f.clock.set(t("2026-01-04T04:00:00Z"));
    c.plan().await;
    let r = runs(&c);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].logical_time.to_string(), "2026-01-04T03:00:00Z");
}

#[tokio::test]
async fn a_tick_in_a_time_zone_gets_that_zone_s_date() {
    let f = Fixture::new("2026-03-07T12:00:00Z");
    let c = f.coordinator();
    f.register(&c, "schedule: { cron: \"30 2 * * *\", timezone: America/Los_Angeles, catchup: true }").await;
    c.plan().await;
    f.clock.set(t("2026-03-09T12:00:00Z"));
    c.plan().await;
    let got: Vec<(String, String)> = runs(&c).iter().map(|r| (r.date.clone(), r.logical_time.to_string())).collect();
    // 02:30 does not exist on 2026-03-08 in Los Angeles: it runs once, at 03:30 PDT.
    assert_eq!(got, [("2026-03-08".to_string(), "2026-03-08T10:30:00Z".to_string()), ("2026-03-09".into(), "2026-03-09T09:30:00Z".into())]);
}

#[tokio::test]
async fn max_active_runs_and_sequential_strategy_queue_the_rest_in_order() {
    for (head, running) in [("max_active_runs: 2", 2), ("run_strategy: sequential", 1), ("", 4)] {
        let f = Fixture::new("2026-01-01T00:00:00Z");
        let c = f.coordinator();
        f.register(&c, &format!("schedule: {{ cron: \"0 3 * * *\", catchup: true }}\n{head}")).await;
        c.plan().await;
        f.clock.set(t("2026-01-04T04:00:00Z"));
        c.plan().await;
        let statuses: Vec<RunStatus> = runs(&c).iter().map(|r| r.status).collect();
        let expect: Vec<RunStatus> = (0..4).map(|i| if i < running { RunStatus::Running } else { RunStatus::Queued }).collect();
        assert_eq!(statuses, expect, "{head:?}: the earliest logical times start first");
        // Cancelling a running one lets the next queued one start.
        if running < 4 {
            let first = runs(&c)[0].id.clone();
            c.cancel(&first).await.unwrap();
            c.plan().await;
            let r = runs(&c);
            assert_eq!(r[running].status, RunStatus::Running, "{head:?}");
        }
    }
}

#[tokio::test]
async fn a_paused_schedule_fires_nothing_until_unpaused() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "schedule: { cron: \"0 3 * * *\", catchup: true }").await;
    c.plan().await;
    let s = c.set_paused("wf", true).await.unwrap();
    assert!(s.paused && s.schedule.as_ref().is_some_and(|s| s.paused && s.next_tick.is_none()));
    f.clock.set(t("2026-01-03T04:00:00Z"));
    c.plan().await;
    assert!(runs(&c).is_empty());
    let s = c.set_paused("wf", false).await.unwrap();
    assert!(!s.paused);
    c.plan().await;
    assert_eq!(runs(&c).len(), 3, "catchup covers the paused days");
}

#[tokio::test]
async fn a_backfill_starts_at_most_parallel_runs_in_order_and_a_dry_run_creates_nothing() {
    let f = Fixture::new("2026-02-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "params: { k: { type: string, default: a } }").await;
    let req = |dry: bool, reverse: bool| CreateBackfill {
        from: "2026-01-01".into(),
        to: "2026-01-10".into(),
        every: None,
        parallel: Some(3),
        reverse,
        only_failed: false,
        dry_run: dry,
        params: BTreeMap::from([("k".to_string(), "b".to_string())]),
        version: None,
    };
    let plan = c.create_backfill("wf", &req(true, true)).await.unwrap();
    assert_eq!(plan.status, "planned");
    assert_eq!(plan.dates.len(), 10);
    assert_eq!(plan.dates[0].date, "2026-01-10", "reverse: latest first");
    assert!(c.backfills(None, None, 100).unwrap().is_empty() && runs(&c).is_empty(), "a dry run creates nothing");
    let bf = c.create_backfill("wf", &req(false, false)).await.unwrap();
    c.plan().await;
    let r = runs(&c);
    assert_eq!(r.iter().map(|r| r.date.as_str()).collect::<Vec<_>>(), ["2026-01-01", "2026-01-02", "2026-01-03"]);
    assert!(r.iter().all(|r| r.trigger == RunTrigger::Backfill { id: bf.id.clone() } && r.params["k"] == "b"));
    c.plan().await;
    assert_eq!(runs(&c).len(), 3, "planning again starts no more");
    // One finishing (here: cancelled) frees a slot at once for the next date.
    c.cancel(&runs(&c)[0].id).await.unwrap();
    c.plan().await;
    let shown = c.backfill(&bf.id).unwrap();
    assert_eq!(shown.dates.iter().map(|d| d.status.as_str()).collect::<Vec<_>>()[..5], ["cancelled", "running", "running", "running", "pending"]);
    assert_eq!(c.open_backfills().unwrap(), [bf.id.clone()], "the planner's pass reads the open backfills' index");
    let cancelled = c.cancel_backfill(&bf.id).await.unwrap();
    assert!(c.open_backfills().unwrap().is_empty(), "a cancelled backfill leaves the index");
    assert_eq!(cancelled.status, "cancelled");
    assert!(cancelled.dates.iter().all(|d| d.status == "cancelled"), "{:?}", cancelled.dates);
    c.plan().await;
    assert_eq!(runs(&c).len(), 4, "nothing more starts after cancel");
}

/// The planner's pass read every backfill ever made; it reads an index of the open
/// ones now, built once from all of them for a data dir from before it.
#[tokio::test]
async fn a_backfill_stored_before_the_open_index_is_found_and_finished_ones_leave_it() {
    let f = Fixture::new("2026-02-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "").await;
    let req = CreateBackfill { from: "2026-01-01".into(), to: "2026-01-02".into(), every: None, parallel: Some(2), reverse: false, only_failed: false, dry_run: false, params: BTreeMap::new(), version: None };
    let bf = c.create_backfill("wf", &req).await.unwrap();
    // As if the index were lost (a store from before it has none; no document can
    // be deleted here): the backfill, an index that does not read.
    c.store().put_doc_bytes(crate::store::DocKind::Index, "open_backfills", b"{not json".to_vec()).unwrap();
    assert_eq!(c.open_backfills().unwrap(), [bf.id.clone()], "rebuilt from the backfills");
    c.plan().await;
    assert_eq!(runs(&c).len(), 2, "the planner advanced it");
    for r in runs(&c) {
        c.cancel(&r.id).await.unwrap();
    }
    c.plan().await;
    assert_eq!(c.backfill(&bf.id).unwrap().status, "failed", "every date ended, not all succeeded");
    assert!(c.open_backfills().unwrap().is_empty(), "a finished backfill leaves the index");
}

#[tokio::test]
async fn cancel_right_after_a_rerun_stops_the_run_promptly() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "").await;
    let run = c.trigger("wf", &Default::default()).await.unwrap();
    for round in 0..3 {
        let t = std::time::Instant::now();
        let r = c.cancel(&run.id).await.unwrap();
        assert_eq!(r.status, RunStatus::Cancelled, "round {round}");
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "round {round}: cancel took {:?}", t.elapsed());
        c.rerun(&run.id, &deckle_protocol::api::Rerun { from_failed: round != 1, params: Default::default() }).await.unwrap();
        let again = c.rerun(&run.id, &deckle_protocol::api::Rerun { from_failed: false, params: Default::default() }).await;
        assert!(matches!(again, Err(crate::Error::Conflict(_))), "round {round}: a running run is not rerun: {again:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reruns_at_once_start_one_drive() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "").await;
    let run = c.trigger("wf", &Default::default()).await.unwrap();
    c.cancel(&run.id).await.unwrap();
    let req = deckle_protocol::api::Rerun { from_failed: true, params: Default::default() };
    let (c1, c2, id1, id2, r1, r2) = (c.clone(), c.clone(), run.id.clone(), run.id.clone(), req.clone(), req.clone());
    let (a, b) = tokio::join!(tokio::spawn(async move { c1.rerun(&id1, &r1).await }), tokio::spawn(async move { c2.rerun(&id2, &r2).await }));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    assert!(matches!(a.as_ref().err().or(b.as_ref().err()), Some(crate::Error::Conflict(_))));
    let t = std::time::Instant::now();
    assert_eq!(c.cancel(&run.id).await.unwrap().status, RunStatus::Cancelled);
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "cancel took {:?}", t.elapsed());
}

/// schemathesis found it: a cancel whose run was rerun by someone else just as it
/// ended waited for the *rerun's* drive to end too, and gave up after 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_racing_reruns_each_end_the_drive_they_cancelled() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "").await;
    let run = c.trigger("wf", &Default::default()).await.unwrap();
    let racer = |seed: u64| {
        let (c, id) = (c.clone(), run.id.clone());
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..40u64 {
                // Each task its own fixed interleaving of cancels and reruns.
                if (seed.wrapping_mul(31).wrapping_add(i * 7) / 3) % 2 == 0 {
                    outcomes.push(("cancel", c.cancel(&id).await.map(|r| r.status)));
                } else {
                    let req = deckle_protocol::api::Rerun { from_failed: i % 3 == 0, params: Default::default() };
                    outcomes.push(("rerun", c.rerun(&id, &req).await.map(|r| r.status)));
                }
            }
            outcomes
        })
    };
    let (a, b) = tokio::join!(racer(1), racer(2));
    let all: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    let cancelled = all.iter().filter(|(op, r)| *op == "cancel" && matches!(r, Ok(RunStatus::Cancelled))).count();
    assert!(cancelled > 0, "some cancels landed: {all:?}");
    for (op, r) in &all {
        match r {
            Ok(s) => assert_eq!(*s, if *op == "cancel" { RunStatus::Cancelled } else { RunStatus::Running }, "{op}"),
            Err(crate::Error::Conflict(m)) => assert!(!m.contains("did not stop"), "{op}: {m}"),
            Err(e) => panic!("{op}: {e}"),
        }
    }
}

/// Issue 14: `since` was set when the planner first looked at the schedule, after
/// the tick, so the first tick after registration never ran (not even late).
#[tokio::test]
async fn the_first_tick_after_registration_runs_even_if_the_planner_looks_late() {
    for catchup in [false, true] {
        let f = Fixture::new("2026-01-01T13:43:53Z");
        let c = f.coordinator();
        f.register(&c, &format!("schedule: {{ cron: \"* * * * *\", timezone: Europe/Paris, catchup: {catchup} }}")).await;
        assert_eq!(c.schedule_state("wf").unwrap().unwrap().next_tick.map(|t| t.to_string()).as_deref(), Some("2026-01-01T13:44:00Z"));
        // The planner's next pass comes after the tick (it was busy, or asleep).
        f.clock.set(t("2026-01-01T13:44:30Z"));
        c.plan().await;
        let got: Vec<String> = runs(&c).iter().map(|r| r.logical_time.to_string()).collect();
        assert_eq!(got, ["2026-01-01T13:44:00Z"], "catchup {catchup}");
        c.plan().await;
        assert_eq!(runs(&c).len(), 1, "catchup {catchup}: fired once");
    }
}

/// The same across a restart: registered, then the server stops before its planner
/// looked; the tick that fell while it was down or starting runs once.
#[tokio::test]
async fn a_tick_between_registration_and_a_restart_runs_once_after_it() {
    let f = Fixture::new("2026-01-01T13:43:53Z");
    let c = f.coordinator();
    f.register(&c, "schedule: { cron: \"* * * * *\", catchup: false }").await;
    drop(c);
    f.clock.set(t("2026-01-01T13:44:10Z"));
    let c = f.coordinator();
    c.plan().await;
    c.plan().await;
    let got: Vec<String> = runs(&c).iter().map(|r| r.logical_time.to_string()).collect();
    assert_eq!(got, ["2026-01-01T13:44:00Z"]);
}

/// Registration did not wake the planner: it slept up to a minute on its last
/// plan, past the new schedule's first tick.
#[tokio::test]
async fn registering_a_schedule_wakes_the_planner() {
    let f = Fixture::new("2026-01-01T13:43:53Z");
    let c = f.coordinator();
    c.plan().await;
    let _ = tokio::time::timeout(std::time::Duration::ZERO, c.wake.notified()).await; // none left over
    f.register(&c, "schedule: { cron: \"* * * * *\" }").await;
    // `notify_one` keeps its permit until the planner takes it: ready at once.
    let woken = tokio::time::timeout(std::time::Duration::ZERO, c.wake.notified()).await;
    assert!(woken.is_ok(), "the registration left no wake-up for the planner");
    assert_eq!(c.plan().await, Some(t("2026-01-01T13:44:00Z")), "the planner's next wake is the first tick");
}

/// A version that brings a schedule back after one without starts it afresh: the
/// ticks while the workflow had no schedule are not caught up.
#[tokio::test]
async fn a_schedule_brought_back_counts_from_its_new_registration() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, "schedule: { cron: \"0 3 * * *\", catchup: true }").await;
    c.plan().await;
    f.clock.set(t("2026-01-01T12:00:00Z"));
    c.plan().await;
    f.register(&c, "").await;
    f.clock.set(t("2026-01-05T12:00:00Z"));
    f.register(&c, "schedule: { cron: \"0 3 * * *\", catchup: true }").await;
    f.clock.set(t("2026-01-06T04:00:00Z"));
    c.plan().await;
    let got: Vec<String> = runs(&c).iter().map(|r| r.logical_time.to_string()).collect();
    assert_eq!(got, ["2026-01-01T03:00:00Z", "2026-01-06T03:00:00Z"]);
}

/// A sibling of issue 14's lost timers: a webhook's retries were in-memory sleeps
/// after the run's end was durable, so a server stopped in between never called it.
#[tokio::test]
async fn a_hook_a_restart_kept_from_being_called_is_called_after_it() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let hits = Arc::new(AtomicU32::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let hits = counted.clone();
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    f.register(&c, &format!("on_failure: {{ webhook: \"{url}\" }}")).await;
    // As the engine leaves a run that failed when the server died before its hook.
    let run = c.trigger("wf", &Default::default()).await.unwrap();
    c.cancel(&run.id).await.unwrap();
    let mut rec = c.run(&run.id).unwrap();
    rec.status = RunStatus::Failed;
    rec.hooks_pending = true;
    c.store.put_run(&rec).unwrap();
    drop(c);
    let c = f.coordinator();
    c.resume_all().unwrap();
    let recorded = async {
        loop {
            let r = c.run(&run.id).unwrap();
            if !r.hooks_pending {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), recorded).await.expect("the hook was called and recorded");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(r.notifications.len(), 1);
    assert!(r.notifications[0].delivered && r.notifications[0].event == "run_failed", "{:?}", r.notifications);
    // Once recorded, another restart does not call it again.
    drop(c);
    f.coordinator().resume_all().unwrap();
    tokio::task::yield_now().await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// Issue 14: a node whose labels no worker has showed "1 attempt" and a growing
/// duration while never leased, with no word of why.
#[tokio::test]
async fn a_node_no_worker_can_take_shows_no_attempt_and_says_what_it_waits_for() {
    let f = Fixture::new("2026-01-01T00:00:00Z");
    let c = f.coordinator();
    let content = "workflow: wf\nnodes:\n  train: { notebook: a.ipynb, labels: [gpu] }\n".to_string();
    let files = BTreeMap::from([("a.ipynb".to_string(), NOTEBOOK.to_string())]);
    c.register(&RegisterWorkflow { file_name: "wf.yaml".into(), content, files }).await.unwrap();
    let run = c.trigger("wf", &Default::default()).await.unwrap();
    // Wait for the engine to hand the attempt to the board (its record says so).
    for _ in 0..500 {
        if c.store.nodes(&run.id).unwrap().iter().any(|n| !n.attempts.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(c.store.nodes(&run.id).unwrap()[0].attempts.len(), 1, "dispatched");
    let detail = c.run_detail(&run.id).unwrap();
    let n = &detail.nodes[0];
    assert_eq!(n.status, crate::record::NodeStatus::Ready);
    assert!(n.attempts.is_empty(), "no attempt until a worker leases it: {:?}", n.attempts);
    assert_eq!(n.started_at, None, "no duration either");
    assert_eq!(n.waiting.as_deref(), Some("waiting for a worker with labels [gpu]; no worker connected"));
    let _ = c.cancel(&run.id).await;
}

/// Unpausing wakes the planner too, and a tick that fell while paused is fired once
/// without catchup (the latest), not skipped nor doubled.
#[tokio::test]
async fn unpausing_wakes_the_planner_and_fires_the_latest_tick_once() {
    let f = Fixture::new("2026-01-01T13:43:53Z");
    let c = f.coordinator();
    f.register(&c, "schedule: { cron: \"* * * * *\", catchup: false }").await;
    c.set_paused("wf", true).await.unwrap();
    c.plan().await;
    f.clock.set(t("2026-01-01T13:47:30Z"));
    c.plan().await;
    assert!(runs(&c).is_empty());
    let _ = tokio::time::timeout(std::time::Duration::ZERO, c.wake.notified()).await; // none left over
    c.set_paused("wf", false).await.unwrap();
    assert!(tokio::time::timeout(std::time::Duration::ZERO, c.wake.notified()).await.is_ok(), "unpause left no wake-up");
    c.plan().await;
    c.plan().await;
    let got: Vec<String> = runs(&c).iter().map(|r| r.logical_time.to_string()).collect();
    assert_eq!(got, ["2026-01-01T13:47:00Z"]);
}
