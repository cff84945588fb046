//! nbformat 4's schema, checked where it matters and repaired where nbformat would.
//!
//! The reference is Python's nbformat (`nbformat.validate` against the v4 JSON
//! schema): a field of the wrong type is refused, with the cell, output and field
//! named. Deliberately looser than the schema in three ways, each what papermill
//! ends up doing: keys the schema does not know are kept untouched (papermill keeps
//! them too, after logging "Notebook JSON is invalid"); required fields a tool left
//! out get the value `nbformat.v4.new_*` would give them (`metadata: {}`,
//! `outputs: []`, `execution_count: null`); missing and repeated cell ids are left for the
//! worker to assign when it writes 4.5, as nbformat's validator repairs them.

use serde_json::{Map, Value};

type Check = Result<(), String>;

/// Check (and complete) a parsed notebook.
pub fn notebook(nb: &mut Value) -> Check {
    let obj = nb.as_object_mut().ok_or("not a notebook: the top level is not a JSON object")?;
    let major = match obj.get("nbformat") {
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        _ => return Err("not a notebook: no integer `nbformat` field".into()),
    };
    if major != 4 {
        return Err(format!(
            "nbformat {major} is not supported; convert it to version 4 (`jupyter nbconvert --to notebook`)"
        ));
    }
    let minor = match obj.get("nbformat_minor") {
        None => 0,
        Some(v) => v.as_u64().ok_or_else(|| format!("`nbformat_minor` must be a non-negative integer, not {}", short(v)))?,
    };
    let md = obj.get("metadata").and_then(Value::as_object).ok_or("not a notebook: `metadata` is missing or not an object")?;
    notebook_metadata(md)?;
    let cells = obj
        .get_mut("cells")
        .and_then(Value::as_array_mut)
        .ok_or("not a notebook: `cells` is missing or not a list")?;
    for (i, cell) in cells.iter_mut().enumerate() {
        self::cell(cell, minor).map_err(|m| format!("cell {i}: {m}"))?;
    }
    Ok(())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

fn want(ok: bool, field: &str, what: &str, v: &Value) -> Check {
    if ok {
        Ok(())
    } else {
        Err(format!("`{field}` must be {what}, not {}", short(v)))
    }
}

fn is_multiline(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(a) => a.iter().all(Value::is_string),
        _ => false,
    }
}

fn is_string_list(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

fn is_count(v: &Value) -> bool {
    v.is_null() || v.as_u64().is_some()
}

/// Each field that is present must have its schema type.
fn fields(obj: &Map<String, Value>, prefix: &str, rules: &[(&str, &str, fn(&Value) -> bool)]) -> Check {
    for (name, what, ok) in rules {
        if let Some(v) = obj.get(*name) {
            want(ok(v), &format!("{prefix}{name}"), what, v)?;
        }
    }
    Ok(())
}

fn notebook_metadata(md: &Map<String, Value>) -> Check {
    if let Some(ks) = md.get("kernelspec") {
        let ks = ks.as_object().ok_or_else(|| format!("`metadata.kernelspec` must be an object, not {}", short(ks)))?;
        for key in ["name", "display_name"] {
            match ks.get(key) {
                Some(Value::String(_)) => {}
                Some(v) => want(false, &format!("metadata.kernelspec.{key}"), "a string", v)?,
                None => return Err(format!("`metadata.kernelspec` has no `{key}`")),
            }
        }
    }
    if let Some(li) = md.get("language_info") {
        let li = li.as_object().ok_or_else(|| format!("`metadata.language_info` must be an object, not {}", short(li)))?;
        match li.get("name") {
            Some(Value::String(_)) => {}
            Some(v) => want(false, "metadata.language_info.name", "a string", v)?,
            None => return Err("`metadata.language_info` has no `name`".into()),
        }
        // `version` is not in the schema: VS Code wrote the integer 3 there.
        fields(
            li,
            "metadata.language_info.",
            &[
                ("codemirror_mode", "a string or an object", |v| v.is_string() || v.is_object()),
                ("file_extension", "a string", Value::is_string),
                ("mimetype", "a string", Value::is_string),
                ("pygments_lexer", "a string", Value::is_string),
            ],
        )?;
    }
    fields(
        md,
        "metadata.",
        &[("title", "a string", Value::is_string), ("authors", "a list", Value::is_array)],
    )
}

fn cell(cell: &mut Value, minor: u64) -> Check {
    let Value::Object(obj) = cell else { return Err(format!("a cell must be an object, not {}", short(cell))) };
    // Before 4.5 an `id` was an unknown key (upgrading replaces a bad one); from 4.5 a
    // malformed one is refused, a missing or repeated one repaired, as nbformat does.
    if let (5.., Some(id)) = (minor, obj.get("id")) {
        want(id.as_str().is_some_and(is_valid_cell_id), "id", "1 to 64 letters, digits, '-' or '_'", id)?;
    }
    let kind = match obj.get("cell_type") {
        Some(Value::String(k)) if matches!(k.as_str(), "code" | "markdown" | "raw") => k.clone(),
        Some(other) => return Err(format!("unknown cell_type {}", short(other))),
        None => return Err("no `cell_type`".into()),
    };
    match obj.get("source") {
        Some(v) if is_multiline(v) => {}
        _ => return Err("`source` must be a string or a list of strings".into()),
    }
    match obj.get("metadata") {
        None => {
            obj.insert("metadata".into(), Value::Object(Map::new()));
        }
        Some(Value::Object(md)) => cell_metadata(md)?,
        Some(v) => want(false, "metadata", "an object", v)?,
    }
    if let Some(att) = obj.get("attachments") {
        let att = att.as_object().ok_or_else(|| format!("`attachments` must be an object, not {}", short(att)))?;
        for (name, bundle) in att {
            mimebundle(bundle, &format!("attachments.{name}"))?;
        }
    }
    if kind != "code" {
        return Ok(());
    }
    let count = obj.entry("execution_count").or_insert(Value::Null);
    want(is_count(count), "execution_count", "a non-negative integer or null", count)?;
    let outputs = obj.entry("outputs").or_insert_with(|| Value::Array(Vec::new()));
    let outputs = match outputs {
        Value::Array(a) => a,
        v => return want(false, "outputs", "a list", v),
    };
    for (j, out) in outputs.iter_mut().enumerate() {
        output(out).map_err(|m| format!("output {j}: {m}"))?;
    }
    Ok(())
}

fn cell_metadata(md: &Map<String, Value>) -> Check {
    fields(
        md,
        "metadata.",
        &[
            ("tags", "a list of strings", is_string_list),
            ("name", "a string", Value::is_string),
            ("format", "a string", Value::is_string),
            ("jupyter", "an object", Value::is_object),
            ("execution", "an object", Value::is_object),
            ("collapsed", "true or false", Value::is_boolean),
            ("scrolled", "true, false or \"auto\"", |v| v.is_boolean() || v == "auto"),
        ],
    )
}

/// nbformat 4.5's cell id pattern: `^[a-zA-Z0-9-_]+$`, 1 to 64 characters.
pub fn is_valid_cell_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A mime bundle: JSON mime types may hold anything, every other one text.
fn mimebundle(bundle: &Value, field: &str) -> Check {
    let map = bundle.as_object().ok_or_else(|| format!("`{field}` must be an object, not {}", short(bundle)))?;
    for (mime, v) in map {
        if !is_json_mime(mime) {
            want(is_multiline(v), &format!("{field}.{mime}"), "a string or a list of strings", v)?;
        }
    }
    Ok(())
}

/// The schema's `^application/(.*\+)?json$`.
fn is_json_mime(mime: &str) -> bool {
    mime.strip_prefix("application/").is_some_and(|rest| rest == "json" || rest.ends_with("+json"))
}

fn output(out: &mut Value) -> Check {
    let Value::Object(obj) = out else { return Err(format!("an output must be an object, not {}", short(out))) };
    let kind = match obj.get("output_type") {
        Some(Value::String(k)) => k.clone(),
        Some(v) => return want(false, "output_type", "a string", v),
        None => return Err("no `output_type`".into()),
    };
    let required = |obj: &Map<String, Value>, name: &str, what: &str, ok: fn(&Value) -> bool| match obj.get(name) {
        Some(v) => want(ok(v), name, what, v),
        None => Err(format!("{kind} output has no `{name}`")),
    };
    match kind.as_str() {
        "stream" => {
            required(obj, "name", "a string", Value::is_string)?;
            required(obj, "text", "a string or a list of strings", is_multiline)
        }
        "display_data" | "execute_result" => {
            let data = obj.get("data").ok_or_else(|| format!("{kind} output has no `data`"))?;
            mimebundle(data, "data")?;
            let md = obj.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
            want(md.is_object(), "metadata", "an object", md)?;
            if kind == "execute_result" {
                let count = obj.entry("execution_count").or_insert(Value::Null);
                want(is_count(count), "execution_count", "a non-negative integer or null", count)?;
            }
            Ok(())
        }
        "error" => {
            required(obj, "ename", "a string", Value::is_string)?;
            required(obj, "evalue", "a string", Value::is_string)?;
            required(obj, "traceback", "a list of strings", is_string_list)
        }
        other => Err(format!("unknown output_type {other:?}")),
    }
}
