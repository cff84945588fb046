//! The outputs of a code cell: streams (consecutive ones of the same stream shown as
//! one, as Jupyter shows them), errors with their tracebacks, and mime bundles, whose
//! HTML, JavaScript and SVG go into sandboxed frames; each within the limits of
//! [`super::limits`].

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::ansi::{ansi_to_html, ansi_to_text, collapse_carriage_returns};
use super::limits::{self, Budget, FRAMES_BUDGET_BYTES, IMAGE_LIMIT_BYTES, PAGE_BUDGET_BYTES, RICH_LIMIT_BYTES};
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
/// Counts its document against the budget.
fn sandboxed_iframe(out: &mut String, kind: &str, body: &str, budget: &mut Budget<'_>) {
    out.push_str("<iframe class=\"output-html output-");
    out.push_str(kind);
    out.push_str("\" sandbox=\"allow-scripts\" srcdoc=\"");
    let start = out.len();
    let doc = frame_document(body);
    push_escaped(out, &doc);
    budget.frames += doc.len();
    budget.srcdoc += out.len() - start;
    out.push_str(
        "\" referrerpolicy=\"no-referrer\" loading=\"lazy\" style=\"height:20em\"></iframe>",
    );
}

/// How a text is written into the page.
#[derive(Clone, Copy)]
enum Text {
    /// Terminal output: carriage returns applied, ANSI colours as classes.
    Terminal,
    /// Escaped as it is.
    Plain,
}

fn push_as(out: &mut String, text: &str, how: Text) {
    match how {
        Text::Terminal => out.push_str(&ansi_to_html(text)),
        Text::Plain => push_escaped(out, text),
    }
}

/// `open`, `text` (its head and tail only when it is over the limits, see
/// [`limits::cut`]), `close`; `at` is the output's cell and index, for the link to
/// all of it.
fn push_limited(out: &mut String, open: &str, text: &str, how: Text, close: &str, budget: &Budget<'_>, at: (usize, usize)) {
    // What a terminal leaves of the text is what is measured and cut.
    let text = match how {
        Text::Terminal => collapse_carriage_returns(text),
        Text::Plain => Cow::Borrowed(text),
    };
    out.push_str(open);
    match limits::cut(&text) {
        None => push_as(out, &text, how),
        Some(c) => {
            push_as(out, c.head, how);
            limits::push_marker(out, &c, budget.links, at);
            push_as(out, c.tail, how);
        }
    }
    out.push_str(close);
}

/// The representation of a mime bundle that is shown.
enum Shown {
    /// HTML, JavaScript or SVG, shown in a sandboxed frame: its mime type and source.
    Frame(&'static str, String),
    /// A raster image: its mime type and checked base64.
    Image(&'static str, String),
    Markdown(String),
    /// `application/json`, pretty-printed.
    Json(String),
    Latex(String),
    /// `text/plain`, with ANSI colours.
    Plain(String),
}

/// The richest safe representation of a bundle; what is passed over on the way gets
/// a note in `notes`.
fn choose(data: &Map<String, Value>, notes: &mut Vec<String>) -> Option<Shown> {
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
            return Some(Shown::Json(match value {
                Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            }));
        }
        let Some(text) = multiline(Some(value)) else {
            notes.push(format!("{mime} output is not text; skipped"));
            continue;
        };
        return Some(match mime {
            "text/html" | "application/javascript" | "image/svg+xml" => Shown::Frame(mime, text),
            "image/png" | "image/jpeg" | "image/gif" => match clean_base64(&text) {
                Some(b64) => Shown::Image(mime, b64),
                None => {
                    notes.push(format!("{mime} output is not valid base64; dropped"));
                    continue;
                }
            },
            "text/markdown" => Shown::Markdown(text),
            "text/latex" => Shown::Latex(text),
            _ => Shown::Plain(text),
        });
    }
    None
}

/// Renders a mime bundle's richest safe representation.
fn render_mime_bundle(out: &mut String, data: &Map<String, Value>, budget: &mut Budget<'_>, at: (usize, usize)) {
    let mut notes = Vec::new();
    let shown = choose(data, &mut notes);
    for note in &notes {
        bad(out, note);
    }
    let Some(shown) = shown else {
        if !data.is_empty() {
            let mimes: Vec<&str> = data.keys().map(String::as_str).collect();
            bad(
                out,
                &format!("no displayable representation ({})", mimes.join(", ")),
            );
        }
        return;
    };
    match shown {
        Shown::Frame(mime, text) => {
            if text.len() > RICH_LIMIT_BYTES {
                let what = format!("This {mime} output ({}) is too large to show here", limits::size(text.len()));
                return limits::push_notice(out, &what, budget.links);
            }
            if budget.frames >= FRAMES_BUDGET_BYTES {
                let what = format!(
                    "This {mime} output ({}) is not shown: the rich outputs above it already weigh {}",
                    limits::size(text.len()),
                    limits::size(budget.frames)
                );
                return limits::push_notice(out, &what, budget.links);
            }
            match mime {
                "application/javascript" => {
                    let body = format!(
                        "<div id=\"output\"></div><script>var element = document.getElementById(\"output\");</script>\
                         <script>{}</script>",
                        neutralize_script_end(&text)
                    );
                    sandboxed_iframe(out, "javascript", &body, budget)
                }
                "image/svg+xml" => sandboxed_iframe(out, "svg", &text, budget),
                _ => sandboxed_iframe(out, "html", &text, budget),
            }
        }
        Shown::Image(mime, b64) => {
            if b64.len() > IMAGE_LIMIT_BYTES {
                let what = format!("This {mime} image ({}) is too large to show here", limits::size(b64.len()));
                return limits::push_notice(out, &what, budget.links);
            }
            out.push_str("<img class=\"output-image\" alt=\"output image\" src=\"data:");
            out.push_str(mime);
            out.push_str(";base64,");
            out.push_str(&b64);
            out.push_str("\">");
        }
        // Long markdown is shown as its text, cut like any other.
        Shown::Markdown(text) if limits::over_text_limit(&text) => {
            push_limited(out, "<pre class=\"output-text\">", &text, Text::Plain, "</pre>", budget, at);
        }
        Shown::Markdown(text) => {
            out.push_str("<div class=\"markdown\">");
            out.push_str(&render_markdown(&text, None));
            out.push_str("</div>");
        }
        Shown::Json(text) => push_limited(out, "<pre class=\"output-json\">", &text, Text::Plain, "</pre>", budget, at),
        Shown::Latex(text) => push_limited(out, "<pre class=\"output-latex\">", &text, Text::Plain, "</pre>", budget, at),
        Shown::Plain(text) => push_limited(out, "<pre class=\"output-text\">", &text, Text::Terminal, "</pre>", budget, at),
    }
}

/// What rendering the outputs of one cell learned about errors.
pub(super) struct CellErrors {
    pub(super) first: Option<(String, String)>,
}

fn output_type(v: &Value) -> Option<&str> {
    v.get("output_type").and_then(Value::as_str)
}

/// The end of the run of stream outputs from `k` on that share its stream name
/// (Jupyter shows them as one); `None` when output `k` is not a readable stream.
fn stream_end(items: &[Value], k: usize) -> Option<usize> {
    let readable = |o: &Value| output_type(o) == Some("stream") && matches!(o.get("text"), Some(Value::String(_) | Value::Array(_)));
    let first = items.get(k).filter(|o| readable(o))?;
    let name = first.get("name");
    let len = items[k + 1..].iter().take_while(|o| readable(o) && o.get("name") == name).count();
    Some(k + 1 + len)
}

/// The text of a run of stream outputs.
fn stream_text(run: &[Value]) -> String {
    run.iter().filter_map(|o| multiline(o.get("text"))).collect()
}

fn traceback(o: &Map<String, Value>) -> String {
    match o.get("traceback") {
        Some(Value::Array(lines)) => lines
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The whole text of output `k` of `items` (the run of streams starting there), as
/// plain text: what the page shows of it, uncut. `None` for outputs that are not text.
pub(super) fn full_text(items: &[Value], k: usize) -> Option<String> {
    if let Some(end) = stream_end(items, k) {
        return Some(ansi_to_text(&stream_text(&items[k..end])));
    }
    let o = items.get(k)?.as_object()?;
    match o.get("output_type")?.as_str()? {
        "error" => Some(ansi_to_text(&traceback(o))),
        "execute_result" | "display_data" => match choose(o.get("data")?.as_object()?, &mut Vec::new())? {
            Shown::Markdown(t) | Shown::Json(t) | Shown::Latex(t) => Some(t),
            Shown::Plain(t) => Some(ansi_to_text(&t)),
            Shown::Frame(..) | Shown::Image(..) => None,
        },
        _ => None,
    }
}

/// Renders the outputs of cell `cell`, within the page's budget: once it is spent,
/// the outputs left in the cell become one notice (the notebook's first error output
/// is still shown).
pub(super) fn render_outputs(out: &mut String, cell: usize, items: &[Value], errors: &mut CellErrors, budget: &mut Budget<'_>) {
    let mut skipped = (0usize, 0usize);
    let mut k = 0;
    while k < items.len() {
        let end = stream_end(items, k).unwrap_or(k + 1);
        let first_error = output_type(&items[k]) == Some("error") && !budget.error_shown;
        if budget.page >= PAGE_BUDGET_BYTES && !first_error {
            skipped.0 += end - k;
            skipped.1 += items[k..end].iter().map(limits::weight).sum::<usize>();
            k = end;
            continue;
        }
        push_skipped(out, &mut skipped, budget);
        let (before, srcdoc_before) = (out.len(), budget.srcdoc);
        if end > k + 1 {
            push_stream(out, &items[k], &stream_text(&items[k..end]), budget, (cell, k));
        } else {
            render_output(out, cell, k, &items[k], errors, budget);
        }
        budget.page += (out.len() - before) - (budget.srcdoc - srcdoc_before);
        k = end;
    }
    push_skipped(out, &mut skipped, budget);
}

/// The notice for the outputs the budget left out, if any.
fn push_skipped(out: &mut String, skipped: &mut (usize, usize), budget: &Budget<'_>) {
    let (n, bytes) = std::mem::take(skipped);
    if n == 0 {
        return;
    }
    let what = format!(
        "{} not shown ({}): this page already shows {} of outputs",
        if n == 1 { "1 more output".to_string() } else { format!("{} more outputs", limits::grouped(n)) },
        limits::size(bytes),
        limits::size(PAGE_BUDGET_BYTES)
    );
    out.push_str("<div class=\"output\">");
    limits::push_notice(out, &what, budget.links);
    out.push_str("</div>");
}

/// A stream output (`o`, the first of its run) with `text`.
fn push_stream(out: &mut String, o: &Value, text: &str, budget: &Budget<'_>, at: (usize, usize)) {
    let name = match o.get("name").and_then(Value::as_str) {
        Some("stderr") => "stderr",
        _ => "stdout",
    };
    let open = format!("<div class=\"output\"><pre class=\"stream stream-{name}\">");
    push_limited(out, &open, text, Text::Terminal, "</pre></div>", budget, at);
}

fn render_output(out: &mut String, cell: usize, k: usize, output: &Value, errors: &mut CellErrors, budget: &mut Budget<'_>) {
    let Some(o) = output.as_object() else {
        bad(out, "an output could not be read (not a JSON object)");
        return;
    };
    let kind = o.get("output_type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "stream" => {
            let Some(text) = multiline(o.get("text")) else {
                bad(out, "a stream output has no text");
                return;
            };
            push_stream(out, output, &text, budget, (cell, k));
        }
        "error" => {
            budget.error_shown = true;
            let ename = limits::clip(o.get("ename").and_then(Value::as_str).unwrap_or("Error"));
            let evalue = limits::clip(o.get("evalue").and_then(Value::as_str).unwrap_or(""));
            out.push_str("<div class=\"output\"><div class=\"error\"");
            if errors.first.is_none() {
                out.push_str(&format!(" id=\"error-{cell}\""));
            }
            push_text(out, "><p class=\"error-summary\"><span class=\"ename\">", &ename, "</span>");
            if !evalue.is_empty() {
                push_text(out, ": <span class=\"evalue\">", &evalue, "</span>");
            }
            out.push_str("</p>");
            let traceback = traceback(o);
            if !traceback.is_empty() {
                push_limited(out, "<pre class=\"traceback\">", &traceback, Text::Terminal, "</pre>", budget, (cell, k));
            }
            out.push_str("</div></div>");
            if errors.first.is_none() {
                errors.first = Some((ename, evalue));
            }
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
                Some(Value::Object(data)) => render_mime_bundle(out, data, budget, (cell, k)),
                None => {}
                Some(_) => bad(out, "an output's data could not be read"),
            }
            out.push_str("</div>");
        }
        other => bad(out, &format!("unknown output type {other:?}; skipped")),
    }
}
