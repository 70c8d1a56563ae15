//! Feedback records (`docs/design.md`, "Feedback ingest"): ratings, thumbs, comments,
//! annotations and evaluator scores that arrive after their span ended, as OTLP log records whose
//! event name is `gen_ai.evaluation.result` (OTel GenAI) or as records posted to
//! `POST /api/feedback`. This module maps both into [`FeedbackRow`]s with one set of rules; the
//! keys are `userspan::conventions`' (`gen_ai.evaluation.*`, `userspan.feedback.*`).

use crate::model::UserIdent;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use userspan::conventions as conv;

/// The log record attribute that names the event for exporters older than OTLP's `event_name`
/// field (OTel semantic conventions, `event.name`).
pub const EVENT_NAME_ATTRIBUTE: &str = "event.name";

/// Longest label and id, in characters.
pub const MAX_FEEDBACK_LABEL_CHARS: usize = 256;

/// Most records in one `POST /api/feedback` batch.
pub const MAX_API_RECORDS: usize = 1000;

/// Largest `POST /api/feedback` body, after decompression (8 MiB).
pub const MAX_API_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Who gave a feedback record (`userspan.feedback.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The app's end user: user feedback.
    EndUser,
    /// A human annotator: listed, counted in neither feedback nor evaluations.
    Annotator,
    /// An automated evaluator: an evaluation.
    Evaluator,
}

impl Source {
    /// The wire name (one of [`conv::FEEDBACK_SOURCES`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::EndUser => conv::FEEDBACK_SOURCE_END_USER,
            Source::Annotator => conv::FEEDBACK_SOURCE_ANNOTATOR,
            Source::Evaluator => conv::FEEDBACK_SOURCE_EVALUATOR,
        }
    }

    /// From the wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Source> {
        match s {
            conv::FEEDBACK_SOURCE_END_USER => Some(Source::EndUser),
            conv::FEEDBACK_SOURCE_ANNOTATOR => Some(Source::Annotator),
            conv::FEEDBACK_SOURCE_EVALUATOR => Some(Source::Evaluator),
            _ => None,
        }
    }
}

/// One feedback record, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRow {
    /// Project.
    pub project: Arc<str>,
    /// `userspan.feedback.id`, else derived ([`derived_id`]).
    pub id: Arc<str>,
    /// When it was given, unix ns.
    pub time_ns: i64,
    /// `gen_ai.evaluation.name`, 1..256 characters.
    pub name: String,
    /// `gen_ai.evaluation.score.value` (finite; a bool as 1 / 0).
    pub value: Option<f64>,
    /// `gen_ai.evaluation.score.label`, ≤ 256 characters.
    pub label: Option<String>,
    /// `gen_ai.evaluation.explanation`, cut to 4 KiB on a char boundary; `None` when empty.
    pub comment: Option<String>,
    /// Who gave it.
    pub source: Source,
    /// The evaluated trace.
    pub trace_id: Option<[u8; 16]>,
    /// The evaluated span.
    pub span_id: Option<[u8; 8]>,
    /// The record's own end user (it belongs to its trace's owner once that trace is stored).
    pub user: Option<UserIdent>,
}

impl FeedbackRow {
    /// Whether the comment is non-empty.
    pub fn has_comment(&self) -> bool {
        self.comment.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// The pass (`Some(true)`) / fail (`Some(false)`) of an evaluation by the span-event rule
    /// (`docs/design.md`, "Traces": a pass / fail label, else a value in [0, 1] passes at ≥ 0.5);
    /// `None` when not counted.
    pub fn passed(&self) -> Option<bool> {
        let is = |labels: &[&str], l: &str| labels.iter().any(|x| l.eq_ignore_ascii_case(x));
        match self.label.as_deref() {
            Some(l) if is(conv::EVALUATION_PASS_LABELS, l) => Some(true),
            Some(l) if is(conv::EVALUATION_FAIL_LABELS, l) => Some(false),
            _ => self.value.filter(|v| (0.0..=1.0).contains(v)).map(|v| v >= 0.5),
        }
    }
}

/// The id of a record sent without one: SHA-256 (hex) of project, trace id, span id, name,
/// source, user id and time, so an exact re-send is the same record.
pub fn derived_id(
    project: &str,
    trace_id: Option<&[u8; 16]>,
    span_id: Option<&[u8; 8]>,
    name: &str,
    source: Source,
    user: Option<&UserIdent>,
    time_ns: i64,
) -> String {
    let mut h = Sha256::new();
    for part in [
        project.as_bytes(),
        trace_id.map_or(&[][..], |t| &t[..]),
        span_id.map_or(&[][..], |s| &s[..]),
        name.as_bytes(),
        source.as_str().as_bytes(),
        user.map_or(&b""[..], |u| u.id.as_bytes()),
        &time_ns.to_be_bytes()[..],
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// `s` cut to at most `max` bytes on a char boundary.
pub fn cut_to_bytes(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The fields common to both ways in, before validation.
#[derive(Debug, Default)]
struct Raw {
    id: Option<String>,
    name: Option<String>,
    value: Option<f64>,
    label: Option<String>,
    comment: Option<String>,
    source: Option<String>,
    trace_id: Option<[u8; 16]>,
    span_id: Option<[u8; 8]>,
    user: Option<UserIdent>,
    time_ns: i64,
}

/// Validates `raw` (the rules of "Feedback ingest"); `Err((field, why))` names the first broken
/// rule. `default_source` is the source of a record without one.
fn validate(project: &Arc<str>, raw: Raw, default_source: Source) -> Result<FeedbackRow, (&'static str, String)> {
    let name = raw.name.unwrap_or_default();
    let n = name.chars().count();
    if n == 0 || n > conv::MAX_FEEDBACK_NAME_CHARS {
        return Err(("name", format!("required, 1..{} characters, got {n}", conv::MAX_FEEDBACK_NAME_CHARS)));
    }
    if let Some(l) = &raw.label {
        if l.chars().count() > MAX_FEEDBACK_LABEL_CHARS {
            return Err(("label", format!("at most {MAX_FEEDBACK_LABEL_CHARS} characters")));
        }
    }
    if raw.value.is_none() && raw.label.is_none() {
        return Err(("value", "a value (finite number or bool) or a label is required".into()));
    }
    let source = match raw.source.as_deref() {
        None => default_source,
        Some(s) => Source::parse(s)
            .ok_or_else(|| ("source", format!("must be one of {}, got {s:?}", conv::FEEDBACK_SOURCES.join(", "))))?,
    };
    let id = match raw.id {
        Some(id) if id.is_empty() || id.chars().count() > MAX_FEEDBACK_LABEL_CHARS => {
            return Err(("id", format!("1..{MAX_FEEDBACK_LABEL_CHARS} characters")));
        }
        Some(id) => id,
        None => derived_id(
            project,
            raw.trace_id.as_ref(),
            raw.span_id.as_ref(),
            &name,
            source,
            raw.user.as_ref(),
            raw.time_ns,
        ),
    };
    let comment = raw.comment.map(|c| cut_to_bytes(c, conv::MAX_FEEDBACK_COMMENT_BYTES)).filter(|c| !c.is_empty());
    Ok(FeedbackRow {
        project: project.clone(),
        id: Arc::from(id),
        time_ns: raw.time_ns,
        name,
        value: raw.value,
        label: raw.label,
        comment,
        source,
        trace_id: raw.trace_id,
        span_id: raw.span_id,
        user: raw.user,
    })
}

/// The log records of one `ExportLogsServiceRequest`, mapped.
#[derive(Debug, Default)]
pub struct MappedLogs {
    /// Valid feedback records.
    pub rows: Vec<FeedbackRow>,
    /// Log records received.
    pub received: i64,
    /// Feedback records rejected: `partial_success.rejected_log_records`.
    pub rejected: i64,
    /// The first rejection's reason: `partial_success.error_message`.
    pub reject_reason: Option<String>,
    /// Log records that are not evaluation events (acknowledged, not stored).
    pub dropped: i64,
}

/// Whether a log record is a feedback record: its `event_name` is `gen_ai.evaluation.result`, or
/// its `event.name` attribute is.
pub fn is_feedback(r: &LogRecord) -> bool {
    r.event_name == conv::GEN_AI_EVALUATION_RESULT
        || r.attributes.iter().any(|kv| {
            kv.key == EVENT_NAME_ATTRIBUTE
                && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    Some(Value::StringValue(s)) if s == conv::GEN_AI_EVALUATION_RESULT)
        })
}

fn any_str(v: Option<&AnyValue>) -> Result<Option<String>, &'static str> {
    match v.and_then(|v| v.value.as_ref()) {
        None => Ok(None),
        Some(Value::StringValue(s)) => Ok(Some(s.clone())),
        Some(_) => Err("must be a string"),
    }
}

fn any_score(v: Option<&AnyValue>) -> Result<Option<f64>, &'static str> {
    const WHY: &str = "must be a finite number or a bool";
    match v.and_then(|v| v.value.as_ref()) {
        None => Ok(None),
        Some(Value::IntValue(i)) => Ok(Some(*i as f64)),
        Some(Value::DoubleValue(d)) if d.is_finite() => Ok(Some(*d)),
        Some(Value::BoolValue(b)) => Ok(Some(if *b { 1.0 } else { 0.0 })),
        Some(_) => Err(WHY),
    }
}

fn otlp_id<const N: usize>(bytes: &[u8], field: &'static str) -> Result<Option<[u8; N]>, (&'static str, String)> {
    if bytes.is_empty() || bytes.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    <[u8; N]>::try_from(bytes)
        .map(Some)
        .map_err(|_| (field, format!("must be {N} bytes or empty, got {}", bytes.len())))
}

fn map_record(
    r: &LogRecord,
    resource: &[KeyValue],
    project: &Arc<str>,
    now_ns: i64,
) -> Result<FeedbackRow, (&'static str, String)> {
    let mut raw = Raw {
        trace_id: otlp_id::<16>(&r.trace_id, "trace_id")?,
        span_id: otlp_id::<8>(&r.span_id, "span_id")?,
        user: crate::ingest::resolve_identity(&r.attributes, resource),
        ..Raw::default()
    };
    let ts = |t: u64| i64::try_from(t).ok().filter(|t| *t > 0);
    raw.time_ns = ts(r.time_unix_nano).or_else(|| ts(r.observed_time_unix_nano)).unwrap_or(now_ns);
    for kv in &r.attributes {
        let v = kv.value.as_ref();
        let (field, slot): (&'static str, &mut Option<String>) = match kv.key.as_str() {
            conv::GEN_AI_EVALUATION_NAME => (conv::GEN_AI_EVALUATION_NAME, &mut raw.name),
            conv::GEN_AI_EVALUATION_SCORE_LABEL => (conv::GEN_AI_EVALUATION_SCORE_LABEL, &mut raw.label),
            conv::GEN_AI_EVALUATION_EXPLANATION => (conv::GEN_AI_EVALUATION_EXPLANATION, &mut raw.comment),
            conv::FEEDBACK_SOURCE => (conv::FEEDBACK_SOURCE, &mut raw.source),
            conv::FEEDBACK_ID => (conv::FEEDBACK_ID, &mut raw.id),
            conv::GEN_AI_EVALUATION_SCORE_VALUE => {
                raw.value = any_score(v).map_err(|why| (conv::GEN_AI_EVALUATION_SCORE_VALUE, why.to_string()))?;
                continue;
            }
            _ => continue,
        };
        *slot = any_str(v).map_err(|why| (field, why.to_string()))?;
    }
    // The wire names of the fields, for the rejection message.
    validate(project, raw, Source::Evaluator).map_err(|(f, why)| {
        let key = match f {
            "name" => conv::GEN_AI_EVALUATION_NAME,
            "value" => conv::GEN_AI_EVALUATION_SCORE_VALUE,
            "label" => conv::GEN_AI_EVALUATION_SCORE_LABEL,
            "source" => conv::FEEDBACK_SOURCE,
            "id" => conv::FEEDBACK_ID,
            other => other,
        };
        (key, why)
    })
}

/// Maps a decoded logs request: feedback records validated (the others counted in
/// [`MappedLogs::dropped`]). `project_override` is the API key's project, when keys are
/// configured; otherwise each resource's `userspan.project`, else `default`. `now_ns` is the time
/// of a record without one.
pub fn map_logs_request(req: ExportLogsServiceRequest, project_override: Option<&str>, now_ns: i64) -> MappedLogs {
    let mut out = MappedLogs::default();
    for rl in req.resource_logs {
        let res_attrs: &[KeyValue] = rl.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        let res_project = res_attrs.iter().find(|kv| kv.key == conv::RESOURCE_PROJECT).and_then(|kv| {
            match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            }
        });
        let project: Arc<str> = Arc::from(project_override.or(res_project).unwrap_or(conv::DEFAULT_PROJECT));
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                out.received += 1;
                if !is_feedback(r) {
                    out.dropped += 1;
                    continue;
                }
                match map_record(r, res_attrs, &project, now_ns) {
                    Ok(row) => out.rows.push(row),
                    Err((field, why)) => {
                        out.rejected += 1;
                        out.reject_reason.get_or_insert_with(|| format!("{field}: {why}"));
                    }
                }
            }
        }
    }
    out
}

/// The fields a `POST /api/feedback` record may have.
pub const API_FIELDS: &[&str] =
    &["id", "name", "value", "label", "comment", "source", "trace_id", "span_id", "user_id", "user_id_type", "time"];

fn hex_id<const N: usize>(v: &Json) -> Result<Option<[u8; N]>, String> {
    let why = || format!("must be {} lowercase or uppercase hex characters", 2 * N);
    match v {
        Json::Null => Ok(None),
        Json::String(s) if s.is_empty() => Ok(None),
        Json::String(s) => {
            let b = hex::decode(s).map_err(|_| why())?;
            let a = <[u8; N]>::try_from(b.as_slice()).map_err(|_| why())?;
            Ok((!a.iter().all(|x| *x == 0)).then_some(a))
        }
        _ => Err(why()),
    }
}

fn api_record(project: &Arc<str>, v: &Json, now_ns: i64) -> Result<FeedbackRow, (String, String)> {
    let Json::Object(m) = v else { return Err((String::new(), "must be a JSON object".into())) };
    if let Some(k) = m.keys().find(|k| !API_FIELDS.contains(&k.as_str())) {
        return Err((format!(".{k}"), format!("unknown field (allowed: {})", API_FIELDS.join(", "))));
    }
    let f = |k: &str| format!(".{k}");
    let text = |k: &str| -> Result<Option<String>, (String, String)> {
        match m.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err((f(k), "must be a string".into())),
        }
    };
    let value = match m.get("value") {
        None | Some(Json::Null) => None,
        Some(Json::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
        Some(Json::Number(n)) => n.as_f64().filter(|x| x.is_finite()),
        Some(_) => None,
    };
    if value.is_none() && m.get("value").is_some_and(|v| !v.is_null()) {
        return Err((f("value"), "must be a finite number or a bool".into()));
    }
    let user = match text("user_id")? {
        Some(id) if !id.is_empty() => Some(UserIdent {
            id,
            id_type: match text("user_id_type")? {
                None => conv::USER_ID_TYPE_CUSTOM.to_string(),
                Some(t) if conv::USER_ID_TYPES.contains(&t.as_str()) => t,
                Some(t) => {
                    return Err((
                        f("user_id_type"),
                        format!("must be one of {}, got {t:?}", conv::USER_ID_TYPES.join(", ")),
                    ))
                }
            },
        }),
        _ => None,
    };
    let time_ns = match m.get("time") {
        None | Some(Json::Null) => now_ns,
        Some(Json::String(s)) => crate::timefmt::parse_time(s).map_err(|e| (f("time"), e))?,
        Some(Json::Number(n)) => n
            .as_i64()
            .and_then(|ms| ms.checked_mul(crate::timefmt::NS_PER_MS))
            .ok_or_else(|| (f("time"), "must be RFC 3339 text or unix milliseconds (an integer)".into()))?,
        Some(_) => return Err((f("time"), "must be RFC 3339 text or unix milliseconds".into())),
    };
    let raw = Raw {
        id: text("id")?,
        name: text("name")?,
        value,
        label: text("label")?,
        comment: text("comment")?,
        source: text("source")?,
        trace_id: hex_id::<16>(m.get("trace_id").unwrap_or(&Json::Null)).map_err(|e| (f("trace_id"), e))?,
        span_id: hex_id::<8>(m.get("span_id").unwrap_or(&Json::Null)).map_err(|e| (f("span_id"), e))?,
        user,
        time_ns,
    };
    validate(project, raw, Source::EndUser).map_err(|(field, why)| (f(field), why))
}

/// Parses a `POST /api/feedback` body (`{"records": [...]}`, at most [`MAX_API_RECORDS`]) for
/// `project`: every record or an error naming the first bad one (`records[2].value: must be a
/// finite number or a bool`); the batch is all-or-nothing.
pub fn parse_api_batch(project: &str, body: &[u8], now_ns: i64) -> Result<Vec<FeedbackRow>, String> {
    let v: Json = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let Json::Object(top) = v else { return Err("the body must be a JSON object {\"records\": [...]}".into()) };
    if let Some(k) = top.keys().find(|k| *k != "records") {
        return Err(format!("{k}: unknown field (the body is {{\"records\": [...]}})"));
    }
    let Some(Json::Array(records)) = top.get("records") else {
        return Err("records: required, an array of feedback records".into());
    };
    if records.len() > MAX_API_RECORDS {
        return Err(format!("records: at most {MAX_API_RECORDS} records per request, got {}", records.len()));
    }
    let project: Arc<str> = Arc::from(project);
    records
        .iter()
        .enumerate()
        .map(|(i, r)| api_record(&project, r, now_ns).map_err(|(field, why)| format!("records[{i}]{field}: {why}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_cut_on_a_char_boundary() {
        let s = "é".repeat(3000);
        let c = cut_to_bytes(s, conv::MAX_FEEDBACK_COMMENT_BYTES);
        assert_eq!(c.len(), 4096);
        let c = cut_to_bytes(format!("a{}", "é".repeat(3000)), 4096);
        assert_eq!(c.len(), 4095);
    }

    #[test]
    fn api_errors_name_the_record_and_field() {
        let e = parse_api_batch("p", br#"{"records":[{"name":"a","value":1},{"name":"b","value":"x"}]}"#, 0);
        assert_eq!(e.unwrap_err(), "records[1].value: must be a finite number or a bool");
        let e = parse_api_batch("p", br#"{"records":[{"name":"a","label":"up","extra":1}]}"#, 0).unwrap_err();
        assert!(e.starts_with("records[0].extra: unknown field"), "{e}");
        let e = parse_api_batch("p", br#"{"records":[{"name":"a"}]}"#, 0).unwrap_err();
        assert!(e.starts_with("records[0].value: "), "{e}");
        let ok = parse_api_batch("p", br#"{"records":[{"name":"a","value":true,"time":1000}]}"#, 0).unwrap();
        assert_eq!((ok[0].value, ok[0].time_ns, ok[0].source), (Some(1.0), 1_000_000_000, Source::EndUser));
    }
}
