//! The web UI's routes, served by the coordinator: pages, the live run feed
//! (server-sent events), form actions, sign-in, and the two static assets.
//!
//! With a token configured, the UI signs in with it once and keeps a session
//! cookie (`HttpOnly`, `SameSite=Strict`) holding a digest of the token, never the
//! token. Forms that change state carry a CSRF token. Every response carries a
//! strict Content-Security-Policy: scripts only from `/ui/app.js`, and notebook
//! outputs that hold HTML or JavaScript live in sandboxed iframes without
//! same-origin (see [`super::notebook`]). Pages are templates (see [`super::pages`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use deckle_protocol::api::{CreateBackfill, Rerun, TriggerRun};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::escape::url;
use super::pages::{self, Fault, Frame, Page};
use super::{dag, notebook, run_page};
use crate::http::auth::{session_of, session_value, token_matches, SESSION_COOKIE};
use crate::http::{AppState, HttpError};
use crate::error::Error;
use crate::store::RunQuery;

fn csrf_for(s: &AppState, headers: &HeaderMap) -> String {
    let session = session_of(headers).unwrap_or_default();
    hex::encode(Sha256::digest(format!("deckle-csrf\0{}\0{session}", s.csrf_secret).as_bytes()))
}

fn check_csrf(s: &AppState, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<(), UiError> {
    let expected = csrf_for(s, headers);
    match form.get("csrf") {
        Some(given) if token_matches(given, &expected) => Ok(()),
        _ => Err(UiError::from(Error::Input("this form has expired or did not come from this server; reload the page and try again".into()))),
    }
}

/// Errors on UI routes are pages, not JSON.
pub enum UiError {
    /// A refusal or failure, shown as the error page.
    Http(HttpError),
    /// A template failed to render: a bug, answered in plain text.
    Render(minijinja::Error),
}

impl From<Error> for UiError {
    fn from(e: Error) -> Self {
        UiError::Http(e.into())
    }
}

impl From<minijinja::Error> for UiError {
    fn from(e: minijinja::Error) -> Self {
        UiError::Render(e)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::Http(e) => {
                let page = pages::error_page(&e.status().to_string(), &e.to_string());
                html(e.status(), page.render(&Frame::new("Error", "")))
            }
            UiError::Render(e) => render_failed(e),
        }
    }
}

fn render_failed(e: minijinja::Error) -> Response {
    tracing::error!("rendering a page: {e:#}");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("the page could not be rendered: {e}")).into_response()
}

/// A rendered page with its status, or the render failure.
fn html(status: StatusCode, rendered: Result<String, minijinja::Error>) -> Response {
    match rendered {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => render_failed(e),
    }
}

type UiResult = Result<Response, UiError>;

fn page(s: &AppState, mut frame: Frame, page: Page) -> UiResult {
    // A storage fault is news on every page: nothing new can start until it clears.
    frame.fault = s.c.health.fault().map(|f| Fault { message: f.message, since: f.since.to_string() });
    frame.coordinator = s.c.role.status().map(|c| super::pages::Coordinator {
        role: if c.role == deckle_protocol::api::CoordinatorRole::Leader { "leader".into() } else { "standby".into() },
        leader: c.leader_url,
        epoch: c.epoch,
    });
    Ok(Html(page.render(&frame)?).into_response())
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(workflows))
        .route("/workflows/{id}", get(workflow))
        .route("/workflows/{id}/trends", get(trends))
        .route("/runs/{run}", get(run))
        .route("/runs/{run}/nodes/{node}/attempts/{n}", get(attempt))
        .route("/ui/runs/{run}/nodes/{node}/attempts/{n}/frames/{i}", get(frame))
        .route("/ui/runs/{run}/nodes/{node}/attempts/{n}/outputs/{cell}/{i}", get(full_output))
        .route("/backfills", get(backfills))
        .route("/events", get(events_list))
        .route("/compare", get(compare))
        .route("/backfills/{id}", get(backfill))
        .route("/login", get(login_form).post(login))
        .route("/ui/app.css", get(css))
        .route("/ui/app.js", get(js))
        .route("/ui/runs/{run}/events", get(events))
        .route("/ui/workflows/{id}/trigger", post(trigger))
        .route("/ui/workflows/{id}/backfill", post(start_backfill))
        .route("/ui/workflows/{id}/pause", post(pause))
        .route("/ui/workflows/{id}/unpause", post(unpause))
        .route("/ui/runs/{run}/rerun", post(rerun))
        .route("/ui/runs/{run}/cancel", post(cancel))
        .route("/ui/backfills/{id}/cancel", post(cancel_backfill))
}

async fn css() -> Response {
    let body = [include_str!("app.css"), notebook::NOTEBOOK_CSS, dag::DAG_CSS].join("\n");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], include_str!("app.js")).into_response()
}

async fn workflows(State(s): State<AppState>, headers: HeaderMap) -> UiResult {
    let list = s.c.workflow_summaries()?;
    page(&s, Frame::new("Workflows", csrf_for(&s, &headers)), pages::workflows_page(&list))
}

/// The backfills page shows the newest; the API and CLI page through all.
const BACKFILLS_SHOWN: usize = 100;

/// A page of the workflow page's runs.
const RUNS_SHOWN: usize = 30;

#[derive(serde::Deserialize)]
struct Older {
    before: Option<String>,
}

async fn workflow(State(s): State<AppState>, Path(id): Path<String>, Query(older): Query<Older>, headers: HeaderMap) -> UiResult {
    let detail = s.c.workflow_detail(&id)?;
    let q = RunQuery { before: older.before, ..RunQuery::of_workflow(id.clone(), RUNS_SHOWN) };
    let mut runs = Vec::new();
    for r in s.c.runs(&q)? {
        let nodes = s.c.store().nodes(&r.id)?;
        runs.push((r, nodes));
    }
    let next = if runs.len() == RUNS_SHOWN { runs.last().map(|(r, _)| r.id.clone()) } else { None };
    page(&s, Frame::new(&id, csrf_for(&s, &headers)), pages::workflow_page(&detail, &runs, next.as_deref()))
}

async fn run(State(s): State<AppState>, Path(run): Path<String>, headers: HeaderMap) -> UiResult {
    let detail = s.c.run_detail(&run)?;
    let wf = s.c.registry.load(&detail.run.workflow, detail.run.version)?;
    let needs: Vec<(String, Vec<String>)> = wf.nodes.values().map(|n| (n.id.clone(), n.needs.clone())).collect();
    let frame = Frame::new(format!("Run {run}"), csrf_for(&s, &headers)).live(&run, detail.run.status.is_finished());
    page(&s, frame, run_page::run_page(&detail, &needs))
}

async fn attempt(State(s): State<AppState>, Path((run, node, n)): Path<(String, String, u32)>, headers: HeaderMap) -> UiResult {
    let detail = s.c.run_detail(&run)?;
    let rec = detail.nodes.iter().find(|r| r.key() == node).ok_or_else(|| Error::NotFound(format!("node {node} in run {run}")))?;
    let a = rec.attempts.iter().find(|a| a.n == n).ok_or_else(|| Error::NotFound(format!("attempt {n} of {node}")))?;
    let rendered = match rendered_notebook(&s, &run, &node, n).await {
        Ok(mut r) => {
            // Rich outputs load from their own sandboxed URLs (see `frames`).
            let base = format!("/ui/runs/{}/nodes/{}/attempts/{n}/frames", url(&run), url(&node));
            r.html = super::frames::extract(&r.html, &base).0;
            Some(r)
        }
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let notebook = s.c.registry.load(&detail.run.workflow, detail.run.version).ok().and_then(|wf| {
        let own = wf.nodes.get(&rec.node).and_then(|n| match &n.kind {
            deckle_dsl::NodeKind::Notebook { rel, .. } => Some(rel.clone()),
            deckle_dsl::NodeKind::Sql(_) | deckle_dsl::NodeKind::Wait(_) => None,
        });
        own.or_else(|| {
            let hook = match rec.node.as_str() {
                "@on_failure" => wf.on_failure.as_ref(),
                "@on_success" => wf.on_success.as_ref(),
                _ => None,
            };
            hook.and_then(|h| h.notebook.as_ref().map(|nb| nb.rel.clone()))
        })
    });
    let view = run_page::AttemptView { run: &detail.run, node: rec, attempt: a, notebook, rendered };
    page(&s, Frame::new(format!("{node} #{n}"), csrf_for(&s, &headers)), run_page::attempt_page(&view))
}

/// An attempt's output notebook, read.
async fn notebook_json(s: &AppState, run: &str, node: &str, n: u32) -> Result<serde_json::Value, Error> {
    let (_, bytes, _) = s.c.notebook_bytes(run, node, Some(n)).await?;
    let io = |e: String| Error::Io { path: format!("the notebook of {node} attempt {n}"), message: e };
    // The reader every part shares (bare NaN/Infinity accepted); the renderer copes
    // with any structure, so the notebook checks are not applied here.
    let text = std::str::from_utf8(&bytes).map_err(|e| io(format!("not UTF-8 text: {e}")))?;
    deckle_notebook::format::parse_json(text).map_err(io)
}

/// An attempt's output notebook, rendered; what its output limits leave out is
/// offered as the notebook download and each output's full text.
async fn rendered_notebook(s: &AppState, run: &str, node: &str, n: u32) -> Result<notebook::Rendered, Error> {
    let nb = notebook_json(s, run, node, n).await?;
    let links = run_page::attempt_links(run, node, n);
    Ok(notebook::render_notebook_with(&nb, &links))
}

/// The policy of an output's full text: nothing in it runs or loads, nor may it be framed.
const TEXT_POLICY: &str = "sandbox; default-src 'none'; frame-ancestors 'none'";

/// The whole text of one output of an attempt's notebook, which the page shows cut
/// (see `notebook::limits`), as plain text.
async fn full_output(State(s): State<AppState>, Path((run, node, n, cell, i)): Path<(String, String, u32, usize, usize)>) -> UiResult {
    let nb = notebook_json(&s, &run, &node, n).await?;
    let text = notebook::full_output(&nb, cell, i).ok_or_else(|| Error::NotFound(format!("a text output {i} in cell {cell}")))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, TEXT_POLICY)], text).into_response())
}

/// One rich output of an attempt's notebook, as its own sandboxed document.
async fn frame(State(s): State<AppState>, Path((run, node, n, i)): Path<(String, String, u32, usize)>) -> UiResult {
    let rendered = rendered_notebook(&s, &run, &node, n).await?;
    let (_, docs) = super::frames::extract(&rendered.html, "");
    let doc = docs.into_iter().nth(i).ok_or_else(|| Error::NotFound(format!("output frame {i}")))?;
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, super::frames::FRAME_POLICY)],
        doc,
    )
        .into_response())
}

async fn backfills(State(s): State<AppState>, headers: HeaderMap) -> UiResult {
    page(&s, Frame::new("Backfills", csrf_for(&s, &headers)), pages::backfills_page(&s.c.backfills(None, None, BACKFILLS_SHOWN)?))
}

#[derive(serde::Deserialize)]
struct CompareQuery {
    a: String,
    b: Option<String>,
}

async fn compare(State(s): State<AppState>, Query(q): Query<CompareQuery>, headers: HeaderMap) -> UiResult {
    let c = s.c.compare(&q.a, q.b.as_deref().filter(|b| !b.is_empty())).await?;
    page(&s, Frame::new("Compare", csrf_for(&s, &headers)), pages::compare_page(&c))
}

/// The events page shows the newest; the API and CLI page through all.
const EVENTS_SHOWN: usize = 200;

async fn events_list(State(s): State<AppState>, headers: HeaderMap) -> UiResult {
    page(&s, Frame::new("Events", csrf_for(&s, &headers)), pages::events_page(&s.c.events(None, None, None, EVENTS_SHOWN)?))
}

async fn backfill(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> UiResult {
    let b = s.c.backfill(&id)?;
    // Its own runs' outputs, over its dates.
    let runs: std::collections::HashSet<&str> = b.dates.iter().filter_map(|d| d.run.as_deref()).collect();
    let (from, to) = (b.dates.iter().map(|d| d.date.clone()).min(), b.dates.iter().map(|d| d.date.clone()).max());
    let q = pages::TrendQuery { from, to, ..Default::default() };
    let nodes = node_trends(&s, &b.workflow, b.version, &q, |p| runs.contains(p.run_id.as_str()))?;
    page(&s, Frame::new(&id, csrf_for(&s, &headers)), pages::backfill_page(&b, &nodes))
}

/// The trends of `workflow`'s nodes (of `version`) `q` asks for, over the points `keep` keeps.
fn node_trends(s: &AppState, workflow: &str, version: u32, q: &pages::TrendQuery, keep: impl Fn(&deckle_protocol::api::OutputPoint) -> bool) -> Result<Vec<pages::NodeTrends>, Error> {
    let wf = s.c.registry.load(workflow, version)?;
    let mut out = Vec::new();
    for id in wf.topo_order() {
        if q.node.as_ref().is_some_and(|n| *n != id) || matches!(wf.nodes[&id].kind, deckle_dsl::NodeKind::Wait(_)) && q.node.is_none() {
            continue;
        }
        let oq = crate::trends::OutputQuery { node: id.clone(), name: q.name.clone().filter(|n| !n.is_empty()), from: q.from.clone().filter(|d| !d.is_empty()), to: q.to.clone().filter(|d| !d.is_empty()), limit: TREND_RUNS };
        let mut series = s.c.output_series(workflow, &oq)?;
        series.points.retain(|p| keep(p));
        out.push(pages::NodeTrends { node: id, trends: super::trend::trends(&series) });
    }
    Ok(out)
}

/// The runs a trend reads, at most.
const TREND_RUNS: usize = 1000;

async fn trends(State(s): State<AppState>, Path(id): Path<String>, Query(q): Query<pages::TrendQuery>, headers: HeaderMap) -> UiResult {
    let entry = s.c.registry.entry(&id)?;
    let latest = entry.versions.last().map_or(0, |v| v.version);
    let q = pages::TrendQuery { node: q.node.filter(|n| !n.is_empty()), ..q };
    let nodes: Vec<String> = s.c.registry.load(&id, latest)?.topo_order();
    let trend_nodes = node_trends(&s, &id, latest, &q, |_| true)?;
    page(&s, Frame::new(format!("Trends of {id}"), csrf_for(&s, &headers)), pages::trends_page(&id, &nodes, &q, &trend_nodes))
}

/// The run's node statuses whenever they change, until it finishes.
async fn events(State(s): State<AppState>, Path(run): Path<String>) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, UiError> {
    s.c.run(&run)?;
    let c = s.c.clone();
    let stream = futures::stream::unfold((c, run, String::new(), false), |(c, run, last, done)| async move {
        if done {
            return None;
        }
        loop {
            let Ok(d) = c.run_detail(&run) else { return None };
            let finished = d.run.status.is_finished();
            let nodes: Vec<_> = d.nodes.iter().map(|n| json!({"key": n.key(), "status": n.status.as_str()})).collect();
            let body = json!({"status": d.run.status.as_str(), "finished": finished, "nodes": nodes}).to_string();
            if body != last {
                return Some((Ok(Event::default().data(body.clone())), (c, run, body, finished)));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

async fn trigger(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> UiResult {
    check_csrf(&s, &headers, &form)?;
    let params = form.iter().filter_map(|(k, v)| Some((k.strip_prefix("p.")?.to_string(), v.clone()))).filter(|(_, v)| !v.is_empty()).collect();
    let date = form.get("date").filter(|d| !d.is_empty()).cloned();
    let run = s.c.trigger(&id, &TriggerRun { params, date, version: None }).await?;
    Ok(see_other(&format!("/runs/{}", url(&run.id))))
}

async fn start_backfill(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> UiResult {
    check_csrf(&s, &headers, &form)?;
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let parallel = field("parallel").parse::<u32>().ok();
    let req = CreateBackfill {
        from: field("from"),
        to: field("to"),
        every: None,
        parallel,
        reverse: false,
        only_failed: false,
        dry_run: false,
        params: Default::default(),
        version: None,
    };
    let bf = s.c.create_backfill(&id, &req).await?;
    Ok(see_other(&format!("/backfills/{}", url(&bf.id))))
}

async fn pause(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> UiResult {
    check_csrf(&s, &headers, &form)?;
    s.c.set_paused(&id, true).await?;
    Ok(see_other(&format!("/workflows/{}", url(&id))))
}

async fn unpause(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> UiResult {
    check_csrf(&s, &headers, &form)?;
    s.c.set_paused(&id, false).await?;
    Ok(see_other(&format!("/workflows/{}", url(&id))))
}

async fn rerun(State(s): State<AppState>, Path(run): Path<String>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> UiResult {
    check_csrf(&s, &headers, &form)?;
    s.c.rerun(&run, &Rerun { from_failed: true, params: Default::default() }).await?;
    Ok(see_other(&format!("/runs/{}", url(&run))))
}

async fn cancel(State(s): State<AppState>, Path(run): Path<String>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> UiResult {
    check_csrf(&s, &headers, &form)?;
    s.c.cancel(&run).await?;
    Ok(see_other(&format!("/runs/{}", url(&run))))
}

async fn cancel_backfill(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> UiResult {
    check_csrf(&s, &headers, &form)?;
    s.c.cancel_backfill(&id).await?;
    Ok(see_other(&format!("/backfills/{}", url(&id))))
}

async fn login_form() -> Response {
    html(StatusCode::OK, pages::login_page(None).render(&Frame::new("Sign in", "")))
}

async fn login(State(s): State<AppState>, Form(form): Form<HashMap<String, String>>) -> Response {
    let given = form.get("token").map(|t| t.trim()).unwrap_or("");
    match &s.token {
        Some(token) if token_matches(given, token) => {
            let cookie = format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", session_value(token));
            let mut r = see_other("/");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Some(_) => html(StatusCode::UNAUTHORIZED, pages::login_page(Some("That is not this server's token.")).render(&Frame::new("Sign in", ""))),
        None => see_other("/"),
    }
}
