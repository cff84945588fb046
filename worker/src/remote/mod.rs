//! The remote worker (`deckle worker`): pulls node attempts from a coordinator
//! over HTTP and runs them on local kernels.
//!
//! The loop ([`run_worker`]): while a slot is free, hold exactly one long-poll
//! (`POST /api/v1/leases` asking for as many leases as there are free slots);
//! with every slot busy, send nothing until an attempt ends. Each lease runs in
//! its own task ([`lease`]): heartbeats ([`heartbeat`]), the notebook from the
//! cache by hash ([`cache`]), partial notebooks sent as cells end ([`upload`]),
//! then the final notebook and the result ([`client`]).
//!
//! Shutdown (the `shutdown` future resolving: SIGTERM or Ctrl-C in the CLI): the
//! open long-poll is dropped (a lease the server granted in that very reply is
//! never heard of here; it expires and is retried), running attempts get
//! [`WorkerConfig::drain`] to finish, and any still running then are stopped and
//! completed as `lost` (with their partial notebook), which the coordinator
//! re-runs elsewhere at once without counting a retry. Then `run_worker` returns.

pub mod cache;
pub mod client;
pub mod heartbeat;
mod lease;
pub mod upload;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deckle_protocol::api::LeaseRequest;
use deckle_protocol::backoff::Backoff;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::error::Result;
use crate::kernel::LaunchOptions;
use crate::kernelspec::{find_kernelspec, ProcessEnv};
use crate::pool::Pools;
use cache::Cache;
use client::Client;

/// Everything `deckle worker` takes.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The coordinator, `http://host:port`.
    pub server: String,
    /// How the server knows this worker; `host:pid` by default ([`default_name`]).
    pub name: String,
    /// How many attempts run at once.
    pub slots: usize,
    /// Sent with each lease request; the server gives a node with labels only to a
    /// worker that has all of them.
    pub labels: Vec<String>,
    /// Fresh kernels kept booted ahead of need (never reused across attempts).
    pub warm_kernels: usize,
    /// Sent as `Authorization: Bearer …` on every request.
    pub token: Option<String>,
    /// How long the server may hold a lease request open (it caps this at 30 s).
    pub lease_wait: Duration,
    /// Notebooks by hash, the kernels' working directory, per-attempt scratch.
    pub cache_dir: PathBuf,
    /// After shutdown is asked for, how long running attempts get to finish.
    pub drain: Duration,
    /// Where kernelspecs are looked up (`None`: this process's environment).
    pub search_env: Option<HashMap<String, String>>,
}

impl WorkerConfig {
    /// One slot, one warm kernel, 30 s long-polls, 60 s to drain.
    pub fn new(server: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        WorkerConfig {
            server: server.into(),
            name: default_name(),
            slots: 1,
            labels: Vec::new(),
            warm_kernels: 1,
            token: None,
            lease_wait: Duration::from_secs(30),
            cache_dir: cache_dir.into(),
            drain: Duration::from_secs(60),
            search_env: None,
        }
    }
}

/// `hostname:pid`.
pub fn default_name() -> String {
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Long-poll errors that may pass (no answer, 5xx) are retried after this, doubling.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// After the drain time, how long stopped attempts get to send their notebook and result.
const HAND_BACK: Duration = Duration::from_secs(30);

/// Take work from the coordinator until `shutdown` resolves, then drain (see the
/// module doc) and return `Ok`. Returns an error at once when the server refuses
/// the token ([`Error::Unauthorized`]) or answers the lease request with another
/// client error (wrong URL, incompatible server); when it cannot be reached, or
/// fails (5xx), it is asked again with backoff, indefinitely.
pub async fn run_worker(cfg: WorkerConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    let client = Client::new(&cfg.server, cfg.token.clone())?;
    let cache = Cache::open(&cfg.cache_dir)?;
    let pools = Pools::new(cfg.warm_kernels);
    warm_up(&pools, cfg.search_env.as_ref(), cache.work_dir());
    let shared = Arc::new(lease::Shared {
        client: client.clone(),
        cache,
        pools,
        search_env: cfg.search_env.clone(),
        worker: cfg.name.clone(),
    });
    let slots = cfg.slots.max(1);
    let (drain_over_tx, drain_over) = watch::channel(false);
    let mut running = JoinSet::new();
    let mut backoff = Backoff::new(FIRST_PAUSE, MAX_PAUSE);
    tokio::pin!(shutdown);
    info!(worker = %cfg.name, server = %client.server(), slots, labels = ?cfg.labels, cache = %cfg.cache_dir.display(), "worker started");
    loop {
        while running.try_join_next().is_some() {}
        let free = slots.saturating_sub(running.len());
        if free == 0 {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = running.join_next() => continue,
            }
        }
        let req = LeaseRequest {
            worker: cfg.name.clone(),
            labels: cfg.labels.clone(),
            max: u32::try_from(free).unwrap_or(u32::MAX),
            wait_secs: cfg.lease_wait.as_secs_f64(),
        };
        let polled = tokio::select! {
            _ = &mut shutdown => break,
            r = client.lease(&req) => r,
        };
        match polled {
            Ok(leases) => {
                backoff.reset();
                for l in leases {
                    running.spawn(lease::run(shared.clone(), l, drain_over.clone()));
                }
            }
            Err(e) if e.is_transient() => {
                // No cap and no deadline: a pause always comes.
                let pause = backoff.next_delay().unwrap_or(MAX_PAUSE);
                warn!(error = %e, retry_in_secs = pause.as_secs_f64(), "cannot get work from the server");
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
    while running.try_join_next().is_some() {}
    let still = running.len();
    if still > 0 {
        info!(running = still, drain_secs = cfg.drain.as_secs_f64(), "shutting down: letting running attempts finish");
    }
    if tokio::time::timeout(cfg.drain, join_all(&mut running)).await.is_err() {
        warn!(running = running.len(), "drain time over: stopping the attempts still running and handing them back");
        let _ = drain_over_tx.send(true);
        if tokio::time::timeout(HAND_BACK, join_all(&mut running)).await.is_err() {
            warn!(running = running.len(), "attempts not handed back in time; their leases will expire");
        }
    }
    info!("worker stopped");
    Ok(())
}

/// Start booting the warm kernels of the usual kernel (`python3`) now, so that
/// the first lease finds them ready too. Other kernels' pools start on first use.
fn warm_up(pools: &Pools, search_env: Option<&HashMap<String, String>>, work_dir: PathBuf) {
    let spec = match search_env {
        Some(env) => find_kernelspec("python3", env),
        None => find_kernelspec("python3", &ProcessEnv),
    };
    match spec {
        Ok(spec) => {
            pools.pool_for(&spec, &LaunchOptions { cwd: Some(work_dir), ..LaunchOptions::default() });
        }
        Err(e) => debug!(error = %e, "no python3 kernel to warm up"),
    }
}

async fn join_all(running: &mut JoinSet<()>) {
    while running.join_next().await.is_some() {}
}
