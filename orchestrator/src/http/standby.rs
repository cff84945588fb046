//! A standby coordinator's HTTP surface: reads (the API's GETs, the UI's pages,
//! `/metrics`) are served from the shared database like the leader's; everything
//! else, and every request of the lease protocol, is forwarded to the leader and
//! its answer streamed back. Clients and workers may therefore talk to any
//! coordinator: none ever acts on a write itself, so there is no split brain to
//! reconcile. Forwarding, not a redirect: a worker's notebook upload is a stream a
//! redirect would need to replay, and clients written against one URL keep working.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use deckle_protocol::api::ApiError;

use super::{router, ApiConfig};
use crate::coordinator::Coordinator;
use crate::role::RoleStatus;

/// Set on a forwarded request, so two coordinators that each think the other leads
/// cannot bounce it between them.
pub const FORWARDED_BY: &str = "x-deckle-forwarded-by";

#[derive(Clone)]
struct Forward {
    role: Arc<RoleStatus>,
    http: reqwest::Client,
}

/// The standby's router: `read`'s routes for reads, the rest forwarded to the
/// leader `read.role` names.
pub fn standby_router(read: Arc<Coordinator>, cfg: &ApiConfig) -> Router {
    // No overall timeout: a worker's request for work is held open up to 30 s.
    let http = reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(5)).redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default();
    let fwd = Forward { role: read.role.clone(), http };
    router(read, cfg).layer(middleware::from_fn_with_state(fwd, forward_writes))
}

/// Whether this standby answers `req` itself.
fn served_here(method: &Method, path: &str) -> bool {
    matches!(*method, Method::GET | Method::HEAD) && !path.starts_with("/api/v1/leases")
}

async fn forward_writes(State(f): State<Forward>, req: Request, next: Next) -> Response {
    if served_here(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    if req.headers().contains_key(FORWARDED_BY) {
        return no_leader("the request was forwarded here by another coordinator that does not lead either".into());
    }
    let Some(leader) = f.role.leader_url() else {
        return no_leader("no coordinator leads right now (an election is under way)".into());
    };
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = f.http.request(parts.method.clone(), format!("{leader}{path}"));
    for (k, v) in parts.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out = out.header(k, v);
    }
    if let Ok(v) = HeaderValue::from_str(&f.role.status().map(|s| s.id).unwrap_or_default()) {
        out = out.header(FORWARDED_BY, v);
    }
    let sent = out.body(reqwest::Body::wrap_stream(body.into_data_stream())).send().await;
    match sent {
        Ok(resp) => {
            let mut back = Response::builder().status(resp.status());
            for (k, v) in resp.headers().iter().filter(|(k, _)| !hop_by_hop(k)) {
                back = back.header(k, v);
            }
            back.body(Body::from_stream(resp.bytes_stream())).unwrap_or_else(|e| no_leader(format!("the leader's answer could not be passed on: {e}")))
        }
        // Not connected: the leader never saw the request, so asking again is safe.
        Err(e) if e.is_connect() => no_leader(format!("the leader at {leader} did not answer ({})", crate::error::causes(&e))),
        // It may have acted on it: a retry could do it twice, so say so instead.
        Err(e) => {
            let body = ApiError {
                error: format!("the leader at {leader} took the request but its answer was lost ({}); check whether it took effect before retrying", crate::error::causes(&e)),
                code: "forward_failed".into(),
                details: vec![],
            };
            (StatusCode::BAD_GATEWAY, Json(body)).into_response()
        }
    }
}

/// Headers about one connection, not the request: never forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(name.as_str(), "connection" | "keep-alive" | "proxy-authenticate" | "proxy-authorization" | "te" | "trailer" | "transfer-encoding" | "upgrade" | "host")
}

/// 503 with `Retry-After`: clients and workers retry, and reach the next leader.
fn no_leader(why: String) -> Response {
    let body = ApiError { error: format!("this coordinator is a standby and cannot forward the request: {why}; retry shortly"), code: "no_leader".into(), details: vec![] };
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_serves_reads_and_forwards_writes_and_the_lease_protocol() {
        assert!(served_here(&Method::GET, "/api/v1/runs"));
        assert!(served_here(&Method::GET, "/runs/r1"));
        assert!(served_here(&Method::HEAD, "/metrics"));
        assert!(!served_here(&Method::POST, "/api/v1/workflows/w/runs"));
        assert!(!served_here(&Method::POST, "/login"));
        assert!(!served_here(&Method::PUT, "/api/v1/leases/l1/notebook"));
        assert!(!served_here(&Method::GET, "/api/v1/leases/l1"), "the lease protocol is the leader's alone");
    }
}
