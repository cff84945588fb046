//! A SQL node as the executor receives it ([`SqlSpec`]: the query already
//! rendered), and the engines a SQL node may run on ([`SqlEngine`]).

use serde::{Deserialize, Serialize};

/// A SQL engine. Workflow files name it (`engine: trino`); `presto` is accepted
/// as another name of `trino` (the same client speaks both) and is read as
/// [`SqlEngine::Trino`] wherever a name is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SqlEngine {
    /// DuckDB, embedded in the kernel's process (the default).
    #[default]
    DuckDb,
    /// Apache Spark (local mode unless configured).
    Spark,
    /// Trino (or Presto), reached over HTTP.
    Trino,
}

impl SqlEngine {
    /// Every name a workflow may give, the alias included, in the order messages list them.
    pub const NAMES: &'static [&'static str] = &["duckdb", "spark", "trino", "presto"];

    /// The engine a name means (`presto` is Trino), or `None` for an unknown name.
    /// Names are case-sensitive, as in workflow files.
    ///
    /// ```
    /// use deckle_protocol::sql::SqlEngine;
    /// assert_eq!(SqlEngine::parse("presto"), Some(SqlEngine::Trino));
    /// assert_eq!(SqlEngine::parse("postgres"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "duckdb" => Some(SqlEngine::DuckDb),
            "spark" => Some(SqlEngine::Spark),
            "trino" | "presto" => Some(SqlEngine::Trino),
            _ => None,
        }
    }

    /// The engine's own name (never the alias): `duckdb`, `spark` or `trino`.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlEngine::DuckDb => "duckdb",
            SqlEngine::Spark => "spark",
            SqlEngine::Trino => "trino",
        }
    }
}

impl std::fmt::Display for SqlEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for SqlEngine {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SqlEngine {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A rendered SQL node, as a task carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SqlSpec {
    /// The engine's name: `duckdb`, `spark` or `trino` as the coordinator writes it
    /// ([`SqlEngine::as_str`]). Kept as text on the wire so that a worker told of an
    /// engine it does not know fails that attempt with a clear message rather than
    /// failing to read the lease; it reads it with [`SqlEngine::parse`].
    pub engine: String,
    /// The query, rendered by the coordinator with minijinja.
    pub query: String,
    /// Where to write the result as Parquet, rendered.
    pub save_to: Option<String>,
    /// The workflow's `engines.<engine>` settings, or null.
    pub connection: serde_json::Value,
    /// Rows shown and recorded as `preview`.
    pub preview_rows: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_the_alias_is_trino() {
        let parsed: Vec<_> = SqlEngine::NAMES.iter().map(|n| SqlEngine::parse(n).unwrap()).collect();
        assert_eq!(parsed, [SqlEngine::DuckDb, SqlEngine::Spark, SqlEngine::Trino, SqlEngine::Trino]);
        for e in [SqlEngine::DuckDb, SqlEngine::Spark, SqlEngine::Trino] {
            assert_eq!(SqlEngine::parse(e.as_str()), Some(e));
            assert_eq!(e.to_string(), e.as_str());
        }
        assert_eq!(SqlEngine::parse("Trino"), None);
        assert_eq!(SqlEngine::default(), "duckdb");
    }
}
