//! Query-string parsing with 400-with-a-message for anything wrong (never a 500).

use super::ApiError;
use crate::metrics::period::Period;
use crate::timefmt::{now_ns, parse_time, NS_PER_DAY};
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;

/// Longest period a bucketed endpoint accepts, in daily buckets.
pub const MAX_BUCKETS: usize = 1000;

/// Parameters that may be given more than once (`GET /api/users`' `filter`).
pub const REPEATABLE: &[&str] = &["filter"];

/// Parsed query parameters, checked against the endpoint's allowed names.
#[derive(Debug)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Checks names (unknown or repeated → 400).
    pub fn new(q: Result<Query<Vec<(String, String)>>, QueryRejection>, allowed: &[&str]) -> Result<Params, ApiError> {
        let Query(pairs) = q.map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {k:?}; allowed: {}",
                    allowed.join(", ")
                )));
            }
            if !REPEATABLE.contains(&k.as_str()) && pairs[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(ApiError::bad_request(format!("query parameter {k:?} is given more than once")));
            }
        }
        Ok(Params(pairs))
    }

    /// Every value of a repeatable parameter, in order (empty values included).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A parameter's raw value (empty values count as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// An optional time (RFC 3339 or unix ms).
    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name).map(|v| parse_time(v).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))).transpose()
    }

    /// An integer in `[min, max]`, `default` when absent.
    pub fn int(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(format!("{name} must be an integer from {min} to {max}, got {v:?}"))),
            },
        }
    }

    /// A boolean (`true`/`false`/`1`/`0`), false when absent.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!("{name} must be true or false, got {v:?}"))),
        }
    }

    /// One of `allowed`, or `default`.
    pub fn choice<'a>(&'a self, name: &str, allowed: &[&'a str], default: &'a str) -> Result<&'a str, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if allowed.contains(&v) => Ok(v),
            Some(v) => Err(ApiError::bad_request(format!("{name} must be one of {}, got {v:?}", allowed.join(", ")))),
        }
    }

    /// `from`/`to`: default the last 30 days (`to` = now, `from` = `to` − 30 days). With
    /// `bucketed`, at most [`MAX_BUCKETS`] daily buckets.
    pub fn period(&self, bucketed: bool) -> Result<Period, ApiError> {
        let to = self.time("to")?.unwrap_or_else(now_ns);
        let from = self.time("from")?.unwrap_or(to.saturating_sub(30 * NS_PER_DAY));
        self.check_period(Period { from_ns: from, to_ns: to }, bucketed)
    }

    /// `from`/`to` with no default bounds (everything when absent).
    pub fn open_period(&self) -> Result<Period, ApiError> {
        let p = Period { from_ns: self.time("from")?.unwrap_or(i64::MIN), to_ns: self.time("to")?.unwrap_or(i64::MAX) };
        self.check_period(p, false)
    }

    fn check_period(&self, p: Period, bucketed: bool) -> Result<Period, ApiError> {
        if p.from_ns >= p.to_ns {
            return Err(ApiError::bad_request("from must be before to"));
        }
        if bucketed && p.bucket_count() > MAX_BUCKETS {
            return Err(ApiError::bad_request(format!(
                "the period is too long: at most {MAX_BUCKETS} days (daily buckets)"
            )));
        }
        Ok(p)
    }
}
