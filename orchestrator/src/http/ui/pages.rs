//! The pages: the frame every page shares (title, CSRF token, live run, storage
//! fault), and what each template is given: the API's records as they are, plus
//! what only Rust computes (JSON text, attempt links, the DAG). The markup is in
//! `templates/`; the run and attempt pages are in [`super::run_page`].

use deckle_protocol::api::{Backfill, ParamSummary, WorkflowDetail, WorkflowSummary};
use deckle_protocol::record::{NodeRecord, RunRecord};
use minijinja::{context, Value};
use serde::Serialize;

use super::dag::{render_svg, DagNode};
use super::escape::url;
use super::templates;

/// What the layout around every page shows.
#[derive(Debug, Default, Serialize)]
pub struct Frame {
    /// The `<title>`, before " · Deckle".
    pub title: String,
    /// For the forms that change state (and `<meta name="csrf">`).
    pub csrf: String,
    /// The run a page follows live: `data-run` and `data-finished` on `<body>`, for app.js.
    pub live: Option<Live>,
    /// Shown on every page while the data dir cannot be written.
    pub fault: Option<Fault>,
    /// Coordinators sharing a database: which part this one plays, and who leads.
    pub coordinator: Option<Coordinator>,
}

/// The header's note on who leads.
#[derive(Debug, Serialize)]
pub struct Coordinator {
    /// `leader` or `standby`.
    pub role: String,
    /// The leader's URL, `None` while none leads.
    pub leader: Option<String>,
    /// The leader's term.
    pub epoch: Option<i64>,
}

/// A run a page follows live.
#[derive(Debug, Serialize)]
pub struct Live {
    /// The run's id.
    pub run: String,
    /// `true` or `false`, as the attribute reads.
    pub finished: &'static str,
}

/// The storage fault, as the banner says it.
#[derive(Debug, Serialize)]
pub struct Fault {
    /// The path and the OS error.
    pub message: String,
    /// When it was first seen.
    pub since: String,
}

impl Frame {
    /// A page titled `title`, its forms carrying `csrf`.
    pub fn new(title: impl Into<String>, csrf: impl Into<String>) -> Self {
        Frame { title: title.into(), csrf: csrf.into(), ..Frame::default() }
    }

    /// The page follows `run` until it finishes.
    pub fn live(mut self, run: &str, finished: bool) -> Self {
        self.live = Some(Live { run: run.to_string(), finished: if finished { "true" } else { "false" } });
        self
    }
}

/// A page's template and what it is given.
#[derive(Debug)]
pub struct Page {
    template: &'static str,
    view: Value,
}

impl Page {
    pub(super) fn new(template: &'static str, view: impl Serialize) -> Self {
        Page { template, view: Value::from_serialize(view) }
    }

    /// The whole document, inside the layout.
    pub fn render(&self, frame: &Frame) -> Result<String, minijinja::Error> {
        templates::render(self.template, context! { frame => frame, ..self.view.clone() })
    }
}

/// The DAG's SVG, for a template to place as it is.
pub(super) fn dag(nodes: &[DagNode]) -> Value {
    Value::from_safe_string(render_svg(nodes))
}

/// The link to a node instance's latest attempt, if it has one.
pub fn attempt_href(run: &str, n: &NodeRecord) -> Option<String> {
    n.attempts.last().map(|a| format!("/runs/{}/nodes/{}/attempts/{}", url(run), url(&n.key()), a.n))
}

/// A refusal or failure: its status and what went wrong.
pub fn error_page(status: &str, message: &str) -> Page {
    Page::new("error.html", context! { status, message })
}

/// The sign-in form, with why the last try was refused.
pub fn login_page(error: Option<&str>) -> Page {
    Page::new("login.html", context! { error })
}

/// Every registered workflow: schedule, next tick, latest run.
pub fn workflows_page(list: &[WorkflowSummary]) -> Page {
    Page::new("workflows.html", context! { workflows => list })
}

#[derive(Serialize)]
struct ParamView<'a> {
    #[serde(flatten)]
    param: &'a ParamSummary,
    /// The trigger form's value: the default, a string as it is, anything else as JSON.
    input: String,
    /// The default as JSON, for the params table.
    default_json: String,
}

#[derive(Serialize)]
struct RunRow<'a> {
    id: &'a str,
    date: &'a str,
    status: &'static str,
    cells: Vec<GridCell<'a>>,
}

/// One node of one run in the recent-runs grid.
#[derive(Serialize)]
struct GridCell<'a> {
    node: &'a str,
    status: &'static str,
    href: String,
}

/// One workflow: its DAG, schedule, trigger and backfill forms, recent runs by
/// node, and params.
/// `older`: the cursor of the next page of runs, when there is one.
pub fn workflow_page(w: &WorkflowDetail, runs: &[(RunRecord, Vec<NodeRecord>)], older: Option<&str>) -> Page {
    let dag_nodes: Vec<DagNode> = w.nodes.iter().map(|n| DagNode { id: n.id.clone(), needs: n.needs.clone(), status: String::new(), href: None, title: n.notebook.clone().unwrap_or_else(|| n.kind.clone()) }).collect();
    let params: Vec<ParamView<'_>> = w
        .params
        .iter()
        .map(|p| ParamView {
            param: p,
            input: match &p.default {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            },
            default_json: p.default.as_ref().map(serde_json::Value::to_string).unwrap_or_default(),
        })
        .collect();
    let runs: Vec<RunRow<'_>> = runs
        .iter()
        .map(|(run, nodes)| RunRow {
            id: &run.id,
            date: &run.date,
            status: run.status.as_str(),
            cells: w
                .nodes
                .iter()
                .map(|n| {
                    let rec = nodes.iter().find(|r| r.node == n.id && r.index.is_none());
                    GridCell {
                        node: &n.id,
                        status: rec.map_or("pending", |r| r.status.as_str()),
                        href: rec.and_then(|r| attempt_href(&run.id, r)).unwrap_or_else(|| format!("/runs/{}", url(&run.id))),
                    }
                })
                .collect(),
        })
        .collect();
    let versions: Vec<_> = w.versions.iter().rev().take(5).collect();
    Page::new("workflow.html", context! { w, dag => dag(&dag_nodes), links => links(w), versions, params, runs, older })
}

/// The workflows whose runs start this one, this one, and those it starts: a small
/// graph drawn like a run's DAG, each box a link to its workflow.
fn links(w: &WorkflowDetail) -> Option<Value> {
    if w.upstream.is_empty() && w.downstream.is_empty() {
        return None;
    }
    let node = |id: &str, needs: Vec<String>, status: &str| DagNode {
        id: id.to_string(),
        needs,
        status: status.to_string(),
        href: Some(format!("/workflows/{}", url(id))),
        title: format!("workflow {id}"),
    };
    let mut nodes: Vec<DagNode> = w.upstream.iter().map(|u| node(u, Vec::new(), "")).collect();
    nodes.push(node(&w.id, w.upstream.clone(), "running"));
    nodes.extend(w.downstream.iter().filter(|d| **d != w.id).map(|d| node(d, vec![w.id.clone()], "")));
    Some(dag(&nodes))
}

/// Recent events (signals, upstream runs, files), newest first, each with the runs
/// it started.
pub fn events_page(list: &[deckle_protocol::event::EventRecord]) -> Page {
    Page::new("events.html", context! { events => list })
}

/// How many of a backfill's dates have finished, of how many.
fn progress(b: &Backfill) -> (usize, usize) {
    let done = b.dates.iter().filter(|d| matches!(d.status.as_str(), "succeeded" | "failed" | "cancelled")).count();
    (done, b.dates.len())
}

#[derive(Serialize)]
struct BackfillRow<'a> {
    #[serde(flatten)]
    backfill: &'a Backfill,
    done: usize,
    total: usize,
}

/// Every backfill with its progress.
pub fn backfills_page(list: &[Backfill]) -> Page {
    let backfills: Vec<BackfillRow<'_>> = list
        .iter()
        .map(|b| {
            let (done, total) = progress(b);
            BackfillRow { backfill: b, done, total }
        })
        .collect();
    Page::new("backfills.html", context! { backfills })
}

/// One backfill: its dates and their runs.
pub fn backfill_page(b: &Backfill, trend_nodes: &[NodeTrends]) -> Page {
    let (done, total) = progress(b);
    Page::new("backfill.html", context! { b, done, total, trend_nodes })
}

/// A node's outputs, each as a trend chart or table.
#[derive(Debug, Serialize)]
pub struct NodeTrends {
    /// The node.
    pub node: String,
    /// One per output.
    pub trends: Vec<super::trend::TrendView>,
}

/// What the trends page was asked for.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct TrendQuery {
    /// One node, or every node.
    pub node: Option<String>,
    /// One output, or every output.
    pub name: Option<String>,
    /// Logical dates from (inclusive).
    pub from: Option<String>,
    /// Logical dates to (inclusive).
    pub to: Option<String>,
}

/// A workflow's outputs across runs, a chart or table per node output, with the
/// form that picks the node, output and dates.
pub fn trends_page(workflow: &str, nodes: &[String], q: &TrendQuery, trend_nodes: &[NodeTrends]) -> Page {
    Page::new("workflow_trends.html", context! { workflow, nodes, node => q.node, name => q.name, from => q.from, to => q.to, trend_nodes })
}

/// Two attempts compared: the sides, params and outputs with changes marked, then
/// every cell (sources and outputs as line diffs, errors, images side by side).
pub fn compare_page(c: &deckle_protocol::compare::Comparison) -> Page {
    let notebook_changed = c.a.notebook_hash.is_some() && c.b.notebook_hash.is_some() && c.a.notebook_hash != c.b.notebook_hash;
    Page::new("compare.html", context! { c, notebook_changed })
}
