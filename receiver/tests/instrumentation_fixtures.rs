//! What each instrumentation sends, ingested through the real OTLP/HTTP path and read back from
//! the API: the user, session, model, provider, tokens per kind, LLM calls and tool name, with
//! the nesting rule (`docs/design.md`, "Metric definitions") keeping wrapper spans that repeat
//! their children's usage from being counted twice, whatever order and requests the spans come in.
//!
//! The span shapes here follow each package's own source; the recorded fixtures in
//! `tests/fixtures/instrumentations/` (when present) are checked by `recorded_fixtures`.

mod common;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Value};

/// The numbers of a user's detail that the resolution and the nesting rule decide.
fn numbers(url: &str, user: &str) -> Value {
    let d = get_ok(url, &format!("/api/users/{user}"));
    let names = |list: &str, key: &str| -> Vec<Value> {
        d[list].as_array().unwrap_or(&Vec::new()).iter().map(|x| x[key].clone()).collect()
    };
    let sessions = get_ok(url, &format!("/api/users/{user}/sessions"));
    json!({
        "traces": d["traces"],
        "spans": d["spans"],
        "llm_calls": d["llm_calls"],
        "input_tokens": d["input_tokens"],
        "output_tokens": d["output_tokens"],
        "models": names("models", "model"),
        "model_tokens": names("models", "total_tokens"),
        "providers": names("providers", "name"),
        "tools": names("tools", "name"),
        "session": sessions["sessions"][0]["session_id"],
    })
}

/// Vercel AI SDK `generateText` with one tool round-trip: the `ai.generateText` wrapper carries
/// the sum of its two provider calls' usage (`ai.generateText.doGenerate`, which also carry the
/// `gen_ai.*` keys with `gen_ai.system` = `openai.chat`), and an `ai.toolCall` span between them.
/// Spans in start order: wrapper, call 1, tool, call 2.
fn vercel_generate_text(trace: u64, user: &str, start: u64) -> Vec<Span> {
    let meta = |extra: Vec<_>| {
        let mut v = vec![
            s("ai.telemetry.metadata.userId", user),
            s("ai.telemetry.metadata.sessionId", &format!("{user}-chat")),
        ];
        v.extend(extra);
        v
    };
    let model = || vec![s("ai.model.id", "gpt-4o-mini"), s("ai.model.provider", "openai.chat")];
    let call = |n: u64, at: u64, input: i64, output: i64| {
        span(trace, n, at, 100).parent(1).attrs(model()).attrs(meta(vec![
            s("ai.operationId", "ai.generateText.doGenerate"),
            s("gen_ai.system", "openai.chat"),
            s("gen_ai.request.model", "gpt-4o-mini"),
            s("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
            s("ai.response.model", "gpt-4o-mini-2024-07-18"),
            i("ai.usage.promptTokens", input),
            i("ai.usage.completionTokens", output),
            i("gen_ai.usage.input_tokens", input),
            i("gen_ai.usage.output_tokens", output),
        ]))
    };
    vec![
        span(trace, 1, start, 400).attrs(model()).attrs(meta(vec![
            s("ai.operationId", "ai.generateText"),
            i("ai.usage.promptTokens", 30),
            i("ai.usage.completionTokens", 12),
        ])),
        call(2, start + 1_000, 10, 5),
        span(trace, 3, start + 200_000_000, 10)
            .parent(1)
            .attrs(meta(vec![s("ai.operationId", "ai.toolCall"), s("ai.toolCall.name", "weather")])),
        call(4, start + 250_000_000, 20, 7),
    ]
}

fn vercel_expected(user: &str) -> Value {
    json!({
        "traces": 1,
        "spans": 4,
        "llm_calls": 2,
        "input_tokens": 30,
        "output_tokens": 12,
        // The calls name the answering model; the wrapper, whose usage repeats theirs, none.
        "models": ["gpt-4o-mini-2024-07-18"],
        "model_tokens": [42],
        "providers": ["openai"],
        "tools": ["weather"],
        "session": format!("{user}-chat"),
    })
}

/// The same trace in one request (in order and reversed), and split over two requests (wrapper
/// first or last): the same numbers, with the wrapper's usage and LLM call not counted again.
#[test]
fn a_wrapper_and_its_calls_count_once_in_any_order_and_requests() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    // How the trace's spans are split into requests, in sending order.
    type Split = fn(Vec<Span>) -> Vec<Vec<Span>>;
    let cases: [(&str, Split); 5] = [
        ("in-order", |v| vec![v]),
        ("reversed", |mut v| {
            v.reverse();
            vec![v]
        }),
        ("wrapper-first", |mut v| {
            let rest = v.split_off(1);
            vec![v, rest]
        }),
        ("wrapper-last", |mut v| {
            let rest = v.split_off(1);
            vec![rest, v]
        }),
        ("one-by-one-reversed", |v| v.into_iter().rev().map(|s| vec![s]).collect()),
    ];
    for (n, (name, split)) in cases.iter().enumerate() {
        let spans = vercel_generate_text(100 + n as u64, name, now + n as u64 * 1_000_000_000);
        for part in split(spans) {
            send(&url, &request(part));
        }
        assert_eq!(numbers(&url, name), vercel_expected(name), "{name}");
    }
    // The overview and the users list agree with the details.
    let ov = get_ok(&url, "/api/overview");
    assert_eq!(ov["traces"], 5, "{ov}");
    let users = get_ok(&url, "/api/users?limit=100");
    for u in users["users"].as_array().unwrap() {
        assert_eq!(
            (u["llm_calls"].clone(), u["input_tokens"].clone(), u["spans"].clone()),
            (json!(2), json!(30), json!(4))
        );
    }
    assert_eq!(users["rollups"]["spans"]["sum"].as_f64(), Some(20.0), "{}", users["rollups"]);
    assert_eq!(users["rollups"]["llm_calls"]["sum"].as_f64(), Some(10.0));
}

/// A LangChain-style chain whose middle span arrives last: until it does, the chain's usage and
/// its grandchild's both count (nothing links them); once it arrives the trace is re-resolved
/// and only the model call counts, as if all had come together.
#[test]
fn a_late_middle_span_re_resolves_the_trace() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let who = |u: &str| vec![s("user.id", u), s("session.id", &format!("{u}-s"))];
    let trace = |t: u64, u: &str| {
        let chain = span(t, 1, now + t, 300).attrs(who(u)).attrs(vec![
            s("openinference.span.kind", "CHAIN"),
            i("llm.token_count.prompt", 11),
            i("llm.token_count.completion", 4),
            i("llm.token_count.total", 15),
        ]);
        let agent =
            span(t, 2, now + t + 1, 200).parent(1).attrs(who(u)).attrs(vec![s("openinference.span.kind", "AGENT")]);
        let llm = span(t, 3, now + t + 2, 100).parent(2).attrs(who(u)).attrs(vec![
            s("openinference.span.kind", "LLM"),
            s("llm.system", "openai"),
            s("llm.provider", "openai"),
            s("llm.model_name", "gpt-4o-2024-08-06"),
            i("llm.token_count.prompt", 11),
            i("llm.token_count.completion", 4),
            i("llm.token_count.total", 15),
        ]);
        (chain, agent, llm)
    };
    let (chain, agent, llm) = trace(1, "late");
    send(&url, &request(vec![chain, llm]));
    let before = get_ok(&url, "/api/users/late");
    assert_eq!((before["llm_calls"].clone(), before["input_tokens"].clone()), (json!(2), json!(22)), "{before}");
    send(&url, &request(vec![agent]));
    let (c, a, l) = trace(2, "together");
    send(&url, &request(vec![c, a, l]));
    let late = numbers(&url, "late");
    assert_eq!(late["llm_calls"], 1, "{late}");
    assert_eq!((late["input_tokens"].clone(), late["output_tokens"].clone()), (json!(11), json!(4)));
    assert_eq!(late["providers"], json!(["openai"]));
    let mut together = numbers(&url, "together");
    together["session"] = late["session"].clone();
    assert_eq!(late, together);
}

/// One chat call as each Python instrumentation records it (keys from each package's source),
/// wrapped in a userspan capture span that names the user and session.
fn python_call(
    trace: u64,
    user: &str,
    start: u64,
    llm_attrs: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
) -> Vec<Span> {
    vec![
        span(trace, 1, start, 500).attrs(vec![s("user.id", user), s("session.id", &format!("{user}-s"))]),
        span(trace, 2, start + 1_000, 300).parent(1).attrs(llm_attrs),
    ]
}

/// OTel GenAI (current and older names, openai-v2), OpenInference, OpenLLMetry, Langfuse, LangSmith
/// and the OpenAI `user` field: each yields its model, provider, tokens and one LLM call.
#[test]
fn each_instrumentation_shape_resolves() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    struct Case {
        user: &'static str,
        spans: Vec<Span>,
        model: &'static str,
        provider: &'static str,
        tokens: (i64, i64),
        session: String,
    }
    let mut cases = Vec::new();
    let at = |n: u64| now + n * 1_000_000_000;
    // opentelemetry-instrumentation-openai-v2 (semconv 1.30-era: gen_ai.system).
    cases.push(Case {
        user: "openai-v2",
        spans: python_call(
            1,
            "openai-v2",
            at(1),
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.system", "openai"),
                s("gen_ai.request.model", "gpt-4o-mini"),
                s("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                i("gen_ai.usage.input_tokens", 21),
                i("gen_ai.usage.output_tokens", 9),
            ],
        ),
        model: "gpt-4o-mini-2024-07-18",
        provider: "openai",
        tokens: (21, 9),
        session: "openai-v2-s".into(),
    });
    // OpenInference (openinference-instrumentation-openai).
    cases.push(Case {
        user: "openinference",
        spans: python_call(
            2,
            "openinference",
            at(2),
            vec![
                s("openinference.span.kind", "LLM"),
                s("llm.system", "openai"),
                s("llm.provider", "openai"),
                s("llm.model_name", "gpt-4o-mini-2024-07-18"),
                i("llm.token_count.prompt", 22),
                i("llm.token_count.completion", 8),
                i("llm.token_count.total", 30),
            ],
        ),
        model: "gpt-4o-mini-2024-07-18",
        provider: "openai",
        tokens: (22, 8),
        session: "openinference-s".into(),
    });
    // OpenLLMetry (opentelemetry-instrumentation-openai): legacy gen_ai names, llm.request.type,
    // the total, the OpenAI `user` field as llm.user, association properties on the call.
    let mut openllmetry = python_call(
        3,
        "ignored",
        at(3),
        vec![
            s("llm.request.type", "chat"),
            s("gen_ai.system", "OpenAI"),
            s("gen_ai.request.model", "gpt-4o-mini"),
            s("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
            i("gen_ai.usage.prompt_tokens", 23),
            i("gen_ai.usage.completion_tokens", 7),
            i("llm.usage.total_tokens", 30),
            s("llm.user", "openllmetry"),
            s("traceloop.association.properties.session_id", "tl-session"),
        ],
    );
    openllmetry[0].attributes.clear();
    cases.push(Case {
        user: "openllmetry",
        spans: openllmetry,
        model: "gpt-4o-mini-2024-07-18",
        provider: "openai",
        tokens: (23, 7),
        session: "tl-session".into(),
    });
    // Langfuse SDK v3: trace attributes and usage details as JSON.
    cases.push(Case {
        user: "langfuse",
        spans: vec![span(4, 1, at(4), 300).attrs(vec![
            s("langfuse.user.id", "langfuse"),
            s("langfuse.session.id", "lf-session"),
            s("langfuse.observation.type", "generation"),
            s("langfuse.observation.model.name", "claude-3-5-haiku"),
            s("gen_ai.request.model", "claude-3-5-haiku-20241022"),
            s("gen_ai.system", "anthropic"),
            s("langfuse.observation.usage_details", r#"{"input":24,"output":6,"total":30}"#),
        ])],
        model: "claude-3-5-haiku-20241022",
        provider: "anthropic",
        tokens: (24, 6),
        session: "lf-session".into(),
    });
    // LangSmith's OpenTelemetry mapping.
    cases.push(Case {
        user: "langsmith",
        spans: vec![span(5, 1, at(5), 300).attrs(vec![
            s("langsmith.metadata.user_id", "langsmith"),
            s("langsmith.trace.session_id", "ls-session"),
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4.1"),
            i("gen_ai.usage.prompt_tokens", 25),
            i("gen_ai.usage.completion_tokens", 5),
        ])],
        model: "gpt-4.1",
        provider: "openai",
        tokens: (25, 5),
        session: "ls-session".into(),
    });
    for c in &cases {
        send(&url, &request(c.spans.clone()));
    }
    for c in &cases {
        let n = numbers(&url, c.user);
        let want = json!({
            "traces": 1,
            "spans": c.spans.len(),
            "llm_calls": 1,
            "input_tokens": c.tokens.0,
            "output_tokens": c.tokens.1,
            "models": [c.model],
            "model_tokens": [c.tokens.0 + c.tokens.1],
            "providers": [c.provider],
            "tools": [],
            "session": c.session,
        });
        assert_eq!(n, want, "{}", c.user);
    }
    // A Langfuse reported cost (cost details) is the span's cost.
    send(
        &url,
        &request(vec![span(6, 1, at(6), 100).attrs(vec![
            s("langfuse.user.id", "lf-cost"),
            s("gen_ai.request.model", "my-finetune"),
            s("langfuse.observation.usage_details", r#"{"input":100,"output":50}"#),
            s("langfuse.observation.cost_details", r#"{"input":0.001,"output":0.002,"total":0.003}"#),
        ])]),
    );
    let d = get_ok(&url, "/api/users/lf-cost");
    assert!(approx(d["cost_usd"].as_f64().unwrap(), 0.003), "{d}");
    assert_eq!((d["input_tokens"].clone(), d["llm_calls"].clone()), (json!(100), json!(1)));
}

/// Tools and span kinds: an OpenInference TOOL span names its tool and is no LLM call; GUARDRAIL
/// counts a trigger; EVALUATOR and CHAIN spans without usage are no LLM call; an embedding span
/// and an OpenLLMetry `embedding` request are LLM calls without usage.
#[test]
fn tools_and_span_kinds() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let who = vec![s("user.id", "kinds")];
    send(
        &url,
        &request(vec![
            span(1, 1, now, 500).attrs(who.clone()).attrs(vec![s("openinference.span.kind", "CHAIN")]),
            span(1, 2, now + 1, 10)
                .parent(1)
                .attrs(vec![s("openinference.span.kind", "TOOL"), s("tool.name", "lookup")]),
            span(1, 3, now + 2, 10).parent(1).attrs(vec![s("openinference.span.kind", "GUARDRAIL")]),
            span(1, 4, now + 3, 10).parent(1).attrs(vec![s("openinference.span.kind", "EVALUATOR")]),
            span(1, 5, now + 4, 10)
                .parent(1)
                .attrs(vec![s("openinference.span.kind", "EMBEDDING"), s("llm.model_name", "text-embedding-3-small")]),
            span(1, 6, now + 5, 10).parent(1).attrs(vec![s("llm.request.type", "embedding")]),
            span(1, 7, now + 6, 10)
                .parent(1)
                .attrs(vec![s("gen_ai.operation.name", "execute_tool"), s("gen_ai.tool.name", "search")]),
            span(1, 8, now + 7, 10).parent(1).attrs(vec![s("llm.request.type", "rerank")]),
        ]),
    );
    let d = get_ok(&url, "/api/users/kinds");
    assert_eq!(d["llm_calls"], 2, "{d}");
    assert_eq!(d["guardrail_triggers"], 1);
    assert_eq!(d["spans"], 8);
    let mut tools: Vec<String> =
        d["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    tools.sort();
    assert_eq!(tools, ["lookup", "search"]);
}

/// Provider names: lower-cased; the Vercel AI SDK's `<provider>.<api>` keeps the provider (also
/// in `gen_ai.system` on its spans), while an OTel provider name keeps its dots.
#[test]
fn provider_names_are_normalized() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let one = |t: u64, user: &str, attrs| span(t, 1, now + t, 10).attrs(vec![s("user.id", user)]).attrs(attrs);
    send(
        &url,
        &request(vec![
            one(1, "p1", vec![s("ai.model.provider", "anthropic.messages")]),
            one(
                2,
                "p2",
                vec![s("gen_ai.system", "google.generative-ai"), s("ai.operationId", "ai.streamText.doStream")],
            ),
            one(3, "p3", vec![s("gen_ai.provider.name", "aws.bedrock")]),
            one(4, "p4", vec![s("gen_ai.system", "OpenAI")]),
            one(5, "p5", vec![s("llm.system", "MistralAI")]),
        ]),
    );
    for (user, want) in
        [("p1", "anthropic"), ("p2", "google"), ("p3", "aws.bedrock"), ("p4", "openai"), ("p5", "mistralai")]
    {
        let d = get_ok(&url, &format!("/api/users/{user}"));
        assert_eq!(d["providers"][0]["name"], want, "{user}: {d}");
    }
    // The streamed provider call is an LLM call; the others carry no usage nor an LLM operation.
    assert_eq!(get_ok(&url, "/api/users/p2")["llm_calls"], 1);
    assert_eq!(get_ok(&url, "/api/users/p1")["llm_calls"], 0);
}

/// What a recorded fixture must give: (file stem, LLM calls, providers, tools). Every recording
/// is one `chat-turn` capture of user `user-123` in session `session-abc`, each chat call answered
/// by the fake server with 1200 input and 300 output tokens from `gpt-4o-mini-2024-07-18`.
const RECORDED: &[(&str, i64, &[&str], &[&str])] = &[
    // Langfuse's own spans name no provider (only `langfuse.observation.model.name`).
    ("langfuse-openai", 1, &[], &[]),
    ("openinference-langchain", 1, &["openai"], &[]),
    ("openinference-langchain-tool", 2, &["openai"], &["get_order_status"]),
    ("openinference-openai", 1, &["openai"], &[]),
    ("openinference-openai-stream", 1, &["openai"], &[]),
    ("openllmetry-openai", 1, &["openai"], &[]),
    ("openllmetry-openai-stream", 1, &["openai"], &[]),
    ("otel-openai-v2", 1, &["openai"], &[]),
    ("otel-openai-v2-content", 1, &["openai"], &[]),
    ("otel-openai-v2-stream", 1, &["openai"], &[]),
    ("traceloop-sdk-openai", 1, &["openai"], &[]),
    // The `ai.generateText` / `ai.streamText` wrapper repeats its provider call's usage.
    ("vercel-ai-generate-text", 1, &["openai"], &[]),
    ("vercel-ai-generate-text-responses", 1, &["openai"], &[]),
    ("vercel-ai-stream-text", 1, &["openai"], &[]),
];

/// The tags and metadata a recorded fixture's trace must carry. The Python recordings run inside
/// userspan's `capture` with `tags=["support","beta"]` and `metadata={plan: "pro", region: "eu"}`
/// (its root span's `tag.tags` / `metadata`); OpenInference repeats them on its spans (its
/// LangChain spans add LangChain's `ls_*` and `lc_versions` keys); Langfuse sends them as
/// `langfuse.trace.tags` and `langfuse.trace.metadata.<key>` (JSON text); Traceloop's association
/// properties are only the user and session (identity, not metadata); the Vercel AI SDK
/// recordings (Node, no userspan capture) carry `experimental_telemetry.metadata.plan` and no tags.
fn recorded_labels(stem: &str) -> (Value, Value) {
    let userspan = (json!(["beta", "support"]), json!({"plan": "pro", "region": "eu"}));
    match stem {
        s if s.starts_with("vercel-ai-") => (json!([]), json!({"plan": "pro"})),
        s if s.starts_with("openinference-langchain") => (
            userspan.0,
            json!({
                "plan": "pro", "region": "eu", "ls_provider": "openai", "ls_model_name": "gpt-4o-mini",
                "ls_model_type": "chat", "ls_temperature": 0.2, "ls_max_tokens": 400,
                "ls_integration": "langchain_chat_model",
                "lc_versions": {"langchain-core": "1.8.3", "langchain-openai": "1.8.1"},
            }),
        ),
        _ => userspan,
    }
}

/// Spans in an OTLP JSON request.
fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
}

/// Every recorded fixture (`tests/fixtures/instrumentations/*.json`, OTLP JSON as each package
/// exported it for one chat turn against a fake OpenAI server) sent as is over OTLP/HTTP JSON:
/// the user, session, model, provider, tokens, LLM calls and tools of [`RECORDED`]. A recording
/// not listed there is checked for a resolved user with an LLM call, tokens and a model.
#[test]
fn recorded_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/instrumentations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        })
        .unwrap_or_default();
    files.sort();
    let srv = server();
    let url = srv.url();
    let mut seen = Vec::new();
    let mut costs: Vec<(String, f64)> = Vec::new();
    for (n, path) in files.iter().enumerate() {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let req: ExportTraceServiceRequest =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Each recording under a project of its own (the resource's `userspan.project`), so they
        // do not share the user; sent as OTLP JSON like the exporters send it.
        let project = format!("fx{n}");
        let mut req = req;
        for rs in &mut req.resource_spans {
            let res = rs.resource.get_or_insert_with(Default::default);
            res.attributes.push(s("userspan.project", &project));
        }
        let r = post_raw(&url, "application/json", serde_json::to_vec(&req).unwrap(), &[]);
        assert_eq!(r.status(), 200, "{stem}: {}", r.text().unwrap_or_default());
        let q = format!("?project={project}");
        let users = get_ok(&url, &format!("/api/users{q}&limit=100"));
        let rows = users["users"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{stem}: {users}");
        let id = rows[0]["user_id"].as_str().unwrap();
        let d = get_ok(&url, &format!("/api/users/{id}{q}"));
        let names = |list: &str, key: &str| -> Vec<String> {
            let mut v: Vec<String> =
                d[list].as_array().unwrap().iter().map(|x| x[key].as_str().unwrap().to_string()).collect();
            v.sort();
            v
        };
        let Some((_, calls, providers, tools)) = RECORDED.iter().find(|(name, ..)| *name == stem) else {
            assert!(d["llm_calls"].as_i64() >= Some(1), "{stem}: {d}");
            assert!(d["input_tokens"].as_i64() > Some(0) && d["output_tokens"].as_i64() > Some(0), "{stem}: {d}");
            assert!(!names("models", "model").is_empty(), "{stem}: {d}");
            eprintln!("{stem}: not in RECORDED, checked loosely");
            continue;
        };
        seen.push(stem.clone());
        costs.push((stem.clone(), d["cost_usd"].as_f64().unwrap_or(0.0) / *calls as f64));
        let sessions = get_ok(&url, &format!("/api/users/{id}/sessions{q}"));
        let traces = get_ok(&url, &format!("/api/users/{id}/traces{q}"));
        let (tags, metadata) = recorded_labels(&stem);
        assert_eq!(
            (traces["traces"][0]["tags"].clone(), traces["traces"][0]["metadata"].clone()),
            (tags, metadata),
            "{stem}: tags and metadata"
        );
        let got = json!({
            "user": id,
            "session": sessions["sessions"][0]["session_id"],
            "traces": d["traces"],
            "spans": d["spans"],
            "llm_calls": d["llm_calls"],
            "input_tokens": d["input_tokens"],
            "output_tokens": d["output_tokens"],
            "models": names("models", "model"),
            "providers": names("providers", "name"),
            "tools": names("tools", "name"),
        });
        let want = json!({
            "user": "user-123",
            "session": "session-abc",
            "traces": 1,
            "spans": span_count(&req),
            "llm_calls": calls,
            "input_tokens": 1200 * calls,
            "output_tokens": 300 * calls,
            "models": ["gpt-4o-mini-2024-07-18"],
            "providers": providers,
            "tools": tools,
        });
        assert_eq!(got, want, "{stem}");
    }
    eprintln!("recorded fixtures checked: {seen:?}");
    // The same call (1200 input tokens of which 200 cached, 300 output) is priced the same from
    // every package that reports the cached tokens; openai-v2 does not report them (so it pays
    // the full input price).
    let (v2, cached): (Vec<_>, Vec<_>) = costs.iter().partition(|(stem, _)| stem.starts_with("otel-openai-v2"));
    for group in [v2, cached] {
        let first = group.first().map(|(_, c)| *c).unwrap_or(1.0);
        assert!(first > 0.0, "{costs:?}");
        assert!(group.iter().all(|(_, c)| approx(*c, first)), "{costs:?}");
    }
}
