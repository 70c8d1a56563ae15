//! A user's lifetime detail (totals, 30-day activity, model/provider/tool breakdowns), their
//! sessions and their traces.

use super::period::Period;
use super::users::{metadata_json, Acc, Totals};
use super::{usd, SessKey};
use crate::model::{TagsMetadata, TraceRec, UserRec};
use crate::store::index::ProjectData;
use crate::timefmt::{floor_to, fmt_date, fmt_time, NS_PER_DAY, NS_PER_MS};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Tags listed in a user's detail at most (the most used).
pub const DETAIL_TAGS: usize = 20;

/// Finds a user by id and optional id type; without a type and with several matches, the one
/// seen most recently.
pub fn find_user<'a>(pd: &'a ProjectData, id: &str, id_type: Option<&str>) -> Option<&'a UserRec> {
    pd.users_with_id(id)
        .filter(|u| id_type.is_none_or(|t| u.ident.id_type == t))
        .max_by(|a, b| a.last_ns.cmp(&b.last_ns).then_with(|| b.ident.id_type.cmp(&a.ident.id_type)))
}

fn user_traces<'a>(pd: &'a ProjectData, u: &UserRec) -> Vec<&'a TraceRec> {
    pd.traces_of_user(u.key).collect()
}

/// One day of the activity series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayPoint {
    /// UTC date.
    pub date: String,
    /// Traces started that day.
    pub traces: i64,
    /// Of which errored.
    pub errored_traces: i64,
    /// Distinct sessions.
    pub sessions: i64,
    /// Tokens.
    pub total_tokens: i64,
    /// Cost, USD.
    pub cost_usd: f64,
}

/// Usage of one model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelRow {
    /// Model.
    pub model: String,
    /// Traces using it (once per trace).
    pub traces: i64,
    /// Input tokens of its spans.
    pub input_tokens: i64,
    /// Output tokens of its spans.
    pub output_tokens: i64,
    /// Input + output.
    pub total_tokens: i64,
    /// Cost of its spans, USD (reported + estimated).
    pub cost_usd: f64,
    /// The estimated (list price) part of `cost_usd`, USD.
    pub estimated_cost_usd: f64,
    /// Its LLM calls with usage but no known price.
    pub unpriced_calls: i64,
    /// It has unpriced calls and no cost at all (no price known for this model).
    pub unpriced: bool,
    /// What its list-price calls were priced as (`provider/model` of the price table), when any.
    pub priced_as: Option<String>,
}

/// Traces per provider or tool.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NamedCount {
    /// Provider or tool name.
    pub name: String,
    /// Traces using it (once per trace).
    pub traces: i64,
}

/// A user's lifetime profile.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Detail {
    /// `user.id`.
    pub user_id: String,
    /// `user.id.type`.
    pub user_id_type: String,
    /// Latest `user.email`.
    pub user_email: Option<String>,
    /// Latest `user.metadata`.
    pub metadata: Json,
    /// Lifetime first trace.
    pub activated_at: Option<String>,
    /// Lifetime first trace (same as `activated_at`).
    pub first_seen: Option<String>,
    /// Lifetime last trace.
    pub last_seen: Option<String>,
    /// Lifetime totals.
    #[serde(flatten)]
    pub totals: Totals,
    /// The last 30 UTC days, oldest first, ending today.
    pub activity: Vec<DayPoint>,
    /// Per model, most traces first.
    pub models: Vec<ModelRow>,
    /// Per provider.
    pub providers: Vec<NamedCount>,
    /// Per tool.
    pub tools: Vec<NamedCount>,
    /// The user's trace tags, most traces first (then by name), at most [`DETAIL_TAGS`].
    pub tags: Vec<NamedCount>,
}

fn counted(m: HashMap<String, i64>) -> Vec<NamedCount> {
    let mut v: Vec<NamedCount> = m.into_iter().map(|(name, traces)| NamedCount { name, traces }).collect();
    v.sort_by(|a, b| b.traces.cmp(&a.traces).then_with(|| a.name.cmp(&b.name)));
    v
}

/// The lifetime detail of `u`; the activity series ends on the UTC day of `now_ns`.
pub fn detail(pd: &ProjectData, u: &UserRec, now_ns: i64) -> Detail {
    let traces = user_traces(pd, u);
    let mut acc = Acc { first_ns: i64::MAX, last_ns: i64::MIN, ..Default::default() };
    let today = floor_to(now_ns, NS_PER_DAY);
    let first_day = today - 29 * NS_PER_DAY;
    let mut days = vec![(0i64, 0i64, 0i64, 0i64); 30];
    let mut day_sessions: HashSet<(usize, SessKey<'_>)> = HashSet::new();
    // Cost summed in integer micro-USD, converted once: the sum does not depend on the order the
    // traces are visited in (a float sum did, in its last bits).
    let mut models: HashMap<String, (ModelRow, i64, i64)> = HashMap::new();
    let mut providers: HashMap<String, i64> = HashMap::new();
    let mut tools: HashMap<String, i64> = HashMap::new();
    let mut tags: HashMap<String, i64> = HashMap::new();
    for t in &traces {
        for x in t.tags() {
            *tags.entry(x.clone()).or_default() += 1;
        }
        acc.add(t, None);
        if t.start_ns >= first_day && t.start_ns < today + NS_PER_DAY {
            let d = ((t.start_ns - first_day) / NS_PER_DAY) as usize;
            days[d].0 += 1;
            days[d].1 += i64::from(t.errored);
            days[d].2 += t.total_tokens();
            days[d].3 += t.cost_micros;
            day_sessions.insert((d, SessKey::of(t)));
        }
        for m in &t.breakdown.models {
            let (r, cost, est) = models.entry(m.model.clone()).or_insert_with(|| {
                let row = ModelRow {
                    model: m.model.clone(),
                    traces: 0,
                    input_tokens: 0,
                    output_tokens: 0,
                    total_tokens: 0,
                    cost_usd: 0.0,
                    estimated_cost_usd: 0.0,
                    unpriced_calls: 0,
                    unpriced: false,
                    priced_as: None,
                };
                (row, 0, 0)
            });
            r.traces += 1;
            r.input_tokens += m.input_tokens;
            r.output_tokens += m.output_tokens;
            r.total_tokens += m.input_tokens + m.output_tokens;
            r.unpriced_calls += m.unpriced_calls;
            if r.priced_as.is_none() {
                r.priced_as.clone_from(&m.priced_as);
            }
            *cost += m.cost_micros;
            *est += m.estimated_cost_micros;
        }
        for p in &t.breakdown.providers {
            *providers.entry(p.clone()).or_default() += 1;
        }
        for x in &t.breakdown.tools {
            *tools.entry(x.clone()).or_default() += 1;
        }
    }
    let mut sessions_per_day = [0i64; 30];
    for (d, _) in &day_sessions {
        sessions_per_day[*d] += 1;
    }
    let mut models: Vec<ModelRow> = models
        .into_values()
        .map(|(r, c, e)| ModelRow {
            cost_usd: usd(c),
            estimated_cost_usd: usd(e),
            unpriced: r.unpriced_calls > 0 && c == 0,
            ..r
        })
        .collect();
    models.sort_by(|a, b| b.traces.cmp(&a.traces).then_with(|| a.model.cmp(&b.model)));
    let seen = (u.first_ns != i64::MAX).then(|| fmt_time(u.first_ns));
    Detail {
        user_id: u.ident.id.clone(),
        user_id_type: u.ident.id_type.clone(),
        user_email: u.email.clone(),
        metadata: metadata_json(u.metadata.as_deref()),
        activated_at: seen.clone(),
        first_seen: seen,
        last_seen: (u.last_ns != i64::MIN).then(|| fmt_time(u.last_ns)),
        totals: acc.totals(),
        activity: days
            .iter()
            .enumerate()
            .map(|(i, (t, e, tok, c))| DayPoint {
                date: fmt_date(first_day + i as i64 * NS_PER_DAY),
                traces: *t,
                errored_traces: *e,
                sessions: sessions_per_day[i],
                total_tokens: *tok,
                cost_usd: usd(*c),
            })
            .collect(),
        models,
        providers: counted(providers),
        tools: counted(tools),
        tags: {
            let mut v = counted(tags);
            v.truncate(DETAIL_TAGS);
            v
        },
    }
}

/// One session of a user.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionRow {
    /// `session.id` (or the trace id of a trace without one).
    pub session_id: String,
    /// First trace start.
    pub first_seen: String,
    /// Last trace start.
    pub last_seen: String,
    /// Traces.
    pub traces: i64,
    /// Errored traces.
    pub errored_traces: i64,
    /// At least one errored trace.
    pub errored: bool,
    /// Cost, USD (reported + estimated).
    pub cost_usd: f64,
    /// The estimated (list price) part of `cost_usd`, USD.
    pub estimated_cost_usd: f64,
    /// LLM calls with usage but no known price.
    pub unpriced_llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input + output tokens.
    pub total_tokens: i64,
    /// Span events and `evaluator` records of the session's traces.
    pub evaluations: super::feedback::Evaluations,
    /// `end_user` records of the session's traces (any time).
    pub feedback: super::feedback::FeedbackSummary,
    #[serde(skip)]
    last_ns: i64,
}

/// The user's sessions with a trace starting in `period`, most recent first.
pub fn sessions(pd: &ProjectData, u: &UserRec, period: &Period, errors_only: bool) -> Vec<SessionRow> {
    let mut by: HashMap<SessKey<'_>, (i64, i64, &TraceRec, Vec<&TraceRec>)> = HashMap::new();
    for t in pd.traces_of_user(u.key) {
        if !period.contains(t.start_ns) {
            continue;
        }
        let e = by.entry(SessKey::of(t)).or_insert((i64::MAX, i64::MIN, t, Vec::new()));
        e.0 = e.0.min(t.start_ns);
        e.1 = e.1.max(t.start_ns);
        e.3.push(t);
    }
    let mut rows: Vec<SessionRow> = by
        .into_values()
        .map(|(first, last, any, ts)| {
            let errored_traces = ts.iter().filter(|t| t.errored).count() as i64;
            let mut fb = super::feedback::TraceFeedback::default();
            for t in &ts {
                fb.add(pd, &t.trace_id, t.eval_pass, t.eval_total);
            }
            let input_tokens: i64 = ts.iter().map(|t| t.input_tokens).sum();
            let output_tokens: i64 = ts.iter().map(|t| t.output_tokens).sum();
            SessionRow {
                session_id: any.session_id(),
                first_seen: fmt_time(first),
                last_seen: fmt_time(last),
                traces: ts.len() as i64,
                errored_traces,
                errored: errored_traces > 0,
                cost_usd: usd(ts.iter().map(|t| t.cost_micros).sum()),
                estimated_cost_usd: usd(ts.iter().map(|t| t.estimated_cost_micros).sum()),
                unpriced_llm_calls: ts.iter().map(|t| t.unpriced_llm_calls).sum(),
                input_tokens,
                output_tokens,
                total_tokens: input_tokens + output_tokens,
                evaluations: fb.evaluations(),
                feedback: fb.feedback(),
                last_ns: last,
            }
        })
        .filter(|s| !errors_only || s.errored)
        .collect();
    rows.sort_by(|a, b| b.last_ns.cmp(&a.last_ns).then_with(|| a.session_id.cmp(&b.session_id)));
    rows
}

/// One trace of a user.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceRow {
    /// Trace id (hex).
    pub trace_id: String,
    /// Session.
    pub session_id: String,
    /// Root span name.
    pub name: String,
    /// Start.
    pub start: String,
    /// End − start, ms.
    pub duration_ms: f64,
    /// `error` or `ok`.
    pub status: &'static str,
    /// Spans.
    pub spans: i64,
    /// LLM calls.
    pub llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input + output.
    pub total_tokens: i64,
    /// Cost, USD (reported + estimated).
    pub cost_usd: f64,
    /// The estimated (list price) part of `cost_usd`, USD.
    pub estimated_cost_usd: f64,
    /// LLM calls with usage but no known price.
    pub unpriced_llm_calls: i64,
    /// `tags` (array) and `metadata` (object, `{}` when none).
    #[serde(flatten)]
    pub tags_metadata: TagsMetadataJson,
    /// Span events and `evaluator` records of the trace.
    pub evaluations: super::feedback::Evaluations,
    /// Its `end_user` records (any time).
    pub feedback: super::feedback::FeedbackSummary,
    /// Its 10 latest records of every source.
    pub feedback_records: Vec<super::feedback::RecordJson>,
}

/// A trace's tags and metadata as the API shows them: `tags` (array of strings) and `metadata`
/// (an object, `{}` when none).
#[derive(Debug, Clone, PartialEq)]
pub struct TagsMetadataJson(pub Option<Arc<TagsMetadata>>);

impl Serialize for TagsMetadataJson {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let x = self.0.as_deref();
        let mut m = ser.serialize_map(Some(2))?;
        m.serialize_entry("tags", x.map_or(&[][..], |x| x.tags.as_slice()))?;
        m.serialize_entry("metadata", &metadata_json(x.and_then(|x| x.metadata.as_deref())))?;
        m.end()
    }
}

/// The user's traces, most recent first, optionally only one session's, only those carrying
/// `tag`, and/or only errored ones.
pub fn traces(
    pd: &ProjectData,
    u: &UserRec,
    session_id: Option<&str>,
    tag: Option<&str>,
    errors_only: bool,
) -> Vec<TraceRow> {
    let mut ts: Vec<&TraceRec> = pd
        .traces_of_user(u.key)
        .filter(|t| !errors_only || t.errored)
        .filter(|t| session_id.is_none_or(|s| t.session_id() == s))
        .filter(|t| tag.is_none_or(|g| t.tags().iter().any(|x| x == g)))
        .collect();
    ts.sort_by(|a, b| b.start_ns.cmp(&a.start_ns).then_with(|| a.trace_id.cmp(&b.trace_id)));
    ts.into_iter()
        .map(|t| {
            let mut fb = super::feedback::TraceFeedback::default();
            fb.add(pd, &t.trace_id, t.eval_pass, t.eval_total);
            TraceRow {
                trace_id: hex::encode(t.trace_id),
                session_id: t.session_id(),
                name: t.name().to_string(),
                start: fmt_time(t.start_ns),
                duration_ms: t.duration_ns() as f64 / NS_PER_MS as f64,
                status: if t.errored { "error" } else { "ok" },
                spans: t.span_count,
                llm_calls: t.llm_calls,
                input_tokens: t.input_tokens,
                output_tokens: t.output_tokens,
                total_tokens: t.total_tokens(),
                cost_usd: usd(t.cost_micros),
                estimated_cost_usd: usd(t.estimated_cost_micros),
                unpriced_llm_calls: t.unpriced_llm_calls,
                tags_metadata: TagsMetadataJson(t.tags_metadata.clone()),
                evaluations: fb.evaluations(),
                feedback: fb.feedback(),
                feedback_records: super::feedback::latest_records(pd, &t.trace_id),
            }
        })
        .collect()
}
