//! Cohorts (seed 002: "segment behaviour and compare cohorts"): the users of a period grouped by
//! the value of one `user.metadata` key, with their per-user metrics aggregated per value.

use super::users::UserRow;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

/// One cohort: the users whose latest `user.metadata[key]` is `value` (`None`: key not set).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cohort {
    /// The metadata value (JSON text for non-strings), `null` for users without the key.
    pub value: Option<String>,
    /// Users in the cohort.
    pub users: i64,
    /// Traces of those users in the period.
    pub traces: i64,
    /// traces / users.
    pub traces_per_user: f64,
    /// Sessions.
    pub sessions: i64,
    /// Sessions with ≥ 1 errored trace.
    pub errored_sessions: i64,
    /// errored_sessions / sessions (0 without sessions).
    pub error_rate: f64,
    /// Total cost, USD.
    pub cost_usd: f64,
    /// The estimated (list price) part of `cost_usd`, USD.
    pub estimated_cost_usd: f64,
    /// LLM calls with usage but no known price.
    pub unpriced_llm_calls: i64,
    /// cost_usd / users, USD.
    pub cost_per_user_usd: f64,
    /// Total tokens.
    pub total_tokens: i64,
    /// total_tokens / users.
    pub tokens_per_user: f64,
    /// LLM calls.
    pub llm_calls: i64,
    /// Mean trace duration across the cohort's traces, ms.
    pub avg_latency_ms: f64,
    /// Mean of the users' evaluation pass rates (users without evaluations are left out); `null`
    /// when no user of the cohort has evaluations.
    pub eval_pass_rate: Option<f64>,
    /// Traces with a triggered guardrail.
    pub guardrail_triggers: i64,
    /// The users' `end_user` feedback records in the period.
    pub feedback_count: i64,
    /// Mean value of the users' scored `end_user` records in the period; `null` if none.
    pub avg_feedback_score: Option<f64>,
    /// The cohort's traces with feedback ÷ its traces (0 without traces).
    pub feedback_coverage: f64,
}

/// Every `user.metadata` key seen on the rows, sorted.
pub fn keys(rows: &[UserRow]) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for r in rows {
        if let Json::Object(m) = r.metadata_object() {
            keys.extend(m.keys().cloned());
        }
    }
    keys.into_iter().collect()
}

/// Groups `rows` by `metadata[key]`; cohorts sorted by user count (desc), then value; the
/// "not set" cohort last.
pub fn cohorts(rows: &[UserRow], key: &str) -> Vec<Cohort> {
    let mut groups: BTreeMap<Option<String>, Vec<&UserRow>> = BTreeMap::new();
    for r in rows {
        let md = r.metadata_object();
        let value = md.get(key).filter(|v| !v.is_null()).map(|v| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        });
        groups.entry(value).or_default().push(r);
    }
    let mut out: Vec<Cohort> = groups
        .into_iter()
        .map(|(value, users)| {
            let n = users.len() as i64;
            let sum = |f: &dyn Fn(&UserRow) -> i64| users.iter().map(|u| f(u)).sum::<i64>();
            let traces = sum(&|u| u.totals.traces);
            let sessions = sum(&|u| u.totals.sessions);
            let errored_sessions = sum(&|u| u.totals.errored_sessions);
            let cost_usd: f64 = users.iter().map(|u| u.totals.cost_usd).sum();
            let total_tokens = sum(&|u| u.totals.total_tokens);
            let latency_weighted: f64 = users.iter().map(|u| u.totals.avg_latency_ms * u.totals.traces as f64).sum();
            let rates: Vec<f64> = users.iter().filter_map(|u| u.totals.eval_pass_rate).collect();
            Cohort {
                value,
                users: n,
                traces,
                traces_per_user: traces as f64 / n as f64,
                sessions,
                errored_sessions,
                error_rate: if sessions > 0 { errored_sessions as f64 / sessions as f64 } else { 0.0 },
                cost_usd,
                estimated_cost_usd: users.iter().map(|u| u.totals.estimated_cost_usd).sum(),
                unpriced_llm_calls: sum(&|u| u.totals.unpriced_llm_calls),
                cost_per_user_usd: cost_usd / n as f64,
                total_tokens,
                tokens_per_user: total_tokens as f64 / n as f64,
                llm_calls: sum(&|u| u.totals.llm_calls),
                avg_latency_ms: if traces > 0 { latency_weighted / traces as f64 } else { 0.0 },
                eval_pass_rate: (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
                guardrail_triggers: sum(&|u| u.totals.guardrail_triggers),
                feedback_count: sum(&|u| u.feedback_raw.records),
                avg_feedback_score: {
                    let scored = sum(&|u| u.feedback_raw.scored);
                    let total: f64 = users.iter().map(|u| u.feedback_raw.score_sum).sum();
                    (scored > 0).then(|| total / scored as f64)
                },
                feedback_coverage: if traces > 0 {
                    sum(&|u| u.feedback_raw.traces_with_feedback) as f64 / traces as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    out.sort_by(|a, b| (a.value.is_none(), -a.users, &a.value).cmp(&(b.value.is_none(), -b.users, &b.value)));
    out
}
