//! papermill's command line as existing scripts write it, run through the real
//! papermill and `deckle execute` side by side: every option papermill 2.7 has,
//! paths formatted with parameters, `-` for standard input and output, nbclient's
//! cell tags, and a kernel that cannot start.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::execute_compat::{assert_same_record, injected_source, run_both, run_both_to};
use crate::harness::*;

/// A Python notebook of code cells `(source, tags)`, written to `dir/name`.
fn notebook(dir: &Path, name: &str, cells: &[(&str, &[&str])]) -> PathBuf {
    let cells: Vec<Value> = cells
        .iter()
        .enumerate()
        .map(|(i, (src, tags))| {
            json!({"cell_type": "code", "id": format!("c{i}"), "metadata": {"tags": tags}, "source": src, "outputs": [], "execution_count": null})
        })
        .collect();
    let nb = json!({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}, "language_info": {"name": "python"}},
        "cells": cells,
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&nb).unwrap()).unwrap();
    path
}

fn params_nb(dir: &Path) -> PathBuf {
    notebook(dir, "in.ipynb", &[("region = 'us'\nn = 1\nmsg = None", &["parameters"]), ("print(region, n, msg)", &[])])
}

#[test]
fn parameters_base64_matches_papermill() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    // "n: 7\nmsg: [a, b]" and "region: fr", base64-encoded.
    let b = run_both(&nb, &["-b", "bjogNwptc2c6IFthLCBiXQ==", "--parameters_base64", "cmVnaW9uOiBmcg==", "-p", "n", "8"]);
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 0, "{}", stderr(&b.ours_out));
    assert_eq!(b.ours["metadata"]["papermill"]["parameters"], json!({"n": 8, "msg": ["a", "b"], "region": "fr"}));
    assert_eq!(stream_text(&cells(&b.ours)[2], "stdout"), "fr 8 ['a', 'b']\n");
}

#[test]
fn inject_paths_match_papermill() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    for flags in [&["--inject-paths"][..], &["--inject-input-path"], &["--inject-output-path"], &["--inject-input-path", "--inject-output-path"]] {
        let b = run_both(&nb, flags);
        assert_same_record(&b);
        let injected = injected_source(&b.ours);
        let input_wanted = flags.iter().any(|f| *f != "--inject-output-path");
        let output_wanted = flags.iter().any(|f| *f != "--inject-input-path");
        assert_eq!(injected.contains(&format!("PAPERMILL_INPUT_PATH = \"{}\"", nb.display())), input_wanted, "{flags:?}: {injected}");
        assert_eq!(injected.contains("PAPERMILL_OUTPUT_PATH = \"out.ipynb\""), output_wanted, "{flags:?}: {injected}");
    }
}

#[test]
fn paths_formatted_with_parameters_match_papermill() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    let b = run_both_to(&nb, "out_{region}_{n}.ipynb", "out_fr_3.ipynb", &["-p", "region", "fr", "-p", "n", "3"]);
    assert_same_record(&b);
    assert_eq!(b.ours["metadata"]["papermill"]["output_path"], "out_fr_3.ipynb");
}

#[test]
fn missing_parameter_in_path_is_a_clear_error() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    let pm = papermill().current_dir(dir.path()).arg(&nb).arg("out_{country}.ipynb").output().unwrap();
    let ours = deckle().current_dir(dir.path()).arg("execute").arg(&nb).arg("out_{country}.ipynb").output().unwrap();
    assert_ne!(code(&pm), 0, "papermill refuses it too: {}", stderr(&pm));
    assert!(stderr(&pm).contains("Missing parameter 'country'"), "{}", stderr(&pm));
    assert_eq!(code(&ours), 2, "bad input");
    let err = stderr(&ours);
    assert!(err.contains("Missing parameter 'country'") && err.contains("out_{country}.ipynb"), "{err}");
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with("out")));
}

#[test]
fn stdout_and_stderr_files_match_papermill() {
    let dir = tmp();
    let nb = notebook(
        dir.path(),
        "streams.ipynb",
        &[("import sys\nprint('out one')\nprint('err one', file=sys.stderr)", &[]), ("print('out two')\nsys.stderr.write('err two\\n')", &[])],
    );
    let mut got = Vec::new();
    for who in ["pm", "dk"] {
        let d = dir.path().join(who);
        std::fs::create_dir_all(&d).unwrap();
        let mut cmd = if who == "pm" { papermill() } else { deckle_execute() };
        let o = cmd.current_dir(&d).arg(&nb).arg("out.ipynb").args(["--stdout-file", "so.txt", "--stderr-file", "se.txt"]).output().unwrap();
        assert_eq!(code(&o), 0, "{who}: {}", stderr(&o));
        got.push((std::fs::read_to_string(d.join("so.txt")).unwrap(), std::fs::read_to_string(d.join("se.txt")).unwrap()));
    }
    assert_eq!(got[0], got[1]);
    assert_eq!(got[1].0, "out one\nout two\n");
    assert_eq!(got[1].1, "err one\nerr two\n");
}

fn deckle_execute() -> Command {
    let mut c = deckle();
    c.args(["execute", "--no-progress-bar"]);
    c
}

#[test]
fn help_notebook_matches_papermill() {
    let dir = tmp();
    let nb = notebook(
        dir.path(),
        "help.ipynb",
        &[("region: str = 'us'  # where\nn = 1  # type: int\nthreshold_for_alerts_in_percent = 0.25  # alert above this\nflag = True", &["parameters"])],
    );
    let none = notebook(dir.path(), "none.ipynb", &[("x = 1", &[])]);
    for (input, want_code) in [(&nb, 0), (&none, 1)] {
        let pm = papermill().arg(input).arg("--help-notebook").output().unwrap();
        let ours = deckle().arg("execute").arg(input).arg("--help-notebook").output().unwrap();
        assert_eq!(code(&pm), want_code, "{}", stderr(&pm));
        assert_eq!(code(&ours), want_code, "{}", stderr(&ours));
        // The first line is each tool's own usage line.
        let body = |o: &Output| String::from_utf8_lossy(&o.stdout).split_once('\n').map(|(_, rest)| rest.to_string()).unwrap_or_default();
        assert_eq!(body(&ours), body(&pm));
        assert!(body(&ours).contains("Parameters inferred for notebook"), "{}", body(&ours));
    }
}

/// `cat in.ipynb | TOOL - - …`: the notebook from stdin, to stdout, and nothing else there.
fn piped(mut cmd: Command, input: &Path, args: &[&str]) -> (Output, Value) {
    let mut child = cmd.args(["-", "-"]).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(input).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8");
    let nb: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not exactly one notebook ({e}):\n{text}\n{}", stderr(&out)));
    (out, nb)
}

#[test]
fn stdin_and_stdout_notebooks_match_papermill() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    let (pm, theirs) = piped(papermill(), &nb, &["-p", "region", "eu"]);
    let mut dk = deckle();
    dk.arg("execute");
    let (dk_out, ours) = piped(dk, &nb, &["-p", "region", "eu", "--log-output"]);
    assert_eq!(code(&pm), 0);
    assert_eq!(code(&dk_out), 0, "{}", stderr(&dk_out));
    assert_eq!(ours["metadata"]["papermill"]["input_path"], theirs["metadata"]["papermill"]["input_path"]);
    assert_eq!(ours["metadata"]["papermill"]["output_path"], "-");
    assert_eq!(injected_source(&ours), injected_source(&theirs));
    assert_eq!(stream_text(&cells(&ours)[2], "stdout"), "eu 1 None\n");
    // --log-output goes to stderr when stdout carries the notebook.
    assert!(stderr(&dk_out).contains("eu 1 None"), "{}", stderr(&dk_out));
}

#[test]
fn one_path_with_piped_stdin_is_the_output_like_papermill() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    for (who, mut cmd) in [("pm", papermill()), ("dk", { let mut c = deckle(); c.arg("execute"); c })] {
        let out = dir.path().join(format!("{who}.ipynb"));
        let mut child = cmd.arg(&out).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(&std::fs::read(&nb).unwrap()).unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{who}: {}", stderr(&o));
        let written = read_nb(&out);
        assert_eq!(written["metadata"]["papermill"]["input_path"], "-", "{who}");
        assert_eq!(stream_text(&cells(&written)[1], "stdout"), "us 1 None\n", "{who}");
    }
}

/// A cell that asks whether the output notebook exists yet: with saves per cell it
/// does; with `--no-request-save-on-cell-execute` it appears only at the end.
#[test]
fn no_request_save_on_cell_execute_matches_papermill() {
    let dir = tmp();
    let nb = notebook(dir.path(), "saves.ipynb", &[("import os\nprint(os.path.exists(PAPERMILL_OUTPUT_PATH))", &[])]);
    for (flag, exists) in [("--request-save-on-cell-execute", "True\n"), ("--no-request-save-on-cell-execute", "False\n")] {
        let b = run_both(&nb, &["--inject-output-path", flag]);
        assert_same_record(&b);
        assert_eq!(stream_text(&cells(&b.ours)[1], "stdout"), exists, "{flag}");
    }
}

#[test]
fn every_papermill_spelling_is_accepted() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    let b = run_both(
        &nb,
        &[
            "--engine", "nbclient", "--log-level", "WARNING", "--start_timeout", "60", "--start-timeout", "60",
            "--prepare-only", "--prepare-execute", "--report-mode", "--no-report-mode", "--log-output", "--no-log-output",
            "--progress-bar", "--no-progress-bar", "--autosave-cell-every", "5", "-l", "python", "-k", "python3",
            "--parameters_raw", "region", "5", "--parameters_yaml", "n: 2", "--execution-timeout", "60",
        ],
    );
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 0, "{}", stderr(&b.ours_out));
    assert_eq!(stream_text(&cells(&b.ours)[2], "stdout"), "5 2 None\n");
    let o = deckle_execute().arg(&nb).arg(dir.path().join("x.ipynb")).args(["--engine", "papermill_spark"]).output().unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("papermill_spark"), "{}", stderr(&o));
}

#[test]
fn raises_exception_tag_lets_the_run_go_on_like_papermill() {
    let dir = tmp();
    let nb = notebook(
        dir.path(),
        "raises.ipynb",
        &[("x = 1", &[]), ("raise ValueError('expected')", &["raises-exception"]), ("print('after', x)", &[]), ("", &[])],
    );
    let b = run_both(&nb, &[]);
    assert_same_record(&b);
    assert_eq!(code(&b.ours_out), 1, "papermill still fails the run: {}", stderr(&b.theirs_out));
    let c = cells(&b.ours);
    assert_eq!(c[0]["metadata"]["tags"], json!(["papermill-error-cell-tag"]));
    let after = c.iter().find(|c| join(&c["source"]).starts_with("print('after'")).unwrap();
    assert_eq!(stream_text(after, "stdout"), "after 1\n", "the cell after the raising one ran");
    assert!(stderr(&b.ours_out).contains("ValueError: expected"), "{}", stderr(&b.ours_out));
}

#[test]
fn skip_execution_and_empty_cells_match_papermill() {
    let dir = tmp();
    let nb = notebook(
        dir.path(),
        "skips.ipynb",
        &[("print('skipped')", &["skip-execution"]), ("   \n", &[]), ("print('ran')", &[])],
    );
    let b = run_both(&nb, &[]);
    assert_same_record(&b);
    let c = cells(&b.ours);
    assert_eq!(c[0]["outputs"], json!([]));
    assert_eq!(c[0]["execution_count"], Value::Null, "never sent to the kernel");
    assert_eq!(c[0]["metadata"]["papermill"]["status"], "completed");
    assert_eq!(c[2]["execution_count"], 1, "the first cell the kernel saw");
}

/// A kernelspec whose interpreter does not exist, found through `JUPYTER_PATH`.
fn broken_kernel(dir: &Path) -> PathBuf {
    let k = dir.join("jupyter/kernels/broken");
    std::fs::create_dir_all(&k).unwrap();
    let spec = json!({"argv": ["/nonexistent/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "Broken", "language": "python"});
    std::fs::write(k.join("kernel.json"), spec.to_string()).unwrap();
    dir.join("jupyter")
}

#[test]
fn kernel_that_cannot_start_still_writes_the_output_notebook() {
    let dir = tmp();
    let nb = params_nb(dir.path());
    let jp = broken_kernel(dir.path());
    for (kernel, exit, names) in [("no-such-kernel", 2, "kernel 'no-such-kernel' not found"), ("broken", 3, "/nonexistent/bin/python")] {
        let pm_out = dir.path().join(format!("pm-{kernel}.ipynb"));
        let dk_out = dir.path().join(format!("dk-{kernel}.ipynb"));
        let pm = papermill().env("JUPYTER_PATH", &jp).arg(&nb).arg(&pm_out).args(["-k", kernel, "-p", "n", "2"]).output().unwrap();
        let ours = deckle_execute().env("JUPYTER_PATH", &jp).arg(&nb).arg(&dk_out).args(["-k", kernel, "-p", "n", "2"]).output().unwrap();
        assert_ne!(code(&pm), 0);
        assert!(pm_out.is_file(), "papermill writes one ({kernel})");
        assert_eq!(code(&ours), exit, "{kernel}: {}", stderr(&ours));
        let err = stderr(&ours);
        assert_eq!(err.lines().filter(|l| l.starts_with("deckle:")).count(), 1, "{err}");
        assert!(err.contains(names) && err.contains(&dk_out.display().to_string()), "{err}");
        let (ours_nb, theirs_nb) = (read_nb(&dk_out), read_nb(&pm_out));
        assert_eq!(injected_source(&ours_nb), injected_source(&theirs_nb), "{kernel}: the prepared notebook is the record");
        assert_eq!(ours_nb["metadata"]["papermill"]["exception"], true);
        assert!(ours_nb["metadata"]["papermill"]["end_time"].is_string());
        let recorded = ours_nb["metadata"]["deckle"]["error"].as_str().unwrap_or_default();
        assert!(recorded.contains(names), "{kernel}: {recorded}");
        // Nothing ran: unlike papermill, no cell is marked completed.
        assert!(cells(&ours_nb).iter().all(|c| c["metadata"]["papermill"]["status"] == "pending"), "{kernel}");
    }
}
