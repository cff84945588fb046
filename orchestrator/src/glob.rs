//! The globs of `files:` triggers and waits, over local folders or object storage:
//! `*` and `?` within a path segment, `**` across segments, and `{date}`, which
//! matches a `YYYY-MM-DD` date and reports it (the run's logical date).
//!
//! Listing starts at the longest literal folder before the first wildcard, so
//! `landing/{date}/_SUCCESS` reads `landing/` and below, not the whole disk or bucket.

use deckle_storage::{Location, Options, Store};

/// A parsed glob.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    text: String,
    /// Object storage URL of the literal base (`s3://bucket/landing/`), or none for
    /// local paths.
    remote: Option<String>,
    /// The literal folder before the first wildcard (local path or key prefix).
    base: String,
    /// The segments after `base`.
    segments: Vec<Vec<Tok>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    Star,
    One,
    Date,
    /// `**`: any number of whole segments.
    Deep,
}

/// One file or object a glob matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// As the user would write it: a local path or a full URL.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// What makes a new version of it a new file: size, and modification time for
    /// local files.
    pub signature: String,
    /// The date `{date}` matched, if the glob has one.
    pub date: Option<String>,
}

fn tokens(seg: &str) -> Vec<Tok> {
    if seg == "**" {
        return vec![Tok::Deep];
    }
    let mut out = Vec::new();
    let mut rest = seg;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("{date}") {
            out.push(Tok::Date);
            rest = r;
            continue;
        }
        out.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn is_literal(toks: &[Tok]) -> bool {
    toks.iter().all(|t| matches!(t, Tok::Lit(_)))
}

impl Pattern {
    /// Parse `text`: a local path or an object-storage URL (`s3://`, `gs://`, `az://` …).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("the files pattern is empty".into());
        }
        let (remote, path) = match text.split_once("://") {
            Some((scheme, rest)) if scheme != "file" => {
                // The bucket (authority) is literal; the glob applies to the key.
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                (Some(format!("{scheme}://{bucket}/")), key.to_string())
            }
            Some((_, rest)) => (None, rest.to_string()),
            None => (None, text.to_string()),
        };
        let absolute = remote.is_none() && path.starts_with('/');
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let literal = segs.iter().take_while(|s| is_literal(&tokens(s))).count();
        // The last segment names files: it is never part of the folder listed.
        let literal = literal.min(segs.len().saturating_sub(1));
        let mut base = segs[..literal].join("/");
        if absolute {
            base = format!("/{base}");
        }
        let segments: Vec<Vec<Tok>> = segs[literal..].iter().map(|s| tokens(s)).collect();
        if segments.is_empty() {
            return Err(format!("the files pattern `{text}` names no file"));
        }
        let dates = segments.iter().flatten().filter(|t| **t == Tok::Date).count();
        if dates > 1 {
            return Err(format!("the files pattern `{text}` has `{{date}}` {dates} times; at most once"));
        }
        if let Some(r) = &remote {
            format!("{r}{base}").parse::<Location>().map_err(|e| e.to_string())?;
        }
        Ok(Pattern { text: text.to_string(), remote, base, segments })
    }

    /// As written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `rel` (a path relative to the base, `/`-separated) matches; the date
    /// `{date}` matched, if any.
    pub fn matches(&self, rel: &str) -> Option<Option<String>> {
        let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        let mut date = None;
        match_segments(&self.segments, &parts, &mut date).then_some(date)
    }

    /// Whether the glob can match deeper than its segments (`**`).
    fn deep(&self) -> bool {
        self.segments.iter().any(|s| s == &[Tok::Deep])
    }
}

fn match_segments(pat: &[Vec<Tok>], parts: &[&str], date: &mut Option<String>) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((first, rest)) if first == &[Tok::Deep] => (0..=parts.len()).any(|skip| match_segments(rest, &parts[skip..], date)),
        Some((first, rest)) => match parts.split_first() {
            Some((p, more)) => {
                let mut d = None;
                let chars: Vec<char> = p.chars().collect();
                if match_tokens(first, &chars, &mut d) && match_segments(rest, more, date) {
                    if d.is_some() {
                        *date = d;
                    }
                    true
                } else {
                    false
                }
            }
            None => false,
        },
    }
}

fn match_tokens(toks: &[Tok], s: &[char], date: &mut Option<String>) -> bool {
    match toks.split_first() {
        None => s.is_empty(),
        Some((Tok::Lit(c), rest)) => s.first() == Some(c) && match_tokens(rest, &s[1..], date),
        Some((Tok::One, rest)) => !s.is_empty() && match_tokens(rest, &s[1..], date),
        Some((Tok::Star, rest)) => (0..=s.len()).any(|i| match_tokens(rest, &s[i..], date)),
        Some((Tok::Date, rest)) => {
            if s.len() < 10 {
                return false;
            }
            let text: String = s[..10].iter().collect();
            if text.parse::<jiff::civil::Date>().is_err() || !text.as_bytes().iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() }) {
                return false;
            }
            if match_tokens(rest, &s[10..], date) {
                *date = Some(text);
                true
            } else {
                false
            }
        }
        Some((Tok::Deep, rest)) => match_tokens(rest, s, date),
    }
}

/// Every file or object `p` matches, sorted by path. A folder or bucket that
/// cannot be read is an error (naming it); a missing local folder is one too, so a
/// typo is reported rather than silently never firing.
pub async fn list(p: &Pattern) -> Result<Vec<Found>, String> {
    match &p.remote {
        None => {
            let p = p.clone();
            tokio::task::spawn_blocking(move || list_local(&p)).await.map_err(|e| e.to_string())?
        }
        Some(root) => {
            let url = if p.base.is_empty() { root.clone() } else { format!("{root}{}/", p.base) };
            let loc: Location = url.parse().map_err(|e: deckle_storage::Error| e.to_string())?;
            let store = Store::open(&loc, &Options::default()).map_err(|e| e.to_string())?;
            // Listing a missing prefix gives nothing; only a missing bucket is "not found".
            let keys = store.list("").await.map_err(|e| match e {
                deckle_storage::Error::NotFound { .. } => format!("{url}: the bucket or container does not exist"),
                e => e.to_string(),
            })?;
            let mut out = Vec::new();
            for (key, size) in keys {
                if let Some(date) = p.matches(&key) {
                    out.push(Found { path: format!("{url}{key}"), size, signature: size.to_string(), date });
                }
            }
            Ok(out)
        }
    }
}

fn list_local(p: &Pattern) -> Result<Vec<Found>, String> {
    let base = if p.base.is_empty() { std::path::PathBuf::from(".") } else { std::path::PathBuf::from(&p.base) };
    let meta = std::fs::metadata(&base).map_err(|e| format!("cannot read {}: {e}", base.display()))?;
    if !meta.is_dir() {
        return Err(format!("cannot read {}: not a folder", base.display()));
    }
    let max_depth = if p.deep() { usize::MAX } else { p.segments.len() };
    let mut out = Vec::new();
    let mut stack = vec![(base.clone(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if depth + 1 < max_depth {
                    stack.push((entry.path(), rel, depth + 1));
                }
            } else if let Some(date) = p.matches(&rel) {
                let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
                let path = entry.path().to_string_lossy().into_owned();
                out.push(Found { path, size: meta.len(), signature: format!("{}:{mtime}", meta.len()), date });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_placeholders_match_real_dates_only() {
        let p = Pattern::parse("landing/{date}/_SUCCESS").unwrap();
        assert_eq!(p.base, "landing");
        assert_eq!(p.matches("2026-11-30/_SUCCESS"), Some(Some("2026-11-30".into())));
        assert_eq!(p.matches("2026-13-30/_SUCCESS"), None, "not a date");
        assert_eq!(p.matches("20261130/_SUCCESS"), None);
        assert_eq!(p.matches("2026-11-30/_SUCCESS/x"), None, "deeper than the pattern");
        assert_eq!(p.matches("2026-11-30/_FAILED"), None);
        let p = Pattern::parse("/data/in/part-{date}.csv").unwrap();
        assert_eq!(p.base, "/data/in");
        assert_eq!(p.matches("part-2026-01-02.csv"), Some(Some("2026-01-02".into())));
    }

    #[test]
    fn stars_stay_in_a_segment_and_double_stars_cross_them() {
        let p = Pattern::parse("in/*.csv").unwrap();
        assert!(p.matches("a.csv").is_some());
        assert!(p.matches("sub/a.csv").is_none());
        let p = Pattern::parse("in/**/*.csv").unwrap();
        assert!(p.matches("a.csv").is_some());
        assert!(p.matches("x/y/a.csv").is_some());
        assert!(p.matches("x/y/a.txt").is_none());
        let p = Pattern::parse("in/?.csv").unwrap();
        assert!(p.matches("a.csv").is_some() && p.matches("ab.csv").is_none());
    }

    #[test]
    fn object_storage_patterns_keep_the_bucket_literal() {
        let p = Pattern::parse("s3://bucket/landing/*/_SUCCESS").unwrap();
        assert_eq!(p.remote.as_deref(), Some("s3://bucket/"));
        assert_eq!(p.base, "landing");
        assert!(p.matches("2026-01-01/_SUCCESS").is_some());
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        assert!(Pattern::parse("").unwrap_err().contains("empty"));
        assert!(Pattern::parse("a/{date}/{date}.csv").unwrap_err().contains("at most once"));
        assert!(Pattern::parse("hdfs://nn/x/*.csv").is_err());
    }

    #[test]
    fn local_listing_reports_matches_and_unreadable_folders() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("2026-03-04");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(day.join("_SUCCESS"), b"ok").unwrap();
        std::fs::write(dir.path().join("stray"), b"").unwrap();
        let p = Pattern::parse(&format!("{}/{{date}}/_SUCCESS", dir.path().display())).unwrap();
        let found = list_local(&p).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].date.as_deref(), Some("2026-03-04"));
        assert_eq!(found[0].size, 2);
        let p = Pattern::parse(&format!("{}/stray/*.csv", dir.path().display())).unwrap();
        assert!(list_local(&p).unwrap_err().contains("not a folder"));
        let p = Pattern::parse(&format!("{}/missing/*.csv", dir.path().display())).unwrap();
        assert!(list_local(&p).unwrap_err().contains("cannot read"));
    }
}
