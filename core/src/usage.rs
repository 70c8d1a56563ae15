//! A typed helper for the LLM usage of the current span: model, provider and token counts under
//! the OTel GenAI semantic conventions (`gen_ai.*`, see [`crate::conventions`]), so a Rust app that
//! calls an LLM API by hand need not spell the keys.
//!
//! ```no_run
//! use userspan::{capture, record_usage, Attributes, Usage};
//!
//! capture("support-agent-turn", Attributes::new().user_id("user-42"), || {
//!     // ... call the model ...
//!     record_usage(Usage::new().provider("openai").request_model("gpt-4o-mini").input_tokens(120).output_tokens(40));
//! });
//! ```

use crate::conventions::{
    GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, GEN_AI_RESPONSE_MODEL, GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

/// The usage of one LLM call. Fields left `None` are not set on the span.
///
/// Sources of the keys: OTel GenAI semantic conventions (`gen_ai.provider.name`,
/// `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens`,
/// `gen_ai.usage.output_tokens`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// `gen_ai.provider.name`: `openai`, `anthropic`, `aws.bedrock`, ... (OTel GenAI well-known values).
    pub provider: Option<String>,
    /// `gen_ai.request.model`: the model asked for.
    pub request_model: Option<String>,
    /// `gen_ai.response.model`: the model that answered.
    pub response_model: Option<String>,
    /// `gen_ai.usage.input_tokens`: tokens of the prompt (integer, tokens).
    pub input_tokens: Option<u64>,
    /// `gen_ai.usage.output_tokens`: tokens of the completion (integer, tokens).
    pub output_tokens: Option<u64>,
}

impl Usage {
    /// An empty usage (nothing set).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `gen_ai.provider.name`.
    pub fn provider(mut self, v: impl Into<String>) -> Self {
        self.provider = Some(v.into());
        self
    }
    /// Sets `gen_ai.request.model`.
    pub fn request_model(mut self, v: impl Into<String>) -> Self {
        self.request_model = Some(v.into());
        self
    }
    /// Sets `gen_ai.response.model`.
    pub fn response_model(mut self, v: impl Into<String>) -> Self {
        self.response_model = Some(v.into());
        self
    }
    /// Sets both `gen_ai.request.model` and `gen_ai.response.model` to `v`.
    pub fn model(self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.request_model(v.clone()).response_model(v)
    }
    /// Sets `gen_ai.usage.input_tokens` (tokens).
    pub fn input_tokens(mut self, n: u64) -> Self {
        self.input_tokens = Some(n);
        self
    }
    /// Sets `gen_ai.usage.output_tokens` (tokens).
    pub fn output_tokens(mut self, n: u64) -> Self {
        self.output_tokens = Some(n);
        self
    }
    /// The attributes this usage sets, in the order above. Token counts above `i64::MAX` (OTLP's
    /// integer range) are clamped to `i64::MAX`.
    pub fn attributes(&self) -> Vec<KeyValue> {
        let mut out = Vec::with_capacity(5);
        let strings = [
            (GEN_AI_PROVIDER_NAME, &self.provider),
            (GEN_AI_REQUEST_MODEL, &self.request_model),
            (GEN_AI_RESPONSE_MODEL, &self.response_model),
        ];
        for (key, value) in strings {
            if let Some(v) = value {
                out.push(KeyValue::new(key, v.clone()));
            }
        }
        for (key, value) in
            [(GEN_AI_USAGE_INPUT_TOKENS, self.input_tokens), (GEN_AI_USAGE_OUTPUT_TOKENS, self.output_tokens)]
        {
            if let Some(n) = value {
                out.push(KeyValue::new(key, i64::try_from(n).unwrap_or(i64::MAX)));
            }
        }
        out
    }
    /// Sets this usage on the current span ([`record_usage`]).
    pub fn record(&self) {
        record_usage_on(&Context::current(), self)
    }
}

/// Sets `usage` on the current span (the span of [`Context::current`], e.g. inside
/// [`crate::capture`]). Without a current recording span nothing happens (never an error).
pub fn record_usage(usage: Usage) {
    record_usage_on(&Context::current(), &usage)
}

/// Sets `usage` on the span of `cx`.
pub fn record_usage_on(cx: &Context, usage: &Usage) {
    let span = cx.span();
    if span.is_recording() {
        span.set_attributes(usage.attributes());
    }
}
