//! The one error type of this crate (the executor's and the remote worker's), and
//! the process exit code each maps to.

use std::path::PathBuf;

/// Exit codes of `deckle execute`: a stable interface for scripts (listed in
/// `docs/cli.md`).
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

/// Everything that can go wrong executing a notebook or working for a coordinator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a missing or unreadable notebook, bad settings.
    #[error("{}: {message}", shown(path))]
    Input {
        /// The file (or option) at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A parameter that cannot be read or written in the kernel's language, or no
    /// translator for the kernel's language (`deckle-notebook`'s errors, bad input).
    #[error(transparent)]
    Notebook(#[from] deckle_notebook::Error),

    /// No kernelspec of that name.
    #[error(
        "kernel '{name}' not found (available: {}; searched: {})",
        available.join(", "),
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
    )]
    UnknownKernel {
        /// The name asked for.
        name: String,
        /// The kernelspecs found.
        available: Vec<String>,
        /// The directories searched.
        searched: Vec<PathBuf>,
    },

    /// The kernel could not be launched.
    #[error("kernel '{name}': {message}")]
    KernelStart {
        /// The kernelspec name.
        name: String,
        /// Why.
        message: String,
    },

    /// The kernel did not answer in time.
    #[error("kernel '{name}' did not become ready within {secs}s{tail}")]
    KernelStartTimeout {
        /// The kernelspec name.
        name: String,
        /// The limit, in seconds.
        secs: f64,
        /// The end of the kernel's own output, for the message.
        tail: String,
    },

    /// The kernel died while a cell ran.
    #[error("{cell}: kernel died while running it ({how})")]
    KernelDied {
        /// The cell, as labelled in messages.
        cell: String,
        /// How its process ended.
        how: String,
    },

    /// A cell raised.
    #[error("{cell}: raised {ename}: {evalue}")]
    CellFailed {
        /// The cell, as labelled in messages.
        cell: String,
        /// The exception's name.
        ename: String,
        /// The exception's value.
        evalue: String,
    },

    /// `limit` says which limit: `1s` (the cell timeout) or `the node's timeout of 30s`.
    #[error("{cell}: did not finish within {limit} (interrupted)")]
    CellTimeout {
        /// The cell, as labelled in messages.
        cell: String,
        /// Which limit passed.
        limit: String,
    },

    /// A declared output could not be read.
    #[error("output '{name}': {message}")]
    Output {
        /// The output name.
        name: String,
        /// Why.
        message: String,
    },

    /// The kernel broke the wire protocol.
    #[error("kernel protocol: {0}")]
    Protocol(String),

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    // What a remote worker meets talking to the coordinator.
    /// The request never got an answer: connection refused, reset, timed out.
    #[error("{what}: {message}")]
    Http {
        /// The request, in words.
        what: String,
        /// Why it failed.
        message: String,
    },

    /// The server answered with an error ([`deckle_protocol::api::ApiError`]).
    #[error("{what}: the server answered {status} {code}: {message}")]
    Api {
        /// The request, in words.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The error's `code`.
        code: String,
        /// The error's message.
        message: String,
    },

    /// 401: the token is missing or wrong.
    #[error("{what}: the server refused the token (401 unauthorized): {message}")]
    Unauthorized {
        /// The request, in words.
        what: String,
        /// The server's message.
        message: String,
    },

    /// 409: the lease expired or was superseded; the attempt is no longer ours.
    #[error("lease {lease}: no longer this worker's (409): {message}")]
    StaleLease {
        /// The lease id.
        lease: String,
        /// The server's message.
        message: String,
    },

    /// A downloaded notebook does not have the content its hash names.
    #[error("blob {hash}: {message}")]
    Blob {
        /// The expected sha256.
        hash: String,
        /// What was wrong.
        message: String,
    },
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
    /// A bad parameter: `origin` names the option or parameter.
    pub fn params(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Notebook(deckle_notebook::Error::Params { origin: origin.into(), message: message.into() })
    }

    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::CellFailed { .. } | Error::Output { .. } => exit::CELL_ERROR,
            Error::Input { .. }
            | Error::Notebook(_)
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

    /// A bad-input error about `path`.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into() }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
