//! Values at dispatch: typed workflow parameters, the run context, and a node's
//! parameters, `when`, `foreach` and SQL query evaluated against upstream outputs.

use deckle_dsl::{Context, ParamType, Workflow};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Environment variable a secret parameter reaches kernels through.
pub fn secret_env_name(param: &str) -> String {
    deckle_protocol::task::secret_env_name(param)
}

/// Convert a `-p name=value` string to the parameter's declared type.
pub fn coerce(name: &str, ty: ParamType, raw: &str) -> Result<Value> {
    let bad = |what: &str| Error::Input(format!("parameter '{name}': {raw:?} is not {what}"));
    Ok(match ty {
        ParamType::String => Value::String(raw.to_string()),
        ParamType::Int => Value::from(raw.trim().parse::<i64>().map_err(|_| bad("an int"))?),
        ParamType::Float => {
            let f = raw.trim().parse::<f64>().map_err(|_| bad("a float"))?;
            serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| bad("a finite float"))?
        }
        ParamType::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => return Err(bad("a bool (true/false)")),
        },
        ParamType::Date => {
            raw.trim().parse::<jiff::civil::Date>().map_err(|_| bad("a date (YYYY-MM-DD)"))?;
            Value::String(raw.trim().to_string())
        }
        ParamType::List | ParamType::Map => {
            // JSON first; a bare comma list is a convenience for lists of strings.
            match serde_json::from_str::<Value>(raw) {
                Ok(v @ Value::Array(_)) if ty == ParamType::List => v,
                Ok(v @ Value::Object(_)) if ty == ParamType::Map => v,
                _ if ty == ParamType::List => Value::Array(raw.split(',').map(|s| Value::String(s.trim().to_string())).collect()),
                _ => return Err(bad("a JSON object")),
            }
        }
    })
}

/// The run's parameters: declared defaults overridden by `-p`; secrets separately.
pub struct RunParams {
    /// What expressions and records see (secrets left out).
    pub visible: Map<String, Value>,
    /// `(ENV_NAME, value)` for every secret parameter that has a value.
    pub secret_env: Vec<(String, String)>,
}

/// A run's params: defaults, then `overrides` (`-p name=value`) typed against the declarations.
pub fn run_params(wf: &Workflow, overrides: &[(String, String)]) -> Result<RunParams> {
    let mut visible = Map::new();
    let mut secret_env = Vec::new();
    for (name, _) in overrides {
        if !wf.params.contains_key(name) {
            let known: Vec<&str> = wf.params.keys().map(String::as_str).collect();
            return Err(Error::Input(format!("unknown parameter '{name}' (the workflow declares: {})", known.join(", "))));
        }
    }
    for (name, spec) in &wf.params {
        let given = overrides.iter().rev().find(|(k, _)| k == name);
        let value = match given {
            Some((_, raw)) => Some(coerce(name, spec.ty, raw)?),
            None => spec.default.clone(),
        };
        match (value, spec.secret) {
            (Some(v), true) => secret_env.push((secret_env_name(name), v.as_str().map_or_else(|| v.to_string(), str::to_string))),
            (Some(v), false) => {
                visible.insert(name.clone(), v);
            }
            (None, true) => {}
            (None, false) => return Err(Error::Input(format!("parameter '{name}' has no default; pass -p {name}=VALUE"))),
        }
    }
    Ok(RunParams { visible, secret_env })
}

/// Secret params as this process's environment has them (`DECKLE_SECRET_<NAME>`),
/// else their defaults: what a run resumed after a restart gets, since values given
/// at trigger time are never stored.
pub fn secrets_from_env(wf: &Workflow) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, spec) in wf.params.iter().filter(|(_, s)| s.secret) {
        let env = secret_env_name(name);
        let value = std::env::var(&env).ok().or_else(|| spec.default.as_ref().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)));
        if let Some(v) = value {
            out.push((env, v));
        }
    }
    out
}

/// `run` in expressions.
pub fn run_context(id: &str, workflow: &str, date: &str, logical_time: &str, attempt: u32) -> Value {
    serde_json::json!({"id": id, "date": date, "logical_time": logical_time, "attempt": attempt, "workflow": workflow})
}

/// A recorded value back to the `-p` text that types to it again: strings as they
/// are, anything else as JSON.
pub fn raw_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Render a minijinja template (SQL queries, `save_to`) over the same context.
pub fn render(template: &str, ctx: &Context) -> std::result::Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut vars = serde_json::json!({"params": ctx.params, "run": ctx.run, "nodes": ctx.nodes});
    if !ctx.trigger.is_null() {
        vars["trigger"] = ctx.trigger.clone();
    }
    if let Some(item) = &ctx.item {
        vars["item"] = item.clone();
        vars["index"] = Value::from(ctx.index.unwrap_or(0));
    }
    env.render_str(template, vars).map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        msg
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_follows_the_declared_type() {
        assert_eq!(coerce("n", ParamType::Int, "42").unwrap(), Value::from(42));
        assert_eq!(coerce("b", ParamType::Bool, "true").unwrap(), Value::Bool(true));
        assert_eq!(coerce("l", ParamType::List, "us, fr").unwrap(), serde_json::json!(["us", "fr"]));
        assert_eq!(coerce("l", ParamType::List, "[1, 2]").unwrap(), serde_json::json!([1, 2]));
        assert!(coerce("d", ParamType::Date, "2026-13-01").unwrap_err().to_string().contains("not a date"));
        assert!(coerce("n", ParamType::Int, "4.5").unwrap_err().to_string().contains("parameter 'n'"));
    }

    #[test]
    fn render_is_strict_about_undefined_names() {
        let ctx = Context::new(serde_json::json!({"region": "fr"}), serde_json::json!({"date": "2026-01-01"}), serde_json::json!({}));
        assert_eq!(render("select '{{ params.region }}', '{{ run.date }}'", &ctx).unwrap(), "select 'fr', '2026-01-01'");
        // A run started by an event sees it as `trigger`; others have none.
        assert!(render("select '{{ trigger.params.table }}'", &ctx).is_err());
        let triggered = ctx.clone().with_trigger(serde_json::json!({"params": {"table": "plays"}}));
        assert_eq!(render("select * from {{ trigger.params.table }}", &triggered).unwrap(), "select * from plays");
        assert!(render("{{ params.nope }}", &ctx).is_err());
    }
}
