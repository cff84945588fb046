//! `deckle backfill WORKFLOW --from D --to D [--every E] [--parallel N] [--reverse]
//! [--only-failed] [--dry-run] [-p k=v]… [--version N] [--wait]`, and backfills as
//! objects: `deckle backfills [WORKFLOW]`, `deckle backfills show ID [--wait]`,
//! `deckle backfills cancel ID`.
//!
//! `backfills` is one command with optional subcommands: a first word `show` or
//! `cancel` is the subcommand, anything else the workflow to list. A workflow that
//! is itself named `show` or `cancel` is listed with `deckle backfills -- show` (or
//! `--workflow show`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use deckle_protocol::api::{Backfill, BackfillStatus, CreateBackfill, DateStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{announce, elapsed, fmt_secs, local, params_map, parse_param, show_reply, show_reply_then, EXIT_CODES};
use crate::client::{Client, ClientError, RemoteArgs, Reply, EXIT_FAILED};
use crate::table::Table;

/// `after_help` of the commands that can wait for a backfill.
pub const EXIT_CODES_BACKFILL: &str = "Exit codes: 0 done (with --wait: every date's run succeeded); 1 with --wait: \
a date's run failed, or the backfill was cancelled; 2 bad input, or the server refused the request (4xx); \
3 the server is unreachable or failing (5xx); 4 the server refused the token.";

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_BACKFILL)]
pub struct BackfillArgs {
    /// The registered workflow's id.
    pub workflow: String,
    /// The first logical date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: String,
    /// The last logical date (included).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: String,
    /// The step between logical times: `1d` (the default), `Nd`, `Nh`, `Nm`, or a cron
    /// expression, in the workflow's time zone.
    #[arg(long, value_name = "STEP|CRON")]
    pub every: Option<String>,
    /// Start at most this many runs at a time (default 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallel: Option<u32>,
    /// Start with the latest date.
    #[arg(long)]
    pub reverse: bool,
    /// Only the dates whose latest run of the workflow failed (or was cancelled).
    #[arg(long)]
    pub only_failed: bool,
    /// Print the dates and what would run; create nothing.
    #[arg(long, conflicts_with = "wait")]
    pub dry_run: bool,
    /// A workflow parameter for every run, `name=value` (typed by its declaration).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Run this registered version; default: the latest.
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    /// Wait for every date's run to finish, showing progress, then print the backfill
    /// (exit 1 unless all succeeded).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, after_help = EXIT_CODES)]
pub struct BackfillsArgs {
    #[command(subcommand)]
    pub action: Option<BackfillsAction>,
    /// Only this workflow's backfills (a workflow named `show` or `cancel`: `deckle backfills -- show`).
    #[arg(value_name = "WORKFLOW")]
    pub workflow_pos: Option<String>,
    /// Only this workflow's backfills (same as the positional WORKFLOW).
    #[arg(long, value_name = "WORKFLOW", conflicts_with = "workflow_pos")]
    pub workflow: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Backfills created before this one: the next page (the command says which id to pass).
    #[arg(long, value_name = "BACKFILL")]
    pub before: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Subcommand, Debug)]
pub enum BackfillsAction {
    /// Show a backfill: its state and one line per date.
    #[command(after_help = EXIT_CODES_BACKFILL)]
    Show(BackfillShowArgs),
    /// Cancel a backfill: dates not started yet never will be, runs in flight are cancelled.
    #[command(after_help = EXIT_CODES)]
    Cancel(BackfillCancelArgs),
}

#[derive(Args, Debug)]
pub struct BackfillShowArgs {
    /// The backfill id (`bf-…`).
    pub id: String,
    /// Wait for it to finish, showing progress (exit 1 unless every date's run succeeded).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
pub struct BackfillCancelArgs {
    /// The backfill id (`bf-…`).
    pub id: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `--from`/`--to`: checked here for a quick usage error, sent as written.
fn parse_date(s: &str) -> Result<String, String> {
    s.trim().parse::<jiff::civil::Date>().map(|_| s.trim().to_string()).map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

/// Dates whose run finished, out of all.
pub fn progress(bf: &Backfill) -> (usize, usize) {
    (bf.dates.iter().filter(|d| d.status.is_finished()).count(), bf.dates.len())
}

/// How many dates are in each status, finished ones first, then in flight, then waiting.
pub fn status_counts(bf: &Backfill) -> Vec<(String, usize)> {
    const ORDER: [&str; 6] = ["succeeded", "failed", "cancelled", "running", "queued", "pending"];
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &bf.dates {
        *counts.entry(d.status.as_str()).or_default() += 1;
    }
    let mut out: Vec<(String, usize)> = ORDER.iter().filter_map(|s| counts.remove(s).map(|n| (s.to_string(), n))).collect();
    out.extend(counts.into_iter().map(|(s, n)| (s.to_string(), n)));
    out
}

fn counts_text(bf: &Backfill) -> String {
    status_counts(bf).iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How a date is named in progress lines: its date, or its logical time when several
/// logical times share a date (an hourly backfill).
fn date_keys(bf: &Backfill) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let unique = bf.dates.iter().all(|d| seen.insert(d.date.as_str()));
    bf.dates.iter().map(|d| if unique { d.date.clone() } else { d.logical_time.to_string() }).collect()
}

/// What a backfill was asked to do, for headers: `one v1, every 1d, at most 2 at a time, …`.
fn describe(bf: &Backfill) -> String {
    let mut parts = vec![format!("workflow {} v{}", bf.workflow, bf.version), format!("every {}", bf.every), format!("at most {} at a time", bf.parallel)];
    if bf.reverse {
        parts.push("latest first".into());
    }
    if bf.only_failed {
        parts.push("only failed dates".into());
    }
    if !bf.params.is_empty() {
        parts.push(format!("params {}", bf.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")));
    }
    parts.join(", ")
}

/// The dry run's answer: the dates in the order they would start, and one line saying
/// what would run.
pub fn render_plan(bf: &Backfill) -> String {
    let mut out = String::new();
    if bf.dates.is_empty() {
        out.push_str(if bf.only_failed { "no date in the range has a failed latest run\n" } else { "no logical times in the range\n" });
    } else {
        let mut t = Table::new(["#", "DATE", "LOGICAL TIME"]);
        for (i, d) in bf.dates.iter().enumerate() {
            t.row([(i + 1).to_string(), d.date.clone(), d.logical_time.to_string()]);
        }
        out.push_str(&t.render());
    }
    let mut extra = Vec::new();
    if bf.every != "1d" {
        extra.push(format!("every {}", bf.every));
    }
    if !bf.params.is_empty() {
        extra.push(format!("params {}", bf.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")));
    }
    let extra = if extra.is_empty() { String::new() } else { format!(" ({})", extra.join(", ")) };
    out.push_str(&format!(
        "would start {} of {} v{}, at most {} at a time{extra}; nothing was created\n",
        plural(bf.dates.len(), "run", "runs"),
        bf.workflow,
        bf.version,
        bf.parallel
    ));
    out
}

/// A backfill's header and one line per date (`backfills show`, the end of `--wait`).
pub fn render_backfill(bf: &Backfill) -> String {
    let (done, total) = progress(bf);
    let mut out = format!("backfill {}  {}\n  {}\n", bf.id, bf.status, describe(bf));
    let ended = match &bf.ended_at {
        Some(e) => format!(", ended {}", local(*e)),
        None => String::new(),
    };
    let took = format!(" ({})", fmt_secs(elapsed(bf.created_at, bf.ended_at)));
    out.push_str(&format!("  created {}{ended}{took}\n", local(bf.created_at)));
    let counts = counts_text(bf);
    out.push_str(&format!("  {done}/{total} done{}\n\n", if counts.is_empty() { String::new() } else { format!(": {counts}") }));
    if bf.dates.is_empty() {
        out.push_str("(no dates)\n");
        return out;
    }
    let mut t = Table::new(["DATE", "LOGICAL TIME", "STATUS", "RUN"]);
    for d in &bf.dates {
        t.row([d.date.clone(), d.logical_time.to_string(), d.status.to_string(), d.run.clone().unwrap_or_else(|| "-".into())]);
    }
    out.push_str(&t.render());
    out
}

/// After `backfills cancel`: what became of the dates. Dates that never got a run
/// read `cancelled` in the backfill; here they are counted as never started.
pub fn cancel_summary(bf: &Backfill) -> String {
    let started = Backfill { dates: bf.dates.iter().filter(|d| d.run.is_some()).cloned().collect(), ..bf.clone() };
    let mut parts: Vec<String> = status_counts(&started).iter().map(|(s, n)| format!("{} {s}", plural(*n, "run", "runs"))).collect();
    let never = bf.dates.len() - started.dates.len();
    if never > 0 {
        parts.push(format!("{} never started", plural(never, "date", "dates")));
    }
    let what = if bf.status == BackfillStatus::Cancelled { "cancelled backfill" } else { "backfill" };
    let status = if bf.status == BackfillStatus::Cancelled { String::new() } else { format!(" is {}", bf.status) };
    format!("{what} {}{status}: {}", bf.id, if parts.is_empty() { "no dates".to_string() } else { parts.join(", ") })
}

/// `deckle backfills`: one line per backfill.
pub fn backfills_table(all: &[Backfill]) -> Table {
    let mut t = Table::new(["BACKFILL", "WORKFLOW", "STATUS", "PROGRESS", "FAILED", "CREATED"]);
    for bf in all {
        let (done, total) = progress(bf);
        let failed = bf.dates.iter().filter(|d| d.status == DateStatus::Failed).count();
        t.row([bf.id.clone(), format!("{} v{}", bf.workflow, bf.version), bf.status.to_string(), format!("{done}/{total}"), failed.to_string(), local(bf.created_at)]);
    }
    t
}

/// 0 for a backfill whose every date succeeded, 1 otherwise.
pub fn backfill_exit(bf: &Backfill) -> i32 {
    if bf.status == BackfillStatus::Succeeded {
        0
    } else {
        EXIT_FAILED
    }
}

/// Poll `GET /backfills/{id}` every 0.5 s until it is no longer running. On a
/// terminal: a progress bar (dates done / total, counts by status) and a line per
/// date that failed or was cancelled; otherwise a line per date status change, on
/// stderr. A server that goes away for less than a minute is waited for.
pub async fn wait_for_backfill(client: &Client, id: &str) -> Result<Reply<Backfill>, ClientError> {
    let tty = std::io::stderr().is_terminal();
    let pb = ProgressBar::with_draw_target(Some(0), if tty { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {bar:20} {pos}/{len} done  {wide_msg}") {
        pb.set_style(style.progress_chars("=> "));
    }
    let started = Instant::now();
    let mut seen: BTreeMap<String, DateStatus> = BTreeMap::new();
    let mut down_since: Option<Instant> = None;
    loop {
        match client.get::<Backfill>(&["backfills", id], &[]).await {
            Ok(reply) => {
                down_since = None;
                let bf = &reply.body;
                let (done, total) = progress(bf);
                pb.set_length(total as u64);
                pb.set_position(done as u64);
                pb.set_message(counts_text(bf));
                if seen.is_empty() {
                    // Only now: before the first reply the bar would read 0/0, all full.
                    pb.enable_steady_tick(Duration::from_millis(120));
                }
                for (key, d) in date_keys(bf).into_iter().zip(&bf.dates) {
                    let was = seen.get(&key);
                    if was == Some(&d.status) {
                        continue;
                    }
                    // `pending` is where every date starts: not news.
                    let news = !(was.is_none() && d.status == DateStatus::Pending);
                    let show = if tty { matches!(d.status, DateStatus::Failed | DateStatus::Cancelled) } else { news };
                    if show {
                        let run = d.run.as_deref().map(|r| format!(" (run {r})")).unwrap_or_default();
                        let line = format!("{:7.1}s  {key} {}{run}", started.elapsed().as_secs_f64(), d.status);
                        pb.suspend(|| eprintln!("{line}"));
                    }
                    seen.insert(key, d.status);
                }
                if bf.status != BackfillStatus::Running {
                    pb.finish_and_clear();
                    return Ok(reply);
                }
            }
            Err(e) => super::ride_out_outage(e, &mut down_since, &pb)?,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn wait_and_report(client: &Client, id: &str, json: bool) -> i32 {
    show_reply_then(wait_for_backfill(client, id).await, json, render_backfill, backfill_exit)
}

pub async fn backfill(args: BackfillArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let req = CreateBackfill {
        from: args.from.clone(),
        to: args.to.clone(),
        every: args.every.clone(),
        parallel: args.parallel,
        reverse: args.reverse,
        only_failed: args.only_failed,
        dry_run: args.dry_run,
        params: params_map(&args.params),
        version: args.version,
    };
    let reply = match client.post::<_, Backfill>(&["workflows", &args.workflow, "backfills"], &req).await {
        Ok(r) => r,
        Err(e) => return e.report(),
    };
    if args.dry_run {
        return show_reply(Ok(reply), args.remote.json, render_plan);
    }
    let bf = &reply.body;
    let line = format!(
        "started backfill {} ({} of {} v{}, at most {} at a time)",
        bf.id,
        plural(bf.dates.len(), "date", "dates"),
        bf.workflow,
        bf.version,
        bf.parallel
    );
    announce(&line, &reply.json, args.remote.json, args.wait);
    if args.wait {
        return wait_and_report(&client, &bf.id, args.remote.json).await;
    }
    0
}

pub async fn backfills(args: BackfillsArgs) -> i32 {
    match args.action {
        Some(BackfillsAction::Show(a)) => return show(a).await,
        Some(BackfillsAction::Cancel(a)) => return cancel(a).await,
        None => {}
    }
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let workflow = args.workflow.or(args.workflow_pos);
    let mut query: Vec<(&str, String)> = workflow.iter().map(|w| ("workflow", w.clone())).collect();
    query.extend(args.before.iter().map(|b| ("before", b.clone())));
    query.extend(args.limit.map(|n| ("limit", n.to_string())));
    let reply = client.get::<Vec<Backfill>>(&["backfills"], &query).await;
    if let Ok(r) = &reply {
        super::next_page_hint("backfills", r.body.len(), args.limit, r.body.last().map(|x| x.id.as_str()));
    }
    show_reply(reply, args.remote.json, |list| {
        if !list.is_empty() {
            return backfills_table(list).render();
        }
        match &workflow {
            Some(w) => eprintln!("no backfills of {w}"),
            None => eprintln!("no backfills"),
        }
        String::new()
    })
}

async fn show(args: BackfillShowArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    if args.wait {
        return wait_and_report(&client, &args.id, args.remote.json).await;
    }
    show_reply(client.get::<Backfill>(&["backfills", &args.id], &[]).await, args.remote.json, render_backfill)
}

async fn cancel(args: BackfillCancelArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let reply = client.post::<_, Backfill>(&["backfills", &args.id, "cancel"], &serde_json::json!({})).await;
    show_reply(reply, args.remote.json, |bf| format!("{}\n", cancel_summary(bf)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_cmds::test_cli::{parse, Cmd};
    use deckle_protocol::api::BackfillDate;

    fn backfills(args: &[&str]) -> BackfillsArgs {
        match parse(&std::iter::once("backfills").chain(args.iter().copied()).collect::<Vec<_>>()) {
            Ok(Cmd::Backfills(b)) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backfill_arguments() {
        let Cmd::Backfill(b) = parse(&[
            "backfill", "wf", "--from", "2024-01-01", "--to", "2024-01-05", "--every", "0 6 * * MON-FRI", "--parallel", "3", "--reverse",
            "--only-failed", "-p", "secs=1", "-p", "secs=2", "--version", "2", "--wait",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!((b.workflow.as_str(), b.from.as_str(), b.to.as_str()), ("wf", "2024-01-01", "2024-01-05"));
        assert_eq!(b.every.as_deref(), Some("0 6 * * MON-FRI"));
        assert_eq!((b.parallel, b.version), (Some(3), Some(2)));
        assert!(b.reverse && b.only_failed && b.wait && !b.dry_run);
        assert_eq!(params_map(&b.params)["secs"], "2");

        let Cmd::Backfill(b) = parse(&["backfill", "wf", "--from", "2024-01-01", "--to", "2024-01-01", "--dry-run"]).unwrap() else { panic!() };
        assert!(b.dry_run && !b.reverse && b.parallel.is_none() && b.every.is_none());
    }

    #[test]
    fn backfill_usage_errors() {
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        use clap::error::ErrorKind;
        assert_eq!(kind(&["backfill", "wf", "--to", "2024-01-01"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["backfill", "wf", "--from", "2024-13-01", "--to", "2024-01-01"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["backfill", "wf", "--from", "2024-01-01", "--to", "2024-01-02", "--parallel", "0"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["backfill", "wf", "--from", "2024-01-01", "--to", "2024-01-02", "--dry-run", "--wait"]), ErrorKind::ArgumentConflict);
        let e = parse(&["backfill", "wf", "--from", "yesterday", "--to", "2024-01-02"]).unwrap_err();
        assert!(e.to_string().contains("not a date (YYYY-MM-DD)"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn backfills_subcommands_and_workflow_names() {
        let b = backfills(&[]);
        assert!(b.action.is_none() && b.workflow_pos.is_none());
        let b = backfills(&["wf", "-n", "3"]);
        assert!(b.action.is_none());
        assert_eq!((b.workflow_pos.as_deref(), b.limit), (Some("wf"), Some(3)));
        let b = backfills(&["show", "bf-1", "--wait", "--json"]);
        let Some(BackfillsAction::Show(s)) = b.action else { panic!("{b:?}") };
        assert_eq!(s.id, "bf-1");
        assert!(s.wait && s.remote.json);
        let b = backfills(&["cancel", "bf-2", "--server", "http://h:1"]);
        let Some(BackfillsAction::Cancel(c)) = b.action else { panic!("{b:?}") };
        assert_eq!((c.id.as_str(), c.remote.server.as_str()), ("bf-2", "http://h:1"));
        // A workflow named like a subcommand: after `--`, or with --workflow.
        let b = backfills(&["--", "show"]);
        assert!(b.action.is_none());
        assert_eq!(b.workflow_pos.as_deref(), Some("show"));
        let b = backfills(&["--workflow", "cancel"]);
        assert!(b.action.is_none());
        assert_eq!(b.workflow.as_deref(), Some("cancel"));
        // `show` alone is the subcommand missing its id, not a workflow.
        assert_eq!(parse(&["backfills", "show"]).unwrap_err().kind(), clap::error::ErrorKind::MissingRequiredArgument);
        // A workflow then a subcommand is not a thing.
        assert!(parse(&["backfills", "wf", "show", "bf-1"]).is_err());
    }

    fn sample() -> Backfill {
        let d = |date: &str, status: &str, run: Option<&str>| BackfillDate {
            date: date.into(),
            logical_time: format!("{date}T00:00:00Z").parse().unwrap(),
            run: run.map(Into::into),
            status: serde_json::from_value(serde_json::json!(status)).expect("a date status"),
        };
        Backfill {
            id: "bf-1".into(),
            workflow: "one".into(),
            version: 2,
            status: BackfillStatus::Running,
            every: "1d".into(),
            parallel: 2,
            reverse: false,
            only_failed: false,
            params: [("secs".to_string(), "1".to_string())].into(),
            created_at: "2024-01-01T00:00:00Z".parse().unwrap(),
            ended_at: None,
            dates: vec![
                d("2024-01-01", "succeeded", Some("r1")),
                d("2024-01-02", "failed", Some("r2")),
                d("2024-01-03", "running", Some("r3")),
                d("2024-01-04", "queued", Some("r4")),
                d("2024-01-05", "pending", None),
            ],
        }
    }

    #[test]
    fn progress_and_counts() {
        let bf = sample();
        assert_eq!(progress(&bf), (2, 5));
        assert_eq!(counts_text(&bf), "1 succeeded, 1 failed, 1 running, 1 queued, 1 pending");
        assert_eq!(backfill_exit(&bf), 1);
        assert_eq!(backfill_exit(&Backfill { status: BackfillStatus::Succeeded, ..bf.clone() }), 0);
        assert_eq!(backfill_exit(&Backfill { status: BackfillStatus::Cancelled, ..bf }), 1);
    }

    #[test]
    fn hourly_dates_are_named_by_logical_time() {
        let mut bf = sample();
        assert_eq!(date_keys(&bf)[0], "2024-01-01");
        bf.dates[1].date = "2024-01-01".into();
        bf.dates[1].logical_time = "2024-01-01T01:00:00Z".parse().unwrap();
        assert_eq!(date_keys(&bf)[..2], ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"]);
    }

    #[test]
    fn show_table() {
        let s = render_backfill(&sample());
        assert!(s.starts_with("backfill bf-1  running\n  workflow one v2, every 1d, at most 2 at a time, params secs=1\n  created "), "{s}");
        assert!(s.contains("  2/5 done: 1 succeeded, 1 failed, 1 running, 1 queued, 1 pending\n\n"), "{s}");
        assert!(s.contains("DATE        LOGICAL TIME          STATUS     RUN\n"), "{s}");
        assert!(s.contains("2024-01-02  2024-01-02T00:00:00Z  failed     r2\n"), "{s}");
        assert!(s.ends_with("2024-01-05  2024-01-05T00:00:00Z  pending    -\n"), "{s}");
    }

    #[test]
    fn list_table() {
        let mut other = sample();
        other.id = "bf-2".into();
        other.status = BackfillStatus::Succeeded;
        other.dates.truncate(1);
        let s = backfills_table(&[sample(), other]).render();
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("BACKFILL  WORKFLOW  STATUS     PROGRESS  FAILED  CREATED"), "{s}");
        assert!(lines[1].starts_with("bf-1      one v2    running    2/5       1       "), "{s}");
        assert!(lines[2].starts_with("bf-2      one v2    succeeded  1/1       0       "), "{s}");
    }

    #[test]
    fn cancel_counts_dates_never_started() {
        let mut bf = sample();
        bf.status = BackfillStatus::Cancelled;
        for d in &mut bf.dates[2..] {
            d.status = DateStatus::Cancelled;
        }
        assert_eq!(cancel_summary(&bf), "cancelled backfill bf-1: 1 run succeeded, 1 run failed, 2 runs cancelled, 1 date never started");
    }

    #[test]
    fn dry_run_plan() {
        let mut bf = sample();
        bf.status = BackfillStatus::Planned;
        bf.reverse = true;
        bf.dates.reverse();
        bf.dates.truncate(2);
        let s = render_plan(&bf);
        assert_eq!(
            s,
            "#  DATE        LOGICAL TIME\n1  2024-01-05  2024-01-05T00:00:00Z\n2  2024-01-04  2024-01-04T00:00:00Z\n\
             would start 2 runs of one v2, at most 2 at a time (params secs=1); nothing was created\n"
        );
        bf.dates.clear();
        bf.only_failed = true;
        bf.params.clear();
        assert_eq!(render_plan(&bf), "no date in the range has a failed latest run\nwould start 0 runs of one v2, at most 2 at a time; nothing was created\n");
    }
}
