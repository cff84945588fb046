//! `-f FILE`, `-y YAML` and `-b BASE64`: YAML as PyYAML's `SafeLoader` (minus
//! timestamps) reads it.

use super::yaml_tree::{Shape, ValueSeed};
use crate::python::{ParamValue, Params};
use crate::{Error, Result};
use serde::de::DeserializeSeed;

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
}
