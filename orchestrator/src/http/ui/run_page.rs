//! A run (its DAG coloured by status, nodes with attempts, a timeline) and a node
//! attempt (its output notebook, rendered, and how to re-run it locally): what
//! `run.html` and `attempt.html` are given.

use std::fmt::Write;

use deckle_protocol::api::RunDetail;
use deckle_protocol::record::{AttemptRecord, NodeRecord, RunRecord, RunStatus, RunTrigger};
use minijinja::{context, Value};
use serde::Serialize;
use serde_json::Map;

use super::dag::DagNode;
use super::escape::url;
use super::notebook::{Links, Rendered};
use super::pages::{attempt_href, dag, Page};
use super::values::outputs_html;

fn secs(a: &AttemptRecord) -> String {
    a.duration_secs.map_or("-".into(), |d| format!("{d:.1} s"))
}

/// Pretty JSON for the `json` macro; empty for an empty object (shown as "-").
fn json(v: &Map<String, serde_json::Value>) -> String {
    if v.is_empty() {
        return String::new();
    }
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A form button that acts on the run.
#[derive(Serialize)]
struct Action {
    what: &'static str,
    label: &'static str,
    class: &'static str,
}

/// A failed node, linked to its notebook above the DAG.
#[derive(Serialize)]
struct Failed<'a> {
    key: String,
    error: &'a str,
    href: String,
}

#[derive(Serialize)]
struct NodeRow<'a> {
    key: String,
    status: &'static str,
    attempts: Vec<AttemptCell<'a>>,
    /// The last attempt's params, as injected.
    params: Option<String>,
    /// The node's outputs (HTML made by [`outputs_html`]).
    outputs: Value,
    waiting: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct AttemptCell<'a> {
    n: u32,
    status: &'static str,
    secs: String,
    lost: bool,
    worker: Option<&'a str>,
}

/// A run: its DAG coloured by status (`needs` is the workflow's graph), failed
/// nodes first, every node with its attempts, and a timeline.
pub fn run_page(d: &RunDetail, needs: &[(String, Vec<String>)]) -> Page {
    let run = &d.run;
    let (trigger, backfill, event) = match &run.trigger {
        RunTrigger::Manual => ("manual", None, None),
        RunTrigger::Schedule => ("scheduled", None, None),
        RunTrigger::Backfill { id } => ("backfill", Some(id.as_str()), None),
        RunTrigger::Event { event, source, .. } => (source.as_str(), None, Some(event.as_str())),
    };
    let actions: Vec<Action> = if !run.status.is_finished() {
        vec![Action { what: "cancel", label: "Cancel run", class: "danger" }]
    } else if run.status != RunStatus::Succeeded {
        vec![Action { what: "rerun", label: "Rerun from failed", class: "primary" }]
    } else {
        vec![]
    };
    let dag_nodes: Vec<DagNode> = needs
        .iter()
        .map(|(id, needs)| {
            let rec = d.nodes.iter().find(|n| n.node == *id && n.index.is_none());
            DagNode {
                id: id.clone(),
                needs: needs.clone(),
                status: rec.map_or("pending".into(), |r| r.status.as_str().to_string()),
                href: rec.and_then(|r| attempt_href(&run.id, r)),
                title: rec.map_or(String::new(), |r| format!("{} · {} attempt(s)", r.status.as_str(), r.attempts.len())),
            }
        })
        .collect();
    let failed: Vec<Failed<'_>> = d
        .nodes
        .iter()
        .filter(|n| n.status.as_str() == "failed" && !n.attempts.is_empty())
        .map(|n| Failed { key: n.key(), error: n.error.as_deref().unwrap_or(""), href: attempt_href(&run.id, n).unwrap_or_default() })
        .collect();
    let nodes: Vec<NodeRow<'_>> = d.nodes.iter().map(node_row).collect();
    Page::new(
        "run.html",
        context! { run, trigger, backfill, event, actions, dag => dag(&dag_nodes), failed, nodes, gantt => gantt(&d.nodes) },
    )
}

fn node_row(n: &NodeRecord) -> NodeRow<'_> {
    NodeRow {
        key: n.key(),
        status: n.status.as_str(),
        attempts: n
            .attempts
            .iter()
            .map(|a| AttemptCell { n: a.n, status: a.status.as_str(), secs: secs(a), lost: a.lost, worker: a.worker.as_deref() })
            .collect(),
        params: n.attempts.last().map(|a| json(&a.params)),
        outputs: Value::from_safe_string(outputs_html(&n.outputs)),
        waiting: n.waiting.as_deref(),
        error: n.error.as_deref(),
    }
}

/// The timeline's geometry, as the SVG attributes read.
#[derive(Serialize)]
struct Gantt {
    width: String,
    height: String,
    label_width: String,
    bar_height: String,
    axis_y: String,
    end_x: String,
    total: String,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    status: &'static str,
    secs: String,
    x: String,
    y: String,
    text_y: String,
    width: String,
}

/// Every attempt as a bar on a shared time axis; `None` when nothing has started.
fn gantt(nodes: &[NodeRecord]) -> Option<Gantt> {
    let bars: Vec<(String, &AttemptRecord, f64, f64)> = nodes
        .iter()
        .flat_map(|n| n.attempts.iter().map(move |a| (n.key(), a)))
        .filter_map(|(k, a)| {
            let end = a.ended_at.unwrap_or_else(jiff::Timestamp::now);
            Some((k, a, a.started_at.as_millisecond() as f64, end.as_millisecond() as f64))
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let t0 = bars.iter().map(|b| b.2).fold(f64::MAX, f64::min);
    let t1 = bars.iter().map(|b| b.3).fold(f64::MIN, f64::max).max(t0 + 1.0);
    let (label_w, width, row) = (160.0, 900.0, 22.0);
    let scale = (width - label_w - 10.0) / (t1 - t0);
    Some(Gantt {
        width: format!("{width}"),
        height: format!("{}", row * bars.len() as f64 + 24.0),
        label_width: format!("{label_w}"),
        bar_height: format!("{}", row - 6.0),
        axis_y: format!("{}", row * bars.len() as f64 + 20.0),
        end_x: format!("{}", width - 10.0),
        total: format!("{:.1}", (t1 - t0) / 1000.0),
        bars: bars
            .iter()
            .enumerate()
            .map(|(i, (key, a, s, end))| {
                let y = 4.0 + row * i as f64;
                Bar {
                    label: format!("{key} #{}", a.n),
                    status: a.status.as_str(),
                    secs: secs(a),
                    x: format!("{:.1}", label_w + (s - t0) * scale),
                    y: format!("{y}"),
                    text_y: format!("{}", y + 14.0),
                    width: format!("{:.1}", ((end - s) * scale).max(2.0)),
                }
            })
            .collect(),
    })
}

/// `deckle execute` with the attempt's parameters: `-p` for scalars, `-y` for the rest.
pub fn local_command(notebook: &str, node: &str, a: &AttemptRecord) -> String {
    let mut cmd = format!("deckle execute {} {}.{}.ipynb", shell(notebook), shell(node), a.n);
    for (k, v) in &a.params {
        match v {
            serde_json::Value::String(s) => {
                let _ = write!(cmd, " -p {} {}", shell(k), shell(s));
            }
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                let _ = write!(cmd, " -p {} {}", shell(k), v);
            }
            other => {
                let _ = write!(cmd, " -y {}", shell(&format!("{k}: {other}")));
            }
        }
    }
    cmd
}

/// Single-quote for a POSIX shell.
fn shell(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What the attempt page shows.
pub struct AttemptView<'a> {
    /// The run the attempt belongs to.
    pub run: &'a RunRecord,
    /// The node instance.
    pub node: &'a NodeRecord,
    /// The attempt.
    pub attempt: &'a AttemptRecord,
    /// The notebook as registered, relative to the workflow file (for the local command).
    pub notebook: Option<String>,
    /// Its output notebook, rendered, if one was written.
    pub rendered: Option<Rendered>,
}

/// The attempt page's `.ipynb` download (the href of its `a#download`).
pub fn notebook_href(run: &str, node_key: &str, n: u32) -> String {
    format!("/api/v1/runs/{}/nodes/{}/attempts/{n}/notebook", url(run), url(node_key))
}

/// Where a rendered notebook offers what its output limits leave out: the attempt
/// page's download, and each output's full text (served by the UI's routes).
pub fn attempt_links(run: &str, node_key: &str, n: u32) -> Links {
    Links {
        download: Some(notebook_href(run, node_key, n)),
        full_output: Some(format!("/ui/runs/{}/nodes/{}/attempts/{n}/outputs", url(run), url(node_key))),
    }
}

/// What `attempt.html` reads of the attempt.
#[derive(Serialize)]
struct AttemptFacts<'a> {
    n: u32,
    status: &'static str,
    worker: Option<&'a str>,
    error: Option<&'a str>,
}

/// One node attempt: error, params, outputs, how to re-run it locally, and its
/// output notebook.
pub fn attempt_page(v: &AttemptView<'_>) -> Page {
    let key = v.node.key();
    let a = v.attempt;
    let attempt = AttemptFacts { n: a.n, status: a.status.as_str(), worker: a.worker.as_deref(), error: a.error.as_deref() };
    Page::new(
        "attempt.html",
        context! {
            run => v.run,
            attempt,
            secs => secs(a),
            first_error => v.rendered.as_ref().and_then(|r| r.first_error),
            params => json(&a.params),
            // Built by `values`, which escapes what it shows.
            outputs => Value::from_safe_string(outputs_html(&a.outputs)),
            local_command => v.notebook.as_deref().map(|nb| local_command(nb, &key, a)),
            download => notebook_href(&v.run.id, &key, a.n),
            // Built by the notebook renderer, which escapes and sandboxes what it holds.
            notebook => v.rendered.as_ref().map(|r| Value::from_safe_string(r.html.clone())),
            key,
        },
    )
}
