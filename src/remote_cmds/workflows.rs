//! `deckle workflows`, `deckle pause WORKFLOW` and `deckle unpause WORKFLOW`.

use clap::Args;
use deckle_protocol::api::{PauseState, ScheduleState, WorkflowSummary};

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
    /// The registered workflow's id (it must have a schedule or triggers).
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
    let mut t = Table::new(["WORKFLOW", "VERSION", "NODES", "SCHEDULE", "TRIGGERS", "STARTS", "PAUSED", "NEXT TICK", "LAST EVENT", "LATEST RUN"]);
    for w in all {
        let (schedule, next) = match &w.schedule {
            Some(s) => (schedule_text(s), next_tick(s)),
            None => ("-".into(), "-".into()),
        };
        let paused = match (w.schedule.is_some() || !w.triggers.is_empty(), w.paused) {
            (false, _) => "-",
            (true, true) => "yes",
            (true, false) => "no",
        };
        let triggers = if w.triggers.is_empty() { "-".into() } else { w.triggers.iter().map(|t| t.source.as_str()).collect::<Vec<_>>().join(", ") };
        let last_event = w.triggers.iter().filter_map(|t| t.last_event_at).max().map_or("-".into(), local);
        let latest = w.latest_run.as_ref().map_or("-".into(), |r| r.status.as_str().to_string());
        let starts = if w.downstream.is_empty() { "-".into() } else { w.downstream.join(", ") };
        t.row([w.id.clone(), format!("v{}", w.latest_version), w.nodes.to_string(), schedule, triggers, starts, paused.into(), next, last_event, latest]);
    }
    t
}

/// One line per trigger that has a problem now (`deckle workflows` prints them under the table).
pub fn trigger_problems(all: &[WorkflowSummary]) -> String {
    let mut out = String::new();
    for w in all {
        for t in &w.triggers {
            if let Some(p) = &t.problem {
                out.push_str(&format!("warning: {} trigger {}: {p}\n", w.id, t.source));
            }
        }
    }
    out
}

/// After `pause` / `unpause`: the schedule, and the runs triggers hold.
pub fn render_pause(workflow: &str, p: &PauseState) -> String {
    let mut out = match &p.schedule {
        Some(s) => render_schedule(workflow, s),
        None => format!("{workflow}: {}\n", if p.paused { "paused" } else { "active" }),
    };
    match (p.paused, p.held) {
        (true, _) => out.push_str(&format!("  triggered runs are held ({} so far); `deckle unpause {workflow}` starts them\n", p.held)),
        (false, 0) => {}
        (false, n) => out.push_str(&format!("  {n} held runs are starting\n")),
    }
    out
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
        let problems = trigger_problems(list);
        if !problems.is_empty() {
            eprint!("{problems}");
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
    let reply = client.post::<_, PauseState>(&["workflows", &args.workflow, action], &serde_json::json!({})).await;
    show_reply(reply, args.remote.json, |s| render_pause(&args.workflow, s))
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
    use deckle_protocol::event::TriggerState;
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
            paused: schedule.as_ref().is_some_and(|s| s.paused),
            schedule,
            triggers: Vec::new(),
            downstream: Vec::new(),
        };
        let s = workflows_table(&[wf("a", Some(state(false)), Some(run)), wf("bb", Some(state(true)), None), wf("c", None, None)]).render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "WORKFLOW  VERSION  NODES  SCHEDULE         TRIGGERS  STARTS  PAUSED  NEXT TICK            LAST EVENT  LATEST RUN", "{s}");
        assert!(lines[1].starts_with("a         v2       3      0 3 * * * (UTC)  -         -       no      2024-01-0"), "{s}");
        assert!(lines[1].ends_with("  queued"), "{s}");
        assert_eq!(lines[2], "bb        v2       3      0 3 * * * (UTC)  -         -       yes     -                    -           -", "{s}");
        assert_eq!(lines[3], "c         v2       3      -                -         -       -       -                    -           -", "{s}");
        // Triggers, their last event and their problems.
        let mut t = wf("d", None, None);
        t.triggers = vec![
            TriggerState { source: "signal:ready".into(), last_event: Some("e1".into()), last_event_at: Some("2024-01-01T00:00:00Z".parse().unwrap()), problem: None, listed_at: None },
            TriggerState { source: "files:/in/*.csv".into(), last_event: None, last_event_at: None, problem: Some("cannot read /in: not a folder".into()), listed_at: None },
        ];
        t.paused = true;
        t.downstream = vec!["report".into(), "audit".into()];
        let s = workflows_table(std::slice::from_ref(&t)).render();
        let row = s.lines().nth(1).unwrap();
        assert!(row.contains("signal:ready, files:/in/*.csv  report, audit  yes"), "{s}");
        assert!(row.contains("2024-01-0"), "the last event's time: {s}");
        assert_eq!(trigger_problems(&[t]), "warning: d trigger files:/in/*.csv: cannot read /in: not a folder\n");
    }

    #[test]
    fn pause_of_a_triggered_workflow_says_what_is_held() {
        let p = PauseState { workflow: "wf".into(), paused: true, schedule: None, held: 2 };
        assert_eq!(render_pause("wf", &p), "wf: paused\n  triggered runs are held (2 so far); `deckle unpause wf` starts them\n");
        let p = PauseState { paused: false, ..p };
        assert_eq!(render_pause("wf", &p), "wf: active\n  2 held runs are starting\n");
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
