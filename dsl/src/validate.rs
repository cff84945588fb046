//! Checks across the parsed workflow: the graph (unknown `needs`, cycles), what
//! expressions read (nodes that are not upstream, undeclared params), notebook
//! files, SQL engines and templates, and the schedule.

use std::collections::HashSet;

use deckle_protocol::sql::SqlEngine;

use crate::diag::{Pos, Sink};
use crate::expr::Template;
use crate::model::{NodeKind, Workflow};
use crate::notebook;
use crate::parse::{suggest, NodeSpans, Spans};

/// What `run.<key>` can name (see `docs/workflow-format.md`).
const RUN_KEYS: &[&str] = &["id", "date", "logical_time", "attempt", "workflow"];
/// Identifiers CEL resolves itself: type names, used as `type(x) == int`.
const CEL_NAMES: &[&str] = &["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"];

/// A workflow this large is refused: the coordinator keeps a run's nodes in memory.
pub const MAX_NODES: usize = 20_000;

pub(crate) fn validate(wf: &Workflow, spans: &Spans, sink: &mut Sink) {
    if wf.nodes.len() > MAX_NODES {
        sink.error(spans.root, format!("the workflow has {} nodes; at most {MAX_NODES} are allowed", wf.nodes.len()));
    }
    schedule(wf, spans, sink);
    engines(wf, spans, sink);
    unknown_needs(wf, spans, sink);
    cycles(wf, spans, sink);
    let mut notebooks = notebook::Cache::default();
    for (id, node) in &wf.nodes {
        let ns = spans.nodes.get(id).cloned().unwrap_or_default();
        let check = Reads { wf, id, up: std::cell::OnceCell::new(), foreach: node.foreach.is_some() };
        for (name, t) in &node.params {
            let pos = ns.params.get(name).copied().unwrap_or(ns.key);
            check.template(t, &format!("param `{name}`"), pos, false, sink);
        }
        if let Some(w) = &node.when {
            check.paths(&w.paths(), "`when`", ns.when.unwrap_or(ns.key), false, sink);
        }
        if let Some(t) = &node.foreach {
            check.template(t, "`foreach`", ns.foreach.unwrap_or(ns.key), true, sink);
        }
        match &node.kind {
            NodeKind::Notebook { rel, path } if !rel.is_empty() => {
                let pos = ns.notebook.unwrap_or(ns.key);
                if let Err(why) = notebook::inside_workflow_dir(wf.dir(), rel, path) {
                    sink.error(pos, format!("notebook `{rel}` of node `{id}`: {why}"));
                    continue;
                }
                match notebooks.inspect(path) {
                    Err(e) => sink.error(pos, format!("notebook `{rel}` of node `{id}`: {e}")),
                    Ok(info) if !node.params.is_empty() && !info.has_parameters_cell => sink.warning(
                        pos,
                        format!("notebook `{rel}` has no cell tagged `parameters`; the params of node `{id}` will be injected at the top"),
                    ),
                    Ok(_) => {}
                }
            }
            NodeKind::Notebook { .. } => {}
            NodeKind::Sql(sql) => {
                sql_engine(wf, sql.engine, id, &ns, sink);
                check.jinja(&sql.query, "`sql.query`", ns.query.unwrap_or(ns.key), sink);
                if let Some(s) = &sql.save_to {
                    check.jinja(s, "`sql.save_to`", ns.save_to.unwrap_or(ns.key), sink);
                }
            }
        }
    }
}

fn schedule(wf: &Workflow, spans: &Spans, sink: &mut Sink) {
    let Some(s) = &wf.schedule else { return };
    let parser = croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Disallowed).build();
    if let Err(e) = parser.parse(&s.cron) {
        sink.error(spans.cron.unwrap_or(spans.root), format!("bad cron `{}`: {e} (expected 5 fields: minute hour day-of-month month day-of-week)", s.cron));
    }
    // Without a time zone database (a bare container) every zone would look
    // unknown: only check when there is one.
    if !jiff::tz::db().is_definitively_empty() && jiff::tz::TimeZone::get(&s.timezone).is_err() {
        sink.error(spans.timezone.unwrap_or(spans.root), format!("unknown time zone `{}` (use an IANA name such as `America/Los_Angeles` or `UTC`)", s.timezone));
    }
}

fn engines(wf: &Workflow, spans: &Spans, sink: &mut Sink) {
    let trino = SqlEngine::Trino.as_str();
    if let Some(settings) = wf.engines.get(trino) {
        if settings.get("host").is_none() {
            sink.error(spans.engines.get(trino).copied().unwrap_or(spans.root), "engine `trino` needs a `host` setting");
        }
    }
}

fn sql_engine(wf: &Workflow, engine: SqlEngine, id: &str, ns: &NodeSpans, sink: &mut Sink) {
    // duckdb is embedded and spark defaults to local mode: only trino needs settings.
    if engine == SqlEngine::Trino && !wf.engines.contains_key(engine.as_str()) {
        sink.error(ns.engine.unwrap_or(ns.key), format!("node `{id}` uses engine `trino`, which is not configured: add `engines: {{ trino: {{ host: … }} }}`"));
    }
}

fn unknown_needs(wf: &Workflow, spans: &Spans, sink: &mut Sink) {
    for (id, node) in &wf.nodes {
        let ns = &spans.nodes[id];
        for (i, need) in node.needs.iter().enumerate() {
            if !wf.nodes.contains_key(need) {
                let hint = suggest(need, wf.nodes.keys().map(String::as_str)).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
                sink.error(ns.needs.get(i).copied().unwrap_or(ns.key), format!("node `{id}` needs `{need}`, which is not a node{hint}"));
            }
        }
    }
}

/// Report each cycle once, named in the direction work flows: `a -> b -> a`
/// means b needs a and a needs b.
fn cycles(wf: &Workflow, spans: &Spans, sink: &mut Sink) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let ids: Vec<&str> = wf.nodes.keys().map(String::as_str).collect();
    let index = |id: &str| ids.iter().position(|x| *x == id);
    let mut mark = vec![Mark::New; ids.len()];
    let mut seen: HashSet<Vec<usize>> = HashSet::new();

    // Iterative DFS over "needs" edges, in file order, so reports are stable.
    for start in 0..ids.len() {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            let needs = &wf.nodes[ids[n]].needs;
            if *next >= needs.len() {
                mark[n] = Mark::Done;
                stack.pop();
                continue;
            }
            let dep = needs[*next].clone();
            *next += 1;
            let Some(d) = index(&dep) else { continue };
            match mark[d] {
                Mark::New => {
                    mark[d] = Mark::Open;
                    stack.push((d, 0));
                }
                Mark::Open => {
                    // The path from d to n along "needs", reversed: upstream first.
                    let from = stack.iter().position(|(x, _)| *x == d).unwrap_or(0);
                    let mut cyc: Vec<usize> = stack[from..].iter().map(|(x, _)| *x).collect();
                    cyc.reverse();
                    // Start at the node written first, and report each cycle once.
                    let min = cyc.iter().enumerate().min_by_key(|(_, x)| **x).map(|(i, _)| i).unwrap_or(0);
                    cyc.rotate_left(min);
                    if seen.insert(cyc.clone()) {
                        let mut names: Vec<&str> = cyc.iter().map(|i| ids[*i]).collect();
                        names.push(names[0]);
                        let pos = spans.nodes.get(ids[cyc[0]]).map(|s| s.key).unwrap_or(spans.root);
                        sink.error(pos, format!("`needs` form a cycle: {}", names.join(" -> ")));
                    }
                }
                Mark::Done => {}
            }
        }
    }
}

/// Every node `id` transitively needs (unknown ids and cycles tolerated).
fn upstream(wf: &Workflow, id: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut todo: Vec<&str> = wf.nodes.get(id).map(|n| n.needs.iter().map(String::as_str).collect()).unwrap_or_default();
    while let Some(n) = todo.pop() {
        if out.insert(n.to_string()) {
            if let Some(node) = wf.nodes.get(n) {
                todo.extend(node.needs.iter().map(String::as_str));
            }
        }
    }
    out
}

/// Checks what one node's expressions read.
struct Reads<'a> {
    wf: &'a Workflow,
    id: &'a str,
    /// What `id` transitively needs; computed only for nodes that read `nodes.*`,
    /// so large DAGs of plain nodes validate in linear time.
    up: std::cell::OnceCell<HashSet<String>>,
    foreach: bool,
}

impl Reads<'_> {
    fn template(&self, t: &Template, what: &str, pos: Pos, in_foreach_expr: bool, sink: &mut Sink) {
        self.paths(&t.paths(), what, pos, in_foreach_expr, sink);
    }

    fn paths(&self, paths: &[Vec<String>], what: &str, pos: Pos, in_foreach_expr: bool, sink: &mut Sink) {
        for p in paths {
            self.path(p, what, pos, in_foreach_expr, true, sink);
        }
    }

    /// SQL templates are minijinja: syntax-check them, then check the
    /// `params.` / `run.` / `nodes.` paths they read like CEL ones.
    fn jinja(&self, text: &str, what: &str, pos: Pos, sink: &mut Sink) {
        let env = minijinja::Environment::new();
        match env.template_from_str(text) {
            Err(e) => {
                // A block scalar (`query: |`) starts on its first content line, so
                // template lines map onto file lines.
                let pos = match e.line() {
                    Some(l) if l > 1 => Pos::new(pos.line + l - 1, 1),
                    _ => pos,
                };
                sink.error(pos, format!("bad template in {what} of node `{}`: {}", self.id, e.detail().unwrap_or("syntax error")));
            }
            Ok(t) => {
                let mut vars: Vec<String> = t.undeclared_variables(true).into_iter().collect();
                vars.sort();
                for v in vars {
                    let p: Vec<String> = v.split('.').map(str::to_string).collect();
                    self.path(&p, what, pos, false, false, sink);
                }
            }
        }
    }

    fn path(&self, p: &[String], what: &str, pos: Pos, in_foreach_expr: bool, cel: bool, sink: &mut Sink) {
        let id = self.id;
        let at = format!("{what} of node `{id}`");
        match p[0].as_str() {
            "nodes" => {
                let Some(target) = p.get(1) else { return }; // `nodes[expr]`: not checkable
                if !self.wf.nodes.contains_key(target) {
                    let hint = suggest(target, self.wf.nodes.keys().map(String::as_str)).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
                    sink.error(pos, format!("{at} reads `nodes.{target}`, but there is no node `{target}`{hint}"));
                } else if target == id {
                    sink.error(pos, format!("{at} reads `nodes.{target}`: a node cannot read its own outputs"));
                } else if !self.up.get_or_init(|| upstream(self.wf, self.id)).contains(target) {
                    sink.error(pos, format!("{at} reads `nodes.{target}` but does not need it, directly or transitively (add `{target}` to its `needs`)"));
                }
                if let Some(field) = p.get(2) {
                    if field != "outputs" && field != "status" {
                        sink.error(pos, format!("{at} reads `nodes.{target}.{field}`: a node has only `outputs` and `status`"));
                    }
                }
            }
            "params" => {
                if let Some(name) = p.get(1) {
                    if !self.wf.params.contains_key(name) {
                        let hint = match suggest(name, self.wf.params.keys().map(String::as_str)) {
                            Some(s) => format!(" (did you mean `{s}`?)"),
                            None if self.wf.params.is_empty() => " (the workflow declares no params)".to_string(),
                            None => format!(" (declared: {})", self.wf.params.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
                        };
                        sink.error(pos, format!("{at} reads `params.{name}`, which is not a workflow param{hint}"));
                    } else if self.wf.params[name].secret {
                        // Secrets never pass through expressions: that would write them
                        // into a notebook or a SQL text. Kernels get them as env vars.
                        sink.error(
                            pos,
                            format!(
                                "{at} reads `params.{name}`, a secret: secrets reach notebooks only as the environment variable DECKLE_SECRET_{}",
                                name.to_ascii_uppercase()
                            ),
                        );
                    }
                }
            }
            "run" => {
                if let Some(key) = p.get(1) {
                    if !RUN_KEYS.contains(&key.as_str()) {
                        let keys = RUN_KEYS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                        sink.error(pos, format!("{at} reads `run.{key}`; `run` has {keys}"));
                    }
                }
            }
            v @ ("item" | "index") => {
                if in_foreach_expr {
                    sink.error(pos, format!("{at} reads `{v}`, which exists only inside the instances `foreach` creates"));
                } else if !self.foreach {
                    sink.error(pos, format!("{at} reads `{v}`, but node `{id}` has no `foreach`"));
                }
            }
            // Jinja templates may call globals (`range`, `namespace`): only CEL
            // has a closed set of variables.
            other if cel && !CEL_NAMES.contains(&other) => {
                sink.error(pos, format!("{at} reads `{other}`, which is not defined (expressions see `params`, `run`, `nodes`, and `item`/`index` in a foreach)"));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn notebooks_outside_the_workflow_directory_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("wf");
        std::fs::create_dir_all(&dir).unwrap();
        let nb = r#"{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
        std::fs::write(root.path().join("outside.ipynb"), nb).unwrap();
        std::fs::write(dir.join("inside.ipynb"), nb).unwrap();
        std::os::unix::fs::symlink(root.path().join("outside.ipynb"), dir.join("link.ipynb")).unwrap();
        std::os::unix::fs::symlink(dir.join("inside.ipynb"), dir.join("ok-link.ipynb")).unwrap();
        let outside = root.path().join("outside.ipynb");
        let text = format!(
            "workflow: w\nnodes:\n  a: {{ notebook: ../outside.ipynb }}\n  b: {{ notebook: {} }}\n  c: {{ notebook: link.ipynb }}\n  d: {{ notebook: inside.ipynb }}\n  e: {{ notebook: ok-link.ipynb }}\n  f: {{ notebook: ./sub/../inside.ipynb }}\n",
            outside.display()
        );
        std::fs::write(dir.join("wf.yaml"), text).unwrap();
        let errs: Vec<String> = match crate::load(&dir.join("wf.yaml")) {
            Ok(_) => vec![],
            Err(d) => d.errors().map(|e| e.message.clone()).collect(),
        };
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs[0].starts_with("notebook `../outside.ipynb` of node `a`: must be a path inside"), "{errs:#?}");
        assert!(errs[1].contains("of node `b`: must be a path inside"), "{errs:#?}");
        assert!(errs[2].contains("of node `c`: is a link to") && errs[2].contains("outside the workflow's directory"), "{errs:#?}");
        assert!(errs[3].contains("of node `f`: must be a path inside"), "{errs:#?}");
    }

    fn check(yaml: &str) -> Result<(), String> {
        crate::parse_str(yaml, std::path::Path::new("w.yaml")).map(|_| ()).map_err(|d| d.to_string())
    }

    #[test]
    fn transitive_upstream_reads_are_allowed() {
        let secret = "workflow: w\nparams: { key: { type: string, secret: true } }\nnodes:\n  a: { sql: { query: \"select '{{ params.key }}'\" } }\n";
        let err = crate::parse_str(secret, std::path::Path::new("/tmp/w.yaml")).unwrap_err().to_string();
        assert!(err.contains("a secret") && err.contains("DECKLE_SECRET_KEY"), "{err}");
        let ok = "workflow: w\nparams: { xs: { type: list, default: [1] } }\nnodes:\n  a: { sql: { query: q } }\n  b: { sql: { query: q }, needs: a }\n  c:\n    sql: { query: \"select {{ nodes.a.outputs.row_count }}\" }\n    needs: b\n    when: \"params.xs.exists(x, x > nodes.a.outputs.row_count) && run.attempt >= 1\"\n    foreach: \"${{ params.xs }}\"\n    params: { n: \"${{ item + index }}\" }\n";
        check(ok).unwrap();
    }

    #[test]
    fn a_longer_cycle_is_named_once_in_flow_order() {
        let e = check("workflow: w\nnodes:\n  a: { sql: { query: q }, needs: d }\n  b: { sql: { query: q }, needs: a }\n  c: { sql: { query: q }, needs: b }\n  d: { sql: { query: q }, needs: c }\n").unwrap_err();
        assert_eq!(e, "w.yaml:3:3: error: `needs` form a cycle: a -> b -> c -> d -> a");
    }

    #[test]
    fn valid_cron_and_timezone_pass() {
        check("workflow: w\nschedule: { cron: '*/15 6-18 * * MON-FRI', timezone: Europe/Paris }\nnodes: { a: { sql: { query: q } } }\n").unwrap();
        check("workflow: w\nschedule: '@daily'\nnodes: { a: { sql: { query: q } } }\n").unwrap();
    }
}
