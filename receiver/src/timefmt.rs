//! Time parsing and formatting: RFC 3339 in and out (UTC, milliseconds), unix milliseconds also
//! accepted in.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Nanoseconds per millisecond / hour / day.
pub const NS_PER_MS: i64 = 1_000_000;
/// Nanoseconds per hour.
pub const NS_PER_HOUR: i64 = 3_600 * 1_000_000_000;
/// Nanoseconds per day.
pub const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;

/// Parses an RFC 3339 timestamp or unix milliseconds into unix ns.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
        || (s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        let ms: i64 = s.parse().map_err(|_| format!("{s:?} is out of range"))?;
        return ms.checked_mul(NS_PER_MS).ok_or_else(|| format!("{s:?} is out of range"));
    }
    let dt = DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (e.g. 2025-06-01T00:00:00Z) or unix milliseconds: {e}"))?;
    dt.timestamp_nanos_opt().ok_or_else(|| format!("{s:?} is out of range"))
}

/// Formats unix ns as RFC 3339 UTC with milliseconds.
pub fn fmt_time(ns: i64) -> String {
    Utc.timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Formats unix ns as a UTC date `YYYY-MM-DD`.
pub fn fmt_date(ns: i64) -> String {
    Utc.timestamp_nanos(ns).format("%Y-%m-%d").to_string()
}

/// Now, unix ns.
pub fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// Floors `ns` to a multiple of `unit` (UTC hours and days are multiples of the unix epoch).
pub fn floor_to(ns: i64, unit: i64) -> i64 {
    ns.div_euclid(unit) * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_ms() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1_000_000_000);
        assert_eq!(parse_time("1970-01-01T01:00:01+01:00").unwrap(), 1_000_000_000);
        assert_eq!(parse_time("1500").unwrap(), 1_500_000_000);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("99999999999999999999").is_err());
        assert_eq!(fmt_time(1_500_000_000), "1970-01-01T00:00:01.500Z");
        assert_eq!(fmt_date(NS_PER_DAY * 2 + 5), "1970-01-03");
    }
}
