//! The bodies of the coordinator's HTTP API (`/api/v1`): what the CLI, the workers
//! and the web UI send and receive. Run and node records are in [`crate::record`];
//! the work a lease carries is a [`crate::task::Task`].
//!
//! Routes (all JSON unless noted; every error is an [`ApiError`]):
//!
//! | route | body | reply |
//! |---|---|---|
//! | `POST /api/v1/workflows` | [`RegisterWorkflow`] | 201 [`WorkflowVersion`] |
//! | `GET /api/v1/workflows` | | [`WorkflowSummary`]`[]` |
//! | `GET /api/v1/workflows/{id}` | | [`WorkflowDetail`] |
//! | `POST /api/v1/workflows/{id}/runs` | [`TriggerRun`] | 201 [`RunRecord`] |
//! | `GET /api/v1/runs?workflow=` | | [`RunRecord`]`[]` (newest first) |
//! | `GET /api/v1/runs/{run}` | | [`RunDetail`] |
//! | `GET /api/v1/runs/{run}/nodes/{node}/attempts/{n}/notebook` | | the `.ipynb` |
//! | `GET /api/v1/runs/{run}/nodes/{node}/log?attempt=` | | [`NodeLog`] |
//! | `POST /api/v1/runs/{run}/cancel` | | [`RunRecord`] |
//! | `POST /api/v1/runs/{run}/rerun` | [`Rerun`] | [`RunRecord`] |
//! | `POST /api/v1/workflows/{id}/pause`, `…/unpause` | | [`PauseState`] |
//! | `GET /api/v1/workflows/{id}/outputs?node=&name=&from=&to=&limit=` | | [`OutputSeries`] |
//! | `GET /api/v1/diff?a=RUN/NODE/ATTEMPT&b=…` | | [`crate::compare::Comparison`] (`b` defaults to the node's last success) |
//! | `POST /api/v1/signals/{name}` | [`crate::event::PostSignal`] | 202 [`crate::event::SignalAccepted`] (200 for a duplicate key) |
//! | `GET /api/v1/events?kind=&name=&before=&limit=` | | [`crate::event::EventRecord`]`[]` (newest first) |
//! | `GET /api/v1/events/{id}` | | [`crate::event::EventRecord`] |
//! | `POST /api/v1/workflows/{id}/backfills` | [`CreateBackfill`] | 201 [`Backfill`] (200 for a dry run) |
//! | `GET /api/v1/backfills?workflow=` | | [`Backfill`]`[]` (newest first) |
//! | `GET /api/v1/backfills/{id}` | | [`Backfill`] |
//! | `POST /api/v1/backfills/{id}/cancel` | | [`Backfill`] |
//! | `GET /api/v1/blobs/{sha256}` | | the snapshotted file's bytes |
//! | `POST /api/v1/leases` (long-poll) | [`LeaseRequest`] | 200 [`Lease`]`[]`, 204 none within `wait_secs` |
//! | `POST /api/v1/leases/{id}/heartbeat` | | [`HeartbeatReply`]; 409 when the lease is no longer the worker's |
//! | `PUT /api/v1/leases/{id}/notebook?input=` | the notebook's bytes | 204; 409 when stale |
//! | `POST /api/v1/leases/{id}/complete` | [`crate::task::TaskResult`] | 204; 409 when stale |
//!
//! A `node` in a path is the node id, or `id.N` for foreach instance N.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::record::{NodeRecord, RunRecord};
use crate::task::Task;

/// Every error the API returns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ApiError {
    /// What went wrong, for a person.
    pub error: String,
    /// A stable code: `bad_request` (400), `unauthorized` (401), `not_found` (404),
    /// `method_not_allowed` (405), `conflict`, `stale_lease` (409), `payload_too_large`
    /// (413), `unsupported_media_type` (415), `invalid_workflow` (422), `unavailable`,
    /// `storage_unavailable` (503).
    pub code: String,
    /// For an invalid workflow: every problem, `file:line:column: message`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// Register a workflow: the file and every notebook it names, as text. Each
/// registration is a new version; runs pin theirs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RegisterWorkflow {
    /// The workflow file's name (`workflow.yaml`); only its extension matters.
    pub file_name: String,
    /// The workflow file's text.
    pub content: String,
    /// Notebooks by their path relative to the workflow file, as written in it.
    pub files: BTreeMap<String, String>,
}

/// One registered version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct WorkflowVersion {
    /// The workflow id.
    pub workflow: String,
    /// 1, 2, … per registration.
    pub version: u32,
    /// The workflow file's name as registered.
    pub file_name: String,
    /// sha256 of the workflow file.
    pub hash: String,
    /// When it was registered (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub registered_at: Timestamp,
    /// Notebook path (relative to the workflow file) → sha256 of its content.
    pub files: BTreeMap<String, String>,
    /// Validation warnings, `file:line:column: message`.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A registered workflow, as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct WorkflowSummary {
    /// The workflow id.
    pub id: String,
    /// `description:` of the latest version.
    pub description: Option<String>,
    /// The latest registered version.
    pub latest_version: u32,
    /// How many nodes the latest version has.
    pub nodes: usize,
    /// The most recent run, if any.
    pub latest_run: Option<RunRecord>,
    /// Its schedule, if it has one.
    #[serde(default)]
    pub schedule: Option<ScheduleState>,
    /// Its `triggers:`, with their last events and problems.
    #[serde(default)]
    pub triggers: Vec<crate::event::TriggerState>,
    /// Paused: no scheduled run fires and triggered runs are held.
    #[serde(default)]
    pub paused: bool,
    /// Workflows its runs start (their `workflow:` triggers name it).
    #[serde(default)]
    pub downstream: Vec<String>,
}

/// A workflow paused or unpaused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct PauseState {
    /// The workflow id.
    pub workflow: String,
    /// Whether it is paused now.
    pub paused: bool,
    /// Its schedule, if it has one.
    #[serde(default)]
    pub schedule: Option<ScheduleState>,
    /// Runs its triggers hold until it is unpaused.
    #[serde(default)]
    pub held: usize,
}

/// One node of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NodeSummary {
    /// The node id.
    pub id: String,
    /// Upstream node ids.
    pub needs: Vec<String>,
    /// `notebook` or `sql`.
    pub kind: String,
    /// The notebook path, for notebook nodes.
    pub notebook: Option<String>,
    /// Worker labels the node needs.
    pub labels: Vec<String>,
}

/// One declared parameter of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ParamSummary {
    /// The parameter name.
    pub name: String,
    /// `string`, `int`, `float`, `bool`, `date`, `list` or `map`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The default, if any.
    pub default: Option<Value>,
    /// Whether it is secret (never recorded).
    pub secret: bool,
    /// Its `description:`.
    pub description: Option<String>,
}

/// A registered workflow in full.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct WorkflowDetail {
    /// The workflow id.
    pub id: String,
    /// `description:` of the latest version.
    pub description: Option<String>,
    /// Of the latest version.
    pub nodes: Vec<NodeSummary>,
    /// Declared parameters of the latest version.
    pub params: Vec<ParamSummary>,
    /// Oldest first.
    pub versions: Vec<WorkflowVersion>,
    /// Its schedule, if it has one.
    #[serde(default)]
    pub schedule: Option<ScheduleState>,
    /// `max_active_runs:` of the latest version.
    pub max_active_runs: Option<u32>,
    /// `parallel` or `sequential`.
    pub run_strategy: String,
    /// Its `triggers:`, with their last events and problems.
    #[serde(default)]
    pub triggers: Vec<crate::event::TriggerState>,
    /// Workflows whose runs start this one (`workflow:` triggers).
    #[serde(default)]
    pub upstream: Vec<String>,
    /// Workflows this one's runs start.
    #[serde(default)]
    pub downstream: Vec<String>,
    /// Paused: no scheduled run fires and triggered runs are held.
    #[serde(default)]
    pub paused: bool,
}

/// Trigger a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TriggerRun {
    /// `name → value` as on the command line (`-p name=value`), typed against the
    /// workflow's params.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The logical date, `YYYY-MM-DD`; default today in the schedule's time zone.
    #[serde(default)]
    #[schema(format = Date)]
    pub date: Option<String>,
    /// Pin a version; default the latest.
    #[serde(default)]
    pub version: Option<u32>,
}

/// A run with its node records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RunDetail {
    /// The run.
    pub run: RunRecord,
    /// Every node record (foreach parents, then their instances), in workflow order.
    pub nodes: Vec<NodeRecord>,
}

/// Rerun a finished run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Rerun {
    /// Keep succeeded nodes and their outputs; re-run failed, cancelled, upstream-failed
    /// and skipped nodes (and so their downstream). `false` re-runs every node.
    #[serde(default = "yes")]
    pub from_failed: bool,
    /// Params to change, as in [`TriggerRun::params`].
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// A node attempt's streamed text (stdout, stderr, errors), from its latest saved
/// notebook: partial while it runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NodeLog {
    /// The run id.
    pub run: String,
    /// The node instance key (`node` or `node.index`).
    pub node: String,
    /// The attempt number (1-based).
    pub attempt: u32,
    /// Whether the attempt is finished (no more text will come).
    pub finished: bool,
    /// The text so far.
    pub text: String,
}

/// A worker asks for work (long-poll).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct LeaseRequest {
    /// A stable name for the worker process (`host:pid`).
    pub worker: String,
    /// Labels this worker has; a node with `labels` goes only to a worker with all of them.
    #[serde(default)]
    pub labels: Vec<String>,
    /// How many tasks it can take now (its free slots), at least 1.
    pub max: u32,
    /// How long the server may hold the request open when nothing is ready (capped at 30 s).
    pub wait_secs: f64,
}

/// A granted lease: one node attempt, owned by one worker until it completes or
/// the lease expires. (`Debug` redacts the secrets' values.)
#[derive(Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Lease {
    /// The lease id (heartbeat and complete with it).
    pub id: String,
    /// Heartbeat at least this often (a third of it is a good cadence); a lease not
    /// heard from for this long expires and the node is retried elsewhere.
    pub ttl_secs: f64,
    /// The node attempt to run.
    #[schema(value_type = Object)]
    pub task: Task,
    /// Secret params as environment variables for the kernel. Sent only to the worker
    /// holding the lease; never recorded.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("id", &self.id)
            .field("ttl_secs", &self.ttl_secs)
            .field("task", &self.task)
            .field("secret_env", &crate::task::redacted(&self.secret_env))
            .finish()
    }
}

/// The reply to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct HeartbeatReply {
    /// The run was cancelled: stop the kernel, upload the notebook and complete with
    /// status `cancelled`.
    pub cancel: bool,
    /// The lease's TTL from now on.
    pub ttl_secs: f64,
}

/// A workflow's schedule as the coordinator runs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ScheduleState {
    /// The cron expression.
    pub cron: String,
    /// The time zone it is read in.
    pub timezone: String,
    /// Whether missed ticks are run.
    pub catchup: bool,
    /// Whether the schedule is paused.
    pub paused: bool,
    /// The last tick a run was created for (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_tick: Option<Timestamp>,
    /// When the next run is due, unless paused.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_tick: Option<Timestamp>,
}

/// Start a backfill: one run per logical time in `[from, to]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CreateBackfill {
    /// First logical date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub from: String,
    /// Last logical date, inclusive.
    #[schema(format = Date)]
    pub to: String,
    /// `1d` (default), `Nh`, `Nm`, `Nd`, or a cron expression, in the workflow's time zone.
    #[serde(default)]
    pub every: Option<String>,
    /// Runs of this backfill in flight at once (default 1).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub parallel: Option<u32>,
    /// Latest date first.
    #[serde(default)]
    pub reverse: bool,
    /// Only the dates whose latest run of the workflow failed (or was cancelled).
    #[serde(default)]
    pub only_failed: bool,
    /// Return the plan without creating anything.
    #[serde(default)]
    pub dry_run: bool,
    /// Parameters for every run, as with `-p`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Pin a version; default the latest.
    #[serde(default)]
    pub version: Option<u32>,
}

/// One logical time of a backfill.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct BackfillDate {
    /// The logical date, `YYYY-MM-DD`.
    pub date: String,
    /// The logical time (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub logical_time: Timestamp,
    /// The run created for it, once one was.
    pub run: Option<String>,
    /// `pending` until its run exists, then the run's status.
    pub status: DateStatus,
}

/// Where a backfill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackfillStatus {
    /// A dry run: the dates it would run, nothing started.
    Planned,
    /// Runs are being started or are in flight.
    Running,
    /// Every date's run succeeded.
    Succeeded,
    /// Some date's run failed.
    Failed,
    /// Cancelled: no more runs are started.
    Cancelled,
}

/// One date of a backfill: `pending` until its run exists, then the run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DateStatus {
    /// No run yet.
    Pending,
    /// Its run is queued.
    Queued,
    /// Its run is running.
    Running,
    /// Its run succeeded.
    Succeeded,
    /// Its run failed.
    Failed,
    /// Its run, or the backfill before it started one, was cancelled.
    Cancelled,
}

/// `as_str`, `Display` and `is_finished` for a status enum.
macro_rules! status_text {
    ($t:ty { $($v:ident => $s:literal),* $(,)? } finished: $($f:ident)|*) => {
        impl $t {
            /// The status as the API writes it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }

            /// Whether it can change no more.
            pub fn is_finished(self) -> bool {
                matches!(self, $(Self::$f)|*)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Against its wire form (`status == "running"`).
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

status_text!(BackfillStatus { Planned => "planned", Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled" } finished: Planned | Succeeded | Failed | Cancelled);
status_text!(DateStatus { Pending => "pending", Queued => "queued", Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled" } finished: Succeeded | Failed | Cancelled);

impl From<crate::record::RunStatus> for DateStatus {
    fn from(s: crate::record::RunStatus) -> Self {
        use crate::record::RunStatus as R;
        match s {
            R::Queued => DateStatus::Queued,
            R::Running => DateStatus::Running,
            R::Succeeded => DateStatus::Succeeded,
            R::Failed => DateStatus::Failed,
            R::Cancelled => DateStatus::Cancelled,
        }
    }
}

/// Whether the coordinator takes new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// It does.
    Ok,
    /// It does not: the data dir cannot be written.
    Degraded,
}

/// A backfill: its plan and progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Backfill {
    /// The backfill id.
    pub id: String,
    /// The workflow id.
    pub workflow: String,
    /// The workflow version its runs are pinned to.
    pub version: u32,
    /// `running`, `succeeded`, `failed` (some date's run failed), `cancelled`; `planned` for a dry run.
    pub status: BackfillStatus,
    /// The spacing of logical times, as given.
    pub every: String,
    /// Runs in flight at once.
    pub parallel: u32,
    /// Latest date first.
    pub reverse: bool,
    /// Only dates whose latest run failed.
    pub only_failed: bool,
    /// Params given with `-p` (secret ones are never stored).
    pub params: BTreeMap<String, String>,
    /// When it was created (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When its last run finished (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// In the order runs are started.
    pub dates: Vec<BackfillDate>,
}

/// `GET /api/v1/health`: 200 when the coordinator takes work, 503 when it cannot
/// (the data dir is full or read-only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: HealthStatus,
    /// The data dir's state.
    pub storage: StorageStatus,
    /// Leader or standby, when coordinators share a database (`--state postgres://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<CoordinatorStatus>,
    /// Problems of workflow triggers now (a `files:` folder that cannot be read),
    /// each naming its workflow; they do not make the coordinator unhealthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<String>,
}

/// This coordinator's part among those sharing one database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CoordinatorStatus {
    /// `leader` (schedules, grants leases, drives runs) or `standby` (serves reads,
    /// forwards writes to the leader).
    pub role: CoordinatorRole,
    /// This coordinator's id (host, pid, random suffix).
    pub id: String,
    /// The leader's term, raised at every change of leader; the leader's writes are
    /// fenced to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// Where the leader is reached (`http://host:port`), when one leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_url: Option<String>,
    /// Seconds since this coordinator last renewed its term (leader) or read who
    /// leads (standby).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_age_secs: Option<f64>,
    /// The last round trip to the database, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_latency_ms: Option<f64>,
}

/// A coordinator's part.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CoordinatorRole {
    /// Schedules, plans backfills, grants leases and drives runs.
    Leader,
    /// Serves reads; forwards writes and workers' requests to the leader.
    Standby,
}

/// Whether the data dir takes writes, and since when it does not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct StorageStatus {
    /// Whether the data dir takes writes.
    pub ok: bool,
    /// What failed (the path and the OS error), while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the fault began (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<Timestamp>,
}

#[cfg(test)]
mod status_tests {
    use super::*;
    use crate::record::RunStatus;

    /// Backfill and health statuses were free strings: any typo was a valid status.
    #[test]
    fn statuses_are_closed_sets_with_their_wire_names() {
        for (s, text) in [(BackfillStatus::Planned, "planned"), (BackfillStatus::Running, "running"), (BackfillStatus::Cancelled, "cancelled")] {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(text));
            assert_eq!(serde_json::from_value::<BackfillStatus>(serde_json::json!(text)).unwrap(), s);
            assert_eq!(s.to_string(), text);
        }
        assert!(serde_json::from_value::<BackfillStatus>(serde_json::json!("runing")).is_err(), "a typo is not a status");
        assert!(serde_json::from_value::<HealthStatus>(serde_json::json!("fine")).is_err());
        assert_eq!(serde_json::to_value(HealthStatus::Degraded).unwrap(), serde_json::json!("degraded"));
        assert_eq!(DateStatus::from(RunStatus::Queued), DateStatus::Queued);
        assert!(DateStatus::from(RunStatus::Failed).is_finished() && !DateStatus::Pending.is_finished());
        assert!(BackfillStatus::Planned.is_finished() && !BackfillStatus::Running.is_finished());
    }
}

/// One run's recorded outputs of a node, for trends across logical dates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct OutputPoint {
    /// The run's logical date.
    #[schema(format = Date)]
    pub date: String,
    /// The run's logical time.
    #[schema(value_type = String, format = DateTime)]
    pub logical_time: Timestamp,
    /// The run.
    pub run_id: String,
    /// The workflow version it ran.
    pub version: u32,
    /// The node's status in that run (`succeeded`, `failed`, `skipped` …; the run's
    /// when the node has no record).
    pub status: String,
    /// The node's latest attempt, whose notebook recorded the outputs.
    #[serde(default)]
    pub attempt: Option<u32>,
    /// The outputs asked for (`name` only, or every one), as recorded; empty when
    /// the node recorded none (failed, skipped, not run).
    #[schema(value_type = Object)]
    pub outputs: serde_json::Map<String, Value>,
}

/// A node's outputs across runs, oldest logical time first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct OutputSeries {
    /// The workflow.
    pub workflow: String,
    /// The node.
    pub node: String,
    /// The output asked for, if one was.
    #[serde(default)]
    pub name: Option<String>,
    /// Every output name seen, in first-seen order (the columns of a table).
    pub names: Vec<String>,
    /// One per run, oldest logical time first (several runs of one date: each).
    pub points: Vec<OutputPoint>,
    /// More runs matched than `limit`: the oldest were left out.
    #[serde(default)]
    pub truncated: bool,
}
