//! The single writer: one thread owns the write connection, takes span batches from a bounded
//! channel, stores several requests per transaction (group commit), folds the new spans into the
//! trace and user rollups in the same transaction, commits, updates the in-memory index, and only
//! then answers each request.

use crate::model::{SpanRow, TraceRec, UserIdent, UserRec};
use crate::store::index::Index;
use rusqlite::{params, Connection, Transaction};
use std::collections::{HashMap, HashSet};
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
type UserKey = (Arc<str>, UserIdent);

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
                    let key = (s.project.clone(), s.trace_id);
                    let e = new_spans.entry(key.clone()).or_default();
                    if e.is_empty() {
                        trace_order.push(key);
                    }
                    e.push(s);
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

    // Fold the new spans into the existing rollups.
    let existing = index.get_traces(&trace_order);
    let mut users: HashMap<UserKey, UserRec> = HashMap::new();
    let mut touched_users: HashSet<(Arc<str>, i64)> = HashSet::new();
    let mut recs: Vec<(Arc<str>, TraceRec)> = Vec::with_capacity(trace_order.len());
    for (key, old) in trace_order.iter().zip(existing) {
        let old_user_key = old.as_ref().and_then(|t| t.user_key);
        let mut rec = old.unwrap_or_else(|| TraceRec::new(key.1));
        for s in &new_spans[key] {
            rec.add_span(s);
            if let Some(ident) = &s.user {
                let u = user_entry(&tx, index, &mut users, &key.0, ident)?;
                if let Some(e) = &s.user_email {
                    if s.start_ns >= u.email_ns || u.email.is_none() {
                        u.email = Some(e.clone());
                        u.email_ns = s.start_ns;
                    }
                }
                if let Some(m) = &s.user_metadata {
                    if s.start_ns >= u.metadata_ns || u.metadata.is_none() {
                        u.metadata = Some(m.clone());
                        u.metadata_ns = s.start_ns;
                    }
                }
            }
        }
        rec.user_key = match &rec.user {
            Some(p) => Some(user_entry(&tx, index, &mut users, &key.0, &p.value)?.key),
            None => None,
        };
        if let Some(k) = old_user_key {
            touched_users.insert((key.0.clone(), k));
        }
        if let Some(k) = rec.user_key {
            touched_users.insert((key.0.clone(), k));
        }
        upsert_trace(&tx, &key.0, &rec)?;
        recs.push((key.0.clone(), rec));
    }

    // Users: lifetime first/last trace start from the traces just written.
    let mut by_key: HashMap<(Arc<str>, i64), UserRec> =
        users.into_iter().map(|((p, _), u)| ((p, u.key), u)).collect();
    for (p, k) in touched_users {
        if let std::collections::hash_map::Entry::Vacant(e) = by_key.entry((p.clone(), k)) {
            if let Some(u) = index.get_user_by_key(&p, k) {
                e.insert(u);
            }
        }
    }
    {
        let mut span_q =
            tx.prepare_cached("SELECT min(start_ns), max(start_ns) FROM traces WHERE project = ?1 AND user_key = ?2")?;
        let mut upd = tx.prepare_cached(
            "UPDATE users SET email = ?2, email_ns = ?3, metadata = ?4, metadata_ns = ?5, first_ns = ?6, last_ns = ?7
             WHERE id = ?1",
        )?;
        for ((p, k), u) in by_key.iter_mut() {
            let (first, last): (Option<i64>, Option<i64>) = span_q.query_row(params![&**p, k], |r| Ok((r.get(0)?, r.get(1)?)))?;
            u.first_ns = first.unwrap_or(i64::MAX);
            u.last_ns = last.unwrap_or(i64::MIN);
            upd.execute(params![u.key, u.email, u.email_ns, u.metadata, u.metadata_ns, u.first_ns, u.last_ns])?;
        }
    }
    tx.commit()?;
    index.apply(recs, by_key.into_iter().map(|((p, _), u)| (p, u)).collect());
    Ok(outcomes)
}

/// The staged user record for `ident`, from this group, the index, or newly inserted.
fn user_entry<'a>(
    tx: &Transaction<'_>,
    index: &Index,
    users: &'a mut HashMap<UserKey, UserRec>,
    project: &Arc<str>,
    ident: &UserIdent,
) -> rusqlite::Result<&'a mut UserRec> {
    let key = (project.clone(), ident.clone());
    if !users.contains_key(&key) {
        let rec = match index.get_user(project, ident) {
            Some(u) => u,
            None => {
                tx.prepare_cached(
                    "INSERT INTO users (project, user_id, user_id_type, email, email_ns, metadata, metadata_ns, first_ns, last_ns)
                     VALUES (?1, ?2, ?3, NULL, ?4, NULL, ?4, ?5, ?4)",
                )?
                .execute(params![&**project, ident.id, ident.id_type, i64::MIN, i64::MAX])?;
                UserRec {
                    key: tx.last_insert_rowid(),
                    ident: ident.clone(),
                    email: None,
                    email_ns: i64::MIN,
                    metadata: None,
                    metadata_ns: i64::MIN,
                    first_ns: i64::MAX,
                    last_ns: i64::MIN,
                }
            }
        };
        users.insert(key.clone(), rec);
    }
    Ok(users.get_mut(&key).expect("inserted above"))
}

fn upsert_trace(tx: &Transaction<'_>, project: &str, t: &TraceRec) -> rusqlite::Result<()> {
    let breakdown = serde_json::to_string(&t.breakdown).unwrap_or_else(|_| "{}".into());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO traces (project, trace_id, user_key, user_start_ns, user_span_id, session_id,
            session_start_ns, session_span_id, name, name_rank, name_start_ns, name_span_id, start_ns, end_ns,
            span_count, errored, llm_calls, input_tokens, output_tokens, cost_micros, eval_pass, eval_total,
            guardrail, breakdown)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
            ?22, ?23, ?24)",
    )?
    .execute(params![
        project,
        &t.trace_id[..],
        t.user_key,
        t.user.as_ref().map(|p| p.start_ns),
        t.user.as_ref().map(|p| p.span_id.to_vec()),
        t.session.as_ref().map(|p| p.value.as_str()),
        t.session.as_ref().map(|p| p.start_ns),
        t.session.as_ref().map(|p| p.span_id.to_vec()),
        t.name.as_ref().map(|p| p.value.as_str()),
        t.name.as_ref().map(|p| p.rank),
        t.name.as_ref().map(|p| p.start_ns),
        t.name.as_ref().map(|p| p.span_id.to_vec()),
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
