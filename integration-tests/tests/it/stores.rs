//! What the object-storage suites (`object_storage.rs` against S3, `azure_storage.rs`
//! against Azure) check alike: notebooks left in a data dir, the bytes a server
//! serves, and waiting for uploads.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::Server;
use crate::harness::files_under;

/// A bucket or container name no other test uses: S3's and Azure's rules alike
/// (3 to 63 lowercase letters, digits and hyphens).
pub fn unique_name(what: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}-{:x}-{:x}", std::process::id(), n & 0xffff_ffff)
}

/// An environment as `Server::start_with_env` and `Worker::start_with_env` take it.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `bytes` as a notebook.
pub fn nb(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("a notebook")
}

/// Every `.ipynb` under `dir`: what a data dir still stages.
pub fn staged(dir: &Path) -> Vec<String> {
    files_under(dir).into_iter().filter(|p| p.extension().is_some_and(|x| x == "ipynb")).map(|p| p.display().to_string()).collect()
}

/// Polls `cond` every 100 ms until it holds; fails the test after `within`.
pub fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The notebook of `run`/`node_id` attempt 1 as `server` serves it.
pub fn served(server: &Server, run: &str, node_id: &str) -> Vec<u8> {
    let url = format!("{}/api/v1/runs/{run}/nodes/{node_id}/attempts/1/notebook", server.url);
    let r = reqwest::blocking::get(&url).unwrap();
    assert_eq!(r.status().as_u16(), 200, "{url}");
    r.bytes().unwrap().to_vec()
}
