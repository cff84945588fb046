//! The embedded worker: runs the engine's tasks in this process with
//! `deckle_worker`, one real kernel per attempt (see `deckle_worker::task_run`,
//! which the remote worker shares).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use deckle_orchestrator::executor::{Executor, Task, TaskKind, TaskResult, TaskStatus};
use deckle_orchestrator::mirror::Mirror;
use deckle_worker::execute::StopNote;
use deckle_worker::pool::Pools;
use deckle_worker::task_run;
use futures::future::BoxFuture;

pub struct LocalExecutor {
    /// Where kernelspecs are looked up (`None`: this process's environment).
    pub search_env: Option<HashMap<String, String>>,
    /// Warm kernels, per (kernel, working dir, environment).
    pools: Arc<Pools>,
    /// Why running attempts are being stopped (set on a signal), for their notebooks.
    pub stop_note: StopNote,
    /// Where notebooks are sent on as they are saved (`--artifacts`).
    pub mirror: Mirror,
}

impl LocalExecutor {
    /// `warm_kernels` fresh kernels are kept booted ahead of need (0: boot on demand).
    pub fn new(search_env: Option<HashMap<String, String>>, warm_kernels: usize) -> Self {
        LocalExecutor { search_env, pools: Pools::new(warm_kernels), stop_note: StopNote::default(), mirror: Mirror::none() }
    }
}

impl Executor for LocalExecutor {
    fn run(&self, task: Task) -> BoxFuture<'static, TaskResult> {
        let search_env = self.search_env.clone();
        let pools = self.pools.clone();
        let stop_note = self.stop_note.clone();
        let mirror = self.mirror.clone();
        Box::pin(async move {
            let started = Instant::now();
            let input = match &task.kind {
                TaskKind::Notebook { path, .. } => PathBuf::from(path),
                TaskKind::Sql { spec } => {
                    let path = PathBuf::from(task.input_copy_path.clone().unwrap_or_else(|| format!("{}.input.ipynb", task.output_path)));
                    if let Err(e) = task_run::write_sql_input(&task, spec, &path) {
                        return task_run::failed(TaskStatus::Invalid, e.to_string(), false, started);
                    }
                    path
                }
            };
            let mut opts = task_run::execute_options(&task, input, &task.output_path);
            opts.cwd = task.cwd.as_ref().map(PathBuf::from);
            opts.env = task.secret_env.clone();
            opts.pools = Some(pools);
            opts.search_env = search_env;
            opts.stop_note = stop_note;
            // Each save is queued for the artifact store (which folds bursts), and the
            // notebook as it ended is final.
            if !mirror.enabled() {
                return task_run::run(&task, opts, started).await;
            }
            let output = PathBuf::from(&task.output_path);
            let (saved, mut seen) = tokio::sync::watch::channel(0u64);
            opts.saved = Some(saved);
            let (m, out) = (mirror.clone(), output.clone());
            let follow = tokio::spawn(async move {
                while seen.changed().await.is_ok() {
                    m.saved(&out);
                }
            });
            let result = task_run::run(&task, opts, started).await;
            follow.abort();
            mirror.finished(&output);
            if let Some(copy) = &task.input_copy_path {
                mirror.finished(std::path::Path::new(copy));
            }
            result
        })
    }
}
