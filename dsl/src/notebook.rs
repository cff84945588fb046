//! What validation needs to know about a notebook file: that it exists, is a
//! notebook, and whether it has a cell tagged `parameters`.

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
