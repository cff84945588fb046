//! Kernelspecs as users have them: the one `python -m ipykernel install` writes
//! (absolute interpreter, `-Xfrozen_modules=off`), specs with their own interpreter
//! flags and kernel-app options, and ones that cannot be forked. Warm kernels are
//! forked from a zygote started with the spec's interpreter and flags; every ipykernel
//! starts with in-memory history, as under papermill.

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::*;

/// What a probe notebook records about its kernel: its parent process's command
/// line (a zygote's, when forked), interpreter flags, history file, a spec-set name.
const PROBE: &str = "\
import os, sys
parent_cmd = open(f'/proc/{os.getppid()}/cmdline').read().split('\\0')[:-1]
frozen = sys._xoptions.get('frozen_modules')
utf8 = sys.flags.utf8_mode
optimize = sys.flags.optimize
hist = str(get_ipython().history_manager.hist_file)
from_spec = globals().get('from_spec')";

const OUTPUTS: &str = "[parent_cmd, frozen, utf8, optimize, hist, from_spec]";

fn notebook(source: &str) -> Value {
    json!({
        "cells": [{"cell_type": "code", "execution_count": null, "id": "probe", "metadata": {}, "outputs": [], "source": source}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5
    })
}

fn write_spec(jupyter_path: &Path, name: &str, argv: &[&str]) {
    let dir = jupyter_path.join("kernels").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = json!({"argv": argv, "display_name": name, "language": "python"});
    std::fs::write(dir.join("kernel.json"), spec.to_string()).unwrap();
}

/// `deckle run` a workflow of probe nodes, `(name, kernel or None)`, with `env`;
/// the nodes' outputs by name, and stderr.
fn run_probes(nodes: &[(&str, Option<&str>)], env: &[(&str, &str)]) -> (Vec<Value>, String) {
    let d = tmp();
    std::fs::write(d.path().join("probe.ipynb"), notebook(PROBE).to_string()).unwrap();
    let mut yaml = String::from("workflow: probes\nnodes:\n");
    for (name, kernel) in nodes {
        let kernel = kernel.map(|k| format!(", kernel: {k}")).unwrap_or_default();
        yaml.push_str(&format!("  {name}: {{ notebook: probe.ipynb, outputs: {OUTPUTS}{kernel} }}\n"));
    }
    let file = d.path().join("probes.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut cmd = deckle();
    cmd.args(["run", "--json", "--data"]).arg(d.path().join("data")).arg(&file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    let run: Value = serde_json::from_slice(&o.stdout).unwrap();
    let outputs = nodes
        .iter()
        .map(|(name, _)| {
            let n = run["nodes"].as_array().unwrap().iter().find(|n| n["node"] == *name).unwrap();
            n["outputs"].clone()
        })
        .collect();
    (outputs, err)
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

/// The parent is a zygote: the spec's interpreter running Deckle's zygote source.
fn forked_from_zygote(out: &Value) -> bool {
    let cmd = strs(&out["parent_cmd"]);
    cmd.iter().any(|a| a.contains("Deckle's kernel zygote"))
}

/// `scripts/setup.sh` installs `python3` with `python -m ipykernel install --prefix`;
/// its kernels are forked from one zygote started with the spec's own interpreter
/// and `-Xfrozen_modules=off`, and run with in-memory history.
#[test]
fn the_installed_python3_kernelspec_is_forked_from_a_zygote_with_its_flags() {
    let spec_file = venv().join("share/jupyter/kernels/python3/kernel.json");
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(&spec_file).unwrap()).unwrap();
    let argv = strs(&spec["argv"]);
    assert!(
        Path::new(argv[0]).is_absolute() && argv.contains(&"-Xfrozen_modules=off"),
        "{} is not the `ipykernel install` form {argv:?}: run scripts/setup.sh --test",
        spec_file.display()
    );
    let (outs, err) = run_probes(&[("a", None), ("b", None)], &[]);
    for out in &outs {
        assert!(forked_from_zygote(out), "kernel not forked from a zygote: {out:#}\n{err}");
        let parent = strs(&out["parent_cmd"]);
        assert_eq!(&parent[..2], &argv[..2], "zygote not started as the spec's interpreter with its flags");
        assert_eq!(out["frozen"], "off");
        assert_eq!(out["hist"], ":memory:");
    }
}

/// Interpreter flags reach the zygote; kernel-app options after the connection file
/// reach each fork; specs that differ in flags get zygotes of their own, specs that
/// differ only in kernel-app options share one.
#[test]
fn kernelspec_flags_and_kernel_app_options_are_kept_when_forked() {
    let jp = tmp();
    let python = venv().join("bin/python").display().to_string();
    let py = python.as_str();
    write_spec(jp.path(), "plain", &[py, "-m", "ipykernel_launcher", "-f", "{connection_file}"]);
    write_spec(jp.path(), "plain-opts", &[py, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.exec_lines=from_spec = 42"]);
    write_spec(jp.path(), "flagged", &[py, "-X", "utf8", "-O", "-m", "ipykernel", "-f", "{connection_file}", "--IPKernelApp.exec_lines=from_spec = 7"]);
    let jupyter_path = jp.path().display().to_string();
    let (outs, err) = run_probes(
        &[("plain", Some("plain")), ("opts", Some("plain-opts")), ("flagged", Some("flagged"))],
        &[("JUPYTER_PATH", &jupyter_path)],
    );
    let [plain, opts, flagged] = &outs[..] else { unreachable!() };
    for out in &outs {
        assert!(forked_from_zygote(out), "kernel not forked from a zygote: {out:#}\n{err}");
        assert_eq!(out["hist"], ":memory:");
    }
    assert_eq!(strs(&flagged["parent_cmd"])[1..3], ["-Xutf8", "-O"]);
    assert_eq!((&flagged["utf8"], &flagged["optimize"], &flagged["from_spec"]), (&json!(1), &json!(1), &json!(7)));
    assert_eq!((&plain["utf8"], &plain["optimize"], &plain["from_spec"]), (&json!(0), &json!(0), &Value::Null));
    assert_eq!(opts["from_spec"], 42);
    assert_eq!(plain["parent_cmd"], opts["parent_cmd"], "same interpreter and flags: one zygote");
    assert_ne!(strs(&plain["parent_cmd"])[1], "-Xutf8");
}

/// A kernelspec that is not a bare Python interpreter running ipykernel (here an
/// `env` wrapper) boots the normal way, and the debug log says why.
#[test]
fn a_kernelspec_that_cannot_be_forked_boots_normally_and_the_log_says_why() {
    let jp = tmp();
    let python = venv().join("bin/python").display().to_string();
    write_spec(jp.path(), "wrapped", &["/usr/bin/env", &python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]);
    let jupyter_path = jp.path().display().to_string();
    let (outs, err) = run_probes(
        &[("wrapped", Some("wrapped"))],
        &[("JUPYTER_PATH", &jupyter_path), ("DECKLE_LOG", "deckle_worker=debug")],
    );
    assert!(!forked_from_zygote(&outs[0]), "{:#}", outs[0]);
    assert!(strs(&outs[0]["parent_cmd"])[0].ends_with("deckle"), "{:#}", outs[0]);
    assert!(err.contains("not forked from a zygote") && err.contains("`/usr/bin/env` is not a Python interpreter"), "{err}");
}

/// nbclient starts ipykernel with `--HistoryManager.hist_file=:memory:`; a notebook
/// that reads the history manager sees the same under `deckle execute`.
#[test]
fn history_is_in_memory_under_deckle_execute_as_under_papermill() {
    let d = tmp();
    let input = d.path().join("hist.ipynb");
    std::fs::write(&input, notebook("print(get_ipython().history_manager.hist_file)").to_string()).unwrap();
    let (pm, dk) = (d.path().join("pm.ipynb"), d.path().join("dk.ipynb"));
    let theirs = papermill().arg(&input).arg(&pm).output().unwrap();
    assert_eq!(code(&theirs), 0, "{}", stderr(&theirs));
    let ours = execute(&input, &dk, &[]);
    assert_eq!(code(&ours), 0, "{}", stderr(&ours));
    let text = |nb: &Path| stream_text(&cells(&read_nb(nb))[0], "stdout");
    assert_eq!(text(&pm), ":memory:\n");
    assert_eq!(text(&dk), text(&pm));
}
