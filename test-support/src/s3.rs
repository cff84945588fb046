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
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::daemon::{free_port, Daemon, Server};
pub use crate::http::Response;
use crate::http::{self, connect, encode, find, host_port, xml_values};

/// moto in server mode.
const MOTO: Server = Server {
    name: "moto_server",
    program: ".venv/bin/moto_server",
    installed_by: "python/requirements-test.txt has moto[server]",
    env: "DECKLE_TEST_MOTO",
};

/// An S3-compatible server for tests.
#[derive(Debug)]
pub struct Moto(Daemon);

impl Moto {
    /// Start a server of this test's own (stopped when the handle drops).
    pub fn start() -> Moto {
        Moto(MOTO.start(|sh, moto, port, _dir| {
            sh.arg(moto)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        }))
    }

    /// A handle on a server already running at `endpoint` (`http://host:port`, as
    /// `DECKLE_TEST_MOTO`, or a [`Proxy`]'s): the helpers without a server to stop.
    pub fn at(endpoint: &str) -> Moto {
        Moto(Daemon::at(endpoint))
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give an S3 client (path-style).
    pub fn endpoint(&self) -> String {
        self.0.endpoint.clone()
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
            self.0.endpoint,
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
            self.0.endpoint,
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
                self.0.endpoint,
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
            self.0.endpoint
        );
        assert!(!xml.contains("<IsTruncated>true</IsTruncated>"), "list s3://{bucket}/{prefix}: more than one page of keys; list() does not follow continuation tokens");
        xml_values(&xml, "Key")
    }

    fn call(&self, method: &str, path: &str, body: &[u8]) -> Response {
        request(&self.0.endpoint, method, path, body)
            .unwrap_or_else(|e| panic!("{method} {}{path}: {e}", self.0.endpoint))
    }
}

/// The server this test process shares (started on first use, never stopped: its
/// watchdog stops it when the process ends).
pub fn shared() -> &'static Moto {
    static SHARED: OnceLock<Moto> = OnceLock::new();
    SHARED.get_or_init(|| MOTO.named_in_env().map_or_else(Moto::start, Moto))
}

/// `/bucket/key`, percent-encoded.
fn object_path(bucket: &str, key: &str) -> String {
    format!("/{}/{}", encode(bucket), encode(key))
}

/// Sent with every [`request`]. moto serves an object to a request without an
/// `Authorization` header only when the object's ACL is public-read (so an object
/// an SDK wrote would answer 403), and it reads the service and region from this
/// header's credential scope (a value without one answers 500). It checks no
/// signature, and an access key it has not issued (`testing`) maps to its default
/// account, the same one any client with made-up credentials lands in.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// One HTTP/1.1 request to `endpoint` (`http://host:port`, any path after it
/// ignored): `path` is sent as is, so percent-encode it first. It carries a made-up
/// AWS `Authorization` (see [`Moto`]) and `Connection: close`; the response is read
/// to the end. An error is a connection that failed or closed without a response.
pub fn request(endpoint: &str, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
    let authorization = [("Authorization".to_string(), AUTHORIZATION.to_string())];
    http::send(endpoint, method, path, &authorization, body)
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
    fn moto_stores_lists_and_stops() {
        let moto = Moto::start();
        moto.create_bucket("notebooks");
        http::assert_store_round_trips(
            |key, body| moto.put("notebooks", key, body),
            |key| moto.get("notebooks", key),
            |prefix| moto.list("notebooks", prefix),
        );
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
