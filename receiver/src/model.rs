//! The receiver's data model: one stored span ([`SpanRow`]), the per-trace rollup folded from a
//! trace's spans ([`TraceRec`]) and the per-user identity/lifetime record ([`UserRec`]).
//!
//! The trace rollup is made from the set of the trace's spans ([`TraceRec::from_spans`]): which
//! spans' usage and LLM calls count is decided by the nesting rule ([`nesting`]) over all of them,
//! and the rest is a commutative fold, so the same spans in any order, in one request or many,
//! give the same record. Choices that depend on "the earliest span" (the trace's user, session
//! and name) compare `(start_ns, span_id)` so ties are deterministic.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Span status code as OTLP sends it.
pub const STATUS_ERROR: i32 = 2;

/// Identity of an end user: unique per (project, user id, id type).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserIdent {
    /// `user.id` (or another SDK's user key).
    pub id: String,
    /// `user.id.type`; `custom` when the span did not say.
    pub id_type: String,
}

/// Where a span's cost came from (`cost_source`; `None` for a span with neither usage nor a
/// reported cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// The span reported its cost (`gen_ai.usage.total_cost`, `llm.cost.total`, ...).
    Reported,
    /// List price: the bundled `genai-prices` table or a `--prices` override.
    Estimated,
    /// Usage but no known price.
    Unpriced,
}

impl CostSource {
    /// The stored text: `reported`, `estimated`, `unpriced` (`userspan::conventions::COST_SOURCE_*`).
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Reported => userspan::conventions::COST_SOURCE_REPORTED,
            CostSource::Estimated => userspan::conventions::COST_SOURCE_ESTIMATED,
            CostSource::Unpriced => userspan::conventions::COST_SOURCE_UNPRICED,
        }
    }
}

/// What ingest could not use in a span (counted in `GET /api/stats`, not stored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanIssues {
    /// A token count was negative, not a number or over 10^12 (usage stored as 0, unpriced).
    pub invalid_tokens: bool,
    /// A reported cost was negative, not a number or absurd (ignored).
    pub invalid_cost: bool,
    /// A tag was over [`userspan::conventions::MAX_ID_CHARS`] characters, or the span had more
    /// than [`userspan::conventions::MAX_TAGS`] tags (cut).
    pub tags_truncated: bool,
    /// A tags value was not a string, a string array or JSON array text of strings (ignored).
    pub invalid_tags: bool,
    /// The span's merged metadata was over [`userspan::conventions::MAX_METADATA_BYTES`] (cut).
    pub metadata_truncated: bool,
    /// A metadata object value was not a JSON object (ignored).
    pub invalid_metadata: bool,
}

/// One span as stored, with everything the metrics need already resolved from its attributes.
#[derive(Debug, Clone)]
pub struct SpanRow {
    /// Project the span belongs to.
    pub project: Arc<str>,
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// Parent span id, if any.
    pub parent_span_id: Option<[u8; 8]>,
    /// Span name.
    pub name: String,
    /// OTLP span kind.
    pub kind: i32,
    /// Start, unix ns.
    pub start_ns: i64,
    /// End, unix ns (never before start).
    pub end_ns: i64,
    /// OTLP status code (0 unset, 1 ok, 2 error).
    pub status: i32,
    /// Status message.
    pub status_message: String,
    /// Resource `service.name`.
    pub service: Option<Arc<str>>,
    /// Resolved end user.
    pub user: Option<UserIdent>,
    /// `user.email`.
    pub user_email: Option<String>,
    /// `user.metadata` (JSON object text).
    pub user_metadata: Option<String>,
    /// Resolved session id.
    pub session_id: Option<String>,
    /// `gen_ai.operation.name`.
    pub operation: Option<String>,
    /// Resolved provider.
    pub provider: Option<String>,
    /// Resolved model.
    pub model: Option<String>,
    /// `gen_ai.tool.name`.
    pub tool: Option<String>,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Of the input tokens, read from the prompt cache.
    pub cache_read_tokens: i64,
    /// Of the input tokens, written to the prompt cache.
    pub cache_write_tokens: i64,
    /// Of the output tokens, reasoning.
    pub reasoning_tokens: i64,
    /// Cost, micro-USD: reported or estimated (0 when unpriced).
    pub cost_micros: i64,
    /// The estimated part of `cost_micros` (equal to it when estimated, else 0).
    pub estimated_cost_micros: i64,
    /// Where the cost came from.
    pub cost_source: Option<CostSource>,
    /// The provider id an estimate was priced as.
    pub price_provider: Option<String>,
    /// The model id an estimate was priced as.
    pub price_model: Option<String>,
    /// What ingest could not use (counted, not stored).
    pub issues: SpanIssues,
    /// Counts as an LLM call.
    pub llm_call: bool,
    /// Evaluations that passed, on this span.
    pub eval_pass: i64,
    /// Evaluations on this span (with a decidable result).
    pub eval_total: i64,
    /// A guardrail fired on this span.
    pub guardrail: bool,
    /// All span attributes as a JSON object text (for later trace views).
    pub attributes_json: String,
    /// The span's tags (every key of `userspan::conventions::TAGS_KEYS`), as JSON array text:
    /// distinct, sorted, capped ([`cap_tags`]); `None` when it has none.
    pub tags: Option<String>,
    /// The span's free-form metadata (`METADATA_OBJECT_KEYS` and `METADATA_KEY_PREFIXES` of
    /// `userspan::conventions`, merged), as JSON object text capped by [`cap_metadata`]; `None`
    /// when it has none.
    pub metadata: Option<String>,
}

/// A trace's tags and free-form metadata, merged from its spans ([`TraceRec::from_spans`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagsMetadata {
    /// Distinct, sorted, at most [`userspan::conventions::MAX_TAGS`].
    pub tags: Vec<String>,
    /// JSON object text, at most [`userspan::conventions::MAX_METADATA_BYTES`]; `None` when empty.
    pub metadata: Option<String>,
}

impl TagsMetadata {
    /// From the stored columns (JSON array text of tags, JSON object text); `None` when neither
    /// holds anything (a tags text that is not an array of strings reads as no tags).
    pub fn from_stored(tags: Option<String>, metadata: Option<String>) -> Option<Arc<TagsMetadata>> {
        let tags: Vec<String> = tags.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        (!tags.is_empty() || metadata.is_some()).then(|| Arc::new(TagsMetadata { tags, metadata }))
    }
}

/// The first [`userspan::conventions::MAX_TAGS`] of `tags` (they are kept sorted), and whether
/// any was dropped.
pub fn cap_tags(tags: std::collections::BTreeSet<String>) -> (Vec<String>, bool) {
    let max = userspan::conventions::MAX_TAGS;
    let cut = tags.len() > max;
    (tags.into_iter().take(max).collect(), cut)
}

/// A metadata object as JSON text of at most [`userspan::conventions::MAX_METADATA_BYTES`]: whole
/// when it fits; otherwise its entries are kept in key order while they fit (an entry that does
/// not fit is skipped, later smaller ones may still be kept) and `"_truncated": true` is added.
/// Returns the text and whether it was cut.
pub fn cap_metadata(m: std::collections::BTreeMap<String, serde_json::Value>) -> (String, bool) {
    use serde_json::Value as Json;
    const MARK: &str = "_truncated";
    let max = userspan::conventions::MAX_METADATA_BYTES;
    let entry_len =
        |k: &str, v: &Json| serde_json::to_string(k).map_or(usize::MAX / 4, |t| t.len()) + 1 + v.to_string().len();
    // `{}` plus each entry and a comma between them.
    let full = 2 + m.iter().map(|(k, v)| entry_len(k, v)).sum::<usize>() + m.len().saturating_sub(1);
    if full <= max {
        let obj: serde_json::Map<String, Json> = m.into_iter().collect();
        return (Json::Object(obj).to_string(), false);
    }
    let mut budget = max - 2 - entry_len(MARK, &Json::Bool(true));
    let mut kept = serde_json::Map::new();
    for (k, v) in m {
        let need = entry_len(&k, &v) + 1;
        if k != MARK && need <= budget {
            budget -= need;
            kept.insert(k, v);
        }
    }
    kept.insert(MARK.into(), Json::Bool(true));
    (Json::Object(kept).to_string(), true)
}

/// The tags and metadata of a trace from its spans' ([`SpanRow::tags`], [`SpanRow::metadata`]):
/// tags are the union, sorted, capped by [`cap_tags`]; for each metadata key, the value of the
/// span with the smallest `(rank, start_ns, span_id)` wins (rank 0 for a root span, as for the
/// trace's name), and the merge is capped by [`cap_metadata`]. `None` when no span has any.
fn merge_tags_metadata(spans: &[&SpanRow]) -> Option<Arc<TagsMetadata>> {
    use serde_json::Value as Json;
    let mut tags = std::collections::BTreeSet::new();
    let mut with_meta: Vec<&SpanRow> = Vec::new();
    for s in spans {
        if let Some(t) = &s.tags {
            if let Ok(list) = serde_json::from_str::<Vec<String>>(t) {
                for x in list {
                    tags.insert(x);
                    // Only the first `MAX_TAGS` are kept: the set never grows past one more.
                    if tags.len() > userspan::conventions::MAX_TAGS + 1 {
                        tags.pop_last();
                    }
                }
            }
        }
        if s.metadata.is_some() {
            with_meta.push(s);
        }
    }
    if tags.is_empty() && with_meta.is_empty() {
        return None;
    }
    let metadata = match with_meta.as_slice() {
        [] => None,
        [one] => one.metadata.clone(),
        _ => {
            with_meta.sort_by_key(|s| (u8::from(s.parent_span_id.is_some()), s.start_ns, s.span_id));
            let mut merged: std::collections::BTreeMap<String, Json> = std::collections::BTreeMap::new();
            for s in with_meta {
                if let Some(Ok(Json::Object(o))) = s.metadata.as_deref().map(serde_json::from_str::<Json>) {
                    for (k, v) in o {
                        merged.entry(k).or_insert(v);
                    }
                }
            }
            Some(cap_metadata(merged).0)
        }
    };
    Some(Arc::new(TagsMetadata { tags: cap_tags(tags).0, metadata }))
}

/// Model usage inside one trace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelUse {
    /// Model name.
    pub model: String,
    /// Input tokens of this model's spans.
    pub input_tokens: i64,
    /// Output tokens of this model's spans.
    pub output_tokens: i64,
    /// Cost of this model's spans, micro-USD.
    pub cost_micros: i64,
    /// The estimated (list price) part of it, micro-USD.
    #[serde(default)]
    pub estimated_cost_micros: i64,
    /// LLM calls of this model with usage but no known price.
    #[serde(default)]
    pub unpriced_calls: i64,
    /// What its estimated calls were priced as: `provider/model` of the price table (the first
    /// such call's), e.g. `openai/gpt-4o` for `gpt-4o-2024-08-06`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priced_as: Option<String>,
}

/// What a trace used, for the user detail breakdowns (each listed once per trace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Models, with tokens and cost.
    pub models: Vec<ModelUse>,
    /// Providers.
    pub providers: Vec<String>,
    /// Tools.
    pub tools: Vec<String>,
}

/// A ranked choice: the value of the span with the smallest `(rank, start_ns, span_id)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pick<T> {
    /// Smaller wins (0 before 1): used to prefer root spans for the trace name.
    pub rank: u8,
    /// Start of the span the value came from.
    pub start_ns: i64,
    /// Id of that span (tie-break).
    pub span_id: [u8; 8],
    /// The value.
    pub value: T,
}

/// Puts the value of the span `(rank, start_ns, span_id)` in `slot` if it wins; the value is
/// only made (cloned) when it does.
fn pick_min<T>(slot: &mut Option<Pick<T>>, rank: u8, start_ns: i64, span_id: [u8; 8], value: impl FnOnce() -> T) {
    let better = match slot {
        None => true,
        Some(cur) => (rank, start_ns, span_id) < (cur.rank, cur.start_ns, cur.span_id),
    };
    if better {
        *slot = Some(Pick { rank, start_ns, span_id, value: value() });
    }
}

/// What a trace counts of one of its spans, by the nesting rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Its usage (tokens, cost): it carries usage and no descendant does.
    pub usage: bool,
    /// Its LLM call: it is one and no descendant is.
    pub llm: bool,
}

impl SpanRow {
    /// Carries usage, for the nesting rule: a cost source (usage or a reported cost at ingest), or
    /// stored tokens or cost (spans stored before cost sources were recorded).
    pub fn carries_usage(&self) -> bool {
        self.cost_source.is_some() || self.input_tokens > 0 || self.output_tokens > 0 || self.cost_micros > 0
    }
}

/// The nesting rule (`docs/design.md`, "Metric definitions") over the spans of one trace, in their
/// order: a span's usage counts only when no descendant in the trace carries usage (a LangChain
/// chain span or the Vercel AI SDK's `ai.generateText` wrapper repeats its children's usage), and
/// a span is an LLM call only when it is one (usage or an LLM operation) and no descendant is.
/// Descendants are found through `parent_span_id` among these spans (a parent not among them ends
/// the chain; a cycle is walked at most once round). It depends only on the set of spans, so a
/// trace re-resolved when a late span arrives gives the numbers it would have had in one request.
pub fn nesting(spans: &[&SpanRow]) -> Vec<Counted> {
    let n = spans.len();
    let mut usage_below = vec![false; n];
    let mut llm_below = vec![false; n];
    let marks = |s: &SpanRow| (s.carries_usage(), s.llm_call);
    if spans.iter().filter(|s| marks(s) != (false, false)).count() > 1 {
        let index: Option<std::collections::HashMap<[u8; 8], usize>> = (n > 16).then(|| {
            let mut m = std::collections::HashMap::with_capacity(n);
            for (i, s) in spans.iter().enumerate() {
                m.entry(s.span_id).or_insert(i);
            }
            m
        });
        let find = |id: &[u8; 8]| match &index {
            Some(m) => m.get(id).copied(),
            None => spans.iter().position(|s| &s.span_id == id),
        };
        for (i, s) in spans.iter().enumerate() {
            let (u, l) = marks(s);
            if !u && !l {
                continue;
            }
            let mut parent = s.parent_span_id;
            let mut steps = 0;
            while let Some(j) = parent.as_ref().and_then(find) {
                // Marks already there were carried up from `j` by an earlier walk.
                if (!u || usage_below[j]) && (!l || llm_below[j]) || j == i || steps > n {
                    break;
                }
                usage_below[j] |= u;
                llm_below[j] |= l;
                parent = spans[j].parent_span_id;
                steps += 1;
            }
        }
    }
    spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (u, l) = marks(s);
            Counted { usage: u && !usage_below[i], llm: l && !llm_below[i] }
        })
        .collect()
}

/// `provider/model` an estimated span was priced as.
fn priced_as(s: &SpanRow) -> Option<String> {
    match (&s.price_provider, &s.price_model) {
        (Some(p), Some(m)) if s.cost_source == Some(CostSource::Estimated) => Some(format!("{p}/{m}")),
        _ => None,
    }
}

/// Per-trace rollup, folded from the trace's spans.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRec {
    /// Trace id.
    pub trace_id: [u8; 16],
    /// The user of the earliest-starting span with a user id.
    pub user: Option<Pick<UserIdent>>,
    /// Store key of that user (resolved by the writer).
    pub user_key: Option<i64>,
    /// The session id of the earliest-starting span with one.
    pub session: Option<Pick<String>>,
    /// The root span's name (else the earliest span's).
    pub name: Option<Pick<String>>,
    /// Min start, unix ns.
    pub start_ns: i64,
    /// Max end, unix ns.
    pub end_ns: i64,
    /// Spans stored.
    pub span_count: i64,
    /// Any span has status ERROR.
    pub errored: bool,
    /// LLM calls.
    pub llm_calls: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cost, micro-USD (reported + estimated).
    pub cost_micros: i64,
    /// The estimated part of the cost, micro-USD.
    pub estimated_cost_micros: i64,
    /// LLM calls with usage but no known price.
    pub unpriced_llm_calls: i64,
    /// Evaluations passed.
    pub eval_pass: i64,
    /// Evaluations with a result.
    pub eval_total: i64,
    /// A guardrail fired in this trace.
    pub guardrail: bool,
    /// Models, providers, tools.
    pub breakdown: Breakdown,
    /// Tags and metadata merged from the spans; `None` when no span has any.
    pub tags_metadata: Option<Arc<TagsMetadata>>,
}

impl TraceRec {
    /// An empty rollup for `trace_id`.
    pub fn new(trace_id: [u8; 16]) -> TraceRec {
        TraceRec {
            trace_id,
            user: None,
            user_key: None,
            session: None,
            name: None,
            start_ns: i64::MAX,
            end_ns: i64::MIN,
            span_count: 0,
            errored: false,
            llm_calls: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_micros: 0,
            estimated_cost_micros: 0,
            unpriced_llm_calls: 0,
            eval_pass: 0,
            eval_total: 0,
            guardrail: false,
            breakdown: Breakdown::default(),
            tags_metadata: None,
        }
    }

    /// The rollup of a trace's stored spans (each once, any order), by the nesting rule
    /// ([`nesting`]): the same spans give the same record however they arrived.
    pub fn from_spans(trace_id: [u8; 16], spans: &[&SpanRow]) -> TraceRec {
        let mut t = TraceRec::new(trace_id);
        for (s, c) in spans.iter().zip(nesting(spans)) {
            t.add_span(s, c);
        }
        t.tags_metadata = merge_tags_metadata(spans);
        t
    }

    /// The trace's tags (empty when none).
    pub fn tags(&self) -> &[String] {
        self.tags_metadata.as_ref().map_or(&[], |x| x.tags.as_slice())
    }

    /// The trace's metadata JSON object text, if any.
    pub fn metadata(&self) -> Option<&str> {
        self.tags_metadata.as_ref().and_then(|x| x.metadata.as_deref())
    }

    /// Folds one span into the rollup, counting its usage (tokens, cost) and its LLM call only as
    /// `c` says (see [`nesting`]); everything else of it counts always.
    fn add_span(&mut self, s: &SpanRow, c: Counted) {
        let (input_tokens, output_tokens, cost_micros, estimated_cost_micros) = if c.usage {
            (s.input_tokens, s.output_tokens, s.cost_micros, s.estimated_cost_micros)
        } else {
            (0, 0, 0, 0)
        };
        self.start_ns = self.start_ns.min(s.start_ns);
        self.end_ns = self.end_ns.max(s.end_ns);
        self.span_count += 1;
        self.errored |= s.status == STATUS_ERROR;
        self.llm_calls += i64::from(c.llm);
        self.input_tokens += input_tokens;
        self.output_tokens += output_tokens;
        self.cost_micros += cost_micros;
        self.estimated_cost_micros += estimated_cost_micros;
        let unpriced = i64::from(c.llm && s.cost_source == Some(CostSource::Unpriced));
        self.unpriced_llm_calls += unpriced;
        self.eval_pass += s.eval_pass;
        self.eval_total += s.eval_total;
        self.guardrail |= s.guardrail;
        if let Some(u) = &s.user {
            pick_min(&mut self.user, 0, s.start_ns, s.span_id, || u.clone());
        }
        if let Some(sid) = &s.session_id {
            pick_min(&mut self.session, 0, s.start_ns, s.span_id, || sid.clone());
        }
        let rank = u8::from(s.parent_span_id.is_some());
        pick_min(&mut self.name, rank, s.start_ns, s.span_id, || s.name.clone());
        let b = &mut self.breakdown;
        // A span whose usage a descendant's repeats (a wrapper) lists no model of its own.
        if let Some(m) = s.model.as_ref().filter(|_| c.usage || !s.carries_usage()) {
            match b.models.iter_mut().find(|x| &x.model == m) {
                Some(x) => {
                    x.input_tokens += input_tokens;
                    x.output_tokens += output_tokens;
                    x.cost_micros += cost_micros;
                    x.estimated_cost_micros += estimated_cost_micros;
                    x.unpriced_calls += unpriced;
                    if x.priced_as.is_none() && c.usage {
                        x.priced_as = priced_as(s);
                    }
                }
                None => b.models.push(ModelUse {
                    model: m.clone(),
                    input_tokens,
                    output_tokens,
                    cost_micros,
                    estimated_cost_micros,
                    unpriced_calls: unpriced,
                    priced_as: if c.usage { priced_as(s) } else { None },
                }),
            }
        }
        if let Some(p) = &s.provider {
            if !b.providers.contains(p) {
                b.providers.push(p.clone());
            }
        }
        if let Some(t) = &s.tool {
            if !b.tools.contains(t) {
                b.tools.push(t.clone());
            }
        }
    }

    /// The trace's session: its `session.id`, else its trace id (hex).
    pub fn session_id(&self) -> String {
        match &self.session {
            Some(p) => p.value.clone(),
            None => hex::encode(self.trace_id),
        }
    }

    /// Trace name.
    pub fn name(&self) -> &str {
        self.name.as_ref().map(|p| p.value.as_str()).unwrap_or("")
    }

    /// Duration, ns.
    pub fn duration_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(0)
    }

    /// Total tokens.
    pub fn total_tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}

/// An end user's identity and lifetime record.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRec {
    /// Store key.
    pub key: i64,
    /// Identity.
    pub ident: UserIdent,
    /// Latest `user.email` (by span start).
    pub email: Option<String>,
    /// Start of the span the email came from.
    pub email_ns: i64,
    /// Latest `user.metadata` (by span start).
    pub metadata: Option<String>,
    /// Start of the span the metadata came from.
    pub metadata_ns: i64,
    /// Lifetime first trace start, unix ns (`i64::MAX` if the user owns no trace).
    pub first_ns: i64,
    /// Lifetime last trace start, unix ns (`i64::MIN` if none).
    pub last_ns: i64,
}
