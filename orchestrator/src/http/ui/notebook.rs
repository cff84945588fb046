//! Read-only rendering of an output notebook (nbformat 4 JSON) to an HTML fragment,
//! in the spirit of nbviewer: safe by construction, whatever the notebook holds.
//!
//! Output notebooks carry arbitrary HTML and JavaScript written by user code, so:
//! - everything taken from the notebook is escaped, except where it goes into a
//!   sandboxed `<iframe sandbox="allow-scripts" srcdoc="…">` (no `allow-same-origin`:
//!   the content runs in an opaque origin and can't reach the app's cookies, DOM or API);
//! - markdown is rendered with raw HTML turned into text, links limited to
//!   `http:`, `https:`, `mailto:` and `#`, images to raster `data:` URLs and `http(s)`;
//! - images are only ever `data:image/{png,jpeg,gif}` URLs with a checked base64 alphabet;
//! - a malformed notebook never panics: what can't be read gets a `<p class="bad">` note.
//!
//! [`NOTEBOOK_CSS`] styles the classes used here; scope: `.notebook`.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value};

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

/// The Content-Security-Policy of every sandboxed output document.
const FRAME_CSP: &str = "default-src 'none'; script-src 'unsafe-inline' https:; \
     style-src 'unsafe-inline' https:; img-src data: https:; connect-src 'none'";

/// Basic typography inside sandboxed output documents.
const FRAME_STYLE: &str = "body{margin:.4em;font:13px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2430}\
     table{border-collapse:collapse}th,td{padding:.2em .6em;border-bottom:1px solid #e5e7eb;text-align:right}\
     svg{max-width:100%;height:auto}";

/// Minimal styles for the fragment [`render_notebook`] produces.
pub const NOTEBOOK_CSS: &str = r#"
.notebook { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430; }
.notebook .cell { position: relative; margin: .6em 0; padding: .3em .6em .3em 6.5em; border-left: 3px solid transparent; border-radius: 4px; }
.notebook .cell-code .input { position: relative; }
.notebook .prompt { position: absolute; left: -6.5em; width: 6em; text-align: right; color: #6b7280; font: 12px/1.6 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
.notebook .out-prompt { color: #b45309; }
.notebook pre { margin: 0; white-space: pre-wrap; word-break: break-word; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
.notebook pre.source { background: #f6f8fa; border: 1px solid #e5e7eb; border-radius: 4px; padding: .4em .6em; }
.notebook .cell-meta { font-size: .8em; color: #6b7280; margin: .15em 0; }
.notebook .cell-meta .status { font-weight: 600; }
.notebook .cell.completed .cell-meta .status { color: #16a34a; }
.notebook .cell.pending .cell-meta .status, .notebook .cell.running .cell-meta .status { color: #2563eb; }
.notebook .cell.pending { opacity: .65; }
.notebook .cell.failed, .notebook .cell.has-error { border-left-color: #dc2626; background: #fef2f2; }
.notebook .cell.failed .cell-meta .status { color: #dc2626; }
.notebook .outputs { margin-top: .3em; }
.notebook .output { position: relative; margin: .2em 0; }
.notebook .output .markdown, .notebook .output-json { overflow-x: auto; }
.notebook .stream-stderr { background: #fff7ed; }
.notebook .error { border-left: 4px solid #dc2626; background: #fee2e2; padding: .4em .7em; border-radius: 3px; }
.notebook .error .error-summary { margin: 0 0 .3em; font-weight: 600; color: #991b1b; }
.notebook .bad { color: #991b1b; background: #fef2f2; border: 1px dashed #fca5a5; padding: .2em .5em; font-size: .9em; }
.notebook iframe.output-html { display: block; box-sizing: border-box; width: 100%; height: 20em; border: 1px solid #e5e7eb; border-radius: 3px; background: #fff; }
.notebook img.output-image { max-width: 100%; height: auto; }
.notebook .markdown img { max-width: 100%; }
.notebook .markdown table { border-collapse: collapse; }
.notebook .markdown th, .notebook .markdown td { border: 1px solid #e5e7eb; padding: .25em .6em; }
.notebook .markdown pre { background: #f6f8fa; padding: .4em .6em; border-radius: 4px; }
.notebook .markdown code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .92em; }
.notebook pre.raw { color: #4b5563; border: 1px dotted #d1d5db; padding: .3em .5em; }
.notebook .papermill-error-note { color: #dc2626; font-weight: 600; }
.notebook .ansi-bold { font-weight: 700; } .notebook .ansi-italic { font-style: italic; } .notebook .ansi-underline { text-decoration: underline; }
.notebook .ansi-black { color: #3e424d; } .notebook .ansi-red { color: #e75c58; } .notebook .ansi-green { color: #00a250; } .notebook .ansi-yellow { color: #b8860b; }
.notebook .ansi-blue { color: #208ffb; } .notebook .ansi-magenta { color: #d160c4; } .notebook .ansi-cyan { color: #60c6c8; } .notebook .ansi-white { color: #c5c1b4; }
.notebook .ansi-bright-black { color: #282c36; } .notebook .ansi-bright-red { color: #b22b31; } .notebook .ansi-bright-green { color: #007427; } .notebook .ansi-bright-yellow { color: #b27d12; }
.notebook .ansi-bright-blue { color: #0065ca; } .notebook .ansi-bright-magenta { color: #a03196; } .notebook .ansi-bright-cyan { color: #258f8f; } .notebook .ansi-bright-white { color: #a1a6b2; }
.notebook .ansi-bg-black { background: #3e424d; } .notebook .ansi-bg-red { background: #e75c58; } .notebook .ansi-bg-green { background: #00a250; } .notebook .ansi-bg-yellow { background: #ddb62b; }
.notebook .ansi-bg-blue { background: #208ffb; } .notebook .ansi-bg-magenta { background: #d160c4; } .notebook .ansi-bg-cyan { background: #60c6c8; } .notebook .ansi-bg-white { background: #c5c1b4; }
.notebook .ansi-bg-bright-black { background: #282c36; } .notebook .ansi-bg-bright-red { background: #b22b31; } .notebook .ansi-bg-bright-green { background: #007427; } .notebook .ansi-bg-bright-yellow { background: #b27d12; }
.notebook .ansi-bg-bright-blue { background: #0065ca; } .notebook .ansi-bg-bright-magenta { background: #a03196; } .notebook .ansi-bg-bright-cyan { background: #258f8f; } .notebook .ansi-bg-bright-white { background: #a1a6b2; }
"#;

// ---------------------------------------------------------------------------------------
// Escaping

/// Escapes `& < > " '` so the result is safe as element text and inside a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    push_escaped(&mut out, s);
    out
}

fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------
// ANSI

const ANSI_NAMES: [&str; 8] = [
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Color {
    /// 0–7 normal, 8–15 bright.
    Named(u8),
    Rgb(u8, u8, u8),
}

impl Color {
    fn from_256(n: u8) -> Color {
        match n {
            0..=15 => Color::Named(n),
            16..=231 => {
                const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
                let n = n - 16;
                Color::Rgb(
                    LEVELS[usize::from(n / 36)],
                    LEVELS[usize::from(n / 6 % 6)],
                    LEVELS[usize::from(n % 6)],
                )
            }
            _ => {
                let v = 8 + 10 * (n - 232);
                Color::Rgb(v, v, v)
            }
        }
    }

    fn class_name(self) -> Option<String> {
        match self {
            Color::Named(n) if n < 8 => Some(ANSI_NAMES[usize::from(n)].to_string()),
            Color::Named(n) => Some(format!("bright-{}", ANSI_NAMES[usize::from(n % 8)])),
            Color::Rgb(..) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sgr {
    fg: Option<Color>,
    bg: Option<Color>,
    bold: bool,
    italic: bool,
    underline: bool,
}

impl Sgr {
    fn is_plain(&self) -> bool {
        *self == Sgr::default()
    }

    fn open_tag(&self) -> String {
        let mut classes: Vec<String> = Vec::new();
        let mut style = String::new();
        if let Some(fg) = self.fg {
            match (fg.class_name(), fg) {
                (Some(name), _) => classes.push(format!("ansi-{name}")),
                (None, Color::Rgb(r, g, b)) => style.push_str(&format!("color:rgb({r},{g},{b});")),
                (None, Color::Named(_)) => {}
            }
        }
        if let Some(bg) = self.bg {
            match (bg.class_name(), bg) {
                (Some(name), _) => classes.push(format!("ansi-bg-{name}")),
                (None, Color::Rgb(r, g, b)) => {
                    style.push_str(&format!("background-color:rgb({r},{g},{b});"))
                }
                (None, Color::Named(_)) => {}
            }
        }
        if self.bold {
            classes.push("ansi-bold".into());
        }
        if self.italic {
            classes.push("ansi-italic".into());
        }
        if self.underline {
            classes.push("ansi-underline".into());
        }
        let mut tag = String::from("<span");
        if !classes.is_empty() {
            tag.push_str(&format!(" class=\"{}\"", classes.join(" ")));
        }
        if !style.is_empty() {
            tag.push_str(&format!(" style=\"{style}\""));
        }
        tag.push('>');
        tag
    }

    /// Applies one SGR parameter list (`ESC [ … m`).
    fn apply(&mut self, params: &str) {
        let codes: Vec<u32> = params
            .split(';')
            .map(|p| {
                if p.is_empty() {
                    0
                } else {
                    p.parse::<u32>().unwrap_or(u32::MAX)
                }
            })
            .collect();
        let mut i = 0;
        while i < codes.len() {
            let code = codes[i];
            match code {
                0 => *self = Sgr::default(),
                1 => self.bold = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => self.bold = false,
                23 => self.italic = false,
                24 => self.underline = false,
                30..=37 => self.fg = Some(Color::Named((code - 30) as u8)),
                39 => self.fg = None,
                40..=47 => self.bg = Some(Color::Named((code - 40) as u8)),
                49 => self.bg = None,
                90..=97 => self.fg = Some(Color::Named((code - 90 + 8) as u8)),
                100..=107 => self.bg = Some(Color::Named((code - 100 + 8) as u8)),
                38 | 48 => {
                    let (color, used) = extended_color(&codes[i + 1..]);
                    if let Some(color) = color {
                        if code == 38 {
                            self.fg = Some(color);
                        } else {
                            self.bg = Some(color);
                        }
                    }
                    i += used;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// `5;n` or `2;r;g;b` after a 38/48: the colour and how many parameters it took.
fn extended_color(rest: &[u32]) -> (Option<Color>, usize) {
    let byte = |v: u32| u8::try_from(v).ok();
    match rest.first() {
        Some(5) => (
            rest.get(1).and_then(|&n| byte(n)).map(Color::from_256),
            2.min(rest.len()),
        ),
        Some(2) => {
            let rgb = match (rest.get(1), rest.get(2), rest.get(3)) {
                (Some(&r), Some(&g), Some(&b)) => match (byte(r), byte(g), byte(b)) {
                    (Some(r), Some(g), Some(b)) => Some(Color::Rgb(r, g, b)),
                    _ => None,
                },
                _ => None,
            };
            (rgb, 4.min(rest.len()))
        }
        _ => (None, rest.len()),
    }
}

/// Applies carriage returns the way a terminal shows them: on each line only what was
/// written after the last `\r` remains (`\r\n` is a plain line end).
fn collapse_carriage_returns(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for (n, line) in s.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.push_str(line.rsplit('\r').next().unwrap_or(line));
    }
    out
}

/// Escapes `s` for HTML and turns ANSI SGR colours into `<span class="ansi-…">`:
/// 30–37/90–97 (and 40–47/100–107 backgrounds) as classes `ansi-red`, `ansi-bright-red`,
/// `ansi-bg-red`…; 1 bold (`ansi-bold`), 3 italic, 4 underline, 0 reset; `38;5;n` and
/// `38;2;r;g;b` as classes for the 16 base colours or an inline `rgb()` colour.
/// Every other escape sequence and control character (but `\n` and `\t`) is dropped.
pub fn ansi_to_html(s: &str) -> String {
    let s = collapse_carriage_returns(s);
    let mut out = String::with_capacity(s.len() + 16);
    let mut state = Sgr::default();
    let mut open: Option<Sgr> = None;
    let mut text = String::new();
    let mut chars = s.chars().peekable();

    fn flush(out: &mut String, open: &mut Option<Sgr>, state: Sgr, text: &mut String) {
        if text.is_empty() {
            return;
        }
        let want = if state.is_plain() { None } else { Some(state) };
        if *open != want {
            if open.is_some() {
                out.push_str("</span>");
            }
            if let Some(w) = &want {
                out.push_str(&w.open_tag());
            }
            *open = want;
        }
        push_escaped(out, text);
        text.clear();
    }

    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // CSI: parameter bytes, intermediate bytes, one final byte.
                    let mut params = String::new();
                    let mut intermediates = false;
                    let mut fin = None;
                    while let Some(&d) = chars.peek() {
                        match d {
                            '\u{30}'..='\u{3f}' if !intermediates => params.push(d),
                            '\u{20}'..='\u{2f}' => intermediates = true,
                            '\u{40}'..='\u{7e}' => {
                                fin = Some(d);
                                chars.next();
                                break;
                            }
                            _ => break, // malformed: drop what we read
                        }
                        chars.next();
                    }
                    let is_sgr = fin == Some('m')
                        && !intermediates
                        && params.chars().all(|d| d.is_ascii_digit() || d == ';');
                    if is_sgr {
                        flush(&mut out, &mut open, state, &mut text);
                        state.apply(&params);
                    }
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    // OSC / DCS / SOS / PM / APC: up to BEL or ST (ESC \).
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' || d == '\u{9c}' {
                            break;
                        }
                        if d == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                Some(d) if ('\u{20}'..='\u{2f}').contains(&d) => {
                    // nF escape (e.g. charset selection `ESC ( B`): one more byte follows.
                    chars.next();
                }
                _ => {} // a two-byte escape, or a lone ESC at the end: dropped
            },
            '\n' | '\t' => text.push(c),
            c if c.is_control() => {} // C0, DEL and C1 controls
            c => text.push(c),
        }
    }
    flush(&mut out, &mut open, state, &mut text);
    if open.is_some() {
        out.push_str("</span>");
    }
    out
}

// ---------------------------------------------------------------------------------------
// URLs

/// The URL as a browser would read it for its scheme: ASCII whitespace and controls
/// removed (browsers strip tab and newline anywhere in a URL), lowercased.
fn url_for_scheme_check(url: &str) -> String {
    url.chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The href kept for a markdown link: `http:`, `https:`, `mailto:` or a `#` fragment,
/// anything else becomes `#`.
fn safe_link_href(url: &str) -> String {
    let norm = url_for_scheme_check(url);
    let ok = norm.starts_with("http://")
        || norm.starts_with("https://")
        || norm.starts_with("mailto:")
        || norm.starts_with('#');
    if ok {
        url.chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_string()
    } else {
        "#".to_string()
    }
}

const RASTER_DATA_PREFIXES: [&str; 4] = [
    "data:image/png",
    "data:image/jpeg",
    "data:image/gif",
    "data:image/webp",
];

/// The src kept for a markdown image: a raster `data:` URL or `http(s)`; `None` otherwise.
fn safe_image_src(url: &str) -> Option<String> {
    let norm = url_for_scheme_check(url);
    let raster_data = RASTER_DATA_PREFIXES.iter().any(|p| {
        norm.strip_prefix(p)
            .is_some_and(|rest| rest.starts_with(';') || rest.starts_with(','))
    });
    if raster_data {
        // Same characters as `norm`, case kept: base64 is case-sensitive.
        let stripped: String = url
            .chars()
            .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
            .collect();
        let comma = stripped.find(',')?;
        let meta = stripped[..comma].to_ascii_lowercase();
        if meta.ends_with(";base64") {
            let payload = clean_base64(&stripped[comma + 1..])?;
            return Some(format!("{meta},{payload}"));
        }
        return Some(stripped);
    }
    if norm.starts_with("http://") || norm.starts_with("https://") {
        return Some(
            url.chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .to_string(),
        );
    }
    None
}

/// Whitespace removed and the base64 alphabet checked (forgiving-base64 rules: padding
/// optional but never in the middle, length ≢ 1 mod 4). `None` if it isn't base64.
fn clean_base64(s: &str) -> Option<String> {
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = cleaned.trim_end_matches('=');
    let padding = cleaned.len() - body.len();
    if body.is_empty() || padding > 2 {
        return None;
    }
    if padding > 0 && cleaned.len() % 4 != 0 {
        return None;
    }
    if body.len() % 4 == 1 {
        return None;
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return None;
    }
    Some(cleaned)
}

// ---------------------------------------------------------------------------------------
// Markdown

/// Renders markdown with raw HTML shown as text, links and images restricted (see module
/// docs); `attachments` resolves `attachment:NAME` images of a markdown cell.
fn render_markdown(src: &str, attachments: Option<&Map<String, Value>>) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events: Vec<Event<'_>> = Parser::new_ext(src, options).collect();
    let mut safe: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut iter = events.into_iter();
    while let Some(event) = iter.next() {
        match event {
            // Raw HTML from the notebook is shown, never interpreted.
            Event::Html(html) | Event::InlineHtml(html) => safe.push(Event::Text(html)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            }) => {
                let url = if link_type == LinkType::Email {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.to_string()
                };
                let mut tag = format!(
                    "<a href=\"{}\" rel=\"noopener noreferrer\"",
                    escape(&safe_link_href(&url))
                );
                if !title.is_empty() {
                    tag.push_str(&format!(" title=\"{}\"", escape(&title)));
                }
                tag.push('>');
                safe.push(Event::InlineHtml(CowStr::from(tag)));
            }
            // The fence's info string becomes a class: keep a plain language name only.
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang: String = info
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '.' | '#')
                    })
                    .take(40)
                    .collect();
                safe.push(Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(
                    CowStr::from(lang),
                ))));
            }
            Event::End(TagEnd::Link) => safe.push(Event::InlineHtml(CowStr::Borrowed("</a>"))),
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) => {
                // Collect the alt text up to the matching end (images can nest in alt text).
                let mut alt = String::new();
                let mut depth = 1usize;
                for inner in iter.by_ref() {
                    match inner {
                        Event::Start(Tag::Image { .. }) => depth += 1,
                        Event::End(TagEnd::Image) => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                            alt.push_str(&t)
                        }
                        Event::SoftBreak | Event::HardBreak => alt.push(' '),
                        _ => {}
                    }
                }
                let src = match dest_url.strip_prefix("attachment:") {
                    Some(name) => attachment_src(attachments, name),
                    None => safe_image_src(&dest_url),
                };
                match src {
                    Some(src) => {
                        let mut tag = format!(
                            "<img src=\"{}\" alt=\"{}\" loading=\"lazy\" referrerpolicy=\"no-referrer\"",
                            escape(&src),
                            escape(&alt)
                        );
                        if !title.is_empty() {
                            tag.push_str(&format!(" title=\"{}\"", escape(&title)));
                        }
                        tag.push('>');
                        safe.push(Event::InlineHtml(CowStr::from(tag)));
                    }
                    // An image we won't load: its alt text stands in.
                    None => safe.push(Event::Text(CowStr::from(format!("[image: {alt}]")))),
                }
            }
            other => safe.push(other),
        }
    }
    let mut html = String::with_capacity(src.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, safe.into_iter());
    html
}

/// `attachment:NAME` of a markdown cell as a raster data URL.
fn attachment_src(attachments: Option<&Map<String, Value>>, name: &str) -> Option<String> {
    let bundle = attachments?.get(name)?.as_object()?;
    ["image/png", "image/jpeg", "image/gif", "image/webp"]
        .iter()
        .find_map(|mime| {
            let data = multiline(bundle.get(*mime))?;
            Some(format!("data:{mime};base64,{}", clean_base64(&data)?))
        })
}

// ---------------------------------------------------------------------------------------
// Notebook

/// A multi-line nbformat field: a string, or a list of strings joined.
fn multiline(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn bad(out: &mut String, note: &str) {
    out.push_str("<p class=\"bad\">");
    push_escaped(out, note);
    out.push_str("</p>");
}

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

/// `</script` inside a script would end it early; `<\/script` means the same in JS strings.
fn neutralize_script_end(js: &str) -> String {
    let lower = js.to_ascii_lowercase();
    let mut out = String::with_capacity(js.len());
    let mut last = 0;
    for (i, _) in lower.match_indices("</script") {
        out.push_str(&js[last..i]);
        out.push_str("<\\/");
        last = i + 2;
    }
    out.push_str(&js[last..]);
    out
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
            out.push_str("<pre class=\"output-json\">");
            push_escaped(out, &text);
            out.push_str("</pre>");
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
                out.push_str("<pre class=\"output-latex\">");
                push_escaped(out, &text);
                out.push_str("</pre>");
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
struct CellErrors {
    first: Option<(String, String)>,
}

fn render_output(out: &mut String, cell: usize, output: &Value, errors: &mut CellErrors) {
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
            out.push_str("><p class=\"error-summary\"><span class=\"ename\">");
            push_escaped(out, ename);
            out.push_str("</span>");
            if !evalue.is_empty() {
                out.push_str(": <span class=\"evalue\">");
                push_escaped(out, evalue);
                out.push_str("</span>");
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
fn find_first_error(cells: &[Value]) -> Option<usize> {
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

fn render_cell(
    out: &mut String,
    index: usize,
    cell: &Value,
    first_error: Option<usize>,
    rendered: &mut Rendered,
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
                    out.push_str("<pre class=\"raw\">");
                    push_escaped(out, &src);
                    out.push_str("</pre>");
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
                    for item in items {
                        render_output(&mut outputs, index, item, &mut errors);
                    }
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
                    out.push_str("<pre class=\"source\"><code>");
                    push_escaped(out, &src);
                    out.push_str("</code></pre>");
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
                out.push_str("<pre class=\"raw\">");
                push_escaped(out, &src);
                out.push_str("</pre>");
            }
            out.push_str("</section>");
        }
    }
}

/// Renders an nbformat 4 notebook to a read-only, safe HTML fragment (see module docs).
pub fn render_notebook(nb: &Value) -> Rendered {
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
            let first_error = find_first_error(cells);
            for (i, cell) in cells.iter().enumerate() {
                render_cell(&mut out, i, cell, first_error, &mut rendered);
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
