//! What a run records in the notebook, as papermill's `NotebookExecutionManager`
//! and nbclient's `process_message` record it: cell and notebook metadata, timing,
//! outputs (display updates, `clear_output(wait)`), saves, and the error cells.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::error::Result;
use super::options::ExecuteOptions;
use crate::kernel::KernelMsg;
use crate::notebook;

/// papermill's `datetime.now(timezone.utc).isoformat()`.
pub(crate) fn iso_now(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// `timedelta.total_seconds()` of two microsecond-precision instants.
pub(crate) fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    let micros = (b - a).num_microseconds().unwrap_or(0);
    micros as f64 / 1e6
}

pub(crate) fn now() -> DateTime<Utc> {
    // Truncate to microseconds, as Python's datetime holds them.
    let t = Utc::now();
    t - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000))
}

/// How a cell ended, when it did not end well.
pub(crate) enum CellFailure {
    Raised { ename: String, evalue: String },
    /// Which limit: `1s` or `the node's timeout of 30s`.
    TimedOut(String),
    KernelDied(String),
}

/// The notebook being run and its bookkeeping.
pub(crate) struct Run<'a> {
    pub(crate) nb: Value,
    pub(crate) opts: &'a ExecuteOptions,
    pub(crate) last_save: Instant,
    pub(crate) display_map: HashMap<String, HashMap<usize, Vec<usize>>>,
    pub(crate) clear_before_next_output: bool,
    pub(crate) pbar: ProgressBar,
    pub(crate) budget: OutputBudget,
    /// Changed since the last save; written by [`Run::save_due`] time at the latest.
    pub(crate) dirty: bool,
    /// How long the last save took: saves while cells run are spaced at least ten
    /// times that apart, so a large notebook flooding output spends at most about a
    /// tenth of the time saving and the kernel's output is read without lag.
    pub(crate) save_cost: std::time::Duration,
    /// The record is complete (the final save was made): dropping the run leaves it.
    pub(crate) finished: bool,
}

/// An execution dropped before its final save (cancelled, its worker shutting
/// down, its task aborted) still leaves a complete record: what ran, the running
/// cell marked failed with why, later cells `pending`, the end time.
impl Drop for Run<'_> {
    fn drop(&mut self) {
        // Only a run whose record was started (its first save made) is finished here.
        let started = self.nb.pointer("/metadata/papermill/start_time").is_some_and(Value::is_string);
        if self.finished || !started {
            return;
        }
        let (kind, message) = self
            .opts
            .stop_note
            .get()
            .unwrap_or_else(|| ("ExecutionStopped".into(), "the execution was stopped before it finished".into()));
        self.record_stop(&kind, &message);
        self.pbar.finish_and_clear();
        if let Err(e) = self.save_final() {
            tracing::warn!(error = %e, "could not write the stopped notebook");
        }
    }
}

/// Bytes of outputs kept, per cell, against [`ExecuteOptions::max_output_bytes`].
#[derive(Default)]
pub(crate) struct OutputBudget {
    total: usize,
    per_cell: HashMap<usize, usize>,
    truncated: bool,
}

impl OutputBudget {
    fn cleared(&mut self, cell: usize) {
        self.total -= self.per_cell.remove(&cell).unwrap_or(0);
    }
}

/// The size an output adds to the notebook, near enough.
fn output_size(out: &Value) -> usize {
    match out.get("text") {
        Some(Value::String(t)) => t.len() + 64,
        _ => out.to_string().len(),
    }
}

impl Run<'_> {
    pub(crate) fn new<'o>(nb: Value, opts: &'o ExecuteOptions) -> Run<'o> {
        let ncells = nb["cells"].as_array().map_or(0, Vec::len);
        Run {
            nb,
            opts,
            // The first save is due at once.
            last_save: Instant::now().checked_sub(opts.save_interval).unwrap_or_else(Instant::now),
            display_map: HashMap::new(),
            clear_before_next_output: false,
            pbar: progress_bar(opts.progress_bar, ncells),
            budget: OutputBudget::default(),
            dirty: false,
            save_cost: std::time::Duration::ZERO,
            finished: false,
        }
    }

    /// The notebook, once its record is complete (the final save made).
    pub(crate) fn take_notebook(&mut self) -> Value {
        self.finished = true;
        std::mem::take(&mut self.nb)
    }

    /// The execution was stopped from outside: finished as the coordinator finishes
    /// a lost attempt (the running cell failed with an error output saying why,
    /// `metadata.deckle.stopped`, papermill's error cells), so both read alike.
    pub(crate) fn record_stop(&mut self, kind: &str, message: &str) {
        deckle_notebook::attempt::finish_stopped(&mut self.nb, kind, message, jiff::Timestamp::now());
    }

    /// A save while the notebook runs (cell start and end, new output): written now
    /// if the last save is `save_interval` old, else marked due, so a burst of short
    /// cells costs one write a second rather than two per cell (rewriting the whole
    /// notebook each time made a run O(cells²) in bytes). Skipped under
    /// `--no-request-save-on-cell-execute`, as papermill then saves only at the end.
    pub(crate) fn save(&mut self) -> Result<()> {
        if !self.opts.save_on_cell_execute {
            return Ok(());
        }
        if Instant::now() >= self.last_save + self.save_interval() {
            self.save_final()
        } else {
            self.dirty = true;
            Ok(())
        }
    }

    /// When the coalesced save is due, if one is.
    pub(crate) fn save_due(&self) -> Option<Instant> {
        (self.dirty && self.opts.save_on_cell_execute).then(|| self.last_save + self.save_interval())
    }

    fn save_interval(&self) -> std::time::Duration {
        self.opts.save_interval.max(self.save_cost * 10)
    }

    /// The save at the end of the run, or of a run that could not start: always written.
    pub(crate) fn save_final(&mut self) -> Result<()> {
        let started = Instant::now();
        if let Some(out) = &self.opts.output {
            if out != Path::new("-") {
                // Writing a large notebook takes a while: on a multi-threaded runtime,
                // let the kernel's reader tasks move to another thread meanwhile (one
                // waiting behind this write lets ipykernel drop output at its HWM).
                let multi = tokio::runtime::Handle::try_current()
                    .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
                if multi {
                    tokio::task::block_in_place(|| notebook::write(&self.nb, out))?;
                } else {
                    notebook::write(&self.nb, out)?;
                }
                if let Some(saved) = &self.opts.saved {
                    saved.send_modify(|n| *n += 1);
                }
            }
        }
        self.last_save = Instant::now();
        self.save_cost = self.last_save - started;
        self.dirty = false;
        Ok(())
    }

    fn cell_pm(&mut self, i: usize) -> &mut Value {
        &mut self.nb["cells"][i]["metadata"]["papermill"]
    }

    /// `NotebookExecutionManager.notebook_start`.
    pub(crate) fn notebook_start(&mut self, start: DateTime<Utc>) -> Result<()> {
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

    pub(crate) fn cell_start(&mut self, i: usize) -> Result<()> {
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

    pub(crate) fn cell_exception(&mut self, i: usize) {
        let pm = self.cell_pm(i);
        pm["exception"] = json!(true);
        pm["status"] = json!("failed");
        self.nb["metadata"]["papermill"]["exception"] = json!(true);
    }

    pub(crate) fn cell_complete(&mut self, i: usize) -> Result<()> {
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
    pub(crate) fn notebook_complete(&mut self, start: DateTime<Utc>) {
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

    /// The kernel never ran a cell: the start and end of the attempt, and why.
    pub(crate) fn start_failed(&mut self, start: DateTime<Utc>, error: &str) {
        let end = now();
        let pm = &mut self.nb["metadata"]["papermill"];
        pm["start_time"] = json!(iso_now(start));
        pm["end_time"] = json!(iso_now(end));
        pm["duration"] = json!(seconds_between(start, end));
        pm["exception"] = json!(true);
        self.nb["metadata"]["deckle"]["error"] = json!(error);
    }

    /// nbclient's `process_message` for one IOPub message of the running cell.
    /// Returns true on `status: idle`.
    pub(crate) fn process_message(&mut self, i: usize, msg: &KernelMsg) -> bool {
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
                    self.budget.cleared(i);
                }
            }
            "stream" | "display_data" | "execute_result" | "error" => {
                let out = output_from_msg(mt, content);
                if self.opts.log_output {
                    log_output(&out, self.opts.output.as_deref() == Some(Path::new("-")));
                }
                self.opts.stream_files.write(&out);
                if self.clear_before_next_output {
                    self.nb["cells"][i]["outputs"] = json!([]);
                    self.clear_display_mapping(i);
                    self.clear_before_next_output = false;
                    self.budget.cleared(i);
                }
                let size = output_size(&out);
                let limit = self.opts.max_output_bytes;
                let outs = self.nb["cells"][i]["outputs"].as_array_mut().expect("outputs list");
                // Errors are always kept: they say why the notebook failed.
                if mt != "error" && self.budget.total + size > limit {
                    if !self.budget.truncated {
                        self.budget.truncated = true;
                        let note = format!("[deckle: output truncated: this notebook's outputs reached {limit} bytes; later output was dropped]\n");
                        outs.push(json!({"output_type": "stream", "name": "stderr", "text": note}));
                    }
                    return false;
                }
                self.budget.total += size;
                *self.budget.per_cell.entry(i).or_default() += size;
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

    pub(crate) fn push_error_output(&mut self, i: usize, ename: &str, evalue: &str) {
        let outs = self.nb["cells"][i]["outputs"].as_array_mut().expect("outputs list");
        if !outs.iter().any(|o| o["output_type"] == "error") {
            outs.push(json!({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [format!("{ename}: {evalue}")]}));
        }
    }

    /// papermill's `raise_for_execution_errors`: its two marker cells around the
    /// failed cell. Returns that cell (its label) and the error's name and value.
    pub(crate) fn insert_error_cells(&mut self) -> Option<(String, String, String)> {
        let (idx, ename, evalue) = deckle_notebook::error_cells::insert_error_cells(&mut self.nb)?;
        // The banner went in at the top and the anchor just above the cell.
        Some((label_of(&self.nb["cells"][idx + 2], idx), ename, evalue))
    }
}

/// nbformat's `output_from_msg`.
pub(crate) fn output_from_msg(msg_type: &str, c: &Value) -> Value {
    let g = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    match msg_type {
        "execute_result" => json!({"output_type": msg_type, "metadata": g("metadata"), "data": g("data"), "execution_count": g("execution_count")}),
        "stream" => json!({"output_type": msg_type, "name": g("name"), "text": g("text")}),
        "display_data" => json!({"output_type": msg_type, "metadata": g("metadata"), "data": g("data")}),
        _ => json!({"output_type": "error", "ename": g("ename"), "evalue": g("evalue"), "traceback": g("traceback")}),
    }
}

/// `--log-output`: stream text as it comes, stdout's to stdout (all to stderr when
/// the notebook itself goes to stdout, which must hold nothing else).
pub(crate) fn log_output(out: &Value, stdout_taken: bool) {
    use std::io::Write;
    match out["output_type"].as_str() {
        Some("stream") => {
            let text = out["text"].as_str().unwrap_or("");
            if out["name"] == "stderr" || stdout_taken {
                let _ = std::io::stderr().write_all(text.as_bytes());
            } else {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(text.as_bytes());
                let _ = o.flush();
            }
        }
        _ => {
            if let Some(t) = out.pointer("/data/text~1plain").and_then(Value::as_str) {
                if stdout_taken {
                    eprintln!("{t}");
                } else {
                    println!("{t}");
                }
            }
        }
    }
}

/// papermill's `get_cell_description`: `papermill_description=NAME` in the source.
pub(crate) fn cell_description(src: &str) -> Option<&str> {
    src.split_once("papermill_description=")?.1.split_whitespace().next()
}

/// A short human name for cell `i`: its position and first line.
pub(crate) fn cell_label(nb: &Value, i: usize) -> String {
    label_of(&nb["cells"][i], i)
}

/// [`cell_label`] of `cell`, numbered as cell `i`.
fn label_of(cell: &Value, i: usize) -> String {
    let first = notebook::source(cell).lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let first: String = if first.chars().count() > 40 { format!("{}…", first.chars().take(40).collect::<String>()) } else { first.to_string() };
    let count = match &cell["execution_count"] {
        Value::Number(n) => format!(" (In [{n}])"),
        _ => String::new(),
    };
    format!("cell {}{count} `{first}`", i + 1)
}

pub(crate) fn progress_bar(enabled: bool, len: usize) -> ProgressBar {
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

#[cfg(test)]
mod tests {
    use crate::execute::ExecuteOptions;
    use crate::kernel::KernelMsg;

    fn stream(text: &str) -> KernelMsg {
        KernelMsg { msg_type: "stream".into(), parent_msg_id: None, date: None, content: serde_json::json!({"name": "stdout", "text": text}) }
    }

    #[test]
    fn outputs_past_the_budget_are_dropped_with_one_marker_and_errors_still_kept() {
        let mut opts = ExecuteOptions::new("in.ipynb", "out.ipynb");
        opts.max_output_bytes = 1000;
        let nb = serde_json::json!({"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": []}]});
        let mut run = Run::new(nb, &opts);
        for _ in 0..100 {
            run.process_message(0, &stream(&"x".repeat(100)));
        }
        let error = KernelMsg { msg_type: "error".into(), parent_msg_id: None, date: None, content: serde_json::json!({"ename": "E", "evalue": "v", "traceback": []}) };
        run.process_message(0, &error);
        let outs = run.nb["cells"][0]["outputs"].as_array().unwrap().clone();
        let kept = outs.iter().filter(|o| o["name"] == "stdout").count();
        assert_eq!(kept, 6, "about 1000 bytes of 164-byte outputs");
        let markers: Vec<_> = outs.iter().filter(|o| o["text"].as_str().is_some_and(|t| t.contains("output truncated"))).collect();
        assert_eq!(markers.len(), 1);
        assert_eq!(outs.last().unwrap()["output_type"], "error", "the error is kept past the budget");
        // Clearing a cell's output gives its budget back.
        let clear = KernelMsg { msg_type: "clear_output".into(), parent_msg_id: None, date: None, content: serde_json::json!({"wait": false}) };
        run.process_message(0, &clear);
        run.process_message(0, &stream("after clear"));
        assert_eq!(run.nb["cells"][0]["outputs"][0]["text"], "after clear");
    }

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
    fn cell_description_is_found() {
        assert_eq!(cell_description("x = 1 # papermill_description=load_data\n"), Some("load_data"));
        assert_eq!(cell_description("x = 1"), None);
    }
}
