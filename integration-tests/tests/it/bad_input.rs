//! Bad input and hostile notebooks: each gets its exit code (docs/cli.md: 2 bad input,
//! 3 kernel died, 4 timeout) and one clear line on stderr naming the file, kernel or
//! cell; a written notebook stays readable.

use std::path::Path;

use serde_json::json;

use crate::harness::*;

/// The `deckle:` line on stderr (exactly one).
fn error_line(o: &std::process::Output) -> String {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("deckle:")).collect();
    assert_eq!(lines.len(), 1, "expected one deckle: line, got: {err}");
    lines[0].to_string()
}

#[test]
fn missing_file_is_bad_input() {
    let d = tmp();
    let o = execute(&d.path().join("nope.ipynb"), &d.path().join("out.ipynb"), &[]);
    assert_eq!(code(&o), 2);
    let line = error_line(&o);
    assert!(line.contains("nope.ipynb") && line.contains("no such file"), "{line}");
    assert!(!d.path().join("out.ipynb").exists(), "nothing written for bad input");
}

#[test]
fn not_json_names_line_and_column() {
    let d = tmp();
    let f = d.path().join("broken.ipynb");
    std::fs::write(&f, "{\n \"cells\": [\n  oops\n]}").unwrap();
    let o = execute(&f, &d.path().join("out.ipynb"), &[]);
    assert_eq!(code(&o), 2);
    let line = error_line(&o);
    assert!(line.contains("broken.ipynb") && line.contains("not JSON") && line.contains("line 3"), "{line}");
}

#[test]
fn json_that_is_not_a_notebook_is_bad_input() {
    let d = tmp();
    for (name, body, expect) in [
        ("list.ipynb", "[1, 2]", "not a JSON object"),
        ("nofmt.ipynb", "{\"cells\": []}", "nbformat"),
        ("v3.ipynb", "{\"nbformat\": 3, \"metadata\": {}, \"worksheets\": []}", "nbformat 3"),
        ("badcell.ipynb", "{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {}, \"cells\": [{\"cell_type\": \"code\", \"source\": 7}]}", "cell 0"),
    ] {
        let f = d.path().join(name);
        std::fs::write(&f, body).unwrap();
        let o = execute(&f, &d.path().join("out.ipynb"), &[]);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        let line = error_line(&o);
        assert!(line.contains(name) && line.contains(expect), "{name}: {line}");
    }
}

#[test]
fn unknown_kernel_lists_the_available_ones() {
    let d = tmp();
    let o = execute(&fixture("params.ipynb"), &d.path().join("out.ipynb"), &["-k", "no-such-kernel"]);
    assert_eq!(code(&o), 2);
    let line = error_line(&o);
    assert!(line.contains("kernel 'no-such-kernel' not found") && line.contains("python3") && line.contains("bash"), "{line}");
}

#[test]
fn notebook_without_kernelspec_needs_dash_k() {
    let d = tmp();
    let f = d.path().join("nokernel.ipynb");
    std::fs::write(&f, r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}"#).unwrap();
    let o = execute(&f, &d.path().join("out.ipynb"), &[]);
    assert_eq!(code(&o), 2);
    assert!(error_line(&o).contains("no kernel name"), "{}", stderr(&o));
}

#[test]
fn bad_parameters_are_bad_input() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let o = execute(&fixture("params.ipynb"), &out, &["-f", "/no/such/params.yaml"]);
    assert_eq!(code(&o), 2);
    assert!(error_line(&o).contains("/no/such/params.yaml"), "{}", stderr(&o));
    let o = execute(&fixture("params.ipynb"), &out, &["-y", "[1, 2]"]);
    assert_eq!(code(&o), 2);
    assert!(error_line(&o).contains("mapping"), "{}", stderr(&o));
    let o = execute(&fixture("params.ipynb"), &out, &["--outputs", "a;b"]);
    assert_eq!(code(&o), 2);
    assert!(error_line(&o).contains("not a variable name"), "{}", stderr(&o));
    let o = execute(&fixture("params.ipynb"), &out, &["-p", "onlyname"]);
    assert_eq!(code(&o), 2, "a -p without a value is a usage error");
}

/// A kernelspec directory for the tests, in its own JUPYTER_PATH.
fn fake_kernel(dir: &Path, argv: serde_json::Value) {
    let k = dir.join("kernels/fake");
    std::fs::create_dir_all(&k).unwrap();
    std::fs::write(k.join("kernel.json"), json!({"argv": argv, "display_name": "Fake", "language": "python"}).to_string()).unwrap();
}

#[test]
fn kernel_that_never_starts_times_out() {
    let d = tmp();
    fake_kernel(d.path(), json!(["sh", "-c", "sleep 30", "{connection_file}"]));
    let out = d.path().join("out.ipynb");
    let started = std::time::Instant::now();
    let o = deckle()
        .env("JUPYTER_PATH", d.path())
        .args(["execute", "--no-progress-bar", "-k", "fake", "--start-timeout", "1"])
        .arg(fixture("params.ipynb"))
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(error_line(&o).contains("kernel 'fake' did not become ready within 1s"), "{}", stderr(&o));
    assert!(started.elapsed().as_secs() < 20, "the sleeping kernel was not waited for");
    // The output notebook was written before the kernel was asked for: all pending.
    let nb = read_nb(&out);
    assert_eq!(nb["metadata"]["papermill"]["exception"], json!(true));
}

#[test]
fn kernel_that_exits_at_start_is_a_dead_kernel() {
    let d = tmp();
    fake_kernel(d.path(), json!(["sh", "-c", "echo cannot import ipykernel >&2; exit 7", "{connection_file}"]));
    let o = deckle()
        .env("JUPYTER_PATH", d.path())
        .args(["execute", "--no-progress-bar", "-k", "fake"])
        .arg(fixture("params.ipynb"))
        .arg(d.path().join("out.ipynb"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let line = error_line(&o);
    assert!(line.contains("exited with status 7") && line.contains("cannot import ipykernel"), "{line}");
}

#[test]
fn kernel_killed_mid_cell_is_exit_3_and_the_notebook_says_so() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let o = execute(&fixture("kills_kernel.ipynb"), &out, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let line = error_line(&o);
    assert!(line.contains("cell 2") && line.contains("SIGKILL"), "{line}");
    let nb = read_nb(&out);
    let c = cells(&nb);
    // error header, cell 1, anchor, the cell that died, the pending one
    assert_eq!(c.len(), 5, "{c:#?}");
    assert_eq!(stream_text(&c[1], "stdout"), "about to die\n");
    assert_eq!(c[3]["metadata"]["papermill"]["status"], "failed");
    assert_eq!(c[3]["outputs"][0]["ename"], "DeadKernelError");
    assert_eq!(c[4]["metadata"]["papermill"]["status"], "pending");
}

#[test]
fn cell_that_never_ends_is_interrupted_at_the_timeout() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let o = execute(&fixture("sleeps.ipynb"), &out, &["--execution-timeout", "1"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let line = error_line(&o);
    assert!(line.contains("cell 2") && line.contains("did not finish within 1s"), "{line}");
    let nb = read_nb(&out);
    let c = cells(&nb);
    let stuck = &c[3];
    assert_eq!(stuck["metadata"]["papermill"]["status"], "failed");
    // The interrupt's traceback shows where it was stuck.
    let enames: Vec<&str> = stuck["outputs"].as_array().unwrap().iter().filter_map(|o| o["ename"].as_str()).collect();
    assert_eq!(enames, vec!["KeyboardInterrupt"], "{stuck:#}");
    assert_eq!(c[4]["metadata"]["papermill"]["status"], "pending");
}

#[test]
fn cell_that_ignores_the_interrupt_gets_its_kernel_killed() {
    let d = tmp();
    // Kernels of this run carry this private TMPDIR in their connection-file path.
    let tmpdir = d.path().join("kernel-tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = d.path().join("out.ipynb");
    let started = std::time::Instant::now();
    let o = deckle()
        .env("TMPDIR", &tmpdir)
        .args(["execute", "--no-progress-bar", "--execution-timeout", "1"])
        .arg(fixture("ignores_interrupt.ipynb"))
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    // A guard against hanging forever, not a speed check (a loaded CI machine is slow).
    assert!(started.elapsed().as_secs() < 120, "took {:?}", started.elapsed());
    let nb = read_nb(&out);
    let stuck = &cells(&nb)[2];
    assert_eq!(stuck["outputs"].as_array().unwrap().last().unwrap()["ename"], "CellTimeoutError");
    let leftover = processes_mentioning(tmpdir.to_str().unwrap());
    assert!(leftover.is_empty(), "the stuck kernel was left running: {leftover:?}");
}
