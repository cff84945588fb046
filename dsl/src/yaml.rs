//! A small YAML tree with a position on every value, built from saphyr-parser's
//! event stream.
//!
//! serde-based loaders lose positions and silently keep the last of duplicate
//! keys; workflow errors must name line and column, and a duplicate node id must
//! be an error. Scalars are resolved with the YAML 1.2 core schema (so `no` and
//! `2024-01-01` stay strings), which makes JSON input work unchanged.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::Value;

use crate::diag::Pos;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<YNode>),
    Map(Vec<Entry>),
}

/// A map entry: the key (as a string) with its position, and the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: YNode,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YNode {
    pub value: Yaml,
    pub pos: Pos,
}

impl YNode {
    /// What kind of value this is, for "expected X, got Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Yaml::Null => "null",
            Yaml::Bool(_) => "a bool",
            Yaml::Int(_) => "an int",
            Yaml::Float(_) => "a float",
            Yaml::Str(_) => "a string",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a map",
        }
    }

    /// The value as JSON. Non-finite floats have no JSON form and become null.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::from(*i),
            Yaml::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
            Yaml::Str(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(YNode::to_json).collect()),
            Yaml::Map(entries) => Value::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }
}

/// A problem found while reading YAML: a syntax error, or a duplicate key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    pub pos: Pos,
    pub message: String,
    /// For a duplicate key: the key, and the path of the map holding it.
    pub duplicate: Option<(String, Vec<String>, Pos)>,
}

fn pos_of(span: &Span) -> Pos {
    // saphyr's lines are 1-based and its columns 0-based.
    Pos::new(span.start.line(), span.start.col() + 1)
}

/// Deepest nesting of lists and maps accepted. Workflows need a handful of
/// levels; the limit keeps the recursive tree walks (and dropping the tree) off
/// the end of the stack, and matches serde_json's own limit so any parameter
/// value can travel as JSON.
pub(crate) const MAX_DEPTH: usize = 128;

/// Most values a document may hold once aliases are expanded (an alias counts
/// as a copy of what it names; long strings count one per 64 bytes). Refuses
/// "billion laughs" alias bombs before they are built.
pub(crate) const MAX_VALUES: usize = 1_000_000;

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<YNode>,
        /// The value count when the list opened, to price an anchor on it.
        start: usize,
    },
    Map {
        pos: Pos,
        anchor: usize,
        /// Entries in order; `None` where a merged entry was overridden.
        entries: Vec<Option<Entry>>,
        /// Each key present, to its slot in `entries`.
        index: HashMap<String, usize>,
        key: Option<(String, Pos)>,
        /// Keys brought in by `<<` (an explicit key may override them once).
        merged: HashSet<String>,
        start: usize,
    },
}

/// What a value costs against [`MAX_VALUES`] on its own (not counting children).
fn scalar_cost(text: &str) -> usize {
    1 + text.len() / 64
}

/// Parse one YAML (or JSON) document. A syntax error ends parsing (returned as
/// `Err`); duplicate keys and other soft problems are returned alongside the tree
/// (the first of duplicate keys wins). An empty document is `Ok((None, _))`.
pub(crate) fn parse(text: &str) -> Result<(Option<YNode>, Vec<YamlError>), YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Anchor id → the anchored value and its cost.
    let mut anchors: HashMap<usize, (YNode, usize)> = HashMap::new();
    let mut soft = Vec::new();
    let mut root: Option<YNode> = None;
    let mut documents = 0;
    let mut values: usize = 0;
    let too_many = |pos: Pos| YamlError {
        pos,
        message: format!(
            "too many values: the document holds more than {MAX_VALUES} once aliases are expanded \
             (an alias counts as a copy of its anchor)"
        ),
        duplicate: None,
    };

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| YamlError {
            pos: Pos::new(e.marker().line(), e.marker().col() + 1),
            message: if e.info().contains("recursion limit") {
                // saphyr's scanner refuses deep flow nesting before we see it.
                format!("nested too deeply (YAML syntax error: {})", e.info())
            } else {
                format!("YAML syntax error: {}", e.info())
            },
            duplicate: None,
        })?;
        let pos = pos_of(&span);
        let done: Option<(YNode, usize, usize)> = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError { pos, message: "expected one YAML document, found several".into(), duplicate: None });
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                values += scalar_cost(&text);
                Some((YNode { value: resolve_scalar(&text, style, tag.as_deref()), pos }, anchor, scalar_cost(&text)))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((n, cost)) => {
                    values = values.saturating_add(*cost);
                    if values > MAX_VALUES {
                        return Err(too_many(pos));
                    }
                    Some((YNode { value: n.value.clone(), pos }, 0, *cost))
                }
                None => {
                    return Err(YamlError {
                        pos,
                        message: "alias to an unknown anchor (an alias must follow its anchor, outside it)".into(),
                        duplicate: None,
                    })
                }
            },
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                return Err(YamlError {
                    pos,
                    message: format!("nested too deeply (more than {MAX_DEPTH} levels of lists and maps)"),
                    duplicate: None,
                });
            }
            Event::SequenceStart(anchor, _) => {
                values += 1;
                stack.push(Frame::Seq { pos, anchor, items: Vec::new(), start: values - 1 });
                None
            }
            Event::MappingStart(anchor, _) => {
                values += 1;
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    index: HashMap::new(),
                    key: None,
                    merged: HashSet::new(),
                    start: values - 1,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items, start }) => {
                    Some((YNode { value: Yaml::Seq(items), pos }, anchor, values - start))
                }
                Some(Frame::Map { pos, anchor, entries, start, .. }) => {
                    let entries = entries.into_iter().flatten().collect();
                    Some((YNode { value: Yaml::Map(entries), pos }, anchor, values - start))
                }
                None => None,
            },
            _ => None,
        };
        if values > MAX_VALUES {
            return Err(too_many(pos));
        }
        let Some((node, anchor, cost)) = done else { continue };
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), cost));
        }
        let mut duplicate = None;
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, index, key, merged, .. }) => match key.take() {
                None => {
                    let k = match &node.value {
                        Yaml::Str(s) => s.clone(),
                        Yaml::Null => "null".into(),
                        Yaml::Bool(b) => b.to_string(),
                        Yaml::Int(i) => i.to_string(),
                        Yaml::Float(f) => f.to_string(),
                        Yaml::Seq(_) | Yaml::Map(_) => {
                            soft.push(YamlError { pos: node.pos, message: "a map key must be a plain value, not a list or map".into(), duplicate: None });
                            String::new()
                        }
                    };
                    *key = Some((k, node.pos));
                }
                Some((k, key_pos)) if k == "<<" => merge(entries, index, merged, node, key_pos, &mut soft),
                Some((k, key_pos)) => {
                    if merged.remove(&k) {
                        // An explicit key overrides one brought in by `<<`, and
                        // takes its place at the end.
                        if let Some(slot) = index.get(&k) {
                            entries[*slot] = None;
                        }
                        index.insert(k.clone(), entries.len());
                        entries.push(Some(Entry { key: k, key_pos, value: node }));
                    } else if let Some(first) = index.get(&k).and_then(|slot| entries[*slot].as_ref()) {
                        duplicate = Some((k, key_pos, first.key_pos));
                    } else {
                        index.insert(k.clone(), entries.len());
                        entries.push(Some(Entry { key: k, key_pos, value: node }));
                    }
                }
            },
        }
        if let Some((k, key_pos, first)) = duplicate {
            soft.push(YamlError {
                pos: key_pos,
                message: format!("duplicate key `{k}` (first defined at line {})", first.line),
                duplicate: Some((k, path_of_top(&stack), first)),
            });
        }
    }
    Ok((root, soft))
}

/// The keys leading to the innermost open map (list items as their index).
fn path_of_top(stack: &[Frame]) -> Vec<String> {
    let n = stack.len().saturating_sub(1);
    stack[..n]
        .iter()
        .map(|f| match f {
            Frame::Map { key, .. } => key.as_ref().map(|k| k.0.clone()).unwrap_or_default(),
            Frame::Seq { items, .. } => items.len().to_string(),
        })
        .collect()
}

/// `<<: *defaults` merge keys (YAML 1.1, widely used to share settings):
/// keys already present win.
fn merge(
    entries: &mut Vec<Option<Entry>>,
    index: &mut HashMap<String, usize>,
    merged: &mut HashSet<String>,
    node: YNode,
    key_pos: Pos,
    soft: &mut Vec<YamlError>,
) {
    let maps = match node.value {
        Yaml::Map(m) => vec![m],
        Yaml::Seq(items) => items
            .into_iter()
            .filter_map(|i| match i.value {
                Yaml::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => {
            soft.push(YamlError { pos: key_pos, message: "`<<` must merge a map or a list of maps".into(), duplicate: None });
            return;
        }
    };
    for m in maps {
        for e in m {
            if !index.contains_key(&e.key) {
                merged.insert(e.key.clone());
                index.insert(e.key.clone(), entries.len());
                entries.push(Some(e));
            }
        }
    }
}

/// YAML 1.2 core schema resolution for a scalar.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Yaml {
    match tag {
        Some("str") => return Yaml::Str(text.to_string()),
        Some("int") => {
            if let Some(i) = parse_int(text) {
                return Yaml::Int(i);
            }
        }
        Some("float") => {
            if let Some(f) = parse_float(text).or_else(|| parse_int(text).map(|i| i as f64)) {
                return Yaml::Float(f);
            }
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Yaml::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml::Null,
        "true" | "True" | "TRUE" => return Yaml::Bool(true),
        "false" | "False" | "FALSE" => return Yaml::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Yaml::Int(i);
    }
    if let Some(f) = parse_float(text) {
        return Yaml::Float(f);
    }
    Yaml::Str(text.to_string())
}

fn parse_int(t: &str) -> Option<i64> {
    if let Some(hex) = t.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn parse_float(t: &str) -> Option<f64> {
    match t {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // Core schema: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if mantissa_ok && exp_ok {
        t.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> YNode {
        let (root, soft) = parse(text).unwrap();
        assert!(soft.is_empty(), "{soft:?}");
        root.unwrap()
    }

    #[test]
    fn resolves_scalars_with_the_core_schema() {
        let n = root("a: 1\nb: 1.5\nc: true\nd: ~\ne: no\nf: 2024-01-01\ng: '1'\nh: 0x1f\ni: 30s\nj: -2\nk: 1e3\n");
        let j = n.to_json();
        assert_eq!(
            j,
            serde_json::json!({"a": 1, "b": 1.5, "c": true, "d": null, "e": "no", "f": "2024-01-01", "g": "1", "h": 31, "i": "30s", "j": -2, "k": 1000.0})
        );
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let n = root("top:\n  inner: value\n  list: [a, b]\n");
        let Yaml::Map(entries) = &n.value else { panic!() };
        let Yaml::Map(inner) = &entries[0].value.value else { panic!() };
        assert_eq!(inner[0].key_pos, Pos::new(2, 3));
        assert_eq!(inner[0].value.pos, Pos::new(2, 10));
        let Yaml::Seq(items) = &inner[1].value.value else { panic!() };
        assert_eq!(items[1].pos, Pos::new(3, 13));
    }

    #[test]
    fn duplicate_keys_are_reported_and_the_first_kept() {
        let (n, soft) = parse("nodes:\n  a: 1\n  a: 2\n").unwrap();
        assert_eq!(soft.len(), 1);
        assert_eq!(soft[0].pos, Pos::new(3, 3));
        assert!(soft[0].message.contains("duplicate key `a` (first defined at line 2)"));
        assert_eq!(soft[0].duplicate, Some(("a".to_string(), vec!["nodes".to_string()], Pos::new(2, 3))));
        assert_eq!(n.unwrap().to_json(), serde_json::json!({"nodes": {"a": 1}}));
    }

    #[test]
    fn json_is_accepted() {
        let n = root(r#"{"workflow": "x", "nodes": {"a": {"notebook": "a.ipynb", "retries": 2}}}"#);
        assert_eq!(n.to_json()["nodes"]["a"]["retries"], 2);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.message.starts_with("YAML syntax error"), "{e:?}");
        assert!(e.pos.line >= 1);
    }

    #[test]
    fn anchors_and_merge_keys() {
        let n = root("base: &b { retries: 2, kernel: py }\nnode:\n  <<: *b\n  kernel: ir\n");
        assert_eq!(n.to_json()["node"], serde_json::json!({"kernel": "ir", "retries": 2}));
    }

    #[test]
    fn merge_overrides_keep_their_order() {
        let n = root("base: &b { a: 1, b: 2, c: 3 }\nnode:\n  <<: *b\n  a: 9\n  d: 4\n");
        let Yaml::Map(entries) = &n.value else { panic!() };
        let Yaml::Map(node) = &entries[1].value.value else { panic!() };
        let keys: Vec<&str> = node.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["b", "c", "a", "d"]);
        let (_, soft) = parse("m: {<<: {a: 1}, a: 2, a: 3}\n").unwrap();
        assert_eq!(soft.len(), 1, "{soft:?}");
        assert_eq!(soft[0].duplicate.as_ref().unwrap().1, vec!["m".to_string()]);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let ok = format!("{}1{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse(&ok).is_ok());
        let block: String = (0..MAX_DEPTH + 1).map(|i| format!("{}k:\n", "  ".repeat(i))).collect();
        let e = parse(&block).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e:?}");
        let e = parse(&"[".repeat(100_000)).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("too many values"), "{e:?}");
        // Aliases of a long string count by its length.
        let text = format!("a: &a {}\nb: [{}]\n", "x".repeat(1 << 20), vec!["*a"; 100].join(", "));
        assert!(parse(&text).unwrap_err().message.contains("too many values"));
        // Modest sharing is fine.
        assert!(parse("d: &d {a: 1}\nx: [*d, *d, *d]\n").is_ok());
        let e = parse("a: &a [*a]\n").unwrap_err();
        assert!(e.message.contains("unknown anchor"), "{e:?}");
    }

    #[test]
    fn empty_document_is_none() {
        assert!(parse("").unwrap().0.is_none());
        assert!(parse("# just a comment\n").unwrap().0.is_none());
    }
}
