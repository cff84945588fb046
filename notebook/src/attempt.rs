//! An attempt's record when no worker wrote it: the prepared notebook the
//! coordinator writes when it grants the attempt (parameters injected, nothing
//! run), and the finishing of the notebook of an attempt whose worker was lost.
//!
//! Both read like papermill's own records: the prepared notebook is what papermill
//! writes at `notebook_start` (every cell `pending`), and a lost attempt ends like a
//! papermill failure (the running cell failed with an error output, later cells
//! `pending`, `metadata.papermill.exception`, papermill's error cells), with the
//! stop recorded in `metadata.deckle.stopped` as the worker records a cancel.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::error_cells;
use crate::format::new_markdown_cell;
use crate::inject::{self, ERROR_MARKER_TAG};
use crate::params::Params;
use crate::translate;

/// What a granted attempt runs, as far as its notebook shows it.
#[derive(Debug)]
pub struct Grant<'a> {
    /// The notebook as registered (`metadata.papermill.input_path`).
    pub input_path: &'a str,
    /// Where the output notebook is kept (`metadata.papermill.output_path`).
    pub output_path: &'a str,
    /// The parameters to inject.
    pub params: &'a Params,
    /// Names of secret parameters: read from the kernel's environment, never recorded.
    pub secrets: &'a [String],
    /// The kernel the node names, over the notebook's own.
    pub kernel: Option<&'a str>,
    /// `metadata.deckle.attempt`: who leased it and when.
    pub attempt: Value,
}

/// papermill's timestamp form (`2026-01-02T03:04:05.123456+00:00`).
pub fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

fn seconds_since(start: &Value, end: Timestamp) -> Option<f64> {
    let start: Timestamp = start.as_str()?.parse().ok()?;
    Some(end.duration_since(start).as_secs_f64())
}

/// The notebook as its worker will start it: papermill's defaults, the injected
/// parameters cell, the paths, every cell `pending`. Parameters that cannot be
/// written for the kernel leave the cell out and say so in
/// `metadata.deckle.attempt.prepare_error` (the worker will fail the attempt the same way).
pub fn prepare(mut nb: Value, g: &Grant<'_>) -> Value {
    inject::load_defaults(&mut nb);
    let mut attempt = g.attempt.clone();
    if !g.params.is_empty() || !g.secrets.is_empty() {
        let (kernel, language) = inject::kernel_and_language(&nb, g.kernel, None);
        let injected = translate::find_translator(kernel.as_deref().unwrap_or_default(), language.as_deref())
            .and_then(|lang| inject::parameterize(&mut nb, g.params, g.secrets, lang, false));
        if let Err(e) = injected {
            attempt["prepare_error"] = json!(e.to_string());
        }
    }
    inject::prepare_metadata(&mut nb, g.input_path, Some(g.output_path), false);
    let pm = &mut nb["metadata"]["papermill"];
    for k in ["start_time", "end_time", "duration", "exception"] {
        pm[k] = Value::Null;
    }
    for cell in nb["cells"].as_array_mut().into_iter().flatten() {
        if cell["cell_type"] == "code" {
            cell["execution_count"] = Value::Null;
            cell["outputs"] = json!([]);
        }
        cell["metadata"]["papermill"] = json!({"exception": null, "start_time": null, "end_time": null, "duration": null, "status": "pending"});
    }
    nb["metadata"]["deckle"]["attempt"] = attempt;
    nb
}

/// Finish the notebook of an attempt stopped without its worker (`kind`, e.g.
/// `WorkerLost`; `message` says who and why): the running cell, if one was, gets
/// an error output and is marked failed; the notebook gets its end time,
/// `exception`, `metadata.deckle.stopped` and papermill's error cells. A notebook
/// that never started gets a marker cell at the top saying so.
pub fn finish_stopped(nb: &mut Value, kind: &str, message: &str, at: Timestamp) {
    let at_s = iso(at);
    let cells = nb["cells"].as_array_mut();
    let running = cells.and_then(|c| c.iter_mut().find(|c| c.pointer("/metadata/papermill/status") == Some(&json!("running"))));
    let mut marked = false;
    if let Some(cell) = running {
        if let Some(outs) = cell["outputs"].as_array_mut() {
            outs.push(json!({"output_type": "error", "ename": kind, "evalue": message, "traceback": [format!("{kind}: {message}")]}));
        }
        let pm = &mut cell["metadata"]["papermill"];
        pm["exception"] = json!(true);
        pm["status"] = json!("failed");
        pm["end_time"] = json!(at_s);
        if let Some(d) = seconds_since(&pm["start_time"], at) {
            pm["duration"] = json!(d);
        }
        marked = true;
    }
    let pm = &mut nb["metadata"]["papermill"];
    if !pm.is_object() {
        *pm = json!({});
    }
    pm["exception"] = json!(true);
    pm["end_time"] = json!(at_s);
    if let Some(d) = seconds_since(&pm["start_time"], at) {
        pm["duration"] = json!(d);
    }
    if !nb["metadata"]["deckle"].is_object() {
        nb["metadata"]["deckle"] = json!({});
    }
    nb["metadata"]["deckle"]["stopped"] = json!({"reason": kind, "message": message, "at": at_s});
    if error_cells::has_error_cells(nb) {
        return;
    }
    if marked {
        error_cells::insert_error_cells(nb);
    } else if let Some(cells) = nb["cells"].as_array_mut() {
        // No cell was running: the worker went before starting one (or after the last).
        let text = format!(
            "<span {}>The attempt was stopped before a cell was running: {kind}: {}</span>",
            error_cells::ERROR_STYLE,
            html_escape(message)
        );
        cells.insert(0, new_markdown_cell(&text, &[ERROR_MARKER_TAG]));
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamValue;

    fn registered() -> Value {
        crate::format::parse(
            r#"{"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
            "cells": [
              {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": 3, "outputs": [{"output_type": "stream", "name": "stdout", "text": "old"}], "source": "x = 1"},
              {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [], "source": "import time; time.sleep(x)"},
              {"cell_type": "markdown", "metadata": {}, "source": "done"}]}"#,
        )
        .unwrap()
    }

    fn grant_of<'a>(params: &'a Params) -> Grant<'a> {
        Grant { input_path: "nb/sleep.ipynb", output_path: "/data/out.1.ipynb", params, secrets: &[], kernel: None, attempt: json!({"worker": "w1"}) }
    }

    #[test]
    fn prepared_notebook_has_the_parameters_and_nothing_run() {
        let mut params = Params::new();
        params.insert("x".into(), ParamValue::Int(30));
        let nb = prepare(registered(), &grant_of(&params));
        let cells = nb["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[1]["source"], "# Parameters\nx = 30\n");
        assert!(cells.iter().all(|c| c["metadata"]["papermill"]["status"] == "pending"));
        assert_eq!(cells[0]["outputs"], json!([]), "outputs of an earlier run are not what this attempt ran");
        assert_eq!(nb["metadata"]["papermill"]["parameters"], json!({"x": 30}));
        assert_eq!(nb["metadata"]["papermill"]["output_path"], "/data/out.1.ipynb");
        assert_eq!(nb["metadata"]["deckle"]["attempt"]["worker"], "w1");
        assert!(crate::format::parse(&crate::format::to_string(&nb)).is_ok());
    }

    #[test]
    fn untranslatable_parameters_are_named_not_injected() {
        let mut params = Params::new();
        params.insert("x".into(), ParamValue::Int(1));
        let mut nb = registered();
        nb["metadata"]["kernelspec"] = json!({"name": "nosuchkernel", "display_name": "N"});
        let nb = prepare(nb, &grant_of(&params));
        assert_eq!(nb["cells"].as_array().unwrap().len(), 3);
        assert!(nb["metadata"]["deckle"]["attempt"]["prepare_error"].as_str().unwrap().contains("nosuchkernel"));
    }

    #[test]
    fn a_lost_attempt_fails_its_running_cell_like_papermill() {
        let mut nb = prepare(registered(), &grant_of(&Params::new()));
        nb["metadata"]["papermill"]["start_time"] = json!("2026-01-01T00:00:00.000000+00:00");
        nb["cells"][0]["metadata"]["papermill"]["status"] = json!("completed");
        nb["cells"][1]["execution_count"] = json!(2);
        nb["cells"][1]["metadata"]["papermill"]["status"] = json!("running");
        nb["cells"][1]["metadata"]["papermill"]["start_time"] = json!("2026-01-01T00:00:01.000000+00:00");
        let at: Timestamp = "2026-01-01T00:00:11Z".parse().unwrap();
        finish_stopped(&mut nb, "WorkerLost", "worker w1 lost at 2026-01-01T00:00:11Z: no heartbeat for 10s", at);
        let cells = nb["cells"].as_array().unwrap();
        // Banner, cell 0, anchor, the failed cell, the pending markdown.
        assert_eq!(cells.len(), 5);
        assert!(cells[0]["source"].as_str().unwrap().contains("In [2]"));
        let failed = &cells[3];
        assert_eq!(failed["metadata"]["papermill"]["status"], "failed");
        assert_eq!(failed["metadata"]["papermill"]["exception"], true);
        assert_eq!(failed["metadata"]["papermill"]["duration"], 10.0);
        assert_eq!(failed["outputs"][0]["ename"], "WorkerLost");
        assert!(failed["outputs"][0]["evalue"].as_str().unwrap().starts_with("worker w1 lost at"));
        assert_eq!(cells[4]["metadata"]["papermill"]["status"], "pending");
        assert_eq!(nb["metadata"]["papermill"]["exception"], true);
        assert_eq!(nb["metadata"]["papermill"]["duration"], 11.0);
        assert_eq!(nb["metadata"]["deckle"]["stopped"]["reason"], "WorkerLost");
        assert!(crate::format::parse(&crate::format::to_string(&nb)).is_ok());
    }

    #[test]
    fn a_lost_attempt_that_never_started_says_so_at_the_top() {
        let mut nb = prepare(registered(), &grant_of(&Params::new()));
        finish_stopped(&mut nb, "WorkerLost", "worker w1 lost <before upload>", Timestamp::UNIX_EPOCH);
        let cells = nb["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4);
        assert!(cells[0]["source"].as_str().unwrap().contains("WorkerLost: worker w1 lost &lt;before upload&gt;"));
        assert!(cells[1..].iter().all(|c| c["metadata"]["papermill"]["status"] == "pending"));
        assert_eq!(nb["metadata"]["papermill"]["end_time"], "1970-01-01T00:00:00.000000+00:00");
        // Finishing twice (a restart after the first) adds nothing.
        finish_stopped(&mut nb, "WorkerLost", "again", Timestamp::UNIX_EPOCH);
        assert_eq!(nb["cells"].as_array().unwrap().len(), 4);
    }
}
