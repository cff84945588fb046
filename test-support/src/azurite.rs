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

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::daemon::{Daemon, Server};
use crate::http::{self, encode, xml_values, Response};

/// The emulator's account, and its well-known key (public: it is in Microsoft's
/// docs, and every Azurite accepts it).
pub const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The REST API version the helpers speak (Azurite 3.37 serves it and older).
const API_VERSION: &str = "2021-08-06";
/// The response header naming the service's error (`BlobNotFound`, …).
const ERROR_CODE: &str = "x-ms-error-code";

/// Azurite's blob service. It answers about a second after starting on an idle
/// machine, and keeps the blobs in `data` under its directory.
const AZURITE: Server = Server {
    name: "Azurite",
    program: ".tools/azurite/node_modules/azurite/dist/src/blob/main.js",
    installed_by: "it installs azurite from npm into .tools/azurite",
    env: "DECKLE_TEST_AZURITE",
};

/// An Azure Blob Storage emulator for tests.
#[derive(Debug)]
pub struct Azurite(Daemon);

impl Azurite {
    /// Start a server of this test's own (stopped when the handle drops).
    pub fn start() -> Azurite {
        // `--disableTelemetry`: else Azurite reports to Application Insights, and with
        // no route there its process stays alive after "successfully closed" (until
        // the watchdog kills it 5 s later).
        Azurite(AZURITE.start(|sh, main_js, port, dir| {
            sh.arg("node")
                .arg(main_js)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(dir.join("data"))
                .args([
                    "--silent",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                ]);
        }))
    }

    /// A handle on a server already running at `endpoint` (`http://host:port`, as
    /// `DECKLE_TEST_AZURITE`): the helpers without a server to stop.
    pub fn at(endpoint: &str) -> Azurite {
        Azurite(Daemon::at(endpoint))
    }

    /// `http://127.0.0.1:PORT`: the blob service (path-style: the account is the
    /// first path segment).
    pub fn endpoint(&self) -> String {
        self.0.endpoint.clone()
    }

    /// The environment under which `object_store` (so Deckle) talks to this
    /// server, as [`ACCOUNT`] with the well-known key.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
            ("AZURITE_BLOB_STORAGE_URL", self.endpoint()),
        ]
    }

    /// Create container `name` (creating one that exists succeeds again).
    pub fn create_container(&self, name: &str) {
        let r = self.call("PUT", name, None, &[("restype", "container")], &[], b"");
        assert!(
            r.status == 201
                || (r.status == 409 && r.header(ERROR_CODE) == Some("ContainerAlreadyExists")),
            "create container {name} on {}: status {}: {}",
            self.0.endpoint,
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
            self.0.endpoint,
            r.text()
        );
    }

    /// The blob at `key` in `container`, or None when there is none. A missing
    /// container fails the test instead: it is a test's mistake, and None would
    /// pass an assertion that nothing was written for the wrong reason.
    pub fn get(&self, container: &str, key: &str) -> Option<Vec<u8>> {
        let r = self.call("GET", container, Some(key), &[], &[], b"");
        match (r.status, r.header(ERROR_CODE)) {
            (200, _) => Some(r.body),
            (404, Some("BlobNotFound")) => None,
            (s, code) => panic!(
                "get az://{container}/{key} on {}: status {s} ({code:?}): {}",
                self.0.endpoint,
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
            self.0.endpoint
        );
        assert!(
            xml_values(&xml, "NextMarker").iter().all(|m| m.is_empty()),
            "list az://{container}/{prefix}: more than one page of blobs; list() does not follow markers"
        );
        // The container's name is an attribute in a listing, not a `<Name>`.
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
        let length = http::content_length(method, body);
        let text = string_to_sign(method, length, &headers, &path, query);
        let signature = sign(ACCOUNT_KEY, &text);
        headers.push((
            "Authorization".into(),
            format!("SharedKey {ACCOUNT}:{signature}"),
        ));
        let mut target = path;
        for (i, (k, v)) in query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(&format!("{k}={}", encode(v)));
        }
        let endpoint = &self.0.endpoint;
        http::send(endpoint, method, &target, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {endpoint}{target}: {e}"))
    }
}

/// The server this test process shares (started on first use, never stopped: its
/// watchdog stops it when the process ends).
pub fn shared() -> &'static Azurite {
    static SHARED: OnceLock<Azurite> = OnceLock::new();
    SHARED.get_or_init(|| AZURITE.named_in_env().map_or_else(Azurite::start, Azurite))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        http::assert_store_round_trips(
            |key, body| azurite.put("notebooks", key, body),
            |key| azurite.get("notebooks", key),
            |prefix| azurite.list("notebooks", prefix),
        );
        // Azurite checks the signature: the helpers' requests pass because they are
        // signed right, not because the emulator lets anything through.
        let path = format!("/{ACCOUNT}/notebooks/runs/one.ipynb");
        let unsigned = http::send(&azurite.endpoint(), "GET", &path, &[], b"").unwrap();
        assert_eq!(unsigned.status, 403, "{}", unsigned.text());
        let forged = vec![
            ("x-ms-date".to_string(), http_date(SystemTime::now())),
            ("x-ms-version".to_string(), API_VERSION.to_string()),
            (
                "Authorization".to_string(),
                format!("SharedKey {ACCOUNT}:{}", sign("SmVmZQ==", "GET")),
            ),
        ];
        let forged = http::send(&azurite.endpoint(), "GET", &path, &forged, b"").unwrap();
        assert_eq!(forged.status, 403, "{}", forged.text());
        assert_eq!(forged.header(ERROR_CODE), Some("AuthorizationFailure"));
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
            http::send(&endpoint, "GET", "/", &[], b"").is_err(),
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
