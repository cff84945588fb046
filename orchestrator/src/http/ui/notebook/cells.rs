//! One section per notebook cell: markdown, raw, and code cells with their
//! papermill status, duration and outputs.

use serde_json::{Map, Value};

use super::limits::Budget;
use super::markdown::render_markdown;
use super::outputs::{render_outputs, CellErrors};
use super::{bad, multiline, push_text, Rendered};

fn format_duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let total = secs.round() as u64;
        if total < 3600 {
            format!("{}m {:02}s", total / 60, total % 60)
        } else {
            format!(
                "{}h {:02}m {:02}s",
                total / 3600,
                total / 60 % 60,
                total % 60
            )
        }
    }
}

/// Cells papermill inserts around a failure carry this tag and raw HTML of their own.
fn is_papermill_error_note(cell: &Map<String, Value>) -> bool {
    cell.get("metadata")
        .and_then(|m| m.get("tags"))
        .and_then(Value::as_array)
        .is_some_and(|tags| {
            tags.iter()
                .any(|t| t.as_str() == Some("papermill-error-cell-tag"))
        })
}

/// The index of the first cell with an error output (papermill's note above the
/// notebook links to it before that cell is rendered).
pub(super) fn find_first_error(cells: &[Value]) -> Option<usize> {
    cells.iter().position(|cell| {
        cell.get("cell_type").and_then(Value::as_str) == Some("code")
            && cell
                .get("outputs")
                .and_then(Value::as_array)
                .is_some_and(|outputs| {
                    outputs
                        .iter()
                        .any(|o| o.get("output_type").and_then(Value::as_str) == Some("error"))
                })
    })
}

pub(super) fn render_cell(
    out: &mut String,
    index: usize,
    cell: &Value,
    first_error: Option<usize>,
    rendered: &mut Rendered,
    budget: &mut Budget<'_>,
) {
    let Some(c) = cell.as_object() else {
        out.push_str(&format!(
            "<section class=\"cell cell-unknown\" id=\"cell-{index}\">"
        ));
        bad(
            out,
            &format!("cell {index} could not be read (not a JSON object)"),
        );
        out.push_str("</section>");
        return;
    };
    let kind = c.get("cell_type").and_then(Value::as_str).unwrap_or("");
    let source = multiline(c.get("source"));
    match kind {
        "markdown" if is_papermill_error_note(c) => {
            out.push_str(&format!(
                "<section class=\"cell cell-markdown papermill-error-note\" id=\"cell-{index}\"><p>"
            ));
            let text = source.unwrap_or_default();
            if text.contains("An Exception was encountered") {
                out.push_str("An exception was encountered");
                match first_error {
                    Some(i) => {
                        out.push_str(&format!(" at <a href=\"#error-{i}\">cell {i}</a>.</p>"))
                    }
                    None => out.push_str(".</p>"),
                }
            } else {
                out.push_str(
                    "Execution using papermill encountered an exception here and stopped:</p>",
                );
            }
            out.push_str("</section>");
        }
        "markdown" => {
            out.push_str(&format!(
                "<section class=\"cell cell-markdown\" id=\"cell-{index}\">"
            ));
            match source {
                Some(src) => {
                    let attachments = c.get("attachments").and_then(Value::as_object);
                    out.push_str("<div class=\"markdown\">");
                    out.push_str(&render_markdown(&src, attachments));
                    out.push_str("</div>");
                }
                None => bad(out, &format!("cell {index}: source could not be read")),
            }
            out.push_str("</section>");
        }
        "raw" => {
            out.push_str(&format!(
                "<section class=\"cell cell-raw\" id=\"cell-{index}\">"
            ));
            match source {
                Some(src) => {
                    push_text(out, "<pre class=\"raw\">", &src, "</pre>");
                }
                None => bad(out, &format!("cell {index}: source could not be read")),
            }
            out.push_str("</section>");
        }
        "code" => {
            let papermill = c.get("metadata").and_then(|m| m.get("papermill"));
            let status = papermill
                .and_then(|p| p.get("status"))
                .and_then(Value::as_str)
                .filter(|s| matches!(*s, "pending" | "running" | "completed" | "failed"));
            let duration = papermill
                .and_then(|p| p.get("duration"))
                .and_then(Value::as_f64);

            // Outputs first: whether the cell has an error decides its class.
            let mut outputs = String::new();
            let mut errors = CellErrors { first: None };
            match c.get("outputs") {
                Some(Value::Array(items)) => {
                    render_outputs(&mut outputs, index, items, &mut errors, budget);
                }
                None | Some(Value::Null) => {}
                Some(_) => bad(
                    &mut outputs,
                    &format!("cell {index}: outputs could not be read"),
                ),
            }

            let mut class = String::from("cell cell-code");
            if let Some(s) = status {
                class.push(' ');
                class.push_str(s);
            }
            if errors.first.is_some() {
                class.push_str(" has-error");
            }
            out.push_str(&format!("<section class=\"{class}\" id=\"cell-{index}\">"));
            let count = match c.get("execution_count").and_then(Value::as_u64) {
                Some(n) => n.to_string(),
                None => " ".to_string(),
            };
            out.push_str("<div class=\"input\"><div class=\"prompt in-prompt\">In [");
            out.push_str(&count);
            out.push_str("]:</div>");
            match source {
                Some(src) => {
                    push_text(out, "<pre class=\"source\"><code>", &src, "</code></pre>");
                }
                None => bad(out, &format!("cell {index}: source could not be read")),
            }
            out.push_str("</div>");
            if status.is_some() || duration.is_some() {
                out.push_str("<div class=\"cell-meta\">");
                if let Some(s) = status {
                    out.push_str(&format!("<span class=\"status\">{s}</span>"));
                }
                if let Some(d) = duration.filter(|d| d.is_finite() && *d >= 0.0) {
                    if status.is_some() {
                        out.push_str(" · ");
                    }
                    out.push_str(&format!(
                        "<span class=\"duration\">{}</span>",
                        format_duration(d)
                    ));
                }
                out.push_str("</div>");
            }
            if !outputs.is_empty() {
                out.push_str("<div class=\"outputs\">");
                out.push_str(&outputs);
                out.push_str("</div>");
            }
            out.push_str("</section>");

            if let (None, Some((ename, evalue))) = (rendered.first_error, errors.first) {
                rendered.first_error = Some(index);
                rendered.error_summary = Some(if evalue.is_empty() {
                    ename
                } else {
                    format!("{ename}: {evalue}")
                });
            }
        }
        other => {
            out.push_str(&format!(
                "<section class=\"cell cell-unknown\" id=\"cell-{index}\">"
            ));
            bad(out, &format!("cell {index} has an unknown type {other:?}"));
            if let Some(src) = source {
                push_text(out, "<pre class=\"raw\">", &src, "</pre>");
            }
            out.push_str("</section>");
        }
    }
}
