//! `deckle workflows`, `deckle pause WORKFLOW` and `deckle unpause WORKFLOW`.

use clap::Args;
use deckle_protocol::api::{ScheduleState, WorkflowSummary};

use super::{local, show_reply, EXIT_CODES};
use crate::client::{Client, RemoteArgs};
use crate::table::Table;

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct WorkflowsArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct PauseArgs {
    /// The registered workflow's id (it must have a schedule).
    pub workflow: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `0 3 * * * (Europe/Paris)`.
fn schedule_text(s: &ScheduleState) -> String {
    format!("{} ({})", s.cron, s.timezone)
}

/// When the next scheduled run is due: `-` while paused or when none is planned.
fn next_tick(s: &ScheduleState) -> String {
    match (&s.next_tick, s.paused) {
        (Some(t), false) => local(*t),
        _ => "-".into(),
    }
}

/// `deckle workflows`: one line per registered workflow.
pub fn workflows_table(all: &[WorkflowSummary]) -> Table {
    let mut t = Table::new(["WORKFLOW", "VERSION", "NODES", "SCHEDULE", "PAUSED", "NEXT TICK", "LATEST RUN"]);
    for w in all {
        let (schedule, paused, next) = match &w.schedule {
            Some(s) => (schedule_text(s), if s.paused { "yes" } else { "no" }.to_string(), next_tick(s)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let latest = w.latest_run.as_ref().map_or("-".into(), |r| r.status.as_str().to_string());
        t.row([w.id.clone(), format!("v{}", w.latest_version), w.nodes.to_string(), schedule, paused, next, latest]);
    }
    t
}

/// The schedule after `pause` / `unpause`.
pub fn render_schedule(workflow: &str, s: &ScheduleState) -> String {
    let mut out = format!("{workflow}: schedule {}\n", if s.paused { "paused" } else { "active" });
    let mut t = Table::new(["  cron", &s.cron]);
    t.row(["  timezone", &s.timezone]);
    t.row(["  catchup", if s.catchup { "yes" } else { "no" }]);
    t.row(["  paused", if s.paused { "yes" } else { "no" }]);
    t.row(["  last tick".to_string(), s.last_tick.map_or("-".into(), local)]);
    let next = match (&s.next_tick, s.paused) {
        (_, true) => format!("- (paused; `deckle unpause {workflow}` resumes it)"),
        (Some(t), false) => format!("{}{}", local(*t), in_zone(*t, &s.timezone).map(|z| format!(" ({z} {})", s.timezone)).unwrap_or_default()),
        (None, false) => "-".into(),
    };
    t.row(["  next tick".to_string(), next]);
    out.push_str(&t.render());
    out
}

/// A record's timestamp as a wall-clock time in the schedule's zone, when that reads
/// differently from the local time shown next to it.
fn in_zone(t: jiff::Timestamp, tz: &str) -> Option<String> {
    let there = t.in_tz(tz).ok()?.strftime("%Y-%m-%d %H:%M:%S").to_string();
    (there != local(t)).then_some(there)
}

pub async fn workflows(args: WorkflowsArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    show_reply(client.get::<Vec<WorkflowSummary>>(&["workflows"], &[]).await, args.remote.json, |list| {
        if list.is_empty() {
            eprintln!("no workflows registered; add one with `deckle register FILE`");
            return String::new();
        }
        workflows_table(list).render()
    })
}

async fn set_paused(args: PauseArgs, paused: bool) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let action = if paused { "pause" } else { "unpause" };
    let reply = client.post::<_, ScheduleState>(&["workflows", &args.workflow, action], &serde_json::json!({})).await;
    show_reply(reply, args.remote.json, |s| render_schedule(&args.workflow, s))
}

pub async fn pause(args: PauseArgs) -> i32 {
    set_paused(args, true).await
}

pub async fn unpause(args: PauseArgs) -> i32 {
    set_paused(args, false).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_cmds::test_cli::{parse, Cmd};
    use deckle_protocol::record::RunRecord;

    #[test]
    fn arguments() {
        let Cmd::Pause(p) = parse(&["pause", "wf", "--json"]).unwrap() else { panic!() };
        assert_eq!(p.workflow, "wf");
        assert!(p.remote.json);
        assert!(parse(&["pause"]).is_err());
        assert!(parse(&["workflows", "extra"]).is_err());
        assert!(matches!(parse(&["workflows"]).unwrap(), Cmd::Workflows(_)));
    }

    fn state(paused: bool) -> ScheduleState {
        ScheduleState {
            cron: "0 3 * * *".into(),
            timezone: "UTC".into(),
            catchup: false,
            paused,
            last_tick: None,
            next_tick: Some("2024-01-02T03:00:00Z".parse().unwrap()),
        }
    }

    #[test]
    fn table() {
        let run: RunRecord = serde_json::from_value(serde_json::json!({
            "id": "r1", "workflow": "a", "date": "2024-01-01", "logical_time": "2024-01-01T00:00:00Z",
            "params": {}, "version": 2, "status": "queued", "started_at": "2024-01-01T00:00:00Z", "ended_at": null
        }))
        .unwrap();
        let wf = |id: &str, schedule: Option<ScheduleState>, latest_run: Option<RunRecord>| WorkflowSummary {
            id: id.into(),
            description: None,
            latest_version: 2,
            nodes: 3,
            latest_run,
            schedule,
        };
        let s = workflows_table(&[wf("a", Some(state(false)), Some(run)), wf("bb", Some(state(true)), None), wf("c", None, None)]).render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "WORKFLOW  VERSION  NODES  SCHEDULE         PAUSED  NEXT TICK            LATEST RUN", "{s}");
        assert!(lines[1].starts_with("a         v2       3      0 3 * * * (UTC)  no      2024-01-0"), "{s}");
        assert!(lines[1].ends_with("  queued"), "{s}");
        assert_eq!(lines[2], "bb        v2       3      0 3 * * * (UTC)  yes     -                    -", "{s}");
        assert_eq!(lines[3], "c         v2       3      -                -       -                    -", "{s}");
    }

    #[test]
    fn schedule_state() {
        let s = render_schedule("wf", &state(true));
        assert_eq!(
            s,
            "wf: schedule paused\n  cron       0 3 * * *\n  timezone   UTC\n  catchup    no\n  paused     yes\n  last tick  -\n  \
             next tick  - (paused; `deckle unpause wf` resumes it)\n"
        );
        let s = render_schedule("wf", &state(false));
        assert!(s.starts_with("wf: schedule active\n  cron       0 3 * * *\n"), "{s}");
        assert!(s.contains("  next tick  2024-01-0"), "{s}");
        // None when the local zone is Tokyo's too.
        assert!(matches!(in_zone("2024-01-02T03:00:00Z".parse().unwrap(), "Asia/Tokyo").as_deref(), None | Some("2024-01-02 12:00:00")));
        assert!(in_zone("2024-01-02T03:00:00Z".parse().unwrap(), "No/Such_Zone").is_none());
    }
}
