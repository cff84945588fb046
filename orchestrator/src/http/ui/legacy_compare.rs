//! TEMPORARY: the pages as templates against the pages as they were built by hand
//! (the code before the move, kept here only for this comparison), on the hostile
//! fixtures of `pages_tests`: the same document but for line breaks between tags.
#![allow(dead_code, clippy::all)]

mod old_dag {
    // Server-side layout of a workflow DAG and its rendering as inline SVG.
    //
    // The layout is a small Sugiyama-style pipeline, std only and fully
    // deterministic (the same input always yields byte-identical SVG):
    //
    // 1. nodes are de-duplicated by id (the first occurrence wins), unknown
    //    `needs` and self-loops are ignored;
    // 2. cycles are broken by a depth-first search in input order: back edges are
    //    dropped (reported in [`Layout::ignored_edges`], not drawn);
    // 3. longest-path layering from the roots, left to right;
    // 4. edges spanning several layers get invisible "dummy" waypoints so that they
    //    take part in the ordering and are routed between nodes;
    // 5. the order within each layer comes from alternating barycenter sweeps; the
    //    ordering with the fewest crossings seen is kept;
    // 6. each layer is stacked top to bottom and centred vertically.
    //
    // The SVG keeps a stable structure for the live run page, which recolours a
    // node by swapping the `status-*` class on `g[data-node=ID]`:
    //
    // ```text
    // <svg class="dag" …>
    //   <defs><marker id="arrow">…</marker></defs>
    //   <g class="edges"><path class="edge" data-from=… data-to=… d="M… C…"/>…</g>
    //   <g class="nodes">
    //     <g class="node status-succeeded" id="node-ID" data-node="ID">
    //       <title>ID\ntooltip</title>
    //       <a href="…"><rect …/><text …>label</text></a>   (no <a> without href)
    //     </g>…
    //   </g>
    // </svg>
    // ```

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


}

mod old_pages {
    // The pages: workflows, one workflow, backfills, login. HTML built on the server,
    // every interpolated value escaped; the only script is `/ui/app.js`.

    use std::fmt::Write;

    use deckle_protocol::api::{Backfill, WorkflowDetail, WorkflowSummary};
    use deckle_protocol::record::{NodeRecord, RunRecord};
    use serde_json::Value;

    use super::old_dag::{render_svg, DagNode};
    use crate::http::ui::escape::escape as e;

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

}

mod old_run_page {
    // A run (its DAG coloured by status, nodes with attempts, a timeline) and a node
    // attempt (its output notebook, rendered, and how to re-run it locally).

    use std::fmt::Write;

    use deckle_protocol::api::RunDetail;
    use deckle_protocol::record::{AttemptRecord, NodeRecord};
    use serde_json::{Map, Value};

    use super::old_dag::{render_svg, DagNode};
    use crate::http::ui::escape::escape as e;
    use crate::http::ui::notebook::Rendered;
    use super::old_pages::{attempt_href, badge, csrf_field, url};

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

}

use serde_json::json;

use super::notebook::render_notebook;
use super::pages_tests::*;
use super::run_page::AttemptView;

/// Line breaks (with their indentation) between two tags removed: the templates
/// put block elements on lines of their own, the hand-built pages did not.
fn normalise(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let chars: Vec<char> = html.trim_end().chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\n' && out.ends_with('>') {
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j] == '<' {
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn old_page(body: &str, fault: bool) -> String {
    let f = frame();
    let banner = if fault { old_pages::storage_banner(&f.fault.as_ref().unwrap().message, &f.fault.as_ref().unwrap().since) } else { String::new() };
    let live = f.live.as_ref().unwrap();
    old_pages::layout(&f.title, &format!("{banner}{body}"), Some((&live.run, false)), &f.csrf)
}

#[test]
fn templates_render_what_the_hand_built_pages_did() {
    let csrf = frame().csrf;
    let d = run_detail("failed", json!({"kind": "backfill", "id": format!("bf{H}")}));
    let rec = &d.nodes[0];
    let mut old: Vec<String> = vec![
        old_pages::workflows_page(&summaries()),
        old_pages::workflows_page(&[]),
        old_pages::workflow_page(&detail(true), &runs(), &csrf),
        old_pages::workflow_page(&detail(false), &[], &csrf),
        old_pages::workflow_page(&manual_detail(), &runs(), &csrf),
        old_pages::backfills_page(&[backfill("running"), backfill("failed")]),
        old_pages::backfills_page(&[]),
        old_pages::backfill_page(&backfill("running"), &csrf),
        old_pages::backfill_page(&backfill("succeeded"), &csrf),
        old_pages::login_page(None),
        old_pages::login_page(Some(&format!("refusal{H}"))),
        format!("<h1>{}</h1><p class=\"errorbox\">{}</p><p><a href=\"/\">Back to the workflows</a></p>", "404 Not Found", super::escape::escape(&format!("message{H}"))),
        old_run_page::run_page(&d, &needs(), &csrf),
    ];
    for (status, trigger) in [("running", json!({"kind": "manual"})), ("succeeded", json!({"kind": "schedule"}))] {
        old.push(old_run_page::run_page(&run_detail(status, trigger), &needs(), &csrf));
    }
    for a in &rec.attempts {
        let rendered = (a.n == 1).then(|| {
            let mut r = render_notebook(&notebook());
            r.html = super::frames::extract(&r.html, "/frames").0;
            r
        });
        let view = old_run_page::AttemptView { run: &d.run, node: rec, attempt: a, notebook: (a.n == 1).then(|| format!("dir/nb 1.ipynb{H}")), rendered };
        old.push(old_run_page::attempt_page(&view));
    }
    let _ = AttemptView { run: &d.run, node: rec, attempt: &rec.attempts[0], notebook: None, rendered: None };
    let new = all_pages();
    assert_eq!(old.len(), new.len());
    for (old_body, (name, page)) in old.iter().zip(new) {
        let want = normalise(&old_page(old_body, true));
        let got = normalise(&page.render(&frame()).unwrap());
        if want != got {
            let at = want.chars().zip(got.chars()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(150);
            panic!("{name}: differs at {at}\nwant …{}\ngot  …{}", want.chars().skip(from).take(400).collect::<String>(), got.chars().skip(from).take(400).collect::<String>());
        }
    }
}

#[test]
fn the_dag_template_draws_what_the_hand_built_svg_did() {
    use super::dag::DagNode as New;
    let weird = format!("a\u{1}b{H}\t\u{FFFE}");
    let cases: Vec<Vec<(String, Vec<String>, String, Option<String>, String)>> = vec![
        vec![],
        vec![(weird.clone(), vec![], "running\" x".into(), Some(format!("/x?{H}")), format!("\u{2}{H}")), ("b".into(), vec![weird.clone()], String::new(), None, "\u{3}".into())],
        vec![("x".into(), vec![], "succeeded".into(), None, String::new()), ("y".into(), vec!["x".into()], "failed".into(), Some("/y".into()), "t".into()), ("z".into(), vec!["x".into(), "y".into()], String::new(), None, String::new())],
    ];
    for c in cases {
        let new: Vec<New> = c.iter().map(|(id, needs, status, href, title)| New { id: id.clone(), needs: needs.clone(), status: status.clone(), href: href.clone(), title: title.clone() }).collect();
        let old: Vec<old_dag::DagNode> = c.iter().map(|(id, needs, status, href, title)| old_dag::DagNode { id: id.clone(), needs: needs.clone(), status: status.clone(), href: href.clone(), title: title.clone() }).collect();
        assert_eq!(super::dag::render_svg(&new), old_dag::render_svg(&old));
    }
}
