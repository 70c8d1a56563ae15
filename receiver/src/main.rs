//! `userspan`: the reference receiver's command line.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;
use userspan_receiver::api::grpc::DEFAULT_GRPC_LISTEN;
use userspan_receiver::auth::{parse_ingest_key, parse_read_key, KeySources, KEYS_FILE_ENV};
use userspan_receiver::server::{parse_api_key, parse_grpc_listen, spawn, GrpcListen, ServerConfig};
use userspan_receiver::store::schema::DbPath;
use userspan_receiver::store::DEFAULT_QUEUE_REQUESTS;
use userspan_receiver::tls::TlsFiles;
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
        /// KEY=PROJECT (repeatable): a key that may send OTLP into PROJECT and read its JSON API.
        /// With any key (flag or keys file), OTLP and every /api/* request need `Authorization:
        /// Bearer KEY` (401 without, 403 for a key without the right). A key repeated with
        /// another project reads both. Command lines show in `ps`: prefer --keys-file.
        #[arg(long = "api-key", value_name = "KEY=PROJECT", value_parser = parse_api_key)]
        api_keys: Vec<(String, String)>,
        /// KEY=PROJECT (repeatable): a key that may only send OTLP into PROJECT (the key for
        /// browsers and apps); /api/* reads with it answer 403.
        #[arg(long = "ingest-key", value_name = "KEY=PROJECT", value_parser = parse_ingest_key)]
        ingest_keys: Vec<(String, String)>,
        /// KEY=PROJECT (repeatable): a key that may only read the JSON API of PROJECT (dashboards,
        /// server-side); OTLP with it answers 403 / PERMISSION_DENIED.
        #[arg(long = "read-key", value_name = "KEY=PROJECT", value_parser = parse_read_key)]
        read_keys: Vec<(String, String)>,
        /// Keys file, one `KIND KEY PROJECT` per line (KIND: ingest, read or api; blank lines and
        /// `#` comments allowed), merged with the key flags. Default: $USERSPAN_KEYS_FILE. A bad
        /// line stops the server at start; re-read on SIGHUP (a bad file then keeps the previous
        /// keys and says why on stderr).
        #[arg(long = "keys-file", value_name = "FILE")]
        keys_file: Option<std::path::PathBuf>,
        /// Requests that may wait for the database writer before ingest answers 503.
        #[arg(long, default_value_t = DEFAULT_QUEUE_REQUESTS)]
        queue: usize,
        /// Model prices (TOML, or JSON for a .json file) taking precedence over the bundled
        /// genai-prices table: `[[price]]` entries with `model` (exact) or `model_prefix`, an
        /// optional `provider`, and USD per million tokens for `input`, `output` and optionally
        /// `cache_read`, `cache_write`, `reasoning`. A bad file stops the server at start.
        #[arg(long, value_name = "FILE")]
        prices: Option<std::path::PathBuf>,
        /// Serve HTTP (OTLP/HTTP, API, dashboard) and OTLP/gRPC over TLS with this PEM
        /// certificate chain (server certificate first). Needs --tls-key. Read at start: restart
        /// to pick up a renewed certificate.
        #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The PEM private key of --tls-cert (PKCS#8, RSA or EC; not encrypted). Needs --tls-cert.
        #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// Delete traces (with their spans) that started more than N days ago (N ≥ 1), at start
        /// and then every hour, in small batches while ingest goes on. Default: keep everything.
        #[arg(long = "retention-days", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        retention_days: Option<u32>,
    },
    /// Print the users table of a database.
    Users(table::UsersArgs),
    /// Run a realistic multi-user LLM-app workload through the Rust SDK into a fresh receiver,
    /// then print the overview and the users table.
    Demo(demo::DemoArgs),
    /// Load-test ingest and the users list over loopback.
    Bench(bench::BenchArgs),
    /// Erase an end user from a database file (GDPR): their spans, the traces left without
    /// another user's span, and their records; prints what it removed. Refuses while another
    /// process (a running `serve`) has the file open: erase through its API then.
    Forget(userspan_receiver::store::erase::ForgetArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            grpc_listen,
            db,
            api_keys,
            ingest_keys,
            read_keys,
            keys_file,
            queue,
            prices,
            tls_cert,
            tls_key,
            retention_days,
        } => serve(ServerConfig {
            listen,
            db: DbPath::parse(&db),
            api_keys,
            keys: KeySources {
                ingest: ingest_keys,
                read: read_keys,
                // The flag wins over the environment (an empty variable counts as unset).
                file: keys_file.or_else(|| {
                    std::env::var_os(KEYS_FILE_ENV).filter(|v| !v.is_empty()).map(std::path::PathBuf::from)
                }),
            },
            queue_requests: queue,
            grpc: grpc_listen
                .unwrap_or_else(|| GrpcListen::IfFree(DEFAULT_GRPC_LISTEN.parse().expect("valid address"))),
            prices,
            tls: tls_cert.zip(tls_key).map(|(cert, key)| TlsFiles { cert, key }),
            retention_days,
        }),
        Command::Users(args) => table::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Forget(args) => userspan_receiver::store::erase::run_forget(&args),
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
    let prices = cfg.prices.clone();
    let db = cfg.db.clone();
    let retention = cfg.retention_days;
    let tls = cfg.tls.clone();
    let running = spawn(cfg)?;
    // Before the banner: a SIGHUP sent once the banner shows reloads keys, never kills.
    let signals = Signals::install();
    // Never die on a closed stdout (a supervisor that stopped reading): ignore write errors.
    let say = |s: String| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    };
    say(format!("userspan receiver listening on {}", running.url()));
    if let Some(t) = tls {
        say(format!(
            "  TLS:              on (HTTP and OTLP/gRPC), certificate {}, key {}",
            t.cert.display(),
            t.key.display()
        ));
        if let Some(why) = &running.tls_note {
            say(format!("  TLS warning:      {why}"));
        }
    }
    say(format!("  OTLP/HTTP traces: POST {}/v1/traces", running.url()));
    say(match (running.grpc_url(), &running.grpc_note) {
        (Some(u), _) => format!("  OTLP/gRPC traces: {u} (TraceService/Export)"),
        (None, Some(why)) => format!("  OTLP/gRPC traces: {why}"),
        (None, None) => "  OTLP/gRPC traces: off".to_string(),
    });
    say(format!("  Users dashboard:  {}/", running.url()));
    say(format!("  users API:        GET  {}/api/users", running.url()));
    say(match db {
        DbPath::File(p) => format!("  database:         {}", p.display()),
        DbPath::Memory => "  database:         in memory (gone on exit)".to_string(),
    });
    if let Some(days) = retention {
        say(format!("  retention:        traces older than {days} days are deleted (at start, then hourly)"));
    }
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
    let keys = running.keys();
    if keys.is_enabled() {
        say(format!(
            "  keys:             {}{}: OTLP and /api/* need `Authorization: Bearer <key>`",
            keys.summary(),
            keys.file().map(|f| format!(" (with {}, re-read on SIGHUP)", f.display())).unwrap_or_default()
        ));
    } else {
        say("  keys:             none (open: anyone who reaches the port may send and read)".to_string());
    }
    signals.wait(|| match running.keys().reload() {
        Ok(summary) => say(summary),
        Err(e) => eprintln!("userspan: SIGHUP: {e}"),
    });
    say("shutting down".to_string());
    running.stop();
    Ok(())
}

/// The signals `serve` acts on: SIGINT and SIGTERM stop it, SIGHUP re-reads the keys file.
struct Signals {
    rt: tokio::runtime::Runtime,
    #[cfg(unix)]
    streams: [tokio::signal::unix::Signal; 3],
}

impl Signals {
    /// Registers the handlers (from here on, SIGHUP no longer terminates the process).
    fn install() -> Signals {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        #[cfg(unix)]
        let streams = {
            use tokio::signal::unix::{signal, SignalKind};
            let _in_rt = rt.enter();
            [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()]
                .map(|k| signal(k).expect("signal handler"))
        };
        Signals {
            rt,
            #[cfg(unix)]
            streams,
        }
    }

    /// Blocks until SIGINT or SIGTERM (Ctrl-C elsewhere), calling `on_hangup` at each SIGHUP.
    fn wait(self, on_hangup: impl Fn()) {
        #[cfg(unix)]
        {
            let Signals { rt, streams: [mut int, mut term, mut hup] } = self;
            rt.block_on(async {
                loop {
                    tokio::select! {
                        _ = int.recv() => break,
                        _ = term.recv() => break,
                        _ = hup.recv() => on_hangup(),
                    }
                }
            });
        }
        #[cfg(not(unix))]
        {
            let _ = on_hangup;
            let _ = self.rt.block_on(tokio::signal::ctrl_c());
        }
    }
}
