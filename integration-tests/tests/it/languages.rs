//! Kernels other than Python, for real: IRkernel (Debian's `r-cran-irkernel`, its
//! kernelspec put in the venv by `scripts/setup.sh --test`) and bash_kernel run
//! parameterized notebooks through the real papermill and `deckle execute`, and an
//! R node's declared outputs reach a Python node in a `deckle run` workflow.

use std::path::Path;

use serde_json::{json, Value};

use crate::execute_compat::{assert_same_record, injected_source, run_both};
use crate::harness::*;
use crate::workflows;

fn r_notebook() -> std::path::PathBuf {
    let nb = fixture("languages/params.r.ipynb");
    assert!(
        venv().join("share/jupyter/kernels/ir/kernel.json").is_file(),
        "no IR kernelspec in the test venv: run `scripts/setup.sh --test` (it installs r-cran-irkernel)"
    );
    nb
}

/// The same parameters of every type, as `-p` and `-y` give them.
const EVERY_TYPE: &[&str] = &[
    "-p", "s", "say \"hi\", it's C:\\dir\nnext line\ttab",
    "-p", "i", "42",
    "-p", "f", "1e-05",
    "-p", "b", "True",
    "-p", "n", "None",
    "-y", "l: [1, two, 3.5, null, [nested]]\nd: {k: v, n: [1, 2], z: {deep: true}}",
];

#[test]
fn r_kernel_parameters_of_every_type_match_papermill() {
    let b = run_both(&r_notebook(), EVERY_TYPE);
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 0, "{}", stderr(&b.ours_out));
    assert_eq!(
        injected_source(&b.ours),
        "# Parameters\nl = list(1, \"two\", 3.5, NULL, list(\"nested\"))\n\
         d = list(\"k\" = \"v\", \"n\" = list(1, 2), \"z\" = list(\"deep\" = TRUE))\n\
         s = \"say \\\"hi\\\", it's C:\\\\dir\\nnext line\\ttab\"\ni = 42\nf = 1e-05\nb = TRUE\nn = NULL\n"
    );
    // R itself saw the values with the types papermill's R translator gives them.
    let printed = stream_text(&cells(&b.ours)[3], "stdout");
    for line in [
        "s character \"say \\\"hi\\\", it's C:\\\\dir\\nnext line\\ttab\" \n",
        "i numeric 42 \n",
        "f numeric 1e-05 \n",
        "b logical TRUE \n",
        "n NULL NULL \n",
        "l list list(1, \"two\", 3.5, NULL, list(\"nested\")) \n",
        "d list list(k = \"v\", n = list(1, 2), z = list(deep = TRUE)) \n",
    ] {
        assert!(printed.contains(line), "missing {line:?} in {printed}");
    }
    // A data.frame result: IRkernel's rich display, the same in both (compared above).
    let result = &cells(&b.ours)[4]["outputs"][0];
    assert_eq!(result["output_type"], "display_data");
    assert!(join(&result["data"]["text/plain"]).contains("4.2e+01"), "{result}");
    // IRkernel ends a message with an extra newline; papermill records the same.
    assert_eq!(stream_text(&cells(&b.ours)[5], "stderr"), "a message on stderr\n\n");
}

#[test]
fn failing_r_cell_matches_papermill() {
    let b = run_both(&r_notebook(), &["-p", "fail", "True", "-p", "s", "why"]);
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 1);
    let c = cells(&b.ours);
    assert_eq!(c[0]["metadata"]["tags"], json!(["papermill-error-cell-tag"]));
    let failed = c.iter().find(|c| c["metadata"]["papermill"]["status"] == "failed").expect("a failed cell");
    let error = failed["outputs"].as_array().unwrap().iter().find(|o| o["output_type"] == "error").expect("error output");
    assert_eq!(error["ename"], "ERROR", "IRkernel's ename");
    assert!(error["evalue"].as_str().unwrap().contains("asked to fail with why"), "{error}");
    assert_eq!(c.last().unwrap()["metadata"]["papermill"]["status"], "pending", "cells after the failure do not run");
    assert!(stderr(&b.ours_out).contains("asked to fail with why"), "{}", stderr(&b.ours_out));
}

/// A deliberate difference (README table): papermill writes "é" as `"\xe9"`, a raw
/// byte in R: alone it makes an invalid string, next to a `\u` escape R refuses to
/// parse the cell. Deckle writes `"\u00e9"`, the character.
#[test]
fn r_parameters_keep_latin1_characters_papermill_turns_into_raw_bytes() {
    let b = run_both(&r_notebook(), &["-p", "s", "café ü 日本 😀"]);
    let theirs = injected_source(&b.theirs);
    assert!(theirs.contains(r#"s = "caf\xe9 \xfc \u65e5\u672c \U0001f600""#), "papermill changed: {theirs}");
    assert_eq!(code(&b.theirs_out), 1);
    assert!(stderr(&b.theirs_out).contains("mixing Unicode and octal/hex escapes"), "{}", stderr(&b.theirs_out));
    assert_eq!(code(&b.ours_out), 0, "{}", stderr(&b.ours_out));
    assert!(injected_source(&b.ours).contains(r#"s = "caf\u00e9 \u00fc \u65e5\u672c \U0001f600""#));
    let ours = stream_text(&cells(&b.ours)[3], "stdout");
    assert!(ours.contains("s character \"café ü 日本 😀\" \n"), "{ours}");

    let b = run_both(&r_notebook(), &["-p", "s", "café"]);
    assert_eq!((code(&b.ours_out), code(&b.theirs_out)), (0, 0));
    assert!(stream_text(&cells(&b.theirs)[3], "stdout").contains(r#"s character "caf\xe9""#), "papermill's R sees a raw byte");
    assert!(stream_text(&cells(&b.ours)[3], "stdout").contains("s character \"café\""));
}

#[test]
fn bash_kernel_parameters_of_every_type_match_papermill() {
    // bash has no dict (papermill refuses it, as we do: see `translators`).
    let b = run_both(
        &fixture("bash.ipynb"),
        &[
            "-p", "name", "it's $HOME `x`", "-p", "count", "3", "-p", "ratio", "1e-05", "-p", "flag", "True",
            "-p", "nothing", "None", "-y", "items: [1, two words, 3.5, null, true]",
        ],
    );
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 0, "{}", stderr(&b.ours_out));
    assert_eq!(
        injected_source(&b.ours),
        "# Parameters\nitems=(1 'two words' 3.5  true)\nname='it'\"'\"'s $HOME `x`'\ncount=3\nratio=1e-05\nflag=true\nnothing=\n"
    );
    assert_eq!(stream_text(&cells(&b.ours)[2], "stdout"), "hello it's $HOME `x` x3\n");
    // papermill writes None inside a list as nothing: four items, not five.
    assert_eq!(stream_text(&cells(&b.ours)[4], "stdout"), "ratio=1e-05 flag=true nothing=[]\nitems=4: 1 two words 3.5 true\n");
}

#[test]
fn failing_bash_cell_matches_papermill() {
    let b = run_both(&fixture("bash.ipynb"), &["-p", "fail", "true", "-p", "name", "w"]);
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 1);
    let c = cells(&b.ours);
    let failed = c.iter().find(|c| c["metadata"]["papermill"]["status"] == "failed").expect("a failed cell");
    assert_eq!(failed["outputs"].as_array().unwrap().last().unwrap()["evalue"], "1", "bash_kernel's exit status");
    assert!(stream_text(failed, "stdout").contains("failing as asked: w"));
    assert_eq!(c.last().unwrap()["metadata"]["papermill"]["status"], "pending");
}

/// `deckle execute --outputs` on the R node's notebook: `-p`, `--outputs` and the
/// JSON written, with no library in the notebook (IRkernel ignores user_expressions).
fn execute_r_outputs(names: &str) -> (std::process::Output, Value) {
    let d = tmp();
    let outputs = d.path().join("outputs.json");
    let o = deckle()
        .args(["execute", "--no-progress-bar", "-p", "prefix", ">", "--outputs", names, "--outputs-file"])
        .arg(&outputs)
        .arg(fixture("workflows/nb/emit.r.ipynb"))
        .arg(d.path().join("out.ipynb"))
        .output()
        .unwrap();
    let got = std::fs::read_to_string(&outputs).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
    (o, got)
}

#[test]
fn r_declared_outputs_are_read_without_a_library() {
    let (o, got) = execute_r_outputs("s,i,big,f,b,n,l,d,third,one,named,df,m,day");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        got,
        json!({
            "s": ">text with \"quotes\", \\ and é 😀", "i": 42, "big": 1099511627776i64, "f": 2.5, "b": true, "n": null,
            "l": [1, 2.5, null], "d": {"k": [1, 2], "name": "x", "empty": {}},
            "third": 1.0 / 3.0, "one": [5], "named": {"a": 1, "b": 2},
            "df": [{"x": 1, "y": "a", "f": "u"}, {"x": 2, "y": "b", "f": "v"}], "m": [[1, 3], [2, 4]], "day": "2024-02-29",
        })
    );
    // Every digit of a double survives (jsonlite would stop at 15).
    assert_eq!(got["third"].as_f64(), Some(1.0 / 3.0));
}

#[test]
fn r_declared_outputs_that_cannot_be_json_are_clear_errors() {
    for (name, says) in [
        ("never_set", "output 'never_set': declared in outputs but the notebook never set it"),
        ("bad", "output 'bad': cannot be written as JSON (NaN and infinite numbers have no JSON form)"),
        ("fn", "output 'fn': not JSON-serializable (an object of class function)"),
    ] {
        let (o, _) = execute_r_outputs(&format!("s,{name}"));
        assert_eq!(code(&o), 1, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{name}: {}", stderr(&o));
    }
}

/// bash_kernel answers `user_expressions` with `{}` and has no JSON; a notebook on
/// it that declares outputs is refused before any cell runs, naming file and kernel.
#[test]
fn bash_declared_outputs_are_refused_before_any_cell_runs_naming_the_kernel() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let o = deckle().args(["execute", "--no-progress-bar", "--outputs", "name,count"]).arg(fixture("bash.ipynb")).arg(&out).output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("bash.ipynb: output 'name, count': kernel 'bash' (language bash) cannot report declared outputs; they need a Python or R kernel"), "{err}");
    assert!(!out.exists(), "nothing ran, nothing written");

    // In a workflow the failed node carries the same error.
    let (code, run, err) = workflows::run(&fixture("workflows/bash_outputs.yaml"), d.path(), &[]);
    assert_eq!(code, 1, "{err}");
    let greet = workflows::node(&run, "greet");
    assert_eq!(greet["status"], "failed");
    let error = greet["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("output 'greeting': kernel 'bash' (language bash) cannot report declared outputs"), "{greet:#}");
}

#[test]
fn r_node_outputs_reach_a_python_node() {
    let d = tmp();
    let (code, run, err) = workflows::run(&fixture("workflows/r_to_python.yaml"), d.path(), &["--date", "2024-02-29", "-p", "prefix=R:"]);
    assert_eq!(code, 0, "{err}");
    let echo = workflows::node(&run, "echo");
    assert_eq!(
        echo["outputs"]["got"],
        json!({
            "s": "R:text with \"quotes\", \\ and é 😀", "i": 42, "big": 1099511627776i64, "f": 2.5, "b": true, "n": null,
            "l": [1, 2.5, null], "d": {"k": [1, 2], "name": "x", "empty": {}}, "day": "2024-02-29"
        })
    );
    assert_eq!(
        echo["outputs"]["types"],
        json!({"s": "str", "i": "int", "big": "int", "f": "float", "b": "bool", "n": "NoneType", "l": "list", "d": "dict", "day": "str"})
    );
    // The Python node's notebook carries the R values in its injected cell.
    let nb = read_nb(Path::new(echo["attempts"][0]["notebook"].as_str().unwrap()));
    let injected = injected_source(&nb);
    // (papermill's Python translator escapes non-ASCII as `\xe9`, valid Python.)
    for line in [
        "s = \"R:text with \\\"quotes\\\", \\\\ and \\xe9 \\U0001f600\"\n",
        "i = 42\n",
        "big = 1099511627776\n",
        "n = None\n",
        "l = [1, 2.5, None]\n",
        "\"k\": [1, 2]",
        "\"empty\": {}",
    ] {
        assert!(injected.contains(line), "missing {line:?} in {injected}");
    }
    assert_eq!(workflows::node(&run, "emit")["outputs"]["l"], json!([1, 2.5, null]));
}
