//! Secrets reach the kernel only through its environment, and their values appear
//! nowhere the system writes: not in a data dir (sled files read raw), a worker's
//! cache, a log at debug level, the output of `deckle run` or the CLI, nor any API
//! response or UI page about the run.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{code, deckle, fixture, read_nb, stderr, tmp};

const WORKFLOW: &str = "secrets.yaml";
const NODE: &str = "use_key";

/// A value no fixture or binary contains by chance.
fn unique_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.write_u32(std::process::id());
    format!("s3cr3t-{:016x}-{:08x}", h.finish(), std::process::id())
}

/// Everything looked at, and where the secret turned up.
struct Scan {
    secret: Vec<u8>,
    files: usize,
    sources: usize,
    bytes: u64,
    leaks: Vec<String>,
}

impl Scan {
    fn new(secret: &str) -> Scan {
        Scan { secret: secret.as_bytes().to_vec(), files: 0, sources: 0, bytes: 0, leaks: Vec::new() }
    }

    fn bytes(&mut self, what: &str, data: &[u8]) {
        self.sources += 1;
        self.bytes += data.len() as u64;
        if data.windows(self.secret.len()).any(|w| w == self.secret.as_slice()) {
            self.leaks.push(what.to_string());
        }
    }

    fn output(&mut self, what: &str, o: &Output) {
        self.bytes(&format!("{what} (stdout)"), &o.stdout);
        self.bytes(&format!("{what} (stderr)"), &o.stderr);
    }

    /// Every regular file under `root`, raw.
    fn dir(&mut self, root: &Path) {
        let Ok(entries) = std::fs::read_dir(root) else { return };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(md) = std::fs::symlink_metadata(&path) else { continue };
            if md.is_dir() {
                self.dir(&path);
            } else if md.is_file() {
                if let Ok(data) = std::fs::read(&path) {
                    self.files += 1;
                    self.bytes(&path.display().to_string(), &data);
                }
            }
        }
    }

    /// GET `path` raw (no token), expecting `status`.
    fn get(&mut self, http: &reqwest::blocking::Client, base: &str, path: &str, status: u16) -> Vec<u8> {
        let resp = http.get(format!("{base}{path}")).timeout(Duration::from_secs(60)).send().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let got = resp.status().as_u16();
        let body = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
        assert_eq!(got, status, "GET {path}: {}", String::from_utf8_lossy(&body));
        self.bytes(&format!("GET {path}"), &body);
        body
    }

    fn assert_clean(&self, what: &str) {
        // The scan itself finds what it looks for.
        let mut control = Scan::new(std::str::from_utf8(&self.secret).unwrap());
        control.bytes("control", format!("x{}y", std::str::from_utf8(&self.secret).unwrap()).as_bytes());
        assert_eq!(control.leaks.len(), 1);
        eprintln!("{what}: scanned {} sources ({} files), {} bytes", self.sources, self.files, self.bytes);
        assert!(self.sources > 0 && self.bytes > 0, "{what}: nothing scanned");
        assert!(self.leaks.is_empty(), "{what}: the secret leaked into:\n  {}", self.leaks.join("\n  "));
    }
}

/// The environment for every Deckle process of a test: debug logs, and scratch
/// (kernel dirs in `TMPDIR`, IPython's history) inside `root`, so the scan sees it.
fn scratch_env(root: &Path) -> Vec<(&'static str, String)> {
    let (tmp, ipython) = (root.join("scratch-tmp"), root.join("scratch-ipython"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&ipython).unwrap();
    vec![("DECKLE_LOG", "debug".into()), ("TMPDIR", tmp.display().to_string()), ("IPYTHONDIR", ipython.display().to_string())]
}

/// The notebook got the secret: its recorded outputs say so without containing it.
fn assert_used(outputs: &Value, secret: &str) {
    assert_eq!(outputs["secret_len"], secret.len(), "{outputs}");
    assert_eq!(outputs["matches_env"], true, "{outputs}");
    assert_eq!(outputs["masked"], format!("{}{}", &secret[..3], "*".repeat(secret.len() - 3)), "{outputs}");
    assert_eq!(outputs["label_seen"], "plain", "{outputs}");
}

/// The output notebook reads the secret from the environment, by name only.
fn assert_injected(nb: &Value) {
    let injected = nb["cells"].as_array().unwrap().iter().find(|c| c["metadata"]["tags"].to_string().contains("injected-parameters")).expect("an injected cell");
    let src = crate::harness::join(&injected["source"]);
    assert!(src.contains("import os\n") && src.contains("api_key = os.environ.get(\"DECKLE_SECRET_API_KEY\")"), "{src}");
    assert_eq!(nb["metadata"]["papermill"]["parameters"], json!({"label": "plain"}));
}

#[test]
fn a_secret_never_leaves_the_kernel_environment_with_deckle_run() {
    let secret = unique_secret();
    let dir = tmp();
    let data = dir.path().join("data");
    let file = fixture("secrets").join(WORKFLOW);
    let mut scan = Scan::new(&secret);
    let env = scratch_env(dir.path());
    let run = |json: bool| {
        let mut cmd = deckle();
        cmd.arg("run");
        if json {
            cmd.arg("--json");
        }
        cmd.arg("--data").arg(&data).arg(&file).args(["-p", &format!("api_key={secret}")]).envs(env.iter().map(|(k, v)| (*k, v))).current_dir(dir.path());
        cmd.output().unwrap()
    };
    let o = run(true);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    scan.output("deckle run --json", &o);
    let detail: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(detail["run"]["status"], "succeeded");
    let n = node(&detail, NODE);
    assert_used(&n["outputs"], &secret);
    assert_injected(&read_nb(Path::new(n["attempts"][0]["notebook"].as_str().unwrap())));
    assert!(stderr(&o).contains("DEBUG"), "DECKLE_LOG=debug gives a verbose log: {}", stderr(&o));

    let o = run(false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    scan.output("deckle run", &o);

    scan.dir(dir.path());
    scan.dir(&fixture("secrets"));
    scan.assert_clean("deckle run");
}

#[test]
fn a_secret_never_leaves_the_kernel_environment_through_server_and_worker() {
    let secret = unique_secret();
    let dir = tmp();
    let env = scratch_env(dir.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::start_with_env(&dir.path().join("data"), &[], &env);
    let mut worker = Worker::start_with_env(&server, "wsecret", &["--slots", "1"], &env);
    let mut scan = Scan::new(&secret);
    server.register_from(&fixture("secrets").join(WORKFLOW));

    // Through the API.
    let (status, body) = server.client().post("/api/v1/workflows/secrets/runs", &json!({"params": {"api_key": secret}}));
    assert_eq!(status, 201, "{body}");
    scan.bytes("POST /api/v1/workflows/secrets/runs", body.to_string().as_bytes());
    let run_api = body["id"].as_str().unwrap().to_string();
    let detail = server.wait_finished(&run_api, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", worker.log());
    assert_used(&node(&detail, NODE)["outputs"], &secret);

    // Through the CLI.
    let cli = |args: &[&str]| -> Output {
        deckle().args(args).env("DECKLE_SERVER", &server.url).envs(env.iter().copied()).env_remove("DECKLE_TOKEN").current_dir(dir.path()).output().expect("running deckle")
    };
    let o = cli(&["trigger", "secrets", "-p", &format!("api_key={secret}"), "--wait"]);
    assert_eq!(code(&o), 0, "{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    scan.output("deckle trigger --wait", &o);
    let o = cli(&["trigger", "secrets", "-p", &format!("api_key={secret}"), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    scan.output("deckle trigger --json", &o);
    let run_json: Value = serde_json::from_slice(&o.stdout).unwrap();
    let run_cli = run_json["id"].as_str().unwrap().to_string();
    let detail = server.wait_finished(&run_cli, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert_used(&node(&detail, NODE)["outputs"], &secret);
    for args in [
        vec!["status", &run_cli],
        vec!["status", &run_cli, "--json"],
        vec!["logs", &run_cli, NODE],
        vec!["runs"],
        vec!["runs", "--json"],
        vec!["workflows"],
        vec!["pull", &run_cli, NODE, "-o", "-"],
    ] {
        let o = cli(&args);
        assert_eq!(code(&o), 0, "deckle {args:?}: {}", stderr(&o));
        scan.output(&format!("deckle {}", args.join(" ")), &o);
    }

    // Every GET about the runs, API and UI.
    let http = reqwest::blocking::Client::new();
    let base = server.url.clone();
    for run in [&run_api, &run_cli] {
        scan.get(&http, &base, &format!("/api/v1/runs/{run}"), 200);
        scan.get(&http, &base, &format!("/api/v1/runs/{run}/nodes/{NODE}/log"), 200);
        let nb = scan.get(&http, &base, &format!("/api/v1/runs/{run}/nodes/{NODE}/attempts/1/notebook"), 200);
        assert_injected(&serde_json::from_slice(&nb).unwrap());
        scan.get(&http, &base, &format!("/runs/{run}"), 200);
        scan.get(&http, &base, &format!("/runs/{run}/nodes/{NODE}/attempts/1"), 200);
        scan.get(&http, &base, &format!("/ui/runs/{run}/events"), 200);
        for i in 0..50 {
            let resp = http.get(format!("{base}/ui/runs/{run}/nodes/{NODE}/attempts/1/frames/{i}")).send().unwrap();
            if resp.status().as_u16() != 200 {
                break;
            }
            let body = resp.bytes().unwrap();
            scan.bytes(&format!("GET frame {i} of {run}"), &body);
        }
    }
    for path in ["/api/v1/runs", "/api/v1/workflows", "/api/v1/workflows/secrets", "/api/v1/backfills", "/api/v1/openapi.json", "/metrics", "/", "/workflows/secrets", "/backfills"] {
        scan.get(&http, &base, path, 200);
    }

    // Then every byte on disk: data dir (sled raw), worker cache, both logs.
    // Stopped as an operator would, so sled flushes everything it holds.
    assert!(worker.terminate(Duration::from_secs(30)).is_some(), "the worker exits on SIGTERM");
    assert!(server.terminate(Duration::from_secs(30)).is_some(), "the server exits on SIGTERM");
    let (slog, wlog) = (server.log(), worker.log());
    assert!(slog.contains("DEBUG") && wlog.contains("DEBUG"), "debug logging is on:\n{slog}\n{wlog}");
    scan.dir(dir.path());
    scan.dir(&fixture("secrets"));
    assert!(scan.files >= 3, "the data dir, logs and cache were scanned");
    scan.assert_clean("server and worker");
}
