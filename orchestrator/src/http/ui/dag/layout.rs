//! Where each node and edge of the graph goes (the pipeline in [`super`]'s docs).

use std::collections::{HashMap, HashSet, VecDeque};

use super::DagNode;

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

/// Position of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBox {
    /// index of the node in the input slice
    pub index: usize,
    /// the node's id
    pub id: String,
    /// layer (column), 0 = roots, left-most
    pub layer: usize,
    /// rank within its layer among real nodes, 0 = top
    pub order: usize,
    /// left edge of the box
    pub x: u32,
    /// top edge of the box
    pub y: u32,
    /// width of the box ([`NODE_WIDTH`])
    pub width: u32,
    /// height of the box ([`NODE_HEIGHT`])
    pub height: u32,
}

impl NodeBox {
    pub(super) fn center_y(&self) -> u32 {
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
    /// width of the drawing, margins included, px
    pub width: u32,
    /// height of the drawing, margins included, px
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

pub(super) fn reindex(order: &[Vec<usize>], pos: &mut [usize]) {
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
pub(super) fn crossings(order: &[Vec<usize>], pos: &[usize], succ: &[Vec<usize>]) -> usize {
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
