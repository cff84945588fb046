//! The commands that talk to a coordinator (`deckle server`) over its HTTP API:
//! `register`, `workflows`, `trigger`, `runs`, `status`, `logs`, `pull`, `rerun`,
//! `cancel`, `pause`, `unpause`, `backfill`, `backfills`, `signal`, `events`, `outputs` and `diff`.
//! Each is `pub async fn x(args) -> i32` (the exit code); human output is short
//! confirmations and aligned tables, `--json` prints the API's JSON instead.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use deckle_protocol::api::RunDetail;
use deckle_protocol::record::{NodeRecord, NodeStatus, RunRecord, RunStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::client::{Client, ClientError, Reply};
use crate::table::Table;

pub mod backfill;
pub mod diff;
pub mod logs;
pub mod outputs;
pub mod register;
pub mod runs;
pub mod signal;
#[cfg(test)]
mod test_cli;
pub mod trigger;
pub mod workflows;

pub use backfill::{backfill, backfills, BackfillArgs, BackfillsArgs};
pub use diff::{diff, DiffArgs};
pub use logs::{logs, pull, LogsArgs, PullArgs};
pub use outputs::{outputs, OutputsArgs};
pub use register::{register, RegisterArgs};
pub use runs::{cancel, rerun, runs, status, CancelArgs, RerunArgs, RunsArgs, StatusArgs};
pub use signal::{events, signal, EventsArgs, SignalArgs};
pub use trigger::{trigger, TriggerArgs};
pub use workflows::{pause, unpause, workflows, PauseArgs, WorkflowsArgs};

/// `after_help` of the commands that only read or change server state.
pub const EXIT_CODES: &str = "Exit codes: 0 done; 2 bad input, or the server refused the request (4xx); \
3 the server is unreachable or failing (5xx); 4 the server refused the token.";

/// `after_help` of the commands that can wait for a run.
pub const EXIT_CODES_WAIT: &str = "Exit codes: 0 done (with --wait: the run succeeded); 1 with --wait: the run failed \
or was cancelled; 2 bad input, or the server refused the request (4xx); 3 the server is unreachable or failing (5xx); \
4 the server refused the token.";

/// `-p name=value`: split at the first `=`; the name is trimmed and must not be empty.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        Some(_) => Err("the parameter name is empty; expected NAME=VALUE".into()),
        None => Err(format!("expected NAME=VALUE (e.g. -p {s}=…)")),
    }
}

/// A recorded value as text: strings as they are, anything else as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Later `-p` of the same name wins.
pub fn params_map(params: &[(String, String)]) -> BTreeMap<String, String> {
    params.iter().cloned().collect()
}

/// Write to stdout; a closed pipe (`| head`) is not an error worth a panic.
/// Whether the text could be written.
pub fn emit(text: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_ok()
}

/// Print JSON on stdout, pretty.
pub fn print_json(v: &Value) {
    emit(&format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default()));
}

/// Drop ANSI escape sequences (IPython colours its tracebacks) for output that is
/// not a terminal.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A record's timestamp in the local time zone, to the second.
pub fn local(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Seconds from `start` to `end`, or to now while `end` is `None`.
pub fn elapsed(start: jiff::Timestamp, end: Option<jiff::Timestamp>) -> f64 {
    let end = end.unwrap_or_else(jiff::Timestamp::now);
    let secs = end.as_millisecond().saturating_sub(start.as_millisecond()) as f64 / 1000.0;
    secs.max(0.0)
}

/// `0.35s`, `12.3s`, `4m05s`, `2h03m`.
pub fn fmt_secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let s = s.round() as u64;
        if s < 3600 {
            format!("{}m{:02}s", s / 60, s % 60)
        } else {
            format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
        }
    }
}

/// The latest run attempt's duration; none for a run still queued (it has not started).
pub fn run_duration(r: &RunRecord) -> String {
    if r.status == RunStatus::Queued {
        return "-".into();
    }
    fmt_secs(elapsed(r.attempt_started_at(), r.ended_at))
}

/// When the run started, for tables: nothing yet while it is queued.
pub fn run_started(r: &RunRecord) -> String {
    if r.status == RunStatus::Queued {
        "-".into()
    } else {
        local(r.started_at)
    }
}

/// The first line of an error, cut to `max` characters.
pub fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

fn node_duration(n: &NodeRecord) -> String {
    if n.items.is_none() {
        if let Some(d) = n.attempts.last().and_then(|a| a.duration_secs) {
            return fmt_secs(d);
        }
        if let Some(a) = n.attempts.last() {
            return fmt_secs(elapsed(a.started_at, a.ended_at));
        }
    }
    match &n.started_at {
        Some(s) => fmt_secs(elapsed(*s, n.ended_at)),
        None => "-".into(),
    }
}

/// The run header and one line per node instance.
pub fn render_detail(d: &RunDetail) -> String {
    let r = &d.run;
    let attempt = if r.attempt > 1 { format!("  (run attempt {})", r.attempt) } else { String::new() };
    let mut out = format!(
        "run {}  {}{attempt}\n  workflow {} v{}, date {}, started {}, duration {}\n\n",
        r.id,
        r.status.as_str(),
        r.workflow,
        r.version,
        r.date,
        run_started(r),
        run_duration(r)
    );
    if r.status == RunStatus::Queued {
        out.insert_str(out.len() - 1, "  queued: it starts when the workflow's max_active_runs (or, sequential, an earlier run) allows\n");
    }
    let mut t = Table::new(["NODE", "STATUS", "ATTEMPTS", "DURATION", "WORKER", "ERROR"]);
    for n in &d.nodes {
        let attempts = match n.items {
            Some(items) => format!("{items} items"),
            None => n.attempts.len().to_string(),
        };
        let worker = n.attempts.last().and_then(|a| a.worker.clone()).unwrap_or_else(|| "-".into());
        // A ready node says what it waits for (a worker with its labels) there too.
        let error = n.waiting.as_deref().or(n.error.as_deref()).or_else(|| n.attempts.last().and_then(|a| a.error.as_deref())).map(|e| first_line(e, 100));
        t.row([n.key(), n.status.as_str().to_string(), attempts, node_duration(n), worker, error.unwrap_or_default()]);
    }
    if t.is_empty() {
        out.push_str("(no nodes yet)\n");
    } else {
        out.push_str(&t.render());
    }
    out
}

/// 0 for a succeeded run, 1 for a failed or cancelled one.
pub fn run_exit(status: RunStatus) -> i32 {
    match status {
        RunStatus::Succeeded => 0,
        _ => crate::client::EXIT_FAILED,
    }
}

/// Poll `GET /runs/{run}` every 0.5 s until the run is no longer running, with a
/// progress bar (on a terminal) and a line per node state change on stderr. A
/// server that goes away for less than a minute is waited for.
/// While waiting on the server: an unreachable server is waited out for up to a
/// minute (it may be restarting); any other error, or a longer outage, ends the wait.
pub fn ride_out_outage(e: ClientError, down_since: &mut Option<Instant>, pb: &indicatif::ProgressBar) -> Result<(), ClientError> {
    let since = *down_since.get_or_insert_with(Instant::now);
    if matches!(e, ClientError::Unreachable { .. }) && since.elapsed() <= Duration::from_secs(60) {
        pb.set_message("the server is unreachable; retrying…");
        return Ok(());
    }
    pb.finish_and_clear();
    Err(e)
}

pub async fn wait_for_run(client: &Client, run_id: &str) -> Result<Reply<RunDetail>, ClientError> {
    let tty = std::io::stderr().is_terminal();
    let pb = ProgressBar::with_draw_target(Some(0), if tty { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} nodes done  {wide_msg}") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let mut seen: BTreeMap<String, NodeStatus> = BTreeMap::new();
    let mut run_status: Option<RunStatus> = None;
    let mut down_since: Option<Instant> = None;
    loop {
        match client.get::<RunDetail>(&["runs", run_id], &[]).await {
            Ok(reply) => {
                down_since = None;
                let d = &reply.body;
                // A queued run waits for `max_active_runs` or an earlier run (sequential):
                // say so, and say when it starts (its nodes' lines tell the rest).
                if run_status != Some(d.run.status) {
                    if d.run.status == RunStatus::Queued || (run_status == Some(RunStatus::Queued) && !d.run.status.is_finished()) {
                        let line = format!("{:7.1}s  run {}", started.elapsed().as_secs_f64(), d.run.status.as_str());
                        pb.suspend(|| eprintln!("{line}"));
                    }
                    run_status = Some(d.run.status);
                }
                let done = d.nodes.iter().filter(|n| n.status.is_terminal()).count();
                pb.set_length(d.nodes.len() as u64);
                pb.set_position(done as u64);
                let running: Vec<String> = d.nodes.iter().filter(|n| n.status == NodeStatus::Running && n.items.is_none()).map(NodeRecord::key).collect();
                pb.set_message(if d.run.status == RunStatus::Queued {
                    "queued: waiting for the workflow's max_active_runs or an earlier run".to_string()
                } else if running.is_empty() {
                    String::new()
                } else {
                    format!("running: {}", running.join(", "))
                });
                for n in &d.nodes {
                    let key = n.key();
                    if seen.get(&key) != Some(&n.status) {
                        let interesting = n.status != NodeStatus::Pending && n.status != NodeStatus::Ready;
                        if interesting {
                            let at = match n.attempts.len() {
                                k if k > 1 && n.items.is_none() => format!(" (attempt {})", n.attempts.last().map_or(k as u32, |a| a.n)),
                                _ => String::new(),
                            };
                            let settled = n.status.is_terminal() || n.status == NodeStatus::Retrying;
                            let err = n.error.as_deref().filter(|_| settled).map(|e| format!(": {}", first_line(e, 100))).unwrap_or_default();
                            let line = format!("{:7.1}s  {key} {}{at}{err}", started.elapsed().as_secs_f64(), n.status.as_str());
                            pb.suspend(|| eprintln!("{line}"));
                        }
                        seen.insert(key, n.status);
                    }
                }
                if d.run.status.is_finished() {
                    pb.finish_and_clear();
                    return Ok(reply);
                }
            }
            Err(e) => ride_out_outage(e, &mut down_since, &pb)?,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// After `trigger --wait` / `rerun --wait`: the final table (or JSON) and the exit code.
pub async fn wait_and_report(client: &Client, run_id: &str, json: bool) -> i32 {
    show_reply_then(wait_for_run(client, run_id).await, json, render_detail, |d| run_exit(d.run.status))
}

/// How a command ends: the reply as sent (`--json`) or as `render` puts it for
/// people, and the exit code `exit` gives it; a failed request exits with its own.
pub fn show_reply_then<T>(reply: Result<Reply<T>, ClientError>, json: bool, render: impl FnOnce(&T) -> String, exit: impl FnOnce(&T) -> i32) -> i32 {
    match reply {
        Ok(reply) => {
            if json {
                print_json(&reply.json);
            } else {
                emit(&render(&reply.body));
            }
            exit(&reply.body)
        }
        Err(e) => e.report(),
    }
}

/// [`show_reply_then`], exit 0.
pub fn show_reply<T>(reply: Result<Reply<T>, ClientError>, json: bool, render: impl FnOnce(&T) -> String) -> i32 {
    show_reply_then(reply, json, render, |_| 0)
}

/// After a full page of a listing (`len` items, `limit` asked or the server's 100),
/// say on stderr which `--before` shows the next one.
pub fn next_page_hint(what: &str, len: usize, limit: Option<usize>, last: Option<&str>) {
    if let (true, Some(last)) = (len == limit.unwrap_or(100), last) {
        eprintln!("(older {what}: --before {last})");
    }
}

/// The line saying what was started. With `--wait` it goes to stderr (stdout gets
/// the final report); otherwise it, or the reply with `--json`, is the output.
pub fn announce(line: &str, reply: &Value, json: bool, waiting: bool) {
    match (waiting, json) {
        (true, true) => {}
        (true, false) => eprintln!("{line}"),
        (false, true) => print_json(reply),
        (false, false) => {
            emit(&format!("{line}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_cmds::test_cli::{parse, Cmd};

    #[test]
    fn params_split_at_the_first_equals() {
        assert_eq!(parse_param("day=2024-01-01"), Ok(("day".into(), "2024-01-01".into())));
        assert_eq!(parse_param(" q = a=b "), Ok(("q".into(), " a=b ".into())));
        assert_eq!(parse_param("empty="), Ok(("empty".into(), String::new())));
        assert!(parse_param("novalue").unwrap_err().contains("NAME=VALUE"));
        assert!(parse_param("=v").is_err());
    }

    #[test]
    fn trigger_arguments() {
        let Cmd::Trigger(t) = parse(&["trigger", "wf", "-p", "a=1", "--param", "b=x=y", "-p", "a=2", "--date", "2024-05-01", "--wait", "--version", "3"]).unwrap() else {
            panic!()
        };
        assert_eq!(t.workflow, "wf");
        assert_eq!(t.date.as_deref(), Some("2024-05-01"));
        assert_eq!(t.version, Some(3));
        assert!(t.wait);
        let m = params_map(&t.params);
        assert_eq!(m.get("a").map(String::as_str), Some("2"), "the last -p wins");
        assert_eq!(m.get("b").map(String::as_str), Some("x=y"));
    }

    #[test]
    fn a_param_without_a_value_is_a_usage_error() {
        let e = parse(&["trigger", "wf", "-p", "novalue"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(e.to_string().contains("NAME=VALUE"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn rerun_defaults_to_from_failed_and_all_conflicts() {
        let Cmd::Rerun(r) = parse(&["rerun", "r1"]).unwrap() else { panic!() };
        assert!(!r.all);
        let Cmd::Rerun(r) = parse(&["rerun", "r1", "--all", "-p", "k=v"]).unwrap() else { panic!() };
        assert!(r.all);
        assert_eq!(r.params, vec![("k".to_string(), "v".to_string())]);
        assert!(parse(&["rerun", "r1", "--all", "--from-failed"]).is_err());
    }

    #[test]
    fn remote_args_default_server() {
        // DECKLE_SERVER may be set in the environment running the tests; only check
        // that an explicit flag wins.
        let Cmd::Logs(l) = parse(&["logs", "r", "n", "--server", "http://h:1", "--attempt", "2", "-f"]).unwrap() else { panic!() };
        assert_eq!(l.remote.server, "http://h:1");
        assert_eq!(l.attempt, Some(2));
        assert!(l.follow);
    }

    #[test]
    fn durations_and_first_lines() {
        assert_eq!(fmt_secs(0.354), "0.35s");
        assert_eq!(fmt_secs(12.34), "12.3s");
        assert_eq!(fmt_secs(245.0), "4m05s");
        assert_eq!(fmt_secs(7380.0), "2h03m");
        assert_eq!(first_line("\n  boom\nmore", 10), "boom");
        assert_eq!(strip_ansi("\u{1b}[31mValueError\u{1b}[39m: x \u{1b}[38;5;28;01mif\u{1b}[0m"), "ValueError: x if");
        assert_eq!(first_line("abcdefghijkl", 5), "abcd…");
        assert_eq!(elapsed("2024-01-01T00:00:00Z".parse().unwrap(), Some("2024-01-01T00:01:01.5Z".parse().unwrap())), 61.5);
    }

    #[test]
    fn detail_table() {
        let run: RunRecord = serde_json::from_value(serde_json::json!({
            "id": "r1", "workflow": "wf", "date": "2024-01-01", "logical_time": "2024-01-01T00:00:00Z",
            "params": {}, "version": 2, "attempt": 1, "status": "failed",
            "started_at": "2024-01-01T00:00:00Z", "ended_at": "2024-01-01T00:00:03Z"
        }))
        .unwrap();
        let mut a = NodeRecord::new("a", None);
        a.status = NodeStatus::Failed;
        a.error = Some("ValueError: bad\nTraceback…".into());
        a.attempts.push(
            serde_json::from_value(serde_json::json!({
                "n": 1, "status": "failed", "started_at": "2024-01-01T00:00:00Z", "ended_at": "2024-01-01T00:00:02Z",
                "duration_secs": 2.0, "params": {}, "outputs": {}, "error": "ValueError: bad", "notebook": null, "worker": "h:1"
            }))
            .unwrap(),
        );
        let b = NodeRecord::new("b", None);
        let s = render_detail(&RunDetail { run, nodes: vec![a, b] });
        assert!(s.starts_with("run r1  failed\n  workflow wf v2, date 2024-01-01, started "), "{s}");
        assert!(s.contains("duration 3.00s\n"), "{s}");
        assert!(s.contains("NODE  STATUS   ATTEMPTS  DURATION  WORKER  ERROR\n"), "{s}");
        assert!(s.contains("a     failed   1         2.00s     h:1     ValueError: bad\n"), "{s}");
        assert!(s.contains("b     pending  0         -         -\n"), "{s}");
    }

    #[test]
    fn a_queued_run_says_so() {
        let run: RunRecord = serde_json::from_value(serde_json::json!({
            "id": "r2", "workflow": "wf", "date": "2024-01-02", "logical_time": "2024-01-02T00:00:00Z",
            "params": {}, "version": 1, "status": "queued", "trigger": {"kind": "backfill", "id": "bf-1"},
            "started_at": "2024-01-01T00:00:00Z", "ended_at": null
        }))
        .unwrap();
        assert!(!run.status.is_finished(), "waiting treats queued as not finished");
        let s = render_detail(&RunDetail { run, nodes: vec![NodeRecord::new("a", None)] });
        assert!(s.starts_with("run r2  queued\n  workflow wf v1, date 2024-01-02, "), "{s}");
        assert!(s.contains("\n  queued: it starts when the workflow's max_active_runs"), "{s}");
        assert!(s.contains("allows\n\nNODE  STATUS   ATTEMPTS"), "{s}");
        // Issue 14: not started, so no start time and no growing duration.
        assert!(s.contains(", started -, duration -\n"), "{s}");
    }

    /// Issue 14: a node no worker could take showed `1` attempt and a growing
    /// duration, with no word of why.
    #[test]
    fn a_node_waiting_for_a_worker_says_why_and_counts_no_attempt() {
        let run: RunRecord = serde_json::from_value(serde_json::json!({
            "id": "r3", "workflow": "wf", "date": "2024-01-02", "logical_time": "2024-01-02T00:00:00Z",
            "params": {}, "version": 1, "status": "running", "started_at": "2024-01-01T00:00:00Z", "ended_at": null
        }))
        .unwrap();
        // As the server's API gives it: the unleased attempt is left out.
        let mut n = NodeRecord::new("train", None);
        n.status = NodeStatus::Ready;
        n.waiting = Some("waiting for a worker with labels [gpu]; no worker connected".into());
        let s = render_detail(&RunDetail { run, nodes: vec![n] });
        assert!(s.contains("train  ready   0         -         -       waiting for a worker with labels [gpu]; no worker connected\n"), "{s}");
    }
}
