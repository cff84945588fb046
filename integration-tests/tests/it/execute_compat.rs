//! `deckle execute` against the real papermill (2.7.0, from PyPI, in the test venv):
//! same notebook, same parameters, and the two output notebooks must record the same
//! things — injected cell text, tags, cell count, metadata keys and statuses, stream
//! text, results, error cells — and exit with the same code.

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::harness::*;

pub(crate) struct Both {
    pub(crate) ours: Value,
    pub(crate) theirs: Value,
    pub(crate) ours_out: Output,
    pub(crate) theirs_out: Output,
}

/// Run papermill and deckle on `input` with `args`, each writing `out.ipynb` in its
/// own directory (so recorded `output_path`s are equal too).
pub(crate) fn run_both(input: &Path, args: &[&str]) -> Both {
    let dir = tmp();
    let (pm_dir, dk_dir) = (dir.path().join("pm"), dir.path().join("dk"));
    std::fs::create_dir_all(&pm_dir).unwrap();
    std::fs::create_dir_all(&dk_dir).unwrap();
    let input = input.to_str().unwrap();
    let theirs_out = papermill().current_dir(&pm_dir).arg(input).arg("out.ipynb").args(args).output().unwrap();
    let ours_out = deckle()
        .current_dir(&dk_dir)
        .args(["execute", "--no-progress-bar", input, "out.ipynb"])
        .args(args)
        .output()
        .unwrap();
    Both {
        ours: read_nb(&dk_dir.join("out.ipynb")),
        theirs: read_nb(&pm_dir.join("out.ipynb")),
        ours_out,
        theirs_out,
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

/// Outputs other than streams, with their payloads.
fn non_stream_outputs(cell: &Value) -> Vec<Value> {
    cell["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["output_type"] != "stream")
        .map(|o| {
            let mut o = o.clone();
            for field in ["data"] {
                if let Some(d) = o.get_mut(field).and_then(Value::as_object_mut) {
                    for v in d.values_mut() {
                        if v.is_array() {
                            *v = Value::String(join(v));
                        }
                    }
                }
            }
            o
        })
        .collect()
}

/// Everything papermill's record says, compared field by field. Times, durations and
/// random cell ids differ by nature; their presence and type are compared instead.
pub(crate) fn assert_same_record(b: &Both) {
    let (o, t) = (&b.ours, &b.theirs);
    let ctx = |what: &str| format!("{what}\n--- deckle stderr:\n{}\n--- papermill stderr:\n{}", stderr(&b.ours_out), stderr(&b.theirs_out));
    assert_eq!(code(&b.ours_out), code(&b.theirs_out), "{}", ctx("exit codes differ"));
    assert_eq!(keys(o), keys(t), "top-level keys");
    assert_eq!(o["nbformat"], t["nbformat"]);
    assert_eq!(o["nbformat_minor"], t["nbformat_minor"]);
    assert_eq!(keys(&o["metadata"]), keys(&t["metadata"]), "notebook metadata keys");
    assert_eq!(o["metadata"]["kernelspec"], t["metadata"]["kernelspec"]);
    assert_eq!(o["metadata"]["language_info"], t["metadata"]["language_info"], "language_info from kernel_info_reply");
    let (opm, tpm) = (&o["metadata"]["papermill"], &t["metadata"]["papermill"]);
    assert_eq!(keys(opm), keys(tpm), "metadata.papermill keys");
    for k in ["parameters", "exception", "default_parameters", "environment_variables", "input_path", "output_path"] {
        assert_eq!(opm[k], tpm[k], "metadata.papermill.{k}");
    }
    for k in ["start_time", "end_time"] {
        assert_eq!(opm[k].is_string(), tpm[k].is_string(), "metadata.papermill.{k} type");
    }
    assert_eq!(opm["duration"].is_number(), tpm["duration"].is_number());

    let (oc, tc) = (cells(o), cells(t));
    let sources = |c: &Vec<Value>| c.iter().map(|x| join(&x["source"])).collect::<Vec<_>>();
    assert_eq!(oc.len(), tc.len(), "cell count; deckle: {:#?}\npapermill: {:#?}", sources(oc), sources(tc));
    for (i, (a, z)) in oc.iter().zip(tc).enumerate() {
        let at = format!("cell {i} ({:?})", join(&z["source"]));
        assert_eq!(a["cell_type"], z["cell_type"], "{at}: cell_type");
        assert_eq!(join(&a["source"]), join(&z["source"]), "{at}: source");
        assert_eq!(a["metadata"]["tags"], z["metadata"]["tags"], "{at}: tags");
        assert_eq!(a["metadata"]["jupyter"], z["metadata"]["jupyter"], "{at}: jupyter metadata");
        assert_eq!(keys(&a["metadata"]), keys(&z["metadata"]), "{at}: metadata keys");
        assert_eq!(a["id"].as_str().map(str::len), z["id"].as_str().map(str::len), "{at}: id");
        let (ap, zp) = (&a["metadata"]["papermill"], &z["metadata"]["papermill"]);
        assert_eq!(keys(ap), keys(zp), "{at}: metadata.papermill keys");
        assert_eq!(ap["status"], zp["status"], "{at}: status");
        assert_eq!(ap["exception"], zp["exception"], "{at}: exception");
        assert_eq!(ap["duration"].is_number(), zp["duration"].is_number(), "{at}: duration");
        assert_eq!(keys(&a["metadata"]["execution"]), keys(&z["metadata"]["execution"]), "{at}: metadata.execution keys");
        assert_eq!(a["execution_count"], z["execution_count"], "{at}: execution_count");
        for name in ["stdout", "stderr"] {
            assert_eq!(stream_text(a, name), stream_text(z, name), "{at}: {name}");
        }
        assert_eq!(non_stream_outputs(a), non_stream_outputs(z), "{at}: outputs");
        assert_eq!(keys(a), keys(z), "{at}: cell keys");
    }
}

pub(crate) fn injected_source(nb: &Value) -> String {
    let c = cells(nb).iter().find(|c| c["metadata"]["tags"] == json!(["injected-parameters"])).expect("injected cell");
    join(&c["source"])
}

#[test]
fn every_parameter_type_matches_papermill() {
    let b = run_both(
        &fixture("params.ipynb"),
        &[
            "-p", "s", "he said \"hi\"\nthen \\ left: ünïcode 🎉 \t tab",
            "-p", "i", "42",
            "-p", "f", "1e-05",
            "-p", "b", "True",
            "-p", "n", "None",
            "-y", "l: [1, two, 3.5, null, [nested]]\nd: {k: v, n: [1, 2], z: {deep: true}}",
        ],
    );
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 0, "{}", stderr(&b.ours_out));
    let printed = stream_text(&cells(&b.ours)[3], "stdout");
    assert!(printed.contains("i int 42") && printed.contains("b bool True") && printed.contains("n NoneType None"), "{printed}");
    assert!(printed.contains("f float 1e-05") && printed.contains("l list [1, 'two', 3.5, None, ['nested']]"), "{printed}");
}

#[test]
fn special_floats_big_ints_and_raw_strings_match_papermill() {
    let b = run_both(
        &fixture("params.ipynb"),
        &["-p", "f", "nan", "-p", "i", "123456789012345678901234567890", "-r", "s", "True", "-p", "n", "-inf", "-p", "extra", "1_000"],
    );
    // Papermill writes nan into metadata as a bare `NaN` (not JSON); Deckle writes
    // null. Everything else must agree.
    assert_same_record(&b);
    assert_eq!(injected_source(&b.ours), injected_source(&b.theirs));
    let printed = stream_text(&cells(&b.ours)[3], "stdout");
    assert!(printed.contains("f float nan") && printed.contains("s str 'True'") && printed.contains("n float -inf"), "{printed}");
    assert!(stderr(&b.ours_out).contains("Passed unknown parameter: extra"), "{}", stderr(&b.ours_out));
}

#[test]
fn notebook_without_parameters_cell_matches_papermill() {
    let b = run_both(&fixture("no_parameters_cell.ipynb"), &["-p", "x", "5"]);
    assert_same_record(&b);
    assert_eq!(cells(&b.ours)[0]["metadata"]["tags"], json!(["injected-parameters"]));
    assert!(stderr(&b.ours_out).contains("does not contain a cell with tag 'parameters'"));
}

#[test]
fn rerunning_an_output_notebook_matches_papermill() {
    let dir = tmp();
    let first = dir.path().join("first.ipynb");
    let o = papermill().arg(fixture("params.ipynb")).arg(&first).args(["-p", "i", "1"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = run_both(&first, &["-p", "i", "7", "-p", "s", "again"]);
    assert_same_record(&b);
    let injected = cells(&b.ours).iter().filter(|c| c["metadata"]["tags"] == json!(["injected-parameters"])).count();
    assert_eq!(injected, 1, "the injected cell is replaced, not added");
    assert_eq!(injected_source(&b.ours), "# Parameters\ni = 7\ns = \"again\"\n");
}

#[test]
fn failing_cell_matches_papermill() {
    let b = run_both(&fixture("fails.ipynb"), &["-p", "divisor", "0"]);
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 1);
    let c = cells(&b.ours);
    assert_eq!(c[0]["metadata"]["tags"], json!(["papermill-error-cell-tag"]));
    assert!(join(&c[0]["source"]).contains("In [4]"), "{}", join(&c[0]["source"]));
    let err = stderr(&b.ours_out);
    assert!(err.contains("ZeroDivisionError") && err.contains("cell 4") && err.contains("boom"), "{err}");
    assert_eq!(err.trim().lines().filter(|l| l.starts_with("deckle:")).count(), 1, "one clear line: {err}");
}

#[test]
fn bash_kernel_matches_papermill() {
    let b = run_both(&fixture("bash.ipynb"), &["-p", "name", "wide world's", "-p", "count", "3"]);
    assert_same_record(&b);
    assert_eq!(stream_text(&cells(&b.ours)[2], "stdout"), "hello wide world's x3\n");
    assert_eq!(injected_source(&b.ours), "# Parameters\nname='wide world'\"'\"'s'\ncount=3\n");
}

#[test]
fn report_mode_matches_papermill() {
    let b = run_both(&fixture("params.ipynb"), &["--report-mode", "-p", "i", "3"]);
    assert_same_record(&b);
    assert_eq!(cells(&b.ours)[2]["metadata"]["jupyter"]["source_hidden"], json!(true));
}

#[test]
fn prepare_only_matches_papermill() {
    let b = run_both(&fixture("params.ipynb"), &["--prepare-only", "-p", "i", "3"]);
    // Nothing ran: no papermill timing, no outputs.
    assert_eq!(code(&b.ours_out), 0);
    assert_eq!(keys(&b.ours["metadata"]["papermill"]), keys(&b.theirs["metadata"]["papermill"]));
    assert_eq!(cells(&b.ours).len(), cells(&b.theirs).len());
    assert_eq!(injected_source(&b.ours), injected_source(&b.theirs));
    assert!(cells(&b.ours).iter().all(|c| c["outputs"].as_array().is_none_or(Vec::is_empty)));
}

#[test]
fn parameter_files_and_yaml_merge_like_papermill() {
    let dir = tmp();
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, "i: 1\ns: from-file\nl: [a]\nday: 2024-01-02\n").unwrap();
    let file = file.to_str().unwrap();
    let b = run_both(&fixture("params.ipynb"), &["-f", file, "-y", "i: 2\nd: {x: 1}", "-p", "i", "3", "-r", "b", "raw"]);
    assert_same_record(&b);
    assert_eq!(
        b.ours["metadata"]["papermill"]["parameters"],
        json!({"i": 3, "s": "from-file", "l": ["a"], "day": "2024-01-02", "d": {"x": 1}, "b": "raw"})
    );
}

#[test]
fn displays_updates_clears_and_clean_exit_match_papermill() {
    let b = run_both(&fixture("displays.ipynb"), &[]);
    assert_same_record(&b);
    let first = &cells(&b.ours)[0]["outputs"][0];
    assert_eq!(join(&first["data"]["text/plain"]), "v2", "update_display_data rewrote the earlier output");
    assert_eq!(stream_text(&cells(&b.ours)[1], "stdout"), "y\n", "clear_output(wait=True) cleared before the next output");
}

/// Our files are what `nbformat.writes` would write for the same notebook, byte for
/// byte: same layout, key order, line splitting, escaping and float repr.
#[test]
fn written_files_are_byte_identical_to_nbformat_writes() {
    let dir = tmp();
    let mut outs = Vec::new();
    for (nb, args) in [("params.ipynb", vec!["-p", "f", "1e-05", "-p", "s", "é\u{1}\u{7f}\u{2028}x"]), ("fails.ipynb", vec![]), ("displays.ipynb", vec![])] {
        let out = dir.path().join(nb);
        let o = deckle().args(["execute", "--no-progress-bar"]).arg(fixture(nb)).arg(&out).args(&args).output().unwrap();
        assert!(code(&o) <= 1, "{}", stderr(&o));
        outs.push(out);
    }
    let script = "import sys, nbformat\nfor p in sys.argv[1:]:\n    s = open(p, encoding='utf-8').read()\n    w = nbformat.writes(nbformat.reads(s, as_version=4))\n    if w != s:\n        print(p)\n        import difflib; print(''.join(list(difflib.unified_diff(w.splitlines(True), s.splitlines(True)))[:40]))\n        sys.exit(1)\n";
    let o = python().arg("-c").arg(script).args(&outs).output().unwrap();
    assert_eq!(code(&o), 0, "{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
}
