//! A coordinator and workers as real processes on loopback, and a small blocking
//! HTTP client for the API.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{deckle, fixture};

fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn terminate(child: &mut Child, within: Duration) -> Option<i32> {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// `deckle server` on 127.0.0.1 with a data dir of its own.
pub struct Server {
    child: Child,
    pub url: String,
    pub data: PathBuf,
    log: PathBuf,
    args: Vec<String>,
    pub token: Option<String>,
    env: Vec<(String, String)>,
}

fn wait_for_line(log: &Path, needle: &str, within: Duration) -> String {
    let until = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        // Only whole lines: the server may be half-way through writing this one.
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        if let Some(line) = whole.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        assert!(Instant::now() < until, "no {needle:?} in {} within {within:?}:\n{text}", log.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Server {
    /// Start on a free port. `args` are extra flags (`--token-file`, `--lease-ttl`…).
    pub fn start(data: &Path, args: &[&str]) -> Server {
        Self::start_with_env(data, args, &[])
    }

    /// [`Server::start`] with extra environment (`DECKLE_LOG` is `info` unless set here).
    pub fn start_with_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self::spawn(data, "127.0.0.1:0", args.iter().map(|s| s.to_string()).collect(), 0, env)
    }

    /// A second (third…) server on the same data dir, as coordinators sharing one
    /// database share it: its log is `DATA.server<generation>.log`.
    pub fn start_beside(data: &Path, generation: usize, args: &[&str]) -> Server {
        Self::spawn(data, "127.0.0.1:0", args.iter().map(|s| s.to_string()).collect(), generation, Vec::new())
    }

    /// `/api/v1/health`'s `coordinator` part (role, epoch, leader_url), or Null.
    /// Null while the server does not answer (it may be starting over).
    pub fn coordinator(&self) -> Value {
        let got = reqwest::blocking::Client::new().get(format!("{}/api/v1/health", self.url)).timeout(Duration::from_secs(5)).send().and_then(|r| r.json::<Value>());
        got.map(|h| h["coordinator"].clone()).unwrap_or(Value::Null)
    }

    fn spawn(data: &Path, listen: &str, args: Vec<String>, generation: usize, env: Vec<(String, String)>) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let log = data.with_extension(format!("server{generation}.log"));
        let child = deckle()
            .args(["server", "--data"])
            .arg(data)
            .args(["--listen", listen])
            .args(&args)
            .env("DECKLE_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting deckle server");
        let line = wait_for_line(&log, "listening on http://", Duration::from_secs(30));
        let url = line.split("listening on ").nth(1).and_then(|s| s.split_whitespace().next()).expect("url").to_string();
        let token = args.iter().position(|a| a == "--token-file").map(|i| std::fs::read_to_string(&args[i + 1]).unwrap().trim().to_string());
        Server { child, url, data: data.to_path_buf(), log, args, token, env }
    }

    /// SIGKILL, as a crash: no chance to flush or say goodbye.
    pub fn kill9(&mut self) {
        kill9(&mut self.child);
    }

    /// SIGTERM, then wait for the exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        terminate(&mut self.child, within)
    }

    /// Start again on the same address and data dir (workers keep their URL).
    pub fn restart(&mut self, generation: usize) {
        let listen = self.url.trim_start_matches("http://").to_string();
        let next = Self::spawn(&self.data, &listen, self.args.clone(), generation, self.env.clone());
        // The old process was reaped by kill9; dropping it again is harmless.
        drop(std::mem::replace(self, next));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn client(&self) -> Api {
        Api { url: self.url.clone(), token: self.token.clone(), http: reqwest::blocking::Client::new() }
    }

    /// Register a fixture workflow (from `fixtures/cluster`) and the notebooks it names.
    pub fn register(&self, file: &str) -> Value {
        self.register_from(&fixture("cluster").join(file))
    }

    /// Register a workflow file from anywhere, with the notebooks beside it.
    pub fn register_from(&self, file: &Path) -> Value {
        let (status, body) = self.client().post("/api/v1/workflows", &registration(file));
        assert_eq!(status, 201, "registering {}: {body}", file.display());
        body
    }

    pub fn trigger(&self, workflow: &str, params: Value) -> String {
        let (status, body) = self.client().post(&format!("/api/v1/workflows/{workflow}/runs"), &json!({"params": params}));
        assert_eq!(status, 201, "triggering {workflow}: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub fn run(&self, run_id: &str) -> Value {
        let (status, body) = self.client().get(&format!("/api/v1/runs/{run_id}"));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Poll until `done` holds for the run detail, or fail after `within`.
    pub fn wait_until(&self, run_id: &str, within: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + within;
        loop {
            let detail = self.run(run_id);
            if done(&detail) {
                return detail;
            }
            assert!(Instant::now() < until, "{what}: not within {within:?}; run: {detail:#}\nserver log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Start a backfill of `workflow` (`body`: `from`, `to`, `parallel` …) and wait
    /// until it is no longer running; its id.
    pub fn backfill_to_end(&self, workflow: &str, body: Value, within: Duration) -> String {
        let (status, bf) = self.client().post(&format!("/api/v1/workflows/{workflow}/backfills"), &body);
        assert_eq!(status, 201, "{bf}");
        let id = bf["id"].as_str().expect("a backfill id").to_string();
        let until = std::time::Instant::now() + within;
        while self.client().get(&format!("/api/v1/backfills/{id}")).1["status"] == "running" {
            assert!(std::time::Instant::now() < until, "backfill {id} did not finish within {within:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(300));
        }
        id
    }

    pub fn wait_finished(&self, run_id: &str, within: Duration) -> Value {
        self.wait_until(run_id, within, "run finished", |d| ["succeeded", "failed", "cancelled"].iter().any(|s| d["run"]["status"] == *s))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        kill9(&mut self.child);
    }
}

/// The registration body for a workflow file: it and every notebook beside it.
pub fn registration(file: &Path) -> Value {
    let dir = file.parent().unwrap();
    let mut files = serde_json::Map::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ipynb") {
            files.insert(name, Value::String(std::fs::read_to_string(e.path()).unwrap()));
        }
    }
    json!({
        "file_name": file.file_name().unwrap().to_string_lossy(),
        "content": std::fs::read_to_string(file).unwrap(),
        "files": files,
    })
}

pub struct Api {
    pub url: String,
    pub token: Option<String>,
    http: reqwest::blocking::Client,
}

impl Api {
    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_string);
        self
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> (u16, Value) {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.timeout(Duration::from_secs(60)).send().expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.url)))
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.url)).json(body))
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.url)).header("content-type", content_type).body(body))
    }

    pub fn put_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        self.send(self.http.put(format!("{}{path}", self.url)).header("content-type", "application/json").body(body))
    }
}

/// `deckle worker` against a server, with the test venv's kernels.
pub struct Worker {
    child: Child,
    pub name: String,
    log: PathBuf,
}

impl Worker {
    pub fn start(server: &Server, name: &str, args: &[&str]) -> Worker {
        Self::start_with_env(server, name, args, &[])
    }

    /// [`Worker::start`] with extra environment (`DECKLE_LOG` is `info` unless set
    /// here). Its log and cache dir are beside the server's data dir
    /// (`DATA.NAME.log`, `DATA.NAME.cache`).
    pub fn start_with_env(server: &Server, name: &str, args: &[&str], env: &[(&str, &str)]) -> Worker {
        Self::start_at(server, &server.url, name, args, env)
    }

    /// [`Worker::start_with_env`] with `--server urls` (several coordinators,
    /// comma-separated); logs beside `server`'s data dir.
    pub fn start_at(server: &Server, urls: &str, name: &str, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let log = server.data.with_extension(format!("{name}.log"));
        let cache = server.data.with_extension(format!("{name}.cache"));
        let mut cmd = deckle();
        cmd.args(["worker", "--server", urls, "--name", name, "--cache"])
            .arg(&cache)
            .args(args)
            .env("DECKLE_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(t) = &server.token {
            cmd.env("DECKLE_TOKEN", t);
        }
        let child = cmd.spawn().expect("starting deckle worker");
        Worker { child, name: name.to_string(), log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill9(&mut self) {
        kill9(&mut self.child);
    }

    /// SIGTERM, then wait for the exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        terminate(&mut self.child, within)
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        kill9(&mut self.child);
    }
}

/// A node record of a run detail, by `node` or `node.N`.
pub fn node<'a>(detail: &'a Value, key: &str) -> &'a Value {
    detail["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| match n["index"].as_u64() {
            Some(i) => format!("{}.{i}", n["node"].as_str().unwrap()) == key,
            None => n["node"] == key,
        })
        .unwrap_or_else(|| panic!("no node {key} in {detail:#}"))
}
