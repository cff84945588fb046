//! `deckle signal NAME [-p k=v]… [--key K] [--date D]` and `deckle events`.

use clap::Args;
use deckle_protocol::event::{EventRecord, FiringState, PostSignal, SignalAccepted};
use serde_json::Value;

use super::{local, parse_param, show_reply, EXIT_CODES};
use crate::client::{Client, RemoteArgs};
use crate::table::Table;

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct SignalArgs {
    /// The signal's name (`[A-Za-z0-9_.-]`, at most 128).
    pub name: String,
    /// A param the signal carries, `name=value`: the value is read as JSON when it
    /// is JSON (`3`, `true`, `[1,2]`, `"x"`), else as text.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// An idempotency key: the same key again starts nothing.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The logical date of the runs it starts (YYYY-MM-DD); default today in each workflow's time zone.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct EventsArgs {
    /// Only events of this name (a signal's name, an upstream workflow, a file's path).
    pub name: Option<String>,
    /// Only this kind: signal, workflow or files.
    #[arg(long, value_parser = ["signal", "workflow", "files"])]
    pub kind: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `-p` values: JSON when they parse as JSON, else text.
pub fn signal_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn firing_text(e: &EventRecord) -> String {
    if e.firings.is_empty() {
        return "no workflow listens".into();
    }
    e.firings
        .iter()
        .map(|f| match f.state {
            FiringState::Started => format!("{} run {}", f.workflow, f.run_id),
            FiringState::Held => format!("{} held (paused)", f.workflow),
            FiringState::Pending => format!("{} starting", f.workflow),
            FiringState::Failed => format!("{} refused: {}", f.workflow, f.error.as_deref().unwrap_or("?")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The reply to a signal, in words.
pub fn render_accepted(a: &SignalAccepted) -> String {
    let e = &a.event;
    if a.duplicate {
        return format!("signal {} with key {:?} was already received as event {}: nothing new started ({})\n", e.name, e.key.as_deref().unwrap_or(""), e.id, firing_text(e));
    }
    format!("signal {} stored as event {}: {}\n", e.name, e.id, firing_text(e))
}

/// `deckle events`: one line per event.
pub fn events_table(list: &[EventRecord]) -> Table {
    let mut t = Table::new(["EVENT", "KIND", "NAME", "RECEIVED", "KEY", "RUNS"]);
    for e in list {
        t.row([e.id.clone(), e.kind.as_str().into(), e.name.clone(), local(e.received_at), e.key.clone().unwrap_or_else(|| "-".into()), firing_text(e)]);
    }
    t
}

pub async fn signal(args: SignalArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let req = PostSignal { params: args.params.iter().map(|(k, v)| (k.clone(), signal_value(v))).collect(), key: args.key.clone(), date: args.date.clone() };
    show_reply(client.post::<_, SignalAccepted>(&["signals", &args.name], &req).await, args.remote.json, render_accepted)
}

pub async fn events(args: EventsArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let mut q = vec![("limit", args.limit.to_string())];
    q.extend(args.name.clone().map(|n| ("name", n)));
    q.extend(args.kind.clone().map(|k| ("kind", k)));
    show_reply(client.get::<Vec<EventRecord>>(&["events"], &q).await, args.remote.json, |list| {
        if list.is_empty() {
            eprintln!("no events");
            return String::new();
        }
        events_table(list).render()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_cmds::test_cli::{parse, Cmd};

    #[test]
    fn values_are_json_when_they_parse() {
        assert_eq!(signal_value("3"), serde_json::json!(3));
        assert_eq!(signal_value("true"), serde_json::json!(true));
        assert_eq!(signal_value("plays"), serde_json::json!("plays"));
        assert_eq!(signal_value("\"3\""), serde_json::json!("3"));
        assert_eq!(signal_value("[1, 2]"), serde_json::json!([1, 2]));
    }

    #[test]
    fn arguments() {
        let Cmd::Signal(s) = parse(&["signal", "table_ready", "-p", "table=plays", "--key", "k1", "--date", "2024-01-02"]).unwrap() else { panic!() };
        assert_eq!((s.name.as_str(), s.key.as_deref(), s.date.as_deref()), ("table_ready", Some("k1"), Some("2024-01-02")));
        assert_eq!(s.params, vec![("table".to_string(), "plays".to_string())]);
        assert!(parse(&["signal"]).is_err());
        assert!(parse(&["events", "--kind", "nope"]).is_err());
    }

    #[test]
    fn duplicates_say_nothing_new_started() {
        let e: EventRecord = serde_json::from_value(serde_json::json!({
            "id": "e1", "kind": "signal", "name": "ready", "received_at": "2024-01-01T00:00:00Z", "key": "k", "context": {},
            "firings": [{"workflow": "report", "version": 1, "trigger": 0, "source": "signal:ready", "run_id": "r1", "state": "started"}]
        }))
        .unwrap();
        let a = SignalAccepted { event: e.clone(), duplicate: true };
        assert_eq!(render_accepted(&a), "signal ready with key \"k\" was already received as event e1: nothing new started (report run r1)\n");
        let a = SignalAccepted { event: e, duplicate: false };
        assert_eq!(render_accepted(&a), "signal ready stored as event e1: report run r1\n");
    }
}
