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
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;
use prost::Message;
use std::io::Write;
use userspan_receiver::api::budget::{self, Estimate};
use userspan_receiver::api::grpc::EXPORT_PATH;
use userspan_receiver::ingest::{decode_request, Encoding, MAX_BODY_BYTES};

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

// ------------------------------------------------------------------------------------------------
// Decode amplification: bodies small on the wire that decode to many tiny messages
// ------------------------------------------------------------------------------------------------

/// A length-delimited field `number` holding `payload`, protobuf-encoded.
fn ld(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// An `ExportTraceServiceRequest` with one span list `spans` (the `ScopeSpans.spans` entries,
/// encoded).
fn with_spans(spans: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, spans)) // resource_spans { scope_spans { spans... } }
}

/// The attack bodies of about `wire` bytes each, protobuf: (what, body).
fn amplifying_protobuf(wire: usize) -> Vec<(&'static str, Vec<u8>)> {
    let n = wire / 2;
    // One span whose entries of `field` are all empty messages (2 bytes each).
    let span_of = |field: u32| with_spans(&ld(2, &ld(field, &[]).repeat(n)));
    // One attribute whose value is an array of `n` empty `AnyValue`s.
    let array = ld(5, &ld(1, &[]).repeat(n)); // AnyValue.array_value { values... }
    let kv = [ld(1, b"k"), ld(2, &array)].concat();
    vec![
        ("empty spans", with_spans(&ld(2, &[]).repeat(n))),
        ("empty attributes", span_of(9)),
        ("empty events", span_of(11)),
        ("empty links", span_of(13)),
        ("empty array values", with_spans(&ld(2, &ld(9, &kv)))),
        ("empty resource spans", ld(1, &[]).repeat(n)),
    ]
}

/// The attack bodies of about `wire` bytes each, OTLP/JSON: (what, body).
fn amplifying_json(wire: usize) -> Vec<(&'static str, Vec<u8>)> {
    let n = wire / 3;
    let many = |item: &str| vec![item; n].join(",");
    let spans = |inner: &str| format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{inner}]}}]}}]}}"#);
    vec![
        ("empty spans", spans(&many("{}")).into_bytes()),
        ("empty events", spans(&format!(r#"{{"events":[{}]}}"#, many("{}"))).into_bytes()),
        (
            "empty array values",
            spans(&format!(
                r#"{{"attributes":[{{"key":"k","value":{{"arrayValue":{{"values":[{}]}}}}}}]}}"#,
                many("{}")
            ))
            .into_bytes(),
        ),
        ("empty resource spans", format!(r#"{{"resourceSpans":[{}]}}"#, many("{}")).into_bytes()),
    ]
}

/// `userspan serve` in a child process (its memory measured apart from the test's), in memory,
/// HTTP and gRPC on free ports; killed when dropped.
struct ChildServer {
    child: std::process::Child,
    http: String,
    grpc: String,
}

impl ChildServer {
    fn start() -> ChildServer {
        use std::io::{BufRead, BufReader};
        let bin = std::env::var("USERSPAN_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_userspan").to_string());
        let mut child = std::process::Command::new(bin)
            .args(["serve", "--db", ":memory:", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("userspan serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
        let http = lines.next().expect("a banner").rsplit(' ').next().unwrap().to_string();
        let grpc = lines
            .find_map(|l| l.strip_prefix("  OTLP/gRPC traces: ").map(|r| r.split(' ').next().unwrap().to_string()))
            .expect("a gRPC line");
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ChildServer { child, http, grpc }
    }

    /// A `kB` line of the child's /proc status (`VmHWM`: peak resident set; `VmRSS`), bytes.
    fn status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `google.rpc.Status` message of an OTLP/HTTP error body (protobuf or JSON, as `ct`).
fn status_message(ct: &str, body: &[u8]) -> String {
    if ct == PROTOBUF {
        return userspan_receiver::api::otlp::RpcStatus::decode(body).map(|s| s.message).unwrap_or_default();
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One attack on a fresh child server: the answer (HTTP status or gRPC code, message) and the
/// growth of the server's peak resident memory (`VmHWM`) over its idle peak, bytes.
fn attack(transport: &str, ct: &str, body: &[u8], gz: bool) -> (String, String, u64) {
    let srv = ChildServer::start();
    let start = srv.status_bytes("VmHWM");
    let sent = if gz { gzip(body) } else { body.to_vec() };
    let (answer, msg) = if transport == "HTTP" {
        let mut r = http().post(format!("{}/v1/traces", srv.http)).header("content-type", ct).body(sent);
        if gz {
            r = r.header("content-encoding", "gzip");
        }
        let r = r.send().expect("the receiver answers");
        (r.status().as_u16().to_string(), status_message(ct, &r.bytes().unwrap_or_default()))
    } else {
        match GrpcClient::new(&srv.grpc).export(body.to_vec(), gz) {
            Ok(_) => ("OK".to_string(), String::new()),
            Err(e) => (format!("{:?}", e.code()), e.message().to_string()),
        }
    };
    // Still serving, and back at its size once the attack is refused.
    let ok = request(vec![span(1, 1, now_ns() - HOUR_NS, 1).attrs(user("after-attack"))]);
    assert_eq!(post(&srv.http, PROTOBUF, ok.encode_to_vec(), false), 200, "serves after {transport} {answer}");
    (answer, msg, srv.status_bytes("VmHWM").saturating_sub(start))
}

/// Bodies of 8 MiB that would decode to 0.5 to 1 GB are refused before decoding, over both
/// transports, plain and gzip, with the limit named; the server's peak memory grows by little more
/// than the body, and it serves normal requests after. One that decodes to less than the budget
/// (128 MiB of empty `AnyValue`s) is accepted, its memory within the budget. `USERSPAN_BIN`
/// measures another build of `userspan` instead (the "before" figures of BENCHMARKS.md).
#[test]
fn amplifying_bodies_are_refused_before_decoding() {
    let wire = 8 << 20;
    let mut cases: Vec<(String, &str, &str, Vec<u8>, bool)> = Vec::new();
    let mut protobuf = amplifying_protobuf(wire);
    let (_, array_values) = protobuf.iter().find(|c| c.0 == "empty array values").unwrap().clone();
    protobuf.retain(|c| c.0 != "empty array values");
    // 20 MiB of them: 10 M values, 512 MiB once decoded (their `Vec` doubled to 16 M).
    protobuf.extend(amplifying_protobuf(20 << 20).into_iter().filter(|c| c.0 == "empty array values"));
    for (i, (what, body)) in protobuf.into_iter().enumerate() {
        cases.push((format!("protobuf {what}"), "HTTP", PROTOBUF, body.clone(), false));
        cases.push((format!("protobuf {what}"), "gRPC", PROTOBUF, body.clone(), false));
        if i == 1 {
            cases.push((format!("protobuf {what}"), "HTTP", PROTOBUF, body.clone(), true));
            cases.push((format!("protobuf {what}"), "gRPC", PROTOBUF, body, true));
        }
    }
    for (i, (what, body)) in amplifying_json(wire).into_iter().enumerate() {
        cases.push((format!("JSON {what}"), "HTTP", JSON, body.clone(), false));
        if i == 0 {
            cases.push((format!("JSON {what}"), "HTTP", JSON, body, true));
        }
    }
    let mut failures = Vec::new();
    for (what, transport, ct, body, gz) in cases {
        let (answer, msg, grew) = attack(transport, ct, &body, gz);
        eprintln!(
            "{transport} {what} ({} MiB, gzip {gz}): {answer}, peak RSS +{} MiB: {msg}",
            body.len() >> 20,
            grew >> 20
        );
        let refused = matches!(answer.as_str(), "413" | "ResourceExhausted");
        // The body (8 MiB), a gzip copy, hyper's and tonic's buffers: far below a decode.
        if !refused || !msg.contains("256 MiB") || !msg.contains("decode budget") || grew > 96 << 20 {
            failures.push(format!("{transport} {what} (gzip {gz}): {answer}, +{} MiB: {msg}", grew >> 20));
        }
    }
    // Under the budget: accepted, and the memory it took is within it.
    for transport in ["HTTP", "gRPC"] {
        let (answer, msg, grew) = attack(transport, PROTOBUF, &array_values, false);
        eprintln!("{transport} protobuf empty array values (8 MiB): {answer}, peak RSS +{} MiB", grew >> 20);
        if !matches!(answer.as_str(), "200" | "OK") || grew > budget::MAX_DECODED_BYTES + (64 << 20) {
            failures.push(format!("{transport} 8 MiB of empty array values: {answer}, +{} MiB: {msg}", grew >> 20));
        }
    }
    assert!(failures.is_empty(), "not refused within the memory bound:\n{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// The budget's estimate against the decoder's real allocations
// ------------------------------------------------------------------------------------------------

/// The global allocator, counting the heap of each thread (live bytes and the peak since
/// [`measure_heap`] started), in glibc malloc chunks like the budget's estimate.
struct CountingAlloc;

thread_local! {
    static LIVE: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
    static PEAK: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

fn chunk(len: usize) -> i64 {
    (((len + 8 + 15) & !15).max(32)) as i64
}

fn count(delta: i64) {
    let _ = LIVE.try_with(|l| {
        l.set(l.get() + delta);
        let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
    });
}

// SAFETY: every call is forwarded to the system allocator with the caller's arguments unchanged;
// the counting touches only const-initialised thread-locals (no allocation, no destructor).
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(chunk(layout.size()));
        // SAFETY: the caller's `layout`, as `GlobalAlloc::alloc` requires of it.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        count(-chunk(layout.size()));
        // SAFETY: `ptr` was allocated by `System` (through `alloc` / `realloc`) with `layout`.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count(chunk(new_size) - chunk(layout.size()));
        // SAFETY: `ptr` was allocated by `System` with `layout`; `new_size` is the caller's.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The peak heap `f` allocates on this thread above what was live when it started, bytes.
fn measure_heap<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, (PEAK.with(|p| p.get()) - base).max(0) as u64)
}

/// (estimate, peak heap of the real decode) of `body`; the decode must succeed when `valid`.
fn estimate_and_decode(body: &[u8], enc: Encoding) -> (Estimate, u64) {
    let est = budget::scan(body, enc, u64::MAX).expect("no limit");
    if enc == Encoding::Protobuf {
        // What lets a small protobuf pass unscanned.
        let bound = body.len() as u64 * budget::PROTOBUF_MAX_RATIO;
        assert!(est.bytes <= bound, "estimated {} for {} bytes of protobuf", est.bytes, body.len());
    }
    let (decoded, heap) = measure_heap(|| decode_request(body, enc));
    drop(decoded);
    (est, heap)
}

#[test]
fn the_budget_estimate_bounds_the_decoders_allocations() {
    // Generated requests: the estimate is never below what prost / serde allocate at their peak,
    // and not far above (a realistic request must not be refused): protobuf within 25 %, JSON
    // within 4 times (serde's copies of nested values are counted as if all lived at once).
    proptest!(config(), |(req in request_strategy())| {
        let (est, heap) = estimate_and_decode(&req.encode_to_vec(), Encoding::Protobuf);
        prop_assert!(est.bytes >= heap, "protobuf: estimated {} < allocated {}", est.bytes, heap);
        prop_assert!(est.bytes <= heap + heap / 4 + 1024, "protobuf: estimated {} for {} allocated", est.bytes, heap);
        let (est, heap) = estimate_and_decode(&serde_json::to_vec(&req).unwrap(), Encoding::Json);
        prop_assert!(est.bytes >= heap, "JSON: estimated {} < allocated {}", est.bytes, heap);
        prop_assert!(est.bytes <= 4 * heap + 4096, "JSON: estimated {} for {} allocated", est.bytes, heap);
    });
    // Any bytes, valid or not: never above the bound that lets small protobufs pass unscanned
    // (asserted in `estimate_and_decode` for the cases above and below).
    proptest!(config(), |(req in request_strategy(), e in edits(), noise in proptest::collection::vec(any::<u8>(), 0..512))| {
        for body in [apply(req.encode_to_vec(), &e), noise.clone()] {
            let est = budget::scan(&body, Encoding::Protobuf, u64::MAX).unwrap();
            prop_assert!(est.bytes <= body.len() as u64 * budget::PROTOBUF_MAX_RATIO);
        }
    });
    // The attack shapes, small: the same bound.
    for (what, body) in amplifying_protobuf(64 << 10) {
        let (est, heap) = estimate_and_decode(&body, Encoding::Protobuf);
        eprintln!("protobuf {what}: {} bytes, estimated {} allocated {heap}", body.len(), est.bytes);
        assert!(est.bytes >= heap && est.bytes <= 2 * heap + 4096, "protobuf {what}: {} vs {heap}", est.bytes);
    }
    for (what, body) in amplifying_json(64 << 10) {
        let (est, heap) = estimate_and_decode(&body, Encoding::Json);
        eprintln!("JSON {what}: {} bytes, estimated {} allocated {heap}", body.len(), est.bytes);
        assert!(est.bytes >= heap && est.bytes <= 2 * heap + 4096, "JSON {what}: {} vs {heap}", est.bytes);
    }
    // Escapes: serde_json unescapes into a scratch buffer kept for the whole parse (a span named
    // "\0" was once estimated 32 bytes short).
    for name in ["\0", "a\"b", &"\n".repeat(300)] {
        let mut sp = span(1, 1, now_ns(), 1).attrs(vec![s("k\t", name)]);
        sp.name = name.to_string();
        let body = serde_json::to_vec(&request(vec![sp])).unwrap();
        let (est, heap) = estimate_and_decode(&body, Encoding::Json);
        assert!(est.bytes >= heap, "JSON with escapes: {} vs {heap}", est.bytes);
    }
    // Nested AnyValues in JSON: serde copies each level's buffered object again.
    for depth in [1, 5, 20, 40] {
        let sp = span(1, 1, now_ns(), 1).attrs(vec![KeyValue {
            key: "deep".into(),
            value: Some(nested_array(depth)),
            ..Default::default()
        }]);
        let mut sp = sp;
        sp.attributes.push(s("big", &"\\\"".repeat(1000)));
        let body = serde_json::to_vec(&request(vec![sp])).unwrap();
        let (est, heap) = estimate_and_decode(&body, Encoding::Json);
        eprintln!("JSON depth {depth}: {} bytes, estimated {} allocated {heap}", body.len(), est.bytes);
        assert!(est.bytes >= heap, "JSON depth {depth}: {} vs {heap}", est.bytes);
    }
}

// ------------------------------------------------------------------------------------------------
// OTLP/gRPC
// ------------------------------------------------------------------------------------------------

/// tonic codec sending a message's bytes as given (valid or not) and decoding the response.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src).map(Some).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

/// A tonic client on one channel, sending message bytes to `TraceService/Export`.
struct GrpcClient {
    rt: tokio::runtime::Runtime,
    channel: tonic::transport::Channel,
}

impl GrpcClient {
    fn new(url: &str) -> GrpcClient {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let channel =
            rt.block_on(tonic::transport::Channel::from_shared(url.to_string()).unwrap().connect()).expect("connects");
        GrpcClient { rt, channel }
    }

    /// One call with `message` as the request's bytes, gzip-compressed when `gzip`.
    fn export(&self, message: Vec<u8>, gzip: bool) -> Result<ExportTraceServiceResponse, tonic::Status> {
        self.rt.block_on(async {
            let mut grpc = tonic::client::Grpc::new(self.channel.clone());
            if gzip {
                grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT_PATH);
            grpc.unary(tonic::Request::new(message), path, RawCodec).await.map(|r| r.into_inner())
        })
    }
}

/// Codes that would be a fault of the receiver (a panic, an unmapped error) rather than an
/// answer to the input.
fn assert_not_a_fault(what: &str, code: tonic::Code, msg: &str) {
    assert!(
        !matches!(code, tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss),
        "{what}: answered {code:?}: {msg}"
    );
}

/// A raw HTTP/2 call to `TraceService/Export` with `body` as the whole request body (length
/// prefixes and all, or anything else) and `grpc-encoding` when given: (grpc-status, message).
fn raw_grpc(
    rt: &tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> (i32, String) {
    use tonic::codegen::http;
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (h2, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut h2 = h2.ready().await.unwrap();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}{EXPORT_PATH}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(e) = encoding {
            req = req.header("grpc-encoding", e);
        }
        let (resp, mut send) = h2.send_request(req.body(()).unwrap(), false).unwrap();
        send.send_data(body.into(), true).unwrap();
        let (head, mut recv) = resp.await.expect("an answer").into_parts();
        assert_eq!(head.status, 200, "gRPC answers over HTTP 200");
        while let Some(chunk) = recv.data().await {
            chunk.expect("the body");
        }
        let trailers = recv.trailers().await.ok().flatten().unwrap_or_default();
        let field = |k: &str| {
            head.headers.get(k).or_else(|| trailers.get(k)).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
        };
        (field("grpc-status").parse().expect("a grpc-status"), field("grpc-message"))
    })
}

/// The gRPC length-prefixed frame of `message`.
fn grpc_frame(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::from(compressed)];
    v.extend_from_slice(&(message.len() as u32).to_be_bytes());
    v.extend_from_slice(message);
    v
}

#[test]
fn grpc_mutated_requests_and_random_frames() {
    let srv = fuzz_server();
    let url = srv.grpc_url().expect("gRPC");
    let addr = srv.grpc_addr.expect("gRPC");
    let client = GrpcClient::new(&url);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // Real requests, as generated (accepted), then mutated: sent by tonic, plain or gzip.
    proptest!(config(), |(req in request_strategy(), e in edits(), gz in any::<bool>())| {
        let proto = req.encode_to_vec();
        prop_assert!(client.export(proto.clone(), gz).is_ok(), "a valid request");
        if let Err(s) = client.export(apply(proto, &e), gz) {
            assert_not_a_fault("mutated request", s.code(), s.message());
        }
    });
    // Raw HTTP/2 bodies: a frame around mutated bytes (the length prefix right or not, the
    // compressed flag with and without `grpc-encoding: gzip`), and random bytes.
    let flag =
        prop_oneof![Just((false, None)), Just((true, Some("gzip"))), Just((true, None)), Just((false, Some("gzip")))];
    proptest!(config(), |(req in request_strategy(), e in edits(), (compressed, enc) in flag, framing in 0u8..4, noise in proptest::collection::vec(any::<u8>(), 0..64))| {
        let message = apply(req.encode_to_vec(), &e);
        let message = if compressed && framing != 3 { gzip(&message) } else { message };
        let body = match framing {
            0 => grpc_frame(compressed, &message),
            1 => [grpc_frame(compressed, &message), noise.clone()].concat(), // trailing bytes
            2 => apply(grpc_frame(compressed, &message), &e), // the prefix mutated too
            _ => noise.clone(),
        };
        let (code, msg) = raw_grpc(&rt, addr, body, enc);
        assert_not_a_fault("raw body", tonic::Code::from(code), &msg);
    });
    assert!(client
        .export(request(vec![span(1, 1, now_ns() - HOUR_NS, 1).attrs(user("after"))]).encode_to_vec(), false)
        .is_ok());
    assert_healthy(&srv.url());
    assert_memory_bounded();
}

#[test]
fn grpc_deep_nesting_and_gzip_bombs() {
    let srv = fuzz_server();
    let client = GrpcClient::new(&srv.grpc_url().expect("gRPC"));
    let sp = span(1, 1, now_ns() - HOUR_NS, 1);
    // Arrays 40 deep are 85 messages down: decoded. 60 deep is past prost's recursion limit of
    // 100: bad data, not a stack overflow.
    for depth in [40, 60, 5_000, 100_000] {
        let r = client.export(nested_bytes(depth, &sp), false);
        match depth {
            40 => assert!(r.is_ok(), "depth {depth}: {r:?}"),
            _ => {
                let e = r.expect_err("too deep");
                assert_eq!(e.code(), tonic::Code::InvalidArgument, "depth {depth}: {e:?}");
            }
        }
    }
    // A gzip stream of zeros (one member: tonic's gzip decoder reads the first member only):
    // inside the cap bad protobuf, over it RESOURCE_EXHAUSTED (tonic's cap after decompression,
    // mapped like the HTTP one), without inflating more than the cap.
    for (mib, want) in [(4, tonic::Code::InvalidArgument), ((MAX_BODY_BYTES >> 20) + 1, tonic::Code::ResourceExhausted)]
    {
        let bomb = gzip(&vec![0u8; mib << 20]);
        let (code, msg) = raw_grpc(&client.rt, srv.grpc_addr.unwrap(), grpc_frame(true, &bomb), Some("gzip"));
        assert_eq!(tonic::Code::from(code), want, "{mib} MiB of zeros: {msg}");
        assert_memory_bounded();
    }
    assert!(client.export(request(vec![sp.attrs(user("after"))]).encode_to_vec(), false).is_ok());
}

/// A realistic request: the recorded instrumentation fixtures (OTLP/JSON of OpenInference,
/// OpenLLMetry, OTel GenAI, Langfuse, Vercel AI spans, prompts and completions included), their
/// resource spans repeated to `copies` times.
fn realistic_request(copies: usize) -> ExportTraceServiceRequest {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/instrumentations");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    let mut all = ExportTraceServiceRequest::default();
    for p in &files {
        let req = decode_request(&std::fs::read(p).unwrap(), Encoding::Json).expect("a fixture decodes");
        all.resource_spans.extend(req.resource_spans);
    }
    let one = all.resource_spans.clone();
    for _ in 1..copies {
        all.resource_spans.extend(one.iter().cloned());
    }
    all
}

/// The cost of the budget on realistic requests: decoding alone against checking then decoding,
/// alternated in one run (figures in BENCHMARKS.md; no assertion on time). Run with
/// `cargo test --release -p userspan-receiver --test fuzz decode_budget_overhead -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: run it in a release build"]
fn decode_budget_overhead() {
    for (copies, enc) in [(8, Encoding::Protobuf), (64, Encoding::Protobuf), (8, Encoding::Json), (64, Encoding::Json)]
    {
        let req = realistic_request(copies);
        let spans: usize = req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        let body = match enc {
            Encoding::Protobuf => req.encode_to_vec(),
            Encoding::Json => serde_json::to_vec(&req).unwrap(),
        };
        let (est, heap) = estimate_and_decode(&body, enc);
        let rounds = if copies > 8 { 50 } else { 200 };
        let (mut plain, mut checked, mut scan) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = std::time::Instant::now();
            drop(std::hint::black_box(decode_request(&body, enc).unwrap()));
            plain.push(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            budget::check(&body, enc).unwrap();
            drop(std::hint::black_box(decode_request(&body, enc).unwrap()));
            checked.push(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            std::hint::black_box(budget::check(&body, enc).unwrap());
            scan.push(t.elapsed().as_secs_f64());
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2] * 1e3
        };
        let (p, c, s) = (median(&mut plain), median(&mut checked), median(&mut scan));
        eprintln!(
            "{enc:?}: {} KiB, {spans} spans, decoded {} KiB (estimate {} KiB); median of {rounds}: decode {p:.3} ms, \
             check + decode {c:.3} ms (+{:.1} %), check alone {s:.3} ms",
            body.len() >> 10,
            heap >> 10,
            est.bytes >> 10,
            (c / p - 1.0) * 100.0
        );
    }
}
