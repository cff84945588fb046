//! Running a whole notebook on one kernel, recording what papermill and nbclient
//! record, and saving as each cell starts and ends.
//!
//! The order of steps, and every metadata field, follows papermill's
//! `execute_notebook` → `NotebookExecutionManager` → `PapermillNotebookClient`
//! and nbclient's `async_execute_cell`/`process_message`. Where papermill leaves a
//! run badly recorded (a timed-out cell marked `completed`, a dead kernel with no
//! trace in the notebook), Deckle marks the cell `failed`, adds an `error` output
//! saying what happened, and inserts papermill's error cells.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::{sleep_until, Instant};
use tracing::{info, instrument, warn};

use crate::error::{Error, Result};
use crate::inject;
use crate::kernel::{Kernel, KernelEvent, LaunchOptions};
use crate::kernelspec::{self, ProcessEnv};
use crate::notebook;
use crate::outputs::{self, Recorded};
mod options;
mod record;

use record::{cell_label, now, CellFailure, Run};
pub use options::{ExecuteOptions, StopNote, StreamFiles, DEFAULT_MAX_OUTPUT_BYTES};
use crate::translate;

/// How long after a cell's reply (or its last output after the reply) its `idle`
/// status may take (nbclient's `iopub_timeout` is 4 s).
const IOPUB_GRACE: Duration = Duration::from_secs(5);

/// What a finished run produced.
#[derive(Debug)]
pub struct ExecuteReport {
    /// The output notebook as written.
    pub notebook: Value,
    /// How many code cells ran.
    pub cells_executed: usize,
    /// Declared outputs and scraps the notebook recorded.
    pub recorded: Recorded,
    /// Seconds from start to end.
    pub duration: f64,
    /// Warnings papermill would log (unknown parameters, no parameters cell, …).
    pub warnings: Vec<String>,
}

/// A failed run: the error, and the notebook as it was written.
#[derive(Debug)]
pub struct ExecuteFailure {
    /// What went wrong.
    pub error: Error,
    /// The notebook as recorded up to the failure, when there is one.
    pub notebook: Option<Value>,
}

impl From<Error> for ExecuteFailure {
    fn from(error: Error) -> Self {
        ExecuteFailure { error, notebook: None }
    }
}


/// The kernel side of a cell: send it, collect what comes back, enforce limits.
impl Run<'_> {
    /// Run code cell `i` to completion, timeout or kernel death.
    async fn execute_cell(&mut self, kernel: &mut Kernel, i: usize) -> Result<Option<CellFailure>> {
        self.nb["cells"][i]["metadata"]["execution"] = json!({});
        self.clear_before_next_output = false;
        let code = notebook::source(&self.nb["cells"][i]).to_string();
        let msg_id = kernel.execute(&code, None, false).await?;
        let cell_deadline = self.opts.execution_timeout.map(|t| Instant::now() + t);
        let whole = || self.opts.deadline_what.clone().unwrap_or_else(|| "the time limit of the whole notebook".to_string());
        let (deadline, limit) = match (cell_deadline, self.opts.deadline) {
            (Some(c), Some(run)) if run < c => (Some(run), whole()),
            (None, Some(run)) => (Some(run), whole()),
            (c, _) => (c, format!("{}s", self.opts.execution_timeout.map_or(0.0, |d| d.as_secs_f64()))),
        };
        let timeout_text = format!("A cell timed out while it was being executed: it did not finish within {limit}.");
        let mut reply: Option<Value> = None;
        let mut idle = false;
        let mut reply_at: Option<Instant> = None;
        let mut interrupted_at: Option<Instant> = None;
        loop {
            if reply.is_some() && idle {
                break;
            }
            let autosave_at = self.last_save + self.opts.autosave_every;
            let autosave_at = self.save_due().map_or(autosave_at, |due| due.min(autosave_at));
            let wake = match (deadline, interrupted_at) {
                (_, Some(t)) => autosave_at.min(t + Duration::from_secs(5)),
                (Some(d), None) => autosave_at.min(d),
                (None, None) => autosave_at,
            };
            let wake = reply_at.map_or(wake, |r| wake.min(r + IOPUB_GRACE));
            let event = tokio::select! {
                ev = kernel.next_event() => Some(ev),
                _ = sleep_until(wake) => None,
            };
            match event {
                Some(KernelEvent::IoPub(m)) if m.parent_msg_id.as_deref() == Some(msg_id.as_str()) => {
                    if self.process_message(i, &m) {
                        idle = true;
                    }
                    // New output reaches the file (and a remote worker's uploads)
                    // within a save interval, not only when the cell ends.
                    self.dirty = true;
                    // Output still flowing after the reply: the grace runs from the last.
                    if reply_at.is_some() {
                        reply_at = Some(Instant::now());
                    }
                }
                Some(KernelEvent::Shell(m)) if m.parent_msg_id.as_deref() == Some(msg_id.as_str()) => {
                    self.nb["cells"][i]["metadata"]["execution"]["shell.execute_reply"] = json!(m.date);
                    reply = Some(m.content);
                    reply_at = Some(Instant::now());
                }
                Some(KernelEvent::Died(how)) => {
                    self.push_error_output(i, "DeadKernelError", &format!("Kernel died while running this cell ({how})"));
                    return Ok(Some(CellFailure::KernelDied(how)));
                }
                Some(_) => {}
                None => {
                    let now = Instant::now();
                    if now >= self.last_save + self.opts.autosave_every || self.save_due().is_some_and(|due| now >= due) {
                        self.save()?;
                    }
                    if reply_at.is_some_and(|r| now >= r + IOPUB_GRACE) {
                        // nbclient's iopub_timeout: the reply came but the kernel's
                        // `idle` never did (ipykernel drops output past its high-water
                        // mark when the reader lags). Go on rather than wait forever, and
                        // say in the notebook that output may be missing.
                        warn!(cell = i, "no idle status from the kernel within {IOPUB_GRACE:?} of the reply; output may be missing");
                        let note = format!("[deckle: the kernel's idle status did not arrive within {}s of the cell's reply; some output of this cell may be missing]\n", IOPUB_GRACE.as_secs());
                        if let Some(outs) = self.nb["cells"][i]["outputs"].as_array_mut() {
                            outs.push(json!({"output_type": "stream", "name": "stderr", "text": note}));
                        }
                        break;
                    }
                    if let Some(t) = interrupted_at {
                        if now >= t + Duration::from_secs(5) {
                            // The kernel ignored the interrupt; it cannot be trusted
                            // with the next cell.
                            kernel.interrupt().await;
                            self.push_error_output(i, "CellTimeoutError", &timeout_text);
                            return Ok(Some(CellFailure::TimedOut(limit)));
                        }
                    } else if deadline.is_some_and(|d| now >= d) {
                        warn!(cell = i, "cell timed out; interrupting the kernel");
                        kernel.interrupt().await;
                        interrupted_at = Some(now);
                    }
                }
            }
        }
        if interrupted_at.is_some() {
            self.push_error_output(i, "CellTimeoutError", &timeout_text);
            return Ok(Some(CellFailure::TimedOut(limit)));
        }
        let reply = reply.unwrap_or_default();
        if reply["status"] == "error" {
            return Ok(Some(CellFailure::Raised {
                ename: reply["ename"].as_str().unwrap_or("Error").to_string(),
                evalue: reply["evalue"].as_str().unwrap_or("").to_string(),
            }));
        }
        Ok(None)
    }
}

/// Load, validate and parameterize the input as papermill does; returns the
/// notebook ready to run, the kernel name, and warnings.
pub fn prepare(opts: &ExecuteOptions) -> Result<(Value, String, Vec<String>)> {
    let mut nb = if opts.input == Path::new("-") { read_stdin()? } else { notebook::read(&opts.input)? };
    let mut warnings = Vec::new();
    for name in &opts.outputs {
        if !outputs::valid_name(name) {
            return Err(Error::params("--outputs", format!("{name:?} is not a variable name")));
        }
    }
    inject::load_defaults(&mut nb);
    let (kernel, language) = inject::kernel_and_language(&nb, opts.kernel.as_deref(), opts.language.as_deref());
    let kernel = kernel.ok_or_else(|| {
        Error::input(&opts.input, "no kernel name found in the notebook's metadata.kernelspec and no -k given")
    })?;
    // A kernel that cannot report declared outputs fails before any cell runs (with
    // -k the notebook's metadata may not be the kernel's; it is checked at the end).
    if !opts.outputs.is_empty() && opts.kernel.is_none() {
        outputs::query_for(&nb, &opts.outputs).map_err(|e| Error::input(&opts.input, e.to_string()))?;
    }
    if !opts.params.is_empty() || !opts.secret_params.is_empty() {
        let lang = translate::find_translator(&kernel, language.as_deref())?;
        let inj = inject::parameterize(&mut nb, &opts.params, &opts.secret_params, lang, opts.report_mode)?;
        if inj.no_parameters_cell {
            warnings.push("Input notebook does not contain a cell with tag 'parameters'".to_string());
        }
        for p in inj.unknown {
            warnings.push(format!("Passed unknown parameter: {p}"));
        }
    }
    let (input, output) = match &opts.recorded_paths {
        Some((i, o)) => (i.clone(), Some(o.clone())),
        None => (opts.input.to_string_lossy().into_owned(), opts.output.as_ref().map(|p| p.to_string_lossy().into_owned())),
    };
    inject::prepare_metadata(&mut nb, &input, output.as_deref(), opts.report_mode);
    Ok((nb, kernel, warnings))
}

/// The input notebook `-`: standard input, read whole.
fn read_stdin() -> Result<Value> {
    use std::io::Read;
    let label = Path::new("<stdin>");
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| Error::input(label, format!("cannot read a notebook from standard input: {e}")))?;
    notebook::parse(&text).map_err(|m| Error::input(label, m))
}

/// Execute a notebook as `papermill IN OUT …` would, writing OUT as cells run.
#[instrument(skip_all, fields(input = %opts.input.display()))]
pub async fn execute_notebook(opts: &ExecuteOptions) -> std::result::Result<ExecuteReport, ExecuteFailure> {
    let (nb, kernel_name, warnings) = prepare(opts)?;
    for w in &warnings {
        warn!("{w}");
    }
    if opts.prepare_only {
        if let Some(out) = &opts.output {
            notebook::write(&nb, out)?;
        }
        return Ok(ExecuteReport { notebook: nb, cells_executed: 0, recorded: Recorded::new(), duration: 0.0, warnings });
    }
    if let Some(cwd) = &opts.cwd {
        if !cwd.is_dir() {
            let what = if cwd.exists() { "is not a directory" } else { "does not exist" };
            return Err(Error::input(cwd, format!("the working directory (--cwd) {what}")).into());
        }
    }
    let mut run = Run::new(nb, opts);
    let start = now();
    // A kernel that is not installed is recorded like one that cannot boot: the
    // output notebook is written, saying why (papermill writes one too).
    let spec = match &opts.search_env {
        Some(env) => kernelspec::find_kernelspec(&kernel_name, env),
        None => kernelspec::find_kernelspec(&kernel_name, &ProcessEnv),
    };
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => {
            run.notebook_start(start)?;
            return Err(kernel_start_failed(run, start, e));
        }
    };
    let start_timeout = match opts.deadline {
        Some(d) => opts.start_timeout.min(d.saturating_duration_since(Instant::now())),
        None => opts.start_timeout,
    };
    let launch = LaunchOptions { cwd: opts.cwd.clone(), env: opts.env.clone(), start_timeout };
    // Boot the kernel while the first save happens.
    let pool = opts.pools.as_ref().and_then(|p| p.pool_for(&spec, &launch));
    let kernel_task = tokio::spawn(async move {
        match pool {
            Some(p) => p.take().await,
            None => Kernel::start(&spec, &launch).await,
        }
    });
    run.notebook_start(start)?;
    let started = kernel_task.await.unwrap_or_else(|e| Err(Error::Protocol(format!("kernel start task failed: {e}"))));
    let mut kernel = match started {
        Ok(k) => k,
        Err(e) => return Err(kernel_start_failed(run, start, e)),
    };
    info!(kernel = %kernel.name, "kernel ready");

    let mut failure: Option<Error> = None;
    let mut executed = 0;
    let ncells = run.nb["cells"].as_array().map_or(0, Vec::len);
    for i in 0..ncells {
        run.cell_start(i)?;
        let cell = &run.nb["cells"][i];
        let runnable = cell["cell_type"] == "code"
            && !notebook::source(cell).trim().is_empty()
            && !notebook::tags(cell).contains(&"skip-execution");
        if runnable {
            executed += 1;
            if let Some(f) = run.execute_cell(&mut kernel, i).await? {
                // nbclient: a cell tagged `raises-exception` may raise; the run goes
                // on, and the error it left fails the run at the end, as in papermill.
                if matches!(f, CellFailure::Raised { .. }) && notebook::tags(&run.nb["cells"][i]).contains(&"raises-exception") {
                    run.cell_complete(i)?;
                    continue;
                }
                run.cell_exception(i);
                if let CellFailure::Raised { ename, evalue } = &f {
                    // papermill: `sys.exit()` / `sys.exit(0)` stops the notebook
                    // early without failing the run.
                    if ename == "SystemExit" && (evalue.is_empty() || evalue == "0") {
                        run.cell_complete(i)?;
                        break;
                    }
                }
                let label = cell_label(&run.nb, i);
                failure = Some(match f {
                    CellFailure::Raised { ename, evalue } => Error::CellFailed { cell: label, ename, evalue },
                    CellFailure::TimedOut(limit) => Error::CellTimeout { cell: label, limit },
                    CellFailure::KernelDied(how) => Error::KernelDied { cell: label, how },
                });
            }
        }
        run.cell_complete(i)?;
        if failure.is_some() {
            break;
        }
    }

    // After the cells: language_info from the kernel, then what the notebook recorded.
    let mut recorded = Recorded::new();
    if kernel.is_alive() && !matches!(failure, Some(Error::CellTimeout { .. })) {
        if let Some(li) = kernel.kernel_info(Duration::from_secs(5)).await {
            run.nb["metadata"]["language_info"] = li;
        }
        if failure.is_none() {
            match read_recorded(&mut kernel, &run.nb, &opts.outputs).await {
                Ok(r) => recorded = r,
                Err(e) => {
                    run.nb["metadata"]["papermill"]["exception"] = json!(true);
                    failure = Some(e);
                }
            }
        }
    }
    run.notebook_complete(start);
    run.pbar.finish_and_clear();
    if let Some((cell, ename, evalue)) = run.insert_error_cells() {
        // Only an error a `raises-exception` cell left gets here without a failure.
        if failure.is_none() {
            failure = Some(Error::CellFailed { cell, ename, evalue });
        }
    }
    run.save_final()?;
    run.finished = true;
    if opts.output.as_deref() == Some(Path::new("-")) {
        notebook::write(&run.nb, Path::new("-"))?;
    }
    // A kernel that was interrupted for a timeout may still be stuck in the cell.
    let may_finish_alone = !matches!(failure, Some(Error::CellTimeout { .. }));
    let exit_wait = if may_finish_alone { opts.exit_wait } else { opts.exit_wait.max(Duration::from_secs(2)) };
    kernel.shutdown(opts.shutdown_grace, exit_wait, may_finish_alone).await;
    let duration = run.nb["metadata"]["papermill"]["duration"].as_f64().unwrap_or(0.0);
    match failure {
        Some(error) => Err(ExecuteFailure { error, notebook: Some(run.take_notebook()) }),
        None => Ok(ExecuteReport { notebook: run.take_notebook(), cells_executed: executed, recorded, duration, warnings }),
    }
}

/// The kernel could not be found or started: write the notebook as prepared, with
/// the error in `metadata.deckle.error` and the cells left `pending` (papermill
/// marks them `completed`, though none ran).
fn kernel_start_failed(mut run: Run<'_>, start: chrono::DateTime<chrono::Utc>, error: Error) -> ExecuteFailure {
    run.pbar.finish_and_clear();
    run.start_failed(start, &error.to_string());
    match run.save_final() {
        Ok(()) => ExecuteFailure { error, notebook: Some(run.take_notebook()) },
        Err(save) => {
            warn!("could not write the output notebook: {save}");
            run.finished = true;
            ExecuteFailure { error, notebook: None }
        }
    }
}

/// Declared outputs (via `user_expressions`) merged over the notebook's scraps.
async fn read_recorded(kernel: &mut Kernel, nb: &Value, declared: &[String]) -> Result<Recorded> {
    let mut recorded = outputs::collect_scraps(nb)?;
    if declared.is_empty() {
        return Ok(recorded);
    }
    let query = outputs::query_for(nb, declared)?;
    let id = kernel.execute(query.code(), query.user_expressions(), query.silent()).await?;
    let (mut reply, mut idle, mut stdout) = (None, !query.reads_stdout(), String::new());
    while reply.is_none() || !idle {
        match tokio::time::timeout(Duration::from_secs(30), kernel.next_event()).await {
            Ok(KernelEvent::Shell(m)) if m.parent_msg_id.as_deref() == Some(id.as_str()) => reply = Some(m.content),
            Ok(KernelEvent::IoPub(m)) if m.parent_msg_id.as_deref() == Some(id.as_str()) => match m.msg_type.as_str() {
                "stream" if m.content["name"] == "stdout" => stdout.push_str(m.content["text"].as_str().unwrap_or("")),
                "status" if m.content["execution_state"] == "idle" => idle = true,
                _ => {}
            },
            Ok(KernelEvent::Died(how)) => {
                return Err(Error::KernelDied { cell: "reading declared outputs".into(), how })
            }
            Ok(_) => {}
            Err(_) => return Err(Error::Protocol("no reply to the request for declared outputs within 30s".into())),
        }
    }
    let answers = query.answers(&reply.unwrap_or_default(), &stdout)?;
    for name in declared {
        let v = outputs::parse_expression_result(name, answers.get(name))?;
        recorded.shift_remove(name);
        recorded.insert(name.clone(), v);
    }
    Ok(recorded)
}

