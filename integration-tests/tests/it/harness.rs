//! The small harness every test uses: paths, the venv, and commands for `deckle`,
//! `papermill` and `python` with the venv's environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("integration-tests/fixtures").join(name)
}

/// The test venv; fails loudly when it has not been built.
pub fn venv() -> PathBuf {
    let v = repo_root().join(".venv");
    assert!(
        v.join("bin/papermill").is_file() && v.join("share/jupyter/kernels/bash/kernel.json").is_file(),
        "the test venv is missing or incomplete at {}: run `scripts/setup.sh --test` (the README's test command does)",
        v.display()
    );
    v
}

/// The `deckle` binary, built once per test run (a no-op when it is fresh).
pub fn deckle_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe path");
        // target/<profile>/deps/it-<hash> → target/<profile>/deckle
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir").to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.current_dir(repo_root()).args(["build", "--quiet", "-p", "deckle", "--bin", "deckle"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo build");
        assert!(status.success(), "cargo build of the deckle binary failed");
        profile_dir.join("deckle")
    })
}

/// A command with the venv's environment, as a user who activated it would have.
/// `IPYTHONDIR` is private to the test run so no user profile or history leaks in.
fn with_venv(mut cmd: Command) -> Command {
    let venv = venv();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(&path));
    let ipython = repo_root().join("target/it-ipython");
    let _ = std::fs::create_dir_all(&ipython);
    cmd.env("PATH", std::env::join_paths(paths).expect("PATH"))
        .env("VIRTUAL_ENV", &venv)
        .env("IPYTHONDIR", ipython)
        .env("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        .env_remove("JUPYTER_PATH")
        .env_remove("DECKLE_LOG");
    cmd
}

pub fn deckle() -> Command {
    with_venv(Command::new(deckle_bin()))
}

/// `deckle execute --no-progress-bar INPUT OUT ARGS…`, run to completion.
pub fn execute(input: &Path, out: &Path, args: &[&str]) -> Output {
    deckle().args(["execute", "--no-progress-bar"]).arg(input).arg(out).args(args).output().expect("running deckle")
}

pub fn papermill() -> Command {
    let mut c = with_venv(Command::new(venv().join("bin/papermill")));
    c.arg("--no-progress-bar");
    c
}

pub fn python() -> Command {
    with_venv(Command::new(venv().join("bin/python")))
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Read a notebook written by us or by papermill. Python's `json` writes bare
/// `NaN`/`Infinity` (papermill records nan parameters that way); they become null
/// so both can be compared as strict JSON.
pub fn read_nb(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let strict = regex_lite_replace(&text);
    serde_json::from_str(&strict).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn regex_lite_replace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        let replaced = ["-Infinity", "Infinity", "NaN"].iter().find_map(|tok| {
            let stripped = t.strip_suffix(',').unwrap_or(t);
            (stripped.ends_with(&format!(": {tok}")) || stripped.trim() == *tok).then(|| line.replacen(tok, "null", 1))
        });
        out.push_str(&replaced.unwrap_or_else(|| line.to_string()));
    }
    out
}

/// The text of a cell's stream outputs of one name, joined (kernels may split a
/// stream into messages differently from run to run).
pub fn stream_text(cell: &Value, name: &str) -> String {
    cell["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["output_type"] == "stream" && o["name"] == name)
        .map(|o| join(&o["text"]))
        .collect()
}

/// A multi-line notebook field as one string.
pub fn join(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

pub fn cells(nb: &Value) -> &Vec<Value> {
    nb["cells"].as_array().expect("cells")
}

/// Processes whose command line mentions `marker` (the kernels of one test run
/// carry their private TMPDIR in the connection-file path).
pub fn processes_mentioning(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

/// The parent pid of `pid`, from /proc.
fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may contain spaces, so split after the ')'.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

pub fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Every process below `root`, at any depth.
pub fn descendants(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()).filter_map(|p| Some((p, ppid(p)?))).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (child, parent) in &all {
            if *parent == p && !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
