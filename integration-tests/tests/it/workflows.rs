//! `deckle run` end to end: real kernels, real sled, real notebooks.

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::*;

fn workflow(name: &str) -> std::path::PathBuf {
    fixture(&format!("workflows/{name}"))
}

/// `deckle run FILE --json --data DIR ARGS…` → (exit code, run JSON, stderr).
pub(crate) fn run(file: &Path, data: &Path, args: &[&str]) -> (i32, Value, String) {
    let o = deckle().args(["run", "--json", "--data"]).arg(data).arg(file).args(args).output().unwrap();
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (code(&o), json, stderr(&o))
}

/// The node record `key` (`node` or `node.3`).
pub(crate) fn node<'a>(run: &'a Value, key: &str) -> &'a Value {
    run["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| {
            let k = match n["index"].as_u64() {
                Some(i) => format!("{}.{i}", n["node"].as_str().unwrap()),
                None => n["node"].as_str().unwrap().to_string(),
            };
            k == key
        })
        .unwrap_or_else(|| panic!("no node {key} in {run:#}"))
}

fn status<'a>(run: &'a Value, key: &str) -> &'a str {
    node(run, key)["status"].as_str().unwrap()
}

#[test]
fn outputs_of_every_json_type_pass_downstream_and_the_date_reaches_the_notebook() {
    let d = tmp();
    let (code, run, err) = run(&workflow("passing.yaml"), d.path(), &["--date", "2024-02-29", "-p", "prefix=>"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run["run"]["status"], "succeeded");
    assert_eq!(run["run"]["date"], "2024-02-29");
    let got = &node(&run, "echo")["outputs"]["got"];
    assert_eq!(
        got,
        &json!({
            "s": ">text with \"quotes\", \\ and é", "i": 42, "big": 1099511627776i64, "f": 2.5, "b": true, "n": null,
            "l": [1, "a", null, 1.5], "d": {"k": [1, {"x": 2}], "empty": {}}, "day": "2024-02-29"
        })
    );
    // Types survive injection: ints stay ints, None stays None.
    assert_eq!(
        node(&run, "echo")["outputs"]["types"],
        json!({"s": "str", "i": "int", "big": "int", "f": "float", "b": "bool", "n": "NoneType", "l": "list", "d": "dict", "day": "str"})
    );
    // The output notebook is where docs/operating.md says, and papermill-shaped.
    let nb_path = node(&run, "echo")["attempts"][0]["notebook"].as_str().unwrap().to_string();
    let run_id = run["run"]["id"].as_str().unwrap();
    assert_eq!(Path::new(&nb_path), d.path().join(format!("artifacts/passing/2024-02-29/{run_id}/echo.1.ipynb")));
    let nb = read_nb(Path::new(&nb_path));
    assert_eq!(nb["metadata"]["papermill"]["parameters"]["day"], "2024-02-29");
    assert_eq!(node(&run, "echo")["attempts"][0]["params"]["i"], 42);
}

#[test]
fn branching_goes_both_ways_and_joins_follow_their_trigger_rules() {
    for (go, taken, not_taken) in [("true", "when_true", "when_false"), ("false", "when_false", "when_true")] {
        let d = tmp();
        let (code, run, err) = run(&workflow("branch.yaml"), d.path(), &["-p", &format!("go={go}")]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(status(&run, taken), "succeeded");
        assert_eq!(status(&run, not_taken), "skipped");
        assert_eq!(status(&run, "join_one"), "succeeded", "one_success runs after a branch");
        assert_eq!(status(&run, "join_none"), "succeeded", "none_failed runs after a branch");
        assert_eq!(status(&run, "join_all"), "skipped", "all_success is skipped when a branch was skipped");
        assert_eq!(status(&run, "join_done"), "succeeded");
        assert!(node(&run, not_taken)["attempts"].as_array().unwrap().is_empty(), "a skipped node never ran");
    }
}

#[test]
fn a_failing_node_fails_the_run_and_downstream_follows_trigger_rules() {
    let d = tmp();
    let (code, run, err) = run(&workflow("failure.yaml"), d.path(), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(run["run"]["status"], "failed");
    assert_eq!(status(&run, "bad"), "failed");
    assert!(node(&run, "bad")["error"].as_str().unwrap().contains("boom from fail.ipynb"));
    assert_eq!(status(&run, "after"), "upstream_failed");
    assert_eq!(status(&run, "after_after"), "upstream_failed");
    assert_eq!(status(&run, "cleanup"), "succeeded", "all_done runs anyway");
    assert_eq!(status(&run, "rescue"), "succeeded", "one_success: `ok` succeeded");
    assert_eq!(status(&run, "strict"), "upstream_failed", "none_failed");
    assert_eq!(status(&run, "side"), "succeeded", "unrelated branches finish");
    // The failed attempt's notebook is kept, with papermill's error cells.
    let nb = read_nb(Path::new(node(&run, "bad")["attempts"][0]["notebook"].as_str().unwrap()));
    assert_eq!(cells(&nb)[0]["metadata"]["tags"], json!(["papermill-error-cell-tag"]));
}

#[test]
fn foreach_fans_out_and_outputs_are_lists_in_item_order() {
    let d = tmp();
    let (code, run, err) = run(&workflow("foreach.yaml"), d.path(), &["-p", "xs=[3, 1, 4, 1, 5]", "--workers", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(node(&run, "square")["outputs"]["y"], json!([9, 1, 16, 1, 25]));
    assert_eq!(node(&run, "square")["items"], 5);
    assert_eq!(node(&run, "total")["outputs"]["total"], 52);
    for i in 0..5 {
        assert_eq!(status(&run, &format!("square.{i}")), "succeeded");
        let nb = node(&run, &format!("square.{i}"))["attempts"][0]["notebook"].as_str().unwrap().to_string();
        assert!(nb.ends_with(&format!("square.{i}.1.ipynb")), "{nb}");
    }
}

#[test]
fn a_failed_attempt_is_retried_and_both_attempts_are_recorded() {
    let d = tmp();
    let marker = d.path().join("marker");
    let (code, run, err) = run(&workflow("retry.yaml"), d.path(), &["-p", &format!("marker={}", marker.display())]);
    assert_eq!(code, 0, "{err}");
    let flaky = node(&run, "flaky");
    assert_eq!(flaky["status"], "succeeded");
    let attempts = flaky["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], "failed");
    assert!(attempts[0]["error"].as_str().unwrap().contains("first attempt fails on purpose"));
    assert_eq!(attempts[1]["status"], "succeeded");
    assert!(Path::new(attempts[0]["notebook"].as_str().unwrap()).exists(), "the failed attempt's notebook is kept");
    assert!(attempts[1]["notebook"].as_str().unwrap().ends_with("flaky.2.ipynb"));
    assert_eq!(status(&run, "after"), "succeeded");
}

#[test]
fn a_node_past_its_timeout_is_stopped_and_its_partial_notebook_kept() {
    let d = tmp();
    let started = std::time::Instant::now();
    let (code, run, err) = run(&workflow("timeout.yaml"), d.path(), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(started.elapsed().as_secs() < 60, "the hanging cell was not waited for");
    let slow = node(&run, "slow");
    assert_eq!(slow["status"], "failed");
    assert!(slow["error"].as_str().unwrap().contains("timed out after 10s"), "{slow:#}");
    // Issue 14: it is the node's own limit; it used to say "the run's time limit".
    assert!(slow["error"].as_str().unwrap().contains("within the node's timeout of 10s"), "{slow:#}");
    // Interrupted, not just killed: the notebook is finished properly, with the
    // traceback of where the cell was stuck and papermill's error cells.
    let nb = read_nb(Path::new(slow["attempts"][0]["notebook"].as_str().unwrap()));
    let c = cells(&nb);
    assert_eq!(c[0]["metadata"]["tags"], json!(["papermill-error-cell-tag"]));
    assert_eq!(stream_text(&c[2], "stdout"), "about to hang\n");
    let stuck = &c[4];
    assert_eq!(stuck["metadata"]["papermill"]["status"], "failed");
    assert_eq!(stuck["outputs"][0]["ename"], "KeyboardInterrupt", "{stuck:#}");
    assert_eq!(status(&run, "after"), "upstream_failed");
}

#[test]
fn bad_parameters_and_dates_are_invalid_input() {
    let d = tmp();
    let (code, _, err) = run(&workflow("branch.yaml"), d.path(), &["-p", "go=maybe"]);
    assert_eq!(code, 2);
    assert!(err.contains("parameter 'go'") && err.contains("bool"), "{err}");
    let (code, _, err) = run(&workflow("branch.yaml"), d.path(), &["-p", "nope=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown parameter 'nope'"), "{err}");
    let (code, _, err) = run(&workflow("branch.yaml"), d.path(), &["--date", "2024-02-30"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a date"), "{err}");
    let (code, _, err) = run(&workflow("retry.yaml"), d.path(), &[]);
    assert_eq!(code, 2, "a parameter without default must be given");
    assert!(err.contains("parameter 'marker' has no default"), "{err}");
}

#[test]
fn state_is_durable_in_sled_under_the_data_dir() {
    let d = tmp();
    let (code, run, err) = run(&workflow("foreach.yaml"), d.path(), &[]);
    assert_eq!(code, 0, "{err}");
    let run_id = run["run"]["id"].as_str().unwrap().to_string();
    // Reopen the store from another process's point of view: the library reads it back.
    let store = deckle_orchestrator::store::SledStore::open(&d.path().join("state")).unwrap();
    use deckle_orchestrator::store::StateStore;
    let rec = store.get_run(&run_id).unwrap().expect("run persisted");
    assert_eq!(rec.status, deckle_orchestrator::record::RunStatus::Succeeded);
    let nodes = store.nodes(&run_id).unwrap();
    assert_eq!(nodes.len(), 1 + 5 + 1, "parent, five instances, total");
    assert!(nodes.iter().all(|n| n.status == deckle_orchestrator::record::NodeStatus::Succeeded));
}

fn example(name: &str) -> std::path::PathBuf {
    repo_root().join("examples").join(name).join("workflow.yaml")
}

#[test]
fn example_video_aggregates_runs_and_publishes() {
    let d = tmp();
    let (code, run, err) = run(&example("video-aggregates"), d.path(), &["--date", "2026-11-01"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(node(&run, "extract")["outputs"]["row_count"], 4);
    assert_eq!(node(&run, "extract")["outputs"]["columns"], json!(["region", "plays", "day"]));
    // The generated SQL notebook is kept as the node's input.
    let out = node(&run, "extract")["attempts"][0]["notebook"].as_str().unwrap().to_string();
    let input = out.replace(".1.ipynb", ".1.input.ipynb");
    assert!(join(&cells(&read_nb(Path::new(&input)))[3]["source"]).contains("2026-11-01"), "rendered query in the input");
    assert_eq!(node(&run, "per_region")["outputs"]["total"].as_array().unwrap().len(), 3);
    assert_eq!(node(&run, "audit")["outputs"]["passed"], true);
    assert_eq!(status(&run, "publish"), "succeeded");
    assert_eq!(status(&run, "alert"), "skipped");
    assert_eq!(status(&run, "summary"), "succeeded");
}

#[test]
fn example_data_quality_branches_on_the_check() {
    for (bad_rows, taken, skipped) in [("0", "publish", "quarantine"), ("20", "quarantine", "publish")] {
        let d = tmp();
        let out_dir = format!("out_dir={}", d.path().join("out").display());
        let (code, run, err) = run(&example("data-quality"), d.path(), &["-p", &format!("bad_rows={bad_rows}"), "-p", &out_dir]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(status(&run, taken), "succeeded");
        assert_eq!(status(&run, skipped), "skipped");
        assert_eq!(status(&run, "report"), "succeeded", "none_failed joins either branch");
        assert_eq!(node(&run, "check")["outputs"]["passed"], bad_rows == "0");
    }
}

#[test]
fn example_duckdb_report_writes_and_reads_parquet() {
    let d = tmp();
    let out_dir = format!("out_dir={}", d.path().join("out").display());
    let (code, run, err) = run(&example("duckdb-report"), d.path(), &["-p", &out_dir, "-p", "sessions=300", "--date", "2026-01-15"]);
    assert_eq!(code, 0, "{err}");
    let path = node(&run, "daily")["outputs"]["path"].as_str().unwrap().to_string();
    assert_eq!(Path::new(&path), d.path().join("out/sessions-2026-01-15.parquet"));
    assert!(Path::new(&path).exists());
    assert_eq!(node(&run, "top_genres")["outputs"]["row_count"], 3);
    assert_eq!(node(&run, "report")["outputs"]["sessions"], 300);
}

/// Kernels come warm from the pool (forked from a zygote that pre-imported
/// ipykernel) but every notebook gets a fresh process: no shared globals, its own
/// random state, the workflow's directory, and secrets only through the environment.
#[test]
fn every_notebook_gets_a_fresh_kernel_even_when_warm() {
    let d = tmp();
    let (code, run, err) = run(&workflow("fresh.yaml"), d.path(), &["-p", "token=s3cr3t-value"]);
    assert_eq!(code, 0, "{err}");
    let (a, b) = (&node(&run, "first")["outputs"], &node(&run, "second")["outputs"]);
    assert_ne!(a["pid"], b["pid"]);
    assert_ne!(a["rnd"], b["rnd"], "forked kernels must not share a random state");
    assert_eq!(a["leaked"], false);
    assert_eq!(b["leaked"], false);
    assert_eq!(a["modules_ok"], true);
    let dir = fixture("workflows");
    assert_eq!(a["cwd"].as_str().map(Path::new), Some(dir.as_path()));
    assert_eq!(a["secret_seen"], "s3cr3t-value");
    assert_eq!(b["secret_seen"], "s3cr3t-value");
    // The secret reached the kernels only through their environment: it is in no
    // notebook and not in the run's recorded parameters.
    assert!(!run["run"]["params"].to_string().contains("s3cr3t"), "secret in the run record");
    for n in ["first", "second"] {
        let text = std::fs::read_to_string(node(&run, n)["attempts"][0]["notebook"].as_str().unwrap()).unwrap();
        assert!(!text.contains("s3cr3t-value"), "secret written into {n}'s notebook");
    }
}

#[test]
fn killing_deckle_run_leaves_no_zygote_or_kernel_behind() {
    let d = tmp();
    let mut child = deckle()
        .args(["run", "--data"])
        .arg(d.path())
        .arg(workflow("timeout.yaml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the hanging cell runs, then collect everything under deckle.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut tree = Vec::new();
    while std::time::Instant::now() < deadline {
        tree = descendants(child.id());
        if tree.len() >= 3 {
            // the zygote, the running kernel and at least one warm one
            std::thread::sleep(std::time::Duration::from_millis(1500));
            tree = descendants(child.id());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(tree.len() >= 3, "expected a zygote and kernels under deckle, found {tree:?}");
    let _ = std::process::Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
    let _ = child.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let alive: Vec<u32> = tree.iter().copied().filter(|p| Path::new(&format!("/proc/{p}")).exists() && !is_zombie(*p)).collect();
        if alive.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "left running after deckle was killed: {alive:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_warm_kernel_that_dies_mid_cell_fails_its_node() {
    let d = tmp();
    let (code, run, err) = run(&workflow("dies.yaml"), d.path(), &[]);
    assert_eq!(code, 1, "{err}");
    let dies = node(&run, "dies");
    assert_eq!(dies["status"], "failed");
    assert!(dies["error"].as_str().unwrap().contains("kernel died"), "{dies:#}");
    let nb = read_nb(Path::new(dies["attempts"][0]["notebook"].as_str().unwrap()));
    assert!(cells(&nb).iter().any(|c| c["outputs"][0]["ename"] == "DeadKernelError"));
    assert_eq!(status(&run, "after"), "succeeded", "all_done runs after a failure");
}

/// Forked kernels are not Deckle's children; the zygote reports how they ended, so
/// the error names the signal as it does for a kernel booted directly.
#[test]
fn a_forked_kernel_killed_by_a_signal_names_the_signal() {
    for zygote in [true, false] {
        let d = tmp();
        let mut cmd = deckle();
        cmd.args(["run", "--json", "--data"]).arg(d.path()).arg(workflow("dies.yaml"));
        if !zygote {
            cmd.env("DECKLE_NO_ZYGOTE", "1");
        }
        let o = cmd.output().unwrap();
        let run: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        let dies = node(&run, "dies");
        let error = dies["error"].as_str().unwrap_or_default();
        assert!(error.contains("killed by signal SIGKILL"), "zygote {zygote}: {dies:#}");
    }
}

#[test]
fn an_invalid_workflow_is_refused_before_anything_runs() {
    let d = tmp();
    let wf = d.path().join("broken.yaml");
    std::fs::write(
        &wf,
        "workflow: broken\nnodes:\n  a: { notebook: nope.ipynb, needs: [b] }\n  b: { notebook: nope.ipynb, needs: [a], retires: 2 }\n",
    )
    .unwrap();
    let data = d.path().join("data");
    let (exit, _, err) = run(&wf, &data, &[]);
    assert_eq!(exit, 2, "{err}");
    let name = wf.display().to_string();
    assert!(err.contains(&format!("{name}:4:")) && err.contains("retires"), "unknown key with its line: {err}");
    assert!(err.contains("cycle"), "the cycle is named: {err}");
    assert!(err.contains("nope.ipynb"), "the missing notebook: {err}");
    assert!(!data.join("artifacts").exists(), "nothing ran");
    let o = deckle().arg("validate").arg(&wf).output().unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with(&err), "validate reports what run reports, then a count: {}", stderr(&o));
}
