//! deckle-test-support: code the test suites of several Deckle crates share, so
//! that no test reaches into another crate's files.
//!
//! - [`azurite`]: a real Azure Blob Storage emulator (Azurite), with a signing
//!   client to seed and inspect its containers.
//! - [`fuzz`]: the seeded fuzzing harness of `dsl/tests/fuzz.rs` and
//!   `worker/tests/fuzz_notebook.rs`.
//! - [`postgres`]: a real PostgreSQL server and a fresh database per test.
//! - [`s3`]: a real S3-compatible server (moto), and a proxy that fails in front of
//!   it on demand.
//!
//! Behind [`azurite`] and [`s3`], crate-private: `daemon` starts a server process
//! that cannot outlive the tests, and `http` is the std-only client they talk to it
//! with.
//!
//! ```
//! use deckle_test_support::fuzz::Rng;
//! let (mut a, mut b) = (Rng::new(7), Rng::new(7));
//! assert_eq!(a.next(), b.next(), "the same seed gives the same cases");
//! ```

pub mod azurite;
mod daemon;
pub mod fuzz;
mod http;
pub mod postgres;
pub mod s3;
