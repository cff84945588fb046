//! Read-only rendering of an output notebook (nbformat 4 JSON) to an HTML fragment,
//! in the spirit of nbviewer: safe by construction, whatever the notebook holds.
//!
//! Output notebooks carry arbitrary HTML and JavaScript written by user code, so:
//! - everything taken from the notebook is escaped (with [`super::escape`]), except
//!   where it goes into a sandboxed `<iframe sandbox="allow-scripts" srcdoc="…">` (no
//!   `allow-same-origin`: the content runs in an opaque origin and can't reach the
//!   app's cookies, DOM or API);
//! - markdown is rendered with raw HTML turned into text, links limited to
//!   `http:`, `https:`, `mailto:` and `#`, images to raster `data:` URLs and `http(s)`;
//! - images are only ever `data:image/{png,jpeg,gif}` URLs with a checked base64 alphabet;
//! - a malformed notebook never panics: what can't be read gets a `<p class="bad">` note.
//!
//! The fragment is built in code rather than a template: its shape follows the
//! notebook's, and every piece of it is sanitised on the way. By concern: [`cells`]
//! (one section per cell), [`outputs`] (mime bundles, streams, errors, sandboxed
//! frames), [`limits`] (what keeps the page light: long outputs cut, huge ones
//! replaced by notices), [`markdown`], [`ansi`] (terminal colours), [`sanitize`]
//! (URLs, base64, script ends).
//!
//! [`NOTEBOOK_CSS`] styles the classes used here; scope: `.notebook`.

mod ansi;
mod cells;
mod limits;
mod markdown;
mod outputs;
mod sanitize;
#[cfg(test)]
mod tests;

use serde_json::Value;

use super::escape::push_escaped;
pub use ansi::ansi_to_html;
pub use limits::{
    Links, ERROR_SUMMARY_CHARS, FRAMES_BUDGET_BYTES, IMAGE_LIMIT_BYTES, PAGE_BUDGET_BYTES,
    RICH_LIMIT_BYTES, TEXT_LIMIT_BYTES, TEXT_LIMIT_LINES,
};

/// The rendered fragment and what the page around it wants to point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The HTML fragment: one `<div class="notebook">`.
    pub html: String,
    /// Cell index of the first error output, if any (its anchor is `#error-{i}`).
    pub first_error: Option<usize>,
    /// `"ename: evalue"` of that first error, e.g. `"ValueError: bad data"`.
    pub error_summary: Option<String>,
}

/// Minimal styles for the fragment [`render_notebook`] produces.
pub const NOTEBOOK_CSS: &str = include_str!("notebook.css");

/// A multi-line nbformat field: a string, or a list of strings joined.
fn multiline(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// A note where something could not be read or shown.
fn bad(out: &mut String, note: &str) {
    push_text(out, "<p class=\"bad\">", note, "</p>");
}

/// `open`, then `text` escaped, then `close`.
fn push_text(out: &mut String, open: &str, text: &str, close: &str) {
    out.push_str(open);
    push_escaped(out, text);
    out.push_str(close);
}

/// Renders an nbformat 4 notebook to a read-only, safe HTML fragment (see module
/// docs), with no links to what the output limits leave out.
pub fn render_notebook(nb: &Value) -> Rendered {
    render_notebook_with(nb, &Links::default())
}

/// [`render_notebook`], where what the output limits leave out is offered at `links`.
pub fn render_notebook_with(nb: &Value, links: &Links) -> Rendered {
    let mut budget = limits::Budget::new(links);
    let mut rendered = Rendered::default();
    let mut out = String::from("<div class=\"notebook\">");
    match nb.get("cells") {
        Some(Value::Array(cells)) => {
            if let Some(major) = nb.get("nbformat").and_then(Value::as_u64) {
                if major != 4 {
                    bad(
                        &mut out,
                        &format!("nbformat {major} notebook: shown as if it were nbformat 4"),
                    );
                }
            }
            let first_error = cells::find_first_error(cells);
            for (i, cell) in cells.iter().enumerate() {
                cells::render_cell(&mut out, i, cell, first_error, &mut rendered, &mut budget);
            }
        }
        _ => bad(
            &mut out,
            "this notebook could not be read (no list of cells)",
        ),
    }
    out.push_str("</div>");
    rendered.html = out;
    rendered
}

/// The whole text of output `output` of cell `cell` (a run of stream outputs from
/// there on, as the page shows it), as plain text: colours dropped, carriage
/// returns applied. `None` when there is no such output or it is not text (HTML,
/// images): those are in the notebook download.
pub fn full_output(nb: &Value, cell: usize, output: usize) -> Option<String> {
    let cell = nb.get("cells")?.as_array()?.get(cell)?;
    if cell.get("cell_type").and_then(Value::as_str) != Some("code") {
        return None;
    }
    outputs::full_text(cell.get("outputs")?.as_array()?, output)
}
