//! Opening the SQLite database and migrating its schema (`PRAGMA user_version` counts the
//! migrations applied).

use rusqlite::{Connection, OpenFlags};

/// Schema migrations, applied in order; index + 1 is the `user_version` after each.
const MIGRATIONS: &[&str] = &[
    // 1: spans, per-trace rollups, users.
    "CREATE TABLE spans (
        project TEXT NOT NULL,
        trace_id BLOB NOT NULL,
        span_id BLOB NOT NULL,
        parent_span_id BLOB,
        name TEXT NOT NULL,
        kind INTEGER NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        status INTEGER NOT NULL,
        status_message TEXT NOT NULL,
        service TEXT,
        user_id TEXT,
        user_id_type TEXT,
        user_email TEXT,
        user_metadata TEXT,
        session_id TEXT,
        operation TEXT,
        provider TEXT,
        model TEXT,
        tool TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        llm_call INTEGER NOT NULL,
        eval_pass INTEGER NOT NULL,
        eval_total INTEGER NOT NULL,
        guardrail INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        PRIMARY KEY (project, trace_id, span_id)
    ) WITHOUT ROWID;
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_id_type TEXT NOT NULL,
        email TEXT,
        email_ns INTEGER NOT NULL,
        metadata TEXT,
        metadata_ns INTEGER NOT NULL,
        first_ns INTEGER NOT NULL,
        last_ns INTEGER NOT NULL,
        UNIQUE (project, user_id, user_id_type)
    );
    CREATE TABLE traces (
        project TEXT NOT NULL,
        trace_id BLOB NOT NULL,
        user_key INTEGER,
        user_start_ns INTEGER,
        user_span_id BLOB,
        session_id TEXT,
        session_start_ns INTEGER,
        session_span_id BLOB,
        name TEXT,
        name_rank INTEGER,
        name_start_ns INTEGER,
        name_span_id BLOB,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        span_count INTEGER NOT NULL,
        errored INTEGER NOT NULL,
        llm_calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        eval_pass INTEGER NOT NULL,
        eval_total INTEGER NOT NULL,
        guardrail INTEGER NOT NULL,
        breakdown TEXT NOT NULL,
        PRIMARY KEY (project, trace_id)
    ) WITHOUT ROWID;
    CREATE INDEX traces_by_user ON traces (project, user_key, start_ns);
    CREATE INDEX traces_by_start ON traces (project, start_ns);",
    // 2: nothing reads the two trace indexes (reads go through the in-memory index), and the
    // users' lifetime first/last trace start is derived from the traces when the index loads and
    // maintained in memory at ingest; keeping them in SQLite cost every commit a random B-tree
    // insert per trace and a user-row rewrite per touched user.
    "DROP INDEX traces_by_user;
    DROP INDEX traces_by_start;
    ALTER TABLE users DROP COLUMN first_ns;
    ALTER TABLE users DROP COLUMN last_ns;",
    // 3: list prices (docs/design.md, "Cost"): each span's cost source, its estimated part, what
    // it was priced as and its cache/reasoning tokens; each trace's estimated cost and unpriced
    // LLM calls. Spans stored before carry the cost they reported: those with a cost are
    // `reported`; nothing stored before is re-priced.
    "ALTER TABLE spans ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE spans ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE spans ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE spans ADD COLUMN estimated_cost_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE spans ADD COLUMN cost_source TEXT;
    ALTER TABLE spans ADD COLUMN price_provider TEXT;
    ALTER TABLE spans ADD COLUMN price_model TEXT;
    UPDATE spans SET cost_source = 'reported' WHERE cost_micros > 0;
    ALTER TABLE traces ADD COLUMN estimated_cost_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE traces ADD COLUMN unpriced_llm_calls INTEGER NOT NULL DEFAULT 0;",
    // 4: tags and free-form metadata (docs/design.md, "Tags and metadata"): each span's own (JSON
    // array / object text, NULL when none; a trace re-resolved when a late span arrives reads
    // them back) and each trace's merge. Spans stored before have none (not re-read from their
    // attributes).
    "ALTER TABLE spans ADD COLUMN tags TEXT;
    ALTER TABLE spans ADD COLUMN metadata TEXT;
    ALTER TABLE traces ADD COLUMN tags TEXT;
    ALTER TABLE traces ADD COLUMN metadata TEXT;",
    // 5: retention (docs/design.md, "Erasure and retention") deletes
    // old traces but keeps, for users who still have traces, the start of their lifetime first
    // trace, so "new users" of the retained days do not change.
    "ALTER TABLE users ADD COLUMN activated_ns INTEGER;",
    // 6: feedback records (docs/design.md, "Feedback ingest"), idempotent on (project, id). The
    // record's own user; its owner (the trace's, once stored) is resolved when read, so a trace
    // arriving later, or recomputed, moves it without a rewrite.
    "CREATE TABLE feedback (
        project TEXT NOT NULL,
        id TEXT NOT NULL,
        time_ns INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        label TEXT,
        comment TEXT,
        source TEXT NOT NULL,
        trace_id BLOB,
        span_id BLOB,
        user_id TEXT,
        user_id_type TEXT,
        PRIMARY KEY (project, id)
    ) WITHOUT ROWID;",
];

/// Current schema version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DbPath {
    /// A file (created if missing).
    File(std::path::PathBuf),
    /// A private in-memory database (`:memory:`), gone when the process exits.
    Memory,
}

impl DbPath {
    /// `:memory:` or a file path.
    pub fn parse(s: &str) -> DbPath {
        if s == ":memory:" {
            DbPath::Memory
        } else {
            DbPath::File(s.into())
        }
    }
}

/// Opens the database for writing, with WAL, full fsync at commit, and migrations applied.
pub fn open_writer(path: &DbPath) -> rusqlite::Result<Connection> {
    let conn = match path {
        DbPath::Memory => Connection::open_in_memory()?,
        DbPath::File(p) => Connection::open(p)?,
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    configure_writer(&conn, path)?;
    migrate(&conn)?;
    Ok(conn)
}

/// The writer's pragmas. `secure_delete`: deleted rows (erasure, retention, rewritten rollups)
/// are overwritten with zeros in the pages and the free pages, so a deleted user id cannot be
/// read back from the file.
fn configure_writer(conn: &Connection, path: &DbPath) -> rusqlite::Result<()> {
    conn.pragma_update(None, "secure_delete", "ON")?;
    if matches!(path, DbPath::File(_)) {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // The checkpoint thread (`run_checkpointer`) copies the WAL back, not the commits; after
        // a restart the WAL file is truncated to 64 MiB.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", WAL_RESTART_PAGES * 4096)?;
    }
    // A 200 is only sent after COMMIT, and with FULL the WAL is fsynced at every commit.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    Ok(())
}

/// Opens an existing database file for writing by this process alone (`userspan forget`): the
/// connection takes SQLite's exclusive lock, so it fails, naming the reason, while another
/// process (a running `userspan serve`, or `userspan users`) has the file open. Migrations are
/// applied.
pub fn open_exclusive(path: &std::path::Path) -> Result<Connection, String> {
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()));
    }
    let fail = |e: rusqlite::Error| format!("cannot open {}: {e}", path.display());
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(fail)?;
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(fail)?;
    match conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;") {
        Ok(()) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            return Err(format!(
                "{} is in use by another process (a running `userspan serve`?): stop it first, or erase \
                 through its API (DELETE /api/users/{{user_id}})",
                path.display()
            ));
        }
        Err(e) => return Err(fail(e)),
    }
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(fail)?;
    configure_writer(&conn, &DbPath::File(path.to_path_buf())).map_err(fail)?;
    migrate(&conn).map_err(fail)?;
    Ok(conn)
}

/// WAL pages after which the checkpoint thread also restarts the WAL (waiting briefly for the
/// writer), so the file stays bounded however busy ingest is.
const WAL_RESTART_PAGES: i64 = 16 * 1024;

/// Opens the connection of the checkpoint thread (the database exists and is migrated).
pub fn open_checkpointer(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(200))?;
    // The database file is fsynced after each checkpoint, as with the default autocheckpoint.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// The checkpoint thread: after commits (signalled on `wal_grew`), copies committed WAL pages
/// into the database, at most about every 100 ms, until the writer is gone; then once more.
pub fn run_checkpointer(conn: Connection, wal_grew: std::sync::mpsc::Receiver<()>) {
    let checkpoint = |mode: &str| -> rusqlite::Result<i64> {
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(1))
    };
    while wal_grew.recv().is_ok() {
        match checkpoint("PASSIVE") {
            Ok(frames) if frames >= WAL_RESTART_PAGES => {
                let _ = checkpoint("RESTART");
            }
            Ok(_) => {}
            Err(e) => eprintln!("userspan: checkpoint failed (will retry): {e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = checkpoint("PASSIVE");
}

/// Opens an existing database file read-only (for `userspan users`).
pub fn open_reader(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v != SCHEMA_VERSION {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "{} has schema version {v}, this userspan reads version {SCHEMA_VERSION}; run `userspan serve` on it once to migrate",
            path.display()
        )));
    }
    Ok(conn)
}

/// Applies the migrations not yet applied, each in its own transaction.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {current} is newer than this userspan ({SCHEMA_VERSION})"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let batch = format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1);
        conn.execute_batch(&batch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits on the writer's connection stay in the WAL until the checkpoint thread copies them
    /// into the database file; it does so when woken, and once more when the writer is gone.
    #[test]
    fn checkpoint_thread_copies_the_wal_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ck.db");
        let conn = open_writer(&DbPath::File(path.clone())).unwrap();
        let db_len = || std::fs::metadata(&path).unwrap().len();
        let before = db_len();
        let big = "x".repeat(2000);
        conn.execute_batch("BEGIN").unwrap();
        for n in 0..200 {
            conn.execute(
                "INSERT INTO users (project, user_id, user_id_type, email, email_ns, metadata, metadata_ns)
                 VALUES ('p', ?1, 'custom', ?2, 0, NULL, 0)",
                rusqlite::params![n.to_string(), big],
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(db_len(), before, "the writer's commit does not checkpoint");
        let (grew, wait) = std::sync::mpsc::sync_channel(1);
        let ck = open_checkpointer(&path).unwrap();
        let t = std::thread::spawn(move || run_checkpointer(ck, wait));
        grew.send(()).unwrap();
        drop(grew);
        t.join().unwrap();
        assert!(db_len() >= before + 200 * 2000, "{} -> {}", before, db_len());
    }

    /// A version-2 database (before list prices) gains the cost-source columns: spans that
    /// carried a cost are `reported`, the others have none; trace rollups start at 0 estimated.
    #[test]
    fn version_2_database_migrates_to_cost_sources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let conn = Connection::open(&path).unwrap();
            let sql = format!("BEGIN; {}; {}; PRAGMA user_version = 2; COMMIT;", MIGRATIONS[0], MIGRATIONS[1]);
            conn.execute_batch(&sql).unwrap();
            for (n, cost) in [(1u8, 4200i64), (2, 0)] {
                conn.execute(
                    "INSERT INTO spans (project, trace_id, span_id, name, kind, start_ns, end_ns, status, status_message,
                        input_tokens, output_tokens, cost_micros, llm_call, eval_pass, eval_total, guardrail, attributes)
                     VALUES ('default', ?1, ?2, 's', 0, 1, 2, 0, '', 10, 5, ?3, 1, 0, 0, 0, '{}')",
                    rusqlite::params![vec![n; 16], vec![n; 8], cost],
                )
                .unwrap();
            }
            conn.execute_batch(
                "INSERT INTO traces (project, trace_id, start_ns, end_ns, span_count, errored, llm_calls, input_tokens,
                    output_tokens, cost_micros, eval_pass, eval_total, guardrail, breakdown)
                 VALUES ('default', x'01010101010101010101010101010101', 1, 2, 1, 0, 1, 10, 5, 4200, 0, 0, 0, '{}')",
            )
            .unwrap();
        }
        let conn = open_writer(&DbPath::File(path.clone())).unwrap();
        let sources: Vec<Option<String>> = conn
            .prepare("SELECT cost_source FROM spans ORDER BY span_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(sources, vec![Some("reported".to_string()), None]);
        let (est, unpriced): (i64, i64) = conn
            .query_row("SELECT estimated_cost_micros, unpriced_llm_calls FROM traces", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((est, unpriced), (0, 0));
        let idx = crate::store::index::load(&conn).unwrap();
        assert_eq!(idx.read().project("default").traces.len(), 1);
    }

    /// A version-3 database (before tags and metadata) gains the columns, empty: its spans and
    /// traces have no tags or metadata, and it loads.
    #[test]
    fn version_3_database_migrates_to_tags_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        {
            let conn = Connection::open(&path).unwrap();
            let sql = format!(
                "BEGIN; {}; {}; {}; PRAGMA user_version = 3; COMMIT;",
                MIGRATIONS[0], MIGRATIONS[1], MIGRATIONS[2]
            );
            conn.execute_batch(&sql).unwrap();
            conn.execute_batch(
                "INSERT INTO spans (project, trace_id, span_id, name, kind, start_ns, end_ns, status, status_message,
                    input_tokens, output_tokens, cost_micros, llm_call, eval_pass, eval_total, guardrail, attributes)
                 VALUES ('default', x'01010101010101010101010101010101', x'0101010101010101', 's', 0, 1, 2, 0, '', 0, 0,
                    0, 0, 0, 0, 0, '{\"tag.tags\":[\"a\"]}');
                 INSERT INTO traces (project, trace_id, start_ns, end_ns, span_count, errored, llm_calls, input_tokens,
                    output_tokens, cost_micros, eval_pass, eval_total, guardrail, breakdown)
                 VALUES ('default', x'01010101010101010101010101010101', 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, '{}');",
            )
            .unwrap();
        }
        let conn = open_writer(&DbPath::File(path.clone())).unwrap();
        let (span_tags, trace_meta): (Option<String>, Option<String>) = conn
            .query_row("SELECT s.tags, t.metadata FROM spans s JOIN traces t USING (project, trace_id)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((span_tags, trace_meta), (None, None));
        let idx = crate::store::index::load(&conn).unwrap();
        let r = idx.read();
        let t = r.project("default").traces.values().next().cloned().unwrap();
        assert_eq!((t.tags().len(), t.metadata()), (0, None));
    }

    /// A database written by schema version 1 opens, migrates, and loads with each user's
    /// lifetime first/last trace start derived from the stored traces.
    #[test]
    fn version_1_database_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!("BEGIN; {}; PRAGMA user_version = 1; COMMIT;", MIGRATIONS[0])).unwrap();
            conn.execute_batch(
                "INSERT INTO users VALUES (7, 'default', 'ann', 'custom', 'a@x.io', 5, NULL, 0, 100, 300);
                 INSERT INTO traces (project, trace_id, user_key, user_start_ns, start_ns, end_ns, span_count, errored, llm_calls,
                    input_tokens, output_tokens, cost_micros, eval_pass, eval_total, guardrail, breakdown)
                 VALUES ('default', x'01010101010101010101010101010101', 7, 100, 100, 150, 1, 0, 0, 0, 0, 0, 0, 0, 0, '{}'),
                        ('default', x'02020202020202020202020202020202', 7, 300, 300, 350, 1, 0, 0, 0, 0, 0, 0, 0, 0, '{}'),
                        ('default', x'03030303030303030303030303030303', NULL, NULL, 50, 60, 1, 0, 0, 0, 0, 0, 0, 0, 0, '{}');",
            )
            .unwrap();
        }
        let conn = open_writer(&DbPath::File(path.clone())).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let idx = crate::store::index::load(&conn).unwrap();
        let r = idx.read();
        let u = &r.project("default").users[&7];
        assert_eq!((u.first_ns, u.last_ns, u.email.as_deref()), (100, 300, Some("a@x.io")));
        assert_eq!(r.project("default").traces.len(), 3);
        drop(r);
        drop(conn);
        open_reader(&path).unwrap();
    }
}
