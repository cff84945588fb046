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

pub mod attempt;
mod error;
pub mod error_cells;
pub mod format;
pub mod inject;
pub mod params;
pub mod python;
pub mod translate;

pub use error::{Error, Result};
