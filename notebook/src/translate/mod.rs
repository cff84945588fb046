//! papermill's parameter translators: the text of the `injected-parameters`
//! cell, per kernel language.
//!
//! This mirrors `papermill/translators.py` (2.7.0) byte for byte, quirks
//! included, because users diff our output notebooks against papermill's:
//! R and Julia get `nan`/`inf` spelled as Python does, MATLAB gets a `;` after
//! every line, bash turns `None` into an empty value, … The integration test
//! `translators` runs papermill's own `codify` and compares.
//!
//! Numbers are printed as Python's `str()` would: ints in full, floats as
//! `repr` ([`python_float_repr`]). Strings go through Python's
//! `unicode_escape` codec ([`unicode_escape`]) before each language's quote
//! escaping.
//!
//! papermill pipes the Python cell through `black` when black is importable;
//! we never do, which matches papermill run where black is not installed
//! (as in our venv). With black installed, papermill's output can differ
//! (e.g. long dicts wrapped over several lines).

use crate::python::text::python_strip;
use crate::python::{ParamValue, Params};
use crate::{Error, Result};

mod inspect;

pub use inspect::{infer_parameter_names, inspect_parameters, InspectedParam};
// Python's printing lives in `crate::python`; these stay reachable here, where
// the translators' callers have always found them.
pub use crate::python::literal::{python_float_repr, shlex_quote, unicode_escape};

/// A kernel language papermill can write parameters for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Python (also `pysparkkernel`).
    Python,
    /// R (also `sparkrkernel`).
    R,
    /// Scala (also `sparkkernel`).
    Scala,
    /// Julia.
    Julia,
    /// MATLAB.
    Matlab,
    /// C# (.NET Interactive).
    CSharp,
    /// F# (.NET Interactive).
    FSharp,
    /// PowerShell (.NET Interactive).
    PowerShell,
    /// Bash.
    Bash,
}

/// papermill's registry, in registration order (the bottom of translators.py).
const REGISTRY: &[(&str, Language)] = &[
    ("python", Language::Python),
    ("R", Language::R),
    ("scala", Language::Scala),
    ("julia", Language::Julia),
    ("matlab", Language::Matlab),
    (".net-csharp", Language::CSharp),
    (".net-fsharp", Language::FSharp),
    (".net-powershell", Language::PowerShell),
    ("pysparkkernel", Language::Python),
    ("sparkkernel", Language::Scala),
    ("sparkrkernel", Language::R),
    ("bash", Language::Bash),
];

impl Language {
    /// The papermill class, which its NotImplementedError messages name.
    fn class_repr(self) -> String {
        let class = match self {
            Language::Python => "PythonTranslator",
            Language::R => "RTranslator",
            Language::Scala => "ScalaTranslator",
            Language::Julia => "JuliaTranslator",
            Language::Matlab => "MatlabTranslator",
            Language::CSharp => "CSharpTranslator",
            Language::FSharp => "FSharpTranslator",
            Language::PowerShell => "PowershellTranslator",
            Language::Bash => "BashTranslator",
        };
        format!("<class 'papermill.translators.{class}'>")
    }
}

/// papermill's `find_translator`: the kernelspec name if registered, else the
/// language, else papermill's error. Names are case-sensitive (`R`, not `r`),
/// and a kernel named e.g. `python3` is found through its language.
pub fn find_translator(kernel_name: &str, language: Option<&str>) -> Result<Language> {
    let lookup = |name: &str| REGISTRY.iter().find(|(n, _)| *n == name).map(|(_, l)| *l);
    if let Some(lang) = lookup(kernel_name) {
        return Ok(lang);
    }
    if let Some(lang) = language.and_then(lookup) {
        return Ok(lang);
    }
    // A missing language prints as Python's None, as in papermill's f-string.
    Err(Error::NoTranslator(format!(
        "No parameter translator functions specified for kernel '{kernel_name}' or language '{}'",
        language.unwrap_or("None")
    )))
}

/// The injected cell's source, exactly papermill's `codify`: the language's
/// comment of `comment`, a newline, then one assignment per parameter, each
/// ending in `\n` (MATLAB: `;\n`).
///
/// papermill raises NotImplementedError for values a language has no form
/// for (a mapping in bash, `None` in C#). Use [`try_translate_parameters`] to
/// get that as an error, as papermill does. This infallible version writes,
/// in place of such an assignment, a comment line carrying papermill's
/// message, so the problem shows in the notebook instead of panicking.
pub fn translate_parameters(lang: Language, params: &Params, comment: &str) -> String {
    codify(lang, params, comment, true).unwrap_or_default()
}

/// [`translate_parameters`], failing like papermill on a value the language
/// cannot express: `Error::Params` naming the parameter, with papermill's
/// NotImplementedError message.
pub fn try_translate_parameters(lang: Language, params: &Params, comment: &str) -> Result<String> {
    codify(lang, params, comment, false)
}

fn codify(lang: Language, params: &Params, comment: &str, lenient: bool) -> Result<String> {
    let mut out = comment_line(lang, comment);
    out.push('\n');
    for (name, value) in params {
        match translate_value(lang, value) {
            Ok(v) => {
                out.push_str(&assign(lang, name, &v));
                out.push_str(if lang == Language::Matlab {
                    ";\n"
                } else {
                    "\n"
                });
            }
            Err(message) if lenient => {
                out.push_str(&comment_line(lang, &format!("{name}: {message}")));
                out.push('\n');
            }
            Err(message) => {
                return Err(Error::Params {
                    origin: name.clone(),
                    message,
                })
            }
        }
    }
    Ok(out)
}

/// `Translator.comment`: e.g. `f'# {cmt_str}'.strip()`.
fn comment_line(lang: Language, text: &str) -> String {
    let line = match lang {
        Language::Python
        | Language::R
        | Language::Julia
        | Language::PowerShell
        | Language::Bash => {
            format!("# {text}")
        }
        Language::Scala | Language::CSharp => format!("// {text}"),
        Language::Matlab => format!("% {text}"),
        Language::FSharp => format!("(* {text} *)"),
    };
    python_strip(&line).to_string()
}

/// `Translator.assign`.
fn assign(lang: Language, name: &str, value: &str) -> String {
    match lang {
        // Leading '_' is not legal in R names, so papermill drops it.
        Language::R => format!("{} = {value}", name.trim_start_matches('_')),
        Language::Scala => format!("val {name} = {value}"),
        Language::CSharp => format!("var {name} = {value};"),
        Language::FSharp => format!("let {name} = {value}"),
        Language::PowerShell => format!("${name} = {value}"),
        Language::Bash => format!("{name}={value}"),
        Language::Python | Language::Julia | Language::Matlab => format!("{name} = {value}"),
    }
}

/// The lines that give each secret parameter its value from the kernel's
/// environment (`DECKLE_SECRET_<NAME>`, see [`deckle_protocol::task::secret_env_name`]):
/// only the variable's name is written, never the value. An unset variable reads
/// as the language's "missing" (`None`, `NA`, `nothing`, `null`) or as `""` where
/// that is what the language's lookup gives (Matlab, PowerShell, bash). Python
/// needs `import os`, which [`crate::inject::parameterize`] puts first.
pub fn secret_lines(lang: Language, names: &[String]) -> String {
    let mut out = String::new();
    for name in names {
        let env = deckle_protocol::task::secret_env_name(name);
        let lit = format!("\"{env}\"");
        let value = match lang {
            Language::Python => format!("os.environ.get({lit})"),
            Language::R => format!("Sys.getenv({lit}, unset = NA)"),
            Language::Scala => format!("sys.env.get({lit}).orNull"),
            Language::Julia => format!("get(ENV, {lit}, nothing)"),
            Language::Matlab => format!("getenv({lit})"),
            Language::CSharp | Language::FSharp => format!("System.Environment.GetEnvironmentVariable({lit})"),
            Language::PowerShell => format!("$env:{env}"),
            Language::Bash => format!("\"${{{env}}}\""),
        };
        out.push_str(&assign(lang, name, &value));
        out.push_str(if lang == Language::Matlab { ";\n" } else { "\n" });
    }
    out
}

/// `Translator.translate`: one value's literal, or papermill's
/// NotImplementedError message.
pub fn translate_value(lang: Language, value: &ParamValue) -> std::result::Result<String, String> {
    use Language::*;
    Ok(match value {
        ParamValue::Null => match lang {
            Python | Scala | FSharp => "None".into(),
            R => "NULL".into(),
            Julia => "nothing".into(),
            Matlab => "NaN".into(),
            PowerShell => "$Null".into(),
            Bash => String::new(),
            CSharp => return Err("Option type not implemented for C#.".into()),
        },
        ParamValue::Str(s) => translate_str(lang, s),
        ParamValue::Bool(b) => match (lang, b) {
            (Python, true) => "True".into(),
            (Python, false) => "False".into(),
            (R, true) => "TRUE".into(),
            (R, false) => "FALSE".into(),
            (PowerShell, true) => "$True".into(),
            (PowerShell, false) => "$False".into(),
            (_, true) => "true".into(),
            (_, false) => "false".into(),
        },
        ParamValue::Int(i) => {
            int_literal(lang, i.to_string(), !(-2147483648..=2147483647).contains(i))
        }
        ParamValue::BigInt(digits) => big_int_literal(lang, digits),
        ParamValue::Float(f) => float_literal(lang, *f),
        ParamValue::List(items) => {
            let sep = match lang {
                FSharp => "; ",
                Bash => " ",
                _ => ", ",
            };
            let inner = items
                .iter()
                .map(|v| translate_value(lang, v))
                .collect::<std::result::Result<Vec<_>, _>>()?
                .join(sep);
            match lang {
                Python | Julia => format!("[{inner}]"),
                R => format!("list({inner})"),
                Scala => format!("Seq({inner})"),
                Matlab => format!("{{{inner}}}"),
                CSharp => format!("new [] {{ {inner} }}"),
                FSharp => format!("[ {inner} ]"),
                PowerShell => format!("@({inner})"),
                Bash => format!("({inner})"),
            }
        }
        ParamValue::Map(map) => {
            if lang == Bash {
                return Err(format!(
                    "dict type translation not implemented for {}",
                    lang.class_repr()
                ));
            }
            if lang == Matlab {
                // All keys first, then all values (two comprehensions).
                let keys: Vec<String> = map.keys().map(|k| matlab_char_array(k)).collect();
                let values = map
                    .values()
                    .map(|v| translate_value(lang, v))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                return Ok(format!(
                    "containers.Map({{{}}}, {{{}}})",
                    keys.join(", "),
                    values.join(", ")
                ));
            }
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let k = translate_str(lang, k);
                let v = translate_value(lang, v)?;
                entries.push(match lang {
                    Python => format!("{k}: {v}"),
                    R | PowerShell => format!("{k} = {v}"),
                    Scala => format!("{k} -> {v}"),
                    Julia => format!("{k} => {v}"),
                    CSharp => format!("{{ {k} , {v} }}"),
                    FSharp => format!("({k}, {v} :> IComparable)"),
                    Matlab | Bash => unreachable!("handled above"),
                });
            }
            match lang {
                Python => format!("{{{}}}", entries.join(", ")),
                R => format!("list({})", entries.join(", ")),
                Scala => format!("Map({})", entries.join(", ")),
                Julia => format!("Dict({})", entries.join(", ")),
                CSharp => format!("new Dictionary<string,Object>{{ {} }}", entries.join(", ")),
                FSharp => format!("[ {} ] |> Map.ofList", entries.join("; ")),
                PowerShell => format!("@{{{}}}", entries.join("\n ")),
                Matlab | Bash => unreachable!("handled above"),
            }
        }
    })
}

/// `translate_str` / `translate_escaped_str` of each language.
fn translate_str(lang: Language, s: &str) -> String {
    match lang {
        Language::Bash => shlex_quote(s),
        Language::Matlab => format!("\"{}\"", unicode_escape(s).replace('"', "\"\"")),
        Language::PowerShell => format!("\"{}\"", unicode_escape(s).replace('"', "`\"")),
        Language::R => format!("\"{}\"", r_unicode_escape(s).replace('"', "\\\"")),
        _ => format!("\"{}\"", unicode_escape(s).replace('"', "\\\"")),
    }
}

/// MATLAB's `__translate_char_array`, used for containers.Map keys.
fn matlab_char_array(s: &str) -> String {
    format!("'{}'", unicode_escape(s).replace('\'', "''"))
}

/// Scala, C# and F# mark ints beyond int32 with `L`.
fn int_literal(lang: Language, text: String, beyond_i32: bool) -> String {
    match lang {
        Language::Scala | Language::CSharp | Language::FSharp if beyond_i32 => format!("{text}L"),
        _ => text,
    }
}

fn big_int_literal(lang: Language, digits: &str) -> String {
    // Print as Python would: canonical digits, whatever the input spelling.
    let negative = digits.starts_with('-');
    let body = digits
        .trim_start_matches(['-', '+'])
        .trim_start_matches('0');
    let text = match (body.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{body}"),
        (false, false) => body.to_string(),
    };
    let beyond_i32 = text
        .parse::<i64>()
        .map_or(true, |i| !(-2147483648..=2147483647).contains(&i));
    int_literal(lang, text, beyond_i32)
}

fn float_literal(lang: Language, f: f64) -> String {
    match lang {
        Language::Python if !f.is_finite() => {
            if f.is_nan() {
                "float('nan')".into()
            } else if f < 0.0 {
                "float('-inf')".into()
            } else {
                "float('inf')".into()
            }
        }
        Language::PowerShell if !f.is_finite() => {
            if f.is_nan() {
                "[double]::NaN".into()
            } else if f < 0.0 {
                "[double]::NegativeInfinity".into()
            } else {
                "[double]::PositiveInfinity".into()
            }
        }
        // Everyone else gets Python's str(): nan, inf, -inf included.
        _ => python_float_repr(f),
    }
}

/// [`unicode_escape`] with U+0080..U+00FF as `\u00NN`. papermill writes them as
/// `\xNN`, which R reads as a single raw byte: "é" arrives as an invalid string
/// (`"\xe9"`, "input string is invalid in this locale"). R's `\u` keeps the
/// character; everything else is as papermill writes it.
pub fn r_unicode_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let cp = c as u32;
        if (0x80..0x100).contains(&cp) {
            out.push_str(&format!("\\u{cp:04x}"));
        } else {
            out.push_str(&unicode_escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

#[cfg(test)]
mod tests;
