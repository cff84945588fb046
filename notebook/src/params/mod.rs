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
//!
//! The value model itself is [`crate::python::value`] (re-exported here); this
//! module reads the sources: [`resolve_cli_value`] for `-p`, [`parse_yaml_params`]
//! for `-f`, `-y` and `-b`, and [`ParamSources::merge`] for the whole command line.

mod cli;
mod pyyaml;
mod yaml;
mod yaml_tree;

use std::path::PathBuf;

pub use crate::python::value::{ParamValue, Params};
pub use cli::resolve_cli_value;
pub use yaml::parse_yaml_params;

use crate::{Error, Result};

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

    fn s(v: &str) -> ParamValue {
        ParamValue::Str(v.into())
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
}
