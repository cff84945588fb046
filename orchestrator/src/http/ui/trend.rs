//! Trend charts: one node output across runs, by logical date, drawn on the server
//! as SVG (no script, no library). Numbers are a line over the calendar days of the
//! range; each point links to the notebook that recorded it; a date whose run
//! failed, or that has no run, breaks the line (a gap, and a mark on the axis for a
//! failure); a change of workflow version is a dashed mark labelled `vN`. Outputs
//! that are not numbers are shown as a table instead ([`TrendView::rows`]).

use std::collections::BTreeMap;
use std::fmt::Write;

use deckle_protocol::api::{OutputPoint, OutputSeries};
use serde::Serialize;
use serde_json::Value;

use super::escape::{escape, url};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// One output's trend, ready for a template.
#[derive(Debug, Serialize)]
pub struct TrendView {
    /// The output's name.
    pub name: String,
    /// The chart (trusted SVG markup: every value in it is escaped here), when every
    /// recorded value is a number.
    pub svg: Option<String>,
    /// Otherwise, a row per run: date, status, the value as compact JSON, its link.
    pub rows: Vec<TrendRow>,
    /// Points drawn, failed runs, dates without a run in the range.
    pub counts: (usize, usize, usize),
}

/// A row of a trend table.
#[derive(Debug, Serialize)]
pub struct TrendRow {
    /// Logical date.
    pub date: String,
    /// The node's status.
    pub status: String,
    /// The value as text (`-` when none was recorded).
    pub value: String,
    /// The run.
    pub run_id: String,
    /// The notebook that recorded it, when there is one.
    pub href: Option<String>,
}

/// The attempt page of the notebook that recorded `p`.
fn notebook_href(node: &str, p: &OutputPoint) -> Option<String> {
    p.attempt.map(|n| format!("/runs/{}/nodes/{}/attempts/{n}", url(&p.run_id), url(node)))
}

fn days_between(a: jiff::civil::Date, b: jiff::civil::Date) -> i64 {
    b.since((jiff::Unit::Day, a)).map_or(0, |s| i64::from(s.get_days()))
}

/// A tick label for a value: integers plainly, others with up to 3 decimals.
fn label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Every output of `s`, each as a chart or a table.
pub fn trends(s: &OutputSeries) -> Vec<TrendView> {
    s.names.iter().map(|n| trend(s, n)).collect()
}

/// Output `name` of `s` as a chart (all values numbers) or a table.
pub fn trend(s: &OutputSeries, name: &str) -> TrendView {
    let numeric = s.points.iter().filter_map(|p| p.outputs.get(name)).all(Value::is_number) && s.points.iter().any(|p| p.outputs.get(name).is_some());
    let failed = s.points.iter().filter(|p| p.outputs.get(name).is_none() && p.status != "succeeded").count();
    let dates: Vec<jiff::civil::Date> = s.points.iter().filter_map(|p| p.date.parse().ok()).collect();
    let missing = match (dates.iter().min(), dates.iter().max()) {
        (Some(a), Some(b)) => {
            let have: std::collections::BTreeSet<_> = dates.iter().collect();
            (days_between(*a, *b) + 1) as usize - have.len()
        }
        _ => 0,
    };
    if !numeric {
        let rows = s
            .points
            .iter()
            .map(|p| TrendRow {
                date: p.date.clone(),
                status: p.status.clone(),
                value: p.outputs.get(name).map_or("-".into(), crate::resolve::raw_text),
                run_id: p.run_id.clone(),
                href: notebook_href(&s.node, p),
            })
            .collect();
        let drawn = s.points.iter().filter(|p| p.outputs.get(name).is_some()).count();
        return TrendView { name: name.to_string(), svg: None, rows, counts: (drawn, failed, missing) };
    }
    let (svg, drawn) = chart(s, name);
    TrendView { name: name.to_string(), svg: Some(svg), rows: Vec::new(), counts: (drawn, failed, missing) }
}

/// The SVG of a numeric trend, and how many points it draws.
fn chart(s: &OutputSeries, name: &str) -> (String, usize) {
    // The last run of each date speaks for it (a rerun replaces a failure).
    let mut by_date: BTreeMap<jiff::civil::Date, &OutputPoint> = BTreeMap::new();
    for p in &s.points {
        if let Ok(d) = p.date.parse::<jiff::civil::Date>() {
            by_date.insert(d, p);
        }
    }
    let (Some(first), Some(last)) = (by_date.keys().next().copied(), by_date.keys().last().copied()) else {
        return (String::new(), 0);
    };
    let span = days_between(first, last).max(1) as f64;
    let values: Vec<f64> = by_date.values().filter_map(|p| p.outputs.get(name)?.as_f64()).collect();
    let (mut lo, mut hi) = values.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    if lo == hi {
        lo -= 1.0;
        hi += 1.0;
    }
    let x = |d: jiff::civil::Date| LEFT + (WIDTH - LEFT - RIGHT) * (days_between(first, d) as f64 / span);
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo));
    let base = HEIGHT - BOTTOM;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{} over {} runs">"#,
        escape(name),
        s.points.len()
    );
    // Axes and labels: the range's values and first and last dates.
    let _ = write!(out, r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{}" y2="{base}"/><line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>"#, WIDTH - RIGHT);
    for v in [lo, hi] {
        let _ = write!(out, r#"<text class="tick" x="{}" y="{:.1}" text-anchor="end" dominant-baseline="central">{}</text>"#, LEFT - 6.0, y(v), escape(&label(v)));
    }
    for (d, anchor) in [(first, "start"), (last, "end")] {
        let _ = write!(out, r#"<text class="tick" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#, x(d), base + 16.0, d);
    }
    // Version changes.
    let mut version = None;
    for (d, p) in &by_date {
        if version.is_some_and(|v| v != p.version) {
            let _ = write!(out, r#"<g class="version"><line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{base}"/><text x="{0:.1}" y="{1}" text-anchor="middle">v{2}</text></g>"#, x(*d), base + 32.0, p.version);
        }
        version = Some(p.version);
    }
    // The line, broken where a date has no value (a failure, or no run).
    let mut segment: Vec<(f64, f64)> = Vec::new();
    let mut prev: Option<jiff::civil::Date> = None;
    let mut segments = Vec::new();
    for (d, p) in &by_date {
        let contiguous = prev.is_some_and(|q| days_between(q, *d) == 1);
        match p.outputs.get(name).and_then(Value::as_f64) {
            Some(v) => {
                if !contiguous && !segment.is_empty() {
                    segments.push(std::mem::take(&mut segment));
                }
                segment.push((x(*d), y(v)));
            }
            None => segments.push(std::mem::take(&mut segment)),
        }
        prev = Some(*d);
    }
    segments.push(segment);
    for seg in segments.iter().filter(|s| s.len() > 1) {
        let pts: Vec<String> = seg.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        let _ = write!(out, r#"<polyline class="line" points="{}"/>"#, pts.join(" "));
    }
    // Points, each a link to its notebook; failures as marks on the axis.
    let mut drawn = 0;
    for (d, p) in &by_date {
        match p.outputs.get(name).and_then(Value::as_f64) {
            Some(v) => {
                drawn += 1;
                let title = format!("{d}: {} (run {}, v{})", label(v), p.run_id, p.version);
                let dot = format!(r#"<circle class="point" data-date="{d}" cx="{:.1}" cy="{:.1}" r="4"><title>{}</title></circle>"#, x(*d), y(v), escape(&title));
                match notebook_href(&s.node, p) {
                    Some(h) => {
                        let _ = write!(out, r#"<a href="{}">{dot}</a>"#, escape(&h));
                    }
                    None => out.push_str(&dot),
                }
            }
            None => {
                let title = format!("{d}: {} (run {})", p.status, p.run_id);
                let _ = write!(
                    out,
                    r#"<a href="/runs/{}"><g class="gap status-{}" data-date="{d}"><line x1="{2:.1}" y1="{3}" x2="{2:.1}" y2="{4}"/><title>{5}</title></g></a>"#,
                    url(&p.run_id),
                    escape(&p.status),
                    x(*d),
                    base - 6.0,
                    base + 6.0,
                    escape(&title)
                );
            }
        }
    }
    out.push_str("</svg>");
    (out, drawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn series(points: serde_json::Value) -> OutputSeries {
        serde_json::from_value(json!({"workflow": "wf", "node": "count<", "name": "n", "names": ["n"], "truncated": false, "points": points})).unwrap()
    }

    fn point(date: &str, status: &str, n: Option<serde_json::Value>, version: u32) -> serde_json::Value {
        let outputs = n.map_or(json!({}), |v| json!({"n": v}));
        json!({"date": date, "logical_time": format!("{date}T00:00:00Z"), "run_id": format!("r{date}"), "version": version, "status": status, "attempt": 1, "outputs": outputs})
    }

    #[test]
    fn numbers_make_a_line_with_a_gap_at_a_failed_date_and_version_marks() {
        let s = series(json!([
            point("2026-01-01", "succeeded", Some(json!(10)), 1),
            point("2026-01-02", "succeeded", Some(json!(20)), 1),
            point("2026-01-03", "failed", None, 1),
            point("2026-01-04", "succeeded", Some(json!(40)), 2),
            point("2026-01-06", "succeeded", Some(json!(60.5)), 2),
        ]));
        let t = trend(&s, "n");
        let svg = t.svg.expect("a chart");
        assert_eq!(t.counts, (4, 1, 1), "4 points, 1 failure, 2026-01-05 without a run");
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 4);
        assert_eq!(svg.matches("<polyline").count(), 1, "only 01-01→01-02 is a line: 01-03 failed, 01-05 is missing: {svg}");
        assert!(svg.contains("<g class=\"gap status-failed\" data-date=\"2026-01-03\""), "{svg}");
        assert!(svg.contains(">v2</text>"), "the version change is marked: {svg}");
        assert!(svg.contains("href=\"/runs/r2026-01-01/nodes/count%3C/attempts/1\""), "points link to their notebooks, escaped: {svg}");
        assert!(!svg.contains("count<"), "the node id is escaped in every attribute");
        assert!(svg.contains(">60.5</text>") && svg.contains(">10</text>"), "the range's labels: {svg}");
    }

    #[test]
    fn other_values_are_a_table() {
        let s = series(json!([point("2026-01-01", "succeeded", Some(json!("<b>x</b>")), 1), point("2026-01-02", "failed", None, 1)]));
        let t = trend(&s, "n");
        assert!(t.svg.is_none());
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].value, "<b>x</b>", "escaped by the template, not here");
        assert_eq!(t.rows[1].value, "-");
        assert_eq!(t.rows[0].href.as_deref(), Some("/runs/r2026-01-01/nodes/count%3C/attempts/1"));
    }
}
