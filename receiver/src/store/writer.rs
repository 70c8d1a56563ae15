//! The single writer: one thread owns the write connection, takes span batches from a bounded
//! channel, stores several requests per transaction (group commit), folds the new spans into the
//! trace and user rollups in the same transaction, commits (while the `userspan-index` thread
//! applies the same changes to the in-memory index, which readers see only once the COMMIT has
//! succeeded), and only then answers each request.

use crate::model::{CostSource, SpanRow, TraceRec, UserIdent, UserRec};
use crate::store::index::Index;
use crate::store::static_stmt::{StaticStmt, Val};
use rusqlite::{params, Connection, Transaction};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Spans taken into one transaction at most (more waiting requests wait for the next one).
const GROUP_COMMIT_SPANS: usize = 16 * 1024;

/// What happened to a stored batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Spans newly stored.
    pub inserted: usize,
    /// Spans already stored before (same project, trace id, span id): ignored.
    pub duplicates: usize,
    /// Feedback records stored or replaced (a stale re-send, earlier than the stored record of
    /// its id, is not).
    pub feedback_stored: usize,
}

/// A batch for the writer, answered after COMMIT.
pub struct WriteJob {
    /// The spans.
    pub rows: Vec<SpanRow>,
    /// Feedback records (`docs/design.md`, "Feedback ingest").
    pub feedback: Vec<crate::feedback::FeedbackRow>,
    /// Gets the outcome, or the storage error.
    pub reply: oneshot::Sender<Result<WriteOutcome, String>>,
}

/// Runs the writer loop until every sender is dropped.
/// After each commit the writer pokes `wal_grew` (when there is a checkpoint thread).
pub fn run(
    mut conn: Connection,
    index: Arc<Index>,
    mut rx: mpsc::Receiver<WriteJob>,
    wal_grew: Option<std::sync::mpsc::SyncSender<()>>,
    maintenance: std::sync::mpsc::Receiver<crate::store::erase::MaintJob>,
) {
    let applier = Applier::start(index.clone());
    // Declared after the connection, so dropped (finalized) before it closes.
    let mut inserts = match SpanInserts::prepare(&conn) {
        Ok(i) => i,
        Err(e) => {
            let msg = format!("storage error: cannot prepare the span INSERTs: {e}");
            while let Some(job) = rx.blocking_recv() {
                let _ = job.reply.send(Err(msg.clone()));
            }
            return;
        }
    };
    while let Some(first) = rx.blocking_recv() {
        // Erasure and retention jobs, between groups (their wake-up is a job without spans).
        if crate::store::erase::run_jobs(&mut conn, &index, &maintenance) {
            if let Some(w) = &wal_grew {
                let _ = w.try_send(());
            }
        }
        let mut jobs = vec![first];
        let mut n = jobs[0].rows.len() + jobs[0].feedback.len();
        while n < GROUP_COMMIT_SPANS {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.rows.len() + j.feedback.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        match write_group(&mut conn, &mut inserts, &index, applier.as_ref(), &jobs) {
            Ok(outcomes) => {
                if let Some(w) = &wal_grew {
                    let _ = w.try_send(());
                }
                for (job, o) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(o));
                }
            }
            Err(e) => {
                let msg = format!("storage error: {e}");
                for job in jobs {
                    let _ = job.reply.send(Err(msg.clone()));
                }
            }
        }
        // And again: a wake-up taken into this group was sent after its job was queued.
        if crate::store::erase::run_jobs(&mut conn, &index, &maintenance) {
            if let Some(w) = &wal_grew {
                let _ = w.try_send(());
            }
        }
    }
}

type TraceKey = (Arc<str>, [u8; 16]);

/// How a COMMIT ended, for the thread applying its changes to the index: `Err` carries the
/// index reloaded from the database (`None` if that failed).
type Committed = Result<(), Option<Index>>;

/// A thread that applies each group's rollups to the index while the writer's COMMIT waits for
/// its fsync, instead of after it (readers wait for the commit either way).
struct Applier {
    jobs: std::sync::mpsc::Sender<ApplyJob>,
    applied: std::sync::mpsc::Receiver<()>,
}

struct ApplyJob {
    traces: Vec<(Arc<str>, TraceRec)>,
    users: Vec<(Arc<str>, UserRec)>,
    feedback: Vec<crate::feedback::FeedbackRow>,
    committed: std::sync::mpsc::Receiver<Committed>,
}

impl Applier {
    /// `None` if the thread cannot start (the writer then applies after each commit itself).
    fn start(index: Arc<Index>) -> Option<Applier> {
        let (jobs, todo) = std::sync::mpsc::channel::<ApplyJob>();
        let (done, applied) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("userspan-index".into())
            .spawn(move || {
                for job in todo {
                    index.apply_while_committing(job.traces, job.users, job.feedback, &job.committed);
                    if done.send(()).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Applier { jobs, applied })
    }
}

/// Columns of a stored span, in the order [`span_vals`] lists them.
const SPAN_COLUMNS: &str = "project, trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, status_message,
    service, user_id, user_id_type, user_email, user_metadata, session_id, operation, provider, model, tool, input_tokens,
    output_tokens, cost_micros, llm_call, eval_pass, eval_total, guardrail, attributes, cache_read_tokens,
    cache_write_tokens, reasoning_tokens, estimated_cost_micros, cost_source, price_provider, price_model, tags,
    metadata";
const SPAN_PARAMS: usize = 37;
/// Spans per multi-row INSERT.
const SPANS_PER_INSERT: usize = 32;

/// `INSERT OR IGNORE INTO table (columns) VALUES (?, ...), ...` with `rows` rows of `params`
/// placeholders.
fn insert_sql(table: &str, columns: &str, params: usize, rows: usize) -> String {
    let one = format!("({})", vec!["?"; params].join(", "));
    format!("INSERT OR IGNORE INTO {table} ({columns}) VALUES {}", vec![one; rows].join(", "))
}

fn span_insert_sql(rows: usize) -> String {
    insert_sql("spans", SPAN_COLUMNS, SPAN_PARAMS, rows)
}

/// The span INSERTs, bound without copying the spans' text (see [`StaticStmt`]).
struct SpanInserts {
    /// `SPANS_PER_INSERT` rows, OR IGNORE.
    many: StaticStmt,
    /// One row, OR IGNORE.
    one: StaticStmt,
}

impl SpanInserts {
    fn prepare(conn: &Connection) -> rusqlite::Result<SpanInserts> {
        Ok(SpanInserts {
            many: StaticStmt::prepare(conn, &span_insert_sql(SPANS_PER_INSERT))?,
            one: StaticStmt::prepare(conn, &span_insert_sql(1))?,
        })
    }
}

/// Appends the columns of `s`, in [`SPAN_COLUMNS`] order.
fn span_vals<'a>(s: &'a SpanRow, out: &mut Vec<Val<'a>>) {
    let user = s.user.as_ref();
    out.extend_from_slice(&[
        Val::Text(&s.project),
        Val::Blob(&s.trace_id),
        Val::Blob(&s.span_id),
        s.parent_span_id.as_ref().map_or(Val::Null, |p| Val::Blob(p)),
        Val::Text(&s.name),
        Val::Int(i64::from(s.kind)),
        Val::Int(s.start_ns),
        Val::Int(s.end_ns),
        Val::Int(i64::from(s.status)),
        Val::Text(&s.status_message),
        s.service.as_deref().into(),
        user.map(|u| u.id.as_str()).into(),
        user.map(|u| u.id_type.as_str()).into(),
        s.user_email.as_deref().into(),
        s.user_metadata.as_deref().into(),
        s.session_id.as_deref().into(),
        s.operation.as_deref().into(),
        s.provider.as_deref().into(),
        s.model.as_deref().into(),
        s.tool.as_deref().into(),
        Val::Int(s.input_tokens),
        Val::Int(s.output_tokens),
        Val::Int(s.cost_micros),
        Val::Int(i64::from(s.llm_call)),
        Val::Int(s.eval_pass),
        Val::Int(s.eval_total),
        Val::Int(i64::from(s.guardrail)),
        Val::Text(&s.attributes_json),
        Val::Int(s.cache_read_tokens),
        Val::Int(s.cache_write_tokens),
        Val::Int(s.reasoning_tokens),
        Val::Int(s.estimated_cost_micros),
        s.cost_source.map(|c| c.as_str()).into(),
        s.price_provider.as_deref().into(),
        s.price_model.as_deref().into(),
        s.tags.as_deref().into(),
        s.metadata.as_deref().into(),
    ]);
}

/// Inserts one span (OR IGNORE): whether it was new.
fn insert_one<'a>(inserts: &mut SpanInserts, vals: &mut Vec<Val<'a>>, s: &'a SpanRow) -> rusqlite::Result<bool> {
    vals.clear();
    span_vals(s, vals);
    Ok(inserts.one.execute(vals)? == 1)
}

fn write_group(
    conn: &mut Connection,
    inserts: &mut SpanInserts,
    index: &Index,
    applier: Option<&Applier>,
    jobs: &[WriteJob],
) -> rusqlite::Result<Vec<WriteOutcome>> {
    let tx = conn.transaction()?;
    let mut outcomes = vec![WriteOutcome::default(); jobs.len()];
    // Spans grouped by trace, in arrival order, with the request each came in.
    let mut slot_of: HashMap<TraceKey, usize> = HashMap::new();
    let mut groups: Vec<(TraceKey, Vec<(usize, &SpanRow)>)> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        for s in &job.rows {
            let i = *slot_of.entry((s.project.clone(), s.trace_id)).or_insert_with_key(|k| {
                groups.push((k.clone(), Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push((j, s));
        }
    }
    let keys: Vec<TraceKey> = groups.iter().map(|(k, _)| k.clone()).collect();
    let existing = index.get_traces(&keys);
    drop(keys);

    // The index holds a rollup for every trace with a committed span, so the spans of a trace it
    // does not know are all new (but for repeats inside this group): they go in multi-row INSERTs.
    // Spans of known traces may be redeliveries: one INSERT OR IGNORE each, which tells.
    let mut new_spans: Vec<Vec<&SpanRow>> = Vec::with_capacity(groups.len());
    let mut fresh: Vec<&SpanRow> = Vec::new();
    {
        let mut vals: Vec<Val<'_>> = Vec::with_capacity(SPAN_PARAMS * SPANS_PER_INSERT);
        for ((_, spans), old) in groups.iter().zip(&existing) {
            let mut kept: Vec<&SpanRow> = Vec::with_capacity(spans.len());
            if old.is_none() {
                let mut seen: std::collections::HashSet<[u8; 8]> = std::collections::HashSet::new();
                for &(j, s) in spans {
                    let repeat = if spans.len() <= 16 {
                        kept.iter().any(|k| k.span_id == s.span_id)
                    } else {
                        !seen.insert(s.span_id)
                    };
                    if repeat {
                        outcomes[j].duplicates += 1;
                    } else {
                        outcomes[j].inserted += 1;
                        kept.push(s);
                        fresh.push(s);
                    }
                }
            } else {
                for &(j, s) in spans {
                    if insert_one(inserts, &mut vals, s)? {
                        outcomes[j].inserted += 1;
                        kept.push(s);
                    } else {
                        outcomes[j].duplicates += 1;
                    }
                }
            }
            new_spans.push(kept);
        }
        // OR IGNORE, with the count checked: a plain multi-row INSERT may abort half-way, so
        // SQLite would keep a statement journal (a copy of every page it touches) for it.
        let mut chunks = fresh.chunks_exact(SPANS_PER_INSERT);
        for chunk in &mut chunks {
            vals.clear();
            for s in chunk {
                span_vals(s, &mut vals);
            }
            expect_rows(inserts.many.execute(&vals)?, chunk.len())?;
        }
        for s in chunks.remainder() {
            expect_rows(usize::from(insert_one(inserts, &mut vals, s)?), 1)?;
        }
    }
    let feedback = upsert_feedback(&tx, jobs, &mut outcomes)?;
    if new_spans.iter().all(Vec::is_empty) && feedback.is_empty() {
        tx.commit()?;
        return Ok(outcomes);
    }

    // Each touched trace's rollup is made from all its spans by the nesting rule (`nesting`): a
    // new trace's from this group's spans, a known trace's from its stored spans read back in
    // this transaction (with the new ones), so the numbers do not depend on arrival order. Users
    // are staged per project; each user's lifetime first/last trace start is kept by the index
    // (see `Index::apply`).
    let mut users: HashMap<Arc<str>, HashMap<UserIdent, Staged>> = HashMap::new();
    let mut recs: Vec<(Arc<str>, TraceRec)> = Vec::with_capacity(groups.len());
    // Positions in `recs` of traces new to the store, inserted together below.
    let mut new_traces: Vec<usize> = Vec::new();
    for (((key, _), old), spans) in groups.iter().zip(existing).zip(&new_spans) {
        if spans.is_empty() {
            continue;
        }
        let is_new = old.is_none();
        let mut rec = if is_new {
            TraceRec::from_spans(key.1, spans)
        } else {
            let stored = stored_spans(&tx, &key.0, &key.1)?;
            TraceRec::from_spans(key.1, &stored.iter().collect::<Vec<_>>())
        };
        let staged = users.entry(key.0.clone()).or_insert_with(|| HashMap::with_capacity(groups.len()));
        // Spans of a trace mostly repeat one user: the staged record is looked up again only
        // when the user changes or the span may update the e-mail or metadata.
        let mut prev: Option<(&UserIdent, i64)> = None;
        for s in spans {
            if let Some(ident) = &s.user {
                if s.user_email.is_none() && s.user_metadata.is_none() && prev.is_some_and(|(p, _)| p == ident) {
                    continue;
                }
                let u = user_entry(&tx, index, staged, &key.0, ident)?;
                prev = Some((ident, u.rec.key));
                if let Some(e) = &s.user_email {
                    if s.start_ns >= u.rec.email_ns || u.rec.email.is_none() {
                        u.rec.email = Some(e.clone());
                        u.rec.email_ns = s.start_ns;
                        u.changed = true;
                    }
                }
                if let Some(m) = &s.user_metadata {
                    if s.start_ns >= u.rec.metadata_ns || u.rec.metadata.is_none() {
                        u.rec.metadata = Some(m.clone());
                        u.rec.metadata_ns = s.start_ns;
                        u.changed = true;
                    }
                }
            }
        }
        rec.user_key = match (&rec.user, prev) {
            (Some(p), Some((ident, k))) if &p.value == ident => Some(k),
            (Some(p), _) => Some(user_entry(&tx, index, staged, &key.0, &p.value)?.rec.key),
            (None, _) => None,
        };
        if is_new {
            new_traces.push(recs.len());
        } else {
            write_trace(&tx, &key.0, &rec, false)?;
        }
        recs.push((key.0.clone(), rec));
    }

    {
        let mut many = tx.prepare_cached(&trace_insert_sql(TRACES_PER_INSERT))?;
        let mut chunks = new_traces.chunks_exact(TRACES_PER_INSERT);
        for chunk in &mut chunks {
            for (i, &r) in chunk.iter().enumerate() {
                bind_trace(&mut many, i * TRACE_PARAMS, &recs[r].0, &recs[r].1)?;
            }
            expect_rows(many.raw_execute()?, chunk.len())?;
        }
        for &r in chunks.remainder() {
            write_trace(&tx, &recs[r].0, &recs[r].1, true)?;
        }
    }

    // Users whose e-mail or metadata changed.
    let mut user_recs = Vec::new();
    {
        let mut upd = tx.prepare_cached(
            "UPDATE users SET email = ?2, email_ns = ?3, metadata = ?4, metadata_ns = ?5 WHERE id = ?1",
        )?;
        for (p, staged) in users {
            for (_, u) in staged {
                if u.changed {
                    upd.execute(params![u.rec.key, u.rec.email, u.rec.email_ns, u.rec.metadata, u.rec.metadata_ns])?;
                }
                if u.changed || u.created {
                    user_recs.push((p.clone(), u.rec));
                }
            }
        }
    }
    let Some(applier) = applier else {
        tx.commit()?;
        index.apply_with_feedback(recs, user_recs, feedback);
        return Ok(outcomes);
    };
    let (tell, committed) = std::sync::mpsc::sync_channel::<Committed>(1);
    if let Err(e) = applier.jobs.send(ApplyJob { traces: recs, users: user_recs, feedback, committed }) {
        // The applying thread is gone: apply here, after the commit.
        tx.commit()?;
        index.apply_with_feedback(e.0.traces, e.0.users, e.0.feedback);
        return Ok(outcomes);
    }
    let result = tx.commit();
    let _ = tell.send(match &result {
        Ok(()) => Ok(()),
        Err(_) => Err(crate::store::index::load(conn).ok()),
    });
    // Answer only once the index has the changes (and readers may see them).
    let _ = applier.applied.recv();
    result.map(|()| outcomes)
}

/// Stores the groups' feedback records, idempotent on (project, id): a record replaces the
/// stored one of its id when its time is later or equal, else it is ignored. Returns the records
/// stored or replaced (for the index), counted per job in `outcomes`.
fn upsert_feedback(
    tx: &Transaction<'_>,
    jobs: &[WriteJob],
    outcomes: &mut [WriteOutcome],
) -> rusqlite::Result<Vec<crate::feedback::FeedbackRow>> {
    let mut stored = Vec::new();
    if jobs.iter().all(|j| j.feedback.is_empty()) {
        return Ok(stored);
    }
    let mut up = tx.prepare_cached(
        "INSERT INTO feedback (project, id, time_ns, name, value, label, comment, source, trace_id, span_id, user_id,
                               user_id_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (project, id) DO UPDATE SET time_ns = excluded.time_ns, name = excluded.name,
             value = excluded.value, label = excluded.label, comment = excluded.comment, source = excluded.source,
             trace_id = excluded.trace_id, span_id = excluded.span_id, user_id = excluded.user_id,
             user_id_type = excluded.user_id_type
         WHERE excluded.time_ns >= feedback.time_ns",
    )?;
    for (j, job) in jobs.iter().enumerate() {
        for r in &job.feedback {
            let n = up.execute(params![
                &*r.project,
                &*r.id,
                r.time_ns,
                r.name,
                r.value,
                r.label,
                r.comment,
                r.source.as_str(),
                r.trace_id.as_ref().map(|t| &t[..]),
                r.span_id.as_ref().map(|s| &s[..]),
                r.user.as_ref().map(|u| u.id.as_str()),
                r.user.as_ref().map(|u| u.id_type.as_str()),
            ])?;
            if n > 0 {
                outcomes[j].feedback_stored += 1;
                stored.push(r.clone());
            }
        }
    }
    Ok(stored)
}

/// The stored spans of a trace, with the columns its rollup reads (not the attributes).
pub(crate) fn stored_spans(
    tx: &Transaction<'_>,
    project: &Arc<str>,
    trace_id: &[u8; 16],
) -> rusqlite::Result<Vec<SpanRow>> {
    let mut st = tx.prepare_cached(
        "SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, status, user_id, user_id_type, session_id,
                operation, provider, model, tool, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                reasoning_tokens, cost_micros, estimated_cost_micros, cost_source, llm_call, eval_pass, eval_total,
                guardrail, tags, metadata
         FROM spans WHERE project = ?1 AND trace_id = ?2",
    )?;
    let rows = st.query_map(params![&**project, &trace_id[..]], |r| {
        let id8 = |v: Option<Vec<u8>>| v.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok());
        let user = match (r.get::<_, Option<String>>(7)?, r.get::<_, Option<String>>(8)?) {
            (Some(id), t) => Some(UserIdent { id, id_type: t.unwrap_or_default() }),
            _ => None,
        };
        let cost_source = match r.get::<_, Option<String>>(21)?.as_deref() {
            Some(userspan::conventions::COST_SOURCE_REPORTED) => Some(CostSource::Reported),
            Some(userspan::conventions::COST_SOURCE_ESTIMATED) => Some(CostSource::Estimated),
            Some(userspan::conventions::COST_SOURCE_UNPRICED) => Some(CostSource::Unpriced),
            _ => None,
        };
        Ok(SpanRow {
            project: project.clone(),
            trace_id: *trace_id,
            span_id: id8(r.get(0)?).unwrap_or([0; 8]),
            parent_span_id: id8(r.get(1)?),
            name: r.get(2)?,
            kind: r.get(3)?,
            start_ns: r.get(4)?,
            end_ns: r.get(5)?,
            status: r.get(6)?,
            status_message: String::new(),
            service: None,
            user,
            user_email: None,
            user_metadata: None,
            session_id: r.get(9)?,
            operation: r.get(10)?,
            provider: r.get(11)?,
            model: r.get(12)?,
            tool: r.get(13)?,
            input_tokens: r.get(14)?,
            output_tokens: r.get(15)?,
            cache_read_tokens: r.get(16)?,
            cache_write_tokens: r.get(17)?,
            reasoning_tokens: r.get(18)?,
            cost_micros: r.get(19)?,
            estimated_cost_micros: r.get(20)?,
            cost_source,
            price_provider: None,
            price_model: None,
            issues: Default::default(),
            llm_call: r.get(22)?,
            eval_pass: r.get(23)?,
            eval_total: r.get(24)?,
            guardrail: r.get(25)?,
            attributes_json: String::new(),
            tags: r.get(26)?,
            metadata: r.get(27)?,
        })
    })?;
    rows.collect()
}

/// A user record as this group leaves it.
struct Staged {
    rec: UserRec,
    /// Inserted by this group.
    created: bool,
    /// E-mail or metadata changed.
    changed: bool,
}

/// The staged user record for `ident`, from this group, the index, or newly inserted.
fn user_entry<'a>(
    tx: &Transaction<'_>,
    index: &Index,
    users: &'a mut HashMap<UserIdent, Staged>,
    project: &Arc<str>,
    ident: &UserIdent,
) -> rusqlite::Result<&'a mut Staged> {
    if !users.contains_key(ident) {
        let staged = match index.get_user(project, ident) {
            Some(rec) => Staged { rec, created: false, changed: false },
            None => {
                tx.prepare_cached(
                    "INSERT INTO users (project, user_id, user_id_type, email, email_ns, metadata, metadata_ns)
                     VALUES (?1, ?2, ?3, NULL, ?4, NULL, ?4)",
                )?
                .execute(params![&**project, ident.id, ident.id_type, i64::MIN])?;
                let rec = UserRec {
                    key: tx.last_insert_rowid(),
                    ident: ident.clone(),
                    email: None,
                    email_ns: i64::MIN,
                    metadata: None,
                    metadata_ns: i64::MIN,
                    first_ns: i64::MAX,
                    last_ns: i64::MIN,
                };
                Staged { rec, created: true, changed: false }
            }
        };
        users.insert(ident.clone(), staged);
    }
    Ok(users.get_mut(ident).expect("inserted above"))
}

const TRACE_COLUMNS: &str = "project, trace_id, user_key, user_start_ns, user_span_id, session_id, session_start_ns,
    session_span_id, name, name_rank, name_start_ns, name_span_id, start_ns, end_ns, span_count, errored, llm_calls,
    input_tokens, output_tokens, cost_micros, eval_pass, eval_total, guardrail, breakdown, estimated_cost_micros,
    unpriced_llm_calls, tags, metadata";
const TRACE_PARAMS: usize = 28;
/// New traces per multi-row INSERT.
const TRACES_PER_INSERT: usize = 16;

fn trace_insert_sql(rows: usize) -> String {
    insert_sql("traces", TRACE_COLUMNS, TRACE_PARAMS, rows)
}

/// Rows that must all be new (the index knows every stored trace) were all inserted; anything
/// else fails the group, which is rolled back and answered 503.
fn expect_rows(changed: usize, want: usize) -> rusqlite::Result<()> {
    if changed == want {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some(format!("{} of {want} new rows were already stored", want - changed)),
        ))
    }
}

/// Binds the columns of `t` at parameters `base + 1 ..= base + TRACE_PARAMS`, in
/// [`TRACE_COLUMNS`] order.
fn bind_trace(
    st: &mut rusqlite::CachedStatement<'_>,
    base: usize,
    project: &str,
    t: &TraceRec,
) -> rusqlite::Result<()> {
    let breakdown = serde_json::to_string(&t.breakdown).unwrap_or_else(|_| "{}".into());
    st.raw_bind_parameter(base + 1, project)?;
    st.raw_bind_parameter(base + 2, &t.trace_id[..])?;
    st.raw_bind_parameter(base + 3, t.user_key)?;
    st.raw_bind_parameter(base + 4, t.user.as_ref().map(|p| p.start_ns))?;
    st.raw_bind_parameter(base + 5, t.user.as_ref().map(|p| &p.span_id[..]))?;
    st.raw_bind_parameter(base + 6, t.session.as_ref().map(|p| p.value.as_str()))?;
    st.raw_bind_parameter(base + 7, t.session.as_ref().map(|p| p.start_ns))?;
    st.raw_bind_parameter(base + 8, t.session.as_ref().map(|p| &p.span_id[..]))?;
    st.raw_bind_parameter(base + 9, t.name.as_ref().map(|p| p.value.as_str()))?;
    st.raw_bind_parameter(base + 10, t.name.as_ref().map(|p| p.rank))?;
    st.raw_bind_parameter(base + 11, t.name.as_ref().map(|p| p.start_ns))?;
    st.raw_bind_parameter(base + 12, t.name.as_ref().map(|p| &p.span_id[..]))?;
    st.raw_bind_parameter(base + 13, t.start_ns)?;
    st.raw_bind_parameter(base + 14, t.end_ns)?;
    st.raw_bind_parameter(base + 15, t.span_count)?;
    st.raw_bind_parameter(base + 16, t.errored)?;
    st.raw_bind_parameter(base + 17, t.llm_calls)?;
    st.raw_bind_parameter(base + 18, t.input_tokens)?;
    st.raw_bind_parameter(base + 19, t.output_tokens)?;
    st.raw_bind_parameter(base + 20, t.cost_micros)?;
    st.raw_bind_parameter(base + 21, t.eval_pass)?;
    st.raw_bind_parameter(base + 22, t.eval_total)?;
    st.raw_bind_parameter(base + 23, t.guardrail)?;
    st.raw_bind_parameter(base + 24, breakdown)?;
    st.raw_bind_parameter(base + 25, t.estimated_cost_micros)?;
    st.raw_bind_parameter(base + 26, t.unpriced_llm_calls)?;
    let tags = t.tags_metadata.as_ref().filter(|x| !x.tags.is_empty()).map(|x| serde_json::to_string(&x.tags));
    st.raw_bind_parameter(base + 27, tags.and_then(Result::ok))?;
    st.raw_bind_parameter(base + 28, t.metadata())?;
    Ok(())
}

/// Stores one trace rollup: INSERT when new, else UPDATE in place (INSERT OR REPLACE would
/// delete and re-insert it).
pub(crate) fn write_trace(tx: &Transaction<'_>, project: &str, t: &TraceRec, is_new: bool) -> rusqlite::Result<()> {
    let mut st = if is_new {
        tx.prepare_cached(&trace_insert_sql(1))?
    } else {
        tx.prepare_cached(
            "UPDATE traces SET user_key = ?3, user_start_ns = ?4, user_span_id = ?5, session_id = ?6,
                session_start_ns = ?7, session_span_id = ?8, name = ?9, name_rank = ?10, name_start_ns = ?11,
                name_span_id = ?12, start_ns = ?13, end_ns = ?14, span_count = ?15, errored = ?16, llm_calls = ?17,
                input_tokens = ?18, output_tokens = ?19, cost_micros = ?20, eval_pass = ?21, eval_total = ?22,
                guardrail = ?23, breakdown = ?24, estimated_cost_micros = ?25, unpriced_llm_calls = ?26,
                tags = ?27, metadata = ?28
             WHERE project = ?1 AND trace_id = ?2",
        )?
    };
    bind_trace(&mut st, 0, project, t)?;
    expect_rows(st.raw_execute()?, 1)
}
