//! Runs the shared conformance vectors (`tests/conformance/scopes.json`) against the Rust API.

use opentelemetry::global;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanExporter};
use serde_json::{Map, Value as Json};
use std::fmt;
use std::sync::{Arc, Mutex};
use userspan::{Attributes, Config, ExporterKind, FinishedSpan, KeyStyle, UserAttributesSpanProcessor};

/// The spans of `otel_span` steps (an app-owned provider, not the pipeline's).
#[derive(Debug, Clone, Default)]
struct OtelSpans(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for OtelSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

static OTEL_SPANS: std::sync::LazyLock<OtelSpans> = std::sync::LazyLock::new(OtelSpans::default);

#[derive(Debug)]
enum StepError {
    Option(userspan::Error),
    Fail(String),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Option(e) => write!(f, "{e}"),
            StepError::Fail(m) => write!(f, "{m}"),
        }
    }
}

fn options(step: &Json, key: &str) -> Result<Attributes, StepError> {
    match step.get(key) {
        Some(Json::Object(o)) => Attributes::from_json(o, KeyStyle::Snake).map_err(StepError::Option),
        _ => Ok(Attributes::new()),
    }
}

fn run(steps: &[Json]) -> Result<(), StepError> {
    for step in steps {
        let nested = step.get("do").and_then(Json::as_array).cloned().unwrap_or_default();
        if let Some(name) = step.get("capture").and_then(Json::as_str) {
            let attrs = options(step, "options")?;
            userspan::try_capture(name.to_string(), attrs, || run(&nested))?;
        } else if step.get("scope").is_some() {
            let attrs = options(step, "scope")?;
            userspan::with_scope(attrs, || run(&nested))?;
        } else if let Some(name) = step.get("span").and_then(Json::as_str) {
            // A second, unrelated tracer: stamped by the processor all the same.
            let mut span = global::tracer("unrelated-library").start(name.to_string());
            span.end();
        } else if let Some(name) = step.get("otel_span").and_then(Json::as_str) {
            // An app-owned provider whose stamping processor takes the privacy mode `init` set.
            let privacy = userspan::current_privacy().expect("init ran").as_ref().clone();
            let provider = SdkTracerProvider::builder()
                .with_span_processor(
                    UserAttributesSpanProcessor::with_privacy(privacy)
                        .then(SimpleSpanProcessor::new(OTEL_SPANS.clone())),
                )
                .build();
            provider.tracer("plain-otel-library").start(name.to_string()).end();
            let _ = provider.shutdown();
        } else if let Some(msg) = step.get("fail").and_then(Json::as_str) {
            return Err(StepError::Fail(msg.to_string()));
        } else {
            panic!("unknown step {step}");
        }
    }
    Ok(())
}

fn init_for(case: &Json) {
    let mut opts: Vec<(String, userspan::OptionValue)> = case
        .get("init")
        .and_then(Json::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.into())).collect())
        .unwrap_or_default();
    opts.retain(|(k, _)| k != "exporter");
    let mut config = Config::from_options(opts, KeyStyle::Snake).expect("valid init options");
    config.exporter = Some(ExporterKind::Memory);
    userspan::init(config).expect("init");
}

fn check_case(case: &Json) -> Result<(), String> {
    let name = case["name"].as_str().unwrap();
    init_for(case);
    userspan::clear_finished_spans();
    OTEL_SPANS.0.lock().unwrap().clear();
    let truncated_before = userspan::stats().values_truncated;
    let steps = case["steps"].as_array().unwrap();
    let outcome = run(steps);
    let expect = &case["expect"];
    let spans = userspan::finished_spans();
    if let Some(err) = expect.get("error") {
        match outcome {
            Err(StepError::Option(e)) => {
                if e.kind() != err["kind"].as_str().unwrap() || e.field() != err["field"].as_str() {
                    return Err(format!("{name}: wrong error {e:?}, expected {err}"));
                }
                if !e.to_string().contains(err["field"].as_str().unwrap()) {
                    return Err(format!("{name}: message does not name the field: {e}"));
                }
            }
            other => return Err(format!("{name}: expected error {err}, got {other:?}")),
        }
    }
    let expected = expect["spans"].as_array().unwrap();
    if spans.len() != expected.len() {
        return Err(format!(
            "{name}: {} spans finished ({:?}), expected {}",
            spans.len(),
            spans.iter().map(|s| &s.name).collect::<Vec<_>>(),
            expected.len()
        ));
    }
    for e in expected {
        let en = e["name"].as_str().unwrap();
        let s: &FinishedSpan = spans.iter().find(|s| s.name == en).ok_or(format!("{name}: no span {en}"))?;
        let mut attrs: Map<String, Json> = s.attributes.clone();
        let error_type = attrs.remove("error.type");
        if Json::Object(attrs.clone()) != e["attributes"] {
            return Err(format!("{name}/{en}: attributes {} != expected {}", Json::Object(attrs), e["attributes"]));
        }
        let parent_name =
            s.parent_span_id.as_ref().and_then(|p| spans.iter().find(|x| &x.span_id == p)).map(|x| x.name.clone());
        if e["parent"].as_str().map(str::to_string) != parent_name {
            return Err(format!("{name}/{en}: parent {parent_name:?}, expected {}", e["parent"]));
        }
        if let Some(p) = spans.iter().find(|x| Some(&x.span_id) == s.parent_span_id.as_ref()) {
            if p.trace_id != s.trace_id {
                return Err(format!("{name}/{en}: child in another trace"));
            }
        }
        if s.status.code != e["status"].as_str().unwrap() {
            return Err(format!("{name}/{en}: status {:?}, expected {}", s.status, e["status"]));
        }
        if s.status.code == "ERROR" {
            let msg = e["status_message"].as_str().unwrap();
            if s.status.message != msg || error_type.is_none() {
                return Err(format!("{name}/{en}: status message {:?} / error.type {error_type:?}", s.status.message));
            }
            let has_event =
                s.events.iter().any(|ev| ev.name == "exception" && ev.attributes["exception.message"] == msg);
            if !has_event {
                return Err(format!("{name}/{en}: no exception event with message {msg}"));
            }
        }
    }
    let otel = OTEL_SPANS.0.lock().unwrap().clone();
    let wanted = expect.get("otel_spans").and_then(Json::as_array).cloned().unwrap_or_default();
    let mut names: Vec<&str> = otel.iter().map(|s| s.name.as_ref()).collect();
    let mut want_names: Vec<&str> = wanted.iter().map(|e| e["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    want_names.sort_unstable();
    if names != want_names {
        return Err(format!("{name}: OTel spans {names:?}, expected {want_names:?}"));
    }
    for e in &wanted {
        let en = e["name"].as_str().unwrap();
        let s = otel.iter().find(|s| s.name == en).unwrap();
        let attrs: Map<String, Json> = s
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), userspan::attributes::value_to_json(&kv.value)))
            .collect();
        if Json::Object(attrs.clone()) != e["attributes"] {
            return Err(format!(
                "{name}/otel {en}: attributes {} != expected {}",
                Json::Object(attrs),
                e["attributes"]
            ));
        }
    }
    if let Some(n) = expect.get("values_truncated").and_then(Json::as_u64) {
        let delta = userspan::stats().values_truncated - truncated_before;
        if delta != n {
            return Err(format!("{name}: values_truncated grew by {delta}, expected {n}"));
        }
    }
    Ok(())
}

#[test]
fn conformance_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/scopes.json");
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 15, "the vectors are all there");
    let failures: Vec<String> = cases.iter().filter_map(|c| check_case(c).err()).collect();
    assert!(userspan::current_privacy().is_some(), "init set the pipeline's privacy mode");
    userspan::shutdown(std::time::Duration::from_secs(1));
    assert!(userspan::current_privacy().is_none(), "shutdown clears the pipeline's privacy mode");
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
