//! User rows for a period, search, sort, pagination and the column rollups (sum, avg, median).

use super::period::Period;
use super::{median, median_i64, ratio, usd, SessKey};
use crate::model::{TraceRec, UserRec};
use crate::store::index::ProjectData;
use crate::timefmt::{fmt_time, NS_PER_DAY, NS_PER_MS};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};

/// Per-user accumulation over a set of traces.
#[derive(Debug, Default)]
pub struct Acc<'a> {
    /// Traces.
    pub traces: i64,
    /// Errored traces.
    pub errored_traces: i64,
    /// LLM calls.
    pub llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cost per trace, micro-USD.
    pub costs: Vec<i64>,
    /// Sum of trace durations, ns.
    pub duration_ns: i128,
    /// First trace start.
    pub first_ns: i64,
    /// Last trace start.
    pub last_ns: i64,
    /// Distinct UTC days (day numbers since the epoch).
    pub days: Vec<i64>,
    /// Sessions → errored.
    pub sessions: HashMap<SessKey<'a>, bool>,
    /// Evaluations passed.
    pub eval_pass: i64,
    /// Evaluations.
    pub eval_total: i64,
    /// Traces with a triggered guardrail.
    pub guardrail_traces: i64,
    /// Traces per bucket (empty when not asked for).
    pub trend: Vec<i64>,
}

impl<'a> Acc<'a> {
    fn new(buckets: usize) -> Acc<'a> {
        Acc { first_ns: i64::MAX, last_ns: i64::MIN, trend: vec![0; buckets], ..Default::default() }
    }

    /// Adds one trace.
    pub fn add(&mut self, t: &'a TraceRec, bucket: Option<usize>) {
        self.traces += 1;
        self.errored_traces += i64::from(t.errored);
        self.llm_calls += t.llm_calls;
        self.input_tokens += t.input_tokens;
        self.output_tokens += t.output_tokens;
        self.costs.push(t.cost_micros);
        self.duration_ns += i128::from(t.duration_ns());
        self.first_ns = self.first_ns.min(t.start_ns);
        self.last_ns = self.last_ns.max(t.start_ns);
        let day = t.start_ns.div_euclid(NS_PER_DAY);
        if !self.days.contains(&day) {
            self.days.push(day);
        }
        *self.sessions.entry(SessKey::of(t)).or_insert(false) |= t.errored;
        self.eval_pass += t.eval_pass;
        self.eval_total += t.eval_total;
        self.guardrail_traces += i64::from(t.guardrail);
        if let Some(b) = bucket {
            if let Some(x) = self.trend.get_mut(b) {
                *x += 1;
            }
        }
    }

    /// The accumulated numbers as the columns of a user row.
    pub fn totals(&mut self) -> Totals {
        let cost: i64 = self.costs.iter().sum();
        let sessions = self.sessions.len() as i64;
        let errored_sessions = self.sessions.values().filter(|e| **e).count() as i64;
        Totals {
            traces: self.traces,
            sessions,
            errored_sessions,
            error_rate: ratio(errored_sessions as f64, sessions as f64),
            errored_traces: self.errored_traces,
            llm_calls: self.llm_calls,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            total_tokens: self.input_tokens + self.output_tokens,
            cost_usd: usd(cost),
            cost_avg_usd: ratio(cost as f64, self.traces as f64) / 1e6,
            cost_median_usd: median_i64(&mut self.costs).unwrap_or(0.0) / 1e6,
            avg_latency_ms: ratio(self.duration_ns as f64, self.traces as f64) / NS_PER_MS as f64,
            active_days: self.days.len() as i64,
            eval_pass_rate: (self.eval_total > 0).then(|| self.eval_pass as f64 / self.eval_total as f64),
            guardrail_triggers: self.guardrail_traces,
        }
    }
}

/// The numeric columns shared by user rows and the user detail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Totals {
    /// Traces.
    pub traces: i64,
    /// Distinct sessions.
    pub sessions: i64,
    /// Sessions with at least one errored trace.
    pub errored_sessions: i64,
    /// `errored_sessions / sessions`.
    pub error_rate: f64,
    /// Errored traces.
    pub errored_traces: i64,
    /// LLM calls.
    pub llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input + output tokens.
    pub total_tokens: i64,
    /// Cost, USD (sum).
    pub cost_usd: f64,
    /// Mean cost per trace, USD.
    pub cost_avg_usd: f64,
    /// Median cost per trace, USD.
    pub cost_median_usd: f64,
    /// Mean trace duration, ms.
    pub avg_latency_ms: f64,
    /// Distinct UTC dates with a trace.
    pub active_days: i64,
    /// Passed / all evaluations; null without evaluations.
    pub eval_pass_rate: Option<f64>,
    /// Traces with a triggered guardrail.
    pub guardrail_triggers: i64,
}

/// One row of the users table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserRow {
    /// `user.id`.
    pub user_id: String,
    /// `user.id.type`.
    pub user_id_type: String,
    /// Latest `user.email`.
    pub user_email: Option<String>,
    /// First trace in the period.
    pub first_seen: String,
    /// Last trace in the period.
    pub last_seen: String,
    /// Lifetime first trace.
    pub activated_at: Option<String>,
    /// Traces per bucket of the period.
    pub trend: Vec<i64>,
    /// The numeric columns.
    #[serde(flatten)]
    pub totals: Totals,
    /// Latest `user.metadata` (object; `{}` when none).
    pub metadata: Json,
    #[serde(skip)]
    first_ns: i64,
    #[serde(skip)]
    last_ns: i64,
    #[serde(skip)]
    activated_ns: i64,
}

/// Sortable columns: numeric and time columns of a user row (plus `user_id`, `user_email`).
pub const SORT_COLUMNS: &[&str] = &[
    "last_seen",
    "first_seen",
    "activated_at",
    "traces",
    "sessions",
    "errored_sessions",
    "error_rate",
    "errored_traces",
    "llm_calls",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "cost_avg_usd",
    "cost_median_usd",
    "avg_latency_ms",
    "active_days",
    "eval_pass_rate",
    "guardrail_triggers",
    "user_id",
    "user_email",
];

/// Columns that get sum/avg/median rollups.
pub const ROLLUP_COLUMNS: &[&str] = &[
    "traces",
    "sessions",
    "errored_sessions",
    "error_rate",
    "errored_traces",
    "llm_calls",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "cost_avg_usd",
    "cost_median_usd",
    "avg_latency_ms",
    "active_days",
    "eval_pass_rate",
    "guardrail_triggers",
];

impl UserRow {
    /// The numeric value of a column (time columns as unix ns); `None` for null.
    pub fn number(&self, col: &str) -> Option<f64> {
        let t = &self.totals;
        Some(match col {
            "first_seen" => self.first_ns as f64,
            "last_seen" => self.last_ns as f64,
            "activated_at" => self.activated_ns as f64,
            "traces" => t.traces as f64,
            "sessions" => t.sessions as f64,
            "errored_sessions" => t.errored_sessions as f64,
            "error_rate" => t.error_rate,
            "errored_traces" => t.errored_traces as f64,
            "llm_calls" => t.llm_calls as f64,
            "input_tokens" => t.input_tokens as f64,
            "output_tokens" => t.output_tokens as f64,
            "total_tokens" => t.total_tokens as f64,
            "cost_usd" => t.cost_usd,
            "cost_avg_usd" => t.cost_avg_usd,
            "cost_median_usd" => t.cost_median_usd,
            "avg_latency_ms" => t.avg_latency_ms,
            "active_days" => t.active_days as f64,
            "eval_pass_rate" => return t.eval_pass_rate,
            "guardrail_triggers" => t.guardrail_triggers as f64,
            _ => return None,
        })
    }

    /// Last activity in the period, unix ns.
    pub fn last_ns(&self) -> i64 {
        self.last_ns
    }
}

/// Parses `user.metadata` text into an object (`{}` when absent or not an object).
pub fn metadata_json(text: Option<&str>) -> Json {
    match text.and_then(|t| serde_json::from_str::<Json>(t).ok()) {
        Some(v @ Json::Object(_)) => v,
        _ => Json::Object(Default::default()),
    }
}

fn row(u: &UserRec, acc: &mut Acc<'_>) -> UserRow {
    UserRow {
        user_id: u.ident.id.clone(),
        user_id_type: u.ident.id_type.clone(),
        user_email: u.email.clone(),
        first_seen: fmt_time(acc.first_ns),
        last_seen: fmt_time(acc.last_ns),
        activated_at: (u.first_ns != i64::MAX).then(|| fmt_time(u.first_ns)),
        trend: std::mem::take(&mut acc.trend),
        totals: acc.totals(),
        metadata: metadata_json(u.metadata.as_deref()),
        first_ns: acc.first_ns,
        last_ns: acc.last_ns,
        activated_ns: u.first_ns,
    }
}

/// Every user with a trace in `period`, one row each (unsorted).
pub fn user_rows(pd: &ProjectData, period: &Period) -> Vec<UserRow> {
    let buckets = period.bucket_count();
    let mut accs: HashMap<i64, Acc<'_>> = HashMap::new();
    for t in pd.traces.values() {
        let Some(k) = t.user_key else { continue };
        if !period.contains(t.start_ns) {
            continue;
        }
        accs.entry(k).or_insert_with(|| Acc::new(buckets)).add(t, Some(period.bucket_of(t.start_ns)));
    }
    accs.iter_mut().filter_map(|(k, acc)| pd.users.get(k).map(|u| row(u, acc))).collect()
}

/// Search, sort and order for a users listing.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Case-insensitive substring of the user id or e-mail.
    pub q: Option<String>,
    /// One of [`SORT_COLUMNS`].
    pub sort: String,
    /// Descending when true.
    pub desc: bool,
}

/// Keeps the rows matching `q` and sorts them (nulls last, ties by user id then id type).
pub fn filter_sort(mut rows: Vec<UserRow>, lq: &ListQuery) -> Vec<UserRow> {
    if let Some(q) = lq.q.as_deref().map(str::to_lowercase).filter(|q| !q.is_empty()) {
        rows.retain(|r| {
            r.user_id.to_lowercase().contains(&q) || r.user_email.as_deref().is_some_and(|e| e.to_lowercase().contains(&q))
        });
    }
    let tie = |a: &UserRow, b: &UserRow| a.user_id.cmp(&b.user_id).then_with(|| a.user_id_type.cmp(&b.user_id_type));
    match lq.sort.as_str() {
        "user_id" => rows.sort_by(|a, b| if lq.desc { tie(b, a) } else { tie(a, b) }),
        "user_email" => rows.sort_by(|a, b| {
            let o = match (&a.user_email, &b.user_email) {
                (Some(x), Some(y)) => if lq.desc { y.cmp(x) } else { x.cmp(y) },
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            o.then_with(|| tie(a, b))
        }),
        col => rows.sort_by(|a, b| {
            let o = match (a.number(col), b.number(col)) {
                (Some(x), Some(y)) => if lq.desc { y.total_cmp(&x) } else { x.total_cmp(&y) },
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            o.then_with(|| tie(a, b))
        }),
    }
    rows
}

/// Sum, mean and median of one column across users (nulls skipped).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rollup {
    /// Sum.
    pub sum: f64,
    /// Mean; null without values.
    pub avg: Option<f64>,
    /// Median; null without values.
    pub median: Option<f64>,
}

/// Rollups of every [`ROLLUP_COLUMNS`] column across `rows`.
pub fn rollups(rows: &[UserRow]) -> BTreeMap<&'static str, Rollup> {
    ROLLUP_COLUMNS
        .iter()
        .map(|col| {
            let mut v: Vec<f64> = rows.iter().filter_map(|r| r.number(col)).collect();
            let sum: f64 = v.iter().fold(0.0, |a, b| a + b);
            let avg = (!v.is_empty()).then(|| sum / v.len() as f64);
            (*col, Rollup { sum, avg, median: median(&mut v) })
        })
        .collect()
}
