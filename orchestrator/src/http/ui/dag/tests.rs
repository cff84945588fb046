//! The DAG's layout and SVG, checked together: the SVG is what the layout drew.

use super::layout::{crossings, reindex};
use super::svg::MAX_LABEL_CHARS;
use super::*;

fn node(id: &str, needs: &[&str]) -> DagNode {
    DagNode {
        id: id.to_string(),
        needs: needs.iter().map(|s| s.to_string()).collect(),
        status: "pending".to_string(),
        href: None,
        title: String::new(),
    }
}

fn ids(lay: &Layout, layer: usize) -> Vec<&str> {
    lay.layers[layer]
        .iter()
        .map(|&i| lay.nodes[i].id.as_str())
        .collect()
}

fn assert_within_bounds(lay: &Layout) {
    for b in &lay.nodes {
        assert!(b.x + b.width <= lay.width, "{} beyond width", b.id);
        assert!(b.y + b.height <= lay.height, "{} beyond height", b.id);
    }
    for e in &lay.edges {
        for &(x, y) in &e.points {
            assert!(x <= lay.width && y <= lay.height);
        }
    }
}

#[test]
fn diamond_has_three_layers() {
    let nodes = [
        node("a", &[]),
        node("b", &["a"]),
        node("c", &["a"]),
        node("d", &["b", "c"]),
    ];
    let lay = layout(&nodes);
    assert_eq!(lay.layers.len(), 3);
    assert_eq!(ids(&lay, 0), ["a"]);
    let mut mid = ids(&lay, 1);
    mid.sort();
    assert_eq!(mid, ["b", "c"]);
    assert_eq!(ids(&lay, 2), ["d"]);
    let (b, c, d) = (
        lay.node("b").unwrap(),
        lay.node("c").unwrap(),
        lay.node("d").unwrap(),
    );
    assert!(d.x > b.x + b.width && d.x > c.x + c.width);
    assert_eq!(lay.edges.len(), 4);
    assert!(lay.ignored_edges.is_empty());
    // b and c do not overlap
    assert!(b.y + b.height <= c.y || c.y + c.height <= b.y);
    assert_within_bounds(&lay);
}

#[test]
fn chain_is_one_node_per_layer() {
    let nodes = [
        node("x", &[]),
        node("y", &["x"]),
        node("z", &["y"]),
        node("w", &["z"]),
    ];
    let lay = layout(&nodes);
    assert_eq!(lay.layers.len(), 4);
    for (i, id) in ["x", "y", "z", "w"].iter().enumerate() {
        assert_eq!(ids(&lay, i), [*id]);
    }
    let ys: Vec<u32> = lay.nodes.iter().map(|b| b.y).collect();
    assert!(
        ys.windows(2).all(|w| w[0] == w[1]),
        "a chain is a straight line"
    );
    let svg = render_svg(&nodes);
    assert_eq!(svg.matches(r#"<path class="edge""#).count(), 3);
    assert!(svg.contains(r#"data-from="x" data-to="y" d="M"#));
}

#[test]
fn longest_path_layering_and_long_edges() {
    // a -> b -> c, and a -> c directly: c is in layer 2, the long edge
    // passes layer 1 through a waypoint
    let nodes = [node("a", &[]), node("b", &["a"]), node("c", &["a", "b"])];
    let lay = layout(&nodes);
    assert_eq!(lay.node("c").unwrap().layer, 2);
    let long = lay.edges.iter().find(|e| e.from == 0 && e.to == 2).unwrap();
    assert_eq!(long.points.len(), 4);
    let b = lay.node("b").unwrap();
    let (_, y) = long.points[1];
    assert!(
        y < b.y || y > b.y + b.height,
        "the long edge does not cross node b"
    );
    assert_within_bounds(&lay);
    let svg = render_svg(&nodes);
    assert!(svg.contains(" L"));
}

#[test]
fn wide_fan_out_stays_within_bounds() {
    let mut nodes = vec![node("root", &[])];
    for i in 0..60 {
        nodes.push(node(&format!("child-{i}"), &["root"]));
    }
    let children: Vec<String> = (0..60).map(|i| format!("child-{i}")).collect();
    let needs: Vec<&str> = children.iter().map(String::as_str).collect();
    nodes.push(node("join", &needs));
    let lay = layout(&nodes);
    assert_eq!(lay.layers.len(), 3);
    assert_eq!(lay.layers[1].len(), 60);
    assert_within_bounds(&lay);
    // no two boxes of the fan overlap
    let mut tops: Vec<u32> = lay.layers[1].iter().map(|&i| lay.nodes[i].y).collect();
    tops.sort();
    assert!(tops.windows(2).all(|w| w[1] >= w[0] + NODE_HEIGHT));
    let svg = render_svg(&nodes);
    let header = format!(
        r#"viewBox="0 0 {} {}" width="{}" height="{}""#,
        lay.width, lay.height, lay.width, lay.height
    );
    assert!(svg.contains(&header));
}

#[test]
fn deterministic_output() {
    let nodes = [
        node("extract", &[]),
        node("clean", &["extract"]),
        node("features", &["clean", "extract"]),
        node("train", &["features"]),
        node("eval", &["train", "features"]),
        node("report", &["eval", "clean"]),
        node("z", &["missing"]),
    ];
    let first = render_svg(&nodes);
    for _ in 0..5 {
        assert_eq!(render_svg(&nodes), first);
    }
    assert_eq!(layout(&nodes), layout(&nodes));
}

#[test]
fn ids_titles_and_hrefs_are_escaped() {
    let evil = r#"<x"&>"#;
    let nodes = [
        DagNode {
            id: evil.to_string(),
            needs: vec![],
            status: r#"running" onload="x"#.to_string(),
            href: Some(r#"runs/1?a=1&b="2"'"#.to_string()),
            title: "<b>'t'</b>".to_string(),
        },
        node("next", &[evil]),
    ];
    let svg = render_svg(&nodes);
    let escaped = "&lt;x&quot;&amp;&gt;";
    assert!(svg.contains(&format!(r#"id="node-{escaped}" data-node="{escaped}""#)));
    assert!(svg.contains(&format!(
        "<title>{escaped}\n&lt;b&gt;&#39;t&#39;&lt;/b&gt;</title>"
    )));
    assert!(svg.contains(&format!(">{escaped}</text>")));
    assert!(svg.contains(r#"<a href="runs/1?a=1&amp;b=&quot;2&quot;&#39;">"#));
    assert!(svg.contains(&format!(r#"data-from="{escaped}" data-to="next""#)));
    assert!(svg.contains(r#"class="node status-running__onload__x""#));
    assert!(!svg.contains(evil));
    assert!(!svg.contains("<b>"));
    assert!(!svg.contains("onload=\""));
}

#[test]
fn long_ids_are_truncated_but_kept_in_title() {
    let id = "a_really_long_notebook_node_identifier_that_goes_on";
    let svg = render_svg(&[node(id, &[])]);
    assert!(svg.contains(&format!("<title>{id}</title>")));
    let shown: String = id.chars().take(MAX_LABEL_CHARS - 1).collect();
    assert!(svg.contains(&format!(">{shown}…</text>")));
    assert!(svg.contains(&format!(r#"data-node="{id}""#)));
}

#[test]
fn cycle_terminates() {
    let nodes = [
        node("a", &["c"]),
        node("b", &["a"]),
        node("c", &["b"]),
        node("d", &["d", "c"]),
    ];
    let lay = layout(&nodes);
    assert_eq!(lay.nodes.len(), 4);
    // a is listed first, so it becomes the root and c -> a is dropped;
    // the self-loop d -> d is dropped as well
    assert_eq!(lay.node("a").unwrap().layer, 0);
    assert_eq!(lay.node("d").unwrap().layer, 3);
    assert_eq!(lay.ignored_edges.len(), 2);
    assert!(lay.ignored_edges.contains(&(2, 0)));
    assert!(lay.ignored_edges.contains(&(3, 3)));
    assert_eq!(lay.edges.len(), 3);
    let svg = render_svg(&nodes);
    assert_eq!(svg.matches(r#"<path class="edge""#).count(), 3);

    // a full two-cycle with nothing else
    let lay = layout(&[node("p", &["q"]), node("q", &["p"])]);
    assert_eq!(lay.layers.len(), 2);
    assert_eq!(lay.ignored_edges, [(1, 0)]);
}

#[test]
fn unknown_needs_and_duplicates_are_ignored() {
    let nodes = [
        node("a", &["nope"]),
        node("b", &["a", "ghost", "a"]),
        node("a", &["b"]), // duplicate id: ignored
    ];
    let lay = layout(&nodes);
    assert_eq!(lay.nodes.len(), 2);
    assert_eq!(lay.node("a").unwrap().layer, 0);
    assert_eq!(lay.node("b").unwrap().layer, 1);
    assert_eq!(lay.edges.len(), 1);
    assert!(lay.ignored_edges.is_empty());
    let svg = render_svg(&nodes);
    assert!(!svg.contains("ghost") && !svg.contains("nope"));
}

#[test]
fn crossings_are_reduced() {
    // Input order would draw a1->b2, a2->b1 and a3->b3 crossed:
    //   layer 0: a1 a2 a3, layer 1 in input order: b1 b2 b3
    let nodes = [
        node("a1", &[]),
        node("a2", &[]),
        node("a3", &[]),
        node("b1", &["a2"]),
        node("b2", &["a1"]),
        node("b3", &["a3"]),
        node("c1", &["b1", "b2"]),
        node("c2", &["b3"]),
    ];
    let lay = layout(&nodes);
    assert_eq!(ids(&lay, 0), ["a1", "a2", "a3"]);
    assert_eq!(ids(&lay, 1), ["b2", "b1", "b3"]);
    assert_eq!(ids(&lay, 2), ["c1", "c2"]);

    // a second case where the upward sweep matters: the roots follow
    // their dependants
    let nodes = [
        node("r1", &[]),
        node("r2", &[]),
        node("x", &["r2"]),
        node("y", &["r1"]),
        node("z", &["x", "y"]),
    ];
    let lay = layout(&nodes);
    let order_0 = ids(&lay, 0);
    let order_1 = ids(&lay, 1);
    let pos = |v: &[&str], id: &str| v.iter().position(|s| *s == id).unwrap();
    // no crossing: r1/r2 ordered like y/x
    assert_eq!(
        pos(&order_0, "r1") < pos(&order_0, "r2"),
        pos(&order_1, "y") < pos(&order_1, "x")
    );
}

#[test]
fn crossing_count() {
    // two layers of two with a full cross
    let order = vec![vec![0, 1], vec![2, 3]];
    let succ = vec![vec![3], vec![2], vec![], vec![]];
    let mut pos = vec![0; 4];
    reindex(&order, &mut pos);
    assert_eq!(crossings(&order, &pos, &succ), 1);
    let succ = vec![vec![2, 3], vec![2, 3], vec![], vec![]];
    assert_eq!(crossings(&order, &pos, &succ), 1);
    let succ = vec![vec![2], vec![3], vec![], vec![]];
    assert_eq!(crossings(&order, &pos, &succ), 0);
}

#[test]
fn structure_for_the_live_page() {
    let nodes = [
        DagNode {
            id: "a".into(),
            needs: vec![],
            status: "succeeded".into(),
            href: Some("runs/r1/nodes/a".into()),
            title: "succeeded · 1 attempt".into(),
        },
        DagNode {
            id: "b".into(),
            needs: vec!["a".into()],
            status: String::new(),
            href: None,
            title: String::new(),
        },
    ];
    let svg = render_svg(&nodes);
    assert!(svg.starts_with(r#"<svg class="dag" xmlns="http://www.w3.org/2000/svg" viewBox=""#));
    assert!(svg.contains(r#"role="img" aria-label="workflow graph">"#));
    assert!(svg.contains(r#"<defs><marker id="arrow""#));
    assert!(svg.contains(
        r#"<g class="node status-succeeded" id="node-a" data-node="a"><title>a
succeeded · 1 attempt</title><a href="runs/r1/nodes/a"><rect "#
    ));
    assert!(svg.contains(
        r#"<g class="node status-none" id="node-b" data-node="b"><title>b</title><rect "#
    ));
    assert!(svg.contains(r#"marker-end="url(#arrow)""#));
    assert!(svg.trim_end().ends_with("</svg>"));
    for class in [
        "succeeded",
        "failed",
        "running",
        "skipped",
        "upstream_failed",
        "pending",
        "queued",
        "ready",
        "retrying",
        "cancelled",
    ] {
        assert!(DAG_CSS.contains(&format!(".status-{class} ")), "{class}");
    }
    // empty graph is still a valid svg
    let empty = render_svg(&[]);
    assert!(empty.contains(r#"viewBox="0 0 24 24""#));
}
