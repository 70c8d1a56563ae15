//! Hostile input, generated (property-based, `proptest`): OTLP/HTTP bodies (mutated real requests
//! in protobuf and JSON, random bytes, deeply nested `AnyValue`s, huge repeated fields), gzip
//! streams (mutated, truncated, bombs inside and over the 64 MiB cap), and every API query
//! parameter and path id with arbitrary text. For each: the receiver answers (no panic, no dropped
//! connection), never with a 5xx, still answers `/healthz`, and the process's resident memory stays
//! under a bound.
//!
//! `PROPTEST_CASES` sets the cases per property (default 64 here, about a minute in a debug
//! build); a long session: `PROPTEST_CASES=100000 cargo test -p userspan-receiver --release --test
//! fuzz`.

mod common;
use common::*;
use flate2::{write::GzEncoder, Compression};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;
use prost::Message;
use std::io::Write;
use userspan_receiver::ingest::MAX_BODY_BYTES;

/// Cases per property: `PROPTEST_CASES`, else 64.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// The process's resident set (`VmRSS` of /proc/self/status), bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// How far resident memory may grow over the whole binary's run: a few requests at the 64 MiB cap
/// at once (the tests run in parallel), their decoded form, SQLite's page cache. Unbounded growth
/// (a leak per request, an allocation sized by a length the input claims) passes it quickly.
const RSS_GROWTH_BOUND: u64 = 1536 << 20;

static BASELINE_RSS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// A server per test, and the RSS of the process before the first one started.
fn fuzz_server() -> userspan_receiver::server::Running {
    BASELINE_RSS.get_or_init(rss_bytes);
    server()
}

fn assert_memory_bounded() {
    let (base, now) = (*BASELINE_RSS.get().expect("baseline taken"), rss_bytes());
    eprintln!("resident memory: {} MiB at the start, {} MiB now", base >> 20, now >> 20);
    assert!(now < base + RSS_GROWTH_BOUND, "resident memory grew from {} MiB to {} MiB", base >> 20, now >> 20);
}

/// One HTTP client for the whole run (a blocking client starts a runtime thread when built).
fn http() -> &'static reqwest::blocking::Client {
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(client)
}

/// POST `body` to /v1/traces; the status, which must not be a 5xx (a panic in the handler drops
/// the connection, which fails here too).
fn post(url: &str, ct: &str, body: Vec<u8>, gzip: bool) -> u16 {
    let mut r = http().post(format!("{url}/v1/traces")).header("content-type", ct).body(body);
    if gzip {
        r = r.header("content-encoding", "gzip");
    }
    let status = r.send().expect("the receiver answers").status().as_u16();
    assert!(status < 500, "POST /v1/traces ({ct}, gzip {gzip}) answered {status}");
    status
}

fn assert_healthy(url: &str) {
    let (status, body) = get(url, "/healthz");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "healthz after the cases");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

// ------------------------------------------------------------------------------------------------
// Strategies
// ------------------------------------------------------------------------------------------------

/// Keys the receiver resolves, and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("user.id".to_string()),
        Just("user.email".to_string()),
        Just("user.hash".to_string()),
        Just("user.metadata".to_string()),
        Just("session.id".to_string()),
        Just("gen_ai.request.model".to_string()),
        Just("gen_ai.usage.input_tokens".to_string()),
        Just("gen_ai.usage.total_cost".to_string()),
        Just("langfuse.observation.usage_details".to_string()),
        Just("openinference.span.kind".to_string()),
        ".{0,24}",
    ]
}

/// Any `AnyValue`, nested kvlists and arrays included (a few levels).
fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        ".{0,40}".prop_map(any_value::Value::StringValue),
        any::<i64>().prop_map(any_value::Value::IntValue),
        any::<f64>().prop_map(any_value::Value::DoubleValue),
        any::<bool>().prop_map(any_value::Value::BoolValue),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(any_value::Value::BytesValue),
        Just("{\"input\": 1e308, \"output\": -1, \"total\": \"x\"}".to_string())
            .prop_map(any_value::Value::StringValue),
    ]
    .prop_map(|v| AnyValue { value: Some(v) });
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|values| AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values })) }),
            proptest::collection::vec((".{0,8}", inner), 0..6).prop_map(|kvs| AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: kvs
                        .into_iter()
                        .map(|(key, v)| KeyValue { key, value: Some(v), ..Default::default() })
                        .collect(),
                })),
            }),
        ]
    })
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(
        (key(), proptest::option::weighted(0.9, any_value())).prop_map(|(key, value)| KeyValue {
            key,
            value,
            ..Default::default()
        }),
        0..8,
    )
}

/// A valid request: a few spans with arbitrary attributes, events and times.
fn request_strategy() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let span = (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), attrs(), attrs(), ".{0,16}").prop_map(
        |(t, s, start, end, a, ev, name)| {
            let mut sp = span(t, s, start, 0).attrs(a).event("gen_ai.evaluation.result", ev);
            sp.end_time_unix_nano = end;
            sp.name = name;
            sp
        },
    );
    (proptest::collection::vec(span, 1..5), attrs())
        .prop_map(|(spans, resource)| request_with_resource(spans, resource))
}

/// Byte edits: flip, insert, delete, at positions taken modulo the body's length.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(
        prop_oneof![
            (any::<usize>(), 1..=255u8).prop_map(|(p, x)| Edit::Flip(p, x)),
            (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Insert(p, b)),
            any::<usize>().prop_map(Edit::Delete),
            any::<usize>().prop_map(Edit::Truncate),
        ],
        1..8,
    )
}

fn apply(mut body: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = body.len().max(1);
        match *e {
            Edit::Flip(p, x) if !body.is_empty() => body[p % n] ^= x,
            Edit::Insert(p, b) => body.insert(p % (body.len() + 1), b),
            Edit::Delete(p) if !body.is_empty() => {
                body.remove(p % n);
            }
            Edit::Truncate(p) => body.truncate(p % n),
            _ => {}
        }
    }
    body
}

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

// ------------------------------------------------------------------------------------------------
// OTLP bodies
// ------------------------------------------------------------------------------------------------

#[test]
fn mutated_protobuf_and_json_requests() {
    let srv = fuzz_server();
    let url = srv.url();
    proptest!(config(), |(req in request_strategy(), e in edits(), gz in any::<bool>())| {
        // The request as generated is valid: accepted (its spans may still be rejected one by one).
        let proto = req.encode_to_vec();
        let json = serde_json::to_vec(&req).unwrap();
        let compress = |b: Vec<u8>| if gz { gzip(&b) } else { b };
        prop_assert_eq!(post(&url, PROTOBUF, compress(proto.clone()), gz), 200);
        prop_assert_eq!(post(&url, JSON, compress(json.clone()), gz), 200);
        post(&url, PROTOBUF, compress(apply(proto, &e)), gz);
        post(&url, JSON, compress(apply(json, &e)), gz);
    });
    assert_healthy(&url);
    assert_memory_bounded();
}

#[test]
fn random_bytes() {
    let srv = fuzz_server();
    let url = srv.url();
    let ct = prop_oneof![Just(PROTOBUF), Just(JSON), Just("application/json; charset=utf-8"), Just("text/plain")];
    proptest!(config(), |(body in proptest::collection::vec(any::<u8>(), 0..4096), ct in ct, gz in any::<bool>())| {
        post(&url, ct, body, gz);
    });
    // JSON-looking random text too.
    proptest!(config(), |(body in "\\{[\\[\\]{}\":,0-9a-zA-Z .eE+-]{0,512}")| {
        post(&url, JSON, body.into_bytes(), false);
    });
    assert_healthy(&url);
    assert_memory_bounded();
}

/// An attribute value nested `depth` levels deep (kvlists and arrays alternating).
fn nested(depth: usize) -> AnyValue {
    let mut v = AnyValue { value: Some(any_value::Value::StringValue("leaf".into())) };
    for d in 0..depth {
        v = if d % 2 == 0 {
            AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })) }
        } else {
            AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue { key: "k".into(), value: Some(v), ..Default::default() }],
                })),
            }
        };
    }
    v
}

/// An attribute value nested `depth` levels of arrays.
fn nested_array(depth: usize) -> AnyValue {
    let mut v = AnyValue { value: Some(any_value::Value::StringValue("leaf".into())) };
    for _ in 0..depth {
        v = AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })) };
    }
    v
}

/// Protobuf bytes of an `AnyValue` nested `depth` levels of arrays, written directly (prost's
/// encoder recurses): each level's lengths computed from the inside out, then the headers
/// written from the outside in.
fn nested_bytes(depth: usize, sp: &Span) -> Vec<u8> {
    fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        prost::encoding::encode_varint(payload.len() as u64, &mut out);
        out.extend_from_slice(payload);
        out
    }
    let leaf = field(0x0a, b"leaf"); // AnyValue.string_value
    let vlen = |n: usize| prost::encoding::encoded_len_varint(n as u64);
    // sizes[k]: the AnyValue k levels deep, encoded; arrays[k]: its ArrayValue payload.
    let (mut sizes, mut arrays) = (vec![leaf.len()], vec![0]);
    for k in 1..=depth {
        let array = 1 + vlen(sizes[k - 1]) + sizes[k - 1]; // ArrayValue.values = the inner value
        arrays.push(array);
        sizes.push(1 + vlen(array) + array); // AnyValue.array_value
    }
    let mut v = Vec::with_capacity(sizes[depth]);
    for k in (1..=depth).rev() {
        v.push(0x2a);
        prost::encoding::encode_varint(arrays[k] as u64, &mut v);
        v.push(0x0a);
        prost::encoding::encode_varint(sizes[k - 1] as u64, &mut v);
    }
    v.extend_from_slice(&leaf);
    let kv = [field(0x0a, b"deep"), field(0x12, &v)].concat(); // KeyValue.key, .value
    let mut span_bytes = sp.encode_to_vec();
    span_bytes.extend(field(0x4a, &kv)); // Span.attributes
    let scope = field(0x12, &span_bytes); // ScopeSpans.spans
    let rs = field(0x12, &scope); // ResourceSpans.scope_spans
    field(0x0a, &rs) // ExportTraceServiceRequest.resource_spans
}

#[test]
fn deeply_nested_values() {
    let srv = fuzz_server();
    let url = srv.url();
    proptest!(config(), |(depth in 0usize..120, gz in any::<bool>())| {
        let mut sp = span(depth as u64, 1, now_ns() - HOUR_NS, 1).attrs(user("deep"));
        sp.attributes.push(KeyValue { key: "user.metadata".into(), value: Some(nested(depth)), ..Default::default() });
        sp.attributes.push(KeyValue { key: "deep".into(), value: Some(nested(depth)), ..Default::default() });
        let req = request(vec![sp]);
        let b = |x: Vec<u8>| if gz { gzip(&x) } else { x };
        post(&url, PROTOBUF, b(req.encode_to_vec()), gz);
        post(&url, JSON, b(serde_json::to_vec(&req).unwrap()), gz);
    });
    // Far past any decoder's recursion limit: refused as bad data, not a stack overflow.
    // The protobuf builder agrees with prost where prost can encode.
    let sp = span(1, 1, now_ns() - HOUR_NS, 1);
    let deep = KeyValue { key: "deep".into(), value: Some(nested_array(50)), ..Default::default() };
    let prost_made = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![sp.clone().attrs(vec![deep])], ..Default::default() }],
            ..Default::default()
        }],
    };
    assert_eq!(nested_bytes(50, &sp), prost_made.encode_to_vec());
    for depth in [200, 5_000, 100_000] {
        assert_eq!(post(&url, PROTOBUF, nested_bytes(depth, &sp), false), 400, "protobuf depth {depth}");
        let json = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"attributes":[{{"key":"k","value":{}"x"{}}}]}}]}}]}}]}}"#,
            r#"{"arrayValue":{"values":["#.repeat(depth),
            "]}}".repeat(depth)
        );
        assert_eq!(post(&url, JSON, json.into_bytes(), false), 400, "JSON depth {depth}");
    }
    assert_healthy(&url);
    assert_memory_bounded();
}

#[test]
fn huge_repeated_fields() {
    let srv = fuzz_server();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    // Many attributes on one span, many spans, many events, one huge string: accepted or refused,
    // never a 5xx.
    let many_attrs =
        span(1, 1, now, 1).attrs(user("wide")).attrs((0..50_000).map(|n| s(&format!("k{n}"), "v")).collect());
    post(&url, PROTOBUF, request(vec![many_attrs]).encode_to_vec(), false);
    let many_spans: Vec<Span> = (0..20_000).map(|n| span(2 + n / 100, n, now + n, 1).attrs(user("many"))).collect();
    assert_eq!(post(&url, PROTOBUF, request(many_spans).encode_to_vec(), false), 200);
    let mut many_events = span(3, 1, now, 1).attrs(user("events"));
    for n in 0..20_000 {
        many_events = many_events.event("gen_ai.evaluation.result", vec![i("gen_ai.evaluation.score.value", n % 2)]);
    }
    post(&url, PROTOBUF, request(vec![many_events]).encode_to_vec(), false);
    let long = span(4, 1, now, 1).attrs(vec![s("user.id", &"u".repeat(1 << 20)), s("x", &"y".repeat(8 << 20))]);
    post(&url, PROTOBUF, request(vec![long]).encode_to_vec(), false);
    // Length prefixes that claim more than the body holds.
    for claim in [u64::from(u32::MAX), u64::MAX >> 1, MAX_BODY_BYTES as u64 * 4] {
        let mut b = vec![0x0a];
        prost::encoding::encode_varint(claim, &mut b);
        b.extend_from_slice(&[0x12, 0x00]);
        assert_eq!(post(&url, PROTOBUF, b, false), 400, "claimed length {claim}");
    }
    proptest!(config(), |(n in 0usize..2_000, m in 0usize..50)| {
        let spans = (0..m).map(|k| span(10 + k as u64, k as u64, now, 1).attrs(user("rep")).attrs(
            (0..n / (m + 1)).map(|j| s(&format!("a{j}"), "v")).collect())).collect();
        prop_assert_eq!(post(&url, PROTOBUF, request(spans).encode_to_vec(), false), 200);
    });
    assert_healthy(&url);
    assert_memory_bounded();
}

// ------------------------------------------------------------------------------------------------
// gzip streams
// ------------------------------------------------------------------------------------------------

#[test]
fn gzip_streams() {
    let srv = fuzz_server();
    let url = srv.url();
    proptest!(config(), |(req in request_strategy(), e in edits(), cut in any::<usize>(), json in any::<bool>())| {
        let ct = if json { JSON } else { PROTOBUF };
        let plain = if json { serde_json::to_vec(&req).unwrap() } else { req.encode_to_vec() };
        let gz = gzip(&plain);
        // The gzip stream itself mutated, truncated, or not gzip at all.
        post(&url, ct, apply(gz.clone(), &e), true);
        let cut = cut % gz.len();
        let status = post(&url, ct, gz[..cut].to_vec(), true);
        prop_assert!(cut == 0 || status == 400, "gzip cut at {} of {} answered {}", cut, gz.len(), status);
        post(&url, ct, plain, true);
        // Two members; gzip of gzip.
        post(&url, ct, [gz.clone(), gz.clone()].concat(), true);
        post(&url, ct, gzip(&gz), true);
    });
    // Bombs: zeros decompress to a lot from a little (gzip members of 1 MiB of zeros, one after
    // the other: ~1 KiB each). Inside the cap they are bad protobuf (field number 0: 400); over
    // it, 413 without decompressing the rest.
    let member = gzip(&vec![0u8; 1 << 20]);
    for (mib, want) in [(MAX_BODY_BYTES >> 20, 400), ((MAX_BODY_BYTES >> 20) + 1, 413), (1024, 413)] {
        let bomb = member.repeat(mib);
        assert_eq!(post(&url, PROTOBUF, bomb, true), want, "{mib} MiB of zeros");
        assert_memory_bounded();
    }
    assert_healthy(&url);
    assert_memory_bounded();
}

// ------------------------------------------------------------------------------------------------
// API query parameters and path ids
// ------------------------------------------------------------------------------------------------

/// Text a query value or path id may hold: anything, plus values near what parsers expect.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,64}",
        "[0-9-]{0,24}",
        Just("-1".to_string()),
        Just("9223372036854775807".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e400".to_string()),
        Just("NaN".to_string()),
        Just("2026-13-45T25:61:61Z".to_string()),
        Just("0000-01-01".to_string()),
        Just("9999-12-31T23:59:59.999999999+23:59".to_string()),
        Just("%".to_string()),
        Just("' OR 1=1 --".to_string()),
        Just("\u{0}".to_string()),
        Just("*".to_string()),
        Just("x".repeat(10_000)),
    ]
}

/// `s` percent-encoded (every byte outside the unreserved set), so it arrives as given.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Raw percent junk for a path segment: invalid escapes, encoded NUL, slashes, non-UTF-8 bytes.
fn pct_junk() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("%".to_string()),
            Just("%zz".to_string()),
            Just("%0".to_string()),
            Just("%00".to_string()),
            Just("%2F".to_string()),
            Just("%2e%2e".to_string()),
            Just("%ff%fe".to_string()),
            Just("%C0%AF".to_string()),
            Just("%E2%80%AE".to_string()),
            "[a-z0-9]{1,4}",
            any::<u8>().prop_map(|b| format!("%{b:02x}")),
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat())
}

/// (path, its parameters) of every read endpoint, with `{id}` for the user id.
const ENDPOINTS: &[(&str, &[&str])] = &[
    ("/api/overview", &["from", "to", "project"]),
    ("/api/users", &["from", "to", "q", "sort", "order", "limit", "offset", "project"]),
    ("/api/users/{id}", &["type", "project"]),
    ("/api/users/{id}/sessions", &["from", "to", "errors_only", "type", "limit", "offset", "project"]),
    ("/api/users/{id}/traces", &["session_id", "errors_only", "type", "limit", "offset", "project"]),
    ("/api/cohorts", &["key", "from", "to", "project"]),
    ("/api/stats", &["project"]),
];

fn get_status(url: &str, path_and_query: &str) -> u16 {
    let r = http().get(format!("{url}{path_and_query}")).send().expect("the receiver answers");
    let status = r.status().as_u16();
    assert!(status < 500, "GET {} answered {status}", &path_and_query[..path_and_query.len().min(300)]);
    status
}

#[test]
fn api_parameters_and_path_ids() {
    let srv = fuzz_server();
    let url = srv.url();
    // Some data, so that the queries have rows to sort, page and filter.
    let now = now_ns() - HOUR_NS;
    let spans = (0..30)
        .map(|n| {
            let mut sp = span(n / 3, n, now + n * 1000, 5).attrs(user(&format!("u{}", n % 7)));
            sp.attributes.push(s("session.id", &format!("s{}", n % 4)));
            sp.attributes.push(s("user.metadata", r#"{"plan":"pro","tier":1}"#));
            if n % 5 == 0 {
                sp = sp.error();
            }
            sp
        })
        .collect();
    send(&url, &request(spans));
    let endpoint = (0..ENDPOINTS.len()).prop_flat_map(|e| {
        let params = ENDPOINTS[e].1;
        (Just(e), proptest::collection::vec((proptest::sample::select(params), hostile_text()), 0..5))
    });
    let id = prop_oneof![hostile_text().prop_map(|s| pct(&s)), pct_junk(), Just("u1".to_string())];
    proptest!(config(), |((e, params) in endpoint, id in id, unknown in proptest::option::of(".{1,8}"))| {
        let path = ENDPOINTS[e].0.replace("{id}", &id);
        let mut query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", pct(v))).collect();
        if let Some(u) = unknown {
            query.push(format!("{}=1", pct(&u)));
        }
        get_status(&url, &format!("{path}?{}", query.join("&")));
        // The same values as raw query text (a `%` that escapes nothing, `&` and `=` inside).
        let raw: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", v.replace(['#', ' '], "+"))).collect();
        let raw_path = format!("{path}?{}", raw.join("&"));
        if reqwest::Url::parse(&format!("{url}{raw_path}")).is_ok() {
            get_status(&url, &raw_path);
        }
    });
    assert_healthy(&url);
    assert_memory_bounded();
}
