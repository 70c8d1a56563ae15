//! Erasure (all of one end user's data: `DELETE /api/users/{user_id}`, `userspan forget`) and
//! retention (traces older than `serve --retention-days`), as `docs/design.md` ("Erasure and
//! retention") defines them.
//!
//! Both delete on the writer's connection, in the writer thread, between two group commits, so
//! they never race ingest: a job is queued on a channel of its own ([`Maintenance`]) and the
//! writer is woken by a write job without spans. Each job is one transaction, and the in-memory
//! index follows it right after its COMMIT, before the job is answered. Retention works in
//! batches of [`PURGE_BATCH`] traces, so ingest is served between them.

use crate::metrics::detail::find_user;
use crate::model::{SpanRow, TraceRec, UserIdent, UserRec};
use crate::store::index::Index;
use crate::store::writer::{stored_spans, write_trace, WriteJob};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Traces deleted per retention transaction.
pub const PURGE_BATCH: usize = 500;

/// What an erasure removed (the JSON answer of `DELETE /api/users/{user_id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// The user id erased.
    pub user_id: String,
    /// Its id type: the one asked for, else the one the user detail would show (the most
    /// recently active); `null` when the id was not known under any type, or under several
    /// without a user record (every one of them was erased).
    #[serde(rename = "type")]
    pub user_id_type: Option<String>,
    /// Project.
    pub project: String,
    /// Counts of what is gone.
    pub removed: Removed,
    /// Traces that keep spans of other users: the user's spans left them and their rollup
    /// was recomputed from the remaining spans (owner, session, tokens, cost...).
    pub recomputed_traces: u64,
}

/// The counts of an erasure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Spans deleted (the user's, and the spans without a user of the traces deleted).
    pub spans: u64,
    /// Traces deleted: those with no span of another user left.
    pub traces: u64,
    /// Distinct sessions of the user's traces (what their sessions list showed).
    pub sessions: u64,
}

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Spans deleted.
    pub spans: u64,
    /// Traces deleted.
    pub traces: u64,
    /// Users deleted: those left without any trace.
    pub users: u64,
    /// Feedback records deleted: given before the cutoff, or of a deleted trace.
    pub feedback: u64,
}

/// A job for the writer thread.
pub enum MaintJob {
    /// Erase a user.
    Erase {
        /// Project.
        project: String,
        /// User id.
        user_id: String,
        /// Id type (`None`: as the user detail picks it).
        id_type: Option<String>,
        /// Gets the outcome.
        reply: oneshot::Sender<Result<Erased, String>>,
    },
    /// Delete these traces if they still start before `cutoff_ns`.
    Purge {
        /// Unix ns.
        cutoff_ns: i64,
        /// (project, trace id).
        traces: Vec<(Arc<str>, [u8; 16])>,
        /// Gets the outcome.
        reply: oneshot::Sender<Result<Purged, String>>,
    },
}

const GONE: &str = "storage unavailable: the writer has stopped";

/// The handle that queues erasure and retention jobs for the writer thread. It does not keep
/// the writer running (the writer stops when ingest's senders are gone). `Default`: a handle
/// without a writer, whose jobs fail.
#[derive(Clone, Default)]
pub struct Maintenance {
    link: Option<Link>,
}

#[derive(Clone)]
struct Link {
    jobs: std::sync::mpsc::Sender<MaintJob>,
    wake: mpsc::WeakSender<WriteJob>,
    index: Arc<Index>,
}

impl Maintenance {
    /// A handle for the writer reading `jobs`' receiver and `wake`'s channel.
    pub(crate) fn new(
        jobs: std::sync::mpsc::Sender<MaintJob>,
        wake: &mpsc::Sender<WriteJob>,
        index: Arc<Index>,
    ) -> Self {
        Maintenance { link: Some(Link { jobs, wake: wake.downgrade(), index }) }
    }

    fn queue(&self, job: MaintJob) -> Result<mpsc::Sender<WriteJob>, String> {
        let link = self.link.as_ref().ok_or(GONE)?;
        let wake = link.wake.upgrade().ok_or(GONE)?;
        link.jobs.send(job).map_err(|_| GONE.to_string())?;
        Ok(wake)
    }

    async fn run<T>(&self, job: MaintJob, rx: oneshot::Receiver<Result<T, String>>) -> Result<T, String> {
        let wake = self.queue(job)?;
        let (reply, _) = oneshot::channel();
        wake.send(WriteJob { rows: Vec::new(), feedback: Vec::new(), reply }).await.map_err(|_| GONE.to_string())?;
        drop(wake);
        rx.await.map_err(|_| GONE.to_string())?
    }

    /// Erases the user `user_id` (of `id_type`, else the type the user detail shows) of
    /// `project`: see [`erase_user`]. Answers once the deletion is committed and the index
    /// follows it. `Err`: a storage error (nothing was deleted).
    pub async fn erase(&self, project: String, user_id: String, id_type: Option<String>) -> Result<Erased, String> {
        let (reply, rx) = oneshot::channel();
        self.run(MaintJob::Erase { project, user_id, id_type, reply }, rx).await
    }

    /// Deletes every trace (with its spans) that starts before `cutoff_ns` (unix ns), in
    /// transactions of [`PURGE_BATCH`] traces with ingest served between them: see
    /// [`purge_traces`]. Returns the totals.
    pub async fn purge(&self, cutoff_ns: i64) -> Result<Purged, String> {
        let index = self.link.as_ref().ok_or(GONE)?.index.clone();
        let old = index.traces_started_before(cutoff_ns);
        let mut total = Purged::default();
        // One pass even without old traces: old feedback goes too.
        let chunks: Vec<&[(Arc<str>, [u8; 16])]> =
            if old.is_empty() { vec![&[]] } else { old.chunks(PURGE_BATCH).collect() };
        for chunk in chunks {
            let (reply, rx) = oneshot::channel();
            let p = self.run(MaintJob::Purge { cutoff_ns, traces: chunk.to_vec(), reply }, rx).await?;
            total.spans += p.spans;
            total.traces += p.traces;
            total.users += p.users;
            total.feedback += p.feedback;
        }
        Ok(total)
    }
}

/// Retention: runs [`Maintenance::purge`] for `now − days` at once and then every `every`,
/// until `stop` completes. Failures are reported on stderr and retried at the next pass.
pub async fn run_retention(
    m: Maintenance,
    days: u32,
    every: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let cutoff = crate::timefmt::now_ns() - i64::from(days) * crate::timefmt::NS_PER_DAY;
        tokio::select! {
            r = m.purge(cutoff) => if let Err(e) = r { eprintln!("userspan: retention: {e}") },
            () = &mut stop => return,
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = &mut stop => return,
        }
    }
}

/// Runs the queued jobs on the writer's connection; whether any did.
pub(crate) fn run_jobs(conn: &mut Connection, index: &Index, jobs: &std::sync::mpsc::Receiver<MaintJob>) -> bool {
    let mut ran = false;
    while let Ok(job) = jobs.try_recv() {
        ran = true;
        match job {
            MaintJob::Erase { project, user_id, id_type, reply } => {
                let r = erase_user(conn, index, &project, &user_id, id_type.as_deref());
                let _ = reply.send(r.map_err(|e| format!("storage error: {e}")));
            }
            MaintJob::Purge { cutoff_ns, traces, reply } => {
                let r = purge_traces(conn, index, cutoff_ns, &traces);
                let _ = reply.send(r.map_err(|e| format!("storage error: {e}")));
            }
        }
    }
    ran
}

/// The store key of `ident`, from the index, the users table, or a new row (a user who now
/// owns a trace whose earlier owner was erased, and whose record retention had deleted).
fn user_key(
    tx: &Transaction<'_>,
    index: &Index,
    project: &str,
    ident: &UserIdent,
    created: &mut Vec<(Arc<str>, UserRec)>,
) -> rusqlite::Result<i64> {
    if let Some(u) = index.get_user(project, ident) {
        return Ok(u.key);
    }
    if let Some((_, u)) = created.iter().find(|(_, u)| &u.ident == ident) {
        return Ok(u.key);
    }
    let row = tx
        .query_row(
            "SELECT id, email, email_ns, metadata, metadata_ns FROM users
             WHERE project = ?1 AND user_id = ?2 AND user_id_type = ?3",
            params![project, ident.id, ident.id_type],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let (key, email, email_ns, metadata, metadata_ns) = match row {
        Some(r) => r,
        None => {
            tx.execute(
                "INSERT INTO users (project, user_id, user_id_type, email, email_ns, metadata, metadata_ns)
                 VALUES (?1, ?2, ?3, NULL, ?4, NULL, ?4)",
                params![project, ident.id, ident.id_type, i64::MIN],
            )?;
            (tx.last_insert_rowid(), None, i64::MIN, None, i64::MIN)
        }
    };
    let rec = UserRec {
        key,
        ident: ident.clone(),
        email,
        email_ns,
        metadata,
        metadata_ns,
        first_ns: i64::MAX,
        last_ns: i64::MIN,
    };
    created.push((Arc::from(project), rec));
    Ok(key)
}

/// Erases one end user of `project`, in one transaction on `conn` (the writer's connection, or
/// `userspan forget`'s exclusive one), and updates `index` after the COMMIT:
///
/// - the user is `user_id` of `id_type`; without a type, the one the user detail shows (the
///   most recently active of the id's types), and when no user record has the id, every type
///   its spans carry;
/// - every span of the user is deleted (found by reading the whole spans table: the spans of a
///   user can sit in traces of other users);
/// - a trace left with no span of another user is deleted, with its spans without a user;
/// - a trace that keeps spans of other users is recomputed from them, as the writer does for
///   late spans (owner, session, name, tokens, cost, nesting rule);
/// - the user's records are deleted;
/// - then the WAL is checkpointed and truncated (best effort: a reader in the middle of a read
///   leaves it to the next checkpoint), so that with `secure_delete` no copy of the deleted
///   pages stays readable in the files.
///
/// Erasing an unknown user (or one already erased) changes nothing and answers zero counts.
pub fn erase_user(
    conn: &mut Connection,
    index: &Index,
    project: &str,
    user_id: &str,
    id_type: Option<&str>,
) -> rusqlite::Result<Erased> {
    let project_arc: Arc<str> = Arc::from(project);
    // The types to erase (`None`: every type found), the user records and their sessions.
    let (mut types, keys, sessions, chosen) = {
        let idx = index.read();
        let pd = idx.project(project);
        let chosen = match id_type {
            Some(t) => Some(t.to_string()),
            None => find_user(pd, user_id, None).map(|u| u.ident.id_type.clone()),
        };
        let users: Vec<&UserRec> =
            pd.users_with_id(user_id).filter(|u| chosen.as_ref().is_none_or(|t| &u.ident.id_type == t)).collect();
        let sessions: HashSet<String> =
            users.iter().flat_map(|u| pd.traces_of_user(u.key)).map(TraceRec::session_id).collect();
        let types: Option<BTreeSet<String>> = chosen.as_ref().map(|t| BTreeSet::from([t.clone()]));
        (types, users.iter().map(|u| u.key).collect::<Vec<i64>>(), sessions.len() as u64, chosen)
    };

    let tx = conn.transaction()?;
    let mut traces: BTreeSet<[u8; 16]> = BTreeSet::new();
    {
        let mut found_types = BTreeSet::new();
        let mut st = tx.prepare("SELECT trace_id, user_id_type FROM spans WHERE project = ?1 AND user_id = ?2")?;
        let mut rows = st.query(params![project, user_id])?;
        while let Some(r) = rows.next()? {
            let t: Option<String> = r.get(1)?;
            let t = t.unwrap_or_default();
            if types.as_ref().is_some_and(|ts| !ts.contains(&t)) {
                continue;
            }
            if let Ok(id) = <[u8; 16]>::try_from(r.get::<_, Vec<u8>>(0)?.as_slice()) {
                traces.insert(id);
            }
            found_types.insert(t);
        }
        if types.is_none() {
            types = Some(found_types);
        }
    }
    let types = types.unwrap_or_default();
    let is_erased = |s: &SpanRow| s.user.as_ref().is_some_and(|u| u.id == user_id && types.contains(&u.id_type));
    // The user's feedback: records they own (their traces' and their own), and records that
    // carry their id although their trace is someone else's.
    let feedback: Vec<Arc<str>> = {
        let idx = index.read();
        let pd = idx.project(project);
        let is_user = |u: Option<&UserIdent>| u.is_some_and(|u| u.id == user_id && types.contains(&u.id_type));
        pd.feedback
            .values()
            .filter(|r| is_user(pd.feedback_owner(r)) || is_user(r.user.as_ref()))
            .map(|r| r.id.clone())
            .collect()
    };
    {
        let mut del = tx.prepare_cached("DELETE FROM feedback WHERE project = ?1 AND id = ?2")?;
        for id in &feedback {
            del.execute(params![project, &**id])?;
        }
    }

    let mut removed = Removed { sessions, ..Removed::default() };
    let mut removed_traces: Vec<[u8; 16]> = Vec::new();
    let mut recs: Vec<(Arc<str>, TraceRec)> = Vec::new();
    let mut created: Vec<(Arc<str>, UserRec)> = Vec::new();
    for tid in &traces {
        let stored = stored_spans(&tx, &project_arc, tid)?;
        let (gone, kept): (Vec<&SpanRow>, Vec<&SpanRow>) = stored.iter().partition(|s| is_erased(s));
        if kept.iter().all(|s| s.user.is_none()) {
            removed.spans += tx
                .execute("DELETE FROM spans WHERE project = ?1 AND trace_id = ?2", params![project, &tid[..]])?
                as u64;
            tx.execute("DELETE FROM traces WHERE project = ?1 AND trace_id = ?2", params![project, &tid[..]])?;
            removed.traces += 1;
            removed_traces.push(*tid);
            continue;
        }
        {
            let mut del =
                tx.prepare_cached("DELETE FROM spans WHERE project = ?1 AND trace_id = ?2 AND span_id = ?3")?;
            for s in &gone {
                removed.spans += del.execute(params![project, &tid[..], &s.span_id[..]])? as u64;
            }
        }
        let mut rec = TraceRec::from_spans(*tid, &kept);
        rec.user_key = match &rec.user {
            Some(p) => Some(user_key(&tx, index, project, &p.value, &mut created)?),
            None => None,
        };
        write_trace(&tx, project, &rec, false)?;
        recs.push((project_arc.clone(), rec));
    }
    for t in &types {
        tx.execute(
            "DELETE FROM users WHERE project = ?1 AND user_id = ?2 AND user_id_type = ?3",
            params![project, user_id, t],
        )?;
    }
    tx.commit()?;
    let recomputed = recs.len() as u64;
    index.remove_and_apply(project, &removed_traces, &keys, &feedback, recs, created);
    // Copy the WAL into the database and empty it: the deleted rows' old pages are in the WAL.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    let user_id_type = match chosen {
        Some(t) => Some(t),
        None if types.len() == 1 => types.into_iter().next(),
        None => None,
    };
    Ok(Erased {
        user_id: user_id.to_string(),
        user_id_type,
        project: project.to_string(),
        removed,
        recomputed_traces: recomputed,
    })
}

/// A project, its deleted traces and its deleted users.
type Removal = (Arc<str>, Vec<[u8; 16]>, Vec<i64>);

/// Retention, one transaction: deletes each of `traces` that still starts before `cutoff_ns`,
/// with all its spans, then the users left without a trace; a user who keeps traces keeps the
/// start of their lifetime first trace (`users.activated_ns`), so `new_users` and
/// `activated_at` of the retained days stay as they were. The index follows after the COMMIT.
pub fn purge_traces(
    conn: &mut Connection,
    index: &Index,
    cutoff_ns: i64,
    traces: &[(Arc<str>, [u8; 16])],
) -> rusqlite::Result<Purged> {
    let recs = index.get_traces(traces);
    let mut by_project: HashMap<Arc<str>, Vec<TraceRec>> = HashMap::new();
    for ((p, _), rec) in traces.iter().zip(recs) {
        if let Some(rec) = rec.filter(|r| r.start_ns < cutoff_ns) {
            by_project.entry(p.clone()).or_default().push(rec);
        }
    }
    let mut out = Purged::default();
    let tx = conn.transaction()?;
    // Per project: the purged trace ids, the users to delete, the others' kept first start.
    let mut plan: Vec<Removal> = Vec::new();
    // Feedback given before the cutoff, and feedback of the purged traces.
    let mut old_feedback: HashMap<Arc<str>, Vec<Arc<str>>> = HashMap::new();
    {
        let purged: HashSet<(&str, [u8; 16])> =
            by_project.iter().flat_map(|(p, recs)| recs.iter().map(move |t| (&**p, t.trace_id))).collect();
        let idx = index.read();
        for p in idx.project_names() {
            let pd = idx.project(&p);
            let ids: Vec<Arc<str>> = pd
                .feedback
                .values()
                .filter(|r| r.time_ns < cutoff_ns || r.trace_id.is_some_and(|t| purged.contains(&(p.as_str(), t))))
                .map(|r| r.id.clone())
                .collect();
            if !ids.is_empty() {
                old_feedback.insert(Arc::from(p.as_str()), ids);
            }
        }
    }
    {
        let mut del = tx.prepare_cached("DELETE FROM feedback WHERE project = ?1 AND id = ?2")?;
        for (p, ids) in &old_feedback {
            for id in ids {
                out.feedback += del.execute(params![&**p, &**id])? as u64;
            }
        }
    }
    {
        let mut del_spans = tx.prepare_cached("DELETE FROM spans WHERE project = ?1 AND trace_id = ?2")?;
        let mut del_trace = tx.prepare_cached("DELETE FROM traces WHERE project = ?1 AND trace_id = ?2")?;
        let mut del_user = tx.prepare_cached("DELETE FROM users WHERE id = ?1")?;
        let mut keep_first = tx.prepare_cached(
            "UPDATE users SET activated_ns = ?2 WHERE id = ?1 AND (activated_ns IS NULL OR activated_ns > ?2)",
        )?;
        for (p, recs) in &by_project {
            let mut owners: HashMap<i64, usize> = HashMap::new();
            for t in recs {
                out.spans += del_spans.execute(params![&**p, &t.trace_id[..]])? as u64;
                out.traces += del_trace.execute(params![&**p, &t.trace_id[..]])? as u64;
                if let Some(k) = t.user_key {
                    *owners.entry(k).or_default() += 1;
                }
            }
            let mut gone_users = Vec::new();
            let idx = index.read();
            let pd = idx.project(p);
            for (k, purged) in owners {
                let Some(u) = pd.users.get(&k) else { continue };
                if pd.traces_of_user(k).count() <= purged {
                    del_user.execute(params![k])?;
                    gone_users.push(k);
                } else if u.first_ns != i64::MAX {
                    keep_first.execute(params![k, u.first_ns])?;
                }
            }
            out.users += gone_users.len() as u64;
            plan.push((p.clone(), recs.iter().map(|t| t.trace_id).collect(), gone_users));
        }
    }
    tx.commit()?;
    for (p, tids, users) in plan {
        let fb = old_feedback.remove(&p).unwrap_or_default();
        index.remove_and_apply(&p, &tids, &users, &fb, Vec::new(), Vec::new());
    }
    for (p, fb) in old_feedback {
        index.remove_and_apply(&p, &[], &[], &fb, Vec::new(), Vec::new());
    }
    Ok(out)
}

/// `userspan forget`: erases a user from a database file that no other process has open
/// ([`crate::store::schema::open_exclusive`] refuses otherwise), with [`erase_user`].
pub fn forget_file(
    path: &std::path::Path,
    project: &str,
    user_id: &str,
    id_type: Option<&str>,
) -> Result<Erased, String> {
    let mut conn = crate::store::schema::open_exclusive(path)?;
    let index = crate::store::index::load(&conn).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    erase_user(&mut conn, &index, project, user_id, id_type)
        .map_err(|e| format!("cannot erase from {}: {e}", path.display()))
}

/// Arguments of `userspan forget`.
#[derive(Debug, Clone, clap::Args)]
pub struct ForgetArgs {
    /// The end user's id (`user.id`), as the API and `userspan users` show it.
    pub user_id: String,
    /// Its id type (email, phone, uuid, custom); default: the most recently active type of the
    /// id, as the user detail picks it.
    #[arg(long = "type", value_name = "TYPE", value_parser = clap::builder::PossibleValuesParser::new(userspan::conventions::USER_ID_TYPES))]
    pub id_type: Option<String>,
    /// Project.
    #[arg(long, default_value = userspan::conventions::DEFAULT_PROJECT)]
    pub project: String,
    /// SQLite database file written by `userspan serve`.
    #[arg(long, default_value = "userspan.db")]
    pub db: std::path::PathBuf,
}

/// Runs `userspan forget`: prints what was removed, as the API answers it (JSON).
pub fn run_forget(args: &ForgetArgs) -> Result<(), String> {
    let e = forget_file(&args.db, &args.project, &args.user_id, args.id_type.as_deref())?;
    println!("{}", serde_json::to_string(&e).map_err(|e| e.to_string())?);
    Ok(())
}
