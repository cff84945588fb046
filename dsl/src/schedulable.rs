//! The schedulability check: whether a notebook node's notebook can run unattended
//! with what the node gives it. Its `parameters` cell against the node's `params`
//! (names, and types of workflow params passed straight through), its code cells
//! against the node's `outputs`, its kernelspec, cells that need someone at the
//! keyboard, and outputs saved from an out-of-order session.
//!
//! Only an undeclared param is an error (the notebook would never read it); the rest
//! are warnings. Cells are numbered from 1, lines from 1 within their cell.

use deckle_notebook::translate::Language;

use crate::diag::Sink;
use crate::model::{Node, ParamType, Workflow};
use crate::notebook::{Info, ParametersCell};
use crate::parse::{is_identifier, suggest, NodeSpans};
use crate::pyscan::PyType;

/// At most this many interactive-only constructs are reported per notebook.
const MAX_INTERACTIVE: usize = 10;
/// At most this many declared names are listed in an undeclared-param error.
const MAX_LISTED: usize = 10;

/// Checks of one notebook node against its notebook `rel`. `first_use`: the
/// notebook was not seen on an earlier node (its own findings are reported once).
pub(crate) fn check(wf: &Workflow, node: &Node, rel: &str, info: &Info, ns: &NodeSpans, first_use: bool, sink: &mut Sink) {
    let id = node.id.as_str();
    let at_notebook = ns.notebook.unwrap_or(ns.key);
    // papermill reads parameters cells of Python notebooks only.
    let python = info.language(node.kernel.as_deref()) == Some(Language::Python);
    if python {
        if let Some(cell) = &info.parameters {
            params(wf, node, rel, cell, ns, sink);
        }
        outputs(node, rel, info, ns, sink);
    }
    if !info.has_kernelspec && node.kernel.is_none() {
        sink.warning(
            at_notebook,
            format!(
                "notebook `{rel}` has no kernelspec in its metadata and node `{id}` sets no `kernel`: a run cannot tell which kernel to start (save the notebook with a kernel, or set `kernel:`)"
            ),
        );
    }
    if !first_use {
        return;
    }
    if python {
        for (cell, f) in info.interactive.iter().take(MAX_INTERACTIVE) {
            sink.warning(at_notebook, format!("notebook `{rel}` cell {cell}, line {}: `{}` {}", f.line, f.what, f.why));
        }
        if info.interactive.len() > MAX_INTERACTIVE {
            sink.warning(
                at_notebook,
                format!("notebook `{rel}`: {} more interactive-only constructs not listed", info.interactive.len() - MAX_INTERACTIVE),
            );
        }
    }
    if let Some((cell, count, prev, prev_count)) = info.out_of_order {
        sink.warning(
            at_notebook,
            format!(
                "notebook `{rel}` cell {cell}, line 1: saved with execution count {count} after cell {prev} ran as {prev_count}: its cells were run out of order, so it may not run top to bottom"
            ),
        );
    }
}

/// Node params the `parameters` cell does not declare (errors), and workflow params
/// passed straight in whose type the notebook's default contradicts (warnings).
fn params(wf: &Workflow, node: &Node, rel: &str, parameters: &ParametersCell, ns: &NodeSpans, sink: &mut Sink) {
    let id = node.id.as_str();
    let (cell, declared) = (parameters.cell, parameters.declared.as_slice());
    // A name that is no identifier was reported as such while parsing.
    for (name, template) in node.params.iter().filter(|(name, _)| is_identifier(name)) {
        let Some(d) = parameters.get(name) else {
            let pos = ns.param_keys.get(name).or_else(|| ns.params.get(name)).copied().unwrap_or(ns.key);
            let hint = match suggest(name, declared.iter().map(|d| d.name.as_str())) {
                Some(s) => {
                    let line = parameters.get(s).map_or(1, |d| d.line);
                    format!("did you mean `{s}` (line {line})?")
                }
                None if declared.is_empty() => "it declares nothing".to_string(),
                None => {
                    let mut names: Vec<String> = declared.iter().take(MAX_LISTED).map(|d| format!("`{}`", d.name)).collect();
                    if declared.len() > MAX_LISTED {
                        names.push(format!("and {} more", declared.len() - MAX_LISTED));
                    }
                    format!("it declares {}", names.join(", "))
                }
            };
            sink.error(pos, format!("node `{id}` passes param `{name}`, which the `parameters` cell of notebook `{rel}` (cell {cell}) does not declare ({hint})"));
            continue;
        };
        let Some(source) = template.whole_expression() else { continue };
        let Some(wf_param) = source.strip_prefix("params.").map(str::trim) else { continue };
        let (Some(spec), Some(ty)) = (wf.params.get(wf_param), d.ty) else { continue };
        if ty == PyType::NoneType || accepts(ty, spec.ty) {
            continue;
        }
        let pos = ns.params.get(name).copied().unwrap_or(ns.key);
        sink.warning(
            pos,
            format!(
                "param `{name}` of node `{id}` passes `params.{wf_param}` (type: {}) to a notebook variable declared as {}: `{}` in notebook `{rel}` cell {cell}, line {}",
                param_type_name(spec.ty),
                ty.name(),
                d.definition(),
                d.line
            ),
        );
    }
}

/// Whether a notebook variable whose default has type `ty` takes a value of the
/// workflow param type `given` (an int where a float is expected is fine).
fn accepts(ty: PyType, given: ParamType) -> bool {
    match given {
        ParamType::String | ParamType::Date => ty == PyType::Str,
        ParamType::Int => matches!(ty, PyType::Int | PyType::Float),
        ParamType::Float => ty == PyType::Float,
        ParamType::Bool => ty == PyType::Bool,
        ParamType::List => matches!(ty, PyType::List | PyType::Tuple | PyType::Set),
        ParamType::Map => ty == PyType::Dict,
    }
}

/// As written in `params:` (`type: int`).
fn param_type_name(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "string",
        ParamType::Int => "int",
        ParamType::Float => "float",
        ParamType::Bool => "bool",
        ParamType::Date => "date",
        ParamType::List => "list",
        ParamType::Map => "map",
    }
}

/// Declared outputs no code cell assigns (and no node param injects).
fn outputs(node: &Node, rel: &str, info: &Info, ns: &NodeSpans, sink: &mut Sink) {
    for (i, out) in node.outputs.iter().enumerate() {
        if info.assigned.contains_key(out) || node.params.contains_key(out) {
            continue;
        }
        let pos = ns.outputs.get(i).copied().unwrap_or(ns.key);
        sink.warning(
            pos,
            format!("output `{out}` of node `{}`: no code cell of notebook `{rel}` assigns `{out}`; the node fails if the notebook never sets it", node.id),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    /// A notebook of code cells `(tags, execution_count, source)`, with a Python
    /// kernelspec or none.
    fn notebook(cells: &[(&[&str], Option<u64>, &str)], kernelspec: bool) -> String {
        let cells: Vec<Value> = cells
            .iter()
            .enumerate()
            .map(|(i, (tags, count, src))| {
                json!({"cell_type": "code", "execution_count": count, "id": format!("c{i}"), "metadata": {"tags": tags}, "outputs": [], "source": src})
            })
            .collect();
        let metadata = if kernelspec {
            json!({"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
        } else {
            json!({"language_info": {"name": "python"}})
        };
        json!({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}).to_string()
    }

    /// Every diagnostic of `yaml` next to `notebooks`, as `line:column: severity: message`.
    fn diagnostics(yaml: &str, notebooks: &[(&str, String)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in notebooks {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let all = match crate::parse_str(yaml, &dir.path().join("w.yaml")) {
            Ok(l) => l.warnings,
            Err(d) => d.0,
        };
        all.iter().map(|d| format!("{}:{}: {}: {}", d.line, d.column, d.severity, d.message)).collect()
    }

    const PARAMS: &[&str] = &["parameters"];

    #[test]
    fn undeclared_params_are_errors_with_a_suggestion() {
        let nb = notebook(
            &[(&[], None, "import os"), (PARAMS, None, "# Inputs\nregion = 'us'  # where\nmin_rows: int = 10\nlimits = {\n  'max': 1,\n}\nx = y = 1")],
            true,
        );
        let yaml = concat!(
            "workflow: w\n",
            "nodes:\n",
            "  a:\n",
            "    notebook: nb.ipynb\n",
            "    params: { regoin: us, min_rows: 5, limits: {}, x: 1, y: 2, zzz: 3 }\n",
        );
        let cell = "which the `parameters` cell of notebook `nb.ipynb` (cell 2) does not declare";
        assert_eq!(
            diagnostics(yaml, &[("nb.ipynb", nb)]),
            [
                format!("5:15: error: node `a` passes param `regoin`, {cell} (did you mean `region` (line 2)?)"),
                format!("5:64: error: node `a` passes param `zzz`, {cell} (it declares `region`, `min_rows`, `limits`, `x`, `y`)"),
            ]
        );
        // An empty parameters cell declares nothing.
        let empty = notebook(&[(PARAMS, None, "")], true);
        assert_eq!(
            diagnostics("workflow: w\nnodes:\n  a: { notebook: nb.ipynb, params: { n: 1 } }\n", &[("nb.ipynb", empty)]),
            ["3:38: error: node `a` passes param `n`, which the `parameters` cell of notebook `nb.ipynb` (cell 1) does not declare (it declares nothing)"]
        );
    }

    #[test]
    fn without_a_parameters_cell_or_in_another_language_params_are_not_checked() {
        let plain = notebook(&[(&[], None, "x = 1")], true);
        assert_eq!(
            diagnostics("workflow: w\nnodes:\n  a: { notebook: nb.ipynb, params: { n: 1 } }\n", &[("nb.ipynb", plain)]),
            ["3:18: warning: notebook `nb.ipynb` has no cell tagged `parameters`; the params of node `a` will be injected at the top"]
        );
        // papermill cannot read R parameters cells: nothing to compare with.
        let r = json!({
            "cells": [{"cell_type": "code", "execution_count": null, "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "x <- 1"}],
            "metadata": {"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}},
            "nbformat": 4, "nbformat_minor": 4,
        })
        .to_string();
        assert_eq!(diagnostics("workflow: w\nnodes:\n  a: { notebook: nb.ipynb, params: { n: 1 } }\n", &[("nb.ipynb", r)]), Vec::<String>::new());
    }

    #[test]
    fn workflow_param_types_are_compared_with_notebook_defaults() {
        let nb = notebook(
            &[(PARAMS, None, "n = 5\nratio = 0.5\nname = \"x\"\nflag: bool = 1\nanything = None\nday = '2024-01-01'\nregions = ['us']\nlimit: Optional[int] = None")],
            true,
        );
        let yaml = concat!(
            "workflow: w\n",
            "params:\n",
            "  f: { type: float, default: 1.5 }\n",
            "  i: { type: int, default: 1 }\n",
            "  s: { type: string, default: a }\n",
            "  d: { type: date, default: 2024-01-02 }\n",
            "  l: { type: list, default: [] }\n",
            "nodes:\n",
            "  a:\n",
            "    notebook: nb.ipynb\n",
            "    params:\n",
            "      n: \"${{ params.f }}\"\n",
            "      ratio: \"${{ params.i }}\"\n",
            "      name: \"${{ params.i }}\"\n",
            "      flag: \"${{ params.s }}\"\n",
            "      anything: \"${{ params.f }}\"\n",
            "      day: \"${{ params.d }}\"\n",
            "      regions: \"${{ params.l }}\"\n",
            "      limit: \"${{ params.s }}\"\n",
        );
        assert_eq!(
            diagnostics(yaml, &[("nb.ipynb", nb)]),
            [
                "12:10: warning: param `n` of node `a` passes `params.f` (type: float) to a notebook variable declared as int: `n = 5` in notebook `nb.ipynb` cell 1, line 1",
                "14:13: warning: param `name` of node `a` passes `params.i` (type: int) to a notebook variable declared as str: `name = \"x\"` in notebook `nb.ipynb` cell 1, line 3",
                "15:13: warning: param `flag` of node `a` passes `params.s` (type: string) to a notebook variable declared as bool: `flag: bool = 1` in notebook `nb.ipynb` cell 1, line 4",
                "19:14: warning: param `limit` of node `a` passes `params.s` (type: string) to a notebook variable declared as int: `limit: Optional[int] = None` in notebook `nb.ipynb` cell 1, line 8",
            ]
        );
    }

    #[test]
    fn outputs_no_cell_assigns_are_warnings() {
        let nb = notebook(
            &[
                (PARAMS, None, "rows = 0"),
                (&[], None, "import json\nfrom pathlib import Path as P\nfirst, total = 1, 2\nfor item in []:\n    pass\nwith open('f') as fh:\n    pass\ndef report():\n    hidden = 1\nclass Model: pass\nlater: int = 3"),
            ],
            true,
        );
        let yaml = concat!(
            "workflow: w\n",
            "nodes:\n",
            "  a:\n",
            "    notebook: nb.ipynb\n",
            "    params: { injected: 1, rows: 2 }\n",
            "    outputs: [rows, json, P, total, item, fh, report, Model, later, injected, hidden, missing]\n",
        );
        let warn = |col: usize, name: &str| {
            format!("6:{col}: warning: output `{name}` of node `a`: no code cell of notebook `nb.ipynb` assigns `{name}`; the node fails if the notebook never sets it")
        };
        // `injected` is injected (and so undeclared: an error); `hidden` is a function's local.
        let all = diagnostics(yaml, &[("nb.ipynb", nb)]);
        assert_eq!(
            all,
            [
                "5:15: error: node `a` passes param `injected`, which the `parameters` cell of notebook `nb.ipynb` (cell 1) does not declare (it declares `rows`)".to_string(),
                warn(79, "hidden"),
                warn(87, "missing"),
            ]
        );
    }

    #[test]
    fn a_notebook_without_kernelspec_needs_a_node_kernel() {
        let bare = json!({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).to_string();
        let yaml = "workflow: w\nnodes:\n  a: { notebook: nb.ipynb }\n  b: { notebook: nb.ipynb, kernel: python3 }\n";
        assert_eq!(
            diagnostics(yaml, &[("nb.ipynb", bare.clone())]),
            ["3:18: warning: notebook `nb.ipynb` has no kernelspec in its metadata and node `a` sets no `kernel`: a run cannot tell which kernel to start (save the notebook with a kernel, or set `kernel:`)"]
        );
        let with_default = "workflow: w\ndefaults: { kernel: python3 }\nnodes:\n  a: { notebook: nb.ipynb }\n";
        assert_eq!(diagnostics(with_default, &[("nb.ipynb", bare)]), Vec::<String>::new());
    }

    #[test]
    fn interactive_cells_are_named_by_cell_and_line() {
        let nb = notebook(
            &[
                (&[], None, "%matplotlib widget\nimport ipywidgets as widgets"),
                (&[], None, "# ask\nname = input('name? ')\nfrom getpass import getpass\npw = getpass()"),
                (&[], None, "widgets.interact(f, x=10)\nbutton = widgets.Button()\nbutton.on_click(go)\nprint('input(')"),
            ],
            true,
        );
        // Reported once per notebook, however many nodes run it.
        let yaml = "workflow: w\nnodes:\n  a: { notebook: nb.ipynb }\n  b: { notebook: nb.ipynb }\n";
        let keyboard = "waits for keyboard input, which a scheduled run cannot give (the kernel has no stdin: the cell fails)";
        let widgets = "waits for widget interaction (clicks, sliders) that never comes in a scheduled run";
        assert_eq!(
            diagnostics(yaml, &[("nb.ipynb", nb)]),
            [
                "3:18: warning: notebook `nb.ipynb` cell 1, line 1: `%matplotlib widget` draws figures only a live browser session shows; the saved notebook keeps none (use `%matplotlib inline`)".to_string(),
                format!("3:18: warning: notebook `nb.ipynb` cell 2, line 2: `input(` {keyboard}"),
                format!("3:18: warning: notebook `nb.ipynb` cell 2, line 4: `getpass(` {keyboard}"),
                format!("3:18: warning: notebook `nb.ipynb` cell 3, line 1: `.interact(` {widgets}"),
                format!("3:18: warning: notebook `nb.ipynb` cell 3, line 3: `.on_click(` {widgets}"),
            ]
        );
    }

    #[test]
    fn outputs_saved_out_of_order_are_a_warning() {
        let nb = notebook(&[(&[], Some(1), "a = 1"), (&[], None, "# not run"), (&[], Some(5), "b = a"), (&[], Some(3), "c = b")], true);
        assert_eq!(
            diagnostics("workflow: w\nnodes:\n  a: { notebook: nb.ipynb }\n", &[("nb.ipynb", nb)]),
            ["3:18: warning: notebook `nb.ipynb` cell 4, line 1: saved with execution count 3 after cell 3 ran as 5: its cells were run out of order, so it may not run top to bottom"]
        );
        let in_order = notebook(&[(&[], Some(1), "a = 1"), (&[], None, ""), (&[], Some(2), "b = a")], true);
        assert_eq!(diagnostics("workflow: w\nnodes:\n  a: { notebook: nb.ipynb }\n", &[("nb.ipynb", in_order)]), Vec::<String>::new());
    }
}
