//! Notebooks other tools wrote (VS Code, Jupyter 4.0–4.4, papermill itself), run
//! through the real papermill and `deckle execute` side by side: both must write the
//! same cells, sources, outputs and injected cell, as nbformat 4.5, keeping every key
//! of the input's metadata. Python's nbformat (in the venv) is the oracle: what
//! `nbformat.read` reads we read the same, what we write `nbformat.validate` accepts,
//! and what it refuses we refuse too, naming the cell or field.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::harness::*;

fn real(name: &str) -> PathBuf {
    fixture(&format!("real/{name}"))
}

struct Both {
    ours: Value,
    theirs: Value,
    ours_path: PathBuf,
    ours_out: Output,
    theirs_out: Output,
    _dir: tempfile::TempDir,
}

/// papermill and deckle on `input` with `args`, each writing `out.ipynb` in its own directory.
fn run_both(input: &Path, args: &[&str]) -> Both {
    let dir = tmp();
    let (pm, dk) = (dir.path().join("pm"), dir.path().join("dk"));
    std::fs::create_dir_all(&pm).unwrap();
    std::fs::create_dir_all(&dk).unwrap();
    let theirs_out = papermill().current_dir(&pm).arg(input).arg("out.ipynb").args(args).output().unwrap();
    let ours_out = deckle().current_dir(&dk).args(["execute", "--no-progress-bar"]).arg(input).arg("out.ipynb").args(args).output().unwrap();
    assert_eq!(code(&theirs_out), 0, "papermill failed: {}", stderr(&theirs_out));
    assert_eq!(code(&ours_out), 0, "deckle failed: {}", stderr(&ours_out));
    let ours_path = dk.join("out.ipynb");
    Both { ours: read_nb(&ours_path), theirs: read_nb(&pm.join("out.ipynb")), ours_path, ours_out, theirs_out, _dir: dir }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

/// Outputs with multi-line fields joined (a list of lines and one string are the same text).
fn outputs(cell: &Value) -> Vec<Value> {
    let mut outs = cell["outputs"].as_array().cloned().unwrap_or_default();
    for o in &mut outs {
        if let Some(t) = o.get_mut("text") {
            *t = Value::String(join(t));
        }
        for d in o.get_mut("data").and_then(Value::as_object_mut).into_iter().flat_map(|d| d.values_mut()) {
            if d.is_array() && d.as_array().unwrap().iter().all(Value::is_string) {
                *d = Value::String(join(d));
            }
        }
    }
    outs
}

/// Both wrote the same notebook: version, metadata keys, cells, sources, tags,
/// counts, attachments, outputs and the injected cell.
fn assert_same_notebook(b: &Both) {
    let (o, t) = (&b.ours, &b.theirs);
    let ctx = format!("\n--- deckle stderr:\n{}\n--- papermill stderr:\n{}", stderr(&b.ours_out), stderr(&b.theirs_out));
    assert_eq!((&o["nbformat"], &o["nbformat_minor"]), (&json!(4), &json!(5)), "deckle writes 4.5{ctx}");
    assert_eq!((&o["nbformat"], &o["nbformat_minor"]), (&t["nbformat"], &t["nbformat_minor"]), "nbformat version{ctx}");
    assert_eq!(keys(&o["metadata"]), keys(&t["metadata"]), "notebook metadata keys{ctx}");
    let (oc, tc) = (cells(o), cells(t));
    assert_eq!(oc.len(), tc.len(), "cell count{ctx}");
    for (i, (a, z)) in oc.iter().zip(tc).enumerate() {
        let at = format!("cell {i} ({:?}){ctx}", join(&z["source"]));
        assert_eq!(a["cell_type"], z["cell_type"], "{at}");
        assert_eq!(join(&a["source"]), join(&z["source"]), "{at}: source");
        assert_eq!(a["metadata"]["tags"], z["metadata"]["tags"], "{at}: tags");
        assert_eq!(keys(&a["metadata"]), keys(&z["metadata"]), "{at}: metadata keys");
        assert_eq!(keys(a), keys(z), "{at}: cell keys");
        let id = a["id"].as_str().unwrap_or_else(|| panic!("{at}: no id"));
        assert!(!id.is_empty() && id.len() <= 64, "{at}: id {id:?}");
        assert_eq!(a["execution_count"], z["execution_count"], "{at}: execution_count");
        assert_eq!(a["attachments"], z["attachments"], "{at}: attachments");
        assert_eq!(outputs(a), outputs(z), "{at}: outputs");
    }
    let injected = |nb: &Value| cells(nb).iter().find(|c| c["metadata"]["tags"] == json!(["injected-parameters"])).map(|c| join(&c["source"]));
    assert_eq!(injected(o), injected(t), "injected cell{ctx}");
    let ids: std::collections::HashSet<&str> = oc.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), oc.len(), "cell ids are unique");
}

/// What Python's nbformat makes of a file: strict JSON (no NaN), `nbformat.validate`'s
/// verdict, and per cell its type, source and metadata as `nbformat.read` reads them.
fn nbformat_view(path: &Path) -> Value {
    let script = r#"
import json, sys, nbformat
text = open(sys.argv[1], encoding='utf-8').read()
def no_nan(tok): raise ValueError('non-standard JSON token ' + tok)
try:
    json.loads(text, parse_constant=no_nan); strict = True
except ValueError:
    strict = False
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    nbformat.validate(nb); valid = None
except nbformat.ValidationError as e:
    valid = str(e).splitlines()[0]
cells = [{'cell_type': c.cell_type, 'source': c.source, 'metadata': c.metadata} for c in nb.cells]
view = json.dumps({'strict': strict, 'invalid': valid, 'cells': cells, 'metadata': nb.metadata})
# Non-finite numbers as deckle reads them (null), so Rust can read the view.
print(json.dumps(json.loads(view, parse_constant=lambda tok: None)))
"#;
    let o = python().arg("-c").arg(script).arg(path).output().unwrap();
    assert_eq!(code(&o), 0, "nbformat could not read {}: {}", path.display(), stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Our output is strict JSON and valid nbformat; the input, as nbformat reads it,
/// is all there: every cell's source, and every metadata key with its value.
fn assert_faithful_to_input(input: &Path, b: &Both) {
    let out = nbformat_view(&b.ours_path);
    assert_eq!(out["strict"], true, "deckle writes strict JSON");
    assert_eq!(out["invalid"], Value::Null, "nbformat.validate refuses what deckle wrote");
    let inp = nbformat_view(input);
    for (k, v) in inp["metadata"].as_object().unwrap() {
        if k != "papermill" && k != "language_info" && !k.starts_with("orig_nbformat") {
            assert_eq!(&b.ours["metadata"][k], v, "notebook metadata.{k} kept as it was");
        }
    }
    // The input's cells, in order, among ours (which add the injected one).
    let ours: Vec<&Value> = cells(&b.ours).iter().filter(|c| c["metadata"]["tags"] != json!(["injected-parameters"])).collect();
    let theirs: Vec<&Value> = inp["cells"].as_array().unwrap().iter().filter(|c| c["metadata"]["tags"] != json!(["injected-parameters"])).collect();
    assert_eq!(ours.len(), theirs.len(), "cells kept");
    for (i, (a, z)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a["cell_type"], z["cell_type"], "cell {i}");
        assert_eq!(join(&a["source"]), join(&z["source"]), "cell {i}: source as nbformat reads it");
        for (k, v) in z["metadata"].as_object().unwrap() {
            if k != "papermill" && k != "execution" && k != "ExecuteTime" {
                assert_eq!(&a["metadata"][k], v, "cell {i}: metadata.{k} kept as it was");
            }
        }
    }
}

#[test]
fn vscode_saved_notebook_runs_like_papermill() {
    // VS Code wrote `language_info.version: 3` (an integer), `orig_nbformat`, no
    // `kernelspec.language`, nbformat 4.2 without ids, `source: []`: the runtimed
    // nbformat crate refused it with "invalid type: integer `3`, expected a string".
    let input = real("vscode.ipynb");
    let b = run_both(&input, &["-p", "n", "5"]);
    assert_same_notebook(&b);
    assert_faithful_to_input(&input, &b);
    assert_eq!(stream_text(&cells(&b.ours)[2], "stdout"), "10\n");
    assert_eq!(b.ours["metadata"]["vscode"]["interpreter"]["hash"].as_str().map(str::len), Some(64));
}

#[test]
fn nbformat_4_0_notebook_runs_like_papermill() {
    let input = real("nbformat_4_0.ipynb");
    let b = run_both(&input, &["-p", "times", "3"]);
    assert_same_notebook(&b);
    assert_faithful_to_input(&input, &b);
    assert_eq!(stream_text(&cells(&b.ours)[3], "stdout"), "hi hi hi\n");
    assert_eq!(cells(&b.ours)[3]["metadata"]["scrolled"], "auto");
}

#[test]
fn nbformat_4_1_attachments_and_raw_formats_run_like_papermill() {
    let input = real("nbformat_4_1.ipynb");
    let b = run_both(&input, &["-p", "x", "5"]);
    assert_same_notebook(&b);
    assert_faithful_to_input(&input, &b);
    assert_eq!(stream_text(&cells(&b.ours)[3], "stdout"), "50\n");
    assert!(cells(&b.ours)[0]["attachments"]["dot.png"]["image/png"].as_str().is_some_and(|s| s.starts_with("iVBOR")));
}

#[test]
fn nbformat_4_4_notebook_runs_like_papermill() {
    // The shape of papermill's own tests/notebooks/nb_version_4.4.ipynb.
    let input = real("nbformat_4_4.ipynb");
    let b = run_both(&input, &["-p", "var", "9"]);
    assert_same_notebook(&b);
    assert_faithful_to_input(&input, &b);
    assert_eq!(stream_text(&cells(&b.ours)[2], "stdout"), "9\n");
}

#[test]
fn notebook_without_ids_keeps_unknown_metadata_like_papermill() {
    let input = real("no_ids_unknown_keys.ipynb");
    let b = run_both(&input, &["-p", "name", "Zoë"]);
    assert_same_notebook(&b);
    assert_faithful_to_input(&input, &b);
    assert_eq!(b.ours["metadata"]["my_tool"], json!({"run": [1, {"deep": null}]}));
    assert_eq!(cells(&b.ours)[1]["metadata"]["my_cell_key"], "kept");
    let shown = &cells(&b.ours)[3];
    assert_eq!(stream_text(shown, "stdout"), "hello Zoë ✓\n");
    let html = shown["outputs"].as_array().unwrap().iter().find(|o| o["output_type"] == "display_data").expect("display_data");
    assert_eq!(html["metadata"], json!({"isolated": true}), "output metadata kept");
}

#[test]
fn source_as_string_notebook_runs_like_papermill() {
    let input = real("source_as_string.ipynb");
    let b = run_both(&input, &["-p", "a", "5"]);
    assert_same_notebook(&b);
    assert_faithful_to_input(&input, &b);
    let work = &cells(&b.ours)[2];
    assert_eq!(work["id"], "work", "a valid 4.5 id is kept");
    assert_eq!(stream_text(work, "stdout"), "15\n");
    assert_eq!(work["source"], json!(["print(a * b)\n", "a + b"]), "written as nbformat writes it: a list of lines");
}

/// A notebook papermill wrote with `-p var nan -p big inf`: its metadata holds bare
/// `NaN` and `Infinity`, which Python's json reads and serde_json refuses.
fn papermill_output_with_nan(dir: &Path) -> PathBuf {
    let first = dir.join("papermill_nan.ipynb");
    let o = papermill().arg(real("nbformat_4_4.ipynb")).arg(&first).args(["-p", "var", "nan", "-p", "big", "-inf"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(text.contains("\"var\": NaN") && text.contains("\"big\": -Infinity"), "papermill wrote non-standard JSON, as the test needs");
    first
}

#[test]
fn papermill_output_with_nan_parameters_reruns_like_papermill() {
    let dir = tmp();
    let first = papermill_output_with_nan(dir.path());
    let b = run_both(&first, &["-p", "var", "2"]);
    assert_same_notebook(&b);
    assert_faithful_to_input(&first, &b);
    let injected = cells(&b.ours).iter().filter(|c| c["metadata"]["tags"] == json!(["injected-parameters"])).count();
    assert_eq!(injected, 1, "the earlier injected cell is replaced");
    assert_eq!(stream_text(&cells(&b.ours)[2], "stdout"), "2\n");
    // Re-run without parameters: the earlier injected cell runs again, and both keep
    // the earlier record of parameters; papermill writes bare `NaN`/`-Infinity` back,
    // deckle strict JSON's `null` (read_nb shows papermill's as null too).
    let again = run_both(&first, &[]);
    assert_same_notebook(&again);
    assert_eq!(stream_text(&cells(&again.ours)[2], "stdout"), "nan\n");
    assert_eq!(again.ours["metadata"]["papermill"]["parameters"], json!({"var": null, "big": null}));
    assert_eq!(again.ours["metadata"]["papermill"]["parameters"], again.theirs["metadata"]["papermill"]["parameters"]);
}

#[test]
fn validate_accepts_vscode_and_papermill_output_notebooks() {
    let dir = tmp();
    papermill_output_with_nan(dir.path());
    std::fs::copy(real("vscode.ipynb"), dir.path().join("vscode.ipynb")).unwrap();
    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        "workflow: real_notebooks\nnodes:\n  first: { notebook: papermill_nan.ipynb, params: { var: 1 } }\n  second: { notebook: vscode.ipynb, needs: [first], params: { n: 2 } }\n",
    )
    .unwrap();
    let o = deckle().arg("validate").arg(&wf).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("parameters"), "both have a parameters cell: {}", stderr(&o));
    // And a notebook nbformat refuses is refused at validation, naming the cell.
    std::fs::write(dir.path().join("vscode.ipynb"), r#"{"cells": [{"cell_type": "code", "source": 7}], "metadata": {}, "nbformat": 4, "nbformat_minor": 2}"#).unwrap();
    let o = deckle().arg("validate").arg(&wf).output().unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("vscode.ipynb") && stderr(&o).contains("cell 0: `source`"), "{}", stderr(&o));
}

#[test]
fn what_nbformat_refuses_is_refused_naming_the_cell_or_field() {
    let nb = |cells: Value, md: Value| json!({"cells": cells, "metadata": md, "nbformat": 4, "nbformat_minor": 5}).to_string();
    let code_cell = |extra: Value| {
        let mut c = json!({"cell_type": "code", "id": "c", "execution_count": null, "metadata": {}, "outputs": [], "source": ""});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let cases = [
        (nb(json!([code_cell(json!({"source": 7}))]), json!({})), "cell 0: `source`"),
        (nb(json!([code_cell(json!({"execution_count": -2}))]), json!({})), "cell 0: `execution_count`"),
        (nb(json!([code_cell(json!({"metadata": {"tags": "parameters"}}))]), json!({})), "cell 0: `metadata.tags`"),
        (nb(json!([code_cell(json!({"id": "has space"}))]), json!({})), "cell 0: `id`"),
        (nb(json!([code_cell(json!({"outputs": [{"output_type": "stream", "name": "stdout", "text": 5}]}))]), json!({})), "cell 0: output 0: `text`"),
        (nb(json!([code_cell(json!({"outputs": [{"output_type": "error", "ename": "E", "evalue": "v"}]}))]), json!({})), "cell 0: output 0: error output has no `traceback`"),
        (nb(json!([{"cell_type": "heading", "source": "", "metadata": {}}]), json!({})), "cell 0: unknown cell_type"),
        (nb(json!([]), json!({"kernelspec": {"name": "python3"}})), "`metadata.kernelspec` has no `display_name`"),
    ];
    let dir = tmp();
    for (i, (text, expected)) in cases.iter().enumerate() {
        let f = dir.path().join(format!("bad{i}.ipynb"));
        std::fs::write(&f, text).unwrap();
        assert!(nbformat_view(&f)["invalid"].is_string(), "nbformat accepts case {i}: {text}");
        let o = execute(&f, &dir.path().join("out.ipynb"), &["-k", "python3"]);
        assert_eq!(code(&o), 2, "case {i}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("bad{i}.ipynb")) && err.contains(expected), "case {i}: expected {expected:?} in {err}");
    }
}

#[test]
fn every_real_fixture_reads_as_nbformat_reads_it() {
    // nbformat accepts each input (some with schema notes it only logs), and deckle
    // prepares each without a kernel, keeping nbformat's view of every cell's source.
    let dir = tmp();
    for name in ["vscode.ipynb", "nbformat_4_0.ipynb", "nbformat_4_1.ipynb", "nbformat_4_4.ipynb", "no_ids_unknown_keys.ipynb", "source_as_string.ipynb"] {
        let input = real(name);
        let view = nbformat_view(&input);
        let out = dir.path().join(name);
        let o = execute(&input, &out, &["--prepare-only", "-k", "python3"]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let ours = read_nb(&out);
        let sources: Vec<String> = cells(&ours).iter().map(|c| join(&c["source"])).collect();
        let theirs: Vec<String> = view["cells"].as_array().unwrap().iter().map(|c| join(&c["source"])).collect();
        assert_eq!(sources, theirs, "{name}");
        assert_eq!(nbformat_view(&out)["invalid"], Value::Null, "{name}: what we wrote is valid nbformat 4.5");
    }
}

#[test]
fn a_50_mb_notebook_is_read_and_written_back() {
    // 50 MB of stored outputs (a plot-heavy notebook's size), with a papermill NaN.
    let dir = tmp();
    let input = dir.path().join("big.ipynb");
    let line = format!("{}\n", "y".repeat(999));
    let lines: Vec<Value> = (0..1000).map(|_| Value::String(line.clone())).collect();
    let cell = json!({"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "print('x')",
                      "outputs": [{"output_type": "stream", "name": "stdout", "text": lines}]});
    let nb = json!({"cells": vec![cell; 50], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, "papermill": {"parameters": {"v": "@NAN@"}}}, "nbformat": 4, "nbformat_minor": 4});
    std::fs::write(&input, nb.to_string().replace("\"@NAN@\"", "NaN")).unwrap();
    assert!(std::fs::metadata(&input).unwrap().len() > 50_000_000);
    let out = dir.path().join("out.ipynb");
    let o = execute(&input, &out, &["--prepare-only"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let written = read_nb(&out);
    assert_eq!(cells(&written).len(), 50);
    assert_eq!(join(&cells(&written)[49]["outputs"][0]["text"]).len(), 1_000_000, "every line of every output kept");
}
