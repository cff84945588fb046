//! A trend over many runs, served: a coordinator on sled in a temp dir holding
//! `--runs` finished runs of one workflow (a numeric and a text output per run,
//! one date each, a failure every 17th), then the median of timed GETs of the
//! trends page, the backfill-free outputs API and its CSV-sized JSON.
//!
//!   cargo bench -p deckle-orchestrator --bench trends -- [--runs N]     (default 1000)
//!
//! Target: the trends page over 1,000 runs in under 300 ms on the server.

use std::collections::BTreeMap;
use std::time::Instant;

use deckle_orchestrator::coordinator::{Coordinator, CoordinatorConfig};
use deckle_orchestrator::http::{router, ApiConfig};
use deckle_orchestrator::record::{NodeRecord, NodeStatus, RunRecord};
use deckle_protocol::api::RegisterWorkflow;
use serde_json::json;

const NOTEBOOK: &str = r#"{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "day = ''"}], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}"#;

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = raw.iter().position(|a| a == "--runs").and_then(|i| raw.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Coordinator::open(&CoordinatorConfig::new(dir.path())).expect("coordinator");
        let files = BTreeMap::from([("count.ipynb".to_string(), NOTEBOOK.to_string())]);
        let content = "workflow: daily\nnodes:\n  count: { notebook: count.ipynb, outputs: [n, label] }\n".to_string();
        c.register(&RegisterWorkflow { file_name: "daily.yaml".into(), content, files }).await.expect("register");
        let start = "2020-01-01".parse::<jiff::civil::Date>().unwrap();
        for i in 0..runs {
            let date = start.checked_add(jiff::Span::new().days(i as i64)).unwrap();
            let failed = i % 17 == 16;
            let run: RunRecord = serde_json::from_value(json!({
                "id": format!("20260101T000000-{i:06}"), "workflow": "daily", "date": date.to_string(),
                "logical_time": format!("{date}T00:00:00Z"), "params": {}, "version": 1, "attempt": 1,
                "status": if failed { "failed" } else { "succeeded" }, "started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:00:01Z"
            }))
            .unwrap();
            c.store().put_run(&run).unwrap();
            let mut n = NodeRecord::new("count", None);
            n.status = if failed { NodeStatus::Failed } else { NodeStatus::Succeeded };
            if !failed {
                n.outputs = serde_json::from_value(json!({"n": (i * 37 % 1000) as f64 / 10.0, "label": format!("day {date}")})).unwrap();
            }
            c.store().put_node(&run.id, &n).unwrap();
        }
        c.store().flush().await.unwrap();
        let app = router(c, &ApiConfig { token: None, max_body: 64 << 20, csrf_secret: None });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        let http = reqwest::Client::new();
        for (what, path) in [
            ("trends page, one numeric output (chart)", "/workflows/daily/trends?node=count&name=n"),
            ("trends page, every output (chart + table)", "/workflows/daily/trends?node=count"),
            ("outputs API, one output", "/api/v1/workflows/daily/outputs?node=count&name=n"),
        ] {
            let (ms, bytes) = median_ms(&http, &format!("{url}{path}")).await;
            println!("{what}: {runs} runs, median {ms:.1} ms, {} KiB", bytes / 1024);
        }
    });
}

/// The median of 9 timed GETs, in ms, and the body's size.
async fn median_ms(http: &reqwest::Client, url: &str) -> (f64, usize) {
    let mut t = Vec::new();
    let mut size = 0;
    for _ in 0..9 {
        let s = Instant::now();
        let r = http.get(url).send().await.expect("get");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        size = r.bytes().await.expect("body").len();
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    (t[4], size)
}
