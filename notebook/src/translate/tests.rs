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
