//! [`Backoff`]: the pauses between retries of a request that failed for a reason
//! that may pass (a server restarting, a network blip).
//!
//! Both sides of the protocol retry: the worker its lease polls, heartbeats and
//! uploads, the coordinator its webhook deliveries. They all pause the same way:
//! a first pause, multiplied after each retry up to a ceiling, optionally
//! shortened by a random fraction (so many clients do not retry in step), and
//! given up when an attempt cap or a deadline is reached. The type only computes
//! pauses; the caller sleeps (with whatever runtime it has).

use std::time::{Duration, Instant};

/// Pauses growing from `initial` by `factor` up to `max`; see the module doc.
///
/// ```
/// use std::time::Duration;
/// use deckle_protocol::backoff::Backoff;
///
/// let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(3)).with_max_retries(3);
/// let pauses: Vec<_> = std::iter::from_fn(|| b.next_delay()).collect();
/// assert_eq!(pauses, [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(3)]);
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    factor: u32,
    max: Duration,
    jitter: Option<f64>,
    max_retries: Option<u32>,
    deadline: Option<Instant>,
    next: Duration,
    retries: u32,
    seed: u64,
}

impl Backoff {
    /// Pauses of `initial`, then twice the previous one, never more than `max`
    /// (the first pause is `initial` even when it is larger). No cap, no deadline.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, factor: 2, max, jitter: None, max_retries: None, deadline: None, next: initial, retries: 0, seed: 0 }
    }

    /// Multiply each pause by `factor` instead of 2.
    pub fn with_factor(self, factor: u32) -> Self {
        Backoff { factor, ..self }
    }

    /// Shorten each pause by a random part of `fraction` of it (0.0 to 1.0): a
    /// pause `d` becomes somewhere in `d * (1 - fraction) ..= d`.
    pub fn with_jitter(self, fraction: f64) -> Self {
        use std::hash::{BuildHasher, Hasher};
        // Random per process and per call, without a dependency on a RNG crate.
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish() | 1;
        Backoff { jitter: Some(fraction.clamp(0.0, 1.0)), seed, ..self }
    }

    /// Give up after `n` retries (that is, `n + 1` attempts in all).
    pub fn with_max_retries(self, n: u32) -> Self {
        Backoff { max_retries: Some(n), ..self }
    }

    /// Give up when the pause would reach `deadline`: a retry must start before it.
    pub fn with_deadline(self, deadline: Instant) -> Self {
        Backoff { deadline: Some(deadline), ..self }
    }

    /// Change the ceiling (e.g. when it follows a lease's TTL, which the server
    /// may change); takes effect from the next growth.
    pub fn set_max(&mut self, max: Duration) {
        self.max = max;
    }

    /// Start again from `initial`, with no retry counted (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
        self.retries = 0;
    }

    /// Retries given so far (pauses handed out since the last reset).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The pause before the next retry, or `None` when the retry cap is reached or
    /// the pause would reach the deadline. Always `Some` without cap and deadline.
    pub fn next_delay(&mut self) -> Option<Duration> {
        self.next_delay_at(Instant::now())
    }

    /// [`Backoff::next_delay`] with the current time given (a runtime's clock, or
    /// a test's).
    pub fn next_delay_at(&mut self, now: Instant) -> Option<Duration> {
        if self.max_retries.is_some_and(|cap| self.retries >= cap) {
            return None;
        }
        let pause = self.jittered(self.next);
        if self.deadline.is_some_and(|d| now + pause >= d) {
            return None;
        }
        self.retries += 1;
        self.next = self.next.saturating_mul(self.factor).min(self.max);
        Some(pause)
    }

    fn jittered(&mut self, d: Duration) -> Duration {
        let Some(fraction) = self.jitter else { return d };
        // xorshift64: plenty for spreading retries apart.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let unit = (self.seed >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(1.0 - fraction * unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_ceiling_and_resets() {
        let mut b = Backoff::new(250 * MS, 4000 * MS);
        let pauses: Vec<u128> = (0..7).map(|_| b.next_delay().unwrap().as_millis()).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(b.retries(), 7);
        b.reset();
        assert_eq!(b.retries(), 0);
        assert_eq!(b.next_delay(), Some(250 * MS));
    }

    #[test]
    fn a_first_pause_above_the_ceiling_is_kept_once() {
        let mut b = Backoff::new(10 * MS, 4 * MS).with_factor(3);
        assert_eq!(b.next_delay(), Some(10 * MS));
        assert_eq!(b.next_delay(), Some(4 * MS));
        let mut b = Backoff::new(MS, Duration::MAX).with_factor(3);
        let pauses: Vec<u128> = (0..4).map(|_| b.next_delay().unwrap().as_millis()).collect();
        assert_eq!(pauses, [1, 3, 9, 27]);
    }

    #[test]
    fn the_retry_cap_counts_retries_not_attempts() {
        let mut b = Backoff::new(MS, 10 * MS).with_max_retries(2);
        assert!(b.next_delay().is_some());
        assert!(b.next_delay().is_some());
        assert_eq!(b.next_delay(), None);
        assert_eq!(Backoff::new(MS, MS).with_max_retries(0).next_delay(), None);
    }

    #[test]
    fn no_pause_reaches_the_deadline() {
        let start = Instant::now();
        let mut b = Backoff::new(250 * MS, 4000 * MS).with_deadline(start + 1000 * MS);
        assert_eq!(b.next_delay_at(start), Some(250 * MS));
        assert_eq!(b.next_delay_at(start + 250 * MS), Some(500 * MS));
        // 750 + 1000 would be past it; so would exactly at it.
        assert_eq!(b.next_delay_at(start + 750 * MS), None);
        let mut b = Backoff::new(500 * MS, 500 * MS).with_deadline(start + 1000 * MS);
        assert_eq!(b.next_delay_at(start + 500 * MS), None);
    }

    #[test]
    fn jitter_only_shortens_within_its_fraction() {
        let mut b = Backoff::new(1000 * MS, 1000 * MS).with_jitter(0.5);
        let pauses: Vec<Duration> = (0..200).map(|_| b.next_delay().unwrap()).collect();
        assert!(pauses.iter().all(|p| (500 * MS..=1000 * MS).contains(p)), "{pauses:?}");
        assert!(pauses.windows(2).any(|w| w[0] != w[1]), "jitter varies the pauses");
    }

    #[test]
    fn the_ceiling_can_follow_a_changing_limit() {
        let mut b = Backoff::new(250 * MS, 250 * MS);
        b.set_max(2000 * MS);
        let pauses: Vec<u128> = (0..3).map(|_| b.next_delay().unwrap().as_millis()).collect();
        assert_eq!(pauses, [250, 500, 1000]);
        // Lowered: the pause already due is kept, the growth after it is capped.
        b.set_max(300 * MS);
        assert_eq!(b.next_delay(), Some(2000 * MS));
        assert_eq!(b.next_delay(), Some(300 * MS));
    }
}
