//! deckle-orchestrator: the coordinator — durable run state, the scheduler with its
//! trigger rules, foreach fan-out and retries.
//!
//! - [`engine`]: runs one workflow run to the end, dispatching ready nodes to an
//!   [`executor::Executor`];
//! - [`trigger`]: what a node does once its upstream has settled (pure);
//! - [`ticks`]: schedule ticks and backfill logical times in a time zone, DST-correct (pure);
//! - [`resolve`]: workflow params, run context, node params at dispatch (CEL, minijinja);
//! - [`store`]: the [`store::StateStore`] seam and its sled implementation;
//!   [`health`]: whether the data dir can be written (full or read-only disks);
//! - [`record`]: the persisted run and node records;
//! - [`artifacts`]: where output notebooks live;
//! - [`coordinator`]: the service behind `deckle server`: registered workflows
//!   ([`registry`]), runs driven with remote workers as the executor ([`lease`]);
//!   The [`planner`] fires schedule ticks, feeds backfills and starts queued runs
//!   within `max_active_runs`; [`events`] starts runs from signals, upstream runs and
//!   files (`triggers:`), exactly once; [`wait`] watches `wait:` nodes;
//!   [`notify`] calls `on_failure` / `on_success` webhooks;
//! - [`leadership`]: leader and standbys on one database (the election loop);
//!   [`role`]: which part this process plays;
//! - [`http`]: the one router: the JSON API under `/api/v1`, its OpenAPI document,
//!   `/metrics` and the web UI, behind one auth layer.
//!
//! `ARCHITECTURE.md` at the repository root shows the layers and how one node
//! execution flows through them.
//!
//! ```
//! use deckle_dsl::TriggerRule;
//! use deckle_orchestrator::record::NodeStatus;
//! use deckle_orchestrator::store::{get_doc, put_doc, DocKind, MemStore, StateStore};
//! use deckle_orchestrator::trigger::{decide, Decision};
//!
//! // A node whose rule is `all_success` cannot run once something it needs failed…
//! let upstream = [NodeStatus::Succeeded, NodeStatus::Failed];
//! assert_eq!(decide(TriggerRule::AllSuccess, &upstream), Decision::UpstreamFailed);
//! // …and `all_done` runs it anyway.
//! assert_eq!(decide(TriggerRule::AllDone, &upstream), Decision::Run);
//!
//! // State lives behind `StateStore`: reads see writes before any flush.
//! let store = MemStore::default();
//! put_doc(&store, DocKind::Schedule, "nightly", &serde_json::json!({"paused": true})).unwrap();
//! let doc: Option<serde_json::Value> = get_doc(&store, DocKind::Schedule, "nightly").unwrap();
//! assert_eq!(doc, Some(serde_json::json!({"paused": true})));
//! assert!(store.get_run("nope").unwrap().is_none());
//! ```

#![warn(missing_docs)]

pub mod artifacts;
pub mod mirror;
pub mod side_runtime;
pub mod attempt_notebook;
mod backfill;
pub mod clock;
pub mod compare;
pub mod coordinator;
pub mod engine;
pub mod events;
pub mod failpoint;
pub mod glob;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod events_tests;
pub mod error;
mod durable;
pub mod executor;
pub mod health;
pub mod http;
pub mod lease;
pub mod leadership;
#[cfg(test)]
mod lease_tests;
pub mod metrics;
pub mod notify;
pub mod orphans;
pub mod planner;
#[cfg(test)]
mod planner_tests;
#[cfg(test)]
mod test_fixture;
pub mod registry;
pub use deckle_protocol::record;
pub mod resolve;
pub mod role;
pub mod store;
pub mod ticks;
pub mod trends;
pub mod trigger;
pub mod wait;
pub mod workflow_links;

pub use error::{Error, Result};
