//! The one error type of this crate. The worker maps it into its own error, whose
//! exit codes (bad input: 2) it keeps.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A parameter that cannot be read or cannot be written in the kernel's language.
    #[error("bad parameter {origin}: {message}")]
    Params { origin: String, message: String },

    /// No papermill translator for this kernel or language.
    #[error("{0}")]
    NoTranslator(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
