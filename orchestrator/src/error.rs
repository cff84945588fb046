//! The crate's one error type.
/// What the coordinator's operations fail with ([`crate::http::HttpError`] maps each to a status).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad run input: unknown or ill-typed parameter, bad date.
    #[error("{0}")]
    Input(String),
    /// No such workflow, run, node, attempt or file.
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
    /// The state store failed (not a storage fault: a corrupt record, a failed task).
    #[error("state store: {0}")]
    Store(String),
    /// The data dir cannot be written (full, read-only), or the artifact store takes
    /// no uploads: new work is refused until it can.
    #[error("storage fault ({0}); no new work is taken until it recovers")]
    StorageFault(String),
    /// This coordinator does not lead (any more): another took over, so what it
    /// would write is refused.
    #[error("not the leader: {0}")]
    Fenced(String),
    /// A file under the data dir could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Store(e.to_string())
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with its causes, each said once ("error connecting to server:
/// Connection refused"): drivers and HTTP clients say the useful part in a source.
pub fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_msg = s.to_string();
        if !msg.contains(&s_msg) {
            msg = format!("{msg}: {s_msg}");
        }
        src = s.source();
    }
    msg
}
