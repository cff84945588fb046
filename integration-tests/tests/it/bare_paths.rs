//! Every command that takes a path accepts a bare file name, run from the file's
//! own folder (a bare name's parent is the empty path, which is no directory), and
//! a path error names the path it tried.

use std::path::Path;

use serde_json::Value;

use crate::cluster::{Server, Worker};
use crate::harness::*;

/// A copy of the `passing` workflow fixture and its notebooks in a fresh folder.
fn workflow_folder() -> tempfile::TempDir {
    let dir = tmp();
    let src = fixture("workflows");
    std::fs::copy(src.join("passing.yaml"), dir.path().join("workflow.yaml")).unwrap();
    std::fs::create_dir_all(dir.path().join("nb")).unwrap();
    for nb in ["emit.ipynb", "echo.ipynb"] {
        std::fs::copy(src.join("nb").join(nb), dir.path().join("nb").join(nb)).unwrap();
    }
    dir
}

#[test]
fn run_with_a_bare_workflow_file_name_from_its_own_folder() {
    let dir = workflow_folder();
    let o = deckle().current_dir(dir.path()).args(["run", "workflow.yaml", "--json", "--data", "state"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let run: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(run["run"]["status"], "succeeded", "{run:#}");
    for n in run["nodes"].as_array().unwrap() {
        assert_eq!(n["status"], "succeeded", "{n:#}");
        let nb = n["attempts"][0]["notebook"].as_str().unwrap();
        let nb = if Path::new(nb).is_absolute() { nb.into() } else { dir.path().join(nb) };
        assert!(nb.is_file(), "{}", nb.display());
    }
}

#[test]
fn validate_and_graph_take_a_bare_file_name() {
    let dir = workflow_folder();
    let o = deckle().current_dir(dir.path()).args(["validate", "workflow.yaml"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = deckle().current_dir(dir.path()).args(["graph", "--format", "mermaid", "workflow.yaml"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("emit"), "{}", String::from_utf8_lossy(&o.stdout));
    // A notebook linked from outside the folder is still caught with a bare name
    // (the check used to canonicalize the empty path and give up).
    let outside = tmp();
    std::fs::copy(dir.path().join("nb/emit.ipynb"), outside.path().join("emit.ipynb")).unwrap();
    std::fs::remove_file(dir.path().join("nb/emit.ipynb")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("emit.ipynb"), dir.path().join("nb/emit.ipynb")).unwrap();
    let o = deckle().current_dir(dir.path()).args(["validate", "workflow.yaml"]).output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("outside the workflow's directory"), "{}", stderr(&o));
}

#[test]
fn execute_with_bare_file_names_everywhere() {
    let dir = tmp();
    std::fs::copy(fixture("params.ipynb"), dir.path().join("in.ipynb")).unwrap();
    std::fs::write(dir.path().join("p.yaml"), "i: 5\n").unwrap();
    let o = deckle()
        .current_dir(dir.path())
        .args(["execute", "--no-progress-bar", "in.ipynb", "out.ipynb", "-f", "p.yaml", "--outputs-file", "o.json", "--stdout-file", "so.txt", "--cwd", "."])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for f in ["out.ipynb", "o.json", "so.txt"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    assert_eq!(read_nb(&dir.path().join("out.ipynb"))["metadata"]["papermill"]["parameters"]["i"], 5);
}

#[test]
fn a_working_directory_that_is_missing_is_named() {
    let dir = tmp();
    let o = deckle()
        .current_dir(dir.path())
        .args(["execute", "--no-progress-bar"])
        .arg(fixture("params.ipynb"))
        .args(["out.ipynb", "--cwd", "no-such-dir"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no-such-dir: the working directory (--cwd) does not exist"), "{}", stderr(&o));
}

#[test]
fn register_and_pull_take_bare_file_names() {
    let dir = workflow_folder();
    let server = Server::start(&dir.path().join("data"), &[]);
    let _w = Worker::start(&server, "w1", &[]);
    let cli = |args: &[&str]| deckle().current_dir(dir.path()).args(args).env("DECKLE_SERVER", &server.url).env_remove("DECKLE_TOKEN").output().unwrap();
    let o = cli(&["register", "workflow.yaml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = cli(&["trigger", "passing", "--wait", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let run: Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = run["run"]["id"].as_str().or_else(|| run["id"].as_str()).unwrap_or_else(|| panic!("{run:#}")).to_string();
    let o = cli(&["pull", &id, "echo", "-o", "echo.ipynb"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_nb(&dir.path().join("echo.ipynb"))["metadata"]["papermill"]["exception"], Value::Null);
}
