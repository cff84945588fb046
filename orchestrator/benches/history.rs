//! Memory against history: a coordinator serving HTTP in a process of its own
//! (this bench started again as the server), and stub workers over HTTP that
//! complete every lease at once. Runs of a foreach of 100 trivial nodes are
//! triggered, a few in flight at a time, until `--attempts` attempts have finished;
//! at every `--every` attempts it prints the server's RSS and the latency of
//! listing runs (the newest page, and a filtered page deep in the history).
//!
//!   cargo bench -p deckle-orchestrator --bench history -- [--store sled|postgres|both] [--attempts N] [--every K]
//!
//! Target: under 150 MB RSS at 1,000,000 finished attempts with either store, and
//! lists under 50 ms. `postgres` uses `DECKLE_TEST_POSTGRES` or a throwaway
//! cluster, as the tests do.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deckle_orchestrator::coordinator::{Coordinator, CoordinatorConfig};
use deckle_orchestrator::http::{router, ApiConfig};
use serde_json::{json, Value};

const SERVE: &str = "DECKLE_BENCH_SERVE";
const WIDTH: usize = 100;
const IN_FLIGHT: u64 = 4;

const NOTEBOOK: &str = r#"{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "item = 0"}], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}"#;

fn arg(raw: &[String], name: &str) -> Option<String> {
    raw.iter().position(|a| a == name).and_then(|i| raw.get(i + 1)).cloned()
}

fn main() {
    if let Ok(spec) = std::env::var(SERVE) {
        return serve(&spec);
    }
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let attempts: u64 = arg(&raw, "--attempts").and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let every: u64 = arg(&raw, "--every").and_then(|s| s.parse().ok()).unwrap_or(attempts / 5).max(WIDTH as u64);
    let which = arg(&raw, "--store").unwrap_or_else(|| "sled".into());
    let stores = match which.as_str() {
        "both" => vec!["sled", "postgres"],
        "sled" | "postgres" => vec![which.as_str()],
        other => panic!("--store {other}: expected sled, postgres or both"),
    };
    for s in stores {
        drive(s, attempts, every);
    }
}

/// The server process: a coordinator over `spec` (`sled:DIR` or `postgres:URL|DIR`).
fn serve(spec: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let (kind, rest) = spec.split_once(':').expect("spec");
        let (url, dir) = match kind {
            "postgres" => {
                let (u, d) = rest.rsplit_once('|').expect("url|dir");
                (Some(u.to_string()), d.to_string())
            }
            _ => (None, rest.to_string()),
        };
        let cfg = CoordinatorConfig::new(std::path::Path::new(&dir));
        let c = match url {
            None => Coordinator::open(&cfg).expect("open"),
            Some(u) => {
                let store = deckle_orchestrator::store::PgStore::open(&u, Arc::default()).expect("postgres");
                Coordinator::with_store(&cfg, Arc::new(store), Arc::new(deckle_orchestrator::clock::SystemClock)).expect("coordinator")
            }
        };
        c.resume_all().expect("resume");
        c.start_planner();
        let app = router(c, &ApiConfig { token: None, max_body: 64 << 20, csrf_secret: None });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("listening {}", listener.local_addr().expect("addr"));
        axum::serve(listener, app).await.expect("serve");
    });
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

fn drive(kind: &str, attempts: u64, every: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = match kind {
        "postgres" => format!("postgres:{}|{}", deckle_test_support::postgres::database(), dir.path().display()),
        _ => format!("sled:{}", dir.path().display()),
    };
    let mut child = Command::new(std::env::current_exe().expect("exe")).env(SERVE, &spec).stdout(Stdio::piped()).spawn().expect("server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("listening");
    let base = format!("http://{}", line.trim().trim_start_matches("listening "));
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let http = reqwest::Client::new();
        let items: Vec<String> = (0..WIDTH).map(|i| i.to_string()).collect();
        let yaml = format!("workflow: hist\nnodes:\n  fan:\n    notebook: nb.ipynb\n    foreach: [{}]\n    foreach_parallel: {WIDTH}\n    params: {{ item: \"${{{{ item }}}}\" }}\n", items.join(", "));
        let reg = json!({"file_name": "hist.yaml", "content": yaml, "files": {"nb.ipynb": NOTEBOOK}});
        let r = http.post(format!("{base}/api/v1/workflows")).json(&reg).send().await.expect("register");
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        let done = Arc::new(AtomicU64::new(0));
        for w in 0..4 {
            let (http, base, done) = (http.clone(), base.clone(), done.clone());
            tokio::spawn(async move {
                let result = json!({"status": "succeeded", "outputs": {}, "error": null, "notebook_written": false, "duration_secs": 0.0});
                loop {
                    let req = json!({"worker": format!("stub{w}"), "labels": [], "max": 64, "wait_secs": 1.0});
                    let Ok(resp) = http.post(format!("{base}/api/v1/leases")).json(&req).send().await else { continue };
                    if resp.status() != 200 {
                        continue;
                    }
                    let leases: Vec<Value> = resp.json().await.unwrap_or_default();
                    for l in leases {
                        let id = l["id"].as_str().unwrap_or_default().to_string();
                        let ok = http.post(format!("{base}/api/v1/leases/{id}/complete")).json(&result).send().await;
                        if ok.is_ok_and(|r| r.status().is_success()) {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        println!("history on {kind}: foreach of {WIDTH}, {IN_FLIGHT} runs in flight, stub workers over HTTP");
        println!("{:>10} {:>9} {:>10} {:>12} {:>14}", "attempts", "rss MiB", "attempts/s", "newest ms", "filtered ms");
        let (mut triggered, mut next_mark, start) = (0u64, every, Instant::now());
        let mut mark_at = (Instant::now(), 0u64);
        let mut mid_cursor: Option<String> = None;
        loop {
            let d = done.load(Ordering::Relaxed);
            while triggered < IN_FLIGHT + d / WIDTH as u64 && triggered * (WIDTH as u64) < attempts {
                let r = http.post(format!("{base}/api/v1/workflows/hist/runs")).json(&json!({"params": {}})).send().await.expect("trigger");
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
                let run: Value = r.json().await.expect("run");
                triggered += 1;
                if triggered == attempts / WIDTH as u64 / 2 {
                    mid_cursor = run["id"].as_str().map(String::from);
                }
            }
            if d >= next_mark || d >= attempts {
                let newest = median_ms(&http, &format!("{base}/api/v1/runs?limit=100")).await;
                let deep = match &mid_cursor {
                    Some(c) => format!("{base}/api/v1/runs?workflow=hist&status=succeeded&limit=100&before={c}"),
                    None => format!("{base}/api/v1/runs?workflow=hist&status=succeeded&limit=100"),
                };
                let filtered = median_ms(&http, &deep).await;
                let rate = (d - mark_at.1) as f64 / mark_at.0.elapsed().as_secs_f64();
                println!("{d:>10} {:>9.1} {rate:>10.0} {newest:>12.1} {filtered:>14.1}", rss_mib(pid));
                mark_at = (Instant::now(), d);
                next_mark += every;
                if d >= attempts {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("{kind}: {attempts} attempts in {:.0} s", start.elapsed().as_secs_f64());
    });
    let _ = child.kill();
    let _ = child.wait();
}

/// The median of 5 timed GETs, in ms.
async fn median_ms(http: &reqwest::Client, url: &str) -> f64 {
    let mut t = Vec::new();
    for _ in 0..5 {
        let s = Instant::now();
        let r = http.get(url).send().await.expect("list");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        let _ = r.bytes().await;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    t[2]
}
