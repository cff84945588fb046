//! One node attempt to execute, and what came of it. The embedded engine hands
//! these to a local executor; the HTTP lease carries the same body.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskKind {
    /// A notebook file. The embedded engine runs `path` from its own disk; a remote
    /// worker fetches the snapshot by `hash` (`GET /api/v1/blobs/{hash}`).
    Notebook {
        path: String,
        /// sha256 of the notebook's content, when it was registered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
    /// A SQL node: the executor generates the notebook.
    Sql { spec: crate::sql::SqlSpec },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub run_id: String,
    pub workflow: String,
    pub node: String,
    /// The foreach index, when the node fans out.
    pub index: Option<usize>,
    pub attempt: u32,
    pub kind: TaskKind,
    /// Parameters to inject, resolved (JSON, papermill literal forms follow from it).
    pub params: Map<String, Value>,
    /// Secret parameters: reach the kernel as environment variables only.
    #[serde(default, skip_serializing)]
    pub secret_env: Vec<(String, String)>,
    /// Declared outputs to read back.
    pub outputs: Vec<String>,
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

impl Task {
    /// `node` or `node.3`: the instance this attempt belongs to.
    pub fn instance(&self) -> String {
        crate::record::instance_key(&self.node, self.index)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Succeeded,
    Failed,
    TimedOut,
    /// The executor could not run it (bad notebook, unknown kernel…): retrying won't help.
    Invalid,
    /// The worker running it was lost (its lease expired): run it again elsewhere,
    /// without counting it against `retries`.
    Lost,
    /// Stopped because the run was cancelled.
    Cancelled,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskResult {
    pub status: TaskStatus,
    /// Recorded outputs (declared and scraps).
    pub outputs: Map<String, Value>,
    /// One line saying what went wrong.
    pub error: Option<String>,
    /// Whether an output notebook was written at `output_path`.
    pub notebook_written: bool,
    pub duration_secs: f64,
    /// The worker that ran it; set by the coordinator from the lease, not trusted
    /// from the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}
