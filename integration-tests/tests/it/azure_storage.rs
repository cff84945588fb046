//! Notebooks and artifacts in Azure Blob Storage, against a real emulator (Azurite,
//! on loopback): `deckle execute` on az:// and papermill's abfs:// paths, `deckle
//! run` and `deckle server` with `--artifacts az://…`, the API serving what is in
//! the container, and a missing container refused at start. The S3 suite
//! (`object_storage.rs`) covers the store-independent behaviour in depth; this one
//! checks that the Azure client is wired up the same way.

use std::time::Duration;

use deckle_test_support::azurite::{self, Azurite};
use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::execute_compat::injected_source;
use crate::harness::*;
use crate::stores::{env_refs, nb, served, staged, unique_name, wait_for};

/// A fresh container (Azure's names: lowercase letters, digits and hyphens).
fn container(azurite: &Azurite, what: &str) -> String {
    let name = unique_name(what);
    azurite.create_container(&name);
    name
}

/// `i` was injected as 42 and the notebook ran with it.
fn assert_ran_with_i_42(got: &Value) {
    assert!(injected_source(got).contains("i = 42"), "{}", injected_source(got));
    let printed = stream_text(&cells(got)[3], "stdout");
    assert!(printed.contains("i int 42") && printed.contains("s str 'default'"), "{printed}");
    assert_eq!(got["metadata"]["papermill"]["parameters"], json!({"i": 42}));
    assert_eq!(got["metadata"]["papermill"]["exception"], Value::Null);
}

#[test]
fn execute_reads_and_writes_az_and_abfs_paths() {
    let azurite = azurite::shared();
    let c = container(azurite, "exec");
    azurite.put(&c, "in/params.ipynb", &std::fs::read(fixture("params.ipynb")).unwrap());
    for (scheme, out_key) in [("az", "out/params.ipynb"), ("abfs", "out/abfs/params.ipynb")] {
        let input = format!("{scheme}://{c}/in/params.ipynb");
        let output = format!("{scheme}://{c}/{out_key}");
        let o = deckle().args(["execute", "--no-progress-bar", &input, &output, "-p", "i", "42"]).envs(azurite.env()).output().unwrap();
        assert_eq!(code(&o), 0, "{scheme}: {}", stderr(&o));
        let got = nb(&azurite.get(&c, out_key).unwrap_or_else(|| panic!("{scheme}: no {out_key} in the container")));
        assert_eq!(got["metadata"]["papermill"]["input_path"], input.as_str());
        assert_eq!(got["metadata"]["papermill"]["output_path"], output.as_str());
        assert_ran_with_i_42(&got);
        assert!(stderr(&o).contains(&format!("Output Notebook: {output}")), "{}", stderr(&o));
    }
    // The input is read, not moved or rewritten.
    assert_eq!(azurite.get(&c, "in/params.ipynb").unwrap(), std::fs::read(fixture("params.ipynb")).unwrap());
    assert_eq!(azurite.list(&c, ""), ["in/params.ipynb", "out/abfs/params.ipynb", "out/params.ipynb"]);
    // A missing object and a missing container are told apart, as for S3.
    let o = deckle().args(["execute", &format!("az://{c}/in/missing.ipynb"), "out.ipynb"]).envs(azurite.env()).output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("az://{c}/in/missing.ipynb: no such file or object")), "{}", stderr(&o));
    let o = deckle()
        .args(["execute", fixture("params.ipynb").to_str().unwrap(), "az://no-such-container/out.ipynb"])
        .envs(azurite.env())
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Output Notebook:"), "found before anything ran: {}", stderr(&o));
}

#[test]
fn deckle_run_puts_every_notebook_in_the_container_and_keeps_none_locally() {
    let azurite = azurite::shared();
    let c = container(azurite, "run");
    let dir = tmp();
    let data = dir.path().join("data");
    let o = deckle()
        .args(["run", fixture("cluster/long.yaml").to_str().unwrap(), "-p", "secs=0", "--json", "--data"])
        .arg(&data)
        .args(["--artifacts", &format!("az://{c}/pre")])
        .envs(azurite.env())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (run, date) = (out["run"]["id"].as_str().unwrap(), out["run"]["date"].as_str().unwrap());
    let keys = azurite.list(&c, "pre/artifacts/");
    // `last` is labelled with `long`'s output: the notebooks are the finished ones.
    for (n, label) in [("first", "first"), ("long", "long"), ("last", "long")] {
        let key = format!("pre/artifacts/long/{date}/{run}/{n}.1.ipynb");
        assert!(keys.contains(&key), "{key} not in {keys:?}");
        let got = nb(&azurite.get(&c, &key).unwrap());
        assert_eq!(got["metadata"]["papermill"]["exception"], Value::Null, "{n}");
        let printed: String = cells(&got).iter().map(|cell| stream_text(cell, "stdout")).collect();
        assert_eq!(printed, format!("started {label}\ndone {label}\n"), "{n}");
    }
    assert!(staged(&data.join("artifacts")).is_empty(), "uploaded notebooks are not kept in the data dir: {:?}", staged(&data.join("artifacts")));
}

#[test]
fn a_server_and_worker_keep_notebooks_in_the_container_and_serve_them_from_it() {
    let azurite = azurite::shared();
    let c = container(azurite, "serve");
    let dir = tmp();
    let data = dir.path().join("data");
    let env = azurite.env();
    let server = Server::start_with_env(&data, &["--artifacts", &format!("az://{c}/srv")], &env_refs(&env));
    let _w = Worker::start(&server, "w1", &["--slots", "1"]);
    server.register("one.yaml");
    let run = server.trigger("one", json!({}));
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", server.log());
    wait_for("the upload", Duration::from_secs(30), || staged(&data.join("artifacts")).is_empty());
    let key = format!("srv/artifacts/one/{}/{run}/only.1.ipynb", detail["run"]["date"].as_str().unwrap());
    let in_container = azurite.get(&c, &key).unwrap_or_else(|| panic!("{key} is not in the container: {:?}", azurite.list(&c, "")));
    assert!(String::from_utf8_lossy(&in_container).contains("done only"));
    assert_eq!(served(&server, &run, "only"), in_container, "the API serves the notebook from the container");
    assert_eq!(node(&detail, "only")["attempts"][0]["notebook"], format!("az://{c}/{key}"), "records name the object");
    // The registered notebooks are in the container by hash.
    let blobs = azurite.list(&c, "srv/blobs/");
    assert!(blobs.len() >= 2, "the workflow file and its notebook: {blobs:?}");
}

#[test]
fn a_server_whose_container_does_not_exist_does_not_start() {
    let azurite = azurite::shared();
    let dir = tmp();
    let start = |env: Vec<(&'static str, String)>| {
        deckle()
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .args(["--artifacts", "az://no-such-container/x"])
            .envs(env)
            .output()
            .unwrap()
    };
    let o = start(azurite.env());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("az://no-such-container/x") && stderr(&o).contains("does not exist"), "{}", stderr(&o));
    // No emulator at that address: the store is unavailable, not missing.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = start(Azurite::at(&format!("http://127.0.0.1:{port}")).env());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("storage unavailable") && !stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

/// A key the emulator did not issue (valid base64, wrong bytes).
const WRONG_KEY: &str = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";

#[test]
fn refused_credentials_are_said_plainly_and_never_echoed() {
    let azurite = azurite::shared();
    let c = container(azurite, "denied");
    let dir = tmp();
    let mut env = azurite.env();
    env.push(("AZURE_STORAGE_ACCOUNT_KEY", WRONG_KEY.to_string()));
    // A server refuses to start on credentials the store refuses.
    let o = deckle()
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .args(["--artifacts", &format!("az://{c}/x")])
        .envs(env.clone())
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("access denied"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(WRONG_KEY), "the key leaked: {}", stderr(&o));
    // deckle execute: before any cell runs, with the storage exit code.
    let o = deckle().args(["execute", fixture("params.ipynb").to_str().unwrap(), &format!("az://{c}/out.ipynb")]).envs(env).output().unwrap();
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stderr(&o).contains("access denied") && !stderr(&o).contains("Output Notebook:"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(WRONG_KEY), "the key leaked: {}", stderr(&o));
    assert!(azurite.list(&c, "").is_empty(), "nothing was written with refused credentials");
}
