//! Time that cannot be lost (issue 14), with the real clock and real processes: a
//! schedule's first tick after registration runs (on a fresh server and on one up a
//! minute, whose planner is asleep), and a retry delay spans a SIGKILL of the server.

use std::path::Path;
use std::time::{Duration, Instant};

use jiff::{Timestamp, ToSpan};
use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{fixture, tmp};

/// A workflow dir: `yaml` beside a copy of the cluster fixture notebook `notebook`.
fn workflow_dir(dir: &Path, name: &str, notebook: &str, yaml: &str) -> std::path::PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(fixture("cluster").join(notebook), d.join(notebook)).unwrap();
    let file = d.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

fn scheduled_runs(server: &Server, workflow: &str) -> Vec<Value> {
    let (status, runs) = server.client().get(&format!("/api/v1/runs?workflow={workflow}"));
    assert_eq!(status, 200, "{runs}");
    runs.as_array().unwrap().iter().filter(|r| r["trigger"]["kind"] == "schedule").cloned().collect()
}

/// The first whole minute strictly after `t`.
fn next_minute(t: Timestamp) -> Timestamp {
    let floor = t.round(jiff::TimestampRound::new().smallest(jiff::Unit::Minute).mode(jiff::RoundMode::Trunc)).unwrap();
    floor.checked_add(1.minute()).unwrap()
}

/// Register an every-minute schedule and wait for its first scheduled run: it must
/// be the first tick after the registration, once.
fn register_and_see_the_first_tick(server: &Server, dir: &Path, name: &str, catchup: bool) {
    let yaml = format!(
        "workflow: {name}\nschedule: {{ cron: \"* * * * *\", timezone: Europe/Paris, catchup: {catchup} }}\n\
         nodes:\n  only: {{ notebook: nap.ipynb, params: {{ label: tick }} }}\n"
    );
    let v = server.register_from(&workflow_dir(dir, name, "nap.ipynb", &yaml));
    let registered: Timestamp = v["registered_at"].as_str().unwrap().parse().unwrap();
    let first = next_minute(registered);
    let (_, wf) = server.client().get(&format!("/api/v1/workflows/{name}"));
    let until = Instant::now() + Duration::from_secs(150);
    let runs = loop {
        let runs = scheduled_runs(server, name);
        if !runs.is_empty() {
            break runs;
        }
        assert!(Instant::now() < until, "{name}: no scheduled run 150 s after registering at {registered}; workflow: {wf:#}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    let earliest = runs.iter().filter_map(|r| r["logical_time"].as_str()?.parse::<Timestamp>().ok()).min().unwrap();
    assert_eq!(earliest, first, "{name}: registered at {registered}, the first tick run must be {first}; runs: {runs:#?}");
    let at_first = runs.iter().filter(|r| r["logical_time"].as_str().and_then(|t| t.parse::<Timestamp>().ok()) == Some(first)).count();
    assert_eq!(at_first, 1, "{name}: the first tick fired once");
}

#[test]
fn the_first_tick_after_registration_runs_on_a_fresh_server_and_on_one_up_a_minute() {
    let dir = tmp();
    let up_a_minute = Server::start(&dir.path().join("old"), &[]);
    let up_since = Instant::now();
    let fresh = Server::start(&dir.path().join("fresh"), &[]);
    register_and_see_the_first_tick(&fresh, dir.path(), "fresh_tick", false);
    // The older server's planner has planned with nothing to do and sleeps.
    if let Some(left) = Duration::from_secs(61).checked_sub(up_since.elapsed()) {
        std::thread::sleep(left);
    }
    register_and_see_the_first_tick(&up_a_minute, dir.path(), "later_tick", true);
}

/// The retry delay was an in-memory sleep: a server killed during it started the
/// retry right after its restart.
#[test]
fn a_retry_delay_spans_a_sigkill_of_the_server() {
    let dir = tmp();
    let mut server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let yaml = "workflow: flaky\nnodes:\n  load:\n    notebook: by_date.ipynb\n    retries: 1\n    retry_delay: 20s\n    \
                params: { day: \"${{ run.date }}\", fail_on: \"${{ run.date }}\" }\n";
    server.register_from(&workflow_dir(dir.path(), "flaky", "by_date.ipynb", yaml));
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let run = server.trigger("flaky", json!({}));
    server.wait_until(&run, Duration::from_secs(120), "attempt 1 failed, the retry waiting", |d| node(d, "load")["status"] == "retrying");
    std::thread::sleep(Duration::from_secs(3));
    server.kill9();
    server.restart(1);
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    let attempts = node(&detail, "load")["attempts"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 2, "{detail:#}");
    let failed_at: Timestamp = attempts[0]["ended_at"].as_str().unwrap().parse().unwrap();
    let retried_at: Timestamp = attempts[1]["started_at"].as_str().unwrap().parse().unwrap();
    let gap = retried_at.duration_since(failed_at);
    assert!(gap >= jiff::SignedDuration::from_secs(20), "attempt 2 started {gap:?} after attempt 1 failed, inside its 20 s retry delay; {detail:#}");
    assert!(attempts[1]["error"].as_str().unwrap_or("").contains("bad data"), "attempt 2 ran the notebook: {}", attempts[1]);
}
