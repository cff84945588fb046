//! `deckle worker --server URL`: take node attempts from a coordinator and run them
//! on this machine's kernels (`deckle_worker::remote`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use deckle_worker::remote::{self, WorkerConfig};

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// The coordinator, `http://host:port`; or several sharing one database,
    /// comma-separated (any serves a worker; the next is tried when one does not answer).
    #[arg(long, env = "DECKLE_SERVER")]
    pub server: String,
    /// How many notebooks run at once.
    #[arg(long, default_value_t = 1)]
    pub slots: usize,
    /// Labels this worker has (`gpu,eu`); a node with labels runs only on a worker with all of them.
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Kernels kept booted ahead of need (fresh for every notebook; 0 to boot on demand).
    #[arg(long, default_value_t = 1)]
    pub warm_kernels: usize,
    /// A file holding the bearer token (default: the DECKLE_TOKEN environment variable).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Seconds the server may hold a request for work open when nothing is ready (at most 30).
    #[arg(long, default_value_t = 30.0)]
    pub lease_wait: f64,
    /// Notebook cache, kernels' working directory and scratch space
    /// [default: $XDG_CACHE_HOME/deckle or ~/.cache/deckle].
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// How the server knows this worker [default: hostname:pid].
    #[arg(long)]
    pub name: Option<String>,
    /// On SIGTERM or Ctrl-C, seconds running notebooks get to finish; then they are
    /// stopped and handed back to the server to run elsewhere.
    #[arg(long, default_value_t = 60.0)]
    pub drain_secs: f64,
}

/// Exit codes, as the other client commands use them (see `client.rs`).
const EXIT_ERROR: i32 = 1;
const EXIT_USAGE: i32 = crate::client::EXIT_USAGE;

fn config(args: &WorkerArgs) -> Result<WorkerConfig, String> {
    for s in args.server.split(',').map(str::trim) {
        if !(s.starts_with("http://") || s.starts_with("https://")) {
            return Err(format!("--server {s:?}: expected http://HOST:PORT (several: comma-separated)"));
        }
    }
    let secs = |flag: &str, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!("{flag} {v}: expected a number of seconds"))
        }
    };
    let cache = match args.cache.clone().or_else(remote::cache::default_dir) {
        Some(c) => c,
        None => return Err("no cache directory: give --cache (neither XDG_CACHE_HOME nor HOME is set)".into()),
    };
    let mut cfg = WorkerConfig::new(args.server.clone(), cache);
    if let Some(n) = &args.name {
        cfg.name = n.clone();
    }
    cfg.slots = args.slots.max(1);
    cfg.labels = args.labels.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    cfg.warm_kernels = args.warm_kernels;
    cfg.token = crate::server_cmd::read_token(args.token_file.as_ref()).map_err(|e| format!("--token-file {e}"))?;
    cfg.lease_wait = secs("--lease-wait", args.lease_wait)?;
    cfg.drain = secs("--drain-secs", args.drain_secs)?;
    Ok(cfg)
}

/// Resolves on the first SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    eprintln!("deckle worker: shutting down (running notebooks get to finish)");
}

pub async fn run(args: WorkerArgs) -> i32 {
    let cfg = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("deckle worker: {e}");
            return EXIT_USAGE;
        }
    };
    match remote::run_worker(cfg, shutdown_signal()).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("deckle worker: {e}");
            match e {
                deckle_worker::Error::Unauthorized { .. } => {
                    eprintln!("deckle worker: check --token-file or DECKLE_TOKEN against the server's token");
                    crate::client::EXIT_AUTH
                }
                deckle_worker::Error::Io { .. } => EXIT_USAGE,
                _ => EXIT_ERROR,
            }
        }
    }
}
