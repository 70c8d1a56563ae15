//! The period overview: unique and new users, trace and session shares, traces per user and the
//! activity histogram.

use super::period::Period;
use super::{ratio, SessKey};
use crate::store::index::ProjectData;
use crate::timefmt::fmt_time;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// One histogram bucket.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistBucket {
    /// Bucket start (RFC 3339).
    pub start: String,
    /// Traces starting in the bucket.
    pub traces: i64,
    /// Of which errored.
    pub errored_traces: i64,
    /// Distinct sessions of those traces.
    pub sessions: i64,
}

/// The overview of a period.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Overview {
    /// Period start (RFC 3339).
    pub from: String,
    /// Period end, exclusive (RFC 3339).
    pub to: String,
    /// `hour` or `day`.
    pub bucket: &'static str,
    /// Distinct users owning a trace in the period.
    pub unique_users: i64,
    /// Users whose lifetime first trace is in the period.
    pub new_users: i64,
    /// Traces starting in the period.
    pub traces: i64,
    /// Of which attributed to a user.
    pub traces_with_user: i64,
    /// `traces_with_user / traces` (0 without traces).
    pub traces_with_user_share: f64,
    /// Distinct sessions in the period.
    pub sessions: i64,
    /// Of which with at least one trace attributed to a user.
    pub sessions_with_user: i64,
    /// `sessions_with_user / sessions` (0 without sessions).
    pub sessions_with_user_share: f64,
    /// `traces_with_user / unique_users` (0 without users).
    pub traces_per_user: f64,
    /// Activity per bucket.
    pub histogram: Vec<HistBucket>,
}

/// Computes the overview of `period`.
pub fn overview(pd: &ProjectData, period: &Period) -> Overview {
    let n = period.bucket_count();
    let mut hist = vec![(0i64, 0i64); n];
    let mut bucket_sessions: HashSet<(usize, SessKey<'_>)> = HashSet::new();
    let mut sessions: HashMap<SessKey<'_>, bool> = HashMap::new();
    let mut users: HashSet<i64> = HashSet::new();
    let (mut traces, mut with_user) = (0i64, 0i64);
    for t in pd.traces.values() {
        if !period.contains(t.start_ns) {
            continue;
        }
        traces += 1;
        let b = period.bucket_of(t.start_ns);
        hist[b].0 += 1;
        hist[b].1 += i64::from(t.errored);
        let sk = SessKey::of(t);
        bucket_sessions.insert((b, sk));
        let has_user = sessions.entry(sk).or_insert(false);
        if let Some(k) = t.user_key {
            with_user += 1;
            users.insert(k);
            *has_user = true;
        }
    }
    let mut per_bucket_sessions = vec![0i64; n];
    for (b, _) in &bucket_sessions {
        per_bucket_sessions[*b] += 1;
    }
    let new_users = pd.users.values().filter(|u| u.first_ns != i64::MAX && period.contains(u.first_ns)).count() as i64;
    let sessions_with_user = sessions.values().filter(|v| **v).count() as i64;
    Overview {
        from: fmt_time(period.from_ns),
        to: fmt_time(period.to_ns),
        bucket: period.bucket_name(),
        unique_users: users.len() as i64,
        new_users,
        traces,
        traces_with_user: with_user,
        traces_with_user_share: ratio(with_user as f64, traces as f64),
        sessions: sessions.len() as i64,
        sessions_with_user,
        sessions_with_user_share: ratio(sessions_with_user as f64, sessions.len() as f64),
        traces_per_user: ratio(with_user as f64, users.len() as f64),
        histogram: hist
            .iter()
            .enumerate()
            .map(|(i, (t, e))| HistBucket {
                start: period.bucket_start(i),
                traces: *t,
                errored_traces: *e,
                sessions: per_bucket_sessions[i],
            })
            .collect(),
    }
}
