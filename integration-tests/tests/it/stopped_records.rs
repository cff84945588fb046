//! An attempt stopped from outside keeps its whole record: what ran, the running
//! cell marked with who stopped it and when, later cells `pending`. Cancels through
//! the server, SIGINT and SIGTERM to `deckle run` and `deckle execute`; and output
//! reaches the server while a cell still runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cluster::{Server, Worker};
use crate::harness::*;

/// A notebook that prints `tick N` every 0.1 s for a minute in its second cell,
/// then has a cell that must never run.
fn ticking_notebook(path: &Path) {
    let cell = |i: usize, src: &str, tags: Value| json!({"cell_type": "code", "id": format!("c{i}"), "metadata": {"tags": tags}, "source": src, "outputs": [], "execution_count": null});
    let nb = json!({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "cells": [
            cell(0, "n = 600", json!(["parameters"])),
            cell(1, "import time\nfor i in range(n):\n    print('tick', i, flush=True)\n    time.sleep(0.1)", json!([])),
            cell(2, "print('never')", json!([])),
        ],
    });
    std::fs::write(path, serde_json::to_string_pretty(&nb).unwrap()).unwrap();
}

/// A folder with `workflow.yaml` (one node, `tick`) over the ticking notebook.
fn ticking_workflow() -> tempfile::TempDir {
    let dir = tmp();
    ticking_notebook(&dir.path().join("tick.ipynb"));
    std::fs::write(dir.path().join("workflow.yaml"), "workflow: ticking\nnodes:\n  tick:\n    notebook: tick.ipynb\n").unwrap();
    dir
}

fn wait_for<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first output notebook under `dir`, recursively.
fn find_notebook(dir: &Path) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_notebook(&p) {
                return Some(f);
            }
        } else if p.extension().is_some_and(|x| x == "ipynb") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            return Some(p);
        }
    }
    None
}

fn signal(child: &Child, sig: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// The cell whose source holds `marker`.
fn cell_with<'a>(nb: &'a Value, marker: &str) -> &'a Value {
    cells(nb).iter().find(|c| join(&c["source"]).contains(marker)).unwrap_or_else(|| panic!("no cell with {marker:?}"))
}

/// The stopped notebook reads like a papermill failure and says who stopped it.
fn assert_stopped_record(nb: &Value, reason: &str, says: &str, ticks_seen: usize) {
    let cut = cell_with(nb, "tick");
    assert_eq!(cut["metadata"]["papermill"]["status"], "failed", "{:#}", cut["metadata"]);
    let printed = stream_text(cut, "stdout");
    assert!(printed.lines().count() >= ticks_seen, "the output before the stop is kept: {printed:?}");
    let err = cut["outputs"].as_array().unwrap().iter().find(|o| o["output_type"] == "error").expect("a stop marker");
    assert_eq!(err["ename"], reason);
    assert!(err["evalue"].as_str().unwrap().contains(says), "{err:#}");
    assert_eq!(cell_with(nb, "never")["metadata"]["papermill"]["status"], "pending");
    assert_eq!(nb["metadata"]["deckle"]["stopped"]["reason"], reason);
    assert_eq!(nb["metadata"]["papermill"]["exception"], true);
    assert!(nb["metadata"]["papermill"]["end_time"].is_string());
}

/// `deckle run` of the ticking workflow in `dir` (data under `dir/data`), once its
/// saved notebook holds a few ticks: output is saved while the cell runs.
fn start_ticking_run(dir: &Path) -> (Child, PathBuf) {
    let data = dir.join("data");
    let child = deckle()
        .args(["run", "--json", "--data"])
        .arg(&data)
        .arg(dir.join("workflow.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let nb_path = wait_for(Duration::from_secs(60), "ticks in the saved notebook", || {
        let p = find_notebook(&data.join("artifacts"))?;
        let nb: Value = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
        (stream_text(cell_with(&nb, "tick"), "stdout").lines().count() >= 3).then_some(p)
    });
    (child, nb_path)
}

#[test]
fn deckle_run_sigterm_and_sigint_cancel_and_finish_the_notebook() {
    for (name, exit) in [("SIGTERM", 143), ("SIGINT", 130)] {
        let dir = ticking_workflow();
        let (child, nb_path) = start_ticking_run(dir.path());
        signal(&child, name.trim_start_matches("SIG"));
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), exit, "{name}: {}", stderr(&out));
        let run: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{name}: {}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(run["run"]["status"], "cancelled", "{name}");
        assert_stopped_record(&read_nb(&nb_path), "Cancelled", &format!("deckle run received {name}"), 3);
    }
}

#[test]
fn deckle_execute_sigterm_finishes_the_notebook() {
    let dir = tmp();
    let input = dir.path().join("tick.ipynb");
    ticking_notebook(&input);
    let out = dir.path().join("out.ipynb");
    let child = deckle().args(["execute", "--no-progress-bar"]).arg(&input).arg(&out).stderr(Stdio::piped()).spawn().unwrap();
    wait_for(Duration::from_secs(60), "ticks in the saved notebook", || {
        let nb: Value = serde_json::from_str(&std::fs::read_to_string(&out).ok()?).ok()?;
        (stream_text(cell_with(&nb, "tick"), "stdout").lines().count() >= 3).then_some(())
    });
    signal(&child, "TERM");
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 143, "{}", stderr(&o));
    assert_stopped_record(&read_nb(&out), "Cancelled", "deckle execute received SIGTERM", 3);
}

/// Through a server: the running cell's output is on the server within a couple of
/// seconds, and a cancel keeps it with a marker naming the cancel.
#[test]
fn a_cancelled_node_keeps_its_output_and_logs_are_live() {
    let dir = ticking_workflow();
    let server = Server::start(&dir.path().join("data"), &[]);
    let _w = Worker::start(&server, "w1", &[]);
    server.register_from(&dir.path().join("workflow.yaml"));
    let run = server.trigger("ticking", json!({}));
    let api = server.client();
    let fetch = || {
        let (status, nb) = api.get(&format!("/api/v1/runs/{run}/nodes/tick/attempts/1/notebook"));
        (status == 200).then_some(nb)
    };
    // Live: ticks arrive while the cell still runs (it runs for a minute).
    let live = wait_for(Duration::from_secs(60), "live output on the server", || fetch().filter(|nb| stream_text(cell_with(nb, "tick"), "stdout").lines().count() >= 5));
    assert_eq!(cell_with(&live, "tick")["metadata"]["papermill"]["status"], "running");
    let seen = stream_text(cell_with(&live, "tick"), "stdout").lines().count();
    let o = deckle().args(["cancel", &run]).env("DECKLE_SERVER", &server.url).env_remove("DECKLE_TOKEN").output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    server.wait_until(&run, Duration::from_secs(60), "the node to settle", |r| r["nodes"].as_array().is_some_and(|n| n.iter().all(|n| n["status"] != "running" && n["status"] != "queued")));
    let nb = wait_for(Duration::from_secs(30), "the final notebook", || fetch().filter(|nb| nb["metadata"]["deckle"]["stopped"].is_object()));
    assert_stopped_record(&nb, "Cancelled", "cancelled through the server", seen);
}

/// `deckle run` killed outright leaves its run `running`; the next process to open
/// the data dir (here a server) settles it instead of listing it forever.
#[test]
fn a_killed_deckle_run_is_settled_when_its_data_dir_is_opened_again() {
    let dir = ticking_workflow();
    let data = dir.path().join("data");
    let (mut child, nb_path) = start_ticking_run(dir.path());
    signal(&child, "KILL");
    child.wait().unwrap();
    let server = Server::start(&data, &[]);
    let (status, runs) = server.client().get("/api/v1/runs");
    assert_eq!(status, 200, "{runs:#}");
    let run = &runs.as_array().unwrap()[0];
    assert_eq!(run["status"], "failed", "{run:#}");
    assert!(run["ended_at"].is_string());
    let detail = server.run(run["id"].as_str().unwrap());
    let tick = &detail["nodes"].as_array().unwrap()[0];
    assert_eq!(tick["status"], "failed");
    assert!(tick["error"].as_str().unwrap().contains("interrupted: the deckle run process that ran it ended"), "{tick:#}");
    // What ran before the kill is kept, and the notebook is finished saying why.
    assert_stopped_record(&read_nb(&nb_path), "Interrupted", "interrupted: the deckle run process that ran it ended", 3);
}
