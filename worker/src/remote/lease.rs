//! One granted lease, start to end: heartbeat it, get the input (the notebook by
//! hash from the cache, or a SQL node's generated notebook, uploaded), run it in a
//! scratch directory while partial notebooks go up, then send the final notebook
//! and the result.
//!
//! How it ends:
//! - the notebook ran (whatever its outcome): final upload, complete;
//! - the heartbeat reply says cancel: the kernel is killed, what was written goes
//!   up, complete as `cancelled`;
//! - the worker's drain time ran out ([`super::run_worker`]): the same, as `lost`,
//!   so the coordinator runs the attempt again at once without counting a retry;
//! - the lease went stale (409), or no heartbeat got through for its TTL: the
//!   kernel is killed and nothing more is sent; the attempt is the server's to
//!   give to another worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deckle_protocol::api::Lease;
use deckle_protocol::task::{Task, TaskKind, TaskResult, TaskStatus};
use tokio::sync::watch;
use tracing::{error, info, instrument, warn};

use super::cache::{Cache, Scratch};
use super::client::{retry, Client};
use super::heartbeat::{self, escalate, Standing};
use super::upload::{Uploader, SETTLE};
use crate::error::Error;
use crate::pool::Pools;
use crate::task_run::{self, failed};

/// What every attempt of one worker shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub client: Client,
    pub cache: Cache,
    pub pools: Arc<Pools>,
    pub search_env: Option<HashMap<String, String>>,
    pub worker: String,
}

/// What to do once the attempt is over.
enum End {
    /// Send the notebook (if written) and this result.
    Complete(TaskResult),
    /// The attempt is not ours any more: send nothing.
    Abandon,
}

/// Run one lease to its end. `drain_over` turning true stops the attempt (it is
/// handed back as `lost`).
#[instrument(skip_all, fields(lease = %lease.id, node = %lease.task.instance(), attempt = lease.task.attempt))]
pub(crate) async fn run(shared: Arc<Shared>, lease: Lease, drain_over: watch::Receiver<bool>) {
    let started = Instant::now();
    let ttl = Duration::from_secs_f64(lease.ttl_secs.max(1.0));
    info!(workflow = %lease.task.workflow, run = %lease.task.run_id, "lease taken");
    let (standing_tx, standing) = watch::channel(Standing::Held);
    let _heartbeat = heartbeat::spawn(shared.client.clone(), lease.id.clone(), ttl, standing_tx.clone());
    // Heartbeats go on until the result is in: they say whether the lease is still ours.
    let held = standing.clone();
    let scratch = match shared.cache.scratch(&lease.id) {
        Ok(s) => s,
        Err(e) => {
            let r = failed(TaskStatus::Lost, format!("worker {}: {e}", shared.worker), false, started);
            return finish(&shared, &lease, ttl, &held, None, r).await;
        }
    };
    let output = scratch.path().join(output_name(&lease.task));
    let end = match input(&shared, &lease, &scratch, ttl, started).await {
        Ok(input) => execute(&shared, &lease, &input, &output, (standing_tx, standing), drain_over, started).await,
        Err(end) => end,
    };
    match end {
        End::Complete(result) => finish(&shared, &lease, ttl, &held, Some(&output), result).await,
        End::Abandon => {}
    }
}

/// The output notebook's file name: the one the server will store it under.
fn output_name(task: &Task) -> String {
    Path::new(&task.output_path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ipynb"))
        .unwrap_or_else(|| "output.ipynb".into())
}

/// The notebook to run: from the cache by hash, or generated (SQL) and uploaded.
async fn input(shared: &Shared, lease: &Lease, scratch: &Scratch, ttl: Duration, started: Instant) -> Result<PathBuf, End> {
    let task = &lease.task;
    let deadline = tokio::time::Instant::now() + ttl;
    match &task.kind {
        TaskKind::Notebook { hash: Some(hash), .. } => {
            let fetch = || shared.cache.fetch(hash, || shared.client.blob(hash));
            retry("fetching the notebook", deadline, fetch).await.map_err(|e| {
                // The server does not have it: running it again will not help. A
                // download that never came, or came corrupted, may go better next time.
                let status = match &e {
                    Error::Api { status: 404, .. } => TaskStatus::Invalid,
                    _ => TaskStatus::Lost,
                };
                End::Complete(failed(status, format!("worker {}: {e}", shared.worker), false, started))
            })
        }
        TaskKind::Notebook { hash: None, path } => Err(End::Complete(failed(
            TaskStatus::Invalid,
            format!("{path}: the lease names no notebook hash (a remote worker fetches notebooks by hash)"),
            false,
            started,
        ))),
        TaskKind::Sql { spec } => {
            let path = scratch.path().join("input.ipynb");
            if let Err(e) = task_run::write_sql_input(task, spec, &path) {
                return Err(End::Complete(failed(TaskStatus::Invalid, e.to_string(), false, started)));
            }
            if task.input_copy_path.is_some() {
                let upload = || async {
                    let body = tokio::fs::read(&path).await.map_err(|e| Error::io(&path, e))?;
                    shared.client.put_notebook(&lease.id, true, body).await
                };
                match retry("uploading the generated input", deadline, upload).await {
                    Ok(()) => {}
                    Err(e @ Error::StaleLease { .. }) => {
                        warn!(error = %e, "lease lost before the attempt started");
                        return Err(End::Abandon);
                    }
                    Err(e) => warn!(error = %e, "the generated input notebook was not stored on the server"),
                }
            }
            Ok(path)
        }
    }
}

/// Run the notebook until it ends, the lease says stop, or the drain time is over.
async fn execute(
    shared: &Shared,
    lease: &Lease,
    input: &Path,
    output: &Path,
    (standing_tx, mut standing): (watch::Sender<Standing>, watch::Receiver<Standing>),
    mut drain_over: watch::Receiver<bool>,
    started: Instant,
) -> End {
    let task = &lease.task;
    let (saved_tx, saved_rx) = watch::channel(0u64);
    let uploader = {
        let client = shared.client.clone();
        let id = lease.id.clone();
        let standing = standing_tx.clone();
        Uploader::spawn(output.to_path_buf(), saved_rx, SETTLE, move |body| {
            let (client, id, standing) = (client.clone(), id.clone(), standing.clone());
            async move {
                let r = client.put_notebook(&id, false, body).await;
                if let Err(Error::StaleLease { .. }) = r {
                    escalate(&standing, Standing::Stale);
                }
                r
            }
        })
    };
    let mut opts = task_run::execute_options(task, input, output);
    // One working directory for every attempt, so the warm kernels (pooled by
    // working directory and environment) serve them all.
    opts.cwd = Some(shared.cache.work_dir());
    opts.env = lease.secret_env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    // A kernel's environment is fixed when it boots: an attempt with secrets boots
    // its own rather than leaving a pool per secret behind.
    opts.pools = opts.env.is_empty().then(|| shared.pools.clone());
    opts.search_env = shared.search_env.clone();
    opts.saved = Some(saved_tx);
    let note = opts.stop_note.clone();
    let stopped = |status: TaskStatus, why: String| failed(status, why, output.exists(), started);
    // Dropping the execution kills the kernel and finishes the notebook with what
    // ran and why it stopped (the note is set first, so the record says why).
    let mut execution = Box::pin(task_run::run(task, opts, started));
    enum Ended {
        Ran(TaskResult),
        Stood(Standing),
        Drained,
    }
    let ended = tokio::select! {
        result = &mut execution => Ended::Ran(result),
        s = standing.wait_for(|s| *s != Standing::Held) => Ended::Stood(s.map(|s| *s).unwrap_or(Standing::Stale)),
        _ = drain_over.wait_for(|d| *d) => Ended::Drained,
    };
    let now = || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let result = match ended {
        Ended::Ran(result) => result,
        Ended::Stood(Standing::Cancel) => {
            note.set("Cancelled", format!("cancelled through the server at {}; worker {} stopped the kernel", now(), shared.worker));
            drop(execution);
            info!("cancelled by the server; kernel stopped");
            stopped(TaskStatus::Cancelled, "cancelled".into())
        }
        Ended::Stood(s) => {
            let why = if s == Standing::Unreachable { "the server was unreachable for longer than the lease's TTL" } else { "the lease is no longer this worker's" };
            note.set("LeaseLost", format!("{why} at {}; worker {} stopped the kernel", now(), shared.worker));
            drop(execution);
            if s == Standing::Unreachable {
                error!("the server was unreachable for longer than the lease's TTL; kernel stopped, attempt given up");
            } else {
                warn!("the lease is no longer this worker's; kernel stopped");
            }
            uploader.stop().await;
            return End::Abandon;
        }
        Ended::Drained => {
            note.set("WorkerShutdown", format!("worker {} shut down at {} before the attempt finished; it runs again elsewhere", shared.worker, now()));
            drop(execution);
            warn!("drain time over; kernel stopped, attempt handed back");
            stopped(TaskStatus::Lost, format!("worker {} shut down before the attempt finished", shared.worker))
        }
    };
    uploader.stop().await;
    if *standing.borrow() >= Standing::Unreachable {
        return End::Abandon;
    }
    End::Complete(result)
}

/// How long a worker keeps trying to hand in a finished attempt while the server
/// answers but cannot record it (503: its disk is full or read-only).
const MAX_HAND_IN: Duration = Duration::from_secs(3600);

/// [`retry`] for one TTL, then again for as long as heartbeats still get through
/// (the lease is ours, and the server up but failing), up to [`MAX_HAND_IN`].
async fn hand_in<T, F, Fut>(what: &str, ttl: Duration, held: &watch::Receiver<Standing>, mut op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let give_up = tokio::time::Instant::now() + MAX_HAND_IN;
    loop {
        let r = retry(what, tokio::time::Instant::now() + ttl, &mut op).await;
        match r {
            Err(e) if e.is_transient() && *held.borrow() < Standing::Unreachable && tokio::time::Instant::now() < give_up => {
                warn!(what, error = %e, "the server is up but cannot take it yet; trying again while the lease is held");
            }
            r => return r,
        }
    }
}

/// Send the final notebook (when there is one) and the result.
async fn finish(shared: &Shared, lease: &Lease, ttl: Duration, held: &watch::Receiver<Standing>, output: Option<&Path>, mut result: TaskResult) {
    let client = &shared.client;
    let written = output.filter(|p| p.is_file());
    result.notebook_written = false;
    if let Some(path) = written {
        let upload = || async {
            let body = tokio::fs::read(path).await.map_err(|e| Error::io(path, e))?;
            client.put_notebook(&lease.id, false, body).await
        };
        match hand_in("uploading the output notebook", ttl, held, upload).await {
            Ok(()) => result.notebook_written = true,
            Err(e @ Error::StaleLease { .. }) => {
                warn!(error = %e, "lease lost; the result is not sent");
                return;
            }
            Err(e) => warn!(error = %e, "the output notebook was not stored on the server"),
        }
    }
    let status = result.status;
    match hand_in("completing", ttl, held, || client.complete(&lease.id, &result)).await {
        Ok(()) => info!(?status, duration_secs = result.duration_secs, "attempt completed"),
        Err(e @ Error::StaleLease { .. }) => warn!(error = %e, ?status, "completion refused: the lease is no longer this worker's"),
        Err(e) => error!(error = %e, ?status, "could not complete the attempt; the server will retry it when the lease expires"),
    }
}
