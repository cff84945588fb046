//! Recorded outputs: scraps written by the real scrapbook library and declared
//! variables fetched through `user_expressions`, via the CLI and the library API
//! the orchestrator calls.

use serde_json::json;

use crate::harness::*;

#[test]
fn scrapbook_scraps_and_declared_variables_are_read_back() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let outputs = d.path().join("outputs.json");
    let o = deckle()
        .args(["execute", "--no-progress-bar", "-p", "rows", "4", "--outputs", "total,summary", "--outputs-file"])
        .arg(&outputs)
        .arg(fixture("scraps.ipynb"))
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&outputs).unwrap()).unwrap();
    assert_eq!(
        got,
        json!({
            "rows_seen": 4,
            "label": "second",
            "nested": {"a": [1, 2.5, null], "b": "x"},
            "total": 12,
            "summary": {"total": 12, "ok": true, "names": ["a", "é"]},
        })
    );
    // And scrapbook itself reads the same scraps from our output notebook.
    let script = "import sys, json, scrapbook as sb\nnb = sb.read_notebook(sys.argv[1])\nprint(json.dumps({k: v.data for k, v in nb.scraps.items()}, sort_keys=True))";
    let o = python().arg("-c").arg(script).arg(&out).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let theirs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(theirs, json!({"rows_seen": 4, "label": "second", "nested": {"a": [1, 2.5, null], "b": "x"}}));
}

#[test]
fn a_missing_declared_variable_is_a_clear_error() {
    let d = tmp();
    let o = deckle()
        .args(["execute", "--no-progress-bar", "--outputs", "total,never_set"])
        .arg(fixture("scraps.ipynb"))
        .arg(d.path().join("out.ipynb"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("output 'never_set': declared in outputs but the notebook never set it"), "{}", stderr(&o));
}

#[test]
fn library_api_returns_recorded_outputs() {
    let d = tmp();
    let mut opts = deckle_worker::execute::ExecuteOptions::new(fixture("scraps.ipynb"), d.path().join("out.ipynb"));
    opts.params.insert("rows".into(), deckle_worker::params::ParamValue::Int(2));
    opts.outputs = vec!["total".into()];
    // Kernel discovery looks in the venv, without touching the process environment.
    opts.search_env = Some([("VIRTUAL_ENV".to_string(), venv().display().to_string())].into());
    let rt = tokio_runtime();
    let report = rt.block_on(deckle_worker::execute::execute_notebook(&opts)).map_err(|f| f.error.to_string()).unwrap();
    assert_eq!(report.recorded["total"], json!(6));
    assert_eq!(report.recorded["label"], json!("second"));
    assert_eq!(report.cells_executed, 4);
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}
