//! Python's printing: `repr(float)`, the `unicode_escape` codec and
//! `shlex.quote`, byte for byte, because papermill's translators print
//! parameters with them.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
