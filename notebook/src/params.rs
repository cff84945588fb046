//! Notebook parameters as papermill's command line builds them.
//!
//! `deckle execute` accepts papermill's parameter options so existing command
//! lines keep working; this module reproduces what papermill 2.7 (`cli.py`)
//! turns them into:
//!
//! - `-f FILE` and `-y YAML`: PyYAML `SafeLoader` without the timestamp
//!   resolver (papermill's `NoDatesSafeLoader`), so dates stay strings;
//! - `-p NAME VALUE`: `_resolve_type`, i.e. `True`/`False`/`None`, else Python
//!   `int()`, else Python `float()`, else the string unchanged;
//! - `-r NAME VALUE`: the string unchanged;
//! - merged into one ordered mapping with `dict.update` semantics (later wins,
//!   a replaced key keeps its first position), see [`ParamSources::merge`].
//!
//! Values are kept as a small JSON-like tree ([`ParamValue`]) that still
//! knows what Python would have: `int` (of any size) versus `float`, and
//! non-finite floats, because the injected code differs for each.

use std::path::PathBuf;
use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::{Error, Result};

/// One parameter value, typed the way papermill (Python) would hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond `i64`, which Python keeps exactly: decimal digits
    /// with an optional leading `-`.
    BigInt(String),
    Float(f64),
    Str(String),
    List(Vec<ParamValue>),
    Map(IndexMap<String, ParamValue>),
}

/// Parameters in injection order (papermill's dict keeps insertion order).
pub type Params = IndexMap<String, ParamValue>;

impl ParamValue {
    /// From JSON (e.g. a workflow's parameters). Integers that fit no `i64`
    /// but a `u64` become [`ParamValue::BigInt`]; larger JSON integers were
    /// already read as floats by serde_json.
    pub fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => ParamValue::Null,
            J::Bool(b) => ParamValue::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    ParamValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    ParamValue::BigInt(u.to_string())
                } else {
                    ParamValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => ParamValue::Str(s.clone()),
            J::Array(a) => ParamValue::List(a.iter().map(ParamValue::from_json).collect()),
            J::Object(o) => ParamValue::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), ParamValue::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// To strict JSON (for `metadata.papermill.parameters` and the API).
    ///
    /// Non-finite floats become `null`: strict JSON has no NaN/Infinity
    /// (Python's `json.dumps` would write the non-standard `NaN`). A
    /// [`ParamValue::BigInt`] becomes an exact number up to `u64::MAX`, else
    /// the nearest float, else (beyond f64's range) its digits as a string.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            ParamValue::Null => J::Null,
            ParamValue::Bool(b) => J::Bool(*b),
            ParamValue::Int(i) => J::from(*i),
            ParamValue::BigInt(s) => {
                if let Ok(u) = s.parse::<u64>() {
                    J::from(u)
                } else if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
                {
                    J::Number(n)
                } else {
                    J::String(s.clone())
                }
            }
            ParamValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            ParamValue::Str(s) => J::String(s.clone()),
            ParamValue::List(l) => J::Array(l.iter().map(ParamValue::to_json).collect()),
            ParamValue::Map(m) => {
                J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Python's `str()` of a scalar; containers get their JSON text. Used to
    /// turn non-string YAML mapping keys into the string papermill's
    /// translators would print for them (`"True"`, `"None"`, `"1.5"`).
    pub fn python_str(&self) -> String {
        match self {
            ParamValue::Null => "None".into(),
            ParamValue::Bool(true) => "True".into(),
            ParamValue::Bool(false) => "False".into(),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::BigInt(s) => s.clone(),
            ParamValue::Float(f) => crate::translate::python_float_repr(*f),
            ParamValue::Str(s) => s.clone(),
            ParamValue::List(_) | ParamValue::Map(_) => self.to_json().to_string(),
        }
    }

    /// Python truthiness: papermill writes `yaml.load(...) or {}`, so a
    /// falsy document (empty, `null`, `false`, `0`, `''`, `[]`) means "no
    /// parameters" rather than an error.
    fn is_falsy(&self) -> bool {
        match self {
            ParamValue::Null => true,
            ParamValue::Bool(b) => !b,
            ParamValue::Int(i) => *i == 0,
            ParamValue::BigInt(_) => false,
            ParamValue::Float(f) => *f == 0.0,
            ParamValue::Str(s) => s.is_empty(),
            ParamValue::List(l) => l.is_empty(),
            ParamValue::Map(m) => m.is_empty(),
        }
    }
}

// ---------------------------------------------------------------------------
// Integers of any size
// ---------------------------------------------------------------------------

/// An integer from its sign and ASCII decimal digits: `Int` when it fits,
/// else `BigInt` in canonical form (no leading zeros), as Python prints it.
fn int_from_decimal(negative: bool, digits: &str) -> ParamValue {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return ParamValue::Int(0);
    }
    let signed = if negative {
        format!("-{digits}")
    } else {
        digits.to_string()
    };
    match signed.parse::<i64>() {
        Ok(i) => ParamValue::Int(i),
        Err(_) => ParamValue::BigInt(signed),
    }
}

/// Unsigned big integer in base 10^9 limbs, least significant first: just
/// enough arithmetic for YAML's binary, octal, hex and base-60 integers,
/// which PyYAML turns into exact Python ints of any size.
struct BigUint(Vec<u32>);

impl BigUint {
    const LIMB: u64 = 1_000_000_000;

    fn zero() -> Self {
        BigUint(vec![0])
    }

    fn mul_add(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = (v % Self::LIMB) as u32;
            carry = v / Self::LIMB;
        }
        while carry > 0 {
            self.0.push((carry % Self::LIMB) as u32);
            carry /= Self::LIMB;
        }
    }

    /// Python `int(digits, radix)` for ASCII digits (no sign, no `_`).
    fn parse(digits: &str, radix: u32) -> Option<Self> {
        if digits.is_empty() {
            return None;
        }
        let mut n = BigUint::zero();
        for c in digits.chars() {
            n.mul_add(radix, c.to_digit(radix)?);
        }
        Some(n)
    }

    fn to_decimal(&self) -> String {
        let mut out = String::new();
        let mut limbs = self.0.iter().rev().skip_while(|l| **l == 0);
        match limbs.next() {
            None => return "0".into(),
            Some(first) => out.push_str(&first.to_string()),
        }
        for l in limbs {
            out.push_str(&format!("{l:09}"));
        }
        out
    }
}

// ---------------------------------------------------------------------------
// -p: papermill's _resolve_type
// ---------------------------------------------------------------------------

/// The value of `-p NAME VALUE`, as papermill's `cli._resolve_type`: exactly
/// `True`, `False` or `None`; else what Python's `int(s)` accepts; else
/// what Python's `float(s)` accepts; else the string unchanged.
///
/// Python's parsing is followed closely: surrounding whitespace, a sign,
/// `_` between digits (`1_000`), leading zeros (`007` is 7), any length
/// (→ [`ParamValue::BigInt`] beyond i64, but more than 4300 digits is a
/// float, as Python 3.11's int-conversion limit makes `int()` fail),
/// `nan`/`inf`/`infinity` in any case, `.5`, `5.`, `1e5`. Non-ASCII decimal
/// digits are accepted like Python does (`"١٢"` is the int 12, `"１２"`
/// too): we chose to match papermill rather than keep them as strings, since
/// the notebook would otherwise receive a different type than under
/// papermill.
pub fn resolve_cli_value(s: &str) -> ParamValue {
    match s {
        "True" => return ParamValue::Bool(true),
        "False" => return ParamValue::Bool(false),
        "None" => return ParamValue::Null,
        _ => {}
    }
    if let Some(v) = python_int(s) {
        return v;
    }
    if let Some(f) = python_float(s) {
        return ParamValue::Float(f);
    }
    ParamValue::Str(s.to_string())
}

/// CPython 3.11's default `sys.get_int_max_str_digits()`.
const PY_INT_MAX_STR_DIGITS: usize = 4300;

/// Code points of the Unicode digit zeros (general category Nd) in the
/// Unicode 14 database of Python 3.11; each starts a run of ten digits.
/// Generated with `[c for c in range(0x110000) if unicodedata.decimal(chr(c), -1) == 0]`.
const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// `unicodedata.decimal(c)`.
fn unicode_decimal(c: char) -> Option<u32> {
    let cp = c as u32;
    let i = ND_ZEROS.partition_point(|z| *z <= cp);
    let zero = *ND_ZEROS.get(i.checked_sub(1)?)?;
    (cp - zero < 10).then_some(cp - zero)
}

/// CPython's `_PyUnicode_TransformDecimalAndSpaceToASCII` followed by the
/// ASCII-whitespace strip both `int()` and `float()` do. ASCII characters
/// are kept as they are (so `\x1c` is *not* whitespace here, unlike in
/// `str.strip()`); other whitespace becomes a space and other decimal digits
/// their ASCII digit; anything else non-ASCII makes the number invalid.
fn python_number_text(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() && c != '\x7f' {
            out.push(c);
        } else if c.is_whitespace() {
            // Rust's White_Space above ASCII is exactly Python's isspace().
            out.push(' ');
        } else {
            out.push(char::from_digit(unicode_decimal(c)?, 10)?);
        }
    }
    let ascii_ws: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c'];
    Some(out.trim_matches(ascii_ws).to_string())
}

/// Python `int(s)` (base 10) if it succeeds.
fn python_int(s: &str) -> Option<ParamValue> {
    let t = python_number_text(s)?;
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    // Digits with single underscores strictly between digits.
    let mut digits = String::with_capacity(body.len());
    let mut prev_digit = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            prev_digit = true;
        } else if c == '_' && prev_digit && chars.peek().is_some_and(char::is_ascii_digit) {
            prev_digit = false;
        } else {
            return None;
        }
    }
    if digits.is_empty() || digits.len() > PY_INT_MAX_STR_DIGITS {
        return None;
    }
    Some(int_from_decimal(negative, &digits))
}

/// Python `float(s)` if it succeeds: `_Py_string_to_number_with_underscores`
/// (each `_` between two digits) then `PyOS_string_to_double` (decimal
/// forms, or `inf`/`infinity`/`nan` in any case, with a sign).
fn python_float(s: &str) -> Option<f64> {
    let t = python_number_text(s)?;
    let b = t.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
    }
    let t = t.replace('_', "");
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    static DECIMAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$").unwrap()
    });
    if !DECIMAL.is_match(body) {
        return None;
    }
    // Rust's parser is correctly rounded like Python's, overflows to
    // infinity like it, and accepts "5." and ".5"; it just needs no sign.
    let f: f64 = body.parse().ok()?;
    Some(sign * f)
}

// ---------------------------------------------------------------------------
// -y / -f: YAML as PyYAML's SafeLoader (minus timestamps) reads it
// ---------------------------------------------------------------------------

/// Parse a `-y` string or `-f` file the way papermill does
/// (`yaml.load(text, Loader=NoDatesSafeLoader) or {}`), naming `origin` in
/// errors. The document must be a mapping; a falsy one (empty, `null`, …)
/// means no parameters, like papermill's `or {}`.
///
/// serde_yaml_ng parses (libyaml, YAML 1.1 syntax) but resolves plain
/// scalars by YAML 1.2 rules, where PyYAML uses YAML 1.1's. To get PyYAML's
/// types we parse twice: once for the document's shape, then again asking
/// every scalar for its source text, and re-resolve the plain, untagged ones
/// with PyYAML's own resolver regexes (see [`pyyaml_resolve`]). So, like
/// papermill: `yes`/`on`/`off`/`no` are booleans, `1_000` and `0x1F`, `017`
/// (octal), `1:30` (base 60) are ints of any size, `1e3` and `1.5e3` are
/// strings (PyYAML floats need a dot and a signed exponent), `0o17` is a
/// string, `2024-01-01` is a string, duplicate keys keep the last value,
/// and `<<` merge keys work.
///
/// Known divergences (all rare in parameter files):
/// - a plain scalar is told from a quoted one by looking at the source
///   around it; a tag (`!!str 12`) is spotted by the token before the
///   scalar, which a comment ending in a `!…` word can fool;
/// - explicitly tagged scalars (`!!float 1`) keep serde_yaml_ng's value;
///   unknown tags (`!!python/…`, `!foo`) are not refused as by SafeLoader;
/// - non-string keys become their Python `str()` (`1`, `True`, `None`,
///   `1.5`) instead of staying ints/bools, so `{1: a, true: b}` keeps two
///   keys where Python's dict merges `1` and `True`;
/// - a non-mapping document is refused; papermill's `dict.update` would
///   also accept a list of pairs.
pub fn parse_yaml_params(text: &str, origin: &str) -> Result<Params> {
    let err = |message: String| Error::Params {
        origin: origin.to_string(),
        message,
    };
    if flow_depth_exceeds(text, MAX_FLOW_BRACKETS) {
        // serde_yaml_ng refuses nesting beyond 128 levels, but only after its
        // parser has read the whole event stream, which takes time quadratic in
        // the depth of `[[[…` / `{{{…`: refuse absurd nesting up front.
        return Err(err(format!("nested too deeply (more than {MAX_FLOW_BRACKETS} open brackets)")));
    }
    let shape = Shape::deserialize_from(text).map_err(|e| err(e.to_string()))?;
    let second_pass = ValueSeed {
        shape: &shape,
        input: text,
    }
    .deserialize(serde_yaml_ng::Deserializer::from_str(text));
    let value = match (second_pass, &shape) {
        (Ok(v), _) => v,
        // An empty stream (no document, only comments) has no scalar to
        // read twice; it is `None` to PyYAML.
        (Err(_), Shape::Scalar(v)) => v.clone(),
        (Err(e), _) => return Err(err(e.to_string())),
    };
    match value {
        ParamValue::Map(m) => Ok(m),
        v if v.is_falsy() => Ok(Params::new()),
        v => Err(err(format!(
            "expected a YAML mapping of parameter names to values, found {}",
            kind_name(&v)
        ))),
    }
}

/// Open `[` / `{` allowed at once in parameter YAML, counted without regard to
/// quoting (so only a bound: real nesting past 128 levels is refused anyway).
const MAX_FLOW_BRACKETS: usize = 1000;

/// Whether `text` ever has more than `limit` unclosed `[` / `{`.
fn flow_depth_exceeds(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn kind_name(v: &ParamValue) -> &'static str {
    match v {
        ParamValue::Null => "null",
        ParamValue::Bool(_) => "a boolean",
        ParamValue::Int(_) | ParamValue::BigInt(_) => "an integer",
        ParamValue::Float(_) => "a float",
        ParamValue::Str(_) => "a string",
        ParamValue::List(_) => "a list",
        ParamValue::Map(_) => "a mapping",
    }
}

/// What the first pass learns: the tree, and serde_yaml_ng's own reading of
/// each scalar (kept for tagged and quoted scalars).
#[derive(Debug)]
enum Shape {
    Scalar(ParamValue),
    Seq(Vec<Shape>),
    Map(Vec<(Shape, Shape)>),
}

impl Shape {
    fn deserialize_from(text: &str) -> Result<Shape, serde_yaml_ng::Error> {
        serde_yaml_ng::Deserializer::from_str(text).deserialize_any(ShapeVisitor)
    }
}

impl<'de> de::Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Null))
    }
    fn visit_none<E>(self) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(int_from_decimal(false, &v.to_string())))
    }
    fn visit_i128<E>(self, v: i128) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(int_from_decimal(
            v < 0,
            &v.unsigned_abs().to_string(),
        )))
    }
    fn visit_u128<E>(self, v: u128) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(int_from_decimal(false, &v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Str(v.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Shape, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Shape>()? {
            items.push(item);
        }
        Ok(Shape::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Shape, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<Shape, Shape>()? {
            entries.push(entry);
        }
        Ok(Shape::Map(entries))
    }
}

/// Second pass: walks the same document guided by its [`Shape`], reading
/// each scalar's source text (`deserialize_str` gives it for any scalar) and
/// building the final value.
struct ValueSeed<'s, 'de> {
    shape: &'s Shape,
    input: &'de str,
}

/// A mapping key or value: a value, or one of the two special plain keys
/// of YAML 1.1.
enum Node {
    Value(ParamValue),
    /// `<<`, a merge key.
    Merge,
    /// `=`, the "value" key, which PyYAML reads as the string "=" in keys.
    ValueKey,
}

impl<'s, 'de> ValueSeed<'s, 'de> {
    fn node<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        match self.shape {
            Shape::Scalar(serde_value) => {
                let (text, offset) = d.deserialize_str(TextVisitor { input: self.input })?;
                let plain = offset.is_some_and(|off| is_plain_untagged(self.input, off));
                if plain {
                    pyyaml_resolve(&text).map_err(de::Error::custom)
                } else {
                    Ok(Node::Value(serde_value.clone()))
                }
            }
            Shape::Seq(items) => d
                .deserialize_seq(SeqVisitor {
                    items,
                    input: self.input,
                })
                .map(Node::Value),
            Shape::Map(entries) => d
                .deserialize_map(MapVisitor {
                    entries,
                    input: self.input,
                })
                .map(Node::Value),
        }
    }
}

fn node_error(node: &Node) -> Option<String> {
    // What PyYAML says for `a: <<` or `a: =`.
    let tag = match node {
        Node::Value(_) => return None,
        Node::Merge => "merge",
        Node::ValueKey => "value",
    };
    Some(format!(
        "could not determine a constructor for the tag 'tag:yaml.org,2002:{tag}'"
    ))
}

impl<'s, 'de> DeserializeSeed<'de> for ValueSeed<'s, 'de> {
    type Value = ParamValue;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<ParamValue, D::Error> {
        match self.node(d)? {
            Node::Value(v) => Ok(v),
            other => Err(de::Error::custom(node_error(&other).unwrap_or_default())),
        }
    }
}

struct NodeSeed<'s, 'de>(ValueSeed<'s, 'de>);

impl<'s, 'de> DeserializeSeed<'de> for NodeSeed<'s, 'de> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        self.0.node(d)
    }
}

/// A scalar's text, and its byte offset in the input when serde_yaml_ng
/// could lend it straight from the source (single-line plain or quoted
/// scalars without escapes); the offset lets us look at what surrounds it.
struct TextVisitor<'de> {
    input: &'de str,
}

impl<'de> Visitor<'de> for TextVisitor<'de> {
    type Value = (String, Option<usize>);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        let start = self.input.as_ptr() as usize;
        let at = v.as_ptr() as usize;
        let offset = (at >= start && at + v.len() <= start + self.input.len()).then(|| at - start);
        Ok((v.to_string(), offset))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok((v.to_string(), None))
    }
}

/// Whether the scalar found at byte `offset` of `input` is plain (not
/// quoted) and carries no tag, so that YAML 1.1 implicit resolution applies.
fn is_plain_untagged(input: &str, offset: usize) -> bool {
    let before = &input[..offset];
    if before.ends_with(['\'', '"']) {
        return false;
    }
    // Walk back over node properties (`&anchor`, `!tag`) before the scalar.
    let mut rest = before;
    loop {
        rest = rest.trim_end_matches([' ', '\t', '\r', '\n']);
        let token_start = rest
            .rfind([' ', '\t', '\r', '\n', '[', '{', ','])
            .map_or(0, |i| i + 1);
        let token = &rest[token_start..];
        if token.starts_with('!') {
            return false;
        }
        if !token.starts_with('&') || token_start == 0 {
            return true;
        }
        rest = &rest[..token_start];
    }
}

/// PyYAML's implicit resolvers (`yaml/resolver.py`, minus the timestamp one
/// papermill removes) and SafeConstructor's conversions, on a plain scalar.
fn pyyaml_resolve(text: &str) -> std::result::Result<Node, String> {
    static BOOL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        )
        .unwrap()
    });
    static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
            r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
            r"|[-+]?\.(?:inf|Inf|INF)",
            r"|\.(?:nan|NaN|NAN))$"
        ))
        .unwrap()
    });
    static INT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:[-+]?0b[0-1_]+",
            r"|[-+]?0[0-7_]+",
            r"|[-+]?(?:0|[1-9][0-9_]*)",
            r"|[-+]?0x[0-9a-fA-F_]+",
            r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
        ))
        .unwrap()
    });
    // PyYAML picks candidate resolvers by the first character, then tries
    // them in registration order: bool, float, int, merge, null, value.
    let first = text.chars().next();
    let starts = |set: &str| first.is_some_and(|c| set.contains(c));
    if starts("yYnNtTfFoO") && BOOL.is_match(text) {
        return Ok(Node::Value(ParamValue::Bool(matches!(
            text.to_ascii_lowercase().as_str(),
            "yes" | "true" | "on"
        ))));
    }
    if starts("-+0123456789.") && FLOAT.is_match(text) {
        return Ok(Node::Value(ParamValue::Float(construct_float(text))));
    }
    if starts("-+0123456789") && INT.is_match(text) {
        return construct_int(text).map(Node::Value);
    }
    match text {
        "<<" => Ok(Node::Merge),
        "" | "~" | "null" | "Null" | "NULL" => Ok(Node::Value(ParamValue::Null)),
        "=" => Ok(Node::ValueKey),
        _ => Ok(Node::Value(ParamValue::Str(text.to_string()))),
    }
}

/// SafeConstructor.construct_yaml_int.
fn construct_int(text: &str) -> std::result::Result<ParamValue, String> {
    let value = text.replace('_', "");
    let negative = value.starts_with('-');
    let value = value.trim_start_matches(['-', '+']);
    let bad = |radix: u32, digits: &str| {
        format!("invalid literal for int() with base {radix}: '{digits}'")
    };
    let magnitude = if value == "0" {
        BigUint::zero()
    } else if let Some(d) = value.strip_prefix("0b") {
        BigUint::parse(d, 2).ok_or_else(|| bad(2, d))?
    } else if let Some(d) = value.strip_prefix("0x") {
        BigUint::parse(d, 16).ok_or_else(|| bad(16, d))?
    } else if value.starts_with('0') {
        BigUint::parse(value, 8).ok_or_else(|| bad(8, value))?
    } else if value.contains(':') {
        // Base 60, most significant part first; only the first part can be
        // large, the others are below 60.
        let mut parts = value.split(':');
        let mut n = BigUint::parse(parts.next().unwrap_or(""), 10).ok_or_else(|| bad(10, value))?;
        for part in parts {
            let p: u32 = part.parse().map_err(|_| bad(10, part))?;
            n.mul_add(60, p);
        }
        n
    } else {
        BigUint::parse(value, 10).ok_or_else(|| bad(10, value))?
    };
    Ok(int_from_decimal(negative, &magnitude.to_decimal()))
}

/// SafeConstructor.construct_yaml_float (the regex has already vetted it).
fn construct_float(text: &str) -> f64 {
    let value = text.replace('_', "").to_ascii_lowercase();
    let sign = if value.starts_with('-') { -1.0 } else { 1.0 };
    let value = value.trim_start_matches(['-', '+']);
    let parse = |s: &str| python_float(s).unwrap_or(f64::NAN);
    match value {
        ".inf" => sign * f64::INFINITY,
        ".nan" => f64::NAN,
        v if v.contains(':') => {
            // Same float arithmetic, in the same order, as PyYAML.
            let mut total = 0.0;
            let mut base = 1.0;
            for part in v.split(':').rev() {
                total += parse(part) * base;
                base *= 60.0;
            }
            sign * total
        }
        v => sign * parse(v),
    }
}

struct SeqVisitor<'s, 'de> {
    items: &'s [Shape],
    input: &'de str,
}

impl<'s, 'de> Visitor<'de> for SeqVisitor<'s, 'de> {
    type Value = ParamValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<ParamValue, A::Error> {
        let mut out = Vec::with_capacity(self.items.len());
        for shape in self.items {
            match seq.next_element_seed(ValueSeed {
                shape,
                input: self.input,
            })? {
                Some(v) => out.push(v),
                None => return Err(de::Error::custom("sequence changed between passes")),
            }
        }
        Ok(ParamValue::List(out))
    }
}

struct MapVisitor<'s, 'de> {
    entries: &'s [(Shape, Shape)],
    input: &'de str,
}

impl<'s, 'de> Visitor<'de> for MapVisitor<'s, 'de> {
    type Value = ParamValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<ParamValue, A::Error> {
        // PyYAML's flatten_mapping: merged entries come first (from the
        // last merged mapping to the first), then the mapping's own; the
        // dict built from them keeps each key's first position and last
        // value. IndexMap::insert has exactly those semantics.
        let mut merged: Vec<IndexMap<String, ParamValue>> = Vec::new();
        let mut own: Vec<(String, ParamValue)> = Vec::new();
        for (key_shape, value_shape) in self.entries {
            if !matches!(key_shape, Shape::Scalar(_)) {
                return Err(de::Error::custom("found unhashable key"));
            }
            let key = map
                .next_key_seed(NodeSeed(ValueSeed {
                    shape: key_shape,
                    input: self.input,
                }))?
                .ok_or_else(|| de::Error::custom("mapping changed between passes"))?;
            let value: ParamValue = map.next_value_seed(ValueSeed {
                shape: value_shape,
                input: self.input,
            })?;
            match key {
                Node::Merge => match value {
                    ParamValue::Map(m) => merged.push(m),
                    ParamValue::List(list) => {
                        let mut maps = Vec::with_capacity(list.len());
                        for item in list {
                            match item {
                                ParamValue::Map(m) => maps.push(m),
                                _ => {
                                    return Err(de::Error::custom("expected a mapping for merging"))
                                }
                            }
                        }
                        merged.extend(maps.into_iter().rev());
                    }
                    _ => {
                        return Err(de::Error::custom(
                            "expected a mapping or list of mappings for merging",
                        ))
                    }
                },
                Node::ValueKey => own.push(("=".to_string(), value)),
                Node::Value(k) => own.push((k.python_str(), value)),
            }
        }
        let mut out = IndexMap::new();
        for (k, v) in merged.into_iter().flatten().chain(own) {
            out.insert(k, v);
        }
        Ok(ParamValue::Map(out))
    }
}

// ---------------------------------------------------------------------------
// Merging the command line's sources
// ---------------------------------------------------------------------------

/// The parameter options of one `deckle execute` command line, each list in
/// command-line order.
#[derive(Debug, Default, Clone)]
pub struct ParamSources {
    /// Set before everything else: `--inject-input-path` and friends
    /// (`PAPERMILL_INPUT_PATH`, `PAPERMILL_OUTPUT_PATH`).
    pub builtin: Vec<(String, String)>,
    /// `-b BASE64`: base64-encoded YAML strings.
    pub base64: Vec<String>,
    /// `-f FILE`: YAML (or JSON) files.
    pub files: Vec<PathBuf>,
    /// `-y YAML`: YAML strings.
    pub yaml: Vec<String>,
    /// `-p NAME VALUE`: typed by [`resolve_cli_value`].
    pub typed: Vec<(String, String)>,
    /// `-r NAME VALUE`: kept as strings.
    pub raw: Vec<(String, String)>,
}

impl ParamSources {
    /// All parameters, merged like papermill's `cli.py`: every `-f` file in
    /// order, then every `-y` string, then every `-p`, then every `-r`, each
    /// applied with `dict.update` (a later source wins per top-level key; a
    /// nested mapping is replaced, not merged; a replaced key keeps its first
    /// position). Only the option kind decides precedence, not the position
    /// on the command line: `-p a 1 -f f.yaml` still lets `-p` win.
    /// Before the files come the injected paths, then every `-b`, as in papermill.
    pub fn merge(&self) -> Result<Params> {
        let mut out = Params::new();
        for (name, value) in &self.builtin {
            out.insert(name.clone(), ParamValue::Str(value.clone()));
        }
        for (i, encoded) in self.base64.iter().enumerate() {
            use base64::Engine as _;
            let origin = if self.base64.len() == 1 { "-b".to_string() } else { format!("-b #{}", i + 1) };
            // Python's b64decode skips characters outside the alphabet (newlines).
            let cleaned: String = encoded.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')).collect();
            let bytes = base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()).map_err(|e| Error::Params {
                origin: origin.clone(),
                message: format!("not base64: {e}"),
            })?;
            let text = String::from_utf8(bytes).map_err(|_| Error::Params {
                origin: origin.clone(),
                message: "the decoded bytes are not UTF-8 text".into(),
            })?;
            out.extend(parse_yaml_params(&text, &origin)?);
        }
        for path in &self.files {
            let origin = format!("file {}", path.display());
            let text = std::fs::read_to_string(path).map_err(|e| Error::Params {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
            out.extend(parse_yaml_params(&text, &origin)?);
        }
        for (i, text) in self.yaml.iter().enumerate() {
            let origin = if self.yaml.len() == 1 {
                "-y".to_string()
            } else {
                format!("-y #{}", i + 1)
            };
            out.extend(parse_yaml_params(text, &origin)?);
        }
        for (name, value) in &self.typed {
            out.insert(name.clone(), resolve_cli_value(value));
        }
        for (name, value) in &self.raw {
            out.insert(name.clone(), ParamValue::Str(value.clone()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeply_nested_parameter_yaml_is_refused_quickly() {
        let text = format!("x: {}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let start = std::time::Instant::now();
        let e = parse_yaml_params(&text, "-y").unwrap_err().to_string();
        assert!(e.contains("nested too deeply"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        // Brackets in strings count, but only past a thousand open at once.
        assert!(parse_yaml_params("x: '[[[['\ny: [[1]]\n", "-y").is_ok());
    }

    fn s(v: &str) -> ParamValue {
        ParamValue::Str(v.into())
    }
    fn yaml(text: &str) -> Params {
        parse_yaml_params(text, "test").unwrap()
    }
    fn one(text: &str) -> ParamValue {
        yaml(&format!("a: {text}")).swap_remove("a").unwrap()
    }

    #[test]
    fn cli_keywords_are_exact() {
        assert_eq!(resolve_cli_value("True"), ParamValue::Bool(true));
        assert_eq!(resolve_cli_value("False"), ParamValue::Bool(false));
        assert_eq!(resolve_cli_value("None"), ParamValue::Null);
        assert_eq!(resolve_cli_value("true"), s("true"));
        assert_eq!(resolve_cli_value("none"), s("none"));
        assert_eq!(resolve_cli_value(" True"), s(" True"));
        assert_eq!(resolve_cli_value(""), s(""));
    }

    #[test]
    fn cli_ints_follow_python_int() {
        assert_eq!(resolve_cli_value("12"), ParamValue::Int(12));
        assert_eq!(resolve_cli_value(" 12 "), ParamValue::Int(12));
        assert_eq!(resolve_cli_value("\t-12\n"), ParamValue::Int(-12));
        assert_eq!(resolve_cli_value("+5"), ParamValue::Int(5));
        assert_eq!(resolve_cli_value("007"), ParamValue::Int(7));
        assert_eq!(resolve_cli_value("-0"), ParamValue::Int(0));
        assert_eq!(resolve_cli_value("1_000"), ParamValue::Int(1000));
        assert_eq!(resolve_cli_value("0_7"), ParamValue::Int(7));
        assert_eq!(resolve_cli_value("1__0"), s("1__0"));
        assert_eq!(resolve_cli_value("_1"), s("_1"));
        assert_eq!(resolve_cli_value("1_"), s("1_"));
        assert_eq!(resolve_cli_value("- 5"), s("- 5"));
        assert_eq!(resolve_cli_value("0x10"), s("0x10"));
        assert_eq!(
            resolve_cli_value("-9223372036854775808"),
            ParamValue::Int(i64::MIN)
        );
        assert_eq!(
            resolve_cli_value("9223372036854775808"),
            ParamValue::BigInt("9223372036854775808".into())
        );
        assert_eq!(
            resolve_cli_value("-000123456789012345678901234567890"),
            ParamValue::BigInt("-123456789012345678901234567890".into())
        );
        // Python's 4300-digit limit makes int() fail, float() then succeeds.
        assert!(matches!(
            resolve_cli_value(&"1".repeat(4300)),
            ParamValue::BigInt(_)
        ));
        assert_eq!(
            resolve_cli_value(&"1".repeat(4301)),
            ParamValue::Float(f64::INFINITY)
        );
        assert_eq!(resolve_cli_value(&"0".repeat(4301)), ParamValue::Float(0.0));
    }

    #[test]
    fn cli_unicode_digits_and_spaces_like_python() {
        assert_eq!(resolve_cli_value("١٢"), ParamValue::Int(12));
        assert_eq!(resolve_cli_value("１２"), ParamValue::Int(12));
        assert_eq!(resolve_cli_value("١٢.٥"), ParamValue::Float(12.5));
        assert_eq!(resolve_cli_value("\u{3000}7\u{a0}"), ParamValue::Int(7));
        assert_eq!(resolve_cli_value("\u{85} 5"), ParamValue::Int(5));
        // ASCII control separators are not whitespace to int()/float().
        assert_eq!(resolve_cli_value("\x1c5"), s("\x1c5"));
        assert_eq!(resolve_cli_value("²"), s("²"));
    }

    #[test]
    fn cli_floats_follow_python_float() {
        let f = |x: &str| match resolve_cli_value(x) {
            ParamValue::Float(f) => f,
            other => panic!("{x:?} gave {other:?}"),
        };
        assert_eq!(f("1e5"), 100000.0);
        assert_eq!(f("1E5"), 100000.0);
        assert_eq!(f("3."), 3.0);
        assert_eq!(f(".5"), 0.5);
        assert_eq!(f("+.5"), 0.5);
        assert_eq!(f("-1.5e-3"), -0.0015);
        assert_eq!(f("1.e5"), 100000.0);
        assert_eq!(f("1_000.5_5"), 1000.55);
        assert_eq!(f("1e1_0"), 1e10);
        assert_eq!(f("1e400"), f64::INFINITY);
        assert_eq!(f("-1e400"), f64::NEG_INFINITY);
        assert_eq!(f("inf"), f64::INFINITY);
        assert_eq!(f("-inf"), f64::NEG_INFINITY);
        assert_eq!(f("Infinity"), f64::INFINITY);
        assert_eq!(f("-iNfInItY"), f64::NEG_INFINITY);
        assert!(f("nan").is_nan());
        assert!(f("-NaN").is_nan());
        assert!(f(" +nan ").is_nan());
        for bad in [
            "1e", "e5", ".", "-.e5", "1.2.3", "1_e10", "1._5", "1_.5", "nan_", "in_f", "infinit",
            "0x1p3", "1e+_5", "nan(1)", "1\0",
        ] {
            assert_eq!(resolve_cli_value(bad), s(bad), "{bad:?}");
        }
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": 1, "b": [1.5, null, true, "x"], "c": {"d": 18446744073709551615u64}});
        let v = ParamValue::from_json(&j);
        let ParamValue::Map(m) = &v else { panic!() };
        assert_eq!(m["a"], ParamValue::Int(1));
        assert_eq!(
            m["c"],
            ParamValue::Map(
                [(
                    "d".into(),
                    ParamValue::BigInt("18446744073709551615".into())
                )]
                .into_iter()
                .collect()
            )
        );
        assert_eq!(v.to_json(), j);
        assert_eq!(
            ParamValue::Float(f64::NAN).to_json(),
            serde_json::Value::Null
        );
        assert_eq!(
            ParamValue::Float(f64::INFINITY).to_json(),
            serde_json::Value::Null
        );
        assert_eq!(ParamValue::Float(100.0).to_json().to_string(), "100.0");
        assert_eq!(
            ParamValue::BigInt("123456789012345678901234567890".into()).to_json(),
            serde_json::json!(1.2345678901234568e29)
        );
        assert_eq!(
            ParamValue::BigInt("1".repeat(400)).to_json(),
            serde_json::Value::String("1".repeat(400))
        );
    }

    #[test]
    fn yaml_scalars_resolve_like_pyyaml() {
        assert_eq!(one("12"), ParamValue::Int(12));
        assert_eq!(one("-12"), ParamValue::Int(-12));
        assert_eq!(one("1_000"), ParamValue::Int(1000));
        assert_eq!(one("0x1F"), ParamValue::Int(31));
        assert_eq!(one("-0x10"), ParamValue::Int(-16));
        assert_eq!(one("0b101"), ParamValue::Int(5));
        assert_eq!(one("017"), ParamValue::Int(15));
        assert_eq!(one("09"), s("09"));
        assert_eq!(one("0o17"), s("0o17"));
        assert_eq!(one("1:30"), ParamValue::Int(90));
        assert_eq!(one("-1:30:00"), ParamValue::Int(-5400));
        assert_eq!(one("1.5"), ParamValue::Float(1.5));
        assert_eq!(one("1."), ParamValue::Float(1.0));
        assert_eq!(one(".5"), ParamValue::Float(0.5));
        assert_eq!(one("1.0e+3"), ParamValue::Float(1000.0));
        assert_eq!(one("1_0.5"), ParamValue::Float(10.5));
        assert_eq!(one("1:30.5"), ParamValue::Float(90.5));
        assert_eq!(one("1e3"), s("1e3"));
        assert_eq!(one("1.5e3"), s("1.5e3"));
        assert_eq!(one(".inf"), ParamValue::Float(f64::INFINITY));
        assert_eq!(one("-.Inf"), ParamValue::Float(f64::NEG_INFINITY));
        assert!(matches!(one(".NaN"), ParamValue::Float(f) if f.is_nan()));
        assert_eq!(one("inf"), s("inf"));
        assert_eq!(one("nan"), s("nan"));
        assert_eq!(one("yes"), ParamValue::Bool(true));
        assert_eq!(one("Off"), ParamValue::Bool(false));
        assert_eq!(one("TRUE"), ParamValue::Bool(true));
        assert_eq!(one("y"), s("y"));
        assert_eq!(one("tRue"), s("tRue"));
        assert_eq!(one("~"), ParamValue::Null);
        assert_eq!(one("NULL"), ParamValue::Null);
        assert_eq!(one(""), ParamValue::Null);
        assert_eq!(one("2024-01-01"), s("2024-01-01"));
        assert_eq!(one("2024-01-01 10:00:00"), s("2024-01-01 10:00:00"));
        assert_eq!(
            one("123456789012345678901234567890"),
            ParamValue::BigInt("123456789012345678901234567890".into())
        );
        assert_eq!(
            one("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
            ParamValue::BigInt("22300745198530623141535718272648361505980415".into())
        );
        assert_eq!(
            one("-0b1_0000000000000000000000000000000000000000000000000000000000000000"),
            ParamValue::BigInt("-18446744073709551616".into())
        );
    }

    #[test]
    fn big_uint_arithmetic() {
        assert_eq!(
            BigUint::parse("ffffffffffffffffffffffff", 16)
                .unwrap()
                .to_decimal(),
            "79228162514264337593543950335"
        );
        assert_eq!(BigUint::parse("0", 10).unwrap().to_decimal(), "0");
        assert_eq!(
            BigUint::parse("1000000000", 10).unwrap().to_decimal(),
            "1000000000"
        );
        assert_eq!(BigUint::parse("777", 8).unwrap().to_decimal(), "511");
        assert!(BigUint::parse("", 2).is_none());
        assert!(BigUint::parse("12", 2).is_none());
    }

    #[test]
    fn yaml_quoted_and_tagged_scalars_stay_as_written() {
        assert_eq!(one("'yes'"), s("yes"));
        assert_eq!(one("\"12\""), s("12"));
        assert_eq!(one("'1_000'"), s("1_000"));
        assert_eq!(one("\"\""), s(""));
        assert_eq!(one("''"), s(""));
        assert_eq!(one("!!str 12"), s("12"));
        assert_eq!(one("!!str yes"), s("yes"));
        assert_eq!(one("&x yes"), ParamValue::Bool(true));
        assert_eq!(one("!!int \"12\""), ParamValue::Int(12));
        assert_eq!(one("\"a\\tb\""), s("a\tb"));
        assert_eq!(one("|\n  yes\n"), s("yes\n"));
        assert_eq!(
            one("[yes, 'no', 1e3, 0x10]"),
            ParamValue::List(vec![
                ParamValue::Bool(true),
                s("no"),
                s("1e3"),
                ParamValue::Int(16)
            ])
        );
        assert_eq!(
            one("{k: on}"),
            ParamValue::Map([("k".into(), ParamValue::Bool(true))].into_iter().collect())
        );
    }

    #[test]
    fn yaml_mappings() {
        let p = yaml("b: 1\na: [1, {x: 2}]\nb: 3\n");
        assert_eq!(p.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(p["b"], ParamValue::Int(3));
        // Non-string keys become Python's str() of them.
        let p = yaml("{1: a, true: b, 1.5: c, null: d, yes: e, =: f}");
        assert_eq!(
            p.keys().collect::<Vec<_>>(),
            ["1", "True", "1.5", "None", "="]
        );
        assert_eq!(p["True"], s("e"));
        // Merge keys.
        let p = yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n  z: 4\n");
        let ParamValue::Map(other) = &p["other"] else {
            panic!()
        };
        assert_eq!(
            other
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect::<Vec<_>>(),
            [
                ("x", ParamValue::Int(1)),
                ("y", ParamValue::Int(3)),
                ("z", ParamValue::Int(4))
            ]
        );
        let p = yaml("a: &a {k: 1}\nb: &b {k: 2, j: 2}\nc:\n  <<: [*a, *b]\n");
        let ParamValue::Map(c) = &p["c"] else {
            panic!()
        };
        assert_eq!(c["k"], ParamValue::Int(1));
        assert_eq!(c.keys().collect::<Vec<_>>(), ["k", "j"]);
        // JSON is YAML.
        let p = yaml(r#"{"n": 1e400, "f": 1.5, "s": "x", "l": [true, null]}"#);
        assert_eq!(p["n"], s("1e400"));
        assert_eq!(p["f"], ParamValue::Float(1.5));
    }

    #[test]
    fn yaml_top_level_and_errors() {
        for falsy in [
            "",
            "# only a comment",
            "~",
            "null",
            "false",
            "0",
            "[]",
            "{}",
            "''",
        ] {
            assert!(yaml(falsy).is_empty(), "{falsy:?}");
        }
        for bad in ["x", "[1]", "12", "true"] {
            let e = parse_yaml_params(bad, "-y").unwrap_err();
            assert!(
                matches!(&e, Error::Params { origin, .. } if origin == "-y"),
                "{e}"
            );
        }
        let e = parse_yaml_params("a: [1", "file p.yaml").unwrap_err();
        assert!(
            e.to_string().starts_with("bad parameter file p.yaml: "),
            "{e}"
        );
        for bad in [
            "a: <<",
            "a: =",
            "a: 0b__",
            "? [1]\n: x",
            "a: {<<: 1}",
            "a: {<<: [1]}",
            "---\na: 1\n---\nb: 2\n",
        ] {
            assert!(parse_yaml_params(bad, "t").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn merge_order_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f1 = dir.path().join("p1.yaml");
        let f2 = dir.path().join("p2.json");
        std::fs::write(&f1, "a: from_f1\nb: from_f1\nc: {x: 1}\nz: 0\n").unwrap();
        std::fs::write(&f2, r#"{"b": "from_f2", "d": 4}"#).unwrap();
        let src = ParamSources {
            files: vec![f1, f2],
            yaml: vec!["c: {y: 2}\ne: yaml1".into(), "e: yaml2\nf: 1".into()],
            typed: vec![
                ("f".into(), "2.5".into()),
                ("g".into(), "x".into()),
                ("a".into(), "True".into()),
            ],
            raw: vec![("g".into(), "7".into()), ("h".into(), "None".into())],
            ..Default::default()
        };
        let p = src.merge().unwrap();
        assert_eq!(
            p.keys().collect::<Vec<_>>(),
            ["a", "b", "c", "z", "d", "e", "f", "g", "h"]
        );
        assert_eq!(p["a"], ParamValue::Bool(true));
        assert_eq!(p["b"], s("from_f2"));
        // Shallow update: the later mapping replaces the earlier one.
        assert_eq!(
            p["c"],
            ParamValue::Map([("y".into(), ParamValue::Int(2))].into_iter().collect())
        );
        assert_eq!(p["e"], s("yaml2"));
        assert_eq!(p["f"], ParamValue::Float(2.5));
        assert_eq!(p["g"], s("7"));
        assert_eq!(p["h"], s("None"));

        let missing = dir.path().join("nope.yaml");
        let e = ParamSources {
            files: vec![missing.clone()],
            ..Default::default()
        }
        .merge()
        .unwrap_err();
        assert!(
            matches!(&e, Error::Params { origin, .. } if origin.contains("nope.yaml")),
            "{e}"
        );
        let e = ParamSources {
            yaml: vec!["a: 1".into(), "[".into()],
            ..Default::default()
        }
        .merge()
        .unwrap_err();
        assert!(e.to_string().starts_with("bad parameter -y #2: "), "{e}");
    }

    #[test]
    fn base64_and_injected_paths_come_before_files_as_in_papermill() {
        use base64::Engine as _;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.yaml");
        std::fs::write(&f, "b: from_file\n").unwrap();
        let enc = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
        let src = ParamSources {
            builtin: vec![("PAPERMILL_INPUT_PATH".into(), "in.ipynb".into())],
            base64: vec![enc("a: 1\nb: from_b64\nPAPERMILL_INPUT_PATH: overridden"), enc("c: [1, 2]")],
            files: vec![f],
            ..Default::default()
        };
        let p = src.merge().unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["PAPERMILL_INPUT_PATH", "a", "b", "c"]);
        assert_eq!(p["PAPERMILL_INPUT_PATH"], s("overridden"));
        assert_eq!(p["a"], ParamValue::Int(1));
        assert_eq!(p["b"], s("from_file"));
        assert_eq!(p["c"], ParamValue::List(vec![ParamValue::Int(1), ParamValue::Int(2)]));
        // Line breaks inside the encoded text are skipped, as Python's b64decode does.
        let wrapped = enc("x: 5").chars().enumerate().flat_map(|(i, c)| if i == 2 { vec!['\n', c] } else { vec![c] }).collect::<String>();
        let p = ParamSources { base64: vec![wrapped], ..Default::default() }.merge().unwrap();
        assert_eq!(p["x"], ParamValue::Int(5));
        let e = ParamSources { base64: vec![enc("a: 1"), "YQ".into()], ..Default::default() }.merge().unwrap_err();
        assert!(e.to_string().starts_with("bad parameter -b #2: not base64"), "{e}");
        assert!(matches!(e, Error::Params { .. }), "{e}");
    }

    #[test]
    fn python_str_of_keys() {
        assert_eq!(ParamValue::Null.python_str(), "None");
        assert_eq!(ParamValue::Bool(false).python_str(), "False");
        assert_eq!(ParamValue::Float(1e16).python_str(), "1e+16");
        assert_eq!(ParamValue::Float(2.0).python_str(), "2.0");
        assert_eq!(ParamValue::Int(-3).python_str(), "-3");
    }
}
