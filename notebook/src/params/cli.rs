//! `-p NAME VALUE`: papermill's `cli._resolve_type`.

use crate::python::number::{python_float, python_int};
use crate::python::ParamValue;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ParamValue {
        ParamValue::Str(v.into())
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
}
