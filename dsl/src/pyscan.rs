//! A textual look at Python cell sources, for the schedulability checks: which
//! names a cell assigns, which calls only work with someone at the keyboard, and
//! the type of a parameter's default as papermill's `--help-notebook` would infer it.
//!
//! No Python parser: string literals and comments are blanked line by line (triple
//! quotes followed across lines), brackets are counted across lines, and simple
//! statement forms are recognised. What it cannot read it ignores, so it misses
//! cases rather than inventing them.

/// A cell's lines as Python's `str.splitlines()` cuts them (the same cuts papermill's
/// parameter inspection makes), without their line ends.
pub(crate) fn split_lines(src: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = src.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if !matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}') {
            continue;
        }
        out.push(&src[start..i]);
        start = i + c.len_utf8();
        if c == '\r' {
            if let Some((j, '\n')) = it.peek().copied() {
                it.next();
                start = j + 1;
            }
        }
    }
    if start < src.len() {
        out.push(&src[start..]);
    }
    out
}

/// One line of code with string contents and comments blanked.
#[derive(Debug, Clone)]
pub(crate) struct CodeLine {
    /// 1-based, in the cell.
    pub number: usize,
    /// The line with every string literal emptied (`"abc"` → `""`) and its comment removed.
    pub code: String,
    /// Whether the line continues a statement (open brackets, a trailing `\`, or
    /// inside a triple-quoted string).
    pub continuation: bool,
    /// Bracket depth at the end of the line.
    pub depth_after: usize,
}

/// The cell's lines with strings and comments blanked (see [`CodeLine`]).
pub(crate) fn code_lines(src: &str) -> Vec<CodeLine> {
    let mut out = Vec::new();
    // An open triple-quoted string: its quote character.
    let mut triple: Option<char> = None;
    let mut depth: usize = 0;
    let mut backslash = false;
    for (i, line) in split_lines(src).into_iter().enumerate() {
        let continuation = depth > 0 || backslash || triple.is_some();
        let chars: Vec<char> = line.chars().collect();
        let mut code = String::with_capacity(line.len());
        let mut k = 0;
        // An open single-line string: its quote character.
        let mut single: Option<char> = None;
        backslash = false;
        while k < chars.len() {
            let c = chars[k];
            if let Some(q) = triple {
                if c == '\\' {
                    k += 2;
                    continue;
                }
                if c == q && chars.get(k + 1) == Some(&q) && chars.get(k + 2) == Some(&q) {
                    triple = None;
                    code.push_str(&q.to_string().repeat(3));
                    k += 3;
                    continue;
                }
                k += 1;
                continue;
            }
            if let Some(q) = single {
                if c == '\\' {
                    k += 2;
                    continue;
                }
                if c == q {
                    single = None;
                    code.push(q);
                }
                k += 1;
                continue;
            }
            match c {
                '#' => break,
                '"' | '\'' => {
                    if chars.get(k + 1) == Some(&c) && chars.get(k + 2) == Some(&c) {
                        triple = Some(c);
                        code.push_str(&c.to_string().repeat(3));
                        k += 3;
                        continue;
                    }
                    single = Some(c);
                    code.push(c);
                }
                '(' | '[' | '{' => {
                    depth += 1;
                    code.push(c);
                }
                ')' | ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    code.push(c);
                }
                '\\' if k + 1 == chars.len() => backslash = true,
                _ => code.push(c),
            }
            k += 1;
        }
        if single.is_some() {
            // An unterminated string ends with its line (or continues after `\`).
            code.push(single.unwrap_or('"'));
        }
        out.push(CodeLine { number: i + 1, code, continuation, depth_after: depth });
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A Python identifier (Unicode letters allowed, as Python allows them).
pub(crate) fn is_python_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if is_ident_start(c)) && chars.all(is_ident_char) && !KEYWORDS.contains(&s)
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
    "pass", "raise", "return", "try", "while", "with", "yield",
];

/// `text` split at `sep` outside brackets.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// The parts of a statement around its assignment `=` signs (not `==`, `<=`, `+=`,
/// `:=`, … and not inside brackets): `a = b = 1` → `["a ", " b ", " 1"]`.
fn split_assignments(stmt: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = stmt.char_indices().collect();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (k, &(i, c)) in chars.iter().enumerate() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '=' if depth == 0 => {
                let prev = if k > 0 { chars[k - 1].1 } else { ' ' };
                let next = chars.get(k + 1).map_or(' ', |p| p.1);
                if next != '=' && !"=!<>+-*/%&|^@:~".contains(prev) {
                    out.push(&stmt[start..i]);
                    start = i + 1;
                }
            }
            _ => {}
        }
    }
    out.push(&stmt[start..]);
    out
}

/// The names an assignment target binds: `a`, `a, b`, `(a, [b, *c])`, `a: int`.
fn target_names(target: &str, out: &mut Vec<String>) {
    let t = target.trim();
    // An annotation: `name: T`.
    let t = split_top(t, ':')[0].trim();
    let items = split_top(t, ',');
    for item in items {
        let item = item.trim().trim_start_matches('*').trim();
        if item.is_empty() {
            continue;
        }
        let inner = item
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .or_else(|| item.strip_prefix('[').and_then(|r| r.strip_suffix(']')));
        match inner {
            Some(inner) => target_names(inner, out),
            None if is_python_identifier(item) => out.push(item.to_string()),
            None => {}
        }
    }
}

/// `import a.b as c, d` → `c`, `d`; `from m import x as y, z` → `y`, `z` (the part
/// after `import`).
fn import_names(list: &str, from: bool, out: &mut Vec<String>) {
    let list = list.trim().trim_start_matches('(').trim_end_matches(')');
    for item in split_top(list, ',') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let name = match words.as_slice() {
            [_, "as", alias] => *alias,
            [path] if from => path,
            [path] => path.split('.').next().unwrap_or(""),
            _ => continue,
        };
        if is_python_identifier(name) {
            out.push(name.to_string());
        }
    }
}

/// `… as NAME` / `… as (a, b)` clauses of a `with` or `except` statement.
fn as_names(stmt: &str, out: &mut Vec<String>) {
    let mut rest = stmt;
    while let Some(i) = rest.find(" as ") {
        rest = &rest[i + 4..];
        let end = split_top(rest, ',')[0];
        let end = end.trim().trim_end_matches(':');
        target_names(end, out);
    }
}

/// The word after a keyword: `def name(` → `name`.
fn word_after<'a>(stmt: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = stmt.strip_prefix(keyword)?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The names a statement binds, by the forms listed in the module docs.
fn statement_names(stmt: &str, out: &mut Vec<String>) {
    let s = stmt.trim();
    let s = s.strip_prefix("async ").map(str::trim_start).unwrap_or(s);
    if let Some(rest) = s.strip_prefix("for ") {
        if let Some(i) = rest.find(" in ") {
            target_names(&rest[..i], out);
        }
        return;
    }
    if let Some(rest) = s.strip_prefix("import ") {
        import_names(rest, false, out);
        return;
    }
    if s.starts_with("from ") {
        if let Some(i) = s.find(" import ") {
            import_names(&s[i + 8..], true, out);
        }
        return;
    }
    for kw in ["def", "class"] {
        if let Some(name) = word_after(s, kw) {
            if is_python_identifier(name) {
                out.push(name.to_string());
            }
            return;
        }
    }
    if let Some(rest) = s.strip_prefix("global ") {
        target_names(rest, out);
        return;
    }
    if s.starts_with("with ") || s.starts_with("except") {
        as_names(s, out);
        return;
    }
    walrus_names(s, out);
    let parts = split_assignments(s);
    if let Some((_, targets)) = parts.split_last() {
        for t in targets {
            target_names(t, out);
        }
    }
}

/// `(name := value)` anywhere in a line.
fn walrus_names(s: &str, out: &mut Vec<String>) {
    let mut from = 0;
    while let Some(i) = s[from..].find(":=") {
        let at = from + i;
        let before = s[..at].trim_end();
        let start = before.rfind(|c: char| !is_ident_char(c)).map_or(0, |j| j + before[j..].chars().next().map_or(1, char::len_utf8));
        let name = &before[start..];
        if is_python_identifier(name) {
            out.push(name.to_string());
        }
        from = at + 2;
    }
}

/// The names a cell binds at the top level (not inside `def` or `class` bodies,
/// except through `global`), each with the first line that binds it.
pub(crate) fn assigned_names(src: &str) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut scopes: Vec<usize> = Vec::new();
    let mut in_import_parens = false;
    let mut names = Vec::new();
    for line in code_lines(src) {
        let code = line.code.as_str();
        if code.trim().is_empty() {
            continue;
        }
        names.clear();
        if line.continuation {
            if in_import_parens {
                import_names(code, true, &mut names);
                in_import_parens = line.depth_after > 0;
            }
        } else {
            in_import_parens = false;
            let indent = code.chars().take_while(|c| c.is_whitespace()).count();
            while scopes.last().is_some_and(|s| *s >= indent) {
                scopes.pop();
            }
            let nested = !scopes.is_empty();
            for stmt in split_top(code, ';') {
                let t = stmt.trim();
                let t2 = t.strip_prefix("async ").map(str::trim_start).unwrap_or(t);
                if nested && !t.starts_with("global ") {
                    // Inside a function or class: only `global` reaches the notebook.
                } else {
                    statement_names(stmt, &mut names);
                }
                if word_after(t2, "def").is_some() || word_after(t2, "class").is_some() {
                    scopes.push(indent);
                }
            }
            let t = code.trim_start();
            if t.starts_with("from ") && t.contains(" import ") && line.depth_after > 0 {
                in_import_parens = true;
            }
        }
        for n in names.drain(..) {
            if seen.insert(n.clone()) {
                out.push((n, line.number));
            }
        }
    }
    out
}

/// Something in a cell that only works with a person at the notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interactive {
    /// 1-based line in the cell.
    pub line: usize,
    /// What was found, as written (`input(`, `%matplotlib widget`).
    pub what: String,
    /// Why a scheduled run cannot do it.
    pub why: &'static str,
}

const KEYBOARD: &str = "waits for keyboard input, which a scheduled run cannot give (the kernel has no stdin: the cell fails)";
const DEBUGGER: &str = "stops in the debugger, waiting for keyboard input a scheduled run cannot give";
const WIDGETS: &str = "waits for widget interaction (clicks, sliders) that never comes in a scheduled run";
const BACKEND: &str = "draws figures only a live browser session shows; the saved notebook keeps none (use `%matplotlib inline`)";

/// Calls (name, must be preceded by a `.`, may be preceded by a `.`, why).
const CALLS: &[(&str, bool, bool, &str)] = &[
    ("input", false, false, KEYBOARD),
    ("raw_input", false, false, KEYBOARD),
    ("getpass", false, true, KEYBOARD),
    ("breakpoint", false, false, DEBUGGER),
    ("set_trace", false, true, DEBUGGER),
    ("interact", false, true, WIDGETS),
    ("interact_manual", false, true, WIDGETS),
    ("on_click", true, true, WIDGETS),
];
const BACKENDS: &[&str] = &["notebook", "nbagg", "widget", "ipympl"];

/// Every interactive-only construct of a cell, in line order.
pub(crate) fn interactive(src: &str) -> Vec<Interactive> {
    let mut out = Vec::new();
    for line in code_lines(src) {
        let code = line.code.trim();
        if let Some(rest) = code.strip_prefix("%matplotlib") {
            let backend = rest.split_whitespace().find(|w| !w.starts_with('-')).unwrap_or("");
            if BACKENDS.contains(&backend) {
                out.push(Interactive { line: line.number, what: format!("%matplotlib {backend}"), why: BACKEND });
            }
            continue;
        }
        if let Some(deco) = code.strip_prefix('@') {
            let name = deco.split('(').next().unwrap_or("").trim();
            let last = name.rsplit('.').next().unwrap_or("");
            if matches!(last, "interact" | "interact_manual") {
                out.push(Interactive { line: line.number, what: format!("@{name}"), why: WIDGETS });
                continue;
            }
        }
        for (name, needs_dot, dot_ok, why) in CALLS {
            if let Some(what) = find_call(code, name, *needs_dot, *dot_ok) {
                out.push(Interactive { line: line.number, what, why });
            }
        }
    }
    out
}

/// `name(` (spaces allowed before the parenthesis) as a whole word in `code`; the
/// text found, with its `.` when it has one.
fn find_call(code: &str, name: &str, needs_dot: bool, dot_ok: bool) -> Option<String> {
    let mut from = 0;
    while let Some(i) = code[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let prev = code[..at].chars().next_back();
        let dotted = prev == Some('.');
        if prev.is_some_and(is_ident_char) || (dotted && !dot_ok) || (needs_dot && !dotted) {
            continue;
        }
        let after = code[from..].trim_start();
        if after.starts_with('(') {
            return Some(format!("{}{name}(", if dotted { "." } else { "" }));
        }
    }
    None
}

/// A Python type, as far as a literal or an annotation tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyType {
    Int,
    Float,
    Str,
    Bytes,
    Bool,
    NoneType,
    List,
    Tuple,
    Dict,
    Set,
}

impl PyType {
    /// As Python names it.
    pub fn name(self) -> &'static str {
        match self {
            PyType::Int => "int",
            PyType::Float => "float",
            PyType::Str => "str",
            PyType::Bytes => "bytes",
            PyType::Bool => "bool",
            PyType::NoneType => "None",
            PyType::List => "list",
            PyType::Tuple => "tuple",
            PyType::Dict => "dict",
            PyType::Set => "set",
        }
    }
}

/// The type of a literal default (`1`, `-2.5e3`, `'x'`, `f"…"`, `True`, `None`,
/// `[…]`, `(…, …)`, `{…: …}`, `{…}`); None for anything else (a call, a name).
pub(crate) fn literal_type(text: &str) -> Option<PyType> {
    let t = text.trim();
    match t {
        "None" => return Some(PyType::NoneType),
        "True" | "False" => return Some(PyType::Bool),
        "{}" => return Some(PyType::Dict),
        "()" => return Some(PyType::Tuple),
        _ => {}
    }
    let first = t.chars().next()?;
    match first {
        '[' if t.ends_with(']') => return Some(PyType::List),
        '(' if t.ends_with(')') => {
            let inner = &t[1..t.len() - 1];
            return if split_top(inner, ',').len() > 1 { Some(PyType::Tuple) } else { literal_type(inner) };
        }
        '{' if t.ends_with('}') => {
            let inner = &t[1..t.len() - 1];
            let first = split_top(inner, ',')[0];
            return Some(if first.trim_start().starts_with("**") || split_top(first, ':').len() > 1 { PyType::Dict } else { PyType::Set });
        }
        _ => {}
    }
    // Strings, with their prefixes.
    let prefix_len = t.find(['\'', '"']).unwrap_or(usize::MAX);
    if prefix_len <= 2 && t[..prefix_len].chars().all(|c| "rRuUbBfF".contains(c)) && t.ends_with(['\'', '"']) {
        let bytes = t[..prefix_len].contains(['b', 'B']);
        return Some(if bytes { PyType::Bytes } else { PyType::Str });
    }
    number_type(t)
}

/// `12`, `-1_000`, `0x1F`, `1.5`, `1e-3`, `.5`.
fn number_type(t: &str) -> Option<PyType> {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t).trim_start().replace('_', "");
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return Some(PyType::Int);
    }
    let lower = t.to_ascii_lowercase();
    for (p, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(p) {
            return (!digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))).then_some(PyType::Int);
        }
    }
    if t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) && t.parse::<f64>().is_ok() {
        return Some(PyType::Float);
    }
    None
}

/// The type an annotation (or a `# type:` comment) names, when it is one of the
/// plain types: `int`, `List[str]`, `Optional[float]` (→ float), `dict`, …
pub(crate) fn annotation_type(text: &str) -> Option<PyType> {
    let t = text.trim();
    let (head, arg) = match t.find('[') {
        Some(i) => (t[..i].trim(), t[i + 1..].trim_end().strip_suffix(']')),
        None => (t, None),
    };
    let head = head.rsplit('.').next().unwrap_or(head);
    Some(match head {
        "int" => PyType::Int,
        "float" => PyType::Float,
        "str" => PyType::Str,
        "bytes" => PyType::Bytes,
        "bool" => PyType::Bool,
        "list" | "List" | "Sequence" => PyType::List,
        "tuple" | "Tuple" => PyType::Tuple,
        "dict" | "Dict" | "Mapping" => PyType::Dict,
        "set" | "Set" | "frozenset" | "FrozenSet" => PyType::Set,
        "Optional" => return annotation_type(arg?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        assigned_names(src).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn lines_are_cut_as_python_cuts_them() {
        assert_eq!(split_lines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
        assert_eq!(split_lines("a\n"), ["a"]);
        assert!(split_lines("").is_empty());
    }

    #[test]
    fn strings_and_comments_are_blanked() {
        let lines = code_lines("x = 'a # b'  # input(\ns = \"\"\"\ninput(\n\"\"\" + f(\n  1)\n");
        let code: Vec<&str> = lines.iter().map(|l| l.code.as_str()).collect();
        assert_eq!(code, ["x = ''  ", "s = \"\"\"", "", "\"\"\" + f(", "  1)"]);
        let cont: Vec<bool> = lines.iter().map(|l| l.continuation).collect();
        assert_eq!(cont, [false, false, true, true, true]);
        // Escaped quotes, and an unterminated string ending with its line.
        assert_eq!(code_lines(r#"a = "x\"y" + 'it\'s'"#)[0].code, r#"a = "" + ''"#);
        assert_eq!(code_lines("!echo it's\nb = 1")[1].code, "b = 1");
    }

    #[test]
    fn assignment_forms() {
        let src = "\
import os, numpy as np
import a.b.c
from x import (y,
    z as zz)
from m import n
total = 0
count: int = 1
first, (second, *rest) = 1, (2, 3)
[p, q] = 1, 2
a = b = 3
for i, item in enumerate([]):
    inner = 1
with open('f') as fh, open('g') as (gh):
    pass
try:
    pass
except ValueError as err:
    pass
def helper(arg=1):
    local = 2
    global shared
    shared = 3
class Model:
    attr = 1
after = 1; also = 2
if (w := 5) > 3: pass
x == 1
d['k'] = 1
obj.attr = 2
f(kw=1)
n += 1
annotated: int
";
        assert_eq!(
            names(src),
            [
                "os", "np", "a", "y", "zz", "n", "total", "count", "first", "second", "rest", "p", "q", "b", "i", "item", "inner", "fh", "gh",
                "err", "helper", "shared", "Model", "after", "also", "w"
            ]
        );
        let with_lines = assigned_names("import os\n\nresult = 1\n");
        assert_eq!(with_lines, [("os".to_string(), 1), ("result".to_string(), 3)]);
        // Continuation lines of a call are not statements.
        assert_eq!(names("x = f(\n    y=1,\n)\n"), ["x"]);
        // A string holding `name = …` assigns nothing.
        assert_eq!(names("s = '''\nfake = 1\n'''\n"), ["s"]);
    }

    #[test]
    fn interactive_constructs() {
        let src = "\
name = input('who? ')
pw = getpass.getpass()
%matplotlib widget
%matplotlib inline
interact(f, x=10)
@widgets.interact_manual(x=1)
def g(x): pass
button.on_click(handler)
breakpoint()
text_input(x)  # input(
print('input(')
ui.input (1)
";
        let found: Vec<(usize, String)> = interactive(src).into_iter().map(|i| (i.line, i.what)).collect();
        assert_eq!(
            found,
            [
                (1, "input(".to_string()),
                (2, ".getpass(".to_string()),
                (3, "%matplotlib widget".to_string()),
                (5, "interact(".to_string()),
                (6, "@widgets.interact_manual".to_string()),
                (8, ".on_click(".to_string()),
                (9, "breakpoint(".to_string()),
            ]
        );
    }

    #[test]
    fn literal_and_annotation_types() {
        use PyType::*;
        let cases = [
            ("1", Some(Int)),
            ("-1_000", Some(Int)),
            ("0x1F", Some(Int)),
            ("1.5", Some(Float)),
            ("-2e-3", Some(Float)),
            (".5", Some(Float)),
            ("'a'", Some(Str)),
            ("f\"{x}\"", Some(Str)),
            ("rb'x'", Some(Bytes)),
            ("True", Some(Bool)),
            ("None", Some(NoneType)),
            ("[1, 2]", Some(List)),
            ("(1, 2)", Some(Tuple)),
            ("(1)", Some(Int)),
            ("{'a': 1}", Some(Dict)),
            ("{**base}", Some(Dict)),
            ("{1, 2}", Some(Set)),
            ("{}", Some(Dict)),
            ("pd.Timestamp('2024-01-01')", None),
            ("os.environ['X']", None),
            ("inf", None),
            ("1j", None),
        ];
        for (text, want) in cases {
            assert_eq!(literal_type(text), want, "{text}");
        }
        assert_eq!(annotation_type("int"), Some(Int));
        assert_eq!(annotation_type("List[str]"), Some(List));
        assert_eq!(annotation_type("typing.Dict[str, int]"), Some(Dict));
        assert_eq!(annotation_type("Optional[float]"), Some(Float));
        assert_eq!(annotation_type("Any"), None);
    }
}
