//! What the [`StateStore`](super::StateStore) holds. Run and node records are the
//! protocol's (the API serves them as they are); leases and registered workflows
//! are the coordinator's own.

use serde::{Deserialize, Serialize};

pub use deckle_protocol::api::WorkflowVersion;
pub use deckle_protocol::record::{NodeRecord, RunRecord};
use deckle_protocol::task::{Task, TaskResult};

/// A granted lease as stored: enough to reattach after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The lease id the worker holds.
    pub id: String,
    /// The worker it was granted to.
    pub worker: String,
    /// The attempt it runs.
    pub task: Task,
    /// Set once the worker completed: delivered to the engine when it reattaches.
    pub result: Option<TaskResult>,
}

/// A workflow and its versions, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowEntry {
    /// The workflow's id (its `workflow:` key).
    pub id: String,
    /// Its `description:`, from the latest version.
    pub description: Option<String>,
    /// Oldest first.
    pub versions: Vec<WorkflowVersion>,
}
