//! ANSI terminal output (streams, tracebacks) as HTML: SGR colours and styles become
//! `<span class="ansi-…">`, every other escape sequence and control character is dropped.

use std::borrow::Cow;

use crate::http::ui::escape::push_escaped;

const ANSI_NAMES: [&str; 8] = [
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Color {
    /// 0–7 normal, 8–15 bright.
    Named(u8),
    Rgb(u8, u8, u8),
}

impl Color {
    fn from_256(n: u8) -> Color {
        match n {
            0..=15 => Color::Named(n),
            16..=231 => {
                const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
                let n = n - 16;
                Color::Rgb(
                    LEVELS[usize::from(n / 36)],
                    LEVELS[usize::from(n / 6 % 6)],
                    LEVELS[usize::from(n % 6)],
                )
            }
            _ => {
                let v = 8 + 10 * (n - 232);
                Color::Rgb(v, v, v)
            }
        }
    }

    fn class_name(self) -> Option<String> {
        match self {
            Color::Named(n) if n < 8 => Some(ANSI_NAMES[usize::from(n)].to_string()),
            Color::Named(n) => Some(format!("bright-{}", ANSI_NAMES[usize::from(n % 8)])),
            Color::Rgb(..) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sgr {
    fg: Option<Color>,
    bg: Option<Color>,
    bold: bool,
    italic: bool,
    underline: bool,
}

impl Sgr {
    fn is_plain(&self) -> bool {
        *self == Sgr::default()
    }

    fn open_tag(&self) -> String {
        let mut classes: Vec<String> = Vec::new();
        let mut style = String::new();
        if let Some(fg) = self.fg {
            match (fg.class_name(), fg) {
                (Some(name), _) => classes.push(format!("ansi-{name}")),
                (None, Color::Rgb(r, g, b)) => style.push_str(&format!("color:rgb({r},{g},{b});")),
                (None, Color::Named(_)) => {}
            }
        }
        if let Some(bg) = self.bg {
            match (bg.class_name(), bg) {
                (Some(name), _) => classes.push(format!("ansi-bg-{name}")),
                (None, Color::Rgb(r, g, b)) => {
                    style.push_str(&format!("background-color:rgb({r},{g},{b});"))
                }
                (None, Color::Named(_)) => {}
            }
        }
        if self.bold {
            classes.push("ansi-bold".into());
        }
        if self.italic {
            classes.push("ansi-italic".into());
        }
        if self.underline {
            classes.push("ansi-underline".into());
        }
        let mut tag = String::from("<span");
        if !classes.is_empty() {
            tag.push_str(&format!(" class=\"{}\"", classes.join(" ")));
        }
        if !style.is_empty() {
            tag.push_str(&format!(" style=\"{style}\""));
        }
        tag.push('>');
        tag
    }

    /// Applies one SGR parameter list (`ESC [ … m`).
    fn apply(&mut self, params: &str) {
        let codes: Vec<u32> = params
            .split(';')
            .map(|p| {
                if p.is_empty() {
                    0
                } else {
                    p.parse::<u32>().unwrap_or(u32::MAX)
                }
            })
            .collect();
        let mut i = 0;
        while i < codes.len() {
            let code = codes[i];
            match code {
                0 => *self = Sgr::default(),
                1 => self.bold = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => self.bold = false,
                23 => self.italic = false,
                24 => self.underline = false,
                30..=37 => self.fg = Some(Color::Named((code - 30) as u8)),
                39 => self.fg = None,
                40..=47 => self.bg = Some(Color::Named((code - 40) as u8)),
                49 => self.bg = None,
                90..=97 => self.fg = Some(Color::Named((code - 90 + 8) as u8)),
                100..=107 => self.bg = Some(Color::Named((code - 100 + 8) as u8)),
                38 | 48 => {
                    let (color, used) = extended_color(&codes[i + 1..]);
                    if let Some(color) = color {
                        if code == 38 {
                            self.fg = Some(color);
                        } else {
                            self.bg = Some(color);
                        }
                    }
                    i += used;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// `5;n` or `2;r;g;b` after a 38/48: the colour and how many parameters it took.
fn extended_color(rest: &[u32]) -> (Option<Color>, usize) {
    let byte = |v: u32| u8::try_from(v).ok();
    match rest.first() {
        Some(5) => (
            rest.get(1).and_then(|&n| byte(n)).map(Color::from_256),
            2.min(rest.len()),
        ),
        Some(2) => {
            let rgb = match (rest.get(1), rest.get(2), rest.get(3)) {
                (Some(&r), Some(&g), Some(&b)) => match (byte(r), byte(g), byte(b)) {
                    (Some(r), Some(g), Some(b)) => Some(Color::Rgb(r, g, b)),
                    _ => None,
                },
                _ => None,
            };
            (rgb, 4.min(rest.len()))
        }
        _ => (None, rest.len()),
    }
}

/// Applies carriage returns the way a terminal shows them: on each line only what was
/// written after the last `\r` remains (`\r\n` is a plain line end).
pub(super) fn collapse_carriage_returns(s: &str) -> Cow<'_, str> {
    if !s.contains('\r') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for (n, line) in s.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.push_str(line.rsplit('\r').next().unwrap_or(line));
    }
    Cow::Owned(out)
}

/// What [`scan`] finds in terminal text: a character to show, or an SGR parameter list.
enum Piece<'a> {
    Char(char),
    Sgr(&'a str),
}

/// Reads terminal text: characters to show (`\n` and `\t` included) and SGR colour
/// changes; every other escape sequence and control character is dropped.
fn scan(s: &str, mut f: impl FnMut(Piece<'_>)) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // CSI: parameter bytes, intermediate bytes, one final byte.
                    let mut params = String::new();
                    let mut intermediates = false;
                    let mut fin = None;
                    while let Some(&d) = chars.peek() {
                        match d {
                            '\u{30}'..='\u{3f}' if !intermediates => params.push(d),
                            '\u{20}'..='\u{2f}' => intermediates = true,
                            '\u{40}'..='\u{7e}' => {
                                fin = Some(d);
                                chars.next();
                                break;
                            }
                            _ => break, // malformed: drop what we read
                        }
                        chars.next();
                    }
                    let is_sgr = fin == Some('m')
                        && !intermediates
                        && params.chars().all(|d| d.is_ascii_digit() || d == ';');
                    if is_sgr {
                        f(Piece::Sgr(&params));
                    }
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    // OSC / DCS / SOS / PM / APC: up to BEL or ST (ESC \).
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' || d == '\u{9c}' {
                            break;
                        }
                        if d == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                Some(d) if ('\u{20}'..='\u{2f}').contains(&d) => {
                    // nF escape (e.g. charset selection `ESC ( B`): one more byte follows.
                    chars.next();
                }
                _ => {} // a two-byte escape, or a lone ESC at the end: dropped
            },
            '\n' | '\t' => f(Piece::Char(c)),
            c if c.is_control() => {} // C0, DEL and C1 controls
            c => f(Piece::Char(c)),
        }
    }
}

/// Escapes `s` for HTML and turns ANSI SGR colours into `<span class="ansi-…">`:
/// 30–37/90–97 (and 40–47/100–107 backgrounds) as classes `ansi-red`, `ansi-bright-red`,
/// `ansi-bg-red`…; 1 bold (`ansi-bold`), 3 italic, 4 underline, 0 reset; `38;5;n` and
/// `38;2;r;g;b` as classes for the 16 base colours or an inline `rgb()` colour.
/// Every other escape sequence and control character (but `\n` and `\t`) is dropped.
pub fn ansi_to_html(s: &str) -> String {
    let s = collapse_carriage_returns(s);
    let mut out = String::with_capacity(s.len() + 16);
    let mut state = Sgr::default();
    let mut open: Option<Sgr> = None;
    let mut text = String::new();

    fn flush(out: &mut String, open: &mut Option<Sgr>, state: Sgr, text: &mut String) {
        if text.is_empty() {
            return;
        }
        let want = if state.is_plain() { None } else { Some(state) };
        if *open != want {
            if open.is_some() {
                out.push_str("</span>");
            }
            if let Some(w) = &want {
                out.push_str(&w.open_tag());
            }
            *open = want;
        }
        push_escaped(out, text);
        text.clear();
    }

    scan(&s, |piece| match piece {
        Piece::Char(c) => text.push(c),
        Piece::Sgr(params) => {
            flush(&mut out, &mut open, state, &mut text);
            state.apply(params);
        }
    });
    flush(&mut out, &mut open, state, &mut text);
    if open.is_some() {
        out.push_str("</span>");
    }
    out
}

/// Terminal text as plain text, as a terminal would leave it: carriage returns
/// applied, colours and every other escape sequence and control character (but
/// `\n` and `\t`) dropped.
pub fn ansi_to_text(s: &str) -> String {
    let s = collapse_carriage_returns(s);
    let mut out = String::with_capacity(s.len());
    scan(&s, |piece| {
        if let Piece::Char(c) = piece {
            out.push(c);
        }
    });
    out
}
