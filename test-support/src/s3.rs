//! A real S3-compatible server for tests: the one named by `DECKLE_TEST_MOTO`
//! (`http://host:port`), else moto in server mode (`.venv/bin/moto_server`, from
//! `python/requirements-test.txt`) on a free loopback port. [`shared`] is one server
//! per test process; [`Moto::start`] a server of the test's own. There is no skip:
//! a machine without it fails the test, naming what to run
//! (`scripts/setup.sh --test`).
//!
//! [`Moto::put`], [`Moto::get`] and [`Moto::list`] let a test seed a bucket and
//! assert what landed in it without an SDK, over a small std-only HTTP/1.1 client
//! ([`request`]). [`Proxy`] stands between a client and the server and injects
//! faults on demand: refused connections, or S3's `503 SlowDown` throttling.
//!
//! A server started here is watched by a shell that stops it when this test
//! process's end of the shell's stdin closes (the handle dropped, or the process
//! ended, even killed), so no server outlives the tests.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long [`Moto::start`] waits for the server to answer HTTP.
const START_LIMIT: Duration = Duration::from_secs(30);
/// Connect and read limits of [`request`]: generous for a loaded CI machine, but a
/// hung server still fails the test instead of hanging it.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
const READ_LIMIT: Duration = Duration::from_secs(30);

/// Sent with every [`request`]. moto serves an object to a request without an
/// `Authorization` header only when the object's ACL is public-read (so an object
/// an SDK wrote would answer 403), and it reads the service and region from this
/// header's credential scope (a value without one answers 500). It checks no
/// signature, and an access key it has not issued (`testing`) maps to its default
/// account, the same one any client with made-up credentials lands in.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// An S3-compatible server for tests.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    watchdog: Option<Child>,
}

/// The server this test process shares (started on first use, never stopped: its
/// watchdog stops it when the process ends).
pub fn shared() -> &'static Moto {
    static SHARED: OnceLock<Moto> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("DECKLE_TEST_MOTO") {
        Ok(url) if !url.trim().is_empty() => Moto::at(url.trim()),
        _ => Moto::start(),
    })
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The watchdog: starts moto in the background and stops it (then removes its
/// directory) when a TERM arrives, which the watcher sends when this process's end
/// of stdin closes. Waiting on moto (not on stdin) makes the shell exit when moto
/// dies on its own, so a failed start shows at once; it then stops the watcher,
/// which must not signal a pid that is no longer its parent shell. Arguments:
/// moto_server, port, directory (holding `log`).
const WATCHDOG: &str = r#"
"$1" -H 127.0.0.1 -p "$2" </dev/null >>"$3/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid; rm -rf "$3"; exit 0' TERM
exec 3<&0
{ cat <&3 >/dev/null; kill $$; } &
watcher=$!
wait $pid
code=$?
kill $watcher 2>/dev/null
exit $code
"#;

impl Moto {
    /// Start a server of this test's own (stopped when the handle drops).
    pub fn start() -> Moto {
        let moto = repo_root().join(".venv/bin/moto_server");
        assert!(
            moto.is_file(),
            "no moto_server at {}: run `scripts/setup.sh --test` (python/requirements-test.txt has moto[server]), or set DECKLE_TEST_MOTO=http://host:port",
            moto.display()
        );
        // A free port can be taken between our probe and moto's bind: try another.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Moto::spawn(&moto) {
                Ok(m) => return m,
                Err(e) => failures.push(e),
            }
        }
        panic!("moto_server did not start:\n{}", failures.join("\n"));
    }

    fn spawn(moto: &Path) -> Result<Moto, String> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("deckle-moto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(moto)
            .arg(port.to_string())
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("/bin/sh: {e}"))?;
        let mut m = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            watchdog: Some(child),
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if request(&m.endpoint, "GET", "/", b"").is_ok() {
                return Ok(m);
            }
            let exited = m
                .watchdog
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                drop(m);
                let _ = std::fs::remove_dir_all(&dir);
                let why = if exited.is_some() {
                    "exited"
                } else {
                    "did not answer within 30 s"
                };
                return Err(format!(
                    "port {port}: moto_server {why}; its log:\n{}",
                    tail(&log, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A handle on a server already running at `endpoint` (`http://host:port`, as
    /// `DECKLE_TEST_MOTO`, or a [`Proxy`]'s): the helpers without a server to stop.
    pub fn at(endpoint: &str) -> Moto {
        Moto {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            watchdog: None,
        }
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give an S3 client (path-style).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Create bucket `name` (in moto's default region, us-east-1, where creating a
    /// bucket you already own succeeds again).
    pub fn create_bucket(&self, name: &str) {
        let path = format!("/{}", encode(name));
        let r = self.call("PUT", &path, b"");
        assert_eq!(
            r.status,
            200,
            "create bucket {name} on {}: {}",
            self.endpoint,
            r.text()
        );
    }

    /// Store `body` at `key` in `bucket`.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let r = self.call("PUT", &object_path(bucket, key), body);
        assert_eq!(
            r.status,
            200,
            "put s3://{bucket}/{key} on {}: {}",
            self.endpoint,
            r.text()
        );
    }

    /// The object at `key` in `bucket`, or None when there is none.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let r = self.call("GET", &object_path(bucket, key), b"");
        match r.status {
            200 => Some(r.body),
            404 => None,
            s => panic!(
                "get s3://{bucket}/{key} on {}: status {s}: {}",
                self.endpoint,
                r.text()
            ),
        }
    }

    /// The keys in `bucket` that start with `prefix`, in S3's (byte) order. One page
    /// of ListObjectsV2, so at most 1000 keys: more fails the test rather than
    /// silently listing part.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let r = self.call(
            "GET",
            &format!("/{}?list-type=2&prefix={}", encode(bucket), encode(prefix)),
            b"",
        );
        let xml = r.text();
        assert_eq!(
            r.status, 200,
            "list s3://{bucket}/{prefix} on {}: {xml}",
            self.endpoint
        );
        assert!(!xml.contains("<IsTruncated>true</IsTruncated>"), "list s3://{bucket}/{prefix}: more than one page of keys; list() does not follow continuation tokens");
        xml_values(&xml, "Key")
    }

    fn call(&self, method: &str, path: &str, body: &[u8]) -> Response {
        request(&self.endpoint, method, path, body)
            .unwrap_or_else(|e| panic!("{method} {}{path}: {e}", self.endpoint))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let Some(mut child) = self.watchdog.take() else {
            return;
        };
        // Closing stdin is the watchdog's signal to stop moto and remove its log.
        drop(child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `/bucket/key`, percent-encoded.
fn object_path(bucket: &str, key: &str) -> String {
    format!("/{}/{}", encode(bucket), encode(key))
}

/// Percent-encode all but `A-Za-z0-9-._~/`: safe in a path and in a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of every `<tag>…</tag>` in `xml`, unescaped. Enough for S3's flat
/// listings, not a general XML parser.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(xml_unescape(&rest[..end]));
        rest = &rest[end + close.len()..];
    }
    out
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity = rest.find(';').map(|semi| &rest[1..semi]);
        let ch = match entity {
            Some("amp") => Some('&'),
            Some("lt") => Some('<'),
            Some("gt") => Some('>'),
            Some("quot") => Some('"'),
            Some("apos") => Some('\''),
            Some(e) if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            Some(e) if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match (ch, entity) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// An HTTP response read by [`request`].
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// In the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// Decoded when it came chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request to `endpoint` (`http://host:port`, any path after it
/// ignored): `path` is sent as is, so percent-encode it first. It carries a made-up
/// AWS `Authorization` (see [`Moto`]) and `Connection: close`; the response is read
/// to the end. An error is a connection that failed or closed without a response.
pub fn request(endpoint: &str, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
    let host = host_port(endpoint)?;
    let mut stream = connect(host)?;
    stream.set_read_timeout(Some(READ_LIMIT))?;
    stream.set_write_timeout(Some(READ_LIMIT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {AUTHORIZATION}\r\nConnection: close\r\n");
    if !body.is_empty() || !matches!(method, "GET" | "HEAD" | "DELETE") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    stream.write_all(&raw)?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    parse_response(&received, method == "HEAD")
}

/// `host:port` out of `http://host:port/...` (or a bare `host:port`).
fn host_port(endpoint: &str) -> io::Result<&str> {
    if endpoint.starts_with("https://") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint}: only http:// is supported"),
        ));
    }
    let rest = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    Ok(rest.split('/').next().unwrap_or(rest))
}

fn connect(host: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
    for addr in host.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_LIMIT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_response(mut raw: &[u8], head_request: bool) -> io::Result<Response> {
    if raw.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection without a response",
        ));
    }
    loop {
        let end = find(raw, b"\r\n\r\n").ok_or_else(|| {
            invalid(format!(
                "truncated response head: {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        raw = &raw[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        // An interim response (100 Continue) precedes the real one.
        if (100..200).contains(&status) {
            continue;
        }
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 {
            return Ok(r);
        }
        r.body = if r
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
        {
            dechunk(raw)?
        } else if let Some(len) = r
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
        {
            if raw.len() < len {
                return Err(invalid(format!(
                    "body cut short: {} of {len} bytes",
                    raw.len()
                )));
            }
            raw[..len].to_vec()
        } else {
            raw.to_vec()
        };
        return Ok(r);
    }
}

/// Decode a `Transfer-Encoding: chunked` body (extensions and trailers ignored).
fn dechunk(mut raw: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(raw, b"\r\n").ok_or_else(|| invalid("chunked body: no chunk size line"))?;
        let line = String::from_utf8_lossy(&raw[..eol]);
        let hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| invalid(format!("chunked body: bad chunk size {hex:?}")))?;
        raw = &raw[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size + 2 || &raw[size..size + 2] != b"\r\n" {
            return Err(invalid("chunked body: chunk cut short"));
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// What a [`Proxy`] does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pass bytes both ways to the target.
    Forward,
    /// The endpoint is down: connecting is refused (nothing listens on the port) and
    /// connections already forwarded are cut.
    Refuse,
    /// Answer every request `503 SlowDown`, as S3 does when it throttles.
    ServerError,
}

/// S3's throttling answer.
const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

/// A TCP proxy on a free loopback port in front of a server (moto), for simulating
/// an outage: [`Proxy::set`] switches its [`Mode`] at any time. Switching to any
/// mode but [`Mode::Forward`] also cuts the connections forwarded so far, so a
/// client's pooled keep-alive connection cannot slip past the new mode (a request in
/// flight on one then fails as a cut connection). Dropping it stops it.
pub struct Proxy {
    port: u16,
    state: Arc<ProxyState>,
    acceptor: Option<JoinHandle<()>>,
}

struct ProxyState {
    /// `host:port`.
    target: String,
    inner: Mutex<ProxyInner>,
    accepted: AtomicUsize,
    next_id: AtomicU64,
    stop: AtomicBool,
}

struct ProxyInner {
    mode: Mode,
    /// None while refusing: with no listener the kernel refuses connections.
    listener: Option<TcpListener>,
    /// The sockets of each forwarded connection (clones), to cut them.
    open: HashMap<u64, Vec<TcpStream>>,
}

impl ProxyState {
    fn lock(&self) -> MutexGuard<'_, ProxyInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn cut(sockets: Vec<TcpStream>) {
    for s in sockets {
        let _ = s.shutdown(Shutdown::Both);
    }
}

fn listen(port: u16) -> TcpListener {
    // The port was ours a moment ago; std sets SO_REUSEADDR, so only a socket that
    // took it meanwhile (an outgoing connection's ephemeral port) stands in the way:
    // such a one is short-lived on loopback, so wait it out.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => {
                // Polled, so the acceptor never blocks while holding the lock.
                l.set_nonblocking(true).expect("a non-blocking listener");
                return l;
            }
            Err(e) if Instant::now() >= deadline => {
                panic!("proxy: listen again on 127.0.0.1:{port}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

impl Proxy {
    /// Start forwarding to `target` (`127.0.0.1:PORT`, or an `http://host:port` URL).
    pub fn start(target: &str) -> Proxy {
        let target = host_port(target)
            .unwrap_or_else(|e| panic!("proxy target: {e}"))
            .to_string();
        let port = free_port();
        let state = Arc::new(ProxyState {
            target,
            inner: Mutex::new(ProxyInner {
                mode: Mode::Forward,
                listener: Some(listen(port)),
                open: HashMap::new(),
            }),
            accepted: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let acceptor = {
            let state = Arc::clone(&state);
            std::thread::spawn(move || accept_loop(&state))
        };
        Proxy {
            port,
            state,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`, the proxy's own (stays the same across modes).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switch mode; it holds for every connection made after this returns.
    pub fn set(&self, mode: Mode) {
        let mut inner = self.state.lock();
        if mode == Mode::Refuse {
            inner.listener = None;
        } else if inner.listener.is_none() {
            inner.listener = Some(listen(self.port));
        }
        if mode != Mode::Forward {
            for (_, sockets) in inner.open.drain() {
                cut(sockets);
            }
        }
        inner.mode = mode;
    }

    /// How many connections it accepted (in any mode; a refused one is not).
    pub fn requests(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let mut inner = self.state.lock();
        inner.listener = None;
        for (_, sockets) in inner.open.drain() {
            cut(sockets);
        }
    }
}

fn accept_loop(state: &Arc<ProxyState>) {
    while !state.stop.load(Ordering::SeqCst) {
        // Accept and read the mode under one lock, so a connection accepted before
        // `set` returns is either cut by it or handled in the old mode before.
        let next = {
            let mut inner = state.lock();
            match inner.listener.as_ref().map(|l| l.accept()) {
                Some(Ok((client, _))) => {
                    state.accepted.fetch_add(1, Ordering::SeqCst);
                    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
                    let mode = inner.mode;
                    if mode == Mode::Forward {
                        if let Ok(c) = client.try_clone() {
                            inner.open.insert(id, vec![c]);
                        }
                    }
                    Some((client, mode, id))
                }
                _ => None,
            }
        };
        let Some((client, mode, id)) = next else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        // Accepted sockets need not inherit the listener's non-blocking mode, but may.
        let _ = client.set_nonblocking(false);
        let state = Arc::clone(state);
        std::thread::spawn(move || match mode {
            Mode::Forward => forward(&state, id, client),
            Mode::ServerError => slow_down(client),
            Mode::Refuse => drop(client),
        });
    }
}

fn forward(state: &ProxyState, id: u64, client: TcpStream) {
    let upstream = match connect(&state.target) {
        Ok(u) => u,
        Err(_) => {
            // The target is down: so is this connection.
            if let Some(sockets) = state.lock().open.remove(&id) {
                cut(sockets);
            }
            return;
        }
    };
    {
        let mut inner = state.lock();
        match (inner.open.get_mut(&id), upstream.try_clone()) {
            (Some(sockets), Ok(u)) => sockets.push(u),
            // Cut while connecting (the mode changed).
            _ => {
                drop(inner);
                cut(vec![upstream]);
                return;
            }
        }
    }
    let (Ok(mut client_in), Ok(mut upstream_out)) = (client.try_clone(), upstream.try_clone())
    else {
        if let Some(sockets) = state.lock().open.remove(&id) {
            cut(sockets);
        }
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut client_in, &mut upstream_out);
        let _ = upstream_out.shutdown(Shutdown::Write);
    });
    let (mut upstream_in, mut client_out) = (&upstream, &client);
    let _ = io::copy(&mut upstream_in, &mut client_out);
    // The server is done with this connection: nothing more can pass either way.
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = up.join();
    state.lock().open.remove(&id);
}

/// Read the request (head, then as much of an announced body as arrives promptly)
/// and answer S3's `503 SlowDown`.
fn slow_down(mut client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = client.set_write_timeout(Some(Duration::from_secs(5)));
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            break end + 4;
        }
        match client.read(&mut buf) {
            Ok(n) if n > 0 && received.len() < 64 * 1024 => received.extend_from_slice(&buf[..n]),
            _ => break received.len(),
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.trim() == name)
                .map(|(_, v)| v.trim().to_string())
        })
    };
    // A client that awaits `100 Continue` sends no body: the 503 is its answer.
    if !header("expect").is_some_and(|e| e.contains("100-continue")) {
        let announced = header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = received.len() - head_end;
        while body < announced {
            match client.read(&mut buf) {
                Ok(n) if n > 0 => body += n,
                _ => break,
            }
        }
    }
    let no_body = head.starts_with("head ");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
        SLOW_DOWN.len(),
        if no_body { "" } else { SLOW_DOWN }
    );
    let _ = client.write_all(response.as_bytes());
    let _ = client.shutdown(Shutdown::Write);
    // Closing with unread bytes would reset the connection, and the client could see
    // the reset instead of the answer: let it close first (briefly).
    while matches!(client.read(&mut buf), Ok(n) if n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_keys_and_reads_listings_and_chunked_bodies() {
        assert_eq!(
            encode("runs/2024-01-01/out_1.ipynb"),
            "runs/2024-01-01/out_1.ipynb"
        );
        assert_eq!(encode("a b=c&d+é"), "a%20b%3Dc%26d%2B%C3%A9");
        let xml = "<ListBucketResult><Contents><Key>a/1</Key></Contents><Contents><Key>a/x &amp; y&#x3C;&#62;&amp;lt;</Key></Contents></ListBucketResult>";
        assert_eq!(
            xml_values(xml, "Key"),
            vec!["a/1".to_string(), "a/x & y<>&lt;".to_string()]
        );
        assert_eq!(
            dechunk(b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n").unwrap(),
            b"hello, world"
        );
        assert!(dechunk(b"5\r\nhel").is_err(), "a cut chunk is an error");
        let r = parse_response(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nnoEXTRA",
            false,
        )
        .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.header("Content-Length")),
            (404, &b"no"[..], Some("2"))
        );
        assert!(
            parse_response(b"", false).is_err(),
            "no bytes is no response"
        );
    }

    #[test]
    fn moto_stores_lists_and_stops() {
        let moto = Moto::start();
        moto.create_bucket("notebooks");
        assert_eq!(moto.get("notebooks", "runs/missing.ipynb"), None);
        assert_eq!(moto.list("notebooks", ""), Vec::<String>::new());
        // Keys that need encoding (space, `=`, `&`, `+`, non-ASCII) round-trip.
        let odd = "runs/date=2024-01-01/a b&c+é.ipynb";
        moto.put("notebooks", "runs/one.ipynb", b"{\"cells\": []}");
        moto.put("notebooks", odd, b"odd");
        moto.put("notebooks", "other/two.ipynb", b"2");
        assert_eq!(
            moto.get("notebooks", "runs/one.ipynb").as_deref(),
            Some(&b"{\"cells\": []}"[..])
        );
        assert_eq!(moto.get("notebooks", odd).as_deref(), Some(&b"odd"[..]));
        assert_eq!(
            moto.list("notebooks", "runs/"),
            vec![odd.to_string(), "runs/one.ipynb".to_string()]
        );
        assert_eq!(moto.list("notebooks", "").len(), 3);
        let endpoint = moto.endpoint();
        drop(moto);
        assert!(
            request(&endpoint, "GET", "/", b"").is_err(),
            "the server is gone once its handle drops"
        );
    }

    #[test]
    fn proxy_forwards_throttles_and_refuses() {
        let moto = Moto::start();
        moto.create_bucket("bkt");
        moto.put("bkt", "k", b"payload");
        let proxy = Proxy::start(&moto.endpoint());
        let via = Moto::at(&proxy.endpoint());
        assert_eq!(
            via.get("bkt", "k").as_deref(),
            Some(&b"payload"[..]),
            "forwarded"
        );
        assert_eq!(proxy.requests(), 1);

        // A connection forwarded before an outage is cut by it.
        let mut idle = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while proxy.requests() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }

        proxy.set(Mode::ServerError);
        let mut one = [0u8; 1];
        assert!(
            matches!(idle.read(&mut one), Ok(0)),
            "the open connection was cut (EOF, not a timeout)"
        );
        let r =
            request(&proxy.endpoint(), "GET", &object_path("bkt", "k"), b"").expect("a 503 answer");
        assert_eq!(r.status, 503);
        assert!(r.text().contains("<Code>SlowDown</Code>"), "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/xml"));
        let r = request(
            &proxy.endpoint(),
            "PUT",
            &object_path("bkt", "throttled"),
            &vec![b'x'; 100_000],
        )
        .expect("a 503 answer to a PUT with a body");
        assert_eq!(r.status, 503);
        assert_eq!(
            moto.get("bkt", "throttled"),
            None,
            "a throttled PUT stores nothing"
        );

        proxy.set(Mode::Refuse);
        let before = proxy.requests();
        match request(&proxy.endpoint(), "GET", &object_path("bkt", "k"), b"") {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}"),
            Ok(r) => panic!("a refusing proxy answered {} {:?}", r.status, r.text()),
        }
        assert_eq!(proxy.requests(), before, "nothing accepted while refusing");

        proxy.set(Mode::Forward);
        assert_eq!(
            via.get("bkt", "k").as_deref(),
            Some(&b"payload"[..]),
            "forwarded again after the outage"
        );
        assert_eq!(proxy.requests(), before + 1);
    }
}
