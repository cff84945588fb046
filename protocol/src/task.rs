//! One node attempt to execute, and what came of it. The embedded engine hands
//! these to a local executor; the HTTP lease carries the same body.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskKind {
    /// A notebook file. The embedded engine runs `path` from its own disk; a remote
    /// worker fetches the snapshot by `hash` (`GET /api/v1/blobs/{hash}`).
    Notebook {
        /// The notebook's path (the embedded engine's disk).
        path: String,
        /// sha256 of the notebook's content, when it was registered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
    /// A SQL node: the executor generates the notebook.
    Sql {
        /// The rendered query and its engine.
        spec: crate::sql::SqlSpec,
    },
}

/// `Debug` is written by hand so a logged task never shows a secret's value.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    /// The run id.
    pub run_id: String,
    /// The workflow id.
    pub workflow: String,
    /// The node id.
    pub node: String,
    /// The foreach index, when the node fans out.
    pub index: Option<usize>,
    /// The node attempt number (1-based).
    pub attempt: u32,
    /// What to run.
    pub kind: TaskKind,
    /// Parameters to inject, resolved (JSON, papermill literal forms follow from it).
    pub params: Map<String, Value>,
    /// Secret parameters: reach the kernel as environment variables only.
    #[serde(default, skip_serializing)]
    pub secret_env: Vec<(String, String)>,
    /// Names of the workflow's secret parameters (never their values): the injected
    /// parameters cell reads each from its environment variable ([`secret_env_name`]).
    #[serde(default)]
    pub secret_params: Vec<String>,
    /// Declared outputs to read back.
    pub outputs: Vec<String>,
    /// The kernel to run on, instead of the notebook's own.
    pub kernel: Option<String>,
    /// Seconds the whole attempt may take.
    pub timeout_secs: Option<f64>,
    /// Where the output notebook goes.
    pub output_path: String,
    /// Where a generated input notebook (SQL nodes) is stored, so the record shows what ran.
    pub input_copy_path: Option<String>,
    /// Working directory for the kernel.
    pub cwd: Option<String>,
    /// Only a worker with all of these labels may run it.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Secret environment as `Debug` shows it: the names, each value `<redacted>`.
pub fn redacted<'a>(env: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<(&'a str, &'static str)> {
    env.into_iter().map(|(k, _)| (k.as_str(), "<redacted>")).collect()
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("run_id", &self.run_id)
            .field("workflow", &self.workflow)
            .field("node", &self.node)
            .field("index", &self.index)
            .field("attempt", &self.attempt)
            .field("kind", &self.kind)
            .field("params", &self.params)
            .field("secret_env", &redacted(self.secret_env.iter().map(|(k, v)| (k, v))))
            .field("secret_params", &self.secret_params)
            .field("outputs", &self.outputs)
            .field("kernel", &self.kernel)
            .field("timeout_secs", &self.timeout_secs)
            .field("output_path", &self.output_path)
            .field("input_copy_path", &self.input_copy_path)
            .field("cwd", &self.cwd)
            .field("labels", &self.labels)
            .finish()
    }
}

/// Environment variable a secret parameter reaches kernels through.
pub fn secret_env_name(param: &str) -> String {
    format!("DECKLE_SECRET_{}", param.to_ascii_uppercase())
}

impl Task {
    /// `node` or `node.3`: the instance this attempt belongs to.
    pub fn instance(&self) -> String {
        crate::record::instance_key(&self.node, self.index)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Every cell ran.
    Succeeded,
    /// A cell raised, or the kernel died.
    Failed,
    /// The attempt's timeout passed.
    TimedOut,
    /// The executor could not run it (bad notebook, unknown kernel…): retrying won't help.
    Invalid,
    /// The worker running it was lost (its lease expired): run it again elsewhere,
    /// without counting it against `retries`.
    Lost,
    /// Stopped because the run was cancelled.
    Cancelled,
}

/// What a node attempt came to, as the executor reports it (and a worker sends to
/// `POST /api/v1/leases/{id}/complete`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TaskResult {
    /// How it ended.
    pub status: TaskStatus,
    /// Recorded outputs (declared and scraps).
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// One line saying what went wrong.
    pub error: Option<String>,
    /// Whether an output notebook was written at `output_path`.
    pub notebook_written: bool,
    /// How long it took, in seconds.
    pub duration_secs: f64,
    /// The worker that ran it; set by the coordinator from the lease, not trusted
    /// from the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret_value() {
        let task = Task {
            run_id: "r".into(),
            workflow: "w".into(),
            node: "n".into(),
            index: None,
            attempt: 1,
            kind: TaskKind::Notebook { path: "n.ipynb".into(), hash: None },
            params: Map::new(),
            secret_env: vec![("DECKLE_SECRET_K".into(), "hunter2".into())],
            secret_params: vec!["k".into()],
            outputs: vec![],
            kernel: None,
            timeout_secs: None,
            output_path: "o".into(),
            input_copy_path: None,
            cwd: None,
            labels: vec![],
        };
        let shown = format!("{task:?} {task:#?}");
        assert!(shown.contains("DECKLE_SECRET_K") && shown.contains("<redacted>") && !shown.contains("hunter2"), "{shown}");
        assert!(!serde_json::to_string(&task).unwrap().contains("hunter2"));
    }
}
