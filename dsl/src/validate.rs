//! Checks across the parsed workflow: the graph (unknown `needs`, cycles), what
//! expressions read (nodes that are not upstream, undeclared params), notebook
//! files (and, through `schedulable`, what their cells need), SQL engines and
//! templates, the schedule, and what `triggers:` set and read.

use std::collections::HashSet;

use deckle_protocol::sql::SqlEngine;

use crate::diag::{Pos, Sink};
use crate::expr::Template;
use crate::model::{NodeKind, TriggerOn, WaitOn, Workflow};
use crate::notebook;
use crate::parse::{is_identifier, suggest, NodeSpans, Spans};
use crate::schedulable;

/// What `run.<key>` can name (see `docs/workflow-format.md`).
const RUN_KEYS: &[&str] = &["id", "date", "logical_time", "attempt", "workflow"];
/// What `trigger.<key>` can name, over every kind of trigger (see `docs/workflow-format.md`).
const TRIGGER_FIELDS: &[&str] =
    &["kind", "workflow", "run_id", "status", "date", "logical_time", "outputs", "signal", "params", "key", "event", "path", "size"];
/// Identifiers CEL resolves itself: type names, used as `type(x) == int`.
const CEL_NAMES: &[&str] = &["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"];

/// A workflow this large is refused: the coordinator keeps a run's nodes in memory.
pub const MAX_NODES: usize = 20_000;

pub(crate) fn validate(wf: &Workflow, spans: &Spans, sink: &mut Sink, schedulability: bool) {
    if wf.nodes.len() > MAX_NODES {
        sink.error(spans.root, format!("the workflow has {} nodes; at most {MAX_NODES} are allowed", wf.nodes.len()));
    }
    engines(wf, spans, sink);
    unknown_needs(wf, spans, sink);
    cycles(wf, spans, sink);
    triggers(wf, spans, sink);
    let has_triggers = spans.trigger_entries > 0;
    let mut notebooks = notebook::Cache::default();
    let mut checked_notebooks: HashSet<std::path::PathBuf> = HashSet::new();
    for (id, node) in &wf.nodes {
        let ns = spans.nodes.get(id).cloned().unwrap_or_default();
        let check = Reads { wf, id, up: std::cell::OnceCell::new(), foreach: node.foreach.is_some(), has_triggers };
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
                    Ok(info) => {
                        if !node.params.is_empty() && !info.has_parameters_cell {
                            sink.warning(
                                pos,
                                format!("notebook `{rel}` has no cell tagged `parameters`; the params of node `{id}` will be injected at the top"),
                            );
                        }
                        let first_use = checked_notebooks.insert(path.clone());
                        if schedulability {
                            schedulable::check(wf, node, rel, &info, &ns, first_use, sink);
                        }
                    }
                }
            }
            NodeKind::Notebook { .. } => {}
            NodeKind::Wait(w) => match &w.on {
                WaitOn::Files { path } => check.template(path, "`wait.files`", ns.wait_files.unwrap_or(ns.key), false, sink),
                WaitOn::Signal { matches, .. } => {
                    for (name, t) in matches {
                        let pos = ns.wait_match.get(name).copied().unwrap_or(ns.key);
                        check.template(t, &format!("`wait.match.{name}`"), pos, false, sink);
                    }
                }
                WaitOn::Workflow { .. } => {}
            },
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

/// A trigger's params must be declared, non-secret workflow params, and its
/// `params` and `when` may read only `trigger`: the run does not exist yet.
fn triggers(wf: &Workflow, spans: &Spans, sink: &mut Sink) {
    for (i, t) in wf.triggers.iter().enumerate() {
        let ts = spans.triggers.get(i).cloned().unwrap_or_default();
        let label = format!("trigger {} (`{}`)", ts.number, trigger_label(&t.on));
        for (name, template) in &t.params {
            let (key_pos, value_pos) = ts.params.get(name).copied().unwrap_or((ts.pos, ts.pos));
            // A name that is no identifier was reported as such while parsing.
            if is_identifier(name) {
                match wf.params.get(name) {
                    None => sink.error(key_pos, format!("{label} sets param `{name}`, which is not a workflow param{}", param_hint(wf, name))),
                    Some(spec) if spec.secret => sink.error(
                        key_pos,
                        format!(
                            "{label} sets param `{name}`, a secret: secrets come from the environment (DECKLE_SECRET_{}), never from a trigger",
                            name.to_ascii_uppercase()
                        ),
                    ),
                    Some(_) => {}
                }
            }
            trigger_reads(&template.paths(), &format!("param `{name}` of {label}"), value_pos, sink);
        }
        if let TriggerOn::Workflow { when: Some(w), .. } = &t.on {
            trigger_reads(&w.paths(), &format!("`when` of {label}"), ts.when.unwrap_or(ts.pos), sink);
        }
    }
}

/// A trigger as written, in a few words: `signal: partner_feed`.
fn trigger_label(on: &TriggerOn) -> String {
    match on {
        TriggerOn::Workflow { workflow, .. } => format!("workflow: {workflow}"),
        TriggerOn::Signal { name, .. } => format!("signal: {name}"),
        TriggerOn::Files(f) => format!("files: {}", f.path),
    }
}

/// What a trigger's `params` and `when` read: `trigger` and CEL type names only.
fn trigger_reads(paths: &[Vec<String>], at: &str, pos: Pos, sink: &mut Sink) {
    for p in paths {
        match p[0].as_str() {
            "trigger" => trigger_field(p, at, pos, sink),
            v @ ("params" | "run" | "nodes" | "item" | "index") => {
                sink.error(pos, format!("{at} reads `{v}`; a trigger's `params` and `when` see only `trigger` (the event): the run does not exist yet"))
            }
            other if CEL_NAMES.contains(&other) => {}
            other => sink.error(pos, format!("{at} reads `{other}`, which is not defined (a trigger's `params` and `when` see only `trigger`)")),
        }
    }
}

/// `trigger.<key>` must be a key some trigger sets.
fn trigger_field(p: &[String], at: &str, pos: Pos, sink: &mut Sink) {
    if let Some(key) = p.get(1) {
        if !TRIGGER_FIELDS.contains(&key.as_str()) {
            let keys = TRIGGER_FIELDS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            sink.error(pos, format!("{at} reads `trigger.{key}`; `trigger` has {keys}"));
        }
    }
}

/// " (did you mean `x`?)", or what the workflow declares: for an unknown param.
fn param_hint(wf: &Workflow, name: &str) -> String {
    match suggest(name, wf.params.keys().map(String::as_str)) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None if wf.params.is_empty() => " (the workflow declares no params)".to_string(),
        None => format!(" (declared: {})", wf.params.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
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
    /// Whether the workflow lists `triggers:` (else `trigger` is always null).
    has_triggers: bool,
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
                        sink.error(pos, format!("{at} reads `params.{name}`, which is not a workflow param{}", param_hint(self.wf, name)));
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
            // CEL only: SQL templates are rendered over `params`, `run`, `nodes` (and `item`/`index`).
            "trigger" if cel => {
                trigger_field(p, &at, pos, sink);
                if !self.has_triggers {
                    sink.warning(
                        pos,
                        format!("{at} reads `trigger`, but the workflow has no `triggers:`: runs started by hand or by schedule have no trigger (it is null)"),
                    );
                }
            }
            // Jinja templates may call globals (`range`, `namespace`): only CEL
            // has a closed set of variables.
            other if cel && !CEL_NAMES.contains(&other) => {
                sink.error(pos, format!("{at} reads `{other}`, which is not defined (expressions see `params`, `run`, `nodes`, `trigger`, and `item`/`index` in a foreach)"));
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

    /// Every diagnostic, errors then warnings, as `line:column: severity: message`.
    fn diagnostics(yaml: &str) -> Vec<String> {
        let all = match crate::parse_str(yaml, std::path::Path::new("w.yaml")) {
            Ok(l) => l.warnings,
            Err(d) => d.0,
        };
        all.iter().map(|d| format!("{}:{}: {}: {}", d.line, d.column, d.severity, d.message)).collect()
    }

    #[test]
    fn a_triggered_workflow_validates_cleanly() {
        let text = concat!(
            "workflow: w\n",
            "params: { table: { type: string, default: t }, rows: { type: int, default: 0 } }\n",
            "triggers:\n",
            "  - workflow: up\n",
            "    when: type(trigger.outputs.load) == map && trigger.outputs.load.row_count > 0\n",
            "    params: { rows: \"${{ trigger.outputs.load.row_count }}\", table: \"${{ trigger.run_id }}\" }\n",
            "  - { signal: feed, match: { source: acme }, params: { table: \"${{ trigger.params.table }}\" } }\n",
            "  - files: /in/{date}/*.csv\n",
            "nodes:\n",
            "  landed: { wait: { files: \"/in/${{ run.date }}/${{ params.table }}/${{ trigger.path }}\" } }\n",
            "  a: { sql: { query: q }, needs: landed, when: \"trigger.kind == 'files' && has(trigger.size)\" }\n",
            "  ok: { wait: { signal: ok, match: { rows: \"${{ nodes.a.outputs.row_count }}\", by: \"${{ trigger.event }}\" } }, needs: a }\n",
        );
        assert_eq!(diagnostics(text), Vec::<String>::new());
    }

    #[test]
    fn what_triggers_set_and_read_is_checked() {
        let text = concat!(
            "workflow: w\n",
            "params:\n",
            "  table: { type: string, default: t }\n",
            "  token: { type: string, secret: true }\n",
            "triggers:\n",
            "  - workflow: up\n",
            "    when: \"trigger.status == 'failed' && params.table == 'x'\"\n",
            "  - signal: x\n",
            "    params:\n",
            "      tabel: \"${{ trigger.params.t }}\"\n",
            "      token: \"${{ trigger.key }}\"\n",
            "      table: \"${{ run.date }}-${{ nodes.a.status }}-${{ item }}-${{ trigger.pth }}\"\n",
            "  - { files: /in/*.csv, params: { table: \"${{ string(trigger.size) + zork }}\" } }\n",
            "nodes:\n",
            "  a: { sql: { query: q }, when: \"trigger.kind == 'files' && trigger.nope\" }\n",
            "  b: { wait: { files: \"${{ params.tabel }}/${{ nodes.a.outputs.x }}/${{ trigger.path }}\" } }\n",
            "  c: { wait: { signal: s, match: { day: \"${{ run.dat }}\", x: \"${{ trigger.sizes }}\", i: \"${{ item }}\" } }, needs: a }\n",
        );
        let keys = "`kind`, `workflow`, `run_id`, `status`, `date`, `logical_time`, `outputs`, `signal`, `params`, `key`, `event`, `path`, `size`";
        let only = "a trigger's `params` and `when` see only `trigger` (the event): the run does not exist yet";
        assert_eq!(
            diagnostics(text),
            [
                format!("7:11: error: `when` of trigger 1 (`workflow: up`) reads `params`; {only}"),
                "10:7: error: trigger 2 (`signal: x`) sets param `tabel`, which is not a workflow param (did you mean `table`?)".to_string(),
                "11:7: error: trigger 2 (`signal: x`) sets param `token`, a secret: secrets come from the environment (DECKLE_SECRET_TOKEN), never from a trigger".to_string(),
                format!("12:14: error: param `table` of trigger 2 (`signal: x`) reads `run`; {only}"),
                format!("12:14: error: param `table` of trigger 2 (`signal: x`) reads `nodes`; {only}"),
                format!("12:14: error: param `table` of trigger 2 (`signal: x`) reads `item`; {only}"),
                format!("12:14: error: param `table` of trigger 2 (`signal: x`) reads `trigger.pth`; `trigger` has {keys}"),
                "13:42: error: param `table` of trigger 3 (`files: /in/*.csv`) reads `zork`, which is not defined (a trigger's `params` and `when` see only `trigger`)".to_string(),
                format!("15:33: error: `when` of node `a` reads `trigger.nope`; `trigger` has {keys}"),
                "16:23: error: `wait.files` of node `b` reads `params.tabel`, which is not a workflow param (did you mean `table`?)".to_string(),
                "16:23: error: `wait.files` of node `b` reads `nodes.a` but does not need it, directly or transitively (add `a` to its `needs`)".to_string(),
                "17:41: error: `wait.match.day` of node `c` reads `run.dat`; `run` has `id`, `date`, `logical_time`, `attempt`, `workflow`".to_string(),
                format!("17:62: error: `wait.match.x` of node `c` reads `trigger.sizes`; `trigger` has {keys}"),
                "17:89: error: `wait.match.i` of node `c` reads `item`, but node `c` has no `foreach`".to_string(),
            ]
        );
    }

    #[test]
    fn reading_trigger_without_triggers_is_a_warning() {
        let text = concat!(
            "workflow: w\n",
            "nodes:\n",
            "  a: { sql: { query: q }, when: \"trigger.kind == 'signal'\" }\n",
            "  b: { wait: { signal: s, match: { k: \"${{ trigger.params.k }}\" } } }\n",
        );
        let loaded = crate::parse_str(text, std::path::Path::new("w.yaml")).unwrap();
        let warnings: Vec<String> = loaded.warnings.iter().map(|d| format!("{}:{}: {}: {}", d.line, d.column, d.severity, d.message)).collect();
        let why = "but the workflow has no `triggers:`: runs started by hand or by schedule have no trigger (it is null)";
        assert_eq!(
            warnings,
            [
                format!("3:33: warning: `when` of node `a` reads `trigger`, {why}"),
                format!("4:39: warning: `wait.match.k` of node `b` reads `trigger`, {why}"),
            ]
        );
        // With a trigger, the same reads are fine.
        let with = text.replace("nodes:\n", "triggers: [{ signal: s }]\nnodes:\n");
        assert_eq!(diagnostics(&with), Vec::<String>::new());
    }

    #[test]
    fn valid_cron_and_timezone_pass() {
        check("workflow: w\nschedule: { cron: '*/15 6-18 * * MON-FRI', timezone: Europe/Paris }\nnodes: { a: { sql: { query: q } } }\n").unwrap();
        check("workflow: w\nschedule: '@daily'\nnodes: { a: { sql: { query: q } } }\n").unwrap();
    }
}
