//! Feedback metrics (`docs/design.md`, "Feedback"): the user row's feedback columns, the
//! overview's traces with feedback, and `GET /api/users/{id}/feedback` (summary, trends, score
//! distribution, top keys, records). Records count by their own time; only `end_user` records
//! are user feedback, `evaluator` records are evaluations, `annotator` records are listed only.

use super::period::Period;
use super::ratio;
use crate::feedback::{FeedbackRow, Source};
use crate::model::UserIdent;
use crate::store::index::ProjectData;
use crate::timefmt::fmt_time;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A user's feedback in a period, before the ratios.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UserFeedback {
    /// `end_user` records in the period.
    pub records: i64,
    /// Of which with a value.
    pub scored: i64,
    /// Sum of those values.
    pub score_sum: f64,
    /// `end_user` records in the period with a non-empty comment.
    pub comments: i64,
    /// The user's traces in the period (by start) with ≥ 1 `end_user` record (of any time).
    pub traces_with_feedback: i64,
    /// `evaluator` records in the period that pass.
    pub eval_pass: i64,
    /// `evaluator` records in the period counted as pass or fail.
    pub eval_total: i64,
}

/// The feedback columns of a user row.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct FeedbackCols {
    /// `end_user` records in the period.
    pub feedback_count: i64,
    /// Mean value of those with a value; `null` when none.
    pub avg_feedback_score: Option<f64>,
    /// Traces with ≥ 1 `end_user` record ÷ traces (0 without traces).
    pub feedback_coverage: f64,
    /// Those records with a non-empty comment.
    pub comments: i64,
}

impl UserFeedback {
    /// The row columns, for a user with `traces` traces in the period.
    pub fn cols(&self, traces: i64) -> FeedbackCols {
        FeedbackCols {
            feedback_count: self.records,
            avg_feedback_score: (self.scored > 0).then(|| self.score_sum / self.scored as f64),
            feedback_coverage: ratio(self.traces_with_feedback as f64, traces as f64),
            comments: self.comments,
        }
    }
}

/// The store key of the user a record belongs to, if that user has a record.
fn owner_key(pd: &ProjectData, r: &FeedbackRow) -> Option<i64> {
    if let Some(t) = r.trace_id.and_then(|t| pd.traces.get(&t)) {
        if t.user_key.is_some() {
            return t.user_key;
        }
    }
    r.user.as_ref().and_then(|u| pd.user_keys.get(u).copied())
}

/// Every user's feedback in `period`, by store key (one pass over the project's records).
pub fn per_user(pd: &ProjectData, period: &Period) -> HashMap<i64, UserFeedback> {
    let mut out: HashMap<i64, UserFeedback> = HashMap::new();
    let mut covered: HashSet<[u8; 16]> = HashSet::new();
    for r in pd.feedback.values() {
        let in_period = period.contains(r.time_ns);
        if r.source == Source::EndUser {
            if let Some(t) = r.trace_id.and_then(|t| pd.traces.get(&t)) {
                if let Some(k) = t.user_key.filter(|_| period.contains(t.start_ns)) {
                    if covered.insert(t.trace_id) {
                        out.entry(k).or_default().traces_with_feedback += 1;
                    }
                }
            }
        }
        if !in_period || r.source == Source::Annotator {
            continue;
        }
        let Some(k) = owner_key(pd, r) else { continue };
        let f = out.entry(k).or_default();
        match r.source {
            Source::EndUser => {
                f.records += 1;
                if let Some(v) = r.value {
                    f.scored += 1;
                    f.score_sum += v;
                }
                f.comments += i64::from(r.has_comment());
            }
            Source::Evaluator => {
                if let Some(p) = r.passed() {
                    f.eval_total += 1;
                    f.eval_pass += i64::from(p);
                }
            }
            Source::Annotator => {}
        }
    }
    out
}

/// Traces starting in `period` with ≥ 1 `end_user` record (the overview's
/// `traces_with_feedback`).
pub fn traces_with_feedback(pd: &ProjectData, period: &Period) -> i64 {
    let mut seen: HashSet<[u8; 16]> = HashSet::new();
    for r in pd.feedback.values() {
        if r.source != Source::EndUser {
            continue;
        }
        if let Some(t) = r.trace_id.and_then(|t| pd.traces.get(&t)) {
            if period.contains(t.start_ns) {
                seen.insert(t.trace_id);
            }
        }
    }
    seen.len() as i64
}

/// One record as the API lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordJson {
    /// `userspan.feedback.id`.
    pub id: String,
    /// RFC 3339.
    pub time: String,
    /// `gen_ai.evaluation.name`.
    pub name: String,
    /// The value (a bool as 1 / 0).
    pub value: Option<f64>,
    /// The label.
    pub label: Option<String>,
    /// The comment.
    pub comment: Option<String>,
    /// `end_user`, `annotator` or `evaluator`.
    pub source: &'static str,
    /// Hex.
    pub trace_id: Option<String>,
    /// Hex.
    pub span_id: Option<String>,
    /// The trace's session, once the trace is stored.
    pub session_id: Option<String>,
}

/// `r` as the API lists it.
pub fn record_json(pd: &ProjectData, r: &FeedbackRow) -> RecordJson {
    RecordJson {
        id: r.id.to_string(),
        time: fmt_time(r.time_ns),
        name: r.name.clone(),
        value: r.value,
        label: r.label.clone(),
        comment: r.comment.clone(),
        source: r.source.as_str(),
        trace_id: r.trace_id.map(hex::encode),
        span_id: r.span_id.map(hex::encode),
        session_id: r.trace_id.and_then(|t| pd.traces.get(&t)).map(|t| t.session_id()),
    }
}

/// Latest first, ties by id.
fn latest_first(a: &FeedbackRow, b: &FeedbackRow) -> std::cmp::Ordering {
    b.time_ns.cmp(&a.time_ns).then_with(|| a.id.cmp(&b.id))
}

/// A trace's or session's evaluations: span events and `evaluator` records.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Evaluations {
    /// Passed.
    pub passed: i64,
    /// Failed.
    pub failed: i64,
}

/// A trace's or session's `end_user` records (any time).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct FeedbackSummary {
    /// Records.
    pub records: i64,
    /// Mean value of those with one; `null` when none.
    pub avg_score: Option<f64>,
    /// Records with a non-empty comment.
    pub comments: i64,
}

/// Adds up the evaluations and user feedback of traces (their span events and records).
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceFeedback {
    evals: Evaluations,
    records: i64,
    scored: i64,
    sum: f64,
    comments: i64,
}

impl TraceFeedback {
    /// Adds one trace: `eval_pass` / `eval_total` of its span events, and its records.
    pub fn add(&mut self, pd: &ProjectData, trace_id: &[u8; 16], eval_pass: i64, eval_total: i64) {
        self.evals.passed += eval_pass;
        self.evals.failed += eval_total - eval_pass;
        for r in pd.feedback_of(trace_id) {
            match r.source {
                Source::Evaluator => match r.passed() {
                    Some(true) => self.evals.passed += 1,
                    Some(false) => self.evals.failed += 1,
                    None => {}
                },
                Source::EndUser => {
                    self.records += 1;
                    if let Some(v) = r.value {
                        self.scored += 1;
                        self.sum += v;
                    }
                    self.comments += i64::from(r.has_comment());
                }
                Source::Annotator => {}
            }
        }
    }

    /// `evaluations` of the row.
    pub fn evaluations(&self) -> Evaluations {
        self.evals
    }

    /// `feedback` of the row.
    pub fn feedback(&self) -> FeedbackSummary {
        FeedbackSummary {
            records: self.records,
            avg_score: (self.scored > 0).then(|| self.sum / self.scored as f64),
            comments: self.comments,
        }
    }
}

/// A trace row's `feedback_records`: its 10 latest records of every source.
pub fn latest_records(pd: &ProjectData, trace_id: &[u8; 16]) -> Vec<RecordJson> {
    let mut v: Vec<&FeedbackRow> = pd.feedback_of(trace_id).collect();
    v.sort_by(|a, b| latest_first(a, b));
    v.into_iter().take(10).map(|r| record_json(pd, r)).collect()
}

/// Which records `GET /api/users/{id}/feedback` reads.
#[derive(Debug, Clone)]
pub struct FeedbackQuery {
    /// The period (records by their time; traces by their start).
    pub period: Period,
    /// `None`: every source (`all`).
    pub source: Option<Source>,
    /// Only this `name`.
    pub name: Option<String>,
    /// Only this trace.
    pub trace_id: Option<[u8; 16]>,
    /// Page size.
    pub limit: usize,
    /// Page start.
    pub offset: usize,
}

/// `{label, count}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabelCount {
    /// Label.
    pub label: String,
    /// Records.
    pub count: i64,
}

/// `summary`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Records.
    pub records: i64,
    /// Records with a value.
    pub scored: i64,
    /// Mean value; `null` without scored records.
    pub avg_score: Option<f64>,
    /// Records with a non-empty comment.
    pub comments: i64,
    /// The user's traces in the period.
    pub traces: i64,
    /// Of which with ≥ 1 record of the source (any time).
    pub traces_with_feedback: i64,
    /// `traces_with_feedback / traces` (0 without traces).
    pub coverage: f64,
    /// Records per label, most first, then label.
    pub labels: Vec<LabelCount>,
}

/// One `trends` bucket.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    /// Bucket start.
    pub start: String,
    /// Records.
    pub records: i64,
    /// Mean value; `null` without scores in the bucket.
    pub avg_score: Option<f64>,
    /// Records with a comment (comment momentum).
    pub comments: i64,
}

/// One score bin `[from, to)` (the last one closed).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bin {
    /// Lower bound.
    pub from: f64,
    /// Upper bound.
    pub to: f64,
    /// Values in the bin.
    pub count: i64,
}

/// `distribution`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distribution {
    /// Bins over the values.
    pub bins: Vec<Bin>,
    /// Records per label.
    pub labels: Vec<LabelCount>,
}

/// One of `top_keys`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopKey {
    /// `name`.
    pub name: String,
    /// Records.
    pub records: i64,
    /// Mean value; `null` without scores.
    pub avg_score: Option<f64>,
    /// Records with a comment.
    pub comments: i64,
}

/// The answer of `GET /api/users/{id}/feedback` (without the identity, period and paging
/// fields, which the handler adds).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserFeedbackAnswer {
    /// Summary.
    pub summary: Summary,
    /// Per bucket.
    pub trends: Vec<TrendPoint>,
    /// Score distribution.
    pub distribution: Distribution,
    /// Per name, at most 20.
    pub top_keys: Vec<TopKey>,
    /// The page, latest first.
    pub records: Vec<RecordJson>,
    /// Records in all pages.
    pub total: usize,
}

fn label_counts(rows: &[&FeedbackRow]) -> Vec<LabelCount> {
    let mut m: HashMap<&str, i64> = HashMap::new();
    for r in rows {
        if let Some(l) = &r.label {
            *m.entry(l.as_str()).or_default() += 1;
        }
    }
    let mut v: Vec<LabelCount> =
        m.into_iter().map(|(label, count)| LabelCount { label: label.into(), count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    v
}

/// The fixed bins of `values` (`docs/design.md`, "Feedback", distribution).
pub fn bins(values: &[f64]) -> Vec<Bin> {
    if values.is_empty() {
        return Vec::new();
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // (lower bound of the first bin, bins per unit, bins); the last bin is closed.
    let (lo, scale, n) = if min >= 0.0 && max <= 1.0 {
        (0.0, 10.0, 10)
    } else if max.floor() - min.floor() < 20.0 {
        (min.floor(), 1.0, (max.floor() - min.floor()) as usize + 1)
    } else {
        (min, 20.0 / (max - min), 20)
    };
    let edge = |k: usize| if n == 20 && k == n { max } else { lo + k as f64 / scale };
    let edges: Vec<(f64, f64)> = (0..n).map(|k| (edge(k), edge(k + 1))).collect();
    let index = |v: f64| (((v - lo) * scale).floor().max(0.0) as usize).min(n - 1);
    let mut counts = vec![0i64; edges.len()];
    for v in values {
        counts[index(*v)] += 1;
    }
    edges.into_iter().zip(counts).map(|((from, to), count)| Bin { from, to, count }).collect()
}

/// `GET /api/users/{id}/feedback` for the user `ident` (store key `key`, when they have a user
/// record): their records of `q.source` in the period, with `q.name` / `q.trace_id` if given.
pub fn user_feedback(pd: &ProjectData, ident: &UserIdent, key: Option<i64>, q: &FeedbackQuery) -> UserFeedbackAnswer {
    let matches = |r: &FeedbackRow| {
        q.source.is_none_or(|s| r.source == s)
            && q.name.as_deref().is_none_or(|n| r.name == n)
            && q.trace_id.is_none_or(|t| r.trace_id == Some(t))
            && pd.feedback_owner(r) == Some(ident)
    };
    let mine: Vec<&FeedbackRow> = pd.feedback.values().filter(|r| matches(r)).collect();
    let mut rows: Vec<&FeedbackRow> = mine.iter().copied().filter(|r| q.period.contains(r.time_ns)).collect();
    rows.sort_by(|a, b| latest_first(a, b));
    // The user's traces in the period, and those with a record (any time).
    let (mut traces, mut with) = (0i64, 0i64);
    if let Some(k) = key {
        let fed: HashSet<[u8; 16]> = mine.iter().filter_map(|r| r.trace_id).collect();
        for t in pd.traces_of_user(k) {
            if q.period.contains(t.start_ns) && q.trace_id.is_none_or(|x| x == t.trace_id) {
                traces += 1;
                with += i64::from(fed.contains(&t.trace_id));
            }
        }
    }
    let values: Vec<f64> = rows.iter().filter_map(|r| r.value).collect();
    let comments = rows.iter().filter(|r| r.has_comment()).count() as i64;
    let labels = label_counts(&rows);
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let nb = q.period.bucket_count();
    let mut buckets: Vec<(i64, Vec<f64>, i64)> = vec![(0, Vec::new(), 0); nb];
    for r in &rows {
        if let Some(b) = buckets.get_mut(q.period.bucket_of(r.time_ns)) {
            b.0 += 1;
            if let Some(v) = r.value {
                b.1.push(v);
            }
            b.2 += i64::from(r.has_comment());
        }
    }
    let trends = buckets
        .iter()
        .enumerate()
        .map(|(i, (n, v, c))| TrendPoint {
            start: q.period.bucket_start(i),
            records: *n,
            avg_score: mean(v),
            comments: *c,
        })
        .collect();
    let mut keys: BTreeMap<&str, (i64, Vec<f64>, i64)> = BTreeMap::new();
    for r in &rows {
        let e = keys.entry(r.name.as_str()).or_default();
        e.0 += 1;
        if let Some(v) = r.value {
            e.1.push(v);
        }
        e.2 += i64::from(r.has_comment());
    }
    let mut top_keys: Vec<TopKey> = keys
        .into_iter()
        .map(|(name, (n, v, c))| TopKey { name: name.into(), records: n, avg_score: mean(&v), comments: c })
        .collect();
    top_keys.sort_by(|a, b| b.records.cmp(&a.records).then_with(|| a.name.cmp(&b.name)));
    top_keys.truncate(20);
    let total = rows.len();
    UserFeedbackAnswer {
        summary: Summary {
            records: total as i64,
            scored: values.len() as i64,
            avg_score: mean(&values),
            comments,
            traces,
            traces_with_feedback: with,
            coverage: ratio(with as f64, traces as f64),
            labels: labels.clone(),
        },
        trends,
        distribution: Distribution { bins: bins(&values), labels },
        top_keys,
        records: rows.iter().skip(q.offset).take(q.limit).map(|r| record_json(pd, r)).collect(),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_the_three_rules() {
        let b = bins(&[0.0, 0.05, 0.95, 1.0]);
        assert_eq!(b.len(), 10);
        assert_eq!((b[0].count, b[9].count, b[3].from, b[9].to), (2, 2, 0.3, 1.0));
        let b = bins(&[1.0, 2.0, 5.0, 5.0]);
        assert_eq!(
            b.iter().map(|x| (x.from, x.count)).collect::<Vec<_>>(),
            vec![(1.0, 1), (2.0, 1), (3.0, 0), (4.0, 0), (5.0, 2)]
        );
        let b = bins(&[0.0, 100.0, 50.0]);
        assert_eq!((b.len(), b[0].count, b[10].count, b[19].count, b[19].to), (20, 1, 1, 1, 100.0));
        assert!(bins(&[]).is_empty());
    }
}
