//! Expressions: `${{ … }}` templates and bare `when:` conditions, in CEL.
//!
//! A string that is exactly one `${{ … }}` keeps the expression's JSON type; a
//! string with text around expressions is interpolated into a string (strings
//! as they are, anything else as compact JSON). `$${{` writes a literal `${{`.
//! The context is JSON: `params`, `run` (`id`, `date`, `logical_time`,
//! `attempt`, `workflow`), `nodes.<id>.outputs.<name>`, `nodes.<id>.status`,
//! `trigger` (the event that started the run), and in a foreach `item`/`index`.
//!
//! Every expression is compiled once, when the workflow is loaded; evaluation
//! only binds the context and runs the compiled program.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::cel_glue::{cel_to_json, explain, json_to_cel, node_ids, stdlib, tidy_syntax_message, walk};

/// What expressions see. Build it with [`Context::new`] and the setters.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `params.<name>`: the run's resolved parameters.
    pub params: Value,
    /// `run.<key>`: the run (`id`, `date`, `logical_time`, …).
    pub run: Value,
    /// `{ "<id>": { "outputs": {...}, "status": "succeeded" } }`
    pub nodes: Value,
    /// `item`: the current foreach item, inside a fanned-out node.
    pub item: Option<Value>,
    /// `index`: the current foreach item's index.
    pub index: Option<usize>,
    /// `trigger`: the event that started the run (null for runs started otherwise).
    pub trigger: Value,
}

impl Context {
    /// A context without a foreach item.
    pub fn new(params: Value, run: Value, nodes: Value) -> Self {
        Context { params, run, nodes, item: None, index: None, trigger: Value::Null }
    }

    /// The same context inside one foreach instance.
    pub fn with_item(mut self, item: Value, index: usize) -> Self {
        self.item = Some(item);
        self.index = Some(index);
        self
    }

    /// The same context for a run started by an event (`trigger.*`).
    pub fn with_trigger(mut self, trigger: Value) -> Self {
        self.trigger = trigger;
        self
    }

    /// Bind the context for one expression. Converting JSON to CEL values is the
    /// bulk of evaluation, so when the expression names the nodes it reads
    /// (`nodes.a`, not `nodes[x]`), only those are converted.
    fn to_cel(&self, only_nodes: Option<&[String]>) -> cel::Context<'static, 'static> {
        let mut c = cel::Context::with_env(stdlib());
        c.add_variable_from_value("params", json_to_cel(&self.params));
        c.add_variable_from_value("run", json_to_cel(&self.run));
        let nodes = match (only_nodes, &self.nodes) {
            (Some(ids), Value::Object(all)) => {
                let m: HashMap<cel::objects::Key, cel::Value> = ids
                    .iter()
                    .filter_map(|id| all.get(id).map(|v| (cel::objects::Key::String(Arc::new(id.clone())), json_to_cel(v))))
                    .collect();
                cel::Value::Map(cel::objects::Map { map: Arc::new(m) })
            }
            _ => json_to_cel(&self.nodes),
        };
        c.add_variable_from_value("nodes", nodes);
        c.add_variable_from_value("trigger", json_to_cel(&self.trigger));
        if let Some(item) = &self.item {
            c.add_variable_from_value("item", json_to_cel(item));
        }
        if let Some(index) = self.index {
            c.add_variable_from_value("index", cel::Value::Int(index as i64));
        }
        c
    }
}

/// An evaluation error, with the expression text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("in `{expr}`: {message}")]
pub struct EvalError {
    /// The expression as written.
    pub expr: String,
    /// What is wrong with it.
    pub message: String,
}

/// An expression that does not compile: CEL syntax, or an unclosed `${{`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("in `{expr}`: {message}")]
pub struct CompileError {
    /// The expression as written.
    pub expr: String,
    /// Why it could not be evaluated.
    pub message: String,
}

/// One compiled CEL expression and its source.
#[derive(Clone)]
struct Compiled {
    source: String,
    program: Arc<cel::Program>,
    /// The node ids read, when all are named statically.
    nodes_read: Option<Arc<[String]>>,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

/// Longest expression accepted, in bytes.
pub const MAX_EXPR_LEN: usize = 2000;
/// Deepest nesting of `(`, `[` and `{` accepted in an expression.
pub const MAX_EXPR_NESTING: usize = 16;
/// Most arithmetic and comparison operator characters (`+ - * / % < > =`) in an
/// expression: CEL evaluates a chain of them recursively.
pub const MAX_EXPR_OPERATORS: usize = 32;
const COMPILE_STACK: usize = 64 << 20;

/// Refuse expressions too long or nested too deeply to compile and evaluate
/// safely (CEL compiles and evaluates recursively).
fn check_size(source: &str) -> Result<(), CompileError> {
    let err = |message: String| Err(CompileError { expr: source.chars().take(80).collect(), message });
    if source.len() > MAX_EXPR_LEN {
        return err(format!("expression too long ({} bytes; at most {MAX_EXPR_LEN})", source.len()));
    }
    let (mut depth, mut operators, mut quote, mut escaped) = (0usize, 0usize, None::<char>, false);
    for c in source.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_EXPR_NESTING {
                    return err(format!("expression nested too deeply (more than {MAX_EXPR_NESTING} levels of brackets)"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' => {
                operators += 1;
                if operators > MAX_EXPR_OPERATORS {
                    return err(format!("expression too complex (more than {MAX_EXPR_OPERATORS} arithmetic and comparison operators)"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

impl Compiled {
    fn new(source: &str) -> Result<Self, CompileError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(CompileError { expr: String::new(), message: "empty expression".into() });
        }
        check_size(source)?;
        // The CEL parser recurses deeply per nesting level (in debug builds a few
        // dozen parentheses exhaust a 2 MiB thread stack): compile on a thread of
        // its own with room to spare, whatever thread asked.
        let compiled = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("cel-compile".into())
                .stack_size(COMPILE_STACK)
                .spawn_scoped(scope, || cel::Program::compile(source))
                .map(|h| h.join())
        });
        let compiled = match compiled {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => return Err(CompileError { expr: source.to_string(), message: "the expression could not be compiled".into() }),
            // No thread to be had: compile here.
            Err(_) => cel::Program::compile(source),
        };
        let program = compiled.map_err(|e| CompileError {
            expr: source.to_string(),
            message: e.errors.iter().map(|e| format!("syntax error at column {}: {}", e.pos.1, tidy_syntax_message(&e.msg))).collect::<Vec<_>>().join("; "),
        })?;
        let mut paths = Vec::new();
        walk(program.expression(), &mut Vec::new(), &mut paths);
        let dynamic = paths.iter().any(|p| p[0] == "nodes" && p.len() < 2);
        let nodes_read = (!dynamic).then(|| node_ids(&paths).into());
        Ok(Compiled { source: source.to_string(), program: Arc::new(program), nodes_read })
    }

    fn eval(&self, ctx: &Context) -> Result<Value, EvalError> {
        let err = |message: String| EvalError { expr: self.source.clone(), message };
        let out = self.program.execute(&ctx.to_cel(self.nodes_read.as_deref())).map_err(|e| err(explain(e)))?;
        cel_to_json(&out).map_err(err)
    }

    fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        walk(self.program.expression(), &mut Vec::new(), &mut out);
        out
    }
}

/// A value that may contain `${{ … }}` expressions.
#[derive(Debug, Clone)]
pub struct Template {
    /// The value as written.
    pub raw: Value,
    tree: Tree,
}

#[derive(Debug, Clone)]
enum Tree {
    /// No expressions anywhere inside: evaluates to itself.
    Literal,
    /// A string that is exactly one expression: keeps the result's JSON type.
    Whole(Compiled),
    /// Text with expressions in it: always a string.
    Interpolated(Vec<Part>),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Expr(Compiled),
}

impl Template {
    /// A value taken as it is: any `${{` inside is not evaluated.
    pub fn literal(v: Value) -> Self {
        Template { raw: v, tree: Tree::Literal }
    }

    /// Compile every `${{ … }}` in `v` (recursively through lists and maps).
    pub fn parse(v: Value) -> Result<Self, CompileError> {
        let tree = build(&v)?;
        Ok(Template { raw: v, tree })
    }

    /// Whether the value contains no expression.
    pub fn is_literal(&self) -> bool {
        matches!(self.tree, Tree::Literal)
    }

    /// Evaluate every expression in the value.
    pub fn eval(&self, ctx: &Context) -> Result<Value, EvalError> {
        eval_tree(&self.tree, &self.raw, ctx)
    }

    /// The CEL source when the value is a string that is exactly one expression
    /// (`"${{ params.x }}"`: the result keeps its type).
    pub(crate) fn whole_expression(&self) -> Option<&str> {
        match &self.tree {
            Tree::Whole(c) => Some(c.source.as_str()),
            _ => None,
        }
    }

    /// The CEL source of every expression, in order.
    pub fn expressions(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for_each_compiled(&self.tree, &mut |c| out.push(c.source.as_str()));
        out
    }

    /// Node ids read through `nodes.<id>` (or `nodes["<id>"]`), sorted, unique.
    pub fn references(&self) -> Vec<String> {
        node_ids(&self.paths())
    }

    /// Every variable path read, e.g. `["nodes", "a", "outputs", "x"]`, `["params", "p"]`.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for_each_compiled(&self.tree, &mut |c| out.extend(c.paths()));
        out
    }
}

fn for_each_compiled<'a>(t: &'a Tree, f: &mut impl FnMut(&'a Compiled)) {
    match t {
        Tree::Literal => {}
        Tree::Whole(c) => f(c),
        Tree::Interpolated(parts) => parts.iter().for_each(|p| {
            if let Part::Expr(c) = p {
                f(c)
            }
        }),
        Tree::List(items) => items.iter().for_each(|t| for_each_compiled(t, f)),
        Tree::Map(entries) => entries.iter().for_each(|(_, t)| for_each_compiled(t, f)),
    }
}

fn build(v: &Value) -> Result<Tree, CompileError> {
    Ok(match v {
        Value::String(s) if s.contains("${{") => {
            let parts = split(s)?;
            let exprs = parts.iter().filter(|p| matches!(p, Part::Expr(_))).count();
            // Surrounding whitespace does not turn a whole-string expression into text.
            let blank = parts.iter().all(|p| !matches!(p, Part::Text(t) if !t.trim().is_empty()));
            match parts.iter().find_map(|p| if let Part::Expr(c) = p { Some(c) } else { None }) {
                Some(c) if exprs == 1 && blank => Tree::Whole(c.clone()),
                _ => Tree::Interpolated(parts),
            }
        }
        Value::Array(items) => {
            let trees = items.iter().map(build).collect::<Result<Vec<_>, _>>()?;
            if trees.iter().all(|t| matches!(t, Tree::Literal)) {
                Tree::Literal
            } else {
                Tree::List(trees)
            }
        }
        Value::Object(map) => {
            let trees = map.iter().map(|(k, v)| Ok((k.clone(), build(v)?))).collect::<Result<Vec<_>, CompileError>>()?;
            if trees.iter().all(|(_, t)| matches!(t, Tree::Literal)) {
                Tree::Literal
            } else {
                Tree::Map(trees)
            }
        }
        _ => Tree::Literal,
    })
}

/// Split a string into text and `${{ … }}` expressions. The closing `}}` is
/// found outside CEL string literals and balanced braces, so map literals and
/// strings containing `}}` work.
fn split(s: &str) -> Result<Vec<Part>, CompileError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        if rest[..i].ends_with('$') {
            // `$${{` is an escaped, literal `${{`.
            text.push_str(&rest[..i - 1]);
            text.push_str("${{");
            rest = &rest[i + 3..];
            continue;
        }
        text.push_str(&rest[..i]);
        let body_start = i + 3;
        let end = find_close(&rest[body_start..]).ok_or_else(|| CompileError {
            expr: rest[i..].to_string(),
            message: "`${{` is not closed by `}}`".into(),
        })?;
        if !text.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut text)));
        }
        parts.push(Part::Expr(Compiled::new(&rest[body_start..body_start + end])?));
        rest = &rest[body_start + end + 2..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

/// Byte offset of the `}}` closing an expression body.
fn find_close(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

fn eval_tree(t: &Tree, raw: &Value, ctx: &Context) -> Result<Value, EvalError> {
    Ok(match t {
        Tree::Literal => raw.clone(),
        Tree::Whole(c) => c.eval(ctx)?,
        Tree::Interpolated(parts) => {
            let mut out = String::new();
            for p in parts {
                match p {
                    Part::Text(s) => out.push_str(s),
                    Part::Expr(c) => match c.eval(ctx)? {
                        Value::String(s) => out.push_str(&s),
                        other => out.push_str(&other.to_string()),
                    },
                }
            }
            Value::String(out)
        }
        Tree::List(items) => {
            let raws = raw.as_array().map(Vec::as_slice).unwrap_or_default();
            let mut out = Vec::with_capacity(items.len());
            for (i, t) in items.iter().enumerate() {
                out.push(eval_tree(t, raws.get(i).unwrap_or(&Value::Null), ctx)?);
            }
            Value::Array(out)
        }
        Tree::Map(entries) => {
            let mut out = serde_json::Map::new();
            for (k, t) in entries {
                let r = raw.get(k).unwrap_or(&Value::Null);
                out.insert(k.clone(), eval_tree(t, r, ctx)?);
            }
            Value::Object(out)
        }
    })
}

/// A bare CEL boolean (`when:`).
#[derive(Debug, Clone)]
pub struct Expr {
    /// The template as written.
    pub source: String,
    compiled: Compiled,
}

impl Expr {
    /// Compile a bare CEL expression.
    pub fn parse(source: &str) -> Result<Self, CompileError> {
        let compiled = Compiled::new(source)?;
        Ok(Expr { source: compiled.source.clone(), compiled })
    }

    /// Evaluate to a JSON value.
    pub fn eval(&self, ctx: &Context) -> Result<Value, EvalError> {
        self.compiled.eval(ctx)
    }

    /// Evaluate; anything but a bool is an error (CEL has no truthiness).
    pub fn eval_bool(&self, ctx: &Context) -> Result<bool, EvalError> {
        match self.eval(ctx)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError {
                expr: self.source.clone(),
                message: format!("expected a bool, got {} `{other}`", json_kind(&other)),
            }),
        }
    }

    /// Node ids read through `nodes.<id>`, sorted, unique.
    pub fn references(&self) -> Vec<String> {
        node_ids(&self.paths())
    }

    /// Every variable path read, e.g. `["nodes", "a", "outputs", "x"]`.
    pub fn paths(&self) -> Vec<Vec<String>> {
        self.compiled.paths()
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oversized_expressions_are_refused_not_overflowing() {
        let e = Expr::parse(&format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000))).unwrap_err();
        assert!(e.message.contains("too long"), "{e}");
        let e = Expr::parse(&format!("{}1{}", "[".repeat(100), "]".repeat(100))).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e}");
        let e = Expr::parse(&vec!["1"; 100].join(" + ")).unwrap_err();
        assert!(e.message.contains("too complex"), "{e}");
        // Brackets and operators inside strings do not count.
        assert!(Expr::parse(&format!("'{}' == 'x'", "([{+-".repeat(100))).is_ok());
        // Within the limits, on a small stack: compiles and evaluates.
        let deep = format!("{}true{}", "(".repeat(MAX_EXPR_NESTING), ")".repeat(MAX_EXPR_NESTING));
        let sum = vec!["1"; MAX_EXPR_OPERATORS + 1].join("+");
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                assert_eq!(Expr::parse(&deep).unwrap().eval(&Context::default()).unwrap(), json!(true));
                assert_eq!(Expr::parse(&sum).unwrap().eval(&Context::default()).unwrap(), json!(MAX_EXPR_OPERATORS + 1));
            })
            .unwrap()
            .join()
            .unwrap();
    }

    fn ctx() -> Context {
        Context::new(
            json!({"region": "us", "regions": ["us", "fr"], "n": 3, "ratio": 0.5, "big": 18446744073709551615u64}),
            json!({"date": "2026-01-02", "attempt": 1}),
            json!({"extract": {"status": "succeeded", "outputs": {"row_count": 42, "cols": ["a", "b"], "meta": {"k": null}}}}),
        )
    }

    fn t(v: Value) -> Template {
        Template::parse(v).unwrap()
    }

    #[test]
    fn whole_string_expression_keeps_json_type() {
        let c = ctx();
        assert_eq!(t(json!("${{ nodes.extract.outputs.row_count }}")).eval(&c).unwrap(), json!(42));
        assert_eq!(t(json!("${{ params.regions }}")).eval(&c).unwrap(), json!(["us", "fr"]));
        assert_eq!(t(json!("${{ params.ratio }}")).eval(&c).unwrap(), json!(0.5));
        assert_eq!(t(json!("${{ nodes.extract.outputs.meta }}")).eval(&c).unwrap(), json!({"k": null}));
        assert_eq!(t(json!("${{ params.big }}")).eval(&c).unwrap(), json!(18446744073709551615u64));
        assert_eq!(t(json!("  ${{ params.n + 1 }} ")).eval(&c).unwrap(), json!(4));
        assert_eq!(t(json!("${{ {'a': [1, 2.5, true]} }}")).eval(&c).unwrap(), json!({"a": [1, 2.5, true]}));
    }

    #[test]
    fn interpolation_stringifies() {
        let c = ctx();
        assert_eq!(t(json!("region=${{ params.region }} rows=${{ nodes.extract.outputs.row_count }}")).eval(&c).unwrap(), json!("region=us rows=42"));
        assert_eq!(t(json!("cols ${{ nodes.extract.outputs.cols }}")).eval(&c).unwrap(), json!("cols [\"a\",\"b\"]"));
        assert_eq!(t(json!("${{ params.region }}-${{ run.date }}")).eval(&c).unwrap(), json!("us-2026-01-02"));
        assert_eq!(t(json!("literal $${{ not evaluated }}")).eval(&c).unwrap(), json!("literal ${{ not evaluated }}"));
        assert_eq!(t(json!("${{ '}}' + params.region }}")).eval(&c).unwrap(), json!("}}us"));
    }

    #[test]
    fn recurses_through_lists_and_maps() {
        let c = ctx();
        let tpl = t(json!({"a": ["${{ params.n }}", "x"], "b": {"c": "${{ run.date }}"}, "d": 7}));
        assert!(!tpl.is_literal());
        assert_eq!(tpl.eval(&c).unwrap(), json!({"a": [3, "x"], "b": {"c": "2026-01-02"}, "d": 7}));
        assert!(t(json!({"a": [1, "plain"]})).is_literal());
    }

    #[test]
    fn foreach_item_and_index() {
        let c = ctx().with_item(json!({"r": "fr"}), 2);
        assert_eq!(t(json!("${{ item.r }}#${{ index }}")).eval(&c).unwrap(), json!("fr#2"));
        let e = t(json!("${{ item }}")).eval(&ctx()).unwrap_err();
        assert!(e.message.contains("only defined in a foreach"), "{e}");
    }

    #[test]
    fn missing_key_is_a_clear_error() {
        let e = t(json!("${{ nodes.extract.outputs.missing }}")).eval(&ctx()).unwrap_err();
        assert_eq!(e.expr, "nodes.extract.outputs.missing");
        assert!(e.message.contains("missing"), "{e}");
        assert!(e.to_string().starts_with("in `nodes.extract.outputs.missing`"));
    }

    #[test]
    fn dynamic_node_access_sees_every_node() {
        // Only statically named nodes are bound for speed; a computed id must still resolve.
        let c = ctx();
        assert_eq!(t(json!("${{ nodes['ext' + 'ract'].outputs.row_count }}")).eval(&c).unwrap(), json!(42));
        assert_eq!(t(json!("${{ size(nodes) }}")).eval(&c).unwrap(), json!(1));
        assert_eq!(t(json!("${{ has(nodes.extract) && !has(nodes.other) }}")).eval(&c).unwrap(), json!(true));
    }

    #[test]
    fn literal_is_not_evaluated() {
        assert_eq!(Template::literal(json!("${{ x }}")).eval(&ctx()).unwrap(), json!("${{ x }}"));
    }

    #[test]
    fn syntax_errors_at_compile_time() {
        let e = Template::parse(json!("${{ params. }}")).unwrap_err();
        assert!(e.message.contains("syntax error"), "{e}");
        let e = Template::parse(json!("x ${{ params.a ")).unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        assert!(Expr::parse("a &&").is_err());
        assert!(Expr::parse("  ").is_err());
    }

    #[test]
    fn when_is_a_bare_bool() {
        let c = ctx();
        assert!(Expr::parse("nodes.extract.outputs.row_count > 10").unwrap().eval_bool(&c).unwrap());
        assert!(!Expr::parse("!(params.region == 'us')").unwrap().eval_bool(&c).unwrap());
        let e = Expr::parse("params.n").unwrap().eval_bool(&c).unwrap_err();
        assert!(e.message.contains("expected a bool, got int"), "{e}");
    }

    #[test]
    fn references_find_node_ids_outside_comprehensions() {
        let e = Expr::parse("nodes.a.outputs.x > 1 && nodes['b-c'].status == 'succeeded' && [1].all(nodes, nodes > 0) && params.p").unwrap();
        assert_eq!(e.references(), vec!["a".to_string(), "b-c".to_string()]);
        let tpl = t(json!({"x": "${{ nodes.z.outputs.v }}", "y": ["${{ size(nodes.y.outputs.l) }}"]}));
        assert_eq!(tpl.references(), vec!["y".to_string(), "z".to_string()]);
        let e = Expr::parse("params.xs.map(x, x + nodes.q.outputs.k)").unwrap();
        let paths = e.paths();
        assert!(paths.contains(&vec!["params".into(), "xs".into()]));
        assert!(paths.contains(&vec!["nodes".into(), "q".into(), "outputs".into(), "k".into()]));
        assert!(!paths.iter().any(|p| p[0] == "x"));
    }

    #[test]
    fn compiled_expressions_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Template>();
        assert_send_sync::<Expr>();
    }
}
