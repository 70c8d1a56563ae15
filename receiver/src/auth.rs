//! Keys and access: which requests may send OTLP and which may read the JSON API.
//!
//! A key has one kind and one or more projects:
//!
//! | kind | flag | may |
//! |---|---|---|
//! | `ingest` | `--ingest-key KEY=PROJECT` | send OTLP (`POST /v1/traces`, `TraceService/Export`) into its project; every `GET /api/*` → 403 |
//! | `read` | `--read-key KEY=PROJECT` | read `/api/*` of its projects; OTLP → 403 / `PERMISSION_DENIED` |
//! | `api` | `--api-key KEY=PROJECT` | both |
//!
//! Keys also come from a keys file (`--keys-file FILE`, else the file named by
//! [`KEYS_FILE_ENV`]): one `KIND KEY PROJECT` per line, see [`parse_keys_file`]. The file is
//! re-read by [`Keys::reload`] (`userspan serve` on SIGHUP); a bad file keeps the previous keys.
//!
//! A key given for several projects (repeated with different projects, on flags or lines) reads
//! all of them; its first project (flags before the file, the file top to bottom) is its *home*:
//! where its OTLP writes go and what reads without `?project` show. Reading another project with
//! `?project=NAME` answers 403. The same key with two kinds refuses to start (or to reload).
//!
//! Keys are never looked up by their raw value: each configured key is kept as its SHA-256
//! digest, and a request's key is hashed and compared with **every** configured digest in
//! constant time ([`subtle`]), so neither a match's position nor a shared prefix shows in the
//! answer's timing.
//!
//! Without any key (no key flag and no keys file) the receiver is open: writes go to each
//! resource's `userspan.project` (else `default`) and reads to `?project` (else `default`). A
//! keys file given but empty still turns authentication on (every request then answers 401), so
//! emptying the file and reloading never opens the receiver.

use crate::api::export::ExportError;
use crate::api::{bearer, ApiError};
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use userspan::conventions::DEFAULT_PROJECT;

/// The environment variable naming a keys file when `--keys-file` is not given (the flag wins;
/// an empty value counts as unset).
pub const KEYS_FILE_ENV: &str = "USERSPAN_KEYS_FILE";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Send OTLP only (browsers, apps): `ingest`.
    Ingest,
    /// Read the JSON API only (dashboards, server-side reporting): `read`.
    Read,
    /// Both: `api`.
    Api,
}

impl KeyKind {
    /// The kinds' names, as written in a keys file.
    pub const NAMES: [&'static str; 3] = ["ingest", "read", "api"];

    /// The kind named `s` (exactly one of [`Self::NAMES`]).
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "ingest" => Some(KeyKind::Ingest),
            "read" => Some(KeyKind::Read),
            "api" => Some(KeyKind::Api),
            _ => None,
        }
    }

    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Ingest => "ingest",
            KeyKind::Read => "read",
            KeyKind::Api => "api",
        }
    }

    /// May read `GET /api/*`.
    pub fn may_read(self) -> bool {
        self != KeyKind::Ingest
    }

    /// May send OTLP.
    pub fn may_write(self) -> bool {
        self != KeyKind::Read
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One configured key: its kind, the secret, one project, and where it was given (`--api-key`,
/// `keys.txt line 3`) for error messages (which never print the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDef {
    /// What it may do.
    pub kind: KeyKind,
    /// The secret sent as `Authorization: Bearer KEY`.
    pub key: String,
    /// The project it writes into and reads.
    pub project: String,
    /// Where it was given.
    pub origin: String,
}

impl KeyDef {
    /// A key of a `--<kind>-key KEY=PROJECT` flag.
    pub fn from_flag(kind: KeyKind, (key, project): (String, String)) -> KeyDef {
        KeyDef { kind, key, project, origin: format!("--{kind}-key") }
    }
}

/// The key sources of `userspan serve` besides `--api-key` (which is
/// [`crate::server::ServerConfig::api_keys`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySources {
    /// `--ingest-key KEY=PROJECT` pairs.
    pub ingest: Vec<(String, String)>,
    /// `--read-key KEY=PROJECT` pairs.
    pub read: Vec<(String, String)>,
    /// `--keys-file FILE`, else [`KEYS_FILE_ENV`]: read at start and on [`Keys::reload`].
    pub file: Option<PathBuf>,
}

/// Why a key value cannot be used, if it cannot: empty, or not visible ASCII (an HTTP header
/// carries nothing else, so such a key could never match).
fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("the key is empty")
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        Some("a key is visible ASCII without spaces")
    } else {
        None
    }
}

/// Parses a `KEY=PROJECT` flag value of `flag`; the last `=` separates them (a base64 key may end
/// in `=`).
fn parse_key_arg(flag: &str, s: &str) -> Result<(String, String), String> {
    let Some((k, p)) = s.rsplit_once('=') else {
        return Err(format!("{flag} takes KEY=PROJECT, got no `=`"));
    };
    let (k, p) = (k.trim(), p.trim());
    if p.is_empty() {
        return Err(format!("{flag} takes KEY=PROJECT: the project after `=` is empty"));
    }
    if let Some(why) = key_problem(k) {
        return Err(format!("{flag} takes KEY=PROJECT: {why}"));
    }
    Ok((k.to_string(), p.to_string()))
}

/// `--api-key KEY=PROJECT`.
pub fn parse_api_key(s: &str) -> Result<(String, String), String> {
    parse_key_arg("--api-key", s)
}

/// `--ingest-key KEY=PROJECT`.
pub fn parse_ingest_key(s: &str) -> Result<(String, String), String> {
    parse_key_arg("--ingest-key", s)
}

/// `--read-key KEY=PROJECT`.
pub fn parse_read_key(s: &str) -> Result<(String, String), String> {
    parse_key_arg("--read-key", s)
}

/// Parses a keys file's text (`file` names it in messages). One key per line, `KIND KEY
/// PROJECT` separated by spaces or tabs, `KIND` one of [`KeyKind::NAMES`]; blank lines and
/// lines whose first field starts with `#` are skipped, and a field starting with `#` starts a
/// comment to the end of the line. A bad line is an error naming the file, the line number and
/// the field (`keys.txt line 3: field 1 (kind) must be one of ingest, read, api, got "admin"`);
/// messages never contain a key.
pub fn parse_keys_file(text: &str, file: &Path) -> Result<Vec<KeyDef>, String> {
    let mut defs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("{} line {}", file.display(), i + 1);
        let fields: Vec<&str> = line.split_whitespace().take_while(|f| !f.starts_with('#')).collect();
        if fields.is_empty() {
            continue;
        }
        let kind = KeyKind::parse(fields[0]).ok_or_else(|| {
            format!("{at}: field 1 (kind) must be one of {}, got {:?}", KeyKind::NAMES.join(", "), fields[0])
        })?;
        let Some(key) = fields.get(1) else {
            return Err(format!("{at}: field 2 (key) is missing: each line is `KIND KEY PROJECT`"));
        };
        if let Some(why) = key_problem(key) {
            return Err(format!("{at}: field 2 (key): {why}"));
        }
        let Some(project) = fields.get(2) else {
            return Err(format!("{at}: field 3 (project) is missing: each line is `KIND KEY PROJECT`"));
        };
        if let Some(extra) = fields.get(3) {
            return Err(format!(
                "{at}: field 4 {extra:?} is one too many: each line is `KIND KEY PROJECT` (`#` starts a comment)"
            ));
        }
        defs.push(KeyDef { kind, key: key.to_string(), project: project.to_string(), origin: at });
    }
    Ok(defs)
}

/// Reads and parses a keys file ([`parse_keys_file`]).
pub fn read_keys_file(file: &Path) -> Result<Vec<KeyDef>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read keys file {}: {e}", file.display()))?;
    parse_keys_file(&text, file)
}

/// One key of a [`KeySet`]: the digest of its secret, its kind, its projects (home first).
#[derive(Debug, Clone)]
struct Grant {
    digest: [u8; 32],
    kind: KeyKind,
    projects: Vec<String>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A set of keys, checked as a whole (see the [module](self) documentation).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    grants: Vec<Grant>,
    /// Authentication is on (some key source was given, even if it listed no key).
    enabled: bool,
}

impl KeySet {
    /// The set of `defs`; `enabled` even when `defs` is empty (a keys file without keys). The
    /// same key with two kinds is an error naming both places.
    pub fn build(defs: &[KeyDef], enabled: bool) -> Result<KeySet, String> {
        let mut grants: Vec<Grant> = Vec::new();
        // Built once per load: a map on the secrets is fine here, requests never see it.
        let mut seen: HashMap<&str, (usize, &str)> = HashMap::new();
        for d in defs {
            if let Some(why) = key_problem(&d.key) {
                return Err(format!("{}: {why}", d.origin));
            }
            if d.project.trim().is_empty() {
                return Err(format!("{}: the project is empty", d.origin));
            }
            match seen.get(d.key.as_str()) {
                Some(&(i, first)) => {
                    let g = &mut grants[i];
                    if g.kind != d.kind {
                        return Err(format!(
                            "{}: this key is already given with kind `{}` at {first}; one key has one kind (use separate keys)",
                            d.origin, g.kind
                        ));
                    }
                    if !g.projects.contains(&d.project) {
                        g.projects.push(d.project.clone());
                    }
                }
                None => {
                    seen.insert(&d.key, (grants.len(), &d.origin));
                    grants.push(Grant { digest: digest(&d.key), kind: d.kind, projects: vec![d.project.clone()] });
                }
            }
        }
        Ok(KeySet { grants, enabled: enabled || !defs.is_empty() })
    }

    /// Authentication is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Keys per kind: `(ingest, read, api)`.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |k| self.grants.iter().filter(|g| g.kind == k).count();
        (n(KeyKind::Ingest), n(KeyKind::Read), n(KeyKind::Api))
    }

    /// The grant of `token`: its digest is compared with every key's, in constant time, and the
    /// loop never stops early.
    fn grant(&self, token: &str) -> Option<&Grant> {
        let d = digest(token);
        let mut found = Choice::from(0);
        let mut at = 0u64;
        for (i, g) in self.grants.iter().enumerate() {
            let eq = g.digest[..].ct_eq(&d[..]);
            at.conditional_assign(&(i as u64), eq);
            found |= eq;
        }
        bool::from(found).then(|| &self.grants[at as usize])
    }

    /// The grant of the request's bearer token (`None`: 401).
    fn caller(&self, headers: &HeaderMap) -> Option<&Grant> {
        bearer(headers).and_then(|t| self.grant(t))
    }
}

/// The grant of a reading request: `None` when no keys are configured; 401 without a valid
/// key, 403 for an ingest key.
fn reader<'a>(set: &'a KeySet, headers: &HeaderMap) -> Result<Option<&'a Grant>, ApiError> {
    if !set.is_enabled() {
        return Ok(None);
    }
    let g = set.caller(headers).ok_or_else(unauthorized)?;
    if !g.kind.may_read() {
        return Err(ApiError::forbidden(
            "an ingest key may only send OTLP (POST /v1/traces, TraceService/Export); reading /api/* needs a read or api key",
        ));
    }
    Ok(Some(g))
}

/// `requested` if the grant may read it (403 if not), else its home; any project without keys.
fn project_of(g: Option<&Grant>, requested: Option<&str>) -> Result<String, ApiError> {
    let Some(g) = g else {
        return Ok(requested.unwrap_or(DEFAULT_PROJECT).to_string());
    };
    match requested {
        None => Ok(g.projects[0].clone()),
        Some(p) if g.projects.iter().any(|q| q == p) => Ok(p.to_string()),
        Some(p) => Err(ApiError::forbidden(format!(
            "this key may read project {}, not {p:?}",
            g.projects.iter().map(|q| format!("{q:?}")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The message of a 401 (both the JSON API and OTLP).
pub const UNAUTHENTICATED: &str = "a valid API key is required: send `Authorization: Bearer <key>`";

fn unauthorized() -> ApiError {
    ApiError::unauthorized(UNAUTHENTICATED)
}

/// The receiver's keys: the flags' keys, the keys file's, and the current [`KeySet`] of both,
/// swapped whole by [`Keys::reload`] (requests in flight keep the set they started with).
/// `Default` is the open receiver (no keys).
#[derive(Debug, Default)]
pub struct Keys {
    flags: Vec<KeyDef>,
    file: Option<PathBuf>,
    set: RwLock<Arc<KeySet>>,
}

impl Keys {
    /// The keys of `userspan serve`: `--api-key` pairs `api` plus `sources`; reads the keys file.
    /// An error (a bad file, one key with two kinds) refuses to start.
    pub fn load(api: &[(String, String)], sources: &KeySources) -> Result<Keys, String> {
        let flags: Vec<KeyDef> = api
            .iter()
            .map(|p| KeyDef::from_flag(KeyKind::Api, p.clone()))
            .chain(sources.ingest.iter().map(|p| KeyDef::from_flag(KeyKind::Ingest, p.clone())))
            .chain(sources.read.iter().map(|p| KeyDef::from_flag(KeyKind::Read, p.clone())))
            .collect();
        let keys = Keys { flags, file: sources.file.clone(), set: RwLock::default() };
        let set = keys.read_set()?;
        *keys.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(keys)
    }

    fn read_set(&self) -> Result<KeySet, String> {
        let mut defs = self.flags.clone();
        if let Some(f) = &self.file {
            defs.extend(read_keys_file(f)?);
        }
        KeySet::build(&defs, self.file.is_some())
    }

    /// Re-reads the keys file and swaps the key set: the new summary ([`Self::summary`]), or why
    /// not (no keys file, a bad file), in which case the previous keys stay in force.
    pub fn reload(&self) -> Result<String, String> {
        let Some(f) = &self.file else {
            return Err(format!("no keys file to re-read (give --keys-file FILE or {KEYS_FILE_ENV})"));
        };
        let set = self.read_set().map_err(|e| format!("keeping the previous keys: {e}"))?;
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(format!("keys reloaded from {}: {}", f.display(), self.summary()))
    }

    /// The keys file, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The current set.
    pub fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Authentication is on.
    pub fn is_enabled(&self) -> bool {
        self.current().is_enabled()
    }

    /// `2 ingest, 0 read, 1 api key(s)`.
    pub fn summary(&self) -> String {
        let (i, r, a) = self.current().counts();
        format!("{i} ingest, {r} read, {a} api key(s)")
    }

    /// The projects the request may read, home first; `None` when no keys are configured (every
    /// project). 401 without a valid key, 403 for an ingest key.
    pub fn readable(&self, headers: &HeaderMap) -> Result<Option<Vec<String>>, ApiError> {
        Ok(reader(&self.current(), headers)?.map(|g| g.projects.clone()))
    }

    /// The project a `GET /api/*` request reads: `requested` (`?project`) if given, else the
    /// key's home project, else `default`. Without keys configured, any project. With keys: 401
    /// without a valid key; 403 for an ingest key or a `requested` project the key may not read.
    pub fn authorize_read(&self, headers: &HeaderMap, requested: Option<&str>) -> Result<String, ApiError> {
        let set = self.current();
        project_of(reader(&set, headers)?, requested)
    }

    /// The project a JSON API request that changes data (erasing a user) acts on: as
    /// [`Self::authorize_read`], but only an `api` key may (a read key → 403 too).
    pub fn authorize_manage(&self, headers: &HeaderMap, requested: Option<&str>) -> Result<String, ApiError> {
        let set = self.current();
        let g = reader(&set, headers)?;
        if g.is_some_and(|g| g.kind != KeyKind::Api) {
            return Err(ApiError::forbidden("a read key may not change data: that needs an api key of the project"));
        }
        project_of(g, requested)
    }

    /// The project a `POST /api/feedback` request writes into: any valid key (ingest, read or
    /// api: a dashboard user may annotate), `requested` (`?project`) if the key has it (403 if
    /// not), else its home; without keys, `requested` or `default`. 401 without a valid key.
    pub fn authorize_feedback(&self, headers: &HeaderMap, requested: Option<&str>) -> Result<String, ApiError> {
        let set = self.current();
        if !set.is_enabled() {
            return project_of(None, requested);
        }
        let g = set.caller(headers).ok_or_else(unauthorized)?;
        project_of(Some(g), requested)
    }

    /// The project an OTLP request writes into: `None` when no keys are configured (each
    /// resource's `userspan.project`, else `default`), else the home project of its key (an HTTP
    /// `Authorization` header, or the gRPC `authorization` metadata entry, the same HTTP/2
    /// header). [`ExportError::Unauthenticated`] without a valid key,
    /// [`ExportError::PermissionDenied`] for a read key.
    pub fn authorize_write(&self, headers: &HeaderMap) -> Result<Option<String>, ExportError> {
        let set = self.current();
        if !set.is_enabled() {
            return Ok(None);
        }
        let g = set.caller(headers).ok_or(ExportError::Unauthenticated)?;
        if !g.kind.may_write() {
            return Err(ExportError::PermissionDenied(
                "a read key may not send OTLP: send spans with an ingest or api key".into(),
            ));
        }
        Ok(Some(g.projects[0].clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<Vec<KeyDef>, String> {
        parse_keys_file(text, Path::new("keys.txt"))
    }

    #[test]
    fn file_lines_comments_and_errors_name_line_and_field() {
        let defs = file("# keys\n\ningest  k1 web   # browser\napi\tk2\tshop\n  # indented comment\n").unwrap();
        assert_eq!(defs.len(), 2);
        assert_eq!((defs[0].kind, defs[0].key.as_str(), defs[0].project.as_str()), (KeyKind::Ingest, "k1", "web"));
        assert_eq!(defs[0].origin, "keys.txt line 3");
        assert_eq!((defs[1].kind, defs[1].project.as_str()), (KeyKind::Api, "shop"));
        let e = file("api k p\nadmin k2 p\n").unwrap_err();
        assert!(e.starts_with("keys.txt line 2: field 1 (kind)") && e.contains("\"admin\""), "{e}");
        let e = file("read secret-k3\n").unwrap_err();
        assert!(e.starts_with("keys.txt line 1: field 3 (project) is missing"), "{e}");
        assert!(!e.contains("secret-k3"), "messages never print a key: {e}");
        let e = file("read\n").unwrap_err();
        assert!(e.contains("line 1: field 2 (key) is missing"), "{e}");
        let e = file("\n\nread k p extra\n").unwrap_err();
        assert!(e.starts_with("keys.txt line 3: field 4"), "{e}");
        let e = file("read kéy p\n").unwrap_err();
        assert!(e.contains("line 1: field 2 (key)"), "{e}");
    }

    #[test]
    fn one_key_one_kind_and_several_projects() {
        let mut defs = file("read k a\nread k b\nread k a\n").unwrap();
        let set = KeySet::build(&defs, true).unwrap();
        assert_eq!(set.grant("k").unwrap().projects, ["a", "b"]);
        assert!(set.grant("K").is_none() && set.grant("k ").is_none() && set.grant("").is_none());
        defs.extend(file("\ningest k c\n").unwrap());
        let e = KeySet::build(&defs, true).unwrap_err();
        assert!(e.starts_with("keys.txt line 2: this key is already given with kind `read` at keys.txt line 1"), "{e}");
    }

    #[test]
    fn flags_split_at_the_last_equals_sign() {
        assert_eq!(parse_api_key("abc:shop").unwrap_err(), "--api-key takes KEY=PROJECT, got no `=`");
        assert_eq!(parse_ingest_key("YWJj==shop").unwrap(), ("YWJj=".into(), "shop".into()));
        assert!(parse_read_key("k=").unwrap_err().contains("project"));
        assert!(parse_read_key("=p").unwrap_err().contains("key is empty"));
        assert!(parse_read_key("a b=p").unwrap_err().contains("visible ASCII"));
    }

    fn bearer_of(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, format!("Bearer {key}").parse().unwrap());
        h
    }

    #[test]
    fn only_an_api_key_may_change_data() {
        let pairs = |k: &str| vec![(k.to_string(), "p".to_string())];
        let sources = KeySources { ingest: pairs("i"), read: pairs("r"), file: None };
        let keys = Keys::load(&pairs("a"), &sources).unwrap();
        let status = |k: &str| keys.authorize_manage(&bearer_of(k), None).map_err(|e| e.status.as_u16());
        assert_eq!(status("a"), Ok("p".to_string()));
        assert_eq!(status("r"), Err(403));
        assert_eq!(status("i"), Err(403));
        assert_eq!(status("x"), Err(401));
        assert_eq!(keys.authorize_manage(&bearer_of("a"), Some("q")).map_err(|e| e.status.as_u16()), Err(403));
        let open = Keys::default();
        assert_eq!(open.authorize_manage(&HeaderMap::new(), Some("q")).unwrap(), "q");
        assert_eq!(open.authorize_write(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn an_empty_keys_file_still_enables_authentication() {
        assert!(KeySet::build(&[], true).unwrap().is_enabled());
        assert!(!KeySet::build(&[], false).unwrap().is_enabled());
    }
}
