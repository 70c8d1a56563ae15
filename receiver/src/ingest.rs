//! OTLP trace decoding and the span → [`SpanRow`] mapping: identity resolution (userspan's keys
//! first, then other SDKs'), GenAI usage, cost in micro-USD, evaluations and guardrails. Every key
//! read is one of [`userspan::conventions`]; [`RESOLVED_KEYS`] lists the span attributes resolved.

use crate::model::{CostSource, SpanRow, UserIdent};
use crate::pricing::{usd_to_micros, Pricer, TokenUsage, MAX_TOKEN_COUNT};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use userspan::conventions as conv;

/// Largest request body accepted, after decompression (64 MiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Wire encoding of a request (and so of its response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// From a `Content-Type` header value (parameters ignored); `None` when unsupported.
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    /// The `Content-Type` of responses in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Why a body could not be turned into spans.
#[derive(Debug)]
pub enum DecodeError {
    /// Larger than [`MAX_BODY_BYTES`] after decompression.
    TooLarge,
    /// Not decodable (bad gzip, bad protobuf, bad JSON).
    Invalid(String),
}

/// Decompresses a gzip body, refusing to produce more than [`MAX_BODY_BYTES`].
pub fn gunzip_capped(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_BODY_BYTES));
    let mut dec = flate2::read::MultiGzDecoder::new(body).take(MAX_BODY_BYTES as u64 + 1);
    dec.read_to_end(&mut out).map_err(|e| DecodeError::Invalid(format!("invalid gzip body: {e}")))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

/// Decodes an `ExportTraceServiceRequest` in `encoding`.
pub fn decode_request(body: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body)
            .map_err(|e| DecodeError::Invalid(format!("invalid OTLP protobuf: {e}"))),
        Encoding::Json => {
            if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(DecodeError::Invalid("invalid OTLP JSON: the body must be a JSON object".into()));
            }
            serde_json::from_slice(body).map_err(|e| DecodeError::Invalid(format!("invalid OTLP JSON: {e}")))
        }
    }
}

/// Spans of one request, mapped, plus the ones rejected as invalid.
#[derive(Debug, Default)]
pub struct Mapped {
    /// Valid spans.
    pub rows: Vec<SpanRow>,
    /// Count of spans rejected (bad trace/span ids).
    pub rejected: i64,
    /// Why (first reason), for `partial_success.error_message`.
    pub reject_reason: Option<String>,
}

/// Counts of what ingest stored but could not use, per project (`GET /api/stats`). The spans are
/// stored either way; these say why some cost or usage is missing from the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestCounts {
    /// Spans of committed requests (a redelivered span, stored once, counts again; so do the
    /// counts below).
    pub spans: i64,
    /// Spans whose cost was reported by the span (`cost_source` = `reported`).
    pub reported_cost_spans: i64,
    /// Spans priced at list price (`estimated`).
    pub estimated_cost_spans: i64,
    /// Spans with usage but no known price (`unpriced`): unknown model or provider, a model name
    /// over 256 bytes, bad token counts, no model.
    pub unpriced_spans: i64,
    /// Spans with a token count that is negative, not a number, or over 10^12: their usage is
    /// stored as 0 and they are unpriced.
    pub invalid_token_counts: i64,
    /// Reported costs ignored because negative, not a number (NaN, text) or ≥ 10^9 USD; the span
    /// is then priced as if it reported none.
    pub invalid_reported_costs: i64,
    /// Spans whose tags were cut: a tag over 256 characters, or more than
    /// `userspan::conventions::MAX_TAGS` tags.
    pub truncated_tags: i64,
    /// Spans with a tags value that is not a string, a string array or JSON array text of strings
    /// (that value, or its non-string items, ignored).
    pub invalid_tags: i64,
    /// Spans whose metadata was over 4 KiB of JSON (entries dropped, `"_truncated": true` added).
    pub truncated_metadata: i64,
    /// Spans with a metadata object value that is not a JSON object (ignored).
    pub invalid_metadata: i64,
    /// OTLP log records received (`POST /v1/logs`, `LogsService/Export`) in committed requests.
    pub log_records: i64,
    /// Feedback records stored or replaced (OTLP logs and `POST /api/feedback`); a stale
    /// re-send (an earlier time than the stored record's) is not counted.
    pub feedback_records: i64,
    /// Feedback log records rejected (`partial_success.rejected_log_records`).
    pub rejected_feedback_records: i64,
    /// Log records that are not evaluation events: acknowledged and dropped.
    pub dropped_log_records: i64,
}

impl IngestCounts {
    fn add(&mut self, o: &IngestCounts) {
        self.spans += o.spans;
        self.reported_cost_spans += o.reported_cost_spans;
        self.estimated_cost_spans += o.estimated_cost_spans;
        self.unpriced_spans += o.unpriced_spans;
        self.invalid_token_counts += o.invalid_token_counts;
        self.invalid_reported_costs += o.invalid_reported_costs;
        self.truncated_tags += o.truncated_tags;
        self.invalid_tags += o.invalid_tags;
        self.truncated_metadata += o.truncated_metadata;
        self.invalid_metadata += o.invalid_metadata;
        self.log_records += o.log_records;
        self.feedback_records += o.feedback_records;
        self.rejected_feedback_records += o.rejected_feedback_records;
        self.dropped_log_records += o.dropped_log_records;
    }
}

/// What mapping needs besides the request: the pricer, and the per-project counts since start.
#[derive(Debug, Default)]
pub struct IngestContext {
    /// Prices spans that report usage but no cost.
    pub pricer: Pricer,
    counts: Mutex<HashMap<String, IngestCounts>>,
}

impl IngestContext {
    /// With `pricer`.
    pub fn new(pricer: Pricer) -> IngestContext {
        IngestContext { pricer, counts: Mutex::default() }
    }

    /// The counts of `rows`, per project, for [`IngestContext::record`] once they are committed.
    pub fn tally(rows: &[SpanRow]) -> Vec<(Arc<str>, IngestCounts)> {
        let mut per: Vec<(Arc<str>, IngestCounts)> = Vec::new();
        for r in rows {
            let i = match per.iter().position(|(p, _)| Arc::ptr_eq(p, &r.project) || **p == *r.project) {
                Some(i) => i,
                None => {
                    per.push((r.project.clone(), IngestCounts::default()));
                    per.len() - 1
                }
            };
            let c = &mut per[i].1;
            c.spans += 1;
            match r.cost_source {
                Some(CostSource::Reported) => c.reported_cost_spans += 1,
                Some(CostSource::Estimated) => c.estimated_cost_spans += 1,
                Some(CostSource::Unpriced) => c.unpriced_spans += 1,
                None => {}
            }
            c.invalid_token_counts += i64::from(r.issues.invalid_tokens);
            c.invalid_reported_costs += i64::from(r.issues.invalid_cost);
            c.truncated_tags += i64::from(r.issues.tags_truncated);
            c.invalid_tags += i64::from(r.issues.invalid_tags);
            c.truncated_metadata += i64::from(r.issues.metadata_truncated);
            c.invalid_metadata += i64::from(r.issues.invalid_metadata);
        }
        per
    }

    /// Adds the counts of committed rows (from [`IngestContext::tally`]).
    pub fn record(&self, tally: Vec<(Arc<str>, IngestCounts)>) {
        let mut g = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for (p, c) in tally {
            match g.get_mut(&*p) {
                Some(x) => x.add(&c),
                None => {
                    g.insert(p.to_string(), c);
                }
            }
        }
    }

    /// The counts of `project` since the receiver started.
    pub fn counts(&self, project: &str) -> IngestCounts {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).get(project).copied().unwrap_or_default()
    }
}

/// Maps a decoded request to rows with the bundled prices (see [`map_request_with`]).
pub fn map_request(req: ExportTraceServiceRequest, project_override: Option<&str>) -> Mapped {
    static BUNDLED: std::sync::OnceLock<Pricer> = std::sync::OnceLock::new();
    map_request_with(req, project_override, BUNDLED.get_or_init(Pricer::bundled))
}

/// Maps a decoded request to rows, pricing spans with `pricer`. `project_override` is the API
/// key's project, when keys are configured; otherwise each resource's `userspan.project`, else
/// `default`.
pub fn map_request_with(req: ExportTraceServiceRequest, project_override: Option<&str>, pricer: &Pricer) -> Mapped {
    let mut out = Mapped::default();
    let mut projects: Vec<Arc<str>> = Vec::new();
    let mut intern = |p: &str| -> Arc<str> {
        if let Some(x) = projects.iter().find(|x| &***x == p) {
            return x.clone();
        }
        let a: Arc<str> = Arc::from(p);
        projects.push(a.clone());
        a
    };
    for rs in req.resource_spans {
        let res_attrs: &[KeyValue] = rs.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        let mut res = Resolved::default();
        let mut res_project = None;
        let mut service = None;
        for kv in res_attrs {
            match kv.key.as_str() {
                conv::RESOURCE_PROJECT => res_project = str_value(kv.value.as_ref()).filter(|s| !s.is_empty()),
                conv::SERVICE_NAME => service = str_value(kv.value.as_ref()).map(Arc::<str>::from),
                _ => {
                    res.take(kv);
                }
            }
        }
        let project = intern(project_override.or(res_project.as_deref()).unwrap_or(conv::DEFAULT_PROJECT));
        for ss in rs.scope_spans {
            for span in ss.spans {
                match map_span(span, &res, &project, &service, pricer) {
                    Ok(row) => out.rows.push(row),
                    Err(reason) => {
                        out.rejected += 1;
                        out.reject_reason.get_or_insert(reason);
                    }
                }
            }
        }
    }
    out
}

fn id_array<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    let arr: [u8; N] = bytes.try_into().map_err(|_| format!("{what} must be {N} bytes, got {}", bytes.len()))?;
    if arr.iter().all(|b| *b == 0) {
        return Err(format!("{what} is all zeroes"));
    }
    Ok(arr)
}

fn map_span(
    span: Span,
    res: &Resolved,
    project: &Arc<str>,
    service: &Option<Arc<str>>,
    pricer: &Pricer,
) -> Result<SpanRow, String> {
    let trace_id: [u8; 16] = id_array(&span.trace_id, "trace_id")?;
    let span_id: [u8; 8] = id_array(&span.span_id, "span_id")?;
    let parent_span_id = if span.parent_span_id.is_empty() || span.parent_span_id.iter().all(|b| *b == 0) {
        None
    } else {
        Some(id_array::<8>(&span.parent_span_id, "parent_span_id")?)
    };
    let mut r = Resolved::default();
    let mut labels = Labels::default();
    for kv in &span.attributes {
        match r.take(kv) {
            Some((Field::Tags, _)) => labels.tags.push(kv),
            Some((Field::Metadata, prio)) => labels.meta.push((prio, None, kv)),
            Some(_) => {}
            None => labels.take_prefixed(kv),
        }
    }
    let (tags, metadata, label_issues) = labels.resolve();
    let attributes_json = attributes_json(&span.attributes);
    let (mut eval_pass, mut eval_total) = (0, 0);
    for ev in &span.events {
        if ev.name != conv::GEN_AI_EVALUATION_RESULT {
            continue;
        }
        let mut label = None;
        let mut value = None;
        for kv in &ev.attributes {
            match kv.key.as_str() {
                conv::GEN_AI_EVALUATION_SCORE_LABEL => label = str_value(kv.value.as_ref()),
                conv::GEN_AI_EVALUATION_SCORE_VALUE => value = f64_value(kv.value.as_ref()),
                _ => {}
            }
        }
        let is = |labels: &[&str], l: &str| labels.iter().any(|x| l.eq_ignore_ascii_case(x));
        let passed = match label.as_deref() {
            Some(l) if is(conv::EVALUATION_PASS_LABELS, l) => Some(true),
            Some(l) if is(conv::EVALUATION_FAIL_LABELS, l) => Some(false),
            _ => value.filter(|v| (0.0..=1.0).contains(v)).map(|v| v >= 0.5),
        };
        if let Some(p) = passed {
            eval_total += 1;
            eval_pass += i64::from(p);
        }
    }
    // The span's own value is moved out; only a resource fallback is copied.
    let pick = |own: &mut Option<(u8, String)>, fallback: &Option<(u8, String)>| {
        own.take().or_else(|| fallback.clone()).map(|(_, v)| v).filter(|v| !v.is_empty())
    };
    // No id key (span or resource): the id's hash is the user, as `replace` hashing sends it.
    let user = pick(&mut r.user_id, &res.user_id).or_else(|| pick(&mut r.user_id_hash, &res.user_id_hash)).map(|id| {
        UserIdent {
            id,
            id_type: match pick(&mut r.user_id_type, &res.user_id_type) {
                Some(t) if conv::USER_ID_TYPES.contains(&t.as_str()) => t,
                _ => conv::USER_ID_TYPE_CUSTOM.to_string(),
            },
        }
    });
    // Token counts: a count that is negative, not a number or over 10^12 makes the span's usage
    // invalid (all of it stored as 0, the span unpriced, counted).
    r.apply_langfuse_details();
    let counts = [r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens];
    // A total token count alone marks usage too (an LLM call) but adds no tokens.
    let has_usage = counts.iter().any(Option::is_some) || r.total_tokens.is_some_and(|(_, v)| v.is_some());
    let invalid_tokens =
        counts.iter().flatten().any(|(_, v)| !matches!(v, Some(n) if (0..=MAX_TOKEN_COUNT).contains(n)));
    let count = |c: Option<(u8, Option<i64>)>| if invalid_tokens { 0 } else { c.and_then(|(_, v)| v).unwrap_or(0) };
    let usage = TokenUsage {
        input: count(r.input_tokens),
        output: count(r.output_tokens),
        cache_read: count(r.cache_read_tokens),
        cache_write: count(r.cache_write_tokens),
        reasoning: count(r.reasoning_tokens),
    };
    // A reported cost wins: the total, else input + output; a bad one is ignored and counted.
    let reported = |c: Option<(u8, Option<f64>)>, bad: &mut bool| match c {
        Some((_, Some(v))) if (0.0..1e9).contains(&v) => Some(v),
        Some(_) => {
            *bad = true;
            None
        }
        None => None,
    };
    let mut invalid_cost = false;
    let total = reported(r.total_cost, &mut invalid_cost);
    let (cin, cout) = (reported(r.input_cost, &mut invalid_cost), reported(r.output_cost, &mut invalid_cost));
    let reported_usd = total.or(match (cin, cout) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    });
    r.normalize_provider();
    let provider = pick(&mut r.provider, &None);
    let model = pick(&mut r.model, &None);
    let start_ns = i64::try_from(span.start_time_unix_nano).unwrap_or(i64::MAX);
    let (mut cost_micros, mut estimated_cost_micros, mut price_provider, mut price_model) = (0, 0, None, None);
    let cost_source = match reported_usd.and_then(usd_to_micros) {
        Some(m) => {
            cost_micros = m;
            Some(CostSource::Reported)
        }
        None if has_usage => {
            let est = match (&model, invalid_tokens) {
                (Some(m), false) => {
                    let tier = r.service_tier.as_ref().map(|(_, t)| t.as_str());
                    pricer.price(provider.as_deref(), m, start_ns, tier, &usage)
                }
                _ => None,
            };
            match est.and_then(|e| usd_to_micros(e.usd).map(|m| (m, e))) {
                Some((m, e)) => {
                    (cost_micros, estimated_cost_micros) = (m, m);
                    (price_provider, price_model) = (Some(e.provider), Some(e.model));
                    Some(CostSource::Estimated)
                }
                None => Some(CostSource::Unpriced),
            }
        }
        None => None,
    };
    let (input_tokens, output_tokens) = (usage.input, usage.output);
    let operation = r.operation.take().map(|(_, v)| v);
    let llm_call = has_usage || r.span_kind_llm || operation.as_deref().is_some_and(is_llm_operation);
    let guardrail = match r.guardrail_triggered {
        Some(b) => b,
        None => r.span_kind_guardrail,
    };
    let end_ns = i64::try_from(span.end_time_unix_nano).unwrap_or(i64::MAX).max(start_ns);
    let (status, status_message) = span.status.map(|s| (s.code, s.message)).unwrap_or((0, String::new()));
    Ok(SpanRow {
        project: project.clone(),
        trace_id,
        span_id,
        parent_span_id,
        name: span.name,
        kind: span.kind,
        start_ns,
        end_ns,
        status,
        status_message,
        service: service.clone(),
        user,
        user_email: pick(&mut r.user_email, &res.user_email),
        user_metadata: pick(&mut r.user_metadata, &res.user_metadata),
        session_id: pick(&mut r.session_id, &res.session_id),
        operation,
        provider,
        model,
        tool: pick(&mut r.tool, &None),
        input_tokens,
        output_tokens,
        cache_read_tokens: usage.cache_read,
        cache_write_tokens: usage.cache_write,
        reasoning_tokens: usage.reasoning,
        cost_micros,
        estimated_cost_micros,
        cost_source,
        price_provider,
        price_model,
        issues: crate::model::SpanIssues { invalid_tokens, invalid_cost, ..label_issues },
        llm_call,
        eval_pass,
        eval_total,
        guardrail,
        attributes_json,
        tags,
        metadata,
    })
}

/// The tags and metadata attributes of one span, borrowed until [`Labels::resolve`] (a span that
/// carries none allocates nothing).
#[derive(Default)]
struct Labels<'a> {
    /// Attributes of a `conv::TAGS_KEYS` key.
    tags: Vec<&'a KeyValue>,
    /// Metadata attributes with their precedence (lower wins): a `conv::METADATA_OBJECT_KEYS`
    /// object (no sub-key) or, after them, a `conv::METADATA_KEY_PREFIXES` attribute with its key
    /// below the prefix.
    meta: Vec<(u8, Option<&'a str>, &'a KeyValue)>,
}

/// The precedence of a `<prefix><key>` metadata attribute and its key below the prefix.
pub fn metadata_prefix(key: &str) -> Option<(u8, &str)> {
    // Every prefix starts with one of these bytes: most keys are turned away by the first.
    if !matches!(key.as_bytes().first(), Some(b'l' | b't' | b'a')) {
        return None;
    }
    let base = conv::METADATA_OBJECT_KEYS.len();
    conv::METADATA_KEY_PREFIXES
        .iter()
        .enumerate()
        .find_map(|(i, p)| key.strip_prefix(p).filter(|sub| !sub.is_empty()).map(|sub| ((base + i) as u8, sub)))
}

impl<'a> Labels<'a> {
    /// Keeps `kv` if it is a per-key metadata attribute (the caller has checked it is no resolved
    /// key, so identity keys under a prefix stay identity only).
    fn take_prefixed(&mut self, kv: &'a KeyValue) {
        if let Some((prio, sub)) = metadata_prefix(&kv.key) {
            self.meta.push((prio, Some(sub), kv));
        }
    }

    /// The span's tags (JSON array text) and metadata (JSON object text), capped, and what was cut
    /// or unusable. Tags: a string array's strings (other items are invalid), JSON array text's
    /// strings, or comma-separated text (each part trimmed); empty tags dropped, each cut to
    /// `conv::MAX_ID_CHARS` characters. Metadata: per key, the attribute of lowest precedence wins.
    fn resolve(mut self) -> (Option<String>, Option<String>, crate::model::SpanIssues) {
        let mut issues = crate::model::SpanIssues::default();
        if self.tags.is_empty() && self.meta.is_empty() {
            return (None, None, issues);
        }
        let mut tags = std::collections::BTreeSet::new();
        let mut add = |t: &str, issues: &mut crate::model::SpanIssues| {
            if t.is_empty() {
                return;
            }
            match t.char_indices().nth(conv::MAX_ID_CHARS) {
                Some((cut, _)) => {
                    issues.tags_truncated = true;
                    tags.insert(t[..cut].to_string());
                }
                None => {
                    tags.insert(t.to_string());
                }
            }
            // Only the first `MAX_TAGS` (in sorted order) are kept: the set never grows past it.
            if tags.len() > conv::MAX_TAGS {
                tags.pop_last();
                issues.tags_truncated = true;
            }
        };
        for kv in &self.tags {
            match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::ArrayValue(a)) => {
                    for x in &a.values {
                        match &x.value {
                            Some(Value::StringValue(t)) => add(t, &mut issues),
                            _ => issues.invalid_tags = true,
                        }
                    }
                }
                Some(Value::StringValue(text)) if text.trim_start().starts_with('[') => {
                    match serde_json::from_str::<Vec<Json>>(text) {
                        Ok(items) => {
                            for x in items {
                                match x {
                                    Json::String(t) => add(&t, &mut issues),
                                    _ => issues.invalid_tags = true,
                                }
                            }
                        }
                        Err(_) => issues.invalid_tags = true,
                    }
                }
                Some(Value::StringValue(text)) => text.split(',').for_each(|t| add(t.trim(), &mut issues)),
                _ => issues.invalid_tags = true,
            }
        }
        let (tags, cut) = crate::model::cap_tags(tags);
        issues.tags_truncated |= cut;
        let tags = (!tags.is_empty()).then(|| serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()));

        // Lowest precedence first; the first value of a key wins.
        self.meta.sort_by_key(|(prio, _, _)| *prio);
        let mut merged: std::collections::BTreeMap<String, Json> = std::collections::BTreeMap::new();
        for (prio, sub, kv) in &self.meta {
            let v = kv.value.as_ref();
            match sub {
                None => {
                    let obj = match v.and_then(|v| v.value.as_ref()) {
                        Some(Value::StringValue(text)) => match serde_json::from_str::<Json>(text) {
                            Ok(Json::Object(o)) => Some(o),
                            _ => None,
                        },
                        Some(Value::KvlistValue(_)) => match any_to_json(v) {
                            Json::Object(o) => Some(o),
                            _ => None,
                        },
                        _ => None,
                    };
                    match obj {
                        Some(o) => o.into_iter().for_each(|(k, x)| {
                            merged.entry(k).or_insert(x);
                        }),
                        None => issues.invalid_metadata = true,
                    }
                }
                Some(key) => {
                    if merged.contains_key(*key) {
                        continue;
                    }
                    let prefix = conv::METADATA_KEY_PREFIXES[usize::from(*prio) - conv::METADATA_OBJECT_KEYS.len()];
                    let x = match v.and_then(|v| v.value.as_ref()) {
                        Some(Value::StringValue(text)) if conv::JSON_VALUED_METADATA_PREFIXES.contains(&prefix) => {
                            serde_json::from_str::<Json>(text).unwrap_or_else(|_| Json::String(text.clone()))
                        }
                        _ => any_to_json(v),
                    };
                    merged.insert(key.to_string(), x);
                }
            }
        }
        let metadata = (!merged.is_empty()).then(|| {
            let (text, cut) = crate::model::cap_metadata(merged);
            issues.metadata_truncated = cut;
            text
        });
        (tags, metadata, issues)
    }
}

/// What the resolver fills from one span attribute (a resource's attributes fill the identity
/// fields too, as the fallback of each of its spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The end user's id (`SpanRow::user`).
    UserId,
    /// The id's type (one of `userspan::conventions::USER_ID_TYPES`, else `custom`).
    UserIdType,
    /// The hash of the id (`user.id.hash` or OTel semconv `user.hash`): the span's user when no
    /// id key is present (the identity in anonymized form).
    UserIdHash,
    /// The end user's e-mail.
    UserEmail,
    /// The end user's metadata (JSON object text).
    UserMetadata,
    /// The session id.
    SessionId,
    /// The GenAI provider.
    Provider,
    /// The model.
    Model,
    /// The tool name of a tool span.
    Tool,
    /// The GenAI operation (the last value of the span wins).
    Operation,
    /// Input tokens (integer; numeric strings accepted, rounded).
    InputTokens,
    /// Output tokens (integer; numeric strings accepted, rounded).
    OutputTokens,
    /// Cache-read input tokens (integer; included in the input tokens).
    CacheReadTokens,
    /// Cache-write input tokens (integer; included in the input tokens).
    CacheWriteTokens,
    /// Reasoning output tokens (integer; included in the output tokens).
    ReasoningTokens,
    /// The service tier of the call (OpenAI `service_tier`; selects a price variant).
    ServiceTier,
    /// Input cost, USD.
    InputCost,
    /// Output cost, USD.
    OutputCost,
    /// Total cost, USD (replaces input + output cost).
    TotalCost,
    /// Total tokens (integer): marks the span as carrying usage; adds no tokens.
    TotalTokens,
    /// Langfuse's usage details (JSON object text): `input` / `output` fill the input / output
    /// tokens when no token key gave them.
    UsageDetails,
    /// Langfuse's cost details (JSON object text, USD): `total`, else `input` / `output`, are the
    /// reported cost when no cost key gave one.
    CostDetails,
    /// A guardrail fired (boolean; the last value of the span wins).
    GuardrailTriggered,
    /// The OpenInference span kind (`GUARDRAIL` marks a guardrail span, `LLM` and `EMBEDDING` an
    /// LLM operation; the last value wins).
    SpanKind,
    /// Tags (`SpanRow::tags`): every key present adds its tags (a set, no precedence).
    Tags,
    /// A whole metadata object (JSON object text, `SpanRow::metadata`); per-key metadata
    /// attributes are matched by prefix ([`metadata_prefix`]), after these.
    Metadata,
}

/// `list[i]`, or `""` past its end (no resolved key is empty): the patterns of [`resolve_key`].
const fn nth_key(list: &'static [&'static str], i: usize) -> &'static str {
    if i < list.len() {
        list[i]
    } else {
        ""
    }
}

/// Declares [`RESOLVED_KEYS`] and [`resolve_key`] from one list of (field, conventions list), so
/// the lookup resolves exactly the keys of the table. The lookup is one `match` whose patterns are
/// constants taken from the lists: as fast as a `match` on the literals (a loop over the table
/// costs about three times as many instructions per attribute).
macro_rules! resolver {
    ($($field:ident => $list:expr,)*) => {
        /// Every attribute key the resolver reads, per field, in precedence order (the first key
        /// present with a usable value wins; a span's own identity value wins over its
        /// resource's). Each list *is* a list or constant of [`userspan::conventions`], so the
        /// receiver resolves no key that the conventions do not name; [`resolve_key`] is the only
        /// lookup, and `tests/conventions.rs` sends every key through ingest.
        pub const RESOLVED_KEYS: &[(Field, &[&str])] = &[$((Field::$field, $list),)*];

        /// The patterns of [`resolve_key`]: entry `i` of each field's list as `K{i}`.
        #[allow(non_snake_case, dead_code)]
        mod patterns {
            use super::*;
            $(pub mod $field {
                use super::*;
                const LIST: &[&str] = $list;
                const _: () = assert!(!LIST.is_empty() && LIST.len() <= 8, "resolve_key matches up to 8 keys a field");
                pub const K0: &str = nth_key(LIST, 0);
                pub const K1: &str = nth_key(LIST, 1);
                pub const K2: &str = nth_key(LIST, 2);
                pub const K3: &str = nth_key(LIST, 3);
                pub const K4: &str = nth_key(LIST, 4);
                pub const K5: &str = nth_key(LIST, 5);
                pub const K6: &str = nth_key(LIST, 6);
                pub const K7: &str = nth_key(LIST, 7);
            })*
        }

        /// The field an attribute `key` fills and its precedence (0 = the field's first key), from
        /// [`RESOLVED_KEYS`]; `None` for every other key. The resolver looks keys up nowhere else.
        pub fn resolve_key(key: &str) -> Option<(Field, u8)> {
            // The `""` arm takes the padding entries of short lists; their later arms never match.
            #[allow(unreachable_patterns)]
            match key {
                "" => None,
                $(patterns::$field::K0 => Some((Field::$field, 0)),
                  patterns::$field::K1 => Some((Field::$field, 1)),
                  patterns::$field::K2 => Some((Field::$field, 2)),
                  patterns::$field::K3 => Some((Field::$field, 3)),
                  patterns::$field::K4 => Some((Field::$field, 4)),
                  patterns::$field::K5 => Some((Field::$field, 5)),
                  patterns::$field::K6 => Some((Field::$field, 6)),
                  patterns::$field::K7 => Some((Field::$field, 7)),)*
                _ => None,
            }
        }
    };
}

resolver! {
    UserId => conv::USER_ID_ALIASES,
    UserIdType => conv::USER_ID_TYPE_ALIASES,
    UserIdHash => conv::USER_ID_HASH_ALIASES,
    UserEmail => conv::USER_EMAIL_ALIASES,
    UserMetadata => conv::USER_METADATA_ALIASES,
    SessionId => conv::SESSION_ID_ALIASES,
    Provider => conv::PROVIDER_ALIASES,
    Model => conv::MODEL_ALIASES,
    Tool => conv::TOOL_NAME_ALIASES,
    Operation => conv::OPERATION_ALIASES,
    InputTokens => conv::INPUT_TOKENS_ALIASES,
    OutputTokens => conv::OUTPUT_TOKENS_ALIASES,
    CacheReadTokens => conv::CACHE_READ_TOKENS_ALIASES,
    CacheWriteTokens => conv::CACHE_WRITE_TOKENS_ALIASES,
    ReasoningTokens => conv::REASONING_TOKENS_ALIASES,
    ServiceTier => conv::SERVICE_TIER_ALIASES,
    InputCost => conv::INPUT_COST_ALIASES,
    OutputCost => conv::OUTPUT_COST_ALIASES,
    TotalCost => conv::TOTAL_COST_ALIASES,
    TotalTokens => conv::TOTAL_TOKENS_ALIASES,
    UsageDetails => &[conv::LANGFUSE_USAGE_DETAILS],
    CostDetails => &[conv::LANGFUSE_COST_DETAILS],
    GuardrailTriggered => &[conv::GUARDRAIL_TRIGGERED],
    SpanKind => &[conv::OPENINFERENCE_SPAN_KIND],
    Tags => conv::TAGS_KEYS,
    Metadata => conv::METADATA_OBJECT_KEYS,
}

/// Attribute slots filled in one pass; a lower precedence number wins (userspan's own key is 0).
#[derive(Default)]
struct Resolved {
    user_id: Option<(u8, String)>,
    user_id_type: Option<(u8, String)>,
    user_id_hash: Option<(u8, String)>,
    user_email: Option<(u8, String)>,
    user_metadata: Option<(u8, String)>,
    session_id: Option<(u8, String)>,
    provider: Option<(u8, String)>,
    model: Option<(u8, String)>,
    tool: Option<(u8, String)>,
    operation: Option<(u8, String)>,
    total_tokens: Option<(u8, Option<i64>)>,
    usage_details: Option<String>,
    cost_details: Option<String>,
    span_kind_llm: bool,
    /// A Vercel AI SDK span (it has an `ai.operationId`).
    ai_sdk: bool,
    // Numbers: `Some((prio, None))` when the key is present with an unusable value.
    input_tokens: Option<(u8, Option<i64>)>,
    output_tokens: Option<(u8, Option<i64>)>,
    cache_read_tokens: Option<(u8, Option<i64>)>,
    cache_write_tokens: Option<(u8, Option<i64>)>,
    reasoning_tokens: Option<(u8, Option<i64>)>,
    service_tier: Option<(u8, String)>,
    input_cost: Option<(u8, Option<f64>)>,
    output_cost: Option<(u8, Option<f64>)>,
    total_cost: Option<(u8, Option<f64>)>,
    guardrail_triggered: Option<bool>,
    span_kind_guardrail: bool,
}

fn put_str(slot: &mut Option<(u8, String)>, prio: u8, v: Option<&AnyValue>) {
    if slot.as_ref().is_some_and(|(p, _)| *p <= prio) {
        return;
    }
    if let Some(s) = str_value(v).filter(|s| !s.is_empty()) {
        *slot = Some((prio, s));
    }
}

/// A token count: the value rounded, or `None` inside when it is not a finite number (it counts
/// as present and invalid). Values beyond `i64` saturate (and are out of range for usage).
fn put_int(slot: &mut Option<(u8, Option<i64>)>, prio: u8, v: Option<&AnyValue>) {
    if slot.as_ref().is_some_and(|(p, _)| *p <= prio) {
        return;
    }
    *slot = Some((prio, num_value(v).map(|n| n.round() as i64)));
}

/// A cost: the value, or `None` inside when it is not a number (NaN, text).
fn put_f64(slot: &mut Option<(u8, Option<f64>)>, prio: u8, v: Option<&AnyValue>) {
    if slot.as_ref().is_some_and(|(p, _)| *p <= prio) {
        return;
    }
    *slot = Some((prio, num_value(v)));
}

/// A number attribute, NaN and infinities kept (the callers refuse them and count it).
fn num_value(v: Option<&AnyValue>) -> Option<f64> {
    match v?.value.as_ref()? {
        Value::IntValue(i) => Some(*i as f64),
        Value::DoubleValue(d) => Some(*d),
        Value::StringValue(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|d| !d.is_nan())
}

impl Resolved {
    /// Fills the slot of `kv`'s key, if it is a resolved key; returns what it resolved to (tags and
    /// metadata are left to the caller).
    fn take(&mut self, kv: &KeyValue) -> Option<(Field, u8)> {
        let found = resolve_key(&kv.key);
        let (field, prio) = found?;
        let v = kv.value.as_ref();
        match field {
            Field::UserId => put_str(&mut self.user_id, prio, v),
            Field::UserIdType => put_str(&mut self.user_id_type, prio, v),
            Field::UserIdHash => put_str(&mut self.user_id_hash, prio, v),
            Field::UserEmail => put_str(&mut self.user_email, prio, v),
            Field::UserMetadata => put_str(&mut self.user_metadata, prio, v),
            Field::SessionId => put_str(&mut self.session_id, prio, v),
            Field::Provider => put_str(&mut self.provider, prio, v),
            Field::Model => put_str(&mut self.model, prio, v),
            Field::Tool => put_str(&mut self.tool, prio, v),
            Field::Operation => {
                put_str(&mut self.operation, prio, v);
                self.ai_sdk |= kv.key == conv::AI_OPERATION_ID;
            }
            Field::InputTokens => put_int(&mut self.input_tokens, prio, v),
            Field::OutputTokens => put_int(&mut self.output_tokens, prio, v),
            Field::CacheReadTokens => put_int(&mut self.cache_read_tokens, prio, v),
            Field::CacheWriteTokens => put_int(&mut self.cache_write_tokens, prio, v),
            Field::ReasoningTokens => put_int(&mut self.reasoning_tokens, prio, v),
            Field::ServiceTier => put_str(&mut self.service_tier, prio, v),
            Field::InputCost => put_f64(&mut self.input_cost, prio, v),
            Field::OutputCost => put_f64(&mut self.output_cost, prio, v),
            Field::TotalCost => put_f64(&mut self.total_cost, prio, v),
            Field::TotalTokens => put_int(&mut self.total_tokens, prio, v),
            Field::UsageDetails => self.usage_details = str_value(v),
            Field::CostDetails => self.cost_details = str_value(v),
            Field::GuardrailTriggered => self.guardrail_triggered = bool_value(v),
            Field::SpanKind => {
                let kind = str_value(v);
                let is = |k: &str| kind.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(k));
                self.span_kind_guardrail = is(conv::SPAN_KIND_GUARDRAIL);
                self.span_kind_llm = conv::LLM_CALL_SPAN_KINDS.iter().any(|k| is(k));
            }
            Field::Tags | Field::Metadata => {}
        }
        found
    }

    /// Fills what no dedicated key gave from Langfuse's JSON details: input / output tokens from
    /// `usage_details` (`input` / `output`, or OpenAI's `prompt_tokens` / `completion_tokens`,
    /// or `input_tokens` / `output_tokens`; cache-read and reasoning tokens from the raw OpenAI
    /// usage object's `prompt_tokens_details.cached_tokens` and
    /// `completion_tokens_details.reasoning_tokens`, as the Langfuse OpenAI integration sends
    /// it), the reported cost from `cost_details` (`total`, else
    /// `input` / `output`). A present non-numeric value counts as an invalid count or cost.
    fn apply_langfuse_details(&mut self) {
        fn num(obj: &serde_json::Map<String, Json>, k: &str) -> Option<Option<f64>> {
            obj.get(k).map(|v| match v {
                Json::Number(n) => n.as_f64(),
                Json::String(s) => s.trim().parse::<f64>().ok().filter(|d| !d.is_nan()),
                _ => None,
            })
        }
        let parse = |t: &Option<String>| match t.as_deref().map(serde_json::from_str::<Json>) {
            Some(Ok(Json::Object(m))) => Some(m),
            _ => None,
        };
        const LAST: u8 = u8::MAX;
        if let Some(m) = parse(&self.usage_details) {
            let tokens = |keys: &[&str]| {
                keys.iter()
                    .find_map(|k| match k.split_once('.') {
                        // A nested count of the raw OpenAI usage object (`prompt_tokens_details.cached_tokens`).
                        Some((outer, inner)) => m.get(outer).and_then(|o| o.as_object()).and_then(|o| num(o, inner)),
                        None => num(&m, k),
                    })
                    .map(|v| (LAST, v.map(|n| n.round() as i64)))
            };
            self.input_tokens = self.input_tokens.or_else(|| tokens(&["input", "prompt_tokens", "input_tokens"]));
            self.output_tokens =
                self.output_tokens.or_else(|| tokens(&["output", "completion_tokens", "output_tokens"]));
            self.cache_read_tokens =
                self.cache_read_tokens.or_else(|| tokens(&["prompt_tokens_details.cached_tokens"]));
            self.reasoning_tokens =
                self.reasoning_tokens.or_else(|| tokens(&["completion_tokens_details.reasoning_tokens"]));
        }
        if self.total_cost.is_none() && self.input_cost.is_none() && self.output_cost.is_none() {
            if let Some(m) = parse(&self.cost_details) {
                match num(&m, "total") {
                    Some(t) => self.total_cost = Some((LAST, t)),
                    None => {
                        self.input_cost = num(&m, "input").map(|v| (LAST, v));
                        self.output_cost = num(&m, "output").map(|v| (LAST, v));
                    }
                }
            }
        }
    }
}

impl Resolved {
    /// Lower-cases the provider (ASCII). The Vercel AI SDK's provider (`ai.model.provider`, and
    /// `gen_ai.system` on its spans, both `<provider>.<api>` such as `openai.chat`) keeps the part
    /// before the first `.`; OTel provider names keep theirs (`aws.bedrock`).
    fn normalize_provider(&mut self) {
        let Some((prio, name)) = &mut self.provider else { return };
        let key = conv::PROVIDER_ALIASES[usize::from(*prio)];
        if key == conv::AI_MODEL_PROVIDER || (self.ai_sdk && key == conv::GEN_AI_SYSTEM) {
            if let Some(dot) = name.find('.') {
                name.truncate(dot);
            }
        }
        name.make_ascii_lowercase();
    }
}

/// An operation that is an LLM call: one of [`conv::LLM_CALL_OPERATIONS`], or a Vercel AI SDK
/// provider call (an `ai.operationId` ending in one of [`conv::AI_LLM_CALL_OPERATION_SUFFIXES`]).
fn is_llm_operation(op: &str) -> bool {
    conv::LLM_CALL_OPERATIONS.contains(&op) || conv::AI_LLM_CALL_OPERATION_SUFFIXES.iter().any(|s| op.ends_with(s))
}

/// A string attribute (numbers and booleans are rendered as text).
fn str_value(v: Option<&AnyValue>) -> Option<String> {
    match v?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A numeric attribute (numeric strings accepted).
fn f64_value(v: Option<&AnyValue>) -> Option<f64> {
    match v?.value.as_ref()? {
        Value::IntValue(i) => Some(*i as f64),
        Value::DoubleValue(d) if d.is_finite() => Some(*d),
        Value::StringValue(s) => s.trim().parse::<f64>().ok().filter(|d| d.is_finite()),
        _ => None,
    }
}

fn bool_value(v: Option<&AnyValue>) -> Option<bool> {
    match v?.value.as_ref()? {
        Value::BoolValue(b) => Some(*b),
        Value::StringValue(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::StringValue(s) if s.eq_ignore_ascii_case("false") => Some(false),
        Value::IntValue(i) => Some(*i != 0),
        _ => None,
    }
}

/// Attributes as a JSON object text, written straight from the decoded values: the same text as
/// `any_to_json` values collected into a `serde_json::Map` (keys sorted, the last of repeated
/// keys wins), without building the map and copying every key and value into it.
pub fn attributes_json(attrs: &[KeyValue]) -> String {
    serde_json::to_string(&AttrsJson(attrs)).unwrap_or_else(|_| "{}".into())
}

struct AttrsJson<'a>(&'a [KeyValue]);

impl serde::Serialize for AttrsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut order: Vec<&KeyValue> = self.0.iter().collect();
        // Stable: repeated keys stay in arrival order, and the last of each run is kept.
        order.sort_by(|a, b| a.key.cmp(&b.key));
        let mut map = ser.serialize_map(None)?;
        for (i, kv) in order.iter().enumerate() {
            if order.get(i + 1).is_some_and(|next| next.key == kv.key) {
                continue;
            }
            map.serialize_entry(&kv.key, &AnyJson(kv.value.as_ref()))?;
        }
        map.end()
    }
}

struct AnyJson<'a>(Option<&'a AnyValue>);

impl serde::Serialize for AnyJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self.0.and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => ser.serialize_str(s),
            Some(Value::BoolValue(b)) => ser.serialize_bool(*b),
            Some(Value::IntValue(i)) => ser.serialize_i64(*i),
            Some(Value::DoubleValue(d)) if d.is_finite() => ser.serialize_f64(*d),
            Some(Value::BytesValue(b)) => ser.serialize_str(&hex::encode(b)),
            Some(Value::ArrayValue(a)) => ser.collect_seq(a.values.iter().map(|x| AnyJson(Some(x)))),
            Some(Value::KvlistValue(l)) => AttrsJson(&l.values).serialize(ser),
            _ => ser.serialize_unit(),
        }
    }
}

/// An OTLP attribute value as JSON.
pub fn any_to_json(v: Option<&AnyValue>) -> Json {
    match v.and_then(|v| v.value.as_ref()) {
        None => Json::Null,
        Some(Value::StringValue(s)) => Json::String(s.clone()),
        Some(Value::BoolValue(b)) => Json::Bool(*b),
        Some(Value::IntValue(i)) => Json::from(*i),
        Some(Value::DoubleValue(d)) => serde_json::Number::from_f64(*d).map(Json::Number).unwrap_or(Json::Null),
        Some(Value::BytesValue(b)) => Json::String(hex::encode(b)),
        Some(Value::ArrayValue(a)) => Json::Array(a.values.iter().map(|x| any_to_json(Some(x))).collect()),
        Some(Value::KvlistValue(l)) => {
            Json::Object(l.values.iter().map(|kv| (kv.key.clone(), any_to_json(kv.value.as_ref()))).collect())
        }
        Some(_) => Json::Null,
    }
}

/// The end user of an OTLP record (a feedback log record) with attributes `own` under a resource
/// with attributes `resource`, resolved as a span's identity is ([`RESOLVED_KEYS`]: the first
/// alias with a non-empty value, the record's own attributes before the resource's, the id's hash
/// when no id key is present; an id type outside `user.id.type`'s values is `custom`).
pub fn resolve_identity(own: &[KeyValue], resource: &[KeyValue]) -> Option<UserIdent> {
    let (mut r, mut res) = (Resolved::default(), Resolved::default());
    for kv in own {
        r.take(kv);
    }
    for kv in resource {
        res.take(kv);
    }
    let pick = |own: &mut Option<(u8, String)>, fallback: &Option<(u8, String)>| {
        own.take().filter(|(_, v)| !v.is_empty()).or_else(|| fallback.clone()).map(|(_, v)| v).filter(|v| !v.is_empty())
    };
    let id = pick(&mut r.user_id, &res.user_id).or_else(|| pick(&mut r.user_id_hash, &res.user_id_hash))?;
    let id_type = match pick(&mut r.user_id_type, &res.user_id_type) {
        Some(t) if conv::USER_ID_TYPES.contains(&t.as_str()) => t,
        _ => conv::USER_ID_TYPE_CUSTOM.to_string(),
    };
    Some(UserIdent { id, id_type })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn kv(k: &str, v: Option<Value>) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: v }), ..Default::default() }
    }

    /// The attributes text is exactly what collecting `any_to_json` values into a map gives.
    #[test]
    fn attributes_json_matches_a_map_of_values() {
        let nested =
            vec![kv("z", Some(Value::IntValue(-3))), kv("a", Some(Value::StringValue("x\"y\n".into()))), kv("z", None)];
        let attrs = vec![
            kv(conv::USER_ID, Some(Value::StringValue("ann é/%".into()))),
            kv("b", Some(Value::BoolValue(true))),
            kv("cost", Some(Value::DoubleValue(0.0049))),
            kv("big", Some(Value::DoubleValue(1e300))),
            kv("nan", Some(Value::DoubleValue(f64::NAN))),
            kv("inf", Some(Value::DoubleValue(f64::NEG_INFINITY))),
            kv("whole", Some(Value::DoubleValue(3.0))),
            kv("n", Some(Value::IntValue(i64::MIN))),
            kv("bytes", Some(Value::BytesValue(vec![0, 255, 16]))),
            kv(
                "arr",
                Some(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue { value: Some(Value::IntValue(1)) }, AnyValue { value: None }],
                })),
            ),
            kv("kv", Some(Value::KvlistValue(KeyValueList { values: nested }))),
            kv("b", Some(Value::StringValue("second b wins".into()))),
            kv("empty", None),
            KeyValue { key: "no-value".into(), value: None, ..Default::default() },
            kv("", Some(Value::StringValue("".into()))),
        ];
        for n in 0..=attrs.len() {
            let part = &attrs[..n];
            let map: serde_json::Map<String, Json> =
                part.iter().map(|kv| (kv.key.clone(), any_to_json(kv.value.as_ref()))).collect();
            assert_eq!(attributes_json(part), Json::Object(map).to_string(), "first {n} attributes");
        }
    }
}
