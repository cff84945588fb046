//! What a notebook recorded for downstream use.
//!
//! Two sources, read after the last cell:
//! 1. declared variables, fetched from the still-running kernel as JSON — through
//!    `user_expressions` on Python, a printed line on R ([`by_language`]) — the
//!    notebook needs no library;
//! 2. scrapbook `glue` scraps (`application/scrapbook.scrap.<encoder>+json`) and
//!    papermill < 1.0 `record` outputs; the last one of a name wins.
//!
//! Declared variables win over scraps of the same name: they were asked for.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Result};

mod by_language;
pub use by_language::{query_for, Query};

/// Recorded values by name, in the order they were first recorded.
pub type Recorded = IndexMap<String, Value>;

/// Largest recorded value, serialized. Bigger values belong in files; pass a path.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Is `name` a plain identifier? Declared output names become code in the kernel, so
/// anything else is refused up front.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The `user_expressions` that fetch `names` as JSON from a Python kernel. Each
/// evaluates to an object whose `repr` *is* the JSON text, so the `text/plain` of
/// the reply is parseable as is (a `json.dumps` string would come back quoted).
pub fn python_expressions(names: &[String]) -> HashMap<String, String> {
    names
        .iter()
        .map(|n| {
            (
                n.clone(),
                format!(
                    "type('DeckleJSON', (), {{'__repr__': lambda self, _v=__import__('json').dumps({n}, allow_nan=False): _v}})()"
                ),
            )
        })
        .collect()
}

/// Turn one `user_expressions` result into a value, or a clear error.
pub fn parse_expression_result(name: &str, result: Option<&Value>) -> Result<Value> {
    let err = |message: String| Error::Output { name: name.to_string(), message };
    let Some(r) = result else {
        return Err(err("the kernel returned nothing for it (declared outputs need a Python kernel)".into()));
    };
    match r.get("status").and_then(Value::as_str) {
        Some("ok") => {
            let text = r.pointer("/data/text~1plain").and_then(Value::as_str).unwrap_or("");
            check_size(name, text.len())?;
            serde_json::from_str(text).map_err(|e| err(format!("the kernel's answer is not JSON: {e}")))
        }
        _ => {
            let ename = r.get("ename").and_then(Value::as_str).unwrap_or("Error");
            let evalue = r.get("evalue").and_then(Value::as_str).unwrap_or("");
            Err(err(match ename {
                "NameError" => "declared in outputs but the notebook never set it".to_string(),
                "TypeError" => format!("not JSON-serializable ({evalue}); record a path or a plain value instead"),
                "ValueError" => format!("cannot be written as JSON ({evalue})"),
                _ => format!("{ename}: {evalue}"),
            }))
        }
    }
}

fn check_size(name: &str, len: usize) -> Result<()> {
    if len > MAX_VALUE_BYTES {
        return Err(Error::Output {
            name: name.to_string(),
            message: format!("value is {len} bytes, over the {MAX_VALUE_BYTES}-byte limit; write it to a file and record the path"),
        });
    }
    Ok(())
}

/// Every scrapbook scrap (and legacy papermill record) in the notebook, in
/// output order, the last of a name winning. `json` and `text` scraps record their
/// data; other encoders (`pandas`, `arrow`, …) record `{"encoder", "data"}` as glued.
pub fn collect_scraps(nb: &Value) -> Result<Recorded> {
    let mut out = Recorded::new();
    let cells = nb["cells"].as_array().into_iter().flatten();
    for cell in cells {
        for o in cell["outputs"].as_array().into_iter().flatten() {
            let Some(data) = o.get("data").and_then(Value::as_object) else { continue };
            for (mime, payload) in data {
                if mime.starts_with("application/scrapbook.scrap.") {
                    let Some(name) = payload.get("name").and_then(Value::as_str) else { continue };
                    let encoder = payload.get("encoder").and_then(Value::as_str).unwrap_or("json");
                    let value = match encoder {
                        "json" | "text" => payload.get("data").cloned().unwrap_or(Value::Null),
                        // `display` scraps carry no data, only what was shown.
                        "display" => continue,
                        other => serde_json::json!({"encoder": other, "data": payload.get("data")}),
                    };
                    check_size(name, serde_json::to_string(&value).map(|s| s.len()).unwrap_or(0))?;
                    out.shift_remove(name);
                    out.insert(name.to_string(), value);
                } else if mime == "application/papermill.record+json" {
                    for (name, value) in payload.as_object().into_iter().flatten() {
                        out.shift_remove(name);
                        out.insert(name.clone(), value.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_must_be_identifiers() {
        assert!(valid_name("total_2"));
        assert!(valid_name("_x"));
        assert!(!valid_name("2x"));
        assert!(!valid_name("a; import os"));
        assert!(!valid_name(""));
    }

    #[test]
    fn later_scrap_of_a_name_wins() {
        let scrap = |name: &str, data: Value| json!({"output_type": "display_data", "metadata": {},
            "data": {"application/scrapbook.scrap.json+json": {"name": name, "data": data, "encoder": "json", "version": 1}}});
        let nb = json!({"cells": [
            {"cell_type": "code", "outputs": [scrap("a", json!(1)), scrap("b", json!([1, 2]))]},
            {"cell_type": "markdown"},
            {"cell_type": "code", "outputs": [scrap("a", json!({"k": "v"}))]},
        ]});
        let r = collect_scraps(&nb).unwrap();
        assert_eq!(r["a"], json!({"k": "v"}));
        assert_eq!(r["b"], json!([1, 2]));
    }

    #[test]
    fn missing_variable_is_a_clear_error() {
        let r = json!({"status": "error", "ename": "NameError", "evalue": "name 'x' is not defined", "traceback": []});
        let e = parse_expression_result("x", Some(&r)).unwrap_err().to_string();
        assert!(e.contains("output 'x'") && e.contains("never set it"), "{e}");
        let ok = json!({"status": "ok", "data": {"text/plain": "{\"a\": [1, 2.5]}"}, "metadata": {}});
        assert_eq!(parse_expression_result("x", Some(&ok)).unwrap(), json!({"a": [1, 2.5]}));
    }
}
