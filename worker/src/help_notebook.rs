//! `deckle execute NB --help-notebook`: the parameters a notebook takes, read from
//! its `parameters` cell and printed as papermill's `display_notebook_help` prints
//! them (name, inferred type, default, the comment as help).

use std::path::Path;

use serde_json::Value;

use crate::error::Result;
use crate::inject;
use crate::notebook;
use crate::translate::{self, Language};

/// What `--help-notebook` prints after the usage line, and its exit code (1 when
/// the notebook has no `parameters` cell, as papermill).
pub fn describe(nb: &Value, shown_path: &str, kernel: Option<&str>, language: Option<&str>) -> Result<(String, i32)> {
    let mut out = format!("\nParameters inferred for notebook '{shown_path}':\n");
    let Some(i) = inject::find_tagged(nb, "parameters") else {
        out.push_str("\n  No cell tagged 'parameters'\n");
        return Ok((out, 1));
    };
    let (kernel, language) = inject::kernel_and_language(nb, kernel, language);
    let lang = translate::find_translator(kernel.as_deref().unwrap_or_default(), language.as_deref())?;
    if lang != Language::Python {
        tracing::warn!("Translator for '{}' language does not support parameter introspection.", language.as_deref().unwrap_or("?"));
    }
    let params = translate::inspect_parameters(lang, notebook::source(&nb["cells"][i]));
    if params.is_empty() {
        out.push_str("\n  Can't infer anything about this notebook's parameters. It may not have any parameter defined.\n");
        return Ok((out, 0));
    }
    for p in params {
        let type_repr = if p.inferred_type_name == "None" { "Unknown type" } else { &p.inferred_type_name };
        let definition = format!("  {}: {type_repr} (default {})", p.name, p.default);
        // papermill measures in characters (Python's len) and pads with `:<34`.
        let width = definition.chars().count();
        let line = if width > 30 {
            if p.help.is_empty() {
                definition
            } else {
                format!("{definition}\n{}{}", " ".repeat(34), p.help)
            }
        } else {
            format!("{definition}{}{}", " ".repeat(34usize.saturating_sub(width)), p.help)
        };
        out.push_str(&line);
        out.push('\n');
    }
    Ok((out, 0))
}

/// [`describe`] for a notebook file.
pub fn describe_file(path: &Path, kernel: Option<&str>, language: Option<&str>) -> Result<(String, i32)> {
    let nb = notebook::read(path)?;
    describe(&nb, &path.to_string_lossy(), kernel, language)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nb(source: &str, tags: &[&str]) -> Value {
        json!({
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
            "cells": [{"cell_type": "code", "id": "a", "metadata": {"tags": tags}, "source": source, "outputs": [], "execution_count": null}]
        })
    }

    #[test]
    fn help_notebook_lists_name_type_default_and_comment() {
        let src = "msg = None  # The message\nn: int = 2\nrate = 0.5  # type: float\nvery_long_parameter_name_here = 'x'  # what it is\nplain = 1";
        let (text, code) = describe(&nb(src, &["parameters"]), "nb.ipynb", None, None).unwrap();
        assert_eq!(code, 0);
        let want = concat!(
            "\nParameters inferred for notebook 'nb.ipynb':\n",
            "  msg: Unknown type (default None)\n",
            "                                  The message\n",
            "  n: int (default 2)              \n",
            "  rate: float (default 0.5)       \n",
            "  very_long_parameter_name_here: Unknown type (default 'x')\n",
            "                                  what it is\n",
            "  plain: Unknown type (default 1)\n",
        );
        assert_eq!(text, want);
    }

    #[test]
    fn help_notebook_without_parameters_cell_exits_1() {
        let (text, code) = describe(&nb("x = 1", &[]), "nb.ipynb", None, None).unwrap();
        assert_eq!(code, 1);
        assert!(text.ends_with("\n  No cell tagged 'parameters'\n"), "{text}");
        let (text, code) = describe(&nb("print(1)", &["parameters"]), "nb.ipynb", None, None).unwrap();
        assert_eq!(code, 0);
        assert!(text.contains("Can't infer anything"), "{text}");
    }
}
