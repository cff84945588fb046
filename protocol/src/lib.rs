//! deckle-protocol: the serde types the coordinator and workers exchange over HTTP.
//!
//! `orchestrator` and `worker` never depend on each other; both depend on this
//! crate.
//!
//! - [`api`]: request and reply bodies of `/api/v1` (the route table is there);
//! - [`compare`]: two node attempts compared (params, outputs, cell by cell);
//! - [`event`]: events that start runs (signals, upstream runs, files) as stored;
//! - [`record`]: the persisted run, node and attempt records the API returns;
//! - [`task`]: one node attempt to execute and its result (what a lease carries);
//! - [`sql`]: a SQL node, rendered, and the SQL engines;
//! - [`backoff`]: the pauses between retries, on both sides.
//!
//! Reading and writing notebooks is `deckle-notebook`'s.
//!
//! ```
//! use deckle_protocol::task::{TaskResult, TaskStatus};
//! let reply = r#"{"status": "timed_out", "outputs": {}, "error": "cell 3: did not finish within 1s",
//!                "notebook_written": true, "duration_secs": 1.2}"#;
//! let result: TaskResult = serde_json::from_str(reply).unwrap();
//! assert_eq!(result.status, TaskStatus::TimedOut);
//! ```

#![warn(missing_docs)]

pub mod api;
pub mod backoff;
pub mod compare;
pub mod event;
pub mod record;
pub mod sql;
pub mod task;
