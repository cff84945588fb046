//! Durations as written in workflow files: `30s`, `5m`, `1h30m`, `2d`, `500ms`,
//! or a plain number of seconds.

use std::time::Duration;

/// Parse a duration string such as `1h30m` or `45` (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.starts_with('-') {
        return Err(format!("`{text}` is negative; durations must be zero or more"));
    }
    if let Ok(secs) = t.parse::<f64>() {
        if secs > MAX.as_secs_f64() {
            return Err(too_long(text));
        }
        return seconds(secs).ok_or_else(|| format!("`{text}` is not a valid number of seconds"));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let n: f64 = num.parse().map_err(|_| bad(text))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => return Err(bad(text)),
        };
        if n * scale > MAX.as_secs_f64() {
            return Err(too_long(text));
        }
        total = seconds(n * scale).and_then(|d| total.checked_add(d)).ok_or_else(|| bad(text))?;
        if total > MAX {
            return Err(too_long(text));
        }
        rest = after.trim_start();
    }
    Ok(total)
}

fn bad(text: &str) -> String {
    format!("`{text}` is not a duration (use e.g. `30s`, `5m`, `1h30m`, `2d`, or a number of seconds)")
}

/// The longest duration accepted: 100 years. Longer ones are surely mistakes,
/// and adding them to a point in time could overflow.
pub const MAX: Duration = Duration::from_secs(100 * 365 * 86400);

fn too_long(text: &str) -> String {
    format!("`{text}` is too long (at most 100 years)")
}

fn seconds(s: f64) -> Option<Duration> {
    if !(s.is_finite() && s >= 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(s).ok()
}

/// Seconds given as a YAML number.
pub fn from_seconds(s: f64) -> Result<Duration, String> {
    if s < 0.0 {
        return Err(format!("{s} is negative; durations must be zero or more"));
    }
    if s > MAX.as_secs_f64() {
        return Err(too_long(&s.to_string()));
    }
    seconds(s).ok_or_else(|| format!("{s} is not a valid number of seconds"))
}

/// Format compactly, the inverse of [`parse_duration`] for whole seconds: `1h30m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.subsec_millis();
    let mut s = d.as_secs();
    if s == 0 {
        return if ms == 0 { "0s".into() } else { format!("{ms}ms") };
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1h 30m 5s").unwrap(), Duration::from_secs(5405));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172800));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("99999999999999999999h").unwrap_err().contains("too long"));
        assert!(parse_duration("1e300").unwrap_err().contains("too long"));
        assert!(parse_duration("36500d1s").unwrap_err().contains("too long"));
        assert!(from_seconds(1e300).unwrap_err().contains("too long"));
        assert!(parse_duration("inf").is_err() && parse_duration("NaN").is_err());
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_negative_and_garbage() {
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("not a duration"));
        assert!(parse_duration("h").unwrap_err().contains("not a duration"));
        assert!(parse_duration("").is_err());
        assert!(from_seconds(-1.0).unwrap_err().contains("negative"));
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
    }
}
