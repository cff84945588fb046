//! Python's `str.strip()` and `str.splitlines()`, whose idea of whitespace and
//! line breaks is wider than Rust's.

/// Python's `str.isspace()` (Unicode White_Space plus the ASCII separators
/// 0x1c..0x1f).
fn python_isspace(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn python_strip(s: &str) -> &str {
    s.trim_matches(python_isspace)
}

/// Python's `str.splitlines()` (no line ends kept).
pub(crate) fn python_splitlines(s: &str) -> Vec<&str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
