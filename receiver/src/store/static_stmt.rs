//! A prepared statement that binds text and blobs without copying them (`SQLITE_STATIC`), for
//! the writer's span INSERTs: rusqlite always binds with `SQLITE_TRANSIENT`, and copying every
//! text column of every span into SQLite's own buffers was a tenth of the writer's time.

use rusqlite::{ffi, Connection};
use std::ffi::{c_int, CStr, CString};
use std::ptr;

/// One parameter value, borrowed for the duration of [`StaticStmt::execute`].
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// A blob.
    Blob(&'a [u8]),
}

impl<'a> From<Option<&'a str>> for Val<'a> {
    fn from(v: Option<&'a str>) -> Val<'a> {
        v.map_or(Val::Null, Val::Text)
    }
}

/// A statement prepared on a connection; finalized when dropped, which must happen before the
/// connection closes (the writer declares its statements after its connection).
pub struct StaticStmt {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    params: usize,
}

fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is a valid connection handle; sqlite3_errmsg returns a NUL-terminated string
    // owned by SQLite, copied here before any other call on the connection.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }.to_string_lossy().into_owned();
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some(msg))
}

impl StaticStmt {
    /// Prepares `sql` on `conn`.
    pub fn prepare(conn: &Connection, sql: &str) -> rusqlite::Result<StaticStmt> {
        let sql_c = CString::new(sql).map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?;
        // SAFETY: the handle stays valid while `conn` lives, and the statement is finalized
        // before the connection is closed (see the type's documentation).
        unsafe {
            let db = conn.handle();
            let mut stmt = ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v3(
                db,
                sql_c.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                ptr::null_mut(),
            );
            if rc != ffi::SQLITE_OK {
                return Err(error(db, rc));
            }
            let params = ffi::sqlite3_bind_parameter_count(stmt) as usize;
            Ok(StaticStmt { db, stmt, params })
        }
    }

    /// Binds `values` (exactly one per parameter, in order), runs the statement to completion and
    /// returns the number of rows it changed. Nothing stays bound afterwards, so the borrowed
    /// values need to live only for this call.
    pub fn execute(&mut self, values: &[Val<'_>]) -> rusqlite::Result<usize> {
        if values.len() != self.params {
            return Err(rusqlite::Error::InvalidParameterCount(values.len(), self.params));
        }
        // SAFETY: `stmt` is a live prepared statement of `db`; text and blob pointers stay valid
        // until the bindings are cleared below, before this function returns.
        unsafe {
            let mut rc = ffi::SQLITE_OK;
            for (i, v) in values.iter().enumerate() {
                let ix = (i + 1) as c_int;
                rc = match *v {
                    Val::Null => ffi::sqlite3_bind_null(self.stmt, ix),
                    Val::Int(n) => ffi::sqlite3_bind_int64(self.stmt, ix, n),
                    Val::Text(s) => ffi::sqlite3_bind_text64(
                        self.stmt,
                        ix,
                        s.as_ptr().cast(),
                        s.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Val::Blob(b) => {
                        ffi::sqlite3_bind_blob64(self.stmt, ix, b.as_ptr().cast(), b.len() as u64, ffi::SQLITE_STATIC())
                    }
                };
                if rc != ffi::SQLITE_OK {
                    break;
                }
            }
            if rc == ffi::SQLITE_OK {
                rc = ffi::sqlite3_step(self.stmt);
            }
            let changed = ffi::sqlite3_changes64(self.db) as usize;
            let result = if rc == ffi::SQLITE_DONE { Ok(changed) } else { Err(error(self.db, rc)) };
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
            result
        }
    }
}

impl Drop for StaticStmt {
    fn drop(&mut self) {
        // SAFETY: finalized once, while its connection is still open.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_and_reports_changes_and_errors() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT NOT NULL, b BLOB, n INTEGER, PRIMARY KEY (a))").unwrap();
        let mut ins = StaticStmt::prepare(&conn, "INSERT OR IGNORE INTO t VALUES (?, ?, ?), (?, ?, ?)").unwrap();
        {
            let (x, y) = (String::from("héllo"), vec![1u8, 2, 3]);
            let vals = [Val::Text(&x), Val::Blob(&y), Val::Int(-7), Val::Text("z"), Val::Null, Val::Null];
            assert_eq!(ins.execute(&vals).unwrap(), 2);
            assert_eq!(ins.execute(&vals).unwrap(), 0, "both rows already there");
            assert!(matches!(ins.execute(&vals[..3]), Err(rusqlite::Error::InvalidParameterCount(3, 6))));
        }
        // The values above are gone; nothing of them stays bound.
        let vals = [Val::Text("b"), Val::Null, Val::Int(1), Val::Text("z"), Val::Null, Val::Null];
        assert_eq!(ins.execute(&vals).unwrap(), 1);
        let rows: Vec<(String, Option<Vec<u8>>, Option<i64>)> = conn
            .prepare("SELECT a, b, n FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                ("b".into(), None, Some(1)),
                ("héllo".into(), Some(vec![1, 2, 3]), Some(-7)),
                ("z".into(), None, None)
            ]
        );
        let mut strict = StaticStmt::prepare(&conn, "INSERT INTO t VALUES (?, ?, ?)").unwrap();
        let err = strict.execute(&[Val::Text("z"), Val::Null, Val::Null]).unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        assert!(StaticStmt::prepare(&conn, "INSERT INTO nope VALUES (?)").is_err());
    }
}
