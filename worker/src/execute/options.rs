//! [`ExecuteOptions`]: everything one execution takes, with the two handles a
//! caller keeps to watch or stop it ([`StreamFiles`], [`StopNote`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::error::Result;
use crate::params::Params;

/// See [`ExecuteOptions::max_output_bytes`].
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 << 20;

/// Everything `deckle execute` takes. (`Debug` shows `env`'s names, not its values:
/// secrets travel there.)
#[derive(Clone)]
pub struct ExecuteOptions {
    /// The notebook to run (`-` is stdin).
    pub input: PathBuf,
    /// Where to write; `None` runs without writing (library use), `-` is stdout.
    pub output: Option<PathBuf>,
    /// Parameters to inject.
    pub params: Params,
    /// `-k`: the kernel, instead of the notebook's.
    pub kernel: Option<String>,
    /// `-l`: the language for the translator, instead of the notebook's.
    pub language: Option<String>,
    /// `--cwd`: the kernel's working directory.
    pub cwd: Option<PathBuf>,
    /// `--prepare-only`: write the parameterized notebook without running it.
    pub prepare_only: bool,
    /// `--report-mode`: hide code cells' input in the output.
    pub report_mode: bool,
    /// `--log-output`: log cell outputs as they arrive.
    pub log_output: bool,
    /// `--progress-bar`: show a progress bar on stderr.
    pub progress_bar: bool,
    /// Per cell, as papermill's `--execution-timeout`.
    pub execution_timeout: Option<Duration>,
    /// How long the kernel may take to start (`--start-timeout`).
    pub start_timeout: Duration,
    /// Declared outputs to fetch after the last cell.
    pub outputs: Vec<String>,
    /// Extra environment for the kernel.
    pub env: Vec<(String, String)>,
    /// Secret parameters by name: the injected cell reads each from the kernel's
    /// environment (`DECKLE_SECRET_<NAME>`, set through `env`).
    pub secret_params: Vec<String>,
    /// The environment kernelspecs are looked up in (`JUPYTER_PATH`, `VIRTUAL_ENV`,
    /// `PATH`, …); `None` reads the process environment.
    pub search_env: Option<HashMap<String, String>>,
    /// Save during a long cell at least this often (papermill's `autosave_cell_every`).
    pub autosave_every: Duration,
    /// Saves while cells run are coalesced to at most one per this interval (the
    /// first of a long cell within it); the final save is always written.
    pub save_interval: Duration,
    /// Outputs kept per notebook, in bytes: past it, later outputs are dropped and
    /// one marker says so (a cell printing in a loop cannot exhaust memory or disk).
    pub max_output_bytes: usize,
    /// How long the kernel gets to acknowledge `shutdown_request` before it is killed.
    pub shutdown_grace: Duration,
    /// How long to wait for an acknowledging kernel's process to exit (see
    /// [`Kernel::shutdown`]).
    pub exit_wait: Duration,
    /// Take the kernel from these warm pools (by kernel, working dir and
    /// environment) instead of booting one.
    pub pools: Option<std::sync::Arc<crate::pool::Pools>>,
    /// A limit on the whole run (a workflow node's `timeout`): kernel start and the
    /// running cell are held to it, and a cell still running at it is interrupted
    /// and recorded like a cell timeout.
    pub deadline: Option<Instant>,
    /// What `deadline` is, for the timeout message (`the node's timeout of 30s`).
    pub deadline_what: Option<String>,
    /// Bumped after each save of the output notebook to a file, so a watcher (the
    /// remote worker's uploader) can send the latest version on.
    pub saved: Option<tokio::sync::watch::Sender<u64>>,
    /// Save at each cell's start and end and on autosave (papermill's
    /// `request_save_on_cell_execute`); when false, only the finished notebook is written.
    pub save_on_cell_execute: bool,
    /// Where the notebook's stdout and stderr streams are also written.
    pub stream_files: StreamFiles,
    /// Why the execution is being stopped, when its caller drops it early.
    pub stop_note: StopNote,
    /// The input and output paths to record in `metadata.papermill` when the files
    /// read and written are staged copies (notebooks in object storage).
    pub recorded_paths: Option<(String, String)>,
}

impl std::fmt::Debug for ExecuteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecuteOptions")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("params", &self.params)
            .field("kernel", &self.kernel)
            .field("language", &self.language)
            .field("cwd", &self.cwd)
            .field("prepare_only", &self.prepare_only)
            .field("report_mode", &self.report_mode)
            .field("log_output", &self.log_output)
            .field("progress_bar", &self.progress_bar)
            .field("execution_timeout", &self.execution_timeout)
            .field("start_timeout", &self.start_timeout)
            .field("outputs", &self.outputs)
            .field("env", &deckle_protocol::task::redacted(self.env.iter().map(|(k, v)| (k, v))))
            .field("secret_params", &self.secret_params)
            .field("search_env", &self.search_env.as_ref().map(|e| e.keys().collect::<Vec<_>>()))
            .field("autosave_every", &self.autosave_every)
            .field("save_interval", &self.save_interval)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("exit_wait", &self.exit_wait)
            .field("pools", &self.pools.is_some())
            .field("deadline", &self.deadline)
            .field("deadline_what", &self.deadline_what)
            .field("saved", &self.saved.is_some())
            .field("save_on_cell_execute", &self.save_on_cell_execute)
            .field("stream_files", &self.stream_files)
            .field("stop_note", &self.stop_note)
            .finish()
    }
}

impl ExecuteOptions {
    /// Run `input` into `output` with papermill's defaults.
    pub fn new(input: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Self {
        ExecuteOptions {
            input: input.into(),
            output: Some(output.into()),
            params: Params::new(),
            kernel: None,
            language: None,
            cwd: None,
            prepare_only: false,
            report_mode: false,
            log_output: false,
            progress_bar: false,
            execution_timeout: None,
            start_timeout: Duration::from_secs(60),
            outputs: Vec::new(),
            env: Vec::new(),
            secret_params: Vec::new(),
            search_env: None,
            autosave_every: Duration::from_secs(30),
            save_interval: Duration::from_secs(1),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            shutdown_grace: Duration::from_secs(2),
            exit_wait: Duration::ZERO,
            pools: None,
            deadline: None,
            deadline_what: None,
            saved: None,
            save_on_cell_execute: true,
            stream_files: StreamFiles::default(),
            stop_note: StopNote::default(),
            recorded_paths: None,
        }
    }

    /// The same options with these parameters.
    pub fn with_params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }
}

/// Why a run is being stopped from outside (a cancel, a worker shutting down, a
/// lost lease, a signal), set by whoever stops it just before dropping the
/// execution: the record then says so. Shared by clones.
#[derive(Clone, Default)]
pub struct StopNote(std::sync::Arc<std::sync::Mutex<Option<(String, String)>>>);

impl StopNote {
    /// `kind`: the error name shown in the cell (`Cancelled`, `WorkerShutdown`, …);
    /// `message`: who stopped it and why.
    pub fn set(&self, kind: impl Into<String>, message: impl Into<String>) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some((kind.into(), message.into()));
        }
    }

    /// The kind and message set, if any.
    pub fn get(&self) -> Option<(String, String)> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

impl std::fmt::Debug for StopNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StopNote").field(&self.get()).finish()
    }
}

/// papermill's `--stdout-file` / `--stderr-file`: the notebook's stream output,
/// written and flushed as it arrives.
#[derive(Clone, Default)]
pub struct StreamFiles {
    /// Where stdout goes, if anywhere.
    pub stdout: Option<std::sync::Arc<std::sync::Mutex<std::fs::File>>>,
    /// Where stderr goes, if anywhere.
    pub stderr: Option<std::sync::Arc<std::sync::Mutex<std::fs::File>>>,
}

impl StreamFiles {
    /// Create (truncate) the files now, as papermill's command line does before it runs.
    pub fn create(stdout: Option<&Path>, stderr: Option<&Path>) -> Result<StreamFiles> {
        let open = |p: Option<&Path>| -> Result<Option<std::sync::Arc<std::sync::Mutex<std::fs::File>>>> {
            p.map(|p| {
                std::fs::File::create(p)
                    .map(|f| std::sync::Arc::new(std::sync::Mutex::new(f)))
                    .map_err(|e| crate::error::Error::io(p, e))
            })
            .transpose()
        };
        Ok(StreamFiles { stdout: open(stdout)?, stderr: open(stderr)? })
    }

    pub(super) fn write(&self, out: &Value) {
        use std::io::Write;
        if out["output_type"] != "stream" {
            return;
        }
        let file = if out["name"] == "stderr" { &self.stderr } else { &self.stdout };
        if let (Some(f), Some(text)) = (file, out["text"].as_str()) {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(text.as_bytes()).and_then(|()| f.flush());
            }
        }
    }
}

impl std::fmt::Debug for StreamFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamFiles").field("stdout", &self.stdout.is_some()).field("stderr", &self.stderr.is_some()).finish()
    }
}
