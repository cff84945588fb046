//! A read-only [Jupyter Contents API] over the output notebooks of runs, so
//! JupyterLab drives, nbviewer-style tools and scripts using a Jupyter client
//! library can list, open and download them where they are (the data dir or the
//! artifact store), without copying them.
//!
//! The tree, every level a directory until the notebooks:
//!
//! ```text
//! /                                   one directory per registered workflow
//! <workflow>/                         one per logical date of its runs (YYYY-MM-DD)
//! <workflow>/<date>/                  one per run id
//! <workflow>/<date>/<run>/            one notebook per node attempt:
//!     <node>.<attempt>.ipynb          a plain node (the artifact's own file name)
//!     <node>.<i>.<attempt>.ipynb      instance i (0-based) of a foreach node
//! ```
//!
//! Routes: `GET /api/contents[/<path>]` (the contents model: `content=0|1`, `type`,
//! `format=text|base64`, `hash=0|1`), `GET /api/contents/<notebook>/checkpoints`
//! (always none), `GET /files/<notebook>` (the raw bytes; `?download=1` makes it an
//! attachment), and `GET /api` and `/api/status` for clients that ask what they
//! talk to. Any other method is 405: nothing here is written. Errors are Jupyter's
//! `{"message", "reason"}`, except a storage failure, which is the server's own
//! [`HttpError`] (503).
//!
//! Jupyter's API has no paging, so a listing holds at most [`MAX_ENTRIES`] entries,
//! the most recently active first; a workflow's dates are those of its newest
//! [`SCAN_RUNS`] runs. Anything left out is still served by its path.
//!
//! [Jupyter Contents API]: https://jupyter-server.readthedocs.io/en/latest/developers/contents.html

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use deckle_protocol::record::RunRecord;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{AppState, HttpError};
use crate::coordinator::Coordinator;
use crate::error::Error;
use crate::store::RunQuery;

/// The most entries one directory listing holds.
pub const MAX_ENTRIES: usize = 1000;

/// How many of a workflow's newest runs its directory of dates is made from.
pub const SCAN_RUNS: usize = 10_000;

/// Runs read per page while scanning.
const PAGE: usize = 1000;

/// The media type of a notebook file.
const IPYNB: &str = "application/x-ipynb+json";

/// When this process started serving (`/api/status`).
static STARTED: OnceLock<Timestamp> = OnceLock::new();

/// The routes, outside `/api/v1`.
pub(super) fn routes() -> Router<AppState> {
    STARTED.get_or_init(Timestamp::now);
    Router::new()
        .route("/api", get(version).fallback(read_only))
        .route("/api/", get(version).fallback(read_only))
        .route("/api/status", get(status).fallback(read_only))
        .route("/api/contents", get(root).fallback(read_only))
        .route("/api/contents/", get(root).fallback(read_only))
        .route("/api/contents/{*path}", get(contents).fallback(read_only))
        .route("/files/{*path}", get(files).fallback(read_only))
}

/// A refusal in Jupyter's shape, or a failure of the server's own kind.
enum Fail {
    Jupyter { status: StatusCode, message: String, reason: &'static str },
    Http(HttpError),
}

impl Fail {
    fn not_found(path: &str) -> Self {
        Fail::Jupyter { status: StatusCode::NOT_FOUND, message: format!("file or directory {path:?} does not exist"), reason: "Not Found" }
    }

    fn bad(message: String, reason: &'static str) -> Self {
        Fail::Jupyter { status: StatusCode::BAD_REQUEST, message, reason }
    }

    /// A domain error met while answering for `path`: whatever is not there is this
    /// path not existing.
    fn of(path: &str, e: Error) -> Self {
        match e {
            Error::NotFound(_) => Fail::not_found(path),
            e => Fail::Http(e.into()),
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        match self {
            Fail::Jupyter { status, message, reason } => (status, Json(json!({ "message": message, "reason": reason }))).into_response(),
            Fail::Http(e) => e.into_response(),
        }
    }
}

type Answer = std::result::Result<Response, Fail>;

/// Every method but GET (and HEAD): nothing here is written.
async fn read_only() -> Response {
    let body = json!({
        "message": "Deckle's Jupyter Contents API is read-only: output notebooks are written by their runs, never through this API",
        "reason": "Method Not Allowed",
    });
    let mut r = (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response();
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// `GET /api`: what Jupyter's own server answers there, its version.
async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION"), "server": "deckle" }))
}

/// `GET /api/status`: Jupyter's status model; Deckle runs no kernels of its own.
async fn status() -> Json<Value> {
    let started = STARTED.get().copied().unwrap_or_else(Timestamp::now);
    Json(json!({ "started": iso(&started), "last_activity": iso(&Timestamp::now()), "kernels": 0, "connections": 0 }))
}

/// A timestamp as Jupyter writes them: UTC, microseconds, `Z`.
fn iso(t: &Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The query parameters of a contents GET, checked as Jupyter checks them.
struct Want {
    content: bool,
    /// `directory`, `notebook` or `file`; an unknown type is `file`, as in Jupyter.
    kind: Option<&'static str>,
    format: Option<&'static str>,
    hash: bool,
}

impl Want {
    fn of(q: &HashMap<String, String>) -> Result<Want, Fail> {
        let flag = |name: &str, default: bool| match q.get(name).map(String::as_str) {
            None => Ok(default),
            Some("0") => Ok(false),
            Some("1") => Ok(true),
            Some(v) => Err(Fail::bad(format!("{name} {v:?} is invalid; it must be 0 or 1"), "Bad Request")),
        };
        let kind = q.get("type").map(|t| match t.as_str() {
            "directory" => "directory",
            "notebook" => "notebook",
            _ => "file",
        });
        let format = match q.get("format").map(String::as_str) {
            None => None,
            Some("text") => Some("text"),
            Some("base64") => Some("base64"),
            Some(f) => return Err(Fail::bad(format!("format {f:?} is invalid; it must be text or base64"), "Bad Request")),
        };
        Ok(Want { content: flag("content", true)?, kind, format, hash: flag("hash", false)? })
    }
}

/// A contents model (Jupyter's `name`, `path`, `type`, … for one entry).
#[derive(Serialize)]
struct Model {
    name: String,
    path: String,
    #[serde(rename = "type")]
    kind: &'static str,
    writable: bool,
    created: String,
    last_modified: String,
    mimetype: Option<&'static str>,
    content: Option<Value>,
    format: Option<&'static str>,
    size: Option<usize>,
    hash: Option<String>,
    hash_algorithm: Option<&'static str>,
}

impl Model {
    /// An entry without content: a directory, or a notebook (by its name).
    fn entry(path: String, created: &Timestamp, modified: &Timestamp) -> Model {
        let name = path.rsplit('/').next().unwrap_or_default().to_string();
        let kind = if name.ends_with(".ipynb") { "notebook" } else { "directory" };
        Model {
            name,
            path,
            kind,
            writable: false,
            created: iso(created),
            last_modified: iso(modified),
            mimetype: None,
            content: None,
            format: None,
            size: None,
            hash: None,
            hash_algorithm: None,
        }
    }
}

/// A directory's entries, each with when it was created and last changed.
struct Listing {
    entries: Vec<(String, Timestamp, Timestamp)>,
}

impl Listing {
    /// The most recently changed [`MAX_ENTRIES`], newest first.
    fn bounded(mut entries: Vec<(String, Timestamp, Timestamp)>) -> Listing {
        entries.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        entries.truncate(MAX_ENTRIES);
        Listing { entries }
    }

    /// Its own times: the oldest creation and the latest change among its entries.
    fn times(&self) -> (Timestamp, Timestamp) {
        let created = self.entries.iter().map(|e| e.1).min().unwrap_or(Timestamp::UNIX_EPOCH);
        let modified = self.entries.iter().map(|e| e.2).max().unwrap_or(Timestamp::UNIX_EPOCH);
        (created, modified)
    }
}

/// Where a path points.
enum Place {
    Root,
    Workflow(String),
    Date(String, String),
    Run(String, String, String),
    Notebook { workflow: String, date: String, run: String, key: String, attempt: u32 },
}

/// The path's segments: no `.` or `..` (nothing here is reached by climbing).
fn segments(path: &str) -> Result<Vec<&str>, Fail> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.iter().any(|s| *s == "." || *s == "..") {
        return Err(Fail::Jupyter {
            status: StatusCode::NOT_FOUND,
            message: format!("file or directory {path:?} does not exist (paths are relative to the root and may not contain `.` or `..`)"),
            reason: "Not Found",
        });
    }
    Ok(segs)
}

/// `node.N.ipynb` → (`node`, N); `node.i.N.ipynb` → (`node.i`, N). Only the
/// names the run directory lists: `count.01.ipynb` is not attempt 1.
fn notebook_name(name: &str) -> Option<(String, u32)> {
    let (key, n) = name.strip_suffix(".ipynb")?.rsplit_once('.')?;
    let attempt: u32 = n.parse().ok()?;
    (attempt.to_string() == n && !key.is_empty()).then(|| (key.to_string(), attempt))
}

fn place(path: &str) -> Result<Place, Fail> {
    let segs = segments(path)?;
    let s = |i: usize| segs[i].to_string();
    Ok(match segs.len() {
        0 => Place::Root,
        1 => Place::Workflow(s(0)),
        2 => Place::Date(s(0), s(1)),
        3 => Place::Run(s(0), s(1), s(2)),
        4 => {
            let (key, attempt) = notebook_name(segs[3]).ok_or_else(|| Fail::not_found(path))?;
            Place::Notebook { workflow: s(0), date: s(1), run: s(2), key, attempt }
        }
        _ => return Err(Fail::not_found(path)),
    })
}

/// The normalised path (no leading, trailing or doubled slashes).
fn clean(path: &str) -> String {
    path.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/")
}

/// Since when a run changed last: its end, or the start of its latest attempt.
fn run_modified(r: &RunRecord) -> Timestamp {
    r.ended_at.or_else(|| r.attempts_started_at.last().copied()).unwrap_or(r.started_at)
}

/// Read the state store off the async threads (a workflow's dates read many runs).
async fn blocking<T: Send + 'static>(c: &Arc<Coordinator>, path: &str, f: impl FnOnce(&Coordinator) -> crate::error::Result<T> + Send + 'static) -> Result<T, Fail> {
    let c = c.clone();
    match tokio::task::spawn_blocking(move || f(&c)).await {
        Ok(r) => r.map_err(|e| Fail::of(path, e)),
        Err(e) => Err(Fail::Http(Error::Store(format!("reading the contents of {path:?}: {e}")).into())),
    }
}

/// The workflows: registered ones, each with its latest registration or run.
fn list_root(c: &Coordinator) -> crate::error::Result<Listing> {
    let mut entries = Vec::new();
    for e in c.registry.entries()? {
        let (created, modified) = workflow_times(c, &e.id, Some(&e))?.unwrap_or((Timestamp::UNIX_EPOCH, Timestamp::UNIX_EPOCH));
        entries.push((e.id, created, modified));
    }
    Ok(Listing::bounded(entries))
}

/// A workflow's times (first registration or run; latest registration or run
/// activity), or `None` when it is neither registered nor has runs.
fn workflow_times(c: &Coordinator, id: &str, entry: Option<&crate::store::WorkflowEntry>) -> crate::error::Result<Option<(Timestamp, Timestamp)>> {
    let owned;
    let entry = match entry {
        Some(e) => Some(e),
        None => {
            owned = c.store().get_workflow(id)?;
            owned.as_ref()
        }
    };
    let latest = c.runs(&RunQuery::of_workflow(id, 1))?.into_iter().next();
    let registered = entry.map(|e| (e.versions.first().map(|v| v.registered_at), e.versions.last().map(|v| v.registered_at)));
    if registered.is_none() && latest.is_none() {
        return Ok(None);
    }
    let (first, last) = registered.unwrap_or((None, None));
    let created = first.or(latest.as_ref().map(|r| r.started_at)).unwrap_or(Timestamp::UNIX_EPOCH);
    let modified = [last, latest.as_ref().map(run_modified)].into_iter().flatten().max().unwrap_or(created);
    Ok(Some((created, modified)))
}

/// A workflow's logical dates, from its newest [`SCAN_RUNS`] runs.
fn list_dates(c: &Coordinator, workflow: &str) -> crate::error::Result<Listing> {
    let mut dates: BTreeMap<String, (Timestamp, Timestamp)> = BTreeMap::new();
    let mut before: Option<String> = None;
    let mut seen = 0;
    loop {
        let page = c.runs(&RunQuery { before: before.clone(), ..RunQuery::of_workflow(workflow, PAGE) })?;
        for r in &page {
            let t = dates.entry(r.date.clone()).or_insert((r.started_at, run_modified(r)));
            t.0 = t.0.min(r.started_at);
            t.1 = t.1.max(run_modified(r));
        }
        seen += page.len();
        if page.len() < PAGE || seen >= SCAN_RUNS {
            break;
        }
        before = page.last().map(|r| r.id.clone());
    }
    // Newest date first, whatever order the runs were made in (a backfill makes
    // old dates late).
    let mut entries: Vec<_> = dates.into_iter().rev().map(|(d, (c, m))| (d, c, m)).collect();
    entries.truncate(MAX_ENTRIES);
    Ok(Listing { entries })
}

/// The runs of a workflow on a date, newest first.
fn list_runs(c: &Coordinator, workflow: &str, date: &str) -> crate::error::Result<Listing> {
    let q = RunQuery { date: Some(date.to_string()), ..RunQuery::of_workflow(workflow, MAX_ENTRIES) };
    Ok(Listing { entries: c.runs(&q)?.iter().map(|r| (r.id.clone(), r.started_at, run_modified(r))).collect() })
}

/// The run `id`, when it is the one this path names.
fn run_at(c: &Coordinator, workflow: &str, date: &str, id: &str) -> crate::error::Result<RunRecord> {
    let r = c.run(id)?;
    if r.workflow != workflow || r.date != date {
        return Err(Error::NotFound(format!("run {id} of {workflow} on {date}")));
    }
    Ok(r)
}

/// The notebooks of a run: every attempt that has (or will have) one.
fn list_notebooks(c: &Coordinator, workflow: &str, date: &str, id: &str) -> crate::error::Result<(RunRecord, Listing)> {
    run_at(c, workflow, date, id)?;
    let detail = c.run_detail(id)?;
    let mut entries = Vec::new();
    for n in &detail.nodes {
        for a in n.attempts.iter().filter(|a| a.notebook.is_some()) {
            entries.push((format!("{}.{}.ipynb", n.key(), a.n), a.started_at, a.ended_at.unwrap_or(a.started_at)));
        }
    }
    Ok((detail.run, Listing::bounded(entries)))
}

/// A directory's model, with its listing as content when asked.
fn directory(path: &str, own: Option<(Timestamp, Timestamp)>, listing: Option<Listing>, want: &Want) -> Answer {
    if let Some(k) = want.kind.filter(|k| *k != "directory") {
        return Err(Fail::bad(format!("{path:?} is a directory, not a {k}"), "bad type"));
    }
    let (created, modified) = match (own, &listing) {
        (Some(t), _) => t,
        (None, Some(l)) => l.times(),
        (None, None) => (Timestamp::UNIX_EPOCH, Timestamp::UNIX_EPOCH),
    };
    let mut m = Model::entry(path.to_string(), &created, &modified);
    m.kind = "directory";
    if let Some(l) = listing.filter(|_| want.content) {
        let child = |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}/{name}") };
        let items: Vec<Model> = l.entries.iter().map(|(name, c, m)| Model::entry(child(name), c, m)).collect();
        m.content = Some(serde_json::to_value(items).unwrap_or(Value::Null));
        m.format = Some("json");
    }
    Ok(Json(m).into_response())
}

async fn root(State(s): State<AppState>, q: Result<Query<HashMap<String, String>>, QueryRejection>) -> Answer {
    let want = want(q)?;
    answer(&s.c, "", &want).await
}

async fn contents(State(s): State<AppState>, path: Result<Path<String>, PathRejection>, q: Result<Query<HashMap<String, String>>, QueryRejection>) -> Answer {
    let Path(path) = path.map_err(|_| Fail::not_found("(not UTF-8)"))?;
    let want = want(q)?;
    // Jupyter's checkpoints of a file: there are none, and none can be made.
    if let Some(nb) = path.trim_end_matches('/').strip_suffix("/checkpoints").filter(|p| p.ends_with(".ipynb")) {
        let nb = clean(nb);
        let Place::Notebook { workflow, date, run, key, attempt } = place(&nb)? else {
            return Err(Fail::not_found(&nb));
        };
        let found = blocking(&s.c, &nb, move |c| {
            run_at(c, &workflow, &date, &run)?;
            c.notebook(&run, &key, Some(attempt)).map(|_| ())
        });
        found.await?;
        return Ok(Json(json!([])).into_response());
    }
    answer(&s.c, &path, &want).await
}

fn want(q: Result<Query<HashMap<String, String>>, QueryRejection>) -> Result<Want, Fail> {
    let Query(q) = q.map_err(|e| Fail::bad(format!("the query string is invalid: {e}"), "Bad Request"))?;
    Want::of(&q)
}

async fn answer(c: &Arc<Coordinator>, raw: &str, want: &Want) -> Answer {
    let place = place(raw)?;
    let path = clean(raw);
    let p = path.clone();
    let content = want.content;
    match place {
        Place::Root => {
            let l = blocking(c, &path, list_root).await?;
            directory(&path, None, Some(l), want)
        }
        Place::Workflow(wf) => {
            let (own, l) = blocking(c, &path, move |c| {
                let own = workflow_times(c, &wf, None)?.ok_or(Error::NotFound(p))?;
                let l = if content { Some(list_dates(c, &wf)?) } else { None };
                Ok((own, l))
            })
            .await?;
            directory(&path, Some(own), l, want)
        }
        Place::Date(wf, date) => {
            let l = blocking(c, &path, move |c| list_runs(c, &wf, &date)).await?;
            if l.entries.is_empty() {
                return Err(Fail::not_found(&path));
            }
            directory(&path, None, Some(l), want)
        }
        Place::Run(wf, date, run) => {
            let (r, l) = blocking(c, &path, move |c| list_notebooks(c, &wf, &date, &run)).await?;
            directory(&path, Some((r.started_at, run_modified(&r))), Some(l), want)
        }
        Place::Notebook { workflow, date, run, key, attempt } => {
            if want.kind == Some("directory") {
                return Err(Fail::bad(format!("{path:?} is not a directory"), "bad type"));
            }
            let (bytes, created, modified) = read_notebook(c, &path, workflow, date, run, key, attempt).await?;
            notebook(&path, bytes, &created, &modified, want)
        }
    }
}

/// An attempt's notebook, with when the attempt started and last changed.
async fn read_notebook(c: &Arc<Coordinator>, path: &str, workflow: String, date: String, run: String, key: String, attempt: u32) -> Result<(Vec<u8>, Timestamp, Timestamp), Fail> {
    let (r, k) = (run.clone(), key.clone());
    let times = blocking(c, path, move |c| {
        run_at(c, &workflow, &date, &r)?;
        let detail = c.run_detail(&r)?;
        let a = detail.nodes.iter().filter(|n| n.key() == k).flat_map(|n| n.attempts.iter()).find(|a| a.n == attempt);
        a.map(|a| (a.started_at, a.ended_at.unwrap_or(a.started_at))).ok_or_else(|| Error::NotFound(format!("attempt {attempt} of {k}")))
    })
    .await?;
    let (_, bytes, _) = c.notebook_bytes(&run, &key, Some(attempt)).await.map_err(|e| Fail::of(path, e))?;
    Ok((bytes, times.0, times.1))
}

/// A notebook's model: as a notebook (its JSON as content), or as a file when
/// `type=file` asks for it (text or base64).
fn notebook(path: &str, bytes: Vec<u8>, created: &Timestamp, modified: &Timestamp, want: &Want) -> Answer {
    let mut m = Model::entry(path.to_string(), created, modified);
    m.size = Some(bytes.len());
    if want.hash {
        m.hash = Some(hex::encode(Sha256::digest(&bytes)));
        m.hash_algorithm = Some("sha256");
    }
    if want.kind == Some("file") {
        m.kind = "file";
        let text = if want.format == Some("base64") { None } else { std::str::from_utf8(&bytes).ok() };
        if want.format == Some("text") && text.is_none() {
            return Err(Fail::bad(format!("{path:?} is not UTF-8 text"), "bad format"));
        }
        m.mimetype = Some(if text.is_some() { "text/plain" } else { "application/octet-stream" });
        if want.content {
            let (content, format) = match text {
                Some(t) => (Value::String(t.to_string()), "text"),
                None => (Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)), "base64"),
            };
            m.content = Some(content);
            m.format = Some(format);
        }
    } else if want.content {
        let nb: Value = serde_json::from_slice(&bytes).map_err(|e| Fail::bad(format!("unreadable notebook {path:?}: {e}"), "bad format"))?;
        m.content = Some(nb);
        m.format = Some("json");
    }
    Ok(Json(m).into_response())
}

/// `GET /files/<notebook>`: its bytes, as saved.
async fn files(State(s): State<AppState>, path: Result<Path<String>, PathRejection>, q: Result<Query<HashMap<String, String>>, QueryRejection>) -> Answer {
    let Path(raw) = path.map_err(|_| Fail::not_found("(not UTF-8)"))?;
    let Query(q) = q.map_err(|e| Fail::bad(format!("the query string is invalid: {e}"), "Bad Request"))?;
    let path = clean(&raw);
    let Place::Notebook { workflow, date, run, key, attempt } = place(&raw)? else {
        // A directory (or nothing): /files serves files only.
        return Err(Fail::not_found(&path));
    };
    let (bytes, _, _) = read_notebook(&s.c, &path, workflow, date, run, key, attempt).await?;
    let name = path.rsplit('/').next().unwrap_or("notebook.ipynb");
    let download = q.get("download").is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    let disposition = format!("{}; filename=\"{name}\"", if download { "attachment" } else { "inline" });
    Ok(([(header::CONTENT_TYPE, IPYNB.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_names_are_the_listed_ones_only() {
        assert_eq!(notebook_name("count.1.ipynb"), Some(("count".into(), 1)));
        assert_eq!(notebook_name("per_region.2.3.ipynb"), Some(("per_region.2".into(), 3)));
        assert_eq!(notebook_name("count.01.ipynb"), None);
        assert_eq!(notebook_name("count.ipynb"), None);
        assert_eq!(notebook_name(".1.ipynb"), None);
        assert_eq!(notebook_name("count.1.txt"), None);
    }

    #[test]
    fn paths_may_not_climb() {
        assert!(matches!(place("a/../b"), Err(Fail::Jupyter { status: StatusCode::NOT_FOUND, .. })));
        assert!(matches!(place("./a"), Err(Fail::Jupyter { status: StatusCode::NOT_FOUND, .. })));
        assert!(matches!(place("a/b/c/d/e"), Err(Fail::Jupyter { status: StatusCode::NOT_FOUND, .. })));
        assert!(matches!(place("//wf//2026-01-01/"), Ok(Place::Date(w, d)) if w == "wf" && d == "2026-01-01"));
        assert_eq!(clean("/wf//2026-01-01/"), "wf/2026-01-01");
    }

    #[test]
    fn timestamps_are_written_as_jupyter_writes_them() {
        let t: Timestamp = "2026-01-02T03:04:05.123456789Z".parse().unwrap();
        assert_eq!(iso(&t), "2026-01-02T03:04:05.123456Z");
        assert_eq!(iso(&Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn query_parameters_are_checked_as_jupyter_checks_them() {
        let q = |pairs: &[(&str, &str)]| Want::of(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let w = q(&[]).ok().unwrap();
        assert!(w.content && !w.hash && w.kind.is_none() && w.format.is_none());
        let w = q(&[("content", "0"), ("type", "whatever"), ("format", "base64"), ("hash", "1")]).ok().unwrap();
        assert!(!w.content && w.hash && w.kind == Some("file") && w.format == Some("base64"));
        assert!(q(&[("content", "2")]).is_err());
        assert!(q(&[("format", "json")]).is_err());
        assert!(q(&[("hash", "yes")]).is_err());
    }
}
