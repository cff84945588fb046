//! `deckle diff A [B]`: two node attempts compared (`RUN[/NODE[/ATTEMPT]]`; B
//! defaults to the node's last success): versions and notebooks, params and
//! outputs with changes marked, then every cell that differs, as line diffs, and
//! the first cell whose outputs diverge.

use clap::Args;
use deckle_protocol::compare::{CellPair, Comparison, DiffLine, Side, ValuePair};

use super::{show_reply, value_text, EXIT_CODES};
use crate::client::{Client, RemoteArgs};
use crate::table::Table;

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct DiffArgs {
    /// The attempt: RUN, RUN/NODE or RUN/NODE/ATTEMPT (default: the latest attempt).
    pub a: String,
    /// What to compare it with (same forms; the node defaults to A's); default: the node's last success.
    pub b: Option<String>,
    /// Show every cell, not only those that differ.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

fn side_line(label: &str, s: &Side) -> String {
    let nb = match (&s.notebook, &s.notebook_hash) {
        (Some(n), Some(h)) => format!(" · {n} ({})", &h[..h.len().min(12)]),
        (Some(n), None) => format!(" · {n}"),
        _ => String::new(),
    };
    let took = s.duration_secs.map(|d| format!(" · {d:.1}s")).unwrap_or_default();
    format!("{label} {}/{}/{} · {} · {} v{} · {}{nb}{took}\n", s.run_id, s.node, s.attempt, s.date, s.workflow, s.version, s.status)
}

fn compact(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map_or("-".into(), value_text)
}

fn values(title: &str, pairs: &[ValuePair]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut t = Table::new(["", title, "A", "B"]);
    for p in pairs {
        t.row([if p.changed { "*" } else { " " }.to_string(), p.name.clone(), compact(&p.a), compact(&p.b)]);
    }
    t.render()
}

fn lines(out: &mut String, ls: &[DiffLine], changed_only: bool) {
    for l in ls.iter().filter(|l| !changed_only || l.op != " ") {
        out.push_str(&format!("    {}{}\n", l.op, l.text));
    }
}

fn cell(out: &mut String, c: &CellPair) {
    let where_ = match c.presence.as_str() {
        "a" => " (only in A)",
        "b" => " (only in B)",
        _ => "",
    };
    let durations = match (c.duration_a, c.duration_b) {
        (Some(a), Some(b)) => format!(" · {a:.2}s → {b:.2}s"),
        _ => String::new(),
    };
    out.push_str(&format!("cell {} ({}){where_}{durations}\n", c.index, c.kind));
    if c.source_changed {
        out.push_str("  source:\n");
        lines(out, &c.source, false);
    }
    if c.outputs_changed {
        out.push_str("  outputs:\n");
        lines(out, &c.outputs, false);
        if c.images_a != c.images_b {
            out.push_str(&format!("    images: {} in A, {} in B, not the same\n", c.images_a.len(), c.images_b.len()));
        }
    }
    for (side, e) in [("A", &c.error_a), ("B", &c.error_b)] {
        if let Some(e) = e {
            out.push_str(&format!("  error in {side}: {e}\n"));
        }
    }
}

/// The comparison in words.
pub fn render(c: &Comparison, all: bool) -> String {
    let mut out = side_line("A", &c.a) + &side_line("B", &c.b);
    if c.a.notebook_hash.is_some() && c.a.notebook_hash != c.b.notebook_hash {
        out.push_str("the notebooks differ (another registered version of the file)\n");
    }
    out.push('\n');
    out.push_str(&values("PARAM", &c.params));
    out.push_str(&values("OUTPUT", &c.outputs));
    let changed: Vec<&CellPair> = c.cells.iter().filter(|p| all || p.source_changed || p.outputs_changed || p.presence != "both").collect();
    match c.first_divergence {
        Some(i) => out.push_str(&format!("\nfirst cell whose outputs differ: {i}\n")),
        None => out.push_str("\nevery cell's outputs are the same\n"),
    }
    for p in changed {
        cell(&mut out, p);
    }
    out
}

pub async fn diff(args: DiffArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let mut q = vec![("a", args.a.clone())];
    q.extend(args.b.clone().map(|b| ("b", b)));
    show_reply(client.get::<Comparison>(&["diff"], &q).await, args.remote.json, |c| render(c, args.all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_cmds::test_cli::{parse, Cmd};

    #[test]
    fn a_comparison_marks_changes_and_shows_only_differing_cells() {
        let side = |run: &str, status: &str, hash: &str| {
            serde_json::json!({"run_id": run, "workflow": "wf", "date": "2026-01-02", "version": 2, "node": "train", "attempt": 1, "status": status,
                "notebook": "train.ipynb", "notebook_hash": hash, "duration_secs": 1.5, "error": null})
        };
        let c: Comparison = serde_json::from_value(serde_json::json!({
            "a": side("r2", "failed", "abcdef0123456789"), "b": side("r1", "succeeded", "abcdef0123456789"),
            "params": [{"name": "lr", "a": 0.1, "b": 0.01, "changed": true}, {"name": "region", "a": "fr", "b": "fr", "changed": false}],
            "outputs": [],
            "cells": [
                {"index": 0, "kind": "code", "presence": "both", "source_changed": false, "source": [{"op": " ", "text": "x = 1"}], "outputs_changed": false, "outputs": [], "images_a": [], "images_b": []},
                {"index": 1, "kind": "code", "presence": "both", "source_changed": false, "source": [{"op": " ", "text": "print(x)"}], "outputs_changed": true,
                 "outputs": [{"op": "-", "text": "1"}, {"op": "+", "text": "2"}], "images_a": [], "images_b": [], "error_a": "ValueError: bad", "duration_a": 0.5, "duration_b": 0.25}
            ],
            "first_divergence": 1
        }))
        .unwrap();
        let s = render(&c, false);
        assert!(s.starts_with("A r2/train/1 · 2026-01-02 · wf v2 · failed · train.ipynb (abcdef012345) · 1.5s\nB r1/train/1"), "{s}");
        assert!(s.contains("\n*  lr      0.1  0.01\n   region  fr   fr\n"), "changed params marked: {s}");
        assert!(s.contains("first cell whose outputs differ: 1\ncell 1 (code) · 0.50s → 0.25s\n  outputs:\n    -1\n    +2\n  error in A: ValueError: bad\n"), "{s}");
        assert!(!s.contains("cell 0"), "unchanged cells are left out: {s}");
        assert!(render(&c, true).contains("cell 0 (code)"), "--all shows them");
    }

    #[test]
    fn arguments() {
        let Cmd::Diff(d) = parse(&["diff", "r2/train", "r1/train/2", "--all"]).unwrap() else { panic!() };
        assert_eq!((d.a.as_str(), d.b.as_deref(), d.all), ("r2/train", Some("r1/train/2"), true));
        assert!(parse(&["diff"]).is_err());
    }
}
