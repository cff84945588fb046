//! `deckle outputs WORKFLOW NODE [--name OUTPUT] [--from D] [--to D] [--json|--csv]`:
//! a node's recorded outputs across runs, by logical date, for notebooks and
//! scripts that summarize a collection of runs (what scrapbook's
//! `read_notebooks` was for), read from the coordinator, not from the notebooks.

use clap::Args;
use deckle_protocol::api::OutputSeries;
use serde_json::Value;

use super::{show_reply, value_text, EXIT_CODES};
use crate::client::{Client, RemoteArgs};
use crate::table::Table;

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct OutputsArgs {
    /// The registered workflow's id.
    pub workflow: String,
    /// The node whose outputs to read (a SQL node's include `row_count`).
    pub node: String,
    /// Only this output.
    #[arg(long, value_name = "OUTPUT")]
    pub name: Option<String>,
    /// Logical dates from (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Logical dates to (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// At most this many runs, the newest in range.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// CSV on stdout: date, run, status, then one column per output.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// A value in a cell (empty when none was recorded).
fn cell(v: Option<&Value>) -> String {
    v.map(value_text).unwrap_or_default()
}

/// RFC 4180: quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The series as CSV: `date,logical_time,run_id,version,status,<outputs…>`.
pub fn csv(s: &OutputSeries) -> String {
    let mut head: Vec<String> = ["date", "logical_time", "run_id", "version", "status"].iter().map(|h| h.to_string()).collect();
    head.extend(s.names.iter().cloned());
    let mut out = head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",") + "\n";
    for p in &s.points {
        let mut row = vec![p.date.clone(), p.logical_time.to_string(), p.run_id.clone(), p.version.to_string(), p.status.clone()];
        row.extend(s.names.iter().map(|n| cell(p.outputs.get(n))));
        out.push_str(&(row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",") + "\n"));
    }
    out
}

/// The series as a table (long values cut at 40 characters).
pub fn table(s: &OutputSeries) -> Table {
    let mut head = vec!["DATE".to_string(), "RUN".into(), "STATUS".into()];
    head.extend(s.names.iter().map(|n| n.to_uppercase()));
    let mut t = Table::new(head);
    for p in &s.points {
        let mut row = vec![p.date.clone(), p.run_id.clone(), p.status.clone()];
        row.extend(s.names.iter().map(|n| {
            let c = cell(p.outputs.get(n));
            if c.is_empty() {
                "-".to_string()
            } else if c.chars().count() > 40 {
                format!("{}…", c.chars().take(39).collect::<String>())
            } else {
                c
            }
        }));
        t.row(row);
    }
    t
}

pub async fn outputs(args: OutputsArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let mut q = vec![("node", args.node.clone()), ("limit", args.limit.to_string())];
    q.extend(args.name.clone().map(|n| ("name", n)));
    q.extend(args.from.clone().map(|d| ("from", d)));
    q.extend(args.to.clone().map(|d| ("to", d)));
    let reply = client.get::<OutputSeries>(&["workflows", &args.workflow, "outputs"], &q).await;
    show_reply(reply, args.remote.json, |s| {
        if s.truncated {
            eprintln!("(more runs in range than --limit {}: the oldest are left out)", args.limit);
        }
        if args.csv {
            return csv(s);
        }
        if s.points.is_empty() {
            eprintln!("no runs of {} in range", args.workflow);
            return String::new();
        }
        table(s).render()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_cmds::test_cli::{parse, Cmd};

    fn series() -> OutputSeries {
        serde_json::from_value(serde_json::json!({
            "workflow": "wf", "node": "count", "name": null, "names": ["row_count", "note"], "truncated": false,
            "points": [
                {"date": "2026-01-01", "logical_time": "2026-01-01T00:00:00Z", "run_id": "r1", "version": 1, "status": "succeeded", "attempt": 1,
                 "outputs": {"row_count": 10, "note": "a, \"quoted\" note"}},
                {"date": "2026-01-02", "logical_time": "2026-01-02T00:00:00Z", "run_id": "r2", "version": 2, "status": "failed", "attempt": 2, "outputs": {}},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn csv_has_a_column_per_output_and_failed_dates_as_empty_cells() {
        assert_eq!(
            csv(&series()),
            "date,logical_time,run_id,version,status,row_count,note\n\
             2026-01-01,2026-01-01T00:00:00Z,r1,1,succeeded,10,\"a, \"\"quoted\"\" note\"\n\
             2026-01-02,2026-01-02T00:00:00Z,r2,2,failed,,\n"
        );
    }

    #[test]
    fn table_marks_missing_values() {
        let s = table(&series()).render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["DATE", "RUN", "STATUS", "ROW_COUNT", "NOTE"]);
        assert_eq!(lines[2].split_whitespace().collect::<Vec<_>>(), ["2026-01-02", "r2", "failed", "-", "-"], "{s}");
    }

    #[test]
    fn arguments() {
        let Cmd::Outputs(o) = parse(&["outputs", "wf", "count", "--name", "row_count", "--from", "2026-01-01", "--csv"]).unwrap() else { panic!() };
        assert_eq!((o.workflow.as_str(), o.node.as_str(), o.name.as_deref(), o.csv), ("wf", "count", Some("row_count"), true));
        assert!(parse(&["outputs", "wf"]).is_err(), "the node is required");
        assert!(parse(&["outputs", "wf", "n", "--csv", "--json"]).is_err(), "one format");
    }
}
