//! The coordinator and its workers as real processes on loopback: work is spread,
//! survives killed workers and a killed coordinator, stale owners are fenced off,
//! cancel stops kernels, and the API refuses bad requests with JSON errors.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{descendants, read_nb, tmp};

fn attempts(detail: &Value, key: &str) -> Vec<Value> {
    node(detail, key)["attempts"].as_array().unwrap().clone()
}

/// Kernels booted on demand below a worker (warm ones are forked from a zygote
/// and show its command line instead).
fn kernels_of(w: &Worker) -> Vec<u32> {
    descendants(w.pid())
        .into_iter()
        .filter(|p| std::fs::read(format!("/proc/{p}/cmdline")).map(|c| String::from_utf8_lossy(&c).contains("ipykernel")).unwrap_or(false))
        .collect()
}

#[test]
fn two_workers_share_parallel_branches_and_labels_pick_the_worker() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register("parallel.yaml");
    let _a = Worker::start(&server, "wa", &["--slots", "1"]);
    let _b = Worker::start(&server, "wb", &["--slots", "1", "--labels", "special,other"]);
    let run = server.trigger("parallel", json!({}));
    let detail = server.wait_finished(&run, Duration::from_secs(180));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    let mut used = BTreeSet::new();
    for key in ["b1", "b2", "b3", "b4", "special", "join"] {
        let a = attempts(&detail, key);
        assert_eq!(a.len(), 1, "{key}: {a:?}");
        used.insert(a[0]["worker"].as_str().unwrap_or("?").to_string());
    }
    assert_eq!(used, BTreeSet::from(["wa".to_string(), "wb".to_string()]), "work spread over both workers");
    assert_eq!(attempts(&detail, "special")[0]["worker"], "wb", "a labelled node goes only to a worker with its labels");
    assert_eq!(node(&detail, "join")["outputs"]["done"], "b1b4", "outputs flowed downstream");
    let kept = attempts(&detail, "join")[0]["notebook"].as_str().unwrap().to_string();
    assert!(!kept.starts_with('/') && !kept.contains(&*dir.path().to_string_lossy()), "no server path in the API: {kept}");
    assert!(kept.ends_with(".ipynb"), "{kept}");
    // The output notebook is on the coordinator, downloadable.
    let (status, nb) = server.client().get(&format!("/api/v1/runs/{run}/nodes/join/attempts/1/notebook"));
    assert_eq!(status, 200);
    assert_eq!(nb["metadata"]["papermill"]["parameters"]["label"], "b1b4");
}

#[test]
fn a_killed_worker_s_node_is_retried_on_the_other_and_both_attempts_are_kept() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "3"]);
    server.register("one.yaml");
    // No warm kernels: the only kernel below a worker is the one running the node.
    let mut a = Worker::start(&server, "wa", &["--slots", "1", "--warm-kernels", "0"]);
    let mut b = Worker::start(&server, "wb", &["--slots", "1", "--warm-kernels", "0"]);
    let run = server.trigger("one", json!({"secs": "20"}));
    // Wait until a worker is mid-cell and has uploaded its partial notebook.
    let detail = server.wait_until(&run, Duration::from_secs(60), "a partial notebook upload", |d| {
        node(d, "only")["status"] == "running" && {
            // The API names it relative to the data dir.
            let path = node(d, "only")["attempts"][0]["notebook"].as_str().unwrap_or("").to_string();
            !path.is_empty() && std::fs::read_to_string(server.data.join(&path)).is_ok_and(|t| t.contains("started only"))
        }
    });
    let first_nb = node(&detail, "only")["attempts"][0]["notebook"].as_str().unwrap().to_string();
    let (victim, survivor) = if !kernels_of(&a).is_empty() { (&mut a, &mut b) } else { (&mut b, &mut a) };
    assert!(!kernels_of(victim).is_empty(), "the worker running the node has a kernel");
    let victim_name = victim.name.clone();
    victim.kill9();
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\nsurvivor log:\n{}", survivor.log());
    let att = attempts(&detail, "only");
    assert_eq!(att.len(), 2, "{att:?}");
    assert_eq!(att[0]["lost"], true);
    assert_eq!(att[0]["worker"], victim_name.as_str());
    assert!(att[0]["error"].as_str().unwrap().contains("lost"), "{}", att[0]);
    assert_eq!(att[1]["status"], "succeeded");
    assert_eq!(att[1]["worker"], survivor.name.as_str());
    // The first attempt's partial notebook is kept, with what it printed before the kill.
    let partial = read_nb(&server.data.join(&first_nb));
    assert!(serde_json::to_string(&partial).unwrap().contains("started only"));
    assert!(!first_nb.is_empty() && att[1]["notebook"] != att[0]["notebook"], "each attempt has its own notebook");
}

#[test]
fn a_server_killed_mid_run_carries_on_after_restart_without_losing_anything() {
    let dir = tmp();
    let mut server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    server.register("long.yaml");
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let run = server.trigger("long", json!({"secs": "6"}));
    let before = server.wait_until(&run, Duration::from_secs(60), "the long node running", |d| node(d, "long")["status"] == "running");
    assert_eq!(node(&before, "first")["status"], "succeeded");
    server.kill9();
    std::thread::sleep(Duration::from_millis(500));
    server.restart(1);
    assert!(server.log().contains("resumed 1 run"), "{}", server.log());
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", server.log());
    // Acknowledged before the crash, still there after it, and not run again.
    assert_eq!(attempts(&detail, "first").len(), 1);
    assert_eq!(node(&detail, "first")["outputs"], node(&before, "first")["outputs"]);
    // The worker kept its lease across the restart: the long node ran once.
    assert_eq!(attempts(&detail, "long").len(), 1, "{detail:#}");
    assert_eq!(node(&detail, "last")["outputs"]["done"], "long");
}

#[test]
fn a_stale_completion_is_refused_and_two_workers_never_own_a_node() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "2"]);
    server.register("one.yaml");
    let api = server.client();
    let run = server.trigger("one", json!({}));
    let take = |worker: &str, wait: f64| api.post("/api/v1/leases", &json!({"worker": worker, "labels": [], "max": 1, "wait_secs": wait}));
    let (status, leases) = take("w1", 10.0);
    assert_eq!(status, 200, "{leases}");
    let l1 = leases[0]["id"].as_str().unwrap().to_string();
    assert_eq!(leases[0]["task"]["attempt"], 1);
    assert!(leases[0]["task"]["kind"]["hash"].as_str().is_some_and(|h| h.len() == 64), "the lease names the notebook by hash");
    // While w1 holds it, nobody else gets it.
    let (status, _) = take("w2", 0.5);
    assert_eq!(status, 204);
    // w1 goes silent; its lease expires and the node goes to w2 as attempt 2.
    let (status, leases) = take("w2", 15.0);
    assert_eq!(status, 200, "{leases}");
    let l2 = leases[0]["id"].as_str().unwrap().to_string();
    assert_eq!(leases[0]["task"]["attempt"], 2);
    let result = json!({"status": "succeeded", "outputs": {"done": "stale"}, "error": null, "notebook_written": false, "duration_secs": 1.0});
    for (what, (status, body)) in [
        ("complete", api.post(&format!("/api/v1/leases/{l1}/complete"), &result)),
        ("heartbeat", api.post(&format!("/api/v1/leases/{l1}/heartbeat"), &json!({}))),
        ("upload", api.put_raw(&format!("/api/v1/leases/{l1}/notebook"), b"{\"cells\": []}".to_vec())),
    ] {
        assert_eq!(status, 409, "a stale {what} is refused: {body}");
        assert_eq!(body["code"], "stale_lease");
    }
    let (status, hb) = api.post(&format!("/api/v1/leases/{l2}/heartbeat"), &json!({}));
    assert_eq!((status, hb["cancel"].clone()), (200, json!(false)));
    let fresh = json!({"status": "succeeded", "outputs": {"done": "fresh"}, "error": null, "notebook_written": false, "duration_secs": 1.0});
    let (status, body) = api.post(&format!("/api/v1/leases/{l2}/complete"), &fresh);
    assert_eq!(status, 204, "{body}");
    let (status, _) = api.post(&format!("/api/v1/leases/{l2}/complete"), &fresh);
    assert_eq!(status, 409, "completing twice is refused too");
    let detail = server.wait_finished(&run, Duration::from_secs(10));
    assert_eq!(detail["run"]["status"], "succeeded");
    assert_eq!(node(&detail, "only")["outputs"]["done"], "fresh", "the stale result never landed");
    let att = attempts(&detail, "only");
    assert_eq!((att[0]["worker"].clone(), att[0]["lost"].clone()), (json!("w1"), json!(true)));
    assert_eq!(att[1]["worker"], "w2");
    let (status, metrics) = server.client().get("/metrics");
    assert_eq!(status, 200);
    let text = metrics.as_str().unwrap();
    assert!(text.contains("deckle_lease_expiries_total 1"), "{text}");
    assert!(text.contains("deckle_dispatch_latency_seconds_count 2"), "{text}");
    assert!(text.contains("deckle_runs{status=\"succeeded\"} 1"), "{text}");
}

#[test]
fn cancelling_a_run_stops_its_kernel_and_the_run_ends_cancelled() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "3"]);
    server.register("one.yaml");
    let w = Worker::start(&server, "wa", &["--slots", "1", "--warm-kernels", "0"]);
    let run = server.trigger("one", json!({"secs": "300"}));
    server.wait_until(&run, Duration::from_secs(60), "the node running in a kernel", |d| node(d, "only")["status"] == "running" && !kernels_of(&w).is_empty());
    let (status, body) = server.client().post(&format!("/api/v1/runs/{run}/cancel"), &json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !kernels_of(&w).is_empty() {
        assert!(std::time::Instant::now() < until, "the kernel is still running 20 s after cancel:\n{}", w.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let detail = server.run(&run);
    assert_eq!(node(&detail, "only")["status"], "cancelled");
    assert_eq!(attempts(&detail, "only")[0]["status"], "cancelled");
    let (status, body) = server.client().post(&format!("/api/v1/runs/{run}/cancel"), &json!({}));
    assert_eq!((status, body["code"].clone()), (409, json!("conflict")), "a finished run cannot be cancelled again");
}

#[test]
fn auth_size_limits_and_malformed_requests_get_json_errors() {
    let dir = tmp();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "tok-3141\n").unwrap();
    // Debug logging: the token must not show up even there.
    let server = Server::start_with_env(&dir.path().join("data"), &["--token-file", token_file.to_str().unwrap(), "--max-body-mib", "1"], &[("DECKLE_LOG", "debug")]);
    let ok = server.client();
    let anon = server.client().with_token(None);
    let wrong = server.client().with_token(Some("tok-314"));
    for path in ["/api/v1/workflows", "/api/v1/runs", "/api/v1/runs/x", "/api/v1/openapi.json", "/metrics", "/api/v1/health", "/api/v1/blobs/00", "/api/v1/nope"] {
        for (who, api) in [("no token", &anon), ("a wrong token", &wrong)] {
            let (status, body) = api.get(path);
            assert_eq!(status, 401, "GET {path} with {who}: {body}");
            assert_eq!(body["code"], "unauthorized");
        }
    }
    for path in ["/api/v1/workflows", "/api/v1/leases", "/api/v1/runs/x/cancel", "/api/v1/leases/x/complete"] {
        let (status, _) = anon.post(path, &json!({}));
        assert_eq!(status, 401, "POST {path}");
    }
    let (status, body) = ok.get("/api/v1/workflows");
    assert_eq!((status, body), (200, json!([])));
    // Pages send a browser without a session to sign in, showing nothing else.
    for path in ["/", "/runs/x", "/backfills"] {
        let (status, page) = anon.get(path);
        assert_eq!(status, 200, "{path}");
        assert!(page.as_str().is_some_and(|p| p.contains("Sign in") && !p.contains("Recent runs")), "{path}: {page}");
    }
    // Oversize: 413 with a JSON body.
    let big = json!({"file_name": "w.yaml", "content": "x".repeat(2 << 20), "files": {}});
    let (status, body) = ok.post("/api/v1/workflows", &big);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "payload_too_large");
    // Malformed JSON and wrong shapes: 400 with a message.
    let (status, body) = ok.post_raw("/api/v1/workflows", "application/json", b"{\"file_name\": ".to_vec());
    assert_eq!(status, 400);
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    let (status, body) = ok.post("/api/v1/leases", &json!({"worker": 7}));
    assert_eq!((status, body["code"].clone()), (400, json!("bad_request")), "{body}");
    // An invalid workflow: 422 naming the problem with its line.
    let bad = json!({"file_name": "w.yaml", "content": "workflow: w\nnodes:\n  a: { notebook: a.ipynb, needs: [ghost] }\n", "files": {"a.ipynb": "{}"}});
    let (status, body) = ok.post("/api/v1/workflows", &bad);
    assert_eq!((status, body["code"].clone()), (422, json!("invalid_workflow")), "{body}");
    assert!(body["details"].to_string().contains("ghost"), "{body}");
    assert!(body["details"].to_string().contains("w.yaml:3"), "the problem is named by file and line: {body}");
    // Paths that would leave the workflow's directory are refused.
    let escape = json!({"file_name": "w.yaml", "content": "workflow: w\nnodes:\n  a: { notebook: ../a.ipynb }\n", "files": {"../a.ipynb": "{}"}});
    let (status, body) = ok.post("/api/v1/workflows", &escape);
    assert_eq!(status, 400, "{body}");
    // Not found is JSON too.
    let (status, body) = ok.get("/api/v1/runs/no-such-run");
    assert_eq!((status, body["code"].clone()), (404, json!("not_found")));
    // Every request above carried a token, right or wrong: none is in the log.
    let log = server.log();
    assert!(log.contains("DEBUG"), "the log is at debug level");
    assert!(!log.contains("tok-314"), "a token was logged:\n{log}");
}

#[test]
fn the_openapi_document_covers_every_route() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (status, doc) = server.client().get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths: BTreeSet<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for p in [
        "/api/v1/workflows",
        "/api/v1/workflows/{id}",
        "/api/v1/workflows/{id}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{run}",
        "/api/v1/runs/{run}/nodes/{node}/attempts/{n}/notebook",
        "/api/v1/runs/{run}/nodes/{node}/log",
        "/api/v1/runs/{run}/cancel",
        "/api/v1/runs/{run}/rerun",
        "/api/v1/blobs/{hash}",
        "/api/v1/leases",
        "/api/v1/leases/{id}/heartbeat",
        "/api/v1/leases/{id}/notebook",
        "/api/v1/leases/{id}/complete",
    ] {
        assert!(paths.contains(p), "{p} missing from {paths:?}");
    }
    assert!(doc["components"]["schemas"]["RunRecord"].is_object(), "schemas referenced by bodies are included");
}

#[test]
fn rerun_from_failed_keeps_succeeded_nodes_and_takes_new_params() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register("long.yaml");
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    // A negative sleep fails the long node.
    let run = server.trigger("long", json!({"secs": "-1"}));
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "failed");
    assert_eq!(node(&detail, "long")["status"], "failed");
    assert_eq!(node(&detail, "last")["status"], "upstream_failed");
    let (status, body) = server.client().post(&format!("/api/v1/runs/{run}/rerun"), &json!({"from_failed": true, "params": {"secs": "0"}}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["attempt"], 2);
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert_eq!(detail["run"]["params"]["secs"], 0);
    assert_eq!(attempts(&detail, "first").len(), 1, "the succeeded upstream is kept, not re-run");
    let long = attempts(&detail, "long");
    assert_eq!(long.len(), 2);
    assert_eq!((long[0]["run_attempt"].clone(), long[1]["run_attempt"].clone()), (json!(1), json!(2)));
    assert_eq!(long[1]["params"]["secs"], 0);
    let (status, log) = server.client().get(&format!("/api/v1/runs/{run}/nodes/long/log?attempt=1"));
    assert_eq!(status, 200);
    assert!(log["text"].as_str().unwrap().contains("ValueError"), "the failed attempt's log shows its error: {log}");
}

#[test]
fn a_worker_told_to_stop_finishes_its_node_then_exits() {
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register("one.yaml");
    let mut w = Worker::start(&server, "wa", &["--slots", "1", "--warm-kernels", "0"]);
    let run = server.trigger("one", json!({"secs": "3"}));
    server.wait_until(&run, Duration::from_secs(60), "the node running", |d| node(d, "only")["status"] == "running" && !kernels_of(&w).is_empty());
    let code = w.terminate(Duration::from_secs(60));
    assert_eq!(code, Some(0), "a drained worker exits 0:\n{}", w.log());
    let detail = server.wait_finished(&run, Duration::from_secs(10));
    assert_eq!(detail["run"]["status"], "succeeded", "the running node was finished, not dropped: {detail:#}");
    assert_eq!(attempts(&detail, "only").len(), 1);
}

#[test]
fn a_worker_cut_off_from_the_server_past_its_lease_kills_its_kernel() {
    let dir = tmp();
    let mut server = Server::start(&dir.path().join("data"), &["--lease-ttl", "3"]);
    server.register("one.yaml");
    let w = Worker::start(&server, "wa", &["--slots", "1", "--warm-kernels", "0"]);
    let run = server.trigger("one", json!({"secs": "300"}));
    server.wait_until(&run, Duration::from_secs(60), "the node running in a kernel", |d| node(d, "only")["status"] == "running" && !kernels_of(&w).is_empty());
    server.kill9();
    // The lease is 3 s: past it, the worker may no longer assume it owns the node.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !kernels_of(&w).is_empty() {
        assert!(std::time::Instant::now() < until, "the kernel outlived the lease by 27 s:\n{}", w.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}
