//! What `deckle execute` guarantees beyond papermill parity: no output lost under a
//! flood, non-UTF-8 output survives, a killed run leaves a readable notebook and no
//! kernel behind, parallel runs never collide.

use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn thousands_of_outputs_in_one_cell_are_all_kept() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let o = execute(&fixture("floods.ipynb"), &out, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let nb = read_nb(&out);
    let text = stream_text(&cells(&nb)[0], "stdout");
    let expected: String = (0..5000).map(|i| format!("{i}\n")).collect();
    assert_eq!(text.len(), expected.len());
    assert!(text == expected, "stdout lines lost or reordered");
    let displays = cells(&nb)[1]["outputs"].as_array().unwrap();
    assert_eq!(displays.len(), 3000, "display_data messages lost");
    assert_eq!(join(&displays[2999]["data"]["text/plain"]), "d2999");
}

#[test]
fn non_utf8_output_is_kept_lossily_and_the_run_goes_on() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let o = execute(&fixture("non_utf8.ipynb"), &out, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let nb = read_nb(&out);
    let text = stream_text(&cells(&nb)[0], "stdout");
    assert!(text.starts_with("caf") && text.contains('\u{fffd}') && text.ends_with(" ok\n"), "{text:?}");
    assert_eq!(stream_text(&cells(&nb)[1], "stdout"), "still running\n");
}

#[test]
fn a_killed_run_leaves_a_readable_partial_notebook_and_no_kernel() {
    let d = tmp();
    let tmpdir = d.path().join("kernel-tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = d.path().join("out.ipynb");
    let mut child = deckle()
        .env("TMPDIR", &tmpdir)
        .args(["execute", "--no-progress-bar"])
        .arg(fixture("sleeps.ipynb"))
        .arg(&out)
        .spawn()
        .unwrap();
    // Wait until the endless cell is running (saved at its start).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if out.exists() {
            let nb = read_nb(&out);
            if cells(&nb)[1]["metadata"]["papermill"]["status"] == "running" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the second cell never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let marker = tmpdir.to_str().unwrap().to_string();
    assert!(!processes_mentioning(&marker).is_empty(), "the kernel should be running");
    nix_kill(child.id());
    let _ = child.wait();
    let nb = read_nb(&out);
    let c = cells(&nb);
    assert_eq!(c[0]["metadata"]["papermill"]["status"], "completed");
    assert_eq!(stream_text(&c[0], "stdout"), "started\n");
    assert_eq!(c[1]["metadata"]["papermill"]["status"], "running");
    assert_eq!(c[2]["metadata"]["papermill"]["status"], "pending");
    // The orphaned kernel notices its parent is gone (JPY_PARENT_PID) and exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_mentioning(&marker).is_empty() {
        assert!(Instant::now() < deadline, "kernel outlived its killed executor");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn nix_kill(pid: u32) {
    let status = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn parallel_runs_do_not_collide() {
    let d = tmp();
    let children: Vec<_> = (0..6)
        .map(|i| {
            let out = d.path().join(format!("out{i}.ipynb"));
            let child = deckle()
                .args(["execute", "--no-progress-bar", "-p", "i"])
                .arg(i.to_string())
                .arg(fixture("params.ipynb"))
                .arg(&out)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (i, out, child)
        })
        .collect();
    for (i, out, child) in children {
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "run {i}: {}", stderr(&o));
        let nb = read_nb(&out);
        assert!(stream_text(&cells(&nb)[3], "stdout").contains(&format!("i int {i}\n")));
    }
}

#[test]
fn cwd_and_log_output_work_like_papermill() {
    let d = tmp();
    let out = d.path().join("out.ipynb");
    let o = deckle()
        .args(["execute", "--no-progress-bar", "--log-output", "--cwd"])
        .arg(d.path())
        .arg(fixture("no_parameters_cell.ipynb"))
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("first cell"), "log-output echoes cell output");
    assert!(stderr(&o).contains("Executing Cell 1"), "{}", stderr(&o));
    let o = execute(&fixture("params.ipynb"), &out, &["--cwd", "/no/such/dir"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--cwd"), "{}", stderr(&o));
}
