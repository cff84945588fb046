//! `deckle runs [WORKFLOW]`, `deckle status RUN`, `deckle cancel RUN` and
//! `deckle rerun RUN [--from-failed | --all] [-p k=v]… [--wait]`.

use clap::Args;
use deckle_protocol::api::{Rerun, RunDetail};
use deckle_protocol::record::{RunRecord, RunTrigger};

use super::{announce, params_map, parse_param, render_detail, run_duration, show_reply, wait_and_report, EXIT_CODES, EXIT_CODES_WAIT};
use crate::client::{Client, RemoteArgs};
use crate::table::Table;

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct RunsArgs {
    /// Only this workflow's runs.
    pub workflow: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Only runs in this status (queued, running, succeeded, failed, cancelled).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only runs of this logical date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Runs older than this run id: the next page (the command says which id to pass).
    #[arg(long, value_name = "RUN")]
    pub before: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct StatusArgs {
    /// The run id.
    pub run: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct CancelArgs {
    /// The run id.
    pub run: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_WAIT)]
pub struct RerunArgs {
    /// The run id (a finished run).
    pub run: String,
    /// Keep succeeded nodes and their outputs; re-run failed, cancelled, skipped and
    /// upstream-failed nodes and what depends on them (the default).
    #[arg(long, conflicts_with = "all")]
    pub from_failed: bool,
    /// Re-run every node.
    #[arg(long)]
    pub all: bool,
    /// Change a workflow parameter, `name=value`.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Wait for the run to finish, then print its status (exit 1 unless it succeeded).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

fn client(remote: &RemoteArgs) -> Result<Client, i32> {
    Client::from_args(remote).map_err(|e| e.report())
}

/// What created a run: `manual`, `schedule`, the backfill's id, or the trigger
/// (`signal:NAME`, `workflow:ID`, `files:PATTERN`).
pub fn trigger_text(t: &RunTrigger) -> String {
    match t {
        RunTrigger::Manual => "manual".into(),
        RunTrigger::Schedule => "schedule".into(),
        RunTrigger::Backfill { id } => id.clone(),
        RunTrigger::Event { source, .. } => source.clone(),
    }
}

pub fn runs_table(runs: &[RunRecord]) -> Table {
    let mut t = Table::new(["RUN", "WORKFLOW", "DATE", "STATUS", "TRIGGER", "STARTED", "DURATION"]);
    for r in runs {
        t.row([
            r.id.clone(),
            format!("{} v{}", r.workflow, r.version),
            r.date.clone(),
            r.status.as_str().to_string(),
            trigger_text(&r.trigger),
            super::run_started(r),
            run_duration(r),
        ]);
    }
    t
}

pub async fn runs(args: RunsArgs) -> i32 {
    let client = match client(&args.remote) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut query: Vec<(&str, String)> = args.workflow.iter().map(|w| ("workflow", w.clone())).collect();
    query.extend(args.status.iter().map(|s| ("status", s.clone())));
    query.extend(args.date.iter().map(|d| ("date", d.clone())));
    query.extend(args.before.iter().map(|b| ("before", b.clone())));
    query.extend(args.limit.map(|n| ("limit", n.to_string())));
    let reply = client.get::<Vec<RunRecord>>(&["runs"], &query).await;
    if let Ok(r) = &reply {
        super::next_page_hint("runs", r.body.len(), args.limit, r.body.last().map(|x| x.id.as_str()));
    }
    show_reply(reply, args.remote.json, |runs| {
        if !runs.is_empty() {
            return runs_table(runs).render();
        }
        match &args.workflow {
            Some(w) => eprintln!("no runs of {w}"),
            None => eprintln!("no runs"),
        }
        String::new()
    })
}

pub async fn status(args: StatusArgs) -> i32 {
    let client = match client(&args.remote) {
        Ok(c) => c,
        Err(code) => return code,
    };
    show_reply(client.get::<RunDetail>(&["runs", &args.run], &[]).await, args.remote.json, render_detail)
}

pub async fn cancel(args: CancelArgs) -> i32 {
    let client = match client(&args.remote) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let reply = client.post::<_, RunRecord>(&["runs", &args.run, "cancel"], &serde_json::json!({})).await;
    show_reply(reply, args.remote.json, |r| match r.status {
        deckle_protocol::record::RunStatus::Cancelled => format!("cancelled run {}\n", r.id),
        s => format!("run {} is {} (it finished before the cancel took effect)\n", r.id, s.as_str()),
    })
}

pub async fn rerun(args: RerunArgs) -> i32 {
    let client = match client(&args.remote) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = Rerun { from_failed: !args.all, params: params_map(&args.params) };
    let reply = match client.post::<_, RunRecord>(&["runs", &args.run, "rerun"], &req).await {
        Ok(r) => r,
        Err(e) => return e.report(),
    };
    let r = &reply.body;
    let line = format!("rerunning run {} ({}, run attempt {})", r.id, if args.all { "all nodes" } else { "from its failed nodes" }, r.attempt);
    announce(&line, &reply.json, args.remote.json, args.wait);
    if args.wait {
        return wait_and_report(&client, &r.id, args.remote.json).await;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_table_shows_queued_runs_and_their_trigger() {
        let run = |id: &str, status: &str, trigger: serde_json::Value| -> RunRecord {
            serde_json::from_value(serde_json::json!({
                "id": id, "workflow": "wf", "date": "2024-01-01", "logical_time": "2024-01-01T00:00:00Z",
                "params": {}, "version": 1, "trigger": trigger, "status": status,
                "started_at": "2024-01-01T00:00:00Z", "ended_at": "2024-01-01T00:00:02Z"
            }))
            .unwrap()
        };
        let s = runs_table(&[
            run("r3", "queued", serde_json::json!({"kind": "backfill", "id": "bf-1"})),
            run("r2", "running", serde_json::json!({"kind": "schedule"})),
            run("r1", "succeeded", serde_json::json!({"kind": "manual"})),
        ])
        .render();
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("RUN  WORKFLOW  DATE        STATUS     TRIGGER   STARTED"), "{s}");
        assert!(lines[1].starts_with("r3   wf v1     2024-01-01  queued     bf-1      "), "{s}");
        assert!(lines[2].starts_with("r2   wf v1     2024-01-01  running    schedule  "), "{s}");
        assert!(lines[3].starts_with("r1   wf v1     2024-01-01  succeeded  manual    "), "{s}");
        // Issue 14: a queued run has not started: no start time, no growing duration.
        assert_eq!(lines[1].split_whitespace().rev().take(2).collect::<Vec<_>>(), ["-", "-"], "{s}");
        assert!(lines[3].trim_end().ends_with("2.00s"), "{s}");
        // A record from before triggers were recorded reads as manual.
        let old: RunRecord = serde_json::from_value(serde_json::json!({
            "id": "r0", "workflow": "wf", "date": "2024-01-01", "logical_time": "2024-01-01T00:00:00Z",
            "params": {}, "status": "failed", "started_at": "2024-01-01T00:00:00Z", "ended_at": null
        }))
        .unwrap();
        assert_eq!(trigger_text(&old.trigger), "manual");
    }
}
