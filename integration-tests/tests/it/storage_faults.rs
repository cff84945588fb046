//! The data dir fills up or is read-only. The coordinator says so (health, metrics,
//! errors naming the path and the OS error), takes no new work, keeps the running
//! notebook running, and carries on from what it acknowledged once space returns.
//! The data dir is a real tmpfs of a few MiB, filled by a real file: mounting one
//! needs root (CAP_SYS_ADMIN), which CI and the dev container have.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{deckle, files_under, tmp};

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size_mib: u32) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"]).arg(dir).output().expect("running mount");
        assert!(
            out.status.success(),
            "the storage-fault tests mount a tmpfs as the data dir, which needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }

    fn remount(&self, opts: &str) {
        let out = Command::new("mount").args(["-o", &format!("remount,{opts}")]).arg(&self.0).output().unwrap();
        assert!(out.status.success(), "remount {opts}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// An ext4 file system on a loop device, mounted `errors=remount-ro`: a file system
/// error turns it read-only at once, as a failing disk does.
struct Ext4 {
    dev: String,
    dir: PathBuf,
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Attach `image` to a free loop device (root, as the tmpfs needs). In a container
/// the kernel may hand out a loop device whose node was never made: make it.
fn attach_loop(image: &Path) -> String {
    for _ in 0..10 {
        let free = run_ok(Command::new("losetup").arg("-f"));
        if !Path::new(&free).exists() {
            let n = free.trim_start_matches("/dev/loop");
            let _ = Command::new("mknod").args([&free, "b", "7", n]).status();
        }
        // Another test may have taken it meanwhile: try the next one.
        if Command::new("losetup").arg(&free).arg(image).status().is_ok_and(|s| s.success()) {
            return free;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no loop device could be attached for {}", image.display());
}

impl Ext4 {
    fn mount(image: &Path, dir: &Path, size_mib: u64) -> Ext4 {
        std::fs::File::create(image).unwrap().set_len(size_mib << 20).unwrap();
        run_ok(Command::new("mkfs.ext4").arg("-q").arg(image));
        let dev = attach_loop(image);
        let _ = Command::new("blockdev").args(["--setrw", &dev]).status();
        std::fs::create_dir_all(dir).unwrap();
        let e = Ext4 { dev, dir: dir.to_path_buf() };
        e.mount_again();
        e
    }

    fn mount_again(&self) {
        run_ok(Command::new("mount").args(["-o", "errors=remount-ro", &self.dev]).arg(&self.dir));
    }

    /// What a disk error does: ext4 records it and goes read-only (emergency_ro).
    fn fail(&self) {
        let name = Path::new(&self.dev).file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(format!("/sys/fs/ext4/{name}/trigger_fs_error"), "deckle storage-fault test\n").unwrap();
    }

    /// What an operator does after: unmount, check, mount.
    fn repair(&self) {
        run_ok(Command::new("umount").arg(&self.dir));
        let fsck = Command::new("e2fsck").args(["-fy", &self.dev]).output().unwrap();
        assert!(fsck.status.code().is_some_and(|c| c <= 1), "e2fsck: {}", String::from_utf8_lossy(&fsck.stdout));
        self.mount_again();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// Take every free byte of `dir`'s filesystem with one file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0u8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    let _ = f.sync_all();
    path
}

/// A notebook that waits for `gate` (a path) to exist when given one.
const GATE_NB: &str = r#"{"cells": [
 {"cell_type": "code", "execution_count": null, "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "label = \"\"\ngate = \"\"", "id": "p"},
 {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "import os, time\nprint(\"started\", label, flush=True)\nwhile gate and not os.path.exists(gate):\n    time.sleep(0.1)\ndone = label", "id": "w"}
], "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}"#;

const GATED: &str = r#"workflow: gated
params:
  gate: { type: str, default: "" }
nodes:
  first: { notebook: gate.ipynb, params: { label: first }, outputs: [done] }
  held: { notebook: gate.ipynb, needs: [first], params: { label: held, gate: "${{ params.gate }}" }, outputs: [done] }
  last: { notebook: gate.ipynb, needs: [held], params: { label: "${{ nodes.held.outputs.done + '-last' }}" }, outputs: [done] }
"#;

fn gated_workflow(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("gate.ipynb"), GATE_NB).unwrap();
    std::fs::write(dir.join("gated.yaml"), GATED).unwrap();
    dir.join("gated.yaml")
}

fn health(server: &Server) -> (u16, Value) {
    server.client().get("/api/v1/health")
}

fn wait_health(server: &Server, status: u16, within: Duration) -> Value {
    let until = Instant::now() + within;
    loop {
        let (s, body) = health(server);
        if s == status {
            return body;
        }
        assert!(Instant::now() < until, "health not {status} within {within:?}: {s} {body}\nserver log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn metric(server: &Server, name: &str) -> String {
    let text = reqwest::blocking::get(format!("{}/metrics", server.url)).unwrap().text().unwrap();
    text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default().to_string()
}

/// A finished run record with a `pad` param of `pad` bytes.
fn run_record(id: String, pad: usize) -> deckle_orchestrator::record::RunRecord {
    deckle_orchestrator::record::RunRecord {
        id,
        workflow: "w".into(),
        date: "2026-01-01".into(),
        logical_time: "2026-01-01T00:00:00Z".parse().unwrap(),
        params: [("pad".to_string(), Value::String("x".repeat(pad)))].into_iter().collect(),
        version: 1,
        attempt: 1,
        trigger: Default::default(),
        status: deckle_orchestrator::record::RunStatus::Succeeded,
        started_at: "2026-01-01T00:00:01Z".parse().unwrap(),
        ended_at: None,
        attempts_started_at: Vec::new(),
        hooks_pending: false,
        notifications: Vec::new(),
    }
}

fn attempts(detail: &Value, key: &str) -> Vec<Value> {
    node(detail, key)["attempts"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_full_data_dir_refuses_new_work_keeps_the_running_node_and_recovers_when_space_returns() {
    let dir = tmp();
    let data = dir.path().join("data");
    let disk = Tmpfs::mount(&data, 48);
    let mut server = Server::start(&data, &["--lease-ttl", "4"]);
    let worker = Worker::start(&server, "w1", &["--slots", "1"]);
    let wf = gated_workflow(&dir.path().join("wf"));
    server.register_from(&wf);
    let gate = dir.path().join("open");
    let run = server.trigger("gated", json!({"gate": gate.display().to_string()}));
    server.wait_until(&run, Duration::from_secs(120), "held running", |d| node(d, "held")["status"] == "running" && attempts(d, "held")[0]["worker"] == "w1");
    assert_eq!(health(&server).0, 200);

    // The disk fills up while `held` runs.
    let filler = fill(&data);
    let body = wait_health(&server, 503, Duration::from_secs(15));
    assert_eq!(body["status"], "degraded");
    let why = body["storage"]["error"].as_str().unwrap();
    assert!(why.contains("No space left on device") && why.contains(&data.display().to_string()), "the fault names the path and the OS error: {why}");
    assert_eq!(metric(&server, "deckle_storage_ok"), "deckle_storage_ok 0");
    let page = reqwest::blocking::get(format!("{}/runs/{run}", server.url)).unwrap().text().unwrap();
    assert!(page.contains("cannot write its data dir") && page.contains("No space left on device"), "the UI says so on every page:\n{page}");

    // No new work: triggers, registrations and backfills are refused, with the reason.
    let api = server.client();
    let (s, b) = api.post("/api/v1/workflows/gated/runs", &json!({"params": {}}));
    assert_eq!((s, b["code"].as_str()), (503, Some("storage_unavailable")), "{b}");
    assert!(b["error"].as_str().unwrap().contains("No space left on device"), "{b}");
    let (s, b) = api.post("/api/v1/workflows", &crate::cluster::registration(&wf));
    assert_eq!((s, b["code"].as_str()), (503, Some("storage_unavailable")), "{b}");
    let (s, b) = api.post("/api/v1/workflows/gated/backfills", &json!({"from": "2026-01-01", "to": "2026-01-02"}));
    assert_eq!((s, b["code"].as_str()), (503, Some("storage_unavailable")), "{b}");
    let (s, _) = api.post("/api/v1/workflows/gated/backfills", &json!({"from": "2026-01-01", "to": "2026-01-02", "dry_run": true}));
    assert_eq!(s, 200, "a dry run stores nothing, so it is still answered");

    // `held` finishes while the disk is full: its notebook and result cannot be
    // stored, so the worker holds them, heartbeating, for longer than the lease TTL.
    std::fs::write(&gate, "").unwrap();
    std::thread::sleep(Duration::from_secs(8));
    let d = server.run(&run);
    assert_eq!(node(&d, "held")["status"], "running", "nothing recorded the attempt as ended: {d:#}");
    assert_eq!(attempts(&d, "held").len(), 1, "the lease did not expire: {d:#}");
    assert_eq!(node(&d, "last")["status"], "pending", "no lease is granted while nothing can be stored: {d:#}");
    assert!(worker.log().contains("cannot take it yet"), "the worker holds the result:\n{}", worker.log());

    // Space returns: the fault clears, the held result lands, the run carries on.
    std::fs::remove_file(&filler).unwrap();
    let body = wait_health(&server, 200, Duration::from_secs(30));
    assert_eq!(body["storage"]["ok"], true);
    let d = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(d["run"]["status"], "succeeded", "{d:#}\nserver log:\n{}", server.log());
    for key in ["first", "held", "last"] {
        assert_eq!(attempts(&d, key).len(), 1, "{key} ran once: {d:#}");
    }
    assert_eq!(attempts(&d, "held")[0]["worker"], "w1");
    assert_eq!(node(&d, "last")["outputs"]["done"], "held-last", "held's output reached last");
    let (s, nb) = api.get(&format!("/api/v1/runs/{run}/nodes/held/attempts/1/notebook"));
    assert_eq!(s, 200, "the notebook held back by the worker was stored after all");
    assert!(nb.to_string().contains("started held"), "{nb}");
    assert_eq!(metric(&server, "deckle_storage_ok"), "deckle_storage_ok 1");
    assert!(server.log().contains("storage recovered"), "{}", server.log());
    let again = server.trigger("gated", json!({}));
    assert_eq!(server.wait_finished(&again, Duration::from_secs(120))["run"]["status"], "succeeded");

    // What was acknowledged is on disk: a crash now loses neither run.
    server.kill9();
    server.restart(1);
    for id in [&run, &again] {
        let d = server.run(id);
        assert_eq!(d["run"]["status"], "succeeded", "{d:#}");
        assert_eq!(node(&d, "last")["status"], "succeeded");
    }
    drop(worker);
    drop(server);
    drop(disk);
}

#[test]
fn a_read_only_data_dir_is_refused_at_start_with_the_reason_and_its_state_is_intact_after() {
    let dir = tmp();
    let data = dir.path().join("data");
    let disk = Tmpfs::mount(&data, 32);
    let mut server = Server::start(&data, &[]);
    let _worker = Worker::start(&server, "w1", &["--slots", "1"]);
    server.register_from(&gated_workflow(&dir.path().join("wf")));
    let run = server.trigger("gated", json!({}));
    assert_eq!(server.wait_finished(&run, Duration::from_secs(120))["run"]["status"], "succeeded");
    assert_eq!(server.terminate(Duration::from_secs(20)), Some(0));

    disk.remount("ro");
    let out = deckle().args(["server", "--data"]).arg(&data).args(["--listen", "127.0.0.1:0"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "a data dir that cannot be written is exit 3: {err}");
    assert!(err.contains(&data.display().to_string()) && err.contains("Read-only file system"), "the error names the dir and the reason: {err}");

    disk.remount("rw");
    server.restart(1);
    let d = server.run(&run);
    assert_eq!(d["run"]["status"], "succeeded", "{d:#}");
    assert_eq!(node(&d, "last")["outputs"]["done"], "held-last");
}

/// sled itself on a disk that fills up: the failed write raises the fault, every
/// later write is refused until the store is reopened, reads keep working, and
/// reopening once space returns brings back every acknowledged record.
#[test]
fn sled_on_a_full_disk_refuses_writes_until_reopened_and_keeps_every_acknowledged_record() {
    use deckle_orchestrator::health::StorageHealth;
    use deckle_orchestrator::record::NodeRecord;
    use deckle_orchestrator::store::{SledStore, StateStore};
    use std::sync::Arc;

    let dir = tmp();
    let mnt = dir.path().join("mnt");
    let _disk = Tmpfs::mount(&mnt, 16);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let health = Arc::new(StorageHealth::default());
    let store = SledStore::open_with(&mnt.join("state"), health.clone()).unwrap();
    let run = |i: usize| run_record(format!("r{i:04}"), 2000);
    let mut acknowledged = 0;
    for i in 0..20 {
        store.put_run(&run(i)).unwrap();
        rt.block_on(store.flush()).unwrap();
        acknowledged += 1;
    }
    let filler = fill(&mnt);
    // Keep writing until the disk says no: that write's flush fails.
    let mut failed = None;
    let before = acknowledged;
    for i in before..before + 100_000 {
        let r = store.put_run(&run(i)).and_then(|()| store.put_node(&format!("r{i:04}"), &NodeRecord::new("n", None)));
        match r.and_then(|()| rt.block_on(store.flush())) {
            Ok(()) => acknowledged = i + 1,
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    let failed = failed.expect("a full disk fails a write");
    assert!(failed.contains("No space left on device"), "{failed}");
    let fault = health.fault().expect("the failed write raised the fault");
    assert!(fault.message.contains(&mnt.join("state").display().to_string()), "the fault names the store: {}", fault.message);
    assert!(store.get_run("r0000").unwrap().is_some(), "reads still work");
    std::fs::remove_file(&filler).unwrap();
    let again = store.put_run(&run(99_999)).and_then(|()| rt.block_on(store.flush()));
    assert!(again.is_err(), "sled refuses writes after a failed one, even with space back, until reopened");

    store.reopen().unwrap();
    store.put_run(&run(99_999)).unwrap();
    rt.block_on(store.flush()).unwrap();
    let ids: Vec<String> = store.runs().unwrap().into_iter().map(|r| r.id).collect();
    for i in 0..acknowledged {
        assert!(ids.contains(&format!("r{i:04}")), "acknowledged run r{i:04} is kept ({} runs)", ids.len());
    }
    assert!(ids.contains(&"r99999".to_string()));
}

#[test]
fn a_data_dir_that_turns_read_only_mid_run_refuses_new_work_and_the_run_finishes_after_repair() {
    let dir = tmp();
    let data = dir.path().join("data");
    let disk = Ext4::mount(&dir.path().join("disk.img"), &data, 64);
    let mut server = Server::start(&data, &["--lease-ttl", "10"]);
    let worker = Worker::start(&server, "w1", &["--slots", "1"]);
    server.register_from(&gated_workflow(&dir.path().join("wf")));
    let gate = dir.path().join("open");
    let run = server.trigger("gated", json!({"gate": gate.display().to_string()}));
    server.wait_until(&run, Duration::from_secs(120), "held running", |d| node(d, "held")["status"] == "running" && attempts(d, "held")[0]["worker"] == "w1");

    disk.fail();
    let body = wait_health(&server, 503, Duration::from_secs(15));
    let why = body["storage"]["error"].as_str().unwrap();
    assert!(why.contains("Read-only file system"), "{why}");
    let (s, b) = server.client().post("/api/v1/workflows/gated/runs", &json!({"params": {}}));
    assert_eq!((s, b["code"].as_str()), (503, Some("storage_unavailable")), "{b}");
    // `held` ends while nothing can be written: its worker holds the result.
    std::fs::write(&gate, "").unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while !worker.log().contains("cannot take it yet") {
        assert!(Instant::now() < until, "the worker holds the result:\n{}", worker.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let d = server.run(&run);
    assert_eq!((node(&d, "held")["status"].as_str(), attempts(&d, "held").len()), (Some("running"), 1), "{d:#}");

    // An emergency read-only ext4 wants a check before it is written again: stop
    // the server, repair, start it on the same data dir within the lease TTL.
    assert!(server.terminate(Duration::from_secs(20)).is_some(), "the server stops on SIGTERM even with its disk read-only");
    disk.repair();
    server.restart(1);
    let d = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(d["run"]["status"], "succeeded", "{d:#}\nserver log:\n{}", server.log());
    for key in ["first", "held", "last"] {
        assert_eq!(attempts(&d, key).len(), 1, "{key} ran once: {d:#}");
    }
    assert_eq!(node(&d, "last")["outputs"]["done"], "held-last");
    assert_eq!(health(&server).0, 200);
}

/// sled makes its log writes stable with `sync_file_range`, which leaves a grown
/// file's size and block map unsynced: after an ext4 error every record since the
/// last periodic fsync was gone (0 of 50 came back). The store's flush syncs them.
#[test]
fn records_acknowledged_by_a_flush_survive_the_file_system_failing() {
    use deckle_orchestrator::record::NodeRecord;
    use deckle_orchestrator::store::{SledStore, StateStore};

    let dir = tmp();
    let mnt = dir.path().join("mnt");
    let disk = Ext4::mount(&dir.path().join("disk.img"), &mnt, 32);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Some large enough to go to sled's blob files.
    let run = |i: usize| run_record(format!("r{i:03}"), if i % 10 == 0 { 200_000 } else { 3000 });
    {
        let store = SledStore::open(&mnt.join("state")).unwrap();
        for i in 0..50 {
            store.put_run(&run(i)).unwrap();
            store.put_node(&format!("r{i:03}"), &NodeRecord::new("n", None)).unwrap();
            rt.block_on(store.flush()).unwrap();
        }
        disk.fail();
        store.put_run(&run(99)).unwrap();
        assert!(rt.block_on(store.flush()).is_err(), "nothing is acknowledged once the disk is read-only");
    }
    disk.repair();
    let store = SledStore::open(&mnt.join("state")).unwrap();
    let ids: Vec<String> = store.runs().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 50, "every acknowledged run is back, the refused one is not: {ids:?}");
    assert_eq!(store.get_run("r040").unwrap().unwrap().params["pad"].as_str().unwrap().len(), 200_000);
    assert_eq!(store.nodes("r049").unwrap().len(), 1);
}

/// `deckle run` (embedded, no server) on a disk that is full at start, or fills
/// while a node runs: a clear error naming the data dir, never a panic, and what
/// it recorded before the disk filled is still there.
#[test]
fn deckle_run_on_a_full_disk_says_so_and_keeps_what_it_recorded() {
    use deckle_orchestrator::record::NodeStatus;
    use deckle_orchestrator::store::{SledStore, StateStore};

    let dir = tmp();
    let mnt = dir.path().join("mnt");
    let _disk = Tmpfs::mount(&mnt, 24);
    let wf = gated_workflow(&dir.path().join("wf"));

    let filler = fill(&mnt);
    let o = deckle().args(["run", "--data"]).arg(mnt.join("a")).arg(&wf).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "a data dir that cannot be written is exit 3: {err}");
    assert!(err.contains("cannot use the data dir") && err.contains("No space left on device"), "{err}");
    std::fs::remove_file(&filler).unwrap();

    // The disk fills while `held` runs.
    let data = mnt.join("b");
    let gate = dir.path().join("open");
    let mut child = deckle().args(["run", "--data"]).arg(&data).arg(&wf).args(["-p", &format!("gate={}", gate.display())]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let until = Instant::now() + Duration::from_secs(120);
    let held_started = || {
        files_under(&data.join("artifacts")).iter().any(|p| p.file_name().is_some_and(|n| n == "held.1.ipynb") && std::fs::read_to_string(p).is_ok_and(|t| t.contains("started held")))
    };
    while !held_started() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("held did not start: {:?}", child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let filler = fill(&mnt);
    std::fs::write(&gate, "").unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // Where the disk ran out decides which write failed first: the store (exit 3)
    // or the node's notebook (the node fails, so the run does: exit 1). Either
    // way the reason is given.
    assert!(matches!(o.status.code(), Some(1 | 3)), "{:?}: {err}", o.status.code());
    assert!(err.contains("No space left on device"), "{err}");
    eprintln!("deckle run on a disk that filled: exit {:?}, {}", o.status.code(), err.lines().last().unwrap_or(""));
    std::fs::remove_file(&filler).unwrap();
    let store = SledStore::open(&data.join("state")).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    let first = store.nodes(&runs[0].id).unwrap().into_iter().find(|n| n.node == "first").unwrap();
    assert_eq!(first.status, NodeStatus::Succeeded, "recorded before the disk filled: kept");
    assert_eq!(first.outputs["done"], "first");
}
