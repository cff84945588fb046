//! Robustness fuzzing of the workflow parser and the notebook check, on stable
//! Rust inside `cargo test` (cargo-fuzz needs nightly): deterministic seeds, a
//! small hand-written mutator over the real workflow files and notebooks, and a
//! list of hostile YAML (deep nesting, alias bombs, huge scalars, ...).
//!
//! Every case must come back as `Ok` or `Err(Diagnostics)`: no panic, no hang
//! (each case runs in its own thread with a time limit), no runaway memory (alias
//! bombs and deep nesting are refused by limits in the YAML reader).
//!
//! `DECKLE_FUZZ_CASES=N` sets the number of random cases per target (default
//! 300); `DECKLE_FUZZ_SEED=S` changes the seed.

use deckle_test_support::fuzz as support;

use support::{bounded, cases, files, notebook_seeds, repo_root, seed, Rng};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bytes that matter to workflows, on top of [`support::SYNTAX`].
const INTERESTING: &[&[u8]] = &[
    b"`",
    b"nodes:",
    b"needs:",
    b"notebook:",
    b"when:",
    b"foreach:",
    b"params:",
    b"schedule:",
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let tokens: Vec<&[u8]> = support::SYNTAX.iter().chain(INTERESTING).copied().collect();
    support::mutate(rng, data, corpus, &tokens);
}

/// Workflow seeds: (path, bytes). The path is kept so notebook references
/// resolve as they do for the real file.
fn workflow_seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let root = repo_root();
    let mut paths = Vec::new();
    files(&root.join("examples"), &["workflow.yaml"], &mut paths);
    files(
        &root.join("integration-tests/fixtures"),
        &[".yaml", ".yml"],
        &mut paths,
    );
    files(&root.join("dsl/tests/fixtures"), &[".yaml"], &mut paths);
    assert!(
        paths.len() >= 5,
        "expected workflow seed files, found {paths:?}"
    );
    paths
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}


/// Parse text (lossily decoded, as a caller with a `&str` would have it).
fn parse_case(what: &str, bytes: Vec<u8>, path: PathBuf) -> Duration {
    bounded(what, move || {
        let text = String::from_utf8_lossy(&bytes);
        let _ = deckle_dsl::parse_str(&text, &path);
    })
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(seed());
    let n = cases();
    let start = Instant::now();
    for i in 0..n {
        let len = rng.below(2048);
        // Half the cases: bytes drawn from YAML punctuation and letters, which gets
        // further into the parser than uniform noise.
        let bytes: Vec<u8> = if i % 2 == 0 {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let alphabet = b"ab: -[]{},&*!<>|?'\"#\n\n  \t0.9x%@`~";
            (0..len).map(|_| *rng.pick(alphabet)).collect()
        };
        parse_case(
            &format!("random #{i}"),
            bytes,
            PathBuf::from("/nonexistent/wf.yaml"),
        );
    }
    eprintln!("{n} random inputs in {:?}", start.elapsed());
}

#[test]
fn mutated_workflows_never_panic() {
    let seeds = workflow_seeds();
    let corpus: Vec<Vec<u8>> = seeds.iter().map(|s| s.1.clone()).collect();
    // The seeds themselves first.
    for (path, bytes) in &seeds {
        parse_case(&path.display().to_string(), bytes.clone(), path.clone());
    }
    let mut rng = Rng::new(seed() ^ 0xa11ce);
    let n = cases();
    let start = Instant::now();
    for i in 0..n {
        let (path, seed_bytes) = rng.pick(&seeds);
        let mut bytes = seed_bytes.clone();
        mutate(&mut rng, &mut bytes, &corpus);
        parse_case(
            &format!("mutation #{i} of {}", path.display()),
            bytes,
            path.clone(),
        );
    }
    eprintln!(
        "{} seeds + {n} mutations in {:?}",
        seeds.len(),
        start.elapsed()
    );
}

fn hostile_cases() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, text: String| v.push((name.to_string(), text.into_bytes()));
    let deep = 100_000;
    add("deep flow sequence", "[".repeat(deep));
    add(
        "deep closed flow sequence",
        format!("{}{}", "[".repeat(deep), "]".repeat(deep)),
    );
    add("deep flow map", "{a: ".repeat(deep));
    add(
        "deep closed flow map",
        format!("{}1{}", "{a: ".repeat(deep), "}".repeat(deep)),
    );
    add(
        "deep block sequence",
        (0..5_000)
            .map(|i| format!("{}- \n", " ".repeat(i)))
            .collect(),
    );
    add(
        "deep block map",
        (0..5_000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect(),
    );
    add(
        "deep nesting under nodes",
        format!(
            "workflow: w\nnodes:\n  a:\n    notebook: {}1{}\n",
            "[".repeat(deep),
            "]".repeat(deep)
        ),
    );
    // Billion laughs: 10 levels of 10 aliases = 10^10 nodes if expanded.
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    add("billion laughs", laughs.clone());
    add(
        "billion laughs under nodes",
        format!(
            "workflow: w\nnodes:\n  x:\n    notebook: n.ipynb\n    params:\n      {}",
            laughs.replace('\n', "\n      ")
        ),
    );
    // Doubling chain: 2^64 if expanded.
    let mut doubling = String::from("a0: &a0 [x, x]\n");
    for i in 1..64 {
        doubling.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
    }
    add("doubling aliases", doubling);
    // Merge-key bomb: each level merges the previous map many times.
    let mut merges = String::from("m0: &m0 {k: v}\n");
    for i in 1..30 {
        merges.push_str(&format!(
            "m{i}: &m{i} {{<<: [*m{p}, *m{p}, *m{p}], k{i}: v}}\n",
            p = i - 1
        ));
    }
    add("merge bomb", merges);
    add(
        "many aliases of one big anchor",
        format!(
            "a: &a [{}]\nb: [{}]\n",
            vec!["x"; 10_000].join(","),
            vec!["*a"; 10_000].join(",")
        ),
    );
    add("anchor referencing itself", "a: &a [*a]\n".into());
    add(
        "anchor referencing itself in a map",
        "a: &a {b: *a}\n".into(),
    );
    add("alias before its anchor", "a: *a\nb: &a 1\n".into());
    add(
        "redefined anchor",
        "a: &a 1\na2: &a [*a, *a]\nb: *a\n".into(),
    );
    add("merge of itself", "a: &a {<<: *a}\n".into());
    add(
        "huge scalar",
        format!("workflow: {}\n", "w".repeat(4 << 20)),
    );
    add(
        "huge quoted scalar",
        format!("workflow: \"{}\"\n", "\\u00e9".repeat(1 << 20)),
    );
    add(
        "huge block scalar",
        format!("description: |\n{}", "  line\n".repeat(500_000)),
    );
    add(
        "very long line",
        format!(
            "nodes: {{{}}}\n",
            (0..20_000)
                .map(|i| format!("n{i}: {{notebook: x.ipynb}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    add(
        "many keys",
        (0..30_000).map(|i| format!("k{i}: {i}\n")).collect(),
    );
    add(
        "many duplicate keys",
        (0..30_000).map(|_| "k: 1\n").collect(),
    );
    add(
        "many nodes",
        format!(
            "workflow: w\nnodes:\n{}",
            (0..10_000)
                .map(|i| format!("  n{i}: {{notebook: x.ipynb, needs: [n{}]}}\n", i / 2))
                .collect::<String>()
        ),
    );
    add(
        "many merges",
        format!(
            "d: &d {{{}}}\n{}",
            (0..1000)
                .map(|i| format!("k{i}: 1"))
                .collect::<Vec<_>>()
                .join(", "),
            (0..1000)
                .map(|i| format!("m{i}: {{<<: *d}}\n"))
                .collect::<String>()
        ),
    );
    add("tags", "workflow: !!str 1\nretries: !!int x\nt: !!float 0x10\nu: !custom {a: !!binary aGk=}\nv: !<tag:yaml.org,2002:str> 3\nw: !!map []\n".into());
    add("unknown tag handle", "a: !x!y 1\n".into());
    add("multi document", "workflow: a\n---\nworkflow: b\n".into());
    add("many documents", "---\na: 1\n".repeat(10_000));
    add("document end markers", "...\n...\n---\n...\n".into());
    add(
        "directives",
        "%YAML 1.2\n%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n".into(),
    );
    add("NUL bytes", "workflow: a\0b\nnodes:\0\n  \0: {}\n".into());
    add("only NUL", "\0".repeat(1000));
    add("BOM", "\u{feff}workflow: w\n".into());
    add(
        "CR line ends",
        "workflow: w\rnodes:\r  a:\r    notebook: x.ipynb\r".into(),
    );
    add("complex keys", "? [a, b]\n: 1\n? {c: d}\n: 2\n".into());
    add("huge integers", "workflow: w\nretries: 99999999999999999999999999\ntimeout: -9223372036854775808\nx: 0x7fffffffffffffffff\ny: 1e99999\n".into());
    add("huge durations", "workflow: w\ntimeout: 99999999999999999999h\nnodes:\n  a:\n    notebook: x.ipynb\n    timeout: 18446744073709551615s\n    retry_delay: 9223372036854775807d\n".into());
    add(
        "long expression",
        format!(
            "workflow: w\nnodes:\n  a:\n    notebook: x.ipynb\n    when: \"{}true{}\"\n",
            "(".repeat(10_000),
            ")".repeat(10_000)
        ),
    );
    add(
        "long template",
        format!(
            "workflow: w\nnodes:\n  a:\n    notebook: x.ipynb\n    params: {{p: \"{}\"}}\n",
            "${{ ".repeat(10_000)
        ),
    );
    add("deep template expression", format!("workflow: w\nnodes:\n  a:\n    notebook: x.ipynb\n    params: {{p: \"${{{{ {}1{} }}}}\"}}\n", "[".repeat(5_000), "]".repeat(5_000)));
    add(
        "deep when unary",
        format!(
            "workflow: w\nnodes:\n  a:\n    notebook: x.ipynb\n    when: \"{}true\"\n",
            "!".repeat(50_000)
        ),
    );
    add(
        "long needs cycle",
        format!(
            "workflow: w\nnodes:\n{}",
            (0..5_000)
                .map(|i| format!(
                    "  n{i}: {{notebook: x.ipynb, needs: [n{}]}}\n",
                    (i + 1) % 5_000
                ))
                .collect::<String>()
        ),
    );
    add("unicode ids", "workflow: w\nnodes:\n  é: {notebook: x.ipynb}\n  \"\u{1F600}\": {notebook: x.ipynb, needs: [é]}\n".into());
    add("path traversal notebook", "workflow: w\nnodes:\n  a: {notebook: ../../../../../../etc/passwd}\n  b: {notebook: /dev/zero}\n  c: {notebook: \"\"}\n  d: {notebook: /}\n".into());
    v
}

#[test]
fn hostile_yaml_is_refused_or_bounded() {
    let start = Instant::now();
    for (name, bytes) in hostile_cases() {
        let took = parse_case(&name, bytes, PathBuf::from("/nonexistent/wf.yaml"));
        eprintln!("{name}: {took:?}");
    }
    eprintln!("hostile cases in {:?}", start.elapsed());
}

#[test]
fn alias_bombs_and_deep_nesting_get_clear_errors() {
    let errors = |text: String| -> String {
        match deckle_dsl::parse_str(&text, Path::new("/nonexistent/wf.yaml")) {
            Ok(_) => panic!("accepted"),
            Err(d) => d.to_string(),
        }
    };
    let cases = hostile_cases();
    let get = |name: &str| {
        String::from_utf8(cases.iter().find(|c| c.0 == name).unwrap().1.clone()).unwrap()
    };
    let e = errors(get("billion laughs"));
    assert!(e.contains("too many values"), "{e}");
    let e = errors(get("doubling aliases"));
    assert!(e.contains("too many values"), "{e}");
    let e = errors(get("deep closed flow sequence"));
    assert!(e.contains("nested too deeply"), "{e}");
    let e = errors(get("anchor referencing itself"));
    assert!(e.contains("alias"), "{e}");
}

#[test]
fn invalid_utf8_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("latin1", b"workflow: caf\xe9\n".to_vec()),
        ("lone continuation", b"\x80\x80\x80".to_vec()),
        (
            "truncated sequence",
            b"workflow: w\nnodes:\n  a: {notebook: \xe2\x82}\n".to_vec(),
        ),
        ("overlong", b"\xc0\xaf".to_vec()),
        ("surrogate", b"a: \xed\xa0\x80\n".to_vec()),
        ("utf16 bom", b"\xff\xfew\0o\0".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &bytes).unwrap();
        let p = path.clone();
        bounded(name, move || {
            let e = deckle_dsl::load(&p).unwrap_err().to_string();
            assert!(e.contains("UTF-8") || e.contains("utf-8"), "{e}");
        });
    }
    // A directory and a missing file.
    assert!(deckle_dsl::load(dir.path()).is_err());
    assert!(deckle_dsl::load(&dir.path().join("missing.yaml")).is_err());
}

/// The notebook check run during validation (`notebook:` references), over
/// random and mutated notebooks.
#[test]
fn mutated_notebooks_never_panic_validation() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = notebook_seeds();
    let mut rng = Rng::new(seed() ^ 0xb00c);
    let n = cases();
    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        "workflow: w\nnodes:\n  a:\n    notebook: nb.ipynb\n    params: {x: 1}\n",
    )
    .unwrap();
    let nb = dir.path().join("nb.ipynb");
    let start = Instant::now();
    let mut inputs: Vec<Vec<u8>> = seeds.clone();
    inputs.push(Vec::new());
    inputs.push(b"\xff\xfe".to_vec());
    inputs.push(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    inputs.push(format!("{{\"cells\": {}}}", "[".repeat(100_000)).into_bytes());
    inputs.push(
        b"{\"cells\": [{\"metadata\": {\"tags\": \"parameters\"}}, 1, null, {\"metadata\": []}]}"
            .to_vec(),
    );
    inputs.push(b"{\"cells\": {}}".to_vec());
    for _ in 0..n {
        let mut bytes = rng.pick(&seeds).clone();
        mutate(&mut rng, &mut bytes, &seeds);
        inputs.push(bytes);
    }
    let total = inputs.len();
    for (i, bytes) in inputs.into_iter().enumerate() {
        std::fs::write(&nb, &bytes).unwrap();
        let wf = wf.clone();
        bounded(&format!("notebook #{i}"), move || {
            // The notebook check runs in a fresh cache for every load.
            let _ = deckle_dsl::load(&wf);
        });
    }
    eprintln!("{total} notebooks in {:?}", start.elapsed());
}
