//! A run's live state rebuilt from the store, so [`Engine::drive`] can carry on a
//! run that was in flight when the coordinator stopped, and reset a finished run
//! for a rerun.
//!
//! An attempt recorded as running with no end is handed to the executor again as
//! the *same* attempt (`reattach`): a remote executor reattaches to the worker's
//! lease if it is still alive, or the lease expires and the attempt counts as lost.

use std::collections::{BTreeSet, HashMap};

use deckle_dsl::Workflow;
use serde_json::Map;

use super::state::{NodeState, Queued, RunCtx, Started};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::record::{NodeRecord, NodeStatus, RunStatus};
use crate::resolve;
use crate::store::StateStore;

/// What to queue for an unfinished instance.
fn resume_entry(rec: &NodeRecord) -> Queued {
    match rec.attempts.last() {
        Some(a) if a.ended_at.is_none() => Queued { index: rec.index, attempt: a.n, reattach: true },
        Some(a) => Queued { index: rec.index, attempt: a.n + 1, reattach: false },
        None => Queued { index: rec.index, attempt: 1, reattach: false },
    }
}

/// When a retry of an instance waiting out its `retry_delay` is due.
fn retry_due(rec: &NodeRecord) -> Option<jiff::Timestamp> {
    let waiting = rec.status == NodeStatus::Retrying && rec.attempts.last().is_some_and(|a| a.ended_at.is_some());
    rec.retry_at.filter(|_| waiting)
}

/// Queue a resumed instance now, or when its retry is due (the drive waits for it).
fn queue_or_delay(ctx: &mut RunCtx<'_>, id: &str, q: Queued, due: Option<jiff::Timestamp>) {
    match due {
        Some(due) => ctx.delayed.push((id.to_string(), q, due)),
        None => ctx.enqueue(id, q),
    }
}

/// Fill `ctx` from the store. Returns the foreach nodes that may have finished
/// meanwhile (every instance settled): the engine settles them.
pub(super) fn restore(store: &dyn StateStore, ctx: &mut RunCtx<'_>) -> Result<Vec<String>> {
    let mut check_foreach = Vec::new();
    let mut parents: HashMap<String, NodeRecord> = HashMap::new();
    let mut instances: HashMap<String, Vec<NodeRecord>> = HashMap::new();
    for r in store.nodes(&ctx.run_id)? {
        match r.index {
            None => {
                parents.insert(r.node.clone(), r);
            }
            Some(_) => instances.entry(r.node.clone()).or_default().push(r),
        }
    }
    for id in ctx.order {
        let rec = parents.remove(id).unwrap_or_else(|| NodeRecord::new(id, None));
        if !rec.status.is_terminal() {
            ctx.unsettled += 1;
        }
        ctx.states.insert(id.clone(), NodeState::new(rec));
    }
    for id in ctx.order {
        let mut insts = instances.remove(id).unwrap_or_default();
        insts.sort_by_key(|r| r.index);
        let status = ctx.states[id].rec.status;
        let node = &ctx.wf.nodes[id];
        match status {
            NodeStatus::Pending => {
                // A rerun: the instances' history carries over when the node starts again.
                for r in insts {
                    ctx.old_instances.insert((id.clone(), r.index.unwrap_or(0)), r);
                }
            }
            s if s.is_terminal() => {
                let st = ctx.states.get_mut(id).expect("node");
                st.is_foreach = st.rec.items.is_some();
                st.instances = insts;
            }
            _ if node.foreach.is_some() => {
                let items = match ctx.foreach_items(node) {
                    Ok(items) => items.unwrap_or_default(),
                    Err(e) => {
                        // The upstream outputs it was computed from are recorded, so this
                        // only happens if the record was damaged.
                        let st = ctx.states.get_mut(id).expect("node");
                        st.rec.status = NodeStatus::Failed;
                        st.rec.error = Some(e);
                        store.put_node(&ctx.run_id, &st.rec)?;
                        ctx.node_settled(id);
                        continue;
                    }
                };
                let run_id = ctx.run_id.clone();
                let st = ctx.states.get_mut(id).expect("node");
                st.is_foreach = true;
                st.rec.items = Some(items.len());
                for i in insts.len()..items.len() {
                    let r = NodeRecord::new(id, Some(i));
                    store.put_node(&run_id, &r)?;
                    insts.push(r);
                }
                st.items = items;
                let queued: Vec<(Queued, Option<jiff::Timestamp>)> = insts.iter().filter(|r| !r.status.is_terminal()).map(|r| (resume_entry(r), retry_due(r))).collect();
                st.instances = insts;
                for (q, due) in queued {
                    queue_or_delay(ctx, id, q, due);
                }
                check_foreach.push(id.clone());
            }
            _ => {
                let rec = &ctx.states[id].rec;
                let (q, due) = (resume_entry(rec), retry_due(rec));
                queue_or_delay(ctx, id, q, due);
            }
        }
    }
    Ok(check_foreach)
}


/// Reset a finished run for a rerun, as its next run attempt: with `from_failed`
/// succeeded nodes keep their state and outputs unless something they need is
/// re-run; every other node goes back to pending (its attempts stay in its
/// history). `params` change the run's params. Drive the result with
/// [`Engine::drive`].
pub(super) async fn prepare_rerun(store: &dyn StateStore, clock: &dyn Clock, wf: &Workflow, run_id: &str, from_failed: bool, params: &[(String, String)]) -> Result<Started> {
    let mut run = store.get_run(run_id)?.ok_or_else(|| Error::NotFound(format!("run {run_id}")))?;
    if run.status == RunStatus::Running {
        return Err(Error::Conflict(format!("run {run_id} is still running; cancel it or wait for it to finish")));
    }
    let mut raw: Vec<(String, String)> = run.params.iter().filter(|(k, _)| wf.params.contains_key(*k)).map(|(k, v)| (k.clone(), resolve::raw_text(v))).collect();
    raw.extend(params.iter().cloned());
    let resolved = resolve::run_params(wf, &raw)?;
    let nodes = store.nodes(run_id)?;
    // Which nodes run again: every one that did not succeed, and everything downstream.
    // (Records of hook notebooks, `@on_failure`, are not workflow nodes: left as they are.)
    let mut again: BTreeSet<String> = nodes
        .iter()
        .filter(|r| r.index.is_none() && wf.nodes.contains_key(&r.node) && (!from_failed || r.status != NodeStatus::Succeeded))
        .map(|r| r.node.clone())
        .collect();
    for id in wf.topo_order() {
        if wf.nodes[&id].needs.iter().any(|d| again.contains(d)) {
            again.insert(id);
        }
    }
    for mut r in nodes.into_iter().filter(|r| r.index.is_none() && again.contains(&r.node)) {
        r.status = NodeStatus::Pending;
        r.outputs = Map::new();
        r.error = None;
        r.items = None;
        r.started_at = None;
        r.ended_at = None;
        r.retry_at = None;
        store.put_node(run_id, &r)?;
    }
    run.params = resolved.visible;
    run.attempt += 1;
    run.status = RunStatus::Running;
    run.hooks_pending = false;
    // The first start stays; each run attempt's start is kept beside it.
    if run.attempts_started_at.is_empty() {
        run.attempts_started_at.push(run.started_at.clone());
    }
    run.attempts_started_at.push(clock.now());
    run.ended_at = None;
    store.put_run(&run)?;
    store.flush().await?;
    Ok(Started { run, secret_env: resolved.secret_env })
}
