//! The pages rendered from their templates with hostile values in every field a
//! user or a notebook controls: each value comes out as text, never as markup.

use deckle_protocol::api::{Backfill, RunDetail, WorkflowDetail, WorkflowSummary};
use deckle_protocol::record::{NodeRecord, RunRecord};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::notebook::render_notebook;
use super::pages::{self, Fault, Frame, Page};
use super::run_page::{self, AttemptView};

/// Markup, quotes and an ampersand: everything the escape must change.
const H: &str = "<script>alert('x')</script>\"&";
/// [`H`] as the escape writes it.
const H_ESCAPED: &str = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;";

fn from<T: DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn hostile(what: &str) -> String {
    format!("{what}{H}")
}

fn frame() -> Frame {
    let mut f = Frame::new(hostile("title"), hostile("csrf")).live(&hostile("run"), false);
    f.fault = Some(Fault { message: hostile("fault"), since: "2024-05-01 10:00:00Z".into() });
    f
}

fn summaries() -> Vec<WorkflowSummary> {
    vec![
        from(json!({"id": hostile("wf"), "description": hostile("description"), "latest_version": 2, "nodes": 3,
            "latest_run": run_record("failed", json!({"kind": "manual"})),
            "schedule": {"cron": hostile("0 * * * *"), "timezone": hostile("tz"), "catchup": true, "paused": true, "last_tick": null, "next_tick": "2024-05-02T03:00:00Z"},
            "paused": true, "triggers": triggers()})),
        from(json!({"id": "plain", "description": null, "latest_version": 1, "nodes": 1, "latest_run": null,
            "schedule": {"cron": "0 0 * * *", "timezone": "UTC", "catchup": false, "paused": false, "last_tick": null, "next_tick": null}})),
        from(json!({"id": "manual", "description": null, "latest_version": 1, "nodes": 1, "latest_run": null})),
    ]
}

fn triggers() -> serde_json::Value {
    json!([
        {"source": hostile("signal:"), "last_event": hostile("event"), "last_event_at": "2024-05-03T01:02:03Z", "problem": null},
        {"source": "files:/in/*.csv", "last_event": null, "last_event_at": null, "problem": hostile("problem")},
    ])
}

fn events() -> Vec<deckle_protocol::event::EventRecord> {
    vec![from(json!({"id": hostile("event"), "kind": "signal", "name": hostile("signal"), "received_at": "2024-05-03T01:02:03Z", "key": hostile("key"),
        "context": {"params": {"p": H}}, "firings": [
            {"workflow": hostile("wf"), "version": 1, "trigger": 0, "source": "signal:x", "run_id": hostile("run"), "state": "started"},
            {"workflow": "other", "version": 1, "trigger": 0, "source": "signal:x", "run_id": "r2", "state": "failed", "error": hostile("refused")},
        ]}))]
}

/// A numeric output (a chart) and a text one (a table), with hostile names and values.
fn trend_nodes() -> Vec<pages::NodeTrends> {
    let series: deckle_protocol::api::OutputSeries = from(json!({"workflow": hostile("wf"), "node": hostile("node"), "name": null, "names": [hostile("rows"), "note"], "truncated": false,
        "points": [
            {"date": "2024-05-01", "logical_time": "2024-05-01T00:00:00Z", "run_id": hostile("run"), "version": 1, "status": "succeeded", "attempt": 1, "outputs": {hostile("rows"): 3, "note": hostile("note")}},
            {"date": "2024-05-02", "logical_time": "2024-05-02T00:00:00Z", "run_id": "r2", "version": 2, "status": "failed", "attempt": 1, "outputs": {}},
            {"date": "2024-05-03", "logical_time": "2024-05-03T00:00:00Z", "run_id": "r3", "version": 2, "status": "succeeded", "attempt": 2, "outputs": {hostile("rows"): 5, "note": "n"}},
        ]}));
    vec![pages::NodeTrends { node: hostile("node"), trends: super::trend::trends(&series) }]
}

/// Two attempts compared, with hostile names, values, sources and outputs.
fn comparison() -> deckle_protocol::compare::Comparison {
    let side = |run: String, hash: &str| json!({"run_id": run, "workflow": hostile("wf"), "date": "2024-05-01", "version": 2, "node": hostile("node"), "attempt": 1,
        "status": "failed", "notebook": hostile("nb.ipynb"), "notebook_hash": hash, "duration_secs": 1.25, "error": hostile("error")});
    from(json!({
        "a": side(hostile("run"), "aaaaaaaaaaaaaaaa"), "b": side("r0".into(), "bbbbbbbbbbbbbbbb"),
        "params": [{"name": hostile("p"), "a": H, "b": "x", "changed": true}],
        "outputs": [{"name": "rows", "a": 1, "b": 1, "changed": false}],
        "cells": [{"index": 3, "kind": "code", "presence": "both", "source_changed": true, "source": [{"op": "-", "text": hostile("old")}, {"op": "+", "text": hostile("new")}],
            "outputs_changed": true, "outputs": [{"op": "-", "text": hostile("out")}], "images_a": ["data:image/png;base64,iVBORw0K"], "images_b": [],
            "error_a": hostile("boom"), "error_b": null, "duration_a": 0.5, "duration_b": 0.25}],
        "first_divergence": 3
    }))
}

fn node_ids() -> Vec<String> {
    vec![hostile("node"), "ünïcödé_and_a_long_name".into(), "last".into()]
}

fn detail(paused: bool) -> WorkflowDetail {
    let ids = node_ids();
    from(json!({
        "id": hostile("wf"), "description": hostile("description"),
        "nodes": [
            {"id": ids[0], "needs": [], "kind": "notebook", "notebook": hostile("nb.ipynb"), "labels": []},
            {"id": ids[1], "needs": [ids[0]], "kind": "sql", "notebook": null, "labels": []},
            {"id": ids[2], "needs": [ids[0], ids[1]], "kind": "notebook", "notebook": "last.ipynb", "labels": []},
        ],
        "params": [
            {"name": hostile("p"), "type": hostile("string"), "default": hostile("default"), "secret": false, "description": hostile("param")},
            {"name": "n", "type": "int", "default": 3, "secret": false, "description": null},
            {"name": "o", "type": "dict", "default": {"a": [1, H]}, "secret": false, "description": null},
            {"name": "none", "type": "str", "default": null, "secret": false, "description": null},
            {"name": "key", "type": "str", "default": hostile("secret"), "secret": true, "description": null},
        ],
        "versions": (1..=7).map(|v| json!({"workflow": "wf", "version": v, "file_name": "wf.yaml", "hash": "h", "registered_at": format!("2024-05-0{v}T09:00:00Z"), "files": {}})).collect::<Vec<_>>(),
        "schedule": {"cron": hostile("cron"), "timezone": hostile("tz"), "catchup": false, "paused": paused, "last_tick": null, "next_tick": if paused { json!(null) } else { json!("2024-05-02T03:00:00Z") }},
        "max_active_runs": if paused { json!(2) } else { json!(null) },
        "run_strategy": hostile("parallel"),
        "triggers": triggers(), "upstream": [hostile("up")], "downstream": ["down"], "paused": paused,
    }))
}

fn manual_detail() -> WorkflowDetail {
    let mut d = detail(false);
    d.schedule = None;
    d.description = None;
    d.params.clear();
    d
}

fn run_record(status: &str, trigger: serde_json::Value) -> serde_json::Value {
    json!({"id": hostile("run"), "workflow": hostile("wf"), "date": hostile("date"), "logical_time": "2024-05-01T00:00:00Z", "params": {"p": H},
        "version": 2, "attempt": 1, "trigger": trigger, "status": status, "started_at": "2024-05-01T10:00:00Z", "ended_at": null})
}

fn attempt(n: u32, status: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut a = json!({"n": n, "status": status, "started_at": format!("2024-05-01T10:00:0{n}Z"), "ended_at": format!("2024-05-01T10:00:{}Z", 10 + 7 * n),
        "duration_secs": 7.25 * n as f64, "params": {}, "outputs": {}, "error": null, "notebook": null});
    a.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    a
}

fn node_records() -> Vec<NodeRecord> {
    let ids = node_ids();
    vec![
        from(json!({"node": ids[0], "index": null, "status": "failed", "outputs": {"out": H, "preview": [{"region": H, "n": 3}, {H: 1.5}]}, "error": hostile("error"), "items": null, "started_at": null, "ended_at": null,
            "attempts": [
                attempt(1, "failed", json!({"worker": hostile("worker"), "lost": true, "params": {"p": H, "n": 3, "o": {"a": [H]}, "b": true},
                    "outputs": {"rows": 2, "preview": [{"region": H, "n": 3}]}})),
                attempt(2, "failed", json!({"error": hostile("error"), "params": {"p": H}})),
            ]})),
        from(json!({"node": ids[1], "index": null, "status": "ready", "outputs": {}, "error": null, "items": null, "started_at": null, "ended_at": null,
            "attempts": [], "waiting": hostile("waiting")})),
        from(json!({"node": ids[2], "index": 0, "status": "upstream_failed", "outputs": {}, "error": hostile("upstream"), "items": null, "started_at": null, "ended_at": null,
            "attempts": [attempt(1, "upstream_failed", json!({}))]})),
    ]
}

fn runs() -> Vec<(RunRecord, Vec<NodeRecord>)> {
    vec![(from(run_record("failed", json!({"kind": "manual"}))), node_records()), (from(run_record("running", json!({"kind": "schedule"}))), vec![])]
}

fn run_detail(status: &str, trigger: serde_json::Value) -> RunDetail {
    RunDetail { run: from(run_record(status, trigger)), nodes: node_records() }
}

fn needs() -> Vec<(String, Vec<String>)> {
    let ids = node_ids();
    vec![(ids[0].clone(), vec![]), (ids[1].clone(), vec![ids[0].clone()]), (ids[2].clone(), vec![ids[1].clone(), "gone".into()])]
}

fn backfill(status: &str) -> Backfill {
    from(json!({"id": hostile("bf"), "workflow": hostile("wf"), "version": 1, "status": status, "every": hostile("1d"), "parallel": 2, "reverse": status == "running",
        "only_failed": false, "params": {}, "created_at": "2024-05-01T08:00:00Z", "ended_at": null,
        "dates": [
            {"date": hostile("d1"), "logical_time": "2024-04-30T00:00:00Z", "run": hostile("run"), "status": "succeeded"},
            {"date": "2024-05-02", "logical_time": "2024-05-02T00:00:00Z", "run": null, "status": "pending"},
        ]}))
}

/// A notebook whose output holds markup, and an error.
fn notebook() -> serde_json::Value {
    json!({"cells": [
        {"cell_type": "code", "source": H, "metadata": {}, "execution_count": 1, "outputs": [
            {"output_type": "stream", "name": "stdout", "text": H},
            {"output_type": "display_data", "metadata": {}, "data": {"text/html": H}},
            {"output_type": "error", "ename": "ValueError", "evalue": H, "traceback": [H]},
        ]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
}

/// Every page, with a name, rendered with [`frame`].
fn all_pages() -> Vec<(String, Page)> {
    let d = run_detail("failed", json!({"kind": "backfill", "id": hostile("bf")}));
    let rec = &d.nodes[0];
    let mut pages = vec![
        ("workflows".to_string(), pages::workflows_page(&summaries())),
        ("no workflows".into(), pages::workflows_page(&[])),
        ("workflow, paused".into(), pages::workflow_page(&detail(true), &runs(), Some("r&<older>"))),
        ("workflow, active".into(), pages::workflow_page(&detail(false), &[], None)),
        ("workflow, manual".into(), pages::workflow_page(&manual_detail(), &runs(), None)),
        ("backfills".into(), pages::backfills_page(&[backfill("running"), backfill("failed")])),
        ("no backfills".into(), pages::backfills_page(&[])),
        ("backfill, running".into(), pages::backfill_page(&backfill("running"), &trend_nodes())),
        ("backfill, done".into(), pages::backfill_page(&backfill("succeeded"), &[])),
        ("login".into(), pages::login_page(None)),
        ("login, refused".into(), pages::login_page(Some(&hostile("refusal")))),
        ("error".into(), pages::error_page("404 Not Found", &hostile("message"))),
        ("run, failed".into(), run_page::run_page(&d, &needs())),
        ("events".into(), pages::events_page(&events())),
        ("compare".into(), pages::compare_page(&comparison())),
        ("trends".into(), pages::trends_page(&hostile("wf"), &node_ids(), &pages::TrendQuery { name: Some(hostile("name")), ..Default::default() }, &trend_nodes())),
        ("no events".into(), pages::events_page(&[])),
    ];
    for (status, trigger) in [
        ("running", json!({"kind": "manual"})),
        ("succeeded", json!({"kind": "schedule"})),
        ("queued", json!({"kind": "event", "event": hostile("event"), "source": hostile("signal:"), "context": {"p": H}})),
    ] {
        pages.push((format!("run, {status}"), run_page::run_page(&run_detail(status, trigger), &needs())));
    }
    for a in &rec.attempts {
        let rendered = (a.n == 1).then(|| {
            let mut r = render_notebook(&notebook());
            r.html = super::frames::extract(&r.html, "/frames").0;
            r
        });
        let view = AttemptView { run: &d.run, node: rec, attempt: a, notebook: (a.n == 1).then(|| hostile("dir/nb 1.ipynb")), rendered };
        pages.push((format!("attempt {}", a.n), run_page::attempt_page(&view)));
    }
    pages
}

#[test]
fn hostile_values_are_escaped_on_every_page() {
    for (name, page) in all_pages() {
        let html = page.render(&frame()).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        // The only script is the app's own; every hostile value shows as text.
        assert_eq!(html.matches("<script").count(), 1, "{name}: {html}");
        assert!(html.contains("<script src=\"/ui/app.js\"></script>"), "{name}");
        assert!(!html.contains(H) && !html.contains("alert('x')"), "{name}: a value came out unescaped:\n{html}");
        for field in ["title", "csrf", "run", "fault"] {
            assert!(html.contains(&format!("{field}{H_ESCAPED}")), "{name}: the frame's {field} is shown escaped");
        }
    }
}

/// The hostile fields each page shows, escaped.
#[test]
fn each_page_shows_its_hostile_fields_as_text() {
    let pages: std::collections::HashMap<String, String> = all_pages().into_iter().map(|(n, p)| (n, p.render(&frame()).unwrap())).collect();
    let shows = |page: &str, fields: &[&str]| {
        for f in fields {
            assert!(pages[page].contains(&format!("{f}{H_ESCAPED}")), "{page} shows {f} escaped:\n{}", pages[page]);
        }
    };
    // Timestamps (ticks, registrations, creations, logical times) are typed: they
    // cannot hold markup any more; the pages still show them.
    shows("workflows", &["wf", "description", "0 * * * *", "tz", "date"]);
    shows("workflow, paused", &["wf", "description", "node", "p", "string", "default", "param", "cron", "tz", "parallel", "run", "date"]);
    shows("backfills", &["bf", "wf"]);
    shows("events", &["event", "signal", "key", "wf", "run", "refused"]);
    shows("compare", &["run", "wf", "node", "nb.ipynb", "p", "old", "new", "out", "boom"]);
    let cmp = &pages["compare"];
    assert!(cmp.contains("id=\"notebook-changed\""), "the notebooks differ");
    assert!(cmp.contains("<a href=\"#cell-3\">cell 3</a>"), "the first divergence links to its cell");
    assert!(cmp.contains("class=\"ddel\">-old") && cmp.contains("class=\"dadd\">+new"), "{cmp}");
    assert!(cmp.contains("<tr class=\"changed\">") && cmp.contains("<tr class=\"same\">"));
    assert!(cmp.contains("<img alt=\"A, cell 3\" src=\"data:image/png;base64,iVBORw0K\">"));
    assert!(cmp.contains("1.2 s") || cmp.contains("1.3 s"), "durations: {cmp}");
    shows("trends", &["wf", "node", "name", "rows", "note", "run"]);
    shows("backfill, running", &["node", "rows", "note"]);
    assert_eq!(pages["trends"].matches("<circle class=\"point\"").count(), 2, "two values of rows drawn, the failed date a gap");
    assert!(pages["trends"].contains("class=\"gap status-failed\""));
    assert!(pages["trends"].contains("<table class=\"trend-table\">"), "the text output as a table");
    shows("run, queued", &["event", "signal:"]);
    assert!(pages["no events"].contains("No events yet."));
    // Triggers with their last event and problem, on the list and the workflow page;
    // the workflows that start this one and those it starts, as links.
    for page in ["workflows", "workflow, paused"] {
        shows(page, &["signal:", "problem"]);
        assert!(pages[page].contains("2024-05-03T01:02:03Z"), "{page}: the last event's time");
    }
    assert!(pages["workflow, paused"].contains("href=\"/workflows/down\""), "{}", pages["workflow, paused"]);
    shows("workflow, paused", &["up"]);
    shows("backfill, running", &["bf", "wf", "1d", "d1", "run"]);
    assert!(pages["workflows"].contains("2024-05-02T03:00:00Z"), "the next tick");
    assert!(pages["workflow, paused"].contains("2024-05-07T09:00:00Z"), "a version's registration");
    assert!(pages["backfills"].contains("2024-05-01T08:00:00Z"), "the creation time");
    assert!(pages["backfill, running"].contains("2024-04-30T00:00:00Z"), "a date's logical time");
    shows("login, refused", &["refusal"]);
    shows("error", &["message"]);
    // A run's logical time is a timestamp, typed: it cannot hold markup any more.
    shows("run, failed", &["run", "wf", "date", "bf", "node", "error", "waiting", "upstream", "worker"]);
    assert!(pages["run, failed"].contains("2024-05-01T00:00:00Z"), "the logical time is shown");
    shows("attempt 1", &["node", "run", "wf", "date", "worker"]);
    shows("attempt 2", &["error"]);
    // A secret param's default is never shown; the params' values as JSON text.
    assert!(!pages["workflow, paused"].contains("secret&lt;"), "a secret default");
    assert!(pages["run, failed"].contains("&quot;p&quot;: &quot;&lt;script&gt;"), "injected params as escaped JSON");
    // The local command quotes for the shell, then escapes for the page.
    assert!(pages["attempt 1"].contains("<pre class=\"mono\" id=\"local-command\">deckle execute &#39;dir/nb 1.ipynb&lt;script&gt;"), "{}", pages["attempt 1"]);
    // The rendered notebook's own escaping is kept, not doubled.
    assert!(pages["attempt 1"].contains("<span class=\"evalue\">&lt;script&gt;"), "{}", pages["attempt 1"]);
}

#[test]
fn pages_keep_what_app_js_and_the_browser_tests_rely_on() {
    let pages: std::collections::HashMap<String, String> = all_pages().into_iter().map(|(n, p)| (n, p.render(&frame()).unwrap())).collect();
    let run = &pages["run, failed"];
    assert!(run.contains("<span id=\"run-status\" class=\"badge failed\">failed</span>"));
    assert!(run.contains("data-status-of=\"node&lt;script&gt;"), "{run}");
    assert!(run.contains("<g class=\"node status-failed\" id=\"node-node&lt;script&gt;"), "{run}");
    assert!(run.contains("<button class=\"primary\" id=\"rerun\">Rerun from failed</button>") && !run.contains("id=\"cancel\""));
    assert!(pages["run, running"].contains("<button class=\"danger\" id=\"cancel\">Cancel run</button>"));
    assert!(!pages["run, succeeded"].contains("<form class=\"inline\""));
    assert!(run.contains("<svg class=\"gantt\" viewBox=\"0 0 900 90\""), "{run}");
    assert!(frame().live.is_some() && pages["login"].contains("data-finished=\"false\""));
    let wf = &pages["workflow, paused"];
    assert!(wf.contains("<input type=\"text\" id=\"p-n\" name=\"p.n\" value=\"3\">"), "{wf}");
    assert!(wf.contains("name=\"p.o\" value=\"{&quot;a&quot;:[1,&quot;&lt;script&gt;"), "{wf}");
    assert!(wf.contains("<th title=\"ünïcödé_and_a_long_name\" class=\"mono\">ünïcödé_an</th>"), "ids cut at 10 characters: {wf}");
    assert!(wf.contains("v7 <span class=\"muted\">2024-05-07T09:00:00Z") && !wf.contains(">2024-05-02T09:00:00Z"), "the last five versions");
    assert!(wf.contains("action=\"/ui/workflows/wf%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E%22%26/unpause\""), "{wf}");
}

/// Recorded outputs read as values: scalars as their JSON, records as a table.
#[test]
fn outputs_show_as_values_and_tables() {
    let pages: std::collections::HashMap<String, String> = all_pages().into_iter().map(|(n, p)| (n, p.render(&frame()).unwrap())).collect();
    let run = &pages["run, failed"];
    assert!(run.contains("<span class=\"value-name\">&quot;out&quot;</span>: <code class=\"scalar\">&quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\\&quot;&amp;&quot;</code>"), "{run}");
    assert!(run.contains(&format!("<table class=\"records\"><thead><tr><th>region</th><th class=\"num\">n</th><th class=\"num\">{H_ESCAPED}</th></tr></thead><tbody><tr><td>{H_ESCAPED}</td><td class=\"num\">3</td><td class=\"missing\"></td></tr>")), "{run}");
    assert!(run.contains("<td class=\"num\">1.5</td>"), "{run}");
    let attempt = &pages["attempt 1"];
    assert!(attempt.contains("<dt>Outputs</dt><dd><div class=\"values\"><div class=\"value short\"><span class=\"value-name\">&quot;rows&quot;</span>: <code class=\"scalar num\">2</code></div>"), "{attempt}");
    assert!(attempt.contains("<th>region</th><th class=\"num\">n</th>"), "{attempt}");
    assert!(pages["attempt 2"].contains("<dt>Outputs</dt><dd><span class=\"muted\">-</span></dd>"), "no outputs: a dash");
    for class in ["table.records", ".num", "details.fold", ".fold-head", ".fold-open", ".fold-closed"] {
        assert!(include_str!("app.css").contains(class), "{class} is styled");
    }
}

/// An attempt whose cell printed 50 MiB is served as a light page that says what it
/// left out and links to it.
#[test]
fn a_huge_output_makes_a_light_attempt_page() {
    let d = run_detail("failed", json!({"kind": "manual"}));
    let rec = &d.nodes[0];
    let a = &rec.attempts[0];
    let line = format!("{H} printed\n");
    let text = line.repeat(50 * 1024 * 1024 / line.len());
    let nb = json!({"cells": [
        {"cell_type": "code", "source": "x", "metadata": {}, "execution_count": 1, "outputs": [
            {"output_type": "stream", "name": "stdout", "text": text},
            {"output_type": "display_data", "metadata": {}, "data": {"text/html": format!("<p>{H}</p>").repeat(1 << 20)}},
        ]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5});
    let links = run_page::attempt_links(&d.run.id, &rec.key(), a.n);
    let mut rendered = super::notebook::render_notebook_with(&nb, &links);
    rendered.html = super::frames::extract(&rendered.html, "/frames").0;
    let view = AttemptView { run: &d.run, node: rec, attempt: a, notebook: None, rendered: Some(rendered) };
    let html = run_page::attempt_page(&view).render(&frame()).unwrap();
    // 32 KiB of head and of tail, escaped: `H` doubles in length.
    assert!(html.len() < 160 * 1024, "{} bytes", html.len());
    assert_eq!(html.matches("<script").count(), 1, "only the app's own script");
    assert!(!html.contains(H), "everything the notebook printed is escaped");
    assert!(html.contains(&format!("<pre class=\"stream stream-stdout\">{H_ESCAPED} printed\n")), "the head");
    assert!(html.contains(&format!("{H_ESCAPED} printed\n</pre>")), "the tail");
    let download = links.download.unwrap();
    assert!(html.contains(&format!("<a id=\"download\" href=\"{download}\" download>")), "{download}");
    assert!(html.contains(&format!("lines) left out: <a class=\"full-output\" href=\"{}/0/0\">see the full output</a> · <a class=\"download-notebook\" href=\"{download}\" download>download the .ipynb</a> ⋯</span>", links.full_output.unwrap())), "{}", &html[..html.len().min(8000)]);
    assert!(html.contains("This text/html output (36.0 MiB) is too large to show here: <a class=\"download-notebook\""), "the HTML output is a notice");
    assert!(!html.contains("<iframe"));
}
