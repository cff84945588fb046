//! Two node attempts compared: `deckle diff A [B]`, `GET /api/v1/diff`, the UI's
//! compare view. An attempt is named `RUN[/NODE[/ATTEMPT]]` (the node may be left
//! out when the run has one; the attempt defaults to the latest). Without `B`, A is
//! compared with the node's last success in the workflow's history: "why did today
//! fail when yesterday passed?". Works across workflow versions and dates: cells are
//! matched by id ([`cells`]), sources and outputs diffed by line ([`lines`]).

use deckle_protocol::compare::{Comparison, Side, ValuePair};
use deckle_protocol::record::{AttemptRecord, NodeStatus, RunRecord};
use serde_json::{Map, Value};

use crate::coordinator::Coordinator;
use crate::error::{Error, Result};
use crate::store::{each_run_newest, RunQuery};

pub mod cells;
pub mod lines;

/// How many of the workflow's newest runs are searched for the last success.
const HISTORY: usize = 2000;

/// `RUN[/NODE[/ATTEMPT]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRef {
    /// The run id.
    pub run_id: String,
    /// The node key (`node` or `node.i`), if given.
    pub node: Option<String>,
    /// The attempt, if given.
    pub attempt: Option<u32>,
}

impl std::str::FromStr for AttemptRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || Error::Input(format!("{s:?}: expected RUN, RUN/NODE or RUN/NODE/ATTEMPT"));
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let attempt = parts.get(2).map(|a| a.parse::<u32>().map_err(|_| bad())).transpose()?;
        Ok(AttemptRef { run_id: parts[0].to_string(), node: parts.get(1).map(|n| n.to_string()), attempt })
    }
}

/// One side, resolved.
struct Resolved {
    side: Side,
    attempt: AttemptRecord,
}

fn pairs(a: &Map<String, Value>, b: &Map<String, Value>) -> Vec<ValuePair> {
    let mut names: Vec<&String> = a.keys().collect();
    names.extend(b.keys().filter(|k| !a.contains_key(*k)));
    names
        .into_iter()
        .map(|n| ValuePair { name: n.clone(), a: a.get(n).cloned(), b: b.get(n).cloned(), changed: a.get(n) != b.get(n) })
        .collect()
}

impl Coordinator {
    /// Compare attempt `a` with `b`, or with the node's last success.
    pub async fn compare(&self, a: &str, b: Option<&str>) -> Result<Comparison> {
        let ra: AttemptRef = a.parse()?;
        let a = self.resolve_attempt(&ra, None)?;
        let b = match b {
            Some(b) => {
                let rb: AttemptRef = b.parse()?;
                self.resolve_attempt(&rb, Some(&a.side.node))?
            }
            None => self.last_success(&a)?,
        };
        let (na, nb) = (self.attempt_notebook(&a.side).await?, self.attempt_notebook(&b.side).await?);
        let cells = cells::compare(&cells::cells(&na), &cells::cells(&nb));
        let first_divergence = cells.iter().find(|c| c.outputs_changed).map(|c| c.index);
        Ok(Comparison {
            params: pairs(&a.attempt.params, &b.attempt.params),
            outputs: pairs(&a.attempt.outputs, &b.attempt.outputs),
            a: a.side,
            b: b.side,
            cells,
            first_divergence,
        })
    }

    async fn attempt_notebook(&self, s: &Side) -> Result<Value> {
        let (_, bytes, _) = self.notebook_bytes(&s.run_id, &s.node, Some(s.attempt)).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Input(format!("the notebook of {}/{}/{} is not JSON: {e}", s.run_id, s.node, s.attempt)))
    }

    /// The attempt `r` names; its node defaults to `node` (B's to A's), else to the
    /// run's only node.
    fn resolve_attempt(&self, r: &AttemptRef, node: Option<&str>) -> Result<Resolved> {
        let run = self.run(&r.run_id)?;
        let recs = self.store.nodes(&run.id)?;
        let key = match r.node.as_deref().or(node) {
            Some(k) => k.to_string(),
            None => {
                let with_attempts: Vec<String> = recs.iter().filter(|n| !n.attempts.is_empty()).map(|n| n.key()).collect();
                match with_attempts.as_slice() {
                    [only] => only.clone(),
                    many => return Err(Error::Input(format!("run {} has several nodes; name one: {}/NODE (one of {})", run.id, run.id, many.join(", ")))),
                }
            }
        };
        let rec = recs.iter().find(|n| n.key() == key).ok_or_else(|| Error::NotFound(format!("node {key} in run {}", run.id)))?;
        let attempt = match r.attempt {
            Some(n) => rec.attempts.iter().find(|a| a.n == n).ok_or_else(|| Error::NotFound(format!("attempt {n} of {key} in run {}", run.id)))?,
            None => rec.attempts.last().ok_or_else(|| Error::NotFound(format!("an attempt of {key} in run {} (it never ran)", run.id)))?,
        };
        Ok(Resolved { side: self.side(&run, &key, attempt), attempt: attempt.clone() })
    }

    fn side(&self, run: &RunRecord, key: &str, a: &AttemptRecord) -> Side {
        let node = key.split('.').next().unwrap_or(key);
        let (notebook, notebook_hash) = match (self.registry.load(&run.workflow, run.version), self.registry.entry(&run.workflow)) {
            (Ok(wf), Ok(entry)) => match wf.nodes.get(node).map(|n| &n.kind) {
                Some(deckle_dsl::NodeKind::Notebook { rel, .. }) => {
                    let hash = entry.versions.iter().find(|v| v.version == run.version).and_then(|v| v.files.get(rel).cloned());
                    (Some(rel.clone()), hash)
                }
                _ => (None, None),
            },
            _ => (None, None),
        };
        Side {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            date: run.date.clone(),
            version: run.version,
            node: key.to_string(),
            attempt: a.n,
            status: a.status.as_str().to_string(),
            notebook,
            notebook_hash,
            duration_secs: a.duration_secs,
            error: a.error.clone(),
        }
    }

    /// The newest succeeded attempt of A's node other than A, in the workflow's runs.
    fn last_success(&self, a: &Resolved) -> Result<Resolved> {
        let mut found = None;
        let mut seen = 0;
        each_run_newest(self.store.as_ref(), RunQuery::of_workflow(a.side.workflow.clone(), 200), |run| {
            seen += 1;
            if let Some(rec) = self.store.nodes(&run.id)?.into_iter().find(|n| n.key() == a.side.node) {
                let hit = rec.attempts.iter().rev().find(|t| t.status == NodeStatus::Succeeded && !(run.id == a.side.run_id && t.n == a.side.attempt));
                if let Some(t) = hit {
                    found = Some(Resolved { side: self.side(&run, &a.side.node, t), attempt: t.clone() });
                }
            }
            Ok(found.is_none() && seen < HISTORY)
        })?;
        if let Some(r) = found {
            return Ok(r);
        }
        Err(Error::NotFound(format!(
            "a succeeded attempt of {} in {}'s runs other than {}/{}/{} to compare with (name one: deckle diff A B)",
            a.side.node, a.side.workflow, a.side.run_id, a.side.node, a.side.attempt
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_refs_parse_and_bad_ones_say_the_form() {
        let r: AttemptRef = "r1/train.2/3".parse().unwrap();
        assert_eq!(r, AttemptRef { run_id: "r1".into(), node: Some("train.2".into()), attempt: Some(3) });
        assert_eq!("r1".parse::<AttemptRef>().unwrap().node, None);
        for bad in ["", "r1/", "r1/n/x", "a/b/1/2"] {
            assert!(matches!(bad.parse::<AttemptRef>(), Err(Error::Input(m)) if m.contains("RUN/NODE/ATTEMPT")), "{bad}");
        }
    }
}
