//! Input and output paths formatted with the parameters, as papermill's
//! `parameterize_path` does with Python's `str.format(**parameters)`:
//! `out_{region}.ipynb -p region fr` writes `out_fr.ipynb`.
//!
//! The subset every real command line uses: `{name}` (the value as Python's
//! `str()` prints it), `{{` and `}}` for literal braces. A field papermill would
//! also take but Deckle does not (a format spec, a conversion, an index or
//! attribute, papermill's built-in `pm` values) is refused with a clear error rather
//! than formatted differently.

use crate::error::{Error, Result};
use crate::params::Params;

/// `path` with every `{name}` replaced by that parameter; `-` (stdin/stdout) is
/// returned as is. `what` names the path in errors (`input path`, `output path`).
pub fn format_path(path: &str, params: &Params, what: &str) -> Result<String> {
    if path == "-" || !path.contains(['{', '}']) {
        return Ok(path.to_string());
    }
    let bad = |message: String| Error::params(format!("{what} {path:?}"), message);
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err(bad("single '}' encountered (write `}}` for a literal brace)".into())),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(bad("a '{' is not closed (write `{{` for a literal brace)".into())),
                        Some(c) => field.push(c),
                    }
                }
                if field.is_empty() {
                    return Err(bad("`{}` names no parameter; write `{name}`".into()));
                }
                if field == "pm" || field.starts_with("pm[") || field.starts_with("pm.") {
                    return Err(bad("papermill's built-in `pm` values are not available in paths".into()));
                }
                if let Some(i) = field.find(['!', ':', '[', '.']) {
                    return Err(bad(format!("`{{{field}}}`: only plain `{{name}}` fields are supported, not `{}`", &field[i..])));
                }
                match params.get(&field) {
                    Some(v) => out.push_str(&v.python_str()),
                    None => return Err(bad(format!("Missing parameter '{field}'"))),
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamValue;

    fn params() -> Params {
        let mut p = Params::new();
        p.insert("region".into(), ParamValue::Str("fr".into()));
        p.insert("n".into(), ParamValue::Int(3));
        p.insert("x".into(), ParamValue::Float(0.5));
        p.insert("ok".into(), ParamValue::Bool(true));
        p
    }

    #[test]
    fn fields_become_python_str_of_the_value() {
        let p = params();
        assert_eq!(format_path("out_{region}_{n}_{x}_{ok}.ipynb", &p, "output path").unwrap(), "out_fr_3_0.5_True.ipynb");
        assert_eq!(format_path("{{literal}}/{region}.ipynb", &p, "output path").unwrap(), "{literal}/fr.ipynb");
        assert_eq!(format_path("plain.ipynb", &p, "output path").unwrap(), "plain.ipynb");
        assert_eq!(format_path("-", &p, "output path").unwrap(), "-");
    }

    #[test]
    fn missing_parameter_in_path_is_a_clear_error() {
        let e = format_path("out_{country}.ipynb", &params(), "output path").unwrap_err();
        assert_eq!(e.to_string(), "bad parameter output path \"out_{country}.ipynb\": Missing parameter 'country'");
        assert_eq!(e.exit_code(), crate::error::exit::BAD_INPUT);
    }

    #[test]
    fn unsupported_and_malformed_fields_are_refused() {
        let p = params();
        for (path, says) in [
            ("a_{n:03d}.ipynb", "not `:03d`"),
            ("a_{region!r}.ipynb", "not `!r`"),
            ("a_{pm[run_uuid]}.ipynb", "built-in `pm`"),
            ("a_{}.ipynb", "names no parameter"),
            ("a_{region.ipynb", "not closed"),
            ("a_}.ipynb", "single '}'"),
        ] {
            let e = format_path(path, &p, "input path").unwrap_err().to_string();
            assert!(e.contains(says), "{path}: {e}");
        }
    }
}
