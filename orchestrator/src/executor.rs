//! The seam between scheduling and running: the engine hands a [`Task`] to an
//! [`Executor`] and awaits its [`TaskResult`]. The binary wires the worker's
//! notebook executor in; engine tests use stubs.

use futures::future::BoxFuture;

pub use deckle_protocol::task::{Task, TaskKind, TaskResult, TaskStatus};

/// Runs attempts: in process (`deckle run`) or on remote workers (the lease board).
pub trait Executor: Send + Sync {
    /// Run one attempt. The future must be `'static`: the engine spawns it. Dropping
    /// it must stop the work (the engine drops it on cancel).
    fn run(&self, task: Task) -> BoxFuture<'static, TaskResult>;

    /// Pick up an attempt a previous coordinator process dispatched and recorded as
    /// running. An executor that cannot reattach to it answers
    /// [`TaskStatus::Lost`], so the engine runs it again as a new attempt; running
    /// it anew is the default.
    fn resume(&self, task: Task) -> BoxFuture<'static, TaskResult> {
        self.run(task)
    }
}
