//! A node's recorded outputs across runs (by logical date): what `deckle outputs`,
//! `GET /api/v1/workflows/{id}/outputs` and the trend charts read. Runs are read
//! newest first from the store's per-workflow index and filtered by date (a
//! backfill creates old dates late, so the scan cannot stop at the range's start);
//! node records are read only for the runs kept, at most `limit`.

use deckle_protocol::api::{OutputPoint, OutputSeries};

use crate::coordinator::Coordinator;
use crate::error::{Error, Result};
use crate::store::{each_run_newest, RunQuery};

/// What a trend asks for.
#[derive(Debug, Clone, Default)]
pub struct OutputQuery {
    /// The node (a foreach node's combined outputs).
    pub node: String,
    /// Only this output.
    pub name: Option<String>,
    /// Logical dates from (inclusive, `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Logical dates to (inclusive).
    pub to: Option<String>,
    /// At most this many runs (the newest in range).
    pub limit: usize,
}

fn check_date(what: &str, d: &Option<String>) -> Result<()> {
    match d {
        Some(d) if d.parse::<jiff::civil::Date>().is_err() => Err(Error::Input(format!("{what} {d:?} is not a date (YYYY-MM-DD)"))),
        _ => Ok(()),
    }
}

impl Coordinator {
    /// `q.node`'s outputs in each run of `workflow` in range, oldest first.
    pub fn output_series(&self, workflow: &str, q: &OutputQuery) -> Result<OutputSeries> {
        check_date("--from", &q.from)?;
        check_date("--to", &q.to)?;
        let entry = self.registry.entry(workflow)?;
        let known = entry.versions.iter().rev().any(|v| self.registry.load(workflow, v.version).is_ok_and(|wf| wf.nodes.contains_key(&q.node)));
        if !known {
            return Err(Error::NotFound(format!("node {} in any version of workflow {workflow}", q.node)));
        }
        let mut points = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut truncated = false;
        each_run_newest(self.store.as_ref(), RunQuery::of_workflow(workflow, 200), |run| {
            // Newest first by id (creation); dates may come in any order (backfills).
            if q.to.as_ref().is_some_and(|t| run.date > *t) || q.from.as_ref().is_some_and(|f| run.date < *f) {
                return Ok(true);
            }
            if points.len() == q.limit {
                truncated = true;
                return Ok(false);
            }
            let rec = self.store.nodes(&run.id)?.into_iter().find(|n| n.node == q.node && n.index.is_none());
            let mut outputs = rec.as_ref().map(|n| n.outputs.clone()).unwrap_or_default();
            if let Some(name) = &q.name {
                outputs.retain(|k, _| k == name);
            }
            for k in outputs.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
            points.push(OutputPoint {
                status: rec.as_ref().map_or(run.status.as_str(), |n| n.status.as_str()).to_string(),
                attempt: rec.as_ref().and_then(|n| n.attempts.last().map(|a| a.n)),
                outputs,
                date: run.date,
                logical_time: run.logical_time,
                run_id: run.id,
                version: run.version,
            });
            Ok(true)
        })?;
        points.sort_by(|a, b| a.logical_time.cmp(&b.logical_time).then_with(|| a.run_id.cmp(&b.run_id)));
        if let Some(name) = &q.name {
            names = vec![name.clone()];
        }
        Ok(OutputSeries { workflow: workflow.to_string(), node: q.node.clone(), name: q.name.clone(), names, points, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{NodeRecord, NodeStatus, RunStatus};
    use crate::test_fixture::Fixture;
    use deckle_protocol::api::TriggerRun;
    use serde_json::json;

    #[tokio::test]
    async fn outputs_of_a_node_across_dates_with_failed_dates_as_points_without_values() {
        let f = Fixture::new("2026-02-01T10:00:00Z");
        let c = f.coordinator();
        f.register(&c, "params:\n  n: { type: int, default: 0 }").await;
        // Created newest date first, as a reversed backfill would.
        for (day, rows) in [("2026-01-04", Some(40)), ("2026-01-03", None), ("2026-01-02", Some(20)), ("2026-01-01", Some(10))] {
            let run = c.trigger("wf", &TriggerRun { date: Some(day.into()), ..Default::default() }).await.unwrap();
            let mut n = NodeRecord::new("a", None);
            n.status = if rows.is_some() { NodeStatus::Succeeded } else { NodeStatus::Failed };
            if let Some(r) = rows {
                n.outputs = serde_json::from_value(json!({"rows": r, "note": format!("day {day}")})).unwrap();
            }
            c.store().put_node(&run.id, &n).unwrap();
            let mut r = c.run(&run.id).unwrap();
            r.status = if rows.is_some() { RunStatus::Succeeded } else { RunStatus::Failed };
            c.store().put_run(&r).unwrap();
        }
        let q = OutputQuery { node: "a".into(), name: Some("rows".into()), limit: 1000, ..Default::default() };
        let s = c.output_series("wf", &q).unwrap();
        let got: Vec<(&str, &str, Option<&serde_json::Value>)> = s.points.iter().map(|p| (p.date.as_str(), p.status.as_str(), p.outputs.get("rows"))).collect();
        assert_eq!(got, [("2026-01-01", "succeeded", Some(&json!(10))), ("2026-01-02", "succeeded", Some(&json!(20))), ("2026-01-03", "failed", None), ("2026-01-04", "succeeded", Some(&json!(40)))]);
        assert_eq!(s.names, ["rows"]);
        assert!(s.points.iter().all(|p| !p.outputs.contains_key("note")), "only the output asked for");
        // A range, every output, and a limit keeping the newest.
        let q = OutputQuery { node: "a".into(), from: Some("2026-01-02".into()), to: Some("2026-01-03".into()), limit: 1000, ..Default::default() };
        let s = c.output_series("wf", &q).unwrap();
        assert_eq!(s.points.iter().map(|p| p.date.as_str()).collect::<Vec<_>>(), ["2026-01-02", "2026-01-03"]);
        assert_eq!(s.names, ["rows", "note"]);
        let s = c.output_series("wf", &OutputQuery { node: "a".into(), limit: 2, ..Default::default() }).unwrap();
        assert!(s.truncated && s.points.len() == 2);
        // Unknown nodes and bad dates are refused.
        assert!(matches!(c.output_series("wf", &OutputQuery { node: "zz".into(), limit: 10, ..Default::default() }), Err(Error::NotFound(_))));
        assert!(matches!(c.output_series("wf", &OutputQuery { node: "a".into(), from: Some("2026-13-01".into()), limit: 10, ..Default::default() }), Err(Error::Input(_))));
    }
}
