//! SQL nodes: the notebook `deckle_worker::sql` generates, run on a real Python
//! kernel through `execute_notebook` with the declared outputs the worker reads.
//!
//! - DuckDB runs for real (it is in the runtime requirements).
//! - Trino runs the real `trino` Python client against a STAND-IN server
//!   (`fixtures/sql/trino_standin.py`), NOT a real Trino: a small stdlib HTTP
//!   server that speaks Trino's client statement protocol (POST /v1/statement,
//!   paging over nextUri, errors) and answers two fixed queries from canned data.
//!   It checks that the generated notebook drives the client correctly; it says
//!   nothing about Trino's SQL.
//! - Spark runs for real: pyspark in local mode, inside the kernel. It needs
//!   Java 17+ on PATH (pyspark itself comes with `scripts/setup.sh --test`).
//!   Measured on a 2-core machine: installing pyspark (no pip cache) ~50 s of
//!   the ~105 s fresh `setup.sh --test`; this test ~30 s (JVM start dominates).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use deckle_protocol::sql::SqlSpec;
use deckle_worker::execute::{execute_notebook, ExecuteFailure, ExecuteOptions};
use deckle_worker::params::{ParamValue, Params};
use deckle_worker::sql::{self, TAG_PREVIEW, TAG_QUERY, TAG_RECORD};
use serde_json::{json, Map, Value};

use crate::harness::*;

/// Generate the node's notebook into `dir`, run it there with its declared
/// outputs, and return the outputs (or the failure) and the output notebook.
fn run_sql(spec: &SqlSpec, dir: &Path, params: Params, env: Vec<(String, String)>) -> (Result<Map<String, Value>, ExecuteFailure>, Value) {
    let nb = sql::generate_notebook(spec, "python3").expect("generate");
    let input = dir.join("node.ipynb");
    let output = dir.join("node.out.ipynb");
    deckle_worker::notebook::write(&nb, &input).unwrap();
    let mut opts = ExecuteOptions::new(&input, &output).with_params(params);
    opts.outputs = sql::declared_outputs(spec);
    opts.cwd = Some(dir.to_path_buf());
    opts.env = env;
    opts.execution_timeout = Some(Duration::from_secs(300));
    opts.search_env = Some([("VIRTUAL_ENV".to_string(), venv().display().to_string())].into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let result = rt.block_on(execute_notebook(&opts)).map(|r| r.recorded.into_iter().collect());
    (result, read_nb(&output))
}

fn spec(engine: &str, query: &str, save_to: Option<&str>, connection: Value, preview_rows: usize) -> SqlSpec {
    SqlSpec { engine: engine.into(), query: query.into(), save_to: save_to.map(Into::into), connection, preview_rows }
}

fn tagged<'a>(nb: &'a Value, tag: &str) -> &'a Value {
    cells(nb).iter().find(|c| c["metadata"]["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))).unwrap_or_else(|| panic!("no cell tagged {tag}"))
}

fn ok(result: Result<Map<String, Value>, ExecuteFailure>) -> Map<String, Value> {
    result.unwrap_or_else(|f| panic!("the SQL node failed: {}", f.error))
}

/// Run `script` with the venv's python; its stdout, as JSON.
fn py(script: &str, args: &[&Path]) -> Value {
    let o = python().arg("-c").arg(script).args(args).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

const READ_BACK: &str = "import sys, json, duckdb\n\
    rows = duckdb.sql(sys.argv[2], params=[sys.argv[1]]).fetchall()\n\
    print(json.dumps([list(map(str, r)) for r in rows]))";

/// Nasty on purpose: single and double quotes, doubled quotes, a backslash,
/// Python's triple quotes, a line comment at the end, non-ASCII text.
const DUCKDB_QUERY: &str = r#"-- Deckle test: 'quotes', "double", back\slash, ''' and """ and ✓ 日本
select name, qty, price, day, note,
       'a\b "q" ''s'' ✓ 日本' as tag,
       'nan'::double as nothing
from read_csv('plays.csv', header = true,
              columns = {'name': 'VARCHAR', 'qty': 'INTEGER', 'price': 'DECIMAL(6,2)', 'day': 'DATE', 'note': 'VARCHAR'})
where note is distinct from 'drop me'
order by qty -- the last line is a comment too"#;

#[test]
fn duckdb_outputs_are_recorded_exactly() {
    let d = tmp();
    std::fs::write(
        d.path().join("plays.csv"),
        "name,qty,price,day,note\n\
         \"it's \"\"quoted\"\"\",3,1.25,2024-05-01,a\\b\n\
         café ✓,1,,2024-05-02,日本\n\
         plain,2,2.5,2024-05-03,\n\
         zzz,4,9.99,2024-05-04,last\n\
         gone,0,0,2024-05-05,drop me\n",
    )
    .unwrap();
    let mut params = Params::new();
    params.insert("region".into(), ParamValue::Str("fr".into()));
    let s = spec("duckdb", DUCKDB_QUERY, None, Value::Null, 3);
    let (result, nb) = run_sql(&s, d.path(), params, vec![]);
    let out = ok(result);
    assert_eq!(
        Value::Object(out),
        json!({
            "row_count": 4,
            "columns": ["name", "qty", "price", "day", "note", "tag", "nothing"],
            "preview": [
                {"name": "café ✓", "qty": 1, "price": null, "day": "2024-05-02", "note": "日本",
                 "tag": "a\\b \"q\" 's' ✓ 日本", "nothing": null},
                {"name": "plain", "qty": 2, "price": 2.5, "day": "2024-05-03", "note": null,
                 "tag": "a\\b \"q\" 's' ✓ 日本", "nothing": null},
                {"name": "it's \"quoted\"", "qty": 3, "price": 1.25, "day": "2024-05-01", "note": "a\\b",
                 "tag": "a\\b \"q\" 's' ✓ 日本", "nothing": null},
            ],
        })
    );
    // The record shows what ran: the query as given, params injected after the
    // parameters cell, the preview table, the summary line.
    let cs = cells(&nb);
    assert_eq!(cs[1]["metadata"]["tags"], json!(["parameters"]));
    assert_eq!(cs[2]["metadata"]["tags"], json!(["injected-parameters"]));
    assert!(join(&cs[2]["source"]).contains("region = \"fr\""), "{}", join(&cs[2]["source"]));
    assert!(join(&tagged(&nb, TAG_QUERY)["source"]).contains(r#"'a\\b \"q\" ''s'' ✓ 日本' as tag"#));
    let preview = &tagged(&nb, TAG_PREVIEW)["outputs"][0];
    assert_eq!(preview["output_type"], "execute_result");
    assert!(join(&preview["data"]["text/html"]).contains("café ✓"), "{preview}");
    assert_eq!(stream_text(tagged(&nb, TAG_RECORD), "stdout"), "4 rows; columns: name, qty, price, day, note, tag, nothing\n");
    assert_eq!(nb["metadata"]["papermill"]["exception"], json!(null));
}

#[test]
fn duckdb_save_to_writes_parquet_that_reads_back() {
    let d = tmp();
    let q = "select range as x, range * range as sq, 'r' || range as label\nfrom range(10)\nwhere range % 2 = 0\norder by x;";
    let s = spec("duckdb", q, Some("out/nested/evens.parquet"), Value::Null, 2);
    let (result, _nb) = run_sql(&s, d.path(), Params::new(), vec![]);
    let out = ok(result);
    let expected_path = d.path().canonicalize().unwrap().join("out/nested/evens.parquet");
    assert_eq!(out["path"], json!(expected_path.display().to_string()));
    assert_eq!(out["row_count"], json!(5));
    assert_eq!(out["columns"], json!(["x", "sq", "label"]));
    assert_eq!(out["preview"], json!([{"x": 0, "sq": 0, "label": "r0"}, {"x": 2, "sq": 4, "label": "r2"}]));
    let got = py(
        READ_BACK,
        &[&expected_path, Path::new("select count(*), sum(sq), string_agg(label, ',' order by x) from read_parquet(?)")],
    );
    assert_eq!(got, json!([["5", "120", "r0,r2,r4,r6,r8"]]));
}

#[test]
fn duckdb_bad_sql_fails_the_node_with_the_error_in_the_notebook() {
    let d = tmp();
    let s = spec("duckdb", "select * from no_such_table", None, Value::Null, 5);
    let (result, nb) = run_sql(&s, d.path(), Params::new(), vec![]);
    let f = result.expect_err("a bad query must fail the node");
    let msg = f.error.to_string();
    assert!(msg.contains("CatalogException") && msg.contains("no_such_table"), "{msg}");
    assert_eq!(f.error.exit_code(), 1);
    let query = tagged(&nb, TAG_QUERY);
    let err = query["outputs"].as_array().unwrap().iter().find(|o| o["output_type"] == "error").expect("error output");
    assert_eq!(err["ename"], "CatalogException");
    assert!(err["evalue"].as_str().unwrap().contains("no_such_table"));
    assert_eq!(query["metadata"]["papermill"]["status"], "failed");
    assert_eq!(tagged(&nb, TAG_RECORD)["metadata"]["papermill"]["status"], "pending");
    assert!(join(&tagged(&nb, "papermill-error-cell-tag")["source"]).contains("An Exception was encountered"));
    assert!(nb["metadata"]["papermill"]["exception"] == json!(true), "{}", nb["metadata"]["papermill"]);
}

/// The Trino stand-in (see the module docs: not Trino), killed on drop.
struct StandIn {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl StandIn {
    fn start(dir: &Path) -> StandIn {
        let log = dir.join("statements.jsonl");
        let mut child = python()
            .arg(fixture("sql/trino_standin.py"))
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the Trino stand-in");
        // It prints its port once it is listening.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening on ").and_then(|p| p.parse().ok());
        let port = port.unwrap_or_else(|| {
            let _ = child.kill();
            panic!("the stand-in did not start: {line:?}")
        });
        StandIn { child, port, log }
    }

    fn statements(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn trino_client_against_a_stand_in_server() {
    let d = tmp();
    let server = StandIn::start(d.path());
    let conn = json!({"host": "127.0.0.1", "port": server.port, "user": "analyst", "catalog": "hive",
                      "schema": "default", "session_properties": {"query_max_run_time": "10m"}});
    // A trailing semicolon, which Trino itself rejects: the notebook strips it.
    let q = "select region, plays, revenue, day, ratio\nfrom hive.default.plays\nwhere note = 'it''s \"ok\"'\norder by plays desc;\n";
    let s = spec("trino", q, Some("plays.parquet"), conn.clone(), 2);
    let (result, _nb) = run_sql(&s, d.path(), Params::new(), vec![]);
    let out = ok(result);
    let path = d.path().canonicalize().unwrap().join("plays.parquet");
    assert_eq!(
        Value::Object(out),
        json!({
            "row_count": 3,
            "columns": ["region", "plays", "revenue", "day", "ratio"],
            "preview": [
                {"region": "são paulo", "plays": 1200, "revenue": "12.50", "day": "2024-05-01", "ratio": 0.5},
                {"region": "fr", "plays": 800, "revenue": "3.10", "day": "2024-05-01", "ratio": null},
            ],
            "path": path.display().to_string(),
        })
    );
    // What the client sent: the SQL without the semicolon, the session from `engines.trino`.
    let sent = server.statements();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["sql"], json!(q.trim().trim_end_matches(';')));
    let h = &sent[0]["headers"];
    assert_eq!((&h["X-Trino-User"], &h["X-Trino-Catalog"], &h["X-Trino-Schema"]), (&json!("analyst"), &json!("hive"), &json!("default")));
    assert_eq!(h["X-Trino-Source"], "deckle");
    assert!(h["X-Trino-Session"].as_str().unwrap_or("").contains("query_max_run_time=10m"), "{h}");
    // The saved Parquet keeps every row (the NULL row too) and the decimals.
    let got = py(READ_BACK, &[&path, Path::new("select region, plays, revenue, day from read_parquet(?) order by plays desc nulls last")]);
    assert_eq!(
        got,
        json!([["são paulo", "1200", "12.50", "2024-05-01"], ["fr", "800", "3.10", "2024-05-01"], ["us", "None", "None", "None"]])
    );

    // A query the server fails (as Trino does for an unknown table) fails the node.
    let s = spec("presto", "select * from nope", None, conn, 2);
    let (result, nb) = run_sql(&s, d.path(), Params::new(), vec![]);
    let f = result.expect_err("a failing Trino query must fail the node");
    let msg = f.error.to_string();
    assert!(msg.contains("TrinoUserError") && msg.contains("TABLE_NOT_FOUND") && msg.contains("does not exist"), "{msg}");
    assert_eq!(tagged(&nb, TAG_QUERY)["metadata"]["papermill"]["status"], "failed");
}

#[test]
fn spark_local_mode_for_real() {
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.is_ok_and(|o| o.status.success()),
        "pyspark needs Java 17+ on PATH (e.g. `apt-get install openjdk-17-jre-headless`)"
    );
    let d = tmp();
    let conn = json!({"master": "local[1]", "app_name": "deckle-test",
                      "config": {"spark.ui.enabled": false, "spark.sql.shuffle.partitions": 1,
                                 // Light on a shared 2-core CI box: one core, a quick JIT, a simple GC.
                                 "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ActiveProcessorCount=1"}});
    let q = "select id, id * id as sq, concat('s''', id) as label, date_add(date'2024-05-01', cast(id as int)) as day\n\
             from range(10) where id % 2 = 0 order by id;";
    let s = spec("spark", q, Some("spark_out/evens.parquet"), conn, 3);
    let py_exe = venv().join("bin/python").display().to_string();
    let env = vec![("PYSPARK_PYTHON".to_string(), py_exe.clone()), ("PYSPARK_DRIVER_PYTHON".to_string(), py_exe)];
    let (result, nb) = run_sql(&s, d.path(), Params::new(), env);
    let out = ok(result);
    let path = d.path().canonicalize().unwrap().join("spark_out/evens.parquet");
    assert_eq!(
        Value::Object(out),
        json!({
            "row_count": 5,
            "columns": ["id", "sq", "label", "day"],
            "preview": [
                {"id": 0, "sq": 0, "label": "s'0", "day": "2024-05-01"},
                {"id": 2, "sq": 4, "label": "s'2", "day": "2024-05-03"},
                {"id": 4, "sq": 16, "label": "s'4", "day": "2024-05-05"},
            ],
            "path": path.display().to_string(),
        })
    );
    assert!(join(&tagged(&nb, TAG_PREVIEW)["outputs"][0]["data"]["text/plain"]).contains("s'4"));
    // Spark writes a directory of part files.
    let got = py(READ_BACK, &[&path, Path::new("select count(*), sum(sq) from read_parquet(? || '/*.parquet')")]);
    assert_eq!(got, json!([["5", "120"]]));
}
