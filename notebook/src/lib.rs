//! deckle-notebook: Jupyter notebooks as nbformat reads and writes them, and
//! papermill's parameter injection.
//!
//! The worker prepares and runs notebooks; the coordinator writes the prepared
//! notebook of every attempt it grants (so a worker that dies before its first
//! upload still leaves a record) and finishes the notebook of an attempt it
//! declares lost. Both need the same reader, writer and injection, and they never
//! depend on each other, so it lives here. Nothing in this crate touches a kernel,
//! the network or (beyond `-f` parameter files) the disk.
//!
//! - [`format`]: read (`nbformat.read` with its schema checks) and write
//!   (`nbformat.writes` layout) `.ipynb` JSON;
//! - [`python`]: Python's view of values: typed parameter values, Python's number
//!   parsing and literal printing;
//! - [`params`]: papermill's command-line parameters, typed as Python holds them;
//! - [`translate`]: papermill's translators, the text of the injected cell per language;
//! - [`inject`]: papermill's notebook preparation (defaults, injected cell, metadata);
//! - [`error_cells`]: papermill's error marker cells;
//! - [`attempt`]: the coordinator's record of an attempt no worker wrote (prepared, lost).
//!
//! ```
//! use deckle_notebook::params::{resolve_cli_value, Params};
//! use deckle_notebook::translate::{translate_parameters, Language};
//! // `-p n 12 -p ratio 1e3 -p name x`, typed as papermill's command line types them.
//! let mut params = Params::new();
//! for (name, value) in [("n", "12"), ("ratio", "1e3"), ("name", "x")] {
//!     params.insert(name.into(), resolve_cli_value(value));
//! }
//! let cell = translate_parameters(Language::Python, &params, "Parameters");
//! assert_eq!(cell, "# Parameters\nn = 12\nratio = 1000.0\nname = \"x\"\n");
//! ```

#![warn(missing_docs)]

pub mod attempt;
mod error;
pub mod error_cells;
pub mod format;
pub mod inject;
pub mod params;
pub mod python;
pub mod translate;

pub use error::{Error, Result};
