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

fn parse(text: &str) -> Result<Info, String> {
    let nb: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not a notebook (invalid JSON: {e})"))?;
    let cells = nb.get("cells").and_then(|c| c.as_array()).ok_or("not a notebook (no `cells` list)")?;
    let has_parameters_cell = cells.iter().any(|c| {
        c.pointer("/metadata/tags")
            .and_then(|t| t.as_array())
            .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some("parameters")))
    });
    Ok(Info { has_parameters_cell })
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
    fn rejects_non_notebooks() {
        assert!(parse("not json").unwrap_err().contains("invalid JSON"));
        assert!(parse("{}").unwrap_err().contains("no `cells`"));
        assert!(inspect(Path::new("/nonexistent/x.ipynb")).unwrap_err().contains("file not found"));
    }
}
