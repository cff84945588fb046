//! Server-side layout of a workflow DAG ([`layout`]) and its rendering as inline
//! SVG ([`svg`], from the `dag.svg` template).
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

pub mod layout;
pub mod svg;
#[cfg(test)]
mod tests;

pub use layout::{layout, EdgeRoute, Layout, NodeBox, NODE_HEIGHT, NODE_WIDTH};
pub use svg::{render_svg, DAG_CSS};

/// One node of the graph to draw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DagNode {
    /// the node's id (duplicates after the first are ignored)
    pub id: String,
    /// ids of the nodes it needs (unknown ones are ignored)
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
