//! A real Azure Blob Storage emulator for tests: the one named by
//! `DECKLE_TEST_AZURITE` (`http://host:port`), else Azurite's blob service
//! (`.tools/azurite`, installed from npm by `scripts/setup.sh --test`) on a free
//! loopback port. [`shared`] is one server per test process; [`Azurite::start`] a
//! server of the test's own. There is no skip: a machine without it fails the test,
//! naming what to run.
//!
//! [`Azurite::env`] is what a process needs to reach it through `object_store`
//! (the emulator's well-known account and key are then the defaults), and
//! `az://CONTAINER/key` URLs address its containers. [`Azurite::put`],
//! [`Azurite::get`] and [`Azurite::list`] let a test seed a container and assert
//! what landed in it without an SDK, over a small std-only HTTP client that signs
//! its requests with Azure's SharedKey scheme (Azurite refuses anonymous ones).
//!
//! A server started here is watched by a shell that stops it when this test
//! process's end of the shell's stdin closes (the handle dropped, or the process
//! ended, even killed), so no server outlives the tests.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The emulator's account, and its well-known key (public: it is in Microsoft's
/// docs, and every Azurite accepts it).
pub const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The REST API version the helpers speak (Azurite 3.37 serves it and older).
const API_VERSION: &str = "2021-08-06";

/// How long [`Azurite::start`] waits for the server to answer HTTP (it takes about
/// a second on an idle machine).
const START_LIMIT: Duration = Duration::from_secs(30);
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
const READ_LIMIT: Duration = Duration::from_secs(30);

/// Azurite's blob service, relative to the repository.
const MAIN_JS: &str = ".tools/azurite/node_modules/azurite/dist/src/blob/main.js";

/// An Azure Blob Storage emulator for tests.
#[derive(Debug)]
pub struct Azurite {
    endpoint: String,
    watchdog: Option<Child>,
}

/// The server this test process shares (started on first use, never stopped: its
/// watchdog stops it when the process ends).
pub fn shared() -> &'static Azurite {
    static SHARED: OnceLock<Azurite> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("DECKLE_TEST_AZURITE") {
        Ok(url) if !url.trim().is_empty() => Azurite::at(url.trim()),
        _ => Azurite::start(),
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

/// The watchdog (as [`crate::s3`]'s): starts Azurite in the background and stops it
/// (then removes its directory) when a TERM arrives, which the watcher sends when
/// this process's end of stdin closes. Waiting on Azurite (not on stdin) makes the
/// shell exit when it dies on its own, so a failed start shows at once. Arguments:
/// main.js, port, directory (holding `log` and the blobs in `data`).
///
/// `--disableTelemetry`: else Azurite reports to Application Insights, and with no
/// route there its process stays alive after "successfully closed". Should it hang
/// on its way out all the same, it is killed after 5 s: the watchdog must not wait
/// on it forever (then [`Drop`] kills the shell and Azurite is orphaned).
const WATCHDOG: &str = r#"
node "$1" --blobHost 127.0.0.1 --blobPort "$2" --location "$3/data" --silent --skipApiVersionCheck --loose --disableTelemetry </dev/null >>"$3/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -9 $pid 2>/dev/null; wait $pid; rm -rf "$3"; exit 0' TERM
exec 3<&0
{ cat <&3 >/dev/null; kill $$; } &
watcher=$!
wait $pid
code=$?
kill $watcher 2>/dev/null
exit $code
"#;

impl Azurite {
    /// Start a server of this test's own (stopped when the handle drops).
    pub fn start() -> Azurite {
        let main_js = repo_root().join(MAIN_JS);
        assert!(
            main_js.is_file(),
            "no Azurite at {}: run `scripts/setup.sh --test` (it installs azurite from npm into .tools/azurite), or set DECKLE_TEST_AZURITE=http://host:port",
            main_js.display()
        );
        // A free port can be taken between our probe and Azurite's bind: try another.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Azurite::spawn(&main_js) {
                Ok(a) => return a,
                Err(e) => failures.push(e),
            }
        }
        panic!("Azurite did not start:\n{}", failures.join("\n"));
    }

    fn spawn(main_js: &Path) -> Result<Azurite, String> {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("deckle-azurite-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(main_js)
            .arg(port.to_string())
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("/bin/sh: {e}"))?;
        let mut a = Azurite {
            endpoint: format!("http://127.0.0.1:{port}"),
            watchdog: Some(child),
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            // Any answer will do (an unsigned request is refused with a 403).
            if send(&a.endpoint, "GET", "/", &[], b"").is_ok() {
                return Ok(a);
            }
            let exited = a
                .watchdog
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                drop(a);
                let _ = std::fs::remove_dir_all(&dir);
                let why = if exited.is_some() {
                    "exited"
                } else {
                    "did not answer within 30 s"
                };
                return Err(format!(
                    "port {port}: Azurite {why}; its log:\n{}",
                    tail(&log, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A handle on a server already running at `endpoint` (`http://host:port`, as
    /// `DECKLE_TEST_AZURITE`): the helpers without a server to stop.
    pub fn at(endpoint: &str) -> Azurite {
        Azurite {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            watchdog: None,
        }
    }

    /// `http://127.0.0.1:PORT`: the blob service (path-style: the account is the
    /// first path segment).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The environment under which `object_store` (so Deckle) talks to this
    /// server, as [`ACCOUNT`] with the well-known key.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
            ("AZURITE_BLOB_STORAGE_URL", self.endpoint.clone()),
        ]
    }

    /// Create container `name` (creating one that exists succeeds again).
    pub fn create_container(&self, name: &str) {
        let r = self.call("PUT", name, None, &[("restype", "container")], &[], b"");
        assert!(
            r.status == 201
                || (r.status == 409 && r.error_code() == Some("ContainerAlreadyExists")),
            "create container {name} on {}: status {}: {}",
            self.endpoint,
            r.status,
            r.text()
        );
    }

    /// Store `body` as the block blob `key` in `container`.
    pub fn put(&self, container: &str, key: &str, body: &[u8]) {
        let r = self.call(
            "PUT",
            container,
            Some(key),
            &[],
            &[("x-ms-blob-type", "BlockBlob")],
            body,
        );
        assert_eq!(
            r.status,
            201,
            "put az://{container}/{key} on {}: {}",
            self.endpoint,
            r.text()
        );
    }

    /// The blob at `key` in `container`, or None when there is none. A missing
    /// container fails the test instead: it is a test's mistake, and None would
    /// pass an assertion that nothing was written for the wrong reason.
    pub fn get(&self, container: &str, key: &str) -> Option<Vec<u8>> {
        let r = self.call("GET", container, Some(key), &[], &[], b"");
        match (r.status, r.error_code()) {
            (200, _) => Some(r.body),
            (404, Some("BlobNotFound")) => None,
            (s, code) => panic!(
                "get az://{container}/{key} on {}: status {s} ({code:?}): {}",
                self.endpoint,
                r.text()
            ),
        }
    }

    /// The names of the blobs in `container` that start with `prefix`, in the
    /// service's (byte) order. One page of List Blobs, so at most 5000 names: more
    /// fails the test rather than silently listing part.
    pub fn list(&self, container: &str, prefix: &str) -> Vec<String> {
        let mut query = vec![("comp", "list"), ("restype", "container")];
        if !prefix.is_empty() {
            query.push(("prefix", prefix));
        }
        let r = self.call("GET", container, None, &query, &[], b"");
        let xml = r.text();
        assert_eq!(
            r.status, 200,
            "list az://{container}/{prefix} on {}: {xml}",
            self.endpoint
        );
        assert!(
            xml_values(&xml, "NextMarker").iter().all(|m| m.is_empty()),
            "list az://{container}/{prefix}: more than one page of blobs; list() does not follow markers"
        );
        xml_values(&xml, "Name")
    }

    /// One signed request for `container` (and blob `key`), with `query` (values
    /// unencoded) and extra `x-ms-*` headers.
    fn call(
        &self,
        method: &str,
        container: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        ms_headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut path = format!("/{ACCOUNT}/{}", encode(container));
        if let Some(key) = key {
            path = format!("{path}/{}", encode(key));
        }
        let mut headers: Vec<(String, String)> = ms_headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
            .collect();
        headers.push(("x-ms-date".into(), http_date(SystemTime::now())));
        headers.push(("x-ms-version".into(), API_VERSION.into()));
        let has_length = !body.is_empty() || !matches!(method, "GET" | "HEAD" | "DELETE");
        let text = string_to_sign(
            method,
            has_length.then_some(body.len()),
            &headers,
            &path,
            query,
        );
        let signature = sign(ACCOUNT_KEY, &text);
        headers.push((
            "Authorization".into(),
            format!("SharedKey {ACCOUNT}:{signature}"),
        ));
        if has_length {
            headers.push(("Content-Length".into(), body.len().to_string()));
        }
        let mut target = path;
        for (i, (k, v)) in query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(&format!("{k}={}", encode(v)));
        }
        send(&self.endpoint, method, &target, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {}{target}: {e}", self.endpoint))
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let Some(mut child) = self.watchdog.take() else {
            return;
        };
        // Closing stdin is the watchdog's signal to stop Azurite and remove its files.
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

/// The SharedKey string to sign for the emulator's path-style URLs: the standard
/// headers (only Content-Length is ever set here, and a zero length is signed as
/// empty), the `x-ms-*` headers sorted, then the canonicalized resource: the
/// account, then the request path as sent (which starts with the account again:
/// `/devstoreaccount1/devstoreaccount1/container/key`), then each query parameter
/// as `\nname:value`, sorted, values decoded. This is what Azurite (its
/// `BlobSharedKeyAuthenticator`) and the Azure spec compute.
fn string_to_sign(
    method: &str,
    content_length: Option<usize>,
    ms_headers: &[(String, String)],
    path: &str,
    query: &[(&str, &str)],
) -> String {
    let length = content_length
        .filter(|&n| n > 0)
        .map(|n| n.to_string())
        .unwrap_or_default();
    // Method, Content-Encoding, -Language, -Length, -MD5, -Type, Date,
    // If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range.
    let mut out = [method, "", "", &length, "", "", "", "", "", "", "", ""].join("\n");
    out.push('\n');
    let mut headers: Vec<&(String, String)> = ms_headers.iter().collect();
    headers.sort();
    for (name, value) in headers {
        out.push_str(&format!("{name}:{}\n", value.trim()));
    }
    out.push_str(&format!("/{ACCOUNT}{path}"));
    let mut query: Vec<(String, &str)> = query
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    query.sort();
    for (k, v) in query {
        out.push_str(&format!("\n{k}:{v}"));
    }
    out
}

/// Python's stdlib, not a crate, computes the signature: test-support stays free of
/// dependencies (a Cargo.lock change for every crate that tests with it) and of
/// hand-written cryptography, at the cost of a `python3` process per request,
/// which is cheap next to what the tests run (and `python3` is already what
/// `scripts/setup.sh` builds the test venv with).
const SIGN_PY: &str = "import base64, hashlib, hmac, sys; print(base64.b64encode(hmac.new(base64.b64decode(sys.argv[1]), sys.stdin.buffer.read(), hashlib.sha256).digest()).decode())";

/// Base64 of HMAC-SHA256(base64-decoded `key`, `text` as UTF-8).
fn sign(key: &str, text: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", SIGN_PY, key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 (signs the Azurite requests): {e}"));
    // A string to sign is well under a pipe's buffer: no deadlock writing it first.
    let written = child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes());
    let out = child.wait_with_output().expect("python3 ran");
    assert!(
        written.is_ok() && out.status.success(),
        "python3 signing failed ({:?}, {}): {}",
        written,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `t` as an HTTP date (RFC 1123, always GMT): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
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

/// The text of every `<tag>…</tag>` in `xml`, unescaped. Enough for List Blobs'
/// flat listing (the container's name is an attribute there, not a `<Name>`).
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

/// An HTTP response read by [`send`].
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// The service's error code (`BlobNotFound`, `ContainerAlreadyExists`, …).
    fn error_code(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-ms-error-code"))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request to `endpoint` (`http://host:port`), `path` sent as is. It is an
/// HTTP/1.0 request: Node then answers with the plain body up to the connection's
/// close (never chunked), so reading to the end is the whole response. An error is
/// a connection that failed or closed without a response.
fn send(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<Response> {
    let host = endpoint.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint}: only http:// is supported"),
        )
    })?;
    let host = host.split('/').next().unwrap_or(host);
    let mut stream = connect(host)?;
    stream.set_read_timeout(Some(READ_LIMIT))?;
    stream.set_write_timeout(Some(READ_LIMIT))?;
    let mut raw = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    stream.write_all(&raw)?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            invalid(format!(
                "no complete response head in {} bytes",
                received.len()
            ))
        })?;
    let head = String::from_utf8_lossy(&received[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = received[end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    if let Some(len) = length.filter(|_| method != "HEAD") {
        if body.len() < len {
            return Err(invalid(format!(
                "body cut short: {} of {len} bytes",
                body.len()
            )));
        }
        body.truncate(len);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_dates_requests_as_azure_specifies() {
        // RFC 4231's HMAC-SHA256 test case 2 (key "Jefe"), base64.
        assert_eq!(
            sign("SmVmZQ==", "what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "Thu, 29 Feb 2024 12:34:56 GMT"
        );
        let headers = vec![
            ("x-ms-version".to_string(), API_VERSION.to_string()),
            (
                "x-ms-date".to_string(),
                "Thu, 01 Jan 1970 00:00:00 GMT".to_string(),
            ),
        ];
        assert_eq!(
            string_to_sign(
                "GET",
                None,
                &headers,
                "/devstoreaccount1/c",
                &[("restype", "container"), ("prefix", "a b/"), ("comp", "list")]
            ),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Thu, 01 Jan 1970 00:00:00 GMT\nx-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/c\ncomp:list\nprefix:a b/\nrestype:container"
        );
        let put = string_to_sign("PUT", Some(0), &headers, "/devstoreaccount1/c", &[]);
        assert!(
            put.starts_with("PUT\n\n\n\n"),
            "a zero length is signed as empty: {put:?}"
        );
        let put = string_to_sign("PUT", Some(12), &headers, "/devstoreaccount1/c/k", &[]);
        assert!(put.starts_with("PUT\n\n\n12\n"), "{put:?}");
    }

    #[test]
    fn azurite_stores_lists_refuses_unsigned_requests_and_stops() {
        let azurite = Azurite::start();
        azurite.create_container("notebooks");
        azurite.create_container("notebooks");
        assert_eq!(azurite.get("notebooks", "runs/missing.ipynb"), None);
        assert_eq!(azurite.list("notebooks", ""), Vec::<String>::new());
        // Names that need encoding (space, `=`, `&`, `+`, non-ASCII) round-trip.
        let odd = "runs/date=2024-01-01/a b&c+é.ipynb";
        azurite.put("notebooks", "runs/one.ipynb", b"{\"cells\": []}");
        azurite.put("notebooks", odd, b"odd");
        azurite.put("notebooks", "other/two.ipynb", b"2");
        azurite.put("notebooks", "runs/empty.ipynb", b"");
        assert_eq!(
            azurite.get("notebooks", "runs/one.ipynb").as_deref(),
            Some(&b"{\"cells\": []}"[..])
        );
        assert_eq!(azurite.get("notebooks", odd).as_deref(), Some(&b"odd"[..]));
        assert_eq!(
            azurite.get("notebooks", "runs/empty.ipynb").as_deref(),
            Some(&b""[..])
        );
        assert_eq!(
            azurite.list("notebooks", "runs/"),
            vec![
                odd.to_string(),
                "runs/empty.ipynb".to_string(),
                "runs/one.ipynb".to_string()
            ]
        );
        assert_eq!(
            azurite.list("notebooks", "runs/date=2024-01-01/a b"),
            vec![odd.to_string()]
        );
        assert_eq!(azurite.list("notebooks", "").len(), 4);
        // Azurite checks the signature: the helpers' requests pass because they are
        // signed right, not because the emulator lets anything through.
        let path = format!("/{ACCOUNT}/notebooks/runs/one.ipynb");
        let unsigned = send(&azurite.endpoint(), "GET", &path, &[], b"").unwrap();
        assert_eq!(unsigned.status, 403, "{}", unsigned.text());
        let forged = vec![
            ("x-ms-date".to_string(), http_date(SystemTime::now())),
            ("x-ms-version".to_string(), API_VERSION.to_string()),
            (
                "Authorization".to_string(),
                format!("SharedKey {ACCOUNT}:{}", sign("SmVmZQ==", "GET")),
            ),
        ];
        let forged = send(&azurite.endpoint(), "GET", &path, &forged, b"").unwrap();
        assert_eq!(forged.status, 403, "{}", forged.text());
        assert_eq!(forged.error_code(), Some("AuthorizationFailure"));
        assert_eq!(
            azurite.env(),
            vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
                ("AZURITE_BLOB_STORAGE_URL", azurite.endpoint()),
            ]
        );
        let endpoint = azurite.endpoint();
        let port = endpoint.rsplit(':').next().unwrap();
        let dir =
            std::env::temp_dir().join(format!("deckle-azurite-{}-{port}", std::process::id()));
        assert!(
            dir.join("data").is_dir(),
            "{} holds the blobs",
            dir.display()
        );
        drop(azurite);
        assert!(
            send(&endpoint, "GET", "/", &[], b"").is_err(),
            "the server is gone once its handle drops"
        );
        // Removed only once Azurite's process has exited (not merely closed its port).
        assert!(!dir.exists(), "{} is removed", dir.display());
    }

    #[test]
    #[should_panic(expected = "ContainerNotFound")]
    fn a_missing_container_is_a_failure_not_a_missing_blob() {
        shared().get("no-such-container", "k");
    }
}
