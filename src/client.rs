//! A small HTTP client for the coordinator's API (`/api/v1`), used by the CLI's
//! remote commands: base URL + bearer token, typed JSON helpers, and one error
//! type that knows its exit code.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use deckle_protocol::api::ApiError;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Exit codes shared by every command that talks to a server.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_SERVER: i32 = 3;
pub const EXIT_AUTH: i32 = 4;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// `--server`, `--token-file` and `--json`, on every remote command.
#[derive(Args, Debug, Clone)]
pub struct RemoteArgs {
    /// The coordinator's URL; or several sharing one database, comma-separated
    /// (tried in turn when one does not answer).
    #[arg(long, env = "DECKLE_SERVER", default_value = DEFAULT_SERVER, value_name = "URL")]
    pub server: String,
    /// A file holding the bearer token (else the `DECKLE_TOKEN` environment variable).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print the API's JSON on stdout instead of text (for scripts).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug)]
pub enum ClientError {
    /// Bad input on our side (a bad `--server` URL, an unreadable token file).
    Usage(String),
    /// Connection refused, DNS failure, timeout.
    Unreachable { url: String, reason: String },
    /// 401.
    Unauthorized { had_token: bool, message: String },
    /// Any other non-2xx reply.
    Api { status: StatusCode, error: ApiError },
    /// A reply we could not read (not the JSON we expected, cut off).
    BadReply { url: String, reason: String },
}

impl ClientError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Usage(_) => EXIT_USAGE,
            ClientError::Unreachable { .. } | ClientError::BadReply { .. } => EXIT_SERVER,
            ClientError::Unauthorized { .. } => EXIT_AUTH,
            ClientError::Api { status, .. } if status.is_client_error() => EXIT_USAGE,
            ClientError::Api { .. } => EXIT_SERVER,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { status, .. } if *status == StatusCode::NOT_FOUND)
    }

    /// The lines to print on stderr: the first starts with `deckle:`, then any details.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ClientError::Usage(m) => vec![format!("deckle: {m}")],
            ClientError::Unreachable { url, reason } => vec![format!(
                "deckle: cannot reach the server at {url} ({reason}); start one with `deckle server`, or point --server / DECKLE_SERVER at it"
            )],
            ClientError::Unauthorized { had_token, message } => {
                let hint = if *had_token { "check --token-file / DECKLE_TOKEN" } else { "none was given: use --token-file or DECKLE_TOKEN" };
                vec![format!("deckle: the server refused the token ({hint}): {message}")]
            }
            ClientError::Api { error, .. } => {
                let mut out = vec![format!("deckle: {}", error.error)];
                out.extend(error.details.iter().map(|d| format!("  {d}")));
                out
            }
            ClientError::BadReply { url, reason } => vec![format!("deckle: unexpected reply from {url}: {reason}")],
        }
    }

    /// Print to stderr and give the exit code.
    pub fn report(&self) -> i32 {
        for l in self.lines() {
            eprintln!("{l}");
        }
        self.exit_code()
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl std::error::Error for ClientError {}

/// A JSON reply: typed, and as sent (for `--json`).
#[derive(Debug)]
pub struct Reply<T> {
    pub body: T,
    pub json: Value,
}

pub struct Client {
    base: Url,
    /// Other coordinators sharing the database (`--server A,B`), tried in turn when
    /// one does not answer.
    others: Vec<Url>,
    token: Option<String>,
    http: reqwest::Client,
}

/// The innermost cause of an error: "Connection refused (os error 111)" rather than
/// "error sending request for url (…)".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn parse_server(server: &str) -> Result<Url, ClientError> {
    let server = server.trim();
    let with_scheme = if server.contains("://") { server.to_string() } else { format!("http://{server}") };
    let base = Url::parse(&with_scheme).map_err(|e| ClientError::Usage(format!("--server {server:?} is not a URL: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(ClientError::Usage(format!("--server {server:?} must be an http:// or https:// URL")));
    }
    Ok(base)
}

/// How long a command keeps asking while coordinators elect a new leader (their
/// answer is 503 `no_leader` meanwhile).
const ELECTION_WAIT: Duration = Duration::from_secs(30);

impl Client {
    pub fn from_args(args: &RemoteArgs) -> Result<Client, ClientError> {
        let token = crate::server_cmd::read_token(args.token_file.as_ref()).map_err(|e| ClientError::Usage(format!("cannot read the token: {e}")))?;
        Client::new(&args.server, token)
    }

    pub fn new(server: &str, token: Option<String>) -> Result<Client, ClientError> {
        let mut urls = server.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_server);
        let base = urls.next().unwrap_or_else(|| parse_server(server))?;
        let others = urls.collect::<Result<Vec<_>, _>>()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("deckle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client { base, others, token, http })
    }

    /// The server as the user gave it (for messages).
    pub fn server(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `base/api/v1/<segments…>`, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    }

    /// Send to the first coordinator that answers; while none leads (an election),
    /// ask again for up to [`ELECTION_WAIT`].
    async fn send(&self, method: Method, url: Url, body: Option<Vec<u8>>) -> Result<Vec<u8>, ClientError> {
        let rel = url.as_str().get(self.base.as_str().trim_end_matches('/').len()..).unwrap_or("").to_string();
        let on = |b: &Url| Url::parse(&format!("{}{rel}", b.as_str().trim_end_matches('/'))).unwrap_or_else(|_| url.clone());
        let started = std::time::Instant::now();
        loop {
            let mut last = None;
            for base in std::iter::once(&self.base).chain(&self.others) {
                match self.send_once(method.clone(), on(base), body.clone()).await {
                    Err(e @ ClientError::Unreachable { .. }) => last = Some(e),
                    Err(ClientError::Api { status, error }) if status == StatusCode::SERVICE_UNAVAILABLE && matches!(error.code.as_str(), "no_leader" | "not_leader") => {
                        last = Some(ClientError::Api { status, error });
                    }
                    done => return done,
                }
            }
            let e = last.unwrap_or_else(|| ClientError::Usage("no --server".into()));
            let electing = matches!(&e, ClientError::Api { .. });
            if !electing || started.elapsed() >= ELECTION_WAIT {
                return Err(e);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn send_once(&self, method: Method, url: Url, body: Option<Vec<u8>>) -> Result<Vec<u8>, ClientError> {
        let mut req = self.http.request(method, url.clone());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b);
        }
        let shown = {
            let mut u = url.clone();
            u.set_query(None);
            u.to_string()
        };
        let unreachable = |e: reqwest::Error| {
            let reason = if e.is_timeout() { "timed out".to_string() } else { root_cause(&e) };
            ClientError::Unreachable { url: self.server().to_string(), reason }
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                ClientError::Unreachable { url: self.server().to_string(), reason: "timed out".into() }
            } else {
                ClientError::BadReply { url: shown.clone(), reason: root_cause(&e) }
            }
        })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let error: ApiError = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim();
            ApiError {
                error: if text.is_empty() { format!("{shown}: HTTP {status}") } else { format!("{shown}: HTTP {status}: {text}") },
                code: String::new(),
                details: Vec::new(),
            }
        });
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized { had_token: self.token.is_some(), message: error.error });
        }
        Err(ClientError::Api { status, error })
    }

    fn parse<T: DeserializeOwned>(url: &Url, bytes: &[u8]) -> Result<Reply<T>, ClientError> {
        let bad = |e: serde_json::Error| ClientError::BadReply { url: url.to_string(), reason: e.to_string() };
        let json: Value = serde_json::from_slice(bytes).map_err(bad)?;
        let body = T::deserialize(&json).map_err(bad)?;
        Ok(Reply { body, json })
    }

    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Reply<T>, ClientError> {
        let mut url = self.url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let bytes = self.send(Method::GET, url.clone(), None).await?;
        Self::parse(&url, &bytes)
    }

    /// A non-JSON body (a notebook).
    pub async fn get_bytes(&self, segments: &[&str]) -> Result<Vec<u8>, ClientError> {
        self.send(Method::GET, self.url(segments), None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, segments: &[&str], body: &B) -> Result<Reply<T>, ClientError> {
        self.with_body(Method::POST, segments, body).await
    }

    #[allow(dead_code)] // no CLI command PUTs yet; kept for symmetry with the API
    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, segments: &[&str], body: &B) -> Result<Reply<T>, ClientError> {
        self.with_body(Method::PUT, segments, body).await
    }

    async fn with_body<B: Serialize, T: DeserializeOwned>(&self, method: Method, segments: &[&str], body: &B) -> Result<Reply<T>, ClientError> {
        let url = self.url(segments);
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Usage(format!("cannot encode the request: {e}")))?;
        let reply = self.send(method, url.clone(), Some(bytes)).await?;
        Self::parse(&url, &reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_under_api_v1_with_escaping() {
        let c = Client::new("127.0.0.1:9000", None).unwrap();
        assert_eq!(c.url(&["runs", "r 1"]).as_str(), "http://127.0.0.1:9000/api/v1/runs/r%201");
        let c = Client::new("https://example.org/deckle/", None).unwrap();
        assert_eq!(c.url(&["workflows"]).as_str(), "https://example.org/deckle/api/v1/workflows");
        assert_eq!(c.server(), "https://example.org/deckle");
    }

    #[test]
    fn bad_server_urls_are_usage_errors() {
        let e = Client::new("ftp://x", None).err().unwrap();
        assert_eq!(e.exit_code(), EXIT_USAGE);
    }

    #[test]
    fn exit_codes_by_kind() {
        let api = |s: u16| ClientError::Api { status: StatusCode::from_u16(s).unwrap(), error: ApiError { error: "x".into(), code: "x".into(), details: vec![] } };
        assert_eq!(api(404).exit_code(), 2);
        assert_eq!(api(422).exit_code(), 2);
        assert_eq!(api(503).exit_code(), 3);
        assert_eq!(ClientError::Unreachable { url: "u".into(), reason: "r".into() }.exit_code(), 3);
        assert_eq!(ClientError::Unauthorized { had_token: true, message: "m".into() }.exit_code(), 4);
    }

    #[test]
    fn api_errors_print_their_details_one_per_line() {
        let e = ClientError::Api {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: ApiError {
                error: "the workflow is invalid (2 problems)".into(),
                code: "invalid_workflow".into(),
                details: vec!["w.yaml:3:4: error: a".into(), "w.yaml:5:1: error: b".into()],
            },
        };
        assert_eq!(e.lines(), ["deckle: the workflow is invalid (2 problems)", "  w.yaml:3:4: error: a", "  w.yaml:5:1: error: b"]);
        assert_eq!(e.exit_code(), EXIT_USAGE);
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        // Bind then drop: the port is (almost certainly) closed now.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = Client::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
        let e = c.get::<Value>(&["runs"], &[]).await.unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e}");
        assert_eq!(e.exit_code(), EXIT_SERVER);
        assert!(e.to_string().contains("deckle server"), "{e}");
    }
}
