//! Python's `int(s)` and `float(s)` on text, as CPython 3.11 parses it
//! (whitespace, signs, `_` between digits, non-ASCII decimal digits).

use std::sync::LazyLock;

use regex::Regex;

use super::value::{int_from_decimal, ParamValue};

/// CPython 3.11's default `sys.get_int_max_str_digits()`.
const PY_INT_MAX_STR_DIGITS: usize = 4300;

/// Code points of the Unicode digit zeros (general category Nd) in the
/// Unicode 14 database of Python 3.11; each starts a run of ten digits.
/// Generated with `[c for c in range(0x110000) if unicodedata.decimal(chr(c), -1) == 0]`.
const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// `unicodedata.decimal(c)`.
fn unicode_decimal(c: char) -> Option<u32> {
    let cp = c as u32;
    let i = ND_ZEROS.partition_point(|z| *z <= cp);
    let zero = *ND_ZEROS.get(i.checked_sub(1)?)?;
    (cp - zero < 10).then_some(cp - zero)
}

/// CPython's `_PyUnicode_TransformDecimalAndSpaceToASCII` followed by the
/// ASCII-whitespace strip both `int()` and `float()` do. ASCII characters
/// are kept as they are (so `\x1c` is *not* whitespace here, unlike in
/// `str.strip()`); other whitespace becomes a space and other decimal digits
/// their ASCII digit; anything else non-ASCII makes the number invalid.
fn python_number_text(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() && c != '\x7f' {
            out.push(c);
        } else if c.is_whitespace() {
            // Rust's White_Space above ASCII is exactly Python's isspace().
            out.push(' ');
        } else {
            out.push(char::from_digit(unicode_decimal(c)?, 10)?);
        }
    }
    let ascii_ws: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c'];
    Some(out.trim_matches(ascii_ws).to_string())
}

/// Python `int(s)` (base 10) if it succeeds.
pub(crate) fn python_int(s: &str) -> Option<ParamValue> {
    let t = python_number_text(s)?;
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    // Digits with single underscores strictly between digits.
    let mut digits = String::with_capacity(body.len());
    let mut prev_digit = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            prev_digit = true;
        } else if c == '_' && prev_digit && chars.peek().is_some_and(char::is_ascii_digit) {
            prev_digit = false;
        } else {
            return None;
        }
    }
    if digits.is_empty() || digits.len() > PY_INT_MAX_STR_DIGITS {
        return None;
    }
    Some(int_from_decimal(negative, &digits))
}

/// Python `float(s)` if it succeeds: `_Py_string_to_number_with_underscores`
/// (each `_` between two digits) then `PyOS_string_to_double` (decimal
/// forms, or `inf`/`infinity`/`nan` in any case, with a sign).
pub(crate) fn python_float(s: &str) -> Option<f64> {
    let t = python_number_text(s)?;
    let b = t.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
    }
    let t = t.replace('_', "");
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    static DECIMAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$").unwrap()
    });
    if !DECIMAL.is_match(body) {
        return None;
    }
    // Rust's parser is correctly rounded like Python's, overflows to
    // infinity like it, and accepts "5." and ".5"; it just needs no sign.
    let f: f64 = body.parse().ok()?;
    Some(sign * f)
}
