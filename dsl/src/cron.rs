//! Cron expressions and time zones, parsed once where they are read (the workflow
//! file, a backfill's `every`), with the one message that says what is wrong.

use std::fmt;

/// A five-field cron expression (minute hour day-of-month month day-of-week; no
/// seconds), parsed.
#[derive(Clone, Debug)]
pub struct CronExpr {
    text: String,
    pattern: croner::Cron,
}

impl CronExpr {
    /// Parse `text` (trimmed).
    ///
    /// ```
    /// use deckle_dsl::CronExpr;
    /// assert_eq!(CronExpr::parse(" 0 3 * * * ").unwrap().as_str(), "0 3 * * *");
    /// assert!(CronExpr::parse("0 3 * *").unwrap_err().starts_with("bad cron `0 3 * *`"));
    /// ```
    pub fn parse(text: &str) -> Result<CronExpr, String> {
        let trimmed = text.trim();
        let parser = croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Disallowed).build();
        let pattern = parser
            .parse(trimmed)
            .map_err(|e| format!("bad cron `{text}`: {e} (expected 5 fields: minute hour day-of-month month day-of-week)"))?;
        Ok(CronExpr { text: trimmed.to_string(), pattern })
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed pattern.
    pub fn pattern(&self) -> &croner::Cron {
        &self.pattern
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The IANA time zone `name` (trimmed).
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name.trim()).map_err(|_| format!("unknown time zone `{name}` (use an IANA name such as `America/Los_Angeles` or `UTC`)"))
}
