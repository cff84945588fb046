//! JSON as Python's `json.loads` reads it.
//!
//! Python's `json` writes and reads the bare tokens `NaN`, `Infinity` and
//! `-Infinity`; papermill records a `nan` parameter that way, so every papermill
//! output notebook run with one holds them. serde_json refuses them, and a
//! `serde_json::Value` number cannot be non-finite, so they are read as `null`.

use serde_json::Value;

/// Parse JSON the way Python's `json` does (see the module docs); a UTF-8 byte
/// order mark, which Windows editors write, is skipped.
pub fn parse_json(text: &str) -> Result<Value, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Most notebooks hold no such token: one substring search (fast even in debug
    // builds) spares them the scan, and a notebook that holds one is parsed once.
    let lenient = if text.contains("NaN") || text.contains("Infinity") { non_finite_as_null(text) } else { None };
    let err = match serde_json::from_str(lenient.as_deref().unwrap_or(text)) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    Err(format!("not JSON: {err}"))
}

/// The text with every `NaN`, `Infinity` and `-Infinity` outside strings replaced by
/// `null`, or None when there is none.
fn non_finite_as_null(text: &str) -> Option<String> {
    const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if matches!(b, b'-' | b'I' | b'N') {
            if let Some(tok) = TOKENS.iter().find(|t| bytes[i..].starts_with(t.as_bytes())) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..i]);
                o.push_str("null");
                i += tok.len();
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}
