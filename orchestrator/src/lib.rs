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
//!   within `max_active_runs`; [`notify`] calls `on_failure` / `on_success` webhooks;
//! - [`http`]: the one router: the JSON API under `/api/v1`, its OpenAPI document,
//!   `/metrics` and the web UI, behind one auth layer.

pub mod artifacts;
pub mod attempt_notebook;
mod backfill;
pub mod clock;
pub mod coordinator;
pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod error;
mod durable;
pub mod executor;
pub mod health;
pub mod http;
pub mod lease;
#[cfg(test)]
mod lease_tests;
pub mod metrics;
pub mod notify;
pub mod orphans;
pub mod planner;
#[cfg(test)]
mod planner_tests;
pub mod registry;
pub use deckle_protocol::record;
pub mod resolve;
pub mod store;
pub mod ticks;
pub mod trigger;

pub use error::{Error, Result};
