//! The validated workflow: what the engine schedules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::expr::{Expr, Template};

/// The engines a SQL node may run on (shared with the coordinator and the worker).
pub use deckle_protocol::sql::SqlEngine;

#[derive(Debug, Clone)]
pub struct Workflow {
    /// `workflow:` — `[a-z0-9_-]+`.
    pub id: String,
    pub description: Option<String>,
    pub schedule: Option<Schedule>,
    pub params: IndexMap<String, ParamSpec>,
    /// `engines:` settings for SQL nodes, by engine name, as written.
    pub engines: IndexMap<String, Value>,
    /// In file order.
    pub nodes: IndexMap<String, Node>,
    /// The workflow file.
    pub path: PathBuf,
    /// At most this many runs of the workflow run at once; the rest wait, queued.
    pub max_active_runs: Option<u32>,
    pub run_strategy: RunStrategy,
    /// Called when a run fails / succeeds.
    pub on_failure: Option<Hook>,
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
    pub webhook: Option<WebhookSpec>,
    /// Run with params `workflow`, `run_id`, `run_date`, `status`, `run_url` and
    /// `failed_nodes` (a list of `{node, error, notebook_url}`).
    pub notebook: Option<HookNotebook>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HookNotebook {
    /// As written, relative to the workflow file.
    pub rel: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSpec {
    pub url: String,
    /// Retries after the first attempt (default 3).
    pub retries: u32,
    /// Per attempt (default 10 s).
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub cron: String,
    pub timezone: String,
    pub catchup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Int,
    Float,
    Bool,
    Date,
    List,
    Map,
}

#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub ty: ParamType,
    pub default: Option<Value>,
    pub secret: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TriggerRule {
    #[default]
    AllSuccess,
    AllDone,
    OneSuccess,
    NoneFailed,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Notebook {
        /// As written, relative to the workflow file.
        rel: String,
        /// Resolved against the workflow file's directory.
        path: PathBuf,
    },
    Sql(SqlNode),
}

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
    pub id: String,
    pub kind: NodeKind,
    pub needs: Vec<String>,
    /// Parameters to inject, each a template evaluated at dispatch.
    pub params: IndexMap<String, Template>,
    /// Declared outputs.
    pub outputs: Vec<String>,
    pub when: Option<Expr>,
    pub trigger: TriggerRule,
    pub foreach: Option<Template>,
    /// How many foreach instances may run at once (default 4).
    pub foreach_parallel: usize,
    pub retries: u32,
    pub retry_delay: Duration,
    pub timeout: Option<Duration>,
    pub kernel: Option<String>,
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
