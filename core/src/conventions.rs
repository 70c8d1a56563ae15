//! Attribute keys and limits: the wire conventions of `shared/DESIGN.md`.
//!
//! Sources: `user.*` and `session.id` are OpenTelemetry semantic conventions; `tag.tags` and
//! `metadata` are OpenInference; `gen_ai.*` are OpenTelemetry GenAI semantic conventions, except the
//! cost keys, which follow Latitude (OTel defines none).

/// End-user id (OTel semconv `user.id`). Required for attribution.
pub const USER_ID: &str = "user.id";
/// Kind of the end-user id: one of [`USER_ID_TYPES`].
pub const USER_ID_TYPE: &str = "user.id.type";
/// Hex digest of the end-user id, set by the app or by the hashing mode.
pub const USER_ID_HASH: &str = "user.id.hash";
/// End-user e-mail (OTel semconv `user.email`).
pub const USER_EMAIL: &str = "user.email";
/// End-user metadata: JSON object text (plan, tier, region, ...).
pub const USER_METADATA: &str = "user.metadata";
/// Session (conversation) id (OTel semconv `session.id`).
pub const SESSION_ID: &str = "session.id";
/// Tags: string array (OpenInference `tag.tags`).
pub const TAGS: &str = "tag.tags";
/// Free-form metadata: JSON object text (OpenInference `metadata`).
pub const METADATA: &str = "metadata";
/// Error class (OTel semconv `error.type`), set on spans whose work failed.
pub const ERROR_TYPE: &str = "error.type";

/// GenAI operation (`chat`, `text_completion`, `generate_content`, `embeddings`, `execute_tool`, ...).
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// GenAI provider (`openai`, `anthropic`, ...).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// Model requested.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// Model that answered.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Input tokens (integer, tokens).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output tokens (integer, tokens).
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Tool name for tool spans.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// Input cost (double, USD; Latitude's key).
pub const GEN_AI_USAGE_INPUT_COST: &str = "gen_ai.usage.input_cost";
/// Output cost (double, USD; Latitude's key).
pub const GEN_AI_USAGE_OUTPUT_COST: &str = "gen_ai.usage.output_cost";
/// Total cost (double, USD; Latitude's key).
pub const GEN_AI_USAGE_TOTAL_COST: &str = "gen_ai.usage.total_cost";
/// Span event carrying an evaluation result (OTel GenAI semconv).
pub const GEN_AI_EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
/// Evaluation name attribute on [`GEN_AI_EVALUATION_RESULT`].
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
/// Evaluation label (`pass` / `fail`).
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
/// Evaluation numeric score.
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
/// OpenInference span kind (`LLM`, `TOOL`, `GUARDRAIL`, ...).
pub const OPENINFERENCE_SPAN_KIND: &str = "openinference.span.kind";
/// Boolean: a guardrail fired on this span.
pub const GUARDRAIL_TRIGGERED: &str = "guardrail.triggered";

/// Resource attribute naming the project the spans belong to.
pub const RESOURCE_PROJECT: &str = "userspan.project";

/// Allowed values of `user.id.type`.
pub const USER_ID_TYPES: [&str; 4] = ["email", "phone", "uuid", "custom"];

/// Longest id, e-mail, session id or tag kept, in characters (Unicode scalar values). Longer values
/// are truncated and counted in [`crate::Stats::values_truncated`].
pub const MAX_ID_CHARS: usize = 256;
/// Largest `metadata` / `user.metadata` JSON text kept, in bytes (4 KiB). Larger objects lose their
/// last keys (in key order) until they fit and gain `"_truncated": true`.
pub const MAX_METADATA_BYTES: usize = 4096;
