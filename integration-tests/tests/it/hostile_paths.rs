//! Path traversal against every route that takes a path segment, sent raw over TCP
//! so no client library tidies the `..` away first: nothing outside what the
//! server means to serve comes back, and nothing is a 5xx.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::cluster::{Server, Worker};
use crate::harness::tmp;

/// One raw GET; returns the status and the whole response.
fn raw_get(server: &Server, path: &str) -> (u16, String) {
    let addr = server.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

const PAYLOADS: &[&str] = &[
    "..%2F..%2F..%2Fsecret.txt",
    "%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
    "%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "../../../secret.txt",
    "..%5C..%5C..%5Csecret.txt",
    "....%2F%2F....%2F%2Fsecret.txt",
    "..%252F..%252F..%252Fsecret.txt",
    "%2Fetc%2Fpasswd",
    "..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "secret.txt%00.ipynb",
    "%C0%AE%C0%AE%2Fsecret.txt",
    "state%2Fdb",
    "..%2Fstate%2Fdb",
    "blobs%2F..%2F..%2Fsecret.txt",
];

#[test]
fn traversal_in_any_path_segment_serves_nothing_outside_and_never_fails_the_server() {
    let dir = tmp();
    let data = dir.path().join("data");
    let marker = format!("deckle-traversal-marker-{}", std::process::id());
    std::fs::create_dir_all(data.join("artifacts")).unwrap();
    for p in [dir.path().join("secret.txt"), data.join("secret.txt"), data.join("artifacts/secret.txt")] {
        std::fs::write(p, &marker).unwrap();
    }
    let server = Server::start(&data, &[]);
    let _w = Worker::start(&server, "w1", &["--slots", "1"]);
    server.register("one.yaml");
    let run = server.trigger("one", json!({}));
    assert_eq!(server.wait_finished(&run, Duration::from_secs(120))["run"]["status"], "succeeded");
    let (s, _) = raw_get(&server, &format!("/api/v1/runs/{run}/nodes/only/attempts/1/notebook"));
    assert_eq!(s, 200, "the real notebook is served");

    let templates = [
        "/api/v1/blobs/{}",
        "/api/v1/workflows/{}",
        "/api/v1/backfills/{}",
        "/api/v1/runs/{}",
        "/api/v1/runs/{}/nodes/only/log",
        "/api/v1/runs/RUN/nodes/{}/log",
        "/api/v1/runs/{}/nodes/only/attempts/1/notebook",
        "/api/v1/runs/RUN/nodes/{}/attempts/1/notebook",
        "/api/v1/runs/RUN/nodes/only/attempts/{}/notebook",
        "/runs/{}",
        "/workflows/{}",
        "/backfills/{}",
        "/runs/RUN/nodes/{}/attempts/1",
        "/ui/runs/RUN/nodes/{}/attempts/1/frames/0",
        "/ui/runs/RUN/nodes/only/attempts/1/frames/{}",
        "/ui/{}",
        "/{}",
    ];
    let mut cases = 0;
    for t in templates {
        for p in PAYLOADS {
            let path = t.replace("RUN", &run).replace("{}", p);
            let (status, text) = raw_get(&server, &path);
            cases += 1;
            assert!(!text.contains(&marker), "{path}: served a file outside:\n{text}");
            assert!(!text.contains("root:x:0:0"), "{path}: served /etc/passwd");
            assert!((400..500).contains(&status), "{path}: {status}\n{text}");
        }
    }
    assert_eq!(cases, templates.len() * PAYLOADS.len());
    eprintln!("{cases} traversal requests refused");
}
