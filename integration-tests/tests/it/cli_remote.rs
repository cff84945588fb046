//! The CLI against a real coordinator and worker: register, trigger --wait, runs,
//! status, logs, pull, rerun and cancel, with their exit codes.

use std::process::Output;
use serde_json::Value;

use crate::cluster::{Server, Worker};
use crate::harness::{code, deckle, fixture, read_nb, stderr, tmp};

fn cli(server: &Server, args: &[&str]) -> Output {
    deckle().args(args).env("DECKLE_SERVER", &server.url).env_remove("DECKLE_TOKEN").output().expect("running deckle")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn register_trigger_inspect_pull_and_rerun_from_the_command_line() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    let wf = fixture("cluster").join("long.yaml");
    let o = cli(&server, &["register", wf.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("long") && stdout(&o).contains("version 1"), "{}", stdout(&o));

    // A failing run: --wait exits 1 and the table names the failed node.
    let o = cli(&server, &["trigger", "long", "-p", "secs=-1", "--wait"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let table = stdout(&o);
    assert!(table.lines().any(|l| l.starts_with("long") && l.contains("failed")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("last") && l.contains("upstream_failed")), "{table}");

    let o = cli(&server, &["runs", "--json"]);
    assert_eq!(code(&o), 0);
    let runs: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let run = runs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(runs[0]["status"], "failed");

    let o = cli(&server, &["logs", &run, "long"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("started long") && stdout(&o).contains("ValueError"), "{}", stdout(&o));

    // Rerun from failed with a fixed param: succeeds; the first node is not run again.
    let o = cli(&server, &["rerun", &run, "-p", "secs=0", "--wait"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let o = cli(&server, &["status", &run, "--json"]);
    let detail: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(detail["run"]["status"], "succeeded");
    let attempts = |n: &str| detail["nodes"].as_array().unwrap().iter().find(|x| x["node"] == n).unwrap()["attempts"].as_array().unwrap().len();
    assert_eq!((attempts("first"), attempts("long"), attempts("last")), (1, 2, 1));

    let o = cli(&server, &["status", &run]);
    assert_eq!(code(&o), 0);
    for n in ["first", "long", "last"] {
        assert!(stdout(&o).lines().any(|l| l.starts_with(n) && l.contains("succeeded")), "{}", stdout(&o));
    }

    let out = dir.path().join("long.ipynb");
    let o = cli(&server, &["pull", &run, "long", "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let nb = read_nb(&out);
    assert_eq!(nb["metadata"]["papermill"]["parameters"]["secs"], 0, "the latest attempt, with the rerun's params");

    // Errors: a finished run cannot be cancelled (4xx: 2); nothing listening (3); a token is refused (4).
    let o = cli(&server, &["cancel", &run]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("not running"), "{}", stderr(&o));
    let o = deckle().args(["runs", "--server", "http://127.0.0.1:9"]).output().unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}

#[test]
fn a_wrong_or_missing_token_is_refused_with_its_own_exit_code() {
    let dir = tmp();
    let token = dir.path().join("token");
    std::fs::write(&token, "right-token").unwrap();
    let server = Server::start(&dir.path().join("data"), &["--token-file", token.to_str().unwrap()]);
    let o = cli(&server, &["runs"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "wrong-token").unwrap();
    let o = cli(&server, &["runs", "--token-file", wrong.to_str().unwrap()]);
    assert_eq!(code(&o), 4);
    assert!(!stderr(&o).contains("wrong-token") && !stderr(&o).contains("right-token"), "tokens are never echoed: {}", stderr(&o));
    let o = cli(&server, &["runs", "--token-file", token.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "[]");
    // A worker with the wrong token stops with the same code rather than spinning.
    let o = deckle().args(["worker", "--server", &server.url, "--token-file", wrong.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&o), 4, "{}", stderr(&o));
}

#[test]
fn runs_are_listed_a_page_at_a_time_with_a_cursor_and_filters() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &[]);
    server.register("one.yaml");
    // No worker: the runs stay in flight, which is all a listing needs.
    let made: Vec<String> = (0..5).map(|_| server.trigger("one", serde_json::json!({}))).collect();
    let mut newest_first = made.clone();
    newest_first.sort();
    newest_first.reverse();
    let http = reqwest::blocking::Client::new();
    let mut seen = Vec::new();
    let mut url = format!("{}/api/v1/runs?workflow=one&limit=2", server.url);
    let mut pages = 0;
    loop {
        let resp = http.get(&url).send().unwrap();
        assert_eq!(resp.status(), 200);
        let next = resp.headers().get("link").map(|l| l.to_str().unwrap().to_string());
        let cursor = resp.headers().get("x-next-cursor").map(|c| c.to_str().unwrap().to_string());
        let page: Vec<Value> = resp.json().unwrap();
        pages += 1;
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match next {
            Some(link) => {
                assert_eq!(cursor.as_deref(), seen.last().map(|s| s.as_str()), "the cursor is the page's last run");
                let path = link.trim_start_matches('<').split('>').next().unwrap().to_string();
                url = format!("{}{path}", server.url);
            }
            None => break,
        }
    }
    assert_eq!(seen, newest_first, "every run once, newest first, across {pages} pages");
    assert_eq!(pages, 3);
    let (status, body) = server.client().get("/api/v1/runs?status=running&limit=1000");
    assert_eq!(status, 200);
    assert!(body.as_array().unwrap().iter().all(|r| r["status"] == "running"), "{body}");
    let (status, body) = server.client().get("/api/v1/runs?status=finished");
    assert_eq!(status, 400, "an unknown status is refused: {body}");
    let (status, _) = server.client().get("/api/v1/runs?limit=0");
    assert_eq!(status, 400);
    // The CLI says how to get the next page.
    let o = cli(&server, &["runs", "one", "-n", "2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("--before {}", newest_first[1])), "{}", stderr(&o));
    let o = cli(&server, &["runs", "one", "-n", "2", "--before", &newest_first[1], "--json"]);
    let page: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = page.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [newest_first[2].as_str(), newest_first[3].as_str()]);
    // Last: a run made now is the newest, which the pages above do not expect.
    let (status, dated) = server.client().post("/api/v1/workflows/one/runs", &serde_json::json!({"params": {}, "date": "2026-01-05"}));
    assert_eq!(status, 201, "{dated}");
    let (_, body) = server.client().get("/api/v1/runs?date=2026-01-05");
    let dated_ids: Vec<&str> = body.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(dated_ids, [dated["id"].as_str().unwrap()], "by logical date");
}
