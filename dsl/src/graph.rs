//! The workflow DAG as text for humans and renderers: Graphviz DOT and Mermaid.
//!
//! Edges run from a node to what needs it (the direction work flows). A node's
//! label names its kind; `foreach` nodes are drawn doubled, and a `when`
//! condition labels the edges into the node it guards (and the node itself when
//! it has no `needs`). Non-default trigger rules are shown on the node.

use crate::model::{Node, NodeKind, TriggerRule, Workflow};

fn kind_label(n: &Node) -> String {
    match &n.kind {
        NodeKind::Notebook { rel, .. } => format!("notebook {rel}"),
        NodeKind::Sql(sql) => format!("sql ({})", sql.engine),
        NodeKind::Wait(w) => format!("wait {}", crate::model::wait_label(&w.on)),
    }
}

fn trigger_name(t: TriggerRule) -> &'static str {
    match t {
        TriggerRule::AllSuccess => "all_success",
        TriggerRule::AllDone => "all_done",
        TriggerRule::OneSuccess => "one_success",
        TriggerRule::NoneFailed => "none_failed",
    }
}

/// The lines of a node's label: id, kind, then annotations.
fn label_lines(n: &Node) -> Vec<String> {
    let mut lines = vec![n.id.clone(), kind_label(n)];
    if let Some(f) = &n.foreach {
        let src = match f.expressions().as_slice() {
            [one] => one.to_string(),
            _ => f.raw.to_string(),
        };
        lines.push(format!("foreach {src}"));
    }
    if n.trigger != TriggerRule::AllSuccess {
        lines.push(format!("trigger {}", trigger_name(n.trigger)));
    }
    if let (Some(w), true) = (&n.when, n.needs.is_empty()) {
        lines.push(format!("when {}", w.source));
    }
    lines
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz DOT (`dot -Tsvg`).
pub fn to_dot(wf: &Workflow) -> String {
    let mut out = format!("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n", dot_escape(&wf.id));
    for n in wf.nodes.values() {
        let label = label_lines(n).iter().map(|l| dot_escape(l)).collect::<Vec<_>>().join("\\n");
        let shape = match n.kind {
            NodeKind::Sql(_) => ", shape=cylinder, style=solid",
            NodeKind::Wait(_) => ", shape=hexagon, style=dashed",
            NodeKind::Notebook { .. } => "",
        };
        let foreach = if n.foreach.is_some() { ", peripheries=2" } else { "" };
        out.push_str(&format!("  \"{}\" [label=\"{label}\"{shape}{foreach}];\n", dot_escape(&n.id)));
    }
    for n in wf.nodes.values() {
        for need in &n.needs {
            let attrs = match &n.when {
                Some(w) => format!(" [label=\"when {}\", style=dashed]", dot_escape(&w.source)),
                None => String::new(),
            };
            out.push_str(&format!("  \"{}\" -> \"{}\"{attrs};\n", dot_escape(need), dot_escape(&n.id)));
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid ids must avoid `-` and the keyword `end`: ids are `n_` + the node
/// id with anything but `[A-Za-z0-9_]` replaced, numbered if that collides.
fn mermaid_ids(wf: &Workflow) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for n in wf.nodes.keys() {
        let base: String = format!("n_{}", n.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect::<String>());
        let mut id = base.clone();
        let mut k = 2;
        while ids.contains(&id) {
            id = format!("{base}_{k}");
            k += 1;
        }
        ids.push(id);
    }
    ids
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;").replace('|', "#124;")
}

/// A Mermaid flowchart (renders in GitHub and GitLab markdown).
pub fn to_mermaid(wf: &Workflow) -> String {
    let ids = mermaid_ids(wf);
    let id_of = |name: &str| wf.nodes.get_index_of(name).map(|i| ids[i].clone());
    let mut out = String::from("flowchart LR\n");
    for (i, n) in wf.nodes.values().enumerate() {
        let label = label_lines(n).iter().map(|l| mermaid_escape(l)).collect::<Vec<_>>().join("<br/>");
        let (open, close) = match (&n.kind, n.foreach.is_some()) {
            (_, true) => ("[[\"", "\"]]"),
            (NodeKind::Sql(_), false) => ("[(\"", "\")]"),
            (NodeKind::Notebook { .. }, false) => ("(\"", "\")"),
            (NodeKind::Wait(_), false) => ("{{\"", "\"}}"),
        };
        out.push_str(&format!("  {}{open}{label}{close}\n", ids[i]));
    }
    for (i, n) in wf.nodes.values().enumerate() {
        for need in &n.needs {
            let Some(from) = id_of(need) else { continue };
            match &n.when {
                Some(w) => out.push_str(&format!("  {from} -.->|\"when {}\"| {}\n", mermaid_escape(&w.source), ids[i])),
                None => out.push_str(&format!("  {from} --> {}\n", ids[i])),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(yaml: &str) -> Workflow {
        crate::parse_str(yaml, std::path::Path::new("w.yaml")).unwrap().workflow
    }

    #[test]
    fn dot_has_nodes_edges_and_annotations() {
        let w = wf("workflow: w\nnodes:\n  a: { sql: { query: q } }\n  b: { sql: { engine: spark, query: q }, needs: a, when: \"nodes.a.status == 'succeeded'\" }\n  c: { sql: { query: q }, needs: [a, b], trigger: all_done, foreach: [1, 2] }\n");
        let dot = to_dot(&w);
        assert!(dot.starts_with("digraph \"w\" {\n"), "{dot}");
        assert!(dot.contains("\"a\" [label=\"a\\nsql (duckdb)\", shape=cylinder, style=solid];"), "{dot}");
        assert!(dot.contains("\"a\" -> \"b\" [label=\"when nodes.a.status == 'succeeded'\", style=dashed];"), "{dot}");
        assert!(dot.contains("\"c\" [label=\"c\\nsql (duckdb)\\nforeach [1,2]\\ntrigger all_done\", shape=cylinder, style=solid, peripheries=2];"), "{dot}");
        assert!(dot.contains("\"b\" -> \"c\";"), "{dot}");
        assert!(dot.trim_end().ends_with('}'));
    }

    #[test]
    fn dot_escapes_quotes() {
        let w = wf("workflow: w\nnodes:\n  a: { sql: { query: q }, when: 'params.x == \"y\"' }\nparams: { x: { type: string } }\n");
        assert!(to_dot(&w).contains("when params.x == \\\"y\\\""), "{}", to_dot(&w));
    }

    #[test]
    fn mermaid_ids_avoid_dashes_keywords_and_collisions() {
        let w = wf("workflow: w\nnodes:\n  end: { sql: { query: q } }\n  a-b: { sql: { query: q }, needs: end }\n  a_b: { sql: { query: q }, needs: a-b, when: 'true' }\n");
        let m = to_mermaid(&w);
        assert!(m.contains("  n_end[(\"end<br/>sql (duckdb)\")]\n"), "{m}");
        assert!(m.contains("  n_end --> n_a_b\n"), "{m}");
        assert!(m.contains("  n_a_b -.->|\"when true\"| n_a_b_2\n"), "{m}");
    }
}
