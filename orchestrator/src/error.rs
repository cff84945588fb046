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
    #[error("state store: {0}")]
    Store(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Store(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
