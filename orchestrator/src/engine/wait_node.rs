//! `wait:` nodes in a run: resolved against the run's context, handed to the
//! engine's [`crate::wait::Waiter`] and settled by what it finds. A waiting node
//! takes no slot of the run and no worker. Its deadline counts from when it first
//! started waiting (`started_at`, stored), so a restart neither shortens nor
//! extends it.

use std::collections::BTreeMap;

use deckle_dsl::{OnTimeout, WaitNode, WaitOn};
use tokio::task::JoinSet;

use super::state::RunCtx;
use super::{Done, Engine};
use crate::error::Result;
use crate::record::NodeStatus;
use crate::wait::{WaitFor, WaitOutcome, WaitRequest};

fn describe(on: &WaitFor) -> String {
    match on {
        WaitFor::Files { pattern } => format!("a file matching {pattern}"),
        WaitFor::Signal { name, matches } if matches.is_empty() => format!("signal {name}"),
        WaitFor::Signal { name, matches } => format!("signal {name} with {}", serde_json::to_string(matches).unwrap_or_default()),
        WaitFor::Workflow { workflow, status } => format!("a run of {workflow} for the same date that {}", status.as_str()),
    }
}

/// The wait's templates evaluated for this run.
fn resolve(ctx: &RunCtx<'_>, id: &str, w: &WaitNode) -> Result<WaitFor, String> {
    let c = ctx.context(id);
    Ok(match &w.on {
        WaitOn::Files { path } => match path.eval(&c).map_err(|e| format!("`wait.files`: {e}"))? {
            serde_json::Value::String(s) => WaitFor::Files { pattern: s.replace("{date}", &ctx.date) },
            other => return Err(format!("`wait.files` must be a path, got {other}")),
        },
        WaitOn::Signal { name, matches } => {
            let mut m = BTreeMap::new();
            for (k, t) in matches {
                m.insert(k.clone(), t.eval(&c).map_err(|e| format!("`wait.match.{k}`: {e}"))?);
            }
            WaitFor::Signal { name: name.clone(), matches: m }
        }
        WaitOn::Workflow { workflow, status } => WaitFor::Workflow { workflow: workflow.clone(), status: *status },
    })
}

impl Engine {
    /// Start watching wait node `id`.
    pub(super) fn start_wait(&self, ctx: &mut RunCtx<'_>, join: &mut JoinSet<Done>, id: &str, w: &WaitNode) -> Result<()> {
        let now = self.clock.now();
        let run_id = ctx.run_id.clone();
        let on = match resolve(ctx, id, w) {
            Ok(on) => on,
            Err(message) => {
                let s = ctx.states.get_mut(id).expect("node");
                s.rec.ended_at = Some(now);
                return self.instance_settled(ctx, id, None, NodeStatus::Failed, Some(message));
            }
        };
        let (date, created) = (ctx.date.clone(), ctx.created_at);
        let s = ctx.states.get_mut(id).expect("node");
        s.running += 1;
        let started = *s.rec.started_at.get_or_insert(now);
        let timeout = jiff::SignedDuration::try_from(w.timeout).unwrap_or(jiff::SignedDuration::MAX);
        let deadline = started.checked_add(timeout).unwrap_or(jiff::Timestamp::MAX);
        s.rec.status = NodeStatus::Waiting;
        let until = deadline.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%SZ");
        s.rec.waiting = Some(format!("waiting for {} (until {until})", describe(&on)));
        let rec = s.rec.clone();
        self.save(&run_id, &rec)?;
        let fut = self.waiter.wait(WaitRequest { on, date, run_created: created, deadline, poll: w.poll });
        let node = id.to_string();
        join.spawn(async move { Done::Waited { node, outcome: fut.await } });
        Ok(())
    }

    /// Settle wait node `id` by what its waiter found.
    pub(super) fn finish_wait(&self, ctx: &mut RunCtx<'_>, id: &str, outcome: WaitOutcome) -> Result<()> {
        let deckle_dsl::NodeKind::Wait(w) = &ctx.wf.nodes[id].kind else { return Ok(()) };
        let (timeout, on_timeout) = (w.timeout, w.on_timeout);
        let what = ctx.states[id].rec.waiting.clone().unwrap_or_default();
        let run_id = ctx.run_id.clone();
        let s = ctx.states.get_mut(id).expect("node");
        s.running -= 1;
        s.rec.waiting = None;
        s.rec.ended_at = Some(self.clock.now());
        let (status, error) = match outcome {
            WaitOutcome::Found(outputs) => {
                s.rec.outputs = outputs;
                (NodeStatus::Succeeded, None)
            }
            WaitOutcome::TimedOut => {
                let gave_up = format!("timed out after {} {what}", deckle_dsl::duration::format_duration(timeout));
                match on_timeout {
                    OnTimeout::Fail => (NodeStatus::Failed, Some(gave_up)),
                    OnTimeout::Skip => (NodeStatus::Skipped, Some(format!("{gave_up}; skipped (on_timeout: skip)"))),
                }
            }
            WaitOutcome::Refused(why) => (NodeStatus::Failed, Some(why)),
        };
        let rec = s.rec.clone();
        self.save(&run_id, &rec)?;
        self.instance_settled(ctx, id, None, status, error)
    }
}
