//! Robustness fuzzing of the notebook reader and the injection step, on stable
//! Rust inside `cargo test` (cargo-fuzz needs nightly): deterministic seeds and a
//! small mutator over the real notebooks in `examples/` and
//! `integration-tests/fixtures/`, random parameters, and hostile inputs.
//!
//! Every case must return (a notebook or an error naming the problem) without
//! panicking and within a time limit. `DECKLE_FUZZ_CASES=N` sets the number of
//! random cases per target (default 300), `DECKLE_FUZZ_SEED=S` the seed.

use deckle_test_support::fuzz as support;

use support::{bounded, cases, notebook_seeds, seed, Rng};

use std::time::Instant;

use deckle_worker::execute::{prepare, ExecuteOptions};
use deckle_worker::inject;
use deckle_worker::notebook;
use deckle_worker::params::{self, ParamValue, Params};
use deckle_worker::translate::{self, Language};

/// Bytes that matter to notebooks, on top of [`support::SYNTAX`].
const INTERESTING: &[&[u8]] = &[
    b"\"parameters\"",
    b"\"injected-parameters\"",
    b"\"papermill-error-cell-tag\"",
    b"\"cells\": []",
    b"\"tags\": [\"parameters\"]",
    b"\"source\": ",
    b"\"metadata\": {}",
    b"null",
    b"true",
    b"\"nbformat\": 4",
    b"\"nbformat\": 3",
    b"\"nbformat_minor\": 99",
    b"\"cell_type\": \"code\"",
    b"\"outputs\": [",
    b"\"attachments\": {\"a\": {\"text/plain\": [\"x\"]}}",
    b"\\ud800",
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let tokens: Vec<&[u8]> = support::SYNTAX.iter().chain(INTERESTING).copied().collect();
    support::mutate(rng, data, corpus, &tokens);
}


const LANGUAGES: &[Language] = &[
    Language::Python,
    Language::R,
    Language::Scala,
    Language::Julia,
    Language::Matlab,
    Language::CSharp,
    Language::FSharp,
    Language::PowerShell,
    Language::Bash,
];

fn random_string(rng: &mut Rng) -> String {
    let pieces = [
        "a",
        "_",
        "x1",
        "é",
        "\u{1F600}",
        "\"",
        "'",
        "\\",
        "\n",
        "\r",
        "\0",
        "$",
        "`",
        "${{",
        "}}",
        "-",
        " ",
        "\u{2028}",
        "\u{feff}",
        "0",
    ];
    let n = rng.below(12);
    (0..n).map(|_| *rng.pick(&pieces)).collect()
}

fn random_value(rng: &mut Rng, depth: usize) -> ParamValue {
    match rng.below(if depth > 3 { 6 } else { 8 }) {
        0 => ParamValue::Null,
        1 => ParamValue::Bool(rng.below(2) == 0),
        2 => ParamValue::Int(*rng.pick(&[0, -1, 1, i64::MIN, i64::MAX, 42])),
        3 => ParamValue::BigInt(
            rng.pick(&["18446744073709551616", "-99999999999999999999999", "0"])
                .to_string(),
        ),
        4 => ParamValue::Float(*rng.pick(&[
            0.0,
            -0.0,
            1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            5e-324,
        ])),
        5 => ParamValue::Str(random_string(rng)),
        6 => ParamValue::List(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => ParamValue::Map(
            (0..rng.below(4))
                .map(|_| (random_string(rng), random_value(rng, depth + 1)))
                .collect(),
        ),
    }
}

fn random_params(rng: &mut Rng) -> Params {
    let names = [
        "x",
        "region",
        "n",
        "_",
        "a1",
        "é",
        "class",
        "",
        "1x",
        "a b",
        "parameters",
    ];
    let mut p = Params::new();
    for _ in 0..rng.below(5) {
        let name = if rng.below(4) == 0 {
            random_string(rng)
        } else {
            rng.pick(&names).to_string()
        };
        p.insert(name, random_value(rng, 0));
    }
    p
}

/// Everything the worker does to an input notebook before a kernel is involved:
/// parse and validate, papermill's defaults, injection, metadata, then writing.
/// A notebook that parsed must still be a notebook after injection.
fn exercise(text: &str, rng: &mut Rng) {
    let Ok(mut nb) = notebook::parse(text) else {
        return;
    };
    inject::load_defaults(&mut nb);
    let _ = inject::kernel_and_language(&nb, None, None);
    let _ = inject::find_tagged(&nb, inject::PARAMETERS_TAG);
    let params = random_params(rng);
    let lang = *rng.pick(LANGUAGES);
    let secrets: Vec<String> = (0..rng.below(3))
        .map(|_| {
            if rng.below(2) == 0 {
                "token".to_string()
            } else {
                random_string(rng)
            }
        })
        .collect();
    let _ = inject::parameterize(&mut nb, &params, &secrets, lang, rng.below(2) == 0);
    inject::prepare_metadata(&mut nb, "in.ipynb", Some("out.ipynb"), rng.below(2) == 0);
    let written = notebook::to_string(&nb);
    if let Err(e) = notebook::parse(&written) {
        panic!("a notebook written after injection does not read back: {e}\n{written}");
    }
}

/// A random JSON value of the kinds notebooks hold.
fn random_json(rng: &mut Rng) -> serde_json::Value {
    use serde_json::json;
    match rng.below(10) {
        0 => json!(null),
        1 => json!(rng.below(2) == 0),
        2 => json!(*rng.pick(&[0i64, -1, 4, 5, i64::MAX])),
        3 => json!(1.5),
        4 => json!(random_string(rng)),
        5 => json!(*rng.pick(&[
            "parameters",
            "injected-parameters",
            "papermill-error-cell-tag",
            "code",
            "markdown",
            "raw",
            "stream"
        ])),
        6 => json!([]),
        7 => json!({}),
        8 => json!(["parameters"]),
        _ => {
            json!({"cell_type": "code", "source": random_string(rng), "metadata": {"tags": ["parameters"]}, "outputs": []})
        }
    }
}

/// Replace, remove or add one value somewhere in a parsed notebook, so the
/// result is still JSON and gets past the syntax check into validation.
fn mutate_json(rng: &mut Rng, v: &mut serde_json::Value) {
    use serde_json::Value;
    let mut node = v;
    let mut depth = 0;
    loop {
        // Go at least two levels down (the top level and `cells`/`metadata` are
        // checked first and would make every case a trivial refusal).
        let stop = depth >= 2 && rng.below(5) == 0;
        depth += 1;
        let next_index = match &*node {
            Value::Array(a) if !a.is_empty() && !stop => Some(rng.below(a.len())),
            Value::Object(o) if !o.is_empty() && !stop => Some(rng.below(o.len())),
            _ => None,
        };
        let Some(mut i) = next_index else { break };
        if depth == 1 && rng.below(4) != 0 {
            // Mostly into `cells`, where the interesting shapes are.
            if let Some(c) = node
                .as_object()
                .and_then(|o| o.keys().position(|k| k == "cells"))
            {
                i = c;
            }
        }
        // Sometimes act on this container itself.
        if depth > 2 && rng.below(3) == 0 {
            match node {
                Value::Array(a) => match rng.below(3) {
                    0 => {
                        a.remove(i);
                    }
                    1 => a.insert(i, random_json(rng)),
                    _ => {
                        let dup = a[i].clone();
                        a.push(dup);
                    }
                },
                Value::Object(o) => {
                    let key = o.keys().nth(i).cloned().unwrap();
                    if rng.below(2) == 0 {
                        o.remove(&key);
                    } else {
                        o.insert(key, random_json(rng));
                    }
                }
                _ => {}
            }
            return;
        }
        node = match node {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => o.values_mut().nth(i).unwrap(),
            _ => unreachable!(),
        };
    }
    *node = random_json(rng);
}

#[test]
fn structurally_mutated_notebooks_never_panic() {
    let seeds: Vec<serde_json::Value> = notebook_seeds()
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    assert!(!seeds.is_empty());
    let mut rng = Rng::new(seed() ^ 0x57);
    let n = cases();
    let start = Instant::now();
    let mut parsed = 0;
    for i in 0..n {
        let mut nb = rng.pick(&seeds).clone();
        for _ in 0..1 + rng.below(3) {
            mutate_json(&mut rng, &mut nb);
        }
        let text = nb.to_string();
        match notebook::parse(&text) {
            Ok(_) => parsed += 1,
            Err(e) if std::env::var_os("DECKLE_FUZZ_VERBOSE").is_some() => eprintln!("{e}"),
            Err(_) => {}
        }
        let mut r = Rng::new(rng.next());
        bounded(
            &format!(
                "structural mutation #{i}: {}",
                text.chars().take(2000).collect::<String>()
            ),
            move || exercise(&text, &mut r),
        );
    }
    eprintln!(
        "{n} structural mutations ({parsed} still notebooks) in {:?}",
        start.elapsed()
    );
}

#[test]
fn mutated_notebooks_never_panic() {
    let seeds = notebook_seeds();
    let mut rng = Rng::new(seed());
    // The seeds as they are first.
    for (i, s) in seeds.iter().enumerate() {
        let s = s.clone();
        let mut r = Rng::new(seed() ^ i as u64);
        bounded(&format!("seed #{i}"), move || {
            exercise(&String::from_utf8_lossy(&s), &mut r)
        });
    }
    let n = cases();
    let start = Instant::now();
    let mut parsed = 0;
    for i in 0..n {
        let mut bytes = rng.pick(&seeds).clone();
        mutate(&mut rng, &mut bytes, &seeds);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if notebook::parse(&text).is_ok() {
            parsed += 1;
        }
        let mut r = Rng::new(rng.next());
        bounded(&format!("mutation #{i}"), move || exercise(&text, &mut r));
    }
    eprintln!(
        "{} seeds + {n} mutations ({parsed} still notebooks) in {:?}",
        seeds.len(),
        start.elapsed()
    );
}

/// Structurally valid notebooks with random cells, tags and sources: these get
/// past validation, so injection sees odd but legal shapes.
#[test]
fn random_valid_notebooks_inject_without_panicking() {
    let mut rng = Rng::new(seed() ^ 0x1234);
    let n = cases();
    let start = Instant::now();
    let tags = [
        "parameters",
        "injected-parameters",
        "papermill-error-cell-tag",
        "x",
        "",
    ];
    for i in 0..n {
        let cells: Vec<serde_json::Value> = (0..rng.below(6))
            .map(|_| {
                let kind = *rng.pick(&["code", "markdown", "raw"]);
                let source = if rng.below(2) == 0 {
                    serde_json::json!(random_string(&mut rng))
                } else {
                    serde_json::json!([random_string(&mut rng), random_string(&mut rng)])
                };
                let mut cell =
                    serde_json::json!({"cell_type": kind, "source": source, "metadata": {}});
                if rng.below(2) == 0 {
                    let t: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(&tags)).collect();
                    cell["metadata"]["tags"] = serde_json::json!(t);
                }
                if kind == "code" {
                    cell["outputs"] = serde_json::json!([]);
                    cell["execution_count"] = serde_json::Value::Null;
                }
                if rng.below(3) == 0 {
                    cell["id"] = serde_json::json!(format!("c{}", rng.below(3)));
                }
                cell
            })
            .collect();
        let mut md = serde_json::json!({});
        if rng.below(2) == 0 {
            md["kernelspec"] = serde_json::json!({"name": rng.pick(&["python3", "ir", "bash", "nope"]), "display_name": "k", "language": random_string(&mut rng)});
        }
        if rng.below(3) == 0 {
            md["papermill"] = serde_json::json!({"parameters": {"old": 1}});
        }
        let nb = serde_json::json!({"cells": cells, "metadata": md, "nbformat": 4, "nbformat_minor": rng.below(6)});
        let text = nb.to_string();
        let mut r = Rng::new(rng.next());
        bounded(&format!("random notebook #{i}"), move || {
            exercise(&text, &mut r)
        });
    }
    eprintln!("{n} random notebooks in {:?}", start.elapsed());
}

#[test]
fn hostile_notebooks_are_refused_or_bounded() {
    let deep = 100_000;
    let cell = r#"{"cell_type": "code", "source": "x", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": null}"#;
    let nb = |cells: String| {
        format!(r#"{{"cells": [{cells}], "metadata": {{}}, "nbformat": 4, "nbformat_minor": 5}}"#)
    };
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("deep arrays", format!("{}{}", "[".repeat(deep), "]".repeat(deep))),
        ("deep cells", nb(format!("{}{}", "[".repeat(deep), "]".repeat(deep)))),
        ("deep metadata", format!(r#"{{"cells": [], "metadata": {}1{}, "nbformat": 4, "nbformat_minor": 5}}"#, r#"{"a": "#.repeat(deep), "}".repeat(deep))),
        ("unterminated deep", format!(r#"{{"cells": {}"#, "[".repeat(deep))),
        ("many cells", nb(vec![cell; 5_000].join(","))),
        ("huge source", nb(format!(r#"{{"cell_type": "code", "source": "{}", "metadata": {{}}, "outputs": [], "execution_count": null}}"#, "a\\n".repeat(1 << 18)))),
        ("many source lines", nb(format!(r#"{{"cell_type": "markdown", "source": [{}], "metadata": {{}}}}"#, vec![r#""l\n""#; 100_000].join(",")))),
        ("lone surrogate", nb(r#"{"cell_type": "raw", "source": "\ud800", "metadata": {}}"#.into())),
        ("NUL in source", nb("{\"cell_type\": \"raw\", \"source\": \"a\\u0000b\", \"metadata\": {}}".into())),
        ("huge number", r#"{"cells": [], "metadata": {}, "nbformat": 4e999999, "nbformat_minor": 5}"#.into()),
        ("negative nbformat", r#"{"cells": [], "metadata": {}, "nbformat": -4, "nbformat_minor": 5}"#.into()),
        ("nbformat 3", r#"{"worksheets": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0}"#.into()),
        ("cells not objects", r#"{"cells": [1, "a", null], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#.into()),
        ("tags not a list", nb(r#"{"cell_type": "code", "source": "", "metadata": {"tags": "parameters"}, "outputs": [], "execution_count": null}"#.into())),
        ("duplicate keys", r#"{"cells": [], "cells": 1, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#.into()),
        ("trailing garbage", format!("{}\0\0", nb(String::new()))),
        ("bom", format!("\u{feff}{}", nb(String::new()))),
    ];
    let start = Instant::now();
    for (name, text) in cases {
        let took = bounded(name, move || {
            let mut r = Rng::new(7);
            exercise(&text, &mut r);
        });
        eprintln!("{name}: {took:?}");
    }
    eprintln!("hostile notebooks in {:?}", start.elapsed());
}

#[test]
fn bad_notebooks_get_errors_naming_the_problem() {
    let check = |text: &str, want: &str| {
        let e = notebook::parse(text).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
    };
    check("", "not JSON");
    check("[]", "top level is not a JSON object");
    check("{}", "nbformat");
    check(r#"{"cells": [], "nbformat": 4}"#, "metadata");
    check(r#"{"metadata": {}, "nbformat": 4}"#, "cells");
    check(
        r#"{"cells": [1], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#,
        "cell 0",
    );
    check(
        &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        "not JSON",
    );
}

#[test]
fn unreadable_notebook_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("latin1", b"{\"cells\": [], \"metadata\": {\"a\": \"caf\xe9\"}, \"nbformat\": 4, \"nbformat_minor\": 5}".to_vec()),
        ("binary", vec![0xff, 0xfe, 0, 0x80]),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.ipynb"));
        std::fs::write(&path, &bytes).unwrap();
        let e = notebook::read(&path).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        // The whole pre-kernel preparation reports it too.
        let mut opts = ExecuteOptions::new(&path, dir.path().join("out.ipynb"));
        opts.params.insert("x".into(), ParamValue::Int(1));
        assert!(prepare(&opts).is_err());
    }
    assert!(notebook::read(dir.path()).is_err());
    assert!(notebook::read(&dir.path().join("missing.ipynb")).is_err());
}

/// `execute::prepare` (read, validate, inject: everything before a kernel
/// starts) over mutated notebook files with random parameters and kernels.
#[test]
fn prepare_never_panics_on_mutated_files() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = notebook_seeds();
    let mut rng = Rng::new(seed() ^ 0xfeed);
    let n = cases() / 2;
    let start = Instant::now();
    for i in 0..n {
        let mut bytes = rng.pick(&seeds).clone();
        if i % 4 != 0 {
            mutate(&mut rng, &mut bytes, &seeds);
        }
        let path = dir.path().join(format!("in{i}.ipynb"));
        std::fs::write(&path, &bytes).unwrap();
        let mut opts = ExecuteOptions::new(&path, dir.path().join("out.ipynb"));
        opts.params = random_params(&mut rng);
        opts.kernel = match rng.below(4) {
            0 => Some("python3".into()),
            1 => Some(random_string(&mut rng)),
            _ => None,
        };
        opts.report_mode = rng.below(2) == 0;
        bounded(&format!("prepare #{i}"), move || {
            let _ = prepare(&opts);
        });
    }
    eprintln!("{n} prepares in {:?}", start.elapsed());
}

/// Parameter files and `-y` YAML (serde_yaml_ng) and `-p` values.
#[test]
fn parameter_yaml_and_cli_values_never_panic() {
    let mut rng = Rng::new(seed() ^ 0x9a9a);
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let mut inputs: Vec<String> = vec![
        laughs,
        format!("x: {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("x: {}", "[".repeat(100_000)),
        "a: &a [*a]\n".into(),
        "x: !!binary aGk=\ny: !!timestamp 2020-01-01\nz: !custom 1\n".into(),
        "x: 1\n---\ny: 2\n".into(),
        "? [a]\n: 1\n".into(),
        "x: 99999999999999999999999999999999\ny: 0x_ff\nz: .NaN\nw: 1_000\n".into(),
        "<<: {a: 1}\nb: 2\n".into(),
        "\0".into(),
        (0..20_000).map(|i| format!("k{i}: {i}\n")).collect(),
    ];
    let seeds: Vec<Vec<u8>> = vec![
        b"region: fr\nn: 3\nrate: 0.5\nflag: true\nnothing: null\nlist: [1, 2, {a: b}]\nday: 2024-01-01\n".to_vec(),
        b"{\"a\": 1, \"b\": [true, \"x\"]}".to_vec(),
    ];
    for _ in 0..cases() {
        let mut bytes = rng.pick(&seeds).clone();
        mutate(&mut rng, &mut bytes, &seeds);
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    let start = Instant::now();
    let total = inputs.len();
    for (i, text) in inputs.into_iter().enumerate() {
        bounded(&format!("params yaml #{i}"), move || {
            if let Ok(p) = params::parse_yaml_params(&text, "-y") {
                for lang in LANGUAGES {
                    let _ = translate::try_translate_parameters(*lang, &p, "Parameters");
                }
            }
            let _ = params::resolve_cli_value(&text);
        });
    }
    eprintln!("{total} parameter inputs in {:?}", start.elapsed());
}
