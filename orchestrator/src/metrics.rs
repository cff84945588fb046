//! Prometheus metrics, rendered in the text exposition format by hand: a handful
//! of counters and one histogram do not need a registry crate.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::record::{NodeStatus, RunStatus};

/// Upper bounds (seconds) of the dispatch latency histogram: ready → leased.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0];

const NODE_STATES: [NodeStatus; 10] = [
    NodeStatus::Pending,
    NodeStatus::Ready,
    NodeStatus::Running,
    NodeStatus::Succeeded,
    NodeStatus::Failed,
    NodeStatus::Skipped,
    NodeStatus::UpstreamFailed,
    NodeStatus::Retrying,
    NodeStatus::Cancelled,
    NodeStatus::Waiting,
];
/// The coordinator's counters and the dispatch-latency histogram.

#[derive(Default)]
pub struct Metrics {
    buckets: [AtomicU64; BUCKETS.len()],
    dispatch_count: AtomicU64,
    /// Microseconds.
    dispatch_sum: AtomicU64,
    lease_expiries: AtomicU64,
    settled: Mutex<std::collections::HashMap<&'static str, u64>>,
    runs_finished: Mutex<std::collections::HashMap<&'static str, u64>>,
    /// Every dispatch latency, when asked for (benchmarks want exact percentiles).
    samples: Option<Mutex<Vec<Duration>>>,
}

/// Gauges read at scrape time.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Attempts waiting for a worker.
    pub queue_depth: usize,
    /// Leases held by workers.
    pub active_leases: usize,
    /// Runs by status, as the store has them.
    pub runs: Vec<(RunStatus, usize)>,
    /// Node instances by status, across runs in flight.
    pub nodes: Vec<(NodeStatus, usize)>,
    /// Whether the data dir takes writes.
    pub storage_ok: bool,
}

impl Metrics {
    /// Metrics that also keep every dispatch latency (see [`Self::dispatch_samples`]).
    pub fn with_samples() -> Self {
        Metrics { samples: Some(Mutex::new(Vec::new())), ..Default::default() }
    }

    /// Every dispatch latency recorded (only when samples were asked for).
    pub fn dispatch_samples(&self) -> Vec<Duration> {
        self.samples.as_ref().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone()).unwrap_or_default()
    }

    /// An attempt waited `d` between being queued and being leased.
    pub fn observe_dispatch(&self, d: Duration) {
        if let Some(s) = &self.samples {
            s.lock().unwrap_or_else(|p| p.into_inner()).push(d);
        }
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.dispatch_count.fetch_add(1, Ordering::Relaxed);
        self.dispatch_sum.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// A lease expired.
    pub fn lease_expired(&self) {
        self.lease_expiries.fetch_add(1, Ordering::Relaxed);
    }

    /// A node reached a final `status`.
    pub fn node_settled(&self, status: NodeStatus) {
        *self.settled.lock().unwrap_or_else(|p| p.into_inner()).entry(status.as_str()).or_default() += 1;
    }

    /// A run ended with `status`.
    pub fn run_finished(&self, status: RunStatus) {
        *self.runs_finished.lock().unwrap_or_else(|p| p.into_inner()).entry(status.as_str()).or_default() += 1;
    }

    /// Leases expired so far.
    pub fn lease_expiries(&self) -> u64 {
        self.lease_expiries.load(Ordering::Relaxed)
    }

    /// Everything, in Prometheus' text format.
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP deckle_runs Runs by status.\n# TYPE deckle_runs gauge");
        for (status, n) in &g.runs {
            let _ = writeln!(out, "deckle_runs{{status=\"{}\"}} {n}", status.as_str());
        }
        let _ = writeln!(out, "# HELP deckle_nodes Node instances of runs in flight, by status.\n# TYPE deckle_nodes gauge");
        for s in NODE_STATES {
            let n = g.nodes.iter().find(|(st, _)| *st == s).map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "deckle_nodes{{status=\"{}\"}} {n}", s.as_str());
        }
        let _ = writeln!(out, "# HELP deckle_nodes_settled_total Node settlements since start, by status.\n# TYPE deckle_nodes_settled_total counter");
        let mut settled: Vec<_> = self.settled.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (*k, *v)).collect();
        settled.sort();
        for (k, v) in settled {
            let _ = writeln!(out, "deckle_nodes_settled_total{{status=\"{k}\"}} {v}");
        }
        let _ = writeln!(out, "# HELP deckle_runs_finished_total Runs finished since start, by status.\n# TYPE deckle_runs_finished_total counter");
        let mut runs: Vec<_> = self.runs_finished.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (*k, *v)).collect();
        runs.sort();
        for (k, v) in runs {
            let _ = writeln!(out, "deckle_runs_finished_total{{status=\"{k}\"}} {v}");
        }
        let _ = writeln!(out, "# HELP deckle_storage_ok 1 when the data dir takes writes, 0 while it is full or read-only.\n# TYPE deckle_storage_ok gauge\ndeckle_storage_ok {}", u8::from(g.storage_ok));
        let _ = writeln!(out, "# HELP deckle_queue_depth Attempts waiting for a worker.\n# TYPE deckle_queue_depth gauge\ndeckle_queue_depth {}", g.queue_depth);
        let _ = writeln!(out, "# HELP deckle_leases_active Leases held by workers.\n# TYPE deckle_leases_active gauge\ndeckle_leases_active {}", g.active_leases);
        let _ = writeln!(
            out,
            "# HELP deckle_lease_expiries_total Leases that expired without a heartbeat.\n# TYPE deckle_lease_expiries_total counter\ndeckle_lease_expiries_total {}",
            self.lease_expiries()
        );
        let _ = writeln!(out, "# HELP deckle_dispatch_latency_seconds Ready to leased.\n# TYPE deckle_dispatch_latency_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "deckle_dispatch_latency_seconds_bucket{{le=\"{b}\"}} {}", self.buckets[i].load(Ordering::Relaxed));
        }
        let count = self.dispatch_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "deckle_dispatch_latency_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "deckle_dispatch_latency_seconds_sum {}", self.dispatch_sum.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "deckle_dispatch_latency_seconds_count {count}");
        out
    }
}

/// The artifact store's counters (`--artifacts`), in Prometheus' text format.
pub fn mirror_text(s: &crate::mirror::MirrorStats) -> String {
    format!(
        "# HELP deckle_artifact_uploads_total Uploads to the artifact store.\n# TYPE deckle_artifact_uploads_total counter\ndeckle_artifact_uploads_total {}\n\
         # HELP deckle_artifact_upload_failures_total Uploads to the artifact store that failed (each is retried).\n# TYPE deckle_artifact_upload_failures_total counter\ndeckle_artifact_upload_failures_total {}\n\
         # HELP deckle_artifact_uploads_pending Files waiting to be uploaded to the artifact store.\n# TYPE deckle_artifact_uploads_pending gauge\ndeckle_artifact_uploads_pending {}\n\
         # HELP deckle_artifact_uploads_per_notebook Uploads each finished notebook took (partial saves and the final one).\n# TYPE deckle_artifact_uploads_per_notebook summary\n\
         deckle_artifact_uploads_per_notebook_sum {}\ndeckle_artifact_uploads_per_notebook_count {}\n",
        s.uploads, s.failures, s.pending, s.notebook_uploads, s.notebooks
    )
}
