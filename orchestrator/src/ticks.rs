//! Schedule ticks and backfill logical times (pure: no I/O, no clock, no tokio).
//!
//! A [`Cron`] is a 5-field cron expression (`minute hour day-of-month month
//! day-of-week`, or a nickname such as `@daily`) evaluated in an IANA time zone.
//! [`due`] says what a scheduler fires at a given moment; [`backfill_times`]
//! lists the logical times of `deckle backfill --from D --to D --every E`.
//!
//! # Time zones and daylight saving time
//!
//! Cron fields are matched against the **wall-clock (civil) time in the workflow's
//! time zone**, never against UTC: `0 9 * * *` in `Asia/Kolkata` fires at 09:00
//! Kolkata time (03:30 UTC) every day. Each matching wall-clock time is turned into
//! an instant with the usual "compatible" rule:
//!
//! - a wall-clock time that does not exist because clocks jumped forward (02:30 on
//!   the day `America/Los_Angeles` goes 02:00 → 03:00) fires once, at the instant the
//!   clock would have shown that time had it not jumped: 03:30 in the new offset
//!   (`2026-03-08T03:30:00-07:00`);
//! - a wall-clock time that happens twice because clocks went back (01:30 on the day
//!   Los Angeles goes 02:00 → 01:00) fires once, at its **first** occurrence
//!   (`2026-11-01T01:30:00-07:00`), not again an hour later;
//! - wall-clock times that land on the same instant fire once: an hourly job's
//!   02:00 on a spring-forward day maps to 03:00 new offset, which is also its 03:00
//!   tick, so that day has **23** ticks; on a fall-back day the repeated hour runs
//!   once, so that day has **24** ticks, not 25.
//!
//! So a daily job runs exactly once on every day, whatever its time, and the ticks
//! of a schedule are strictly increasing instants, each fired once. Precisely: the
//! ticks are the set of instants obtained by mapping every matching wall-clock time
//! as above, in increasing order.
//!
//! # Backfill steps
//!
//! `--every` is `Nd` (one logical time every N dates, at 00:00 in the zone; `1d` is
//! the default), `Nh` / `Nm` (fixed steps of elapsed time from `from` 00:00 through
//! the end of `to`: `1h` over a spring-forward day in Los Angeles gives 23 logical
//! times and over a fall-back day 25, `6h` on a spring-forward day gives 00:00,
//! 07:00, 13:00 and 19:00 local), or a cron expression (its ticks in `[from 00:00,
//! to + 1 day 00:00)` under the rule above; use `0 */6 * * *` for wall-clock aligned
//! six-hourly times).

use croner::parser::{CronParser, Seconds};
use jiff::civil::{self, Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan};

/// One nanosecond, the smallest step between two instants.
const NS: SignedDuration = SignedDuration::from_nanos(1);

/// How far back offset transitions are looked at: a zone's gap or fold is at most a
/// day long (Samoa skipped 2011-12-30 entirely).
const TRANSITION_WINDOW: SignedDuration = SignedDuration::from_hours(48);

/// A cron expression evaluated in a time zone (see the module doc for the DST rule).
#[derive(Clone, Debug)]
pub struct Cron {
    expression: String,
    cron: croner::Cron,
    tz: TimeZone,
}

impl Cron {
    /// Parses a 5-field cron expression (seconds are not allowed) and an IANA time
    /// zone name; the message names what is wrong.
    pub fn parse(cron: &str, timezone: &str) -> Result<Cron, String> {
        let tz = TimeZone::get(timezone.trim()).map_err(|_| {
            format!("unknown time zone `{timezone}` (use an IANA name such as `America/Los_Angeles` or `UTC`)")
        })?;
        Cron::parse_in(cron, tz)
    }

    /// Parses a cron expression evaluated in an already resolved time zone.
    pub fn parse_in(cron: &str, tz: TimeZone) -> Result<Cron, String> {
        let expression = cron.trim();
        let parsed = CronParser::builder().seconds(Seconds::Disallowed).build().parse(expression).map_err(|e| {
            format!("bad cron `{cron}`: {e} (expected 5 fields: minute hour day-of-month month day-of-week)")
        })?;
        Ok(Cron { expression: expression.to_string(), cron: parsed, tz })
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone ticks are evaluated in.
    pub fn timezone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first tick strictly after `after`; `None` if there is none (a pattern
    /// such as `0 0 31 2 *` never matches).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        // Wall-clock times up to the civil time of `after` map to instants at or
        // before it, except those in a recent spring-forward gap, which map up to
        // the gap's length later: start early enough to see them.
        let mut c = gap_floor(&self.tz, after);
        let mut best: Option<Timestamp> = None;
        loop {
            c = match self.cron.find_next_occurrence(&c, false) {
                Ok(next) => next,
                Err(_) => return best,
            };
            if let Some(t) = self.instant(c) {
                if t > after && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            // Every later wall-clock time maps to an instant whose civil time is
            // past `best`'s, hence to a later instant: `best` is the minimum.
            if let Some(b) = best {
                if c >= self.tz.to_datetime(b) {
                    return best;
                }
            }
        }
    }

    /// The last tick at or before `at`; `None` if there is none.
    pub fn latest_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        // The mirror image of `next_after`: wall-clock times of a repeated hour
        // later than `at`'s civil time map (first occurrence) to instants before it.
        let mut c = self.cron.find_previous_occurrence(&fold_ceiling(&self.tz, at), true).ok()?;
        let mut best: Option<Timestamp> = None;
        loop {
            if let Some(t) = self.instant(c) {
                if t <= at && best.is_none_or(|b| t > b) {
                    best = Some(t);
                }
            }
            if let Some(b) = best {
                if c <= gap_floor(&self.tz, b) {
                    return best;
                }
            }
            c = match self.cron.find_previous_occurrence(&c, false) {
                Ok(prev) => prev,
                Err(_) => return best,
            };
        }
    }

    /// Ticks in `(after, until]`, in order, at most `limit` of them (the earliest).
    pub fn ticks_between(&self, after: Timestamp, until: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut ticks = Vec::new();
        let mut cursor = after;
        while ticks.len() < limit {
            match self.next_after(cursor) {
                Some(t) if t <= until => {
                    ticks.push(t);
                    cursor = t;
                }
                _ => break,
            }
        }
        ticks
    }

    /// The instant a wall-clock time fires at ("compatible" disambiguation).
    fn instant(&self, c: DateTime) -> Option<Timestamp> {
        self.tz.to_ambiguous_timestamp(c).compatible().ok()
    }
}

/// What a scheduler fires at `now`, given the last tick it fired (`None`: nothing
/// yet). Nothing before `since` (e.g. the registration time) is ever due; a tick at
/// exactly `since` is. With `catchup`, every missed tick in order (the earliest
/// `limit` of them: fire those and ask again); without, only the latest due one.
/// A tick equal to `last_fired` is never due again.
pub fn due(
    cron: &Cron,
    last_fired: Option<Timestamp>,
    since: Timestamp,
    now: Timestamp,
    catchup: bool,
    limit: usize,
) -> Vec<Timestamp> {
    let floor = since.checked_sub(NS).unwrap_or(since);
    let after = last_fired.map_or(floor, |last| last.max(floor));
    if limit == 0 || now <= after {
        return Vec::new();
    }
    if catchup {
        cron.ticks_between(after, now, limit)
    } else {
        cron.latest_at_or_before(now).filter(|t| *t > after).into_iter().collect()
    }
}

/// Backfill logical times for `--from D --to D --every E`, both days included (see
/// the module doc for what `E` may be; empty means `1d`). More than `limit` logical
/// times is an error rather than a truncated list.
pub fn backfill_times(
    from: Date,
    to: Date,
    every: &str,
    tz: &TimeZone,
    limit: usize,
) -> Result<Vec<Timestamp>, String> {
    if from > to {
        return Err(format!("empty backfill range: from {from} is after to {to}"));
    }
    let every = match every.trim() {
        "" => "1d",
        e => e,
    };
    let too_many = || {
        format!(
            "backfill from {from} to {to} every `{every}` gives more than {limit} logical times (the limit); \
             narrow the range or use a coarser step"
        )
    };
    let start = midnight(from, tz)?;
    let end = midnight(to.tomorrow().map_err(|e| format!("to {to}: {e}"))?, tz)?;
    let mut times = Vec::new();
    match parse_step(every)? {
        Some(Step::Days(n)) => {
            let mut date = from;
            while date <= to {
                if times.len() == limit {
                    return Err(too_many());
                }
                times.push(midnight(date, tz)?);
                date = match date.checked_add(n.days()) {
                    Ok(next) => next,
                    Err(_) => break,
                };
            }
        }
        Some(Step::Elapsed(step)) => {
            let mut t = start;
            while t < end {
                if times.len() == limit {
                    return Err(too_many());
                }
                times.push(t);
                t = match t.checked_add(step) {
                    Ok(next) => next,
                    Err(_) => break,
                };
            }
        }
        None => {
            let cron = Cron::parse_in(every, tz.clone())
                .map_err(|e| format!("bad every `{every}`: not a step such as 1d, 6h or 30m, and {e}"))?;
            let first = start.checked_sub(NS).unwrap_or(start);
            let last = end.checked_sub(NS).unwrap_or(end);
            times = cron.ticks_between(first, last, limit.saturating_add(1));
            if times.len() > limit {
                return Err(too_many());
            }
        }
    }
    Ok(times)
}

/// The logical date of a tick: its civil date in the zone.
pub fn logical_date(t: Timestamp, tz: &TimeZone) -> Date {
    tz.to_datetime(t).date()
}

enum Step {
    /// Every N dates, at 00:00.
    Days(i64),
    /// Fixed elapsed time.
    Elapsed(SignedDuration),
}

/// `Nd`, `Nh` or `Nm`; `Ok(None)` when `every` is not shaped like a step (then it
/// is taken as a cron expression).
fn parse_step(every: &str) -> Result<Option<Step>, String> {
    let digits = every.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = every.split_at(digits);
    if digits == 0 || unit.is_empty() || !unit.bytes().all(|b| b.is_ascii_alphabetic()) {
        if digits > 0 && unit.is_empty() {
            return Err(format!("bad every `{every}`: the step needs a unit, e.g. `{every}d`, `{every}h` or `{every}m`"));
        }
        return Ok(None);
    }
    let n: u32 = number.parse().map_err(|_| format!("bad every `{every}`: step too large"))?;
    if n == 0 {
        return Err(format!("bad every `{every}`: the step must be at least 1"));
    }
    let n = i64::from(n);
    match unit {
        "d" => Ok(Some(Step::Days(n))),
        "h" => Ok(Some(Step::Elapsed(SignedDuration::from_hours(n)))),
        "m" => Ok(Some(Step::Elapsed(SignedDuration::from_mins(n)))),
        _ => Err(format!(
            "bad every `{every}`: unknown unit `{unit}` (use d, h or m, e.g. 1d, 6h, 30m, or a cron expression)"
        )),
    }
}

/// 00:00 of `date` in the zone (compatible: in a zone whose clocks jump at
/// midnight, the instant the clock would have shown 00:00).
fn midnight(date: Date, tz: &TimeZone) -> Result<Timestamp, String> {
    tz.to_ambiguous_timestamp(date.to_datetime(civil::Time::midnight()))
        .compatible()
        .map_err(|e| format!("{date} 00:00 in the time zone: {e}"))
}

/// Offset transitions at or shortly before `t`: (instant, offset before, offset after).
fn recent_transitions(tz: &TimeZone, t: Timestamp) -> impl Iterator<Item = (Timestamp, Offset, Offset)> + '_ {
    let horizon = t.checked_sub(TRANSITION_WINDOW).unwrap_or(Timestamp::MIN);
    tz.preceding(t.checked_add(NS).unwrap_or(t)).take_while(move |tr| tr.timestamp() >= horizon).map(|tr| {
        let at = tr.timestamp();
        (at, tz.to_offset(at.checked_sub(NS).unwrap_or(at)), tr.offset())
    })
}

fn offset_change(before: Offset, after: Offset) -> SignedDuration {
    SignedDuration::from_secs(i64::from(after.seconds()) - i64::from(before.seconds()))
}

/// The smallest wall-clock time that may map to an instant after `t`: `t`'s civil
/// time, or earlier when `t` is within a gap's length of a spring-forward (times
/// in the gap map to instants in `[transition, transition + gap)`).
fn gap_floor(tz: &TimeZone, t: Timestamp) -> DateTime {
    let mut floor = tz.to_datetime(t);
    for (at, before, after) in recent_transitions(tz, t) {
        let change = offset_change(before, after);
        if change.is_positive() && at.checked_add(change).is_ok_and(|gap_end| t < gap_end) {
            floor = floor.min(before.to_datetime(t));
        }
    }
    floor
}

/// The largest wall-clock time that may map to an instant at or before `t`: `t`'s
/// civil time, or later when `t` is in the second occurrence of a repeated hour
/// (whose wall-clock times fire at their first occurrence).
fn fold_ceiling(tz: &TimeZone, t: Timestamp) -> DateTime {
    let mut ceiling = tz.to_datetime(t);
    for (at, before, after) in recent_transitions(tz, t) {
        let change = offset_change(after, before);
        if change.is_positive() && at.checked_add(change).is_ok_and(|fold_end| t < fold_end) {
            ceiling = ceiling.max(before.to_datetime(t));
        }
    }
    ceiling
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// RFC 3339 with the zone's offset, e.g. `2026-03-08T03:30:00-07:00`.
    fn show(t: Timestamp, tz: &TimeZone) -> String {
        t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    fn shown(ts: &[Timestamp], tz: &TimeZone) -> Vec<String> {
        ts.iter().map(|t| show(*t, tz)).collect()
    }

    /// Ticks of `cron` in zone `zone` over `(after, until]` (instants given as RFC 3339).
    fn ticks(cron: &str, zone: &str, after: &str, until: &str) -> Vec<String> {
        let c = Cron::parse(cron, zone).unwrap();
        shown(&c.ticks_between(ts(after), ts(until), 10_000), c.timezone())
    }

    /// Number of ticks per logical date.
    fn per_day(cron: &str, zone: &str, after: &str, until: &str) -> Vec<(String, usize)> {
        let c = Cron::parse(cron, zone).unwrap();
        let mut days: Vec<(String, usize)> = Vec::new();
        for t in c.ticks_between(ts(after), ts(until), 10_000) {
            let d = logical_date(t, c.timezone()).to_string();
            match days.last_mut() {
                Some((last, n)) if *last == d => *n += 1,
                _ => days.push((d, 1)),
            }
        }
        days
    }

    fn strictly_increasing(ts: &[Timestamp]) -> bool {
        ts.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn los_angeles_daily_0230_runs_once_on_both_transition_days() {
        let rows = [
            // spring forward 2026-03-08: 02:30 does not exist, fires at 03:30 PDT
            (
                "2026-03-06T00:00:00-08:00",
                "2026-03-10T23:59:00-07:00",
                vec![
                    "2026-03-06T02:30:00-08:00",
                    "2026-03-07T02:30:00-08:00",
                    "2026-03-08T03:30:00-07:00",
                    "2026-03-09T02:30:00-07:00",
                    "2026-03-10T02:30:00-07:00",
                ],
            ),
            // fall back 2026-11-01: 02:30 exists once (PST)
            (
                "2026-10-31T00:00:00-07:00",
                "2026-11-02T23:59:00-08:00",
                vec!["2026-10-31T02:30:00-07:00", "2026-11-01T02:30:00-08:00", "2026-11-02T02:30:00-08:00"],
            ),
        ];
        for (after, until, want) in rows {
            assert_eq!(ticks("30 2 * * *", "America/Los_Angeles", after, until), want, "after {after}");
        }
    }

    #[test]
    fn los_angeles_daily_0130_fires_at_first_occurrence_on_fall_back() {
        assert_eq!(
            ticks("30 1 * * *", "America/Los_Angeles", "2026-10-31T00:00:00-07:00", "2026-11-02T23:59:00-08:00"),
            ["2026-10-31T01:30:00-07:00", "2026-11-01T01:30:00-07:00", "2026-11-02T01:30:00-08:00"]
        );
        // Fired at the first occurrence: asking again from inside the repeated hour
        // (second occurrence, 01:45 PST) does not fire 01:30 again.
        let c = Cron::parse("30 1 * * *", "America/Los_Angeles").unwrap();
        assert_eq!(show(c.next_after(ts("2026-11-01T01:30:00-07:00")).unwrap(), c.timezone()), "2026-11-02T01:30:00-08:00");
        assert_eq!(show(c.next_after(ts("2026-11-01T01:15:00-08:00")).unwrap(), c.timezone()), "2026-11-02T01:30:00-08:00");
    }

    #[test]
    fn los_angeles_hourly_across_both_transitions() {
        // 23 ticks on the spring-forward day (02:00 maps onto 03:00 PDT: one tick),
        // 24 on the fall-back day (the repeated 01:00 hour runs once).
        let la = "America/Los_Angeles";
        assert_eq!(
            per_day("0 * * * *", la, "2026-03-06T23:59:00-08:00", "2026-03-09T23:59:00-07:00"),
            [("2026-03-07".to_string(), 24), ("2026-03-08".to_string(), 23), ("2026-03-09".to_string(), 24)]
        );
        assert_eq!(
            per_day("0 * * * *", la, "2026-10-30T23:59:00-07:00", "2026-11-02T23:59:00-08:00"),
            [("2026-10-31".to_string(), 24), ("2026-11-01".to_string(), 24), ("2026-11-02".to_string(), 24)]
        );
        assert_eq!(
            ticks("0 * * * *", la, "2026-03-08T00:30:00-08:00", "2026-03-08T04:00:00-07:00"),
            ["2026-03-08T01:00:00-08:00", "2026-03-08T03:00:00-07:00", "2026-03-08T04:00:00-07:00"]
        );
        assert_eq!(
            ticks("0 * * * *", la, "2026-11-01T00:30:00-07:00", "2026-11-01T03:00:00-08:00"),
            ["2026-11-01T01:00:00-07:00", "2026-11-01T02:00:00-08:00", "2026-11-01T03:00:00-08:00"]
        );
        let c = Cron::parse("0 * * * *", la).unwrap();
        let all = c.ticks_between(ts("2026-03-01T00:00:00Z"), ts("2026-11-30T00:00:00Z"), 100_000);
        assert!(strictly_increasing(&all));
    }

    #[test]
    fn london_daily_0130_on_both_transition_days() {
        // Clocks change at 01:00 UTC: 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT.
        let london = "Europe/London";
        assert_eq!(
            ticks("30 1 * * *", london, "2026-03-28T00:00:00Z", "2026-03-30T23:00:00Z"),
            ["2026-03-28T01:30:00+00:00", "2026-03-29T02:30:00+01:00", "2026-03-30T01:30:00+01:00"]
        );
        assert_eq!(
            ticks("30 1 * * *", london, "2026-10-24T00:00:00Z", "2026-10-26T23:00:00Z"),
            ["2026-10-24T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]
        );
    }

    #[test]
    fn kolkata_has_a_half_hour_offset_and_no_dst() {
        let c = Cron::parse("0 9 * * *", "Asia/Kolkata").unwrap();
        let got = c.ticks_between(ts("2026-03-07T00:00:00Z"), ts("2026-03-10T00:00:00Z"), 10);
        let utc: Vec<String> = got.iter().map(|t| t.to_string()).collect();
        assert_eq!(utc, ["2026-03-07T03:30:00Z", "2026-03-08T03:30:00Z", "2026-03-09T03:30:00Z"]);
        assert_eq!(shown(&got[..1], c.timezone()), ["2026-03-07T09:00:00+05:30"]);
    }

    #[test]
    fn utc_quarter_hours_and_month_starts() {
        assert_eq!(
            ticks("*/15 * * * *", "UTC", "2026-01-31T23:30:00Z", "2026-02-01T00:30:00Z"),
            [
                "2026-01-31T23:45:00+00:00",
                "2026-02-01T00:00:00+00:00",
                "2026-02-01T00:15:00+00:00",
                "2026-02-01T00:30:00+00:00"
            ]
        );
        assert_eq!(
            ticks("0 0 1 * *", "UTC", "2027-11-01T00:00:00Z", "2028-03-01T00:00:00Z"),
            [
                "2027-12-01T00:00:00+00:00",
                "2028-01-01T00:00:00+00:00",
                "2028-02-01T00:00:00+00:00",
                "2028-03-01T00:00:00+00:00"
            ]
        );
        // (after, until] bounds and the limit.
        assert_eq!(ticks("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), Vec::<String>::new());
        let c = Cron::parse("* * * * *", "UTC").unwrap();
        assert_eq!(c.ticks_between(ts("2026-01-01T00:00:00Z"), ts("2036-01-01T00:00:00Z"), 5).len(), 5);
        assert_eq!(c.next_after(ts("2026-01-01T00:00:00.5Z")), Some(ts("2026-01-01T00:01:00Z")));
        assert_eq!(c.latest_at_or_before(ts("2026-01-01T00:00:59Z")), Some(ts("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let e = Cron::parse("0 9 * *", "UTC").unwrap_err();
        assert!(e.contains("bad cron `0 9 * *`") && e.contains("5 fields"), "{e}");
        let e = Cron::parse("0 0 9 * * *", "UTC").unwrap_err();
        assert!(e.contains("bad cron"), "{e}");
        let e = Cron::parse("0 9 * * *", "Mars/Olympus_Mons").unwrap_err();
        assert!(e.contains("unknown time zone `Mars/Olympus_Mons`"), "{e}");
        assert_eq!(Cron::parse(" @daily ", "UTC").unwrap().expression(), "@daily");
        // Never matches: no tick rather than a hang or a panic.
        let never = Cron::parse("0 0 31 2 *", "UTC").unwrap();
        assert_eq!(never.next_after(ts("2026-01-01T00:00:00Z")), None);
    }

    fn daily9() -> Cron {
        Cron::parse("0 9 * * *", "UTC").unwrap()
    }

    #[test]
    fn due_catches_up_or_fires_only_the_latest() {
        let c = daily9();
        let since = ts("2025-12-01T00:00:00Z");
        let last = Some(ts("2026-01-01T09:00:00Z"));
        let now = ts("2026-01-04T10:00:00Z"); // three days of downtime
        let utc = |v: Vec<Timestamp>| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            utc(due(&c, last, since, now, true, 100)),
            ["2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z", "2026-01-04T09:00:00Z"]
        );
        assert_eq!(utc(due(&c, last, since, now, false, 100)), ["2026-01-04T09:00:00Z"]);
        // The limit keeps the earliest: fire them, then ask again.
        assert_eq!(utc(due(&c, last, since, now, true, 2)), ["2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z"]);
        assert_eq!(due(&c, last, since, now, true, 0), Vec::<Timestamp>::new());
    }

    #[test]
    fn due_respects_since_and_never_fires_twice() {
        let c = daily9();
        let now = ts("2026-01-04T10:00:00Z");
        // Nothing fired yet: nothing before `since` is due, with or without catchup.
        for catchup in [true, false] {
            assert_eq!(due(&c, None, ts("2026-01-03T12:00:00Z"), now, catchup, 100), [ts("2026-01-04T09:00:00Z")]);
            assert_eq!(due(&c, None, ts("2026-01-04T09:30:00Z"), now, catchup, 100), []);
            // A tick at exactly `since` is due.
            assert_eq!(due(&c, None, ts("2026-01-04T09:00:00Z"), now, catchup, 100), [ts("2026-01-04T09:00:00Z")]);
            // Already fired the latest tick: nothing (no double fire), even at the tick itself.
            let last = Some(ts("2026-01-04T09:00:00Z"));
            assert_eq!(due(&c, last, ts("2025-01-01T00:00:00Z"), now, catchup, 100), []);
            assert_eq!(due(&c, last, ts("2025-01-01T00:00:00Z"), ts("2026-01-04T09:00:00Z"), catchup, 100), []);
            // `since` also bounds a catch-up after a re-registration.
            let old = Some(ts("2026-01-01T09:00:00Z"));
            assert_eq!(due(&c, old, ts("2026-01-03T12:00:00Z"), now, catchup, 100), [ts("2026-01-04T09:00:00Z")]);
        }
        // Not yet due.
        assert_eq!(due(&c, None, ts("2026-01-04T09:30:00Z"), ts("2026-01-05T08:59:59Z"), true, 100), []);
    }

    #[test]
    fn due_across_spring_forward_fires_the_gap_tick_once() {
        let c = Cron::parse("30 2 * * *", "America/Los_Angeles").unwrap();
        let since = ts("2026-01-01T00:00:00Z");
        let last = Some(ts("2026-03-07T02:30:00-08:00"));
        let at = ts("2026-03-08T03:30:00-07:00");
        assert_eq!(due(&c, last, since, at - NS, true, 10), []);
        assert_eq!(due(&c, last, since, at, true, 10), [at]);
        assert_eq!(due(&c, Some(at), since, ts("2026-03-08T23:00:00-07:00"), true, 10), []);
    }

    #[test]
    fn backfill_daily_is_one_midnight_per_date() {
        let la = tz("America/Los_Angeles");
        let got = backfill_times(date("2026-03-01"), date("2026-03-10"), "1d", &la, 100).unwrap();
        assert_eq!(
            shown(&got, &la),
            [
                "2026-03-01T00:00:00-08:00",
                "2026-03-02T00:00:00-08:00",
                "2026-03-03T00:00:00-08:00",
                "2026-03-04T00:00:00-08:00",
                "2026-03-05T00:00:00-08:00",
                "2026-03-06T00:00:00-08:00",
                "2026-03-07T00:00:00-08:00",
                "2026-03-08T00:00:00-08:00",
                "2026-03-09T00:00:00-07:00",
                "2026-03-10T00:00:00-07:00",
            ]
        );
        let dates: Vec<String> = got.iter().map(|t| logical_date(*t, &la).to_string()).collect();
        assert_eq!(dates.first().unwrap(), "2026-03-01");
        assert_eq!(dates.last().unwrap(), "2026-03-10");
        // The default, and one date.
        assert_eq!(backfill_times(date("2026-03-01"), date("2026-03-10"), "", &la, 100).unwrap(), got);
        assert_eq!(backfill_times(date("2026-03-05"), date("2026-03-05"), "1d", &la, 100).unwrap().len(), 1);
        let every3 = backfill_times(date("2026-03-01"), date("2026-03-10"), "3d", &la, 100).unwrap();
        assert_eq!(
            every3.iter().map(|t| logical_date(*t, &la).to_string()).collect::<Vec<_>>(),
            ["2026-03-01", "2026-03-04", "2026-03-07", "2026-03-10"]
        );
    }

    #[test]
    fn backfill_hourly_steps_are_elapsed_time() {
        let la = tz("America/Los_Angeles");
        // 23 hours elapse on the spring-forward day, 25 on the fall-back day, 24 otherwise.
        let spring = backfill_times(date("2026-03-08"), date("2026-03-08"), "1h", &la, 100).unwrap();
        assert_eq!(spring.len(), 23);
        assert_eq!(
            shown(&spring[..4], &la),
            [
                "2026-03-08T00:00:00-08:00",
                "2026-03-08T01:00:00-08:00",
                "2026-03-08T03:00:00-07:00",
                "2026-03-08T04:00:00-07:00"
            ]
        );
        assert_eq!(show(*spring.last().unwrap(), &la), "2026-03-08T23:00:00-07:00");
        let fall = backfill_times(date("2026-11-01"), date("2026-11-01"), "1h", &la, 100).unwrap();
        assert_eq!(fall.len(), 25);
        assert_eq!(
            shown(&fall[..4], &la),
            [
                "2026-11-01T00:00:00-07:00",
                "2026-11-01T01:00:00-07:00",
                "2026-11-01T01:00:00-08:00",
                "2026-11-01T02:00:00-08:00"
            ]
        );
        assert_eq!(show(*fall.last().unwrap(), &la), "2026-11-01T23:00:00-08:00");
        assert!(strictly_increasing(&fall) && strictly_increasing(&spring));
        assert_eq!(backfill_times(date("2026-03-10"), date("2026-03-10"), "1h", &la, 100).unwrap().len(), 24);

        assert_eq!(
            shown(&backfill_times(date("2026-03-10"), date("2026-03-10"), "6h", &la, 100).unwrap(), &la),
            [
                "2026-03-10T00:00:00-07:00",
                "2026-03-10T06:00:00-07:00",
                "2026-03-10T12:00:00-07:00",
                "2026-03-10T18:00:00-07:00"
            ]
        );
        assert_eq!(
            shown(&backfill_times(date("2026-03-08"), date("2026-03-08"), "6h", &la, 100).unwrap(), &la),
            [
                "2026-03-08T00:00:00-08:00",
                "2026-03-08T07:00:00-07:00",
                "2026-03-08T13:00:00-07:00",
                "2026-03-08T19:00:00-07:00"
            ]
        );
        // Wall-clock aligned six-hourly: a cron expression.
        assert_eq!(
            shown(&backfill_times(date("2026-03-08"), date("2026-03-08"), "0 */6 * * *", &la, 100).unwrap(), &la),
            [
                "2026-03-08T00:00:00-08:00",
                "2026-03-08T06:00:00-07:00",
                "2026-03-08T12:00:00-07:00",
                "2026-03-08T18:00:00-07:00"
            ]
        );
        let quarter = backfill_times(date("2026-01-01"), date("2026-01-02"), "15m", &TimeZone::UTC, 1000).unwrap();
        assert_eq!(quarter.len(), 2 * 96);
    }

    #[test]
    fn backfill_cron_keeps_weekdays_only() {
        let paris = tz("Europe/Paris");
        // 2026-03-02 is a Monday; two weeks through Sunday 2026-03-15.
        let got = backfill_times(date("2026-03-02"), date("2026-03-15"), "0 9 * * 1-5", &paris, 100).unwrap();
        assert_eq!(
            shown(&got, &paris),
            [
                "2026-03-02T09:00:00+01:00",
                "2026-03-03T09:00:00+01:00",
                "2026-03-04T09:00:00+01:00",
                "2026-03-05T09:00:00+01:00",
                "2026-03-06T09:00:00+01:00",
                "2026-03-09T09:00:00+01:00",
                "2026-03-10T09:00:00+01:00",
                "2026-03-11T09:00:00+01:00",
                "2026-03-12T09:00:00+01:00",
                "2026-03-13T09:00:00+01:00",
            ]
        );
        // [from 00:00, to + 1 00:00): midnight of `from` is in, midnight after `to` is out.
        let midnights = backfill_times(date("2026-03-02"), date("2026-03-03"), "0 0 * * *", &paris, 100).unwrap();
        assert_eq!(shown(&midnights, &paris), ["2026-03-02T00:00:00+01:00", "2026-03-03T00:00:00+01:00"]);
    }

    #[test]
    fn backfill_errors_are_clear() {
        let utc = TimeZone::UTC;
        let e = backfill_times(date("2026-03-10"), date("2026-03-01"), "1d", &utc, 100).unwrap_err();
        assert_eq!(e, "empty backfill range: from 2026-03-10 is after to 2026-03-01");
        for (every, needle) in [
            ("0h", "at least 1"),
            ("1w", "unknown unit `w`"),
            ("6", "needs a unit"),
            ("daily", "bad every `daily`"),
            ("0 9 * *", "bad cron"),
            ("99999999999d", "too large"),
        ] {
            let e = backfill_times(date("2026-03-01"), date("2026-03-10"), every, &utc, 100).unwrap_err();
            assert!(e.contains(needle), "{every}: {e}");
        }
        // The limit: an error naming it, not a silent truncation.
        for every in ["1d", "1h", "* * * * *"] {
            let e = backfill_times(date("2026-01-01"), date("2026-12-31"), every, &utc, 200).unwrap_err();
            assert!(e.contains("more than 200 logical times (the limit)"), "{every}: {e}");
        }
        assert_eq!(backfill_times(date("2026-01-01"), date("2026-01-10"), "1d", &utc, 10).unwrap().len(), 10);
        assert_eq!(backfill_times(date("2026-01-01"), date("2026-01-10"), "0 0 * * *", &utc, 10).unwrap().len(), 10);
    }

    /// The reference: every matching wall-clock minute in `[first, last)` mapped with
    /// `compatible`, as a sorted set of instants.
    fn brute_force(cron: &Cron, first: DateTime, last: DateTime) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut c = first;
        while c < last {
            if cron.cron.is_time_matching(&c).unwrap() {
                out.push(cron.tz.to_ambiguous_timestamp(c).compatible().unwrap());
            }
            c = c.checked_add(1.minute()).unwrap();
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn agrees_with_brute_force_around_transitions() {
        // (zone, a date with an offset change); whole-hour, half-hour, midnight and
        // whole-day transitions.
        let cases = [
            ("America/Los_Angeles", "2026-03-08"),
            ("America/Los_Angeles", "2026-11-01"),
            ("Europe/London", "2026-03-29"),
            ("Europe/London", "2026-10-25"),
            ("Australia/Lord_Howe", "2026-04-05"),
            ("Australia/Lord_Howe", "2026-10-04"),
            ("America/Santiago", "2026-04-05"),
            ("America/Santiago", "2026-09-06"),
            ("Pacific/Apia", "2011-12-30"),
            ("Asia/Kolkata", "2026-03-08"),
            ("UTC", "2026-03-08"),
        ];
        let crons = [
            "*/15 * * * *",
            "0 * * * *",
            "30 2 * * *",
            "30 1 * * *",
            "15,45 2 * * *",
            "20,40 2 * * *", // Lord Howe's 30-minute gap: 02:20 fires at 02:50, after 02:40
            "0 0 * * *",
            "30 0 * * *",
            "0,30 0-3 * * *",
            "10 2-3 * * 0",
            "45 23 * * *",
        ];
        for (zone, day) in cases {
            let zone_tz = tz(zone);
            let day = date(day);
            let first = day.checked_sub(3.days()).unwrap().to_datetime(civil::Time::midnight());
            let last = day.checked_add(4.days()).unwrap().to_datetime(civil::Time::midnight());
            let lo = midnight(day.checked_sub(1.days()).unwrap(), &zone_tz).unwrap();
            let hi = midnight(day.checked_add(2.days()).unwrap(), &zone_tz).unwrap();
            if !matches!(zone, "Asia/Kolkata" | "UTC") {
                assert_ne!(zone_tz.to_offset(lo), zone_tz.to_offset(hi), "{zone} {day}: no transition");
            }
            for expr in crons {
                let cron = Cron::parse(expr, zone).unwrap();
                let all = brute_force(&cron, first, last);
                let want: Vec<Timestamp> = all.iter().copied().filter(|t| *t > lo && *t <= hi).collect();
                let got = cron.ticks_between(lo, hi, 100_000);
                assert_eq!(shown(&got, &zone_tz), shown(&want, &zone_tz), "{expr} in {zone} around {day}");
                // Probe every 7 minutes: the next and latest ticks agree with the set.
                let mut p = lo;
                while p < hi {
                    let next = all.iter().copied().find(|t| *t > p);
                    let latest = all.iter().copied().rev().find(|t| *t <= p);
                    // (The reference covers a week: a weekly tick may be outside it.)
                    if next.is_some() {
                        assert_eq!(cron.next_after(p), next, "{expr} in {zone}: next after {}", show(p, &zone_tz));
                    }
                    if latest.is_some() {
                        assert_eq!(
                            cron.latest_at_or_before(p),
                            latest,
                            "{expr} in {zone}: latest at {}",
                            show(p, &zone_tz)
                        );
                    }
                    p = p.checked_add(7.minutes()).unwrap();
                }
                for t in &want {
                    assert_eq!(cron.latest_at_or_before(*t), Some(*t));
                    assert_eq!(cron.next_after(*t - NS), Some(*t));
                }
            }
        }
    }
}
