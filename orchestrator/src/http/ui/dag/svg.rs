//! The laid-out graph as inline SVG, drawn by the `dag.svg` template (its
//! structure is in [`super`]'s docs).

use std::fmt::Write as _;

use serde::Serialize;

use super::layout::{layout, Layout};
use super::DagNode;
use crate::http::ui::templates;

/// Labels longer than this many characters are truncated with an ellipsis.
pub(super) const MAX_LABEL_CHARS: usize = 22;

/// Styles for [`render_svg`]'s output: node status colours, edges, arrowheads.
pub const DAG_CSS: &str = include_str!("dag.css");

/// What `dag.svg` draws; every string is raw text, escaped by the template.
#[derive(Serialize)]
struct SvgView {
    width: u32,
    height: u32,
    edges: Vec<EdgeView>,
    nodes: Vec<NodeView>,
}

#[derive(Serialize)]
struct EdgeView {
    from: String,
    to: String,
    d: String,
}

#[derive(Serialize)]
struct NodeView {
    id: String,
    status: String,
    /// The tooltip's second line, if any.
    title: Option<String>,
    href: Option<String>,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    cx: u32,
    cy: u32,
    label: String,
}

/// Characters not allowed in XML 1.0 (control characters other than tab, newline
/// and carriage return) dropped: the SVG must stay well-formed whatever an id holds.
fn xml_chars(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r') || !((c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}'))
        .collect()
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

fn view(nodes: &[DagNode], lay: &Layout) -> SvgView {
    let edges = lay
        .edges
        .iter()
        .map(|e| EdgeView { from: xml_chars(&lay.nodes[e.from].id), to: xml_chars(&lay.nodes[e.to].id), d: edge_path(&e.points) })
        .collect();
    let nodes = lay
        .nodes
        .iter()
        .map(|b| {
            let node = &nodes[b.index];
            NodeView {
                id: xml_chars(&node.id),
                status: status_class(&node.status),
                title: (!node.title.is_empty()).then(|| xml_chars(&node.title)),
                href: node.href.as_deref().map(xml_chars),
                x: b.x,
                y: b.y,
                width: b.width,
                height: b.height,
                cx: b.x + b.width / 2,
                cy: b.center_y(),
                label: xml_chars(&label(&node.id)),
            }
        })
        .collect();
    SvgView { width: lay.width, height: lay.height, edges, nodes }
}

/// Draw the graph as an inline `<svg class="dag">` (style it with [`DAG_CSS`]).
pub fn render_svg(nodes: &[DagNode]) -> String {
    let lay = layout(nodes);
    templates::render("dag.svg", view(nodes, &lay)).unwrap_or_else(|e| {
        // Only a broken template can fail here (the tests draw it): the page
        // still shows, without its graph.
        tracing::error!("drawing the DAG: {e:#}");
        String::new()
    })
}
