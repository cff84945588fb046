//! The scheduler alone: a 10,000-node DAG driven by the real engine through the
//! real lease board and a real store (flushed before every acknowledgement), with
//! stub workers inside this bench that complete each lease as soon as they get it.
//! Reports node completions per second and ready-to-leased latency (p50, p99), for
//! each store asked for.
//!
//!   cargo bench -p deckle-orchestrator --bench scheduler [-- NODES WIDTH WORKERS] [--store sled|postgres|both]
//!
//! `postgres` uses `DECKLE_TEST_POSTGRES` (a server URL without a database) or
//! starts a throwaway cluster as the tests do, and a fresh database in it.
//!
//! Targets on 2 cores: sled at least 5,000 completions/s with p99 under 5 ms;
//! PostgreSQL at least 2,000 completions/s with p99 under 20 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deckle_orchestrator::clock::SystemClock;
use deckle_orchestrator::engine::{Engine, EngineConfig, RunRequest};
use deckle_orchestrator::executor::{TaskResult, TaskStatus};
use deckle_orchestrator::lease::{LeaseBoard, RemoteExecutor};
use deckle_orchestrator::metrics::Metrics;
use deckle_orchestrator::record::{NodeStatus, RunStatus};
use deckle_orchestrator::store::{PgStore, SledStore, StateStore};

const NOTEBOOK: &str = r#"{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "x = 1"}], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}"#;

/// Layers of `width` nodes; each node needs two of the layer before.
fn workflow_yaml(nodes: usize, width: usize) -> String {
    let mut y = String::from("workflow: bench\nnodes:\n");
    for i in 0..nodes {
        let (layer, pos) = (i / width, i % width);
        y.push_str(&format!("  n{i}: {{ notebook: nb.ipynb"));
        if layer > 0 {
            let prev = (layer - 1) * width;
            y.push_str(&format!(", needs: [n{}, n{}]", prev + pos, prev + (pos + 1) % width));
        }
        y.push_str(" }\n");
    }
    y
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<usize> = raw.iter().filter_map(|a| a.parse().ok()).collect();
    let nodes = args.first().copied().unwrap_or(10_000);
    let width = args.get(1).copied().unwrap_or(100);
    let workers = args.get(2).copied().unwrap_or(4);
    let which = raw.iter().position(|a| a == "--store").and_then(|i| raw.get(i + 1)).map_or("sled", |s| s.as_str()).to_string();
    let stores: Vec<&str> = match which.as_str() {
        "both" => vec!["sled", "postgres"],
        "sled" | "postgres" => vec![which.as_str()],
        other => panic!("--store {other}: expected sled, postgres or both"),
    };
    for store in stores {
        bench(store, nodes, width, workers);
    }
}

fn bench(kind: &str, nodes: usize, width: usize, workers: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn StateStore> = match kind {
        "postgres" => {
            let url = deckle_test_support::postgres::database();
            Arc::new(PgStore::open(&url, Arc::default()).expect("postgres"))
        }
        _ => Arc::new(SledStore::open(&dir.path().join("state")).expect("sled")),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        std::fs::write(dir.path().join("nb.ipynb"), NOTEBOOK).expect("notebook");
        let file = dir.path().join("workflow.yaml");
        std::fs::write(&file, workflow_yaml(nodes, width)).expect("workflow");
        let t = Instant::now();
        let wf = deckle_dsl::load(&file).unwrap_or_else(|d| panic!("{d}")).workflow;
        eprintln!("parsed and validated {nodes} nodes in {:.2}s", t.elapsed().as_secs_f64());

        let metrics = Arc::new(Metrics::with_samples());
        let board = LeaseBoard::load(store.clone(), Duration::from_secs(60), metrics.clone(), Arc::default(), Arc::new(SystemClock), dir.path()).expect("board");
        let cfg = EngineConfig { data_dir: dir.path().join("data"), slots: 1024, preview_rows: 5 };
        let engine = Engine::new(store.clone(), Arc::new(RemoteExecutor(board.clone())), Arc::new(SystemClock), cfg);
        for w in 0..workers {
            let board = board.clone();
            tokio::spawn(async move {
                let name = format!("stub{w}");
                loop {
                    let leases = board.take(&name, &[], 64, Duration::from_secs(1)).await.expect("take");
                    for l in leases {
                        let board = board.clone();
                        tokio::spawn(async move {
                            let ok = TaskResult {
                                status: TaskStatus::Succeeded,
                                outputs: Default::default(),
                                error: None,
                                notebook_written: false,
                                duration_secs: 0.0,
                                worker: None,
                            };
                            board.complete(&l.id, ok).await.expect("complete");
                        });
                    }
                }
            });
        }
        let t = Instant::now();
        let out = engine.run(&wf, RunRequest::default(), std::future::pending()).await.expect("run");
        let elapsed = t.elapsed().as_secs_f64();
        assert_eq!(out.run.status, RunStatus::Succeeded);
        let done = out.nodes.iter().filter(|n| n.status == NodeStatus::Succeeded).count();
        assert_eq!(done, nodes, "every node completed");
        let mut lat = metrics.dispatch_samples();
        lat.sort();
        let (rate, p99) = if kind == "postgres" { (2000, 20) } else { (5000, 5) };
        println!("scheduler on {kind}: {nodes} nodes ({width} wide, {workers} stub workers) in {elapsed:.2}s");
        println!("completions/s: {:.0} (target >= {rate})", nodes as f64 / elapsed);
        println!(
            "ready-to-leased latency: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} leases (target p99 < {p99} ms)",
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            lat.len()
        );
    });
}
