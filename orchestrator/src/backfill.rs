//! Backfills: one run per logical time in a range, at most `parallel` of them in
//! flight, started in order (or reverse) as soon as a slot frees. A backfill is a
//! stored object: the planner feeds it after a restart too, and a run it created
//! before a crash is found again by its trigger, never created twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use deckle_protocol::api::{Backfill, BackfillDate, BackfillStatus, CreateBackfill, DateStatus};
use tracing::{info, instrument};

use crate::coordinator::Coordinator;
use crate::engine::{workflow_tz, RunRequest};
use crate::error::{Error, Result};
use crate::record::{RunRecord, RunStatus, RunTrigger};
use crate::store::{docs, get_doc, put_doc, DocKind, RunQuery};
use crate::{resolve, ticks};

/// Dates one backfill may cover.
const MAX_DATES: usize = 10_000;

fn parse_date(what: &str, d: &str) -> Result<jiff::civil::Date> {
    d.parse().map_err(|_| Error::Input(format!("{what} {d:?} is not a date (YYYY-MM-DD)")))
}

/// The [`DocKind::Index`] document listing the open backfills' ids.
const OPEN_BACKFILLS: &str = "open_backfills";

impl Coordinator {
    /// Plan a backfill; unless it is a dry run, store it and let the planner start it.
    #[instrument(skip_all, fields(workflow = %workflow))]
    pub async fn create_backfill(self: &Arc<Self>, workflow: &str, req: &CreateBackfill) -> Result<Backfill> {
        let entry = self.registry.entry(workflow)?;
        let version = req.version.or(entry.versions.last().map(|v| v.version)).unwrap_or(0);
        let wf = self.registry.load(workflow, version)?;
        let (from, to) = (parse_date("--from", &req.from)?, parse_date("--to", &req.to)?);
        let every = req.every.clone().unwrap_or_else(|| "1d".into());
        let parallel = req.parallel.unwrap_or(1);
        if parallel == 0 {
            return Err(Error::Input("--parallel must be at least 1".into()));
        }
        let params: Vec<(String, String)> = req.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let resolved = resolve::run_params(&wf, &params)?;
        let tz = workflow_tz(&wf);
        let mut times = ticks::backfill_times(from, to, &every, &tz, MAX_DATES).map_err(Error::Input)?;
        if req.reverse {
            times.reverse();
        }
        if req.only_failed {
            // The latest run of each logical time, whatever created it.
            let mut latest: HashMap<String, RunRecord> = HashMap::new();
            for r in self.workflow_runs(workflow)? {
                let key = r.logical_time.to_string();
                match latest.get(&key) {
                    Some(l) if l.started_at >= r.started_at => {}
                    _ => {
                        latest.insert(key, r);
                    }
                }
            }
            times.retain(|t| latest.get(&t.to_string()).is_some_and(|r| matches!(r.status, RunStatus::Failed | RunStatus::Cancelled)));
        }
        let now = self.clock.now();
        let dates = times
            .iter()
            .map(|t| BackfillDate { date: ticks::logical_date(*t, &tz).to_string(), logical_time: *t, run: None, status: DateStatus::Pending })
            .collect();
        let secret: Vec<&String> = wf.params.iter().filter(|(_, p)| p.secret).map(|(k, _)| k).collect();
        let stored_params: BTreeMap<String, String> = req.params.iter().filter(|(k, _)| !secret.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let mut bf = Backfill {
            id: format!("bf-{}-{suffix}", now.strftime("%Y%m%dT%H%M%S")),
            workflow: workflow.to_string(),
            version,
            status: BackfillStatus::Running,
            every,
            parallel,
            reverse: req.reverse,
            only_failed: req.only_failed,
            params: stored_params,
            created_at: now,
            ended_at: None,
            dates,
        };
        if !req.dry_run {
            self.health.check()?;
        }
        if req.dry_run {
            bf.status = BackfillStatus::Planned;
            return Ok(bf);
        }
        if bf.dates.is_empty() {
            bf.status = BackfillStatus::Succeeded;
            bf.ended_at = Some(now);
        }
        self.secrets.lock().unwrap_or_else(|p| p.into_inner()).insert(bf.id.clone(), resolved.secret_env);
        if bf.status == BackfillStatus::Running {
            // Indexed before it is stored: a crash between leaves an id without a
            // backfill (dropped at the next pass), never a backfill nobody advances.
            self.mark_open(&bf.id, true)?;
        }
        put_doc(self.store.as_ref(), DocKind::Backfill, &bf.id, &bf)?;
        self.store.flush().await?;
        info!(backfill = %bf.id, dates = bf.dates.len(), parallel, "backfill created");
        self.wake.notify_one();
        Ok(bf)
    }

    /// A backfill with every date's status read from its run.
    pub fn backfill(&self, id: &str) -> Result<Backfill> {
        let mut bf: Backfill = get_doc(self.store.as_ref(), DocKind::Backfill, id)?.ok_or_else(|| Error::NotFound(format!("backfill {id}")))?;
        self.refresh(&mut bf)?;
        Ok(bf)
    }

    /// Up to `limit` backfills (of `workflow`, when given) created before the
    /// backfill `before`, newest first (ids begin with their creation time).
    pub fn backfills(&self, workflow: Option<&str>, before: Option<&str>, limit: usize) -> Result<Vec<Backfill>> {
        let mut out: Vec<Backfill> = Vec::new();
        let mut cursor = before.map(str::to_string);
        loop {
            let page = self.store.doc_page(DocKind::Backfill, cursor.as_deref(), limit.max(1))?;
            let Some(last) = page.last() else { break };
            cursor = Some(crate::store::decode::<Backfill>(last)?.id);
            let full = page.len() == limit.max(1);
            for b in page {
                let mut bf: Backfill = crate::store::decode(&b)?;
                if workflow.is_none_or(|w| bf.workflow == w) && out.len() < limit {
                    self.refresh(&mut bf)?;
                    out.push(bf);
                }
            }
            if !full || out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn refresh(&self, bf: &mut Backfill) -> Result<()> {
        for d in &mut bf.dates {
            if let Some(run) = &d.run {
                if let Some(r) = self.store.get_run(run)? {
                    d.status = r.status.into();
                }
            } else if bf.status == BackfillStatus::Cancelled {
                d.status = DateStatus::Cancelled;
            }
        }
        Ok(())
    }

    /// The ids of the backfills not finished, from their index: the planner's pass
    /// reads those, not every backfill ever made. A data dir from before the index
    /// gets it built once, from all its backfills.
    pub(crate) fn open_backfills(&self) -> Result<Vec<String>> {
        let _one = self.backfill_index.lock().unwrap_or_else(|p| p.into_inner());
        self.open_backfill_ids()
    }

    /// [`Self::open_backfills`], with `backfill_index` held.
    fn open_backfill_ids(&self) -> Result<Vec<String>> {
        // Missing (a store from before the index), null or unreadable: rebuilt.
        match get_doc::<Option<Vec<String>>>(self.store.as_ref(), DocKind::Index, OPEN_BACKFILLS) {
            Ok(Some(Some(ids))) => return Ok(ids),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the open backfills' index does not read; rebuilding it"),
        }
        let ids: Vec<String> = docs::<Backfill>(self.store.as_ref(), DocKind::Backfill)?.into_iter().filter(|b| b.status == BackfillStatus::Running).map(|b| b.id).collect();
        put_doc(self.store.as_ref(), DocKind::Index, OPEN_BACKFILLS, &ids)?;
        Ok(ids)
    }

    /// Add `id` to the open backfills, or drop it.
    fn mark_open(&self, id: &str, open: bool) -> Result<()> {
        let _one = self.backfill_index.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids = self.open_backfill_ids()?;
        let had = ids.iter().any(|i| i == id);
        match (open, had) {
            (true, false) => ids.push(id.to_string()),
            (false, true) => ids.retain(|i| i != id),
            _ => return Ok(()),
        }
        put_doc(self.store.as_ref(), DocKind::Index, OPEN_BACKFILLS, &ids)
    }

    /// Every run of `workflow`, a page at a time (for a backfill of failed dates).
    fn workflow_runs(&self, workflow: &str) -> Result<Vec<RunRecord>> {
        let mut all = Vec::new();
        let mut q = RunQuery::of_workflow(workflow.to_string(), 1024);
        loop {
            let page = self.store.run_page(&q)?;
            let full = page.len() == q.limit;
            q.before = page.last().map(|r| r.id.clone());
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    /// Runs `bf` created, by logical time: found again after a crash between
    /// creating one and recording it in the backfill. Reads the workflow's runs
    /// newest first back to the backfill's creation, not the whole history.
    fn runs_created_by(&self, bf: &Backfill) -> Result<HashMap<String, RunRecord>> {
        let mut out = HashMap::new();
        let mut q = RunQuery::of_workflow(bf.workflow.clone(), 256);
        loop {
            let page = self.store.run_page(&q)?;
            let Some(last) = page.last() else { break };
            let done = page.len() < q.limit || last.started_at < bf.created_at;
            q.before = Some(last.id.clone());
            for r in page {
                if matches!(&r.trigger, RunTrigger::Backfill { id } if *id == bf.id) {
                    out.insert(r.logical_time.to_string(), r);
                }
            }
            if done {
                return Ok(out);
            }
        }
        Ok(out)
    }

    /// Start runs for the next dates of every running backfill, up to its `parallel`,
    /// and settle the backfills whose dates have all finished.
    pub(crate) async fn advance_backfills(self: &Arc<Self>) -> Result<()> {
        let mut running = Vec::new();
        for id in self.open_backfills()? {
            match get_doc::<Backfill>(self.store.as_ref(), DocKind::Backfill, &id)? {
                Some(bf) if bf.status == BackfillStatus::Running => running.push(bf),
                _ => self.mark_open(&id, false)?,
            }
        }
        if running.is_empty() {
            return Ok(());
        }
        for mut bf in running {
            self.refresh(&mut bf)?;
            let wf = self.registry.load(&bf.workflow, bf.version)?;
            let mine = if bf.dates.iter().any(|d| d.run.is_none()) { self.runs_created_by(&bf)? } else { HashMap::new() };
            let mut in_flight = bf.dates.iter().filter(|d| d.run.is_some() && !d.status.is_finished()).count();
            for i in 0..bf.dates.len() {
                if in_flight >= bf.parallel as usize {
                    break;
                }
                if bf.dates[i].run.is_some() {
                    continue;
                }
                let t = bf.dates[i].logical_time;
                let run = match mine.get(&t.to_string()) {
                    Some(r) => r.clone(),
                    None => {
                        let mut params: Vec<(String, String)> = bf.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        let secret = self.secrets.lock().unwrap_or_else(|p| p.into_inner()).get(&bf.id).cloned();
                        let secret = secret.unwrap_or_else(|| resolve::secrets_from_env(&wf));
                        // Secrets go back in as their params (typed the same way).
                        for (env, v) in secret {
                            if let Some((name, _)) = wf.params.iter().find(|(n, _)| resolve::secret_env_name(n) == env) {
                                params.push((name.clone(), v));
                            }
                        }
                        let req = RunRequest {
                            params,
                            logical_time: Some(t),
                            trigger: RunTrigger::Backfill { id: bf.id.clone() },
                            version: bf.version,
                            ..Default::default()
                        };
                        self.create_run(&wf, req).await?
                    }
                };
                bf.dates[i].run = Some(run.id.clone());
                bf.dates[i].status = run.status.into();
                put_doc(self.store.as_ref(), DocKind::Backfill, &bf.id, &bf)?;
                self.store.flush().await?;
                if !run.status.is_finished() {
                    in_flight += 1;
                }
            }
            self.refresh(&mut bf)?;
            if bf.dates.iter().all(|d| d.run.is_some() && d.status.is_finished()) {
                let failed = bf.dates.iter().any(|d| d.status != DateStatus::Succeeded);
                bf.status = if failed { BackfillStatus::Failed } else { BackfillStatus::Succeeded };
                bf.ended_at = Some(self.clock.now());
                put_doc(self.store.as_ref(), DocKind::Backfill, &bf.id, &bf)?;
                self.mark_open(&bf.id, false)?;
                self.store.flush().await?;
                self.secrets.lock().unwrap_or_else(|p| p.into_inner()).remove(&bf.id);
                info!(backfill = %bf.id, status = %bf.status, "backfill finished");
            }
        }
        Ok(())
    }

    /// Stop a backfill: pending dates are not started, runs in flight are cancelled.
    pub async fn cancel_backfill(self: &Arc<Self>, id: &str) -> Result<Backfill> {
        let mut bf = self.backfill(id)?;
        if bf.status != BackfillStatus::Running {
            return Err(Error::Conflict(format!("backfill {id} is {}, not running", bf.status)));
        }
        bf.status = BackfillStatus::Cancelled;
        bf.ended_at = Some(self.clock.now());
        put_doc(self.store.as_ref(), DocKind::Backfill, id, &bf)?;
        self.mark_open(id, false)?;
        self.store.flush().await?;
        for d in &bf.dates {
            if let (Some(run), false) = (&d.run, d.status.is_finished()) {
                match self.cancel(run).await {
                    Ok(_) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.secrets.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        self.backfill(id)
    }
}
