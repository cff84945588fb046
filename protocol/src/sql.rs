//! A SQL node as the executor receives it: the query already rendered.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SqlSpec {
    /// `duckdb`, `spark` or `trino` (`presto` is normalized to `trino` by the coordinator).
    pub engine: String,
    /// The query, rendered by the coordinator with minijinja.
    pub query: String,
    /// Where to write the result as Parquet, rendered.
    pub save_to: Option<String>,
    /// The workflow's `engines.<engine>` settings, or null.
    pub connection: serde_json::Value,
    /// Rows shown and recorded as `preview`.
    pub preview_rows: usize,
}
