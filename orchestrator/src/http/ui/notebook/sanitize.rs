//! What is kept of untrusted URLs and payloads: link and image URLs by scheme,
//! base64 by alphabet, and script text that cannot end its `<script>` early.


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
pub(super) fn safe_link_href(url: &str) -> String {
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
pub(super) fn safe_image_src(url: &str) -> Option<String> {
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
pub(super) fn clean_base64(s: &str) -> Option<String> {
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

/// `</script` inside a script would end it early; `<\/script` means the same in JS strings.
pub(super) fn neutralize_script_end(js: &str) -> String {
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
