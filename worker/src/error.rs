//! The one error type of this crate (the executor's and the remote worker's), and
//! the process exit code each maps to.

use std::path::PathBuf;

/// Exit codes of `deckle execute`, fixed by DESIGN.md ("Executing one notebook").
pub mod exit {
    /// A cell raised.
    pub const CELL_ERROR: i32 = 1;
    /// Bad usage or bad input: missing file, not a notebook, unknown kernel, bad params.
    pub const BAD_INPUT: i32 = 2;
    /// The kernel died (or never came up).
    pub const KERNEL_DIED: i32 = 3;
    /// A cell or the kernel start ran past its timeout.
    pub const TIMEOUT: i32 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {message}", shown(path))]
    Input { path: PathBuf, message: String },

    #[error("bad parameter {origin}: {message}")]
    Params { origin: String, message: String },

    #[error("{0}")]
    NoTranslator(String),

    #[error(
        "kernel '{name}' not found (available: {}; searched: {})",
        available.join(", "),
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
    )]
    UnknownKernel { name: String, available: Vec<String>, searched: Vec<PathBuf> },

    #[error("kernel '{name}': {message}")]
    KernelStart { name: String, message: String },

    #[error("kernel '{name}' did not become ready within {secs}s{tail}")]
    KernelStartTimeout { name: String, secs: f64, tail: String },

    #[error("{cell}: kernel died while running it ({how})")]
    KernelDied { cell: String, how: String },

    #[error("{cell}: raised {ename}: {evalue}")]
    CellFailed { cell: String, ename: String, evalue: String },

    /// `limit` says which limit: `1s` (the cell timeout) or `the node's timeout of 30s`.
    #[error("{cell}: did not finish within {limit} (interrupted)")]
    CellTimeout { cell: String, limit: String },

    #[error("output '{name}': {message}")]
    Output { name: String, message: String },

    #[error("kernel protocol: {0}")]
    Protocol(String),

    #[error("{path}: {source}")]
    Io { path: PathBuf, #[source] source: std::io::Error },

    // What a remote worker meets talking to the coordinator.
    /// The request never got an answer: connection refused, reset, timed out.
    #[error("{what}: {message}")]
    Http { what: String, message: String },

    /// The server answered with an error ([`deckle_protocol::api::ApiError`]).
    #[error("{what}: the server answered {status} {code}: {message}")]
    Api { what: String, status: u16, code: String, message: String },

    /// 401: the token is missing or wrong.
    #[error("{what}: the server refused the token (401 unauthorized): {message}")]
    Unauthorized { what: String, message: String },

    /// 409: the lease expired or was superseded; the attempt is no longer ours.
    #[error("lease {lease}: no longer this worker's (409): {message}")]
    StaleLease { lease: String, message: String },

    /// A downloaded notebook does not have the content its hash names.
    #[error("blob {hash}: {message}")]
    Blob { hash: String, message: String },
}

/// A path as an error names it: `""` rather than nothing for an empty one.
fn shown(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        "\"\"".to_string()
    } else {
        path.display().to_string()
    }
}

impl Error {
    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::CellFailed { .. } | Error::Output { .. } => exit::CELL_ERROR,
            Error::Input { .. }
            | Error::Params { .. }
            | Error::NoTranslator(_)
            | Error::UnknownKernel { .. } => exit::BAD_INPUT,
            Error::KernelStart { .. } | Error::KernelDied { .. } | Error::Protocol(_) => {
                exit::KERNEL_DIED
            }
            Error::KernelStartTimeout { .. } | Error::CellTimeout { .. } => exit::TIMEOUT,
            Error::Io { .. } | Error::Unauthorized { .. } => exit::BAD_INPUT,
            Error::Http { .. } | Error::Api { .. } | Error::StaleLease { .. } | Error::Blob { .. } => exit::CELL_ERROR,
        }
    }

    /// Worth trying again: no answer at all, or a server-side failure (5xx, 408, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Http { .. } => true,
            Error::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into() }
    }
}

/// Parameters and translators are `deckle-notebook`'s: their errors keep the
/// variants (and so the exit codes) they had here.
impl From<deckle_notebook::Error> for Error {
    fn from(e: deckle_notebook::Error) -> Self {
        match e {
            deckle_notebook::Error::Params { origin, message } => Error::Params { origin, message },
            deckle_notebook::Error::NoTranslator(m) => Error::NoTranslator(m),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
