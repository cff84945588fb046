//! The validated workflow: what the engine schedules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::expr::{Expr, Template};

/// The engines a SQL node may run on (shared with the coordinator and the worker).
pub use deckle_protocol::sql::SqlEngine;

/// A validated workflow file.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// `workflow:` — `[a-z0-9_-]+`.
    pub id: String,
    /// `description:`.
    pub description: Option<String>,
    /// `schedule:`, if the workflow runs on a schedule.
    pub schedule: Option<Schedule>,
    /// `params:`, by name, in file order.
    pub params: IndexMap<String, ParamSpec>,
    /// `engines:` settings for SQL nodes, by engine name, as written.
    pub engines: IndexMap<String, Value>,
    /// In file order.
    pub nodes: IndexMap<String, Node>,
    /// The workflow file.
    pub path: PathBuf,
    /// At most this many runs of the workflow run at once; the rest wait, queued.
    pub max_active_runs: Option<u32>,
    /// `run_strategy:` (default parallel).
    pub run_strategy: RunStrategy,
    /// Called when a run fails / succeeds.
    pub on_failure: Option<Hook>,
    /// Called when a run succeeds.
    pub on_success: Option<Hook>,
    /// `triggers:`: events that start a run, any of them (see [`Trigger`]).
    pub triggers: Vec<Trigger>,
}

/// One entry of `triggers:`: an event that starts a run of the workflow.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// What starts the run.
    pub on: TriggerOn,
    /// `params:`: the run's params, each a template over `trigger` (for example
    /// `${{ trigger.params.table }}`), given to the run as `-p` values are.
    pub params: IndexMap<String, Template>,
    /// Where the entry is in the workflow file (`line`, `column`), for errors found
    /// when the workflow is registered (an unknown upstream workflow, a cycle).
    pub pos: (usize, usize),
}

/// The event a [`Trigger`] listens for.
#[derive(Debug, Clone)]
pub enum TriggerOn {
    /// `workflow: ID`: a run of another workflow ended in `status`; the new run gets
    /// its logical date and time.
    Workflow {
        /// The upstream workflow's id.
        workflow: String,
        /// `status:` (default `succeeded`).
        status: UpstreamStatus,
        /// `when:`: a CEL condition over `trigger` (the upstream run); the run starts
        /// only if it holds.
        when: Option<Expr>,
    },
    /// `signal: NAME`: a signal posted to `/api/v1/signals/NAME`.
    Signal {
        /// The signal's name (`[A-Za-z0-9_.-]+`).
        name: String,
        /// `match:`: only signals whose params have these values (JSON equality).
        matches: IndexMap<String, Value>,
    },
    /// `files: { path, poll, catchup }`: a new file or object under a glob.
    Files(FilesTrigger),
}

/// `files:` of a trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct FilesTrigger {
    /// A glob over local paths (absolute, or relative to the coordinator's working
    /// directory) or object-storage keys (`s3://bucket/landing/*/_SUCCESS`): `*`
    /// and `?` within a segment, `**` across segments, and `{date}` (at most once)
    /// matching a `YYYY-MM-DD` segment part that becomes the run's logical date.
    pub path: String,
    /// How often to look (default 1 minute).
    pub poll: Duration,
    /// Whether files already there when the trigger is first polled start runs
    /// (default false: they are the baseline).
    pub catchup: bool,
}

/// Which end of an upstream run a `workflow:` trigger or wait listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamStatus {
    /// The run succeeded (the default).
    #[default]
    Succeeded,
    /// The run failed.
    Failed,
    /// The run ended, however (succeeded, failed or cancelled).
    Finished,
}

impl UpstreamStatus {
    /// As written in the workflow file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Finished => "finished",
        }
    }

    /// Whether a run that ended as `status` (a run status as text) counts.
    pub fn accepts(self, status: &str) -> bool {
        match self {
            Self::Succeeded => status == "succeeded",
            Self::Failed => status == "failed",
            Self::Finished => matches!(status, "succeeded" | "failed" | "cancelled"),
        }
    }
}

/// A `wait:` node: the coordinator watches for a condition; no worker, no kernel.
#[derive(Debug, Clone)]
pub struct WaitNode {
    /// What it waits for.
    pub on: WaitOn,
    /// How long to wait at most (default 24 hours), counted from when the node
    /// started waiting.
    pub timeout: Duration,
    /// How often to look again (default 30 seconds; signals and upstream runs also
    /// wake it as they arrive).
    pub poll: Duration,
    /// What the node does at the timeout (default `fail`).
    pub on_timeout: OnTimeout,
}

/// What a [`WaitNode`] waits for.
#[derive(Debug, Clone)]
pub enum WaitOn {
    /// `files: PATTERN`: a file or object matching the glob exists; `{date}` is
    /// the run's logical date, and `${{ }}` templates are evaluated first.
    Files {
        /// The glob, a template.
        path: Template,
    },
    /// `signal: NAME` (with `match:`): a signal received since the run was created.
    Signal {
        /// The signal's name.
        name: String,
        /// `match:`: params the signal must carry, each a template (for example
        /// `${{ run.date }}`).
        matches: IndexMap<String, Template>,
    },
    /// `workflow: ID`: a run of that workflow for the same logical date ended in `status`.
    Workflow {
        /// The upstream workflow's id.
        workflow: String,
        /// `status:` (default `succeeded`).
        status: UpstreamStatus,
    },
}

/// What a wait waits for, in a few words (`signal partner_feed`).
pub fn wait_label(on: &WaitOn) -> String {
    match on {
        WaitOn::Files { path } => format!("files {}", path.raw.as_str().unwrap_or("…")),
        WaitOn::Signal { name, .. } => format!("signal {name}"),
        WaitOn::Workflow { workflow, status } => format!("workflow {workflow} {}", status.as_str()),
    }
}

/// What a [`WaitNode`] does when its timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnTimeout {
    /// The node fails (the default).
    #[default]
    Fail,
    /// The node is skipped (dependants follow their trigger rule).
    Skip,
}

/// How runs of one workflow relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunStrategy {
    /// Runs start as soon as they are created (within `max_active_runs`).
    #[default]
    Parallel,
    /// A run starts only when every run of an earlier logical time has finished.
    Sequential,
}

/// `on_failure` / `on_success`: a webhook, a notebook to run, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// A URL to POST the run's outcome to.
    pub webhook: Option<WebhookSpec>,
    /// Run with params `workflow`, `run_id`, `run_date`, `status`, `run_url` and
    /// `failed_nodes` (a list of `{node, error, notebook_url}`).
    pub notebook: Option<HookNotebook>,
}

/// A hook's notebook.
#[derive(Debug, Clone, PartialEq)]
pub struct HookNotebook {
    /// As written, relative to the workflow file.
    pub rel: String,
    /// Resolved against the workflow file's directory.
    pub path: PathBuf,
}

/// A hook's webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSpec {
    /// Where to POST (an `http` or `https` URL).
    pub url: String,
    /// Retries after the first attempt (default 3).
    pub retries: u32,
    /// Per attempt (default 10 s).
    pub timeout: Duration,
}

/// `schedule:`: when runs are created.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// A five-field cron expression, parsed.
    pub cron: crate::CronExpr,
    /// An IANA time zone the cron expression is read in (default `UTC`).
    pub timezone: String,
    /// Whether missed ticks are run after a pause or a downtime.
    pub catchup: bool,
}

/// The declared type of a workflow parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Text.
    String,
    /// An integer.
    Int,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// A `YYYY-MM-DD` date (a string in the notebook).
    Date,
    /// A list.
    List,
    /// A mapping.
    Map,
}

/// One declared workflow parameter.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// `type:`.
    pub ty: ParamType,
    /// `default:`; a parameter without one must be given at trigger time.
    pub default: Option<Value>,
    /// `secret: true`: passed through the kernel's environment, never recorded.
    pub secret: bool,
    /// `description:`.
    pub description: Option<String>,
}

/// When a node runs, given how its upstream nodes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TriggerRule {
    /// Every upstream node succeeded (the default).
    #[default]
    AllSuccess,
    /// Every upstream node finished, however it ended.
    AllDone,
    /// At least one upstream node succeeded.
    OneSuccess,
    /// No upstream node failed (skipped ones are fine).
    NoneFailed,
}

/// What a node runs.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A notebook file.
    Notebook {
        /// As written, relative to the workflow file.
        rel: String,
        /// Resolved against the workflow file's directory.
        path: PathBuf,
    },
    /// A SQL query, run in a generated notebook.
    Sql(SqlNode),
    /// A condition the coordinator waits for, holding no worker slot.
    Wait(WaitNode),
}

/// A node's `sql:` block.
#[derive(Debug, Clone)]
pub struct SqlNode {
    /// `duckdb` (default), `spark`, `trino` (`presto` is an alias, read as `trino`).
    pub engine: SqlEngine,
    /// A minijinja template over `params`, `run`, `nodes`.
    pub query: String,
    /// Where to write the result as Parquet, if anywhere (a template too).
    pub save_to: Option<String>,
}

/// A node with every default applied.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node id (its key under `nodes:`).
    pub id: String,
    /// Notebook or SQL.
    pub kind: NodeKind,
    /// Upstream node ids.
    pub needs: Vec<String>,
    /// Parameters to inject, each a template evaluated at dispatch.
    pub params: IndexMap<String, Template>,
    /// Declared outputs.
    pub outputs: Vec<String>,
    /// `when:`: run only if this CEL condition holds (else skipped).
    pub when: Option<Expr>,
    /// `trigger:` (default all_success).
    pub trigger: TriggerRule,
    /// `foreach:`: one instance per item of this list.
    pub foreach: Option<Template>,
    /// How many foreach instances may run at once (default 4).
    pub foreach_parallel: usize,
    /// Retries after a failed attempt.
    pub retries: u32,
    /// Pause before each retry.
    pub retry_delay: Duration,
    /// A limit on each attempt.
    pub timeout: Option<Duration>,
    /// The kernel to run on, instead of the notebook's own.
    pub kernel: Option<String>,
    /// Only workers with all these labels may run it.
    pub labels: Vec<String>,
}

/// The directory holding `file`: `.` for a bare file name (`Path::parent` gives an
/// empty path there, which is no directory to run in or to canonicalize).
pub fn dir_of(file: &Path) -> &Path {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

impl Workflow {
    /// The workflow file's directory: notebooks are found and run there.
    pub fn dir(&self) -> &Path {
        dir_of(&self.path)
    }

    /// Node ids in a topological order (needs before dependants), stable by file order.
    pub fn topo_order(&self) -> Vec<String> {
        let mut done: Vec<String> = Vec::with_capacity(self.nodes.len());
        let mut placed: std::collections::HashSet<&str> = std::collections::HashSet::with_capacity(self.nodes.len());
        let mut left: Vec<&Node> = self.nodes.values().collect();
        while !left.is_empty() {
            let before = left.len();
            left.retain(|n| {
                if n.needs.iter().all(|d| placed.contains(d.as_str())) {
                    placed.insert(n.id.as_str());
                    done.push(n.id.clone());
                    false
                } else {
                    true
                }
            });
            if left.len() == before {
                // A cycle: validation rejects these; keep the rest in file order.
                done.extend(left.iter().map(|n| n.id.clone()));
                break;
            }
        }
        done
    }

    /// Every notebook the workflow names, once each: `(relative path, resolved path,
    /// who names it)` for notebook nodes and hook notebooks, in file order.
    pub fn notebooks(&self) -> Vec<(&str, &std::path::Path, String)> {
        let mut out: Vec<(&str, &std::path::Path, String)> = Vec::new();
        let nodes = self.nodes.values().filter_map(|n| match &n.kind {
            NodeKind::Notebook { rel, path } => Some((rel.as_str(), path.as_path(), format!("node {}", n.id))),
            NodeKind::Sql(_) | NodeKind::Wait(_) => None,
        });
        let hooks = [("on_failure", &self.on_failure), ("on_success", &self.on_success)]
            .into_iter()
            .filter_map(|(what, h)| h.as_ref()?.notebook.as_ref().map(|nb| (nb.rel.as_str(), nb.path.as_path(), what.to_string())));
        for (rel, path, who) in nodes.chain(hooks) {
            if !out.iter().any(|(r, _, _)| *r == rel) {
                out.push((rel, path, who));
            }
        }
        out
    }

    /// Direct dependants of `id`.
    pub fn dependants(&self, id: &str) -> Vec<&str> {
        self.nodes.values().filter(|n| n.needs.iter().any(|d| d == id)).map(|n| n.id.as_str()).collect()
    }
}
