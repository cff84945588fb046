//! deckle-orchestrator: the coordinator — durable run state, the scheduler with its
//! trigger rules, foreach fan-out and retries.
//!
//! - [`engine`]: runs one workflow run to the end, dispatching ready nodes to an
//!   [`executor::Executor`];
//! - [`trigger`]: what a node does once its upstream has settled (pure);
//! - [`resolve`]: workflow params, run context, node params at dispatch (CEL, minijinja);
//! - [`store`]: the [`store::StateStore`] seam and its sled implementation;
//! - [`record`]: the persisted run and node records;
//! - [`artifacts`]: where output notebooks live.
//!
//! The HTTP API, remote workers and the web UI build on these in later issues.

pub mod artifacts;
pub mod clock;
pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod error;
pub mod executor;
mod rebuild;
pub use deckle_protocol::record;
pub mod resolve;
pub mod store;
mod task_build;
pub mod trigger;

pub use error::{Error, Result};
