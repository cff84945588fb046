//! What parsing and validation need to know about a notebook file: that its path
//! stays inside the workflow's directory, that it exists, is a notebook, and
//! what its cells declare, assign and need (for the schedulability checks).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use deckle_notebook::format as nbformat;
use deckle_notebook::translate::{self, Language};
use serde_json::Value;

use crate::pyscan::{self, Interactive, PyType};

/// What the checks need to know about one notebook.
#[derive(Debug)]
pub(crate) struct Info {
    pub has_parameters_cell: bool,
    /// `metadata.kernelspec` is there.
    pub has_kernelspec: bool,
    /// `{"metadata": …}`: what picks the kernel and the translator language.
    metadata: Value,
    /// The first cell tagged `parameters`, read as papermill reads it.
    pub parameters: Option<ParametersCell>,
    /// Every name a code cell binds at its top level (Python reading), with where.
    pub assigned: HashMap<String, (usize, usize)>,
    /// Constructs that need someone at the notebook, with their cell (1-based).
    pub interactive: Vec<(usize, Interactive)>,
    /// The first code cell saved with an execution count not above an earlier
    /// cell's: (cell, its count, the earlier cell, its count), cells from 1.
    pub out_of_order: Option<(usize, u64, usize, u64)>,
}

/// The `parameters` cell: what it declares.
#[derive(Debug)]
pub(crate) struct ParametersCell {
    /// 1-based cell number.
    pub cell: usize,
    /// What papermill's inspection finds, then any other name the cell binds.
    pub declared: Vec<Declared>,
    /// Positions in `declared`, by name.
    index: HashMap<String, usize>,
}

impl ParametersCell {
    fn new(cell: usize, declared: Vec<Declared>) -> Self {
        let index = declared.iter().enumerate().map(|(i, d)| (d.name.clone(), i)).collect();
        ParametersCell { cell, declared, index }
    }

    /// The declaration of `name`, if the cell declares it.
    pub fn get(&self, name: &str) -> Option<&Declared> {
        self.index.get(name).map(|&i| &self.declared[i])
    }
}

/// One name a `parameters` cell declares.
#[derive(Debug, Clone)]
pub(crate) struct Declared {
    pub name: String,
    /// 1-based line in the cell.
    pub line: usize,
    /// From the annotation (or `# type:` comment), else from a literal default.
    pub ty: Option<PyType>,
    /// The annotation or `# type:` comment, as written.
    pub annotation: Option<String>,
    /// The default, as written (empty when papermill's inspection did not find it).
    pub default: String,
}

impl Declared {
    /// The definition, shortly: `n: int = 5`.
    pub fn definition(&self) -> String {
        match &self.annotation {
            Some(a) => format!("{}: {a} = {}", self.name, self.default),
            None => format!("{} = {}", self.name, self.default),
        }
    }
}

impl Info {
    /// The translator language papermill would pick for this notebook run with
    /// `kernel` (a node's `kernel:`), if any.
    pub fn language(&self, kernel: Option<&str>) -> Option<Language> {
        let (k, l) = deckle_notebook::inject::kernel_and_language(&self.metadata, kernel, None);
        translate::find_translator(k.as_deref().unwrap_or_default(), l.as_deref()).ok()
    }
}

/// Notebooks read so far: several nodes often share one notebook.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    seen: HashMap<PathBuf, Result<Rc<Info>, String>>,
}

impl Cache {
    pub fn inspect(&mut self, path: &Path) -> Result<Rc<Info>, String> {
        self.seen.entry(path.to_path_buf()).or_insert_with(|| inspect(path).map(Rc::new)).clone()
    }
}

fn inspect(path: &Path) -> Result<Info, String> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("file not found (looked for `{}`)", path.display()),
        _ => format!("cannot read `{}`: {e}", path.display()),
    })?;
    parse(&text)
}

/// The notebook as every other part of Deckle reads it (`deckle execute`, the
/// worker, registration): what would fail there fails here first.
fn parse(text: &str) -> Result<Info, String> {
    let nb = nbformat::parse(text)?;
    let metadata = serde_json::json!({ "metadata": nb["metadata"].clone() });
    let mut info = Info {
        has_parameters_cell: nbformat::has_parameters_cell(&nb),
        has_kernelspec: nb["metadata"].get("kernelspec").is_some_and(Value::is_object),
        metadata,
        parameters: None,
        assigned: HashMap::new(),
        interactive: Vec::new(),
        out_of_order: None,
    };
    let cells = nb["cells"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut last_count: Option<(usize, u64)> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell["cell_type"] != "code" {
            continue;
        }
        let number = i + 1;
        let src = nbformat::source(cell);
        if info.parameters.is_none() && nbformat::tags(cell).contains(&deckle_notebook::inject::PARAMETERS_TAG) {
            info.parameters = Some(ParametersCell::new(number, declared(src)));
        }
        for (name, line) in pyscan::assigned_names(src) {
            info.assigned.entry(name).or_insert((number, line));
        }
        info.interactive.extend(pyscan::interactive(src).into_iter().map(|f| (number, f)));
        if let Some(count) = cell["execution_count"].as_u64() {
            match last_count {
                Some((prev, prev_count)) if count <= prev_count && info.out_of_order.is_none() => {
                    info.out_of_order = Some((number, count, prev, prev_count));
                }
                _ => {}
            }
            last_count = Some((number, count));
        }
    }
    Ok(info)
}

/// What a `parameters` cell declares: the definitions papermill's
/// `PythonTranslator.inspect` finds (for `--help-notebook`), each with its line,
/// then any other name the cell binds (`a, b = 1, 2`, `x = f(k=1)`: papermill
/// skips lines with several `=`), with no type.
fn declared(src: &str) -> Vec<Declared> {
    let lines = pyscan::split_lines(src);
    let mut out: Vec<Declared> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut cursor = 0;
    for p in translate::inspect_parameters(Language::Python, src) {
        // papermill starts a definition on a line holding exactly one `=`.
        let starts = |l: &str| {
            let t = l.trim();
            !t.starts_with('#')
                && l.matches('=').count() == 1
                && t.strip_prefix(p.name.as_str()).is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        };
        // Definitions come in line order: look on from the previous one.
        let found = (cursor..lines.len()).find(|&i| starts(lines[i]));
        if let Some(i) = found {
            cursor = i + 1;
        }
        let annotation = (p.inferred_type_name != "None").then_some(p.inferred_type_name);
        let ty = match &annotation {
            Some(a) => pyscan::annotation_type(a),
            None => pyscan::literal_type(&p.default),
        };
        if seen.insert(p.name.clone()) {
            out.push(Declared { name: p.name, line: found.map_or(1, |i| i + 1), ty, annotation, default: p.default });
        }
    }
    for (name, line) in pyscan::assigned_names(src) {
        if seen.insert(name.clone()) {
            out.push(Declared { name, line, ty: None, annotation: None, default: String::new() });
        }
    }
    out
}

/// Notebooks must stay inside the workflow's directory: no absolute paths, no `..`,
/// no symlink that leads out (what a registration snapshots, and what a shared
/// server may read, is the workflow's own directory).
pub(crate) fn inside_workflow_dir(dir: &std::path::Path, rel: &str, path: &std::path::Path) -> Result<(), String> {
    use std::path::Component;
    let relp = std::path::Path::new(rel);
    if relp.is_absolute() || relp.components().any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_))) {
        return Err("must be a path inside the workflow's directory (no absolute paths, no `..`)".into());
    }
    if let (Ok(dir), Ok(real)) = (dir.canonicalize(), path.canonicalize()) {
        if !real.starts_with(&dir) {
            return Err(format!("is a link to {}, outside the workflow's directory", real.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_parameters_tag() {
        let with = r#"{"cells": [{"cell_type": "code", "metadata": {"tags": ["x", "parameters"]}, "source": "a = 1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
        let without = r#"{"cells": [{"cell_type": "code", "metadata": {}, "source": "a = 1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
        assert!(parse(with).unwrap().has_parameters_cell);
        assert!(!parse(without).unwrap().has_parameters_cell);
    }

    #[test]
    fn reads_papermill_outputs_and_vscode_notebooks() {
        // A papermill output run with `-p x nan`, and VS Code's integer language version.
        let papermill = r#"{"cells": [{"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "x = 1"}], "metadata": {"papermill": {"parameters": {"x": NaN}}}, "nbformat": 4, "nbformat_minor": 5}"#;
        assert!(parse(papermill).unwrap().has_parameters_cell);
        let vscode = r#"{"metadata": {"language_info": {"name": "python", "version": 3}, "orig_nbformat": 2}, "nbformat": 4, "nbformat_minor": 2, "cells": [{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": []}]}"#;
        assert!(!parse(vscode).unwrap().has_parameters_cell);
    }

    #[test]
    fn parameters_are_declared_as_papermill_infers_them_with_their_lines() {
        use crate::pyscan::PyType::*;
        // papermill's cases: comments and blank lines skipped, `name: type = value`,
        // `# type:` comments, definitions over several lines, lines with several `=`
        // skipped by papermill (but still assignments here), non-definitions ignored.
        let src = "# Parameters\r\nalpha = 0.1  # the rate\r\n\r\nbeta: int = 3\ngamma: \"List[str]\" = [\n  \"a\",  # first\n]\nmu = 5 # type: float help\nf(a=1)\nx == 1\nlo, hi = 1, 2\nwhen = pd.Timestamp('2024')\nlabel = 'x'";
        let got: Vec<(String, usize, Option<crate::pyscan::PyType>, String)> =
            declared(src).into_iter().map(|d| (d.definition(), d.line, d.ty, d.name)).collect();
        let want = [
            ("alpha = 0.1", 2, Some(Float), "alpha"),
            ("beta: int = 3", 4, Some(Int), "beta"),
            ("gamma: List[str] = [\"a\",]", 5, Some(List), "gamma"),
            ("mu: float = 5", 8, Some(Float), "mu"),
            ("when = pd.Timestamp('2024')", 12, None, "when"),
            ("label = 'x'", 13, Some(Str), "label"),
            ("lo = ", 11, None, "lo"),
            ("hi = ", 11, None, "hi"),
        ];
        let want: Vec<(String, usize, Option<crate::pyscan::PyType>, String)> =
            want.iter().map(|(d, l, t, n)| (d.to_string(), *l, *t, n.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn cells_are_numbered_from_one_and_counts_checked_in_order() {
        let nb = r##"{"cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Title"},
            {"cell_type": "code", "execution_count": 2, "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "n = 1"},
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": ["x = input()\n", "total = n"]}
        ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"##;
        let info = parse(nb).unwrap();
        assert!(!info.has_kernelspec);
        assert_eq!(info.parameters.as_ref().unwrap().cell, 2);
        assert_eq!(info.assigned["total"], (3, 2));
        assert_eq!(info.interactive.iter().map(|(c, f)| (*c, f.line)).collect::<Vec<_>>(), [(3, 1)]);
        assert_eq!(info.out_of_order, Some((3, 1, 2, 2)));
        // No kernelspec and no language_info: papermill would find no translator.
        assert_eq!(info.language(None), None);
        assert_eq!(info.language(Some("python3")), None);
        assert_eq!(info.language(Some("python")), Some(Language::Python));
    }

    #[test]
    fn rejects_non_notebooks() {
        assert!(parse("not json").unwrap_err().contains("not JSON"));
        assert!(parse("{}").unwrap_err().contains("nbformat"));
        let no_cells = r#"{"metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
        assert!(parse(no_cells).unwrap_err().contains("`cells`"));
        assert!(inspect(Path::new("/nonexistent/x.ipynb")).unwrap_err().contains("file not found"));
    }
}
