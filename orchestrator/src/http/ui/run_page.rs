//! A run (its DAG coloured by status, nodes with attempts, a timeline) and a node
//! attempt (its output notebook, rendered, and how to re-run it locally).

use std::fmt::Write;

use deckle_protocol::api::RunDetail;
use deckle_protocol::record::{AttemptRecord, NodeRecord};
use serde_json::{Map, Value};

use super::dag::{render_svg, DagNode};
use super::notebook::{escape as e, Rendered};
use super::pages::{attempt_href, badge, csrf_field, url};

fn secs(a: &AttemptRecord) -> String {
    a.duration_secs.map_or("-".into(), |d| format!("{d:.1} s"))
}

fn json(v: &Map<String, Value>) -> String {
    if v.is_empty() {
        return "<span class=\"muted\">-</span>".into();
    }
    format!("<pre class=\"mono\">{}</pre>", e(&serde_json::to_string_pretty(v).unwrap_or_default()))
}

pub fn run_page(d: &RunDetail, needs: &[(String, Vec<String>)], csrf: &str) -> String {
    let run = &d.run;
    let mut out = format!(
        "<h1>Run <span class=\"mono\">{id}</span> <span id=\"run-status\" class=\"badge {st}\">{st}</span></h1>\
<p><a href=\"/workflows/{uwf}\">{wf}</a> v{v} · date {date} · logical time <span class=\"mono\">{lt}</span> · {trigger} · attempt {att}</p>",
        id = e(&run.id),
        st = e(run.status.as_str()),
        uwf = url(&run.workflow),
        wf = e(&run.workflow),
        v = run.version,
        date = e(&run.date),
        lt = e(&run.logical_time),
        trigger = match &run.trigger {
            deckle_protocol::record::RunTrigger::Manual => "manual".to_string(),
            deckle_protocol::record::RunTrigger::Schedule => "scheduled".to_string(),
            deckle_protocol::record::RunTrigger::Backfill { id } => format!("backfill <a href=\"/backfills/{}\">{}</a>", url(id), e(id)),
        },
        att = run.attempt,
    );
    // Actions.
    let act = |what: &str, label: &str, class: &str| {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"/ui/runs/{}/{what}\">{}<button class=\"{class}\" id=\"{what}\">{label}</button></form> ",
            url(&run.id),
            csrf_field(csrf)
        )
    };
    out.push_str("<p>");
    if run.status.is_finished() {
        if run.status != deckle_protocol::record::RunStatus::Succeeded {
            out.push_str(&act("rerun", "Rerun from failed", "primary"));
        }
    } else {
        out.push_str(&act("cancel", "Cancel run", "danger"));
    }
    out.push_str("</p>");
    // The DAG, coloured.
    let dag: Vec<DagNode> = needs
        .iter()
        .map(|(id, needs)| {
            let rec = d.nodes.iter().find(|n| n.node == *id && n.index.is_none());
            DagNode {
                id: id.clone(),
                needs: needs.clone(),
                status: rec.map_or("pending".into(), |r| r.status.as_str().to_string()),
                href: rec.and_then(|r| attempt_href(&run.id, r)),
                title: rec.map_or(String::new(), |r| format!("{} · {} attempt(s)", r.status.as_str(), r.attempts.len())),
            }
        })
        .collect();
    let _ = write!(out, "<div class=\"card\">{}</div>", render_svg(&dag));
    // Failed nodes first, linked to their notebooks.
    for n in d.nodes.iter().filter(|n| n.status.as_str() == "failed" && !n.attempts.is_empty()) {
        let _ = write!(
            out,
            "<div class=\"errorbox\"><strong>{key}</strong> failed: {err} <a class=\"to-notebook\" href=\"{href}\">open its notebook →</a></div>",
            key = e(&n.key()),
            err = e(n.error.as_deref().unwrap_or("")),
            href = e(&attempt_href(&run.id, n).unwrap_or_default()),
        );
    }
    out.push_str(&nodes_table(&run.id, &d.nodes));
    out.push_str(&gantt(&d.nodes));
    out
}

fn nodes_table(run: &str, nodes: &[NodeRecord]) -> String {
    let mut rows = String::new();
    for n in nodes {
        let key = n.key();
        let attempts: Vec<String> = n
            .attempts
            .iter()
            .map(|a| {
                let lost = if a.lost { " (worker lost)" } else { "" };
                format!(
                    "<a href=\"/runs/{}/nodes/{}/attempts/{}\">#{}</a> {} {}{lost}{}",
                    url(run),
                    url(&key),
                    a.n,
                    a.n,
                    badge(a.status.as_str()),
                    secs(a),
                    a.worker.as_deref().map(|w| format!(" <span class=\"muted\">on {}</span>", e(w))).unwrap_or_default()
                )
            })
            .collect();
        let last = n.attempts.last();
        let _ = write!(
            rows,
            "<tr data-node-row=\"{k}\"><td class=\"mono\"><strong>{k}</strong></td><td><span class=\"badge {s}\" data-status-of=\"{k}\">{st}</span></td><td>{att}</td><td>{params}</td><td>{outputs}</td><td>{err}</td></tr>",
            k = e(&key),
            s = e(n.status.as_str()),
            st = e(&n.status.as_str().replace('_', " ")),
            att = attempts.join("<br>"),
            params = last.map_or(String::new(), |a| json(&a.params)),
            outputs = json(&n.outputs),
            err = match (&n.waiting, &n.error) {
                (Some(w), _) => format!("<span class=\"muted waiting\">{}</span>", e(w)),
                (None, Some(m)) => format!("<pre class=\"mono\">{}</pre>", e(m)),
                (None, None) => String::new(),
            },
        );
    }
    format!("<h2>Nodes</h2><table class=\"nodes\"><thead><tr><th>Node</th><th>Status</th><th>Attempts</th><th>Params (as injected)</th><th>Outputs</th><th>Error</th></tr></thead><tbody>{rows}</tbody></table>")
}

/// Every attempt as a bar on a shared time axis.
fn gantt(nodes: &[NodeRecord]) -> String {
    let bars: Vec<(String, &AttemptRecord, f64, f64)> = nodes
        .iter()
        .flat_map(|n| n.attempts.iter().map(move |a| (n.key(), a)))
        .filter_map(|(k, a)| {
            let start: jiff::Timestamp = a.started_at.parse().ok()?;
            let end = a.ended_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok()).unwrap_or_else(jiff::Timestamp::now);
            Some((k, a, start.as_millisecond() as f64, end.as_millisecond() as f64))
        })
        .collect();
    if bars.is_empty() {
        return String::new();
    }
    let t0 = bars.iter().map(|b| b.2).fold(f64::MAX, f64::min);
    let t1 = bars.iter().map(|b| b.3).fold(f64::MIN, f64::max).max(t0 + 1.0);
    let (label_w, width, row) = (160.0, 900.0, 22.0);
    let scale = (width - label_w - 10.0) / (t1 - t0);
    let mut svg = format!(
        "<h2>Timeline</h2><svg class=\"gantt\" viewBox=\"0 0 {width} {h}\" role=\"img\" aria-label=\"timeline of node attempts\">",
        h = row * bars.len() as f64 + 24.0
    );
    for (i, (key, a, s, end)) in bars.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let x = label_w + (s - t0) * scale;
        let w = ((end - s) * scale).max(2.0);
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{ty}\">{label}</text><rect class=\"bar st-{st}\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\"><title>{label}: {st}, {d}</title></rect>",
            ty = y + 14.0,
            label = e(&format!("{key} #{}", a.n)),
            st = e(a.status.as_str()),
            bh = row - 6.0,
            d = e(&secs(a)),
        );
    }
    let _ = write!(svg, "<text x=\"{label_w}\" y=\"{y}\" class=\"muted\">0 s</text><text x=\"{x}\" y=\"{y}\" text-anchor=\"end\">{total:.1} s</text></svg>", y = row * bars.len() as f64 + 20.0, x = width - 10.0, total = (t1 - t0) / 1000.0);
    svg
}

/// `deckle execute` with the attempt's parameters: `-p` for scalars, `-y` for the rest.
pub fn local_command(notebook: &str, node: &str, a: &AttemptRecord) -> String {
    let mut cmd = format!("deckle execute {} {}.{}.ipynb", shell(notebook), shell(node), a.n);
    for (k, v) in &a.params {
        match v {
            Value::String(s) => {
                let _ = write!(cmd, " -p {} {}", shell(k), shell(s));
            }
            Value::Number(_) | Value::Bool(_) => {
                let _ = write!(cmd, " -p {} {}", shell(k), v);
            }
            other => {
                let _ = write!(cmd, " -y {}", shell(&format!("{k}: {other}")));
            }
        }
    }
    cmd
}

/// Single-quote for a POSIX shell.
fn shell(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub struct AttemptView<'a> {
    pub run: &'a deckle_protocol::record::RunRecord,
    pub node: &'a NodeRecord,
    pub attempt: &'a AttemptRecord,
    /// The notebook as registered, relative to the workflow file (for the local command).
    pub notebook: Option<String>,
    pub rendered: Option<Rendered>,
}

pub fn attempt_page(v: &AttemptView<'_>) -> String {
    let key = v.node.key();
    let a = v.attempt;
    let download = format!("/api/v1/runs/{}/nodes/{}/attempts/{}/notebook", url(&v.run.id), url(&key), a.n);
    let mut out = format!(
        "<h1><span class=\"mono\">{k}</span> attempt {n} {b}</h1><p><a href=\"/runs/{urun}\">run {run}</a> · {wf} · date {date} · {dur}{worker}</p>",
        k = e(&key),
        n = a.n,
        b = badge(a.status.as_str()),
        urun = url(&v.run.id),
        run = e(&v.run.id),
        wf = e(&v.run.workflow),
        date = e(&v.run.date),
        dur = secs(a),
        worker = a.worker.as_deref().map(|w| format!(" · on {}", e(w))).unwrap_or_default(),
    );
    if let Some(err) = &a.error {
        let link = v.rendered.as_ref().and_then(|r| r.first_error).map(|c| format!(" <a class=\"to-error\" href=\"#cell-{c}\">go to the failing cell ↓</a>")).unwrap_or_default();
        let _ = write!(out, "<div class=\"errorbox\" id=\"attempt-error\"><strong>Error:</strong> {}{link}</div>", e(err));
    }
    let _ = write!(out, "<div class=\"card\"><dl class=\"kv\"><dt>Params</dt><dd>{}</dd><dt>Outputs</dt><dd>{}</dd>", json(&a.params), json(&a.outputs));
    if let Some(nb) = &v.notebook {
        let _ = write!(out, "<dt>Re-run locally</dt><dd><pre class=\"mono\" id=\"local-command\">{}</pre></dd>", e(&local_command(nb, &key, a)));
    }
    out.push_str("</dl></div>");
    match &v.rendered {
        Some(r) => {
            let _ = write!(out, "<p><a id=\"download\" href=\"{}\" download>Download the .ipynb</a></p><div class=\"notebook\">{}</div>", e(&download), r.html);
        }
        None => out.push_str("<p class=\"muted\">No output notebook was written for this attempt.</p>"),
    }
    out
}
