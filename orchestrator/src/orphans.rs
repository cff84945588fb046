//! Runs whose process died: a `deckle run` killed by SIGKILL (or a power cut)
//! leaves its run and nodes `running` in the data dir, and nothing will ever carry
//! them on (a file run is not registered, so a server cannot resume it). Whoever
//! opens the data dir next — sled's lock says the old owner is gone — settles them:
//! the run and its running nodes `failed` with why, nodes that never started
//! `cancelled`, every attempt's notebook kept where it is and finished like a
//! stopped one (the cell that was running marked `Interrupted`, the end time).

use std::path::{Path, PathBuf};

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
/// Notebook paths in the records are absolute, or relative to `data_dir`.
pub fn settle_interrupted(store: &dyn StateStore, clock: &dyn Clock, data_dir: &Path, mirror: &crate::mirror::Mirror, orphan: impl Fn(&RunRecord) -> bool, who: &str) -> Result<Settled> {
    let at = clock.now();
    let mut settled = Vec::new();
    for mut run in store.open_runs()?.into_iter().filter(|r| orphan(r)) {
        let why = format!("interrupted: {who} ended before the run finished (found at {at})");
        for mut node in store.nodes(&run.id)? {
            if node.status.is_terminal() {
                continue;
            }
            let was_running = node.status == NodeStatus::Running;
            node.status = if was_running { NodeStatus::Failed } else { NodeStatus::Cancelled };
            node.error = Some(if was_running { why.clone() } else { format!("not run: {why}") });
            node.ended_at = Some(at);
            if let Some(a) = node.attempts.last_mut().filter(|a| a.ended_at.is_none()) {
                a.status = NodeStatus::Failed;
                a.ended_at = Some(at);
                a.error = Some(why.clone());
                if let Some(nb) = &a.notebook {
                    let path = if Path::new(nb).is_absolute() || Path::new(nb).exists() { PathBuf::from(nb) } else { data_dir.join(nb) };
                    // It may be in the artifact store only (uploaded by an earlier start).
                    if let Err(e) = mirror.localize(&path) {
                        warn!(path = %path.display(), error = %e, "cannot fetch the interrupted attempt's notebook");
                    }
                    if let Err(e) = crate::attempt_notebook::finish_stopped(&path, "Interrupted", &why, at, data_dir) {
                        warn!(path = %path.display(), error = %e, "cannot finish the interrupted attempt's notebook");
                    }
                    mirror.finished(&path);
                }
            }
            store.put_node(&run.id, &node)?;
        }
        warn!(run_id = %run.id, workflow = %run.workflow, "{why}");
        run.status = RunStatus::Failed;
        run.ended_at = Some(at);
        store.put_run(&run)?;
        settled.push(run.id);
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use deckle_protocol::record::{AttemptRecord, NodeRecord, RunTrigger};
    use serde_json::Map;

    use super::*;
    use crate::clock::FixedClock;
    use crate::store::SledStore;

    fn run(id: &str, version: u32, status: RunStatus) -> RunRecord {
        RunRecord {
            id: id.into(),
            workflow: "wf".into(),
            date: "2026-11-30".into(),
            logical_time: "2026-11-30T00:00:00Z".parse().unwrap(),
            params: Map::new(),
            version,
            attempt: 1,
            trigger: RunTrigger::default(),
            status,
            started_at: "2026-11-30T10:00:00Z".parse().unwrap(),
            ended_at: None,
            attempts_started_at: Vec::new(),
            hooks_pending: false,
            notifications: Vec::new(),
        }
    }

    fn node(name: &str, status: NodeStatus, attempt_open: bool) -> NodeRecord {
        let mut n = NodeRecord::new(name, None);
        n.status = status;
        if attempt_open {
            n.attempts.push(AttemptRecord {
                notebook: Some("artifacts/wf/a.1.ipynb".into()),
                ..AttemptRecord::started(1, "2026-11-30T10:00:01Z".parse().unwrap())
            });
        }
        n
    }

    #[test]
    fn a_file_run_left_running_by_a_dead_process_is_settled_and_server_runs_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.put_run(&run("file", 0, RunStatus::Running)).unwrap();
        store.put_run(&run("queued-file", 0, RunStatus::Queued)).unwrap();
        store.put_run(&run("served", 3, RunStatus::Running)).unwrap();
        store.put_run(&run("done", 0, RunStatus::Succeeded)).unwrap();
        for id in ["file", "served"] {
            store.put_node(id, &node("a", NodeStatus::Succeeded, false)).unwrap();
            store.put_node(id, &node("b", NodeStatus::Running, true)).unwrap();
            store.put_node(id, &node("c", NodeStatus::Pending, false)).unwrap();
        }
        let clock = FixedClock("2026-11-30T11:00:00Z".parse().unwrap());
        let mut settled = settle_interrupted(&store, &clock, dir.path(), &crate::mirror::Mirror::none(), is_orphan_file_run, "the deckle run process").unwrap();
        settled.sort();
        assert_eq!(settled, ["file", "queued-file"]);

        let r = store.get_run("file").unwrap().unwrap();
        assert_eq!(r.status, RunStatus::Failed);
        assert_eq!(r.ended_at.map(|t| t.to_string()).as_deref(), Some("2026-11-30T11:00:00Z"));
        let nodes = store.nodes("file").unwrap();
        let by = |n: &str| nodes.iter().find(|x| x.node == n).unwrap().clone();
        assert_eq!(by("a").status, NodeStatus::Succeeded, "finished nodes are left alone");
        let b = by("b");
        assert_eq!(b.status, NodeStatus::Failed);
        assert!(b.error.as_deref().unwrap().contains("the deckle run process ended"), "{b:?}");
        assert_eq!(b.attempts[0].status, NodeStatus::Failed);
        assert_eq!(b.attempts[0].ended_at.map(|t| t.to_string()).as_deref(), Some("2026-11-30T11:00:00Z"));
        assert_eq!(b.attempts[0].notebook.as_deref(), Some("artifacts/wf/a.1.ipynb"), "the notebook is kept");
        assert_eq!(by("c").status, NodeStatus::Cancelled);

        // A registered run is the server's to resume.
        assert_eq!(store.get_run("served").unwrap().unwrap().status, RunStatus::Running);
        assert!(store.nodes("served").unwrap().iter().any(|n| n.status == NodeStatus::Running));
        // Settling twice changes nothing more.
        assert!(settle_interrupted(&store, &clock, dir.path(), &crate::mirror::Mirror::none(), is_orphan_file_run, "x").unwrap().is_empty());
    }
}
