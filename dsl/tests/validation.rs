//! Validation messages for broken workflow files (snapshots under
//! `tests/snapshots/`), and the original design's example workflow.

use std::path::Path;

use deckle_dsl::{load, parse_str, NodeKind, ParamType, Severity, TriggerRule};

/// Every diagnostic for a fixture, one per line, paths relative to the crate.
fn diagnostics(fixture: &str) -> String {
    let path = Path::new("tests/fixtures").join(fixture);
    match load(&path) {
        Ok(l) => panic!("{fixture} should not validate; warnings: {:?}", l.warnings),
        Err(d) => {
            assert!(d.errors().count() > 0);
            d.to_string()
        }
    }
}

#[test]
fn unknown_and_missing_keys() {
    insta::assert_snapshot!(diagnostics("unknown_keys.yaml"));
}

#[test]
fn duplicate_ids_unknown_needs_and_cycles() {
    let out = diagnostics("graph_errors.yaml");
    assert!(out.contains("`needs` form a cycle: a -> b -> c -> a"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn expression_reads() {
    insta::assert_snapshot!(diagnostics("references.yaml"));
}

#[test]
fn cel_syntax_errors() {
    insta::assert_snapshot!(diagnostics("expressions.yaml"));
}

#[test]
fn schedule_and_engines() {
    insta::assert_snapshot!(diagnostics("schedule_engines.yaml"));
    insta::assert_snapshot!(diagnostics("schedule_engines_unconfigured.yaml"));
}

#[test]
fn param_default_types() {
    insta::assert_snapshot!(diagnostics("param_types.yaml"));
}

#[test]
fn ids_outputs_triggers_durations() {
    insta::assert_snapshot!(diagnostics("values.yaml"));
}

#[test]
fn notebook_files() {
    let out = diagnostics("notebooks.yaml");
    // The warning for `no_cell` is listed after the errors.
    assert!(out.lines().last().unwrap().contains("warning: notebook `nb/plain.ipynb` has no cell tagged `parameters`"), "{out}");
    assert!(!out.contains("nb/with_params.ipynb"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn yaml_syntax_error_has_a_position() {
    insta::assert_snapshot!(diagnostics("yaml_syntax.yaml"));
}

#[test]
fn warnings_alone_do_not_fail() {
    let loaded = load(Path::new("tests/fixtures/warnings_only.yaml")).unwrap();
    assert!(loaded.warnings.iter().all(|w| w.severity == Severity::Warning));
    let text: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn missing_file_is_one_diagnostic() {
    let d = load(Path::new("tests/fixtures/nope.yaml")).unwrap_err();
    assert_eq!(d.0.len(), 1);
    assert!(d.to_string().starts_with("tests/fixtures/nope.yaml:1:1: error: cannot read the workflow file"), "{d}");
}

#[test]
fn json_workflow_files_work() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("tests/fixtures/nb/with_params.ipynb", dir.path().join("a.ipynb")).unwrap();
    let json = r#"{"workflow": "j", "nodes": {"a": {"notebook": "a.ipynb", "params": {"x": "${{ run.date }}"}}, "b": {"notebook": "a.ipynb", "needs": "a", "when": "nodes.a.status == 'succeeded'"}}}"#;
    let wf = parse_str(json, &dir.path().join("wf.json")).unwrap().workflow;
    assert_eq!(wf.topo_order(), ["a", "b"]);
    assert_eq!(wf.dependants("a"), ["b"]);
}

/// The example workflow of Deckle's original design document, verbatim.
const DESIGN_EXAMPLE: &str = r#"
workflow: video-aggregates            # id: [a-z0-9_-]+
description: Daily per-region play counts, audited before publishing
schedule: { cron: "0 3 * * *", timezone: America/Los_Angeles, catchup: false }
params:                               # typed, with defaults; overridable per run (-p)
  region: { type: string, default: us }
  regions: { type: list, default: [us, fr, br] }
  min_rows: { type: int, default: 1000 }
  api_key: { type: string, secret: true }   # never written into a notebook (see Secrets)
defaults: { retries: 2, retry_delay: 30s, timeout: 30m, kernel: python3 }
engines:                              # connection settings for SQL nodes
  spark: { master: "local[*]" }       # or remote: "sc://host:15002" (Spark Connect)
  trino: { host: trino.internal, port: 8080, catalog: hive, schema: default, user: deckle }
nodes:
  extract:
    sql:
      engine: duckdb                  # duckdb (embedded default) | spark | trino (alias: presto)
      query: |
        select region, count(*) as plays from read_parquet('{{ params.input }}')
        where day = '{{ run.date }}' group by region
    outputs: [row_count]              # a SQL node also records row_count, columns, preview
  per_region:
    notebook: notebooks/region.ipynb  # path relative to the workflow file
    foreach: ${{ params.regions }}    # one instance per item; `item` in expressions
    params: { region: "${{ item }}", rows: "${{ nodes.extract.outputs.row_count }}" }
    outputs: [total]
  audit:
    notebook: notebooks/audit.ipynb
    needs: [per_region]
    params: { totals: "${{ nodes.per_region.outputs.total }}", min_rows: "${{ params.min_rows }}" }
    outputs: [passed, reason]
  publish: { notebook: notebooks/publish.ipynb, needs: [audit], when: "nodes.audit.outputs.passed" }
  alert:   { notebook: notebooks/alert.ipynb,   needs: [audit], when: "!nodes.audit.outputs.passed" }
  summary: { notebook: notebooks/summary.ipynb, needs: [publish, alert], trigger: one_success }
"#;

/// A Python notebook: a `parameters` cell, then one code cell.
fn notebook(parameters: &str, code: &str) -> String {
    serde_json::json!({
        "cells": [
            {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [], "source": parameters},
            {"cell_type": "code", "execution_count": null, "id": "c", "metadata": {}, "outputs": [], "source": code},
        ],
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    })
    .to_string()
}

/// The design example's notebooks, declaring the params its nodes pass and
/// setting the outputs they declare.
fn design_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("notebooks")).unwrap();
    let notebooks = [
        ("region", notebook("region = \"us\"\nrows = 0", "total = rows")),
        ("audit", notebook("totals = []\nmin_rows = 1000", "passed = sum(totals) >= min_rows\nreason = \"\"")),
        ("publish", notebook("x = 1", "print(x)")),
        ("alert", notebook("x = 1", "print(x)")),
        ("summary", notebook("x = 1", "print(x)")),
    ];
    for (name, text) in notebooks {
        std::fs::write(dir.path().join(format!("notebooks/{name}.ipynb")), text).unwrap();
    }
    dir
}

/// As written, that example breaks two of its own rules: `per_region`
/// reads `nodes.extract` without needing it, and the query reads an undeclared
/// `params.input`. Validation says exactly that, and nothing else.
#[test]
fn design_example_verbatim_reports_its_two_slips() {
    let dir = design_dir();
    let d = parse_str(DESIGN_EXAMPLE, &dir.path().join("workflow.yaml")).unwrap_err();
    let msgs: Vec<String> = d.0.iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect();
    insta::assert_snapshot!(msgs.join("\n"));
    assert_eq!(d.errors().count(), 2, "{d}");
}

#[test]
fn design_example_validates_once_fixed() {
    let dir = design_dir();
    let fixed = DESIGN_EXAMPLE
        .replace("  min_rows: { type: int, default: 1000 }\n", "  min_rows: { type: int, default: 1000 }\n  input: { type: string, default: plays.parquet }\n")
        .replace("    notebook: notebooks/region.ipynb  # path relative to the workflow file\n", "    notebook: notebooks/region.ipynb\n    needs: [extract]\n");
    let loaded = match parse_str(&fixed, &dir.path().join("workflow.yaml")) {
        Ok(l) => l,
        Err(d) => panic!("{d}"),
    };
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let wf = loaded.workflow;
    assert_eq!(wf.id, "video-aggregates");
    assert_eq!(wf.topo_order(), ["extract", "per_region", "audit", "publish", "alert", "summary"]);
    let schedule = wf.schedule.as_ref().unwrap();
    assert_eq!((schedule.cron.as_str(), schedule.timezone.as_str(), schedule.catchup), ("0 3 * * *", "America/Los_Angeles", false));
    assert!(wf.params["api_key"].secret && wf.params["api_key"].default.is_none());
    assert_eq!(wf.params["regions"].ty, ParamType::List);
    assert_eq!(wf.engines["trino"]["host"], "trino.internal");
    let per_region = &wf.nodes["per_region"];
    assert!(per_region.foreach.is_some());
    assert_eq!(per_region.retries, 2);
    assert_eq!(per_region.timeout, Some(std::time::Duration::from_secs(1800)));
    assert_eq!(per_region.params["rows"].references(), ["extract"]);
    assert_eq!(wf.nodes["summary"].trigger, TriggerRule::OneSuccess);
    assert_eq!(wf.nodes["alert"].when.as_ref().unwrap().source, "!nodes.audit.outputs.passed");
    let NodeKind::Sql(sql) = &wf.nodes["extract"].kind else { panic!("extract is SQL") };
    assert_eq!(sql.engine, "duckdb");
    assert!(sql.query.contains("read_parquet('{{ params.input }}')"));
    let NodeKind::Notebook { path, .. } = &wf.nodes["audit"].kind else { panic!("audit is a notebook") };
    assert_eq!(path, &dir.path().join("notebooks/audit.ipynb"));

    let dot = deckle_dsl::to_dot(&wf);
    assert!(dot.contains("\"audit\" -> \"publish\" [label=\"when nodes.audit.outputs.passed\", style=dashed];"), "{dot}");
    assert!(dot.contains("\"per_region\" [label=\"per_region\\nnotebook notebooks/region.ipynb\\nforeach params.regions\", peripheries=2];"), "{dot}");
    let mermaid = deckle_dsl::to_mermaid(&wf);
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert!(mermaid.contains("n_audit -.->|\"when !nodes.audit.outputs.passed\"| n_alert"), "{mermaid}");
    assert!(mermaid.contains("n_summary(\"summary<br/>notebook notebooks/summary.ipynb<br/>trigger one_success\")"), "{mermaid}");
}
