//! What the engine persists: one [`RunRecord`] per run and one [`NodeRecord`] per
//! node instance (a foreach node has a parent record and one per item).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use serde_json::{Map, Value};

/// Where a node instance stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Waiting for upstream nodes.
    Pending,
    /// Ready to run, waiting for a slot or a worker.
    Ready,
    /// An attempt is running.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Failed, with no retry left.
    Failed,
    /// Not run: its `when` was false, or its trigger rule not met.
    Skipped,
    /// Not run: an upstream node failed.
    UpstreamFailed,
    /// Failed; a retry is due.
    Retrying,
    /// Stopped because the run was cancelled.
    Cancelled,
    /// A `wait:` node: the coordinator watches for its condition (no worker slot).
    Waiting,
}

impl NodeStatus {
    /// Whether the node will not change any more.
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
            Self::Waiting => "waiting",
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Created, waiting for `max_active_runs` or a sequential predecessor.
    Queued,
    /// Nodes are running or ready.
    Running,
    /// Every node ended without failure.
    Succeeded,
    /// Some node failed.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl RunStatus {
    /// The status as written in JSON (`queued`, `running`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the run has ended.
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
    Backfill {
        /// The backfill id.
        id: String,
    },
    /// An event matched one of the workflow's `triggers:`.
    Event {
        /// The stored event's id (`GET /api/v1/events/{id}`).
        event: String,
        /// Which trigger, as `signal:NAME`, `workflow:ID` or `files:PATTERN`.
        source: String,
        /// What expressions see as `trigger` (`trigger.params.table`, …).
        #[schema(value_type = Object)]
        context: serde_json::Value,
    },
}

impl RunRecord {
    /// When the latest run attempt started: `started_at`, or a rerun's start.
    pub fn attempt_started_at(&self) -> Timestamp {
        self.attempts_started_at.last().copied().unwrap_or(self.started_at)
    }
}

/// A webhook delivery made when the run finished.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Notification {
    /// The webhook's URL.
    pub url: String,
    /// `run_failed` or `run_succeeded`.
    pub event: String,
    /// How many POSTs were made.
    pub attempts: u32,
    /// Whether one got a 2xx answer.
    pub delivered: bool,
    /// The receiver's last HTTP status, if it answered.
    pub status: Option<u16>,
    /// The last failure, if any.
    pub error: Option<String>,
}

/// A run of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RunRecord {
    /// The run id.
    pub id: String,
    /// The workflow id.
    pub workflow: String,
    /// The logical date, `YYYY-MM-DD`.
    pub date: String,
    /// The logical time (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub logical_time: Timestamp,
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
    /// What created it.
    #[serde(default)]
    pub trigger: RunTrigger,
    /// Where it stands.
    pub status: RunStatus,
    /// When the run first started (a queued run: when it was created). A rerun keeps it.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// When it ended (RFC 3339), once finished.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// When each run attempt started, in order, once there was a rerun (the first is
    /// `started_at`); `ended_at` is the latest attempt's end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub attempts_started_at: Vec<Timestamp>,
    /// The run finished and its `on_failure` / `on_success` hook is not recorded yet:
    /// a server that stopped before it was called calls it when it starts again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hooks_pending: bool,
    /// Webhooks called when the run (or its latest attempt) finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
}

/// One attempt of a node instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AttemptRecord {
    /// The attempt number (1-based).
    pub n: u32,
    /// How it ended (or `running`).
    pub status: NodeStatus,
    /// When it started (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// When it ended (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// How long it took, in seconds.
    pub duration_secs: Option<f64>,
    /// The parameters as injected.
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// Recorded outputs.
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// One line saying what went wrong.
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

impl AttemptRecord {
    /// Attempt `n`, running since `at`: nothing recorded yet, made by the run's
    /// first attempt.
    pub fn started(n: u32, at: Timestamp) -> Self {
        AttemptRecord {
            n,
            status: NodeStatus::Running,
            started_at: at,
            ended_at: None,
            duration_secs: None,
            params: Map::new(),
            outputs: Map::new(),
            error: None,
            notebook: None,
            worker: None,
            lost: false,
            run_attempt: 1,
        }
    }
}

/// One node instance of a run: a plain node, a foreach parent or one foreach item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NodeRecord {
    /// The node id.
    pub node: String,
    /// Foreach item index; `None` for a plain node or a foreach parent.
    pub index: Option<usize>,
    /// Where it stands.
    pub status: NodeStatus,
    /// Its attempts, oldest first.
    pub attempts: Vec<AttemptRecord>,
    /// Recorded outputs of the last attempt (for a foreach parent: lists in item order).
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// The last attempt's error (or why it did not run).
    pub error: Option<String>,
    /// For a foreach parent: how many items.
    pub items: Option<usize>,
    /// When its first attempt started (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// When it finished (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// A failed attempt's retry is due at this time (RFC 3339; `retry_delay` after the
    /// failure): kept with the node so a restarted server still waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub retry_at: Option<Timestamp>,
    /// Why a `ready` node is not running yet (`waiting for a worker with labels
    /// [gpu]; no worker connected`): said by the server's API, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

impl NodeRecord {
    /// A pending record for `node` (and foreach `index`).
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

/// The instance key of a node: `node`, or `node.index` for a foreach item.
pub fn instance_key(node: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("{node}.{i}"),
        None => node.to_string(),
    }
}
