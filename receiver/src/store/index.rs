//! The in-memory index of committed rollups that the API reads: per project, every trace rollup
//! and every user. The writer's changes are applied while their COMMIT runs, under the write
//! lock held until the COMMIT has succeeded, and before the 200, so a client that got a 200 reads
//! its spans back and nobody reads spans that are not durable. Built from SQLite at startup ([`load`]).
//!
//! Why in memory: period metrics (distinct sessions, per-trace medians, arbitrary `[from, to)`)
//! need the trace rollups of the period; scanning compact in-memory records is ~100x faster than
//! reading the same rows back from SQLite on every request.

use crate::feedback::FeedbackRow;
use crate::model::{Breakdown, Pick, TraceRec, UserIdent, UserRec};
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// "No user" in [`Lite::user`].
pub const NO_USER: u32 = u32::MAX;

/// The compact, scan-friendly copy of a trace rollup that period metrics read, kept in start
/// order. Users and sessions are dense per-project indexes so queries use arrays, not hashes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lite {
    /// Dense user index ([`ProjectData::user_key_of`]), or [`NO_USER`].
    pub user: u32,
    /// Dense session index (by session id; a trace without one gets its own).
    pub sess: u32,
    /// Dense (user, session) index: per-user distinct sessions.
    pub user_sess: u32,
    /// Any span errored.
    pub errored: bool,
    /// A guardrail fired.
    pub guardrail: bool,
    /// LLM calls.
    pub llm_calls: u32,
    /// Spans (observations) stored.
    pub spans: u32,
    /// Evaluations passed.
    pub eval_pass: u32,
    /// Evaluations.
    pub eval_total: u32,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cost, micro-USD (reported + estimated).
    pub cost_micros: i64,
    /// The estimated part of the cost, micro-USD.
    pub estimated_cost_micros: i64,
    /// LLM calls with usage but no known price.
    pub unpriced_llm_calls: u32,
    /// End − start, ns.
    pub duration_ns: i64,
}

/// Key of [`ByStart`]: (start ns, trace slot).
pub type StartKey = (i64, u32);

/// Entries of a [`ByStart`] chunk hold at most twice this many records.
const CHUNK: usize = 512;

/// An ordered map from [`StartKey`] to [`Lite`], stored as a list of sorted chunks of a few
/// hundred records each. Period scans read contiguous memory (a `BTreeMap` spreads its records
/// over small, separately allocated nodes, and the scans were bound by the cache misses), and an
/// insert or removal shifts at most one chunk. Chunks are never empty.
#[derive(Debug, Default)]
pub struct ByStart {
    chunks: Vec<Vec<(StartKey, Lite)>>,
}

impl ByStart {
    /// The chunk `key` belongs in: the last one whose first key is not after it (0 if none).
    fn chunk_of(&self, key: StartKey) -> usize {
        self.chunks.partition_point(|c| c[0].0 <= key).saturating_sub(1)
    }

    /// Records.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Inserts or replaces the record at `key`.
    pub fn insert(&mut self, key: StartKey, lite: Lite) {
        if self.chunks.is_empty() {
            self.chunks.push(vec![(key, lite)]);
            return;
        }
        let ci = self.chunk_of(key);
        let c = &mut self.chunks[ci];
        let pos = c.partition_point(|e| e.0 < key);
        if c.get(pos).is_some_and(|e| e.0 == key) {
            c[pos].1 = lite;
            return;
        }
        c.insert(pos, (key, lite));
        if c.len() >= 2 * CHUNK {
            let tail = c.split_off(CHUNK);
            self.chunks.insert(ci + 1, tail);
        }
    }

    /// Removes the record at `key`.
    pub fn remove(&mut self, key: StartKey) -> Option<Lite> {
        if self.chunks.is_empty() {
            return None;
        }
        let ci = self.chunk_of(key);
        let c = &mut self.chunks[ci];
        let pos = c.binary_search_by(|e| e.0.cmp(&key)).ok()?;
        let (_, lite) = c.remove(pos);
        if c.is_empty() {
            self.chunks.remove(ci);
        }
        Some(lite)
    }

    /// Records from `key` on, in key order.
    pub fn from(&self, key: StartKey) -> impl Iterator<Item = &(StartKey, Lite)> + '_ {
        let ci = self.chunk_of(key);
        let first: &[(StartKey, Lite)] = match self.chunks.get(ci) {
            Some(c) => &c[c.partition_point(|e| e.0 < key)..],
            None => &[],
        };
        first.iter().chain(self.chunks.get(ci + 1..).unwrap_or(&[]).iter().flatten())
    }

    /// Records up to `key` (inclusive), in reverse key order.
    pub fn until_rev(&self, key: StartKey) -> impl Iterator<Item = &(StartKey, Lite)> + '_ {
        let ci = self.chunk_of(key);
        let last: &[(StartKey, Lite)] = match self.chunks.get(ci) {
            Some(c) => &c[..c.partition_point(|e| e.0 <= key)],
            None => &[],
        };
        last.iter().rev().chain(self.chunks[..ci.min(self.chunks.len())].iter().rev().flat_map(|c| c.iter().rev()))
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    slot: u32,
    start_ns: i64,
    own_sess: Option<u32>,
}

/// One project's traces and users.
#[derive(Debug, Default)]
pub struct ProjectData {
    /// Trace rollups by trace id.
    pub traces: HashMap<[u8; 16], TraceRec>,
    /// Users by store key.
    pub users: HashMap<i64, UserRec>,
    /// Store key by identity.
    pub user_keys: HashMap<UserIdent, i64>,
    /// Compact trace records by (start ns, slot), for period scans.
    pub by_start: ByStart,
    slots: HashMap<[u8; 16], Slot>,
    user_ix_of: HashMap<i64, u32>,
    /// Store key of each dense user index.
    pub user_key_of: Vec<i64>,
    sess_ix_of: HashMap<String, u32>,
    /// Dense session indexes handed out.
    pub n_sess: u32,
    user_sess_of: HashMap<(u32, u32), u32>,
    /// Dense (user, session) indexes handed out.
    pub n_user_sess: u32,
    /// Trace ids of each user (store key), so a user's detail reads their traces only.
    trace_ids_of_user: HashMap<i64, Vec<[u8; 16]>>,
    /// The next [`Slot::slot`] (slots of removed traces are not reused).
    next_slot: u32,
    /// Feedback records by id (`docs/design.md`, "Feedback ingest").
    pub feedback: HashMap<Arc<str>, FeedbackRow>,
    /// Ids of the feedback records of each trace id (stored or not).
    feedback_of_trace: HashMap<[u8; 16], Vec<Arc<str>>>,
}

impl ProjectData {
    /// Inserts or replaces a trace rollup (and its compact copy).
    pub fn put_trace(&mut self, t: TraceRec) {
        let slot = match self.slots.entry(t.trace_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.next_slot += 1;
                e.insert(Slot { slot: self.next_slot - 1, start_ns: t.start_ns, own_sess: None })
            }
        };
        self.by_start.remove((slot.start_ns, slot.slot));
        slot.start_ns = t.start_ns;
        let sess = match &t.session {
            Some(p) => match self.sess_ix_of.get(p.value.as_str()) {
                Some(ix) => *ix,
                None => {
                    self.sess_ix_of.insert(p.value.clone(), self.n_sess);
                    self.n_sess += 1;
                    self.n_sess - 1
                }
            },
            None => match slot.own_sess {
                Some(ix) => ix,
                None => {
                    slot.own_sess = Some(self.n_sess);
                    self.n_sess += 1;
                    self.n_sess - 1
                }
            },
        };
        let key = (t.start_ns, slot.slot);
        let user = match t.user_key {
            None => NO_USER,
            Some(k) => match self.user_ix_of.get(&k) {
                Some(ix) => *ix,
                None => {
                    let ix = self.user_key_of.len() as u32;
                    self.user_ix_of.insert(k, ix);
                    self.user_key_of.push(k);
                    ix
                }
            },
        };
        let user_sess = if user == NO_USER {
            u32::MAX
        } else {
            let next = self.n_user_sess;
            let ix = *self.user_sess_of.entry((user, sess)).or_insert(next);
            if ix == next {
                self.n_user_sess += 1;
            }
            ix
        };
        let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        self.by_start.insert(
            key,
            Lite {
                user,
                sess,
                user_sess,
                errored: t.errored,
                guardrail: t.guardrail,
                llm_calls: clamp(t.llm_calls),
                spans: clamp(t.span_count),
                eval_pass: clamp(t.eval_pass),
                eval_total: clamp(t.eval_total),
                input_tokens: t.input_tokens,
                output_tokens: t.output_tokens,
                cost_micros: t.cost_micros,
                estimated_cost_micros: t.estimated_cost_micros,
                unpriced_llm_calls: clamp(t.unpriced_llm_calls),
                duration_ns: t.duration_ns(),
            },
        );
        let old_user = self.traces.get(&t.trace_id).and_then(|o| o.user_key);
        if old_user != t.user_key {
            // A trace changes owner rarely (a later span names the user); the scan is of one user's ids.
            if let Some(ids) = old_user.and_then(|k| self.trace_ids_of_user.get_mut(&k)) {
                ids.retain(|id| *id != t.trace_id);
            }
            if let Some(k) = t.user_key {
                self.trace_ids_of_user.entry(k).or_default().push(t.trace_id);
            }
        }
        self.traces.insert(t.trace_id, t);
    }

    /// Removes a trace rollup (and its compact copy) that is no longer stored (erasure,
    /// retention). Its owner's lifetime first/last trace start is left as it was.
    pub fn remove_trace(&mut self, trace_id: &[u8; 16]) -> Option<TraceRec> {
        let t = self.traces.remove(trace_id)?;
        if let Some(slot) = self.slots.remove(trace_id) {
            self.by_start.remove((slot.start_ns, slot.slot));
        }
        if let Some(k) = t.user_key {
            if let Some(ids) = self.trace_ids_of_user.get_mut(&k) {
                ids.retain(|id| id != trace_id);
                if ids.is_empty() {
                    self.trace_ids_of_user.remove(&k);
                }
            }
        }
        Some(t)
    }

    /// Removes a user that is no longer stored (its traces are removed or re-owned separately).
    pub fn remove_user(&mut self, user_key: i64) -> Option<UserRec> {
        let u = self.users.remove(&user_key)?;
        self.user_keys.remove(&u.ident);
        self.trace_ids_of_user.remove(&user_key);
        Some(u)
    }

    /// The traces of the user with store key `user_key`, in no particular order.
    pub fn traces_of_user(&self, user_key: i64) -> impl Iterator<Item = &TraceRec> + '_ {
        self.trace_ids_of_user.get(&user_key).into_iter().flatten().filter_map(|id| self.traces.get(id))
    }

    /// Compact records of traces starting in `[from_ns, to_ns)`, in start order.
    pub fn lite_range(&self, from_ns: i64, to_ns: i64) -> impl Iterator<Item = (i64, &Lite)> + '_ {
        let (from, to) = if from_ns < to_ns { ((from_ns, 0), (to_ns, 0)) } else { ((0, 0), (0, 0)) };
        self.by_start.from(from).take_while(move |(k, _)| *k < to).map(|((start, _), l)| (*start, l))
    }

    /// Start of the user's (dense index) earliest trace starting at or after `from_ns`.
    fn first_start_from(&self, user: u32, from_ns: i64) -> Option<i64> {
        self.by_start.from((from_ns, 0)).find(|(_, l)| l.user == user).map(|((s, _), _)| *s)
    }

    /// Start of the user's (dense index) latest trace starting at or before `to_ns`.
    fn last_start_until(&self, user: u32, to_ns: i64) -> Option<i64> {
        self.by_start.until_rev((to_ns, u32::MAX)).find(|(_, l)| l.user == user).map(|((s, _), _)| *s)
    }

    /// Stores a committed feedback record: it replaces the record of its id when its time is
    /// later or equal, else it is ignored (the writer's rule).
    pub fn put_feedback(&mut self, r: FeedbackRow) {
        if let Some(old) = self.feedback.get(&r.id) {
            if old.time_ns > r.time_ns {
                return;
            }
            if old.trace_id != r.trace_id {
                let (id, tid) = (old.id.clone(), old.trace_id);
                self.unlink_feedback(&id, tid);
            } else {
                self.feedback.insert(r.id.clone(), r);
                return;
            }
        }
        if let Some(t) = r.trace_id {
            self.feedback_of_trace.entry(t).or_default().push(r.id.clone());
        }
        self.feedback.insert(r.id.clone(), r);
    }

    fn unlink_feedback(&mut self, id: &Arc<str>, trace_id: Option<[u8; 16]>) {
        if let Some(t) = trace_id {
            if let Some(ids) = self.feedback_of_trace.get_mut(&t) {
                ids.retain(|x| x != id);
                if ids.is_empty() {
                    self.feedback_of_trace.remove(&t);
                }
            }
        }
    }

    /// Removes a feedback record (erasure, retention).
    pub fn remove_feedback(&mut self, id: &str) -> Option<FeedbackRow> {
        let r = self.feedback.remove(id)?;
        self.unlink_feedback(&r.id, r.trace_id);
        Some(r)
    }

    /// The feedback records of a trace, in no particular order.
    pub fn feedback_of(&self, trace_id: &[u8; 16]) -> impl Iterator<Item = &FeedbackRow> + '_ {
        self.feedback_of_trace.get(trace_id).into_iter().flatten().filter_map(|id| self.feedback.get(id))
    }

    /// Who a feedback record belongs to: its trace's owner once the trace is stored and has
    /// one, else its own user (`docs/design.md`, "Feedback ingest", attribution).
    pub fn feedback_owner<'a>(&'a self, r: &'a FeedbackRow) -> Option<&'a UserIdent> {
        r.trace_id.and_then(|t| self.traces.get(&t)).and_then(|t| t.user.as_ref().map(|p| &p.value)).or(r.user.as_ref())
    }

    /// Users with this id, any id type.
    pub fn users_with_id<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a UserRec> + 'a {
        let id = id.to_string();
        self.users.values().filter(move |u| u.ident.id == id)
    }
}

/// How a batch moved one user's traces: the range of the starts it gained, and whether a trace
/// at its old first or last start left or moved.
#[derive(Debug, Clone, Copy)]
struct Span {
    min: i64,
    max: i64,
    rescan_first: bool,
    rescan_last: bool,
}

impl Default for Span {
    fn default() -> Span {
        Span { min: i64::MAX, max: i64::MIN, rescan_first: false, rescan_last: false }
    }
}

/// All projects.
#[derive(Debug, Default)]
pub struct Index {
    projects: RwLock<HashMap<Arc<str>, ProjectData>>,
}

static EMPTY: std::sync::OnceLock<ProjectData> = std::sync::OnceLock::new();

/// A read view of the index.
pub struct IndexRead<'a>(RwLockReadGuard<'a, HashMap<Arc<str>, ProjectData>>);

impl IndexRead<'_> {
    /// The project's data (empty when the project has none).
    pub fn project(&self, name: &str) -> &ProjectData {
        self.0.get(name).unwrap_or_else(|| EMPTY.get_or_init(ProjectData::default))
    }

    /// Project names.
    pub fn project_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.0.keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }
}

impl Index {
    /// Read access.
    pub fn read(&self) -> IndexRead<'_> {
        IndexRead(self.projects.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Applies committed changes: users whose identity record is new or changed (their lifetime
    /// first/last trace start is not taken from them but kept here), then trace rollups.
    pub fn apply(&self, traces: Vec<(Arc<str>, TraceRec)>, users: Vec<(Arc<str>, UserRec)>) {
        self.apply_with_feedback(traces, users, Vec::new());
    }

    /// [`Index::apply`], and committed feedback records ([`ProjectData::put_feedback`]).
    pub fn apply_with_feedback(
        &self,
        traces: Vec<(Arc<str>, TraceRec)>,
        users: Vec<(Arc<str>, UserRec)>,
        feedback: Vec<FeedbackRow>,
    ) {
        let mut g = self.projects.write().unwrap_or_else(|e| e.into_inner());
        apply_to(&mut g, traces, users);
        put_feedback_to(&mut g, feedback);
    }

    /// [`Index::apply`] while the transaction holding these changes commits on another thread:
    /// readers wait until `committed` tells how the COMMIT ended, so they never see changes that
    /// are not durable. On failure it brings the index reloaded from the database (or `None` if
    /// that failed too, and the changes stay).
    pub fn apply_while_committing(
        &self,
        traces: Vec<(Arc<str>, TraceRec)>,
        users: Vec<(Arc<str>, UserRec)>,
        feedback: Vec<FeedbackRow>,
        committed: &std::sync::mpsc::Receiver<Result<(), Option<Index>>>,
    ) {
        let mut g = self.projects.write().unwrap_or_else(|e| e.into_inner());
        apply_to(&mut g, traces, users);
        put_feedback_to(&mut g, feedback);
        match committed.recv() {
            Ok(Ok(())) => {}
            Ok(Err(Some(reloaded))) => *g = reloaded.projects.into_inner().unwrap_or_else(|e| e.into_inner()),
            Ok(Err(None)) | Err(_) => eprintln!("userspan: a commit failed and the index could not be reloaded"),
        }
    }

    /// Removes these traces and users of `project` (no longer stored), then applies `traces`
    /// and `users` as [`Index::apply`] does (traces recomputed without the removed spans), under
    /// one write lock.
    pub fn remove_and_apply(
        &self,
        project: &str,
        removed_traces: &[[u8; 16]],
        removed_users: &[i64],
        removed_feedback: &[Arc<str>],
        traces: Vec<(Arc<str>, TraceRec)>,
        users: Vec<(Arc<str>, UserRec)>,
    ) {
        let mut g = self.projects.write().unwrap_or_else(|e| e.into_inner());
        if let Some(pd) = g.get_mut(project) {
            for id in removed_feedback {
                pd.remove_feedback(id);
            }
            for k in removed_users {
                pd.remove_user(*k);
            }
            for t in removed_traces {
                pd.remove_trace(t);
            }
        }
        apply_to(&mut g, traces, users);
    }

    /// The traces of every project that start before `cutoff_ns`, oldest first.
    pub fn traces_started_before(&self, cutoff_ns: i64) -> Vec<(Arc<str>, [u8; 16])> {
        let g = self.projects.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(i64, Arc<str>, [u8; 16])> = Vec::new();
        for (p, pd) in g.iter() {
            v.extend(
                pd.traces.values().filter(|t| t.start_ns < cutoff_ns).map(|t| (t.start_ns, p.clone(), t.trace_id)),
            );
        }
        v.sort_unstable();
        v.into_iter().map(|(_, p, t)| (p, t)).collect()
    }

    /// Existing rollups for these traces.
    pub fn get_traces(&self, keys: &[(Arc<str>, [u8; 16])]) -> Vec<Option<TraceRec>> {
        let g = self.projects.read().unwrap_or_else(|e| e.into_inner());
        keys.iter().map(|(p, t)| g.get(p).and_then(|pd| pd.traces.get(t)).cloned()).collect()
    }

    /// Existing user by identity.
    pub fn get_user(&self, project: &str, ident: &UserIdent) -> Option<UserRec> {
        let g = self.projects.read().unwrap_or_else(|e| e.into_inner());
        let pd = g.get(project)?;
        pd.user_keys.get(ident).and_then(|k| pd.users.get(k)).cloned()
    }
}

fn put_feedback_to(g: &mut HashMap<Arc<str>, ProjectData>, feedback: Vec<FeedbackRow>) {
    for r in feedback {
        g.entry(r.project.clone()).or_default().put_feedback(r);
    }
}

/// Applies committed changes to the projects (see [`Index::apply`]).
fn apply_to(
    g: &mut HashMap<Arc<str>, ProjectData>,
    traces: Vec<(Arc<str>, TraceRec)>,
    users: Vec<(Arc<str>, UserRec)>,
) {
    for (p, mut u) in users {
        let pd = g.entry(p).or_default();
        match pd.users.get(&u.key) {
            Some(cur) => (u.first_ns, u.last_ns) = (cur.first_ns, cur.last_ns),
            None => (u.first_ns, u.last_ns) = (i64::MAX, i64::MIN),
        }
        pd.user_keys.insert(u.ident.clone(), u.key);
        pd.users.insert(u.key, u);
    }
    let mut spans: HashMap<Arc<str>, HashMap<i64, Span>> = HashMap::new();
    for (p, t) in traces {
        let pd = g.entry(p.clone()).or_default();
        let old = pd.traces.get(&t.trace_id).map(|o| (o.user_key, o.start_ns));
        if old != Some((t.user_key, t.start_ns)) {
            let ps = spans.entry(p).or_default();
            if let Some((Some(k), start)) = old {
                if let Some(u) = pd.users.get(&k) {
                    let e = ps.entry(k).or_default();
                    e.rescan_first |= start == u.first_ns;
                    e.rescan_last |= start == u.last_ns;
                }
            }
            if let Some(k) = t.user_key {
                let e = ps.entry(k).or_default();
                e.min = e.min.min(t.start_ns);
                e.max = e.max.max(t.start_ns);
            }
        }
        pd.put_trace(t);
    }
    for (p, ps) in spans {
        let Some(pd) = g.get_mut(&p) else { continue };
        for (k, sp) in ps {
            let ix = pd.user_ix_of.get(&k).copied();
            let Some(u) = pd.users.get(&k) else { continue };
            let (mut first, mut last) = (u.first_ns, u.last_ns);
            // Every trace of the user that started before its old first (after its old last)
            // is one that changed in this batch, so rescans start at the old bounds.
            if sp.rescan_first {
                first = ix.and_then(|ix| pd.first_start_from(ix, first)).unwrap_or(i64::MAX);
            }
            if sp.rescan_last {
                last = ix.and_then(|ix| pd.last_start_until(ix, last)).unwrap_or(i64::MIN);
            }
            let u = pd.users.get_mut(&k).expect("looked up above");
            u.first_ns = first.min(sp.min);
            u.last_ns = last.max(sp.max);
        }
    }
}

fn blob8(v: Option<Vec<u8>>) -> [u8; 8] {
    v.and_then(|b| b.try_into().ok()).unwrap_or([0; 8])
}

/// Builds the index from a database.
pub fn load(conn: &Connection) -> rusqlite::Result<Index> {
    let mut projects: HashMap<Arc<str>, ProjectData> = HashMap::new();
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |s: String| -> Arc<str> { names.entry(s.clone()).or_insert_with(|| Arc::from(s)).clone() };
    {
        let mut st = conn
            .prepare("SELECT id, project, user_id, user_id_type, email, email_ns, metadata, metadata_ns, activated_ns FROM users")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let project = intern(r.get(1)?);
            let u = UserRec {
                key: r.get(0)?,
                ident: UserIdent { id: r.get(2)?, id_type: r.get(3)? },
                email: r.get(4)?,
                email_ns: r.get(5)?,
                metadata: r.get(6)?,
                metadata_ns: r.get(7)?,
                // The start of a first trace that retention deleted (else the traces tell).
                first_ns: r.get::<_, Option<i64>>(8)?.unwrap_or(i64::MAX),
                last_ns: i64::MIN,
            };
            let pd = projects.entry(project).or_default();
            pd.user_keys.insert(u.ident.clone(), u.key);
            pd.users.insert(u.key, u);
        }
    }
    let mut st = conn.prepare(
        "SELECT project, trace_id, user_key, user_start_ns, user_span_id, session_id, session_start_ns, session_span_id,
                name, name_rank, name_start_ns, name_span_id, start_ns, end_ns, span_count, errored, llm_calls,
                input_tokens, output_tokens, cost_micros, eval_pass, eval_total, guardrail, breakdown,
                estimated_cost_micros, unpriced_llm_calls, tags, metadata
         FROM traces",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let project = intern(r.get(0)?);
        let pd = projects.entry(project).or_default();
        let tid: Vec<u8> = r.get(1)?;
        let Ok(trace_id) = <[u8; 16]>::try_from(tid.as_slice()) else { continue };
        let user_key: Option<i64> = r.get(2)?;
        let user = match user_key.and_then(|k| pd.users.get(&k)) {
            Some(u) => Some(Pick { rank: 0, start_ns: r.get(3)?, span_id: blob8(r.get(4)?), value: u.ident.clone() }),
            None => None,
        };
        let session = match r.get::<_, Option<String>>(5)? {
            Some(s) => Some(Pick { rank: 0, start_ns: r.get(6)?, span_id: blob8(r.get(7)?), value: s }),
            None => None,
        };
        let name = match r.get::<_, Option<String>>(8)? {
            Some(s) => Some(Pick { rank: r.get(9)?, start_ns: r.get(10)?, span_id: blob8(r.get(11)?), value: s }),
            None => None,
        };
        let breakdown: Breakdown = serde_json::from_str(&r.get::<_, String>(23)?).unwrap_or_default();
        let t = TraceRec {
            trace_id,
            user,
            user_key,
            session,
            name,
            start_ns: r.get(12)?,
            end_ns: r.get(13)?,
            span_count: r.get(14)?,
            errored: r.get(15)?,
            llm_calls: r.get(16)?,
            input_tokens: r.get(17)?,
            output_tokens: r.get(18)?,
            cost_micros: r.get(19)?,
            estimated_cost_micros: r.get(24)?,
            unpriced_llm_calls: r.get(25)?,
            eval_pass: r.get(20)?,
            eval_total: r.get(21)?,
            guardrail: r.get(22)?,
            breakdown,
            tags_metadata: crate::model::TagsMetadata::from_stored(r.get(26)?, r.get(27)?),
        };
        if let Some(u) = user_key.and_then(|k| pd.users.get_mut(&k)) {
            u.first_ns = u.first_ns.min(t.start_ns);
            u.last_ns = u.last_ns.max(t.start_ns);
        }
        pd.put_trace(t);
    }
    drop(rows);
    drop(st);
    let mut st = conn.prepare(
        "SELECT project, id, time_ns, name, value, label, comment, source, trace_id, span_id, user_id, user_id_type
         FROM feedback",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let project = intern(r.get(0)?);
        let id: String = r.get(1)?;
        let source: String = r.get(7)?;
        let user = match (r.get::<_, Option<String>>(10)?, r.get::<_, Option<String>>(11)?) {
            (Some(id), t) => Some(UserIdent { id, id_type: t.unwrap_or_default() }),
            _ => None,
        };
        let row = FeedbackRow {
            project: project.clone(),
            id: Arc::from(id),
            time_ns: r.get(2)?,
            name: r.get(3)?,
            value: r.get(4)?,
            label: r.get(5)?,
            comment: r.get(6)?,
            source: crate::feedback::Source::parse(&source).unwrap_or(crate::feedback::Source::Evaluator),
            trace_id: r.get::<_, Option<Vec<u8>>>(8)?.and_then(|b| b.try_into().ok()),
            span_id: r.get::<_, Option<Vec<u8>>>(9)?.and_then(|b| b.try_into().ok()),
            user,
        };
        projects.entry(project).or_default().put_feedback(row);
    }
    Ok(Index { projects: RwLock::new(projects) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(key: i64) -> UserRec {
        UserRec {
            key,
            ident: UserIdent { id: format!("u{key}"), id_type: userspan::conventions::USER_ID_TYPE_CUSTOM.into() },
            email: None,
            email_ns: i64::MIN,
            metadata: None,
            metadata_ns: i64::MIN,
            first_ns: 0,
            last_ns: 0,
        }
    }

    fn lite(user: u32) -> Lite {
        Lite {
            user,
            sess: 0,
            user_sess: 0,
            errored: false,
            guardrail: false,
            llm_calls: 0,
            spans: 0,
            eval_pass: 0,
            eval_total: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_micros: 0,
            estimated_cost_micros: 0,
            unpriced_llm_calls: 0,
            duration_ns: 0,
        }
    }

    /// The chunked map behaves like a `BTreeMap` through inserts, replacements and removals in
    /// any order, including chunk splits and emptied chunks.
    #[test]
    fn by_start_matches_btreemap() {
        let mut m = ByStart::default();
        let mut b = std::collections::BTreeMap::new();
        let mut seed = 3u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for round in 0..20_000u32 {
            let key = (next(3000) as i64 - 500, next(4) as u32);
            if next(3) == 0 {
                assert_eq!(m.remove(key), b.remove(&key), "remove {key:?}");
            } else {
                m.insert(key, lite(round));
                b.insert(key, lite(round));
            }
            if round % 997 == 0 || round == 19_999 {
                assert_eq!(m.len(), b.len());
                assert!(m.chunks.iter().all(|c| !c.is_empty() && c.len() < 2 * CHUNK));
                let probe = (next(3200) as i64 - 600, next(4) as u32);
                let got: Vec<_> = m.from(probe).map(|(k, l)| (*k, l.user)).collect();
                let want: Vec<_> = b.range(probe..).map(|(k, l)| (*k, l.user)).collect();
                assert_eq!(got, want);
                let got: Vec<_> = m.until_rev(probe).map(|(k, l)| (*k, l.user)).collect();
                let want: Vec<_> = b.range(..=probe).rev().map(|(k, l)| (*k, l.user)).collect();
                assert_eq!(got, want);
            }
        }
        assert!(m.chunks.len() > 2, "the test should split chunks");
    }

    /// Removing traces (erasure, retention) leaves every other record in place: a trace added
    /// afterwards gets a slot of its own even when it starts with a kept one, and the owner's
    /// trace list and the users' maps follow.
    #[test]
    fn removed_traces_and_users_leave_the_rest() {
        let mut pd = ProjectData::default();
        let trace = |n: u8, start: i64, user: Option<i64>| {
            let mut t = TraceRec::new([n; 16]);
            (t.start_ns, t.end_ns, t.user_key) = (start, start + 5, user);
            t
        };
        pd.users.insert(1, user(1));
        pd.user_keys.insert(user(1).ident, 1);
        pd.put_trace(trace(1, 10, Some(1)));
        pd.put_trace(trace(2, 20, Some(1)));
        assert!(pd.remove_trace(&[1; 16]).is_some());
        assert!(pd.remove_trace(&[1; 16]).is_none());
        pd.put_trace(trace(3, 20, None));
        assert_eq!(pd.by_start.len(), 2, "the new trace must not take the kept one's slot");
        assert_eq!(pd.lite_range(0, 100).count(), 2);
        assert_eq!(pd.traces_of_user(1).map(|t| t.trace_id).collect::<Vec<_>>(), vec![[2; 16]]);
        assert!(pd.remove_user(1).is_some());
        assert!(pd.users.is_empty() && pd.user_keys.is_empty() && pd.traces_of_user(1).next().is_none());
    }

    /// Changes applied while their transaction commits stay when it commits, and are replaced
    /// by the reloaded index when it fails.
    #[test]
    fn apply_while_committing_keeps_or_replaces() {
        let p: Arc<str> = Arc::from("p");
        let idx = Index::default();
        let trace = |n: u8| {
            let mut t = TraceRec::new([n; 16]);
            (t.start_ns, t.end_ns) = (10, 20);
            (p.clone(), t)
        };
        let (tell, committed) = std::sync::mpsc::sync_channel(1);
        tell.send(Ok(())).unwrap();
        idx.apply_while_committing(vec![trace(1)], vec![(p.clone(), user(1))], Vec::new(), &committed);
        assert_eq!(idx.read().project("p").traces.len(), 1);
        // A failed commit: the index becomes the reloaded one (here: the state before).
        let reloaded = Index::default();
        reloaded.apply(vec![trace(1)], vec![(p.clone(), user(1))]);
        tell.send(Err(Some(reloaded))).unwrap();
        idx.apply_while_committing(vec![trace(2)], vec![(p.clone(), user(2))], Vec::new(), &committed);
        let r = idx.read();
        assert!(r.project("p").traces.contains_key(&[1; 16]) && !r.project("p").traces.contains_key(&[2; 16]));
        assert!(!r.project("p").users.contains_key(&2));
        assert_eq!(r.project("p").by_start.len(), 1);
    }

    /// The users' lifetime first/last trace starts and their trace lists kept by `apply` equal a
    /// full recomputation after every batch, through traces that move earlier and change user.
    #[test]
    fn lifetime_bounds_follow_moving_traces() {
        let idx = Index::default();
        let p: Arc<str> = Arc::from("p");
        idx.apply(Vec::new(), (1..=4).map(|k| (p.clone(), user(k))).collect());
        let mut state: HashMap<[u8; 16], TraceRec> = HashMap::new();
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _round in 0..400 {
            let mut batch = Vec::new();
            for _ in 0..1 + next(4) {
                let tid = [next(12) as u8 + 1; 16];
                let mut t = state.get(&tid).cloned().unwrap_or_else(|| {
                    let mut t = TraceRec::new(tid);
                    t.start_ns = 1_000 + next(1_000) as i64;
                    t.end_ns = 5_000;
                    t
                });
                // Starts only move earlier; the owner may change or go away.
                t.start_ns -= next(3) as i64 * next(50) as i64;
                t.user_key = match next(6) {
                    0 => None,
                    1..=3 => t.user_key.or(Some(1 + next(4) as i64)),
                    _ => Some(1 + next(4) as i64),
                };
                if batch.iter().all(|(_, b): &(Arc<str>, TraceRec)| b.trace_id != tid) {
                    state.insert(tid, t.clone());
                    batch.push((p.clone(), t));
                }
            }
            idx.apply(batch, Vec::new());
            let r = idx.read();
            let pd = r.project("p");
            for k in 1..=4 {
                let starts = state.values().filter(|t| t.user_key == Some(k)).map(|t| t.start_ns);
                let first = starts.clone().min().unwrap_or(i64::MAX);
                let last = starts.max().unwrap_or(i64::MIN);
                let u = &pd.users[&k];
                assert_eq!((u.first_ns, u.last_ns), (first, last), "user {k}");
                let mut want: Vec<_> = state.values().filter(|t| t.user_key == Some(k)).map(|t| t.trace_id).collect();
                let mut got: Vec<_> = pd.traces_of_user(k).map(|t| t.trace_id).collect();
                want.sort();
                got.sort();
                assert_eq!(got, want, "traces of user {k}");
            }
        }
    }
}
