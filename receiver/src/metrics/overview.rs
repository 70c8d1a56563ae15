//! The period overview: unique and new users, trace and session shares, traces per user and the
//! activity histogram.

use super::period::{Bucketer, Period};
use super::ratio;
use crate::store::index::{ProjectData, NO_USER};
use crate::timefmt::fmt_time;
use serde::Serialize;

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
    /// Traces in the period with ≥ 1 `end_user` feedback record.
    pub traces_with_feedback: i64,
    /// `traces_with_feedback / traces` (0 without traces).
    pub traces_with_feedback_share: f64,
    /// Activity per bucket.
    pub histogram: Vec<HistBucket>,
}

/// Computes the overview of `period` (one pass over the period's traces, in start order).
pub fn overview(pd: &ProjectData, period: &Period) -> Overview {
    let n = period.bucket_count();
    let mut hist = vec![(0i64, 0i64, 0i64); n];
    // Per session: the last bucket it was counted in, and whether it has a user.
    let mut sess_bucket = vec![u32::MAX; pd.n_sess as usize];
    let mut sess_state = vec![0u8; pd.n_sess as usize];
    let mut user_seen = vec![false; pd.user_key_of.len()];
    let (mut traces, mut with_user, mut users, mut sessions, mut sessions_with_user) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let mut bucketer = Bucketer::new(period);
    for (start, t) in pd.lite_range(period.from_ns, period.to_ns) {
        traces += 1;
        let b = bucketer.of(start);
        hist[b].0 += 1;
        hist[b].1 += i64::from(t.errored);
        let s = t.sess as usize;
        if sess_bucket[s] != b as u32 {
            sess_bucket[s] = b as u32;
            hist[b].2 += 1;
        }
        if sess_state[s] & 1 == 0 {
            sess_state[s] |= 1;
            sessions += 1;
        }
        if t.user != NO_USER {
            with_user += 1;
            if !user_seen[t.user as usize] {
                user_seen[t.user as usize] = true;
                users += 1;
            }
            if sess_state[s] & 2 == 0 {
                sess_state[s] |= 2;
                sessions_with_user += 1;
            }
        }
    }
    let new_users = pd.users.values().filter(|u| u.first_ns != i64::MAX && period.contains(u.first_ns)).count() as i64;
    let with_feedback = super::feedback::traces_with_feedback(pd, period);
    Overview {
        from: fmt_time(period.from_ns),
        to: fmt_time(period.to_ns),
        bucket: period.bucket_name(),
        unique_users: users,
        new_users,
        traces,
        traces_with_user: with_user,
        traces_with_user_share: ratio(with_user as f64, traces as f64),
        sessions,
        sessions_with_user,
        sessions_with_user_share: ratio(sessions_with_user as f64, sessions as f64),
        traces_per_user: ratio(with_user as f64, users as f64),
        traces_with_feedback: with_feedback,
        traces_with_feedback_share: ratio(with_feedback as f64, traces as f64),
        histogram: hist
            .iter()
            .enumerate()
            .map(|(i, (t, e, s))| HistBucket {
                start: period.bucket_start(i),
                traces: *t,
                errored_traces: *e,
                sessions: *s,
            })
            .collect(),
    }
}
