//! Diagnostics: every problem found in a workflow file, with file, line and column.
//!
//! Loading collects all problems rather than stopping at the first, so a user
//! fixes a file in one round trip. [`Diagnostics`] is the crate's error type.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column in the workflow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Pos {
    /// A position from its 1-based line and column.
    pub fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The workflow is refused.
    Error,
    /// The workflow is accepted; something looks wrong.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, displayed as `file:line:column: error: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is about.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl Diagnostic {
    /// An error at `pos` of `file`.
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, file: file.to_path_buf(), line: pos.line, column: pos.column, message: message.into() }
    }

    /// A warning at `pos` of `file`.
    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, file: file.to_path_buf(), line: pos.line, column: pos.column, message: message.into() }
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}: {}", self.file.display(), self.line, self.column, self.severity, self.message)
    }
}

/// Everything wrong with a workflow file (errors first, then warnings, each in
/// file order). Display lists them one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The errors, in order.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// The warnings, in order.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one file while loading it.
#[derive(Debug)]
pub(crate) struct Sink {
    pub file: PathBuf,
    pub diags: Vec<Diagnostic>,
}

impl Sink {
    pub fn new(file: &Path) -> Self {
        Sink { file: file.to_path_buf(), diags: Vec::new() }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let d = Diagnostic::error(&self.file, pos, message);
        self.diags.push(d);
    }

    pub fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        let d = Diagnostic::warning(&self.file, pos, message);
        self.diags.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    /// Errors then warnings, each sorted by position; exact duplicates dropped.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| (d.severity, d.line, d.column));
        self.diags.dedup();
        self.diags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_column_severity_message() {
        let d = Diagnostic::error(Path::new("wf.yaml"), Pos::new(3, 7), "unknown key `nede`");
        assert_eq!(d.to_string(), "wf.yaml:3:7: error: unknown key `nede`");
        let all = Diagnostics(vec![d, Diagnostic::warning(Path::new("wf.yaml"), Pos::new(9, 1), "w")]);
        assert_eq!(all.to_string(), "wf.yaml:3:7: error: unknown key `nede`\nwf.yaml:9:1: warning: w");
        assert_eq!(all.errors().count(), 1);
    }

    #[test]
    fn sink_sorts_errors_before_warnings() {
        let mut s = Sink::new(Path::new("f"));
        s.warning(Pos::new(1, 1), "w");
        s.error(Pos::new(5, 1), "b");
        s.error(Pos::new(2, 1), "a");
        s.error(Pos::new(2, 1), "a");
        let msgs: Vec<String> = s.sorted().into_iter().map(|d| d.message).collect();
        assert_eq!(msgs, ["a", "b", "w"]);
    }
}
