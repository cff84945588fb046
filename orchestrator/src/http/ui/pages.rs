//! The pages: workflows, one workflow, backfills, login. HTML built on the server,
//! every interpolated value escaped; the only script is `/ui/app.js`.

use std::fmt::Write;

use deckle_protocol::api::{Backfill, WorkflowDetail, WorkflowSummary};
use deckle_protocol::record::{NodeRecord, RunRecord};
use serde_json::Value;

use super::dag::{render_svg, DagNode};
use super::notebook::escape as e;

/// A full page around `body`. `run` (with whether it finished) turns on live updates.
pub fn layout(title: &str, body: &str, run: Option<(&str, bool)>, csrf: &str) -> String {
    let data = match run {
        Some((id, finished)) => format!(" data-run=\"{}\" data-finished=\"{finished}\"", e(id)),
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"csrf\" content=\"{csrf}\"><title>{title} · Deckle</title><link rel=\"stylesheet\" href=\"/ui/app.css\"></head>\
<body{data}><header class=\"top\"><a class=\"brand\" href=\"/\">Deckle</a><a href=\"/\">Workflows</a><a href=\"/backfills\">Backfills</a></header>\
<main>{body}</main><script src=\"/ui/app.js\"></script></body></html>\n",
        csrf = e(csrf),
        title = e(title),
    )
}

/// Shown on every page while the data dir cannot be written.
pub fn storage_banner(message: &str, since: &str) -> String {
    format!(
        "<p class=\"errorbox storage-fault\" role=\"alert\"><strong>The server cannot write its data dir</strong> (since {}): {}. \
Running notebooks carry on; nothing new starts until it can write again.</p>",
        e(since),
        e(message)
    )
}

pub fn badge(status: &str) -> String {
    format!("<span class=\"badge {s}\">{t}</span>", s = e(status), t = e(&status.replace('_', " ")))
}

/// A hidden CSRF field for a form that changes state.
pub fn csrf_field(csrf: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", e(csrf))
}

pub fn workflows_page(list: &[WorkflowSummary]) -> String {
    let mut rows = String::new();
    for w in list {
        let (schedule, paused, next) = match &w.schedule {
            Some(s) => (format!("<code>{}</code> <span class=\"muted\">{}</span>", e(&s.cron), e(&s.timezone)), if s.paused { "paused" } else { "active" }, s.next_tick.clone().unwrap_or_default()),
            None => ("<span class=\"muted\">manual</span>".to_string(), "", String::new()),
        };
        let latest = match &w.latest_run {
            Some(r) => format!("<a href=\"/runs/{id}\">{b}</a> <span class=\"muted\">{d}</span>", id = e(&r.id), b = badge(r.status.as_str()), d = e(&r.date)),
            None => "<span class=\"muted\">no runs yet</span>".into(),
        };
        let _ = write!(
            rows,
            "<tr data-workflow=\"{id}\"><td><a href=\"/workflows/{id}\"><strong>{id}</strong></a></td><td>{desc}</td><td>{schedule}</td><td>{paused}</td><td class=\"mono\">{next}</td><td>{latest}</td></tr>",
            id = e(&w.id),
            desc = e(w.description.as_deref().unwrap_or("")),
            next = e(&next),
        );
    }
    if list.is_empty() {
        rows = "<tr><td colspan=\"6\" class=\"muted\">No workflows yet: <code>deckle register workflow.yaml</code></td></tr>".into();
    }
    format!(
        "<h1>Workflows</h1><table class=\"workflows\"><thead><tr><th>Workflow</th><th>Description</th><th>Schedule</th><th></th><th>Next tick</th><th>Latest run</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The link to a node instance's latest attempt, if it has one.
pub fn attempt_href(run: &str, n: &NodeRecord) -> Option<String> {
    n.attempts.last().map(|a| format!("/runs/{}/nodes/{}/attempts/{}", url(run), url(&n.key()), a.n))
}

/// Percent-encode a path segment.
pub fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub fn workflow_page(w: &WorkflowDetail, runs: &[(RunRecord, Vec<NodeRecord>)], csrf: &str) -> String {
    let mut out = format!("<h1>{}</h1>", e(&w.id));
    if let Some(d) = &w.description {
        let _ = write!(out, "<p class=\"muted\">{}</p>", e(d));
    }
    let dag: Vec<DagNode> = w.nodes.iter().map(|n| DagNode { id: n.id.clone(), needs: n.needs.clone(), status: String::new(), href: None, title: n.notebook.clone().unwrap_or_else(|| n.kind.clone()) }).collect();
    let _ = write!(out, "<div class=\"card\">{}</div>", render_svg(&dag));
    // Schedule, limits, versions.
    let schedule = match &w.schedule {
        Some(s) => format!(
            "<code>{}</code> in {} · catchup {} · {} · next tick <span class=\"mono\">{}</span> \
<form class=\"inline\" method=\"post\" action=\"/ui/workflows/{id}/{act}\">{csrf_f}<button>{act}</button></form>",
            e(&s.cron),
            e(&s.timezone),
            if s.catchup { "on" } else { "off" },
            if s.paused { badge("paused") } else { badge("active") },
            e(s.next_tick.as_deref().unwrap_or("-")),
            id = url(&w.id),
            act = if s.paused { "unpause" } else { "pause" },
            csrf_f = csrf_field(csrf),
        ),
        None => "manual runs only".into(),
    };
    let versions: Vec<String> = w.versions.iter().rev().take(5).map(|v| format!("v{} <span class=\"muted\">{}</span>", v.version, e(&v.registered_at))).collect();
    let _ = write!(
        out,
        "<div class=\"card\"><dl class=\"kv\"><dt>Schedule</dt><dd>{schedule}</dd><dt>Runs at once</dt><dd>{limit} · {strategy}</dd><dt>Versions</dt><dd>{versions}</dd></dl></div>",
        limit = w.max_active_runs.map_or("no limit".to_string(), |m| m.to_string()),
        strategy = e(&w.run_strategy),
        versions = versions.join(" · "),
    );
    // Trigger and backfill forms, one input per param.
    let mut inputs = String::new();
    for p in w.params.iter().filter(|p| !p.secret) {
        let default = match &p.default {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        let _ = write!(
            inputs,
            "<label for=\"p-{n}\">{n} <span class=\"muted\">{t}</span></label><input type=\"text\" id=\"p-{n}\" name=\"p.{n}\" value=\"{d}\">",
            n = e(&p.name),
            t = e(&p.ty),
            d = e(&default)
        );
    }
    let _ = write!(
        out,
        "<div class=\"row\"><form class=\"card\" id=\"trigger\" method=\"post\" action=\"/ui/workflows/{id}/trigger\"><h2>Trigger a run</h2>{csrf_f}<div class=\"form-grid\">{inputs}\
<label for=\"date\">logical date</label><input type=\"date\" id=\"date\" name=\"date\"></div><p><button class=\"primary\" type=\"submit\">Run now</button></p></form>\
<form class=\"card\" id=\"backfill\" method=\"post\" action=\"/ui/workflows/{id}/backfill\"><h2>Backfill</h2>{csrf_f}<div class=\"form-grid\">\
<label for=\"from\">from</label><input type=\"date\" id=\"from\" name=\"from\" required><label for=\"to\">to</label><input type=\"date\" id=\"to\" name=\"to\" required>\
<label for=\"parallel\">at once</label><input type=\"number\" id=\"parallel\" name=\"parallel\" value=\"2\" min=\"1\"></div><p><button type=\"submit\">Start backfill</button></p></form></div>",
        id = url(&w.id),
        csrf_f = csrf_field(csrf),
    );
    // Recent runs × nodes.
    let mut grid = String::from("<table class=\"grid\"><thead><tr><th>Run</th><th>Date</th><th>Status</th>");
    for n in &w.nodes {
        let _ = write!(grid, "<th title=\"{id}\" class=\"mono\">{short}</th>", id = e(&n.id), short = e(&n.id.chars().take(10).collect::<String>()));
    }
    grid.push_str("</tr></thead><tbody>");
    for (run, nodes) in runs {
        let _ = write!(
            grid,
            "<tr data-run=\"{id}\"><td class=\"mono\"><a href=\"/runs/{uid}\">{id}</a></td><td>{date}</td><td>{b}</td>",
            id = e(&run.id),
            uid = url(&run.id),
            date = e(&run.date),
            b = badge(run.status.as_str())
        );
        for n in &w.nodes {
            let rec = nodes.iter().find(|r| r.node == n.id && r.index.is_none());
            let status = rec.map_or("pending", |r| r.status.as_str());
            let href = rec.and_then(|r| attempt_href(&run.id, r)).unwrap_or_else(|| format!("/runs/{}", url(&run.id)));
            let _ = write!(grid, "<td class=\"cell\"><a class=\"st-{s}\" href=\"{h}\" title=\"{n}: {s}\"></a></td>", s = e(status), h = e(&href), n = e(&n.id));
        }
        grid.push_str("</tr>");
    }
    if runs.is_empty() {
        grid.push_str("<tr><td colspan=\"3\" class=\"muted\">no runs yet</td></tr>");
    }
    grid.push_str("</tbody></table>");
    let _ = write!(out, "<h2>Recent runs</h2>{grid}");
    let mut params = String::new();
    for p in &w.params {
        let _ = write!(
            params,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            e(&p.name),
            e(&p.ty),
            if p.secret { "<em>secret</em>".to_string() } else { e(&p.default.as_ref().map(Value::to_string).unwrap_or_default()) },
            e(p.description.as_deref().unwrap_or(""))
        );
    }
    if !params.is_empty() {
        let _ = write!(out, "<h2>Params</h2><table><thead><tr><th>Name</th><th>Type</th><th>Default</th><th></th></tr></thead><tbody>{params}</tbody></table>");
    }
    out
}

pub fn backfills_page(list: &[Backfill]) -> String {
    let mut rows = String::new();
    for b in list {
        let done = b.dates.iter().filter(|d| matches!(d.status.as_str(), "succeeded" | "failed" | "cancelled")).count();
        let _ = write!(
            rows,
            "<tr><td class=\"mono\"><a href=\"/backfills/{uid}\">{id}</a></td><td><a href=\"/workflows/{wf}\">{wf}</a></td><td>{b}</td><td><progress max=\"{total}\" value=\"{done}\"></progress> {done}/{total}</td><td class=\"mono\">{created}</td></tr>",
            uid = url(&b.id),
            id = e(&b.id),
            wf = e(&b.workflow),
            b = badge(&b.status),
            total = b.dates.len(),
            created = e(&b.created_at),
        );
    }
    if list.is_empty() {
        rows = "<tr><td colspan=\"5\" class=\"muted\">No backfills yet.</td></tr>".into();
    }
    format!("<h1>Backfills</h1><table><thead><tr><th>Backfill</th><th>Workflow</th><th>Status</th><th>Progress</th><th>Created</th></tr></thead><tbody>{rows}</tbody></table>")
}

pub fn backfill_page(b: &Backfill, csrf: &str) -> String {
    let done = b.dates.iter().filter(|d| matches!(d.status.as_str(), "succeeded" | "failed" | "cancelled")).count();
    let mut rows = String::new();
    for d in &b.dates {
        let run = match &d.run {
            Some(r) => format!("<a class=\"mono\" href=\"/runs/{}\">{}</a>", url(r), e(r)),
            None => "<span class=\"muted\">-</span>".into(),
        };
        let _ = write!(rows, "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{run}</td></tr>", e(&d.date), e(&d.logical_time), badge(&d.status));
    }
    let cancel = if b.status == "running" {
        format!("<form class=\"inline\" method=\"post\" action=\"/ui/backfills/{}/cancel\">{}<button class=\"danger\">Cancel backfill</button></form>", url(&b.id), csrf_field(csrf))
    } else {
        String::new()
    };
    format!(
        "<h1>Backfill <span class=\"mono\">{id}</span> {badge}</h1><p><a href=\"/workflows/{uwf}\">{wf}</a> · every {every} · {par} at once{rev} · \
<progress max=\"{total}\" value=\"{done}\"></progress> {done}/{total} {cancel}</p>\
<table><thead><tr><th>Date</th><th>Logical time</th><th>Status</th><th>Run</th></tr></thead><tbody>{rows}</tbody></table>",
        id = e(&b.id),
        badge = badge(&b.status),
        uwf = url(&b.workflow),
        wf = e(&b.workflow),
        every = e(&b.every),
        par = b.parallel,
        rev = if b.reverse { " · latest first" } else { "" },
        total = b.dates.len(),
    )
}

pub fn login_page(error: Option<&str>) -> String {
    let err = error.map(|m| format!("<p class=\"errorbox\">{}</p>", e(m))).unwrap_or_default();
    format!(
        "<div class=\"login card\"><h1>Sign in</h1><p class=\"muted\">This Deckle server needs its access token.</p>{err}\
<form method=\"post\" action=\"/login\"><p><input type=\"password\" name=\"token\" id=\"token\" placeholder=\"token\" autofocus required></p><p><button class=\"primary\" type=\"submit\">Sign in</button></p></form></div>"
    )
}
