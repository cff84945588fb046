//! The bridge between serde_json and the `cel` crate: value conversion, the
//! shared standard environment, friendlier error text, and a walk over a
//! compiled expression's AST to find the variable paths it reads (which
//! validation checks and evaluation uses to bind only the nodes it needs).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

/// The standard CEL environment, built once: building it registers every
/// function, which costs far more than evaluating a typical expression.
pub(crate) fn stdlib() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(cel::Env::stdlib())).clone()
}

/// The parser's messages list every token it could have accepted; past a few
/// that list is noise.
pub(crate) fn tidy_syntax_message(msg: &str) -> String {
    let msg = msg.strip_prefix("Syntax error: ").unwrap_or(msg);
    match msg.split_once(" expecting {") {
        Some((head, tokens)) if tokens.matches(',').count() >= 4 => head.to_string(),
        _ => msg.to_string(),
    }
}

pub(crate) fn explain(e: cel::ExecutionError) -> String {
    use cel::ExecutionError as E;
    match e {
        E::NoSuchKey(k) => format!("no such key `{k}`"),
        E::UndeclaredReference(name) if name.as_str() == "item" || name.as_str() == "index" => {
            format!("`{name}` is only defined in a foreach node")
        }
        E::UndeclaredReference(name) => format!("unknown variable `{name}`"),
        other => other.to_string(),
    }
}


pub(crate) fn node_ids(paths: &[Vec<String>]) -> Vec<String> {
    let mut ids: Vec<String> = paths.iter().filter(|p| p.len() >= 2 && p[0] == "nodes").map(|p| p[1].clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Collect the variable paths an expression reads: `a.b["c"]` is `[a, b, c]`.
/// Comprehension variables (`x` in `list.map(x, …)`) are not context variables
/// and are skipped.
pub(crate) fn walk(e: &cel::IdedExpr, bound: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    use cel::common::ast::{EntryExpr, Expr as E};
    if let Some(path) = path_of(e) {
        if !bound.contains(&path[0]) {
            out.push(path);
        }
        // Dynamic index arguments inside the path (`a[b.c]`) are read too.
        index_args(e, bound, out);
        return;
    }
    match &e.expr {
        E::Call(call) => {
            if let Some(t) = &call.target {
                walk(t, bound, out);
            }
            call.args.iter().for_each(|a| walk(a, bound, out));
        }
        E::Select(s) => walk(&s.operand, bound, out),
        E::List(l) => l.elements.iter().for_each(|a| walk(a, bound, out)),
        E::Map(m) => m.entries.iter().for_each(|en| {
            if let EntryExpr::MapEntry(me) = &en.expr {
                walk(&me.key, bound, out);
                walk(&me.value, bound, out);
            }
        }),
        E::Struct(s) => s.entries.iter().for_each(|en| match &en.expr {
            EntryExpr::StructField(f) => walk(&f.value, bound, out),
            EntryExpr::MapEntry(me) => walk(&me.value, bound, out),
        }),
        E::Comprehension(c) => {
            walk(&c.iter_range, bound, out);
            let n = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            for part in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                walk(part, bound, out);
            }
            bound.truncate(n);
        }
        E::Ident(_) | E::Literal(_) | E::Unspecified => {}
    }
}

/// `a`, `a.b`, `a["b"]`, `has(a.b)` as a list of names; `None` for anything else.
/// A computed index (`a[x].b`) ends the path at `a`: what follows it is unknown.
fn path_of(e: &cel::IdedExpr) -> Option<Vec<String>> {
    path_parts(e).map(|(p, _)| p)
}

/// The path, and whether it is still open (no computed index yet).
fn path_parts(e: &cel::IdedExpr) -> Option<(Vec<String>, bool)> {
    use cel::common::ast::{Expr as E, LiteralValue};
    match &e.expr {
        E::Ident(name) => Some((vec![name.clone()], true)),
        E::Select(s) => {
            let (mut p, open) = path_parts(&s.operand)?;
            if open {
                p.push(s.field.clone());
            }
            Some((p, open))
        }
        E::Call(c) if c.func_name == "_[_]" && c.args.len() == 2 => {
            let (mut p, open) = path_parts(&c.args[0])?;
            match &c.args[1].expr {
                E::Literal(LiteralValue::String(s)) if open => {
                    p.push(s.inner().to_string());
                    Some((p, true))
                }
                _ => Some((p, false)),
            }
        }
        _ => None,
    }
}

fn index_args(e: &cel::IdedExpr, bound: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    use cel::common::ast::Expr as E;
    match &e.expr {
        E::Select(s) => index_args(&s.operand, bound, out),
        E::Call(c) if c.func_name == "_[_]" && c.args.len() == 2 => {
            index_args(&c.args[0], bound, out);
            walk(&c.args[1], bound, out);
        }
        _ => {}
    }
}

pub(crate) fn json_to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                cel::Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                cel::Value::UInt(u)
            } else {
                cel::Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(json_to_cel).collect())),
        Value::Object(map) => {
            let m: HashMap<cel::objects::Key, cel::Value> =
                map.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), json_to_cel(v))).collect();
            cel::Value::Map(cel::objects::Map { map: Arc::new(m) })
        }
    }
}

pub(crate) fn cel_to_json(v: &cel::Value) -> Result<Value, String> {
    use cel::objects::Key;
    Ok(match v {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(b) => Value::Bool(*b),
        cel::Value::Int(i) => Value::from(*i),
        cel::Value::UInt(u) => Value::from(*u),
        cel::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map(Value::Number).ok_or_else(|| format!("{f} has no JSON form"))?
        }
        cel::Value::String(s) => Value::String(s.to_string()),
        cel::Value::List(items) => Value::Array(items.iter().map(cel_to_json).collect::<Result<_, _>>()?),
        cel::Value::Map(m) => {
            // CEL maps are unordered: sort keys so results are deterministic.
            let mut entries: Vec<(String, Value)> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Key::String(s) => s.to_string(),
                        Key::Int(i) => i.to_string(),
                        Key::Uint(u) => u.to_string(),
                        Key::Bool(b) => b.to_string(),
                    };
                    Ok((key, cel_to_json(v)?))
                })
                .collect::<Result<_, String>>()?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        cel::Value::Timestamp(t) => Value::String(t.to_rfc3339()),
        cel::Value::Duration(d) => Value::String(format!("{}s", d.num_milliseconds() as f64 / 1000.0)),
        other => return Err(format!("the result ({other:?}) has no JSON form")),
    })
}
