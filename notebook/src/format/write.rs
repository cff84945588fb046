//! Writing `.ipynb` JSON the way nbformat does, and building cells as nbformat's
//! `v4` helpers build them.
//!
//! A notebook is kept as a `serde_json::Value` so that every field a tool put there
//! survives a run untouched. On read, multi-line fields given as lists of lines
//! were joined (nbformat's `rejoin_lines`); on write they are split again with
//! Python's `str.splitlines(keepends=True)`, and the JSON is laid out as
//! `nbformat.writes` lays it out: indent 1, keys sorted, non-ASCII kept, floats in
//! Python's `repr`, no trailing newline. Writing files (atomically) is the caller's.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{for_each_multiline, is_valid_cell_id};

/// Python's `str.splitlines(keepends=True)`.
pub fn py_splitlines(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let is_break = matches!(
            c,
            '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        let mut end = i + c.len_utf8();
        if c == '\r' {
            if let Some(&(j, '\n')) = it.peek() {
                end = j + 1;
                it.next();
            }
        }
        out.push(s[start..end].to_string());
        start = end;
    }
    if start < s.len() {
        out.push(s[start..].to_string());
    }
    out
}

fn split_string(v: &mut Value) {
    if let Value::String(s) = v {
        *v = Value::Array(py_splitlines(s).into_iter().map(Value::String).collect());
    }
}

/// nbformat's `strip_transient`: fields that must never be stored.
fn strip_transient(nb: &mut Value) {
    if let Some(md) = nb.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["orig_nbformat", "orig_nbformat_minor", "signature"] {
            md.remove(k);
        }
    }
    for cell in nb.get_mut("cells").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(md) = cell.get_mut("metadata").and_then(Value::as_object_mut) {
            md.remove("trusted");
        }
    }
}

/// The notebook as `nbformat.writes` renders it.
pub fn to_string(nb: &Value) -> String {
    let mut nb = nb.clone();
    for_each_multiline(&mut nb, &split_string);
    strip_transient(&mut nb);
    let mut buf = Vec::with_capacity(16 * 1024);
    write_python_json(&nb, &mut buf);
    // Only valid UTF-8 goes in, so only valid UTF-8 comes out.
    String::from_utf8(buf).unwrap_or_default()
}

/// JSON as Python's `json.dumps(indent=1, sort_keys=True, ensure_ascii=False)`.
fn write_python_json(v: &Value, out: &mut Vec<u8>) {
    let sorted = sort_keys(v);
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, PyFormatter::default());
    // Serializing a Value into a Vec cannot fail.
    let _ = sorted.serialize(&mut ser);
}

fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(m.len());
            for k in keys {
                out.insert(k.clone(), sort_keys(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// serde_json's pretty layout with a one-space indent, plus Python's float `repr`.
struct PyFormatter {
    inner: serde_json::ser::PrettyFormatter<'static>,
}

impl Default for PyFormatter {
    fn default() -> Self {
        PyFormatter { inner: serde_json::ser::PrettyFormatter::with_indent(b" ") }
    }
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            self.inner.$name(w $(, $arg)*)
        }
    )*};
}

impl serde_json::ser::Formatter for PyFormatter {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, value: f64) -> std::io::Result<()> {
        w.write_all(crate::python::python_float_repr(value).as_bytes())
    }
}

/// Upgrade to nbformat 4.5 as `nbformat.v4.upgrade` does: every cell gets an `id`.
///
/// A cell keeps an `id` it already has if that is a valid 4.5 id not used by an
/// earlier cell; before 4.5 ids were not checked, and a duplicate or malformed
/// one would make the written notebook invalid, so it gets a fresh id. A 4.5
/// notebook missing ids or repeating one is repaired the same way, as nbformat's
/// validator does on read (its malformed ids were refused by [`parse`]).
pub fn upgrade_to_v4_5(nb: &mut Value) {
    let minor = nb.get("nbformat_minor").and_then(Value::as_u64).unwrap_or(0);
    if minor < 5 {
        nb["nbformat_minor"] = Value::from(5);
    }
    let mut seen = std::collections::HashSet::new();
    for cell in nb.get_mut("cells").and_then(Value::as_array_mut).into_iter().flatten() {
        let keep = match cell.get("id").and_then(Value::as_str) {
            Some(id) => is_valid_cell_id(id) && seen.insert(id.to_string()),
            None => false,
        };
        if !keep {
            let mut id = new_cell_id();
            while !seen.insert(id.clone()) {
                id = new_cell_id();
            }
            cell["id"] = Value::String(id);
        }
    }
}

/// nbformat's `random_cell_id`: eight hex digits.
pub fn new_cell_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// A new markdown cell as `nbformat.v4.new_markdown_cell` makes it.
pub fn new_markdown_cell(source: &str, tags: &[&str]) -> Value {
    serde_json::json!({
        "cell_type": "markdown",
        "id": new_cell_id(),
        "metadata": {"tags": tags},
        "source": source,
    })
}

/// A new code cell as `nbformat.v4.new_code_cell` makes it.
pub fn new_code_cell(source: &str, metadata: Value) -> Value {
    serde_json::json!({
        "cell_type": "code",
        "execution_count": null,
        "id": new_cell_id(),
        "metadata": metadata,
        "outputs": [],
        "source": source,
    })
}

/// A cell's source as one string.
pub fn source(cell: &Value) -> &str {
    cell.get("source").and_then(Value::as_str).unwrap_or("")
}

/// A cell's tags.
pub fn tags(cell: &Value) -> Vec<&str> {
    cell.pointer("/metadata/tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse;

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(py_splitlines("a\nb"), vec!["a\n", "b"]);
        assert_eq!(py_splitlines("a\r\nb\rc\n"), vec!["a\r\n", "b\r", "c\n"]);
        assert_eq!(py_splitlines(""), Vec::<String>::new());
        assert_eq!(py_splitlines("x\u{2028}y\x0cz"), vec!["x\u{2028}", "y\x0c", "z"]);
    }

    #[test]
    fn writes_like_nbformat() {
        let nb = serde_json::json!({
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"z": 1e-05, "a": 2.0, "é": "ü\u{1}"},
            "cells": [{"cell_type": "code", "id": "x", "metadata": {"trusted": true}, "execution_count": null,
                       "outputs": [{"output_type": "stream", "name": "stdout", "text": "a\nb\n"}], "source": "x = 1\ny"}]
        });
        let s = to_string(&nb);
        let expected = "{\n \"cells\": [\n  {\n   \"cell_type\": \"code\",\n   \"execution_count\": null,\n   \"id\": \"x\",\n   \"metadata\": {},\n   \"outputs\": [\n    {\n     \"name\": \"stdout\",\n     \"output_type\": \"stream\",\n     \"text\": [\n      \"a\\n\",\n      \"b\\n\"\n     ]\n    }\n   ],\n   \"source\": [\n    \"x = 1\\n\",\n    \"y\"\n   ]\n  }\n ],\n \"metadata\": {\n  \"a\": 2.0,\n  \"z\": 1e-05,\n  \"é\": \"ü\\u0001\"\n },\n \"nbformat\": 4,\n \"nbformat_minor\": 5\n}";
        assert_eq!(s, expected);
    }

    #[test]
    fn parse_rejects_what_is_not_a_notebook_with_a_reason() {
        assert!(parse("{").unwrap_err().starts_with("not JSON"));
        assert!(parse("[]").unwrap_err().contains("not a JSON object"));
        assert!(parse(r#"{"a": 1}"#).unwrap_err().contains("nbformat"));
        assert!(parse(r#"{"nbformat": 3, "metadata": {}, "worksheets": []}"#).unwrap_err().contains("nbformat 3"));
        let bad_cell = r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "potato", "source": ""}]}"#;
        assert!(parse(bad_cell).unwrap_err().contains("cell 0"));
    }

    #[test]
    fn parse_joins_lines_and_upgrade_adds_ids() {
        let text = r#"{"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["a\n", "b"]}]}"#;
        let mut nb = parse(text).unwrap();
        assert_eq!(nb["cells"][0]["source"], "a\nb");
        upgrade_to_v4_5(&mut nb);
        assert_eq!(nb["nbformat_minor"], 5);
        assert_eq!(nb["cells"][0]["id"].as_str().unwrap().len(), 8);
    }

    #[test]
    fn upgrade_replaces_duplicate_and_malformed_ids() {
        // Before 4.5 ids were not checked; written as 4.5 they must be valid and unique.
        let cell = |id: serde_json::Value| serde_json::json!({"cell_type": "raw", "metadata": {}, "source": "", "id": id});
        let mut nb = serde_json::json!({"nbformat": 4, "nbformat_minor": 4, "metadata": {},
            "cells": [cell("c1".into()), cell("c1".into()), cell("a b".into()), cell(7.into()), cell("ok-2".into())]});
        upgrade_to_v4_5(&mut nb);
        let ids: Vec<&str> = nb["cells"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids[0], "c1");
        assert_eq!(ids[4], "ok-2");
        assert!(ids[1..4].iter().all(|id| id.len() == 8 && *id != "c1"), "{ids:?}");
        assert!(parse(&to_string(&nb)).is_ok());
    }

    #[test]
    fn upgrade_repairs_missing_and_repeated_ids_of_4_5_notebooks() {
        // nbformat's validator does this on read; a 4.5 notebook written by a tool
        // that forgot ids must not be written back invalid.
        let text = r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            {"cell_type": "raw", "id": "a", "metadata": {}, "source": ""},
            {"cell_type": "raw", "id": "a", "metadata": {}, "source": ""},
            {"cell_type": "raw", "metadata": {}, "source": ""}]}"#;
        let mut nb = parse(text).unwrap();
        upgrade_to_v4_5(&mut nb);
        let ids: Vec<&str> = nb["cells"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids[0], "a");
        assert!(ids[1] != "a" && ids[1].len() == 8 && ids[2].len() == 8 && ids[1] != ids[2], "{ids:?}");
    }

    #[test]
    fn papermill_nan_parameters_are_written_back_as_strict_json() {
        let text = r#"{"nbformat": 4, "nbformat_minor": 5, "cells": [],
            "metadata": {"papermill": {"parameters": {"x": NaN, "y": -Infinity, "z": 1.5}}}}"#;
        let written = to_string(&parse(text).unwrap());
        let strict: Value = serde_json::from_str(&written).expect("strict JSON");
        assert_eq!(strict["metadata"]["papermill"]["parameters"], serde_json::json!({"x": null, "y": null, "z": 1.5}));
    }
}
