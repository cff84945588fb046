//! A node's outputs across the runs of a backfill, read back with `deckle outputs`
//! from a real coordinator: one row per date, oldest first, a failed date as a row
//! without a value, date ranges, CSV a script can read.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{Server, Worker};
use crate::harness::{code, deckle, stderr, tmp};

/// A notebook recording `n`, the day of the month of its `day` param, failing on the 3rd.
fn counting_notebook() -> String {
    json!({
        "cells": [
            {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": "day = \"\""},
            {"cell_type": "code", "execution_count": null, "id": "b", "metadata": {}, "outputs": [],
             "source": "assert not day.endswith(\"-03\"), \"no data on the 3rd\"\nn = int(day[-2:]) * 10\nlabel = f\"day, {day}\""}
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5
    })
    .to_string()
}

fn outputs(server: &Server, args: &[&str]) -> String {
    let o = deckle().arg("outputs").args(args).args(["--server", &server.url]).env_remove("DECKLE_SERVER").env_remove("DECKLE_TOKEN").output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn outputs_of_a_backfill_read_back_by_date_with_the_failed_date_empty() {
    let dir = tmp();
    let wf = dir.path().join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(wf.join("count.ipynb"), counting_notebook()).unwrap();
    std::fs::write(wf.join("daily.yaml"), "workflow: daily\nnodes:\n  count: { notebook: count.ipynb, params: { day: \"${{ run.date }}\" }, outputs: [n, label] }\n").unwrap();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "10"]);
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    server.register_from(&wf.join("daily.yaml"));
    server.backfill_to_end("daily", json!({"from": "2026-01-01", "to": "2026-01-05", "parallel": 2}), Duration::from_secs(300));

    let csv = outputs(&server, &["daily", "count", "--csv"]);
    let rows: Vec<Vec<String>> = csv.lines().map(|l| l.split(',').map(str::to_string).collect()).collect();
    assert_eq!(rows[0], ["date", "logical_time", "run_id", "version", "status", "n", "label"], "{csv}");
    let got: Vec<(&str, &str, &str)> = rows[1..].iter().map(|r| (r[0].as_str(), r[4].as_str(), r[5].as_str())).collect();
    assert_eq!(
        got,
        [("2026-01-01", "succeeded", "10"), ("2026-01-02", "succeeded", "20"), ("2026-01-03", "failed", ""), ("2026-01-04", "succeeded", "40"), ("2026-01-05", "succeeded", "50")],
        "{csv}"
    );
    assert!(csv.contains("\"day, 2026-01-02\""), "a value with a comma is quoted: {csv}");

    // One output, a range, and JSON with the values' own types.
    let o = deckle()
        .args(["outputs", "daily", "count", "--name", "n", "--from", "2026-01-02", "--to", "2026-01-04", "--json", "--server", &server.url])
        .env_remove("DECKLE_SERVER")
        .env_remove("DECKLE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let points: Vec<(Value, Value)> = s["points"].as_array().unwrap().iter().map(|p| (p["date"].clone(), p["outputs"]["n"].clone())).collect();
    assert_eq!(points, [(json!("2026-01-02"), json!(20)), (json!("2026-01-03"), Value::Null), (json!("2026-01-04"), json!(40))], "{s:#}");
    assert_eq!(s["names"], json!(["n"]));

    // The table, and refusals: an unknown node, a bad date.
    let table = outputs(&server, &["daily", "count", "--name", "n"]);
    assert!(table.lines().next().is_some_and(|h| h.split_whitespace().eq(["DATE", "RUN", "STATUS", "N"])), "{table}");
    for (args, why) in [(["daily", "nope", "--from", "2026-01-01"], "not found"), (["daily", "count", "--from", "2026-02-30"], "not a date")] {
        let o = deckle().arg("outputs").args(args).args(["--server", &server.url]).env_remove("DECKLE_SERVER").env_remove("DECKLE_TOKEN").output().unwrap();
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
    }
}
