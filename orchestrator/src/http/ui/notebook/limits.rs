//! Output limits: a page stays light whatever a notebook printed.
//!
//! As Jupyter's output limits do, a long text output (a stream, `text/plain`, a
//! traceback, JSON, LaTeX, markdown) shows its first and its last part, with a marker
//! between them saying how much was left out and linking to the whole of it. An HTML,
//! JavaScript or SVG output is never cut (its markup would break): over its limit it
//! becomes a notice with its size, and so does an image. And once the outputs on the
//! page weigh [`PAGE_BUDGET_BYTES`], the outputs after them become notices too.
//!
//! Rich outputs are served as their own documents (see [`crate::http::ui::frames`]),
//! not inside the page: they are counted apart, against [`FRAMES_BUDGET_BYTES`].

use serde_json::Value;

use crate::http::ui::escape::push_escaped;

/// A text output longer than this (UTF-8 bytes) shows only its head and tail.
pub const TEXT_LIMIT_BYTES: usize = 64 * 1024;
/// A text output with more lines than this shows only its head and tail.
pub const TEXT_LIMIT_LINES: usize = 2_000;
/// An HTML, JavaScript or SVG output larger than this is replaced by a notice.
pub const RICH_LIMIT_BYTES: usize = 8 * 1024 * 1024;
/// An image larger than this (base64) is replaced by a notice.
pub const IMAGE_LIMIT_BYTES: usize = 2 * 1024 * 1024;
/// Once the outputs rendered in the page weigh this much, later ones become notices
/// (the first error output of the notebook is still shown).
pub const PAGE_BUDGET_BYTES: usize = 5 * 1024 * 1024;
/// Once the rich outputs (served as frames) weigh this much, later ones become notices.
pub const FRAMES_BUDGET_BYTES: usize = 32 * 1024 * 1024;
/// An error's name or message longer than this (characters) is cut short; its
/// traceback is a text output like any other.
pub const ERROR_SUMMARY_CHARS: usize = 1_000;

/// Where the page around the notebook offers what its outputs left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// The URL of the `.ipynb` download.
    pub download: Option<String>,
    /// Where the whole text of one output is served: `{full_output}/{cell}/{output}`.
    pub full_output: Option<String>,
}

/// What the outputs rendered so far have spent.
pub(super) struct Budget<'a> {
    pub(super) links: &'a Links,
    /// Bytes the outputs added to the page (frame documents not counted).
    pub(super) page: usize,
    /// Bytes of the frame documents.
    pub(super) frames: usize,
    /// Bytes of the frame documents as escaped into `srcdoc` (in the fragment, but
    /// not in the page: see [`crate::http::ui::frames`]).
    pub(super) srcdoc: usize,
    /// Whether an error output was shown (the first one is shown whatever the budget).
    pub(super) error_shown: bool,
}

impl<'a> Budget<'a> {
    pub(super) fn new(links: &'a Links) -> Self {
        Budget {
            links,
            page: 0,
            frames: 0,
            srcdoc: 0,
            error_shown: false,
        }
    }
}

/// A text cut to its head and its tail.
#[derive(Debug)]
pub(super) struct Cut<'a> {
    pub(super) head: &'a str,
    pub(super) tail: &'a str,
    pub(super) omitted_bytes: usize,
    pub(super) omitted_lines: usize,
}

/// Lines of `s`: a last line without its line end counts.
fn count_lines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count() + usize::from(!s.is_empty() && !s.ends_with('\n'))
}

/// Whether `text` is over [`TEXT_LIMIT_BYTES`] or [`TEXT_LIMIT_LINES`].
pub(super) fn over_text_limit(text: &str) -> bool {
    text.len() > TEXT_LIMIT_BYTES || count_lines(text) > TEXT_LIMIT_LINES
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `text` cut to its first and last half of the limits (half the bytes, half the
/// lines, whichever comes first, at a line end when one is near); `None` when it is
/// within the limits.
pub(super) fn cut(text: &str) -> Option<Cut<'_>> {
    if !over_text_limit(text) {
        return None;
    }
    let (half_bytes, half_lines) = (TEXT_LIMIT_BYTES / 2, TEXT_LIMIT_LINES / 2);
    let window = &text[..floor_boundary(text, half_bytes)];
    let head_end = match window.match_indices('\n').nth(half_lines - 1) {
        Some((i, _)) => i + 1,
        None => match window.rfind('\n') {
            Some(i) if i + 1 >= window.len() / 2 => i + 1,
            _ => window.len(),
        },
    };
    let lo = ceil_boundary(text, text.len().saturating_sub(half_bytes).max(head_end));
    let window = &text[lo..];
    // A final line end does not start another line.
    let body = window.strip_suffix('\n').unwrap_or(window);
    let tail_start = match body.rmatch_indices('\n').nth(half_lines - 1) {
        Some((i, _)) => lo + i + 1,
        None if lo == head_end => lo,
        None => match window.find('\n') {
            Some(i) if i < window.len() / 2 => lo + i + 1,
            _ => lo,
        },
    };
    if tail_start <= head_end {
        return None;
    }
    let omitted = &text[head_end..tail_start];
    Some(Cut {
        head: &text[..head_end],
        tail: &text[tail_start..],
        omitted_bytes: omitted.len(),
        omitted_lines: count_lines(omitted),
    })
}

/// `s` cut to [`ERROR_SUMMARY_CHARS`] characters, saying so.
pub(super) fn clip(s: &str) -> String {
    match s.char_indices().nth(ERROR_SUMMARY_CHARS) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… ({} more)", &s[..i], size(s.len() - i)),
    }
}

/// `1234567` as `1,234,567`.
pub(super) fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A size for people: `812 bytes`, `64.0 KiB`, `50.0 MiB`, `1.2 GiB`.
pub(super) fn size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    }
}

/// What an output weighs, roughly: the bytes of its strings.
pub(super) fn weight(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(weight).sum(),
        Value::Object(map) => map.iter().map(|(k, v)| k.len() + weight(v)).sum(),
        _ => 8,
    }
}

/// The links to what was left out: the whole output (when `at`, its cell and index,
/// is given and the page serves it) and the notebook download.
fn push_links(out: &mut String, links: &Links, at: Option<(usize, usize)>) {
    let mut sep = ": ";
    if let (Some(base), Some((cell, k))) = (&links.full_output, at) {
        out.push_str(sep);
        out.push_str("<a class=\"full-output\" href=\"");
        push_escaped(out, &format!("{base}/{cell}/{k}"));
        out.push_str("\">see the full output</a>");
        sep = " · ";
    }
    if let Some(download) = &links.download {
        out.push_str(sep);
        out.push_str("<a class=\"download-notebook\" href=\"");
        push_escaped(out, download);
        out.push_str("\" download>download the .ipynb</a>");
    }
}

/// The marker between the head and the tail of a cut text (inside its `<pre>`).
pub(super) fn push_marker(out: &mut String, c: &Cut<'_>, links: &Links, at: (usize, usize)) {
    out.push_str("<span class=\"truncated\" role=\"note\">⋯ ");
    out.push_str(&format!(
        "{} ({} bytes, {} {}) left out",
        size(c.omitted_bytes),
        grouped(c.omitted_bytes),
        grouped(c.omitted_lines),
        if c.omitted_lines == 1 {
            "line"
        } else {
            "lines"
        },
    ));
    push_links(out, links, Some(at));
    out.push_str(" ⋯</span>");
}

/// An output replaced by a notice: `what` (text, no final stop), then the download link.
pub(super) fn push_notice(out: &mut String, what: &str, links: &Links) {
    out.push_str("<p class=\"omitted\" role=\"note\">");
    push_escaped(out, what);
    push_links(out, links, None);
    out.push_str(".</p>");
}
