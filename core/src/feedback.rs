//! User feedback and scores (issue 20): one OTLP log record per [`Feedback`], the OpenTelemetry
//! GenAI event `gen_ai.evaluation.result` in the evaluated span's context (its trace and span ids
//! on the record), with `gen_ai.evaluation.name`, `gen_ai.evaluation.score.value` (double, or a
//! bool kept as bool: the receiver counts it as 1/0), `gen_ai.evaluation.score.label`,
//! `gen_ai.evaluation.explanation` (the comment), `userspan.feedback.source`,
//! `userspan.feedback.id` (a UUID v4 unless given) and the current scope's identity stamped by the
//! same rules and privacy mode as spans. Keys: [`crate::conventions`]; the receiver side is
//! `docs/design.md` ("Feedback ingest").
//!
//! Records leave through the log pipeline [`crate::init`] builds beside the span pipeline: the
//! same endpoint (`/v1/logs`, or `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`), headers, api key, protocol,
//! TLS files, compression and resource; a bounded queue (`max_queue_size`) on the
//! OpenTelemetry SDK's `BatchLogProcessor` thread. A record that does not fit, or whose batch
//! fails, is counted in [`crate::stats()`] (`feedback_dropped`); the app never waits or sees an
//! export error. Exporter `none` or `OTEL_SDK_DISABLED`: feedback is validated, then not sent.
//!
//! ```
//! use userspan::feedback::{Feedback, FeedbackSource};
//! userspan::init(userspan::Config { exporter: Some(userspan::ExporterKind::Memory), ..Default::default() })?;
//! let reference = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
//! Feedback::new("thumbs").value(true).comment("spot on").source(FeedbackSource::EndUser).target_ref(reference).send()?;
//! let sent = userspan::feedback::finished_feedback();
//! assert_eq!(sent[0].span_id.as_deref(), Some("b7ad6b7169203331"));
//! # userspan::shutdown(std::time::Duration::from_secs(1));
//! # Ok::<(), userspan::Error>(())
//! ```

use crate::attributes::{value_to_json, KeyStyle, OptionValue};
use crate::conventions::{
    FEEDBACK_ID, FEEDBACK_SOURCE, FEEDBACK_SOURCES, FEEDBACK_SOURCE_ANNOTATOR, FEEDBACK_SOURCE_END_USER,
    FEEDBACK_SOURCE_EVALUATOR, GEN_AI_EVALUATION_EXPLANATION, GEN_AI_EVALUATION_NAME, GEN_AI_EVALUATION_RESULT,
    GEN_AI_EVALUATION_SCORE_LABEL, GEN_AI_EVALUATION_SCORE_VALUE, MAX_FEEDBACK_COMMENT_BYTES, MAX_FEEDBACK_NAME_CHARS,
};
use crate::error::{Error, Result};
use crate::privacy::Privacy;
use crate::scope::Scope;
use crate::spans::SpanHandle;
use crate::stats::COUNTERS;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who gave the feedback (`userspan.feedback.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedbackSource {
    /// The app's end user (thumbs, ratings, comments). The default.
    #[default]
    EndUser,
    /// A human annotator reviewing traces.
    Annotator,
    /// An automated evaluator (LLM judge, heuristic).
    Evaluator,
}

impl FeedbackSource {
    /// The wire value: `end_user`, `annotator` or `evaluator` ([`FEEDBACK_SOURCES`]).
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::EndUser => FEEDBACK_SOURCE_END_USER,
            FeedbackSource::Annotator => FEEDBACK_SOURCE_ANNOTATOR,
            FeedbackSource::Evaluator => FEEDBACK_SOURCE_EVALUATOR,
        }
    }
}

fn quoted_list(items: &[&str]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}

impl std::str::FromStr for FeedbackSource {
    type Err = Error;
    /// Parses a wire value. Errors: [`Error::InvalidValue`] naming `source`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            FEEDBACK_SOURCE_END_USER => Ok(FeedbackSource::EndUser),
            FEEDBACK_SOURCE_ANNOTATOR => Ok(FeedbackSource::Annotator),
            FEEDBACK_SOURCE_EVALUATOR => Ok(FeedbackSource::Evaluator),
            other => Err(Error::InvalidValue {
                field: "source".into(),
                allowed: quoted_list(FEEDBACK_SOURCES),
                got: format!("{other:?}"),
            }),
        }
    }
}

/// A feedback score: a number (must be finite) or a bool (thumbs up / down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeedbackValue {
    /// A numeric score, sent as a double.
    Number(f64),
    /// A boolean score, sent as a bool (the receiver counts `true` as 1, `false` as 0).
    Bool(bool),
}

impl From<f64> for FeedbackValue {
    fn from(v: f64) -> Self {
        FeedbackValue::Number(v)
    }
}
impl From<i64> for FeedbackValue {
    fn from(v: i64) -> Self {
        FeedbackValue::Number(v as f64)
    }
}
impl From<i32> for FeedbackValue {
    fn from(v: i32) -> Self {
        FeedbackValue::Number(f64::from(v))
    }
}
impl From<bool> for FeedbackValue {
    fn from(v: bool) -> Self {
        FeedbackValue::Bool(v)
    }
}

#[derive(Debug, Clone, Default)]
enum Target {
    /// The span current in the OpenTelemetry [`Context`] at `send`.
    #[default]
    Current,
    /// A given span.
    Span(SpanContext),
    /// A `traceparent` string, parsed at `send`.
    Ref(String),
    /// No span: the record carries only the scope's identity.
    Detached,
}

/// One feedback record, built then [`Feedback::send`]. `name` is the evaluation's name
/// (`gen_ai.evaluation.name`: `thumbs`, `rating`, `helpfulness`); give a [`Feedback::value`], a
/// [`Feedback::label`] or both.
#[derive(Debug, Clone)]
pub struct Feedback {
    name: String,
    value: Option<FeedbackValue>,
    label: Option<String>,
    comment: Option<String>,
    source: FeedbackSource,
    target: Target,
    id: Option<String>,
    scope: Option<Option<Scope>>,
    attributes: Vec<KeyValue>,
}

impl Feedback {
    /// A feedback record named `name` (1 to [`MAX_FEEDBACK_NAME_CHARS`] chars, checked at `send`).
    pub fn new(name: impl Into<String>) -> Feedback {
        Feedback {
            name: name.into(),
            value: None,
            label: None,
            comment: None,
            source: FeedbackSource::EndUser,
            target: Target::Current,
            id: None,
            scope: None,
            attributes: Vec::new(),
        }
    }

    /// The score (`gen_ai.evaluation.score.value`): an `f64`/integer (finite) or a `bool`.
    pub fn value(mut self, value: impl Into<FeedbackValue>) -> Feedback {
        self.value = Some(value.into());
        self
    }

    /// The label (`gen_ai.evaluation.score.label`: `up`, `pass`, `relevant`, ...).
    pub fn label(mut self, label: impl Into<String>) -> Feedback {
        self.label = Some(label.into());
        self
    }

    /// A free-text comment (`gen_ai.evaluation.explanation`); over [`MAX_FEEDBACK_COMMENT_BYTES`]
    /// bytes it is cut on a char boundary and counted in `stats().feedback_comments_truncated`.
    pub fn comment(mut self, comment: impl Into<String>) -> Feedback {
        self.comment = Some(comment.into());
        self
    }

    /// Who gave it (default [`FeedbackSource::EndUser`]).
    pub fn source(mut self, source: FeedbackSource) -> Feedback {
        self.source = source;
        self
    }

    /// The record's id (`userspan.feedback.id`); default a fresh UUID v4. Give the id of an
    /// earlier record to replace it (an edited rating): the receiver keeps the later one.
    pub fn id(mut self, id: impl Into<String>) -> Feedback {
        self.id = Some(id.into());
        self
    }

    /// Rates the span of `span` (a binding's span handle).
    pub fn target_span(mut self, span: &SpanHandle) -> Feedback {
        self.target = Target::Span(span.span_context());
        self
    }

    /// Rates the span with this context.
    pub fn target_context(mut self, span: SpanContext) -> Feedback {
        self.target = Target::Span(span);
        self
    }

    /// Rates the span a W3C `traceparent` string names (from [`span_ref`], handed to the front
    /// end and back). A malformed one is an [`Error::InvalidValue`] naming `target` at `send`.
    pub fn target_ref(mut self, traceparent: impl Into<String>) -> Feedback {
        self.target = Target::Ref(traceparent.into());
        self
    }

    /// Rates no span: the record carries no trace or span id, only the scope's identity.
    pub fn no_target(mut self) -> Feedback {
        self.target = Target::Detached;
        self
    }

    /// Stamps the identity of `scope` (`None`: none) instead of the current [`Scope`]; for
    /// bindings, which keep the scope in their own context mechanism.
    pub fn scope(mut self, scope: Option<Scope>) -> Feedback {
        self.scope = Some(scope);
        self
    }

    /// An extra attribute on the record (after the userspan keys, which it cannot replace).
    pub fn attribute(mut self, kv: KeyValue) -> Feedback {
        self.attributes.push(kv);
        self
    }

    /// Validates the record and hands it to the log pipeline (never blocks on the export).
    ///
    /// # Errors
    /// Before anything is sent: [`Error::InvalidValue`] naming `name` (empty, or over
    /// [`MAX_FEEDBACK_NAME_CHARS`] chars), `value` (NaN or infinite; or neither value nor label),
    /// or `target` (a malformed `traceparent`).
    pub fn send(self) -> Result<()> {
        let record = self.prepare()?;
        if let Some(sink) = current_sink() {
            sink.send(record);
        }
        Ok(())
    }

    fn prepare(self) -> Result<Prepared> {
        let chars = self.name.chars().count();
        if chars == 0 || chars > MAX_FEEDBACK_NAME_CHARS {
            return Err(Error::InvalidValue {
                field: "name".into(),
                allowed: format!("a string of 1 to {MAX_FEEDBACK_NAME_CHARS} characters"),
                got: if chars == 0 { "\"\"".into() } else { format!("a string of {chars} characters") },
            });
        }
        if let Some(FeedbackValue::Number(v)) = self.value {
            if !v.is_finite() {
                return Err(Error::InvalidValue {
                    field: "value".into(),
                    allowed: "a finite number or a bool".into(),
                    got: format!("{v}"),
                });
            }
        }
        if self.value.is_none() && self.label.is_none() {
            return Err(Error::InvalidValue {
                field: "value".into(),
                allowed: "a finite number or a bool, or a `label` string (at least one of them)".into(),
                got: "neither".into(),
            });
        }
        let span = match self.target {
            Target::Current => {
                let cx = Context::current();
                let sc = cx.span().span_context().clone();
                sc.is_valid().then_some(sc)
            }
            Target::Span(sc) => sc.is_valid().then_some(sc),
            Target::Ref(text) => Some(parse_span_ref(&text)?),
            Target::Detached => None,
        };
        let mut attributes = Vec::with_capacity(12 + self.attributes.len());
        attributes.push(KeyValue::new(GEN_AI_EVALUATION_NAME, self.name));
        match self.value {
            Some(FeedbackValue::Number(v)) => attributes.push(KeyValue::new(GEN_AI_EVALUATION_SCORE_VALUE, v)),
            Some(FeedbackValue::Bool(b)) => attributes.push(KeyValue::new(GEN_AI_EVALUATION_SCORE_VALUE, b)),
            None => {}
        }
        if let Some(label) = self.label {
            attributes.push(KeyValue::new(GEN_AI_EVALUATION_SCORE_LABEL, label));
        }
        if let Some(mut comment) = self.comment {
            if comment.len() > MAX_FEEDBACK_COMMENT_BYTES {
                let mut cut = MAX_FEEDBACK_COMMENT_BYTES;
                while !comment.is_char_boundary(cut) {
                    cut -= 1;
                }
                comment.truncate(cut);
                crate::stats::count_comment_truncation();
            }
            attributes.push(KeyValue::new(GEN_AI_EVALUATION_EXPLANATION, comment));
        }
        attributes.push(KeyValue::new(FEEDBACK_SOURCE, self.source.as_str()));
        attributes.push(KeyValue::new(FEEDBACK_ID, self.id.unwrap_or_else(uuid_v4)));
        let scope = self.scope.unwrap_or_else(Scope::current);
        if let Some(scope) = scope {
            let privacy = crate::pipeline::current_privacy().unwrap_or_else(|| Arc::new(Privacy::off()));
            scope.for_each_key_value(&privacy, |kv| attributes.push(kv));
        }
        for kv in self.attributes {
            if !attributes.iter().any(|a| a.key == kv.key) {
                attributes.push(kv);
            }
        }
        Ok(Prepared { span, time: SystemTime::now(), attributes })
    }
}

/// The options [`feedback_from_options`] takes, per key style (besides `name`, given apart).
const OPTION_NAMES: &[&str] = &["value", "label", "comment", "source", "target", "id"];

/// The bindings' entry point: a [`Feedback`] from by-name options, as `feedback(name, {...})` /
/// `feedback(name, value=..., ...)` pass them. Options: `value` (number or bool), `label`,
/// `comment`, `source` (`end_user` | `annotator` | `evaluator`), `target` (a `traceparent`
/// string; the bindings turn a span handle into [`Feedback::target_span`] themselves, and
/// [`OptionValue::Null`] means "no span"), `id`. A `Null` value for the others is "not given".
/// The same names in both key styles.
///
/// # Errors
/// [`Error::UnknownOption`] for another key; [`Error::InvalidType`] naming the option for a value
/// of the wrong type; [`Error::InvalidValue`] for an unknown `source`. The checks of
/// [`Feedback::send`] run at `send`.
pub fn feedback_from_options<I, K>(name: &str, options: I, _style: KeyStyle) -> Result<Feedback>
where
    I: IntoIterator<Item = (K, OptionValue)>,
    K: AsRef<str>,
{
    let mut f = Feedback::new(name);
    for (key, value) in options {
        let key = key.as_ref();
        let string = |value: &OptionValue| match value {
            OptionValue::Str(s) => Ok(s.to_string()),
            other => Err(Error::InvalidType { field: key.into(), expected: "a string".into(), got: other.describe() }),
        };
        if matches!(value, OptionValue::Null) {
            if key == "target" {
                f = f.no_target();
            } else if !OPTION_NAMES.contains(&key) {
                return Err(Error::UnknownOption { field: key.into(), allowed: OPTION_NAMES.join(", ") });
            }
            continue;
        }
        f = match key {
            "value" => match value {
                OptionValue::Bool(b) => f.value(b),
                OptionValue::Int(i) => f.value(i as f64),
                OptionValue::Float(x) => f.value(x),
                other => {
                    return Err(Error::InvalidType {
                        field: "value".into(),
                        expected: "a finite number or a bool".into(),
                        got: other.describe(),
                    })
                }
            },
            "label" => f.label(string(&value)?),
            "comment" => f.comment(string(&value)?),
            "source" => {
                let s = string(&value)?;
                f.source(s.parse()?)
            }
            "target" => f.target_ref(string(&value)?),
            "id" => f.id(string(&value)?),
            _ => return Err(Error::UnknownOption { field: key.into(), allowed: OPTION_NAMES.join(", ") }),
        };
    }
    Ok(f)
}

/// The current span (OpenTelemetry [`Context`]) as a W3C `traceparent` string,
/// `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`, for the app to hand to its front end
/// and give back as [`Feedback::target_ref`]; `None` outside any span.
pub fn span_ref() -> Option<String> {
    let cx = Context::current();
    let sc = cx.span().span_context().clone();
    span_ref_of(&sc)
}

/// `span` as a W3C `traceparent` string (see [`span_ref`]); `None` for an invalid context.
pub fn span_ref_of(span: &SpanContext) -> Option<String> {
    if !span.is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&Context::new().with_remote_span_context(span.clone()), &mut carrier);
    carrier.remove("traceparent")
}

/// Parses a W3C `traceparent` string (OpenTelemetry's W3C propagator).
///
/// # Errors
/// [`Error::InvalidValue`] naming `target` when it is not a valid `traceparent`.
pub fn parse_span_ref(text: &str) -> Result<SpanContext> {
    let carrier = HashMap::from([("traceparent".to_string(), text.trim().to_string())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    let sc = cx.span().span_context().clone();
    if sc.is_valid() {
        Ok(sc)
    } else {
        Err(Error::InvalidValue {
            field: "target".into(),
            allowed: "a W3C traceparent \"00-<32 hex trace id>-<16 hex span id>-<2 hex flags>\" (span_ref())".into(),
            got: format!("{:?}", text.chars().take(80).collect::<String>()),
        })
    }
}

/// A random UUID v4 (RFC 9562), lower-case hyphenated, from the OpenTelemetry SDK's random id
/// generator.
fn uuid_v4() -> String {
    let mut b = RandomIdGenerator::default().new_trace_id().to_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A validated record, ready for a sink.
#[derive(Debug)]
pub(crate) struct Prepared {
    span: Option<SpanContext>,
    time: SystemTime,
    attributes: Vec<KeyValue>,
}

/// A sent feedback record as plain data (what the memory exporter keeps and the bindings' tests
/// read). Ids are lower-case hex; the time is ns since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishedFeedback {
    /// `gen_ai.evaluation.result`.
    pub event_name: &'static str,
    /// When `send` was called, ns since the Unix epoch.
    pub time_unix_nano: u64,
    /// The target's trace id (32 hex chars); `None` without a target span.
    pub trace_id: Option<String>,
    /// The target's span id (16 hex chars); `None` without a target span.
    pub span_id: Option<String>,
    /// The record's attributes as JSON values.
    pub attributes: Map<String, Json>,
    /// Resource attributes (`service.name`, ...), the span pipeline's.
    pub resource: Map<String, Json>,
}

impl FinishedFeedback {
    fn from_prepared(p: &Prepared, resource: &Map<String, Json>) -> FinishedFeedback {
        FinishedFeedback {
            event_name: GEN_AI_EVALUATION_RESULT,
            time_unix_nano: p.time.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0),
            trace_id: p.span.as_ref().map(|s| s.trace_id().to_string()),
            span_id: p.span.as_ref().map(|s| s.span_id().to_string()),
            attributes: p.attributes.iter().map(|kv| (kv.key.to_string(), value_to_json(&kv.value))).collect(),
            resource: resource.clone(),
        }
    }

    /// The record as JSON for a host: [`KeyStyle::Snake`] is the serde form; [`KeyStyle::Camel`]
    /// uses camelCase keys and gives the time as a decimal string (exact in JavaScript).
    pub fn to_json(&self, style: KeyStyle) -> Json {
        if style == KeyStyle::Snake {
            return serde_json::to_value(self).unwrap_or(Json::Null);
        }
        json!({
            "eventName": self.event_name,
            "timeUnixNano": self.time_unix_nano.to_string(),
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "attributes": self.attributes,
            "resource": self.resource,
        })
    }
}

/// Where [`Feedback::send`] hands records: the log side of the pipeline [`crate::init`] built.
pub(crate) enum Sink {
    Memory {
        records: Arc<Mutex<Vec<FinishedFeedback>>>,
        resource: Map<String, Json>,
    },
    Console {
        resource: Map<String, Json>,
    },
    #[cfg(feature = "otlp")]
    Otlp(otlp::LogPipeline),
}

impl Sink {
    fn send(&self, record: Prepared) {
        match self {
            Sink::Memory { records, resource } => {
                if let Ok(mut r) = records.lock() {
                    r.push(FinishedFeedback::from_prepared(&record, resource));
                }
                COUNTERS.feedback_sent.fetch_add(1, Ordering::Relaxed);
            }
            Sink::Console { resource } => {
                let line =
                    serde_json::to_string(&FinishedFeedback::from_prepared(&record, resource)).unwrap_or_default();
                println!("{line}");
                COUNTERS.feedback_sent.fetch_add(1, Ordering::Relaxed);
            }
            #[cfg(feature = "otlp")]
            Sink::Otlp(p) => p.emit(record),
        }
    }

    fn flush(&self) -> bool {
        match self {
            #[cfg(feature = "otlp")]
            Sink::Otlp(p) => p.provider.force_flush().is_ok(),
            _ => true,
        }
    }

    fn shutdown(&self, _timeout: Duration) {
        #[cfg(feature = "otlp")]
        if let Sink::Otlp(p) = self {
            let _ = p.provider.shutdown_with_timeout(_timeout);
        }
    }
}

static SINK: RwLock<Option<Arc<Sink>>> = RwLock::new(None);

fn current_sink() -> Option<Arc<Sink>> {
    SINK.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Builds the sink for `resolved` (`None`: feedback is validated and not sent).
pub(crate) fn build_sink(
    resolved: &crate::config::ResolvedConfig,
    resource: &opentelemetry_sdk::Resource,
) -> Result<Option<Sink>> {
    use crate::config::ExporterKind;
    if resolved.disabled {
        return Ok(None);
    }
    let resource_json = || resource.iter().map(|(k, v)| (k.to_string(), value_to_json(v))).collect();
    Ok(match resolved.exporter {
        ExporterKind::None => None,
        ExporterKind::Memory => Some(Sink::Memory { records: Arc::default(), resource: resource_json() }),
        ExporterKind::Console => Some(Sink::Console { resource: resource_json() }),
        #[cfg(feature = "otlp")]
        ExporterKind::Otlp => Some(Sink::Otlp(otlp::LogPipeline::build(resolved, resource)?)),
        #[cfg(not(feature = "otlp"))]
        ExporterKind::Otlp => None,
    })
}

/// Makes `sink` current; the previous one is shut down (`forget`: abandoned, after `fork()`).
pub(crate) fn install_sink(sink: Option<Sink>, forget_old: bool) {
    let old = std::mem::replace(&mut *SINK.write().unwrap_or_else(|e| e.into_inner()), sink.map(Arc::new));
    if let Some(old) = old {
        if forget_old {
            std::mem::forget(old);
        } else {
            old.shutdown(Duration::from_secs(5));
        }
    }
}

/// Flushes the feedback queue (part of [`crate::flush`]).
pub(crate) fn flush_sink() -> bool {
    current_sink().is_none_or(|s| s.flush())
}

/// Flushes and removes the sink (part of [`crate::shutdown`]).
pub(crate) fn shutdown_sink(timeout: Duration) {
    let old = SINK.write().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(old) = old {
        old.shutdown(timeout);
    }
}

/// Feedback records sent so far when the memory exporter is active (else empty), oldest first.
pub fn finished_feedback() -> Vec<FinishedFeedback> {
    match current_sink().as_deref() {
        Some(Sink::Memory { records, .. }) => records.lock().map(|r| r.clone()).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Forgets the memory exporter's feedback records.
pub fn clear_finished_feedback() {
    if let Some(Sink::Memory { records, .. }) = current_sink().as_deref() {
        if let Ok(mut r) = records.lock() {
            r.clear();
        }
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use super::Prepared;
    use crate::config::{Compression, Protocol, ResolvedConfig};
    use crate::conventions::{GEN_AI_EVALUATION_RESULT, INSTRUMENTATION_SCOPE};
    use crate::error::{Error, Result};
    use crate::stats::{count_feedback_export_error, COUNTERS};
    use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry::{InstrumentationScope, Value};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::logs::{
        BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter, LogProcessor, SdkLogRecord, SdkLogger,
        SdkLoggerProvider,
    };
    use opentelemetry_sdk::Resource;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    pub(crate) struct LogPipeline {
        pub provider: SdkLoggerProvider,
        logger: SdkLogger,
    }

    impl LogPipeline {
        pub fn build(c: &ResolvedConfig, resource: &Resource) -> Result<LogPipeline> {
            let exporter = build_exporter(c)?;
            Ok(LogPipeline::with_exporter(exporter, c, resource))
        }

        pub fn with_exporter<E: LogExporter + 'static>(exporter: E, c: &ResolvedConfig, resource: &Resource) -> Self {
            let in_flight = Arc::new(AtomicUsize::new(0));
            let batch = BatchLogProcessor::builder(Counted { inner: exporter, in_flight: in_flight.clone() })
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(c.max_queue_size)
                        .with_max_export_batch_size(c.max_export_batch_size)
                        .with_scheduled_delay(c.scheduled_delay)
                        .build(),
                )
                .build();
            let provider = SdkLoggerProvider::builder()
                .with_resource(resource.clone())
                .with_log_processor(Gate { inner: batch, in_flight, max: c.max_queue_size })
                .build();
            let logger = provider.logger(INSTRUMENTATION_SCOPE);
            LogPipeline { provider, logger }
        }

        pub fn emit(&self, p: Prepared) {
            let mut record = self.logger.create_log_record();
            record.set_event_name(GEN_AI_EVALUATION_RESULT);
            record.set_timestamp(p.time);
            record.set_observed_timestamp(p.time);
            if let Some(sc) = &p.span {
                record.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
            }
            for kv in p.attributes {
                record.add_attribute(kv.key, any_value(kv.value));
            }
            self.logger.emit(record);
        }
    }

    fn any_value(v: Value) -> AnyValue {
        match v {
            Value::Bool(b) => AnyValue::Boolean(b),
            Value::I64(i) => AnyValue::Int(i),
            Value::F64(f) => AnyValue::Double(f),
            Value::String(s) => AnyValue::String(s),
            Value::Array(a) => {
                use opentelemetry::Array;
                let items: Vec<AnyValue> = match a {
                    Array::Bool(v) => v.into_iter().map(AnyValue::Boolean).collect(),
                    Array::I64(v) => v.into_iter().map(AnyValue::Int).collect(),
                    Array::F64(v) => v.into_iter().map(AnyValue::Double).collect(),
                    Array::String(v) => v.into_iter().map(AnyValue::String).collect(),
                    _ => Vec::new(),
                };
                AnyValue::ListAny(Box::new(items))
            }
            other => AnyValue::String(other.to_string().into()),
        }
    }

    fn build_exporter(c: &ResolvedConfig) -> Result<opentelemetry_otlp::LogExporter> {
        crate::pipeline::otlp_exporter!(opentelemetry_otlp::LogExporter, c, c.logs_endpoint.clone())
    }

    /// Bounds the records waiting for export like the span queue gate: a record that would make
    /// more than `max` in flight is dropped and counted in `feedback_dropped`.
    #[derive(Debug)]
    struct Gate<P> {
        inner: P,
        in_flight: Arc<AtomicUsize>,
        max: usize,
    }

    impl<P: LogProcessor> LogProcessor for Gate<P> {
        fn emit(&self, data: &mut SdkLogRecord, scope: &InstrumentationScope) {
            if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                COUNTERS.feedback_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.inner.emit(data, scope)
        }
        fn force_flush(&self) -> OTelSdkResult {
            self.inner.force_flush()
        }
        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }
        fn set_resource(&mut self, resource: &Resource) {
            self.inner.set_resource(resource)
        }
    }

    /// Counts what the logs exporter accepted or lost and releases the gate's slots.
    #[derive(Debug)]
    struct Counted<E> {
        inner: E,
        in_flight: Arc<AtomicUsize>,
    }

    impl<E: LogExporter> LogExporter for Counted<E> {
        async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
            let n = batch.iter().count();
            let result = self.inner.export(batch).await;
            self.in_flight.fetch_sub(n, Ordering::AcqRel);
            match &result {
                Ok(()) => {
                    COUNTERS.feedback_sent.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => count_feedback_export_error(n, e),
            }
            result
        }
        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }
        fn set_resource(&mut self, resource: &Resource) {
            self.inner.set_resource(resource)
        }
    }
}
