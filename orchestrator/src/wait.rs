//! `wait:` nodes: conditions the coordinator watches, holding no worker slot and no
//! kernel. The engine resolves a wait node's templates into a [`WaitRequest`] and
//! hands it to a [`Waiter`]; [`StoreWaiter`] looks for the condition in the state
//! store (signals, upstream runs) or on disk / object storage (files), looks again
//! every `poll` and whenever [`WaitWake::wake`] is called (a signal accepted, a run
//! ended), and gives up at the deadline, counted from when the node first started
//! waiting, so a restart does not extend it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::glob::{self, Pattern};
use crate::record::RunStatus;
use crate::store::{each_doc_newest, DocKind, RunQuery, StateStore};
use deckle_protocol::event::{EventKind, EventRecord};

/// A wait node's condition, its templates resolved for one run.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    /// A file or object matching the glob (`{date}` already the run's date).
    Files {
        /// The glob.
        pattern: String,
    },
    /// A signal of this name carrying these params, received since the run was created.
    Signal {
        /// The signal's name.
        name: String,
        /// Params it must carry (JSON equality).
        matches: BTreeMap<String, Value>,
    },
    /// A run of `workflow` for the run's logical date that ended in `status`.
    Workflow {
        /// The upstream workflow.
        workflow: String,
        /// Which ends count.
        status: deckle_dsl::UpstreamStatus,
    },
}

/// One wait, as the engine asks for it.
#[derive(Debug, Clone)]
pub struct WaitRequest {
    /// What to wait for.
    pub on: WaitFor,
    /// The run's logical date.
    pub date: String,
    /// When the run was created.
    pub run_created: Timestamp,
    /// Give up at this time.
    pub deadline: Timestamp,
    /// Look again this often.
    pub poll: Duration,
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitOutcome {
    /// The condition holds: the node's outputs.
    Found(serde_json::Map<String, Value>),
    /// The deadline passed.
    TimedOut,
    /// It cannot be waited for here (the message says why).
    Refused(String),
}

/// Watches wait conditions for the engine.
pub trait Waiter: Send + Sync {
    /// Resolve when `req`'s condition holds, its deadline passes, or it is refused.
    fn wait(&self, req: WaitRequest) -> BoxFuture<'static, WaitOutcome>;
}

/// Wakes every wait in progress to look again (cheap when none is waiting).
#[derive(Debug, Default)]
pub struct WaitWake(tokio::sync::Notify);

impl WaitWake {
    /// Something a wait may be waiting for happened.
    pub fn wake(&self) {
        self.0.notify_waiters();
    }
}

/// The [`Waiter`] over the state store, disk and object storage.
pub struct StoreWaiter {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    wake: Arc<WaitWake>,
    /// Whether signals and upstream runs can arrive (a server): `deckle run` has
    /// no API to post them to, so it refuses those waits at once.
    events: bool,
}

impl StoreWaiter {
    /// A waiter for `deckle server`: every kind of wait.
    pub fn new(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>, wake: Arc<WaitWake>) -> Self {
        StoreWaiter { store, clock, wake, events: true }
    }

    /// A waiter for `deckle run`: files only.
    pub fn files_only(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        StoreWaiter { store, clock, wake: Arc::default(), events: false }
    }
}

impl Waiter for StoreWaiter {
    fn wait(&self, req: WaitRequest) -> BoxFuture<'static, WaitOutcome> {
        let (store, clock, wake, events) = (self.store.clone(), self.clock.clone(), self.wake.clone(), self.events);
        Box::pin(async move {
            if !events && !matches!(req.on, WaitFor::Files { .. }) {
                return WaitOutcome::Refused("signal and workflow waits need `deckle server` (nothing can post a signal to `deckle run`)".into());
            }
            let pattern = match &req.on {
                WaitFor::Files { pattern } => match Pattern::parse(pattern) {
                    Ok(p) => Some(p),
                    Err(e) => return WaitOutcome::Refused(e),
                },
                _ => None,
            };
            // The newest event a signal wait has looked at: each look reads only newer ones.
            let mut looked_upto: Option<String> = None;
            loop {
                // Registered before looking, so a wake-up during the look is not lost.
                let woken = wake.0.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                let found = match (&req.on, &pattern) {
                    (WaitFor::Files { .. }, Some(p)) => files(p).await,
                    (WaitFor::Signal { name, matches }, _) => signal(store.as_ref(), name, matches, req.run_created, &mut looked_upto),
                    (WaitFor::Workflow { workflow, status }, _) => upstream_run(store.as_ref(), workflow, *status, &req.date),
                    _ => None,
                };
                if let Some(out) = found {
                    return WaitOutcome::Found(out);
                }
                let now = clock.now();
                if now >= req.deadline {
                    return WaitOutcome::TimedOut;
                }
                let left = Duration::try_from(req.deadline.duration_since(now)).unwrap_or(Duration::ZERO);
                tokio::select! {
                    _ = woken => {}
                    _ = tokio::time::sleep(req.poll.min(left)) => {}
                }
            }
        })
    }
}

/// Every match of `p` (a listing that fails counts as none: it is looked at again).
async fn files(p: &Pattern) -> Option<serde_json::Map<String, Value>> {
    let found = match glob::list(p).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(pattern = %p.text(), error = %e, "a files wait could not list");
            return None;
        }
    };
    let first = found.first()?;
    let mut out = serde_json::Map::new();
    out.insert("path".into(), json!(first.path));
    out.insert("paths".into(), json!(found.iter().map(|f| f.path.clone()).collect::<Vec<_>>()));
    Some(out)
}

/// The first signal named `name` with `matches`, received since `since` and after
/// the event `upto` (the newest one an earlier look read, which this one moves on).
fn signal(store: &dyn StateStore, name: &str, matches: &BTreeMap<String, Value>, since: Timestamp, upto: &mut Option<String>) -> Option<serde_json::Map<String, Value>> {
    // Events are keyed by arrival: read pages newest first down to `since`, or to
    // what was read before (a flood of signals must not make every look read all).
    let mut hit = None;
    let mut newest: Option<String> = None;
    each_doc_newest(store, DocKind::Event, None, |e: &EventRecord| e.id.clone(), |e| {
        if e.received_at < since || upto.as_ref().is_some_and(|u| e.id <= *u) {
            return Ok(false);
        }
        newest.get_or_insert_with(|| e.id.clone());
        let params = e.context.get("params");
        if e.kind == EventKind::Signal && e.name == name && matches.iter().all(|(k, v)| params.and_then(|p| p.get(k)) == Some(v)) {
            hit = Some(e); // keep going: the oldest match since `since` wins
        }
        Ok(true)
    })
    .ok()?;
    if newest.is_some() {
        *upto = newest;
    }
    let e = hit?;
    let mut out = serde_json::Map::new();
    out.insert("event".into(), json!(e.id));
    out.insert("params".into(), e.context.get("params").cloned().unwrap_or(json!({})));
    Some(out)
}

/// The latest run of `workflow` for `date` that ended in `status`.
fn upstream_run(store: &dyn StateStore, workflow: &str, status: deckle_dsl::UpstreamStatus, date: &str) -> Option<serde_json::Map<String, Value>> {
    let q = RunQuery { date: Some(date.to_string()), ..RunQuery::of_workflow(workflow, 100) };
    let runs = store.run_page(&q).ok()?;
    let r = runs.into_iter().find(|r| r.status != RunStatus::Running && status.accepts(r.status.as_str()))?;
    let mut out = serde_json::Map::new();
    out.insert("run_id".into(), json!(r.id));
    out.insert("status".into(), json!(r.status.as_str()));
    Some(out)
}
