//! The JSON API under `/api/v1`, its OpenAPI document (utoipa) and `/metrics`.
//! Every error is an [`ApiError`] body; the status comes from [`super::error`], the
//! one place errors meet HTTP.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use deckle_protocol::api::{
    ApiError, Backfill, Health, StorageStatus, BackfillDate, CreateBackfill, HeartbeatReply, ScheduleState, Lease, LeaseRequest, NodeLog, NodeSummary, ParamSummary, RegisterWorkflow, Rerun, RunDetail, TriggerRun,
    WorkflowDetail, WorkflowSummary, WorkflowVersion,
};
use deckle_protocol::record::RunRecord;
use deckle_protocol::task::TaskResult;
use serde::Deserialize;
use utoipa::OpenApi;

use super::extract::{ApiBytes, ApiJson};
use super::{AppState, HttpError};
use crate::error::Error;

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
        .route("/openapi.json", get(openapi))
}

#[utoipa::path(post, path = "/api/v1/workflows", request_body = RegisterWorkflow,
    responses((status = 201, body = WorkflowVersion), (status = 400, body = ApiError), (status = 422, body = ApiError)))]
async fn register_workflow(State(s): State<AppState>, ApiJson(req): ApiJson<RegisterWorkflow>) -> ApiResult<(StatusCode, Json<WorkflowVersion>)> {
    s.c.health.check()?;
    Ok((StatusCode::CREATED, Json(s.c.register(&req).await?)))
}

#[utoipa::path(get, path = "/api/v1/health",
    responses((status = 200, body = Health), (status = 503, description = "the data dir cannot be written; no new work is taken", body = Health)))]
async fn health(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    match s.c.health.fault() {
        None => (StatusCode::OK, Json(Health { status: "ok".into(), storage: StorageStatus { ok: true, error: None, since: None } })),
        Some(f) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health { status: "degraded".into(), storage: StorageStatus { ok: false, error: Some(f.message), since: Some(f.since.to_string()) } }),
        ),
    }
}

#[utoipa::path(get, path = "/api/v1/workflows", responses((status = 200, body = Vec<WorkflowSummary>)))]
async fn list_workflows(State(s): State<AppState>) -> ApiResult<Json<Vec<WorkflowSummary>>> {
    Ok(Json(s.c.workflow_summaries()?))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}", params(("id" = String, Path)),
    responses((status = 200, body = WorkflowDetail), (status = 404, body = ApiError)))]
async fn get_workflow(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<WorkflowDetail>> {
    Ok(Json(s.c.workflow_detail(&id)?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/pause", params(("id" = String, Path)),
    responses((status = 200, body = ScheduleState), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn pause(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ScheduleState>> {
    Ok(Json(s.c.set_paused(&id, true).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/unpause", params(("id" = String, Path)),
    responses((status = 200, body = ScheduleState), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn unpause(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ScheduleState>> {
    Ok(Json(s.c.set_paused(&id, false).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/backfills", params(("id" = String, Path)), request_body = CreateBackfill,
    responses((status = 201, body = Backfill), (status = 200, description = "a dry run: the plan", body = Backfill), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn create_backfill(State(s): State<AppState>, Path(id): Path<String>, ApiJson(req): ApiJson<CreateBackfill>) -> ApiResult<(StatusCode, Json<Backfill>)> {
    let status = if req.dry_run { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(s.c.create_backfill(&id, &req).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct BackfillsQuery {
    workflow: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/backfills", params(BackfillsQuery), responses((status = 200, body = Vec<Backfill>)))]
async fn list_backfills(State(s): State<AppState>, Query(q): Query<BackfillsQuery>) -> ApiResult<Json<Vec<Backfill>>> {
    Ok(Json(s.c.backfills(q.workflow.as_deref())?))
}

#[utoipa::path(get, path = "/api/v1/backfills/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Backfill), (status = 404, body = ApiError)))]
async fn get_backfill(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Backfill>> {
    Ok(Json(s.c.backfill(&id)?))
}

#[utoipa::path(post, path = "/api/v1/backfills/{id}/cancel", params(("id" = String, Path)),
    responses((status = 200, body = Backfill), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn cancel_backfill(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Backfill>> {
    Ok(Json(s.c.cancel_backfill(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/runs", params(("id" = String, Path)), request_body = TriggerRun,
    responses((status = 201, body = RunRecord), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn trigger_run(State(s): State<AppState>, Path(id): Path<String>, ApiJson(req): ApiJson<TriggerRun>) -> ApiResult<(StatusCode, Json<RunRecord>)> {
    Ok((StatusCode::CREATED, Json(s.c.trigger(&id, &req).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RunsQuery {
    workflow: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/runs", params(RunsQuery), responses((status = 200, body = Vec<RunRecord>)))]
async fn list_runs(State(s): State<AppState>, Query(q): Query<RunsQuery>) -> ApiResult<Json<Vec<RunRecord>>> {
    Ok(Json(s.c.runs(q.workflow.as_deref())?))
}

#[utoipa::path(get, path = "/api/v1/runs/{run}", params(("run" = String, Path)),
    responses((status = 200, body = RunDetail), (status = 404, body = ApiError)))]
async fn get_run(State(s): State<AppState>, Path(run): Path<String>) -> ApiResult<Json<RunDetail>> {
    Ok(Json(s.c.run_detail(&run)?))
}

#[utoipa::path(get, path = "/api/v1/runs/{run}/nodes/{node}/attempts/{n}/notebook",
    params(("run" = String, Path), ("node" = String, Path, description = "node id, or id.N for a foreach instance"), ("n" = u32, Path)),
    responses((status = 200, description = "the output notebook (.ipynb)", content_type = "application/x-ipynb+json"), (status = 404, body = ApiError)))]
async fn get_notebook(State(s): State<AppState>, Path((run, node, n)): Path<(String, String, u32)>) -> ApiResult<Response> {
    let (n, path, _) = s.c.notebook(&run, &node, Some(n))?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    let disposition = format!("attachment; filename=\"{node}.{n}.ipynb\"");
    Ok(([(header::CONTENT_TYPE, "application/x-ipynb+json".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
struct LogQuery {
    /// Default: the latest attempt.
    attempt: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/runs/{run}/nodes/{node}/log", params(("run" = String, Path), ("node" = String, Path), LogQuery),
    responses((status = 200, body = NodeLog), (status = 404, body = ApiError)))]
async fn get_log(State(s): State<AppState>, Path((run, node)): Path<(String, String)>, Query(q): Query<LogQuery>) -> ApiResult<Json<NodeLog>> {
    Ok(Json(s.c.log(&run, &node, q.attempt)?))
}

#[utoipa::path(post, path = "/api/v1/runs/{run}/cancel", params(("run" = String, Path)),
    responses((status = 200, body = RunRecord), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn cancel_run(State(s): State<AppState>, Path(run): Path<String>) -> ApiResult<Json<RunRecord>> {
    Ok(Json(s.c.cancel(&run).await?))
}

#[utoipa::path(post, path = "/api/v1/runs/{run}/rerun", params(("run" = String, Path)), request_body = Rerun,
    responses((status = 200, body = RunRecord), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn rerun_run(State(s): State<AppState>, Path(run): Path<String>, ApiJson(req): ApiJson<Rerun>) -> ApiResult<Json<RunRecord>> {
    Ok(Json(s.c.rerun(&run, &req).await?))
}

#[utoipa::path(get, path = "/api/v1/blobs/{hash}", params(("hash" = String, Path, description = "sha256, hex")),
    responses((status = 200, description = "the file's bytes", content_type = "application/octet-stream"), (status = 404, body = ApiError)))]
async fn get_blob(State(s): State<AppState>, Path(hash): Path<String>) -> ApiResult<Response> {
    let path = s.c.registry.blob(&hash)?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[utoipa::path(post, path = "/api/v1/leases", request_body = LeaseRequest,
    responses((status = 200, body = Vec<Lease>), (status = 204, description = "nothing ready within wait_secs")))]
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
    responses((status = 200, body = HeartbeatReply), (status = 409, body = ApiError)))]
async fn heartbeat(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<HeartbeatReply>> {
    Ok(Json(s.c.board.heartbeat(&id)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct UploadQuery {
    /// The generated input of a SQL node rather than the output notebook.
    #[serde(default)]
    input: bool,
}

#[utoipa::path(put, path = "/api/v1/leases/{id}/notebook", params(("id" = String, Path), UploadQuery),
    request_body(content = String, content_type = "application/json", description = "the notebook"),
    responses((status = 204), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 413, body = ApiError)))]
async fn upload_notebook(State(s): State<AppState>, Path(id): Path<String>, Query(q): Query<UploadQuery>, ApiBytes(body): ApiBytes) -> ApiResult<StatusCode> {
    s.c.board.upload(&id, q.input, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/leases/{id}/complete", params(("id" = String, Path)), request_body(content = Object, description = "a TaskResult"),
    responses((status = 204), (status = 409, body = ApiError)))]
async fn complete(State(s): State<AppState>, Path(id): Path<String>, ApiJson(result): ApiJson<TaskResult>) -> ApiResult<StatusCode> {
    s.c.board.complete(&id, result).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `/metrics`, in Prometheus' text format.
pub(super) async fn metrics(State(s): State<AppState>) -> ApiResult<Response> {
    let text = s.c.metrics.render(&s.c.gauges()?);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Deckle coordinator", description = "Workflows of Jupyter notebooks: register, trigger, inspect; workers lease node attempts."),
    paths(health, register_workflow, list_workflows, get_workflow, pause, unpause, create_backfill, list_backfills, get_backfill, cancel_backfill, trigger_run, list_runs, get_run, get_notebook, get_log, cancel_run, rerun_run,
        get_blob, take_leases, heartbeat, upload_notebook, complete),
    components(schemas(ApiError, Health, StorageStatus, RegisterWorkflow, WorkflowVersion, WorkflowSummary, WorkflowDetail, NodeSummary, ParamSummary, TriggerRun,
        RunDetail, Rerun, NodeLog, LeaseRequest, Lease, HeartbeatReply, ScheduleState, CreateBackfill, Backfill, BackfillDate)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;
