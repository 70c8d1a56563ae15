//! `userspan demo`: a realistic multi-user LLM-app workload sent **through the Rust SDK over real
//! OTLP/HTTP** into a fresh receiver on loopback, then the overview and the users table.
//!
//! ~50 users (e-mail and UUID ids, plan/region metadata) active over the last 30 days in
//! multi-turn sessions: each turn is a trace with an input guardrail, chat spans (OpenAI,
//! Anthropic, Google models with tokens, cache reads and a model, and no cost, as instrumentations
//! send them, so the receiver prices them at list price; one self-hosted model the price table
//! does not know, which shows as unpriced), sometimes a tool call, sometimes a failure,
//! and often an evaluation event. Spans get their user attributes from the SDK's stamping
//! processor: the demo only opens a userspan scope around each session.

use crate::metrics::period::Period;
use crate::metrics::users::ListQuery;
use crate::server::{spawn, ServerConfig};
use crate::store::schema::DbPath;
use crate::store::DEFAULT_QUEUE_REQUESTS;
use crate::timefmt::{now_ns, NS_PER_DAY, NS_PER_MS};
use indicatif::{ProgressBar, ProgressStyle};
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use serde_json::{json, Map, Value as Json};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use userspan::conventions as conv;
use userspan::{Attributes, Config, Scope, UserIdType};

/// Arguments of `userspan demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Database file (deleted and created afresh).
    #[arg(long, default_value = "userspan-demo.db")]
    pub db: std::path::PathBuf,
    /// Address for the receiver; when taken, a free loopback port is used instead.
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub listen: SocketAddr,
    /// End users to simulate.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// Seed of the workload generator (same seed, same workload shape).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Keep the receiver running after the demo until Ctrl-C (the default when stdout is a
    /// terminal; give it when piping the output, e.g. in scripts and tests).
    #[arg(long, conflicts_with = "no_keep_serving")]
    pub keep_serving: bool,
    /// Stop the receiver once the demo's data is stored, also on a terminal.
    #[arg(long)]
    pub no_keep_serving: bool,
    /// No progress bar (for logs and tests).
    #[arg(long)]
    pub quiet: bool,
}

/// SplitMix64: a small deterministic generator for the workload shape.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "ada",
    "alan",
    "grace",
    "linus",
    "margaret",
    "ken",
    "barbara",
    "dennis",
    "frances",
    "john",
    "radia",
    "tim",
    "hedy",
    "edsger",
    "katherine",
    "guido",
    "sophie",
    "yukihiro",
    "anita",
    "bjarne",
    "lynn",
    "donald",
    "jean",
    "niklaus",
    "shafi",
];
const LAST: &[&str] = &[
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "hamilton",
    "thompson",
    "liskov",
    "ritchie",
    "allen",
    "backus",
    "perlman",
    "berners-lee",
    "lamarr",
    "dijkstra",
    "johnson",
    "van-rossum",
    "wilson",
    "matsumoto",
    "borg",
    "stroustrup",
    "conway",
    "knuth",
    "sammet",
    "wirth",
    "goldwasser",
];
const DOMAINS: &[&str] = &["acme.io", "globex.com", "initech.dev", "umbrella.org", "hooli.xyz"];
const PLANS: &[(&str, f64)] = &[("free", 0.5), ("pro", 0.35), ("enterprise", 0.15)];
const REGIONS: &[&str] = &["us-east", "eu-west", "ap-south"];

struct Model {
    provider: &'static str,
    name: &'static str,
}

/// Models the demo's users call; the last is a self-hosted fine-tune the price table does not
/// know (its calls are unpriced until `userspan serve --prices` names it).
const MODELS: &[Model] = &[
    Model { provider: "openai", name: "gpt-4o-mini" },
    Model { provider: "openai", name: "gpt-4o" },
    Model { provider: "anthropic", name: "claude-sonnet-4" },
    Model { provider: "gcp.gemini", name: "gemini-2.0-flash" },
    Model { provider: "openai", name: "acme-support-ft-v2" },
];
const TOOLS: &[&str] = &["search_kb", "get_order_status", "create_ticket", "refund_order"];
const ERRORS: &[&str] = &["rate_limit_exceeded", "timeout", "context_length_exceeded", "upstream_503"];

/// One simulated end user.
struct DemoUser {
    id: String,
    id_type: UserIdType,
    email: String,
    plan: &'static str,
    region: &'static str,
    /// Days ago the user started (their first session).
    start_days_ago: u64,
    sessions: u64,
    /// Preferred model index.
    model: usize,
}

fn make_users(rng: &mut Rng, n: usize) -> Vec<DemoUser> {
    (0..n)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i * 7 + i / FIRST.len()) % LAST.len()];
            let email = format!("{first}.{last}@{}", rng.pick(DOMAINS));
            let (id, id_type) = if rng.chance(0.6) {
                (email.clone(), UserIdType::Email)
            } else {
                let (a, b) = (rng.next(), rng.next());
                let id = format!(
                    "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                    a >> 32,
                    (a >> 16) & 0xffff,
                    a & 0xfff,
                    0x8000 | (b >> 48) & 0x3fff,
                    b & 0xffff_ffff_ffff
                );
                (id, UserIdType::Uuid)
            };
            let roll = (rng.below(1000) as f64) / 1000.0;
            let mut acc = 0.0;
            let plan = PLANS.iter().find(|(_, p)| {
                acc += p;
                roll < acc
            });
            let plan = plan.map(|(n, _)| *n).unwrap_or("free");
            // A power-law-ish spread of activity: a few heavy users, many light ones.
            let sessions = match rng.below(10) {
                0 => rng.range(10, 16),
                1..=3 => rng.range(4, 9),
                _ => rng.range(1, 3),
            };
            DemoUser {
                id,
                id_type,
                email,
                plan,
                region: REGIONS[rng.below(REGIONS.len() as u64) as usize],
                start_days_ago: if rng.chance(0.25) { rng.range(0, 6) } else { rng.range(7, 29) },
                sessions,
                model: if plan == "free" {
                    if rng.chance(0.7) {
                        0
                    } else {
                        3
                    }
                } else {
                    rng.range(0, 3) as usize
                },
            }
        })
        .collect()
}

fn ts(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

/// Planned session: (user index, start ns, turns).
fn plan_sessions(rng: &mut Rng, users: &[DemoUser], now: i64) -> Vec<(usize, i64, u64)> {
    let mut out = Vec::new();
    for (ui, u) in users.iter().enumerate() {
        let first = now - u.start_days_ago as i64 * NS_PER_DAY - rng.range(1, 20) as i64 * 3_600_000_000_000;
        for s in 0..u.sessions {
            let start = if s == 0 {
                first
            } else {
                let span = (now - first - 3_600_000_000_000).max(1) as u64;
                first + rng.below(span) as i64
            };
            out.push((ui, start, rng.range(1, 5)));
        }
    }
    out.sort_by_key(|(_, start, _)| *start);
    out
}

/// Sends one turn (trace) of a session; returns the number of spans.
fn send_turn(tracer: &BoxedTracer, rng: &mut Rng, scope_cx: &Context, u: &DemoUser, start: i64) -> (usize, i64) {
    let mut t = start;
    let ms = |n: u64| n as i64 * NS_PER_MS;
    let root = tracer
        .span_builder("support-agent-turn")
        .with_kind(SpanKind::Server)
        .with_start_time(ts(t))
        .start_with_context(tracer, scope_cx);
    let cx = scope_cx.with_span(root);
    let mut spans = 1;
    let mut errored = false;

    // Input guardrail.
    t += ms(rng.range(5, 40));
    let mut g = tracer
        .span_builder("input-guardrail")
        .with_start_time(ts(t))
        .with_attributes(vec![KeyValue::new(conv::OPENINFERENCE_SPAN_KIND, conv::SPAN_KIND_GUARDRAIL)])
        .start_with_context(tracer, &cx);
    let triggered = rng.chance(0.04);
    g.set_attribute(KeyValue::new(conv::GUARDRAIL_TRIGGERED, triggered));
    t += ms(rng.range(10, 60));
    g.end_with_timestamp(ts(t));
    spans += 1;

    if !triggered {
        let m = if rng.chance(0.8) { &MODELS[u.model] } else { rng.pick(MODELS) };
        let calls = if rng.chance(0.35) { 2 } else { 1 };
        for call in 0..calls {
            let input = rng.range(300, 3000) as i64;
            let output = rng.range(40, 700) as i64;
            let cached = if rng.chance(0.3) { input / 2 } else { 0 };
            t += ms(rng.range(2, 20));
            let mut c = tracer
                .span_builder(format!("{} {}", conv::OPERATION_CHAT, m.name))
                .with_kind(SpanKind::Client)
                .with_start_time(ts(t))
                .with_attributes(vec![
                    KeyValue::new(conv::GEN_AI_OPERATION_NAME, conv::OPERATION_CHAT),
                    KeyValue::new(conv::GEN_AI_PROVIDER_NAME, m.provider),
                    KeyValue::new(conv::GEN_AI_REQUEST_MODEL, m.name),
                ])
                .start_with_context(tracer, &cx);
            t += ms(rng.range(300, 4000) + output as u64 * 8);
            if rng.chance(0.03) {
                errored = true;
                let e = *rng.pick(ERRORS);
                c.set_attribute(KeyValue::new(conv::ERROR_TYPE, e));
                c.set_status(Status::error(e));
                c.end_with_timestamp(ts(t));
                spans += 1;
                break;
            }
            c.set_attribute(KeyValue::new(conv::GEN_AI_RESPONSE_MODEL, m.name));
            c.set_attribute(KeyValue::new(conv::GEN_AI_USAGE_INPUT_TOKENS, input));
            c.set_attribute(KeyValue::new(conv::GEN_AI_USAGE_OUTPUT_TOKENS, output));
            if cached > 0 {
                c.set_attribute(KeyValue::new(conv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cached));
            }
            c.end_with_timestamp(ts(t));
            spans += 1;
            if call == 0 && calls == 2 {
                // The model asked for a tool before answering.
                let tool = *rng.pick(TOOLS);
                t += ms(rng.range(1, 10));
                let mut x = tracer
                    .span_builder(format!("{} {tool}", conv::OPERATION_EXECUTE_TOOL))
                    .with_kind(SpanKind::Internal)
                    .with_start_time(ts(t))
                    .with_attributes(vec![
                        KeyValue::new(conv::GEN_AI_OPERATION_NAME, conv::OPERATION_EXECUTE_TOOL),
                        KeyValue::new(conv::GEN_AI_TOOL_NAME, tool),
                    ])
                    .start_with_context(tracer, &cx);
                t += ms(rng.range(20, 900));
                if rng.chance(0.03) {
                    errored = true;
                    x.set_attribute(KeyValue::new(conv::ERROR_TYPE, "tool_error"));
                    x.set_status(Status::error("tool failed"));
                }
                x.end_with_timestamp(ts(t));
                spans += 1;
            }
        }
    }
    let span = cx.span();
    if !errored && !triggered && rng.chance(0.45) {
        let pass = rng.chance(if u.plan == "free" { 0.75 } else { 0.88 });
        let score = if pass { 0.7 + rng.below(30) as f64 / 100.0 } else { rng.below(50) as f64 / 100.0 };
        span.add_event_with_timestamp(
            conv::GEN_AI_EVALUATION_RESULT,
            ts(t),
            vec![
                KeyValue::new(conv::GEN_AI_EVALUATION_NAME, "answer_relevance"),
                KeyValue::new(
                    conv::GEN_AI_EVALUATION_SCORE_LABEL,
                    if pass { conv::EVALUATION_PASS } else { conv::EVALUATION_FAIL },
                ),
                KeyValue::new(conv::GEN_AI_EVALUATION_SCORE_VALUE, score),
            ],
        );
    }
    if errored {
        span.set_status(Status::error("turn failed"));
    }
    t += ms(rng.range(2, 30));
    span.end_with_timestamp(ts(t));
    (spans, t)
}

fn metadata(u: &DemoUser) -> Map<String, Json> {
    match json!({ "plan": u.plan, "region": u.region }) {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<(), String> {
    for ext in ["", "-wal", "-shm"] {
        let mut p = args.db.clone().into_os_string();
        p.push(ext);
        let _ = std::fs::remove_file(p);
    }
    let mut cfg = ServerConfig {
        listen: args.listen,
        db: DbPath::File(args.db.clone()),
        api_keys: Vec::new(),
        keys: Default::default(),
        queue_requests: DEFAULT_QUEUE_REQUESTS,
        // The SDK exports over OTLP/HTTP; no gRPC port to collide with a running `userspan serve`.
        grpc: crate::server::GrpcListen::Off,
        prices: None,
        tls: None,
        retention_days: None,
    };
    let running = match spawn(cfg.clone()) {
        Ok(r) => r,
        Err(e) if e.contains("cannot listen") => {
            cfg.listen = SocketAddr::new(args.listen.ip(), 0);
            spawn(cfg)?
        }
        Err(e) => return Err(e),
    };
    let url = running.url();
    userspan::init(Config {
        endpoint: Some(url.clone()),
        service_name: Some("acme-support-bot".into()),
        max_queue_size: Some(200_000),
        max_export_batch_size: Some(512),
        scheduled_delay: Some(Duration::from_millis(200)),
        ..Default::default()
    })
    .map_err(|e| format!("cannot start the SDK: {e}"))?;
    let tracer = opentelemetry::global::tracer("userspan-demo");

    let mut rng = Rng(args.seed);
    let users = make_users(&mut rng, args.users);
    let now = now_ns();
    let sessions = plan_sessions(&mut rng, &users, now);
    let turns: u64 = sessions.iter().map(|s| s.2).sum();
    println!(
        "userspan demo: {} users, {} sessions, {turns} traces over the last 30 days -> {url}/v1/traces (Rust SDK, OTLP/HTTP)",
        users.len(),
        sessions.len()
    );
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(turns) };
    bar.set_style(
        ProgressStyle::with_template("  {bar:40.cyan/blue} {pos}/{len} traces {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let mut spans = 0usize;
    for (n, (ui, start, nturns)) in sessions.iter().enumerate() {
        let u = &users[*ui];
        let session_id = format!("sess-{:05}-{:x}", n, rng.next() & 0xffff_ffff);
        let attrs = Attributes::new()
            .user_id(&u.id)
            .user_id_type(u.id_type)
            .user_email(&u.email)
            .session_id(&session_id)
            .user_metadata(metadata(u))
            .tag(u.plan);
        let scope_cx = Context::current_with_value(Scope::nested(None, attrs));
        let mut t = *start;
        for _ in 0..*nturns {
            if t >= now {
                break;
            }
            let (k, end) = send_turn(&tracer, &mut rng, &scope_cx, u, t);
            spans += k;
            t = end + rng.range(20, 240) as i64 * 1_000_000_000;
            bar.inc(1);
        }
        bar.set_message(format!("{spans} spans"));
    }
    bar.set_message(format!("{spans} spans, flushing"));
    let flushed = userspan::flush(Duration::from_secs(60));
    bar.finish_with_message(format!("{spans} spans sent"));
    let st = userspan::stats();
    if !flushed || st.spans_dropped > 0 || st.export_errors > 0 {
        eprintln!(
            "warning: flush complete: {flushed}, spans exported {}, dropped {}, export errors {}",
            st.spans_exported, st.spans_dropped, st.export_errors
        );
    }
    userspan::shutdown(Duration::from_secs(10));

    let index = crate::store::load_file(&args.db)?;
    let idx = index.read();
    let pd = idx.project(conv::DEFAULT_PROJECT);
    let period = Period::last_30_days();
    let lq = ListQuery { q: None, sort: "last_seen".into(), desc: true };
    println!();
    print!("{}", crate::table::render(pd, &period, &lq, 100, now_ns()));
    println!();
    // Links are printed only while something answers them: on a terminal the receiver keeps
    // serving by default (a newcomer's first run), piped output needs --keep-serving.
    let keep = !args.no_keep_serving && (args.keep_serving || std::io::stdout().is_terminal());
    if keep {
        println!(
            "Stored in {} ({} traces). The receiver keeps serving (Ctrl-C to stop):",
            args.db.display(),
            pd.traces.len()
        );
        println!("  Users dashboard: {url}/");
        println!("  OTLP/HTTP:       {url}/v1/traces");
        println!("  API:             {url}/api/overview");
        println!("                   {url}/api/users?sort=cost_usd&order=desc");
        if let Some(u) = users.first() {
            println!("                   {url}/api/users/{}", encode_path(&u.id));
        }
    } else {
        println!("Stored in {} ({} traces); the demo's receiver has stopped.", args.db.display(), pd.traces.len());
        println!("Browse them with `userspan serve --db {}` (it prints the dashboard URL),", args.db.display());
        println!("or run the demo with --keep-serving.");
    }
    println!("Terminal table any time: userspan users --db {}", args.db.display());
    drop(idx);
    if keep {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
    }
    running.stop();
    Ok(())
}

fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
