//! papermill's `PythonTranslator.inspect`: the parameters a notebook's
//! parameters cell defines (for `--help-notebook` and unknown-parameter warnings).

use std::sync::LazyLock;

use regex::Regex;

use super::Language;
use crate::python::text::{python_splitlines, python_strip};

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
    /// The assigned name.
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
    use Language::*;

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
}
