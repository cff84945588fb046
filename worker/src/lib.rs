//! deckle-worker: runs Jupyter notebooks on real kernels and writes
//! papermill-compatible output notebooks.
//!
//! The pieces, each in its own module:
//! - [`kernelspec`]: find a kernel the way `jupyter_client` does;
//! - [`kernel`]: launch it, speak the wire protocol over ZeroMQ (IPC sockets on Unix);
//! - [`params`] and [`translate`]: papermill's parameter parsing and literal forms;
//! - [`inject`]: put the `injected-parameters` cell where papermill puts it;
//! - [`notebook`]: read, validate and write `.ipynb` exactly as nbformat does
//!   (the format is `deckle_notebook::format`; `params`, `translate` and `inject`
//!   are `deckle-notebook`'s, re-exported);
//! - [`execute`]: run every cell on the kernel, with timeouts; `record` keeps
//!   papermill's metadata and saves as cells start and end;
//! - [`outputs`]: what a notebook recorded (declared variables, scrapbook scraps);
//! - [`task_run`]: one workflow node attempt (a task) to its result, as both the
//!   embedded executor of `deckle run` and the remote worker run it;
//! - [`remote`]: the remote worker (`deckle worker`): leases from a coordinator
//!   over HTTP, heartbeats, notebook cache and uploads.
//!
//! ```no_run
//! # async fn demo() -> Result<(), deckle_worker::Error> {
//! use deckle_worker::{execute::{execute_notebook, ExecuteOptions}, params::Params};
//! let mut params = Params::new();
//! params.insert("region".into(), deckle_worker::params::ParamValue::Str("fr".into()));
//! let opts = ExecuteOptions::new("in.ipynb", "out.ipynb").with_params(params);
//! let report = execute_notebook(&opts).await.map_err(|failure| failure.error)?;
//! println!("{} cells ran", report.cells_executed);
//! # Ok(()) }
//! ```
//!
//! A SQL node needs no notebook file: the worker writes one.
//!
//! ```
//! use deckle_protocol::sql::SqlSpec;
//! let spec = SqlSpec { engine: "duckdb".into(), query: "select 42 as answer".into(), save_to: None,
//!                      connection: serde_json::Value::Null, preview_rows: 5 };
//! let nb = deckle_worker::sql::generate_notebook(&spec, "python3").unwrap();
//! let query_cell = nb["cells"].as_array().unwrap().iter()
//!     .find(|c| c["metadata"]["tags"][0] == deckle_worker::sql::TAG_QUERY).unwrap();
//! assert!(query_cell["source"].to_string().contains("select 42 as answer"));
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod execute;
pub mod help_notebook;
pub mod ipykernel_argv;
pub mod kernel;
pub mod kernelspec;
pub mod notebook;
pub mod outputs;
pub mod path_format;
pub mod pool;
pub mod remote;
pub mod sql;
pub mod task_run;
pub mod zygote;

pub use error::{Error, Result};

/// Parameters, translators and injection live in `deckle-notebook` (the coordinator
/// prepares notebooks too); they keep their paths here.
pub use deckle_notebook::{inject, params, translate};
