//! The one error type of this crate. The worker maps it into its own error, whose
//! exit codes (bad input: 2) it keeps.

/// What can go wrong preparing a notebook's parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A parameter that cannot be read or cannot be written in the kernel's language.
    #[error("bad parameter {origin}: {message}")]
    Params {
        /// Where it came from: the option (`-p`, `-y #2`, `file p.yaml`) or the parameter name.
        origin: String,
        /// What is wrong with it.
        message: String,
    },

    /// No papermill translator for this kernel or language.
    #[error("{0}")]
    NoTranslator(String),
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
