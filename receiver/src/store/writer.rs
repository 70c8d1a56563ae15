//! The single writer: one thread owns the write connection, takes span batches from a bounded
//! channel, stores several requests per transaction (group commit), folds the new spans into the
//! trace and user rollups in the same transaction, commits, updates the in-memory index, and only
//! then answers each request.

use crate::model::{SpanRow, TraceRec, UserIdent, UserRec};
use crate::store::index::Index;
use rusqlite::{params, Connection, Transaction};
use std::collections::hash_map::Entry;
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
}

/// A batch for the writer, answered after COMMIT.
pub struct WriteJob {
    /// The spans.
    pub rows: Vec<SpanRow>,
    /// Gets the outcome, or the storage error.
    pub reply: oneshot::Sender<Result<WriteOutcome, String>>,
}

/// Runs the writer loop until every sender is dropped.
pub fn run(mut conn: Connection, index: Arc<Index>, mut rx: mpsc::Receiver<WriteJob>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        let mut n = jobs[0].rows.len();
        while n < GROUP_COMMIT_SPANS {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.rows.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        match write_group(&mut conn, &index, &jobs) {
            Ok(outcomes) => {
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
    }
}

type TraceKey = (Arc<str>, [u8; 16]);

fn write_group(conn: &mut Connection, index: &Index, jobs: &[WriteJob]) -> rusqlite::Result<Vec<WriteOutcome>> {
    let tx = conn.transaction()?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    // New spans grouped by trace, in arrival order.
    let mut new_spans: HashMap<TraceKey, Vec<&SpanRow>> = HashMap::new();
    let mut trace_order: Vec<TraceKey> = Vec::new();
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR IGNORE INTO spans (project, trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns,
                status, status_message, service, user_id, user_id_type, user_email, user_metadata, session_id,
                operation, provider, model, tool, input_tokens, output_tokens, cost_micros, llm_call, eval_pass,
                eval_total, guardrail, attributes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
        )?;
        for job in jobs {
            let mut o = WriteOutcome::default();
            for s in &job.rows {
                let changed = ins.execute(params![
                    &*s.project,
                    &s.trace_id[..],
                    &s.span_id[..],
                    s.parent_span_id.as_ref().map(|p| &p[..]),
                    s.name,
                    s.kind,
                    s.start_ns,
                    s.end_ns,
                    s.status,
                    s.status_message,
                    s.service.as_deref(),
                    s.user.as_ref().map(|u| u.id.as_str()),
                    s.user.as_ref().map(|u| u.id_type.as_str()),
                    s.user_email,
                    s.user_metadata,
                    s.session_id,
                    s.operation,
                    s.provider,
                    s.model,
                    s.tool,
                    s.input_tokens,
                    s.output_tokens,
                    s.cost_micros,
                    s.llm_call,
                    s.eval_pass,
                    s.eval_total,
                    s.guardrail,
                    s.attributes_json,
                ])?;
                if changed == 1 {
                    o.inserted += 1;
                    match new_spans.entry((s.project.clone(), s.trace_id)) {
                        Entry::Occupied(mut e) => e.get_mut().push(s),
                        Entry::Vacant(e) => {
                            trace_order.push(e.key().clone());
                            e.insert(vec![s]);
                        }
                    }
                } else {
                    o.duplicates += 1;
                }
            }
            outcomes.push(o);
        }
    }
    if trace_order.is_empty() {
        tx.commit()?;
        return Ok(outcomes);
    }

    // Fold the new spans into the existing rollups. Users are staged per project; each user's
    // lifetime first/last trace start is kept by the index (see `Index::apply`).
    let existing = index.get_traces(&trace_order);
    let mut users: HashMap<Arc<str>, HashMap<UserIdent, Staged>> = HashMap::new();
    let mut recs: Vec<(Arc<str>, TraceRec)> = Vec::with_capacity(trace_order.len());
    for (key, old) in trace_order.iter().zip(existing) {
        let is_new = old.is_none();
        let mut rec = old.unwrap_or_else(|| TraceRec::new(key.1));
        let staged = users.entry(key.0.clone()).or_default();
        for s in &new_spans[key] {
            rec.add_span(s);
            if let Some(ident) = &s.user {
                let u = user_entry(&tx, index, staged, &key.0, ident)?;
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
        rec.user_key = match &rec.user {
            Some(p) => Some(user_entry(&tx, index, staged, &key.0, &p.value)?.rec.key),
            None => None,
        };
        write_trace(&tx, &key.0, &rec, is_new)?;
        recs.push((key.0.clone(), rec));
    }

    // Users whose e-mail or metadata changed.
    let mut user_recs = Vec::new();
    {
        let mut upd =
            tx.prepare_cached("UPDATE users SET email = ?2, email_ns = ?3, metadata = ?4, metadata_ns = ?5 WHERE id = ?1")?;
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
    tx.commit()?;
    index.apply(recs, user_recs);
    Ok(outcomes)
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

fn write_trace(tx: &Transaction<'_>, project: &str, t: &TraceRec, is_new: bool) -> rusqlite::Result<()> {
    let breakdown = serde_json::to_string(&t.breakdown).unwrap_or_else(|_| "{}".into());
    // A trace already stored is updated in place (INSERT OR REPLACE would delete and re-insert it).
    let sql = if is_new {
        "INSERT INTO traces (project, trace_id, user_key, user_start_ns, user_span_id, session_id,
            session_start_ns, session_span_id, name, name_rank, name_start_ns, name_span_id, start_ns, end_ns,
            span_count, errored, llm_calls, input_tokens, output_tokens, cost_micros, eval_pass, eval_total,
            guardrail, breakdown)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
            ?22, ?23, ?24)"
    } else {
        "UPDATE traces SET user_key = ?3, user_start_ns = ?4, user_span_id = ?5, session_id = ?6,
            session_start_ns = ?7, session_span_id = ?8, name = ?9, name_rank = ?10, name_start_ns = ?11,
            name_span_id = ?12, start_ns = ?13, end_ns = ?14, span_count = ?15, errored = ?16, llm_calls = ?17,
            input_tokens = ?18, output_tokens = ?19, cost_micros = ?20, eval_pass = ?21, eval_total = ?22,
            guardrail = ?23, breakdown = ?24
         WHERE project = ?1 AND trace_id = ?2"
    };
    tx.prepare_cached(sql)?.execute(params![
        project,
        &t.trace_id[..],
        t.user_key,
        t.user.as_ref().map(|p| p.start_ns),
        t.user.as_ref().map(|p| &p.span_id[..]),
        t.session.as_ref().map(|p| p.value.as_str()),
        t.session.as_ref().map(|p| p.start_ns),
        t.session.as_ref().map(|p| &p.span_id[..]),
        t.name.as_ref().map(|p| p.value.as_str()),
        t.name.as_ref().map(|p| p.rank),
        t.name.as_ref().map(|p| p.start_ns),
        t.name.as_ref().map(|p| &p.span_id[..]),
        t.start_ns,
        t.end_ns,
        t.span_count,
        t.errored,
        t.llm_calls,
        t.input_tokens,
        t.output_tokens,
        t.cost_micros,
        t.eval_pass,
        t.eval_total,
        t.guardrail,
        breakdown,
    ])?;
    Ok(())
}
