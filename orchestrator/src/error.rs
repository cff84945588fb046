//! The crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad run input: unknown or ill-typed parameter, bad date.
    #[error("{0}")]
    Input(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The request does not fit the current state (rerun a running run…).
    #[error("{0}")]
    Conflict(String),
    /// A lease that expired or was superseded: its worker no longer owns the attempt.
    #[error("lease {0} is not held any more (it expired or the attempt was given to another worker)")]
    StaleLease(String),
    /// A registered workflow failed validation: every problem, `file:line:column: message`.
    #[error("the workflow is invalid:\n{}", .0.join("\n"))]
    InvalidWorkflow(Vec<String>),
    #[error("state store: {0}")]
    Store(String),
    /// The data dir cannot be written (full, read-only): new work is refused until it can.
    #[error("the data dir cannot be written ({0}); no new work is taken until it can")]
    StorageFault(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Store(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
