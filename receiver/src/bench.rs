//! `userspan bench`: a load generator over loopback. Starts a receiver on a SQLite file (WAL,
//! `synchronous=FULL`: every 200 is after an fsynced COMMIT), sends pre-encoded OTLP/protobuf
//! batches of 512 spans from several connections, reports sustained spans/s and the server
//! threads' CPU per span (Linux), then measures
//! `GET /api/users` latency on the loaded store.

use crate::server::{spawn, ServerConfig};
use crate::store::schema::DbPath;
use crate::store::DEFAULT_QUEUE_REQUESTS;
use crate::timefmt::{now_ns, NS_PER_DAY};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use userspan::conventions as conv;

/// Arguments of `userspan bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Spans to send.
    #[arg(long, default_value_t = 1_000_000)]
    pub spans: usize,
    /// Distinct end users.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Spans per request.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Spans per trace.
    #[arg(long, default_value_t = 4)]
    pub spans_per_trace: usize,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// `GET /api/users` requests to time.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Database file (deleted first).
    #[arg(long, default_value = "userspan-bench.db")]
    pub db: std::path::PathBuf,
    /// What the LLM spans carry: `reported` (GenAI usage and a `gen_ai.usage.total_cost`, so
    /// nothing is priced at ingest), `realistic` (what instrumentations send: OpenInference or
    /// OTel GenAI usage, cache and reasoning tokens, a model and provider, no cost, so every LLM
    /// span is priced at ingest from the genai-prices table; 1 trace in 20 uses a model the table
    /// does not know) or `realistic-costed` (the same spans with a reported cost as well, so
    /// nothing is priced: the A/B of pricing). A comma-separated list runs each in turn, on a
    /// fresh database and receiver, and ends with a table of them side by side.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Workload::Reported])]
    pub workload: Vec<Workload>,
    /// Only decode and map the requests (OTLP/protobuf decode, attribute resolution, pricing),
    /// in this thread, as a receiver's decode thread does, with no server or database; prints
    /// µs per span. For profiling: `valgrind --tool=callgrind --collect-atstart=no
    /// --toggle-collect='userspan_receiver::bench::decode_and_map' userspan bench --map-only ...`
    /// counts the instructions of that step alone.
    #[arg(long)]
    pub map_only: bool,
}

/// The span attributes of `userspan bench` (`--workload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// GenAI usage with the cost reported on the span.
    Reported,
    /// OpenInference / OTel GenAI usage without cost: priced at ingest.
    Realistic,
    /// The spans of `realistic` with their cost reported too (`llm.cost.total`,
    /// `gen_ai.usage.total_cost`): nothing priced.
    RealisticCosted,
}

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

fn sv(k: &str, v: String) -> KeyValue {
    kv(k, any_value::Value::StringValue(v))
}

/// Builds request `b` of the workload: traces of `spans_per_trace` spans (a root and chat
/// children with tokens and cost), spread over 29 days, users round-robin.
fn make_batch(args: &BenchArgs, workload: Workload, b: usize, now: i64) -> Vec<u8> {
    let first = b * args.batch;
    let last = (first + args.batch).min(args.spans);
    let spt = args.spans_per_trace.max(1);
    let span_ns = 29 * NS_PER_DAY / (args.spans.max(1) as i64);
    let spans = (first..last)
        .map(|n| {
            let trace = n / spt;
            let k = n % spt;
            let user = trace % args.users.max(1);
            let session = trace / 5;
            let start = now - 29 * NS_PER_DAY + (trace * spt) as i64 * span_ns + k as i64 * 1_000_000;
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&0x5553_4552_5350_414eu64.to_be_bytes());
            trace_id[8..].copy_from_slice(&(trace as u64 + 1).to_be_bytes());
            let mut attrs = vec![
                sv(conv::USER_ID, format!("user-{user:05}@bench.example")),
                sv(conv::USER_ID_TYPE, conv::USER_ID_TYPE_EMAIL.into()),
                sv(conv::SESSION_ID, format!("session-{session}")),
            ];
            if k > 0 && workload != Workload::Reported {
                realistic_llm_attrs(&mut attrs, trace, n, workload == Workload::RealisticCosted);
            } else if k > 0 {
                attrs.push(sv(conv::GEN_AI_OPERATION_NAME, conv::OPERATION_CHAT.into()));
                attrs.push(sv(
                    conv::GEN_AI_REQUEST_MODEL,
                    if trace.is_multiple_of(3) { "gpt-4o" } else { "gpt-4o-mini" }.into(),
                ));
                attrs.push(sv(conv::GEN_AI_PROVIDER_NAME, "openai".into()));
                attrs.push(kv(conv::GEN_AI_USAGE_INPUT_TOKENS, any_value::Value::IntValue(500 + (n % 700) as i64)));
                attrs.push(kv(conv::GEN_AI_USAGE_OUTPUT_TOKENS, any_value::Value::IntValue(50 + (n % 300) as i64)));
                attrs.push(kv(conv::GEN_AI_USAGE_TOTAL_COST, any_value::Value::DoubleValue(0.0001 * (n % 50) as f64)));
            }
            Span {
                trace_id: trace_id.to_vec(),
                span_id: (n as u64 + 1).to_be_bytes().to_vec(),
                parent_span_id: if k == 0 { vec![] } else { ((trace * spt) as u64 + 1).to_be_bytes().to_vec() },
                name: if k == 0 { "agent-turn".into() } else { conv::OPERATION_CHAT.into() },
                kind: if k == 0 { 2 } else { 3 },
                start_time_unix_nano: start as u64,
                end_time_unix_nano: (start + 300_000_000 - k as i64 * 1_000_000) as u64,
                attributes: attrs,
                status: (n % 97 == 0).then(|| Status { code: 2, message: "error".into() }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![sv(conv::SERVICE_NAME, "bench".into())], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The attributes of an LLM span as the instrumentations send them (no cost): OpenInference
/// (`llm.*`, as `openinference-instrumentation-openai` / `-anthropic`) on even traces, OTel GenAI
/// (`gen_ai.*`, as `opentelemetry-instrumentation-openai-v2`) on odd ones; with `costed`, a
/// reported cost too.
fn realistic_llm_attrs(attrs: &mut Vec<KeyValue>, trace: usize, n: usize, costed: bool) {
    let cost = any_value::Value::DoubleValue(0.0001 * (n % 50) as f64);
    let int = |k: &str, v: i64| kv(k, any_value::Value::IntValue(v));
    let (provider, model) = match trace % 20 {
        0 => ("openai", "acme-internal-llm-v1"),
        t if t % 3 == 0 => ("anthropic", "claude-3-5-sonnet-20241022"),
        t if t % 3 == 1 => ("openai", "gpt-4o-2024-08-06"),
        _ => ("openai", "gpt-4o-mini"),
    };
    let input = 500 + (n % 700) as i64;
    let output = 50 + (n % 300) as i64;
    let cached = if n.is_multiple_of(4) { input / 2 } else { 0 };
    if trace.is_multiple_of(2) {
        attrs.push(sv(conv::OPENINFERENCE_SPAN_KIND, "LLM".into()));
        attrs.push(sv(conv::LLM_SYSTEM, provider.into()));
        attrs.push(sv(conv::LLM_PROVIDER, provider.into()));
        attrs.push(sv(conv::LLM_MODEL_NAME, model.into()));
        attrs.push(int(conv::LLM_TOKEN_COUNT_PROMPT, input));
        attrs.push(int(conv::LLM_TOKEN_COUNT_COMPLETION, output));
        attrs.push(int("llm.token_count.total", input + output));
        if cached > 0 {
            attrs.push(int(conv::LLM_TOKEN_COUNT_PROMPT_CACHE_READ, cached));
        }
        if costed {
            attrs.push(kv(conv::LLM_COST_TOTAL, cost));
        }
    } else {
        attrs.push(sv(conv::GEN_AI_OPERATION_NAME, conv::OPERATION_CHAT.into()));
        attrs.push(sv(conv::GEN_AI_SYSTEM, provider.into()));
        attrs.push(sv(conv::GEN_AI_REQUEST_MODEL, model.into()));
        attrs.push(sv(conv::GEN_AI_RESPONSE_MODEL, model.into()));
        attrs.push(int(conv::GEN_AI_USAGE_INPUT_TOKENS, input));
        attrs.push(int(conv::GEN_AI_USAGE_OUTPUT_TOKENS, output));
        if cached > 0 {
            attrs.push(int(conv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cached));
        }
        if provider == "openai" {
            attrs.push(sv(conv::OPENAI_RESPONSE_SERVICE_TIER, "default".into()));
        }
        if costed {
            attrs.push(kv(conv::GEN_AI_USAGE_TOTAL_COST, cost));
        }
    }
}

/// CPU seconds (user + system) of each thread of this process by thread id, with the thread's
/// name (Linux `/proc`; empty elsewhere). Names are cut to 15 bytes by the kernel.
fn thread_cpu() -> std::collections::HashMap<String, (String, f64)> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return out };
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_string();
        // After the name: state, ppid, ... utime (14th field overall) and stime (15th).
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        out.insert(e.file_name().to_string_lossy().into_owned(), (name, (ticks(11) + ticks(12)) / 100.0));
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The figures of one workload's run.
struct Summary {
    workload: Workload,
    spans_per_s: f64,
    /// Server CPU per span, µs: writer, index updates, HTTP + decode, checkpoint.
    cpu_us: [f64; 4],
    /// `GET /api/users` p50 and p95, ms.
    users_ms: (f64, f64),
}

/// Runs the benchmark of each workload in turn and prints the figures (with more than one, a
/// table of them side by side at the end).
pub fn run(args: &BenchArgs) -> Result<(), String> {
    let mut all = Vec::new();
    for (i, w) in args.workload.iter().enumerate() {
        if i > 0 {
            println!();
        }
        if args.map_only {
            map_only(args, *w);
            continue;
        }
        all.push(run_one(args, *w)?);
    }
    if all.len() > 1 {
        println!(
            "\n| workload | spans/s | CPU per span: writer / index / HTTP+decode / checkpoint | /api/users p50 / p95 |"
        );
        println!("|---|---|---|---|");
        for s in &all {
            let [w, i, d, c] = s.cpu_us;
            println!(
                "| {:?} | {:.0} | {w:.1} / {i:.1} / {d:.1} / {c:.1} us | {:.1} / {:.1} ms |",
                s.workload, s.spans_per_s, s.users_ms.0, s.users_ms.1
            );
        }
    }
    Ok(())
}

/// `--map-only`: decodes and maps every request of `workload` with the bundled prices (warmed up
/// on the first request, so the table decode and the pricer's memo are not counted).
fn map_only(args: &BenchArgs, workload: Workload) {
    let now = now_ns();
    let bodies: Vec<Vec<u8>> =
        (0..args.spans.div_ceil(args.batch.max(1))).map(|b| make_batch(args, workload, b, now)).collect();
    let pricer = crate::pricing::Pricer::bundled();
    if let Some(first) = bodies.first() {
        decode_and_map(first, &pricer);
    }
    let t = Instant::now();
    let spans: usize = bodies.iter().map(|b| decode_and_map(b, &pricer)).sum();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "decode + map ({workload:?} workload): {spans} spans in {secs:.3}s, {:.2} us per span, one thread",
        secs * 1e6 / spans.max(1) as f64
    );
}

/// Decodes one OTLP/protobuf request and maps it to rows (what a decode thread does per
/// request, without the HTTP layer); the number of rows. Not inlined, so a profiler can count
/// this step alone.
#[inline(never)]
pub fn decode_and_map(body: &[u8], pricer: &crate::pricing::Pricer) -> usize {
    match ExportTraceServiceRequest::decode(body) {
        Ok(req) => std::hint::black_box(crate::ingest::map_request_with(req, None, pricer)).rows.len(),
        Err(_) => 0,
    }
}

fn run_one(args: &BenchArgs, workload: Workload) -> Result<Summary, String> {
    for ext in ["", "-wal", "-shm"] {
        let mut p = args.db.clone().into_os_string();
        p.push(ext);
        let _ = std::fs::remove_file(p);
    }
    let batches = args.spans.div_ceil(args.batch.max(1));
    let now = now_ns();
    print!("encoding {batches} requests of {} spans ... ", args.batch);
    let t0 = Instant::now();
    let bodies: Arc<Vec<axum::body::Bytes>> =
        Arc::new((0..batches).map(|b| axum::body::Bytes::from(make_batch(args, workload, b, now))).collect());
    let bytes: usize = bodies.iter().map(|b| b.len()).sum();
    println!("{:.1}s, {:.0} MiB", t0.elapsed().as_secs_f64(), bytes as f64 / 1048576.0);

    let running = spawn(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        db: DbPath::File(args.db.clone()),
        api_keys: Vec::new(),
        keys: Default::default(),
        queue_requests: DEFAULT_QUEUE_REQUESTS,
        // Load goes over OTLP/HTTP; no gRPC port to collide with a running `userspan serve`.
        grpc: crate::server::GrpcListen::Off,
        prices: None,
        tls: None,
        retention_days: None,
    })?;
    let url = running.url();
    println!(
        "ingest: {} spans ({:?} workload), {} users, {} connections -> {url}/v1/traces (SQLite {}, WAL, synchronous=FULL)",
        args.spans,
        workload,
        args.users,
        args.connections,
        args.db.display()
    );
    let next = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let cpu_before = thread_cpu();
    let start = Instant::now();
    let workers: Vec<_> = (0..args.connections.max(1))
        .map(|_| {
            let (bodies, next, retries, url) = (bodies.clone(), next.clone(), retries.clone(), url.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()
                    .map_err(|e| e.to_string())?;
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= bodies.len() {
                        return Ok(());
                    }
                    loop {
                        let r = client
                            .post(format!("{url}/v1/traces"))
                            .header("content-type", "application/x-protobuf")
                            .body(bodies[b].clone())
                            .send()
                            .map_err(|e| e.to_string())?;
                        match r.status().as_u16() {
                            200 => break,
                            503 => {
                                retries.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            s => return Err(format!("unexpected status {s}: {}", r.text().unwrap_or_default())),
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a sender panicked".to_string())??;
    }
    let secs = start.elapsed().as_secs_f64();
    let spans_per_s = args.spans as f64 / secs;
    println!(
        "  {:.1}s, {:.0} spans/s sustained ({} requests answered 503 and were retried)",
        secs,
        spans_per_s,
        retries.load(Ordering::Relaxed)
    );

    let cpu_after = thread_cpu();
    let per_span = |name: &str| -> f64 {
        let sum = |m: &std::collections::HashMap<String, (String, f64)>| {
            m.values().filter(|(n, _)| n == name).map(|(_, t)| t).fold(0.0, |a, b| a + b)
        };
        (sum(&cpu_after) - sum(&cpu_before)).max(0.0) * 1e6 / args.spans as f64
    };
    let cpu_us = ["userspan-writer", "userspan-index", "userspan-worker", "userspan-checkp"].map(per_span);
    if !cpu_after.is_empty() {
        println!(
            "  server CPU per span: writer {:.1} us, index updates {:.1} us, HTTP + decode (userspan-worker threads) {:.1} us, checkpoint {:.1} us",
            cpu_us[0], cpu_us[1], cpu_us[2], cpu_us[3],
        );
    }

    let client = reqwest::blocking::Client::new();
    let lat = |path: &str, n: usize| -> Result<Vec<f64>, String> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = client.get(format!("{url}{path}")).send().map_err(|e| e.to_string())?;
            if r.status() != 200 {
                return Err(format!("{path}: {}", r.status()));
            }
            let _ = r.bytes().map_err(|e| e.to_string())?;
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        Ok(v)
    };
    let total: serde_json::Value =
        client.get(format!("{url}/api/users?limit=1")).send().and_then(|r| r.json()).map_err(|e| e.to_string())?;
    println!("users list: {} users, {} traces in the last 30 days", total["total"], total["overview"]["traces"]);
    let mut users_ms = (0.0, 0.0);
    for (label, path) in [
        ("GET /api/users (default: 30 days, sort last_seen, limit 50)", "/api/users".to_string()),
        ("GET /api/users?sort=cost_usd&q=user-00", "/api/users?sort=cost_usd&q=user-00".to_string()),
        ("GET /api/overview", "/api/overview".to_string()),
        ("GET /api/users/{id}", "/api/users/user-00042@bench.example".to_string()),
    ] {
        let v = lat(&path, args.queries)?;
        if path == "/api/users" {
            users_ms = (percentile(&v, 0.5), percentile(&v, 0.95));
        }
        println!(
            "  {label}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} requests)",
            percentile(&v, 0.5),
            percentile(&v, 0.95),
            v.last().copied().unwrap_or(0.0),
            v.len()
        );
    }
    running.stop();
    Ok(Summary { workload, spans_per_s, cpu_us, users_ms })
}
