//! Runs whose process died: a `deckle run` killed by SIGKILL (or a power cut)
//! leaves its run and nodes `running` in the data dir, and nothing will ever carry
//! them on (a file run is not registered, so a server cannot resume it). Whoever
//! opens the data dir next — sled's lock says the old owner is gone — settles them:
//! the run and its running nodes `failed` with why, nodes that never started
//! `cancelled`, every attempt's notebook kept where it is.

use deckle_protocol::record::{NodeStatus, RunRecord, RunStatus};
use tracing::warn;

use crate::clock::Clock;
use crate::error::Result;
use crate::store::StateStore;

/// What [`settle_interrupted`] changed: the ids of the runs it settled.
pub type Settled = Vec<String>;

/// Is `run` one only a dead process could have been driving? File runs (version 0,
/// `deckle run`) that are still running or queued.
pub fn is_orphan_file_run(run: &RunRecord) -> bool {
    run.version == 0 && matches!(run.status, RunStatus::Running | RunStatus::Queued)
}

/// Settle every run `orphan` picks: `who` says what was found dead, for the errors.
pub fn settle_interrupted(store: &dyn StateStore, clock: &dyn Clock, orphan: impl Fn(&RunRecord) -> bool, who: &str) -> Result<Settled> {
    let now = clock.now().to_string();
    let mut settled = Vec::new();
    for mut run in store.runs()?.into_iter().filter(|r| orphan(r)) {
        let why = format!("interrupted: {who} ended before the run finished (found at {now})");
        for mut node in store.nodes(&run.id)? {
            if node.status.is_terminal() {
                continue;
            }
            let was_running = node.status == NodeStatus::Running;
            node.status = if was_running { NodeStatus::Failed } else { NodeStatus::Cancelled };
            node.error = Some(if was_running { why.clone() } else { format!("not run: {why}") });
            node.ended_at = Some(now.clone());
            if let Some(a) = node.attempts.last_mut().filter(|a| a.ended_at.is_none()) {
                a.status = NodeStatus::Failed;
                a.ended_at = Some(now.clone());
                a.error = Some(why.clone());
            }
            store.put_node(&run.id, &node)?;
        }
        warn!(run_id = %run.id, workflow = %run.workflow, "{why}");
        run.status = RunStatus::Failed;
        run.ended_at = Some(now.clone());
        store.put_run(&run)?;
        settled.push(run.id);
    }
    Ok(settled)
}
