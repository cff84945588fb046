//! The read-only Jupyter Contents API (`/api/contents`, `/files`), driven from
//! Python by a real Jupyter Server REST client from PyPI (`jupyter-server-api`, in
//! the test venv): it lists the root, a workflow, a date and a run, opens each
//! notebook, and meets the refusals (no token, a write, `..`). Every model it is
//! served is also held to the keys jupyter_server's own `validate_model` requires.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{Server, Worker};
use crate::harness::{python, stderr, tmp};

/// A notebook that prints and displays something about its `day` param.
fn say_notebook() -> String {
    json!({
        "cells": [
            {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "day = \"\""},
            {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Greetings"},
            {"cell_type": "code", "execution_count": null, "id": "b", "metadata": {}, "outputs": [], "source": "print(f\"hello {day}\")\nlen(day) * 2"}
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5
    })
    .to_string()
}

/// A foreach node's notebook: prints its letter.
fn each_notebook() -> String {
    json!({
        "cells": [
            {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "letter = \"\""},
            {"cell_type": "code", "execution_count": null, "id": "b", "metadata": {}, "outputs": [], "source": "print(\"letter\", letter)"}
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5
    })
    .to_string()
}

const WORKFLOW: &str = "workflow: jc
nodes:
  say: { notebook: say.ipynb, params: { day: \"${{ run.date }}\" } }
  each: { notebook: each.ipynb, needs: say, foreach: [a, b], params: { letter: \"${{ item }}\" } }
";

/// What the Python client does: everything it saw, as JSON on stdout.
const CLIENT: &str = r#"
import hashlib, http.client, json, sys, urllib.parse
import requests
from jupyter_server_api import JupyterServerClient
from jupyter_server_api.exceptions import JupyterServerError

url, token, wf = sys.argv[1:4]
# What jupyter_server's validate_model requires of every model it serves.
REQUIRED = {"name", "path", "type", "writable", "created", "last_modified", "mimetype", "content", "format"}

def shape(m, content):
    missing = REQUIRED - set(m)
    assert not missing, f"missing keys {missing} in {m}"
    assert m["writable"] is False, m
    if content:
        assert m["content"] is not None and m["format"] is not None, m
    else:
        assert m["content"] is None and m["format"] is None, m

def refused(call):
    try:
        call()
    except JupyterServerError as e:
        return [e.status_code, e.message]
    return "accepted"

out = {"dirs": {}, "notebooks": {}, "files": {}, "refusals": {}}
with JupyterServerClient(url, token=token, max_retries=0) as c:
    out["version"] = c.get_version().model_dump(mode="json")
    out["status"] = c.get_status().model_dump(mode="json")

    def ls(path):
        raw = c.http_client.get("/api/contents/" + path, params={"type": "directory"})
        shape(raw, True)
        assert raw["type"] == "directory" and raw["path"] == path and raw["format"] == "json", raw
        for e in raw["content"]:
            shape(e, False)
        bare = c.http_client.get("/api/contents/" + path, params={"content": 0})
        shape(bare, False)
        listed = c.contents.list_directory(path)
        out["dirs"][path] = [[m.name, m.path, m.type] for m in listed]
        assert all(m.created <= m.last_modified for m in listed), listed
        return [m for m in listed]

    ls("")
    for date in ls(wf):
        for run in ls(date.path):
            for nb in ls(run.path):
                m = c.contents.get(nb.path)
                assert m.type == "notebook" and m.format == "json" and m.size and m.name == nb.name, m
                raw = c.http_client.get("/api/contents/" + nb.path, params={"hash": 1})
                shape(raw, True)
                assert raw["hash_algorithm"] == "sha256", raw
                bare = c.http_client.get("/api/contents/" + nb.path, params={"content": 0})
                shape(bare, False)
                text = c.contents.get(nb.path, type="file", format="text")
                b64 = c.contents.get(nb.path, type="file", format="base64")
                import base64
                assert text.type == "file" and text.format == "text" and b64.format == "base64", (text, b64)
                assert base64.b64decode(b64.content).decode() == text.content
                assert hashlib.sha256(text.content.encode()).hexdigest() == raw["hash"]
                assert c.contents.list_checkpoints(nb.path) == []
                files = c.http_client.session.get(url + "/files/" + nb.path, params={"download": 1})
                assert files.status_code == 200, files.text
                assert files.text == text.content
                out["notebooks"][nb.path] = m.content
                out["files"][nb.path] = {"text": files.text, "type": files.headers["content-type"], "disposition": files.headers["content-disposition"]}

    some = sorted(out["notebooks"])[0]
    run_dir = some.rsplit("/", 1)[0]
    nb = c.contents.get(some).content
    r = out["refusals"]
    r["save"] = refused(lambda: c.contents.save_notebook(some, nb))
    r["create"] = refused(lambda: c.contents.create_untitled(run_dir))
    r["mkdir"] = refused(lambda: c.contents.create_directory(wf + "/new"))
    r["rename"] = refused(lambda: c.contents.rename(some, run_dir + "/other.1.ipynb"))
    r["delete"] = refused(lambda: c.contents.delete(some))
    r["checkpoint"] = refused(lambda: c.contents.create_checkpoint(some))
    r["unknown workflow"] = refused(lambda: c.contents.get("nope"))
    r["unknown date"] = refused(lambda: c.contents.get(wf + "/1999-01-01"))
    r["unknown notebook"] = refused(lambda: c.contents.get(run_dir + "/nope.1.ipynb"))
    r["not canonical"] = refused(lambda: c.contents.get(some.replace(".1.ipynb", ".01.ipynb")))
    r["too deep"] = refused(lambda: c.contents.get(some + "/x"))
    r["bad content"] = refused(lambda: c.http_client.get("/api/contents/" + wf, params={"content": 2}))
    r["dir as notebook"] = refused(lambda: c.contents.get(wf, type="notebook"))
    r["notebook as dir"] = refused(lambda: c.contents.get(some, type="directory"))
    r["files of a dir"] = refused(lambda: c.http_client.get("/files/" + run_dir))
    r["raw body"] = c.http_client.session.delete(url + "/api/contents/" + some).json()

    # `..`, sent as is (http.client does not normalise paths), plain and encoded.
    host = urllib.parse.urlparse(url).netloc
    for p in ["/api/contents/" + wf + "/../" + wf, "/api/contents/%2e%2e/" + wf, "/api/contents/" + some.replace(wf + "/", wf + "/x/../", 1), "/files/" + wf + "/../" + some, "/files/%2E%2E/" + some]:
        conn = http.client.HTTPConnection(host, timeout=30)
        conn.request("GET", p, headers={"Authorization": "Bearer " + token})
        resp = conn.getresponse()
        out["refusals"]["dots " + p] = [resp.status, json.loads(resp.read())]
        conn.close()

# Without the token, or with another: refused.
with JupyterServerClient(url, token=None, max_retries=0) as anon:
    out["refusals"]["no token"] = refused(lambda: anon.contents.list_directory(""))
    out["refusals"]["no token, a notebook"] = refused(lambda: anon.contents.get(some))
with JupyterServerClient(url, token="not-" + token, max_retries=0) as wrong:
    out["refusals"]["wrong token"] = refused(lambda: wrong.contents.list_directory(wf))
    out["refusals"]["wrong token, files"] = refused(lambda: wrong.http_client.get("/files/" + some))
files = requests.get(url + "/files/" + some, allow_redirects=False)
out["refusals"]["files without a token"] = [files.status_code, files.headers.get("location")]
print(json.dumps(out))
"#;

/// Send `GET path` as written (no client normalises it) and read the status.
fn raw_get(server: &Server, path: &str) -> u16 {
    let addr = server.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let token = server.token.as_deref().unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {reply:?}"))
}

#[test]
fn a_jupyter_client_lists_and_opens_output_notebooks_read_only() {
    let dir = tmp();
    let wf = dir.path().join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(wf.join("say.ipynb"), say_notebook()).unwrap();
    std::fs::write(wf.join("each.ipynb"), each_notebook()).unwrap();
    std::fs::write(wf.join("jc.yaml"), WORKFLOW).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "contents-s3cret\n").unwrap();
    let server = Server::start(&dir.path().join("data"), &["--token-file", token.to_str().unwrap(), "--lease-ttl", "10"]);
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    server.register_from(&wf.join("jc.yaml"));

    // Two runs on one date, one on another.
    let mut runs = Vec::new();
    for date in ["2026-03-04", "2026-03-05", "2026-03-05"] {
        let (status, body) = server.client().post("/api/v1/workflows/jc/runs", &json!({"date": date}));
        assert_eq!(status, 201, "{body}");
        runs.push((date, body["id"].as_str().unwrap().to_string()));
    }
    for (_, id) in &runs {
        let d = server.wait_finished(id, Duration::from_secs(240));
        assert_eq!(d["run"]["status"], "succeeded", "{d:#}\n{}", server.log());
    }

    let script = dir.path().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let o = python().arg(&script).args([&server.url, "contents-s3cret", "jc"]).output().unwrap();
    assert!(o.status.success(), "the Python client failed:\n{}\nserver log:\n{}", stderr(&o), server.log());
    let out: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));

    assert_eq!(out["version"]["server"], "deckle", "{:#}", out["version"]);
    assert_eq!(out["status"]["kernels"], 0, "{:#}", out["status"]);

    // The tree: / → workflow → dates (newest first) → runs → notebooks.
    let dirs = &out["dirs"];
    assert_eq!(dirs[""], json!([["jc", "jc", "directory"]]), "{dirs:#}");
    assert_eq!(dirs["jc"], json!([["2026-03-05", "jc/2026-03-05", "directory"], ["2026-03-04", "jc/2026-03-04", "directory"]]), "{dirs:#}");
    for date in ["2026-03-04", "2026-03-05"] {
        let want: BTreeSet<String> = runs.iter().filter(|(d, _)| *d == date).map(|(_, id)| id.clone()).collect();
        let got: BTreeSet<String> = dirs[format!("jc/{date}")].as_array().unwrap().iter().map(|e| e[0].as_str().unwrap().to_string()).collect();
        assert_eq!(got, want, "{dirs:#}");
    }
    for (date, id) in &runs {
        let run_dir = format!("jc/{date}/{id}");
        let got: BTreeSet<String> = dirs[&run_dir].as_array().unwrap().iter().map(|e| e[0].as_str().unwrap().to_string()).collect();
        assert_eq!(got, ["each.0.1.ipynb", "each.1.1.ipynb", "say.1.ipynb"].map(String::from).into(), "{dirs:#}");
        assert!(dirs[&run_dir].as_array().unwrap().iter().all(|e| e[2] == "notebook"), "{dirs:#}");

        // Each notebook as the client read it is the one the API serves, byte for
        // byte through /files and equal as JSON through the contents model.
        for (file, key) in [("say.1.ipynb", "say"), ("each.0.1.ipynb", "each.0"), ("each.1.1.ipynb", "each.1")] {
            let path = format!("{run_dir}/{file}");
            let resp = reqwest::blocking::Client::new().get(format!("{}/api/v1/runs/{id}/nodes/{key}/attempts/1/notebook", server.url)).bearer_auth("contents-s3cret").send().unwrap();
            assert_eq!(resp.status(), 200);
            let api_text = resp.text().unwrap();
            let api: Value = serde_json::from_str(&api_text).unwrap();
            assert_eq!(out["notebooks"][&path], api, "{path}");
            assert_eq!(out["files"][&path]["text"], api_text, "{path}");
            assert_eq!(out["files"][&path]["type"], "application/x-ipynb+json");
            assert_eq!(out["files"][&path]["disposition"], format!("attachment; filename=\"{file}\""));
        }
        let say = &out["notebooks"][format!("{run_dir}/say.1.ipynb")];
        let cell_of = |id: &str| say["cells"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no cell {id}: {say:#}"));
        let cell = cell_of("b");
        let printed: String = cell["outputs"].as_array().unwrap().iter().filter(|o| o["output_type"] == "stream").map(|o| o["text"].as_str().map_or_else(|| o["text"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect(), str::to_string)).collect();
        assert_eq!(printed, format!("hello {date}\n"), "{say:#}");
        assert!(cell["outputs"].as_array().unwrap().iter().any(|o| o["output_type"] == "execute_result" && (o["data"]["text/plain"] == json!("20") || o["data"]["text/plain"] == json!(["20"]))), "{say:#}");
        assert_eq!(cell_of("m")["source"], json!(["# Greetings"]), "{say:#}");
    }

    // Refusals: writes are 405, unknown and climbing paths 404, bad parameters 400,
    // no token 401; each with Jupyter's `message` (and `reason`).
    let r = &out["refusals"];
    for what in ["save", "create", "mkdir", "rename", "delete", "checkpoint"] {
        assert_eq!(r[what][0], 405, "{what}: {r:#}");
        assert!(r[what][1].as_str().is_some_and(|m| m.contains("read-only")), "{what}: {r:#}");
    }
    assert_eq!(r["raw body"]["reason"], "Method Not Allowed", "{r:#}");
    for what in ["unknown workflow", "unknown date", "unknown notebook", "not canonical", "too deep", "files of a dir"] {
        assert_eq!(r[what][0], 404, "{what}: {r:#}");
        assert!(r[what][1].as_str().is_some_and(|m| m.contains("does not exist")), "{what}: {r:#}");
    }
    for what in ["bad content", "dir as notebook", "notebook as dir"] {
        assert_eq!(r[what][0], 400, "{what}: {r:#}");
    }
    let dots: Vec<(&String, &Value)> = r.as_object().unwrap().iter().filter(|(k, _)| k.starts_with("dots ")).collect();
    assert_eq!(dots.len(), 5, "{r:#}");
    for (what, got) in dots {
        assert_eq!(got[0], 404, "{what}: {r:#}");
        assert!(got[1]["message"].as_str().is_some_and(|m| m.contains("does not exist")), "{what}: {r:#}");
        assert!(got[1].get("reason").is_some(), "{what}: {r:#}");
    }
    for what in ["no token", "no token, a notebook", "wrong token", "wrong token, files"] {
        assert_eq!(r[what][0], 401, "{what}: {r:#}");
    }
    // A browser without a session is sent to sign in, as for every page.
    assert_eq!(r["files without a token"][0], 303, "{r:#}");
    assert_eq!(r["files without a token"][1], "/login", "{r:#}");

    // Straight from a socket too: `..` in any position is never resolved.
    let (date, id) = &runs[0];
    for p in [format!("/api/contents/jc/{date}/{id}/../{id}/say.1.ipynb"), "/api/contents/..".to_string(), format!("/files/jc/{date}/{id}/../../../../jc/{date}/{id}/say.1.ipynb")] {
        assert_eq!(raw_get(&server, &p), 404, "{p}");
    }
    assert_eq!(raw_get(&server, &format!("/api/contents/jc/{date}/{id}/say.1.ipynb")), 200);
}
