//! List prices at ingest (genai-prices), through OTLP/HTTP and the API: estimated costs computed
//! independently here from the providers' published per-million prices, reported costs winning,
//! cache and reasoning kinds, unpriced models visible in rows and breakdowns, `--prices`
//! overrides and their refusals, and bad input stored, unpriced and counted.

mod common;
use common::*;
use genai_prices::{Calculator, PriceRequest, Usage, UsageKey};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyVal;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};
use userspan_receiver::pricing::{parse_prices, Estimate, Pricer, TokenUsage, GENAI_PRICES_VERSION};
use userspan_receiver::server::{spawn, Running, ServerConfig};

/// 2025-06-01T00:00:00Z, unix ns: the price timestamp of the spans below.
const JUNE_2025_NS: u64 = 1_748_736_000 * 1_000_000_000;

/// Published list prices, USD per million tokens.
/// gpt-4o (OpenAI, https://openai.com/api/pricing/, "gpt-4o": input $2.50, cached input $1.25,
/// output $10.00; unchanged since the 2024-08-06 snapshot became `gpt-4o`).
const GPT_4O: (f64, f64, f64) = (2.50, 1.25, 10.00);
/// Claude 3.5 Sonnet (Anthropic, https://www.anthropic.com/pricing#api: input $3, prompt caching
/// write $3.75, read $0.30, output $15).
const CLAUDE_35_SONNET: (f64, f64, f64, f64) = (3.0, 3.75, 0.30, 15.0);
/// o3-mini (OpenAI pricing page: input $1.10, output $4.40; reasoning tokens are billed as output).
const O3_MINI: (f64, f64) = (1.10, 4.40);

fn micros(usd: f64) -> i64 {
    (usd * 1e6 + 0.5).floor() as i64
}

fn usd_of(v: &Value) -> i64 {
    micros(v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")))
}

fn llm(trace: u64, n: u64, who: &str, attrs: Vec<KeyValue>) -> opentelemetry_proto::tonic::trace::v1::Span {
    span(trace, n, JUNE_2025_NS + n * 1_000, 100).attrs(user(who)).attrs(attrs)
}

fn stats(url: &str) -> Value {
    get_ok(url, "/api/stats")["ingest"].clone()
}

fn with_prices(file: &std::path::Path) -> Result<Running, String> {
    spawn(ServerConfig { prices: Some(file.to_path_buf()), ..ServerConfig::ephemeral() })
}

/// gpt-4o usage with no cost gets the list price, equal to the published price computed here and
/// to what the bundled genai-prices data says at the span's start time.
#[test]
fn gpt_4o_usage_gets_the_published_list_price() {
    let (input, cached, output) = (1_200i64, 200i64, 300i64);
    let want_usd = ((input - cached) as f64 * GPT_4O.0 + cached as f64 * GPT_4O.1 + output as f64 * GPT_4O.2) / 1e6;
    assert_eq!(micros(want_usd), 5_750);
    // The bundled table agrees at that timestamp.
    let usage = Usage::from([
        (UsageKey::INPUT_TOKENS, input as f64),
        (UsageKey::CACHE_READ_TOKENS, cached as f64),
        (UsageKey::OUTPUT_TOKENS, output as f64),
    ]);
    let at = UNIX_EPOCH + Duration::from_nanos(JUNE_2025_NS);
    let calc = Calculator::bundled()
        .calculate(&PriceRequest::new("gpt-4o", &usage).with_provider_id("openai").with_timestamp(at))
        .unwrap();
    assert!((calc.total_price - want_usd).abs() < 1e-12, "genai-prices {GENAI_PRICES_VERSION}: {calc:?}");

    let srv = server();
    send(
        &srv.url(),
        &request(vec![
            span(1, 0, JUNE_2025_NS, 500).attrs(user("ann")),
            llm(
                1,
                1,
                "ann",
                vec![
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "gpt-4o"),
                    i("gen_ai.usage.input_tokens", input),
                    i("gen_ai.usage.cache_read.input_tokens", cached),
                    i("gen_ai.usage.output_tokens", output),
                ],
            )
            .parent(0),
        ]),
    );
    let rows = get_ok(&srv.url(), "/api/users?from=2025-05-01T00:00:00Z&to=2025-07-01T00:00:00Z");
    let row = &rows["users"][0];
    assert_eq!(usd_of(&row["cost_usd"]), 5_750, "{row}");
    assert_eq!(usd_of(&row["estimated_cost_usd"]), 5_750);
    assert_eq!(row["unpriced_llm_calls"], 0);
    assert_eq!(usd_of(&rows["rollups"]["estimated_cost_usd"]["sum"]), 5_750, "{}", rows["rollups"]);
    let d = get_ok(&srv.url(), "/api/users/ann");
    assert_eq!(usd_of(&d["cost_usd"]), 5_750);
    assert_eq!(d["models"][0]["model"], "gpt-4o");
    assert_eq!(usd_of(&d["models"][0]["estimated_cost_usd"]), 5_750);
    assert_eq!(d["models"][0]["unpriced"], false);
    assert_eq!(d["models"][0]["priced_as"], "openai/gpt-4o", "the genai-prices provider and model matched");
    let t = get_ok(&srv.url(), "/api/users/ann/traces");
    assert_eq!(usd_of(&t["traces"][0]["estimated_cost_usd"]), 5_750, "{t}");
    let st = get_ok(&srv.url(), "/api/stats");
    assert_eq!(st["ingest"]["estimated_cost_spans"], 1, "{st}");
    assert_eq!(st["prices"]["version"], GENAI_PRICES_VERSION);
}

/// A cost the span reports wins over the list price, whichever convention reports it.
#[test]
fn a_reported_cost_wins() {
    let srv = server();
    let usage = || {
        vec![s("gen_ai.system", "openai"), s("gen_ai.request.model", "gpt-4o"), i("gen_ai.usage.input_tokens", 1000)]
    };
    let cases: Vec<(&str, Vec<KeyValue>, i64)> = vec![
        ("latitude", vec![f("gen_ai.usage.total_cost", 0.5)], 500_000),
        ("openlit", vec![f("gen_ai.usage.cost", 0.25)], 250_000),
        ("oi-total", vec![f("llm.cost.total", 0.125)], 125_000),
        ("oi-parts", vec![f("llm.cost.prompt", 0.01), f("llm.cost.completion", 0.02)], 30_000),
        ("in-out", vec![f("gen_ai.usage.input_cost", 0.001), f("gen_ai.usage.output_cost", 0.002)], 3_000),
    ];
    let n = cases.len();
    let spans = cases
        .iter()
        .enumerate()
        .map(|(k, (who, cost, _))| {
            let mut a = usage();
            a.extend(cost.clone());
            llm(10 + k as u64, k as u64, who, a)
        })
        .collect();
    send(&srv.url(), &request(spans));
    for (who, _, want) in cases {
        let d = get_ok(&srv.url(), &format!("/api/users/{who}"));
        assert_eq!(usd_of(&d["cost_usd"]), want, "{who}: {d}");
        assert_eq!(usd_of(&d["estimated_cost_usd"]), 0, "{who}");
    }
    assert_eq!(stats(&srv.url())["reported_cost_spans"], n as i64);
}

/// Cache writes (Anthropic, OpenInference keys) and reasoning tokens (OpenInference and
/// OpenLLMetry keys) are priced by kind.
#[test]
fn cache_and_reasoning_kinds_are_priced() {
    let srv = server();
    let (plain, read, write, out) = (1_000i64, 1_000i64, 1_000i64, 500i64);
    let (ci, cw, cr, co) = CLAUDE_35_SONNET;
    let claude = micros((plain as f64 * ci + write as f64 * cw + read as f64 * cr + out as f64 * co) / 1e6);
    assert_eq!(claude, 14_550);
    let o3 = micros((1_000.0 * O3_MINI.0 + 2_000.0 * O3_MINI.1) / 1e6);
    send(
        &srv.url(),
        &request(vec![
            llm(
                20,
                1,
                "cache",
                vec![
                    s("openinference.span.kind", "LLM"),
                    s("llm.provider", "anthropic"),
                    s("llm.model_name", "claude-3-5-sonnet-20241022"),
                    i("llm.token_count.prompt", plain + read + write),
                    i("llm.token_count.prompt_details.cache_read", read),
                    i("llm.token_count.prompt_details.cache_write", write),
                    i("llm.token_count.completion", out),
                ],
            ),
            llm(
                21,
                2,
                "cache-openllmetry",
                vec![
                    s("gen_ai.system", "Anthropic"),
                    s("gen_ai.response.model", "claude-3-5-sonnet-20241022"),
                    i("gen_ai.usage.prompt_tokens", plain + read + write),
                    i("gen_ai.usage.cache_read_input_tokens", read),
                    i("gen_ai.usage.cache_creation_input_tokens", write),
                    i("gen_ai.usage.completion_tokens", out),
                ],
            ),
            llm(
                22,
                3,
                "reasoning",
                vec![
                    s("llm.system", "openai"),
                    s("llm.model_name", "o3-mini"),
                    i("llm.token_count.prompt", 1_000),
                    i("llm.token_count.completion", 2_000),
                    i("llm.token_count.completion_details.reasoning", 1_500),
                ],
            ),
            llm(
                23,
                4,
                "reasoning-openllmetry",
                vec![
                    s("gen_ai.system", "openai"),
                    s("gen_ai.request.model", "o3-mini"),
                    i("gen_ai.usage.prompt_tokens", 1_000),
                    i("gen_ai.usage.completion_tokens", 2_000),
                    i("gen_ai.usage.reasoning_tokens", 1_500),
                ],
            ),
        ]),
    );
    for (who, want) in
        [("cache", claude), ("cache-openllmetry", claude), ("reasoning", o3), ("reasoning-openllmetry", o3)]
    {
        let d = get_ok(&srv.url(), &format!("/api/users/{who}"));
        assert_eq!(usd_of(&d["estimated_cost_usd"]), want, "{who}: {d}");
    }
}

/// A model the table does not know is unpriced: $0 of cost, counted in the rows, the rollups,
/// the cohorts and the user's model breakdown.
#[test]
fn an_unknown_model_is_unpriced_and_visible() {
    let srv = server();
    let md = s("user.metadata", r#"{"plan":"pro"}"#);
    send(
        &srv.url(),
        &request(vec![
            llm(
                30,
                1,
                "zed",
                vec![
                    md.clone(),
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "acme-support-ft-v2"),
                    i("gen_ai.usage.input_tokens", 1000),
                    i("gen_ai.usage.output_tokens", 500),
                ],
            ),
            llm(
                31,
                2,
                "zed",
                vec![
                    md,
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "gpt-4o"),
                    i("gen_ai.usage.input_tokens", 1000),
                    i("gen_ai.usage.output_tokens", 0),
                ],
            ),
        ]),
    );
    let span_range = "from=2025-05-01T00:00:00Z&to=2025-07-01T00:00:00Z";
    let rows = get_ok(&srv.url(), &format!("/api/users?{span_range}"));
    let row = &rows["users"][0];
    assert_eq!(row["unpriced_llm_calls"], 1, "{row}");
    assert_eq!(row["llm_calls"], 2);
    assert_eq!(usd_of(&row["cost_usd"]), 2_500, "only gpt-4o is priced: 1000 × $2.50/M");
    assert_eq!(rows["rollups"]["unpriced_llm_calls"]["sum"], 1.0);
    let c = get_ok(&srv.url(), &format!("/api/cohorts?key=plan&{span_range}"));
    assert_eq!(c["cohorts"][0]["unpriced_llm_calls"], 1, "{c}");
    let d = get_ok(&srv.url(), "/api/users/zed");
    let models = d["models"].as_array().unwrap();
    let acme = models.iter().find(|m| m["model"] == "acme-support-ft-v2").unwrap();
    let gpt = models.iter().find(|m| m["model"] == "gpt-4o").unwrap();
    assert_eq!((acme["unpriced"].clone(), acme["unpriced_calls"].clone()), (true.into(), 1.into()), "{d}");
    assert_eq!((gpt["unpriced"].clone(), gpt["unpriced_calls"].clone()), (false.into(), 0.into()));
    assert_eq!((acme["priced_as"].clone(), gpt["priced_as"].clone()), (Value::Null, "openai/gpt-4o".into()));
    let t = get_ok(&srv.url(), "/api/users/zed/traces");
    let unpriced: i64 = t["traces"].as_array().unwrap().iter().map(|t| t["unpriced_llm_calls"].as_i64().unwrap()).sum();
    assert_eq!(unpriced, 1);
    assert_eq!(stats(&srv.url())["unpriced_spans"], 1);
}

/// `--prices` prices a model the table does not know, and wins over the table for one it does.
#[test]
fn a_prices_file_overrides_and_fixes_an_unpriced_model() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.toml");
    std::fs::write(
        &file,
        r#"
[[price]]
model = "acme-support-ft-v2"
input = 1.0
output = 2.0

[[price]]
model_prefix = "gpt-4o"
provider = "openai"
input = 0.5
output = 0.5
cache_read = 0.25
"#,
    )
    .unwrap();
    let srv = with_prices(&file).unwrap();
    send(
        &srv.url(),
        &request(vec![
            llm(
                40,
                1,
                "acme",
                vec![
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "acme-support-ft-v2"),
                    i("gen_ai.usage.input_tokens", 1000),
                    i("gen_ai.usage.output_tokens", 500),
                ],
            ),
            llm(
                41,
                2,
                "gpt",
                vec![
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "gpt-4o-2024-08-06"),
                    i("gen_ai.usage.input_tokens", 1000),
                    i("gen_ai.usage.cache_read.input_tokens", 400),
                    i("gen_ai.usage.output_tokens", 1000),
                ],
            ),
        ]),
    );
    let acme = get_ok(&srv.url(), "/api/users/acme");
    assert_eq!(usd_of(&acme["estimated_cost_usd"]), micros((1000.0 * 1.0 + 500.0 * 2.0) / 1e6), "{acme}");
    assert_eq!(acme["unpriced_llm_calls"], 0);
    assert_eq!(acme["models"][0]["priced_as"], "prices-file/acme-support-ft-v2");
    let gpt = get_ok(&srv.url(), "/api/users/gpt");
    assert_eq!(usd_of(&gpt["cost_usd"]), micros((600.0 * 0.5 + 400.0 * 0.25 + 1000.0 * 0.5) / 1e6), "{gpt}");
    assert_eq!(gpt["models"][0]["priced_as"], "openai/gpt-4o", "the override's provider and prefix");
    assert_eq!(get_ok(&srv.url(), "/api/stats")["prices"]["overrides"], 2);
}

/// Each bad price file is refused with the line and the field; the server does not start.
#[test]
fn bad_price_files_are_refused_with_line_and_field() {
    let toml_cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown usage kind",
            "[[price]]\nmodel = \"m\"\ninput = 1.0\noutput = 1.0\ncache_reads = 0.5\n",
            &["line 5", "cache_reads"],
        ),
        ("negative price", "[[price]]\nmodel = \"m\"\ninput = 1.0\noutput = -2.0\n", &["line 4", "output", "negative"]),
        (
            "duplicate match",
            "[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\n\n[[price]]\nmodel = \"m\"\ninput = 2\noutput = 2\n",
            &["line 6", "duplicate", "model"],
        ),
        ("bad syntax", "[[price]]\nmodel = \"m\"\ninput = = 1\n", &["line 3"]),
        ("missing price", "[[price]]\nmodel = \"m\"\ninput = 1\n", &["line 1", "output"]),
    ];
    for (what, text, want) in toml_cases {
        let err = parse_prices(text, false).expect_err(what);
        for w in *want {
            assert!(err.contains(w), "{what}: {w:?} not in {err:?}");
        }
    }
    let json_cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown usage kind",
            "{\"price\": [\n {\"model\": \"m\", \"input\": 1, \"output\": 1,\n  \"audio\": 3}\n]}",
            &["line 3", "audio"],
        ),
        ("negative price", "{\"price\": [\n {\"model\": \"m\",\n  \"input\": -1, \"output\": 1}]}", &["line 3", "input"]),
        (
            "duplicate match",
            "{\"price\": [\n {\"model\": \"m\", \"input\": 1, \"output\": 1},\n {\"model\": \"m\", \"input\": 1, \"output\": 1}\n]}",
            // serde_json names the position after the duplicate entry, and the entry's number.
            &["line 4", "price 2", "duplicate", "model"],
        ),
        ("bad syntax", "{\"price\": [\n {\"model\": \"m\",,}]}", &["line 2"]),
    ];
    for (what, text, want) in json_cases {
        let err = parse_prices(text, true).expect_err(what);
        for w in *want {
            assert!(err.contains(w), "JSON {what}: {w:?} not in {err:?}");
        }
    }
    // The server refuses to start, naming the file, the line and the field.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, toml_cases[1].1).unwrap();
    let err = with_prices(&file).err().expect("a bad prices file stops the server");
    assert!(err.contains("bad.toml") && err.contains("line 4") && err.contains("output"), "{err}");
    // And so does the command line, with exit status 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_userspan"))
        .args(["serve", "--db", ":memory:", "--listen", "127.0.0.1:0", "--grpc-listen", "off", "--prices"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 4") && stderr.contains("output"), "{stderr}");
}

fn raw(k: &str, v: AnyVal) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

/// Bad token counts, an absurd count, a 10 KB model name and an unknown provider are stored,
/// unpriced and counted; negative and NaN reported costs are ignored and counted.
#[test]
fn bad_input_is_stored_unpriced_and_counted() {
    let srv = server();
    let gpt = |extra: Vec<KeyValue>| {
        let mut a = vec![s("gen_ai.provider.name", "openai"), s("gen_ai.request.model", "gpt-4o")];
        a.extend(extra);
        a
    };
    let cases: Vec<(&str, Vec<KeyValue>)> = vec![
        ("negative", gpt(vec![i("gen_ai.usage.input_tokens", -5), i("gen_ai.usage.output_tokens", 10)])),
        ("text", gpt(vec![s("gen_ai.usage.input_tokens", "lots"), i("gen_ai.usage.output_tokens", 10)])),
        ("absurd", gpt(vec![i("gen_ai.usage.input_tokens", 2_000_000_000_000), i("gen_ai.usage.output_tokens", 1)])),
        (
            "long-model",
            vec![
                s("gen_ai.provider.name", "openai"),
                s("gen_ai.request.model", &"gpt-4o".repeat(1700)),
                i("gen_ai.usage.input_tokens", 10),
            ],
        ),
        (
            "unknown-provider",
            vec![
                s("gen_ai.provider.name", "acme-cloud"),
                s("gen_ai.request.model", "gpt-4o"),
                i("gen_ai.usage.input_tokens", 10),
            ],
        ),
    ];
    let n = cases.len() as i64;
    let mut spans: Vec<_> =
        cases.iter().enumerate().map(|(k, (who, a))| llm(50 + k as u64, k as u64, who, a.clone())).collect();
    // Reported costs that are negative or NaN: ignored (then priced from usage), counted.
    let usage = || gpt(vec![i("gen_ai.usage.input_tokens", 1000), i("gen_ai.usage.output_tokens", 0)]);
    let mut neg = usage();
    neg.push(f("gen_ai.usage.total_cost", -1.0));
    let mut nan = usage();
    nan.push(raw("gen_ai.usage.total_cost", AnyVal::DoubleValue(f64::NAN)));
    let mut nan_text = usage();
    nan_text.push(s("llm.cost.total", "NaN"));
    spans.push(llm(60, 10, "neg-cost", neg));
    spans.push(llm(61, 11, "nan-cost", nan));
    spans.push(llm(62, 12, "nan-text-cost", nan_text));
    send(&srv.url(), &request(spans));
    for (who, _) in &cases {
        let d = get_ok(&srv.url(), &format!("/api/users/{who}"));
        assert_eq!((d["traces"].clone(), d["unpriced_llm_calls"].clone()), (1.into(), 1.into()), "{who}: {d}");
        assert_eq!(usd_of(&d["cost_usd"]), 0, "{who}");
        let t = get_ok(&srv.url(), &format!("/api/users/{who}/traces"));
        assert_eq!(t["traces"][0]["spans"], 1, "{who}: stored");
    }
    for who in ["neg-cost", "nan-cost", "nan-text-cost"] {
        let d = get_ok(&srv.url(), &format!("/api/users/{who}"));
        // 1000 × $2.50/M, not -$1 and not $0.
        assert_eq!(usd_of(&d["estimated_cost_usd"]), 2_500, "{who}: {d}");
    }
    let st = stats(&srv.url());
    assert_eq!(st["invalid_token_counts"], 3, "{st}");
    assert_eq!(st["unpriced_spans"], n, "{st}");
    assert_eq!(st["invalid_reported_costs"], 3, "{st}");
    assert_eq!(st["spans"], n + 3);
}

/// The crate's price of one call, built here from its public API alone (no memo): the reference
/// the receiver's memoised pricer is compared with.
fn crate_price(
    provider: Option<&str>,
    model: &str,
    at_ns: i64,
    tier: Option<&str>,
    u: &TokenUsage,
) -> Option<Estimate> {
    let mut usage = Usage::from([(UsageKey::INPUT_TOKENS, u.input as f64), (UsageKey::OUTPUT_TOKENS, u.output as f64)]);
    for (k, v) in [
        (UsageKey::CACHE_READ_TOKENS, u.cache_read),
        (UsageKey::CACHE_WRITE_TOKENS, u.cache_write),
        (UsageKey::OUTPUT_REASONING_TOKENS, u.reasoning),
    ] {
        if v > 0 {
            usage.insert(k, v as f64);
        }
    }
    let mut req = PriceRequest::new(model, &usage).with_timestamp(UNIX_EPOCH + Duration::from_nanos(at_ns as u64));
    if let Some(p) = provider {
        req = req.with_provider_id(p);
    }
    if let Some(t) = tier {
        req = req.with_price_context("service_tier", t);
    }
    let c = Calculator::bundled().calculate(&req).ok()?;
    Some(Estimate { usd: c.total_price, provider: c.provider_id, model: c.model_id, overridden: false })
}

/// Every model of every provider in the bundled data (by its id, and by its id without the
/// provider for one model in three), priced by the receiver's pricer (which remembers the crate's
/// match of each pair and then prices against it) equals the crate's full lookup, to the bit:
/// at the first of every month from 2023 to 2026 (so on both sides of every dated price change in
/// the data) at varying times of day (time-of-day prices), in no tier and the `flex` and
/// `priority` service tiers (tier variants), with small, cached and reasoning, and 300k-token
/// usage (tiered prices by prompt size). Each pair is priced several times, so the later calls
/// are answered through the memo.
#[test]
fn memoised_prices_equal_the_crates_full_lookup_for_every_bundled_model() {
    let pricer = Pricer::bundled();
    let usages = [
        TokenUsage { input: 1_200, output: 300, ..TokenUsage::default() },
        TokenUsage { input: 9_000, output: 2_000, cache_read: 4_000, cache_write: 1_000, reasoning: 500 },
        TokenUsage { input: 300_000, output: 10, cache_read: 100_000, ..TokenUsage::default() },
    ];
    let tiers = [None, Some("flex"), Some("priority")];
    // 2023-01-01T00:00:00Z, then one month (30.44 days) apart, 48 times.
    let months: Vec<i64> = (0..48).map(|m| 1_672_531_200 + m * 2_629_746).collect();
    let (mut calls, mut priced, mut models) = (0usize, 0usize, 0usize);
    for p in Calculator::bundled().providers() {
        for (j, m) in p.models().enumerate() {
            models += 1;
            let provider = if j % 3 == 2 { None } else { Some(p.id()) };
            for (i, secs) in months.iter().enumerate() {
                // A different time of day each month (7919 s is prime to the day's 86 400 s).
                let at_ns = (secs + (i as i64 * 7_919 + j as i64 * 613) % 86_400) * 1_000_000_000;
                let tier = tiers[(i + j) % tiers.len()];
                let u = &usages[(i / 3 + j) % usages.len()];
                let memo = pricer.price(provider, m.id(), at_ns, tier, u);
                let direct = crate_price(provider, m.id(), at_ns, tier, u);
                assert_eq!(memo, direct, "{provider:?} {} at {at_ns} tier {tier:?} {u:?}", m.id());
                calls += 1;
                priced += usize::from(memo.is_some());
            }
        }
    }
    assert!(models > 1_000, "the bundled data has {models} models");
    // Not all: without a provider some ids match no provider's rules, and some models price no
    // tokens (images, audio seconds) or not for every usage kind.
    assert!(priced * 2 > calls, "{priced} of {calls} calls priced: models are found by their own ids");
}
