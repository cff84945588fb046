//! The coordinator's worker routes over HTTP (`/api/v1/leases…`, `/api/v1/blobs`),
//! with the bearer token on every request and every failure mapped to one
//! [`Error`]: 401 → [`Error::Unauthorized`], 409 → [`Error::StaleLease`], any
//! other error status → [`Error::Api`] (from the server's `ApiError` body), no
//! answer → [`Error::Http`].

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deckle_protocol::api::{ApiError, HeartbeatReply, Lease, LeaseRequest};
use deckle_protocol::backoff::Backoff;
use deckle_protocol::task::TaskResult;
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::time::Instant;
use tracing::warn;

use crate::error::{Error, Result};

/// A request that takes longer than this (other than the long-poll) has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The coordinator's HTTP API, as a worker uses it.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port`, no trailing slash: one, or several coordinators sharing
    /// a database (any of them serves a worker: standbys forward to the leader).
    bases: Arc<Vec<String>>,
    /// The one in use; the next is tried when it does not answer.
    current: Arc<AtomicUsize>,
    token: Option<String>,
}

impl Client {
    /// A client for the coordinator at `server` (`http://host:port`, or several,
    /// comma-separated).
    pub fn new(server: &str, token: Option<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Http { what: "HTTP client".into(), message: e.to_string() })?;
        let bases: Vec<String> = server.split(',').map(|s| s.trim().trim_end_matches('/').to_string()).filter(|s| !s.is_empty()).collect();
        Ok(Client { http, bases: Arc::new(bases), current: Arc::default(), token })
    }

    /// The server's base URL (the one in use).
    pub fn server(&self) -> String {
        self.base()
    }

    fn base(&self) -> String {
        let i = self.current.load(Ordering::Relaxed);
        self.bases.get(i % self.bases.len().max(1)).cloned().unwrap_or_default()
    }

    /// Move to the next coordinator after `failed` did not serve a request; the
    /// caller's retry goes there.
    fn next_server(&self, failed: &str) {
        if self.bases.len() > 1 && self.base() == failed {
            let i = self.current.fetch_add(1, Ordering::Relaxed) + 1;
            warn!(failed, next = %self.bases[i % self.bases.len()], "the coordinator did not serve the request; trying the next");
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base())
    }

    /// Send, and turn any failure into an [`Error`] naming `what`.
    async fn send(&self, what: &str, lease: Option<&str>, req: RequestBuilder) -> Result<Response> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let base = self.base();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                if e.is_connect() {
                    self.next_server(&base);
                }
                return Err(Error::Http { what: what.to_string(), message: error_chain(&e) });
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ApiError>(&text) {
            Ok(e) => (e.code, e.error),
            Err(_) => (String::new(), text.trim().chars().take(300).collect()),
        };
        if code == "no_leader" || code == "not_leader" {
            self.next_server(&base);
        }
        Err(match status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized { what: what.to_string(), message },
            StatusCode::CONFLICT if lease.is_some() => {
                Error::StaleLease { lease: lease.unwrap_or_default().to_string(), message }
            }
            _ => Error::Api { what: what.to_string(), status: status.as_u16(), code, message },
        })
    }

    /// The long-poll: up to `req.max` leases, or none when nothing became ready
    /// within `req.wait_secs` (204).
    pub async fn lease(&self, req: &LeaseRequest) -> Result<Vec<Lease>> {
        let what = "asking for work";
        let timeout = Duration::from_secs_f64(req.wait_secs.max(0.0)) + REQUEST_TIMEOUT;
        let resp = self.send(what, None, self.http.post(self.url("leases")).json(req).timeout(timeout)).await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        resp.json().await.map_err(|e| Error::Http { what: what.into(), message: format!("bad reply: {e}") })
    }

    /// Renew `lease` (POST `/leases/{id}/heartbeat`), within `timeout`.
    pub async fn heartbeat(&self, lease: &str, timeout: Duration) -> Result<HeartbeatReply> {
        let what = "heartbeat";
        let req = self.http.post(self.url(&format!("leases/{lease}/heartbeat"))).timeout(timeout);
        let resp = self.send(what, Some(lease), req).await?;
        resp.json().await.map_err(|e| Error::Http { what: what.into(), message: format!("bad reply: {e}") })
    }

    /// A snapshotted file's bytes (not verified here: see `cache`).
    pub async fn blob(&self, hash: &str) -> Result<Vec<u8>> {
        let what = format!("fetching notebook {hash}");
        let req = self.http.get(self.url(&format!("blobs/{hash}"))).timeout(REQUEST_TIMEOUT * 4);
        let resp = self.send(&what, None, req).await?;
        let body = resp.bytes().await.map_err(|e| Error::Http { what, message: error_chain(&e) })?;
        Ok(body.to_vec())
    }

    /// Store the output notebook (or, with `input`, a SQL node's generated input).
    pub async fn put_notebook(&self, lease: &str, input: bool, body: Vec<u8>) -> Result<()> {
        let what = if input { "uploading the generated input notebook" } else { "uploading the output notebook" };
        let mut url = self.url(&format!("leases/{lease}/notebook"));
        if input {
            url.push_str("?input=true");
        }
        let req = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(REQUEST_TIMEOUT * 4);
        self.send(what, Some(lease), req).await.map(drop)
    }

    /// Report `lease`'s result (POST `/leases/{id}/complete`).
    pub async fn complete(&self, lease: &str, result: &TaskResult) -> Result<()> {
        let req = self.http.post(self.url(&format!("leases/{lease}/complete"))).json(result).timeout(REQUEST_TIMEOUT);
        self.send("completing", Some(lease), req).await.map(drop)
    }
}

/// reqwest's error with its causes ("error sending request: … Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

/// Try `op` until it succeeds, fails for good, or `deadline` passes; transient
/// failures ([`Error::is_transient`]) are retried with backoff (0.25 s doubling
/// to 4 s).
pub async fn retry<T, F, Fut>(what: &str, deadline: Instant, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(4)).with_deadline(deadline.into_std());
    loop {
        let r = op().await;
        // A pause is taken only for a transient failure (tokio's clock: tests may pause it).
        let pause = match &r {
            Err(e) if e.is_transient() => backoff.next_delay_at(Instant::now().into_std()),
            _ => None,
        };
        match (r, pause) {
            (Err(e), Some(pause)) => {
                warn!(what, error = %e, retry_in_secs = pause.as_secs_f64(), "request failed; retrying");
                tokio::time::sleep(pause).await;
            }
            (r, _) => return r,
        }
    }
}
