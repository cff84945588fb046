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
    /// A five-field cron expression.
    pub cron: String,
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
            NodeKind::Sql(_) => None,
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
