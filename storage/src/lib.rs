//! deckle-storage: one place to read and write notebooks, wherever they live.
//!
//! Papermill takes `s3://`, `gs://`, Azure and `https://` paths for its input and
//! output notebooks; Deckle takes the same, for `deckle execute` and for the
//! artifacts of `deckle run` and `deckle server` (`--artifacts URL`). Everything
//! goes through the [`object_store`] crate, so S3 and its compatibles, Google Cloud
//! Storage, Azure Blob Storage, plain HTTP(S) and local files behave alike:
//!
//! - [`Location`]: a path or URL parsed into a scheme, a root and a key, with a
//!   clear error for forms that are not supported ([`location`]);
//! - [`Store`]: a root (a bucket and prefix, or a directory) you get, put, list and
//!   delete keys under; a put is atomic: readers see the previous or the new
//!   object, never part of one ([`store`]);
//! - credentials come the usual way for each provider (environment, the AWS
//!   profile files, instance metadata), never from the URL, and [`redact`] keeps
//!   them out of every message ([`open`], [`profile`]).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use deckle_storage::{Location, Store, Options};
//! let loc: Location = "s3://etlbucket/jobs/outputs/vid_agg.ipynb".parse().unwrap();
//! assert_eq!((loc.root(), loc.key()), ("etlbucket", "jobs/outputs/vid_agg.ipynb"));
//!
//! let store = Store::open(&"memory://scratch".parse().unwrap(), &Options::default()).unwrap();
//! store.put("runs/a.ipynb", b"{}".to_vec()).await.unwrap();
//! assert_eq!(store.get("runs/a.ipynb").await.unwrap(), b"{}");
//! assert!(store.get("runs/b.ipynb").await.unwrap_err().is_not_found());
//! # });
//! ```

#![warn(missing_docs)]

pub mod location;
pub mod open;
pub mod profile;
pub mod redact;
pub mod store;

pub use location::{Location, Scheme};
pub use open::Options;
pub use redact::redact;
pub use store::Store;

/// What can go wrong reading or writing a location. Every message names the
/// location (without credentials) and is already [`redact`]ed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path or URL this crate cannot read or write.
    #[error("{url}: {message}")]
    BadLocation {
        /// The location as given.
        url: String,
        /// What is wrong with it, and what to use instead.
        message: String,
    },
    /// Nothing is stored at the location.
    #[error("{url}: no such file or object")]
    NotFound {
        /// The location.
        url: String,
    },
    /// Writing to a location that can only be read (`https://`).
    #[error("{url}: {scheme} locations are read-only; write the output to a local path or an s3://, gs:// or az:// URL")]
    ReadOnly {
        /// The location.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The provider refused the credentials or the access (401/403).
    #[error("{url}: access denied: {message}")]
    Denied {
        /// The location.
        url: String,
        /// The provider's reason.
        message: String,
    },
    /// The store did not answer, or answered with errors, for longer than the
    /// retries allow (endpoint down, 5xx, throttling).
    #[error("{url}: storage unavailable: {message}")]
    Unavailable {
        /// The location.
        url: String,
        /// The last failure.
        message: String,
    },
}

impl Error {
    /// Whether nothing is stored there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether the location itself is wrong (retrying cannot help).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Error::BadLocation { .. } | Error::ReadOnly { .. })
    }
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
