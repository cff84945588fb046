//! Tests of the notebook renderer: hostile notebooks come out inert, ordinary ones readable.

use super::{
    ansi_to_html, full_output, render_notebook, render_notebook_with, Links, Rendered,
    IMAGE_LIMIT_BYTES, NOTEBOOK_CSS, PAGE_BUDGET_BYTES, RICH_LIMIT_BYTES, TEXT_LIMIT_BYTES,
    TEXT_LIMIT_LINES,
};
use crate::http::ui::escape::escape;
use proptest::prelude::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Helpers: a tiny reader of the fragment's own markup.

#[derive(Debug)]
struct TagInfo {
    /// The tag as written, its srcdoc value (if any) emptied.
    raw: String,
    name: String,
    closing: bool,
    attrs: Vec<(String, String)>,
}

/// The fragment read as markup: text never holds a raw `<`, so every `<` opens a tag,
/// and every attribute value is double-quoted.
struct Scan {
    tags: Vec<TagInfo>,
    /// The whole fragment with every `srcdoc="…"` value emptied.
    outside: String,
    /// Every srcdoc value, decoded as the browser would.
    srcdocs: Vec<String>,
}

fn scan(html: &str) -> Scan {
    let mut result = Scan {
        tags: Vec::new(),
        outside: String::new(),
        srcdocs: Vec::new(),
    };
    let chars: Vec<char> = html.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '<' {
            result.outside.push(chars[i]);
            i += 1;
            continue;
        }
        let mut raw = String::from("<");
        i += 1;
        let closing = chars.get(i) == Some(&'/');
        if closing {
            raw.push('/');
            i += 1;
        }
        let mut name = String::new();
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '>' && chars[i] != '/' {
            name.push(chars[i]);
            i += 1;
        }
        raw.push_str(&name);
        let mut attrs = Vec::new();
        loop {
            assert!(i < chars.len(), "unclosed tag {raw}");
            match chars[i] {
                '>' => {
                    raw.push('>');
                    i += 1;
                    break;
                }
                c if c.is_whitespace() || c == '/' => {
                    raw.push(c);
                    i += 1;
                }
                _ => {
                    let mut attr = String::new();
                    while i < chars.len()
                        && !chars[i].is_whitespace()
                        && !matches!(chars[i], '=' | '>')
                    {
                        attr.push(chars[i]);
                        i += 1;
                    }
                    raw.push_str(&attr);
                    let mut value = String::new();
                    if chars.get(i) == Some(&'=') {
                        i += 1;
                        assert_eq!(
                            chars.get(i),
                            Some(&'"'),
                            "unquoted value of {attr} in {raw}"
                        );
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            value.push(chars[i]);
                            i += 1;
                        }
                        assert!(i < chars.len(), "unclosed value of {attr} in {raw}");
                        i += 1;
                        if attr == "srcdoc" {
                            raw.push_str("=\"\"");
                            result.srcdocs.push(unescape(&value));
                        } else {
                            raw.push_str(&format!("=\"{value}\""));
                        }
                    }
                    attrs.push((attr.to_ascii_lowercase(), unescape(&value)));
                }
            }
        }
        result.outside.push_str(&raw);
        result.tags.push(TagInfo {
            raw,
            name: name.to_ascii_lowercase(),
            closing,
            attrs,
        });
    }
    result
}

fn without_srcdoc(html: &str) -> String {
    scan(html).outside
}

fn srcdocs(html: &str) -> Vec<String> {
    scan(html).srcdocs
}

fn tags(html: &str) -> Vec<TagInfo> {
    scan(html).tags
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

const ALLOWED_TAGS: &[&str] = &[
    "div",
    "section",
    "p",
    "pre",
    "code",
    "span",
    "strong",
    "em",
    "del",
    "a",
    "img",
    "iframe",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "blockquote",
    "hr",
    "br",
    "input",
];

fn href_ok(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    l.starts_with("http://")
        || l.starts_with("https://")
        || l.starts_with("mailto:")
        || l.starts_with('#')
}

fn img_src_ok(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    [
        "data:image/png",
        "data:image/jpeg",
        "data:image/gif",
        "data:image/webp",
    ]
    .iter()
    .any(|p| l.starts_with(&format!("{p};")) || l.starts_with(&format!("{p},")))
        || l.starts_with("http://")
        || l.starts_with("https://")
}

/// The structural guarantees, whatever the notebook held: only known tags, no event
/// handler attributes, safe hrefs and srcs, every iframe sandboxed without same-origin.
fn assert_markup_inert(html: &str) {
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "live <script in {html}"
    );
    let Scan { tags, outside, .. } = scan(html);
    for tag in tags {
        assert!(
            ALLOWED_TAGS.contains(&tag.name.as_str()),
            "tag {:?} in {html}",
            tag.raw
        );
        if tag.closing {
            continue;
        }
        for (name, value) in &tag.attrs {
            assert!(!name.starts_with("on"), "event handler {:?}", tag.raw);
            if name != "srcdoc" {
                assert!(
                    !value.to_ascii_lowercase().contains("javascript:"),
                    "javascript: in {:?}",
                    tag.raw
                );
            }
            match name.as_str() {
                "href" => assert!(href_ok(value), "href in {:?}", tag.raw),
                "src" => assert!(
                    tag.name == "img" && img_src_ok(value),
                    "src in {:?}",
                    tag.raw
                ),
                "srcdoc" => assert_eq!(tag.name, "iframe"),
                "style" => assert!(!value.contains("url("), "style in {:?}", tag.raw),
                _ => {}
            }
        }
        if tag.name == "iframe" {
            let sandbox = tag
                .attrs
                .iter()
                .find(|(n, _)| n == "sandbox")
                .map(|(_, v)| v.as_str());
            assert_eq!(
                sandbox,
                Some("allow-scripts"),
                "iframe not sandboxed: {:?}",
                tag.raw
            );
            assert!(!tag.raw.contains("allow-same-origin"));
        }
    }
    let opened = outside.matches("<iframe").count();
    assert_eq!(opened, outside.matches("</iframe>").count());
}

/// The brief's plain string checks on the fragment outside srcdoc values.
fn assert_no_live_strings(html: &str) {
    let outside = without_srcdoc(html).to_ascii_lowercase();
    assert!(!outside.contains("<script"), "{html}");
    assert!(!outside.contains("javascript:"), "{html}");
    // Escaped text may say "onerror=" (the reader should see what the notebook said);
    // inside markup it must never appear.
    for tag in tags(&without_srcdoc(html)) {
        assert!(
            !tag.raw.to_ascii_lowercase().contains("onerror="),
            "{:?}",
            tag.raw
        );
        assert!(
            !tag.raw.to_ascii_lowercase().contains("onload="),
            "{:?}",
            tag.raw
        );
    }
    for frame in outside.match_indices("<iframe") {
        let tag = &outside[frame.0..outside[frame.0..].find('>').unwrap() + frame.0];
        assert!(tag.contains("sandbox=\"allow-scripts\""), "{tag}");
        assert!(!tag.contains("allow-same-origin"), "{tag}");
    }
}

fn nb(cells: Value) -> Value {
    json!({ "nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells })
}

fn md(source: &str) -> Value {
    json!({ "cell_type": "markdown", "metadata": {}, "source": source })
}

fn code_with(outputs: Value) -> Value {
    json!({ "cell_type": "code", "execution_count": 1, "metadata": {}, "source": "x", "outputs": outputs })
}

fn display(data: Value) -> Value {
    json!({ "output_type": "display_data", "metadata": {}, "data": data })
}

/// Renders and checks the structural guarantees.
fn render(cells: Value) -> Rendered {
    let r = render_notebook(&nb(cells));
    assert_markup_inert(&r.html);
    r
}

/// Renders and also applies the plain string checks: for notebooks whose text doesn't
/// itself say `javascript:` (shown escaped, it would be inert but trip the check).
fn render_strict(cells: Value) -> Rendered {
    let r = render(cells);
    assert_no_live_strings(&r.html);
    r
}

// A 1×1 transparent PNG.
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

// ---------------------------------------------------------------------------------------
// Hostile inputs

#[test]
fn markdown_raw_html_is_shown_as_text() {
    let r = render_strict(json!([
        md("<script>alert(1)</script>"),
        md("Hi <img src=x onerror=alert(1)> there"),
        md("<div onclick=\"alert(1)\">\n\n*x*\n\n</div>"),
        md("<iframe src=\"https://evil.example\"></iframe>"),
    ]));
    assert!(
        r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        r.html
    );
    assert!(
        r.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        r.html
    );
    assert!(!r.html.contains("<img"));
    assert_eq!(without_srcdoc(&r.html).matches("<iframe").count(), 0);
}

#[test]
fn markdown_links_and_images_are_restricted() {
    let r = render(json!([md(concat!(
        "[x](javascript:alert(1)) [y](JaVaScRiPt:alert(1)) [z](&#106;avascript:alert(1)) ",
        "[v](vbscript:msgbox) [d](data:text/html,hi) <javascript:alert(1)> ",
        "[ok](https://example.com/a?b=1&c=2) [mail](mailto:a@b.c) [frag](#cell-3) <me@example.com> ",
        "[t](https://example.com \"t\\\"><b>\")\n\n",
        "![a](javascript:alert(1)) ![svg](data:image/svg+xml;base64,PHN2Zz4=) ",
        "![bad64](data:image/png;base64,@@@) ![good](data:image/png;base64,iVBORw0K) ![web](https://example.com/i.png)"
    ))]));
    let html = &r.html;
    // Autolinked text is shown, but never as markup; the plain-string check covers the rest.
    let Scan { outside, .. } = scan(html);
    for bad in [
        "javascript:alert",
        "vbscript:",
        "data:text/html",
        "data:image/svg",
    ] {
        for tag in tags(&outside) {
            assert!(
                !tag.raw.to_ascii_lowercase().contains(bad),
                "{bad} in {:?}",
                tag.raw
            );
        }
    }
    assert!(
        html.contains(r##"<a href="#" rel="noopener noreferrer">x</a>"##),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer">ok</a>"#
        ),
        "{html}"
    );
    assert!(html.contains(r#"href="mailto:a@b.c""#));
    assert!(html.contains(r#"href="mailto:me@example.com""#));
    assert!(html.contains(r##"href="#cell-3""##));
    assert!(html.contains(r#"title="t&quot;&gt;&lt;b&gt;""#), "{html}");
    assert!(
        html.contains(r#"<img src="data:image/png;base64,iVBORw0K" alt="good""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<img src="https://example.com/i.png" alt="web""#),
        "{html}"
    );
    assert!(
        html.contains("[image: svg]")
            && html.contains("[image: bad64]")
            && html.contains("[image: a]")
    );
    for tag in tags(&outside)
        .iter()
        .filter(|t| t.name == "a" && !t.closing)
    {
        assert!(
            tag.raw.contains("rel=\"noopener noreferrer\""),
            "{:?}",
            tag.raw
        );
    }
}

#[test]
fn the_brief_s_javascript_link_becomes_hash() {
    let r = render_strict(json!([md("[x](javascript:alert(1))")]));
    assert!(
        !r.html.to_ascii_lowercase().contains("javascript:"),
        "{}",
        r.html
    );
}

#[test]
fn stream_cannot_break_out_of_its_pre() {
    let r = render_strict(json!([code_with(json!([
        { "output_type": "stream", "name": "stdout", "text": ["a</pre><script>alert(1)</script>\n", "b"] },
        { "output_type": "stream", "name": "<evil>", "text": "c" }
    ]))]));
    assert!(r.html.contains(
        "<pre class=\"stream stream-stdout\">a&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;\nb</pre>"
    ), "{}", r.html);
    assert!(!r.html.contains("<evil>") && !r.html.contains("&lt;evil"));
}

#[test]
fn html_output_only_lives_in_a_sandboxed_srcdoc() {
    let payload = "<script>parent.document.cookie</script><b onclick=\"x()\">hi</b>";
    let r = render_strict(json!([code_with(json!([display(json!({
        "text/html": payload, "text/plain": "<IPython.core.display.HTML object>"
    }))]))]));
    let docs = srcdocs(&r.html);
    assert_eq!(docs.len(), 1);
    assert!(docs[0].contains(payload), "{}", docs[0]);
    assert!(docs[0].contains("http-equiv=\"Content-Security-Policy\""));
    assert!(docs[0].contains("default-src 'none'; script-src 'unsafe-inline' https:"));
    assert!(docs[0].contains("connect-src 'none'"));
    assert!(r.html.contains("sandbox=\"allow-scripts\""));
    assert!(r.html.contains("referrerpolicy=\"no-referrer\""));
    assert!(r
        .html
        .contains("&lt;script&gt;parent.document.cookie&lt;/script&gt;"));
    // The richer representation wins: text/plain is not shown.
    assert!(!r.html.contains("IPython.core.display.HTML"));
    // The attribute value cannot be closed early: no raw quote inside it.
    let start = r.html.find("srcdoc=\"").unwrap() + 8;
    let value = &r.html[start..start + r.html[start..].find('"').unwrap()];
    assert!(!value.contains('<') && !value.contains('>') && !value.contains('\''));
}

#[test]
fn javascript_output_runs_only_in_the_sandbox() {
    let js = "element.textContent = '</script><script>alert(1)</script>';";
    let r = render_strict(json!([code_with(json!([display(
        json!({ "application/javascript": [js] })
    )]))]));
    let docs = srcdocs(&r.html);
    assert_eq!(docs.len(), 1);
    // `</script` inside the script cannot end it early.
    assert!(
        docs[0].contains("'<\\/script><script>alert(1)<\\/script>'"),
        "{}",
        docs[0]
    );
    assert_eq!(docs[0].matches("</script>").count(), 2, "{}", docs[0]);
    assert!(r.html.contains("output-javascript"));
}

#[test]
fn svg_goes_into_the_sandbox() {
    let svg =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><circle r=\"3\"/></svg>";
    let r = render_strict(json!([code_with(json!([display(json!({
        "image/svg+xml": svg, "image/png": PNG_1X1
    }))]))]));
    assert_eq!(srcdocs(&r.html).len(), 1);
    assert!(srcdocs(&r.html)[0].contains(svg));
    assert!(!without_srcdoc(&r.html).contains("<svg"));
    assert!(!r.html.contains("<img"), "svg preferred over png");
}

#[test]
fn text_plain_is_escaped() {
    let r = render_strict(json!([code_with(json!([
        { "output_type": "execute_result", "execution_count": 7, "metadata": {},
          "data": { "text/plain": ["<b>bold</b> & 'q' \"d\""] } }
    ]))]));
    assert!(
        r.html
            .contains("&lt;b&gt;bold&lt;/b&gt; &amp; &#39;q&#39; &quot;d&quot;"),
        "{}",
        r.html
    );
    assert!(!r.html.contains("<b>"));
    assert!(r.html.contains("Out[7]:"));
}

#[test]
fn bad_base64_image_is_dropped_with_a_note() {
    let r = render_strict(json!([code_with(json!([
        display(
            json!({ "image/png": "iVBOR\"><script>alert(1)</script>", "text/plain": "<Figure>" })
        ),
        display(json!({ "image/jpeg": "abc=def=" })),
        display(json!({ "image/gif": 42 })),
    ]))]));
    assert!(!r.html.contains("<img"), "{}", r.html);
    assert!(r
        .html
        .contains("<p class=\"bad\">image/png output is not valid base64; dropped</p>"));
    assert!(r
        .html
        .contains("<p class=\"bad\">image/jpeg output is not valid base64; dropped</p>"));
    assert!(r
        .html
        .contains("<p class=\"bad\">image/gif output is not text; skipped</p>"));
    // The next representation is still shown.
    assert!(r.html.contains("&lt;Figure&gt;"));
}

#[test]
fn markdown_output_and_json_and_latex() {
    let r = render_strict(json!([code_with(json!([
        display(json!({ "text/markdown": "## Title\n<script>x()</script>\n\n[l](javascript:x)" })),
        display(json!({ "application/json": { "a": "<b>", "n": [1, 2] } })),
        display(json!({ "text/latex": "$\\frac{<}{>}$" })),
    ]))]));
    assert!(r.html.contains("<h2>Title</h2>"), "{}", r.html);
    assert!(r.html.contains("&lt;script&gt;x()&lt;/script&gt;"));
    assert!(
        r.html
            .contains("<pre class=\"output-json\">{\n  &quot;a&quot;: &quot;&lt;b&gt;&quot;,"),
        "{}",
        r.html
    );
    assert!(r
        .html
        .contains("<pre class=\"output-latex\">$\\frac{&lt;}{&gt;}$</pre>"));
}

#[test]
fn unknown_mimetypes_get_a_note() {
    let r = render_strict(json!([code_with(json!([display(json!({
        "application/vnd.jupyter.widget-view+json": { "model_id": "x" }, "<mime>": "x"
    }))]))]));
    assert!(r.html.contains("<p class=\"bad\">no displayable representation (application/vnd.jupyter.widget-view+json, &lt;mime&gt;)</p>"), "{}", r.html);
}

// ---------------------------------------------------------------------------------------
// Ordinary notebooks

#[test]
fn error_output_anchor_summary_and_ansi_traceback() {
    let r = render_strict(json!([
        code_with(json!([{ "output_type": "stream", "name": "stderr", "text": "warn\n" }])),
        {
            "cell_type": "code", "execution_count": 2, "source": ["raise ValueError('bad data')"],
            "metadata": { "papermill": { "status": "failed", "duration": 0.25, "exception": true } },
            "outputs": [{
                "output_type": "error", "ename": "ValueError", "evalue": "bad <data>",
                "traceback": [
                    "\u{1b}[0;31m---------------------------------------------------------------------------\u{1b}[0m",
                    "\u{1b}[0;31mValueError\u{1b}[0m: bad <data>"
                ]
            }]
        },
        code_with(json!([{ "output_type": "error", "ename": "KeyError", "evalue": "", "traceback": [] }])),
    ]));
    assert_eq!(r.first_error, Some(1));
    assert_eq!(r.error_summary.as_deref(), Some("ValueError: bad <data>"));
    assert!(
        r.html.contains("<div class=\"error\" id=\"error-1\">"),
        "{}",
        r.html
    );
    assert!(r.html.contains("<div class=\"error\" id=\"error-2\">"));
    assert!(r.html.contains(
        "<span class=\"ename\">ValueError</span>: <span class=\"evalue\">bad &lt;data&gt;</span>"
    ));
    assert!(
        r.html
            .contains("<span class=\"ansi-red\">ValueError</span>: bad &lt;data&gt;"),
        "{}",
        r.html
    );
    assert!(
        r.html
            .contains("<section class=\"cell cell-code failed has-error\" id=\"cell-1\">"),
        "{}",
        r.html
    );
    assert!(r.html.contains("<span class=\"status\">failed</span>"));
    assert!(
        r.html.contains("<span class=\"duration\">0.2s</span>")
            || r.html.contains("<span class=\"duration\">0.3s</span>")
    );
    assert!(r
        .html
        .contains("<pre class=\"stream stream-stderr\">warn\n</pre>"));
    assert!(!r.html.contains('\u{1b}'));
}

#[test]
fn no_error_means_no_first_error() {
    let r = render_strict(json!([code_with(
        json!([{ "output_type": "stream", "name": "stdout", "text": "ok" }])
    )]));
    assert_eq!(r.first_error, None);
    assert_eq!(r.error_summary, None);
}

#[test]
fn papermill_error_notes_link_to_the_error() {
    let header = "<span style=\"color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;\">An Exception was encountered at '<a href=\"#papermill-error-cell\">In [1]</a>'.</span>";
    let marker = "<span id=\"papermill-error-cell\" style=\"color:red;\">Execution using papermill encountered an exception here and stopped:</span>";
    let tagged = |s: &str| json!({ "cell_type": "markdown", "metadata": { "tags": ["papermill-error-cell-tag"] }, "source": s });
    let r = render_strict(json!([
        tagged(header),
        tagged(marker),
        code_with(
            json!([{ "output_type": "error", "ename": "E", "evalue": "v", "traceback": [] }])
        ),
    ]));
    assert!(
        r.html
            .contains("An exception was encountered at <a href=\"#error-2\">cell 2</a>."),
        "{}",
        r.html
    );
    assert!(r
        .html
        .contains("Execution using papermill encountered an exception here and stopped:"));
    assert!(!r.html.contains("Helvetica"));
}

#[test]
fn png_output_becomes_a_data_url_image() {
    let wrapped = format!("{}\n{}\n", &PNG_1X1[..40], &PNG_1X1[40..]);
    let r = render_strict(json!([code_with(json!([display(json!({
        "image/png": wrapped, "text/plain": "<Figure size 640x480>"
    }))]))]));
    assert!(r.html.contains(&format!("<img class=\"output-image\" alt=\"output image\" src=\"data:image/png;base64,{PNG_1X1}\">")), "{}", r.html);
    assert!(!r.html.contains("Figure size"));
}

fn html_contains_code_block(html: &str) -> bool {
    html.contains("<pre><code class=\"language-python\">print(1 &lt; 2)\n</code></pre>")
}

#[test]
fn markdown_heading_table_list_render() {
    let r = render_strict(json!([md(concat!(
        "# Report\n\nSome *emphasis* and `code`.\n\n",
        "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n",
        "- one\n- two\n\n1. first\n\n- [x] done\n\n~~gone~~\n\n",
        "```python {onload=x}\\\"><b>\nprint(1 < 2)\n```\n"
    ))]));
    assert!(html_contains_code_block(&r.html), "{}", r.html);
    let html = &r.html;
    assert!(html.contains("<section class=\"cell cell-markdown\" id=\"cell-0\"><div class=\"markdown\"><h1>Report</h1>"), "{html}");
    assert!(html.contains("<em>emphasis</em>") && html.contains("<code>code</code>"));
    assert!(
        html.contains("<table>") && html.contains("<th>a</th>") && html.contains("<td>1</td>"),
        "{html}"
    );
    assert!(
        html.contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        "{html}"
    );
    assert!(html.contains("<ol>") && html.contains("<del>gone</del>"));
    assert!(html.contains("type=\"checkbox\""));
}

#[test]
fn markdown_attachments_resolve_to_data_urls() {
    let r = render_strict(json!([{
        "cell_type": "markdown", "metadata": {}, "source": "![pic](attachment:p.png) ![no](attachment:missing.png)",
        "attachments": { "p.png": { "image/png": PNG_1X1 } }
    }]));
    assert!(
        r.html.contains(&format!(
            "<img src=\"data:image/png;base64,{PNG_1X1}\" alt=\"pic\""
        )),
        "{}",
        r.html
    );
    assert!(r.html.contains("[image: no]"));
}

#[test]
fn code_and_raw_cells() {
    let r = render_strict(json!([
        { "cell_type": "code", "execution_count": null, "metadata": { "papermill": { "status": "pending" } },
          "source": ["if a < b:\n", "    print(\"x\")"], "outputs": [] },
        { "cell_type": "code", "execution_count": 12, "metadata": { "papermill": { "status": "completed", "duration": 75.4 } },
          "source": "1", "outputs": [] },
        { "cell_type": "code", "execution_count": 3, "metadata": { "papermill": { "status": "\"><script>" } },
          "source": "1", "outputs": [] },
        { "cell_type": "raw", "metadata": {}, "source": "<raw> & stuff" },
    ]));
    let html = &r.html;
    assert!(
        html.contains("<section class=\"cell cell-code pending\" id=\"cell-0\">"),
        "{html}"
    );
    assert!(html.contains("In [ ]:"));
    assert!(
        html.contains(
            "<pre class=\"source\"><code>if a &lt; b:\n    print(&quot;x&quot;)</code></pre>"
        ),
        "{html}"
    );
    assert!(html.contains("<section class=\"cell cell-code completed\" id=\"cell-1\">"));
    assert!(html.contains("In [12]:"));
    assert!(
        html.contains("<span class=\"duration\">1m 15s</span>"),
        "{html}"
    );
    assert!(
        html.contains("<section class=\"cell cell-code\" id=\"cell-2\">"),
        "unknown status dropped: {html}"
    );
    assert!(html.contains("<section class=\"cell cell-raw\" id=\"cell-3\"><pre class=\"raw\">&lt;raw&gt; &amp; stuff</pre></section>"));
    assert!(
        !html.contains("<div class=\"outputs\">"),
        "empty outputs omitted"
    );
}

#[test]
fn malformed_notebooks_render_what_they_can() {
    for doc in [
        json!(null),
        json!(3),
        json!("x"),
        json!({}),
        json!({ "cells": {} }),
        json!([1, 2]),
    ] {
        let r = render_notebook(&doc);
        assert!(r.html.contains("<p class=\"bad\">"), "{doc}: {}", r.html);
        assert_markup_inert(&r.html);
    }
    let r = render_strict(json!([
        7,
        { "cell_type": "code" },
        { "cell_type": "code", "source": 5, "outputs": "nope", "execution_count": "x", "metadata": { "papermill": 1 } },
        { "cell_type": "code", "source": ["a", 1, "b"], "outputs": [3, { "output_type": "stream" },
            { "output_type": "<weird>" }, { "output_type": "display_data", "data": [] },
            { "output_type": "error" }, { "output_type": "execute_result", "data": { "text/plain": { "x": 1 } } }] },
        { "cell_type": "markdown", "source": null },
        { "cell_type": "<heading>", "source": "# old" },
        { "source": "no type" },
    ]));
    let html = &r.html;
    assert!(html.contains("<section class=\"cell cell-unknown\" id=\"cell-0\"><p class=\"bad\">cell 0 could not be read (not a JSON object)</p>"), "{html}");
    assert!(html.contains("id=\"cell-1\"") && html.contains("In [ ]:"));
    assert!(
        html.contains("cell 2: source could not be read")
            && html.contains("cell 2: outputs could not be read")
    );
    assert!(
        html.contains("<code>ab</code>"),
        "non-strings in a source list are skipped: {html}"
    );
    assert!(
        html.contains("an output could not be read")
            && html.contains("a stream output has no text")
    );
    assert!(html.contains("unknown output type &quot;&lt;weird&gt;&quot;"));
    assert!(html.contains("an output&#39;s data could not be read"));
    assert!(html.contains("text/plain output is not text; skipped"));
    assert!(html.contains("cell 4: source could not be read"));
    assert!(html.contains("cell 5 has an unknown type &quot;&lt;heading&gt;&quot;"));
    assert!(html.contains("cell 6 has an unknown type &quot;&quot;"));
    // An error output without fields still counts, with a default name.
    assert_eq!(r.first_error, Some(3));
    assert_eq!(r.error_summary.as_deref(), Some("Error"));
}

#[test]
fn other_nbformat_versions_get_a_note() {
    let r = render_notebook(&json!({ "nbformat": 3, "cells": [] }));
    assert!(r.html.contains("nbformat 3 notebook"));
}

// ---------------------------------------------------------------------------------------
// escape and ansi_to_html

#[test]
fn escape_covers_the_five() {
    assert_eq!(
        escape(r#"<a href="x" title='y'>&amp;</a>"#),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
    );
    assert_eq!(escape("plain ünïcode"), "plain ünïcode");
}

#[test]
fn ansi_basic_colors_bold_reset() {
    assert_eq!(
        ansi_to_html("\u{1b}[31mred\u{1b}[0m plain"),
        "<span class=\"ansi-red\">red</span> plain"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[1;32mok\u{1b}[m"),
        "<span class=\"ansi-green ansi-bold\">ok</span>"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[94mb\u{1b}[39mx"),
        "<span class=\"ansi-bright-blue\">b</span>x"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[41;37mw"),
        "<span class=\"ansi-white ansi-bg-red\">w</span>"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[31ma\u{1b}[32mb"),
        "<span class=\"ansi-red\">a</span><span class=\"ansi-green\">b</span>"
    );
    assert_eq!(ansi_to_html("\u{1b}[31m\u{1b}[0m"), "", "no empty spans");
}

#[test]
fn ansi_extended_colors() {
    assert_eq!(
        ansi_to_html("\u{1b}[38;5;1mr"),
        "<span class=\"ansi-red\">r</span>"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[38;5;9mr"),
        "<span class=\"ansi-bright-red\">r</span>"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[38;5;196mr"),
        "<span style=\"color:rgb(255,0,0);\">r</span>"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[38;5;244mg"),
        "<span style=\"color:rgb(128,128,128);\">g</span>"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[38;2;10;20;30mc"),
        "<span style=\"color:rgb(10,20,30);\">c</span>"
    );
    assert_eq!(
        ansi_to_html("\u{1b}[48;2;1;2;3;1mc"),
        "<span class=\"ansi-bold\" style=\"background-color:rgb(1,2,3);\">c</span>"
    );
    // Out of range or truncated: ignored, never a panic.
    assert_eq!(
        ansi_to_html("\u{1b}[38;2;999;0;0mc\u{1b}[38;5m\u{1b}[38;2;1m\u{1b}[38mx"),
        "cx"
    );
    assert_eq!(ansi_to_html("\u{1b}[99999999999999999999mz"), "z");
}

#[test]
fn ansi_strips_other_sequences_and_controls() {
    assert_eq!(ansi_to_html("a\u{1b}[2Kb\u{1b}[1Ac\u{1b}[?25ld"), "abcd");
    assert_eq!(
        ansi_to_html("\u{1b}]0;title\u{7}x\u{1b}]8;;http://e\u{1b}\\y"),
        "xy"
    );
    assert_eq!(ansi_to_html("\u{1b}(Bq\u{1b}=r\u{1b}"), "qr");
    assert_eq!(ansi_to_html("x\u{0}y\u{8}z\u{7f}\u{9b}w\tv\n"), "xyzw\tv\n");
    assert_eq!(
        ansi_to_html("<\u{1b}[31m&>"),
        "&lt;<span class=\"ansi-red\">&amp;&gt;</span>"
    );
}

#[test]
fn ansi_carriage_returns_overwrite_the_line() {
    assert_eq!(ansi_to_html("10%\r50%\r100%\ndone\r\n"), "100%\ndone\n");
}

#[test]
fn css_covers_the_classes() {
    for class in [
        ".cell",
        ".prompt",
        ".outputs",
        ".error",
        ".bad",
        ".failed",
        ".ansi-red",
        ".ansi-bright-red",
        ".ansi-bg-red",
        ".ansi-bold",
        "iframe.output-html",
        ".stream-stderr",
        ".truncated",
        ".omitted",
    ] {
        assert!(NOTEBOOK_CSS.contains(class), "{class}");
    }
    assert!(!NOTEBOOK_CSS.contains("url("));
}

// ---------------------------------------------------------------------------------------
// Output limits: long outputs cut, huge ones replaced by notices, the page bounded.

fn links() -> Links {
    Links {
        download: Some("/dl/nb.ipynb".into()),
        full_output: Some("/full".into()),
    }
}

fn stream(text: &str) -> Value {
    json!({ "output_type": "stream", "name": "stdout", "text": text })
}

/// `n` lines of 16 bytes each: `line 0000000042\n`, the first one hostile.
fn numbered_lines(n: usize) -> String {
    let mut s = String::with_capacity(n * 16);
    for i in 0..n {
        s.push_str(&format!("line {i:010}\n"));
    }
    s.replace_range(0..15, "<b>&\"x'</b>!!!!");
    s
}

#[test]
fn a_50_mib_stream_shows_its_head_its_tail_and_what_was_left_out() {
    let lines = 50 * 1024 * 1024 / 16;
    let text = numbered_lines(lines);
    assert_eq!(text.len(), 52_428_800);
    let notebook = nb(json!([code_with(json!([stream(&text)])), md("after")]));
    let r = render_notebook_with(&notebook, &links());
    assert!(r.html.len() < 80 * 1024, "{} bytes", r.html.len());
    assert!(r.html.len() < PAGE_BUDGET_BYTES);
    // The first and the last 1,000 lines (16,000 bytes each, under 32 KiB).
    assert!(r.html.contains("<pre class=\"stream stream-stdout\">&lt;b&gt;&amp;&quot;x&#39;&lt;/b&gt;!!!!\nline 0000000001\n"), "the head, escaped");
    assert!(r
        .html
        .contains("line 0000000999\n<span class=\"truncated\""));
    assert!(!r.html.contains("line 0000001000\n"));
    assert!(r
        .html
        .contains(&format!("⋯</span>line {:010}\n", lines - 1000)));
    assert!(!r.html.contains(&format!("line {:010}\n", lines - 1001)));
    assert!(
        r.html.contains(&format!("line {:010}\n</pre>", lines - 1)),
        "the tail"
    );
    // What was left out, and where all of it is.
    assert!(
        r.html.contains(
            "<span class=\"truncated\" role=\"note\">⋯ 50.0 MiB (52,396,800 bytes, 3,274,800 lines) left out: \
             <a class=\"full-output\" href=\"/full/0/0\">see the full output</a> · \
             <a class=\"download-notebook\" href=\"/dl/nb.ipynb\" download>download the .ipynb</a> ⋯</span>"
        ),
        "{}",
        &r.html[..2000.min(r.html.len())]
    );
    assert!(
        r.html.contains("<p>after</p>"),
        "the rest of the notebook is shown"
    );
    // The full output, as text.
    assert_eq!(full_output(&notebook, 0, 0).as_deref(), Some(text.as_str()));
    // Without links the marker still says what was left out.
    let plain = render_notebook(&notebook);
    assert!(plain
        .html
        .contains("(52,396,800 bytes, 3,274,800 lines) left out ⋯</span>"));
    assert_markup_inert(&plain.html);
}

#[test]
fn small_outputs_are_untouched() {
    let text = numbered_lines(2000);
    assert_eq!(text.lines().count(), TEXT_LIMIT_LINES);
    let r = render_notebook_with(
        &nb(json!([code_with(json!([
            stream(&text),
            { "output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": { "text/plain": "<42>" } },
            display(json!({ "text/html": "<b>hi</b>" })),
            { "output_type": "error", "ename": "E", "evalue": "v", "traceback": ["\u{1b}[31mtb\u{1b}[0m"] },
        ]))])),
        &links(),
    );
    assert!(
        !r.html.contains("truncated") && !r.html.contains("omitted"),
        "nothing cut"
    );
    assert!(r.html.contains(&format!(
        "<pre class=\"stream stream-stdout\">{}</pre>",
        escape(&text)
    )));
    assert!(r
        .html
        .contains("<pre class=\"output-text\">&lt;42&gt;</pre>"));
    assert_eq!(srcdocs(&r.html).len(), 1);
    assert!(r
        .html
        .contains("<pre class=\"traceback\"><span class=\"ansi-red\">tb</span></pre>"));
    // Just over the line limit: the head and tail 1,000 lines, one line left out.
    let r = render(json!([code_with(json!([stream(&numbered_lines(2001))]))]));
    assert!(
        r.html
            .contains("(16 bytes, 1 line) left out ⋯</span>line 0000001001\n"),
        "{}",
        r.html
    );
}

#[test]
fn consecutive_streams_are_one_output_cut_as_one() {
    let r = render(json!([code_with(json!([
        stream("a\n"), stream("b\n"),
        { "output_type": "stream", "name": "stderr", "text": "e\n" },
        stream("c\n"),
    ]))]));
    assert!(r.html.contains("<pre class=\"stream stream-stdout\">a\nb\n</pre></div><div class=\"output\"><pre class=\"stream stream-stderr\">e\n</pre>"), "{}", r.html);
    // Printed a line at a time (one output per flush): cut as one output.
    let many: Vec<Value> = (0..5000).map(|i| stream(&format!("tick {i}\n"))).collect();
    let notebook = nb(json!([code_with(Value::Array(many))]));
    let r = render_notebook_with(&notebook, &links());
    assert_eq!(r.html.matches("<pre class=\"stream").count(), 1);
    assert!(
        r.html.contains("tick 0\n")
            && r.html.contains("tick 4999\n")
            && !r.html.contains("tick 2500\n")
    );
    assert!(
        r.html
            .contains("3,000 lines) left out: <a class=\"full-output\" href=\"/full/0/0\">"),
        "{}",
        r.html
    );
    let full = full_output(&notebook, 0, 0).unwrap();
    assert_eq!(full.lines().count(), 5000);
}

#[test]
fn a_long_line_is_cut_between_characters_and_carriage_returns_apply_first() {
    let text = "é".repeat(600_000);
    let r = render(json!([code_with(json!([stream(&text)]))]));
    assert!(
        r.html
            .contains("⋯ 1.1 MiB (1,134,464 bytes, 1 line) left out ⋯"),
        "{}",
        &r.html[..300]
    );
    // A progress bar redrawn a million times is one line, as a terminal shows it.
    let bar: String = (0..1_000_000)
        .map(|i| format!("\r{i}%"))
        .collect::<String>()
        + "\ndone\n";
    let r = render(json!([code_with(json!([stream(&bar)]))]));
    assert!(
        r.html
            .contains("<pre class=\"stream stream-stdout\">999999%\ndone\n</pre>"),
        "{}",
        &r.html[..300.min(r.html.len())]
    );
}

#[test]
fn long_tracebacks_json_and_error_messages_are_cut() {
    let tb: Vec<String> = (0..5000)
        .map(|i| format!("\u{1b}[0;31mframe {i}\u{1b}[0m <x>"))
        .collect();
    let evalue = "<v>".repeat(2000);
    let r = render_notebook_with(
        &nb(json!([code_with(json!([
            display(json!({ "application/json": { "rows": (0..10_000).collect::<Vec<_>>() } })),
            { "output_type": "error", "ename": "E", "evalue": evalue, "traceback": tb },
        ]))])),
        &links(),
    );
    assert!(r
        .html
        .contains("<pre class=\"output-json\">{\n  &quot;rows&quot;: [\n    0,\n"));
    assert!(r
        .html
        .contains("left out: <a class=\"full-output\" href=\"/full/0/0\">"));
    assert!(
        r.html
            .contains("<span class=\"ansi-red\">frame 0</span> &lt;x&gt;\n"),
        "{}",
        r.html
    );
    assert!(r
        .html
        .contains("<span class=\"ansi-red\">frame 4999</span> &lt;x&gt;</pre>"));
    assert!(!r.html.contains("frame 2500<"));
    assert!(
        r.html
            .contains("3,000 lines) left out: <a class=\"full-output\" href=\"/full/0/1\">"),
        "{}",
        r.html
    );
    // The message is cut to 1,000 characters, saying how much more there was.
    let summary = r.error_summary.unwrap();
    assert!(
        summary.starts_with("E: <v><v>") && summary.ends_with("… (4.9 KiB more)"),
        "{summary}"
    );
    assert!(r.html.contains("&lt;v&gt;&lt;… (4.9 KiB more)</span>"));
    let full = full_output(
        &nb(json!([code_with(
            json!([{ "output_type": "error", "ename": "E", "evalue": "v", "traceback": tb }])
        )])),
        0,
        0,
    )
    .unwrap();
    assert!(
        full.starts_with("frame 0 <x>\nframe 1 <x>\n") && full.ends_with("frame 4999 <x>"),
        "ANSI dropped: {}",
        &full[..50]
    );
}

#[test]
fn huge_html_javascript_svg_and_images_become_notices() {
    let huge = "<div onclick=\"x()\">".repeat(RICH_LIMIT_BYTES / 19 + 1);
    let png = "A".repeat(IMAGE_LIMIT_BYTES + 4);
    let cells = json!([code_with(json!([
        display(json!({ "text/html": huge, "text/plain": "<HTML object>" })),
        display(json!({ "application/javascript": huge })),
        display(json!({ "image/svg+xml": huge })),
        display(json!({ "image/png": png })),
        display(json!({ "text/html": "<b>small</b>" })),
    ]))]);
    let r = render_notebook_with(&nb(cells.clone()), &links());
    assert!(r.html.len() < 20 * 1024, "{} bytes", r.html.len());
    assert!(r.html.contains(
        "<p class=\"omitted\" role=\"note\">This text/html output (8.0 MiB) is too large to show here: \
         <a class=\"download-notebook\" href=\"/dl/nb.ipynb\" download>download the .ipynb</a>.</p>"
    ), "{}", r.html);
    assert!(r
        .html
        .contains("This application/javascript output (8.0 MiB) is too large to show here"));
    assert!(r
        .html
        .contains("This image/svg+xml output (8.0 MiB) is too large to show here"));
    assert!(r
        .html
        .contains("This image/png image (2.0 MiB) is too large to show here"));
    assert!(
        !r.html.contains("onclick") && !r.html.contains("HTML object"),
        "not cut, not shown as text"
    );
    // Only the small one is a frame.
    let (_, docs) = crate::http::ui::frames::extract(&r.html, "/f");
    assert_eq!(docs.len(), 1);
    assert!(docs[0].contains("<b>small</b>"));
    let inert = render(cells);
    assert!(inert.html.contains("is too large to show here.</p>"));
}

#[test]
fn outputs_past_the_page_budget_become_notices_but_the_first_error_shows() {
    // 100 outputs of 60 KiB each (under the text limit): 6 MiB in all.
    let chunk = "x".repeat(60 * 1024);
    let mut outputs: Vec<Value> = (0..100)
        .map(|i| display(json!({ "text/plain": format!("{i}:{chunk}") })))
        .collect();
    outputs.push(
        json!({ "output_type": "error", "ename": "Boom", "evalue": "late", "traceback": ["tb"] }),
    );
    let r = render_notebook_with(
        &nb(json!([
            code_with(Value::Array(outputs)),
            code_with(
                json!([stream("later\n"), { "output_type": "error", "ename": "Second", "evalue": "", "traceback": [] }])
            ),
        ])),
        &links(),
    );
    assert!(
        r.html.len() < PAGE_BUDGET_BYTES + 2 * TEXT_LIMIT_BYTES,
        "{} bytes",
        r.html.len()
    );
    let shown = r.html.matches("<pre class=\"output-text\">").count();
    assert_eq!(
        shown, 86,
        "5 MiB of 60 KiB outputs, the last one over it included"
    );
    assert!(r.html.contains("<p class=\"omitted\" role=\"note\">14 more outputs not shown (840.7 KiB): this page already shows 5.0 MiB of outputs: <a class=\"download-notebook\" href=\"/dl/nb.ipynb\" download>download the .ipynb</a>.</p>"), "{}", &r.html[r.html.len() - 3000..]);
    assert!(
        r.html.contains("<span class=\"ename\">Boom</span>"),
        "the first error is shown"
    );
    assert_eq!(r.error_summary.as_deref(), Some("Boom: late"));
    assert!(
        r.html.contains("2 more outputs not shown (79 bytes)")
            && !r.html.contains("later")
            && !r.html.contains("Second")
    );
}

#[test]
fn frame_documents_have_their_own_budget() {
    let html = "<p>".repeat(7 * 1024 * 1024 / 3);
    let outputs: Vec<Value> = (0..6)
        .map(|_| display(json!({ "text/html": html })))
        .collect();
    let r = render_notebook_with(&nb(json!([code_with(Value::Array(outputs))])), &links());
    assert_eq!(srcdocs(&r.html).len(), 5, "32 MiB of frames");
    assert!(r.html.contains("This text/html output (7.0 MiB) is not shown: the rich outputs above it already weigh 35.0 MiB"), "{}", without_srcdoc(&r.html));
    // The page itself stays light once the frames move to their own URLs.
    assert!(crate::http::ui::frames::extract(&r.html, "/f").0.len() < 4096);
}

#[test]
fn full_output_is_text_only() {
    let notebook = nb(json!([
        md("# x"),
        code_with(json!([
            display(json!({ "text/html": "<b>x</b>", "text/plain": "x" })),
            display(json!({ "text/markdown": "**m**" })),
            { "output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": { "text/plain": "\u{1b}[1mbold\u{1b}[0m" } },
        ])),
    ]));
    assert_eq!(full_output(&notebook, 0, 0), None, "a markdown cell");
    assert_eq!(
        full_output(&notebook, 1, 0),
        None,
        "HTML is in the download"
    );
    assert_eq!(full_output(&notebook, 1, 1).as_deref(), Some("**m**"));
    assert_eq!(full_output(&notebook, 1, 2).as_deref(), Some("bold"));
    assert_eq!(full_output(&notebook, 1, 3), None);
    assert_eq!(full_output(&notebook, 9, 0), None);
}

#[test]
fn long_markdown_output_is_shown_as_cut_text() {
    let src = "<script>x()</script> *a*\n".repeat(3000);
    let r = render(json!([code_with(json!([display(
        json!({ "text/markdown": src })
    )]))]));
    assert!(
        r.html
            .contains("<pre class=\"output-text\">&lt;script&gt;x()&lt;/script&gt; *a*\n"),
        "{}",
        &r.html[..500]
    );
    assert!(r.html.contains("1,000 lines) left out ⋯</span>"));
}

// ---------------------------------------------------------------------------------------
// Properties: whatever the strings, the markup stays inert; whatever the JSON, no panic.

fn hostile_text() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "javascript:",
        "[x](",
        ")",
        "](",
        "![",
        "<",
        ">",
        "\"",
        "'",
        "&",
        "&#106;",
        "=",
        " ",
        "\n",
        "\n\n",
        "`",
        "```",
        "*",
        "#",
        "|",
        "---",
        "- ",
        "1. ",
        "<a href=",
        "data:image/svg+xml,",
        "data:image/png;base64,",
        "http://e/",
        "\u{1b}[31m",
        "\u{1b}[0m",
        "\u{1b}]0;t\u{7}",
        "\u{1b}",
        "\r",
        "<!--",
        "-->",
        "<svg onload=x>",
        "</pre>",
        "</iframe>",
        "srcdoc=\"",
        "mailto:",
        "<x@y.z>",
        "\\",
        "$$",
        "~~",
        "[^1]",
    ]);
    prop::collection::vec(
        prop_oneof![atoms.prop_map(str::to_string), "[a-z]{0,3}"],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "cells",
        "cell_type",
        "source",
        "outputs",
        "output_type",
        "data",
        "text",
        "name",
        "ename",
        "evalue",
        "traceback",
        "metadata",
        "papermill",
        "status",
        "duration",
        "execution_count",
        "tags",
        "attachments",
        "text/html",
        "image/png",
        "text/markdown",
        "application/json",
        "code",
        "markdown",
        "raw",
        "stream",
        "error",
        "display_data",
        "execute_result",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_text().prop_map(Value::String),
        prop::sample::select(vec![
            "code",
            "markdown",
            "raw",
            "stream",
            "error",
            "display_data",
            "execute_result",
            "failed",
            "stderr",
            "papermill-error-cell-tag"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hostile_strings_stay_inert(md_src in hostile_text(), text in hostile_text(), html in hostile_text()) {
        let r = render_notebook(&nb(json!([
            md(&md_src),
            { "cell_type": "raw", "source": text },
            code_with(json!([
                { "output_type": "stream", "name": "stdout", "text": text },
                { "output_type": "error", "ename": text, "evalue": md_src, "traceback": [text] },
                display(json!({ "text/html": html })),
                display(json!({ "image/png": text, "text/plain": text })),
                display(json!({ "text/markdown": md_src })),
            ])),
        ])));
        assert_markup_inert(&r.html);
        prop_assert_eq!(r.first_error, Some(2));
    }

    #[test]
    fn ansi_output_is_escaped(s in hostile_text()) {
        let out = ansi_to_html(&s);
        for tag in tags(&out) {
            prop_assert!(tag.name == "span", "{:?}", tag.raw);
        }
        prop_assert!(!out.contains('\u{1b}'), "escape left in output");
    }

    #[test]
    fn arbitrary_json_never_panics(doc in arbitrary_json(), cells in prop::collection::vec(arbitrary_json(), 0..5)) {
        assert_markup_inert(&render_notebook(&doc).html);
        assert_markup_inert(&render_notebook(&nb(Value::Array(cells))).html);
    }
}
