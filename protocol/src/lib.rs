//! deckle-protocol: the serde types the coordinator and workers exchange over HTTP.
//!
//! `orchestrator` and `worker` never depend on each other; both depend on this
//! crate. The lease, heartbeat and completion bodies land with the coordinator
//! issue.

pub mod sql;
pub mod task;
