//! What the engine persists: one [`RunRecord`] per run and one [`NodeRecord`] per
//! node instance (a foreach node has a parent record and one per item).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Pending,
    Ready,
    Running,
    Succeeded,
    Failed,
    Skipped,
    UpstreamFailed,
    Retrying,
    Cancelled,
}

impl NodeStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped | Self::UpstreamFailed | Self::Cancelled)
    }

    /// As CEL sees it in `nodes.<id>.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::UpstreamFailed => "upstream_failed",
            Self::Retrying => "retrying",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Created, waiting for `max_active_runs` or a sequential predecessor.
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// What created a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunTrigger {
    /// `deckle run`, `deckle trigger`, the API.
    #[default]
    Manual,
    /// A schedule tick (the run's `logical_time`).
    Schedule,
    /// One date of a backfill.
    Backfill { id: String },
}

impl RunRecord {
    /// When the latest run attempt started: `started_at`, or a rerun's start.
    pub fn attempt_started_at(&self) -> &str {
        self.attempts_started_at.last().map_or(&self.started_at, |s| s.as_str())
    }
}

/// A webhook delivery made when the run finished.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Notification {
    pub url: String,
    /// `run_failed` or `run_succeeded`.
    pub event: String,
    pub attempts: u32,
    pub delivered: bool,
    /// The receiver's last HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    /// The logical date, `YYYY-MM-DD`.
    pub date: String,
    pub logical_time: String,
    /// Resolved workflow parameters (secrets left out).
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// The registered workflow version this run is pinned to (0: an unregistered
    /// file run by `deckle run`).
    #[serde(default)]
    pub version: u32,
    /// 1, then one more for every rerun.
    #[serde(default = "one")]
    pub attempt: u32,
    #[serde(default)]
    pub trigger: RunTrigger,
    pub status: RunStatus,
    /// When the run first started (a queued run: when it was created). A rerun keeps it.
    pub started_at: String,
    pub ended_at: Option<String>,
    /// When each run attempt started, in order, once there was a rerun (the first is
    /// `started_at`); `ended_at` is the latest attempt's end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts_started_at: Vec<String>,
    /// The run finished and its `on_failure` / `on_success` hook is not recorded yet:
    /// a server that stopped before it was called calls it when it starts again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hooks_pending: bool,
    /// Webhooks called when the run (or its latest attempt) finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AttemptRecord {
    pub n: u32,
    pub status: NodeStatus,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_secs: Option<f64>,
    /// The parameters as injected.
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    pub error: Option<String>,
    /// The output notebook, when one was written.
    pub notebook: Option<String>,
    /// The worker that ran it (remote workers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The worker was lost (its lease expired): not counted against `retries`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lost: bool,
    /// Which attempt of the run (1, then one more per rerun) made this node attempt.
    #[serde(default = "one")]
    pub run_attempt: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NodeRecord {
    pub node: String,
    /// Foreach item index; `None` for a plain node or a foreach parent.
    pub index: Option<usize>,
    pub status: NodeStatus,
    pub attempts: Vec<AttemptRecord>,
    /// Recorded outputs of the last attempt (for a foreach parent: lists in item order).
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    pub error: Option<String>,
    /// For a foreach parent: how many items.
    pub items: Option<usize>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// A failed attempt's retry is due at this time (RFC 3339; `retry_delay` after the
    /// failure): kept with the node so a restarted server still waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    /// Why a `ready` node is not running yet (`waiting for a worker with labels
    /// [gpu]; no worker connected`): said by the server's API, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

impl NodeRecord {
    pub fn new(node: &str, index: Option<usize>) -> Self {
        NodeRecord {
            node: node.to_string(),
            index,
            status: NodeStatus::Pending,
            attempts: Vec::new(),
            outputs: Map::new(),
            error: None,
            items: None,
            started_at: None,
            ended_at: None,
            retry_at: None,
            waiting: None,
        }
    }

    /// `node` or `node.3`.
    pub fn key(&self) -> String {
        instance_key(&self.node, self.index)
    }
}

pub fn instance_key(node: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("{node}.{i}"),
        None => node.to_string(),
    }
}
