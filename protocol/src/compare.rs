//! Two node attempts compared (`deckle diff`, `GET /api/v1/diff`, the UI's compare
//! view): what they ran (workflow version, notebook, params), what they recorded
//! (outputs), then cell by cell.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One side: which attempt, and what it ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Side {
    /// The run.
    pub run_id: String,
    /// Its workflow.
    pub workflow: String,
    /// Its logical date.
    pub date: String,
    /// The workflow version it ran.
    pub version: u32,
    /// The node (or `node.i` for a foreach instance).
    pub node: String,
    /// The attempt.
    pub attempt: u32,
    /// The attempt's status.
    pub status: String,
    /// The notebook's path in the workflow (its source), if it is a notebook node.
    #[serde(default)]
    pub notebook: Option<String>,
    /// The sha256 of that notebook as registered.
    #[serde(default)]
    pub notebook_hash: Option<String>,
    /// How long the attempt took, in seconds.
    #[serde(default)]
    pub duration_secs: Option<f64>,
    /// Its error, if it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// A value on each side; `changed` when they differ (absent on one side counts).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ValuePair {
    /// The param or output name.
    pub name: String,
    /// On side A.
    #[schema(value_type = Option<Object>)]
    pub a: Option<Value>,
    /// On side B.
    #[schema(value_type = Option<Object>)]
    pub b: Option<Value>,
    /// They differ.
    pub changed: bool,
}

/// A line of a line diff: kept, only in A (`-`), only in B (`+`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct DiffLine {
    /// ` `, `-` or `+`.
    pub op: String,
    /// The line, without its newline.
    pub text: String,
}

/// One cell, side by side.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CellPair {
    /// Its index in A's notebook (B's when only B has it).
    pub index: usize,
    /// `code`, `markdown` or `raw`.
    pub kind: String,
    /// Only in A, only in B, or in both.
    pub presence: String,
    /// The source differs.
    pub source_changed: bool,
    /// The source as a line diff (every line kept when unchanged).
    pub source: Vec<DiffLine>,
    /// The text of the outputs differs (streams, plain text, errors).
    pub outputs_changed: bool,
    /// The outputs' text as a line diff.
    pub outputs: Vec<DiffLine>,
    /// Images (base64 PNG/JPEG/SVG data URLs) on each side.
    pub images_a: Vec<String>,
    /// On side B.
    pub images_b: Vec<String>,
    /// An error on side A (`ename: evalue`).
    #[serde(default)]
    pub error_a: Option<String>,
    /// On side B.
    #[serde(default)]
    pub error_b: Option<String>,
    /// Seconds the cell took on each side, when recorded.
    #[serde(default)]
    pub duration_a: Option<f64>,
    /// On side B.
    #[serde(default)]
    pub duration_b: Option<f64>,
}

/// Two attempts compared.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Comparison {
    /// The attempt compared.
    pub a: Side,
    /// What it is compared with.
    pub b: Side,
    /// The params each was run with (as injected).
    pub params: Vec<ValuePair>,
    /// The outputs each recorded.
    pub outputs: Vec<ValuePair>,
    /// Cell by cell (matched by cell id when both notebooks have ids, else by position).
    pub cells: Vec<CellPair>,
    /// The first cell whose outputs differ, if any.
    #[serde(default)]
    pub first_divergence: Option<usize>,
}
