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

use std::sync::LazyLock;

use regex::Regex;

use crate::params::{ParamValue, Params};
use crate::{Error, Result};

/// A kernel language papermill can write parameters for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    R,
    Scala,
    Julia,
    Matlab,
    CSharp,
    FSharp,
    PowerShell,
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

/// Python's `repr(float)` (= `str(float)`): the shortest digits that round
/// trip (the same digits Rust picks), positional when the decimal exponent
/// is in -4..16 (with `.0` for integral values), else `d.ddde±XX`.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf".into() } else { "inf".into() };
    }
    // `{:e}` gives the shortest round-trip digits as "-d.ddde-N".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= n {
        format!("{sign}{digits}{}.0", "0".repeat((point - n) as usize))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// Python's `s.encode('unicode_escape').decode('utf-8')`: `\\`, `\t`, `\n`,
/// `\r`; other C0 controls and 0x7f..0xff as `\xNN`; other BMP characters
/// beyond as `\uNNNN`; the rest as `\UNNNNNNNN` (lowercase hex). Quotes are
/// left alone.
pub fn unicode_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let cp = c as u32;
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if cp < 0x20 || (0x7f..0x100).contains(&cp) => out.push_str(&format!("\\x{cp:02x}")),
            _ if cp < 0x7f => out.push(c),
            _ if cp < 0x10000 => out.push_str(&format!("\\u{cp:04x}")),
            _ => out.push_str(&format!("\\U{cp:08x}")),
        }
    }
    out
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

/// Python's `shlex.quote`: unchanged when only `[A-Za-z0-9_@%+=:,./-]`,
/// `''` when empty, else single-quoted with `'` written as `'"'"'`.
pub fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if s.chars().all(safe) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// Python's `str.isspace()` (Unicode White_Space plus the ASCII separators
/// 0x1c..0x1f).
fn python_isspace(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.strip()`.
fn python_strip(s: &str) -> &str {
    s.trim_matches(python_isspace)
}

/// Python's `str.splitlines()` (no line ends kept).
fn python_splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        ) {
            lines.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' && iter.peek().is_some_and(|(_, n)| *n == '\n') {
                iter.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// The names assigned in a notebook's parameters cell, as papermill's
/// `PythonTranslator.inspect` finds them; papermill warns
/// "Passed unknown parameter: NAME" for a passed parameter not among them.
///
/// Only Python has inspection in papermill; for every other language this is
/// empty (papermill then logs that the translator does not support
/// introspection, and consequently warns about *every* passed parameter).
///
/// Like papermill: blank and `#` lines are skipped; a line with one `=`
/// starts a new definition, lines without `=` continue the previous one
/// (multi-line lists and dicts); a line with several `=` (`a = b == c`,
/// keyword arguments) is skipped with its definition; the definition must
/// look like `name [: annotation] = value`. Python's `\w` is taken as
/// letters, numbers and `_`.
pub fn infer_parameter_names(lang: Language, parameters_cell_source: &str) -> Vec<String> {
    inspect_parameters(lang, parameters_cell_source).into_iter().map(|p| p.name).collect()
}

/// One parameter of a parameters cell, as papermill's `Parameter` tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectedParam {
    pub name: String,
    /// The annotation or `# type:` comment; `None` when there is neither.
    pub inferred_type_name: String,
    /// The assigned expression, as written.
    pub default: String,
    /// The comment after the assignment.
    pub help: String,
}

/// Every definition papermill's `PythonTranslator.inspect` finds (see
/// [`infer_parameter_names`] for the rules); empty for other languages.
pub fn inspect_parameters(lang: Language, parameters_cell_source: &str) -> Vec<InspectedParam> {
    if lang != Language::Python {
        return Vec::new();
    }
    // papermill's PARAMETER_PATTERN with Python's \w and \s spelled out.
    static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
        let w = r"\p{L}\p{N}_";
        let s = r"\s\x1C-\x1F";
        let pattern = format!(
            r#"^(?P<target>[{w}][{w}_]*)[{s}]*(:[{s}]*["']?(?P<annotation>[{w}][{w}_\[\],{s}]*)["']?[{s}]*)?=[{s}]*(?P<value>.*?)([{s}]*#[{s}]*(type:[{s}]*(?P<type_comment>[^{s}]*)[{s}]*)?(?P<help>.*))?$"#
        );
        Regex::new(&pattern).unwrap()
    });

    fn flatten(accumulator: &[&str]) -> String {
        let mut flat = String::new();
        if let Some((last, rest)) = accumulator.split_last() {
            for line in rest {
                let code = line.find('#').map_or(*line, |i| &line[..i]);
                flat.push_str(python_strip(code));
            }
            flat.push_str(python_strip(last));
        }
        flat
    }

    let mut grouped = Vec::new();
    let mut accumulator: Vec<&str> = Vec::new();
    for line in python_splitlines(parameters_cell_source) {
        let stripped = python_strip(line);
        if stripped.is_empty() || stripped.starts_with('#') {
            continue;
        }
        let nequal = line.matches('=').count();
        if nequal > 0 {
            grouped.push(flatten(&accumulator));
            accumulator.clear();
            if nequal > 1 {
                continue;
            }
        }
        accumulator.push(line);
    }
    grouped.push(flatten(&accumulator));

    grouped
        .iter()
        .filter(|d| !d.is_empty())
        .filter_map(|d| PATTERN.captures(d))
        .filter_map(|c| {
            let text = |k: &str| c.name(k).map(|m| python_strip(m.as_str()).to_string());
            let given = |k: &str| text(k).filter(|t| !t.is_empty());
            Some(InspectedParam {
                name: text("target")?,
                inferred_type_name: given("annotation").or_else(|| given("type_comment")).unwrap_or_else(|| "None".into()),
                default: text("value").unwrap_or_default(),
                help: text("help").unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use Language::*;

    const ALL: [Language; 9] = [
        Python, R, Scala, Julia, Matlab, CSharp, FSharp, PowerShell, Bash,
    ];

    fn p(items: &[(&str, ParamValue)]) -> Params {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
    fn s(v: &str) -> ParamValue {
        ParamValue::Str(v.into())
    }

    #[test]
    fn secrets_are_read_from_the_environment_by_name() {
        let names = vec!["api_key".to_string()];
        let want = [
            (Python, "api_key = os.environ.get(\"DECKLE_SECRET_API_KEY\")\n"),
            (R, "api_key = Sys.getenv(\"DECKLE_SECRET_API_KEY\", unset = NA)\n"),
            (Scala, "val api_key = sys.env.get(\"DECKLE_SECRET_API_KEY\").orNull\n"),
            (Julia, "api_key = get(ENV, \"DECKLE_SECRET_API_KEY\", nothing)\n"),
            (Matlab, "api_key = getenv(\"DECKLE_SECRET_API_KEY\");\n"),
            (CSharp, "var api_key = System.Environment.GetEnvironmentVariable(\"DECKLE_SECRET_API_KEY\");\n"),
            (FSharp, "let api_key = System.Environment.GetEnvironmentVariable(\"DECKLE_SECRET_API_KEY\")\n"),
            (PowerShell, "$api_key = $env:DECKLE_SECRET_API_KEY\n"),
            (Bash, "api_key=\"${DECKLE_SECRET_API_KEY}\"\n"),
        ];
        assert_eq!(want.len(), ALL.len());
        for (lang, line) in want {
            assert_eq!(secret_lines(lang, &names), line, "{lang:?}");
        }
        assert_eq!(secret_lines(R, &["_k".to_string()]), "k = Sys.getenv(\"DECKLE_SECRET__K\", unset = NA)\n");
    }
    fn map(items: &[(&str, ParamValue)]) -> ParamValue {
        ParamValue::Map(
            items
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<IndexMap<_, _>>(),
        )
    }
    fn tv(lang: Language, v: ParamValue) -> String {
        translate_value(lang, &v).unwrap()
    }

    #[test]
    fn float_repr_matches_python() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (100.0, "100.0"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (1e100, "1e+100"),
            (9999999999999998.0, "9999999999999998.0"),
            (123.456, "123.456"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(*f), *want, "{f:?}");
        }
    }

    #[test]
    fn r_strings_keep_latin1_characters_as_unicode_escapes() {
        // papermill's `\xe9` is a raw byte in R; `\u00e9` is the character.
        assert_eq!(r_unicode_escape("café \u{80}\u{ff}"), r"caf\u00e9 \u0080\u00ff");
        // An escaped backslash followed by "xe9" stays literal text.
        assert_eq!(r_unicode_escape("\\xe9 é"), r"\\xe9 \u00e9");
        // Controls, DEL and wider characters are as papermill writes them.
        assert_eq!(r_unicode_escape("\x01\x7f\u{100}😀\tq\\"), r"\x01\x7f\u0100\U0001f600\tq\\");
        assert_eq!(translate_str(Language::R, "é\""), r#""\u00e9\"""#);
    }

    #[test]
    fn unicode_escape_matches_python() {
        assert_eq!(
            unicode_escape("a\x7f\u{80}é\u{100}😀\\\"'\0\t\r\n"),
            r#"a\x7f\x80\xe9\u0100\U0001f600\\"'\x00\t\r\n"#
        );
        assert_eq!(unicode_escape("\x1b[0m"), r"\x1b[0m");
        assert_eq!(unicode_escape("\u{ffff}"), r"\uffff");
    }

    #[test]
    fn shlex_quote_matches_python() {
        assert_eq!(shlex_quote(""), "''");
        assert_eq!(shlex_quote("abc-1.2/x:y,z@%+="), "abc-1.2/x:y,z@%+=");
        assert_eq!(shlex_quote("a b"), "'a b'");
        assert_eq!(shlex_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shlex_quote("é"), "'é'");
        assert_eq!(shlex_quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn registry_lookup() {
        assert_eq!(find_translator("python3", Some("python")).unwrap(), Python);
        assert_eq!(find_translator("ir", Some("R")).unwrap(), R);
        assert_eq!(
            find_translator("sparkkernel", Some("python")).unwrap(),
            Scala
        );
        assert_eq!(find_translator("pysparkkernel", None).unwrap(), Python);
        assert_eq!(find_translator("sparkrkernel", None).unwrap(), R);
        assert_eq!(find_translator("bash", None).unwrap(), Bash);
        assert_eq!(find_translator("julia-1.9", Some("julia")).unwrap(), Julia);
        assert_eq!(find_translator(".net-fsharp", Some("F#")).unwrap(), FSharp);
        assert_eq!(find_translator(".net-csharp", None).unwrap(), CSharp);
        assert_eq!(
            find_translator(".net-powershell", None).unwrap(),
            PowerShell
        );
        assert_eq!(find_translator("x", Some("matlab")).unwrap(), Matlab);
        assert_eq!(find_translator("x", Some("scala")).unwrap(), Scala);
        let e = find_translator("ir", Some("r")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "No parameter translator functions specified for kernel 'ir' or language 'r'"
        );
        let e = find_translator("gophernotes", None).unwrap_err();
        assert!(matches!(&e, Error::NoTranslator(_)));
        assert_eq!(
            e.to_string(),
            "No parameter translator functions specified for kernel 'gophernotes' or language 'None'"
        );
    }

    #[test]
    fn python_codify() {
        let params = p(&[
            ("s", s("a\"b\\c\nd\té😀")),
            ("i", ParamValue::Int(-3)),
            (
                "big",
                ParamValue::BigInt("123456789012345678901234567890".into()),
            ),
            ("f", ParamValue::Float(1e-5)),
            ("n", ParamValue::Float(f64::NAN)),
            ("ninf", ParamValue::Float(f64::NEG_INFINITY)),
            ("b", ParamValue::Bool(true)),
            ("none", ParamValue::Null),
            (
                "l",
                ParamValue::List(vec![ParamValue::Int(1), s("x"), ParamValue::List(vec![])]),
            ),
            (
                "d",
                map(&[("k\"", ParamValue::Float(100.0)), ("m", map(&[]))]),
            ),
        ]);
        assert_eq!(
            translate_parameters(Python, &params, "Parameters"),
            concat!(
                "# Parameters\n",
                "s = \"a\\\"b\\\\c\\nd\\t\\xe9\\U0001f600\"\n",
                "i = -3\n",
                "big = 123456789012345678901234567890\n",
                "f = 1e-05\n",
                "n = float('nan')\n",
                "ninf = float('-inf')\n",
                "b = True\n",
                "none = None\n",
                "l = [1, \"x\", []]\n",
                "d = {\"k\\\"\": 100.0, \"m\": {}}\n",
            )
        );
    }

    #[test]
    fn comments_and_empty_params() {
        let empty = Params::new();
        let want = [
            (Python, "# Parameters\n"),
            (R, "# Parameters\n"),
            (Scala, "// Parameters\n"),
            (Julia, "# Parameters\n"),
            (Matlab, "% Parameters\n"),
            (CSharp, "// Parameters\n"),
            (FSharp, "(* Parameters *)\n"),
            (PowerShell, "# Parameters\n"),
            (Bash, "# Parameters\n"),
        ];
        for (lang, text) in want {
            assert_eq!(translate_parameters(lang, &empty, "Parameters"), text);
        }
        // Python's .strip() of the whole comment.
        assert_eq!(translate_parameters(Python, &empty, ""), "#\n");
        assert_eq!(translate_parameters(Python, &empty, " x \t"), "#  x\n");
        assert_eq!(translate_parameters(FSharp, &empty, ""), "(*  *)\n");
    }

    #[test]
    fn per_language_scalars() {
        let none: Vec<_> = ALL
            .iter()
            .map(|l| translate_value(*l, &ParamValue::Null))
            .collect();
        assert_eq!(
            none,
            [
                Ok("None".to_string()),
                Ok("NULL".into()),
                Ok("None".into()),
                Ok("nothing".into()),
                Ok("NaN".into()),
                Err("Option type not implemented for C#.".into()),
                Ok("None".into()),
                Ok("$Null".into()),
                Ok(String::new()),
            ]
        );
        let t: Vec<_> = ALL.iter().map(|l| tv(*l, ParamValue::Bool(true))).collect();
        assert_eq!(
            t,
            ["True", "TRUE", "true", "true", "true", "true", "true", "$True", "true"]
        );
        let big: Vec<_> = ALL
            .iter()
            .map(|l| tv(*l, ParamValue::Int(2147483648)))
            .collect();
        assert_eq!(
            big,
            [
                "2147483648",
                "2147483648",
                "2147483648L",
                "2147483648",
                "2147483648",
                "2147483648L",
                "2147483648L",
                "2147483648",
                "2147483648"
            ]
        );
        assert_eq!(tv(Scala, ParamValue::Int(2147483647)), "2147483647");
        assert_eq!(tv(Scala, ParamValue::Int(-2147483648)), "-2147483648");
        assert_eq!(tv(Scala, ParamValue::Int(-2147483649)), "-2147483649L");
        assert_eq!(tv(FSharp, ParamValue::BigInt("-0099".into())), "-99");
        assert_eq!(tv(Python, ParamValue::BigInt("-0".into())), "0");
        let nan: Vec<_> = ALL
            .iter()
            .map(|l| tv(*l, ParamValue::Float(f64::NAN)))
            .collect();
        assert_eq!(
            nan,
            [
                "float('nan')",
                "nan",
                "nan",
                "nan",
                "nan",
                "nan",
                "nan",
                "[double]::NaN",
                "nan"
            ]
        );
        assert_eq!(
            tv(PowerShell, ParamValue::Float(f64::NEG_INFINITY)),
            "[double]::NegativeInfinity"
        );
        assert_eq!(
            tv(PowerShell, ParamValue::Float(f64::INFINITY)),
            "[double]::PositiveInfinity"
        );
        assert_eq!(tv(R, ParamValue::Float(f64::NEG_INFINITY)), "-inf");
        let q: Vec<_> = ALL.iter().map(|l| tv(*l, s("a\"b'c"))).collect();
        assert_eq!(
            q,
            [
                r#""a\"b'c""#,
                r#""a\"b'c""#,
                r#""a\"b'c""#,
                r#""a\"b'c""#,
                r#""a""b'c""#,
                r#""a\"b'c""#,
                r#""a\"b'c""#,
                r#""a`"b'c""#,
                r#"'a"b'"'"'c'"#
            ]
        );
    }

    #[test]
    fn per_language_containers() {
        let l = ParamValue::List(vec![ParamValue::Int(1), s("a b"), ParamValue::Null]);
        let d = map(&[
            ("k", ParamValue::Int(1)),
            ("it's", ParamValue::List(vec![])),
        ]);
        assert_eq!(tv(R, l.clone()), "list(1, \"a b\", NULL)");
        assert_eq!(tv(Scala, l.clone()), "Seq(1, \"a b\", None)");
        assert_eq!(tv(Julia, l.clone()), "[1, \"a b\", nothing]");
        assert_eq!(tv(Matlab, l.clone()), "{1, \"a b\", NaN}");
        assert_eq!(tv(FSharp, l.clone()), "[ 1; \"a b\"; None ]");
        assert_eq!(tv(PowerShell, l.clone()), "@(1, \"a b\", $Null)");
        assert_eq!(tv(Bash, l), "(1 'a b' )");
        assert_eq!(
            tv(CSharp, ParamValue::List(vec![ParamValue::Int(1)])),
            "new [] { 1 }"
        );
        assert_eq!(tv(CSharp, ParamValue::List(vec![])), "new [] {  }");
        assert_eq!(tv(R, d.clone()), "list(\"k\" = 1, \"it's\" = list())");
        assert_eq!(tv(Scala, d.clone()), "Map(\"k\" -> 1, \"it's\" -> Seq())");
        assert_eq!(tv(Julia, d.clone()), "Dict(\"k\" => 1, \"it's\" => [])");
        assert_eq!(
            tv(Matlab, d.clone()),
            "containers.Map({'k', 'it''s'}, {1, {}})"
        );
        assert_eq!(
            tv(CSharp, d.clone()),
            "new Dictionary<string,Object>{ { \"k\" , 1 }, { \"it's\" , new [] {  } } }"
        );
        assert_eq!(
            tv(FSharp, d.clone()),
            "[ (\"k\", 1 :> IComparable); (\"it's\", [  ] :> IComparable) ] |> Map.ofList"
        );
        assert_eq!(tv(PowerShell, d.clone()), "@{\"k\" = 1\n \"it's\" = @()}");
        assert_eq!(
            translate_value(Bash, &d).unwrap_err(),
            "dict type translation not implemented for <class 'papermill.translators.BashTranslator'>"
        );
        // An error deep inside a container surfaces too.
        assert!(translate_value(CSharp, &ParamValue::List(vec![ParamValue::Null])).is_err());
    }

    #[test]
    fn assignments() {
        let params = p(&[("__x", ParamValue::Int(1)), ("y", s(""))]);
        assert_eq!(
            translate_parameters(R, &params, "Parameters"),
            "# Parameters\nx = 1\ny = \"\"\n"
        );
        assert_eq!(
            translate_parameters(Matlab, &params, "Parameters"),
            "% Parameters\n__x = 1;\ny = \"\";\n"
        );
        assert_eq!(
            translate_parameters(CSharp, &params, "Parameters"),
            "// Parameters\nvar __x = 1;\nvar y = \"\";\n"
        );
        assert_eq!(
            translate_parameters(Bash, &params, "Parameters"),
            "# Parameters\n__x=1\ny=''\n"
        );
        assert_eq!(
            translate_parameters(PowerShell, &params, "P"),
            "# P\n$__x = 1\n$y = \"\"\n"
        );
        assert_eq!(
            translate_parameters(FSharp, &params, "P"),
            "(* P *)\nlet __x = 1\nlet y = \"\"\n"
        );
        assert_eq!(
            translate_parameters(Scala, &params, "P"),
            "// P\nval __x = 1\nval y = \"\"\n"
        );
    }

    #[test]
    fn unsupported_values() {
        let params = p(&[
            ("a", ParamValue::Int(1)),
            ("cfg", map(&[])),
            ("b", ParamValue::Int(2)),
        ]);
        let e = try_translate_parameters(Bash, &params, "Parameters").unwrap_err();
        assert!(matches!(&e, Error::Params { origin, .. } if origin == "cfg"));
        assert_eq!(
            translate_parameters(Bash, &params, "Parameters"),
            "# Parameters\na=1\n# cfg: dict type translation not implemented for <class 'papermill.translators.BashTranslator'>\nb=2\n"
        );
        let e = try_translate_parameters(CSharp, &p(&[("n", ParamValue::Null)]), "Parameters")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad parameter n: Option type not implemented for C#."
        );
        assert_eq!(
            try_translate_parameters(Python, &params, "Parameters").unwrap(),
            "# Parameters\na = 1\ncfg = {}\nb = 2\n"
        );
    }

    #[test]
    fn inspection_names() {
        let src = "# comment\n\
            alpha = 0.1  # the rate\n\
            beta: int = 3\n\
            gamma: \"List[str]\" = [\n\
            \"a\",  # first\n\
            \"b\",\n\
            ]\n\
            \n\
            delta = {'k': 1,\n\
                     'j': 2}\n\
            x == 1\n\
            f(a=1, b=2)\n\
            print(x)\n\
            y += 1\n\
            _private=1\n\
            épsilon = 'é'\n\
            mu  =  5 # type: float help text\n\
            1bad = 2\n";
        assert_eq!(
            infer_parameter_names(Python, src),
            ["alpha", "beta", "gamma", "delta", "_private", "épsilon", "mu", "1bad"]
        );
        assert!(infer_parameter_names(R, "x = 1").is_empty());
        assert!(infer_parameter_names(Python, "").is_empty());
        // A continuation without '=' after a skipped line joins the previous
        // definition; `print(x)` after `delta` spoils nothing here since
        // `x == 1` started a fresh group.
        assert_eq!(
            infer_parameter_names(Python, "a = 1\r\nb = 2\rc = 3"),
            ["a", "b", "c"]
        );
        assert_eq!(
            infer_parameter_names(Python, "a = [1,\n2]\nprint(a)"),
            ["a"]
        );
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(
            python_splitlines("a\nb\r\nc\rd\x0be\x1cf\u{2028}g\n"),
            ["a", "b", "c", "d", "e", "f", "g"]
        );
        assert_eq!(python_splitlines("a\n\nb"), ["a", "", "b"]);
        assert!(python_splitlines("").is_empty());
        assert_eq!(python_splitlines("\x1fa"), ["\x1fa"]);
    }
}
