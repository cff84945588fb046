//! Events that start runs (`triggers:` in a workflow file): a signal posted to
//! `/api/v1/signals/{name}`, a run of another workflow ending, a file arriving.
//! Each is stored as an [`EventRecord`] before it is acknowledged, with one
//! [`Firing`] per workflow trigger it matched: the run that trigger starts, its id
//! chosen before the run is created so a crash between the two writes starts it
//! once, not twice.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /api/v1/signals/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostSignal {
    /// What the signal carries: matched by triggers' `match`, read as
    /// `trigger.params.<name>`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, Value>,
    /// An idempotency key: a signal of the same name with a key already seen
    /// starts nothing (the reply names the first event).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 256)]
    pub key: Option<String>,
    /// The logical date of the runs it starts (`YYYY-MM-DD`); default today in
    /// each workflow's time zone.
    #[serde(default)]
    #[schema(format = Date)]
    pub date: Option<String>,
}

/// What kind of event.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A signal posted to the API.
    Signal,
    /// A run of a registered workflow ended.
    Workflow,
    /// A new file or object matched a `files:` trigger.
    Files,
}

impl EventKind {
    /// As written in `triggers:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::Workflow => "workflow",
            Self::Files => "files",
        }
    }
}

/// Where a firing stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FiringState {
    /// Its run is to be created (right away, or after a restart).
    Pending,
    /// The workflow is paused: the run is created when it is unpaused.
    Held,
    /// Its run exists.
    Started,
    /// No run: the trigger's params did not resolve or the run was refused
    /// (`error` says why).
    Failed,
}

/// One workflow trigger an event matched, and the run it starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Firing {
    /// The workflow the run belongs to.
    pub workflow: String,
    /// The version whose trigger matched (the run pins it).
    pub version: u32,
    /// The trigger's index in that version's `triggers:`.
    pub trigger: usize,
    /// The trigger, as `signal:NAME`, `workflow:ID` or `files:PATTERN`.
    pub source: String,
    /// The run's id, chosen when the event was accepted.
    pub run_id: String,
    /// Where it stands.
    pub state: FiringState,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An accepted event, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EventRecord {
    /// Unique; begins with the time it was received, so ids sort by arrival.
    pub id: String,
    /// Signal, upstream run or file.
    pub kind: EventKind,
    /// The signal's name, the upstream workflow's id, or the file's path.
    pub name: String,
    /// When it was accepted.
    #[schema(value_type = String, format = DateTime)]
    pub received_at: Timestamp,
    /// The signal's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The logical date the runs get, when the event carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// What expressions see as `trigger` in the runs it starts.
    #[schema(value_type = Object)]
    pub context: Value,
    /// The triggers it matched, one run each.
    pub firings: Vec<Firing>,
}

impl EventRecord {
    /// Whether every firing is settled (started or failed): nothing left to do.
    pub fn is_done(&self) -> bool {
        self.firings.iter().all(|f| matches!(f.state, FiringState::Started | FiringState::Failed))
    }
}

/// The reply to a signal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct SignalAccepted {
    /// The stored event: for a duplicate key, the first one.
    pub event: EventRecord,
    /// The key had been seen: nothing new was started.
    pub duplicate: bool,
}

/// One trigger of a workflow, as the coordinator runs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TriggerState {
    /// `signal:NAME`, `workflow:ID` or `files:PATTERN`.
    pub source: String,
    /// The last event that started (or is holding) a run of this trigger.
    #[serde(default)]
    pub last_event: Option<String>,
    /// When that event was accepted.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_event_at: Option<Timestamp>,
    /// A problem the trigger has now (a folder it cannot read), if any.
    #[serde(default)]
    pub problem: Option<String>,
    /// A `files:` trigger: when it last listed its folder or bucket successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub listed_at: Option<Timestamp>,
}
