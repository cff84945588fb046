//! Runs started by events, end to end with a real coordinator, real workers, real
//! kernels and real HTTP: a workflow's run starting the workflow it triggers, a
//! signal with an idempotency key sent twice from the CLI, a file landing in a
//! watched folder, a wait node released by a signal without holding a worker slot,
//! a coordinator killed between accepting an event and starting its run, bad
//! signals and registrations, and a files trigger on a path that cannot be read.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{code, deckle, fixture, stderr, tmp};

/// A Python notebook: a `parameters` cell, then one cell of `body`.
fn notebook(params: &str, body: &str) -> String {
    json!({
        "cells": [
            {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": params},
            {"cell_type": "code", "execution_count": null, "id": "b", "metadata": {}, "outputs": [], "source": body}
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5
    })
    .to_string()
}

/// A workflow dir `root/dir`: `<name>.yaml` holding `yaml`, beside `notebooks`
/// (name, JSON) and a copy of the cluster fixture `nap.ipynb`. Returns the file.
fn workflow_dir(root: &Path, dir: &str, name: &str, yaml: &str, notebooks: &[(&str, String)]) -> PathBuf {
    let d = root.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(fixture("cluster").join("nap.ipynb"), d.join("nap.ipynb")).unwrap();
    for (nb, text) in notebooks {
        std::fs::write(d.join(nb), text).unwrap();
    }
    let file = d.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

/// The runs of `workflow`, newest first.
fn runs_of(server: &Server, workflow: &str) -> Vec<Value> {
    let (status, runs) = server.client().get(&format!("/api/v1/runs?workflow={workflow}"));
    assert_eq!(status, 200, "{runs}");
    runs.as_array().unwrap().clone()
}

/// Poll `look` until it gives something, or fail after `within` saying `what`.
fn poll<T>(server: &Server, within: Duration, what: &str, mut look: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + within;
    loop {
        if let Some(v) = look() {
            return v;
        }
        assert!(Instant::now() < until, "{what}: not within {within:?}\nserver log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The single run of `workflow`, once there is one (failing if there are more).
fn the_one_run(server: &Server, workflow: &str, within: Duration) -> Value {
    let runs = poll(server, within, &format!("a run of {workflow}"), || Some(runs_of(server, workflow)).filter(|r| !r.is_empty()));
    assert_eq!(runs.len(), 1, "exactly one run of {workflow}: {runs:#?}");
    runs[0].clone()
}

fn cli(server: &Server, args: &[&str]) -> Output {
    deckle().args(args).args(["--server", &server.url]).env_remove("DECKLE_SERVER").env_remove("DECKLE_TOKEN").output().expect("running deckle")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The 1-based line of `yaml` that contains `needle`.
fn line_of(yaml: &str, needle: &str) -> usize {
    yaml.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in {yaml}")) + 1
}

#[test]
fn a_finished_run_starts_the_workflow_it_triggers_once_with_its_date_and_outputs() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    let ingest = "workflow: ingest\nnodes:\n  load: { notebook: load.ipynb, outputs: [rows] }\n";
    server.register_from(&workflow_dir(dir.path(), "ingest", "ingest", ingest, &[("load.ipynb", notebook("seed = 0", "rows = 42 + seed"))]));
    let report = "workflow: report\n\
                  params:\n  rows: { type: int }\n\
                  triggers:\n  - workflow: ingest\n    params: { rows: \"${{ trigger.outputs.load.rows }}\" }\n\
                  nodes:\n  double: { notebook: double.ipynb, params: { rows: \"${{ params.rows }}\" }, outputs: [got, kind] }\n";
    let double = notebook("rows = 0", "got = rows * 2\nkind = type(rows).__name__");
    server.register_from(&workflow_dir(dir.path(), "report", "report", report, &[("double.ipynb", double)]));

    let (status, _) = server.client().get("/api/v1/workflows/report");
    assert_eq!(status, 200);
    assert!(runs_of(&server, "report").is_empty(), "registering starts nothing");

    let (status, body) = server.client().post("/api/v1/workflows/ingest/runs", &json!({"params": {}, "date": "2026-01-15"}));
    assert_eq!(status, 201, "{body}");
    let ingest_run = body["id"].as_str().unwrap().to_string();
    let done = server.wait_finished(&ingest_run, Duration::from_secs(180));
    assert_eq!(done["run"]["status"], "succeeded", "{done:#}");
    assert_eq!(node(&done, "load")["outputs"]["rows"], 42);

    let run = the_one_run(&server, "report", Duration::from_secs(60));
    let report_run = run["id"].as_str().unwrap().to_string();
    assert_eq!(run["date"], "2026-01-15", "the upstream run's date: {run:#}");
    assert_eq!(run["date"], done["run"]["date"]);
    assert_eq!(run["logical_time"], done["run"]["logical_time"], "and its logical time");
    assert_eq!(run["trigger"]["kind"], "event", "{run:#}");
    assert_eq!(run["trigger"]["source"], "workflow:ingest", "{run:#}");
    assert_eq!(run["trigger"]["context"]["run_id"], ingest_run.as_str(), "{run:#}");
    assert_eq!(run["params"]["rows"], json!(42), "a JSON number, not \"42\": {run:#}");

    let detail = server.wait_finished(&report_run, Duration::from_secs(180));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert_eq!(node(&detail, "double")["outputs"]["got"], 84, "{detail:#}");
    assert_eq!(node(&detail, "double")["outputs"]["kind"], "int");

    // The event that started it is stored, names both runs, and is not fired again.
    let event_id = run["trigger"]["event"].as_str().unwrap().to_string();
    let (status, event) = server.client().get(&format!("/api/v1/events/{event_id}"));
    assert_eq!(status, 200, "{event}");
    assert_eq!((event["kind"].clone(), event["name"].clone()), (json!("workflow"), json!("ingest")), "{event:#}");
    assert_eq!(event["firings"].as_array().unwrap().len(), 1, "{event:#}");
    assert_eq!(event["firings"][0]["run_id"], report_run.as_str());
    assert_eq!(event["firings"][0]["state"], "started");
    // The report run ending (it triggers nothing) starts nothing more either.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs_of(&server, "report").len(), 1, "still exactly one report run");
    assert_eq!(runs_of(&server, "ingest").len(), 1);

    let (_, wf) = server.client().get("/api/v1/workflows/report");
    assert_eq!(wf["upstream"], json!(["ingest"]), "{wf:#}");
    assert_eq!(wf["downstream"], json!([]), "{wf:#}");
    assert_eq!(wf["triggers"][0]["source"], "workflow:ingest", "{wf:#}");
    assert_eq!(wf["triggers"][0]["last_event"], event_id.as_str(), "{wf:#}");
    assert!(wf["triggers"][0]["problem"].is_null(), "{wf:#}");
    let (_, wf) = server.client().get("/api/v1/workflows/ingest");
    assert_eq!(wf["downstream"], json!(["report"]), "{wf:#}");
    assert_eq!(wf["upstream"], json!([]), "{wf:#}");

    // `deckle workflows` shows the trigger and that it has seen an event.
    let o = cli(&server, &["workflows"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.lines().next().is_some_and(|h| h.contains("TRIGGERS") && h.contains("LAST EVENT")), "{table}");
    let row = table.lines().find(|l| l.starts_with("report")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("workflow:ingest"), "{table}");
    // …and, on ingest's line, the workflow its runs start.
    let row = table.lines().find(|l| l.starts_with("ingest")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.split_whitespace().any(|w| w == "report"), "{table}");
}

#[test]
fn a_signal_key_sent_twice_from_the_cli_starts_one_run_and_match_filters_by_param() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let yaml = "workflow: plays_load\n\
                params:\n  table: { type: string, default: none }\n\
                triggers:\n  - signal: table_ready\n    match: { table: plays }\n    params: { table: \"${{ trigger.params.table }}\" }\n\
                nodes:\n  load: { notebook: echo.ipynb, params: { table: \"${{ params.table }}\" }, outputs: [got] }\n";
    server.register_from(&workflow_dir(dir.path(), "plays", "plays_load", yaml, &[("echo.ipynb", notebook("table = \"\"", "got = table"))]));

    let first = cli(&server, &["signal", "table_ready", "-p", "table=plays", "--key", "k1"]);
    assert_eq!(code(&first), 0, "{}{}", stdout(&first), stderr(&first));
    let run = the_one_run(&server, "plays_load", Duration::from_secs(30));
    let run_id = run["id"].as_str().unwrap().to_string();
    assert!(stdout(&first).contains(&run_id), "the reply names the run it started: {}", stdout(&first));
    assert_eq!(run["trigger"]["source"], "signal:table_ready", "{run:#}");
    assert_eq!(run["params"]["table"], "plays", "{run:#}");

    let second = cli(&server, &["signal", "table_ready", "-p", "table=plays", "--key", "k1"]);
    assert_eq!(code(&second), 0, "{}{}", stdout(&second), stderr(&second));
    let said = stdout(&second);
    assert!(said.contains("already received") && said.contains("nothing new started"), "{said}");
    let detail = server.wait_finished(&run_id, Duration::from_secs(180));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert_eq!(node(&detail, "load")["outputs"]["got"], "plays", "the signal's param reached the notebook");
    assert_eq!(runs_of(&server, "plays_load").len(), 1, "the same key twice: one run");

    let (status, events) = server.client().get("/api/v1/events?kind=signal");
    assert_eq!(status, 200, "{events}");
    let events = events.as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "one event for the key: {events:#?}");
    assert_eq!(events[0]["key"], "k1");
    assert_eq!(events[0]["name"], "table_ready");
    let firings = events[0]["firings"].as_array().unwrap();
    assert_eq!(firings.len(), 1, "{events:#?}");
    assert_eq!(firings[0]["run_id"], run_id.as_str(), "{events:#?}");
    assert_eq!(firings[0]["workflow"], "plays_load");
    assert_eq!(run["trigger"]["event"], events[0]["id"]);

    // Another table does not match: stored, listed, starts nothing.
    let other = cli(&server, &["signal", "table_ready", "-p", "table=games"]);
    assert_eq!(code(&other), 0, "{}{}", stdout(&other), stderr(&other));
    assert!(stdout(&other).contains("no workflow listens"), "{}", stdout(&other));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs_of(&server, "plays_load").len(), 1, "a signal that does not match starts nothing");
    let (_, events) = server.client().get("/api/v1/events?kind=signal");
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["context"]["params"]["table"], "games", "newest first: {events:#?}");
    assert!(events[0]["firings"].as_array().unwrap().is_empty(), "{events:#?}");
    let o = cli(&server, &["events", "--kind", "signal"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(&run_id), "`deckle events` names the run: {}", stdout(&o));
}

#[test]
fn a_file_landing_in_a_watched_folder_starts_one_run_for_its_date() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let landing = dir.path().join("landing");
    // Already there before the first poll: the baseline, which starts nothing.
    std::fs::create_dir_all(landing.join("2026-02-01")).unwrap();
    std::fs::write(landing.join("2026-02-01/_SUCCESS"), b"").unwrap();
    let pattern = format!("{}/{{date}}/_SUCCESS", landing.display());
    let yaml = format!(
        "workflow: landed\n\
         params:\n  path: {{ type: string, default: none }}\n\
         triggers:\n  - files: {{ path: \"{pattern}\", poll: 1s }}\n    params: {{ path: \"${{{{ trigger.path }}}}\" }}\n\
         nodes:\n  load: {{ notebook: echo.ipynb, params: {{ path: \"${{{{ params.path }}}}\", day: \"${{{{ run.date }}}}\" }}, outputs: [got, day] }}\n"
    );
    server.register_from(&workflow_dir(dir.path(), "landed", "landed", &yaml, &[("echo.ipynb", notebook("path = \"\"\nday = \"\"", "got = path"))]));
    // The first poll (the baseline) follows the registration.
    poll(&server, Duration::from_secs(30), "the trigger's first listing", || {
        let (_, wf) = server.client().get("/api/v1/workflows/landed");
        wf["triggers"][0]["listed_at"].as_str().map(str::to_string)
    });
    assert!(runs_of(&server, "landed").is_empty(), "a file there before the first poll starts nothing");

    // Written beside, then moved in whole: the poll never sees it half-written.
    let file = landing.join("2026-02-03/_SUCCESS");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let staged = dir.path().join("staged");
    std::fs::write(&staged, b"done\n").unwrap();
    std::fs::rename(&staged, &file).unwrap();

    let run = the_one_run(&server, "landed", Duration::from_secs(30));
    let run_id = run["id"].as_str().unwrap().to_string();
    assert_eq!(run["date"], "2026-02-03", "{{date}} of the path is the run's date: {run:#}");
    assert_eq!(run["trigger"]["kind"], "event");
    assert_eq!(run["trigger"]["source"], format!("files:{pattern}"), "{run:#}");
    assert_eq!(run["trigger"]["context"]["size"], 5, "{run:#}");
    let detail = server.wait_finished(&run_id, Duration::from_secs(180));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert_eq!(node(&detail, "load")["outputs"]["got"], file.to_str().unwrap(), "trigger.path reached the notebook");
    assert_eq!(node(&detail, "load")["outputs"]["day"], "2026-02-03");

    // Several more polls of the same folder: nothing new, nothing more.
    std::thread::sleep(Duration::from_secs(4));
    let runs = runs_of(&server, "landed");
    assert_eq!(runs.len(), 1, "one file, one run: {runs:#?}");
    let (_, events) = server.client().get("/api/v1/events?kind=files");
    assert_eq!(events.as_array().unwrap().len(), 1, "{events:#}");
    let (_, wf) = server.client().get("/api/v1/workflows/landed");
    assert!(wf["triggers"][0]["problem"].is_null(), "{wf:#}");
    assert_eq!(wf["triggers"][0]["last_event"], run["trigger"]["event"], "{wf:#}");
}

#[test]
fn a_wait_node_holds_no_worker_slot_and_a_signal_releases_it() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let w = Worker::start(&server, "solo", &["--slots", "1"]);
    let gated = "workflow: gated\nnodes:\n  gate: { wait: { signal: go, timeout: 10m, poll: 1s } }\n  \
                 after: { notebook: nap.ipynb, needs: [gate], params: { label: \"${{ nodes.gate.outputs.event }}\" }, outputs: [done] }\n";
    server.register_from(&workflow_dir(dir.path(), "gated", "gated", gated, &[]));
    let plain = "workflow: plain\nnodes:\n  only: { notebook: nap.ipynb, params: { label: plain }, outputs: [done] }\n";
    server.register_from(&workflow_dir(dir.path(), "plain", "plain", plain, &[]));

    let gated_run = server.trigger("gated", json!({}));
    let waiting = server.wait_until(&gated_run, Duration::from_secs(60), "gate waiting", |d| node(d, "gate")["status"] == "waiting");
    assert!(node(&waiting, "gate")["attempts"].as_array().is_none_or(|a| a.is_empty()), "a wait node is not leased: {waiting:#}");

    // The worker's only slot is free: another workflow's node runs on it meanwhile.
    let plain_run = server.trigger("plain", json!({}));
    let done = server.wait_finished(&plain_run, Duration::from_secs(180));
    assert_eq!(done["run"]["status"], "succeeded", "{done:#}\nworker log:\n{}", w.log());
    assert_eq!(node(&done, "only")["attempts"][0]["worker"], "solo");
    let still = server.run(&gated_run);
    assert_eq!(node(&still, "gate")["status"], "waiting", "{still:#}");
    assert_eq!(node(&still, "after")["status"], "pending", "{still:#}");
    assert_eq!(still["run"]["status"], "running");

    let (status, accepted) = server.client().post("/api/v1/signals/go", &json!({"params": {"who": "test"}}));
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["duplicate"], false);
    let event = accepted["event"]["id"].as_str().unwrap().to_string();
    let detail = server.wait_finished(&gated_run, Duration::from_secs(180));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    let gate = node(&detail, "gate");
    assert_eq!(gate["status"], "succeeded");
    assert_eq!(gate["outputs"]["event"], event.as_str(), "{gate:#}");
    assert_eq!(gate["outputs"]["params"], json!({"who": "test"}), "{gate:#}");
    let after = node(&detail, "after");
    assert_eq!(after["status"], "succeeded");
    assert_eq!(after["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(after["outputs"]["done"], event.as_str(), "the gate's output flowed to the node after it");
}

/// Start a server with `failpoint` armed, send a keyed signal (the server aborts on
/// the way), start it again without: the signal's run exists exactly once, and the
/// same key again is a duplicate.
fn crash_and_restart(failpoint: &str) {
    let dir = tmp();
    let data = dir.path().join("data");
    let mut server = Server::start_with_env(&data, &[], &[("DECKLE_FAILPOINT", failpoint)]);
    let yaml = "workflow: once\ntriggers:\n  - signal: go\nnodes:\n  only: { notebook: nap.ipynb, params: { label: once }, outputs: [done] }\n";
    server.register_from(&workflow_dir(dir.path(), "once", "once", yaml, &[]));
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/api/v1/signals/go", server.url);
    let sent = http.post(&url).json(&json!({"params": {}, "key": "once"})).timeout(Duration::from_secs(60)).send();
    assert!(sent.is_err(), "{failpoint}: the server answered instead of aborting: {:?}\n{}", sent.map(|r| r.status()), server.log());
    poll(&server, Duration::from_secs(30), "the server aborted", || {
        http.get(format!("{}/api/v1/health", server.url)).timeout(Duration::from_secs(2)).send().is_err().then_some(())
    });
    let before = server.log();
    assert!(before.contains(&format!("failpoint {failpoint}: aborting")), "{before}");
    server.kill9(); // reap it
    drop(server);

    let server = Server::start_beside(&data, 1, &[]);
    let run = the_one_run(&server, "once", Duration::from_secs(30));
    let run_id = run["id"].as_str().unwrap().to_string();
    assert_eq!(run["trigger"]["source"], "signal:go", "{run:#}");
    let (status, again) = server.client().post("/api/v1/signals/go", &json!({"params": {}, "key": "once"}));
    assert_eq!(status, 200, "{failpoint}: the key was stored before the crash: {again}");
    assert_eq!(again["duplicate"], true, "{again:#}");
    assert_eq!(again["event"]["firings"][0]["run_id"], run_id.as_str(), "{again:#}");
    // Planner passes after the restart do not start it again either.
    std::thread::sleep(Duration::from_secs(3));
    let runs = runs_of(&server, "once");
    assert_eq!(runs.len(), 1, "{failpoint}: exactly one run: {runs:#?}\n{}", server.log());
    let (_, event) = server.client().get(&format!("/api/v1/events/{}", again["event"]["id"].as_str().unwrap()));
    assert_eq!(event["firings"][0]["state"], "started", "{event:#}");
    let (_, events) = server.client().get("/api/v1/events?kind=signal");
    assert_eq!(events.as_array().unwrap().len(), 1, "{events:#}");
    // Which process created the run: the one that crashed after creating it, or
    // the restarted one for an event the crash left pending; never both.
    let created = |log: &str| log.lines().filter(|l| l.contains("event started a run") && l.contains(&run_id)).count();
    let after = server.log();
    let expected = if failpoint == "event-run-created" { (1, 0) } else { (0, 1) };
    assert_eq!((created(&before), created(&after)), expected, "{failpoint}: runs created before / after the restart\nbefore:\n{before}\nafter:\n{after}");
}

#[test]
fn a_coordinator_killed_after_storing_an_event_starts_its_run_once_after_restart() {
    crash_and_restart("event-accepted");
}

#[test]
fn a_coordinator_killed_after_creating_an_event_s_run_does_not_start_a_second() {
    crash_and_restart("event-run-created");
}

#[test]
fn bad_signals_and_registrations_are_refused_with_their_reasons() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &[]);
    let api = server.client();
    let big = json!({"params": {"blob": "x".repeat(70 * 1024)}}).to_string().into_bytes();
    let (status, body) = api.post_raw("/api/v1/signals/ready", "application/json", big);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "payload_too_large", "{body}");
    // (what, path, body, a word the error must say)
    for (what, path, raw, says) in [
        ("params not a map", "/api/v1/signals/ready", br#"{"params": 3}"#.to_vec(), "JSON object"),
        ("not JSON", "/api/v1/signals/ready", b"not json".to_vec(), "JSON object"),
        ("a name with a space", "/api/v1/signals/bad%20name", b"{}".to_vec(), "signal name"),
        ("an unknown key", "/api/v1/signals/ready", br#"{"parms": {}}"#.to_vec(), "parms"),
        ("a bad date", "/api/v1/signals/ready", br#"{"date": "2026-02-30"}"#.to_vec(), "2026-02-30"),
        ("an empty key", "/api/v1/signals/ready", br#"{"key": ""}"#.to_vec(), "key"),
        ("an empty body", "/api/v1/signals/ready", Vec::new(), "empty"),
    ] {
        let (status, body) = api.post_raw(path, "application/json", raw);
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["code"], "bad_request", "{what}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains(says)), "{what}: the error should say {says:?}: {body}");
    }
    let (status, events) = api.get("/api/v1/events");
    assert_eq!((status, events.clone()), (200, json!([])), "nothing refused was stored");

    // A trigger naming a workflow that is not registered.
    let orphan = "workflow: orphan\ntriggers:\n  - workflow: ghost\nnodes:\n  only: { notebook: nap.ipynb }\n";
    let file = workflow_dir(dir.path(), "orphan", "orphan", orphan, &[]);
    let o = cli(&server, &["register", file.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let at = format!("orphan.yaml:{}:", line_of(orphan, "workflow: ghost"));
    assert!(err.contains("orphan") && err.contains("ghost") && err.contains("not registered") && err.contains(&at), "{at} in: {err}");
    let (status, _) = api.get("/api/v1/workflows/orphan");
    assert_eq!(status, 404, "a refused registration registers nothing");

    // ping, then pong started by ping; ping started by pong would close a loop.
    let ping = "workflow: ping\nnodes:\n  only: { notebook: nap.ipynb }\n";
    let o = cli(&server, &["register", workflow_dir(dir.path(), "ping", "ping", ping, &[]).to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pong = "workflow: pong\ntriggers:\n  - workflow: ping\nnodes:\n  only: { notebook: nap.ipynb }\n";
    let o = cli(&server, &["register", workflow_dir(dir.path(), "pong", "pong", pong, &[]).to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ping2 = "workflow: ping\ndescription: started by pong\ntriggers:\n  - workflow: pong\nnodes:\n  only: { notebook: nap.ipynb }\n";
    let o = cli(&server, &["register", workflow_dir(dir.path(), "ping2", "ping", ping2, &[]).to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let at = format!("ping.yaml:{}:", line_of(ping2, "workflow: pong"));
    assert!(err.contains("ping") && err.contains("pong") && err.contains("cycle") && err.contains(&at), "{at} in: {err}");
    let (_, wf) = api.get("/api/v1/workflows/ping");
    assert_eq!(wf["upstream"], json!([]), "the refused version did not land: {wf:#}");
    assert_eq!(wf["downstream"], json!(["pong"]), "{wf:#}");
}

#[test]
fn an_unreadable_files_trigger_is_reported_and_the_server_keeps_serving() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let plainfile = dir.path().join("plainfile");
    std::fs::write(&plainfile, b"not a folder").unwrap();
    let pattern = format!("{}/*.csv", plainfile.display());
    let yaml = format!("workflow: blind\ntriggers:\n  - files: {{ path: \"{pattern}\", poll: 1s }}\nnodes:\n  only: {{ notebook: nap.ipynb }}\n");
    server.register_from(&workflow_dir(dir.path(), "blind", "blind", &yaml, &[]));
    let plain = "workflow: plain\nnodes:\n  only: { notebook: nap.ipynb, params: { label: plain }, outputs: [done] }\n";
    server.register_from(&workflow_dir(dir.path(), "plain", "plain", plain, &[]));

    let health = poll(&server, Duration::from_secs(30), "a trigger problem in /api/v1/health", || {
        let (status, h) = server.client().get("/api/v1/health");
        assert_eq!(status, 200, "a trigger's problem does not make the coordinator unhealthy: {h}");
        h["triggers"].as_array().is_some_and(|t| !t.is_empty()).then_some(h)
    });
    let problems = health["triggers"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{health:#}");
    let p = problems[0].as_str().unwrap();
    assert!(p.contains("blind") && p.contains(&plainfile.display().to_string()), "{health:#}");
    assert_eq!(health["status"], "ok", "{health:#}");

    let (status, wf) = server.client().get("/api/v1/workflows/blind");
    assert_eq!(status, 200);
    let problem = wf["triggers"][0]["problem"].as_str().unwrap_or_else(|| panic!("no problem on the trigger: {wf:#}"));
    assert!(problem.contains("not a folder") || problem.contains("cannot read"), "{problem}");
    assert_eq!(wf["triggers"][0]["source"], format!("files:{pattern}"));
    let o = cli(&server, &["workflows"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: blind trigger"), "{}", stderr(&o));

    // Polled again and again, failing each time: the server carries on.
    std::thread::sleep(Duration::from_secs(3));
    let run = server.trigger("plain", json!({}));
    let detail = server.wait_finished(&run, Duration::from_secs(180));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert!(runs_of(&server, "blind").is_empty());
    let (status, h) = server.client().get("/api/v1/health");
    assert_eq!(status, 200);
    assert_eq!(h["triggers"].as_array().map(Vec::len), Some(1), "still reported: {h:#}");
}

/// A `files:` trigger over a bucket (moto's S3 server): an object landing under
/// `{date}` starts one run for that date; a bucket that does not exist is the
/// trigger's problem, not the server's.
#[test]
fn an_object_landing_in_a_bucket_starts_one_run_for_its_date() {
    let moto = deckle_test_support::s3::shared();
    let bucket = crate::stores::unique_name("landing");
    moto.create_bucket(&bucket);
    moto.put(&bucket, "feeds/2026-03-01/_SUCCESS", b"old");
    let dir = tmp();
    let env = crate::object_storage::aws_env(&moto.endpoint());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with_env(&dir.path().join("data"), &["--lease-ttl", "10"], &env);
    let yaml = format!(
        "workflow: objects\n\
         triggers:\n  - files: {{ path: \"s3://{bucket}/feeds/{{date}}/_SUCCESS\", poll: 1s }}\n  - files: {{ path: \"s3://no-such-{bucket}/x/*.csv\", poll: 1s }}\n\
         nodes:\n  load: {{ notebook: nap.ipynb }}\n"
    );
    server.register_from(&workflow_dir(dir.path(), "objects", "objects", &yaml, &[]));
    let wf = poll(&server, Duration::from_secs(30), "the bucket's first listing and the missing bucket's problem", || {
        let (_, wf) = server.client().get("/api/v1/workflows/objects");
        (wf["triggers"][0]["listed_at"].is_string() && wf["triggers"][1]["problem"].is_string()).then_some(wf)
    });
    assert!(wf["triggers"][1]["problem"].as_str().unwrap().contains("does not exist"), "{wf:#}");
    assert!(wf["triggers"][0]["problem"].is_null(), "{wf:#}");
    assert!(runs_of(&server, "objects").is_empty(), "an object there at the first listing is the baseline");

    moto.put(&bucket, "feeds/2026-03-02/_SUCCESS", b"new!");
    moto.put(&bucket, "feeds/not-a-date/_SUCCESS", b"ignored");
    let run = the_one_run(&server, "objects", Duration::from_secs(30));
    assert_eq!(run["date"], "2026-03-02", "{run:#}");
    assert_eq!(run["trigger"]["context"]["path"], format!("s3://{bucket}/feeds/2026-03-02/_SUCCESS"), "{run:#}");
    assert_eq!(run["trigger"]["context"]["size"], 4, "{run:#}");
    let (status, health) = server.client().get("/api/v1/health");
    assert_eq!(status, 200);
    assert!(health["triggers"].as_array().is_some_and(|p| p.len() == 1 && p[0].as_str().unwrap().contains("objects trigger `files:s3://no-such-")), "{health:#}");
}

/// A wait's timeout on the real clock, across a restart: the deadline counts from
/// when the node started waiting, so a coordinator restarted meanwhile does not
/// extend it; at the timeout the node is skipped (`on_timeout: skip`) and a node
/// that tolerates skips runs after it.
#[test]
fn a_wait_times_out_on_the_real_clock_across_a_restart() {
    let dir = tmp();
    let mut server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let yaml = "workflow: late\nnodes:\n  gate: { wait: { files: \"/nonexistent-deckle-dir/{date}/*.csv\", timeout: 8s, poll: 1s, on_timeout: skip } }\n  \
                after: { notebook: nap.ipynb, needs: [gate], trigger: none_failed, params: { label: ran }, outputs: [done] }\n";
    server.register_from(&workflow_dir(dir.path(), "late", "late", yaml, &[]));
    let run = server.trigger("late", json!({}));
    let waiting = server.wait_until(&run, Duration::from_secs(60), "gate waiting", |d| node(d, "gate")["status"] == "waiting");
    let started = node(&waiting, "gate")["started_at"].as_str().unwrap().to_string();
    server.kill9();
    server.restart(1);
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    let gate = node(&detail, "gate");
    assert_eq!(gate["status"], "skipped", "{gate:#}");
    assert!(gate["error"].as_str().is_some_and(|e| e.contains("timed out after 8s") && e.contains("on_timeout: skip")), "{gate:#}");
    assert_eq!(gate["started_at"], started.as_str(), "the wait's start survived the restart: {gate:#}");
    let started: jiff::Timestamp = started.parse().unwrap();
    let ended: jiff::Timestamp = gate["ended_at"].as_str().unwrap().parse().unwrap();
    assert!(ended.duration_since(started) >= jiff::SignedDuration::from_secs(8), "not before its deadline: {gate:#}");
    assert_eq!(node(&detail, "after")["outputs"]["done"], "ran", "{detail:#}");
}
