//! Markdown cells and outputs: raw HTML shown as text, links and images restricted
//! (see [`super::sanitize`]).

use pulldown_cmark::{CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value};

use super::multiline;
use super::sanitize::{clean_base64, safe_image_src, safe_link_href};
use crate::http::ui::escape::escape;

/// Renders markdown with raw HTML shown as text, links and images restricted (see module
/// docs); `attachments` resolves `attachment:NAME` images of a markdown cell.
pub(super) fn render_markdown(src: &str, attachments: Option<&Map<String, Value>>) -> String {
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
