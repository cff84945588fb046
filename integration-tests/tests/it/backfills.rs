//! Backfills, webhooks and pausing against a real coordinator and worker.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{fixture, tmp};

fn create(server: &Server, body: Value) -> Value {
    let (status, bf) = server.client().post("/api/v1/workflows/daily/backfills", &body);
    assert!(status == 201 || status == 200, "{status}: {bf}");
    bf
}

fn wait_backfill(server: &Server, id: &str, within: Duration) -> Value {
    let until = std::time::Instant::now() + within;
    loop {
        let (_, bf) = server.client().get(&format!("/api/v1/backfills/{id}"));
        if bf["status"] != "running" {
            return bf;
        }
        assert!(std::time::Instant::now() < until, "backfill not finished within {within:?}: {bf:#}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn runs_of(server: &Server) -> Vec<Value> {
    let (_, runs) = server.client().get("/api/v1/runs?workflow=daily");
    runs.as_array().unwrap().clone()
}

fn ts(v: &Value) -> jiff::Timestamp {
    v.as_str().unwrap().parse().unwrap()
}

/// The most runs that were running at the same moment, from their records.
fn max_overlap(runs: &[&Value]) -> usize {
    runs.iter()
        .map(|r| {
            let t = ts(&r["started_at"]);
            runs.iter().filter(|o| ts(&o["started_at"]) <= t && ts(&o["ended_at"]) > t).count()
        })
        .max()
        .unwrap_or(0)
}

fn backfill_runs<'a>(runs: &'a [Value], id: &str) -> Vec<&'a Value> {
    runs.iter().filter(|r| r["trigger"]["kind"] == "backfill" && r["trigger"]["id"] == id).collect()
}

#[test]
fn a_backfill_runs_every_date_at_most_n_at_once_and_only_failed_reruns_the_failures() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register("daily.yaml");
    let _a = Worker::start(&server, "wa", &["--slots", "3"]);
    let _b = Worker::start(&server, "wb", &["--slots", "3"]);
    // Six slots of workers, but the backfill allows three runs at once.
    let bf = create(&server, json!({"from": "2026-01-01", "to": "2026-01-10", "parallel": 3, "params": {"fail_on": "2026-01-03,2026-01-07", "secs": "0.5"}}));
    let id = bf["id"].as_str().unwrap().to_string();
    let done = wait_backfill(&server, &id, Duration::from_secs(240));
    assert_eq!(done["status"], "failed", "two dates fail: {done:#}");
    let statuses: Vec<(&str, &str)> = done["dates"].as_array().unwrap().iter().map(|d| (d["date"].as_str().unwrap(), d["status"].as_str().unwrap())).collect();
    assert_eq!(statuses.len(), 10);
    for (date, status) in &statuses {
        let expect = if ["2026-01-03", "2026-01-07"].contains(date) { "failed" } else { "succeeded" };
        assert_eq!(*status, expect, "{date}");
    }
    let all = runs_of(&server);
    let mine = backfill_runs(&all, &id);
    assert_eq!(mine.len(), 10, "one run per date, no more");
    assert!(max_overlap(&mine) <= 3, "never more than --parallel 3 at once (saw {})", max_overlap(&mine));
    assert!(max_overlap(&mine) >= 2, "runs did overlap: the slots were used");
    // Started in date order.
    let mut by_start = mine.clone();
    by_start.sort_by_key(|r| ts(&r["started_at"]));
    let order: Vec<&str> = by_start.iter().map(|r| r["date"].as_str().unwrap()).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order[..3].iter().collect::<std::collections::BTreeSet<_>>(), sorted[..3].iter().collect(), "the first three dates start first");

    // --only-failed: just the two dates whose latest run failed; they pass now.
    let plan = create(&server, json!({"from": "2026-01-01", "to": "2026-01-10", "only_failed": true, "dry_run": true}));
    let planned: Vec<&str> = plan["dates"].as_array().unwrap().iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(planned, ["2026-01-03", "2026-01-07"]);
    assert_eq!(runs_of(&server).len(), 10, "a dry run creates nothing");
    let again = create(&server, json!({"from": "2026-01-01", "to": "2026-01-10", "only_failed": true, "parallel": 2}));
    let again_id = again["id"].as_str().unwrap().to_string();
    let done = wait_backfill(&server, &again_id, Duration::from_secs(120));
    assert_eq!(done["status"], "succeeded", "{done:#}");
    let all = runs_of(&server);
    assert_eq!(backfill_runs(&all, &again_id).len(), 2);
    let (status, list) = server.client().get("/api/v1/backfills?workflow=daily");
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);

    // --reverse with one at a time: latest date first.
    let rev = create(&server, json!({"from": "2026-02-01", "to": "2026-02-03", "reverse": true, "parallel": 1}));
    let rev_id = rev["id"].as_str().unwrap().to_string();
    wait_backfill(&server, &rev_id, Duration::from_secs(120));
    let all = runs_of(&server);
    let mut rev_runs = backfill_runs(&all, &rev_id);
    rev_runs.sort_by_key(|r| ts(&r["started_at"]));
    let order: Vec<&str> = rev_runs.iter().map(|r| r["date"].as_str().unwrap()).collect();
    assert_eq!(order, ["2026-02-03", "2026-02-02", "2026-02-01"]);
    assert_eq!(max_overlap(&rev_runs), 1);
    // Each run saw its own logical date.
    let (_, detail) = server.client().get(&format!("/api/v1/runs/{}", rev_runs[0]["id"].as_str().unwrap()));
    assert_eq!(node(&detail, "load")["outputs"]["seen"], "2026-02-03");
}

#[test]
fn a_backfill_resumes_after_the_server_is_killed_without_duplicate_runs() {
    let dir = tmp();
    let mut server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    server.register("daily.yaml");
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    let bf = create(&server, json!({"from": "2026-03-01", "to": "2026-03-06", "parallel": 2, "params": {"secs": "1.5"}}));
    let id = bf["id"].as_str().unwrap().to_string();
    // Wait until some dates are done and others are in flight.
    let until = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (_, b) = server.client().get(&format!("/api/v1/backfills/{id}"));
        let done = b["dates"].as_array().unwrap().iter().filter(|d| d["status"] == "succeeded").count();
        if done >= 2 {
            break;
        }
        assert!(std::time::Instant::now() < until, "{b:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill9();
    std::thread::sleep(Duration::from_millis(300));
    server.restart(1);
    let done = wait_backfill(&server, &id, Duration::from_secs(180));
    assert_eq!(done["status"], "succeeded", "{done:#}\n{}", server.log());
    let all = runs_of(&server);
    let mine = backfill_runs(&all, &id);
    let mut dates: Vec<&str> = mine.iter().map(|r| r["date"].as_str().unwrap()).collect();
    dates.sort();
    assert_eq!(dates, ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"], "each date exactly once");
    assert!(max_overlap(&mine) <= 2);
}

/// A webhook receiver on loopback: answers 500 to the first `fail_first` requests,
/// then 200, and keeps every body.
fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            let mut event = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("x-deckle-event:") {
                    event = v.trim().to_string();
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push((event, String::from_utf8_lossy(&body).into_owned()));
            let status = if i < fail_first { "500 Internal Server Error" } else { "200 OK" };
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn a_failed_run_calls_its_webhook_with_links_and_retries_until_delivered() {
    let dir = tmp();
    let (url, got) = receiver(1);
    // The workflow names the receiver's port, so it is written here.
    let wf_dir = dir.path().join("wf");
    std::fs::create_dir_all(&wf_dir).unwrap();
    std::fs::copy(fixture("cluster").join("by_date.ipynb"), wf_dir.join("by_date.ipynb")).unwrap();
    let text = std::fs::read_to_string(fixture("cluster").join("daily.yaml")).unwrap().replace(
        "params:\n",
        &format!("on_failure: {{ webhook: {{ url: \"{url}\", retries: 3, timeout: 5s }} }}\nparams:\n"),
    );
    std::fs::write(wf_dir.join("daily.yaml"), text).unwrap();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    let (status, body) = server.client().post("/api/v1/workflows", &crate::cluster::registration(&wf_dir.join("daily.yaml")));
    assert_eq!(status, 201, "{body}");
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let (status, run) = server.client().post("/api/v1/workflows/daily/runs", &json!({"params": {"fail_on": "2026-04-01"}, "date": "2026-04-01"}));
    assert_eq!(status, 201, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    let detail = server.wait_finished(&run_id, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "failed");
    // The delivery is recorded on the run once it is made.
    let detail = server.wait_until(&run_id, Duration::from_secs(30), "the webhook delivery recorded", |d| d["run"]["notifications"].as_array().is_some_and(|n| !n.is_empty()));
    let note = &detail["run"]["notifications"][0];
    assert_eq!((note["delivered"].clone(), note["attempts"].clone(), note["status"].clone()), (json!(true), json!(2), json!(200)), "{note}");
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one failed attempt, one retry");
    assert_eq!(got[0], got[1], "the retry sends the same event");
    assert_eq!(got[1].0, "run_failed");
    let event: Value = serde_json::from_str(&got[1].1).unwrap();
    assert_eq!(event["workflow"], "daily");
    assert_eq!(event["run"], run_id.as_str());
    assert_eq!(event["date"], "2026-04-01");
    let failed = &event["failed_nodes"][0];
    assert_eq!(failed["node"], "load");
    assert!(failed["error"].as_str().unwrap().contains("bad data on 2026-04-01"), "{failed}");
    let link = failed["notebook_url"].as_str().unwrap();
    assert!(link.starts_with(&server.url), "{link}");
    // The link works: it is the failed attempt's output notebook.
    let (status, nb) = server.client().get(link.trim_start_matches(&server.url));
    assert_eq!(status, 200);
    assert_eq!(nb["metadata"]["papermill"]["parameters"]["day"], "2026-04-01");
}

#[test]
fn pausing_needs_a_schedule_and_shows_in_the_workflow() {
    let dir = tmp();
    let wf_dir = dir.path().join("wf");
    std::fs::create_dir_all(&wf_dir).unwrap();
    std::fs::copy(fixture("cluster").join("by_date.ipynb"), wf_dir.join("by_date.ipynb")).unwrap();
    let text = std::fs::read_to_string(fixture("cluster").join("daily.yaml"))
        .unwrap()
        .replace("params:\n", "schedule: { cron: \"0 6 * * *\", timezone: Europe/London }\nmax_active_runs: 2\nparams:\n");
    std::fs::write(wf_dir.join("daily.yaml"), text).unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (status, body) = server.client().post("/api/v1/workflows", &crate::cluster::registration(&wf_dir.join("daily.yaml")));
    assert_eq!(status, 201, "{body}");
    let (_, wf) = server.client().get("/api/v1/workflows/daily");
    assert_eq!(wf["max_active_runs"], 2);
    assert_eq!(wf["schedule"]["timezone"], "Europe/London");
    assert!(wf["schedule"]["next_tick"].as_str().is_some_and(|t| t.ends_with("06:00:00Z") || t.ends_with("05:00:00Z")), "{wf}");
    let (status, s) = server.client().post("/api/v1/workflows/daily/pause", &json!({}));
    assert_eq!((status, s["paused"].clone(), s["next_tick"].clone()), (200, json!(true), Value::Null));
    let (_, list) = server.client().get("/api/v1/workflows");
    assert_eq!(list[0]["schedule"]["paused"], true);
    let (status, s) = server.client().post("/api/v1/workflows/daily/unpause", &json!({}));
    assert_eq!((status, s["paused"].clone()), (200, json!(false)));
    // A workflow without a schedule cannot be paused.
    server.register("one.yaml");
    let (status, body) = server.client().post("/api/v1/workflows/one/pause", &json!({}));
    assert_eq!((status, body["code"].clone()), (409, json!("conflict")));
}

#[test]
fn a_hook_notebook_runs_after_the_run_with_its_outcome_as_params() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register("hooked.yaml");
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    for (fail_on, status, failed) in [("", "succeeded", 0), ("2026-05-01", "failed", 1)] {
        let (code, run) = server.client().post("/api/v1/workflows/hooked/runs", &json!({"params": {"fail_on": fail_on}, "date": "2026-05-01"}));
        assert_eq!(code, 201, "{run}");
        let run_id = run["id"].as_str().unwrap().to_string();
        let detail = server.wait_until(&run_id, Duration::from_secs(120), "the hook notebook recorded", |d| {
            d["run"]["notifications"].as_array().is_some_and(|n| !n.is_empty())
        });
        assert_eq!(detail["run"]["status"], status);
        let note = &detail["run"]["notifications"][0];
        assert_eq!((note["url"].clone(), note["delivered"].clone()), (json!("notebook:report.ipynb"), json!(true)), "{note}");
        let hook = if status == "succeeded" { "@on_success" } else { "@on_failure" };
        assert_eq!(node(&detail, hook)["status"], "succeeded", "{detail:#}");
        let (code, nb) = server.client().get(&format!("/api/v1/runs/{run_id}/nodes/{hook}/attempts/1/notebook"));
        assert_eq!(code, 200, "{nb}");
        let params = &nb["metadata"]["papermill"]["parameters"];
        assert_eq!((params["run_id"].clone(), params["status"].clone()), (json!(run_id), json!(status)));
        assert_eq!(params["failed_nodes"].as_array().unwrap().len(), failed);
        if failed == 1 {
            assert_eq!(params["failed_nodes"][0]["node"], "load");
        }
    }
}
