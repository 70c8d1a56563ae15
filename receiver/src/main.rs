//! `userspan`: the reference receiver's command line.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;
use userspan_receiver::api::grpc::DEFAULT_GRPC_LISTEN;
use userspan_receiver::server::{parse_api_key, parse_grpc_listen, spawn, GrpcListen, ServerConfig};
use userspan_receiver::store::schema::DbPath;
use userspan_receiver::store::DEFAULT_QUEUE_REQUESTS;
use userspan_receiver::{bench, demo, table};

#[derive(Parser)]
#[command(name = "userspan", version, about = "userspan reference receiver: OTLP in, per-user LLM-app metrics out")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive OTLP/HTTP traces on /v1/traces and serve the JSON API on the same port; receive
    /// OTLP/gRPC traces on --grpc-listen.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4318")]
        listen: SocketAddr,
        /// OTLP/gRPC address (TraceService/Export), or `off`. Without this flag: 127.0.0.1:4317
        /// when that port is free, else the receiver starts without gRPC and says so; an address
        /// given here must be free.
        #[arg(long = "grpc-listen", value_name = "HOST:PORT|off", value_parser = parse_grpc_listen)]
        grpc_listen: Option<GrpcListen>,
        /// SQLite database file, or :memory:.
        #[arg(long, default_value = "userspan.db")]
        db: String,
        /// KEY=PROJECT (repeatable). With keys, every request needs `Authorization: Bearer KEY`
        /// and reads or writes only that key's project.
        #[arg(long = "api-key", value_name = "KEY=PROJECT", value_parser = parse_api_key)]
        api_keys: Vec<(String, String)>,
        /// Requests that may wait for the database writer before ingest answers 503.
        #[arg(long, default_value_t = DEFAULT_QUEUE_REQUESTS)]
        queue: usize,
        /// Model prices (TOML, or JSON for a .json file) taking precedence over the bundled
        /// genai-prices table: `[[price]]` entries with `model` (exact) or `model_prefix`, an
        /// optional `provider`, and USD per million tokens for `input`, `output` and optionally
        /// `cache_read`, `cache_write`, `reasoning`. A bad file stops the server at start.
        #[arg(long, value_name = "FILE")]
        prices: Option<std::path::PathBuf>,
    },
    /// Print the users table of a database.
    Users(table::UsersArgs),
    /// Run a realistic multi-user LLM-app workload through the Rust SDK into a fresh receiver,
    /// then print the overview and the users table.
    Demo(demo::DemoArgs),
    /// Load-test ingest and the users list over loopback.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { listen, grpc_listen, db, api_keys, queue, prices } => serve(ServerConfig {
            listen,
            db: DbPath::parse(&db),
            api_keys,
            queue_requests: queue,
            grpc: grpc_listen
                .unwrap_or_else(|| GrpcListen::IfFree(DEFAULT_GRPC_LISTEN.parse().expect("valid address"))),
            prices,
        }),
        Command::Users(args) => table::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("userspan: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cfg: ServerConfig) -> Result<(), String> {
    let keys = cfg.api_keys.len();
    let prices = cfg.prices.clone();
    let db = cfg.db.clone();
    let running = spawn(cfg)?;
    // Never die on a closed stdout (a supervisor that stopped reading): ignore write errors.
    let say = |s: String| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    };
    say(format!("userspan receiver listening on {}", running.url()));
    say(format!("  OTLP/HTTP traces: POST {}/v1/traces", running.url()));
    say(match (running.grpc_url(), &running.grpc_note) {
        (Some(u), _) => format!("  OTLP/gRPC traces: {u} (TraceService/Export)"),
        (None, Some(why)) => format!("  OTLP/gRPC traces: {why}"),
        (None, None) => "  OTLP/gRPC traces: off".to_string(),
    });
    say(format!("  users API:        GET  {}/api/users", running.url()));
    say(match db {
        DbPath::File(p) => format!("  database:         {}", p.display()),
        DbPath::Memory => "  database:         in memory (gone on exit)".to_string(),
    });
    say(match prices {
        Some(p) => format!(
            "  prices:           {} over genai-prices {}",
            p.display(),
            userspan_receiver::pricing::GENAI_PRICES_VERSION
        ),
        None => format!(
            "  prices:           genai-prices {} (list prices)",
            userspan_receiver::pricing::GENAI_PRICES_VERSION
        ),
    });
    if keys > 0 {
        say(format!("  {keys} API key(s) configured: requests need `Authorization: Bearer <key>`"));
    }
    wait_for_signal();
    say("shutting down".to_string());
    running.stop();
    Ok(())
}

fn wait_for_signal() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    });
}
