//! Attribute keys, wire values and limits: the wire conventions of `docs/design.md`, in one place.
//!
//! Every key the project emits (the core and the bindings over it) or reads (the receiver),
//! including the other SDKs' keys the receiver resolves, is named here; the rest of the workspace
//! refers to these constants and never re-types the literal.
//!
//! The source groups them in sections, in this order: emitted span keys; identity aliases (user
//! id, session id, e-mail, metadata); usage aliases (tokens, model, provider); id types;
//! operations; other keys the receiver reads (cost, tools, guardrails); events; resource keys;
//! baggage; limits.
//!
//! Sources of the names:
//! - **OTel semconv** — [OpenTelemetry semantic
//!   conventions](https://opentelemetry.io/docs/specs/semconv/): `user.id`, `user.email`,
//!   `session.id`, `enduser.id` (deprecated for `user.id`), `error.type`, the `exception` event and
//!   `exception.*`, `service.name`.
//! - **OTel GenAI** — the [GenAI semantic
//!   conventions](https://opentelemetry.io/docs/specs/semconv/gen-ai/): `gen_ai.*` (operation,
//!   provider, models, token usage, tool, conversation id, the evaluation event), including the
//!   deprecated names still sent by older instrumentations (`gen_ai.system`,
//!   `gen_ai.usage.prompt_tokens`, `gen_ai.usage.completion_tokens`).
//! - **OpenInference** — Arize's [OpenInference semantic
//!   conventions](https://github.com/Arize-ai/openinference/blob/main/spec/semantic_conventions.md):
//!   `tag.tags`, `metadata`, `openinference.span.kind`, `llm.model_name`, `llm.provider`,
//!   `llm.token_count.*`.
//! - **OpenLLMetry / Traceloop** — association properties set with
//!   `Traceloop.set_association_properties`: `traceloop.association.properties.<name>`.
//! - **Langfuse** — Langfuse's [OpenTelemetry attribute
//!   mapping](https://langfuse.com/integrations/native/opentelemetry): `langfuse.user.id`,
//!   `langfuse.session.id` (read by the receiver; emitted too, with `langfuse.trace.tags` and
//!   `langfuse.trace.metadata.<key>`, when the `compat` option names Langfuse).
//! - **Latitude** — the cost keys `gen_ai.usage.*_cost` (OTel defines none).
//! - **userspan** — the project's own, in the namespace of the nearest convention: `user.id.type`,
//!   `user.id.hash`, `user.metadata`, `guardrail.triggered`, `userspan.project`.
//!
//! An alias list (`*_ALIASES`) is in precedence order: when a span carries several, the receiver
//! keeps the first present and non-empty one. Identity keys are also read from the resource, as
//! the fallback of each of its spans: a span's own value wins over its resource's.

// ---------------------------------------------------------------------------------------------
// Emitted span keys
// ---------------------------------------------------------------------------------------------

/// End-user id (OTel semconv `user.id`). Required for attribution. String, at most
/// [`MAX_ID_CHARS`] characters.
pub const USER_ID: &str = "user.id";
/// Kind of the end-user id (userspan): one of [`USER_ID_TYPES`].
pub const USER_ID_TYPE: &str = "user.id.type";
/// Hex digest of the end-user id, set by the app or by the hashing mode (userspan).
pub const USER_ID_HASH: &str = "user.id.hash";
/// End-user e-mail (OTel semconv `user.email`).
pub const USER_EMAIL: &str = "user.email";
/// End-user metadata (userspan): JSON object text (plan, tier, region, ...), at most
/// [`MAX_METADATA_BYTES`] bytes.
pub const USER_METADATA: &str = "user.metadata";
/// Session (conversation) id (OTel semconv `session.id`).
pub const SESSION_ID: &str = "session.id";
/// Tags: string array (OpenInference `tag.tags`).
pub const TAGS: &str = "tag.tags";
/// Free-form metadata: JSON object text (OpenInference `metadata`), at most [`MAX_METADATA_BYTES`]
/// bytes.
pub const METADATA: &str = "metadata";
/// Error class (OTel semconv `error.type`), set on spans whose work failed.
pub const ERROR_TYPE: &str = "error.type";

// ---------------------------------------------------------------------------------------------
// Identity aliases
// ---------------------------------------------------------------------------------------------

/// Deprecated end-user id (OTel semconv `enduser.id`, replaced by [`USER_ID`]).
pub const ENDUSER_ID: &str = "enduser.id";
/// Langfuse's end-user id.
pub const LANGFUSE_USER_ID: &str = "langfuse.user.id";
/// OpenLLMetry / Traceloop's end-user id (association property `user_id`).
pub const TRACELOOP_USER_ID: &str = "traceloop.association.properties.user_id";
/// Conversation id (OTel GenAI `gen_ai.conversation.id`).
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// Langfuse's session id.
pub const LANGFUSE_SESSION_ID: &str = "langfuse.session.id";
/// OpenLLMetry / Traceloop's session id (association property `session_id`).
pub const TRACELOOP_SESSION_ID: &str = "traceloop.association.properties.session_id";

/// Keys the receiver reads the end-user id from, in precedence order: [`USER_ID`] (OTel semconv,
/// userspan's own), [`ENDUSER_ID`] (deprecated OTel semconv), [`LANGFUSE_USER_ID`] (Langfuse),
/// [`TRACELOOP_USER_ID`] (OpenLLMetry / Traceloop).
pub const USER_ID_ALIASES: &[&str] = &[USER_ID, ENDUSER_ID, LANGFUSE_USER_ID, TRACELOOP_USER_ID];
/// Keys the receiver reads the id type from: [`USER_ID_TYPE`] only (no other SDK sends one; a
/// missing or unknown type reads as [`USER_ID_TYPE_CUSTOM`]).
pub const USER_ID_TYPE_ALIASES: &[&str] = &[USER_ID_TYPE];
/// Keys the receiver reads the end-user e-mail from: [`USER_EMAIL`] (OTel semconv) only.
pub const USER_EMAIL_ALIASES: &[&str] = &[USER_EMAIL];
/// Keys the receiver reads the end-user metadata from: [`USER_METADATA`] only.
pub const USER_METADATA_ALIASES: &[&str] = &[USER_METADATA];
/// Keys the receiver reads the session id from, in precedence order: [`SESSION_ID`] (OTel
/// semconv, userspan's own), [`GEN_AI_CONVERSATION_ID`] (OTel GenAI), [`LANGFUSE_SESSION_ID`]
/// (Langfuse), [`TRACELOOP_SESSION_ID`] (OpenLLMetry / Traceloop).
pub const SESSION_ID_ALIASES: &[&str] =
    &[SESSION_ID, GEN_AI_CONVERSATION_ID, LANGFUSE_SESSION_ID, TRACELOOP_SESSION_ID];

/// Langfuse's trace tags (string array), emitted beside [`TAGS`] when the `compat` option names
/// Langfuse.
pub const LANGFUSE_TRACE_TAGS: &str = "langfuse.trace.tags";
/// Prefix of Langfuse's per-key trace metadata (`langfuse.trace.metadata.<key>`, one string
/// attribute per top-level key of [`METADATA`]), emitted when the `compat` option names Langfuse.
pub const LANGFUSE_TRACE_METADATA_PREFIX: &str = "langfuse.trace.metadata.";

// ---------------------------------------------------------------------------------------------
// Usage aliases: tokens, model, provider
// ---------------------------------------------------------------------------------------------

/// GenAI operation (OTel GenAI): [`OPERATION_CHAT`], [`OPERATION_EMBEDDINGS`],
/// [`OPERATION_EXECUTE_TOOL`], ...
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// GenAI provider (OTel GenAI; `openai`, `anthropic`, ...).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// Deprecated GenAI provider (OTel GenAI `gen_ai.system`, replaced by [`GEN_AI_PROVIDER_NAME`];
/// still sent by OpenLLMetry and older instrumentations).
pub const GEN_AI_SYSTEM: &str = "gen_ai.system";
/// LLM provider (OpenInference `llm.provider`).
pub const LLM_PROVIDER: &str = "llm.provider";
/// Model requested (OTel GenAI).
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// Model that answered (OTel GenAI).
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Model name (OpenInference `llm.model_name`).
pub const LLM_MODEL_NAME: &str = "llm.model_name";
/// Input tokens (OTel GenAI; integer, tokens).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output tokens (OTel GenAI; integer, tokens).
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Deprecated input tokens (OTel GenAI `gen_ai.usage.prompt_tokens`, replaced by
/// [`GEN_AI_USAGE_INPUT_TOKENS`]; still sent by OpenLLMetry).
pub const GEN_AI_USAGE_PROMPT_TOKENS: &str = "gen_ai.usage.prompt_tokens";
/// Deprecated output tokens (OTel GenAI `gen_ai.usage.completion_tokens`, replaced by
/// [`GEN_AI_USAGE_OUTPUT_TOKENS`]; still sent by OpenLLMetry).
pub const GEN_AI_USAGE_COMPLETION_TOKENS: &str = "gen_ai.usage.completion_tokens";
/// Prompt tokens (OpenInference `llm.token_count.prompt`; integer, tokens).
pub const LLM_TOKEN_COUNT_PROMPT: &str = "llm.token_count.prompt";
/// Completion tokens (OpenInference `llm.token_count.completion`; integer, tokens).
pub const LLM_TOKEN_COUNT_COMPLETION: &str = "llm.token_count.completion";

/// Keys the receiver reads the provider from, in precedence order: [`GEN_AI_PROVIDER_NAME`] (OTel
/// GenAI), [`GEN_AI_SYSTEM`] (deprecated OTel GenAI, OpenLLMetry), [`LLM_PROVIDER`]
/// (OpenInference).
pub const PROVIDER_ALIASES: &[&str] = &[GEN_AI_PROVIDER_NAME, GEN_AI_SYSTEM, LLM_PROVIDER];
/// Keys the receiver reads the model from, in precedence order: [`GEN_AI_RESPONSE_MODEL`] (OTel
/// GenAI; the model that answered), [`GEN_AI_REQUEST_MODEL`] (OTel GenAI), [`LLM_MODEL_NAME`]
/// (OpenInference).
pub const MODEL_ALIASES: &[&str] = &[GEN_AI_RESPONSE_MODEL, GEN_AI_REQUEST_MODEL, LLM_MODEL_NAME];
/// Keys the receiver reads input tokens from, in precedence order: [`GEN_AI_USAGE_INPUT_TOKENS`]
/// (OTel GenAI), [`GEN_AI_USAGE_PROMPT_TOKENS`] (deprecated OTel GenAI, OpenLLMetry),
/// [`LLM_TOKEN_COUNT_PROMPT`] (OpenInference).
pub const INPUT_TOKENS_ALIASES: &[&str] =
    &[GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_PROMPT_TOKENS, LLM_TOKEN_COUNT_PROMPT];
/// Keys the receiver reads output tokens from, in precedence order: [`GEN_AI_USAGE_OUTPUT_TOKENS`]
/// (OTel GenAI), [`GEN_AI_USAGE_COMPLETION_TOKENS`] (deprecated OTel GenAI, OpenLLMetry),
/// [`LLM_TOKEN_COUNT_COMPLETION`] (OpenInference).
pub const OUTPUT_TOKENS_ALIASES: &[&str] =
    &[GEN_AI_USAGE_OUTPUT_TOKENS, GEN_AI_USAGE_COMPLETION_TOKENS, LLM_TOKEN_COUNT_COMPLETION];

// ---------------------------------------------------------------------------------------------
// Id types
// ---------------------------------------------------------------------------------------------

/// [`USER_ID_TYPE`] of an e-mail address.
pub const USER_ID_TYPE_EMAIL: &str = "email";
/// [`USER_ID_TYPE`] of a phone number.
pub const USER_ID_TYPE_PHONE: &str = "phone";
/// [`USER_ID_TYPE`] of a UUID.
pub const USER_ID_TYPE_UUID: &str = "uuid";
/// [`USER_ID_TYPE`] of anything else (the app's own id scheme); also what the receiver records
/// when a span carries no type or an unknown one.
pub const USER_ID_TYPE_CUSTOM: &str = "custom";
/// Allowed values of [`USER_ID_TYPE`].
pub const USER_ID_TYPES: [&str; 4] = [USER_ID_TYPE_EMAIL, USER_ID_TYPE_PHONE, USER_ID_TYPE_UUID, USER_ID_TYPE_CUSTOM];

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/// [`GEN_AI_OPERATION_NAME`] of a chat completion (OTel GenAI `chat`).
pub const OPERATION_CHAT: &str = "chat";
/// [`GEN_AI_OPERATION_NAME`] of a legacy text completion (OTel GenAI `text_completion`).
pub const OPERATION_TEXT_COMPLETION: &str = "text_completion";
/// [`GEN_AI_OPERATION_NAME`] of a multimodal generation (OTel GenAI `generate_content`).
pub const OPERATION_GENERATE_CONTENT: &str = "generate_content";
/// [`GEN_AI_OPERATION_NAME`] of an embeddings request (OTel GenAI `embeddings`).
pub const OPERATION_EMBEDDINGS: &str = "embeddings";
/// [`GEN_AI_OPERATION_NAME`] of a tool execution (OTel GenAI `execute_tool`).
pub const OPERATION_EXECUTE_TOOL: &str = "execute_tool";
/// Operations the receiver counts as an LLM call even when the span carries no token usage (a span
/// with any usage key is one too): chat, text completion, content generation, embeddings.
pub const LLM_CALL_OPERATIONS: &[&str] =
    &[OPERATION_CHAT, OPERATION_TEXT_COMPLETION, OPERATION_GENERATE_CONTENT, OPERATION_EMBEDDINGS];

// ---------------------------------------------------------------------------------------------
// Other keys the receiver reads: cost, tools, guardrails
// ---------------------------------------------------------------------------------------------

/// Input cost (double, USD; Latitude's key).
pub const GEN_AI_USAGE_INPUT_COST: &str = "gen_ai.usage.input_cost";
/// Output cost (double, USD; Latitude's key).
pub const GEN_AI_USAGE_OUTPUT_COST: &str = "gen_ai.usage.output_cost";
/// Total cost (double, USD; Latitude's key). When present it is the span's cost; otherwise input
/// plus output cost.
pub const GEN_AI_USAGE_TOTAL_COST: &str = "gen_ai.usage.total_cost";
/// Tool name for tool spans (OTel GenAI).
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// OpenInference span kind (`LLM`, `TOOL`, [`SPAN_KIND_GUARDRAIL`], ...).
pub const OPENINFERENCE_SPAN_KIND: &str = "openinference.span.kind";
/// [`OPENINFERENCE_SPAN_KIND`] of a guardrail span (OpenInference; compared case-insensitively).
/// Without [`GUARDRAIL_TRIGGERED`], such a span counts as a guardrail trigger.
pub const SPAN_KIND_GUARDRAIL: &str = "GUARDRAIL";
/// Boolean (userspan): a guardrail fired on this span. Wins over [`SPAN_KIND_GUARDRAIL`].
pub const GUARDRAIL_TRIGGERED: &str = "guardrail.triggered";

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// Span event carrying an evaluation result (OTel GenAI `gen_ai.evaluation.result`).
pub const GEN_AI_EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
/// Evaluation name attribute on [`GEN_AI_EVALUATION_RESULT`] (OTel GenAI).
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
/// Evaluation label on [`GEN_AI_EVALUATION_RESULT`] (OTel GenAI; free text, see
/// [`EVALUATION_PASS_LABELS`]).
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
/// Evaluation numeric score on [`GEN_AI_EVALUATION_RESULT`] (OTel GenAI; double).
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
/// [`GEN_AI_EVALUATION_SCORE_LABEL`] of a passed evaluation, as userspan's demo writes it.
pub const EVALUATION_PASS: &str = "pass";
/// [`GEN_AI_EVALUATION_SCORE_LABEL`] of a failed evaluation, as userspan's demo writes it.
pub const EVALUATION_FAIL: &str = "fail";
/// Labels the receiver reads as a passed evaluation (compared case-insensitively).
pub const EVALUATION_PASS_LABELS: &[&str] = &[EVALUATION_PASS, "passed", "true"];
/// Labels the receiver reads as a failed evaluation (compared case-insensitively). An evaluation
/// with neither label counts by its score when in `0.0..=1.0`: passed when at least 0.5.
pub const EVALUATION_FAIL_LABELS: &[&str] = &[EVALUATION_FAIL, "failed", "false"];
/// Span event recording an error (OTel semconv `exception`), added by `record_error` and by a
/// capture whose work failed.
pub const EXCEPTION_EVENT: &str = "exception";
/// Error class on [`EXCEPTION_EVENT`] (OTel semconv `exception.type`).
pub const EXCEPTION_TYPE: &str = "exception.type";
/// Error message on [`EXCEPTION_EVENT`] (OTel semconv `exception.message`).
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// Stack trace text on [`EXCEPTION_EVENT`] when the host gives one (OTel semconv
/// `exception.stacktrace`).
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";

// ---------------------------------------------------------------------------------------------
// Resource keys
// ---------------------------------------------------------------------------------------------

/// Resource attribute naming the emitting service (OTel semconv `service.name`).
pub const SERVICE_NAME: &str = "service.name";
/// Resource attribute naming the project the spans belong to (userspan). The receiver files spans
/// without one (and without a project API key) under [`DEFAULT_PROJECT`].
pub const RESOURCE_PROJECT: &str = "userspan.project";
/// The project of spans whose resource names none, and the project the receiver's API and CLI
/// read when none is asked for.
pub const DEFAULT_PROJECT: &str = "default";
/// Instrumentation scope name of the spans userspan starts itself (its tracer's name).
pub const INSTRUMENTATION_SCOPE: &str = "userspan";

// ---------------------------------------------------------------------------------------------
// Baggage
// ---------------------------------------------------------------------------------------------

/// The keys `propagate_baggage` may allow-list: mirrored into outgoing W3C baggage, and read from
/// incoming baggage by spans with no scope.
pub const BAGGAGE_KEYS: [&str; 2] = [USER_ID, SESSION_ID];

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/// Longest id, e-mail, session id or tag kept, in characters (Unicode scalar values). Longer values
/// are truncated and counted in [`crate::Stats::values_truncated`].
pub const MAX_ID_CHARS: usize = 256;
/// Largest `metadata` / `user.metadata` JSON text kept, in bytes (4 KiB). Larger objects lose their
/// last keys (in key order) until they fit and gain `"_truncated": true`.
pub const MAX_METADATA_BYTES: usize = 4096;
