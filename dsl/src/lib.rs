//! deckle-dsl: workflow files → a validated DAG.
//!
//! Pure: no async runtime, no I/O beyond reading the workflow and its notebooks.
//! Every key of the format is described in `docs/workflow-format.md`; this crate
//! is its reference implementation (what it accepts is the format).
//!
//! - [`load`] / [`parse_str`]: read, parse and validate a workflow file, with
//!   every problem reported as a [`Diagnostic`] naming file, line and column;
//! - [`model`]: the validated workflow the engine runs, with its `triggers:`
//!   ([`Trigger`]: another workflow's run, a signal, new files) and its nodes
//!   (notebooks, SQL queries, and [`WaitNode`]s the coordinator watches);
//! - [`expr`]: `${{ … }}` templates and `when:` conditions (CEL) and their context
//!   (`params`, `run`, `nodes`, `trigger`, `item`/`index`);
//! - [`graph`]: the DAG as Graphviz DOT or Mermaid;
//! - [`duration`]: `30s` / `1h30m` durations.
//!
//! ```
//! use std::path::Path;
//! let text = "workflow: demo\nengines: { presto: { host: db.internal } }\nnodes:\n  total:\n    sql: { engine: presto, query: select 42 }\n";
//! let wf = deckle_dsl::parse_str(text, Path::new("demo.yaml")).unwrap().workflow;
//! let deckle_dsl::NodeKind::Sql(sql) = &wf.nodes["total"].kind else { panic!("a SQL node") };
//! assert_eq!(sql.engine, deckle_dsl::SqlEngine::Trino);
//! // Every problem is reported with its position.
//! let err = deckle_dsl::parse_str("workflow: demo\nnodez: {}\n", Path::new("demo.yaml")).unwrap_err();
//! assert!(err.to_string().contains("demo.yaml:2:1"), "{err}");
//! ```

#![warn(missing_docs)]

mod cel_glue;
pub mod cron;
pub mod diag;
pub mod duration;
pub mod expr;
pub mod graph;
pub mod model;
mod notebook;
mod parse;
mod pyscan;
mod schedulable;
mod validate;
mod yaml;

use std::path::Path;

pub use cron::CronExpr;
pub use diag::{Diagnostic, Diagnostics, Pos, Severity};
pub use expr::{CompileError, Context, EvalError, Expr, Template};
pub use graph::{to_dot, to_mermaid};
pub use model::*;

use diag::Sink;

/// A valid workflow, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The workflow, with every default applied.
    pub workflow: Workflow,
    /// Warnings found while reading it.
    pub warnings: Vec<Diagnostic>,
}

/// Read, parse and validate the workflow file at `path`.
///
/// On failure, every problem found (errors, then warnings) is in the
/// [`Diagnostics`].
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    load_with(path, true)
}

/// [`load`] for a version a server already accepted: without the schedulability
/// checks of its notebooks (rules added by a later release must not stop a
/// registered version from running; registration applies them).
pub fn load_registered(path: &Path) -> Result<Loaded, Diagnostics> {
    load_with(path, false)
}

fn load_with(path: &Path, schedulability: bool) -> Result<Loaded, Diagnostics> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_with(&text, path, schedulability),
        Err(e) => Err(Diagnostics(vec![Diagnostic::error(path, Pos::new(1, 1), format!("cannot read the workflow file: {e}"))])),
    }
}

/// Parse and validate workflow text. `path` names the file in messages, and
/// notebook paths are resolved against its directory (and must exist).
pub fn parse_str(text: &str, path: &Path) -> Result<Loaded, Diagnostics> {
    parse_with(text, path, true)
}

fn parse_with(text: &str, path: &Path, schedulability: bool) -> Result<Loaded, Diagnostics> {
    let mut sink = Sink::new(path);
    let root = match yaml::parse(text) {
        Ok((Some(root), soft)) => {
            for e in soft {
                let message = match &e.duplicate {
                    Some((key, parent, first)) if parent.len() == 1 && parent[0] == "nodes" => {
                        format!("duplicate node id `{key}` (first defined at line {})", first.line)
                    }
                    Some((key, parent, first)) if !parent.is_empty() => {
                        format!("duplicate key `{key}` in `{}` (first defined at line {})", parent.join("."), first.line)
                    }
                    _ => e.message,
                };
                sink.error(e.pos, message);
            }
            root
        }
        Ok((None, _)) => {
            sink.error(Pos::new(1, 1), "the workflow file is empty");
            return Err(Diagnostics(sink.sorted()));
        }
        Err(e) => {
            sink.error(e.pos, e.message);
            return Err(Diagnostics(sink.sorted()));
        }
    };
    let (workflow, spans) = parse::build(&root, path, &mut sink);
    validate::validate(&workflow, &spans, &mut sink, schedulability);
    if sink.has_errors() {
        return Err(Diagnostics(sink.sorted()));
    }
    Ok(Loaded { workflow, warnings: sink.sorted() })
}

#[cfg(test)]
mod tests {
    /// A version registered before a check existed keeps loading on the server.
    #[test]
    fn registered_versions_load_without_the_schedulability_checks() {
        let dir = tempfile::tempdir().unwrap();
        let nb = r#"{"cells": [{"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "alpha = 1"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}"#;
        std::fs::write(dir.path().join("n.ipynb"), nb).unwrap();
        let wf = dir.path().join("wf.yaml");
        std::fs::write(&wf, "workflow: w\nnodes:\n  a: { notebook: n.ipynb, params: { alpah: 2 } }\n").unwrap();
        let err = super::load(&wf).unwrap_err().to_string();
        assert!(err.contains("alpah") && err.contains("alpha"), "registration refuses it, with a did-you-mean: {err}");
        let loaded = super::load_registered(&wf).expect("a registered version still loads");
        assert!(loaded.workflow.nodes.contains_key("a"));
    }
}
