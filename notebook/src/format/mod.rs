//! Reading `.ipynb` JSON as Python's `nbformat.read(f, as_version=4)` reads it, and
//! writing it as `nbformat.writes` lays it out ([`write`]).
//!
//! One reader for every part of Deckle that opens a notebook: `deckle execute` and
//! the worker (through `deckle_worker::notebook`), `deckle validate` and workflow
//! registration (through the DSL's notebook check), the web UI, and the coordinator
//! writing the prepared and lost notebooks of attempts.
//!
//! - [`parse_json`]: JSON as Python's `json` reads it (bare `NaN`, `Infinity`,
//!   `-Infinity` are accepted and become `null`: strict JSON on write has no place
//!   for them, and `null` is what Deckle records for non-finite parameters too);
//! - [`parse`]: that, plus the nbformat 4 schema checks of [`check`] (wrong types are
//!   refused naming the cell and field; unknown keys are kept as they are; required
//!   fields a tool left out get nbformat's defaults), then multi-line fields joined.

mod check;
pub use check::is_valid_cell_id;
mod json;
#[cfg(test)]
mod tests;
mod write;
pub use write::*;

use serde_json::Value;

pub use json::parse_json;

/// Parse and check notebook JSON; the error names what is wrong and where.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut nb = parse_json(text)?;
    check::notebook(&mut nb)?;
    rejoin_lines(&mut nb);
    Ok(nb)
}

fn join_if_list(v: &mut Value) {
    if let Value::Array(parts) = v {
        if parts.iter().all(Value::is_string) {
            let s: String = parts.iter().filter_map(Value::as_str).collect();
            *v = Value::String(s);
        }
    }
}

/// Mime types nbformat stores as lists of lines.
pub fn is_split_mime(key: &str) -> bool {
    key.starts_with("text/") || key == "application/javascript" || key == "image/svg+xml"
}

/// Apply `f` to every multi-line field nbformat splits into lines.
pub fn for_each_multiline(nb: &mut Value, f: &dyn Fn(&mut Value)) {
    let Some(cells) = nb.get_mut("cells").and_then(Value::as_array_mut) else { return };
    for cell in cells {
        if let Some(src) = cell.get_mut("source") {
            f(src);
        }
        if let Some(att) = cell.get_mut("attachments").and_then(Value::as_object_mut) {
            for bundle in att.values_mut().filter_map(Value::as_object_mut) {
                for (k, v) in bundle.iter_mut() {
                    if is_split_mime(k) {
                        f(v);
                    }
                }
            }
        }
        if cell.get("cell_type").and_then(Value::as_str) != Some("code") {
            continue;
        }
        for out in cell.get_mut("outputs").and_then(Value::as_array_mut).into_iter().flatten() {
            match out.get("output_type").and_then(Value::as_str) {
                Some("stream") => {
                    if let Some(t) = out.get_mut("text") {
                        f(t);
                    }
                }
                Some("execute_result" | "display_data") => {
                    if let Some(data) = out.get_mut("data").and_then(Value::as_object_mut) {
                        for (k, v) in data.iter_mut() {
                            if is_split_mime(k) {
                                f(v);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// nbformat's `rejoin_lines`: lists of lines become strings.
pub fn rejoin_lines(nb: &mut Value) {
    for_each_multiline(nb, &join_if_list);
}

/// Whether the notebook has a cell tagged `parameters` (what `deckle validate` needs).
pub fn has_parameters_cell(nb: &Value) -> bool {
    nb.get("cells").and_then(Value::as_array).into_iter().flatten().any(|c| {
        c.pointer("/metadata/tags").and_then(Value::as_array).is_some_and(|t| t.iter().any(|t| t == "parameters"))
    })
}
