//! One node attempt to execute, and what came of it. The embedded engine hands
//! these to a local executor; the HTTP lease carries the same body.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskKind {
    /// A notebook file on the executor's disk.
    Notebook { path: String },
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
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Succeeded,
    Failed,
    TimedOut,
    /// The executor could not run it (bad notebook, unknown kernel…): retrying won't help.
    Invalid,
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
}
