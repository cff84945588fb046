//! Runs started by events (`triggers:`): signals posted to the API, runs of other
//! workflows ending, files arriving ([`files`]).
//!
//! # Exactly once
//! An event is accepted in one durable write, before it is acknowledged: its
//! [`EventRecord`] with one [`Firing`] per trigger it matched, each naming the id
//! its run *will* have, plus its dedup key and an entry in the pending index. Its
//! runs are started afterwards ([`Coordinator::dispatch_events`], right away and on
//! every planner pass): a firing whose run id already exists is marked started
//! without creating anything, so a crash between creating a run and marking its
//! firing cannot start a second run, and a crash before creating it starts it after
//! the restart. A key seen before (a signal's idempotency key, an upstream run and
//! attempt, a file's path and signature) returns the first event and starts nothing.
//!
//! # Paused workflows
//! Events are accepted and stored; their firings for a paused workflow are `held`
//! and start, oldest first, when it is unpaused.

use std::collections::BTreeMap;
use std::sync::Arc;

use deckle_dsl::{Context, TriggerOn, Workflow};
use deckle_protocol::event::{EventKind, EventRecord, Firing, FiringState, PostSignal, SignalAccepted, TriggerState};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{error, info, instrument, warn};

use crate::coordinator::Coordinator;
use crate::engine::{new_run_id, RunRequest};
use crate::error::{Error, Result};
use crate::record::{NodeRecord, RunRecord, RunTrigger};
use crate::store::{each_doc_newest, get_doc, put_doc, DocKind};

mod files;

/// The [`DocKind::Index`] document listing events with firings left to start.
const PENDING: &str = "pending-events";
/// Events a filtered listing reads at most.
const MAX_SCANNED: usize = 10_000;
/// A signal's idempotency key, at most.
const MAX_KEY: usize = 256;

/// An event on its way in.
pub(crate) struct Incoming {
    pub kind: EventKind,
    pub name: String,
    /// Seen before → the first event is returned and nothing starts.
    pub dedup: Option<String>,
    /// A signal's idempotency key, as given.
    pub key: Option<String>,
    pub date: Option<String>,
    /// `trigger` in the runs' expressions (`event` is added).
    pub context: Value,
    /// Only this trigger (a files trigger's own poll): workflow, version, index.
    pub only: Option<(String, u32, usize)>,
    /// Store it even when no trigger matched (signals are listed whatever they start).
    pub keep_unmatched: bool,
}

/// A workflow trigger's state, by `workflow/index`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TriggerDoc {
    pub last_event: Option<String>,
    pub last_event_at: Option<Timestamp>,
    pub problem: Option<String>,
    /// A files trigger: what it has seen.
    #[serde(default)]
    pub files: Option<files::Seen>,
}

pub(crate) fn trigger_key(workflow: &str, index: usize) -> String {
    format!("{workflow}/{index}")
}

/// `signal:NAME`, `workflow:ID` or `files:PATTERN`.
pub fn source(on: &TriggerOn) -> String {
    match on {
        TriggerOn::Workflow { workflow, .. } => format!("workflow:{workflow}"),
        TriggerOn::Signal { name, .. } => format!("signal:{name}"),
        TriggerOn::Files(f) => format!("files:{}", f.path),
    }
}

/// Arrival time, then a counter, so events of one microsecond keep their order in
/// this process; then a random part, so processes never collide.
fn new_event_id(now: Timestamp) -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let t = now.to_zoned(jiff::tz::TimeZone::UTC);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
    format!("{}-{seq:06}{}", t.strftime("%Y%m%dT%H%M%S%.6f"), &uuid::Uuid::new_v4().simple().to_string()[..4])
}


/// Whether a failure to start a run will not go away by trying again.
fn is_permanent(e: &Error) -> bool {
    matches!(e, Error::Input(_) | Error::NotFound(_) | Error::InvalidWorkflow(_) | Error::Conflict(_))
}

fn check_signal_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Input(format!("signal name {:?} must be 1–128 of [A-Za-z0-9_.-]", name.chars().take(64).collect::<String>())))
    }
}

impl Coordinator {
    /// Accept a signal: stored (durably) before this returns, then its runs started.
    #[instrument(skip_all, fields(signal = %name))]
    pub async fn signal(self: &Arc<Self>, name: &str, req: &PostSignal) -> Result<SignalAccepted> {
        check_signal_name(name)?;
        if let Some(k) = &req.key {
            if k.is_empty() || k.chars().count() > MAX_KEY {
                return Err(Error::Input(format!("the signal's key must be 1–{MAX_KEY} characters")));
            }
        }
        if let Some(d) = &req.date {
            d.parse::<jiff::civil::Date>().map_err(|_| Error::Input(format!("date {d:?} is not a date (YYYY-MM-DD)")))?;
        }
        let context = json!({"kind": "signal", "signal": name, "params": req.params, "key": req.key});
        let inc = Incoming {
            kind: EventKind::Signal,
            name: name.to_string(),
            dedup: req.key.as_ref().map(|k| format!("signal/{name}/{k}")),
            key: req.key.clone(),
            date: req.date.clone(),
            context,
            only: None,
            keep_unmatched: true,
        };
        let (event, duplicate) = self.accept(inc).await?;
        self.waits.wake();
        Ok(SignalAccepted { event, duplicate })
    }

    /// Publish the end of a registered run to the workflows it triggers (before its
    /// `hooks_pending` is cleared, so a crash publishes it after the restart).
    pub(crate) async fn publish_run_end(self: &Arc<Self>, run: &RunRecord, nodes: &[NodeRecord]) -> Result<()> {
        let mut outputs = serde_json::Map::new();
        for n in nodes.iter().filter(|n| n.index.is_none() && !n.outputs.is_empty()) {
            outputs.insert(n.node.clone(), Value::Object(n.outputs.clone()));
        }
        let context = json!({
            "kind": "workflow", "workflow": run.workflow, "run_id": run.id, "status": run.status.as_str(),
            "date": run.date, "logical_time": run.logical_time.to_string(), "outputs": outputs,
        });
        let inc = Incoming {
            kind: EventKind::Workflow,
            name: run.workflow.clone(),
            dedup: Some(format!("run/{}/{}", run.id, run.attempt)),
            key: None,
            date: Some(run.date.clone()),
            context,
            only: None,
            keep_unmatched: false,
        };
        self.accept(inc).await?;
        Ok(())
    }

    /// Store an event and its firings durably, then start its runs. Returns the
    /// event (the first one for a key seen before) and whether it was a duplicate.
    pub(crate) async fn accept(self: &Arc<Self>, inc: Incoming) -> Result<(EventRecord, bool)> {
        self.health.check()?;
        let rec = {
            let _one = self.events_lock.lock().await;
            if let Some(key) = &inc.dedup {
                if let Some(id) = get_doc::<String>(self.store.as_ref(), DocKind::EventKey, key)? {
                    if let Some(first) = get_doc::<EventRecord>(self.store.as_ref(), DocKind::Event, &id)? {
                        return Ok((first, true));
                    }
                }
            }
            let now = self.clock.now();
            let id = new_event_id(now);
            let mut context = inc.context;
            if let Value::Object(m) = &mut context {
                m.insert("event".into(), json!(id));
            }
            let mut rec = EventRecord { id, kind: inc.kind, name: inc.name, received_at: now, key: inc.key, date: inc.date, context, firings: Vec::new() };
            rec.firings = self.matching(&rec, inc.only.as_ref())?;
            if rec.firings.is_empty() && !inc.keep_unmatched {
                return Ok((rec, false));
            }
            if !rec.firings.is_empty() {
                let mut pending = self.pending_events()?;
                pending.push(rec.id.clone());
                put_doc(self.store.as_ref(), DocKind::Index, PENDING, &pending)?;
            }
            put_doc(self.store.as_ref(), DocKind::Event, &rec.id, &rec)?;
            if let Some(key) = &inc.dedup {
                put_doc(self.store.as_ref(), DocKind::EventKey, key, &rec.id)?;
            }
            self.store.flush().await?;
            info!(event = %rec.id, kind = rec.kind.as_str(), name = %rec.name, runs = rec.firings.len(), "event accepted");
            rec
        };
        crate::failpoint::hit("event-accepted");
        match self.dispatch_event(&rec.id).await {
            Ok(Some(done)) => Ok((done, false)),
            Ok(None) => Ok((rec, false)),
            Err(e) => {
                // Stored: the planner starts its runs once the store takes writes again.
                warn!(event = %rec.id, error = %e, "starting an event's runs; the planner retries");
                Ok((rec, false))
            }
        }
    }

    fn pending_events(&self) -> Result<Vec<String>> {
        Ok(get_doc::<Vec<String>>(self.store.as_ref(), DocKind::Index, PENDING)?.unwrap_or_default())
    }

    /// The triggers of registered workflows (latest versions) `rec` matches.
    fn matching(&self, rec: &EventRecord, only: Option<&(String, u32, usize)>) -> Result<Vec<Firing>> {
        let mut out = Vec::new();
        for entry in self.registry.entries()? {
            let Some(v) = entry.versions.last() else { continue };
            if only.is_some_and(|(w, _, _)| *w != entry.id) {
                continue;
            }
            let wf = match self.registry.load(&entry.id, v.version) {
                Ok(wf) => wf,
                Err(e) => {
                    error!(workflow = %entry.id, error = %e, "a workflow version does not load; its triggers are skipped");
                    continue;
                }
            };
            for (i, t) in wf.triggers.iter().enumerate() {
                let (hit, error) = match (only, &t.on) {
                    (Some((_, version, index)), _) => (*version == v.version && *index == i, None),
                    (None, TriggerOn::Signal { name, matches }) => {
                        let params = rec.context.get("params");
                        (rec.kind == EventKind::Signal && *name == rec.name && matches.iter().all(|(k, want)| params.and_then(|p| p.get(k)) == Some(want)), None)
                    }
                    (None, TriggerOn::Workflow { workflow, status, when }) => {
                        let status_ok = rec.context.get("status").and_then(Value::as_str).is_some_and(|s| status.accepts(s));
                        if rec.kind != EventKind::Workflow || *workflow != rec.name || !status_ok {
                            (false, None)
                        } else {
                            match when.as_ref().map(|w| w.eval_bool(&Context::default().with_trigger(rec.context.clone()))) {
                                None | Some(Ok(true)) => (true, None),
                                Some(Ok(false)) => (false, None),
                                Some(Err(e)) => (true, Some(format!("`when` of the trigger: {e}"))),
                            }
                        }
                    }
                    (None, TriggerOn::Files(_)) => (false, None),
                };
                if hit {
                    let state = if error.is_some() { FiringState::Failed } else { FiringState::Pending };
                    out.push(Firing { workflow: entry.id.clone(), version: v.version, trigger: i, source: source(&t.on), run_id: new_run_id(self.clock.as_ref()), state, error });
                }
            }
        }
        Ok(out)
    }

    /// Start the runs of every event with firings left (held ones whose workflow
    /// was unpaused, ones a crash or a storage fault interrupted).
    pub(crate) async fn dispatch_events(self: &Arc<Self>) -> Result<()> {
        for id in self.pending_events()? {
            self.dispatch_event(&id).await?;
        }
        Ok(())
    }

    /// Start what `id` still has to start; the event as it stands after.
    async fn dispatch_event(self: &Arc<Self>, id: &str) -> Result<Option<EventRecord>> {
        let _one = self.firing_lock.lock().await;
        let Some(mut rec) = get_doc::<EventRecord>(self.store.as_ref(), DocKind::Event, id)? else {
            // Indexed, never stored (a crash between): nothing to start.
            self.unindex(id).await?;
            return Ok(None);
        };
        let mut changed = false;
        for i in 0..rec.firings.len() {
            let f = rec.firings[i].clone();
            if !matches!(f.state, FiringState::Pending | FiringState::Held) {
                continue;
            }
            let state = if self.is_paused(&f.workflow)? {
                FiringState::Held
            } else if self.store.get_run(&f.run_id)?.is_some() {
                FiringState::Started // created before a crash kept us from saying so
            } else {
                match self.start_firing(&rec, &f).await {
                    Ok(()) => FiringState::Started,
                    Err(e) if is_permanent(&e) => {
                        warn!(event = %rec.id, workflow = %f.workflow, error = %e, "an event's run was refused");
                        rec.firings[i].error = Some(e.to_string());
                        FiringState::Failed
                    }
                    Err(e) => return Err(e),
                }
            };
            if state != f.state {
                rec.firings[i].state = state;
                changed = true;
                if state != FiringState::Held || f.state == FiringState::Pending {
                    self.note_trigger_event(&f, &rec)?;
                }
            }
        }
        if changed {
            put_doc(self.store.as_ref(), DocKind::Event, &rec.id, &rec)?;
            self.store.flush().await?;
        }
        if rec.is_done() {
            self.unindex(&rec.id).await?;
        }
        Ok(Some(rec))
    }

    async fn unindex(&self, id: &str) -> Result<()> {
        let mut pending = self.pending_events()?;
        let before = pending.len();
        pending.retain(|p| p != id);
        if pending.len() != before {
            put_doc(self.store.as_ref(), DocKind::Index, PENDING, &pending)?;
            self.store.flush().await?;
        }
        Ok(())
    }

    fn note_trigger_event(&self, f: &Firing, rec: &EventRecord) -> Result<()> {
        let key = trigger_key(&f.workflow, f.trigger);
        let mut doc = get_doc::<TriggerDoc>(self.store.as_ref(), DocKind::TriggerState, &key)?.unwrap_or_default();
        doc.last_event = Some(rec.id.clone());
        doc.last_event_at = Some(rec.received_at);
        put_doc(self.store.as_ref(), DocKind::TriggerState, &key, &doc)
    }

    /// Create the run of one firing, with the id chosen when the event was accepted.
    async fn start_firing(self: &Arc<Self>, rec: &EventRecord, f: &Firing) -> Result<()> {
        let wf: Arc<Workflow> = self.registry.load(&f.workflow, f.version)?;
        let t = wf.triggers.get(f.trigger).ok_or_else(|| Error::NotFound(format!("trigger {} of {} version {}", f.trigger, f.workflow, f.version)))?;
        let ctx = Context::default().with_trigger(rec.context.clone());
        let mut params = Vec::new();
        for (name, tpl) in &t.params {
            let v = tpl.eval(&ctx).map_err(|e| Error::Input(format!("param `{name}` of trigger `{}`: {e}", f.source)))?;
            params.push((name.clone(), crate::resolve::raw_text(&v)));
        }
        let logical_time = match rec.kind {
            EventKind::Workflow => rec.context.get("logical_time").and_then(Value::as_str).and_then(|t| t.parse::<Timestamp>().ok()),
            _ => None,
        };
        let date = rec.date.clone().or_else(|| match rec.kind {
            // A file without `{date}`: the day it was seen, in the workflow's time zone.
            EventKind::Files => Some(rec.received_at.to_zoned(crate::engine::workflow_tz(&wf)).date().to_string()),
            _ => None,
        });
        let req = RunRequest {
            params,
            date,
            logical_time,
            version: f.version,
            trigger: RunTrigger::Event { event: rec.id.clone(), source: f.source.clone(), context: rec.context.clone() },
            id: Some(f.run_id.clone()),
            ..Default::default()
        };
        let run = self.create_run(&wf, req).await?;
        info!(event = %rec.id, workflow = %f.workflow, run_id = %run.id, "event started a run");
        crate::failpoint::hit("event-run-created");
        Ok(())
    }

    /// Whether `workflow` is paused (its schedule and its triggers).
    pub(crate) fn is_paused(&self, workflow: &str) -> Result<bool> {
        Ok(get_doc::<crate::planner::ScheduleDoc>(self.store.as_ref(), DocKind::Schedule, workflow)?.is_some_and(|d| d.paused))
    }

    /// Runs held for `workflow` while it is paused.
    pub(crate) fn held(&self, workflow: &str) -> Result<usize> {
        let mut n = 0;
        for id in self.pending_events()? {
            if let Some(rec) = get_doc::<EventRecord>(self.store.as_ref(), DocKind::Event, &id)? {
                n += rec.firings.iter().filter(|f| f.workflow == workflow && f.state == FiringState::Held).count();
            }
        }
        Ok(n)
    }

    /// Stored events, newest first: of `kind` and `name` when given, older than `before`.
    pub fn events(&self, kind: Option<EventKind>, name: Option<&str>, before: Option<&str>, limit: usize) -> Result<Vec<EventRecord>> {
        let mut out = Vec::new();
        // Bounded scan: a filter matching nothing does not read all history.
        let mut scanned = 0;
        each_doc_newest(self.store.as_ref(), DocKind::Event, before.map(str::to_string), |e: &EventRecord| e.id.clone(), |e| {
            scanned += 1;
            if kind.is_none_or(|k| k == e.kind) && name.is_none_or(|n| n == e.name) {
                out.push(e);
            }
            Ok(out.len() < limit && scanned < MAX_SCANNED)
        })?;
        Ok(out)
    }

    /// The stored event `id`.
    pub fn event(&self, id: &str) -> Result<EventRecord> {
        get_doc(self.store.as_ref(), DocKind::Event, id)?.ok_or_else(|| Error::NotFound(format!("event {id}")))
    }

    /// `wf`'s triggers as the coordinator runs them.
    pub fn trigger_states(&self, wf: &Workflow) -> Result<Vec<TriggerState>> {
        let mut out = Vec::new();
        for (i, t) in wf.triggers.iter().enumerate() {
            let doc = get_doc::<TriggerDoc>(self.store.as_ref(), DocKind::TriggerState, &trigger_key(&wf.id, i))?.unwrap_or_default();
            let listed_at = doc.files.as_ref().and_then(|f| f.listed_at);
            out.push(TriggerState { source: source(&t.on), last_event: doc.last_event, last_event_at: doc.last_event_at, problem: doc.problem, listed_at });
        }
        Ok(out)
    }

    /// The workflows that start `id` and those it starts (latest versions).
    pub fn workflow_links(&self, id: &str) -> Result<(Vec<String>, Vec<String>)> {
        let mut up = Vec::new();
        let mut down = Vec::new();
        for entry in self.registry.entries()? {
            let Some(v) = entry.versions.last() else { continue };
            let Ok(wf) = self.registry.load(&entry.id, v.version) else { continue };
            let ups = crate::workflow_links::upstreams(&wf);
            if entry.id == id {
                up = ups.into_iter().map(|(u, _)| u).collect();
            } else if ups.iter().any(|(u, _)| u == id) {
                down.push(entry.id.clone());
            }
        }
        Ok((up, down))
    }

    /// Every trigger problem now (`workflow: problem`), for health.
    pub fn trigger_problems(&self) -> Result<Vec<String>> {
        let mut out = BTreeMap::new();
        for entry in self.registry.entries()? {
            let Some(v) = entry.versions.last() else { continue };
            let Ok(wf) = self.registry.load(&entry.id, v.version) else { continue };
            for (i, s) in self.trigger_states(&wf)?.into_iter().enumerate() {
                if let Some(p) = s.problem {
                    out.insert((entry.id.clone(), i), format!("{} trigger `{}`: {p}", entry.id, s.source));
                }
            }
        }
        Ok(out.into_values().collect())
    }
}
