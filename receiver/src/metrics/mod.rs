//! Every metric of docs/design.md ("Metric definitions"), computed from the committed trace rollups of
//! one project: the overview and histogram ([`overview`]), user rows, search, sort and column
//! rollups ([`users`]), and a user's lifetime detail, sessions and traces ([`detail`]).

pub mod cohorts;
pub mod detail;
pub mod feedback;
pub mod overview;
pub mod period;
pub mod users;

use crate::model::TraceRec;

/// Identity of a session inside a project: its `session.id`, else its trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessKey<'a> {
    /// `session.id`.
    Id(&'a str),
    /// No session id: the trace is its own session.
    Trace(&'a [u8; 16]),
}

impl<'a> SessKey<'a> {
    /// The session of a trace.
    pub fn of(t: &'a TraceRec) -> SessKey<'a> {
        match &t.session {
            Some(p) => SessKey::Id(p.value.as_str()),
            None => SessKey::Trace(&t.trace_id),
        }
    }
}

/// Micro-USD → USD.
pub fn usd(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Median (mean of the two middle values for an even count); `None` when empty. Reorders `v`.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let (lower, mid, _) = v.select_nth_unstable_by(n / 2, |a, b| a.total_cmp(b));
    let mid = *mid;
    if n % 2 == 1 {
        return Some(mid);
    }
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((below + mid) / 2.0)
}

/// Median of integers, as f64.
pub fn median_i64(v: &mut [i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let (lower, mid, _) = v.select_nth_unstable(n / 2);
    let mid = *mid as f64;
    if n % 2 == 1 {
        return Some(mid);
    }
    let below = lower.iter().copied().max().unwrap_or(0) as f64;
    Some((below + mid) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_i64(&mut [4, 1, 3, 2]), Some(2.5));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut [5.0]), Some(5.0));
        assert_eq!(median_i64(&mut [7, 7, 1, 9, 9, 9]), Some(8.0));
    }
}
