//! PyYAML's implicit resolvers and `SafeConstructor` conversions for plain
//! scalars (YAML 1.1: `yes` is a boolean, `017` octal, `1:30` base 60).

use std::sync::LazyLock;

use regex::Regex;

use crate::python::bigint::BigUint;
use crate::python::number::python_float;
use crate::python::value::int_from_decimal;
use crate::python::ParamValue;

/// A mapping key or value: a value, or one of the two special plain keys
/// of YAML 1.1.
pub(super) enum Node {
    Value(ParamValue),
    /// `<<`, a merge key.
    Merge,
    /// `=`, the "value" key, which PyYAML reads as the string "=" in keys.
    ValueKey,
}

pub(super) fn node_error(node: &Node) -> Option<String> {
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

/// PyYAML's implicit resolvers (`yaml/resolver.py`, minus the timestamp one
/// papermill removes) and SafeConstructor's conversions, on a plain scalar.
pub(super) fn pyyaml_resolve(text: &str) -> std::result::Result<Node, String> {
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
