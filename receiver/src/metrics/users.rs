//! User rows for a period, search, sort, pagination and the column rollups (sum, avg, median).

use super::period::{Bucketer, DayOf, Period};
use super::{median, median_i64, ratio, usd, SessKey};
use crate::model::TraceRec;
use crate::store::index::{ProjectData, NO_USER};
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
    /// Spans (observations).
    pub spans: i64,
    /// LLM calls.
    pub llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cost per trace, micro-USD.
    pub costs: Vec<i64>,
    /// The estimated part of the cost, micro-USD.
    pub estimated_cost: i64,
    /// LLM calls with usage but no known price.
    pub unpriced_llm_calls: i64,
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
    /// Adds one trace.
    pub fn add(&mut self, t: &'a TraceRec, bucket: Option<usize>) {
        self.traces += 1;
        self.errored_traces += i64::from(t.errored);
        self.spans += t.span_count;
        self.llm_calls += t.llm_calls;
        self.input_tokens += t.input_tokens;
        self.output_tokens += t.output_tokens;
        self.costs.push(t.cost_micros);
        self.estimated_cost += t.estimated_cost_micros;
        self.unpriced_llm_calls += t.unpriced_llm_calls;
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
            spans: self.spans,
            llm_calls: self.llm_calls,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            total_tokens: self.input_tokens + self.output_tokens,
            cost_usd: usd(cost),
            estimated_cost_usd: usd(self.estimated_cost),
            unpriced_llm_calls: self.unpriced_llm_calls,
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
    /// Spans (observations) of the traces.
    pub spans: i64,
    /// LLM calls.
    pub llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input + output tokens.
    pub total_tokens: i64,
    /// Cost, USD (sum): reported plus estimated (list price) cost.
    pub cost_usd: f64,
    /// The estimated (list price) part of `cost_usd`, USD.
    pub estimated_cost_usd: f64,
    /// LLM calls with usage but no known price (their cost is not in `cost_usd`).
    pub unpriced_llm_calls: i64,
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

/// One row of the users table. Times are kept as unix ns and formatted (RFC 3339) only when
/// the row is serialized, so listing many users and returning a page stays cheap.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserRow {
    /// `user.id`.
    pub user_id: String,
    /// `user.id.type`.
    pub user_id_type: String,
    /// Latest `user.email`.
    pub user_email: Option<String>,
    /// First trace in the period.
    #[serde(serialize_with = "ser_time")]
    pub first_seen: i64,
    /// Last trace in the period.
    #[serde(serialize_with = "ser_time")]
    pub last_seen: i64,
    /// Lifetime first trace.
    #[serde(serialize_with = "ser_opt_time")]
    pub activated_at: Option<i64>,
    /// Traces per bucket of the period.
    pub trend: Vec<i64>,
    /// The numeric columns.
    #[serde(flatten)]
    pub totals: Totals,
    /// The feedback columns (`docs/design.md`, "Feedback").
    #[serde(flatten)]
    pub feedback: super::feedback::FeedbackCols,
    /// The user's feedback before the ratios (cohorts add them up).
    #[serde(skip)]
    pub feedback_raw: super::feedback::UserFeedback,
    /// Latest `user.metadata` (serialized as an object; `{}` when none).
    #[serde(serialize_with = "ser_metadata")]
    pub metadata: Option<String>,
}

fn ser_time<S: serde::Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_time(*ns))
}

fn ser_opt_time<S: serde::Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ns {
        Some(ns) => s.serialize_str(&fmt_time(*ns)),
        None => s.serialize_none(),
    }
}

fn ser_metadata<S: serde::Serializer>(m: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    metadata_json(m.as_deref()).serialize(s)
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
    "spans",
    "llm_calls",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "estimated_cost_usd",
    "unpriced_llm_calls",
    "cost_avg_usd",
    "cost_median_usd",
    "avg_latency_ms",
    "active_days",
    "eval_pass_rate",
    "guardrail_triggers",
    "feedback_count",
    "avg_feedback_score",
    "feedback_coverage",
    "comments",
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
    "spans",
    "llm_calls",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "estimated_cost_usd",
    "unpriced_llm_calls",
    "cost_avg_usd",
    "cost_median_usd",
    "avg_latency_ms",
    "active_days",
    "eval_pass_rate",
    "guardrail_triggers",
    "feedback_count",
    "avg_feedback_score",
    "feedback_coverage",
    "comments",
];

impl UserRow {
    /// The latest `user.metadata` as a JSON object (`{}` when none or not an object).
    pub fn metadata_object(&self) -> Json {
        metadata_json(self.metadata.as_deref())
    }

    /// The numeric value of a column (time columns as unix ns); `None` for null.
    pub fn number(&self, col: &str) -> Option<f64> {
        column(col).and_then(|f| f(self))
    }
}

/// Reads one numeric column of a row.
type Column = fn(&UserRow) -> Option<f64>;

/// The reader of a numeric or time column (`None` for other names), resolved once per listing
/// instead of once per row.
fn column(col: &str) -> Option<Column> {
    Some(match col {
        "first_seen" => |r| Some(r.first_seen as f64),
        "last_seen" => |r| Some(r.last_seen as f64),
        "activated_at" => |r| r.activated_at.map(|n| n as f64),
        "traces" => |r| Some(r.totals.traces as f64),
        "sessions" => |r| Some(r.totals.sessions as f64),
        "errored_sessions" => |r| Some(r.totals.errored_sessions as f64),
        "error_rate" => |r| Some(r.totals.error_rate),
        "errored_traces" => |r| Some(r.totals.errored_traces as f64),
        "spans" => |r| Some(r.totals.spans as f64),
        "llm_calls" => |r| Some(r.totals.llm_calls as f64),
        "input_tokens" => |r| Some(r.totals.input_tokens as f64),
        "output_tokens" => |r| Some(r.totals.output_tokens as f64),
        "total_tokens" => |r| Some(r.totals.total_tokens as f64),
        "cost_usd" => |r| Some(r.totals.cost_usd),
        "estimated_cost_usd" => |r| Some(r.totals.estimated_cost_usd),
        "unpriced_llm_calls" => |r| Some(r.totals.unpriced_llm_calls as f64),
        "cost_avg_usd" => |r| Some(r.totals.cost_avg_usd),
        "cost_median_usd" => |r| Some(r.totals.cost_median_usd),
        "avg_latency_ms" => |r| Some(r.totals.avg_latency_ms),
        "active_days" => |r| Some(r.totals.active_days as f64),
        "eval_pass_rate" => |r| r.totals.eval_pass_rate,
        "guardrail_triggers" => |r| Some(r.totals.guardrail_triggers as f64),
        "feedback_count" => |r| Some(r.feedback.feedback_count as f64),
        "avg_feedback_score" => |r| r.feedback.avg_feedback_score,
        "feedback_coverage" => |r| Some(r.feedback.feedback_coverage),
        "comments" => |r| Some(r.feedback.comments as f64),
        _ => return None,
    })
}

/// Parses `user.metadata` text into an object (`{}` when absent or not an object).
pub fn metadata_json(text: Option<&str>) -> Json {
    match text.and_then(|t| serde_json::from_str::<Json>(t).ok()) {
        Some(v @ Json::Object(_)) => v,
        _ => Json::Object(Default::default()),
    }
}

#[derive(Default)]
struct ScanAcc {
    user: u32,
    traces: i64,
    errored_traces: i64,
    spans: i64,
    llm_calls: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost: i64,
    estimated_cost: i64,
    unpriced_llm_calls: i64,
    duration_ns: i128,
    first_ns: i64,
    last_ns: i64,
    last_day: i64,
    active_days: i64,
    sessions: i64,
    errored_sessions: i64,
    eval_pass: i64,
    eval_total: i64,
    guardrail_traces: i64,
}

/// Every user with a trace in `period`, one row each (unsorted). One pass over the period's
/// compact trace records in start order, with dense arrays for users and sessions.
pub fn user_rows(pd: &ProjectData, period: &Period) -> Vec<UserRow> {
    let nb = period.bucket_count();
    let mut acc_of = vec![u32::MAX; pd.user_key_of.len()];
    let mut accs: Vec<ScanAcc> = Vec::new();
    let mut trend: Vec<i64> = Vec::new();
    let mut us_state = vec![0u8; pd.n_user_sess as usize];
    let mut costs: Vec<(u32, i64)> = Vec::new();
    let mut bucketer = Bucketer::new(period);
    let mut day_of = DayOf::default();
    for (start, t) in pd.lite_range(period.from_ns, period.to_ns) {
        if t.user == NO_USER {
            continue;
        }
        let mut a = acc_of[t.user as usize];
        if a == u32::MAX {
            a = accs.len() as u32;
            acc_of[t.user as usize] = a;
            accs.push(ScanAcc { user: t.user, first_ns: start, last_day: i64::MIN, ..Default::default() });
            trend.resize(trend.len() + nb, 0);
        }
        let acc = &mut accs[a as usize];
        acc.traces += 1;
        acc.errored_traces += i64::from(t.errored);
        acc.spans += i64::from(t.spans);
        acc.llm_calls += i64::from(t.llm_calls);
        acc.input_tokens += t.input_tokens;
        acc.output_tokens += t.output_tokens;
        acc.cost += t.cost_micros;
        acc.estimated_cost += t.estimated_cost_micros;
        acc.unpriced_llm_calls += i64::from(t.unpriced_llm_calls);
        acc.duration_ns += i128::from(t.duration_ns);
        acc.last_ns = start;
        let day = day_of.of(start);
        if day != acc.last_day {
            acc.last_day = day;
            acc.active_days += 1;
        }
        let st = &mut us_state[t.user_sess as usize];
        if *st & 1 == 0 {
            *st |= 1;
            acc.sessions += 1;
        }
        if t.errored && *st & 2 == 0 {
            *st |= 2;
            acc.errored_sessions += 1;
        }
        acc.eval_pass += i64::from(t.eval_pass);
        acc.eval_total += i64::from(t.eval_total);
        acc.guardrail_traces += i64::from(t.guardrail);
        trend[a as usize * nb + bucketer.of(start)] += 1;
        costs.push((a, t.cost_micros));
    }
    // Per-user medians: the costs grouped by user (counting sort), then a selection per user.
    let mut at: Vec<usize> = Vec::with_capacity(accs.len() + 1);
    let mut n = 0usize;
    for acc in &accs {
        at.push(n);
        n += acc.traces as usize;
    }
    let mut grouped = vec![0i64; costs.len()];
    let mut fill = at.clone();
    for &(a, c) in &costs {
        grouped[fill[a as usize]] = c;
        fill[a as usize] += 1;
    }
    drop(costs);
    at.push(n);
    let medians: Vec<f64> = at.windows(2).map(|w| median_i64(&mut grouped[w[0]..w[1]]).unwrap_or(0.0)).collect();
    let feedback = super::feedback::per_user(pd, period);
    accs.iter()
        .enumerate()
        .filter_map(|(ai, acc)| {
            let key = pd.user_key_of[acc.user as usize];
            let u = pd.users.get(&key)?;
            let fb = feedback.get(&key).copied().unwrap_or_default();
            // Evaluations: the traces' span events and the user's evaluator records.
            let (eval_pass, eval_total) = (acc.eval_pass + fb.eval_pass, acc.eval_total + fb.eval_total);
            Some(UserRow {
                user_id: u.ident.id.clone(),
                user_id_type: u.ident.id_type.clone(),
                user_email: u.email.clone(),
                first_seen: acc.first_ns,
                last_seen: acc.last_ns,
                activated_at: (u.first_ns != i64::MAX).then_some(u.first_ns),
                trend: trend[ai * nb..(ai + 1) * nb].to_vec(),
                totals: Totals {
                    traces: acc.traces,
                    sessions: acc.sessions,
                    errored_sessions: acc.errored_sessions,
                    error_rate: ratio(acc.errored_sessions as f64, acc.sessions as f64),
                    errored_traces: acc.errored_traces,
                    spans: acc.spans,
                    llm_calls: acc.llm_calls,
                    input_tokens: acc.input_tokens,
                    output_tokens: acc.output_tokens,
                    total_tokens: acc.input_tokens + acc.output_tokens,
                    cost_usd: usd(acc.cost),
                    estimated_cost_usd: usd(acc.estimated_cost),
                    unpriced_llm_calls: acc.unpriced_llm_calls,
                    cost_avg_usd: ratio(acc.cost as f64, acc.traces as f64) / 1e6,
                    cost_median_usd: medians[ai] / 1e6,
                    avg_latency_ms: ratio(acc.duration_ns as f64, acc.traces as f64) / NS_PER_MS as f64,
                    active_days: acc.active_days,
                    eval_pass_rate: (eval_total > 0).then(|| eval_pass as f64 / eval_total as f64),
                    guardrail_triggers: acc.guardrail_traces,
                },
                feedback: fb.cols(acc.traces),
                feedback_raw: fb,
                metadata: u.metadata.clone(),
            })
        })
        .collect()
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
            r.user_id.to_lowercase().contains(&q)
                || r.user_email.as_deref().is_some_and(|e| e.to_lowercase().contains(&q))
        });
    }
    let tie = |a: &UserRow, b: &UserRow| a.user_id.cmp(&b.user_id).then_with(|| a.user_id_type.cmp(&b.user_id_type));
    match lq.sort.as_str() {
        "user_id" => rows.sort_by(|a, b| if lq.desc { tie(b, a) } else { tie(a, b) }),
        "user_email" => rows.sort_by(|a, b| {
            let o = match (&a.user_email, &b.user_email) {
                (Some(x), Some(y)) => {
                    if lq.desc {
                        y.cmp(x)
                    } else {
                        x.cmp(y)
                    }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            o.then_with(|| tie(a, b))
        }),
        col => {
            // Sort keys computed once per row, and small (key, position) pairs sorted instead of
            // the rows themselves; then the rows are moved once into that order.
            let f = column(col).unwrap_or(|_| None);
            let mut keyed: Vec<(Option<f64>, u32)> = rows.iter().enumerate().map(|(i, r)| (f(r), i as u32)).collect();
            keyed.sort_by(|(ka, ia), (kb, ib)| {
                let o = match (ka, kb) {
                    (Some(x), Some(y)) => {
                        if lq.desc {
                            y.total_cmp(x)
                        } else {
                            x.total_cmp(y)
                        }
                    }
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                };
                o.then_with(|| tie(&rows[*ia as usize], &rows[*ib as usize]))
            });
            let mut slots: Vec<Option<UserRow>> = rows.into_iter().map(Some).collect();
            return keyed.into_iter().filter_map(|(_, i)| slots[i as usize].take()).collect();
        }
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
            let f = column(col).unwrap_or(|_| None);
            let mut v: Vec<f64> = rows.iter().filter_map(f).collect();
            let sum: f64 = v.iter().fold(0.0, |a, b| a + b);
            let avg = (!v.is_empty()).then(|| sum / v.len() as f64);
            (*col, Rollup { sum, avg, median: median(&mut v) })
        })
        .collect()
}

/// One `filter` of `GET /api/users` (`docs/design.md`, "Users-list filters").
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `COLUMN OP NUMBER` on a numeric column ([`FILTER_COLUMNS`]); a `null` matches nothing.
    Range {
        /// The column's reader.
        col: &'static str,
        /// The operator.
        op: Op,
        /// The finite number.
        value: f64,
    },
    /// `user_id_type=VALUE` / `!=`.
    IdType {
        /// `=` (true) or `!=`.
        eq: bool,
        /// An allowed id type.
        value: String,
    },
    /// `metadata.KEY=VALUE` / `!=` on the latest `user.metadata` (a string as it is, other JSON
    /// as JSON text; a missing key equals nothing).
    Metadata {
        /// The key.
        key: String,
        /// `=` (true) or `!=`.
        eq: bool,
        /// The value.
        value: String,
    },
}

/// A range operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Eq,
    /// `!=`
    Ne,
}

/// The numeric columns a range filter may name: every [`ROLLUP_COLUMNS`] column.
pub const FILTER_COLUMNS: &[&str] = ROLLUP_COLUMNS;

/// Parses one `filter` value; the error names it and what is allowed.
pub fn parse_filter(text: &str) -> Result<Filter, String> {
    let bad = |why: String| format!("filter {text:?}: {why}");
    let allowed = || format!("numeric columns: {}; or user_id_type, metadata.KEY", FILTER_COLUMNS.join(", "));
    // The first operator in the text; two-character ones before their one-character prefixes.
    let pos = text
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| bad(format!("no operator (one of <, <=, >, >=, =, !=; {})", allowed())))?;
    let (name, rest) = text.split_at(pos);
    let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix("!=") {
        (Op::Ne, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Op::Lt, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (Op::Eq, v)
    } else {
        return Err(bad("no operator (one of <, <=, >, >=, =, !=)".into()));
    };
    let name = name.trim();
    let eq_only = |what: &str| -> Result<bool, String> {
        match op {
            Op::Eq => Ok(true),
            Op::Ne => Ok(false),
            _ => Err(bad(format!("{what} takes = or != only"))),
        }
    };
    if name == "user_id_type" {
        let eq = eq_only("user_id_type")?;
        let v = value.trim();
        if !userspan::conventions::USER_ID_TYPES.contains(&v) {
            return Err(bad(format!(
                "user_id_type must be one of {}, got {v:?}",
                userspan::conventions::USER_ID_TYPES.join(", ")
            )));
        }
        return Ok(Filter::IdType { eq, value: v.to_string() });
    }
    if let Some(key) = name.strip_prefix("metadata.") {
        if key.is_empty() {
            return Err(bad("metadata.KEY needs a key".into()));
        }
        let eq = eq_only("metadata.KEY")?;
        return Ok(Filter::Metadata { key: key.to_string(), eq, value: value.to_string() });
    }
    let Some(col) = FILTER_COLUMNS.iter().find(|c| **c == name) else {
        return Err(bad(format!("unknown column {name:?} ({})", allowed())));
    };
    let value: f64 = value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| bad(format!("{value:?} is not a finite number")))?;
    Ok(Filter::Range { col, op, value })
}

impl Filter {
    /// Whether `row` passes.
    pub fn matches(&self, row: &UserRow) -> bool {
        match self {
            Filter::Range { col, op, value } => {
                let Some(x) = row.number(col) else { return false };
                match op {
                    Op::Lt => x < *value,
                    Op::Le => x <= *value,
                    Op::Gt => x > *value,
                    Op::Ge => x >= *value,
                    Op::Eq => x == *value,
                    Op::Ne => x != *value,
                }
            }
            Filter::IdType { eq, value } => (row.user_id_type == *value) == *eq,
            Filter::Metadata { key, eq, value } => {
                let md = row.metadata_object();
                let got = md.get(key).filter(|v| !v.is_null()).map(|v| match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                });
                match got {
                    Some(g) => (g == *value) == *eq,
                    None => !*eq,
                }
            }
        }
    }
}
