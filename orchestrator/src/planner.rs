//! The coordinator's planner: one task that fires schedule ticks, feeds backfills
//! and starts queued runs. It wakes when a run finishes or something is created
//! or registered ([`Coordinator::wake`]: `notify_one`, whose permit is kept until
//! the planner takes it, so a wake-up during a pass is not lost) and at the next tick.
//!
//! A schedule's ticks count from when it was registered (the version that brought
//! the schedule), not from when the planner first looked at it: a tick between the
//! registration and the planner's next pass is fired, late, not skipped.
//!
//! A tick is never fired twice: the last fired tick is stored per workflow after
//! its run is created, and on start the planner also takes the latest scheduled
//! run in the store as fired, so a crash between the two writes cannot repeat it.

use std::sync::Arc;
use std::time::Duration;

use deckle_protocol::api::{PauseState, ScheduleState};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::{error, info, instrument};

use crate::coordinator::Coordinator;
use crate::engine::RunRequest;
use crate::error::{Error, Result};
use crate::record::RunTrigger;
use crate::store::{get_doc, put_doc, DocKind, RunQuery};
use crate::ticks::{self, Cron};

/// Ticks fired in one pass at most (a `* * * * *` schedule after a month away).
const MAX_TICKS_PER_PASS: usize = 1000;

/// A workflow's schedule state, stored by workflow id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScheduleDoc {
    /// No ticks fire while paused.
    pub paused: bool,
    /// The last tick a run was created for.
    pub last_tick: Option<Timestamp>,
    /// Nothing is due before this: when the schedule was first seen.
    pub since: Timestamp,
}

impl Coordinator {
    /// Run the planner until the coordinator is dropped.
    pub fn start_planner(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(me) = weak.upgrade() else { return };
                let next = me.plan().await;
                let now = me.clock.now();
                let wait = next.map_or(Duration::from_secs(60), |t| Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO));
                let wait = wait.min(Duration::from_secs(60)) + Duration::from_millis(5);
                let woken = async { me.wake.notified().await };
                tokio::select! {
                    _ = woken => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        });
    }

    /// One pass: schedules, backfills, admission. Returns when the next tick is due.
    pub async fn plan(self: &Arc<Self>) -> Option<Timestamp> {
        if self.health.is_faulted() {
            return None; // nothing can be recorded; the monitor wakes us on recovery
        }
        let next = match self.fire_schedules().await {
            Ok(n) => n,
            Err(e) => {
                error!(error = %e, "schedules");
                None
            }
        };
        if let Err(e) = self.advance_backfills().await {
            error!(error = %e, "backfills");
        }
        // Events first (held runs of an unpaused workflow, runs a crash kept from
        // starting), then the files triggers that are due.
        if let Err(e) = self.dispatch_events().await {
            error!(error = %e, "starting events' runs");
        }
        let next = match self.poll_files().await {
            Ok(due) => [next, due].into_iter().flatten().min(),
            Err(e) => {
                error!(error = %e, "files triggers");
                next
            }
        };
        if let Err(e) = self.admit().await {
            error!(error = %e, "starting queued runs");
        }
        next
    }

    fn schedule_doc(&self, workflow: &str) -> Result<ScheduleDoc> {
        match get_doc(self.store.as_ref(), DocKind::Schedule, workflow)? {
            Some(doc) => Ok(doc),
            None => Ok(ScheduleDoc { paused: false, last_tick: None, since: self.schedule_registered_at(workflow)? }),
        }
    }

    /// When the workflow's schedule began: the registration time of the oldest of the
    /// latest versions that all have a schedule (a version without one ends it).
    fn schedule_registered_at(&self, workflow: &str) -> Result<Timestamp> {
        let entry = self.registry.entry(workflow)?;
        let mut since = None;
        for v in entry.versions.iter().rev() {
            if self.registry.load(workflow, v.version)?.schedule.is_none() {
                break;
            }
            since = Some(v.registered_at);
        }
        Ok(since.unwrap_or_else(|| self.clock.now()))
    }

    /// Register a workflow version and wake the planner, so a schedule it brings is
    /// planned now, before its first tick. A version that brings a schedule back after
    /// one without starts it afresh from its registration (paused stays paused).
    pub async fn register(self: &Arc<Self>, req: &deckle_protocol::api::RegisterWorkflow) -> Result<deckle_protocol::api::WorkflowVersion> {
        let v = self.registry.register(req).await?;
        // The version is registered either way: if this fails, the planner derives
        // the schedule's start from the versions itself.
        if let Err(e) = self.schedule_from_registration(&v).await {
            error!(workflow = %v.workflow, error = %e, "recording a new schedule's start");
        }
        self.wake.notify_one();
        Ok(v)
    }

    async fn schedule_from_registration(&self, v: &deckle_protocol::api::WorkflowVersion) -> Result<()> {
        if self.registry.load(&v.workflow, v.version)?.schedule.is_none() {
            return Ok(());
        }
        let entry = self.registry.entry(&v.workflow)?;
        let previous = entry.versions.iter().rev().find(|p| p.version < v.version);
        let had_schedule = match previous {
            Some(p) => self.registry.load(&v.workflow, p.version)?.schedule.is_some(),
            None => false,
        };
        if had_schedule {
            return Ok(()); // the same schedule carries on (or the planner derives its start)
        }
        let stored = get_doc::<ScheduleDoc>(self.store.as_ref(), DocKind::Schedule, &v.workflow)?;
        let since = v.registered_at;
        let doc = ScheduleDoc { paused: stored.as_ref().is_some_and(|d| d.paused), last_tick: stored.and_then(|d| d.last_tick), since };
        put_doc(self.store.as_ref(), DocKind::Schedule, &v.workflow, &doc)?;
        self.store.flush().await
    }

    /// Create a run for every due tick of every scheduled, unpaused workflow.
    #[instrument(skip_all)]
    async fn fire_schedules(self: &Arc<Self>) -> Result<Option<Timestamp>> {
        let mut next: Option<Timestamp> = None;
        for entry in self.registry.entries()? {
            let Some(v) = entry.versions.last() else { continue };
            let wf = self.registry.load(&entry.id, v.version)?;
            let Some(sched) = &wf.schedule else { continue };
            let cron = Cron::of_schedule(sched).map_err(Error::Input)?;
            let mut doc = self.schedule_doc(&entry.id)?;
            if get_doc::<ScheduleDoc>(self.store.as_ref(), DocKind::Schedule, &entry.id)?.is_none() {
                put_doc(self.store.as_ref(), DocKind::Schedule, &entry.id, &doc)?;
                self.store.flush().await?;
            }
            if doc.paused {
                continue;
            }
            // The newest runs: a scheduled one among them has the latest tick (ticks
            // are fired in order); the schedule document keeps it past them.
            let recent = self.store.run_page(&RunQuery::of_workflow(entry.id.clone(), 100))?;
            let last_run = recent.iter().filter(|r| r.trigger == RunTrigger::Schedule).map(|r| r.logical_time).max();
            let last = doc.last_tick.max(last_run);
            let now = self.clock.now();
            for tick in ticks::due(&cron, last, doc.since, now, sched.catchup, MAX_TICKS_PER_PASS) {
                info!(workflow = %entry.id, tick = %tick, "schedule tick");
                let req = RunRequest { logical_time: Some(tick), trigger: RunTrigger::Schedule, version: v.version, ..Default::default() };
                self.create_run(&wf, req).await?;
                doc.last_tick = Some(tick);
                put_doc(self.store.as_ref(), DocKind::Schedule, &entry.id, &doc)?;
                self.store.flush().await?;
            }
            if let Some(t) = cron.next_after(now) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        Ok(next)
    }

    /// The schedule as the coordinator runs it, for the API.
    pub fn schedule_state(&self, workflow: &str) -> Result<Option<ScheduleState>> {
        let entry = self.registry.entry(workflow)?;
        let Some(v) = entry.versions.last() else { return Ok(None) };
        let wf = self.registry.load(workflow, v.version)?;
        let Some(sched) = &wf.schedule else { return Ok(None) };
        let doc = self.schedule_doc(workflow)?;
        let next = if doc.paused {
            None
        } else {
            Cron::of_schedule(sched).ok().and_then(|c| c.next_after(self.clock.now().max(doc.last_tick.unwrap_or(doc.since))))
        };
        Ok(Some(ScheduleState {
            cron: sched.cron.to_string(),
            timezone: sched.timezone.clone(),
            catchup: sched.catchup,
            paused: doc.paused,
            last_tick: doc.last_tick,
            next_tick: next,
        }))
    }

    /// Pause or unpause a workflow: its schedule, and the runs its triggers start
    /// (held while paused, started when unpaused).
    pub async fn set_paused(self: &Arc<Self>, workflow: &str, paused: bool) -> Result<PauseState> {
        self.health.check()?;
        let entry = self.registry.entry(workflow)?;
        let latest = entry.versions.last().map_or(0, |v| v.version);
        let has_triggers = self.registry.load(workflow, latest).is_ok_and(|wf| !wf.triggers.is_empty());
        if self.schedule_state(workflow)?.is_none() && !has_triggers {
            return Err(Error::Conflict(format!("workflow {workflow} has no schedule and no triggers to pause or unpause")));
        }
        let mut doc = self.schedule_doc(workflow)?;
        doc.paused = paused;
        put_doc(self.store.as_ref(), DocKind::Schedule, workflow, &doc)?;
        self.store.flush().await?;
        self.wake.notify_one();
        Ok(PauseState { workflow: workflow.to_string(), paused, schedule: self.schedule_state(workflow)?, held: self.held(workflow)? })
    }
}
