//! Server-side layout of a workflow DAG and its rendering as inline SVG.
//!
//! The layout is a small Sugiyama-style pipeline, std only and fully
//! deterministic (the same input always yields byte-identical SVG):
//!
//! 1. nodes are de-duplicated by id (the first occurrence wins), unknown
//!    `needs` and self-loops are ignored;
//! 2. cycles are broken by a depth-first search in input order: back edges are
//!    dropped (reported in [`Layout::ignored_edges`], not drawn);
//! 3. longest-path layering from the roots, left to right;
//! 4. edges spanning several layers get invisible "dummy" waypoints so that they
//!    take part in the ordering and are routed between nodes;
//! 5. the order within each layer comes from alternating barycenter sweeps; the
//!    ordering with the fewest crossings seen is kept;
//! 6. each layer is stacked top to bottom and centred vertically.
//!
//! The SVG keeps a stable structure for the live run page, which recolours a
//! node by swapping the `status-*` class on `g[data-node=ID]`:
//!
//! ```text
//! <svg class="dag" …>
//!   <defs><marker id="arrow">…</marker></defs>
//!   <g class="edges"><path class="edge" data-from=… data-to=… d="M… C…"/>…</g>
//!   <g class="nodes">
//!     <g class="node status-succeeded" id="node-ID" data-node="ID">
//!       <title>ID\ntooltip</title>
//!       <a href="…"><rect …/><text …>label</text></a>   (no <a> without href)
//!     </g>…
//!   </g>
//! </svg>
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

/// One node of the graph to draw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DagNode {
    pub id: String,
    pub needs: Vec<String>,
    /// status class: pending, ready, running, succeeded, failed, skipped,
    /// upstream_failed, retrying, cancelled, queued, or "" (no run; rendered as
    /// `status-none`)
    pub status: String,
    /// a link for the node (e.g. to its latest attempt), already a safe relative URL
    pub href: Option<String>,
    /// tooltip text (e.g. "succeeded · 2 attempts · 3.1 s")
    pub title: String,
}

/// Width of a node box, px.
pub const NODE_WIDTH: u32 = 168;
/// Height of a node box, px.
pub const NODE_HEIGHT: u32 = 34;
/// Horizontal gap between layers (room for the edge curves), px.
const COL_GAP: u32 = 64;
/// Vertical gap between stacked items of a layer, px.
const ROW_GAP: u32 = 14;
/// Vertical room taken by an edge passing through a layer, px.
const DUMMY_HEIGHT: u32 = 6;
/// Margin around the drawing, px.
const MARGIN: u32 = 12;
/// Maximum number of barycenter sweeps (alternating down / up).
const SWEEPS: usize = 12;
/// Labels longer than this many characters are truncated with an ellipsis.
const MAX_LABEL_CHARS: usize = 22;

/// Position of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBox {
    /// index of the node in the input slice
    pub index: usize,
    pub id: String,
    /// layer (column), 0 = roots, left-most
    pub layer: usize,
    /// rank within its layer among real nodes, 0 = top
    pub order: usize,
    /// top-left corner and size of the box
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl NodeBox {
    fn center_y(&self) -> u32 {
        self.y + self.height / 2
    }
}

/// Route of one drawn edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRoute {
    /// index into [`Layout::nodes`] of the need (upstream)
    pub from: usize,
    /// index into [`Layout::nodes`] of the dependant (downstream)
    pub to: usize,
    /// the right side of `from`, then for every layer crossed the left and
    /// right ends of the pass-through, then the left side of `to`
    pub points: Vec<(u32, u32)>,
}

/// A laid-out graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    /// one per distinct node id, in input order
    pub nodes: Vec<NodeBox>,
    /// per layer, indices into `nodes` from top to bottom
    pub layers: Vec<Vec<usize>>,
    /// drawn edges, in input order (by dependant, then its `needs`)
    pub edges: Vec<EdgeRoute>,
    /// `(need, dependant)` pairs, as indices into `nodes`, that were not drawn
    /// because they are self-loops or close a cycle
    pub ignored_edges: Vec<(usize, usize)>,
}

impl Layout {
    /// The box of the node with this id.
    pub fn node(&self, id: &str) -> Option<&NodeBox> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

/// Lay the graph out (see the module docs).
pub fn layout(nodes: &[DagNode]) -> Layout {
    // 1. distinct nodes, first occurrence wins
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut kept: Vec<usize> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        if !index_of.contains_key(node.id.as_str()) {
            index_of.insert(node.id.as_str(), kept.len());
            kept.push(i);
        }
    }
    let n = kept.len();

    // 2. candidate edges (need -> dependant), de-duplicated; unknown needs dropped
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    let mut ignored: Vec<(usize, usize)> = Vec::new();
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (v, &input) in kept.iter().enumerate() {
        for need in &nodes[input].needs {
            let Some(&u) = index_of.get(need.as_str()) else {
                continue;
            };
            if !seen.insert((u, v)) {
                continue;
            }
            if u == v {
                ignored.push((u, v));
                continue;
            }
            candidates.push((u, v));
            succ[u].push(v);
        }
    }

    // cycle breaking: iterative DFS in input order, back edges are dropped
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut back: HashSet<(usize, usize)> = HashSet::new();
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(top) = stack.last_mut() {
            let u = top.0;
            if top.1 < succ[u].len() {
                let v = succ[u][top.1];
                top.1 += 1;
                match state[v] {
                    0 => {
                        state[v] = 1;
                        stack.push((v, 0));
                    }
                    1 => {
                        back.insert((u, v));
                    }
                    _ => {}
                }
            } else {
                state[u] = 2;
                stack.pop();
            }
        }
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for &e in &candidates {
        if back.contains(&e) {
            ignored.push(e);
        } else {
            edges.push(e);
        }
    }

    // 3. longest-path layering (Kahn over the now acyclic edges)
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(u, v) in &edges {
        out[u].push(v);
        indegree[v] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(u) = queue.pop_front() {
        for &v in &out[u] {
            layer[v] = layer[v].max(layer[u] + 1);
            indegree[v] -= 1;
            if indegree[v] == 0 {
                queue.push_back(v);
            }
        }
    }
    let layer_count = if n == 0 {
        0
    } else {
        layer.iter().max().copied().unwrap_or(0) + 1
    };

    // 4. items: real nodes 0..n, then dummy waypoints of long edges
    let mut item_layer: Vec<usize> = layer.clone();
    let mut item_pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut item_succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for &(u, v) in &edges {
        let mut chain = Vec::new();
        let mut prev = u;
        for l in layer[u] + 1..layer[v] {
            let d = item_layer.len();
            item_layer.push(l);
            item_pred.push(vec![prev]);
            item_succ.push(Vec::new());
            item_succ[prev].push(d);
            chain.push(d);
            prev = d;
        }
        item_succ[prev].push(v);
        item_pred[v].push(prev);
        chains.push(chain);
    }
    let items = item_layer.len();

    // 5. ordering within layers
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (it, &l) in item_layer.iter().enumerate() {
        order[l].push(it);
    }
    let mut pos = vec![0usize; items];
    reindex(&order, &mut pos);
    let mut best = order.clone();
    let mut best_crossings = crossings(&order, &pos, &item_succ);
    for sweep in 0..SWEEPS {
        if best_crossings == 0 {
            break;
        }
        if sweep % 2 == 0 {
            barycenter_sweep(&mut order, &mut pos, &item_pred, 1..layer_count, |l| l - 1);
        } else {
            let range = (0..layer_count.saturating_sub(1)).rev();
            barycenter_sweep(&mut order, &mut pos, &item_succ, range, |l| l + 1);
        }
        let c = crossings(&order, &pos, &item_succ);
        if c < best_crossings {
            best_crossings = c;
            best = order.clone();
        }
    }
    let order = best;
    reindex(&order, &mut pos);

    // 6. coordinates
    let item_height = |it: usize| if it < n { NODE_HEIGHT } else { DUMMY_HEIGHT };
    let column_height = |col: &Vec<usize>| -> u32 {
        let sum: u32 = col.iter().map(|&it| item_height(it)).sum();
        sum + ROW_GAP * (col.len().saturating_sub(1) as u32)
    };
    let max_height = order.iter().map(column_height).max().unwrap_or(0);
    let mut item_top = vec![0u32; items];
    for col in &order {
        let mut y = MARGIN + (max_height - column_height(col)) / 2;
        for &it in col {
            item_top[it] = y;
            y += item_height(it) + ROW_GAP;
        }
    }
    let column_x = |l: usize| MARGIN + l as u32 * (NODE_WIDTH + COL_GAP);
    let width = if layer_count == 0 {
        2 * MARGIN
    } else {
        2 * MARGIN + layer_count as u32 * NODE_WIDTH + (layer_count as u32 - 1) * COL_GAP
    };
    let height = 2 * MARGIN + max_height;

    let mut boxes: Vec<NodeBox> = (0..n)
        .map(|v| NodeBox {
            index: kept[v],
            id: nodes[kept[v]].id.clone(),
            layer: layer[v],
            order: 0,
            x: column_x(layer[v]),
            y: item_top[v],
            width: NODE_WIDTH,
            height: NODE_HEIGHT,
        })
        .collect();
    let layers: Vec<Vec<usize>> = order
        .iter()
        .map(|col| col.iter().copied().filter(|&it| it < n).collect())
        .collect();
    for col in &layers {
        for (rank, &v) in col.iter().enumerate() {
            boxes[v].order = rank;
        }
    }
    let routes = edges
        .iter()
        .zip(&chains)
        .map(|(&(u, v), chain)| {
            let mut points = Vec::with_capacity(2 + 2 * chain.len());
            points.push((boxes[u].x + NODE_WIDTH, boxes[u].center_y()));
            for &d in chain {
                let x = column_x(item_layer[d]);
                let y = item_top[d] + DUMMY_HEIGHT / 2;
                points.push((x, y));
                points.push((x + NODE_WIDTH, y));
            }
            points.push((boxes[v].x, boxes[v].center_y()));
            EdgeRoute {
                from: u,
                to: v,
                points,
            }
        })
        .collect();

    Layout {
        width,
        height,
        nodes: boxes,
        layers,
        edges: routes,
        ignored_edges: ignored,
    }
}

fn reindex(order: &[Vec<usize>], pos: &mut [usize]) {
    for col in order {
        for (p, &it) in col.iter().enumerate() {
            pos[it] = p;
        }
    }
}

/// Reorder each layer of `range` by the mean relative position of its
/// neighbours (`adj`) in the layer `reference(l)`; items without neighbours
/// keep their relative position. Relative positions are `(pos + 0.5) / len`,
/// so layers of different sizes compare on one scale.
fn barycenter_sweep(
    order: &mut [Vec<usize>],
    pos: &mut [usize],
    adj: &[Vec<usize>],
    range: impl Iterator<Item = usize>,
    reference: impl Fn(usize) -> usize,
) {
    for l in range {
        let ref_len = order[reference(l)].len().max(1) as f64;
        let own_len = order[l].len().max(1) as f64;
        let mut keyed: Vec<(f64, usize, usize)> = order[l]
            .iter()
            .map(|&it| {
                let neighbours = &adj[it];
                let key = if neighbours.is_empty() {
                    (pos[it] as f64 + 0.5) / own_len
                } else {
                    let sum: f64 = neighbours.iter().map(|&m| pos[m] as f64 + 0.5).sum();
                    sum / neighbours.len() as f64 / ref_len
                };
                (key, pos[it], it)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        order[l] = keyed.into_iter().map(|k| k.2).collect();
        for (p, &it) in order[l].iter().enumerate() {
            pos[it] = p;
        }
    }
}

/// Number of edge crossings between adjacent layers (inversion count).
fn crossings(order: &[Vec<usize>], pos: &[usize], succ: &[Vec<usize>]) -> usize {
    let mut total = 0;
    for l in 0..order.len().saturating_sub(1) {
        let mut pairs: Vec<(usize, usize)> = order[l]
            .iter()
            .flat_map(|&u| succ[u].iter().map(move |&v| (u, v)))
            .map(|(u, v)| (pos[u], pos[v]))
            .collect();
        pairs.sort_unstable();
        // Fenwick tree over target positions: count earlier pairs with a
        // strictly greater target.
        let size = order[l + 1].len();
        let mut tree = vec![0usize; size + 1];
        for (seen, &(_, t)) in pairs.iter().enumerate() {
            let mut i = t + 1;
            let mut at_most = 0;
            while i > 0 {
                at_most += tree[i];
                i &= i - 1;
            }
            total += seen - at_most;
            let mut i = t + 1;
            while i <= size {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
    }
    total
}

/// XML-escape text or an attribute value; characters not allowed in XML 1.0
/// (control characters other than tab / newline / carriage return) are dropped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The CSS class suffix of a status: `none` for "", anything outside
/// `[A-Za-z0-9_-]` replaced by `_` so the class list cannot be split.
fn status_class(status: &str) -> String {
    if status.is_empty() {
        return "none".to_string();
    }
    status
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn label(id: &str) -> String {
    if id.chars().count() <= MAX_LABEL_CHARS {
        id.to_string()
    } else {
        let mut s: String = id.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// The path of an edge: horizontal-tangent cubic curves between layers,
/// straight segments through the layers it passes.
fn edge_path(points: &[(u32, u32)]) -> String {
    let mut d = String::new();
    let Some(&(x0, y0)) = points.first() else {
        return d;
    };
    let _ = write!(d, "M{x0},{y0}");
    for (i, pair) in points.windows(2).enumerate() {
        let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
        if i % 2 == 1 {
            let _ = write!(d, " L{xb},{yb}");
        } else {
            let half = xb.saturating_sub(xa) / 2;
            let _ = write!(d, " C{},{ya} {},{yb} {xb},{yb}", xa + half, xb - half);
        }
    }
    d
}

/// Draw the graph as an inline `<svg class="dag">` (style it with [`DAG_CSS`]).
pub fn render_svg(nodes: &[DagNode]) -> String {
    let lay = layout(nodes);
    let (w, h) = (lay.width, lay.height);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg class="dag" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="workflow graph">"#
    );
    s.push_str(
        r#"<defs><marker id="arrow" class="arrowhead" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>"#,
    );
    s.push('\n');

    s.push_str("<g class=\"edges\">\n");
    for e in &lay.edges {
        let _ = writeln!(
            s,
            r#"<path class="edge" data-from="{}" data-to="{}" d="{}" marker-end="url(#arrow)"/>"#,
            esc(&lay.nodes[e.from].id),
            esc(&lay.nodes[e.to].id),
            edge_path(&e.points)
        );
    }
    s.push_str("</g>\n");

    s.push_str("<g class=\"nodes\">\n");
    for b in &lay.nodes {
        let node = &nodes[b.index];
        let id = esc(&node.id);
        let tip = if node.title.is_empty() {
            id.clone()
        } else {
            format!("{id}\n{}", esc(&node.title))
        };
        let _ = write!(
            s,
            r#"<g class="node status-{}" id="node-{id}" data-node="{id}"><title>{tip}</title>"#,
            esc(&status_class(&node.status)),
        );
        if let Some(href) = &node.href {
            let _ = write!(s, r#"<a href="{}">"#, esc(href));
        }
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="{}" height="{}" rx="6" ry="6"/><text x="{}" y="{}" text-anchor="middle" dominant-baseline="central">{}</text>"#,
            b.x,
            b.y,
            b.width,
            b.height,
            b.x + b.width / 2,
            b.center_y(),
            esc(&label(&node.id)),
        );
        if node.href.is_some() {
            s.push_str("</a>");
        }
        s.push_str("</g>\n");
    }
    s.push_str("</g>\n</svg>\n");
    s
}

/// Styles for [`render_svg`]'s output: node status colours, edges, arrowheads.
pub const DAG_CSS: &str = r#"
svg.dag { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 100%; height: auto; }
svg.dag .edge { fill: none; stroke: #8c959f; stroke-width: 1.5; }
svg.dag .arrowhead path { fill: #8c959f; }
svg.dag .node rect { fill: #ffffff; stroke: #afb8c1; stroke-width: 1.5; transition: fill .3s, stroke .3s; }
svg.dag .node text { fill: #1f2328; }
svg.dag .node a { cursor: pointer; }
svg.dag .node a:hover rect, svg.dag .node a:focus rect { stroke-width: 2.5; }
svg.dag .node a:hover text { text-decoration: underline; }
svg.dag .status-none rect { fill: #ffffff; stroke: #d0d7de; stroke-dasharray: 4 3; }
svg.dag .status-pending rect { fill: #f6f8fa; stroke: #afb8c1; }
svg.dag .status-queued rect, svg.dag .status-ready rect { fill: #ddf4ff; stroke: #54aeff; }
svg.dag .status-running rect { fill: #b6e3ff; stroke: #0969da; animation: dag-pulse 1.6s ease-in-out infinite; }
svg.dag .status-succeeded rect { fill: #dafbe1; stroke: #1a7f37; }
svg.dag .status-failed rect { fill: #ffebe9; stroke: #cf222e; }
svg.dag .status-failed text { fill: #82071e; }
svg.dag .status-skipped rect { fill: #eaeef2; stroke: #8c959f; }
svg.dag .status-skipped text { fill: #57606a; }
svg.dag .status-upstream_failed rect { fill: #fff1e5; stroke: #e16f24; }
svg.dag .status-retrying rect { fill: #fff8c5; stroke: #bf8700; }
svg.dag .status-cancelled rect { fill: #8c959f; stroke: #424a53; }
svg.dag .status-cancelled text { fill: #ffffff; }
@keyframes dag-pulse { 0%, 100% { stroke-opacity: 1; fill-opacity: 1; } 50% { stroke-opacity: .4; fill-opacity: .7; } }
@media (prefers-reduced-motion: reduce) { svg.dag .status-running rect { animation: none; } }
"#;

#[cfg(test)]
mod tests {
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
}
