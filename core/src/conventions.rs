//! Attribute keys, wire values and limits: the wire conventions of `docs/design.md`, in one place.
//!
//! Every key the project emits (the core and the bindings over it) or reads (the receiver),
//! including the other SDKs' keys the receiver resolves, is named here; the rest of the workspace
//! refers to these constants and never re-types the literal.
//!
//! The source groups them in sections, in this order: emitted span keys; identity aliases (user
//! id, session id, e-mail, metadata); tags and metadata aliases; usage aliases (tokens, model, provider); id types;
//! operations; other keys the receiver reads (cost, tools, guardrails); events; resource keys;
//! baggage; limits.
//!
//! Sources of the names:
//! - **OTel semconv** — [OpenTelemetry semantic
//!   conventions](https://opentelemetry.io/docs/specs/semconv/): `user.id`, `user.email`, `user.hash`,
//!   `session.id`, `enduser.id`, `error.type`, the `exception` event and
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
//! - **Latitude** — the cost keys `gen_ai.usage.*_cost` (OTel defines none); OpenLIT's
//!   `gen_ai.usage.cost`; OpenInference's `llm.cost.*`.
//! - **OpenLLMetry** — `opentelemetry-semantic-conventions-ai`'s cache and reasoning token keys
//!   (`gen_ai.usage.cache_read_input_tokens`, `gen_ai.usage.cache_creation_input_tokens`,
//!   `gen_ai.usage.reasoning_tokens`).
//! - **Vercel AI SDK** — its [telemetry
//!   spans](https://ai-sdk.dev/docs/ai-sdk-core/telemetry): `ai.operationId`, `ai.model.id`,
//!   `ai.model.provider`, `ai.response.model`, `ai.usage.*`, `ai.toolCall.name`, and
//!   `experimental_telemetry.metadata` as `ai.telemetry.metadata.<key>`.
//! - **LangSmith** — its OpenTelemetry mapping: `langsmith.metadata.user_id`,
//!   `langsmith.trace.session_id`, `langsmith.metadata.<key>`, `langsmith.span.tags`.
//! - **Latitude** also: `latitude.tags`, `latitude.metadata` (its telemetry SDK's `capture`).
//! - **OpenLLMetry** also: `llm.request.type`, `llm.usage.total_tokens`, `llm.user` (the OpenAI
//!   request's `user`); **OpenLIT**: `gen_ai.request.user`.
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
/// The same digest under the OTel semconv key `user.hash` ("unique user hash to correlate
/// information for a user in anonymized form", [user
/// attributes](https://opentelemetry.io/docs/specs/semconv/registry/attributes/user/)): emitted
/// with the same value whenever [`USER_ID_HASH`] is.
pub const USER_HASH: &str = "user.hash";
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

/// End-user id (OTel semconv `enduser.id`; read after [`USER_ID`]).
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
/// Vercel AI SDK's end-user id: `experimental_telemetry.metadata.userId`, recorded as
/// `ai.telemetry.metadata.userId` on every span of the call.
pub const AI_TELEMETRY_USER_ID: &str = "ai.telemetry.metadata.userId";
/// Vercel AI SDK's session id (`experimental_telemetry.metadata.sessionId`).
pub const AI_TELEMETRY_SESSION_ID: &str = "ai.telemetry.metadata.sessionId";
/// Vercel AI SDK's thread id (`experimental_telemetry.metadata.threadId`), read as a session id.
pub const AI_TELEMETRY_THREAD_ID: &str = "ai.telemetry.metadata.threadId";
/// LangSmith's end-user id (run metadata `user_id`, as its OpenTelemetry export names it).
pub const LANGSMITH_USER_ID: &str = "langsmith.metadata.user_id";
/// LangSmith's session id (its OpenTelemetry mapping's `langsmith.trace.session_id`).
pub const LANGSMITH_SESSION_ID: &str = "langsmith.trace.session_id";
/// The OpenAI request's `user` field (the API documents it as "a unique identifier representing
/// your end-user"), as current OpenLLMetry / Traceloop records it (`gen_ai.user`, seen in
/// `receiver/tests/fixtures/instrumentations/openllmetry-openai.json`). Only read when no
/// dedicated user key is present: an app may put anything there.
pub const GEN_AI_USER: &str = "gen_ai.user";
/// The OpenAI request's `user` field as older OpenLLMetry records it (`SpanAttributes.LLM_USER`).
/// Read last, like [`GEN_AI_USER`].
pub const LLM_USER: &str = "llm.user";

/// Keys the receiver reads the end-user id from, in precedence order: [`USER_ID`] (OTel semconv,
/// userspan's own), [`ENDUSER_ID`] (OTel semconv), [`LANGFUSE_USER_ID`] (Langfuse),
/// [`TRACELOOP_USER_ID`] (OpenLLMetry / Traceloop), [`AI_TELEMETRY_USER_ID`] (Vercel AI SDK),
/// [`LANGSMITH_USER_ID`] (LangSmith), then the OpenAI request's `user` field as OpenLLMetry
/// records it: [`GEN_AI_USER`], [`LLM_USER`] (older versions). `opentelemetry-instrumentation-openai-v2`
/// does not record the request's `user`; OpenInference records it only inside its
/// `llm.invocation_parameters` JSON, which is not read.
pub const USER_ID_ALIASES: &[&str] = &[
    USER_ID,
    ENDUSER_ID,
    LANGFUSE_USER_ID,
    TRACELOOP_USER_ID,
    AI_TELEMETRY_USER_ID,
    LANGSMITH_USER_ID,
    GEN_AI_USER,
    LLM_USER,
];
/// Keys the receiver reads the hash of the end-user id from: [`USER_ID_HASH`] (userspan), then
/// [`USER_HASH`] (OTel semconv). A span with no key of [`USER_ID_ALIASES`] is attributed to its
/// hash (the identity in anonymized form, as the `replace` hashing mode sends it as `user.id`).
pub const USER_ID_HASH_ALIASES: &[&str] = &[USER_ID_HASH, USER_HASH];
/// Keys the receiver reads the id type from: [`USER_ID_TYPE`] only (no other SDK sends one; a
/// missing or unknown type reads as [`USER_ID_TYPE_CUSTOM`]).
pub const USER_ID_TYPE_ALIASES: &[&str] = &[USER_ID_TYPE];
/// Keys the receiver reads the end-user e-mail from: [`USER_EMAIL`] (OTel semconv) only.
pub const USER_EMAIL_ALIASES: &[&str] = &[USER_EMAIL];
/// Keys the receiver reads the end-user metadata from: [`USER_METADATA`] only.
pub const USER_METADATA_ALIASES: &[&str] = &[USER_METADATA];
/// Keys the receiver reads the session id from, in precedence order: [`SESSION_ID`] (OTel
/// semconv, userspan's own), [`GEN_AI_CONVERSATION_ID`] (OTel GenAI), [`LANGFUSE_SESSION_ID`]
/// (Langfuse), [`TRACELOOP_SESSION_ID`] (OpenLLMetry / Traceloop), [`AI_TELEMETRY_SESSION_ID`]
/// then [`AI_TELEMETRY_THREAD_ID`] (Vercel AI SDK), [`LANGSMITH_SESSION_ID`] (LangSmith).
pub const SESSION_ID_ALIASES: &[&str] = &[
    SESSION_ID,
    GEN_AI_CONVERSATION_ID,
    LANGFUSE_SESSION_ID,
    TRACELOOP_SESSION_ID,
    AI_TELEMETRY_SESSION_ID,
    AI_TELEMETRY_THREAD_ID,
    LANGSMITH_SESSION_ID,
];

// ---------------------------------------------------------------------------------------------
// Tags and metadata aliases
// ---------------------------------------------------------------------------------------------

/// Latitude's tags: JSON array text of strings (`@latitude-data/telemetry`'s `capture({tags})` sets
/// `latitude.tags` to `JSON.stringify(tags)`, propagated as baggage; Latitude's own OTLP resolver
/// reads it with `fromJsonStringArray`, `latitude-llm` `packages/domain/spans/src/otlp/resolvers/enrichment.ts`).
pub const LATITUDE_TAGS: &str = "latitude.tags";
/// Latitude's metadata: JSON object text (`capture({metadata})` sets `latitude.metadata` to
/// `JSON.stringify(metadata)`; same sources as [`LATITUDE_TAGS`]).
pub const LATITUDE_METADATA: &str = "latitude.metadata";
/// Langfuse's trace tags (string array; Langfuse SDK v3+ `propagate_attributes(tags=...)`, and its
/// OTel ingestion `extractTags`, `langfuse` `web/src/features/otel/server/OtelIngestionProcessor.ts`,
/// also accepts JSON array text and comma-separated text). Emitted beside [`TAGS`] when the
/// `compat` option names Langfuse.
pub const LANGFUSE_TRACE_TAGS: &str = "langfuse.trace.tags";
/// Langfuse's trace metadata as one JSON object text (`langfuse.trace.metadata`, read by Langfuse's
/// OTel ingestion `extractMetadata` before the per-key form [`LANGFUSE_TRACE_METADATA_PREFIX`]).
pub const LANGFUSE_TRACE_METADATA: &str = "langfuse.trace.metadata";
/// Langfuse's observation (span) metadata as one JSON object text (`langfuse.observation.metadata`).
pub const LANGFUSE_OBSERVATION_METADATA: &str = "langfuse.observation.metadata";
/// Prefix of Langfuse's per-key trace metadata (`langfuse.trace.metadata.<key>`, one attribute per
/// top-level key). The Langfuse Python SDK v3+ writes each value as JSON text (`"\"pro\""`, seen
/// in `receiver/tests/fixtures/instrumentations/langfuse-openai.json`); userspan's `compat`
/// emission writes strings as they are and other values as JSON text.
pub const LANGFUSE_TRACE_METADATA_PREFIX: &str = "langfuse.trace.metadata.";
/// Prefix of Langfuse's per-key observation metadata (`langfuse.observation.metadata.<key>`; values
/// as in [`LANGFUSE_TRACE_METADATA_PREFIX`]).
pub const LANGFUSE_OBSERVATION_METADATA_PREFIX: &str = "langfuse.observation.metadata.";
/// Prefix of OpenLLMetry / Traceloop's association properties
/// (`Traceloop.set_association_properties({...})`: `traceloop.association.properties.<key>`, one
/// attribute per key), read as metadata but for [`TRACELOOP_USER_ID`] and [`TRACELOOP_SESSION_ID`].
pub const TRACELOOP_ASSOCIATION_PROPERTIES_PREFIX: &str = "traceloop.association.properties.";
/// Prefix of the Vercel AI SDK's call metadata (`experimental_telemetry.metadata`, recorded as
/// `ai.telemetry.metadata.<key>` on every span of the call, [telemetry
/// docs](https://ai-sdk.dev/docs/ai-sdk-core/telemetry)), read as metadata but for
/// [`AI_TELEMETRY_USER_ID`], [`AI_TELEMETRY_SESSION_ID`], [`AI_TELEMETRY_THREAD_ID`] and
/// [`AI_TELEMETRY_TAGS`].
pub const AI_TELEMETRY_METADATA_PREFIX: &str = "ai.telemetry.metadata.";
/// Tags of a Vercel AI SDK call (`experimental_telemetry.metadata.tags`, a string array): Langfuse's
/// OTel ingestion reads `ai.telemetry.metadata.tags` as the trace's tags.
pub const AI_TELEMETRY_TAGS: &str = "ai.telemetry.metadata.tags";
/// LangSmith's tags: comma-separated text (its OpenTelemetry mapping's `langsmith.span.tags`, e.g.
/// `"travel,booking"` in LangSmith's OTel guides; Latitude's resolver splits it on commas).
pub const LANGSMITH_SPAN_TAGS: &str = "langsmith.span.tags";
/// Prefix of LangSmith's run metadata (`langsmith.metadata.<key>`, one attribute per key), read as
/// metadata but for [`LANGSMITH_USER_ID`].
pub const LANGSMITH_METADATA_PREFIX: &str = "langsmith.metadata.";

/// Keys the receiver reads a span's tags from; tags are a set, so every key present adds its tags:
/// [`TAGS`] (OpenInference, userspan's own; string array), [`LATITUDE_TAGS`] (JSON array text),
/// [`LANGFUSE_TRACE_TAGS`] (string array), [`AI_TELEMETRY_TAGS`] (Vercel AI SDK, as Langfuse reads
/// it), [`LANGSMITH_SPAN_TAGS`] (comma-separated text). Each value may be a string array, JSON
/// array text or comma-separated text.
pub const TAGS_KEYS: &[&str] = &[TAGS, LATITUDE_TAGS, LANGFUSE_TRACE_TAGS, AI_TELEMETRY_TAGS, LANGSMITH_SPAN_TAGS];
/// Keys whose value is a whole metadata object (JSON object text), in precedence order: a key of
/// the object given by an earlier key wins over the same key from a later one, and over every
/// [`METADATA_KEY_PREFIXES`] attribute: [`METADATA`] (OpenInference, userspan's own),
/// [`LATITUDE_METADATA`] (Latitude), [`LANGFUSE_TRACE_METADATA`], [`LANGFUSE_OBSERVATION_METADATA`]
/// (Langfuse).
pub const METADATA_OBJECT_KEYS: &[&str] =
    &[METADATA, LATITUDE_METADATA, LANGFUSE_TRACE_METADATA, LANGFUSE_OBSERVATION_METADATA];
/// Prefixes of one-attribute-per-key metadata (`<prefix><key>` = value), in precedence order after
/// [`METADATA_OBJECT_KEYS`]: [`LANGFUSE_TRACE_METADATA_PREFIX`],
/// [`LANGFUSE_OBSERVATION_METADATA_PREFIX`] (Langfuse), [`TRACELOOP_ASSOCIATION_PROPERTIES_PREFIX`]
/// (OpenLLMetry / Traceloop), [`AI_TELEMETRY_METADATA_PREFIX`] (Vercel AI SDK),
/// [`LANGSMITH_METADATA_PREFIX`] (LangSmith). An attribute that is itself a resolved key (an
/// identity alias such as [`TRACELOOP_USER_ID`], or [`AI_TELEMETRY_TAGS`]) is not metadata.
pub const METADATA_KEY_PREFIXES: &[&str] = &[
    LANGFUSE_TRACE_METADATA_PREFIX,
    LANGFUSE_OBSERVATION_METADATA_PREFIX,
    TRACELOOP_ASSOCIATION_PROPERTIES_PREFIX,
    AI_TELEMETRY_METADATA_PREFIX,
    LANGSMITH_METADATA_PREFIX,
];
/// Of [`METADATA_KEY_PREFIXES`], those whose string values are JSON text (Langfuse's SDK serialises
/// each value): a value that parses as JSON is that JSON value, any other string is kept as text.
pub const JSON_VALUED_METADATA_PREFIXES: &[&str] =
    &[LANGFUSE_TRACE_METADATA_PREFIX, LANGFUSE_OBSERVATION_METADATA_PREFIX];

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
/// LLM system (OpenInference `llm.system`: the vendor API, `openai`, `anthropic`, ...; sent by
/// OpenInference instrumentations where `llm.provider` names the host, or alone).
pub const LLM_SYSTEM: &str = "llm.system";
/// Vercel AI SDK's provider (`ai.model.provider`), `<provider>.<api>` such as `openai.chat` or
/// `anthropic.messages`: the receiver keeps the part before the first `.` (also of
/// [`GEN_AI_SYSTEM`] on the SDK's spans, which carries the same value; a span with an
/// [`AI_OPERATION_ID`] is one of them).
pub const AI_MODEL_PROVIDER: &str = "ai.model.provider";
/// Vercel AI SDK's requested model id (`ai.model.id`).
pub const AI_MODEL_ID: &str = "ai.model.id";
/// Vercel AI SDK's answering model (`ai.response.model`, on provider-call spans).
pub const AI_RESPONSE_MODEL: &str = "ai.response.model";
/// Langfuse SDK v3+ model of a generation (`langfuse.observation.model.name`).
pub const LANGFUSE_MODEL_NAME: &str = "langfuse.observation.model.name";
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
/// Total tokens (OpenInference `llm.token_count.total`; integer, tokens).
pub const LLM_TOKEN_COUNT_TOTAL: &str = "llm.token_count.total";
/// Total tokens (OpenLLMetry / Traceloop `llm.usage.total_tokens`; integer, tokens).
pub const LLM_USAGE_TOTAL_TOKENS: &str = "llm.usage.total_tokens";
/// Input tokens (Vercel AI SDK 5+ `ai.usage.inputTokens`; integer, tokens).
pub const AI_USAGE_INPUT_TOKENS: &str = "ai.usage.inputTokens";
/// Input tokens (Vercel AI SDK 4 and earlier `ai.usage.promptTokens`; integer, tokens).
pub const AI_USAGE_PROMPT_TOKENS: &str = "ai.usage.promptTokens";
/// Output tokens (Vercel AI SDK 5+ `ai.usage.outputTokens`; integer, tokens).
pub const AI_USAGE_OUTPUT_TOKENS: &str = "ai.usage.outputTokens";
/// Output tokens (Vercel AI SDK 4 and earlier `ai.usage.completionTokens`; integer, tokens).
pub const AI_USAGE_COMPLETION_TOKENS: &str = "ai.usage.completionTokens";
/// Total tokens (Vercel AI SDK 5+ `ai.usage.totalTokens`; integer, tokens).
pub const AI_USAGE_TOTAL_TOKENS: &str = "ai.usage.totalTokens";
/// Total tokens (OpenLLMetry `gen_ai.usage.total_tokens`; not an OTel GenAI key; integer, tokens).
pub const GEN_AI_USAGE_TOTAL_TOKENS: &str = "gen_ai.usage.total_tokens";
/// Cache-read input tokens (Vercel AI SDK 6 `ai.usage.inputTokenDetails.cacheReadTokens`).
pub const AI_USAGE_INPUT_CACHE_READ_TOKENS: &str = "ai.usage.inputTokenDetails.cacheReadTokens";
/// Cache-read input tokens (Vercel AI SDK 5 `ai.usage.cachedInputTokens`).
pub const AI_USAGE_CACHED_INPUT_TOKENS: &str = "ai.usage.cachedInputTokens";
/// Cache-write input tokens (Vercel AI SDK 6 `ai.usage.inputTokenDetails.cacheWriteTokens`).
pub const AI_USAGE_INPUT_CACHE_WRITE_TOKENS: &str = "ai.usage.inputTokenDetails.cacheWriteTokens";
/// Reasoning output tokens (Vercel AI SDK 6 `ai.usage.outputTokenDetails.reasoningTokens`).
pub const AI_USAGE_OUTPUT_REASONING_TOKENS: &str = "ai.usage.outputTokenDetails.reasoningTokens";
/// Reasoning output tokens (Vercel AI SDK 5 `ai.usage.reasoningTokens`).
pub const AI_USAGE_REASONING_TOKENS: &str = "ai.usage.reasoningTokens";
/// Langfuse SDK v3+ usage: JSON object text of token counts per usage kind, as the app or the
/// Langfuse OpenAI integration gives them (`{"input": 12, "output": 3}`, or OpenAI's
/// `{"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15, ...}`): input tokens are
/// `input`, else `prompt_tokens`, else `input_tokens`; output tokens `output`, else
/// `completion_tokens`, else `output_tokens`; cache-read tokens `prompt_tokens_details.cached_tokens`
/// and reasoning tokens `completion_tokens_details.reasoning_tokens` (nested, as OpenAI reports them).
pub const LANGFUSE_USAGE_DETAILS: &str = "langfuse.observation.usage_details";
/// Langfuse SDK v3+ reported cost: JSON object text of USD per usage kind
/// (`{"input": 0.001, "output": 0.002, "total": 0.003}`); `total`, else the sum of the other
/// kinds, is the span's reported cost.
pub const LANGFUSE_COST_DETAILS: &str = "langfuse.observation.cost_details";

/// Keys the receiver reads the provider from, in precedence order: [`GEN_AI_PROVIDER_NAME`] (OTel
/// GenAI), [`GEN_AI_SYSTEM`] (deprecated OTel GenAI, OpenLLMetry, Vercel AI SDK), [`LLM_PROVIDER`]
/// then [`LLM_SYSTEM`] (OpenInference), [`AI_MODEL_PROVIDER`] (Vercel AI SDK; the part before the
/// first `.`, as of `gen_ai.system` on its spans). Values are lower-cased (ASCII), so `OpenAI` and
/// `openai` are one provider; OTel provider names keep their dots (`aws.bedrock`).
pub const PROVIDER_ALIASES: &[&str] =
    &[GEN_AI_PROVIDER_NAME, GEN_AI_SYSTEM, LLM_PROVIDER, LLM_SYSTEM, AI_MODEL_PROVIDER];
/// Keys the receiver reads the model from, in precedence order: [`GEN_AI_RESPONSE_MODEL`] (OTel
/// GenAI; the model that answered), [`GEN_AI_REQUEST_MODEL`] (OTel GenAI), [`LLM_MODEL_NAME`]
/// (OpenInference), [`LANGFUSE_MODEL_NAME`] (Langfuse), [`AI_RESPONSE_MODEL`] then [`AI_MODEL_ID`]
/// (Vercel AI SDK).
pub const MODEL_ALIASES: &[&str] =
    &[GEN_AI_RESPONSE_MODEL, GEN_AI_REQUEST_MODEL, LLM_MODEL_NAME, LANGFUSE_MODEL_NAME, AI_RESPONSE_MODEL, AI_MODEL_ID];
/// Keys the receiver reads input tokens from, in precedence order: [`GEN_AI_USAGE_INPUT_TOKENS`]
/// (OTel GenAI), [`GEN_AI_USAGE_PROMPT_TOKENS`] (deprecated OTel GenAI, OpenLLMetry),
/// [`LLM_TOKEN_COUNT_PROMPT`] (OpenInference), [`AI_USAGE_INPUT_TOKENS`] then
/// [`AI_USAGE_PROMPT_TOKENS`] (Vercel AI SDK); after them, `input` of [`LANGFUSE_USAGE_DETAILS`].
pub const INPUT_TOKENS_ALIASES: &[&str] = &[
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_PROMPT_TOKENS,
    LLM_TOKEN_COUNT_PROMPT,
    AI_USAGE_INPUT_TOKENS,
    AI_USAGE_PROMPT_TOKENS,
];
/// Keys the receiver reads output tokens from, in precedence order: [`GEN_AI_USAGE_OUTPUT_TOKENS`]
/// (OTel GenAI), [`GEN_AI_USAGE_COMPLETION_TOKENS`] (deprecated OTel GenAI, OpenLLMetry),
/// [`LLM_TOKEN_COUNT_COMPLETION`] (OpenInference), [`AI_USAGE_OUTPUT_TOKENS`] then
/// [`AI_USAGE_COMPLETION_TOKENS`] (Vercel AI SDK); after them, `output` of
/// [`LANGFUSE_USAGE_DETAILS`].
pub const OUTPUT_TOKENS_ALIASES: &[&str] = &[
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_COMPLETION_TOKENS,
    LLM_TOKEN_COUNT_COMPLETION,
    AI_USAGE_OUTPUT_TOKENS,
    AI_USAGE_COMPLETION_TOKENS,
];
/// Keys the receiver reads a total token count from: [`LLM_TOKEN_COUNT_TOTAL`] (OpenInference),
/// [`LLM_USAGE_TOTAL_TOKENS`] then [`GEN_AI_USAGE_TOTAL_TOKENS`] (OpenLLMetry),
/// [`AI_USAGE_TOTAL_TOKENS`] (Vercel AI SDK). A total
/// marks the span as carrying usage (an LLM call) but adds no tokens of its own: input and output
/// come from their keys (every instrumentation above sends them beside the total).
pub const TOTAL_TOKENS_ALIASES: &[&str] =
    &[LLM_TOKEN_COUNT_TOTAL, LLM_USAGE_TOTAL_TOKENS, GEN_AI_USAGE_TOTAL_TOKENS, AI_USAGE_TOTAL_TOKENS];

/// Input tokens read from the provider's prompt cache (OTel GenAI
/// `gen_ai.usage.cache_read.input_tokens`; integer, tokens, included in the input tokens).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// Input tokens written to the provider's prompt cache (OTel GenAI
/// `gen_ai.usage.cache_creation.input_tokens`; integer, tokens, included in the input tokens).
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str = "gen_ai.usage.cache_creation.input_tokens";
/// OpenLLMetry's cache-read input tokens (`SpanAttributes.LLM_USAGE_CACHE_READ_INPUT_TOKENS` of
/// `opentelemetry-semantic-conventions-ai`).
pub const OPENLLMETRY_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read_input_tokens";
/// OpenLLMetry's cache-write input tokens (`SpanAttributes.LLM_USAGE_CACHE_CREATION_INPUT_TOKENS`).
pub const OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS: &str = "gen_ai.usage.cache_creation_input_tokens";
/// OpenLLMetry's reasoning tokens (`SpanAttributes.LLM_USAGE_REASONING_TOKENS`; included in the
/// output tokens).
pub const OPENLLMETRY_REASONING_TOKENS: &str = "gen_ai.usage.reasoning_tokens";
/// Cache-read prompt tokens (OpenInference `llm.token_count.prompt_details.cache_read`).
pub const LLM_TOKEN_COUNT_PROMPT_CACHE_READ: &str = "llm.token_count.prompt_details.cache_read";
/// Cache-write prompt tokens (OpenInference `llm.token_count.prompt_details.cache_write`).
pub const LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE: &str = "llm.token_count.prompt_details.cache_write";
/// Reasoning completion tokens (OpenInference `llm.token_count.completion_details.reasoning`).
pub const LLM_TOKEN_COUNT_COMPLETION_REASONING: &str = "llm.token_count.completion_details.reasoning";
/// OpenAI service tier that served the request (OTel GenAI OpenAI conventions
/// `openai.response.service_tier`: `default`, `flex`, `priority`, ...).
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
/// Deprecated OpenAI service tier (OTel GenAI `gen_ai.openai.response.service_tier`, replaced by
/// [`OPENAI_RESPONSE_SERVICE_TIER`]).
pub const GEN_AI_OPENAI_RESPONSE_SERVICE_TIER: &str = "gen_ai.openai.response.service_tier";

/// Keys the receiver reads cache-read input tokens from, in precedence order:
/// [`GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS`] (OTel GenAI), [`OPENLLMETRY_CACHE_READ_INPUT_TOKENS`]
/// (OpenLLMetry), [`LLM_TOKEN_COUNT_PROMPT_CACHE_READ`] (OpenInference),
/// [`AI_USAGE_INPUT_CACHE_READ_TOKENS`] then [`AI_USAGE_CACHED_INPUT_TOKENS`] (Vercel AI SDK).
pub const CACHE_READ_TOKENS_ALIASES: &[&str] = &[
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    OPENLLMETRY_CACHE_READ_INPUT_TOKENS,
    LLM_TOKEN_COUNT_PROMPT_CACHE_READ,
    AI_USAGE_INPUT_CACHE_READ_TOKENS,
    AI_USAGE_CACHED_INPUT_TOKENS,
];
/// Keys the receiver reads cache-write input tokens from, in precedence order:
/// [`GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS`] (OTel GenAI),
/// [`OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS`] (OpenLLMetry), [`LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE`]
/// (OpenInference), [`AI_USAGE_INPUT_CACHE_WRITE_TOKENS`] (Vercel AI SDK).
pub const CACHE_WRITE_TOKENS_ALIASES: &[&str] = &[
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS,
    LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE,
    AI_USAGE_INPUT_CACHE_WRITE_TOKENS,
];
/// Keys the receiver reads reasoning output tokens from, in precedence order:
/// [`LLM_TOKEN_COUNT_COMPLETION_REASONING`] (OpenInference), [`OPENLLMETRY_REASONING_TOKENS`]
/// (OpenLLMetry), [`AI_USAGE_OUTPUT_REASONING_TOKENS`] then [`AI_USAGE_REASONING_TOKENS`] (Vercel
/// AI SDK).
pub const REASONING_TOKENS_ALIASES: &[&str] = &[
    LLM_TOKEN_COUNT_COMPLETION_REASONING,
    OPENLLMETRY_REASONING_TOKENS,
    AI_USAGE_OUTPUT_REASONING_TOKENS,
    AI_USAGE_REASONING_TOKENS,
];
/// Keys the receiver reads the service tier from (the price variant of a call), in precedence
/// order: [`OPENAI_RESPONSE_SERVICE_TIER`], [`GEN_AI_OPENAI_RESPONSE_SERVICE_TIER`] (OTel GenAI).
pub const SERVICE_TIER_ALIASES: &[&str] = &[OPENAI_RESPONSE_SERVICE_TIER, GEN_AI_OPENAI_RESPONSE_SERVICE_TIER];

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
/// OpenLLMetry / Traceloop's request type (`llm.request.type`: `chat`, `completion`, `embedding`,
/// `rerank`, ...), read as an operation.
pub const LLM_REQUEST_TYPE: &str = "llm.request.type";
/// [`LLM_REQUEST_TYPE`] of a legacy completion (OpenLLMetry `completion`).
pub const REQUEST_TYPE_COMPLETION: &str = "completion";
/// [`LLM_REQUEST_TYPE`] of an embeddings request (OpenLLMetry `embedding`).
pub const REQUEST_TYPE_EMBEDDING: &str = "embedding";
/// Vercel AI SDK's operation (`ai.operationId`: `ai.generateText` for the call's wrapper span,
/// `ai.generateText.doGenerate` for each provider call, `ai.toolCall`, ...), read as an operation.
pub const AI_OPERATION_ID: &str = "ai.operationId";
/// Keys the receiver reads the operation from, in precedence order: [`GEN_AI_OPERATION_NAME`]
/// (OTel GenAI), [`LLM_REQUEST_TYPE`] (OpenLLMetry), [`AI_OPERATION_ID`] (Vercel AI SDK).
pub const OPERATION_ALIASES: &[&str] = &[GEN_AI_OPERATION_NAME, LLM_REQUEST_TYPE, AI_OPERATION_ID];
/// Operations the receiver counts as an LLM call even when the span carries no token usage (a span
/// with any usage key is one too): chat, text completion, content generation, embeddings (OTel
/// GenAI), and OpenLLMetry's `completion` and `embedding`.
pub const LLM_CALL_OPERATIONS: &[&str] = &[
    OPERATION_CHAT,
    OPERATION_TEXT_COMPLETION,
    OPERATION_GENERATE_CONTENT,
    OPERATION_EMBEDDINGS,
    REQUEST_TYPE_COMPLETION,
    REQUEST_TYPE_EMBEDDING,
];
/// Endings of a Vercel AI SDK [`AI_OPERATION_ID`] that mark a provider call (an LLM call):
/// `ai.generateText.doGenerate`, `ai.streamText.doStream`, `ai.embed.doEmbed`, ... The wrapper
/// (`ai.generateText`) is not one; its usage repeats its provider calls' (see the nesting rule
/// in `docs/design.md`).
pub const AI_LLM_CALL_OPERATION_SUFFIXES: &[&str] = &[".doGenerate", ".doStream", ".doEmbed"];

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
/// Total cost (double, USD; OpenLIT's `gen_ai.usage.cost`).
pub const GEN_AI_USAGE_COST: &str = "gen_ai.usage.cost";
/// Total cost (double, USD; OpenInference `llm.cost.total`).
pub const LLM_COST_TOTAL: &str = "llm.cost.total";
/// Prompt (input) cost (double, USD; OpenInference `llm.cost.prompt`).
pub const LLM_COST_PROMPT: &str = "llm.cost.prompt";
/// Completion (output) cost (double, USD; OpenInference `llm.cost.completion`).
pub const LLM_COST_COMPLETION: &str = "llm.cost.completion";
/// Keys a span's reported total cost is read from, in precedence order:
/// [`GEN_AI_USAGE_TOTAL_COST`] (Latitude, OpenLLMetry), [`GEN_AI_USAGE_COST`] (OpenLIT),
/// [`LLM_COST_TOTAL`] (OpenInference). A total wins over input + output cost.
pub const TOTAL_COST_ALIASES: &[&str] = &[GEN_AI_USAGE_TOTAL_COST, GEN_AI_USAGE_COST, LLM_COST_TOTAL];
/// Keys a span's reported input cost is read from: [`GEN_AI_USAGE_INPUT_COST`] (Latitude),
/// [`LLM_COST_PROMPT`] (OpenInference).
pub const INPUT_COST_ALIASES: &[&str] = &[GEN_AI_USAGE_INPUT_COST, LLM_COST_PROMPT];
/// Keys a span's reported output cost is read from: [`GEN_AI_USAGE_OUTPUT_COST`] (Latitude),
/// [`LLM_COST_COMPLETION`] (OpenInference).
pub const OUTPUT_COST_ALIASES: &[&str] = &[GEN_AI_USAGE_OUTPUT_COST, LLM_COST_COMPLETION];
/// Cost sources of a priced span (the receiver's `cost_source`): the span reported its cost.
pub const COST_SOURCE_REPORTED: &str = "reported";
/// Cost source: list price from the price table (genai-prices, or a `--prices` override).
pub const COST_SOURCE_ESTIMATED: &str = "estimated";
/// Cost source: the span has usage but no known price (unknown model or provider, bad counts).
pub const COST_SOURCE_UNPRICED: &str = "unpriced";
/// Tool name for tool spans (OTel GenAI).
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// Tool name for tool spans (OpenInference `tool.name`, on `TOOL` spans).
pub const TOOL_NAME: &str = "tool.name";
/// Tool name for tool spans (Vercel AI SDK `ai.toolCall.name`, on `ai.toolCall` spans).
pub const AI_TOOL_CALL_NAME: &str = "ai.toolCall.name";
/// Keys the receiver reads the tool name from, in precedence order: [`GEN_AI_TOOL_NAME`] (OTel
/// GenAI), [`TOOL_NAME`] (OpenInference), [`AI_TOOL_CALL_NAME`] (Vercel AI SDK).
pub const TOOL_NAME_ALIASES: &[&str] = &[GEN_AI_TOOL_NAME, TOOL_NAME, AI_TOOL_CALL_NAME];
/// OpenInference span kind (`LLM`, `EMBEDDING`, `TOOL`, `CHAIN`, `EVALUATOR`,
/// [`SPAN_KIND_GUARDRAIL`], ...; compared case-insensitively). [`LLM_CALL_SPAN_KINDS`] mark an
/// LLM operation; `TOOL` spans name their tool in [`TOOL_NAME`]; `EVALUATOR` and `CHAIN` spans
/// count by their usage only, under the nesting rule.
pub const OPENINFERENCE_SPAN_KIND: &str = "openinference.span.kind";
/// [`OPENINFERENCE_SPAN_KIND`] of a model call (OpenInference `LLM`).
pub const SPAN_KIND_LLM: &str = "LLM";
/// [`OPENINFERENCE_SPAN_KIND`] of an embeddings call (OpenInference `EMBEDDING`).
pub const SPAN_KIND_EMBEDDING: &str = "EMBEDDING";
/// [`OPENINFERENCE_SPAN_KIND`]s counted as an LLM call even without token usage.
pub const LLM_CALL_SPAN_KINDS: &[&str] = &[SPAN_KIND_LLM, SPAN_KIND_EMBEDDING];
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
/// Explanation of an evaluation, and the comment of a feedback record (OTel GenAI
/// `gen_ai.evaluation.explanation`; cut to [`MAX_FEEDBACK_COMMENT_BYTES`]).
pub const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";
/// Who gave a feedback record (userspan): one of [`FEEDBACK_SOURCES`].
pub const FEEDBACK_SOURCE: &str = "userspan.feedback.source";
/// Stable id of a feedback record (userspan; a UUID from the SDKs): a re-sent or edited rating with
/// the same id replaces the earlier one.
pub const FEEDBACK_ID: &str = "userspan.feedback.id";
/// [`FEEDBACK_SOURCE`] of a rating or comment from the app's end user (the SDKs' default).
pub const FEEDBACK_SOURCE_END_USER: &str = "end_user";
/// [`FEEDBACK_SOURCE`] of a human annotator's record.
pub const FEEDBACK_SOURCE_ANNOTATOR: &str = "annotator";
/// [`FEEDBACK_SOURCE`] of an automated evaluator's record.
pub const FEEDBACK_SOURCE_EVALUATOR: &str = "evaluator";
/// Every allowed [`FEEDBACK_SOURCE`].
pub const FEEDBACK_SOURCES: &[&str] = &[FEEDBACK_SOURCE_END_USER, FEEDBACK_SOURCE_ANNOTATOR, FEEDBACK_SOURCE_EVALUATOR];
/// Longest feedback comment kept, in bytes (longer ones are cut on a char boundary and counted).
pub const MAX_FEEDBACK_COMMENT_BYTES: usize = 4096;
/// Longest feedback name, label or id, in chars.
pub const MAX_FEEDBACK_NAME_CHARS: usize = 256;
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
/// Most tags the receiver keeps per span and per trace (the first ones in sorted order); each tag
/// is at most [`MAX_ID_CHARS`] characters. Cuts are counted (`GET /api/stats`).
pub const MAX_TAGS: usize = 64;
