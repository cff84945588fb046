//! A diff of two 200-cell output notebooks, as the server makes it: both parsed,
//! cells matched by id, sources and outputs diffed by line, the compare page
//! rendered. Every third cell differs in its source, every fifth in its output;
//! each prints 20 lines.
//!
//!   cargo bench -p deckle-orchestrator --bench diff -- [--cells N]     (default 200)
//!
//! Target: under 300 ms on the server.

use std::time::Instant;

use deckle_orchestrator::compare::cells;
use deckle_orchestrator::http::ui::pages::{compare_page, Frame};
use deckle_protocol::compare::{Comparison, Side};
use serde_json::{json, Value};

fn notebook(cells: usize, variant: usize) -> Value {
    let cells: Vec<Value> = (0..cells)
        .map(|i| {
            let src = if i % 3 == 0 { format!("x_{i} = {}\nprint(x_{i})", i + variant) } else { format!("x_{i} = {i}\nprint(x_{i})") };
            let out: String = (0..20).map(|l| format!("row {l} of cell {i}: {}\n", if i % 5 == 0 { l + variant } else { l })).collect();
            json!({"cell_type": "code", "id": format!("c{i}"), "execution_count": i + 1, "metadata": {"papermill": {"duration": 0.01}},
                   "source": src, "outputs": [{"output_type": "stream", "name": "stdout", "text": out}]})
        })
        .collect();
    json!({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
}

fn side(run: &str) -> Side {
    Side { run_id: run.into(), workflow: "wf".into(), date: "2026-01-01".into(), version: 1, node: "n".into(), attempt: 1, status: "succeeded".into(),
        notebook: Some("n.ipynb".into()), notebook_hash: None, duration_secs: Some(1.0), error: None }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = raw.iter().position(|a| a == "--cells").and_then(|i| raw.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(200);
    let (a, b) = (serde_json::to_vec(&notebook(n, 0)).unwrap(), serde_json::to_vec(&notebook(n, 1)).unwrap());
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..9 {
        let t = Instant::now();
        let (na, nb): (Value, Value) = (serde_json::from_slice(&a).unwrap(), serde_json::from_slice(&b).unwrap());
        let pairs = cells::compare(&cells::cells(&na), &cells::cells(&nb));
        let first_divergence = pairs.iter().find(|c| c.outputs_changed).map(|c| c.index);
        let c = Comparison { a: side("ra"), b: side("rb"), params: vec![], outputs: vec![], cells: pairs, first_divergence };
        size = compare_page(&c).render(&Frame::new("Compare", "csrf")).expect("render").len();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|x, y| x.total_cmp(y));
    println!("diff of two {n}-cell notebooks ({} KiB each), compared and rendered: median {:.1} ms, page {} KiB", a.len() / 1024, times[4], size / 1024);
}
