//! Everything HTTP: one router serving the JSON API ([`api`], under `/api/v1`),
//! `/metrics` and the web UI ([`ui`]), behind one authentication layer (a bearer
//! token, or the UI's session cookie: [`auth`]), one body-size limit and one set of
//! security headers. Errors meet HTTP in one place: [`error`].

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::coordinator::Coordinator;
use crate::error::Error;

mod api;
pub mod auth;
mod contents;
pub mod error;
mod extract;
mod standby;
pub mod ui;

pub use standby::standby_router;

pub use error::HttpError;

/// The Content-Security-Policy of every page: scripts only from `/ui/app.js`;
/// notebook outputs that hold HTML or JavaScript live in sandboxed frames.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
frame-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) c: Arc<Coordinator>,
    /// The bearer token, when the server requires one.
    pub(crate) token: Option<Arc<str>>,
    /// Secret for CSRF tokens of UI forms: per process, or shared by coordinators
    /// on one database (a form a standby served is posted to the leader).
    pub(crate) csrf_secret: Arc<str>,
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Bearer token required on every route, when set.
    pub token: Option<String>,
    /// Largest request body accepted (registrations, notebook uploads).
    pub max_body: usize,
    /// The secret UI forms' CSRF tokens are made with; random per process when
    /// unset. Coordinators sharing a database share one.
    pub csrf_secret: Option<String>,
}

/// The whole HTTP surface of the coordinator.
pub fn router(c: Arc<Coordinator>, cfg: &ApiConfig) -> Router {
    let csrf_secret: Arc<str> = Arc::from(cfg.csrf_secret.clone().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()));
    let state = AppState { c, token: cfg.token.clone().map(Arc::from), csrf_secret };
    let api = api::routes();
    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(api::metrics))
        .merge(ui::routes::router())
        .merge(contents::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn_with_state(cfg.max_body, refuse_oversize))
        .layer(DefaultBodyLimit::max(cfg.max_body))
        .with_state(state)
}

/// Pages anyone may load: the sign-in form and the assets it needs.
const PUBLIC: [&str; 3] = ["/login", "/ui/app.css", "/ui/app.js"];

/// A bearer token (API clients, workers) or the UI's session cookie, when the server
/// has a token. Unauthenticated API calls get 401; pages send the browser to sign in.
/// Every response gets the security headers.
async fn auth(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.token {
        let path = req.uri().path();
        let bearer = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let by_bearer = bearer.is_some_and(|g| auth::token_matches(g, token));
        let by_cookie = auth::session_of(req.headers()).is_some_and(|c| auth::token_matches(&c, &auth::session_value(token)));
        if !(by_bearer || by_cookie || PUBLIC.contains(&path)) {
            let api = path.starts_with("/api/") || path == "/metrics" || bearer.is_some();
            let refused = if api || req.method() != axum::http::Method::GET {
                HttpError::Unauthorized.into_response()
            } else {
                axum::response::Redirect::to("/login").into_response()
            };
            return secured(refused);
        }
    }
    secured(next.run(req).await)
}

/// Security headers. A response that set its own policy (a notebook output frame,
/// framed by the app) keeps it; everything else may not be framed at all.
fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, axum::http::HeaderValue::from_static(CSP));
        h.insert(header::X_FRAME_OPTIONS, axum::http::HeaderValue::from_static("DENY"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, axum::http::HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, axum::http::HeaderValue::from_static("no-referrer"));
    r
}

/// A body declared larger than the limit is refused with 413 before any handler
/// runs. Its bytes are read and dropped first (up to a bound), so the client, still
/// sending, gets the reply instead of a reset connection.
async fn refuse_oversize(State(max): State<usize>, req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let Some(len) = declared.filter(|l| *l > max as u64) else {
        return next.run(req).await;
    };
    let mut body = req.into_body().into_data_stream();
    let mut drained = 0u64;
    let bound = (max as u64).saturating_mul(4).max(16 << 20);
    while drained < bound.min(len) {
        match futures::StreamExt::next(&mut body).await {
            Some(Ok(chunk)) => drained += chunk.len() as u64,
            _ => break,
        }
    }
    HttpError::TooLarge(format!("the body is {len} bytes; this server accepts at most {max}")).into_response()
}

async fn not_found() -> HttpError {
    Error::NotFound("this route".into()).into()
}

async fn method_not_allowed() -> HttpError {
    HttpError::MethodNotAllowed
}

