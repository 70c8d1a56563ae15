//! Starting and stopping the receiver: store, writer thread and HTTP server.

use crate::api::{router, AppState};
use crate::store::schema::DbPath;
use crate::store::{Store, DEFAULT_QUEUE_REQUESTS};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// What `userspan serve` takes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Database.
    pub db: DbPath,
    /// `(key, project)` pairs; empty = no authentication.
    pub api_keys: Vec<(String, String)>,
    /// Requests that may wait for the writer before 503.
    pub queue_requests: usize,
}

impl ServerConfig {
    /// Loopback on a free port with an in-memory database (tests).
    pub fn ephemeral() -> ServerConfig {
        ServerConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            db: DbPath::Memory,
            api_keys: Vec::new(),
            queue_requests: DEFAULT_QUEUE_REQUESTS,
        }
    }
}

/// Parses `KEY=PROJECT`.
pub fn parse_api_key(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, p)) if !k.trim().is_empty() && !p.trim().is_empty() => {
            Ok((k.trim().to_string(), p.trim().to_string()))
        }
        _ => Err(format!("--api-key takes KEY=PROJECT, got {s:?}")),
    }
}

/// A receiver running on its own Tokio runtime thread.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
    let store = Store::open(&cfg.db, cfg.queue_requests)?;
    let keys: HashMap<String, String> = cfg.api_keys.iter().cloned().collect();
    let state = AppState { writer: store.tx.clone(), index: store.index.clone(), keys: Arc::new(keys) };
    let std_listener =
        std::net::TcpListener::bind(cfg.listen).map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    std_listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = std_listener.local_addr().map_err(|e| e.to_string())?;
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
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let app = router(state);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
            drop(rt);
            store.close();
        })
        .map_err(|e| e.to_string())?;
    Ok(Running { addr, stop: Some(stop_tx), thread: Some(thread) })
}
