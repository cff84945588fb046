//! Run-finished webhooks: when a run ends, a workflow's `on_failure` / `on_success`
//! hook POSTs a [`RunEvent`] as JSON to a URL. This module builds the event from the
//! run's records ([`run_event`]) and delivers it with retries and a timeout
//! ([`Notifier::deliver`]); the [`Delivery`] it returns is what gets recorded on the run.
//!
//! # The request
//!
//! `POST {url}` with the headers
//!
//! - `content-type: application/json`
//! - `user-agent: deckle/<version>`
//! - `x-deckle-event: run_failed` or `run_succeeded` (the body's `event`)
//!
//! and a JSON body whose field names are stable (see [`RunEvent`] and [`FailedNode`]):
//!
//! ```json
//! {
//!   "event": "run_failed",
//!   "workflow": "daily_report",
//!   "run": "daily_report-2024-05-01-1a2b",
//!   "date": "2024-05-01",
//!   "logical_time": "2024-05-01T00:00:00Z",
//!   "status": "failed",
//!   "run_url": "https://deckle.example/api/v1/runs/daily_report-2024-05-01-1a2b",
//!   "failed_nodes": [
//!     { "node": "fan.1", "error": "ZeroDivisionError: ...", "attempt": 2,
//!       "notebook_url": "https://deckle.example/api/v1/runs/daily_report-2024-05-01-1a2b/nodes/fan.1/attempts/2/notebook" }
//!   ]
//! }
//! ```
//!
//! # Delivery
//!
//! Up to `1 + retries` attempts, each bounded by the hook's `timeout` (connecting,
//! sending, and reading the response). A 2xx answer is a delivery. 5xx, 429, timeouts
//! and connection (transport) errors are retried after a pause that starts at the
//! notifier's backoff and doubles each time (capped at [`MAX_BACKOFF`]); any other
//! answer (3xx: redirects are not followed, other 4xx) or an unusable URL ends the
//! delivery at once. `deliver` never fails: the [`Delivery`] says what happened.

use std::collections::HashSet;
use std::time::Duration;

use deckle_protocol::backoff::Backoff;
use reqwest::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tracing::{debug, instrument, warn};

use crate::record::{NodeRecord, NodeStatus, RunRecord, RunStatus};

/// `user-agent` sent with every delivery.
pub const USER_AGENT_VALUE: &str = concat!("deckle/", env!("CARGO_PKG_VERSION"));
/// The header carrying the event name (`run_failed` | `run_succeeded`).
pub const EVENT_HEADER: &str = "x-deckle-event";
/// The event sent when a run did not succeed (failed or cancelled).
pub const RUN_FAILED: &str = "run_failed";
/// The event sent when a run succeeded.
pub const RUN_SUCCEEDED: &str = "run_succeeded";
/// Default number of retries after the first attempt.
pub const DEFAULT_RETRIES: u32 = 3;
/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default first pause between attempts (doubling after each).
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
/// The pause between attempts never grows past this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How much of an error response's body is quoted in [`Delivery::error`].
const BODY_SNIPPET: usize = 256;

/// Where and how to deliver one hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// Where the hook is POSTed.
    pub url: String,
    /// Retries after the first attempt (default 3: up to 4 attempts).
    pub retries: u32,
    /// Per-attempt timeout (default 10 s).
    pub timeout: Duration,
}

impl Webhook {
    /// A hook with the default retries (3) and timeout (10 s).
    pub fn new(url: impl Into<String>) -> Self {
        Webhook { url: url.into(), retries: DEFAULT_RETRIES, timeout: DEFAULT_TIMEOUT }
    }
}

/// The JSON body POSTed to a hook. Field names are stable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunEvent {
    /// `"run_succeeded"` when the run succeeded, `"run_failed"` otherwise (failed or cancelled).
    pub event: String,
    /// The workflow id.
    pub workflow: String,
    /// The run id.
    pub run: String,
    /// The logical date, `YYYY-MM-DD`.
    pub date: String,
    /// The logical time (RFC 3339).
    pub logical_time: String,
    /// The run's final status: `succeeded`, `failed`, `cancelled` (or `running`).
    pub status: String,
    /// `{public_url}/api/v1/runs/{run}`.
    pub run_url: String,
    /// The node instances that failed (not those that were `upstream_failed`); empty on success.
    pub failed_nodes: Vec<FailedNode>,
}

/// One failed node instance in a [`RunEvent`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailedNode {
    /// The node id, or `id.N` for instance N of a foreach node.
    pub node: String,
    /// The last attempt's error (else the node's).
    pub error: Option<String>,
    /// The last attempt's number (1-based); `None` if it never ran.
    pub attempt: Option<u32>,
    /// `{public_url}/api/v1/runs/{run}/nodes/{node}/attempts/{n}/notebook`, when the
    /// last attempt wrote an output notebook.
    pub notebook_url: Option<String>,
}

/// The outcome of delivering one event to one hook: the run's own record of it.
pub use crate::record::Notification as Delivery;

/// Delivers webhooks over a shared HTTP client.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: reqwest::Client,
    backoff: Duration,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

/// What one attempt came to.
enum Attempt {
    Delivered(u16),
    Failed { status: Option<u16>, error: String, retry: bool },
}

impl Notifier {
    /// A notifier with the default backoff (1 s, doubling). Redirects are not followed.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT_VALUE)
            .build()
            .unwrap_or_default();
        Notifier { client, backoff: DEFAULT_BACKOFF }
    }

    /// The first pause between attempts (doubling after each).
    pub fn with_backoff(self, d: Duration) -> Self {
        Notifier { backoff: d, ..self }
    }

    /// POST `event` to the hook: up to 1 + retries attempts; 2xx = delivered; 5xx,
    /// 429, timeouts and connection errors are retried after the backoff (doubling);
    /// other 4xx (and 3xx, an unusable URL) are not retried. Never panics; never
    /// returns Err — the [`Delivery`] says what happened.
    #[instrument(skip_all, fields(url = %hook.url, event = %event.event))]
    pub async fn deliver(&self, hook: &Webhook, event: &RunEvent) -> Delivery {
        let mut d = Delivery {
            url: hook.url.clone(),
            event: event.event.clone(),
            attempts: 0,
            delivered: false,
            status: None,
            error: None,
        };
        let body = match serde_json::to_vec(event) {
            Ok(b) => b,
            Err(e) => {
                d.error = Some(format!("cannot encode the event: {e}"));
                warn!(error = %e, "webhook not sent");
                return d;
            }
        };
        let max = hook.retries.saturating_add(1);
        let mut backoff = Backoff::new(self.backoff, MAX_BACKOFF).with_max_retries(hook.retries);
        loop {
            d.attempts += 1;
            match self.attempt(hook, event, body.clone()).await {
                Attempt::Delivered(status) => {
                    d.delivered = true;
                    d.status = Some(status);
                    d.error = None;
                    debug!(attempts = d.attempts, status, "webhook delivered");
                    return d;
                }
                Attempt::Failed { status, error, retry } => {
                    let pause = if retry { backoff.next_delay() } else { None };
                    warn!(attempt = d.attempts, of = max, ?status, %error, retry = pause.is_some(), "webhook attempt failed");
                    d.status = status;
                    d.error = Some(error);
                    match pause {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => return d,
                    }
                }
            }
        }
    }

    async fn attempt(&self, hook: &Webhook, event: &RunEvent, body: Vec<u8>) -> Attempt {
        let mut req = self
            .client
            .post(&hook.url)
            .timeout(hook.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        // An event name that is not a valid header value is left out of the headers
        // (it is still in the body).
        if let Ok(v) = HeaderValue::from_str(&event.event) {
            req = req.header(EVENT_HEADER, v);
        }
        let resp = match req.body(body).send().await {
            Ok(r) => r,
            Err(e) => return transport_failure(&e, hook.timeout),
        };
        let status = resp.status();
        if status.is_success() {
            return Attempt::Delivered(status.as_u16());
        }
        let retry = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        let mut error = format!("HTTP {status}");
        if let Some(snippet) = body_snippet(resp).await {
            error.push_str(": ");
            error.push_str(&snippet);
        }
        Attempt::Failed { status: Some(status.as_u16()), error, retry }
    }
}

fn transport_failure(e: &reqwest::Error, timeout: Duration) -> Attempt {
    let (error, retry) = if e.is_timeout() {
        (format!("timed out after {timeout:?}"), true)
    } else if e.is_connect() {
        (format!("connection failed: {}", error_chain(e)), true)
    } else if e.is_builder() {
        (format!("invalid webhook request: {}", error_chain(e)), false)
    } else {
        (format!("request failed: {}", error_chain(e)), true)
    };
    Attempt::Failed { status: None, error, retry }
}

/// The error and its sources, `: `-separated (reqwest's own message alone rarely says
/// what went wrong).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

/// The start of an error response's body (trimmed, at most [`BODY_SNIPPET`] bytes),
/// read only as far as needed; `None` if empty or unreadable.
async fn body_snippet(mut resp: reqwest::Response) -> Option<String> {
    let mut buf = Vec::new();
    while buf.len() < BODY_SNIPPET {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let truncated = buf.len() > BODY_SNIPPET;
    buf.truncate(BODY_SNIPPET);
    let text = String::from_utf8_lossy(&buf);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(if truncated { format!("{text}…") } else { text.to_string() })
}

/// Build the event for a finished run from its node records. `failed_nodes` lists,
/// in record order, the node instances whose status is `failed` (foreach instances
/// as `id.N`, plain nodes as `id`; a foreach parent only when it has no instance
/// records, e.g. its items could not be evaluated); `upstream_failed` ones are left
/// out. Each carries its last attempt's number and error, and a notebook link when
/// that attempt wrote a notebook. `public_url` is the server's base URL, without
/// trailing slash (one is tolerated).
pub fn run_event(run: &RunRecord, nodes: &[NodeRecord], public_url: &str) -> RunEvent {
    let base = public_url.trim_end_matches('/');
    let run_url = format!("{base}/api/v1/runs/{}", run.id);
    let expanded: HashSet<&str> = nodes.iter().filter(|n| n.index.is_some()).map(|n| n.node.as_str()).collect();
    let failed_nodes = nodes
        .iter()
        .filter(|n| n.status == NodeStatus::Failed)
        .filter(|n| n.index.is_some() || !expanded.contains(n.node.as_str()))
        .map(|n| {
            let key = n.key();
            let last = n.attempts.last();
            FailedNode {
                error: last.and_then(|a| a.error.clone()).or_else(|| n.error.clone()),
                attempt: last.map(|a| a.n),
                notebook_url: last
                    .filter(|a| a.notebook.is_some())
                    .map(|a| format!("{run_url}/nodes/{key}/attempts/{}/notebook", a.n)),
                node: key,
            }
        })
        .collect();
    let event = if run.status == RunStatus::Succeeded { RUN_SUCCEEDED } else { RUN_FAILED };
    RunEvent {
        event: event.to_string(),
        workflow: run.workflow.clone(),
        run: run.id.clone(),
        date: run.date.clone(),
        logical_time: run.logical_time.to_string(),
        status: run.status.as_str().to_string(),
        run_url,
        failed_nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AttemptRecord;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode as AxStatus};
    use axum::routing::post;
    use axum::Router;
    use serde_json::Map;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    #[derive(Clone, Copy)]
    enum Behaviour {
        /// 200 every time.
        Ok,
        /// This status for the first N requests, then 200.
        FailFirst(u32, u16),
        /// This status every time.
        Always(u16),
        /// Sleep this long, then 200.
        Sleep(Duration),
    }

    #[derive(Clone)]
    struct Receiver {
        behaviour: Behaviour,
        hits: Arc<AtomicU32>,
        got: Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>,
    }

    impl Receiver {
        fn hits(&self) -> u32 {
            self.hits.load(Ordering::SeqCst)
        }
    }

    async fn handle(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> (AxStatus, &'static str) {
        let n = r.hits.fetch_add(1, Ordering::SeqCst) + 1;
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        r.got.lock().unwrap().push((headers, json));
        let code = match r.behaviour {
            Behaviour::Ok => 200,
            Behaviour::FailFirst(k, code) if n <= k => code,
            Behaviour::FailFirst(..) => 200,
            Behaviour::Always(code) => code,
            Behaviour::Sleep(d) => {
                tokio::time::sleep(d).await;
                200
            }
        };
        (AxStatus::from_u16(code).unwrap(), if code == 200 { "" } else { "nope" })
    }

    /// A local HTTP receiver at `http://127.0.0.1:PORT/hook`.
    async fn receiver(behaviour: Behaviour) -> (String, Receiver) {
        let r = Receiver { behaviour, hits: Arc::default(), got: Arc::default() };
        let app = Router::new().route("/hook", post(handle)).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}/hook"), r)
    }

    fn hook(url: &str, retries: u32) -> Webhook {
        Webhook { url: url.to_string(), retries, timeout: Duration::from_secs(5) }
    }

    fn fast() -> Notifier {
        Notifier::new().with_backoff(Duration::from_millis(10))
    }

    fn event() -> RunEvent {
        RunEvent {
            event: RUN_FAILED.into(),
            workflow: "daily".into(),
            run: "daily-2024-05-01-ab12".into(),
            date: "2024-05-01".into(),
            logical_time: "2024-05-01T00:00:00Z".parse().unwrap(),
            status: "failed".into(),
            run_url: "http://deckle.test/api/v1/runs/daily-2024-05-01-ab12".into(),
            failed_nodes: vec![FailedNode {
                node: "load".into(),
                error: Some("KeyError: 'x'".into()),
                attempt: Some(2),
                notebook_url: Some(
                    "http://deckle.test/api/v1/runs/daily-2024-05-01-ab12/nodes/load/attempts/2/notebook".into(),
                ),
            }],
        }
    }

    #[test]
    fn webhook_defaults() {
        let h = Webhook::new("http://x");
        assert_eq!(h.retries, 3);
        assert_eq!(h.timeout, Duration::from_secs(10));
    }

    #[tokio::test]
    async fn delivered_first_try_with_body_and_headers() {
        let (url, r) = receiver(Behaviour::Ok).await;
        let ev = event();
        let d = fast().deliver(&hook(&url, 3), &ev).await;
        assert_eq!(
            d,
            Delivery { url: url.clone(), event: "run_failed".into(), attempts: 1, delivered: true, status: Some(200), error: None }
        );
        let got = r.got.lock().unwrap();
        assert_eq!(got.len(), 1);
        let (headers, body) = &got[0];
        assert_eq!(headers["x-deckle-event"], "run_failed");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["user-agent"], USER_AGENT_VALUE);
        assert!(USER_AGENT_VALUE.starts_with("deckle/"));
        let back: RunEvent = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(back, ev);
        // The stable field names.
        let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["event", "workflow", "run", "date", "logical_time", "status", "run_url", "failed_nodes"]);
        let fkeys: Vec<&str> = body["failed_nodes"][0].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fkeys, ["node", "error", "attempt", "notebook_url"]);
    }

    #[tokio::test]
    async fn retried_after_two_500s() {
        let (url, r) = receiver(Behaviour::FailFirst(2, 500)).await;
        let d = fast().deliver(&hook(&url, 3), &event()).await;
        assert!(d.delivered, "{d:?}");
        assert_eq!(d.attempts, 3);
        assert_eq!(d.status, Some(200));
        assert_eq!(d.error, None);
        assert_eq!(r.hits(), 3);
    }

    #[tokio::test]
    async fn retried_after_429() {
        let (url, r) = receiver(Behaviour::FailFirst(1, 429)).await;
        let d = fast().deliver(&hook(&url, 3), &event()).await;
        assert!(d.delivered, "{d:?}");
        assert_eq!(d.attempts, 2);
        assert_eq!(r.hits(), 2);
    }

    #[tokio::test]
    async fn always_500_gives_up_after_retries() {
        let (url, r) = receiver(Behaviour::Always(500)).await;
        let start = Instant::now();
        let d = fast().deliver(&hook(&url, 2), &event()).await;
        assert_eq!(d.attempts, 3);
        assert!(!d.delivered);
        assert_eq!(d.status, Some(500));
        let err = d.error.unwrap();
        assert!(err.contains("500") && err.contains("nope"), "{err}");
        assert_eq!(r.hits(), 3);
        // Pauses of 10 ms then 20 ms.
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn not_found_is_not_retried() {
        let (url, r) = receiver(Behaviour::Always(404)).await;
        let d = fast().deliver(&hook(&url, 3), &event()).await;
        assert_eq!(d.attempts, 1);
        assert!(!d.delivered);
        assert_eq!(d.status, Some(404));
        assert!(d.error.unwrap().contains("404"));
        assert_eq!(r.hits(), 1);
    }

    #[tokio::test]
    async fn slow_receiver_times_out() {
        let (url, r) = receiver(Behaviour::Sleep(Duration::from_secs(5))).await;
        let h = Webhook { url: url.clone(), retries: 1, timeout: Duration::from_millis(200) };
        let start = Instant::now();
        let d = fast().deliver(&h, &event()).await;
        assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
        assert_eq!(d.attempts, 2);
        assert!(!d.delivered);
        assert_eq!(d.status, None);
        let err = d.error.unwrap();
        assert!(err.contains("timed out"), "{err}");
        assert_eq!(r.hits(), 2);
    }

    #[tokio::test]
    async fn connection_refused() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let h = hook(&format!("http://{addr}/hook"), 1);
        let d = fast().deliver(&h, &event()).await;
        assert_eq!(d.attempts, 2);
        assert!(!d.delivered);
        assert_eq!(d.status, None);
        let err = d.error.unwrap();
        assert!(err.contains("connection failed"), "{err}");
    }

    #[tokio::test]
    async fn invalid_url_is_not_retried() {
        let d = fast().deliver(&hook("not a url", 3), &event()).await;
        assert_eq!(d.attempts, 1);
        assert!(!d.delivered);
        assert!(d.error.unwrap().contains("invalid webhook request"));
    }

    fn attempt(n: u32, status: NodeStatus, error: Option<&str>, notebook: Option<&str>) -> AttemptRecord {
        AttemptRecord {
            n,
            status,
            started_at: "2024-05-02T01:00:00Z".parse().unwrap(),
            ended_at: Some("2024-05-02T01:01:00Z".parse().unwrap()),
            duration_secs: Some(60.0),
            params: Map::new(),
            outputs: Map::new(),
            error: error.map(str::to_string),
            notebook: notebook.map(str::to_string),
            worker: None,
            lost: false,
            run_attempt: 1,
        }
    }

    fn node(id: &str, index: Option<usize>, status: NodeStatus, attempts: Vec<AttemptRecord>) -> NodeRecord {
        let mut n = NodeRecord::new(id, index);
        n.status = status;
        n.error = attempts.last().and_then(|a| a.error.clone());
        n.attempts = attempts;
        n
    }

    /// Through serde, so that fields added to the record with defaults don't break this.
    fn run(status: RunStatus) -> RunRecord {
        serde_json::from_value(serde_json::json!({
            "id": "daily-2024-05-01-ab12",
            "workflow": "daily",
            "date": "2024-05-01",
            "logical_time": "2024-05-01T00:00:00Z",
            "params": {},
            "version": 1,
            "attempt": 1,
            "status": status,
            "started_at": "2024-05-02T01:00:00Z",
            "ended_at": "2024-05-02T01:05:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn run_event_for_a_failed_run() {
        let mut fan = node("fan", None, NodeStatus::Failed, vec![]);
        fan.items = Some(2);
        fan.error = Some("1 of 2 items failed".into());
        let nodes = vec![
            node("ok", None, NodeStatus::Succeeded, vec![attempt(1, NodeStatus::Succeeded, None, Some("ok.ipynb"))]),
            node(
                "load",
                None,
                NodeStatus::Failed,
                vec![
                    attempt(1, NodeStatus::Failed, Some("first"), Some("load.1.ipynb")),
                    attempt(2, NodeStatus::Failed, Some("KeyError: 'x'"), Some("load.2.ipynb")),
                ],
            ),
            node("report", None, NodeStatus::UpstreamFailed, vec![]),
            fan,
            node("fan", Some(0), NodeStatus::Succeeded, vec![attempt(1, NodeStatus::Succeeded, None, Some("f0.ipynb"))]),
            node(
                "fan",
                Some(1),
                NodeStatus::Failed,
                vec![
                    attempt(1, NodeStatus::Failed, Some("first"), Some("fan.1.1.ipynb")),
                    attempt(2, NodeStatus::Failed, Some("ValueError: 1"), Some("fan.1.2.ipynb")),
                ],
            ),
            // Failed before writing a notebook: no link.
            node("late", None, NodeStatus::Failed, vec![attempt(1, NodeStatus::Failed, Some("kernel died"), None)]),
            // A foreach parent whose items never expanded fails on its own.
            {
                let mut n = node("broken", None, NodeStatus::Failed, vec![]);
                n.error = Some("items: not a list".into());
                n
            },
        ];
        let ev = run_event(&run(RunStatus::Failed), &nodes, "https://deckle.example");
        let run_url = "https://deckle.example/api/v1/runs/daily-2024-05-01-ab12";
        assert_eq!(ev.event, "run_failed");
        assert_eq!(ev.workflow, "daily");
        assert_eq!(ev.run, "daily-2024-05-01-ab12");
        assert_eq!(ev.date, "2024-05-01");
        assert_eq!(ev.logical_time, "2024-05-01T00:00:00Z");
        assert_eq!(ev.status, "failed");
        assert_eq!(ev.run_url, run_url);
        assert_eq!(
            ev.failed_nodes,
            vec![
                FailedNode {
                    node: "load".into(),
                    error: Some("KeyError: 'x'".into()),
                    attempt: Some(2),
                    notebook_url: Some(format!("{run_url}/nodes/load/attempts/2/notebook")),
                },
                FailedNode {
                    node: "fan.1".into(),
                    error: Some("ValueError: 1".into()),
                    attempt: Some(2),
                    notebook_url: Some(format!("{run_url}/nodes/fan.1/attempts/2/notebook")),
                },
                FailedNode { node: "late".into(), error: Some("kernel died".into()), attempt: Some(1), notebook_url: None },
                FailedNode { node: "broken".into(), error: Some("items: not a list".into()), attempt: None, notebook_url: None },
            ]
        );
    }

    #[test]
    fn run_event_for_a_succeeded_run() {
        let nodes = vec![node("ok", None, NodeStatus::Succeeded, vec![attempt(1, NodeStatus::Succeeded, None, Some("ok.ipynb"))])];
        let ev = run_event(&run(RunStatus::Succeeded), &nodes, "http://localhost:8080/");
        assert_eq!(ev.event, "run_succeeded");
        assert_eq!(ev.status, "succeeded");
        assert_eq!(ev.run_url, "http://localhost:8080/api/v1/runs/daily-2024-05-01-ab12");
        assert!(ev.failed_nodes.is_empty());
    }
}
