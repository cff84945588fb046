//! Rich notebook outputs (HTML, JavaScript, SVG) served as their own documents.
//!
//! The renderer puts each such output in `<iframe sandbox="allow-scripts" srcdoc>`.
//! A `srcdoc` document inherits the app page's Content-Security-Policy, which allows
//! no inline script, so plots and widgets would stay blank. Instead the page points
//! each iframe at `…/attempts/{n}/frames/{i}`, served with its own policy whose
//! `sandbox allow-scripts` directive gives the document an opaque origin even if it
//! is opened directly: its scripts run, but can reach neither the app's DOM, its
//! cookies nor its API.

/// The policy of a frame document: scripts and styles inline or from https, no
/// network access back, framed only by the app, and always sandboxed.
pub const FRAME_POLICY: &str = "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval' https:; \
style-src 'unsafe-inline' https:; img-src data: blob: https:; font-src data: https:; connect-src 'none'; frame-ancestors 'self'";

const OPEN: &str = "<iframe class=\"output-html";
const SRCDOC: &str = " srcdoc=\"";

/// The attribute escaping of [`super::escape::escape`], undone.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Rewrite the renderer's `srcdoc` iframes to `src="{base}/{i}"`; returns the new
/// fragment and the frame documents, in order. Only the renderer's own iframes can
/// match: everything from the notebook is escaped, so no `<iframe` text survives.
pub fn extract(html: &str, base: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(html.len());
    let mut docs = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(OPEN) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let Some(tag_end) = from.find('>') else { break };
        let tag = &from[..tag_end];
        match tag.find(SRCDOC) {
            Some(s) => {
                let value_start = s + SRCDOC.len();
                let Some(len) = tag[value_start..].find('"') else { break };
                docs.push(unescape(&tag[value_start..value_start + len]));
                out.push_str(&tag[..s]);
                out.push_str(&format!(" src=\"{base}/{}\"", docs.len() - 1));
                out.push_str(&tag[value_start + len + 1..]);
            }
            None => out.push_str(tag),
        }
        rest = &from[tag_end..];
    }
    out.push_str(rest);
    (out, docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ui::notebook::render_notebook;

    #[test]
    fn html_outputs_move_to_their_own_urls_and_nothing_else_changes() {
        let nb = serde_json::json!({"cells": [
            {"cell_type": "code", "source": "x", "metadata": {}, "outputs": [
                {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<b onclick=\"a('x')\">hi &amp; bye</b><script>1<2</script>"}},
                {"output_type": "stream", "name": "stdout", "text": "<iframe class=\"output-html\" srcdoc=\"<script>evil()</script>\">"},
            ]},
            {"cell_type": "code", "source": "y", "metadata": {}, "outputs": [
                {"output_type": "display_data", "metadata": {}, "data": {"application/javascript": "element.textContent = 'js'"}},
            ]},
        ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5});
        let r = render_notebook(&nb);
        let (html, docs) = extract(&r.html, "/f");
        assert_eq!(docs.len(), 2, "the printed iframe text is not a frame");
        assert!(docs[0].contains("<b onclick=\"a('x')\">hi &amp; bye</b><script>1<2</script>"), "{}", docs[0]);
        assert!(docs[1].contains("element.textContent = 'js'"));
        assert!(html.contains("src=\"/f/0\"") && html.contains("src=\"/f/1\""));
        assert!(!html.contains(" srcdoc=\""), "{html}");
        assert_eq!(html.matches("sandbox=\"allow-scripts\"").count(), 2);
        assert!(html.contains("&lt;iframe class=&quot;output-html&quot;"), "printed text stays escaped text");
    }
}
