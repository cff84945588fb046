//! One test per shape of notebook real tools write, and per refusal.

use serde_json::{json, Value};

use super::*;

fn nb(minor: u64, cells: Value) -> String {
    json!({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": minor}).to_string()
}

#[test]
fn papermill_nan_and_infinity_parameters_read_as_null() {
    // What papermill wrote for `-p x nan -p y inf -p z -inf`, plus the tokens in a
    // string, which must stay as they are.
    let text = r#"{"cells": [], "metadata": {"papermill": {"parameters": {"x": NaN, "y": Infinity, "z": -Infinity, "s": "NaN Infinity -Infinity \" NaN"}}, "l": [NaN,-Infinity]}, "nbformat": 4, "nbformat_minor": 5}"#;
    let nb = parse(text).unwrap();
    let p = &nb["metadata"]["papermill"]["parameters"];
    assert_eq!(p["x"], Value::Null);
    assert_eq!(p["y"], Value::Null);
    assert_eq!(p["z"], Value::Null);
    assert_eq!(p["s"], "NaN Infinity -Infinity \" NaN");
    assert_eq!(nb["metadata"]["l"], json!([null, null]));
}

#[test]
fn broken_json_is_still_refused_with_its_position() {
    let e = parse("{\"cells\": [NaN,]}").unwrap_err();
    assert!(e.starts_with("not JSON") && e.contains("line 1"), "{e}");
    let e = parse("{\n\"a\": Nope}").unwrap_err();
    assert!(e.starts_with("not JSON") && e.contains("line 2"), "{e}");
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let text = format!("\u{feff}{}", nb(5, json!([])));
    assert_eq!(parse(&text).unwrap()["nbformat"], 4);
}

#[test]
fn vscode_integer_language_version_is_read() {
    // papermill's own tests/notebooks/blank-vscode.ipynb: VS Code wrote
    // `language_info.version` as the integer 3 (the runtimed nbformat crate wants a
    // string), `orig_nbformat`, no kernelspec, nbformat_minor 2 and `source: []`.
    let text = r#"{"metadata": {"language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py", "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3", "version": 3}, "orig_nbformat": 2}, "nbformat": 4, "nbformat_minor": 2,
        "cells": [{"cell_type": "code", "execution_count": null, "metadata": {"vscode": {"languageId": "python"}}, "outputs": [], "source": []}]}"#;
    let nb = parse(text).unwrap();
    assert_eq!(nb["metadata"]["language_info"]["version"], 3);
    assert_eq!(nb["cells"][0]["source"], "");
    assert_eq!(nb["cells"][0]["metadata"]["vscode"]["languageId"], "python");
}

#[test]
fn nbformat_4_0_without_ids_and_with_null_counts_is_read() {
    let text = nb(
        0,
        json!([{"cell_type": "code", "execution_count": null, "metadata": {"collapsed": false, "scrolled": "auto"},
                "outputs": [{"output_type": "execute_result", "execution_count": null, "data": {"text/plain": ["1"]}, "metadata": {}},
                            {"output_type": "stream", "name": "stdout", "text": ["a\n", "b"], "metadata": {}}],
                "source": ["x = 1\n", "x"]}]),
    );
    let nb = parse(&text).unwrap();
    let cell = &nb["cells"][0];
    assert_eq!(cell["source"], "x = 1\nx");
    assert_eq!(cell["outputs"][0]["data"]["text/plain"], "1");
    assert_eq!(cell["outputs"][1]["text"], "a\nb");
    assert!(cell.get("id").is_none(), "ids are the writer's business");
}

#[test]
fn source_as_one_string_or_a_list_reads_the_same() {
    let a = parse(&nb(4, json!([{"cell_type": "raw", "metadata": {"format": "text/x-rst"}, "source": "a\nb"}]))).unwrap();
    let b = parse(&nb(4, json!([{"cell_type": "raw", "metadata": {"format": "text/x-rst"}, "source": ["a\n", "b"]}]))).unwrap();
    assert_eq!(a, b);
}

#[test]
fn unknown_keys_at_every_level_are_kept() {
    let text = json!({
        "cells": [{"cell_type": "code", "id": "c1", "execution_count": 1, "source": "", "x_cell": [1],
                   "metadata": {"x_meta": {"deep": null}, "execution": {"iopub.status.busy": "t", "x": 1}, "jupyter": {"source_hidden": true, "x": 2}},
                   "outputs": [{"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2}, "text/plain": "w"},
                                "metadata": {"x_out": 1}, "transient": {"display_id": "d"}}]}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "P", "x_ks": 1}, "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}, "x_top": {"a": [1, {"b": 2}]}},
        "nbformat": 4, "nbformat_minor": 5, "x_root": true
    });
    let nb = parse(&text.to_string()).unwrap();
    assert_eq!(nb, text, "nothing was dropped or changed");
}

#[test]
fn missing_required_fields_get_nbformat_defaults() {
    let nb = parse(&nb(4, json!([{"cell_type": "code", "source": "x"}, {"cell_type": "markdown", "source": "m"},
        {"cell_type": "code", "source": "y", "metadata": {}, "outputs": [{"output_type": "execute_result", "data": {}}]}]))).unwrap();
    assert_eq!(nb["cells"][0], json!({"cell_type": "code", "source": "x", "metadata": {}, "execution_count": null, "outputs": []}));
    assert_eq!(nb["cells"][1], json!({"cell_type": "markdown", "source": "m", "metadata": {}}));
    assert_eq!(nb["cells"][2]["outputs"][0], json!({"output_type": "execute_result", "data": {}, "metadata": {}, "execution_count": null}));
}

#[test]
fn attachments_unicode_and_json_mimes_are_read() {
    let text = nb(5, json!([
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "![a](attachment:a.png) ünïcode 🎉",
         "attachments": {"a.png": {"image/png": "iVBORw0KGgo="}, "b.svg": {"image/svg+xml": ["<svg>\n", "</svg>"]}}},
        {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 2, "source": "",
         "outputs": [{"output_type": "execute_result", "execution_count": 2, "metadata": {},
                      "data": {"application/json": [1, 2], "application/vnd.foo+json": 3, "text/plain": "x"}},
                     {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t"]}]}
    ]));
    let nb = parse(&text).unwrap();
    assert_eq!(nb["cells"][0]["attachments"]["b.svg"]["image/svg+xml"], "<svg>\n</svg>");
    assert_eq!(nb["cells"][1]["outputs"][0]["data"]["application/json"], json!([1, 2]));
}

#[test]
fn wrong_types_are_refused_naming_the_cell_and_field() {
    let cases: Vec<(String, &str)> = vec![
        (nb(5, json!([{"cell_type": "code", "source": 7}])), "cell 0: `source`"),
        (nb(5, json!([{"cell_type": "potato", "source": ""}])), "cell 0: unknown cell_type \"potato\""),
        (nb(5, json!([1])), "cell 0: a cell must be an object"),
        (nb(5, json!([{"cell_type": "raw", "source": "", "metadata": []}])), "cell 0: `metadata` must be an object"),
        (nb(5, json!([{"cell_type": "raw", "source": "", "metadata": {"tags": "parameters"}}])), "cell 0: `metadata.tags` must be a list of strings"),
        (nb(5, json!([{"cell_type": "raw", "source": "", "metadata": {"collapsed": "false"}}])), "`metadata.collapsed` must be true or false"),
        (nb(5, json!([{"cell_type": "code", "source": "", "execution_count": -1}])), "cell 0: `execution_count` must be a non-negative integer or null, not -1"),
        (nb(5, json!([{"cell_type": "code", "source": "", "execution_count": 1.5}])), "`execution_count`"),
        (nb(5, json!([{"cell_type": "code", "source": "", "outputs": {}}])), "cell 0: `outputs` must be a list"),
        (nb(5, json!([{"cell_type": "raw", "source": ""}, {"cell_type": "code", "source": "", "outputs": [{"output_type": "stream", "name": 1, "text": ""}]}])), "cell 1: output 0: `name` must be a string"),
        (nb(5, json!([{"cell_type": "code", "source": "", "outputs": [{"output_type": "pdf"}]}])), "cell 0: output 0: unknown output_type \"pdf\""),
        (nb(5, json!([{"cell_type": "code", "source": "", "outputs": [{"output_type": "display_data", "data": {"text/plain": 1}}]}])), "output 0: `data.text/plain` must be a string or a list of strings"),
        (nb(5, json!([{"cell_type": "code", "source": "", "outputs": [{"output_type": "error", "ename": "E", "evalue": "v"}]}])), "output 0: error output has no `traceback`"),
        (nb(5, json!([{"cell_type": "markdown", "source": "", "attachments": {"a.png": {"image/png": 1}}}])), "`attachments.a.png.image/png`"),
        (nb(5, json!([{"cell_type": "raw", "id": "a b", "source": ""}])), "cell 0: `id` must be 1 to 64"),
        (r#"{"cells": [], "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}"#.into(), "`metadata.kernelspec` has no `display_name`"),
        (r#"{"cells": [], "metadata": {"language_info": {"name": 3}}, "nbformat": 4, "nbformat_minor": 5}"#.into(), "`metadata.language_info.name` must be a string"),
        (r#"{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": "5"}"#.into(), "`nbformat_minor`"),
        (r#"{"cells": [], "metadata": {}, "nbformat": 4.0, "nbformat_minor": 5}"#.into(), "no integer `nbformat`"),
        (r#"{"nbformat": 3, "metadata": {}, "worksheets": []}"#.into(), "nbformat 3 is not supported; convert it"),
        (r#"{"cells": [], "nbformat": 4}"#.into(), "`metadata` is missing"),
        ("[]".into(), "not a JSON object"),
    ];
    for (text, expected) in cases {
        let e = parse(&text).expect_err(&text);
        assert!(e.contains(expected), "{text}\n  gave: {e}\n  expected: {expected}");
    }
}

#[test]
fn ids_of_4_4_notebooks_are_not_checked() {
    // Before 4.5 an id is an unknown key; the writer replaces a malformed one.
    assert!(parse(&nb(4, json!([{"cell_type": "raw", "id": "a b", "source": ""}]))).is_ok());
}

#[test]
fn finds_the_parameters_cell() {
    let with = parse(&nb(5, json!([{"cell_type": "code", "source": "", "metadata": {"tags": ["x", "parameters"]}}]))).unwrap();
    let without = parse(&nb(5, json!([{"cell_type": "code", "source": "", "metadata": {"tags": ["x"]}}]))).unwrap();
    assert!(has_parameters_cell(&with));
    assert!(!has_parameters_cell(&without));
}

#[test]
fn a_large_notebook_with_non_finite_values_reads() {
    // 20 MB of outputs and a NaN at the very end: the lenient pass rewrites it all.
    let line = format!("\"{}\\n\",", "x".repeat(1000));
    let text = format!(
        r#"{{"cells": [{{"cell_type": "code", "execution_count": 1, "metadata": {{}}, "source": "", "outputs": [{{"output_type": "stream", "name": "stdout", "text": [{} "end"]}}]}}], "metadata": {{"v": NaN}}, "nbformat": 4, "nbformat_minor": 5}}"#,
        line.repeat(20_000)
    );
    let nb = parse(&text).unwrap();
    assert_eq!(nb["metadata"]["v"], Value::Null);
    assert_eq!(nb["cells"][0]["outputs"][0]["text"].as_str().unwrap().len(), 20_000 * 1001 + 3);
}
