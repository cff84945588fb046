//! The embedded worker: runs the engine's tasks in this process with
//! `deckle_worker`, one real kernel per attempt.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deckle_orchestrator::executor::{Executor, Task, TaskKind, TaskResult, TaskStatus};
use deckle_worker::error::exit;
use deckle_worker::execute::{execute_notebook, ExecuteOptions};
use deckle_worker::params::ParamValue;
use deckle_worker::pool::Pools;
use futures::future::BoxFuture;
use serde_json::Map;

pub struct LocalExecutor {
    /// Where kernelspecs are looked up (`None`: this process's environment).
    pub search_env: Option<HashMap<String, String>>,
    /// Warm kernels, per (kernel, working dir, environment).
    pools: Arc<Pools>,
}

impl LocalExecutor {
    /// `warm_kernels` fresh kernels are kept booted ahead of need (0: boot on demand).
    pub fn new(search_env: Option<HashMap<String, String>>, warm_kernels: usize) -> Self {
        LocalExecutor { search_env, pools: Pools::new(warm_kernels) }
    }
}

fn failed(status: TaskStatus, error: String, written: bool, started: Instant) -> TaskResult {
    TaskResult { status, outputs: Map::new(), error: Some(error), notebook_written: written, duration_secs: started.elapsed().as_secs_f64() }
}

impl Executor for LocalExecutor {
    fn run(&self, task: Task) -> BoxFuture<'static, TaskResult> {
        let search_env = self.search_env.clone();
        let pools = self.pools.clone();
        Box::pin(async move {
            let started = Instant::now();
            let input = match &task.kind {
                TaskKind::Notebook { path, .. } => PathBuf::from(path),
                TaskKind::Sql { spec } => {
                    // The coordinator renders `save_to`; make sure its directory exists.
                    if let Some(dir) = spec.save_to.as_deref().and_then(|p| std::path::Path::new(p).parent()) {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    let kernel = task.kernel.as_deref().unwrap_or("python3");
                    let nb = match deckle_worker::sql::generate_notebook(spec, kernel) {
                        Ok(nb) => nb,
                        Err(e) => return failed(TaskStatus::Invalid, e.to_string(), false, started),
                    };
                    let path = PathBuf::from(task.input_copy_path.clone().unwrap_or_else(|| format!("{}.input.ipynb", task.output_path)));
                    if let Err(e) = deckle_worker::notebook::write(&nb, &path) {
                        return failed(TaskStatus::Invalid, e.to_string(), false, started);
                    }
                    path
                }
            };
            let mut opts = ExecuteOptions::new(&input, &task.output_path);
            opts.params = task.params.iter().map(|(k, v)| (k.clone(), ParamValue::from_json(v))).collect();
            opts.outputs = task.outputs.clone();
            opts.kernel = task.kernel.clone();
            opts.cwd = task.cwd.as_ref().map(PathBuf::from);
            opts.env = task.secret_env.clone();
            opts.pools = Some(pools);
            opts.search_env = search_env;
            // The node's timeout is the run's deadline: a cell still running at it is
            // interrupted, then its kernel killed, and the notebook records it. The
            // outer timeout is only a backstop should that machinery hang.
            let limit = task.timeout_secs.map(Duration::from_secs_f64);
            opts.deadline = limit.map(|l| tokio::time::Instant::now() + l);
            let run = execute_notebook(&opts);
            let outcome = match limit {
                Some(l) => match tokio::time::timeout(l + Duration::from_secs(30), run).await {
                    Ok(r) => r,
                    Err(_) => {
                        let written = std::path::Path::new(&task.output_path).exists();
                        let secs = l.as_secs_f64();
                        return failed(TaskStatus::TimedOut, format!("timed out after {secs}s"), written, started);
                    }
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
        })
    }
}
