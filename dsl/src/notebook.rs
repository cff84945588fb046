//! What parsing and validation need to know about a notebook file: that its path
//! stays inside the workflow's directory, that it exists, is a notebook, and
//! whether it has a cell tagged `parameters`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Info {
    pub has_parameters_cell: bool,
}

/// Notebooks read so far: several nodes often share one notebook.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    seen: HashMap<PathBuf, Result<Info, String>>,
}

impl Cache {
    pub fn inspect(&mut self, path: &Path) -> Result<Info, String> {
        self.seen.entry(path.to_path_buf()).or_insert_with(|| inspect(path)).clone()
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
    let nb = deckle_notebook::format::parse(text)?;
    Ok(Info { has_parameters_cell: deckle_notebook::format::has_parameters_cell(&nb) })
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
    fn rejects_non_notebooks() {
        assert!(parse("not json").unwrap_err().contains("not JSON"));
        assert!(parse("{}").unwrap_err().contains("nbformat"));
        let no_cells = r#"{"metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
        assert!(parse(no_cells).unwrap_err().contains("`cells`"));
        assert!(inspect(Path::new("/nonexistent/x.ipynb")).unwrap_err().contains("file not found"));
    }
}
