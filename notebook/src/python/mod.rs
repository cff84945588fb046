//! Python's view of values, in Rust: what papermill (a Python program) would
//! hold and print, so that parameters reach a notebook with the types and text
//! papermill gives them.
//!
//! - [`value`]: [`ParamValue`](value::ParamValue), a value typed as Python holds it
//!   (`int` of any size versus `float`, non-finite floats);
//! - [`literal`]: Python's printing of floats (`repr`), the `unicode_escape` codec
//!   and `shlex.quote`;
//! - `number`: Python's `int(s)` and `float(s)` on text;
//! - `bigint`: just enough arbitrary-precision arithmetic for YAML's integers;
//! - `text`: Python's `str.strip()` and `str.splitlines()`.
//!
//! Nothing here knows about notebooks or parameter sources; [`crate::params`] and
//! [`crate::translate`] build on it.

pub(crate) mod bigint;
pub mod literal;
pub(crate) mod number;
pub(crate) mod text;
pub mod value;

pub use literal::{python_float_repr, shlex_quote, unicode_escape};
pub use value::{ParamValue, Params};
