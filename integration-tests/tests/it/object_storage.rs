//! Notebooks and artifacts in object storage, against a real S3-compatible server
//! (moto in server mode, on loopback): `deckle execute` on s3:// paths beside
//! papermill, `deckle run` and `deckle server` with `--artifacts`, the API, UI and
//! `deckle pull` reading from the bucket, two coordinators sharing only PostgreSQL
//! and the bucket, an outage of the store, and credentials kept out of everything.

use std::time::Duration;

use deckle_test_support::s3::{self, Mode, Moto, Proxy};
use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::execute_compat::{assert_same_record, Both};
use crate::harness::*;
use crate::stores::{env_refs, nb, served, staged, unique_name, wait_for};

/// A secret access key the tests look for wherever it must not be.
const SECRET: &str = "dk-s3cr3t-0f-the-t3sts-8a1e4f2c9b7d";

fn bucket(moto: &Moto, what: &str) -> String {
    let name = unique_name(what);
    moto.create_bucket(&name);
    name
}

/// The environment of every process talking to `endpoint`: made-up credentials
/// (moto takes any), the endpoint the usual way.
pub(crate) fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
    ]
}

#[test]
fn execute_reads_and_writes_s3_paths_as_papermill_does() {
    let moto = s3::shared();
    let b = bucket(moto, "exec");
    moto.put(&b, "jobs/templates/params.ipynb", &std::fs::read(fixture("params.ipynb")).unwrap());
    let env = aws_env(&moto.endpoint());
    let input = format!("s3://{b}/jobs/templates/params.ipynb");
    let args = ["-p", "s", "région fr", "-p", "i", "42", "-p", "f", "0.6", "-y", "l: [1, two]"];
    // The same output key for both, one after the other: the record names it.
    let output = format!("s3://{b}/jobs/outputs/vid_agg_fr.ipynb");
    let theirs_out = papermill().arg(&input).arg(&output).args(args).envs(env.clone()).output().unwrap();
    assert_eq!(code(&theirs_out), 0, "papermill: {}", stderr(&theirs_out));
    let theirs = nb(&moto.get(&b, "jobs/outputs/vid_agg_fr.ipynb").expect("papermill wrote its output to the bucket"));
    let ours_out = deckle().args(["execute", "--no-progress-bar", &input, &output]).args(args).envs(env.clone()).output().unwrap();
    assert_eq!(code(&ours_out), 0, "deckle: {}", stderr(&ours_out));
    let ours = nb(&moto.get(&b, "jobs/outputs/vid_agg_fr.ipynb").unwrap());
    assert_ne!(ours, theirs, "deckle replaced papermill's object");
    let both = Both { ours, theirs, ours_out, theirs_out };
    assert_same_record(&both);
    assert_eq!(both.ours["metadata"]["papermill"]["input_path"], input.as_str());
    assert_eq!(both.ours["metadata"]["papermill"]["output_path"], output.as_str());
    assert!(stderr(&both.ours_out).contains(&format!("Output Notebook: {output}")));

    // A failing notebook still leaves its output in the bucket, as papermill does.
    moto.put(&b, "in/fails.ipynb", &std::fs::read(fixture("fails.ipynb")).unwrap());
    let o = deckle().args(["execute", &format!("s3://{b}/in/fails.ipynb"), &format!("s3://{b}/out/fails.ipynb")]).envs(env.clone()).output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let failed = nb(&moto.get(&b, "out/fails.ipynb").expect("the failed notebook is uploaded"));
    assert_eq!(failed["metadata"]["papermill"]["exception"], true);
}

#[test]
fn execute_refuses_locations_it_cannot_use_with_a_clear_error() {
    let moto = s3::shared();
    let b = bucket(moto, "refuse");
    let env = aws_env(&moto.endpoint());
    let run = |args: &[&str]| deckle().arg("execute").args(args).envs(env.clone()).output().unwrap();
    let o = run(&[&format!("s3://{b}/missing.ipynb"), "out.ipynb"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains(&format!("s3://{b}/missing.ipynb: no such file or object")), "{}", stderr(&o));
    let o = run(&[fixture("params.ipynb").to_str().unwrap(), "https://example.invalid/out.ipynb"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    let o = run(&["adl://store/a.ipynb", "out.ipynb"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("abfss://"), "{}", stderr(&o));
    let o = run(&[fixture("params.ipynb").to_str().unwrap(), "s3://no-such-bucket-here/out.ipynb"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Output Notebook:"), "found before anything ran, as papermill: {}", stderr(&o));
    // The store is down: its own exit code, before any cell runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = deckle()
        .args(["execute", fixture("params.ipynb").to_str().unwrap(), &format!("s3://{b}/out.ipynb")])
        .envs(aws_env(&format!("http://127.0.0.1:{port}")))
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stderr(&o).contains("storage unavailable") && !stderr(&o).contains("Output Notebook:"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(SECRET));
}

#[test]
fn deckle_run_puts_every_notebook_in_the_bucket_and_keeps_none_locally() {
    let moto = s3::shared();
    let b = bucket(moto, "run");
    let dir = tmp();
    let data = dir.path().join("data");
    let o = deckle()
        .args(["run", fixture("cluster/long.yaml").to_str().unwrap(), "-p", "secs=0", "--json", "--data"])
        .arg(&data)
        .args(["--artifacts", &format!("s3://{b}/deckle")])
        .envs(aws_env(&moto.endpoint()))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = out["run"]["id"].as_str().unwrap();
    let keys = moto.list(&b, "deckle/artifacts/");
    for n in ["first", "long", "last"] {
        let key = format!("deckle/artifacts/long/{}/{run}/{n}.1.ipynb", out["run"]["date"].as_str().unwrap());
        assert!(keys.contains(&key), "{key} not in {keys:?}");
        let got = nb(&moto.get(&b, &key).unwrap());
        assert_eq!(got["metadata"]["papermill"]["exception"], Value::Null, "{n} is the finished notebook");
    }
    assert!(staged(&data.join("artifacts")).is_empty(), "uploaded notebooks are not kept in the data dir: {:?}", staged(&data.join("artifacts")));
    assert!(stderr(&o).is_empty() || !stderr(&o).contains(SECRET));
}

#[test]
fn a_server_and_worker_keep_notebooks_in_the_bucket_and_serve_them_from_it() {
    let moto = s3::shared();
    let b = bucket(moto, "serve");
    let dir = tmp();
    let data = dir.path().join("data");
    let env = aws_env(&moto.endpoint());
    let server = Server::start_with_env(&data, &["--artifacts", &format!("s3://{b}/pre")], &env_refs(&env));
    // The worker has no storage credentials: it talks to the coordinator only.
    let _w = Worker::start(&server, "w1", &["--slots", "1"]);
    server.register("long.yaml");
    let run = server.trigger("long", json!({"secs": "1"}));
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", server.log());
    let date = detail["run"]["date"].as_str().unwrap();
    // Every notebook reaches the bucket and leaves the data dir.
    wait_for("the uploads", Duration::from_secs(30), || staged(&data.join("artifacts")).is_empty());
    for n in ["first", "long", "last"] {
        let key = format!("pre/artifacts/long/{date}/{run}/{n}.1.ipynb");
        let in_bucket = moto.get(&b, &key).unwrap_or_else(|| panic!("{key} is not in the bucket"));
        assert_eq!(served(&server, &run, n), in_bucket, "the API serves {n} from the bucket");
        assert_eq!(node(&detail, n)["attempts"][0]["notebook"], format!("s3://{b}/{key}"), "records name the object");
    }
    // The registered notebooks are in the bucket by hash.
    let blobs = moto.list(&b, "pre/blobs/");
    assert!(blobs.len() >= 2, "the workflow file and its notebook: {blobs:?}");
    // deckle pull and the UI read it too.
    let out = dir.path().join("pulled.ipynb");
    let o = deckle().args(["pull", &run, "last", "-o", out.to_str().unwrap(), "--server", &server.url]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), moto.get(&b, &format!("pre/artifacts/long/{date}/{run}/last.1.ipynb")).unwrap());
    let page = reqwest::blocking::get(format!("{}/runs/{run}/nodes/long/attempts/1", server.url)).unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("started long"), "the UI renders the notebook from the bucket");
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.url)).unwrap().text().unwrap();
    let uploads: u64 = metrics.lines().find_map(|l| l.strip_prefix("deckle_artifact_uploads_total ")).unwrap().parse().unwrap();
    assert!(uploads >= 3, "{metrics}");
    assert!(metrics.contains("deckle_artifact_uploads_pending 0"), "{metrics}");
    let notebooks: u64 = metrics.lines().find_map(|l| l.strip_prefix("deckle_artifact_uploads_per_notebook_count ")).unwrap().parse().unwrap();
    assert!(notebooks >= 3, "each finished notebook is counted: {metrics}");
    // The secret access key is nowhere: logs, data dir, bucket, API answers.
    let mut seen = vec![server.log(), String::from_utf8_lossy(&o.stderr).into_owned(), detail.to_string(), metrics];
    for key in moto.list(&b, "") {
        seen.push(String::from_utf8_lossy(&moto.get(&b, &key).unwrap()).into_owned());
    }
    for f in files_under(dir.path()) {
        seen.push(String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned());
    }
    for (i, text) in seen.iter().enumerate() {
        assert!(!text.contains(SECRET), "the secret leaked into item {i}");
    }
}

#[test]
fn two_coordinators_share_only_postgres_and_the_bucket() {
    let moto = s3::shared();
    let b = bucket(moto, "twin");
    let dir = tmp();
    let db = deckle_test_support::postgres::database();
    let env = aws_env(&moto.endpoint());
    let artifacts = format!("s3://{b}/shared");
    // Two data dirs: nothing on disk is shared.
    let mut a = Server::start_with_env(&dir.path().join("a"), &["--state", &db, "--artifacts", &artifacts], &env_refs(&env));
    wait_for("a to lead", Duration::from_secs(30), || a.coordinator()["role"] == "leader");
    let bsrv = Server::start_with_env(&dir.path().join("b"), &["--state", &db, "--artifacts", &artifacts], &env_refs(&env));
    wait_for("b to stand by", Duration::from_secs(30), || bsrv.coordinator()["role"] == "standby");
    a.register("one.yaml");
    let first = {
        let _w = Worker::start(&a, "wa", &["--slots", "1"]);
        let run = a.trigger("one", json!({}));
        assert_eq!(a.wait_finished(&run, Duration::from_secs(60))["run"]["status"], "succeeded");
        run
    };
    wait_for("a's uploads", Duration::from_secs(30), || staged(&dir.path().join("a/artifacts")).is_empty());
    // The standby serves a's notebook from the bucket.
    let from_b = served(&bsrv, &first, "only");
    assert!(String::from_utf8_lossy(&from_b).contains("done only"));
    a.kill9();
    wait_for("b to lead", Duration::from_secs(60), || bsrv.coordinator()["role"] == "leader");
    // b never saw the registration on disk: its worker fetches the notebook b
    // loads from the bucket.
    let _wb = Worker::start(&bsrv, "wb", &["--slots", "1"]);
    let second = bsrv.trigger("one", json!({}));
    let detail = bsrv.wait_finished(&second, Duration::from_secs(90));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", bsrv.log());
    wait_for("b's uploads", Duration::from_secs(30), || staged(&dir.path().join("b/artifacts")).is_empty());
    let key = format!("shared/artifacts/one/{}/{second}/only.1.ipynb", detail["run"]["date"].as_str().unwrap());
    assert_eq!(served(&bsrv, &second, "only"), moto.get(&b, &key).expect("b's notebook is in the bucket"));
    assert_eq!(served(&bsrv, &first, "only"), from_b);
}

#[test]
fn an_outage_of_the_store_refuses_new_work_loses_nothing_and_recovers() {
    let moto = s3::shared();
    let b = bucket(moto, "outage");
    let proxy = Proxy::start(&moto.endpoint());
    let dir = tmp();
    let data = dir.path().join("data");
    // AWS_ENDPOINT_URL names moto itself; --artifacts-endpoint, which wins, the proxy.
    let env = aws_env(&moto.endpoint());
    let server = Server::start_with_env(&data, &["--artifacts", &format!("s3://{b}/o"), "--artifacts-endpoint", &proxy.endpoint()], &env_refs(&env));
    let _w = Worker::start(&server, "w1", &["--slots", "1"]);
    server.register("long.yaml");
    server.register("one.yaml");
    let run = server.trigger("long", json!({"secs": "6"}));
    server.wait_until(&run, Duration::from_secs(60), "the long node running", |d| node(d, "long")["status"] == "running");
    // The endpoint goes down: the first node's upload (or long's) fails.
    proxy.set(Mode::Refuse);
    let health = || server.client().get("/api/v1/health");
    wait_for("the health report to say the store is down", Duration::from_secs(60), || health().0 == 503);
    let (_, h) = health();
    let said = h["storage"]["error"].as_str().unwrap_or_default().to_string();
    assert!(said.contains("artifact store") && said.contains(&format!("s3://{b}/o/")), "{h:#}");
    assert!(!said.contains(SECRET));
    // New work is refused with that reason; what runs carries on.
    let (status, body) = server.client().post("/api/v1/workflows/one/runs", &json!({"params": {}}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "storage_unavailable", "{body}");
    assert!(body["error"].as_str().unwrap().contains("artifact store"), "{body}");
    // Throttling instead of a dead endpoint: still down.
    proxy.set(Mode::ServerError);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(health().0, 503);
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.url)).unwrap().text().unwrap();
    let failures: u64 = metrics.lines().find_map(|l| l.strip_prefix("deckle_artifact_upload_failures_total ")).unwrap().parse().unwrap();
    assert!(failures >= 1, "{metrics}");
    // Back: the fault clears by itself and the run finishes, every notebook uploaded.
    proxy.set(Mode::Forward);
    wait_for("the health report to recover", Duration::from_secs(60), || health().0 == 200);
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", server.log());
    wait_for("the uploads after the outage", Duration::from_secs(60), || staged(&data.join("artifacts")).is_empty());
    let date = detail["run"]["date"].as_str().unwrap();
    for n in ["first", "long", "last"] {
        let key = format!("o/artifacts/long/{date}/{run}/{n}.1.ipynb");
        let got = nb(&moto.get(&b, &key).unwrap_or_else(|| panic!("{key} was lost")));
        let cells = got["cells"].as_array().unwrap();
        assert!(cells.last().unwrap()["outputs"].to_string().contains("done"), "{n} is the finished notebook: {got:#}");
    }
    let (status, body) = server.client().post("/api/v1/workflows/one/runs", &json!({"params": {}}));
    assert_eq!(status, 201, "new work is taken again: {body}");
}

/// The data dir is the outbox: notebooks a server acknowledged but could not
/// upload before it was killed are uploaded by the next start, with the real
/// clock and real processes.
#[test]
fn notebooks_a_killed_server_could_not_upload_are_uploaded_when_it_starts_again() {
    let moto = s3::shared();
    let b = bucket(moto, "restart");
    let proxy = Proxy::start(&moto.endpoint());
    let dir = tmp();
    let data = dir.path().join("data");
    let env = aws_env(&moto.endpoint());
    let mut server = Server::start_with_env(&data, &["--artifacts", &format!("s3://{b}/r"), "--artifacts-endpoint", &proxy.endpoint()], &env_refs(&env));
    let _w = Worker::start(&server, "w1", &["--slots", "1"]);
    server.register("one.yaml");
    let run = server.trigger("one", json!({"secs": "3"}));
    server.wait_until(&run, Duration::from_secs(60), "the node running", |d| node(d, "only")["status"] == "running");
    proxy.set(Mode::Refuse);
    let detail = server.wait_finished(&run, Duration::from_secs(60));
    assert_eq!(detail["run"]["status"], "succeeded", "completions are taken while uploads fail: {detail:#}");
    let key = format!("r/artifacts/one/{}/{run}/only.1.ipynb", detail["run"]["date"].as_str().unwrap());
    // At most a partial save (made before the outage) is in the bucket.
    let finished = || moto.get(&b, &key).is_some_and(|body| String::from_utf8_lossy(&body).contains("done only"));
    std::thread::sleep(Duration::from_secs(1));
    assert!(!finished(), "the final notebook cannot have been uploaded yet");
    assert!(staged(&data.join("artifacts")).iter().any(|p| p.ends_with("only.1.ipynb")), "it waits in the data dir");
    server.kill9();
    proxy.set(Mode::Forward);
    server.restart(1);
    wait_for("the finished notebook's upload after the restart", Duration::from_secs(60), finished);
    wait_for("the data dir to empty", Duration::from_secs(30), || staged(&data.join("artifacts")).is_empty());
}

#[test]
fn a_server_whose_artifact_store_cannot_be_used_does_not_start() {
    let moto = s3::shared();
    let dir = tmp();
    let start = |artifacts: &str, endpoint: &str| {
        deckle()
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .args(["--artifacts", artifacts])
            .envs(aws_env(endpoint))
            .output()
            .unwrap()
    };
    let o = start("ftp://host/x", &moto.endpoint());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("unsupported scheme `ftp://`"), "{}", stderr(&o));
    let o = start("s3://no-such-bucket-at-all/p", &moto.endpoint());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = start("s3://bucket/p", &format!("http://127.0.0.1:{port}"));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("storage unavailable") && !stderr(&o).contains(SECRET), "{}", stderr(&o));
}
