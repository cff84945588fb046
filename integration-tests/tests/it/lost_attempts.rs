//! Killed workers never take an attempt's record with them: a server and workers as
//! real processes, a three-node run whose middle node sleeps in a long cell, and
//! its worker SIGKILLed at different moments (right after the lease, while its
//! kernel boots, as the long cell starts, deep in it). Every time both the lost
//! attempt's notebook and its retry's are on the server, and the lost one opens
//! with Python's nbformat and says the worker was lost.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{deckle, fixture, python, tmp, venv};

/// When, in the attempt's life, its worker is killed.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// As soon as the coordinator shows the attempt held: before any upload, as a
    /// rule (its kernel takes seconds to start).
    Leased,
    /// While its kernel boots, the worker's first save perhaps uploaded.
    Booting,
    /// As the long cell starts (the cell before it printed).
    CellStarted,
    /// Seconds into the long cell.
    DeepInCell,
}

const MOMENTS: [Moment; 4] = [Moment::Leased, Moment::Booting, Moment::CellStarted, Moment::DeepInCell];

/// The workflow and its notebook in `dir`, and a kernel `slowpy` (the venv's
/// ipykernel, two seconds late to start) in `dir/jupyter`.
fn setup(dir: &Path) -> std::path::PathBuf {
    let wf = dir.join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::copy(fixture("cluster").join("nap.ipynb"), wf.join("nap.ipynb")).unwrap();
    std::fs::write(
        wf.join("lost.yaml"),
        "workflow: lost\nparams:\n  secs: { type: int, default: 8 }\nnodes:\n  \
         first: { notebook: nap.ipynb, params: { label: first }, outputs: [done] }\n  \
         long: { notebook: nap.ipynb, needs: [first], kernel: slowpy, params: { secs: \"${{ params.secs }}\", label: long }, outputs: [done] }\n  \
         last: { notebook: nap.ipynb, needs: [long], params: { label: \"${{ nodes.long.outputs.done }}\" }, outputs: [done] }\n",
    )
    .unwrap();
    let spec = dir.join("jupyter/kernels/slowpy");
    std::fs::create_dir_all(&spec).unwrap();
    let py = venv().join("bin/python");
    let argv = json!(["sh", "-c", format!("sleep 2; exec '{}' -m ipykernel_launcher -f '{{connection_file}}'", py.display())]);
    std::fs::write(spec.join("kernel.json"), json!({"argv": argv, "display_name": "Slow Python", "language": "python"}).to_string()).unwrap();
    wf.join("lost.yaml")
}

/// The holder of `long`'s attempt `n` once it runs, and the run detail then.
fn held(server: &Server, run: &str, n: usize) -> String {
    let d = server.wait_until(run, Duration::from_secs(90), &format!("long attempt {n} held by a worker"), |d| {
        let a = &node(d, "long")["attempts"][n - 1];
        a["status"] == "running" && a["worker"].is_string()
    });
    node(&d, "long")["attempts"][n - 1]["worker"].as_str().unwrap().to_string()
}

/// The attempt's notebook as the API serves it, when there is one.
fn attempt_notebook(server: &Server, run: &str, n: usize) -> Option<Value> {
    let (status, nb) = server.client().get(&format!("/api/v1/runs/{run}/nodes/long/attempts/{n}/notebook"));
    (status == 200).then_some(nb)
}

fn wait_for_text(server: &Server, run: &str, n: usize, text: &str) {
    let until = Instant::now() + Duration::from_secs(60);
    while !attempt_notebook(server, run, n).is_some_and(|nb| nb.to_string().contains(text)) {
        assert!(Instant::now() < until, "attempt {n}'s notebook never showed {text:?}; server log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Open the notebook with nbformat as Jupyter does, validate it, and return what
/// papermill's metadata and the failed cell say.
fn nbformat_reads(path: &Path) -> String {
    let script = "import sys, nbformat\n\
        nb = nbformat.read(sys.argv[1], as_version=4)\n\
        nbformat.validate(nb)\n\
        print('exception', nb.metadata.papermill.exception)\n\
        for c in nb.cells:\n    \
            for o in c.get('outputs', []):\n        \
                if o.output_type == 'error':\n            \
                    print('error', c.metadata.papermill.status, o.ename, o.evalue)\n\
        print('stopped', nb.metadata.deckle.stopped.reason, nb.metadata.deckle.stopped.message)\n\
        print('banner', any('papermill-error-cell-tag' in c.metadata.get('tags', []) for c in nb.cells))\n";
    let out = python().arg("-c").arg(script).arg(path).output().expect("python");
    assert!(out.status.success(), "nbformat refused {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_killed_worker_leaves_both_attempts_notebooks_and_the_lost_one_opens_in_jupyter() {
    let dir = tmp();
    let file = setup(dir.path());
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "2"]);
    server.register_from(&file);
    let jupyter = dir.path().join("jupyter").display().to_string();
    let env = [("JUPYTER_PATH", jupyter.as_str())];
    let mut workers: Vec<Worker> = Vec::new();
    let mut started = 0;
    let mut start = |workers: &mut Vec<Worker>| {
        started += 1;
        workers.push(Worker::start_with_env(&server, &format!("w{started}"), &["--slots", "1", "--warm-kernels", "0"], &env));
    };
    start(&mut workers);
    start(&mut workers);
    let mut kills = 0;
    let mut runs = 0;
    while kills < 10 {
        runs += 1;
        let run = server.trigger("lost", json!({"secs": "6"}));
        // Two kills per run: attempts 1 and 2 of `long` die, attempt 3 finishes.
        let mut lost = Vec::new();
        for n in 1..=2 {
            let moment = MOMENTS[kills % MOMENTS.len()];
            let victim = held(&server, &run, n);
            match moment {
                Moment::Leased => {}
                Moment::Booting => std::thread::sleep(Duration::from_millis(700)),
                Moment::CellStarted => wait_for_text(&server, &run, n, "started long"),
                Moment::DeepInCell => {
                    wait_for_text(&server, &run, n, "started long");
                    std::thread::sleep(Duration::from_secs(3));
                }
            }
            let i = workers.iter().position(|w| w.name == victim).expect("the holder is one of ours");
            workers[i].kill9();
            workers.remove(i);
            start(&mut workers);
            lost.push((n, victim, moment));
            kills += 1;
        }
        let detail = server.wait_finished(&run, Duration::from_secs(240));
        assert_eq!(detail["run"]["status"], "succeeded", "run {runs}: {detail:#}\nserver log:\n{}", server.log());
        assert_eq!(node(&detail, "last")["outputs"]["done"], "long", "the retry's output flowed on");
        let attempts = node(&detail, "long")["attempts"].as_array().unwrap().clone();
        assert_eq!(attempts.len(), 3, "{attempts:#?}");
        assert_eq!(attempts[2]["status"], "succeeded");
        assert!(attempt_notebook(&server, &run, 3).is_some_and(|nb| nb.to_string().contains("done long")), "the retry's notebook");
        for (n, victim, moment) in lost {
            let a = &attempts[n - 1];
            let what = format!("run {runs}, attempt {n}, killed {moment:?}");
            assert_eq!(a["lost"], true, "{what}: {a}");
            assert!(a["notebook"].is_string(), "{what}: the lost attempt lists its notebook: {a}");
            // The API serves it (what the UI and `deckle pull` fetch)…
            let nb = attempt_notebook(&server, &run, n).unwrap_or_else(|| panic!("{what}: no notebook on the server"));
            assert_eq!(nb["metadata"]["papermill"]["parameters"]["label"], "long", "{what}: parameters injected");
            // …and Jupyter opens it, seeing the failure.
            let path = server.data.join(a["notebook"].as_str().unwrap());
            let seen = nbformat_reads(&path);
            assert!(seen.contains("exception True"), "{what}: {seen}");
            assert!(seen.contains(&format!("stopped WorkerLost worker {victim} lost at ")), "{what}: {seen}");
            assert!(seen.contains("banner True"), "{what}: papermill's error cell: {seen}");
            // `deckle pull` fetches it like any other, and the UI page of the attempt shows it.
            let pulled = dir.path().join(format!("pulled-{runs}-{n}.ipynb"));
            let o = deckle().args(["pull", &run, "long", "--attempt", &n.to_string(), "-o"]).arg(&pulled).env("DECKLE_SERVER", &server.url).output().unwrap();
            assert!(o.status.success(), "{what}: deckle pull: {}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(std::fs::read(&pulled).unwrap(), std::fs::read(&path).unwrap(), "{what}: pulled as kept");
            let page = reqwest::blocking::get(format!("{}/runs/{run}/nodes/long/attempts/{n}", server.url)).unwrap();
            assert_eq!(page.status().as_u16(), 200, "{what}");
            let page = page.text().unwrap();
            assert!(page.contains(&format!("worker {victim} lost at ")), "{what}: the UI names the failure");
            assert!(page.contains("<div class=\"notebook\">") && !page.contains("No output notebook was written"), "{what}: the UI shows the lost notebook");
            if matches!(moment, Moment::DeepInCell) {
                // The cell that was running (its start uploaded long before the kill)
                // says so, like a papermill failure.
                assert!(seen.contains(&format!("error failed WorkerLost worker {victim} lost at ")), "{what}: {seen}");
                assert!(page.contains("WorkerLost"), "{what}: the UI shows the failed cell's error output");
            }
        }
    }
    assert_eq!(kills, 10);
}
