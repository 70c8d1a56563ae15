//! The keys the receiver resolves are exactly the lists of `userspan::conventions`: the resolver's
//! table is those lists (and the list written out below), every key of it sent through OTLP/HTTP
//! ingest is read back from the API, each alias list's precedence holds, a resource's keys are
//! the fallback of its spans, and keys the conventions do not name resolve to nothing.

mod common;
use common::*;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde_json::{json, Value};
use userspan::conventions as conv;
use userspan_receiver::ingest::{metadata_prefix, resolve_key, Field, RESOLVED_KEYS};

/// Every attribute key the receiver resolves, per field and in precedence order, written out: a
/// change to what the receiver reads must show here.
const EXPECTED: &[(Field, &[&str])] = &[
    (
        Field::UserId,
        &[
            "user.id",
            "enduser.id",
            "langfuse.user.id",
            "traceloop.association.properties.user_id",
            "ai.telemetry.metadata.userId",
            "langsmith.metadata.user_id",
            "gen_ai.user",
            "llm.user",
        ],
    ),
    (Field::UserIdType, &["user.id.type"]),
    (Field::UserIdHash, &["user.id.hash", "user.hash"]),
    (Field::UserEmail, &["user.email"]),
    (Field::UserMetadata, &["user.metadata"]),
    (
        Field::SessionId,
        &[
            "session.id",
            "gen_ai.conversation.id",
            "langfuse.session.id",
            "traceloop.association.properties.session_id",
            "ai.telemetry.metadata.sessionId",
            "ai.telemetry.metadata.threadId",
            "langsmith.trace.session_id",
        ],
    ),
    (Field::Provider, &["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider"]),
    (
        Field::Model,
        &[
            "gen_ai.response.model",
            "gen_ai.request.model",
            "llm.model_name",
            "langfuse.observation.model.name",
            "ai.response.model",
            "ai.model.id",
        ],
    ),
    (Field::Tool, &["gen_ai.tool.name", "tool.name", "ai.toolCall.name"]),
    (Field::Operation, &["gen_ai.operation.name", "llm.request.type", "ai.operationId"]),
    (
        Field::InputTokens,
        &[
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
            "ai.usage.inputTokens",
            "ai.usage.promptTokens",
        ],
    ),
    (
        Field::OutputTokens,
        &[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
            "ai.usage.outputTokens",
            "ai.usage.completionTokens",
        ],
    ),
    (
        Field::CacheReadTokens,
        &[
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read",
            "ai.usage.inputTokenDetails.cacheReadTokens",
            "ai.usage.cachedInputTokens",
        ],
    ),
    (
        Field::CacheWriteTokens,
        &[
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
            "llm.token_count.prompt_details.cache_write",
            "ai.usage.inputTokenDetails.cacheWriteTokens",
        ],
    ),
    (
        Field::ReasoningTokens,
        &[
            "llm.token_count.completion_details.reasoning",
            "gen_ai.usage.reasoning_tokens",
            "ai.usage.outputTokenDetails.reasoningTokens",
            "ai.usage.reasoningTokens",
        ],
    ),
    (Field::ServiceTier, &["openai.response.service_tier", "gen_ai.openai.response.service_tier"]),
    (Field::InputCost, &["gen_ai.usage.input_cost", "llm.cost.prompt"]),
    (Field::OutputCost, &["gen_ai.usage.output_cost", "llm.cost.completion"]),
    (Field::TotalCost, &["gen_ai.usage.total_cost", "gen_ai.usage.cost", "llm.cost.total"]),
    (
        Field::TotalTokens,
        &["llm.token_count.total", "llm.usage.total_tokens", "gen_ai.usage.total_tokens", "ai.usage.totalTokens"],
    ),
    (Field::UsageDetails, &["langfuse.observation.usage_details"]),
    (Field::CostDetails, &["langfuse.observation.cost_details"]),
    (Field::GuardrailTriggered, &["guardrail.triggered"]),
    (Field::SpanKind, &["openinference.span.kind"]),
    (
        Field::Tags,
        &["tag.tags", "latitude.tags", "langfuse.trace.tags", "ai.telemetry.metadata.tags", "langsmith.span.tags"],
    ),
    (Field::Metadata, &["metadata", "latitude.metadata", "langfuse.trace.metadata", "langfuse.observation.metadata"]),
];

/// Prefixes of one-attribute-per-key metadata, in precedence order (after the [`Field::Metadata`]
/// keys), written out.
const EXPECTED_PREFIXES: &[&str] = &[
    "langfuse.trace.metadata.",
    "langfuse.observation.metadata.",
    "traceloop.association.properties.",
    "ai.telemetry.metadata.",
    "langsmith.metadata.",
];

/// Keys other SDKs or apps use that the conventions do not name: none may resolve.
const NOT_IN_CONVENTIONS: &[&str] = &[
    "userId",
    "user_id",
    "User.Id",
    "USER.ID",
    "user.id ",
    "gen_ai.user.id",
    "ai.telemetry.metadata.user_id",
    "langsmith.user_id",
    "langsmith.metadata.userId",
    "langfuse.userId",
    "traceloop.association.properties.userId",
    "enduser.email",
    "email",
    "user.type",
    "sessionId",
    "session_id",
    "conversation.id",
    "langfuse.sessionId",
    "ai.provider",
    "provider",
    "gen_ai.provider",
    "model",
    "llm.model",
    "gen_ai.model",
    "gen_ai.request.user",
    "ai.usage.tokens",
    "prompt_tokens",
    "langfuse.observation.usage",
    "llm.cost",
    "tool",
    "ai.toolCall.id",
    "guardrail",
    "span.kind",
];

/// The resolver's table is, field by field, the conventions' lists, and they hold the keys above.
#[test]
fn the_resolver_reads_the_conventions_lists_and_nothing_else() {
    let from_conventions: &[(Field, &[&str])] = &[
        (Field::UserId, conv::USER_ID_ALIASES),
        (Field::UserIdType, conv::USER_ID_TYPE_ALIASES),
        (Field::UserIdHash, conv::USER_ID_HASH_ALIASES),
        (Field::UserEmail, conv::USER_EMAIL_ALIASES),
        (Field::UserMetadata, conv::USER_METADATA_ALIASES),
        (Field::SessionId, conv::SESSION_ID_ALIASES),
        (Field::Provider, conv::PROVIDER_ALIASES),
        (Field::Model, conv::MODEL_ALIASES),
        (Field::Tool, conv::TOOL_NAME_ALIASES),
        (Field::Operation, conv::OPERATION_ALIASES),
        (Field::InputTokens, conv::INPUT_TOKENS_ALIASES),
        (Field::OutputTokens, conv::OUTPUT_TOKENS_ALIASES),
        (Field::CacheReadTokens, conv::CACHE_READ_TOKENS_ALIASES),
        (Field::CacheWriteTokens, conv::CACHE_WRITE_TOKENS_ALIASES),
        (Field::ReasoningTokens, conv::REASONING_TOKENS_ALIASES),
        (Field::ServiceTier, conv::SERVICE_TIER_ALIASES),
        (Field::InputCost, conv::INPUT_COST_ALIASES),
        (Field::OutputCost, conv::OUTPUT_COST_ALIASES),
        (Field::TotalCost, conv::TOTAL_COST_ALIASES),
        (Field::TotalTokens, conv::TOTAL_TOKENS_ALIASES),
        (Field::UsageDetails, &[conv::LANGFUSE_USAGE_DETAILS]),
        (Field::CostDetails, &[conv::LANGFUSE_COST_DETAILS]),
        (Field::GuardrailTriggered, &[conv::GUARDRAIL_TRIGGERED]),
        (Field::SpanKind, &[conv::OPENINFERENCE_SPAN_KIND]),
        (Field::Tags, conv::TAGS_KEYS),
        (Field::Metadata, conv::METADATA_OBJECT_KEYS),
    ];
    assert_eq!(RESOLVED_KEYS, from_conventions, "the resolver's table is not the conventions' lists");
    assert_eq!(RESOLVED_KEYS, EXPECTED, "the receiver resolves other keys than the ones listed here");

    // The one lookup the resolver makes answers for these keys, at their position, and no other.
    for (field, keys) in EXPECTED {
        for (prio, key) in keys.iter().enumerate() {
            assert_eq!(resolve_key(key), Some((*field, prio as u8)), "{key}");
        }
    }
    for key in NOT_IN_CONVENTIONS {
        assert_eq!(resolve_key(key), None, "{key:?} is resolved but not named by userspan::conventions");
    }
    // The per-key metadata prefixes are the conventions' list; each gives its precedence and the
    // key below it; a bare prefix (no key) and keys the conventions do not name give none.
    assert_eq!(conv::METADATA_KEY_PREFIXES, EXPECTED_PREFIXES);
    let base = conv::METADATA_OBJECT_KEYS.len();
    for (n, p) in EXPECTED_PREFIXES.iter().enumerate() {
        assert_eq!(metadata_prefix(&format!("{p}plan")), Some(((base + n) as u8, "plan")), "{p}");
        assert_eq!(metadata_prefix(p), None, "{p}");
    }
    for key in ["metadata", "langfuse.metadata.x", "traceloop.entity.name", "ai.settings.maxRetries", "tag.tags"] {
        assert_eq!(metadata_prefix(key), None, "{key}");
    }
}

/// The attribute a probe of `field` carries under `key`, with a value unique to `tag`.
fn probe_attr(field: Field, key: &str, tag: u64) -> KeyValue {
    match field {
        Field::UserId => s(key, &format!("user-{tag}")),
        Field::UserIdType => s(key, "phone"),
        Field::UserIdHash => s(key, &format!("hash-{tag}")),
        Field::UserEmail => s(key, &format!("m{tag}@x.io")),
        Field::UserMetadata => s(key, &format!(r#"{{"tag":{tag}}}"#)),
        Field::SessionId => s(key, &format!("session-{tag}")),
        Field::Provider => s(key, &format!("provider-{tag}")),
        Field::Model => s(key, &format!("model-{tag}")),
        Field::Tool => s(key, &format!("tool-{tag}")),
        Field::Operation if key == conv::AI_OPERATION_ID => s(key, "ai.generateText.doGenerate"),
        Field::Operation => s(key, "chat"),
        Field::InputTokens | Field::OutputTokens | Field::TotalTokens => i(key, tag as i64),
        Field::UsageDetails => s(key, &format!(r#"{{"input":{tag},"output":{}}}"#, tag + 1)),
        Field::CostDetails => s(key, &format!(r#"{{"input":0.5,"total":{}}}"#, tag as f64 / 1000.0)),
        Field::CacheReadTokens | Field::CacheWriteTokens | Field::ReasoningTokens => i(key, tag as i64),
        Field::ServiceTier => s(key, "priority"),
        Field::InputCost | Field::OutputCost | Field::TotalCost => f(key, tag as f64 / 1000.0),
        Field::GuardrailTriggered => b(key, true),
        Field::SpanKind => s(key, "guardrail"),
        // Each tags key in the shape its SDK sends: JSON array text (Latitude), comma-separated
        // text (LangSmith), a string array (the others).
        Field::Tags if key == conv::LATITUDE_TAGS => s(key, &format!(r#"["tag-{tag}","tag-{tag}-b"]"#)),
        Field::Tags if key == conv::LANGSMITH_SPAN_TAGS => s(key, &format!("tag-{tag},tag-{tag}-b")),
        Field::Tags => str_array(key, &[&format!("tag-{tag}"), &format!("tag-{tag}-b")]),
        Field::Metadata => s(key, &format!(r#"{{"k":{tag}}}"#)),
    }
}

/// A string-array attribute.
fn str_array(key: &str, items: &[&str]) -> KeyValue {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue};
    let values = items.iter().map(|x| AnyValue { value: Some(V::StringValue(x.to_string())) }).collect();
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(V::ArrayValue(ArrayValue { values })) }),
        ..Default::default()
    }
}

/// Further attributes a probe of `field` needs to be visible: a service tier is seen in the price
/// of a gpt-4o call (1M input tokens: $4.25 at OpenAI's priority rate, $2.50 standard; genai-prices
/// 0.2.1 has the priority variant from 2026-10-12 on).
fn probe_extra(field: Field) -> Vec<KeyValue> {
    match field {
        Field::ServiceTier => vec![
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 1_000_000),
            i("gen_ai.usage.output_tokens", 0),
        ],
        _ => Vec::new(),
    }
}

/// Whether a probe of `field` names its user itself: an id, or (no id key on the span) a hash.
fn names_user(field: Field) -> bool {
    matches!(field, Field::UserId | Field::UserIdHash)
}

/// The end user of a probe: the probed id (or hash) itself when [`names_user`], else a user of
/// its own.
fn probe_user(field: Field, tag: u64) -> String {
    match field {
        Field::UserId => format!("user-{tag}"),
        Field::UserIdHash => format!("hash-{tag}"),
        _ => format!("probe-{tag}"),
    }
}

/// What the API shows for `user` when the probe of `field` with `tag` was resolved.
fn check(url: &str, field: Field, tag: u64, what: &str) {
    let user = probe_user(field, tag);
    let d = get_ok(url, &format!("/api/users/{user}"));
    assert_eq!(d["traces"], 1, "{what}: {d}");
    let got = match field {
        Field::UserId | Field::UserIdHash => d["user_id"].clone(),
        Field::UserIdType => d["user_id_type"].clone(),
        Field::UserEmail => d["user_email"].clone(),
        Field::UserMetadata => d["metadata"]["tag"].clone(),
        Field::SessionId => get_ok(url, &format!("/api/users/{user}/sessions"))["sessions"][0]["session_id"].clone(),
        Field::Provider => d["providers"][0]["name"].clone(),
        Field::Model => d["models"][0]["model"].clone(),
        Field::Tool => d["tools"][0]["name"].clone(),
        Field::Operation | Field::TotalTokens => d["llm_calls"].clone(),
        Field::InputTokens | Field::UsageDetails => d["input_tokens"].clone(),
        Field::OutputTokens => d["output_tokens"].clone(),
        // A span with only cache or reasoning tokens is an LLM call with usage and no model.
        Field::CacheReadTokens | Field::CacheWriteTokens | Field::ReasoningTokens => d["unpriced_llm_calls"].clone(),
        Field::ServiceTier => d["estimated_cost_usd"].clone(),
        Field::InputCost | Field::OutputCost | Field::TotalCost | Field::CostDetails => d["cost_usd"].clone(),
        Field::GuardrailTriggered | Field::SpanKind => d["guardrail_triggers"].clone(),
        Field::Tags => get_ok(url, &format!("/api/users/{user}/traces"))["traces"][0]["tags"].clone(),
        Field::Metadata => get_ok(url, &format!("/api/users/{user}/traces"))["traces"][0]["metadata"].clone(),
    };
    let want = match field {
        Field::UserId | Field::UserIdHash => json!(user),
        Field::UserIdType => json!("phone"),
        Field::UserEmail => json!(format!("m{tag}@x.io")),
        Field::UserMetadata => json!(tag),
        Field::SessionId => json!(format!("session-{tag}")),
        Field::Provider => json!(format!("provider-{tag}")),
        Field::Model => json!(format!("model-{tag}")),
        Field::Tool => json!(format!("tool-{tag}")),
        Field::Operation | Field::TotalTokens => json!(1),
        Field::InputTokens | Field::OutputTokens | Field::UsageDetails => json!(tag),
        Field::CacheReadTokens | Field::CacheWriteTokens | Field::ReasoningTokens => json!(1),
        Field::ServiceTier => json!(4.25),
        Field::InputCost | Field::OutputCost | Field::TotalCost | Field::CostDetails => json!(tag as f64 / 1000.0),
        Field::GuardrailTriggered | Field::SpanKind => json!(1),
        Field::Tags => json!([format!("tag-{tag}"), format!("tag-{tag}-b")]),
        Field::Metadata => json!({"k": tag}),
    };
    assert_eq!(got, want, "{what}: {d}");
}

/// One trace per resolved key, carrying only that key (and a user), is read back as that field.
#[test]
fn every_resolved_key_is_read_through_ingest() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let mut spans = Vec::new();
    let mut probes = Vec::new();
    for (field, keys) in RESOLVED_KEYS {
        for key in keys.iter() {
            let tag = 100 + probes.len() as u64;
            let mut attrs = vec![probe_attr(*field, key, tag)];
            attrs.extend(probe_extra(*field));
            if !names_user(*field) {
                attrs.push(s("user.id", &probe_user(*field, tag)));
            }
            let mut sp = span(tag, tag, now + tag, 10).attrs(attrs);
            sp.name = key.to_string();
            spans.push(sp);
            probes.push((*field, *key, tag));
        }
    }
    assert_eq!(probes.len(), EXPECTED.iter().map(|(_, k)| k.len()).sum::<usize>());
    send(&srv.url(), &request(spans));
    for (field, key, tag) in probes {
        check(&srv.url(), field, tag, key);
    }
}

/// A span carrying several keys of one field resolves to the first of the list present, whatever
/// their order on the span.
#[test]
fn the_first_alias_of_each_list_wins() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let mut spans = Vec::new();
    let mut cases = Vec::new();
    // Tags are a set: every key present adds its tags (the union: tests/tags_metadata.rs).
    for (field, keys) in RESOLVED_KEYS.iter().filter(|(f, k)| k.len() > 1 && *f != Field::Tags) {
        // Every suffix of the list, in list order and reversed (so neither "the first key on the
        // span wins" nor "the last one wins" passes): the suffix's first key wins.
        for first in 0..keys.len() {
            for reversed in [false, true] {
                let base = 1000 + 10 * cases.len() as u64;
                let winner = base + first as u64;
                let mut attrs: Vec<KeyValue> =
                    (first..keys.len()).map(|n| probe_attr(*field, keys[n], base + n as u64)).collect();
                if reversed {
                    attrs.reverse();
                }
                attrs.extend(probe_extra(*field));
                if !names_user(*field) {
                    attrs.push(s("user.id", &probe_user(*field, winner)));
                }
                spans.push(span(winner, winner, now + winner, 10).attrs(attrs));
                cases.push((*field, winner, keys[first]));
            }
        }
    }
    send(&srv.url(), &request(spans));
    for (field, winner, key) in &cases {
        check(&srv.url(), *field, *winner, key);
    }
    // The user-id losers were not made users.
    let users = get_ok(&srv.url(), "/api/users?limit=1000");
    let ids: Vec<&str> = users["users"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap()).collect();
    let user_id_cases = cases.iter().filter(|(f, _, _)| *f == Field::UserId).count();
    assert_eq!(ids.iter().filter(|id| id.starts_with("user-")).count(), user_id_cases, "{ids:?}");
}

/// One trace per metadata prefix, carrying `<prefix>plan` (and a user), is read back as metadata
/// `plan`; Langfuse's prefixes hold JSON text, the others the value as it is.
#[test]
fn every_metadata_prefix_is_read_through_ingest() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let mut spans = Vec::new();
    for (n, p) in conv::METADATA_KEY_PREFIXES.iter().enumerate() {
        let value =
            if conv::JSON_VALUED_METADATA_PREFIXES.contains(p) { format!("\"plan-{n}\"") } else { format!("plan-{n}") };
        let attrs = vec![s(&format!("{p}plan"), &value), s("user.id", &format!("prefix-{n}"))];
        spans.push(span(n as u64, 1, now + n as u64, 10).attrs(attrs));
    }
    send(&srv.url(), &request(spans));
    for (n, p) in conv::METADATA_KEY_PREFIXES.iter().enumerate() {
        let t = get_ok(&srv.url(), &format!("/api/users/prefix-{n}/traces"));
        assert_eq!(t["traces"][0]["metadata"], json!({"plan": format!("plan-{n}")}), "{p}");
    }
}

/// A resource's identity keys (any alias) are the fallback of each of its spans; a span's own
/// value wins, whatever its key's precedence.
#[test]
fn resource_keys_are_the_fallback_of_their_spans() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let resource = vec![
        s("service.name", "svc"),
        s("langfuse.user.id", "res-user"),
        s("traceloop.association.properties.session_id", "res-session"),
        s("user.email", "res@x.io"),
    ];
    let own = span(1, 1, now, 10).attrs(vec![
        s("traceloop.association.properties.user_id", "own-user"),
        s("gen_ai.conversation.id", "own-session"),
    ]);
    send(&srv.url(), &request_with_resource(vec![span(2, 2, now + 1, 10), own], resource));
    let res = get_ok(&srv.url(), "/api/users/res-user");
    assert_eq!((res["traces"].clone(), res["user_email"].clone()), (json!(1), json!("res@x.io")));
    let sessions = get_ok(&srv.url(), "/api/users/res-user/sessions");
    assert_eq!(sessions["sessions"][0]["session_id"], "res-session");
    let own = get_ok(&srv.url(), "/api/users/own-user");
    assert_eq!((own["traces"].clone(), own["user_email"].clone()), (json!(1), json!("res@x.io")));
    let sessions = get_ok(&srv.url(), "/api/users/own-user/sessions");
    assert_eq!(sessions["sessions"][0]["session_id"], "own-session");
}

/// The hash of the id (`user.id.hash` or OTel semconv `user.hash`) is the user only when no id
/// key is present, on the span or its resource: an id always wins over a hash.
#[test]
fn a_hash_is_the_user_only_without_an_id() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let spans = vec![
        span(1, 1, now, 10).attrs(vec![s("user.hash", "h-semconv")]),
        span(2, 2, now + 1, 10).attrs(vec![s("user.id.hash", "h-own"), s("user.hash", "h-loser")]),
        span(3, 3, now + 2, 10).attrs(vec![s("user.hash", "h-with-id"), s("enduser.id", "id-wins")]),
    ];
    send(&srv.url(), &request(spans));
    for user in ["h-semconv", "h-own", "id-wins"] {
        assert_eq!(get_ok(&srv.url(), &format!("/api/users/{user}"))["traces"], 1, "{user}");
    }
    // A resource's id beats a span's hash; a resource's hash is the fallback of a span with none.
    let resource = vec![s("service.name", "svc"), s("user.id", "res-id")];
    send(
        &srv.url(),
        &request_with_resource(vec![span(4, 4, now + 3, 10).attrs(vec![s("user.hash", "h-x")])], resource),
    );
    let resource = vec![s("service.name", "svc"), s("user.hash", "res-hash")];
    send(&srv.url(), &request_with_resource(vec![span(5, 5, now + 4, 10)], resource));
    for user in ["res-id", "res-hash"] {
        assert_eq!(get_ok(&srv.url(), &format!("/api/users/{user}"))["traces"], 1, "{user}");
    }
    let users = get_ok(&srv.url(), "/api/users?limit=100");
    let mut ids: Vec<&str> =
        users["users"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["h-own", "h-semconv", "id-wins", "res-hash", "res-id"]);
}

/// Keys the conventions do not name resolve to nothing through ingest either.
#[test]
fn keys_outside_the_conventions_resolve_to_nothing() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let decoys = |n: u64| -> Vec<KeyValue> {
        NOT_IN_CONVENTIONS
            .iter()
            .map(|k| match *k {
                k if k.contains("token") => i(k, 77),
                k if k.contains("cost") => f(k, 0.5),
                "guardrail" => b(k, true),
                "span.kind" => s(k, "GUARDRAIL"),
                k => s(k, &format!("decoy-{n}")),
            })
            .collect()
    };
    // No user at all: only decoys.
    send(&srv.url(), &request(vec![span(1, 1, now, 10).attrs(decoys(1))]));
    let ov = get_ok(&srv.url(), "/api/overview");
    assert_eq!((ov["traces"].clone(), ov["traces_with_user"].clone()), (json!(1), json!(0)), "{ov}");

    // A user, and decoys for every other field.
    send(&srv.url(), &request(vec![span(2, 2, now + 1, 10).attrs(decoys(2)).attrs(vec![s("user.id", "plain")])]));
    let d = get_ok(&srv.url(), "/api/users/plain");
    assert_eq!(d["traces"], 1);
    assert_eq!(d["user_id_type"], "custom");
    assert_eq!(d["user_email"], Value::Null);
    assert_eq!(d["metadata"], json!({}));
    assert_eq!(d["llm_calls"], 0);
    assert_eq!((d["input_tokens"].clone(), d["output_tokens"].clone()), (json!(0), json!(0)));
    assert_eq!(d["cost_usd"].as_f64(), Some(0.0));
    assert_eq!(d["guardrail_triggers"], 0);
    for list in ["models", "providers", "tools"] {
        assert_eq!(d[list], json!([]), "{list}: {d}");
    }
    let sessions = get_ok(&srv.url(), "/api/users/plain/sessions");
    assert_eq!(sessions["total"], 1);
    assert!(!sessions["sessions"][0]["session_id"].as_str().unwrap().starts_with("decoy"), "{sessions}");
    // Decoys under a metadata prefix are metadata (an unknown association property is the app's
    // own), never tags.
    let t = get_ok(&srv.url(), "/api/users/plain/traces");
    assert_eq!(t["traces"][0]["tags"], json!([]));
    assert_eq!(t["traces"][0]["metadata"], json!({"userId": "decoy-2", "user_id": "decoy-2"}), "{}", t["traces"][0]);
}
