//! deckle-dsl: workflow files → a validated DAG.
//!
//! Pure: no async runtime, no I/O beyond reading the workflow and its notebooks.
//! The format is specified in `shared/DESIGN.md` ("The workflow file").
//!
//! - [`model`]: the validated workflow the engine runs;
//! - [`expr`]: `${{ … }}` templates and `when:` conditions (CEL) and their context.

pub mod expr;
pub mod model;

pub use expr::{Context, Expr, Template};
pub use model::*;
