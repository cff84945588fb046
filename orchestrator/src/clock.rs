//! Time as a seam: records carry timestamps from a [`Clock`], so tests can fix them.

/// Wall-clock time, for records.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> jiff::Timestamp;
}

/// The real clock.
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

/// A clock tests move by hand (a scheduler's downtime, say).
pub struct ManualClock(std::sync::Mutex<jiff::Timestamp>);

impl ManualClock {
    /// A clock at `t`.
    pub fn new(t: jiff::Timestamp) -> Self {
        ManualClock(std::sync::Mutex::new(t))
    }

    /// Move the clock to `t`.
    pub fn set(&self, t: jiff::Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    /// Move the clock forward by `d`.
    pub fn advance(&self, d: std::time::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX)).unwrap_or(jiff::Timestamp::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
