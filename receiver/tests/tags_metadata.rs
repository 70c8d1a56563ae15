//! Tags and free-form metadata (`docs/design.md`, "Tags and metadata"): each SDK's keys and value
//! shapes, ingested over OTLP/HTTP and read back from `GET /api/users/{id}/traces` and the user's
//! detail; the per-key precedence inside a span and across spans; the same result whatever order
//! and requests the spans come in, also after a restart; the caps, and bad shapes stored safely
//! and counted in `GET /api/stats`.

mod common;
use common::*;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Value};

/// A string-array attribute.
fn arr(k: &str, items: &[&str]) -> KeyValue {
    attr(k, V::ArrayValue(ArrayValue { values: items.iter().map(|x| str_any(x)).collect() }))
}

fn str_any(x: &str) -> AnyValue {
    AnyValue { value: Some(V::StringValue(x.into())) }
}

fn attr(k: &str, v: V) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

/// The `(tags, metadata)` of the user's only trace.
fn trace_labels(url: &str, user: &str) -> (Value, Value) {
    let t = get_ok(url, &format!("/api/users/{user}/traces"));
    assert_eq!(t["total"], 1, "{user}: {t}");
    (t["traces"][0]["tags"].clone(), t["traces"][0]["metadata"].clone())
}

/// One trace per SDK, with the keys and value shapes each sends.
#[test]
fn each_sdk_shape_resolves() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let cases: Vec<(&str, Vec<KeyValue>, Value, Value)> = vec![
        (
            // OpenInference (and userspan's own): `tag.tags` string array, `metadata` JSON text.
            "openinference",
            vec![
                s("user.id", "openinference"),
                arr("tag.tags", &["support", "beta"]),
                s("metadata", r#"{"plan":"pro","n":1,"nested":{"a":[1,2]}}"#),
            ],
            json!(["beta", "support"]),
            json!({"plan": "pro", "n": 1, "nested": {"a": [1, 2]}}),
        ),
        (
            // Latitude: JSON array text and JSON object text.
            "latitude",
            vec![
                s("user.id", "latitude"),
                s("latitude.tags", r#"["lat-1","lat-2"]"#),
                s("latitude.metadata", r#"{"team":"x","score":0.5}"#),
            ],
            json!(["lat-1", "lat-2"]),
            json!({"team": "x", "score": 0.5}),
        ),
        (
            // Langfuse v3+: tags array; per-key metadata as JSON text (a value that is not JSON
            // stays text); the whole-object forms of trace and observation metadata.
            "langfuse",
            vec![
                s("langfuse.user.id", "langfuse"),
                arr("langfuse.trace.tags", &["lf"]),
                s("langfuse.trace.metadata.plan", "\"pro\""),
                s("langfuse.trace.metadata.n", "3"),
                s("langfuse.observation.metadata.step", "retrieval"),
                s("langfuse.trace.metadata", r#"{"obj":true}"#),
                s("langfuse.observation.metadata", r#"{"obs":"o"}"#),
            ],
            json!(["lf"]),
            json!({"plan": "pro", "n": 3, "step": "retrieval", "obj": true, "obs": "o"}),
        ),
        (
            // OpenLLMetry / Traceloop association properties: all but the user and session ids.
            "traceloop",
            vec![
                s("traceloop.association.properties.user_id", "traceloop"),
                s("traceloop.association.properties.session_id", "tl-session"),
                s("traceloop.association.properties.tenant", "acme"),
            ],
            json!([]),
            json!({"tenant": "acme"}),
        ),
        (
            // Vercel AI SDK: `experimental_telemetry.metadata` (typed values kept), its `tags`.
            "vercel",
            vec![
                s("ai.telemetry.metadata.userId", "vercel"),
                s("ai.telemetry.metadata.sessionId", "v-session"),
                s("ai.telemetry.metadata.threadId", "v-thread"),
                s("ai.telemetry.metadata.plan", "pro"),
                i("ai.telemetry.metadata.count", 2),
                b("ai.telemetry.metadata.flag", true),
                arr("ai.telemetry.metadata.tags", &["v1"]),
            ],
            json!(["v1"]),
            json!({"plan": "pro", "count": 2, "flag": true}),
        ),
        (
            // LangSmith: comma-separated tags, per-key metadata but the user id.
            "langsmith",
            vec![
                s("langsmith.metadata.user_id", "langsmith"),
                s("langsmith.span.tags", "x, y,z,,"),
                s("langsmith.metadata.env", "prod"),
            ],
            json!(["x", "y", "z"]),
            json!({"env": "prod"}),
        ),
    ];
    let spans: Vec<Span> = cases
        .iter()
        .enumerate()
        .map(|(n, (_, a, ..))| span(n as u64, 1, now + n as u64, 10).attrs(a.clone()))
        .collect();
    send(&url, &request(spans));
    for (user, _, tags, metadata) in &cases {
        assert_eq!(trace_labels(&url, user), (tags.clone(), metadata.clone()), "{user}");
        let d = get_ok(&url, &format!("/api/users/{user}"));
        let want: Vec<Value> = tags.as_array().unwrap().iter().map(|t| json!({"name": t, "traces": 1})).collect();
        assert_eq!(d["tags"], json!(want), "{user}: {d}");
    }
    // Identity keys under a metadata prefix stay identity only.
    let sessions = get_ok(&url, "/api/users/traceloop/sessions");
    assert_eq!(sessions["sessions"][0]["session_id"], "tl-session");
    let stats = get_ok(&url, "/api/stats");
    for k in ["truncated_tags", "invalid_tags", "truncated_metadata", "invalid_metadata"] {
        assert_eq!(stats["ingest"][k], 0, "{k}: {stats}");
    }
}

/// Inside one span, a key from an earlier source wins: `metadata`, `latitude.metadata`, Langfuse's
/// objects, then the per-key prefixes in list order; whatever the attributes' order.
#[test]
fn the_first_source_of_a_key_wins_inside_a_span() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let attrs = vec![
        s("metadata", r#"{"k":"own"}"#),
        s("latitude.metadata", r#"{"k":"lat","l":"lat"}"#),
        s("langfuse.trace.metadata", r#"{"l":"lf-obj","m":"lf-obj"}"#),
        s("langfuse.trace.metadata.m", "\"lf-key\""),
        s("langfuse.trace.metadata.p", "\"lf-key\""),
        s("traceloop.association.properties.p", "tl"),
        s("traceloop.association.properties.q", "tl"),
        s("ai.telemetry.metadata.q", "ai"),
        s("ai.telemetry.metadata.r", "ai"),
        s("langsmith.metadata.r", "ls"),
        s("langsmith.metadata.z", "ls"),
    ];
    let want = json!({"k": "own", "l": "lat", "m": "lf-obj", "p": "lf-key", "q": "tl", "r": "ai", "z": "ls"});
    for (n, reversed) in [(0u64, false), (1, true)] {
        let mut a = attrs.clone();
        if reversed {
            a.reverse();
        }
        let user = format!("u{n}");
        a.push(s("user.id", &user));
        send(&url, &request(vec![span(n, 1, now + n, 10).attrs(a)]));
        assert_eq!(trace_labels(&url, &user).1, want, "reversed: {reversed}");
    }
}

/// A trace of a root and two children, each with tags and metadata: tags are the union; for each
/// key the root's value wins, then the earliest span's. The spans in one request, reversed, one
/// per request in every order, and after a restart: the same result.
#[test]
fn spans_merge_the_same_in_any_order_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = userspan_receiver::server::ServerConfig {
        db: userspan_receiver::store::schema::DbPath::File(dir.path().join("tags.db")),
        ..userspan_receiver::server::ServerConfig::ephemeral()
    };
    let srv = userspan_receiver::server::spawn(cfg.clone()).unwrap();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let trace = |t: u64, user: &str| -> Vec<Span> {
        vec![
            // The root starts last: it still wins `a`.
            span(t, 1, now + 30, 100).attrs(vec![
                s("user.id", user),
                arr("tag.tags", &["root"]),
                s("metadata", r#"{"a":"root","r":1}"#),
            ]),
            span(t, 2, now + 20, 10)
                .parent(1)
                .attrs(vec![arr("tag.tags", &["late", "shared"]), s("metadata", r#"{"a":"late","c":"late"}"#)]),
            span(t, 3, now + 10, 10).parent(1).attrs(vec![
                s("langsmith.span.tags", "early,shared"),
                s("latitude.metadata", r#"{"a":"early","c":"early","e":true}"#),
            ]),
        ]
    };
    let want = (json!(["early", "late", "root", "shared"]), json!({"a": "root", "r": 1, "c": "early", "e": true}));
    let orders: [&[usize]; 7] = [&[0, 1, 2], &[2, 1, 0], &[1, 0, 2], &[1, 2, 0], &[2, 0, 1], &[0, 2, 1], &[]];
    for (n, order) in orders.iter().enumerate() {
        let user = format!("order{n}");
        let spans = trace(n as u64, &user);
        if order.is_empty() {
            // All in one request.
            send(&url, &request(spans));
        } else {
            for &k in *order {
                send(&url, &request(vec![spans[k].clone()]));
            }
        }
        assert_eq!(trace_labels(&url, &user), want, "order {order:?}");
    }
    // A redelivered span changes nothing.
    send(&url, &request(vec![trace(0, "order0")[2].clone()]));
    assert_eq!(trace_labels(&url, "order0"), want);
    let before = get_ok(&url, "/api/users/order3");
    srv.stop();
    let srv = userspan_receiver::server::spawn(cfg).unwrap();
    for n in 0..orders.len() {
        assert_eq!(trace_labels(&srv.url(), &format!("order{n}")), want, "after restart, order {n}");
    }
    assert_eq!(get_ok(&srv.url(), "/api/users/order3"), before);
    // A span arriving after the restart folds into the stored merge.
    send(
        &srv.url(),
        &request(vec![span(3, 4, now, 10)
            .parent(1)
            .attrs(vec![arr("tag.tags", &["after"]), s("metadata", r#"{"c":"x","n":2}"#)])]),
    );
    let (tags, metadata) = trace_labels(&srv.url(), "order3");
    assert_eq!(tags, json!(["after", "early", "late", "root", "shared"]));
    // The new span is the earliest child: it wins `c`, the root still wins `a`.
    assert_eq!(metadata, json!({"a": "root", "r": 1, "c": "x", "e": true, "n": 2}));
    // Filtering a user's traces by tag.
    let t = get_ok(&srv.url(), "/api/users/order3/traces?tag=after");
    assert_eq!(t["total"], 1);
    let t = get_ok(&srv.url(), "/api/users/order3/traces?tag=nope");
    assert_eq!(t["total"], 0);
}

/// Over the caps: a span's tags are cut to 64 (the first in sorted order) and each to 256
/// characters; its metadata to 4 KiB (entries that do not fit dropped, `_truncated` added); both
/// counted per span. A trace whose spans bring more than 64 distinct tags keeps the first 64.
#[test]
fn caps_cut_and_count() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let many: Vec<String> = (0..100).map(|n| format!("t{n:03}")).collect();
    let long = "é".repeat(300);
    let mut tags: Vec<&str> = many.iter().map(String::as_str).collect();
    tags.push(&long);
    let big = "x".repeat(10 * 1024);
    let meta = json!({"a": 1, "big": big, "c": "kept"}).to_string();
    send(
        &url,
        &request(vec![
            span(1, 1, now, 10).attrs(vec![s("user.id", "capped"), arr("tag.tags", &tags), s("metadata", &meta)]),
            // Long tag alone: cut to 256 characters.
            span(2, 2, now + 1, 10).attrs(vec![s("user.id", "long"), arr("tag.tags", &[&long])]),
            // Two spans of one trace with 40 distinct tags each: the trace keeps 64.
            span(3, 3, now + 2, 10).attrs(vec![s("user.id", "union"), arr("tag.tags", &tags[..40])]),
            span(3, 4, now + 3, 10).parent(3).attrs(vec![arr("tag.tags", &tags[40..80])]),
        ]),
    );
    let (t, m) = trace_labels(&url, "capped");
    let t: Vec<String> = serde_json::from_value(t).unwrap();
    assert_eq!(t, many[..64].to_vec());
    assert_eq!(m, json!({"a": 1, "c": "kept", "_truncated": true}));
    let (t, _) = trace_labels(&url, "long");
    assert_eq!(t, json!(["é".repeat(256)]));
    let (t, _) = trace_labels(&url, "union");
    let t: Vec<String> = serde_json::from_value(t).unwrap();
    assert_eq!(t, many[..64].to_vec());
    let stats = get_ok(&url, "/api/stats");
    assert_eq!(stats["ingest"]["truncated_tags"], 2, "{stats}");
    assert_eq!(stats["ingest"]["truncated_metadata"], 1, "{stats}");
    assert_eq!(stats["ingest"]["invalid_tags"], 0, "{stats}");
    assert_eq!(stats["ingest"]["spans"], 4, "{stats}");
}

/// Bad shapes never fail a request: a tag that is not a string, metadata that is not an object,
/// unparsable JSON text; what is usable is kept, each such span counted once per kind.
#[test]
fn bad_shapes_are_stored_safely_and_counted() {
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let mixed = attr(
        "tag.tags",
        V::ArrayValue(ArrayValue { values: vec![str_any("ok"), AnyValue { value: Some(V::IntValue(7)) }] }),
    );
    let kvlist = attr("metadata", V::KvlistValue(KeyValueList { values: vec![s("from", "kvlist"), i("n", 1)] }));
    let cases: Vec<(Vec<KeyValue>, Value, Value)> = vec![
        (vec![i("tag.tags", 5)], json!([]), json!({})),
        (vec![mixed], json!(["ok"]), json!({})),
        (vec![s("latitude.tags", r#"[1,"lat"]"#)], json!(["lat"]), json!({})),
        (vec![s("latitude.tags", "[broken")], json!([]), json!({})),
        (vec![s("metadata", "not json")], json!([]), json!({})),
        (vec![s("metadata", "[1,2]"), s("latitude.metadata", r#"{"k":1}"#)], json!([]), json!({"k": 1})),
        (vec![b("latitude.metadata", true)], json!([]), json!({})),
        // A key-value list is an object (OTLP's own map type): accepted.
        (vec![kvlist], json!([]), json!({"from": "kvlist", "n": 1})),
        // An empty prefix key is no metadata.
        (vec![s("langsmith.metadata.", "x")], json!([]), json!({})),
    ];
    let spans: Vec<Span> = cases
        .iter()
        .enumerate()
        .map(|(n, (a, ..))| span(n as u64, 1, now + n as u64, 10).attrs(a.clone()).attrs(user(&format!("bad{n}"))))
        .collect();
    send(&url, &request(spans));
    for (n, (_, tags, metadata)) in cases.iter().enumerate() {
        assert_eq!(trace_labels(&url, &format!("bad{n}")), (tags.clone(), metadata.clone()), "case {n}");
    }
    let stats = get_ok(&url, "/api/stats");
    assert_eq!(stats["ingest"]["invalid_tags"], 4, "{stats}");
    assert_eq!(stats["ingest"]["invalid_metadata"], 3, "{stats}");
    assert_eq!(stats["ingest"]["spans"], cases.len(), "{stats}");
    // The API answers for all of them.
    let users = get_ok(&url, "/api/users?limit=100");
    assert_eq!(users["total"], cases.len());
}

/// A random label attribute: a tags or metadata key (whole object or one per key, from every
/// SDK's list) with a value of a random shape, sometimes unusable.
fn label_attr() -> impl proptest::strategy::Strategy<Value = KeyValue> {
    use proptest::prelude::*;
    use userspan::conventions as conv;
    let key = prop_oneof![
        proptest::sample::select(conv::TAGS_KEYS.to_vec()).prop_map(str::to_string),
        proptest::sample::select(conv::METADATA_OBJECT_KEYS.to_vec()).prop_map(str::to_string),
        (proptest::sample::select(conv::METADATA_KEY_PREFIXES.to_vec()), "[abc]").prop_map(|(p, k)| format!("{p}{k}")),
    ];
    let word = "[a-d]{1,2}";
    let value = prop_oneof![
        word.prop_map(V::StringValue),
        proptest::collection::vec(word, 0..4).prop_map(|ws| V::StringValue(format!("{ws:?}"))),
        proptest::collection::vec(word, 0..4).prop_map(|ws| V::StringValue(ws.join(","))),
        proptest::collection::btree_map("[abc]", 0i64..3, 0..3)
            .prop_map(|m| V::StringValue(serde_json::to_string(&m).unwrap())),
        proptest::collection::vec(word, 0..4)
            .prop_map(|ws| V::ArrayValue(ArrayValue { values: ws.iter().map(|w| str_any(w)).collect() })),
        (0i64..3).prop_map(V::IntValue),
        any::<bool>().prop_map(V::BoolValue),
    ];
    (key, value).prop_map(|(k, v)| attr(&k, v))
}

/// Random traces (a root and up to four descendants, random starts and label attributes): all
/// spans in one request, or one span per request in a random order, give the same tags and
/// metadata; no request fails.
#[test]
fn any_arrival_order_gives_the_same_labels() {
    use proptest::prelude::*;
    let srv = server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let span_s = (0u64..5, proptest::collection::vec(label_attr(), 0..4));
    let strategy = (proptest::collection::vec(span_s, 1..5), Just(()).prop_perturb(|_, mut rng| rng.next_u64()));
    let counter = std::cell::Cell::new(0u64);
    let labelled = std::cell::Cell::new(0u64);
    runner
        .run(&strategy, |(spans, seed)| {
            counter.set(counter.get() + 1);
            let n = counter.get();
            let build = |trace: u64, user: &str| -> Vec<Span> {
                spans
                    .iter()
                    .enumerate()
                    .map(|(k, (start, attrs))| {
                        let sp = span(trace, k as u64 + 1, now + start, 10).attrs(attrs.clone());
                        // Span 1 is the root, each later one a child of a random earlier one.
                        match k {
                            0 => sp.attrs(user_attrs(user)),
                            _ => sp.parent(seed.wrapping_mul(k as u64 + 7) % k as u64 + 1),
                        }
                    })
                    .collect()
            };
            let (one, many) = (format!("one{n}"), format!("many{n}"));
            // In one request in reverse span order (stored spans are read back in span id order).
            let mut all = build(2 * n, &one);
            all.reverse();
            send(&url, &request(all));
            let mut split = build(2 * n + 1, &many);
            // A seeded shuffle (Fisher–Yates).
            let mut x = seed | 1;
            for i in (1..split.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                split.swap(i, (x % (i as u64 + 1)) as usize);
            }
            for sp in split {
                send(&url, &request(vec![sp]));
            }
            let got = trace_labels(&url, &one);
            if got.0 != json!([]) && got.1 != json!({}) {
                labelled.set(labelled.get() + 1);
            }
            prop_assert_eq!(got, trace_labels(&url, &many));
            Ok(())
        })
        .unwrap();
    // The generator does produce traces with both (the comparison is not of empty sets).
    assert!(labelled.get() * 4 >= cases as u64, "{} of {cases} cases had tags and metadata", labelled.get());
}

fn user_attrs(id: &str) -> Vec<KeyValue> {
    vec![s("user.id", id)]
}
