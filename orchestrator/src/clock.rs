//! Time as a seam: records carry timestamps from a [`Clock`], so tests can fix them.

/// Wall-clock time, for records.
pub trait Clock: Send + Sync {
    fn now(&self) -> jiff::Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock that always says the same time (tests).
pub struct FixedClock(pub jiff::Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}
