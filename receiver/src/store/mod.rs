//! SQLite storage: schema and migrations ([`schema`]), the single writer ([`writer`]), the
//! in-memory index of committed rollups that reads use ([`index`]), and erasure and retention
//! ([`erase`]).

pub mod erase;
pub mod index;
pub mod schema;
pub mod static_stmt;
pub mod writer;

use index::Index;
use schema::DbPath;
use std::sync::Arc;
use tokio::sync::mpsc;
use writer::WriteJob;

/// Requests that may wait for the writer; beyond that ingest answers 503 + `Retry-After`.
pub const DEFAULT_QUEUE_REQUESTS: usize = 64;

/// An open store: the writer thread's queue and the index.
pub struct Store {
    /// Committed rollups, for reads.
    pub index: Arc<Index>,
    /// Queue to the writer.
    pub tx: mpsc::Sender<WriteJob>,
    /// Erasure and retention jobs for the writer.
    pub maintenance: erase::Maintenance,
    thread: Option<std::thread::JoinHandle<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

impl Store {
    /// Opens (creating or migrating) the database, loads the index and starts the writer thread.
    pub fn open(path: &DbPath, queue_requests: usize) -> Result<Store, String> {
        let conn = schema::open_writer(path).map_err(|e| format!("cannot open the database {path:?}: {e}"))?;
        let index = Arc::new(index::load(&conn).map_err(|e| format!("cannot read the database: {e}"))?);
        // A file database is checkpointed by a thread of its own (the writer's connection does not
        // checkpoint), so commits, and the 200s waiting on them, do not pay for copying the WAL
        // back into the database.
        let (checkpointer, wal_grew) = match path {
            DbPath::File(p) => {
                let ck = schema::open_checkpointer(p).map_err(|e| format!("cannot open the database {path:?}: {e}"))?;
                let (grew, wait) = std::sync::mpsc::sync_channel::<()>(1);
                let t = std::thread::Builder::new()
                    .name("userspan-checkpoint".into())
                    .spawn(move || schema::run_checkpointer(ck, wait))
                    .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?;
                (Some(t), Some(grew))
            }
            DbPath::Memory => (None, None),
        };
        let (tx, rx) = mpsc::channel(queue_requests.max(1));
        let (jobs, maint_rx) = std::sync::mpsc::channel();
        let maintenance = erase::Maintenance::new(jobs, &tx, index.clone());
        let idx = index.clone();
        let thread = std::thread::Builder::new()
            .name("userspan-writer".into())
            .spawn(move || writer::run(conn, idx, rx, wal_grew, maint_rx))
            .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        Ok(Store { index, tx, maintenance, thread: Some(thread), checkpointer })
    }

    /// Stops accepting writes and waits for the writer to finish what it has.
    pub fn close(mut self) {
        let Store { tx, thread, checkpointer, .. } = &mut self;
        let (dummy, _) = mpsc::channel(1);
        drop(std::mem::replace(tx, dummy));
        if let Some(t) = thread.take() {
            let _ = t.join();
        }
        // The writer is gone, and with it the checkpointer's wake-up channel.
        if let Some(t) = checkpointer.take() {
            let _ = t.join();
        }
    }
}

/// Loads the index of a database file read-only (for `userspan users`).
pub fn load_file(path: &std::path::Path) -> Result<Index, String> {
    if !path.exists() {
        return Err(format!(
            "{} does not exist (start `userspan serve --db {}` or `userspan demo` first)",
            path.display(),
            path.display()
        ));
    }
    let conn = schema::open_reader(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    index::load(&conn).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
