//! The embedded worker: runs the engine's tasks in this process with
//! `deckle_worker`, one real kernel per attempt.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deckle_orchestrator::executor::{Executor, Task, TaskKind, TaskResult, TaskStatus};
use deckle_worker::error::exit;
use deckle_worker::execute::{execute_notebook, ExecuteOptions};
use deckle_worker::kernel::LaunchOptions;
use deckle_worker::kernelspec;
use deckle_worker::params::ParamValue;
use deckle_worker::pool::KernelPool;
use futures::future::BoxFuture;
use serde_json::Map;

pub struct LocalExecutor {
    /// Where kernelspecs are looked up (`None`: this process's environment).
    pub search_env: Option<HashMap<String, String>>,
    /// Kernels to keep booted ahead of need, per (kernel, working dir, environment).
    pub warm_kernels: usize,
    pools: Arc<Mutex<Vec<Arc<KernelPool>>>>,
}

impl LocalExecutor {
    pub fn new(search_env: Option<HashMap<String, String>>, warm_kernels: usize) -> Self {
        LocalExecutor { search_env, warm_kernels, pools: Arc::default() }
    }
}

/// The kernel a notebook asks for: `-k`, else its `metadata.kernelspec.name`.
fn wanted_kernel(input: &std::path::Path, explicit: Option<&str>) -> Option<String> {
    if let Some(k) = explicit {
        return Some(k.to_string());
    }
    let nb = deckle_worker::notebook::read(input).ok()?;
    nb.pointer("/metadata/kernelspec/name").and_then(serde_json::Value::as_str).map(str::to_string)
}

/// The pool serving this kernel, working dir and environment, made on first use.
fn pool_for(
    pools: &Mutex<Vec<Arc<KernelPool>>>,
    size: usize,
    search_env: Option<&HashMap<String, String>>,
    kernel: &str,
    launch: &LaunchOptions,
) -> Option<Arc<KernelPool>> {
    if size == 0 {
        return None;
    }
    let mut pools = pools.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = pools.iter().find(|p| p.serves(kernel, launch)) {
        return Some(p.clone());
    }
    let spec = match search_env {
        Some(env) => kernelspec::find_kernelspec(kernel, env),
        None => kernelspec::find_kernelspec(kernel, &kernelspec::ProcessEnv),
    }
    .ok()?;
    let pool = KernelPool::new(spec, launch.clone(), size);
    pools.push(pool.clone());
    Some(pool)
}

fn failed(status: TaskStatus, error: String, written: bool, started: Instant) -> TaskResult {
    TaskResult { status, outputs: Map::new(), error: Some(error), notebook_written: written, duration_secs: started.elapsed().as_secs_f64() }
}

impl Executor for LocalExecutor {
    fn run(&self, task: Task) -> BoxFuture<'static, TaskResult> {
        let search_env = self.search_env.clone();
        let pools = self.pools.clone();
        let warm = self.warm_kernels;
        Box::pin(async move {
            let started = Instant::now();
            let input = match &task.kind {
                TaskKind::Notebook { path } => PathBuf::from(path),
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
            if let Some(kernel) = wanted_kernel(&input, task.kernel.as_deref()) {
                let launch = LaunchOptions { cwd: opts.cwd.clone(), env: opts.env.clone(), start_timeout: opts.start_timeout };
                opts.pool = pool_for(&pools, warm, search_env.as_ref(), &kernel, &launch);
            }
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
