//! One node attempt, from a [`Task`] to its [`TaskResult`]: what the embedded
//! executor of `deckle run` and the remote worker (`deckle worker`) share. They
//! differ only in where the input comes from and where things are written; both
//! build [`ExecuteOptions`] with [`execute_options`], adjust the places, and
//! call [`run`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deckle_protocol::sql::SqlSpec;
use deckle_protocol::task::{Task, TaskResult, TaskStatus};
use serde_json::Map;

use crate::error::{exit, Result};
use crate::execute::{execute_notebook, ExecuteOptions};
use crate::params::ParamValue;

/// A result for an attempt that did not run to its end.
pub fn failed(status: TaskStatus, error: String, written: bool, started: Instant) -> TaskResult {
    TaskResult {
        status,
        outputs: Map::new(),
        error: Some(error),
        notebook_written: written,
        duration_secs: started.elapsed().as_secs_f64(),
        worker: None,
    }
}

/// Generate a SQL node's notebook and write it to `path`. The coordinator renders
/// `save_to`; its directory is made here, where the kernel will write it.
pub fn write_sql_input(task: &Task, spec: &SqlSpec, path: &Path) -> Result<()> {
    if let Some(dir) = spec.save_to.as_deref().and_then(|p| Path::new(p).parent()).filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let nb = crate::sql::generate_notebook(spec, task.kernel.as_deref().unwrap_or("python3"))?;
    crate::notebook::write(&nb, path)
}

/// The options for running `task` from `input` into `output`: its parameters,
/// declared outputs, kernel and time limit. The caller sets where it runs (`cwd`,
/// `env`, `pools`, `search_env`, `saved`).
pub fn execute_options(task: &Task, input: impl Into<PathBuf>, output: impl Into<PathBuf>) -> ExecuteOptions {
    let mut opts = ExecuteOptions::new(input, output);
    opts.params = task.params.iter().map(|(k, v)| (k.clone(), ParamValue::from_json(v))).collect();
    opts.secret_params = task.secret_params.clone();
    opts.outputs = task.outputs.clone();
    opts.kernel = task.kernel.clone();
    // The node's timeout is the run's deadline: a cell still running at it is
    // interrupted, then its kernel killed, and the notebook records it.
    opts.deadline = task.timeout_secs.map(|l| tokio::time::Instant::now() + Duration::from_secs_f64(l));
    // Say it is the node's own limit, not the run's: nothing limits a whole run.
    opts.deadline_what = task.timeout_secs.map(|l| format!("the node's timeout of {l}s"));
    opts
}

/// Run the attempt with `opts` (from [`execute_options`]) and say how it went.
/// `started` is when the attempt began, for its duration. Dropping the future
/// kills the kernel.
pub async fn run(task: &Task, opts: ExecuteOptions, started: Instant) -> TaskResult {
    let output = opts.output.clone().unwrap_or_default();
    let run = execute_notebook(&opts);
    // The deadline in `opts` does the work; this outer timeout is only a backstop
    // should that machinery hang.
    let outcome = match task.timeout_secs {
        Some(l) => match tokio::time::timeout(Duration::from_secs_f64(l) + Duration::from_secs(30), run).await {
            Ok(r) => r,
            Err(_) => return failed(TaskStatus::TimedOut, format!("timed out after {l}s"), output.exists(), started),
        },
        None => run.await,
    };
    match outcome {
        Ok(report) => TaskResult {
            status: TaskStatus::Succeeded,
            outputs: report.recorded.into_iter().collect(),
            error: None,
            notebook_written: true,
            duration_secs: started.elapsed().as_secs_f64(),
            worker: None,
        },
        Err(f) => {
            let status = match f.error.exit_code() {
                exit::BAD_INPUT => TaskStatus::Invalid,
                exit::TIMEOUT => TaskStatus::TimedOut,
                _ => TaskStatus::Failed,
            };
            let mut error = f.error.to_string();
            if let (TaskStatus::TimedOut, Some(secs)) = (status, task.timeout_secs) {
                error = format!("timed out after {secs}s: {error}");
            }
            failed(status, error, f.notebook.is_some(), started)
        }
    }
}
