//! Preparing a notebook for a run, step for step as papermill does it:
//! `load_notebook_node` (defaults for `metadata.papermill` and cell tags),
//! `parameterize_notebook` (the `injected-parameters` cell), then
//! `prepare_notebook_metadata` (report mode, paths) and `remove_error_markers`.

use serde_json::{json, Map, Value};

use crate::format::{self as notebook, new_code_cell};
use crate::params::Params;
use crate::translate::{self, Language};

/// The tag of the cell holding a notebook's default parameters.
pub const PARAMETERS_TAG: &str = "parameters";
/// The tag of the cell papermill (and Deckle) inserts with the given parameters.
pub const INJECTED_TAG: &str = "injected-parameters";
/// The tag of papermill's error marker cells.
pub const ERROR_MARKER_TAG: &str = "papermill-error-cell-tag";

/// The `version` recorded in `metadata.papermill`. Papermill writes its own version
/// there; Deckle says who wrote the record rather than pretend to be papermill.
pub fn record_version() -> String {
    format!("deckle-{}", env!("CARGO_PKG_VERSION"))
}

/// Index of the first cell carrying `tag`.
pub fn find_tagged(nb: &Value, tag: &str) -> Option<usize> {
    nb["cells"].as_array()?.iter().position(|c| notebook::tags(c).contains(&tag))
}

/// `load_notebook_node`: upgrade to 4.5, make sure `metadata.papermill` exists, and
/// that every cell has `metadata.tags` and `metadata.papermill`.
pub fn load_defaults(nb: &mut Value) {
    notebook::upgrade_to_v4_5(nb);
    let md = nb["metadata"].as_object_mut().expect("validated notebook has metadata");
    if !md.contains_key("papermill") {
        md.insert(
            "papermill".into(),
            json!({
                "default_parameters": {},
                "parameters": {},
                "environment_variables": {},
                "version": record_version(),
            }),
        );
    }
    for cell in nb["cells"].as_array_mut().into_iter().flatten() {
        let cmd = cell
            .as_object_mut()
            .expect("validated cell")
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let cmd = cmd.as_object_mut().expect("validated cell metadata");
        cmd.entry("tags").or_insert_with(|| json!([]));
        cmd.entry("papermill").or_insert_with(|| json!({}));
    }
}

/// Outcome of [`parameterize`], for the warnings papermill logs.
#[derive(Debug, Default)]
pub struct Injection {
    /// No `parameters` cell: the injected cell went to the top.
    pub no_parameters_cell: bool,
    /// Given parameters the parameters cell does not define (Python only).
    pub unknown: Vec<String>,
}

/// `parameterize_notebook`: replace an existing injected cell, else insert after
/// the parameters cell, else at the top; record the parameters.
///
/// `secrets` names secret parameters: the cell reads each from the kernel's
/// environment ([`translate::secret_lines`]); neither their values (which this
/// never sees) nor their names go into `metadata.papermill.parameters`. Without
/// secrets the cell is exactly papermill's.
pub fn parameterize(nb: &mut Value, params: &Params, secrets: &[String], lang: Language, report_mode: bool) -> crate::Result<Injection> {
    let mut result = Injection::default();
    // papermill's `_infer_parameters` only understands Python; for other languages
    // (and without a parameters cell) every given parameter is "unknown".
    let defined = find_tagged(nb, PARAMETERS_TAG)
        .map(|i| translate::infer_parameter_names(lang, notebook::source(&nb["cells"][i])))
        .unwrap_or_default();
    result.unknown = params.keys().chain(secrets).filter(|k| !defined.contains(k)).cloned().collect();
    let mut text = translate::try_translate_parameters(lang, params, "Parameters")?;
    if !secrets.is_empty() {
        if lang == Language::Python {
            // After the comment line, before the parameters.
            let at = text.find('\n').map_or(text.len(), |i| i + 1);
            text.insert_str(at, "import os\n");
        }
        text.push_str(&translate::secret_lines(lang, secrets));
    }
    let mut md = json!({"tags": [INJECTED_TAG]});
    if report_mode {
        md["jupyter"] = json!({"source_hidden": true});
    }
    let cell = new_code_cell(&text, md);
    let cells = nb["cells"].as_array_mut().expect("validated cells");
    let injected = cells.iter().position(|c| notebook::tags(c).contains(&INJECTED_TAG));
    let param = cells.iter().position(|c| notebook::tags(c).contains(&PARAMETERS_TAG));
    match (injected, param) {
        (Some(i), _) => cells[i] = cell,
        (None, Some(p)) => cells.insert(p + 1, cell),
        (None, None) => {
            result.no_parameters_cell = true;
            cells.insert(0, cell);
        }
    }
    let params_json: Map<String, Value> = params.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
    nb["metadata"]["papermill"]["parameters"] = Value::Object(params_json);
    Ok(result)
}

/// `prepare_notebook_metadata` + `remove_error_markers`.
pub fn prepare_metadata(nb: &mut Value, input_path: &str, output_path: Option<&str>, report_mode: bool) {
    let cells = nb["cells"].as_array_mut().expect("validated cells");
    if report_mode {
        for cell in cells.iter_mut().filter(|c| c["cell_type"] == "code") {
            let md = &mut cell["metadata"];
            if !md["jupyter"].is_object() {
                md["jupyter"] = json!({});
            }
            md["jupyter"]["source_hidden"] = Value::Bool(true);
        }
    }
    cells.retain(|c| !notebook::tags(c).contains(&ERROR_MARKER_TAG));
    let pm = &mut nb["metadata"]["papermill"];
    pm["input_path"] = Value::String(input_path.to_string());
    pm["output_path"] = output_path.map_or(Value::Null, |p| Value::String(p.to_string()));
}

/// The kernel name and translator language papermill would pick: `-k` or the
/// notebook's `kernelspec.name`; `-l` or `language_info.name`, then
/// `kernelspec.language`.
pub fn kernel_and_language(nb: &Value, kernel: Option<&str>, language: Option<&str>) -> (Option<String>, Option<String>) {
    let md = &nb["metadata"];
    let k = kernel.map(str::to_string).or_else(|| md.pointer("/kernelspec/name").and_then(Value::as_str).map(str::to_string));
    let l = language
        .map(str::to_string)
        .or_else(|| md.pointer("/language_info/name").and_then(Value::as_str).map(str::to_string))
        .or_else(|| md.pointer("/kernelspec/language").and_then(Value::as_str).map(str::to_string));
    (k, l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamValue;

    fn nb(cells: Value) -> Value {
        let mut nb = json!({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells});
        load_defaults(&mut nb);
        nb
    }

    fn params() -> Params {
        let mut p = Params::new();
        p.insert("x".into(), ParamValue::Int(5));
        p
    }

    #[test]
    fn injects_after_parameters_cell() {
        let mut n = nb(json!([
            {"cell_type": "markdown", "metadata": {}, "source": "hi"},
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": null, "source": "x = 1"},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": "x"},
        ]));
        let inj = parameterize(&mut n, &params(), &[], Language::Python, false).unwrap();
        assert!(!inj.no_parameters_cell);
        assert_eq!(n["cells"][2]["metadata"]["tags"], json!(["injected-parameters"]));
        assert_eq!(n["cells"][2]["source"], "# Parameters\nx = 5\n");
        assert_eq!(n["metadata"]["papermill"]["parameters"], json!({"x": 5}));
    }

    #[test]
    fn replaces_an_existing_injected_cell_in_place() {
        let mut n = nb(json!([
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": null, "source": "x = 1"},
            {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "outputs": [], "execution_count": null, "source": "x = 2"},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": "x"},
        ]));
        parameterize(&mut n, &params(), &[], Language::Python, false).unwrap();
        assert_eq!(n["cells"].as_array().unwrap().len(), 3);
        assert_eq!(n["cells"][1]["source"], "# Parameters\nx = 5\n");
    }

    #[test]
    fn no_parameters_cell_injects_at_top_and_warns() {
        let mut n = nb(json!([{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": "1"}]));
        let inj = parameterize(&mut n, &params(), &[], Language::Python, true).unwrap();
        assert!(inj.no_parameters_cell);
        assert_eq!(inj.unknown, vec!["x"]);
        assert_eq!(n["cells"][0]["metadata"]["jupyter"]["source_hidden"], true);
    }

    #[test]
    fn secrets_are_read_from_the_environment_and_not_recorded() {
        let mut n = nb(json!([
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": null, "source": "x = 1\napi_key = None"},
        ]));
        let inj = parameterize(&mut n, &params(), &["api_key".to_string()], Language::Python, false).unwrap();
        assert!(inj.unknown.is_empty(), "{:?}", inj.unknown);
        assert_eq!(n["cells"][1]["source"], "# Parameters\nimport os\nx = 5\napi_key = os.environ.get(\"DECKLE_SECRET_API_KEY\")\n");
        assert_eq!(n["metadata"]["papermill"]["parameters"], json!({"x": 5}));
        // Secrets alone still get a cell.
        let mut n = nb(json!([{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": null, "source": ""}]));
        parameterize(&mut n, &Params::new(), &["k".to_string()], Language::R, false).unwrap();
        assert_eq!(n["cells"][1]["source"], "# Parameters\nk = Sys.getenv(\"DECKLE_SECRET_K\", unset = NA)\n");
        assert_eq!(n["metadata"]["papermill"]["parameters"], json!({}));
    }

    #[test]
    fn error_markers_from_an_earlier_run_are_removed() {
        let mut n = nb(json!([
            {"cell_type": "markdown", "metadata": {"tags": ["papermill-error-cell-tag"]}, "source": "boom"},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": "1"},
        ]));
        prepare_metadata(&mut n, "in.ipynb", Some("out.ipynb"), false);
        assert_eq!(n["cells"].as_array().unwrap().len(), 1);
        assert_eq!(n["metadata"]["papermill"]["output_path"], "out.ipynb");
    }
}
