//! Starting and stopping the receiver: store, writer thread, HTTP server and OTLP/gRPC server.

use crate::api::{router, AppState};
use crate::ingest::IngestContext;
use crate::pricing::Pricer;
use crate::store::schema::DbPath;
use crate::store::{Store, DEFAULT_QUEUE_REQUESTS};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// Whether and where to serve OTLP/gRPC (`userspan serve --grpc-listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcListen {
    /// No gRPC listener (`--grpc-listen off`).
    Off,
    /// Listen here; [`spawn`] fails when the address cannot be bound (an explicit `--grpc-listen`).
    On(SocketAddr),
    /// Listen here when the address is free, else serve without gRPC and say why in
    /// [`Running::grpc_note`] (the default, 127.0.0.1:4317, which a local Collector or a second
    /// receiver may hold).
    IfFree(SocketAddr),
}

/// What `userspan serve` takes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Database.
    pub db: DbPath,
    /// `--api-key` `(key, project)` pairs: read and write ([`crate::auth`]). No key here nor in
    /// [`Self::keys`] (and no keys file) = no authentication.
    pub api_keys: Vec<(String, String)>,
    /// `--ingest-key`, `--read-key` and `--keys-file` ([`crate::auth::KeySources`]); a bad keys
    /// file stops [`spawn`].
    pub keys: crate::auth::KeySources,
    /// Requests that may wait for the writer before 503.
    pub queue_requests: usize,
    /// OTLP/gRPC listener (`TraceService/Export`, the same pipeline as `/v1/traces`).
    pub grpc: GrpcListen,
    /// `--prices FILE`: model prices that take precedence over the bundled `genai-prices`
    /// table ([`crate::pricing::parse_prices`]); a bad file stops [`spawn`].
    pub prices: Option<std::path::PathBuf>,
    /// `--tls-cert/--tls-key`: serve both ports over TLS ([`crate::tls`]); bad files stop [`spawn`].
    pub tls: Option<crate::tls::TlsFiles>,
    /// `--retention-days N` (N ≥ 1): traces starting more than N days ago are deleted at start
    /// and then every [`RETENTION_EVERY`] ([`crate::store::erase`]); `None` keeps everything.
    pub retention_days: Option<u32>,
}

/// How often retention runs (it also runs at start).
pub const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl ServerConfig {
    /// Loopback on a free port with an in-memory database (tests).
    pub fn ephemeral() -> ServerConfig {
        ServerConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            db: DbPath::Memory,
            api_keys: Vec::new(),
            keys: Default::default(),
            queue_requests: DEFAULT_QUEUE_REQUESTS,
            grpc: GrpcListen::On("127.0.0.1:0".parse().expect("valid address")),
            prices: None,
            tls: None,
            retention_days: None,
        }
    }
}

pub use crate::auth::parse_api_key;

/// Parses `--grpc-listen`: `HOST:PORT` ([`GrpcListen::On`]) or `off` ([`GrpcListen::Off`]).
pub fn parse_grpc_listen(s: &str) -> Result<GrpcListen, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(GrpcListen::Off);
    }
    s.parse().map(GrpcListen::On).map_err(|e| format!("--grpc-listen takes HOST:PORT or `off`, got {s:?}: {e}"))
}

/// A receiver running on its own Tokio runtime thread.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where OTLP/gRPC listens; `None` when it is off or its address was taken.
    pub grpc_addr: Option<SocketAddr>,
    /// Why OTLP/gRPC is not served although it was asked for ([`GrpcListen::IfFree`]).
    pub grpc_note: Option<String>,
    /// Both ports serve TLS (`https://` URLs).
    pub tls: bool,
    /// Why clients may refuse the TLS certificate (expired, a CA certificate): [`crate::tls::Tls::note`].
    pub tls_note: Option<String>,
    keys: Arc<crate::auth::Keys>,
    maintenance: crate::store::erase::Maintenance,
    retention_days: Option<u32>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `http://addr`, or `https://addr` with TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme(), self.addr)
    }

    /// `http://grpc_addr` (`https://` with TLS), the OTLP/gRPC endpoint, when gRPC is served.
    pub fn grpc_url(&self) -> Option<String> {
        self.grpc_addr.map(|a| format!("{}://{a}", self.scheme()))
    }

    fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The keys in force; `userspan serve` calls [`crate::auth::Keys::reload`] on SIGHUP.
    pub fn keys(&self) -> &crate::auth::Keys {
        &self.keys
    }

    /// Runs a retention pass now (as the periodic one does) and waits for it: deletes what
    /// started more than `--retention-days` ago; `Ok(None)` without retention. For tests and
    /// operators who cannot wait for the next pass.
    pub fn run_retention(&self) -> Result<Option<crate::store::erase::Purged>, String> {
        let Some(days) = self.retention_days else { return Ok(None) };
        let cutoff = crate::timefmt::now_ns() - i64::from(days) * crate::timefmt::NS_PER_DAY;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(self.maintenance.purge(cutoff)).map(Some)
    }

    /// Stops accepting, finishes in-flight requests, flushes the writer, joins.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Blocks until the server stops by itself (it does not, unless it fails).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Opens the store, binds, and serves on a new thread with its own runtime. Returns once the
/// socket is bound.
pub fn spawn(cfg: ServerConfig) -> Result<Running, String> {
    // Prices first: a bad --prices file refuses to start before anything is opened or bound.
    let pricer = match &cfg.prices {
        Some(p) => Pricer::from_file(p)?,
        None => Pricer::bundled(),
    };
    let tls = cfg.tls.as_ref().map(crate::tls::Tls::load).transpose()?;
    let tls_note = tls.as_ref().and_then(|t| t.note().map(str::to_string));
    // Keys too (a bad keys file, one key with two kinds).
    let keys = Arc::new(crate::auth::Keys::load(&cfg.api_keys, &cfg.keys)?);
    let store = Store::open(&cfg.db, cfg.queue_requests)?;
    let state = AppState {
        writer: store.tx.clone(),
        index: store.index.clone(),
        keys: keys.clone(),
        ingest: Arc::new(IngestContext::new(pricer)),
        maintenance: store.maintenance.clone(),
    };
    let maintenance = store.maintenance.clone();
    let retention = cfg.retention_days.map(|d| (d, store.maintenance.clone()));
    let std_listener =
        std::net::TcpListener::bind(cfg.listen).map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    std_listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = std_listener.local_addr().map_err(|e| e.to_string())?;
    let (grpc_listener, grpc_note) = match cfg.grpc {
        GrpcListen::Off => (None, None),
        GrpcListen::On(a) => (
            Some(std::net::TcpListener::bind(a).map_err(|e| {
                format!(
                    "cannot listen for OTLP/gRPC on {a}: {e} (choose another with --grpc-listen, or --grpc-listen off)"
                )
            })?),
            None,
        ),
        GrpcListen::IfFree(a) => match std::net::TcpListener::bind(a) {
            Ok(l) => (Some(l), None),
            Err(e) => (
                None,
                Some(format!(
                    "OTLP/gRPC is off: cannot listen on {a}: {e} (choose another address with --grpc-listen)"
                )),
            ),
        },
    };
    let grpc_addr = match &grpc_listener {
        Some(l) => {
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            Some(l.local_addr().map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("userspan-http".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("userspan-worker")
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                // One stop signal, seen by both servers.
                let (stopping_tx, stopping) = watch::channel(false);
                tokio::spawn(async move {
                    let _ = stop_rx.await;
                    let _ = stopping_tx.send(true);
                });
                let stopped = |mut rx: watch::Receiver<bool>| async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                let retention = retention.map(|(days, m)| {
                    let stop = stopped(stopping.clone());
                    tokio::spawn(crate::store::erase::run_retention(m, days, RETENTION_EVERY, stop))
                });
                let grpc = grpc_listener.map(|l| {
                    let listener = tokio::net::TcpListener::from_std(l).expect("listener");
                    let (st, stop) = (state.clone(), stopped(stopping.clone()));
                    let tls = tls.as_ref().map(crate::tls::Tls::grpc);
                    tokio::spawn(async move {
                        if let Err(e) = crate::api::grpc::serve_with(st, listener, tls, stop).await {
                            eprintln!("userspan: {e}");
                        }
                    })
                });
                let app = router(state);
                if let Some(tls) = tls {
                    if let Err(e) = tls.serve(std_listener, app, stopped(stopping)).await {
                        eprintln!("userspan: HTTPS server failed: {e}");
                    }
                } else {
                    let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                    let _ = axum::serve(listener, app).with_graceful_shutdown(stopped(stopping)).await;
                }
                if let Some(g) = grpc {
                    let _ = g.await;
                }
                if let Some(r) = retention {
                    let _ = r.await;
                }
            });
            drop(rt);
            store.close();
        })
        .map_err(|e| e.to_string())?;
    Ok(Running {
        addr,
        grpc_addr,
        grpc_note,
        tls: cfg.tls.is_some(),
        tls_note,
        keys,
        maintenance,
        retention_days: cfg.retention_days,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}
