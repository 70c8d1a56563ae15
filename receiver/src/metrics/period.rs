//! A reporting period `[from, to)` and its histogram buckets (hourly up to 49 h, else daily, UTC).

use crate::timefmt::{floor_to, fmt_time, now_ns, NS_PER_DAY, NS_PER_HOUR};

/// Longest period bucketed by the hour.
pub const HOURLY_MAX_NS: i64 = 49 * NS_PER_HOUR;

/// `[from_ns, to_ns)`, unix ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Inclusive start.
    pub from_ns: i64,
    /// Exclusive end.
    pub to_ns: i64,
}

impl Period {
    /// The default: the last 30 days, ending now.
    pub fn last_30_days() -> Period {
        let to = now_ns();
        Period { from_ns: to - 30 * NS_PER_DAY, to_ns: to }
    }

    /// Everything.
    pub fn all() -> Period {
        Period { from_ns: i64::MIN, to_ns: i64::MAX }
    }

    /// Whether `ns` is inside.
    pub fn contains(&self, ns: i64) -> bool {
        ns >= self.from_ns && ns < self.to_ns
    }

    /// Bucket width: an hour for periods up to 49 h, else a day.
    pub fn bucket_ns(&self) -> i64 {
        if self.to_ns.saturating_sub(self.from_ns) <= HOURLY_MAX_NS {
            NS_PER_HOUR
        } else {
            NS_PER_DAY
        }
    }

    /// `"hour"` or `"day"`.
    pub fn bucket_name(&self) -> &'static str {
        if self.bucket_ns() == NS_PER_HOUR {
            "hour"
        } else {
            "day"
        }
    }

    /// Start of the first bucket (`from` floored to the UTC hour or day).
    pub fn first_bucket_ns(&self) -> i64 {
        floor_to(self.from_ns, self.bucket_ns())
    }

    /// Number of buckets covering the period.
    pub fn bucket_count(&self) -> usize {
        if self.to_ns <= self.from_ns {
            return 0;
        }
        let unit = i128::from(self.bucket_ns());
        let n = (i128::from(self.to_ns) - 1 - i128::from(self.first_bucket_ns())) / unit + 1;
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Index of the bucket holding `ns` (which must be inside the period).
    pub fn bucket_of(&self, ns: i64) -> usize {
        ((ns - self.first_bucket_ns()) / self.bucket_ns()) as usize
    }

    /// Start of bucket `i`, RFC 3339.
    pub fn bucket_start(&self, i: usize) -> String {
        fmt_time(self.first_bucket_ns() + i as i64 * self.bucket_ns())
    }
}

/// Bucket indexes of non-decreasing times inside a period, with one division per bucket change
/// instead of one per call (period scans read traces in start order).
#[derive(Debug, Clone, Copy)]
pub struct Bucketer {
    period: Period,
    width: i64,
    start: i64,
    end: i64,
    ix: usize,
}

impl Bucketer {
    /// For `period`.
    pub fn new(period: &Period) -> Bucketer {
        Bucketer { period: *period, width: period.bucket_ns(), start: i64::MAX, end: i64::MIN, ix: 0 }
    }

    /// [`Period::bucket_of`] for `ns` (inside the period).
    #[inline]
    pub fn of(&mut self, ns: i64) -> usize {
        if ns < self.start || ns >= self.end {
            self.ix = self.period.bucket_of(ns);
            self.start = self.period.first_bucket_ns() + self.ix as i64 * self.width;
            self.end = self.start.saturating_add(self.width);
        }
        self.ix
    }
}

/// UTC day numbers of non-decreasing times, with one division per day change.
#[derive(Debug, Clone, Copy)]
pub struct DayOf {
    start: i64,
    end: i64,
    day: i64,
}

impl Default for DayOf {
    fn default() -> DayOf {
        DayOf { start: i64::MAX, end: i64::MIN, day: 0 }
    }
}

impl DayOf {
    /// `ns.div_euclid(NS_PER_DAY)`.
    #[inline]
    pub fn of(&mut self, ns: i64) -> i64 {
        if ns < self.start || ns >= self.end {
            self.day = ns.div_euclid(NS_PER_DAY);
            self.start = self.day.saturating_mul(NS_PER_DAY);
            self.end = self.start.saturating_add(NS_PER_DAY);
        }
        self.day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        let p = Period { from_ns: NS_PER_HOUR / 2, to_ns: NS_PER_HOUR * 3 };
        assert_eq!(p.bucket_ns(), NS_PER_HOUR);
        assert_eq!(p.bucket_count(), 3);
        assert_eq!(p.bucket_of(NS_PER_HOUR * 3 - 1), 2);
        let exact = Period { from_ns: 0, to_ns: 49 * NS_PER_HOUR };
        assert_eq!(exact.bucket_name(), "hour");
        assert_eq!(exact.bucket_count(), 49);
        let long = Period { from_ns: 0, to_ns: 49 * NS_PER_HOUR + 1 };
        assert_eq!(long.bucket_name(), "day");
        assert_eq!(long.bucket_count(), 3);
    }

    #[test]
    fn bucketer_and_day_of_match_division() {
        for p in [
            Period { from_ns: NS_PER_HOUR / 2, to_ns: NS_PER_HOUR * 30 },
            Period { from_ns: -5 * NS_PER_DAY - 7, to_ns: 20 * NS_PER_DAY + 3 },
        ] {
            let mut b = Bucketer::new(&p);
            let mut d = DayOf::default();
            let step = (p.to_ns - p.from_ns) / 997;
            for ns in (p.from_ns..p.to_ns).step_by(step as usize).chain([p.to_ns - 1, p.from_ns]) {
                assert_eq!(b.of(ns), p.bucket_of(ns), "{ns}");
                assert_eq!(d.of(ns), ns.div_euclid(NS_PER_DAY), "{ns}");
            }
        }
    }
}
