//! One output of a code cell: streams, errors with their tracebacks, and mime
//! bundles, whose HTML, JavaScript and SVG go into sandboxed frames.

use serde_json::{Map, Value};

use super::ansi::ansi_to_html;
use super::markdown::render_markdown;
use super::sanitize::{clean_base64, neutralize_script_end};
use super::{bad, multiline, push_text};
use crate::http::ui::escape::push_escaped;

/// The Content-Security-Policy of every sandboxed output document.
const FRAME_CSP: &str = "default-src 'none'; script-src 'unsafe-inline' https:; \
     style-src 'unsafe-inline' https:; img-src data: https:; connect-src 'none'";

/// Basic typography inside sandboxed output documents.
const FRAME_STYLE: &str = include_str!("frame.css");

/// The document put into a sandboxed iframe's `srcdoc`.
fn frame_document(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{FRAME_CSP}\">\
         <style>{FRAME_STYLE}</style></head><body>{body}</body></html>"
    )
}

/// A sandboxed iframe: scripts may run, but in an opaque origin (no `allow-same-origin`).
fn sandboxed_iframe(out: &mut String, kind: &str, body: &str) {
    out.push_str("<iframe class=\"output-html output-");
    out.push_str(kind);
    out.push_str("\" sandbox=\"allow-scripts\" srcdoc=\"");
    push_escaped(out, &frame_document(body));
    out.push_str(
        "\" referrerpolicy=\"no-referrer\" loading=\"lazy\" style=\"height:20em\"></iframe>",
    );
}

/// Renders a mime bundle's richest safe representation.
fn render_mime_bundle(out: &mut String, data: &Map<String, Value>) {
    const ORDER: [&str; 10] = [
        "text/html",
        "application/javascript",
        "image/svg+xml",
        "image/png",
        "image/jpeg",
        "image/gif",
        "text/markdown",
        "application/json",
        "text/latex",
        "text/plain",
    ];
    for mime in ORDER {
        let Some(value) = data.get(mime) else {
            continue;
        };
        if mime == "application/json" {
            let text = match value {
                Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            };
            push_text(out, "<pre class=\"output-json\">", &text, "</pre>");
            return;
        }
        let Some(text) = multiline(Some(value)) else {
            bad(out, &format!("{mime} output is not text; skipped"));
            continue;
        };
        match mime {
            "text/html" => sandboxed_iframe(out, "html", &text),
            "application/javascript" => {
                let body = format!(
                    "<div id=\"output\"></div><script>var element = document.getElementById(\"output\");</script>\
                     <script>{}</script>",
                    neutralize_script_end(&text)
                );
                sandboxed_iframe(out, "javascript", &body);
            }
            "image/svg+xml" => sandboxed_iframe(out, "svg", &text),
            "image/png" | "image/jpeg" | "image/gif" => match clean_base64(&text) {
                Some(b64) => {
                    out.push_str("<img class=\"output-image\" alt=\"output image\" src=\"data:");
                    out.push_str(mime);
                    out.push_str(";base64,");
                    out.push_str(&b64);
                    out.push_str("\">");
                }
                None => {
                    bad(out, &format!("{mime} output is not valid base64; dropped"));
                    continue;
                }
            },
            "text/markdown" => {
                out.push_str("<div class=\"markdown\">");
                out.push_str(&render_markdown(&text, None));
                out.push_str("</div>");
            }
            "text/latex" => {
                push_text(out, "<pre class=\"output-latex\">", &text, "</pre>");
            }
            _ => {
                out.push_str("<pre class=\"output-text\">");
                out.push_str(&ansi_to_html(&text));
                out.push_str("</pre>");
            }
        }
        return;
    }
    if !data.is_empty() {
        let mimes: Vec<&str> = data.keys().map(String::as_str).collect();
        bad(
            out,
            &format!("no displayable representation ({})", mimes.join(", ")),
        );
    }
}

/// What rendering the outputs of one cell learned about errors.
pub(super) struct CellErrors {
    pub(super) first: Option<(String, String)>,
}

pub(super) fn render_output(out: &mut String, cell: usize, output: &Value, errors: &mut CellErrors) {
    let Some(o) = output.as_object() else {
        bad(out, "an output could not be read (not a JSON object)");
        return;
    };
    let kind = o.get("output_type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "stream" => {
            let name = match o.get("name").and_then(Value::as_str) {
                Some("stderr") => "stderr",
                _ => "stdout",
            };
            let Some(text) = multiline(o.get("text")) else {
                bad(out, "a stream output has no text");
                return;
            };
            out.push_str("<div class=\"output\"><pre class=\"stream stream-");
            out.push_str(name);
            out.push_str("\">");
            out.push_str(&ansi_to_html(&text));
            out.push_str("</pre></div>");
        }
        "error" => {
            let ename = o.get("ename").and_then(Value::as_str).unwrap_or("Error");
            let evalue = o.get("evalue").and_then(Value::as_str).unwrap_or("");
            out.push_str("<div class=\"output\"><div class=\"error\"");
            if errors.first.is_none() {
                out.push_str(&format!(" id=\"error-{cell}\""));
                errors.first = Some((ename.to_string(), evalue.to_string()));
            }
            push_text(out, "><p class=\"error-summary\"><span class=\"ename\">", ename, "</span>");
            if !evalue.is_empty() {
                push_text(out, ": <span class=\"evalue\">", evalue, "</span>");
            }
            out.push_str("</p>");
            let traceback = match o.get("traceback") {
                Some(Value::Array(lines)) => lines
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            if !traceback.is_empty() {
                out.push_str("<pre class=\"traceback\">");
                out.push_str(&ansi_to_html(&traceback));
                out.push_str("</pre>");
            }
            out.push_str("</div></div>");
        }
        "execute_result" | "display_data" => {
            out.push_str("<div class=\"output output-");
            out.push_str(kind);
            out.push_str("\">");
            if kind == "execute_result" {
                if let Some(n) = o.get("execution_count").and_then(Value::as_u64) {
                    out.push_str(&format!("<div class=\"prompt out-prompt\">Out[{n}]:</div>"));
                }
            }
            match o.get("data") {
                Some(Value::Object(data)) => render_mime_bundle(out, data),
                None => {}
                Some(_) => bad(out, "an output's data could not be read"),
            }
            out.push_str("</div>");
        }
        other => bad(out, &format!("unknown output type {other:?}; skipped")),
    }
}
