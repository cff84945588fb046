//! The JSON API under `/api/v1`, its OpenAPI document (utoipa) and `/metrics`.
//! Every error is an [`ApiError`] body; the status comes from [`super::error`], the
//! one place errors meet HTTP.
//!
//! The document lists every status a route can answer: each handler's own below,
//! and those of the layers around every handler (auth, the body limit, the
//! extractors) added by [`Refusals`]. The API fuzz test holds it to that.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use deckle_protocol::api::{
    ApiError, Backfill, Health, OutputPoint, OutputSeries, PauseState, HealthStatus, StorageStatus, BackfillDate, CreateBackfill, HeartbeatReply, ScheduleState, Lease, LeaseRequest, NodeLog, NodeSummary, ParamSummary, RegisterWorkflow, Rerun, RunDetail, TriggerRun,
    WorkflowDetail, WorkflowSummary, WorkflowVersion,
};
use deckle_protocol::compare::{CellPair, Comparison, DiffLine, Side, ValuePair};
use deckle_protocol::event::{EventKind, EventRecord, Firing, FiringState, PostSignal, SignalAccepted, TriggerState};
use deckle_protocol::record::{RunRecord, RunStatus};
use deckle_protocol::task::{TaskResult, TaskStatus};
use serde::Deserialize;
use utoipa::OpenApi;

use super::extract::{ApiBytes, ApiJson, ApiPath, ApiQuery};
use super::{AppState, HttpError};
use crate::error::Error;
use crate::store::RunQuery;

type ApiResult<T> = std::result::Result<T, HttpError>;

/// The routes below `/api/v1`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/workflows", get(list_workflows).post(register_workflow))
        .route("/workflows/{id}", get(get_workflow))
        .route("/workflows/{id}/runs", post(trigger_run))
        .route("/workflows/{id}/pause", post(pause))
        .route("/workflows/{id}/unpause", post(unpause))
        .route("/workflows/{id}/backfills", post(create_backfill))
        .route("/workflows/{id}/outputs", get(get_outputs))
        .route("/backfills", get(list_backfills))
        .route("/backfills/{id}", get(get_backfill))
        .route("/backfills/{id}/cancel", post(cancel_backfill))
        .route("/runs", get(list_runs))
        .route("/runs/{run}", get(get_run))
        .route("/runs/{run}/nodes/{node}/attempts/{n}/notebook", get(get_notebook))
        .route("/runs/{run}/nodes/{node}/log", get(get_log))
        .route("/runs/{run}/cancel", post(cancel_run))
        .route("/runs/{run}/rerun", post(rerun_run))
        .route("/blobs/{hash}", get(get_blob))
        .route("/leases", post(take_leases))
        .route("/leases/{id}/heartbeat", post(heartbeat))
        .route("/leases/{id}/notebook", put(upload_notebook))
        .route("/leases/{id}/complete", post(complete))
        .route("/diff", get(get_diff))
        .route("/signals/{name}", post(post_signal))
        .route("/events", get(list_events))
        .route("/events/{id}", get(get_event))
        .route("/openapi.json", get(openapi))
}

#[utoipa::path(post, path = "/api/v1/workflows", request_body = RegisterWorkflow,
    responses((status = 201, body = WorkflowVersion), (status = 400, description = "a file name or path is not a plain relative path, or a notebook is too large", body = ApiError),
        (status = 422, description = "the workflow is invalid: every problem in `details`", body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn register_workflow(State(s): State<AppState>, ApiJson(req): ApiJson<RegisterWorkflow>) -> ApiResult<(StatusCode, Json<WorkflowVersion>)> {
    s.c.health.check()?;
    Ok((StatusCode::CREATED, Json(s.c.register(&req).await?)))
}

#[utoipa::path(get, path = "/api/v1/health",
    responses((status = 200, body = Health), (status = 503, description = "the data dir cannot be written; no new work is taken", body = Health)))]
async fn health(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    let triggers = s.c.trigger_problems().unwrap_or_default();
    match s.c.health.fault() {
        None => (StatusCode::OK, Json(Health { status: HealthStatus::Ok, storage: StorageStatus { ok: true, error: None, since: None }, coordinator: s.c.role.status(), triggers: triggers.clone() })),
        Some(f) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health { status: HealthStatus::Degraded, storage: StorageStatus { ok: false, error: Some(f.message), since: Some(f.since) }, coordinator: s.c.role.status(), triggers: triggers.clone() }),
        ),
    }
}

#[utoipa::path(get, path = "/api/v1/workflows",
    responses((status = 200, body = Vec<WorkflowSummary>), (status = 422, description = NO_LONGER_LOADS, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn list_workflows(State(s): State<AppState>) -> ApiResult<Json<Vec<WorkflowSummary>>> {
    Ok(Json(s.c.workflow_summaries()?))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}", params(("id" = String, Path)),
    responses((status = 200, body = WorkflowDetail), (status = 404, body = ApiError), (status = 422, description = NO_LONGER_LOADS, body = ApiError),
        (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_workflow(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<WorkflowDetail>> {
    Ok(Json(s.c.workflow_detail(&id)?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/pause", params(("id" = String, Path)),
    responses((status = 200, body = PauseState), (status = 404, body = ApiError), (status = 409, description = "the workflow has no schedule and no triggers", body = ApiError),
        (status = 422, description = NO_LONGER_LOADS, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn pause(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<PauseState>> {
    Ok(Json(s.c.set_paused(&id, true).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/unpause", params(("id" = String, Path)),
    responses((status = 200, body = PauseState), (status = 404, body = ApiError), (status = 409, description = "the workflow has no schedule and no triggers", body = ApiError),
        (status = 422, description = NO_LONGER_LOADS, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn unpause(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<PauseState>> {
    Ok(Json(s.c.set_paused(&id, false).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/backfills", params(("id" = String, Path)), request_body = CreateBackfill,
    responses((status = 201, body = Backfill), (status = 200, description = "a dry run: the plan", body = Backfill),
        (status = 400, description = "a date, `every` or a param the workflow refuses; more than 10,000 dates", body = ApiError), (status = 404, body = ApiError),
        (status = 422, description = NO_LONGER_LOADS, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn create_backfill(State(s): State<AppState>, ApiPath(id): ApiPath<String>, ApiJson(req): ApiJson<CreateBackfill>) -> ApiResult<(StatusCode, Json<Backfill>)> {
    let status = if req.dry_run { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(s.c.create_backfill(&id, &req).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BackfillsQuery {
    /// Only this workflow's backfills.
    workflow: Option<String>,
    /// The cursor: backfills created before this one (the `X-Next-Cursor` of the previous page).
    before: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/backfills", params(BackfillsQuery),
    responses((status = 200, body = Vec<Backfill>, description = "newest first; `X-Next-Cursor` (and a `Link` with `rel=\"next\"`) when there are more",
        headers(("X-Next-Cursor" = String, description = "pass as `before` for the next page"))),
        (status = 400, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn list_backfills(State(s): State<AppState>, ApiQuery(q): ApiQuery<BackfillsQuery>) -> ApiResult<Response> {
    let limit = page_limit(q.limit)?;
    let list = s.c.backfills(q.workflow.as_deref(), q.before.as_deref(), limit)?;
    let next = list.last().filter(|_| list.len() == limit).map(|b| b.id.clone());
    let filters: Vec<(&str, String)> = q.workflow.iter().map(|w| ("workflow", w.clone())).collect();
    Ok(paged(Json(&list).into_response(), "/api/v1/backfills", next, limit, &filters))
}

/// `limit`, checked: default 100, at most [`MAX_PAGE`].
fn page_limit(limit: Option<usize>) -> Result<usize, HttpError> {
    match limit.unwrap_or(100) {
        n @ 1..=MAX_PAGE => Ok(n),
        n => Err(Error::Input(format!("limit {n}: expected 1 to {MAX_PAGE}")).into()),
    }
}

/// A page's answer with `X-Next-Cursor` and a `Link` to the next page, when `next`.
fn paged(mut resp: Response, path: &str, next: Option<String>, limit: usize, filters: &[(&str, String)]) -> Response {
    let Some(cursor) = next else { return resp };
    let mut qs: Vec<String> = vec![format!("before={}", crate::http::ui::escape::url(&cursor)), format!("limit={limit}")];
    qs.extend(filters.iter().map(|(k, v)| format!("{k}={}", crate::http::ui::escape::url(v))));
    if let (Ok(c), Ok(link)) = (header::HeaderValue::from_str(&cursor), header::HeaderValue::from_str(&format!("<{path}?{}>; rel=\"next\"", qs.join("&")))) {
        resp.headers_mut().insert("x-next-cursor", c);
        resp.headers_mut().insert(header::LINK, link);
    }
    resp
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct OutputsQuery {
    /// The node whose outputs to read.
    node: String,
    /// Only this output.
    name: Option<String>,
    /// Logical dates from (inclusive).
    #[param(format = Date)]
    from: Option<String>,
    /// Logical dates to (inclusive).
    #[param(format = Date)]
    to: Option<String>,
    /// At most this many runs, the newest in range (default 1000, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/outputs", params(("id" = String, Path), OutputsQuery),
    responses((status = 200, body = OutputSeries, description = "one point per run in range, oldest logical time first"),
        (status = 400, description = "a bad date or limit", body = ApiError), (status = 404, description = "no such workflow, or no version has the node", body = ApiError),
        (status = 422, description = NO_LONGER_LOADS, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_outputs(State(s): State<AppState>, ApiPath(id): ApiPath<String>, ApiQuery(q): ApiQuery<OutputsQuery>) -> ApiResult<Json<OutputSeries>> {
    let limit = page_limit(Some(q.limit.unwrap_or(MAX_PAGE)))?;
    let oq = crate::trends::OutputQuery { node: q.node, name: q.name, from: q.from, to: q.to, limit };
    Ok(Json(s.c.output_series(&id, &oq)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DiffQuery {
    /// The attempt compared: `RUN`, `RUN/NODE` or `RUN/NODE/ATTEMPT`.
    #[param(pattern = "^[^/]+(/[^/]+(/[0-9]{1,9})?)?$")]
    a: String,
    /// What it is compared with (same forms; its node defaults to A's); default the
    /// node's last success.
    #[param(pattern = "^[^/]+(/[^/]+(/[0-9]{1,9})?)?$")]
    b: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/diff", params(DiffQuery),
    responses((status = 200, body = Comparison), (status = 400, description = "a reference that is not RUN[/NODE[/ATTEMPT]], or a run with several nodes and none named", body = ApiError),
        (status = 404, description = "no such run, node, attempt or notebook; no earlier success to compare with", body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_diff(State(s): State<AppState>, ApiQuery(q): ApiQuery<DiffQuery>) -> ApiResult<Json<Comparison>> {
    Ok(Json(s.c.compare(&q.a, q.b.as_deref()).await?))
}

/// A signal's body, at most (its params are matched and copied into runs, not stored
/// data).
const MAX_SIGNAL_BODY: usize = 64 * 1024;

#[utoipa::path(post, path = "/api/v1/signals/{name}", params(("name" = String, Path, pattern = "^[A-Za-z0-9_.-]{1,128}$")), request_body = PostSignal,
    responses((status = 202, description = "stored before this reply; the runs it started (or holds for a paused workflow)", body = SignalAccepted),
        (status = 200, description = "a key already seen: the first event, nothing new started", body = SignalAccepted),
        (status = 400, description = "a bad name, key, date, or a body that is not the JSON object described", body = ApiError),
        (status = 413, description = "a body over 64 KiB", body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn post_signal(State(s): State<AppState>, ApiPath(name): ApiPath<String>, ApiBytes(body): ApiBytes) -> ApiResult<(StatusCode, Json<SignalAccepted>)> {
    if body.len() > MAX_SIGNAL_BODY {
        return Err(HttpError::TooLarge(format!("a signal's body is {} bytes; at most {MAX_SIGNAL_BODY}", body.len())));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Input("the signal's body is empty; send a JSON object, `{}` at least".into()).into());
    }
    let req: PostSignal = serde_json::from_slice(&body).map_err(|e| Error::Input(format!("the signal's body is not a JSON object {{params, key, date}}: {e}")))?;
    let accepted = s.c.signal(&name, &req).await?;
    let status = if accepted.duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(accepted)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Only events of this kind: `signal`, `workflow` or `files`.
    kind: Option<EventKind>,
    /// Only events of this name (a signal's name, an upstream workflow, a file's path).
    name: Option<String>,
    /// The cursor: events received before this one.
    before: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/events", params(EventsQuery),
    responses((status = 200, body = Vec<EventRecord>, description = "newest first; `X-Next-Cursor` when there are more",
        headers(("X-Next-Cursor" = String, description = "pass as `before` for the next page"))),
        (status = 400, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn list_events(State(s): State<AppState>, ApiQuery(q): ApiQuery<EventsQuery>) -> ApiResult<Response> {
    let limit = page_limit(q.limit)?;
    let list = s.c.events(q.kind, q.name.as_deref(), q.before.as_deref(), limit)?;
    let next = list.last().filter(|_| list.len() == limit).map(|e| e.id.clone());
    let mut filters: Vec<(&str, String)> = q.name.iter().map(|n| ("name", n.clone())).collect();
    filters.extend(q.kind.map(|k| ("kind", k.as_str().to_string())));
    Ok(paged(Json(&list).into_response(), "/api/v1/events", next, limit, &filters))
}

#[utoipa::path(get, path = "/api/v1/events/{id}", params(("id" = String, Path)),
    responses((status = 200, body = EventRecord), (status = 404, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_event(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<EventRecord>> {
    Ok(Json(s.c.event(&id)?))
}

#[utoipa::path(get, path = "/api/v1/backfills/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Backfill), (status = 404, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_backfill(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Backfill>> {
    Ok(Json(s.c.backfill(&id)?))
}

#[utoipa::path(post, path = "/api/v1/backfills/{id}/cancel", params(("id" = String, Path)),
    responses((status = 200, body = Backfill), (status = 404, body = ApiError), (status = 409, description = "the backfill is not running", body = ApiError),
        (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn cancel_backfill(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Backfill>> {
    Ok(Json(s.c.cancel_backfill(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/runs", params(("id" = String, Path)), request_body = TriggerRun,
    responses((status = 201, body = RunRecord), (status = 400, description = "a param the workflow does not declare or whose value is not of its type; a bad date", body = ApiError),
        (status = 404, description = "no such workflow or version", body = ApiError), (status = 422, description = NO_LONGER_LOADS, body = ApiError),
        (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn trigger_run(State(s): State<AppState>, ApiPath(id): ApiPath<String>, ApiJson(req): ApiJson<TriggerRun>) -> ApiResult<(StatusCode, Json<RunRecord>)> {
    Ok((StatusCode::CREATED, Json(s.c.trigger(&id, &req).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RunsQuery {
    /// Only this workflow's runs.
    workflow: Option<String>,
    /// Only runs in this status.
    status: Option<RunStatus>,
    /// Only runs of this logical date (`YYYY-MM-DD`).
    date: Option<String>,
    /// The cursor: runs older than this run id (the `X-Next-Cursor` of the previous page).
    before: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// The largest page of a listing.
const MAX_PAGE: usize = 1000;

#[utoipa::path(get, path = "/api/v1/runs", params(RunsQuery),
    responses((status = 200, body = Vec<RunRecord>, description = "newest first; `X-Next-Cursor` (and a `Link` with `rel=\"next\"`) when there are more",
        headers(("X-Next-Cursor" = String, description = "pass as `before` for the next page"))),
        (status = 400, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn list_runs(State(s): State<AppState>, ApiQuery(q): ApiQuery<RunsQuery>) -> ApiResult<Response> {
    let limit = page_limit(q.limit)?;
    let query = RunQuery { workflow: q.workflow.clone(), status: q.status, date: q.date.clone(), before: q.before.clone(), limit };
    let runs = s.c.runs(&query)?;
    let next = runs.last().filter(|_| runs.len() == limit).map(|r| r.id.clone());
    let mut filters: Vec<(&str, String)> = q.workflow.iter().map(|w| ("workflow", w.clone())).collect();
    filters.extend(q.status.map(|st| ("status", st.as_str().to_string())));
    filters.extend(q.date.iter().map(|d| ("date", d.clone())));
    Ok(paged(Json(&runs).into_response(), "/api/v1/runs", next, limit, &filters))
}

#[utoipa::path(get, path = "/api/v1/runs/{run}", params(("run" = String, Path)),
    responses((status = 200, body = RunDetail), (status = 404, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_run(State(s): State<AppState>, ApiPath(run): ApiPath<String>) -> ApiResult<Json<RunDetail>> {
    Ok(Json(s.c.run_detail(&run)?))
}

#[utoipa::path(get, path = "/api/v1/runs/{run}/nodes/{node}/attempts/{n}/notebook",
    params(("run" = String, Path), ("node" = String, Path, description = "node id, or id.N for a foreach instance"), ("n" = u32, Path)),
    responses((status = 200, description = "the output notebook (.ipynb)", content_type = "application/x-ipynb+json"), (status = 404, body = ApiError),
        (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_notebook(State(s): State<AppState>, ApiPath((run, node, n)): ApiPath<(String, String, u32)>) -> ApiResult<Response> {
    let (n, bytes, _) = s.c.notebook_bytes(&run, &node, Some(n)).await?;
    let disposition = format!("attachment; filename=\"{node}.{n}.ipynb\"");
    Ok(([(header::CONTENT_TYPE, "application/x-ipynb+json".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    /// Default: the latest attempt.
    attempt: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/runs/{run}/nodes/{node}/log", params(("run" = String, Path), ("node" = String, Path), LogQuery),
    responses((status = 200, body = NodeLog), (status = 404, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_log(State(s): State<AppState>, ApiPath((run, node)): ApiPath<(String, String)>, ApiQuery(q): ApiQuery<LogQuery>) -> ApiResult<Json<NodeLog>> {
    Ok(Json(s.c.log(&run, &node, q.attempt).await?))
}

#[utoipa::path(post, path = "/api/v1/runs/{run}/cancel", params(("run" = String, Path)),
    responses((status = 200, body = RunRecord), (status = 404, body = ApiError), (status = 409, description = "the run is finished, or did not stop within 10 s", body = ApiError),
        (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn cancel_run(State(s): State<AppState>, ApiPath(run): ApiPath<String>) -> ApiResult<Json<RunRecord>> {
    Ok(Json(s.c.cancel(&run).await?))
}

#[utoipa::path(post, path = "/api/v1/runs/{run}/rerun", params(("run" = String, Path)), request_body = Rerun,
    responses((status = 200, body = RunRecord), (status = 400, description = "a param the workflow does not declare or whose value is not of its type", body = ApiError),
        (status = 404, body = ApiError), (status = 409, description = "the run is still running", body = ApiError), (status = 422, description = NO_LONGER_LOADS, body = ApiError),
        (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn rerun_run(State(s): State<AppState>, ApiPath(run): ApiPath<String>, ApiJson(req): ApiJson<Rerun>) -> ApiResult<Json<RunRecord>> {
    Ok(Json(s.c.rerun(&run, &req).await?))
}

#[utoipa::path(get, path = "/api/v1/blobs/{hash}", params(("hash" = String, Path, description = "sha256, hex", pattern = "^[0-9a-fA-F]{64}$")),
    responses((status = 200, description = "the file's bytes", content_type = "application/octet-stream"), (status = 400, description = "not a sha256", body = ApiError),
        (status = 404, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn get_blob(State(s): State<AppState>, ApiPath(hash): ApiPath<String>) -> ApiResult<Response> {
    let path = s.c.registry.blob(&hash)?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[utoipa::path(post, path = "/api/v1/leases", request_body = LeaseRequest,
    responses((status = 200, body = Vec<Lease>), (status = 204, description = "nothing ready within wait_secs"), (status = 400, description = "`worker` is blank", body = ApiError),
        (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn take_leases(State(s): State<AppState>, ApiJson(req): ApiJson<LeaseRequest>) -> ApiResult<Response> {
    if req.worker.trim().is_empty() {
        return Err(Error::Input("worker must name the worker".into()).into());
    }
    let wait = Duration::from_secs_f64(if req.wait_secs.is_finite() { req.wait_secs.clamp(0.0, 30.0) } else { 0.0 });
    let leases = s.c.board.take(&req.worker, &req.labels, req.max.clamp(1, 64) as usize, wait).await?;
    if leases.is_empty() {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Ok(Json(leases).into_response())
    }
}

#[utoipa::path(post, path = "/api/v1/leases/{id}/heartbeat", params(("id" = String, Path)),
    responses((status = 200, body = HeartbeatReply), (status = 409, description = STALE, body = ApiError)))]
async fn heartbeat(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<HeartbeatReply>> {
    Ok(Json(s.c.board.heartbeat(&id)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The generated input of a SQL node rather than the output notebook.
    #[serde(default)]
    input: bool,
}

#[utoipa::path(put, path = "/api/v1/leases/{id}/notebook", params(("id" = String, Path), UploadQuery),
    request_body(content = Object, content_type = "application/json", description = "the notebook (nbformat JSON)"),
    responses((status = 204), (status = 400, description = "the body is not a JSON object, or the task has no generated input", body = ApiError),
        (status = 409, description = STALE, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn upload_notebook(State(s): State<AppState>, ApiPath(id): ApiPath<String>, ApiQuery(q): ApiQuery<UploadQuery>, ApiBytes(body): ApiBytes) -> ApiResult<StatusCode> {
    s.c.board.upload(&id, q.input, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/leases/{id}/complete", params(("id" = String, Path)), request_body = TaskResult,
    responses((status = 204), (status = 409, description = STALE, body = ApiError), (status = 503, description = UNAVAILABLE, body = ApiError)))]
async fn complete(State(s): State<AppState>, ApiPath(id): ApiPath<String>, ApiJson(result): ApiJson<TaskResult>) -> ApiResult<StatusCode> {
    s.c.board.complete(&id, result).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `/metrics`, in Prometheus' text format.
pub(super) async fn metrics(State(s): State<AppState>) -> ApiResult<Response> {
    let mut text = s.c.metrics.render(&s.c.gauges()?);
    text.push_str(&s.c.role.metrics_text());
    if s.c.mirror.enabled() {
        text.push_str(&crate::metrics::mirror_text(&s.c.mirror.stats()));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A 503: what [`Error::Store`], [`Error::Io`] and [`Error::StorageFault`] answer.
const UNAVAILABLE: &str = "the data dir cannot be read or written (a storage fault): no new work is taken until it recovers";
/// A 422 from a handler that loads a stored workflow version.
const NO_LONGER_LOADS: &str = "a stored workflow version no longer validates (registered by another deckle version)";
/// A 409 from the lease routes.
const STALE: &str = "the lease is no longer the worker's (expired, completed or unknown)";

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The statuses the layers around every handler answer, added to each operation
/// (one a handler documents itself, with its own description, stays): 401 from
/// [`super::auth`] when the server has a token; 413 for any request declaring a
/// body over the limit; 400 where a path, query or body does not parse; 415 for a
/// JSON body sent as anything else (not the notebook upload, which reads raw bytes
/// whatever their type). Each refers to a shared response in `components/responses`.
struct Refusals;

/// Operations whose JSON body is read as bytes, so never refused with 415.
const RAW_BODIES: [&str; 1] = ["upload_notebook"];

const REFUSALS: [(&str, &str, &str); 4] = [
    ("400", "BadRequest", "a path or query parameter, or the body, does not parse or is of the wrong shape"),
    ("401", "Unauthorized", "the server has a token and the request carries no valid `Authorization: Bearer <token>`"),
    ("413", "PayloadTooLarge", "the request body is over the server's limit (`deckle server --max-body-mib`)"),
    ("415", "UnsupportedMediaType", "a JSON body sent without `Content-Type: application/json`"),
];

impl utoipa::Modify for Refusals {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let components = api.components.get_or_insert_with(Default::default);
        for (_, name, description) in REFUSALS {
            let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ApiError"))).build();
            components.responses.insert(name.to_string(), ResponseBuilder::new().description(description).content("application/json", body).build().into());
        }
        for item in api.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten() {
                let parsed = op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let raw = op.operation_id.as_deref().is_some_and(|id| RAW_BODIES.contains(&id));
                let json_body = !raw && op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
                for (status, name, _) in REFUSALS {
                    let applies = match status {
                        "400" => parsed,
                        "415" => json_body,
                        _ => true,
                    };
                    if applies {
                        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Deckle coordinator", description = "Workflows of Jupyter notebooks: register, trigger, inspect; workers lease node attempts."),
    paths(health, register_workflow, list_workflows, get_workflow, pause, unpause, create_backfill, list_backfills, get_backfill, cancel_backfill, trigger_run, list_runs, get_run, get_notebook, get_log, cancel_run, rerun_run,
        get_blob, take_leases, heartbeat, upload_notebook, complete, post_signal, list_events, get_event, get_outputs, get_diff),
    components(schemas(ApiError, Health, StorageStatus, RegisterWorkflow, WorkflowVersion, WorkflowSummary, WorkflowDetail, NodeSummary, ParamSummary, TriggerRun,
        RunDetail, Rerun, NodeLog, LeaseRequest, Lease, HeartbeatReply, ScheduleState, PauseState, CreateBackfill, Backfill, BackfillDate, TaskResult, TaskStatus,
        PostSignal, SignalAccepted, EventRecord, EventKind, Firing, FiringState, TriggerState, OutputSeries, OutputPoint,
        Comparison, Side, ValuePair, CellPair, DiffLine)),
    modifiers(&BearerAuth, &Refusals),
    security(("bearer" = []))
)]
pub struct ApiDoc;
