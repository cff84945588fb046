//! Running a whole notebook on one kernel, recording what papermill and nbclient
//! record, and saving as each cell starts and ends.
//!
//! The order of steps, and every metadata field, follows papermill's
//! `execute_notebook` → `NotebookExecutionManager` → `PapermillNotebookClient`
//! and nbclient's `async_execute_cell`/`process_message`. Where papermill leaves a
//! run badly recorded (a timed-out cell marked `completed`, a dead kernel with no
//! trace in the notebook), Deckle marks the cell `failed`, adds an `error` output
//! saying what happened, and inserts papermill's error cells.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use tokio::time::{sleep_until, Instant};
use tracing::{info, instrument, warn};

use crate::error::{Error, Result};
use crate::inject;
use crate::kernel::{Kernel, KernelEvent, KernelMsg, LaunchOptions};
use crate::kernelspec::{self, ProcessEnv};
use crate::notebook;
use crate::outputs::{self, Recorded};
use crate::params::Params;
use crate::translate;

/// Everything `deckle execute` takes.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    pub input: PathBuf,
    /// Where to write; `None` runs without writing (library use), `-` is stdout.
    pub output: Option<PathBuf>,
    pub params: Params,
    pub kernel: Option<String>,
    pub language: Option<String>,
    pub cwd: Option<PathBuf>,
    pub prepare_only: bool,
    pub report_mode: bool,
    pub log_output: bool,
    pub progress_bar: bool,
    /// Per cell, as papermill's `--execution-timeout`.
    pub execution_timeout: Option<Duration>,
    pub start_timeout: Duration,
    /// Declared outputs to fetch after the last cell.
    pub outputs: Vec<String>,
    /// Extra environment for the kernel.
    pub env: Vec<(String, String)>,
    /// The environment kernelspecs are looked up in (`JUPYTER_PATH`, `VIRTUAL_ENV`,
    /// `PATH`, …); `None` reads the process environment.
    pub search_env: Option<HashMap<String, String>>,
    /// Save during a long cell at least this often (papermill's `autosave_cell_every`).
    pub autosave_every: Duration,
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
}

impl ExecuteOptions {
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
            search_env: None,
            autosave_every: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(2),
            exit_wait: Duration::ZERO,
            pools: None,
            deadline: None,
        }
    }

    pub fn with_params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct ExecuteReport {
    pub notebook: Value,
    pub cells_executed: usize,
    pub recorded: Recorded,
    pub duration: f64,
    pub warnings: Vec<String>,
}

/// A failed run: the error, and the notebook as it was written.
#[derive(Debug)]
pub struct ExecuteFailure {
    pub error: Error,
    pub notebook: Option<Value>,
}

impl From<Error> for ExecuteFailure {
    fn from(error: Error) -> Self {
        ExecuteFailure { error, notebook: None }
    }
}

/// papermill's `datetime.now(timezone.utc).isoformat()`.
fn iso_now(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// `timedelta.total_seconds()` of two microsecond-precision instants.
fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    let micros = (b - a).num_microseconds().unwrap_or(0);
    micros as f64 / 1e6
}

fn now() -> DateTime<Utc> {
    // Truncate to microseconds, as Python's datetime holds them.
    let t = Utc::now();
    t - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000))
}

/// How a cell ended, when it did not end well.
enum CellFailure {
    Raised { ename: String, evalue: String },
    /// Which limit: `1s` or `the run's time limit`.
    TimedOut(String),
    KernelDied(String),
}

/// The notebook being run and its bookkeeping.
struct Run<'a> {
    nb: Value,
    opts: &'a ExecuteOptions,
    last_save: Instant,
    display_map: HashMap<String, HashMap<usize, Vec<usize>>>,
    clear_before_next_output: bool,
    pbar: ProgressBar,
}

impl Run<'_> {
    fn save(&mut self) -> Result<()> {
        if let Some(out) = &self.opts.output {
            if out != Path::new("-") {
                notebook::write(&self.nb, out)?;
            }
        }
        self.last_save = Instant::now();
        Ok(())
    }

    fn cell_pm(&mut self, i: usize) -> &mut Value {
        &mut self.nb["cells"][i]["metadata"]["papermill"]
    }

    /// `NotebookExecutionManager.notebook_start`.
    fn notebook_start(&mut self, start: DateTime<Utc>) -> Result<()> {
        let pm = &mut self.nb["metadata"]["papermill"];
        pm["start_time"] = json!(iso_now(start));
        pm["end_time"] = Value::Null;
        pm["duration"] = Value::Null;
        pm["exception"] = Value::Null;
        for cell in self.nb["cells"].as_array_mut().into_iter().flatten() {
            let code = cell["cell_type"] == "code";
            if code {
                cell["execution_count"] = Value::Null;
                cell["outputs"] = json!([]);
            }
            cell["metadata"]["papermill"] = json!({
                "exception": null, "start_time": null, "end_time": null, "duration": null, "status": "pending"
            });
        }
        self.save()
    }

    fn cell_start(&mut self, i: usize) -> Result<()> {
        if self.opts.log_output {
            eprintln!("{:-<40}", format!("Executing Cell {}", i + 1));
        }
        let pm = self.cell_pm(i);
        pm["start_time"] = json!(iso_now(now()));
        pm["status"] = json!("running");
        pm["exception"] = json!(false);
        if let Some(desc) = cell_description(notebook::source(&self.nb["cells"][i])) {
            self.pbar.set_message(format!("Executing {desc}"));
        }
        self.save()
    }

    fn cell_exception(&mut self, i: usize) {
        let pm = self.cell_pm(i);
        pm["exception"] = json!(true);
        pm["status"] = json!("failed");
        self.nb["metadata"]["papermill"]["exception"] = json!(true);
    }

    fn cell_complete(&mut self, i: usize) -> Result<()> {
        if self.opts.log_output {
            eprintln!("{:-<43}", format!("Ending Cell {}", i + 1));
        }
        let end = now();
        let pm = self.cell_pm(i);
        pm["end_time"] = json!(iso_now(end));
        if let Some(start) = pm["start_time"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()) {
            pm["duration"] = json!(seconds_between(start.with_timezone(&Utc), end));
        }
        if pm["status"] != "failed" {
            pm["status"] = json!("completed");
        }
        self.save()?;
        self.pbar.inc(1);
        Ok(())
    }

    /// `NotebookExecutionManager.notebook_complete`.
    fn notebook_complete(&mut self, start: DateTime<Utc>) {
        let end = now();
        let pm = &mut self.nb["metadata"]["papermill"];
        pm["end_time"] = json!(iso_now(end));
        pm["duration"] = json!(seconds_between(start, end));
        for cell in self.nb["cells"].as_array_mut().into_iter().flatten() {
            let status = &mut cell["metadata"]["papermill"]["status"];
            if status == "failed" {
                break;
            }
            if status == "pending" {
                *status = json!("completed");
            }
        }
    }

    /// nbclient's `process_message` for one IOPub message of the running cell.
    /// Returns true on `status: idle`.
    fn process_message(&mut self, i: usize, msg: &KernelMsg) -> bool {
        let content = &msg.content;
        let display_id = content
            .get("transient")
            .and_then(|t| t.get("display_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mt = msg.msg_type.as_str();
        if let Some(id) = &display_id {
            if matches!(mt, "execute_result" | "display_data" | "update_display_data") {
                self.update_display_id(id, content);
            }
        }
        let cell = &mut self.nb["cells"][i];
        if let Some(ec) = content.get("execution_count") {
            cell["execution_count"] = ec.clone();
        }
        let stamp = || json!(msg.date.clone());
        match mt {
            "status" => match content["execution_state"].as_str() {
                Some("idle") => {
                    cell["metadata"]["execution"]["iopub.status.idle"] = stamp();
                    return true;
                }
                Some("busy") => cell["metadata"]["execution"]["iopub.status.busy"] = stamp(),
                _ => {}
            },
            "execute_input" => cell["metadata"]["execution"]["iopub.execute_input"] = stamp(),
            "clear_output" => {
                if content["wait"].as_bool().unwrap_or(false) {
                    self.clear_before_next_output = true;
                } else {
                    cell["outputs"] = json!([]);
                    self.clear_display_mapping(i);
                }
            }
            "stream" | "display_data" | "execute_result" | "error" => {
                let out = output_from_msg(mt, content);
                if self.opts.log_output {
                    log_output(&out);
                }
                if self.clear_before_next_output {
                    self.nb["cells"][i]["outputs"] = json!([]);
                    self.clear_display_mapping(i);
                    self.clear_before_next_output = false;
                }
                let outs = self.nb["cells"][i]["outputs"].as_array_mut().expect("outputs list");
                if let Some(id) = display_id {
                    self.display_map.entry(id).or_default().entry(i).or_default().push(outs.len());
                }
                outs.push(out);
            }
            // comm messages (widgets) and update_display_data are not outputs.
            _ => {}
        }
        false
    }

    fn update_display_id(&mut self, id: &str, content: &Value) {
        let Some(cells) = self.display_map.get(id) else { return };
        for (&ci, idxs) in cells {
            for &oi in idxs {
                if let Some(o) = self.nb["cells"][ci]["outputs"].get_mut(oi) {
                    o["data"] = content.get("data").cloned().unwrap_or(json!({}));
                    o["metadata"] = content.get("metadata").cloned().unwrap_or(json!({}));
                }
            }
        }
    }

    fn clear_display_mapping(&mut self, i: usize) {
        for cells in self.display_map.values_mut() {
            if let Some(v) = cells.get_mut(&i) {
                v.clear();
            }
        }
    }

    fn push_error_output(&mut self, i: usize, ename: &str, evalue: &str) {
        let outs = self.nb["cells"][i]["outputs"].as_array_mut().expect("outputs list");
        if !outs.iter().any(|o| o["output_type"] == "error") {
            outs.push(json!({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [format!("{ename}: {evalue}")]}));
        }
    }

    /// Run code cell `i` to completion, timeout or kernel death.
    async fn execute_cell(&mut self, kernel: &mut Kernel, i: usize) -> Result<Option<CellFailure>> {
        self.nb["cells"][i]["metadata"]["execution"] = json!({});
        self.clear_before_next_output = false;
        let code = notebook::source(&self.nb["cells"][i]).to_string();
        let msg_id = kernel.execute(&code, None, false).await?;
        let cell_deadline = self.opts.execution_timeout.map(|t| Instant::now() + t);
        let (deadline, limit) = match (cell_deadline, self.opts.deadline) {
            (Some(c), Some(run)) if run < c => (Some(run), "the run's time limit".to_string()),
            (None, Some(run)) => (Some(run), "the run's time limit".to_string()),
            (c, _) => (c, format!("{}s", self.opts.execution_timeout.map_or(0.0, |d| d.as_secs_f64()))),
        };
        let timeout_text = format!("A cell timed out while it was being executed: it did not finish within {limit}.");
        let mut reply: Option<Value> = None;
        let mut idle = false;
        let mut interrupted_at: Option<Instant> = None;
        loop {
            if reply.is_some() && idle {
                break;
            }
            let autosave_at = self.last_save + self.opts.autosave_every;
            let wake = match (deadline, interrupted_at) {
                (_, Some(t)) => autosave_at.min(t + Duration::from_secs(5)),
                (Some(d), None) => autosave_at.min(d),
                (None, None) => autosave_at,
            };
            let event = tokio::select! {
                ev = kernel.next_event() => Some(ev),
                _ = sleep_until(wake) => None,
            };
            match event {
                Some(KernelEvent::IoPub(m)) if m.parent_msg_id.as_deref() == Some(msg_id.as_str()) => {
                    if self.process_message(i, &m) {
                        idle = true;
                    }
                }
                Some(KernelEvent::Shell(m)) if m.parent_msg_id.as_deref() == Some(msg_id.as_str()) => {
                    self.nb["cells"][i]["metadata"]["execution"]["shell.execute_reply"] = json!(m.date);
                    reply = Some(m.content);
                }
                Some(KernelEvent::Died(how)) => {
                    self.push_error_output(i, "DeadKernelError", &format!("Kernel died while running this cell ({how})"));
                    return Ok(Some(CellFailure::KernelDied(how)));
                }
                Some(_) => {}
                None => {
                    let now = Instant::now();
                    if now >= self.last_save + self.opts.autosave_every {
                        self.save()?;
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

    /// papermill's `raise_for_execution_errors`: the first error output (a clean
    /// `SystemExit` does not count) or failed cell gets papermill's two marker cells.
    fn insert_error_cells(&mut self) -> bool {
        let cells = self.nb["cells"].as_array().expect("cells");
        let mut found: Option<(usize, Value)> = None;
        for (idx, cell) in cells.iter().enumerate() {
            let mut has_sys_exit = false;
            for o in cell["outputs"].as_array().into_iter().flatten() {
                if o["output_type"] == "error" {
                    if o["ename"] == "SystemExit" && (o["evalue"] == "" || o["evalue"] == "0") {
                        has_sys_exit = true;
                        continue;
                    }
                    found = Some((idx, cell["execution_count"].clone()));
                    break;
                }
            }
            if found.is_none() && !has_sys_exit && cell.pointer("/metadata/papermill/exception") == Some(&json!(true)) {
                found = Some((idx, cell["execution_count"].clone()));
                break;
            }
        }
        let Some((idx, count)) = found else { return false };
        let count = match count {
            Value::Null => "None".to_string(),
            v => v.to_string(),
        };
        let cells = self.nb["cells"].as_array_mut().expect("cells");
        cells.insert(idx, notebook::new_markdown_cell(ERROR_ANCHOR_MSG, &[inject::ERROR_MARKER_TAG]));
        cells.insert(0, notebook::new_markdown_cell(&ERROR_MESSAGE_TEMPLATE.replace("%s", &count), &[inject::ERROR_MARKER_TAG]));
        true
    }
}

#[cfg_attr(not(test), allow(dead_code))]
const ERROR_STYLE: &str = r#"style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;""#;
const ERROR_MESSAGE_TEMPLATE: &str = concat!(
    r#"<span style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">"#,
    r##"An Exception was encountered at '<a href="#papermill-error-cell">In [%s]</a>'.</span>"##
);
const ERROR_ANCHOR_MSG: &str = concat!(
    r#"<span id="papermill-error-cell" style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">"#,
    "Execution using papermill encountered an exception here and stopped:</span>"
);

/// nbformat's `output_from_msg`.
fn output_from_msg(msg_type: &str, c: &Value) -> Value {
    let g = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    match msg_type {
        "execute_result" => json!({"output_type": msg_type, "metadata": g("metadata"), "data": g("data"), "execution_count": g("execution_count")}),
        "stream" => json!({"output_type": msg_type, "name": g("name"), "text": g("text")}),
        "display_data" => json!({"output_type": msg_type, "metadata": g("metadata"), "data": g("data")}),
        _ => json!({"output_type": "error", "ename": g("ename"), "evalue": g("evalue"), "traceback": g("traceback")}),
    }
}

fn log_output(out: &Value) {
    use std::io::Write;
    match out["output_type"].as_str() {
        Some("stream") => {
            let text = out["text"].as_str().unwrap_or("");
            if out["name"] == "stderr" {
                let _ = std::io::stderr().write_all(text.as_bytes());
            } else {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(text.as_bytes());
                let _ = o.flush();
            }
        }
        _ => {
            if let Some(t) = out.pointer("/data/text~1plain").and_then(Value::as_str) {
                println!("{t}");
            }
        }
    }
}

/// papermill's `get_cell_description`: `papermill_description=NAME` in the source.
fn cell_description(src: &str) -> Option<&str> {
    src.split_once("papermill_description=")?.1.split_whitespace().next()
}

/// A short human name for cell `i`: its position and first line.
fn cell_label(nb: &Value, i: usize) -> String {
    let cell = &nb["cells"][i];
    let first = notebook::source(cell).lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let first: String = if first.chars().count() > 40 { format!("{}…", first.chars().take(40).collect::<String>()) } else { first.to_string() };
    let count = match &cell["execution_count"] {
        Value::Number(n) => format!(" (In [{n}])"),
        _ => String::new(),
    };
    format!("cell {}{count} `{first}`", i + 1)
}

fn progress_bar(enabled: bool, len: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} cells [{elapsed}<{eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message("Executing");
    pb
}

/// Load, validate and parameterize the input as papermill does; returns the
/// notebook ready to run, the kernel name, and warnings.
pub fn prepare(opts: &ExecuteOptions) -> Result<(Value, String, Vec<String>)> {
    let mut nb = notebook::read(&opts.input)?;
    let mut warnings = Vec::new();
    for name in &opts.outputs {
        if !outputs::valid_name(name) {
            return Err(Error::Params { origin: "--outputs".into(), message: format!("{name:?} is not a variable name") });
        }
    }
    inject::load_defaults(&mut nb);
    let (kernel, language) = inject::kernel_and_language(&nb, opts.kernel.as_deref(), opts.language.as_deref());
    let kernel = kernel.ok_or_else(|| {
        Error::input(&opts.input, "no kernel name found in the notebook's metadata.kernelspec and no -k given")
    })?;
    if !opts.params.is_empty() {
        let lang = translate::find_translator(&kernel, language.as_deref())?;
        let inj = inject::parameterize(&mut nb, &opts.params, lang, opts.report_mode)?;
        if inj.no_parameters_cell {
            warnings.push("Input notebook does not contain a cell with tag 'parameters'".to_string());
        }
        for p in inj.unknown {
            warnings.push(format!("Passed unknown parameter: {p}"));
        }
    }
    let input = opts.input.to_string_lossy();
    let output = opts.output.as_ref().map(|p| p.to_string_lossy().into_owned());
    inject::prepare_metadata(&mut nb, &input, output.as_deref(), opts.report_mode);
    Ok((nb, kernel, warnings))
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
    let spec = match &opts.search_env {
        Some(env) => kernelspec::find_kernelspec(&kernel_name, env)?,
        None => kernelspec::find_kernelspec(&kernel_name, &ProcessEnv)?,
    };
    if let Some(cwd) = &opts.cwd {
        if !cwd.is_dir() {
            return Err(Error::input(cwd, "--cwd is not a directory").into());
        }
    }
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
    let ncells = nb["cells"].as_array().map_or(0, Vec::len);
    let mut run = Run {
        nb,
        opts,
        last_save: Instant::now(),
        display_map: HashMap::new(),
        clear_before_next_output: false,
        pbar: progress_bar(opts.progress_bar, ncells),
    };
    let start = now();
    run.notebook_start(start)?;
    let started = kernel_task.await.unwrap_or_else(|e| Err(Error::Protocol(format!("kernel start task failed: {e}"))));
    let mut kernel = match started {
        Ok(k) => k,
        Err(e) => {
            run.notebook_complete(start);
            run.nb["metadata"]["papermill"]["exception"] = json!(true);
            run.save()?;
            run.pbar.finish_and_clear();
            return Err(ExecuteFailure { error: e, notebook: Some(run.nb) });
        }
    };
    info!(kernel = %kernel.name, "kernel ready");

    let mut failure: Option<Error> = None;
    let mut executed = 0;
    for i in 0..ncells {
        run.cell_start(i)?;
        let cell = &run.nb["cells"][i];
        let runnable = cell["cell_type"] == "code"
            && !notebook::source(cell).trim().is_empty()
            && !notebook::tags(cell).contains(&"skip-execution");
        if runnable {
            executed += 1;
            if let Some(f) = run.execute_cell(&mut kernel, i).await? {
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
    run.insert_error_cells();
    run.save()?;
    if opts.output.as_deref() == Some(Path::new("-")) {
        notebook::write(&run.nb, Path::new("-"))?;
    }
    // A kernel that was interrupted for a timeout may still be stuck in the cell.
    let may_finish_alone = !matches!(failure, Some(Error::CellTimeout { .. }));
    let exit_wait = if may_finish_alone { opts.exit_wait } else { opts.exit_wait.max(Duration::from_secs(2)) };
    kernel.shutdown(opts.shutdown_grace, exit_wait, may_finish_alone).await;
    let duration = run.nb["metadata"]["papermill"]["duration"].as_f64().unwrap_or(0.0);
    match failure {
        Some(error) => Err(ExecuteFailure { error, notebook: Some(run.nb) }),
        None => Ok(ExecuteReport { notebook: run.nb, cells_executed: executed, recorded, duration, warnings }),
    }
}

/// Declared outputs (via `user_expressions`) merged over the notebook's scraps.
async fn read_recorded(kernel: &mut Kernel, nb: &Value, declared: &[String]) -> Result<Recorded> {
    let mut recorded = outputs::collect_scraps(nb)?;
    if declared.is_empty() {
        return Ok(recorded);
    }
    let id = kernel.execute("", Some(outputs::python_expressions(declared)), true).await?;
    let reply = loop {
        match tokio::time::timeout(Duration::from_secs(30), kernel.next_event()).await {
            Ok(KernelEvent::Shell(m)) if m.parent_msg_id.as_deref() == Some(id.as_str()) => break m.content,
            Ok(KernelEvent::Died(how)) => {
                return Err(Error::KernelDied { cell: "reading declared outputs".into(), how })
            }
            Ok(_) => {}
            Err(_) => return Err(Error::Protocol("no reply to the request for declared outputs within 30s".into())),
        }
    };
    for name in declared {
        let v = outputs::parse_expression_result(name, reply.pointer(&format!("/user_expressions/{name}")))?;
        recorded.shift_remove(name);
        recorded.insert(name.clone(), v);
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_look_like_python_isoformat() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T20:18:24.760261Z").unwrap().with_timezone(&Utc);
        assert_eq!(iso_now(t), "2026-11-23T20:18:24.760261+00:00");
        let whole = DateTime::parse_from_rfc3339("2026-11-23T20:18:24Z").unwrap().with_timezone(&Utc);
        assert_eq!(iso_now(whole), "2026-11-23T20:18:24+00:00");
        assert_eq!(seconds_between(whole, t), 0.760261);
    }

    #[test]
    fn error_cells_match_papermill_text() {
        assert!(ERROR_MESSAGE_TEMPLATE.contains(ERROR_STYLE));
        assert!(ERROR_ANCHOR_MSG.contains(ERROR_STYLE));
    }

    #[test]
    fn cell_description_is_found() {
        assert_eq!(cell_description("x = 1 # papermill_description=load_data\n"), Some("load_data"));
        assert_eq!(cell_description("x = 1"), None);
    }
}
