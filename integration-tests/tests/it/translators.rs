//! Our parameter handling against papermill's own code, run in the venv's
//! Python: `translate_parameters` against `find_translator(..).codify(..)`,
//! `resolve_cli_value` against `papermill.cli._resolve_type`, and
//! `parse_yaml_params` against `yaml.load(.., Loader=NoDatesSafeLoader) or {}`.
//! Outputs must be byte-identical.
//!
//! Everything is sent to one Python process as JSON on stdin; values JSON
//! cannot carry (nan, inf, ints beyond 64 bits, int versus float) travel as
//! small typed descriptions that the Python side rebuilds.

use deckle_worker::params::{parse_yaml_params, resolve_cli_value, ParamValue, Params};
use deckle_worker::translate::{
    find_translator, python_float_repr, translate_parameters, try_translate_parameters, Language,
};
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;

use crate::harness;

const PY: &str = r#"
import json, sys
from papermill.translators import papermill_translators
from papermill.cli import _resolve_type
from papermill.iorw import NoDatesSafeLoader
import yaml

def build(d):
    t = d["t"]
    if t == "none": return None
    if t == "bool": return d["v"]
    if t == "int": return int(d["v"])
    if t == "float": return float(d["v"])
    if t == "str": return d["v"]
    if t == "list": return [build(x) for x in d["v"]]
    if t == "dict": return {k: build(v) for k, v in d["v"]}
    raise ValueError(t)

def describe(v):
    if v is None: return {"t": "none"}
    if isinstance(v, bool): return {"t": "bool", "v": v}
    if isinstance(v, int): return {"t": "int", "v": str(v)}
    if isinstance(v, float): return {"t": "float", "v": repr(v)}
    if isinstance(v, str): return {"t": "str", "v": v}
    if isinstance(v, list): return {"t": "list", "v": [describe(x) for x in v]}
    if isinstance(v, dict): return {"t": "dict", "v": [[str(k), describe(x)] for k, x in v.items()]}
    return {"t": "other", "v": repr(v)}

def err(e):
    return {"err": type(e).__name__ + ": " + str(e)}

req = json.load(sys.stdin)
out = {"codify": [], "resolve": [], "yaml": []}
for case in req["codify"]:
    try:
        params = {k: build(v) for k, v in case["params"]}
        tr = papermill_translators.find_translator(case["kernel"], case["language"])
        out["codify"].append({"ok": tr.codify(params, case["comment"])})
    except Exception as e:
        out["codify"].append(err(e))
for s in req["resolve"]:
    v = _resolve_type(s)
    out["resolve"].append([type(v).__name__, v if isinstance(v, str) else repr(v)])
for doc in req["yaml"]:
    try:
        v = yaml.load(doc, Loader=NoDatesSafeLoader) or {}
        out["yaml"].append(describe(v) if isinstance(v, dict) else {"err": "not a mapping"})
    except Exception as e:
        out["yaml"].append(err(e))
json.dump(out, sys.stdout)
"#;

/// Run the Python side once for all cases.
fn papermill_says(request: &Value) -> Value {
    let mut child = harness::python()
        .args(["-c", PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the venv's python: run `scripts/setup.sh --test`");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("writing to python");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "python failed (is papermill installed in .venv? run `scripts/setup.sh --test`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// A value as the Python side builds it, and as it describes YAML results.
fn describe(v: &ParamValue) -> Value {
    match v {
        ParamValue::Null => json!({"t": "none"}),
        ParamValue::Bool(b) => json!({"t": "bool", "v": b}),
        ParamValue::Int(i) => json!({"t": "int", "v": i.to_string()}),
        ParamValue::BigInt(s) => json!({"t": "int", "v": s}),
        // Python's repr round-trips through float().
        ParamValue::Float(f) => json!({"t": "float", "v": python_float_repr(*f)}),
        ParamValue::Str(s) => json!({"t": "str", "v": s}),
        ParamValue::List(l) => {
            json!({"t": "list", "v": l.iter().map(describe).collect::<Vec<_>>()})
        }
        ParamValue::Map(m) => {
            json!({"t": "dict", "v": m.iter().map(|(k, v)| json!([k, describe(v)])).collect::<Vec<_>>()})
        }
    }
}

fn describe_params(p: &Params) -> Value {
    Value::Array(p.iter().map(|(k, v)| json!([k, describe(v)])).collect())
}

fn s(v: &str) -> ParamValue {
    ParamValue::Str(v.into())
}
fn f(v: f64) -> ParamValue {
    ParamValue::Float(v)
}
fn i(v: i64) -> ParamValue {
    ParamValue::Int(v)
}
fn big(v: &str) -> ParamValue {
    ParamValue::BigInt(v.into())
}
fn list(v: Vec<ParamValue>) -> ParamValue {
    ParamValue::List(v)
}
fn map(v: Vec<(&str, ParamValue)>) -> ParamValue {
    ParamValue::Map(v.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The rich parameter set: every type, with the awkward cases.
fn rich_params() -> Vec<(&'static str, ParamValue)> {
    vec![
        ("str_plain", s("hello")),
        ("str_quotes", s(r#"say "hi", it's"#)),
        ("str_backslash", s(r"C:\path\to\new\x41")),
        ("str_newlines", s("line1\nline2\r\nline3")),
        ("str_tab", s("a\tb")),
        ("str_unicode", s("é ü ß 日本語 😀 \u{2028} \u{ffff}")),
        ("str_controls", s("\0\x01\x1b[0m\x7f\u{80}\u{9f}\u{a0}")),
        ("str_empty", s("")),
        ("str_shell", s("$(rm -rf /) `x` ; && $HOME ${x} !")),
        ("str_safe", s("a-b_c.d/e:f,g@h%i+j=k")),
        ("str_space", s(" ")),
        ("int", i(42)),
        ("int_zero", i(0)),
        ("int_neg", i(-7)),
        ("int_i32_max", i(2147483647)),
        ("int_i32_min", i(-2147483648)),
        ("int_beyond_i32", i(2147483648)),
        ("int_below_i32", i(-2147483649)),
        ("int_i64_max", i(i64::MAX)),
        ("int_i64_min", i(i64::MIN)),
        ("int_big", big("123456789012345678901234567890")),
        ("int_big_neg", big("-98765432109876543210987654321")),
        ("float_tenth", f(0.1)),
        ("float_small", f(1e-5)),
        ("float_e16", f(1e16)),
        ("float_e15", f(1e15)),
        ("float_hundred", f(100.0)),
        ("float_huge", f(1.5e300)),
        ("float_tiny", f(5e-324)),
        ("float_neg_zero", f(-0.0)),
        ("float_third", f(1.0 / 3.0)),
        ("float_neg", f(-2.5e-7)),
        ("float_nan", f(f64::NAN)),
        ("float_inf", f(f64::INFINITY)),
        ("float_neg_inf", f(f64::NEG_INFINITY)),
        ("bool_true", ParamValue::Bool(true)),
        ("bool_false", ParamValue::Bool(false)),
        ("none", ParamValue::Null),
        ("_private", i(1)),
        ("__dunder", s("x")),
        ("list_empty", list(vec![])),
        (
            "list_flat",
            list(vec![i(1), s("two"), f(3.5), ParamValue::Bool(false)]),
        ),
        (
            "list_nested",
            list(vec![
                list(vec![i(1), list(vec![s("deep \"q\"")])]),
                ParamValue::Null,
                f(f64::NAN),
                big("99999999999999999999"),
            ]),
        ),
        ("dict_empty", map(vec![])),
        (
            "dict_nested",
            map(vec![
                ("a", i(1)),
                ("b\"q'", list(vec![i(1), i(2)])),
                (
                    "nested",
                    map(vec![
                        ("x", ParamValue::Null),
                        ("y", s("z")),
                        ("é😀", f(-1.5)),
                    ]),
                ),
                ("", ParamValue::Bool(true)),
                ("inf", f(f64::INFINITY)),
                ("big", i(3000000000)),
            ]),
        ),
    ]
}

fn contains(v: &ParamValue, pred: &dyn Fn(&ParamValue) -> bool) -> bool {
    pred(v)
        || match v {
            ParamValue::List(l) => l.iter().any(|x| contains(x, pred)),
            ParamValue::Map(m) => m.values().any(|x| contains(x, pred)),
            _ => false,
        }
}

/// The rich set minus what papermill raises NotImplementedError for in `lang`
/// (those are compared as errors separately).
fn supported_params(lang: Language) -> Params {
    rich_params()
        .into_iter()
        .filter(|(_, v)| match lang {
            Language::Bash => !contains(v, &|x| matches!(x, ParamValue::Map(_))),
            Language::CSharp => !contains(v, &|x| matches!(x, ParamValue::Null)),
            _ => true,
        })
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Each language by its registered kernel name.
const KERNELS: [(&str, Language); 9] = [
    ("python", Language::Python),
    ("R", Language::R),
    ("scala", Language::Scala),
    ("julia", Language::Julia),
    ("matlab", Language::Matlab),
    (".net-csharp", Language::CSharp),
    (".net-fsharp", Language::FSharp),
    (".net-powershell", Language::PowerShell),
    ("bash", Language::Bash),
];

struct CodifyCase {
    label: String,
    kernel: String,
    language: Option<String>,
    comment: String,
    params: Params,
}

fn codify_cases() -> Vec<CodifyCase> {
    let mut cases = Vec::new();
    let case =
        |label: String, kernel: &str, language: Option<&str>, comment: &str, params: Params| {
            CodifyCase {
                label,
                kernel: kernel.into(),
                language: language.map(Into::into),
                comment: comment.into(),
                params,
            }
        };
    for (kernel, lang) in KERNELS {
        cases.push(case(
            format!("{lang:?} rich"),
            kernel,
            None,
            "Parameters",
            supported_params(lang),
        ));
        cases.push(case(
            format!("{lang:?} empty"),
            kernel,
            None,
            "Parameters",
            Params::new(),
        ));
        for comment in ["", "  spaced comment\t ", "Injected: é"] {
            let params: Params = [("x".to_string(), i(1))].into_iter().collect();
            cases.push(case(
                format!("{lang:?} comment {comment:?}"),
                kernel,
                None,
                comment,
                params,
            ));
        }
        // One parameter per case, so a mismatch is easy to read.
        for (name, value) in supported_params(lang) {
            let params: Params = [(name.clone(), value)].into_iter().collect();
            cases.push(case(
                format!("{lang:?} {name}"),
                kernel,
                None,
                "Parameters",
                params,
            ));
        }
    }
    // Values papermill refuses: the error must match too.
    let bad_bash: Params = [("ok".into(), i(1)), ("cfg".into(), map(vec![("a", i(1))]))]
        .into_iter()
        .collect();
    cases.push(case(
        "bash dict".into(),
        "bash",
        None,
        "Parameters",
        bad_bash,
    ));
    let bad_bash: Params = [("l".into(), list(vec![i(1), map(vec![])]))]
        .into_iter()
        .collect();
    cases.push(case(
        "bash dict in list".into(),
        "bash",
        None,
        "Parameters",
        bad_bash,
    ));
    let bad_cs: Params = [("n".into(), ParamValue::Null)].into_iter().collect();
    cases.push(case(
        "C# None".into(),
        ".net-csharp",
        None,
        "Parameters",
        bad_cs,
    ));
    let bad_cs: Params = [("d".into(), map(vec![("k", list(vec![ParamValue::Null]))]))]
        .into_iter()
        .collect();
    cases.push(case(
        "C# None in dict".into(),
        ".net-csharp",
        None,
        "Parameters",
        bad_cs,
    ));
    // Lookup by kernel name, then language.
    let small: Params = [("a".into(), i(1)), ("b".into(), s("x"))]
        .into_iter()
        .collect();
    for (kernel, language) in [
        ("python3", Some("python")),
        ("ir", Some("R")),
        ("pysparkkernel", Some("python")),
        ("sparkkernel", Some("scala")),
        ("sparkrkernel", None),
        ("julia-1.10", Some("julia")),
        ("bash", Some("python")),
        ("python", Some("R")),
        ("ir", Some("r")),
        ("python3", None),
        ("gophernotes", Some("go")),
        ("", Some("")),
    ] {
        cases.push(case(
            format!("lookup {kernel:?} {language:?}"),
            kernel,
            language,
            "Parameters",
            small.clone(),
        ));
    }
    cases
}

/// What we produce for a case, in the Python side's `{"ok"}`/`{"err"}` form.
fn ours(case: &CodifyCase) -> Value {
    let lang = match find_translator(&case.kernel, case.language.as_deref()) {
        Ok(lang) => lang,
        Err(e) => return json!({"err": format!("PapermillException: {e}")}),
    };
    match try_translate_parameters(lang, &case.params, &case.comment).map_err(deckle_worker::Error::from) {
        Ok(text) => {
            // The infallible form agrees whenever there is nothing to refuse.
            assert_eq!(
                text,
                translate_parameters(lang, &case.params, &case.comment)
            );
            json!({"ok": text})
        }
        Err(deckle_worker::Error::Notebook(deckle_notebook::Error::Params { message, .. })) => {
            json!({"err": format!("NotImplementedError: {message}")})
        }
        Err(e) => json!({"err": format!("unexpected: {e}")}),
    }
}

/// The one deliberate difference: in R, papermill's `\xNN` for U+0080..U+00FF is a
/// raw byte (an invalid string); we write `\u00NN`, the character (README table).
fn r_keeps_latin1(case: &CodifyCase, papermill: &Value) -> Value {
    let is_r = matches!(find_translator(&case.kernel, case.language.as_deref()), Ok(Language::R));
    let Some(text) = papermill["ok"].as_str().filter(|_| is_r) else {
        return papermill.clone();
    };
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if b >= 0x80 => out.push_str(&format!("\\u00{hex}")),
                    _ => out.push_str(&format!("\\x{hex}")),
                }
            }
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    json!({"ok": out})
}

const CLI_VALUES: &[&str] = &[
    "12",
    " 12 ",
    "\t-12\n",
    "+5",
    "- 5",
    "007",
    "-0",
    "0",
    "1_000",
    "0_7",
    "1__0",
    "_1",
    "1_",
    "0x10",
    "0o7",
    "0b1",
    "1e5",
    "1E5",
    "1e-5",
    "1.5e+300",
    "1e400",
    "-1e400",
    "nan",
    "NaN",
    "-nan",
    "+nan",
    "inf",
    "-inf",
    "+inf",
    "Infinity",
    "-iNfInItY",
    "infinit",
    "True",
    "False",
    "None",
    "true",
    "false",
    "none",
    "null",
    "True ",
    "",
    " ",
    "3.",
    ".5",
    "+.5",
    "-.5",
    ".",
    "1.2.3",
    "1e",
    "e5",
    "1.e5",
    "1_000.5_5",
    "1e1_0",
    "1_e10",
    "1._5",
    "1_.5",
    "nan_",
    "0x1p3",
    "١٢",
    "١٢.٥",
    "٣e2",
    "１２",
    "²",
    "½",
    "\u{3000}7\u{a0}",
    "\u{85} 5",
    "\x1c5",
    "5\x1f",
    "12\0",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "0.1",
    "100",
    "100.0",
    "1e16",
    "1e15",
    "0.0001",
    "0.00001",
    "1_2.3_4e5_6",
    "hello",
    "12abc",
    "1 2",
    "é",
    "00000000000000000000000000001",
];

fn cli_values() -> Vec<String> {
    let mut v: Vec<String> = CLI_VALUES.iter().map(|s| s.to_string()).collect();
    // Python 3.11's 4300-digit limit for int(): beyond it float() takes over.
    v.push("1".repeat(4300));
    v.push("1".repeat(4301));
    v.push("0".repeat(4301));
    v.push(format!("-{}", "9".repeat(400)));
    v
}

/// Python's `type(v).__name__` and `repr(v)` (a string as itself).
fn py_type_repr(v: &ParamValue) -> (String, String) {
    let (t, r) = match v {
        ParamValue::Null => ("NoneType", "None".to_string()),
        ParamValue::Bool(b) => ("bool", if *b { "True" } else { "False" }.to_string()),
        ParamValue::Int(i) => ("int", i.to_string()),
        ParamValue::BigInt(s) => ("int", s.clone()),
        ParamValue::Float(f) => ("float", python_float_repr(*f)),
        ParamValue::Str(s) => ("str", s.clone()),
        other => panic!("resolve_cli_value gave a container: {other:?}"),
    };
    (t.to_string(), r)
}

const YAML_DOCS: &[&str] = &[
    "a: 1\nb: -2\nc: 1_000\nd: 0x1F\ne: 017\nf: 0b101\ng: 1:30\nh: 09\ni: 0o17\nj: +12\nk: 0_\nl: -0\nm: 1__0\nn: 190:20:30\no: 0x_1F",
    "a: 1.5\nb: 1.\nc: .5\nd: 1e3\ne: 1.5e3\nf: 1.0e+3\ng: .inf\nh: -.Inf\ni: .nan\nj: inf\nk: 1:30.5\nl: 6.8523015e+5\nm: +.inf\nn: -.nan\no: 1_0.5\np: 0.1\nq: 1e-05\nr: 100.0",
    "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: true\ng: False\nh: tRue\ni: n\nj: Yes",
    "a: ~\nb: null\nc:\nd: Null\ne: ''\nf: \"\"\ng: NULL\nh: nUll",
    "date: 2024-01-01\nts: 2024-01-01 10:00:00\nt2: 2001-12-14t21:59:43.10-05:00",
    "a: 'yes'\nb: \"12\"\nc: !!str 12\nd: &x yes\ne: *x\nf: !!int \"12\"\ng: !!float '1'\nh: !!str yes\ni: [!!str 1, 2]",
    "big: 123456789012345678901234567890\nneg: -123456789012345678901234567890\nhex: 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\noct: 0777777777777777777777777777\nbin: -0b1111111111111111111111111111111111111111111111111111111111111111111",
    "l: [1, 'two', [3.5, ~, yes], {}]\nm: {x: 1, y: [a, b]}\nn:\n  - 1\n  - k: v\n    j: [on]\n",
    "dup: 1\nother: 2\ndup: 3",
    "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3",
    "a: &a {k: 1}\nb: &b {k: 2, j: 2}\nc:\n  <<: [*a, *b]\n  z: 0",
    "c:\n  z: 0\n  <<: {z: 9, w: 8}",
    "{1: a, 1.5: c, null: d, false: e, 12345678901234567890123: f, .inf: g}",
    "block: |\n  line1\n  yes\nfolded: >\n  a\n  b\nkeep: |+\n  x\n\n",
    "s: \"tab\\there \\u00e9 \\\"q\\\"\"\nq: 'it''s'\nu: é😀",
    "multi: this is\n  a multi-line\n  plain scalar\nm2: 12\n  34",
    "key with spaces: value with spaces\n'quoted key': 1\n? complex\n: 2\n=: eq",
    "{\"n\": 1e400, \"f\": 1.5, \"s\": \"x\", \"l\": [true, null], \"i\": 12, \"neg\": -0.0, \"e\": 1.0e+3}",
    "a: 1 # comment\n# whole line\nb: 'x' # c\n",
    "a: !!str\n  123\nb: &anc\n  yes\nc: *anc",
    "",
    "# only a comment",
    "~",
    "false",
    "0",
    "[]",
    "''",
    "x",
    "[1, 2]",
    "12",
    "a: <<",
    "a: =",
    "a: 0b__",
    "a: [1",
    "---\na: 1\n---\nb: 2\n",
    "a: {<<: 1}",
];

fn ours_yaml(doc: &str) -> Value {
    match parse_yaml_params(doc, "-y") {
        Ok(p) => describe(&ParamValue::Map(p)),
        Err(e) => json!({"err": e.to_string()}),
    }
}

#[test]
fn translators_match_papermill_codify_resolve_type_and_yaml() {
    let cases = codify_cases();
    let cli = cli_values();
    let request = json!({
        "codify": cases.iter().map(|c| json!({
            "kernel": c.kernel, "language": c.language, "comment": c.comment,
            "params": describe_params(&c.params),
        })).collect::<Vec<_>>(),
        "resolve": cli,
        "yaml": YAML_DOCS,
    });
    let theirs = papermill_says(&request);

    let mut failures = Vec::new();
    for (case, want) in cases
        .iter()
        .zip(theirs["codify"].as_array().expect("codify results"))
    {
        let got = ours(case);
        let want = &r_keeps_latin1(case, want);
        if &got != want {
            failures.push(format!(
                "codify {}:\n  papermill: {want}\n  deckle:    {got}",
                case.label
            ));
        }
    }
    assert_eq!(theirs["codify"].as_array().map(Vec::len), Some(cases.len()));

    for (input, want) in cli
        .iter()
        .zip(theirs["resolve"].as_array().expect("resolve results"))
    {
        let (t, r) = py_type_repr(&resolve_cli_value(input));
        if want != &json!([t, r]) {
            failures.push(format!(
                "_resolve_type({input:?}): papermill {want}, deckle [{t:?}, {r:?}]"
            ));
        }
    }

    for (doc, want) in YAML_DOCS
        .iter()
        .zip(theirs["yaml"].as_array().expect("yaml results"))
    {
        let got = ours_yaml(doc);
        // Errors only need to agree on being errors; the messages differ.
        let same = if want.get("err").is_some() {
            got.get("err").is_some()
        } else {
            &got == want
        };
        if !same {
            failures.push(format!(
                "yaml {doc:?}:\n  papermill: {want}\n  deckle:    {got}"
            ));
        }
    }

    assert!(
        failures.is_empty(),
        "{} mismatches with papermill:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn python_translator_without_black() {
    // papermill formats the Python cell with black when it is importable;
    // our byte-for-byte claim assumes the venv has no black.
    let out = harness::python()
        .args([
            "-c",
            "import importlib.util; print(importlib.util.find_spec('black') is None)",
        ])
        .output()
        .expect("running the venv's python: run `scripts/setup.sh --test`");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "True",
        "black is installed in .venv: papermill would reformat the Python parameters cell"
    );
}
