//! The attribute set a scope or capture carries: validation, truncation, merging and rendering to
//! span attributes. This is the single implementation every binding calls.
//!
//! Wire keys are in [`crate::conventions`]. Option names follow the host language: snake_case
//! (`user_id`) for Rust and Python, camelCase (`userId`) for JavaScript ([`KeyStyle`]).

use crate::conventions as conv;
use crate::error::{Error, Result};
use crate::privacy::{Privacy, UserIdHashing};
use crate::stats::count_truncation;
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use serde_json::{Map, Value as Json};
use std::str::FromStr;
use std::sync::Arc;

/// Kind of end-user id, sent as `user.id.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserIdType {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A UUID.
    Uuid,
    /// Anything else (the app's own id scheme).
    Custom,
}

impl UserIdType {
    /// The wire spelling ([`conv::USER_ID_TYPES`]): `email`, `phone`, `uuid`, `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserIdType::Email => conv::USER_ID_TYPE_EMAIL,
            UserIdType::Phone => conv::USER_ID_TYPE_PHONE,
            UserIdType::Uuid => conv::USER_ID_TYPE_UUID,
            UserIdType::Custom => conv::USER_ID_TYPE_CUSTOM,
        }
    }
}

impl FromStr for UserIdType {
    type Err = Error;
    /// Parses the wire spelling.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming `user_id_type` and the allowed values.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            conv::USER_ID_TYPE_EMAIL => Ok(UserIdType::Email),
            conv::USER_ID_TYPE_PHONE => Ok(UserIdType::Phone),
            conv::USER_ID_TYPE_UUID => Ok(UserIdType::Uuid),
            conv::USER_ID_TYPE_CUSTOM => Ok(UserIdType::Custom),
            other => Err(Error::InvalidValue {
                field: "user_id_type".into(),
                allowed: allowed_id_types(),
                got: format!("{other:?}"),
            }),
        }
    }
}

fn allowed_id_types() -> String {
    conv::USER_ID_TYPES.map(|t| format!("\"{t}\"")).join(", ")
}

/// How option names are spelled by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStyle {
    /// `user_id`, `user_email`, ... (Rust, Python, the conformance vectors).
    Snake,
    /// `userId`, `userEmail`, ... (JavaScript).
    Camel,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    UserId,
    UserEmail,
    UserIdType,
    UserIdHash,
    UserMetadata,
    SessionId,
    Tags,
    Metadata,
    Attributes,
}

const OPTIONS: [(Opt, &str, &str); 9] = [
    (Opt::UserId, "user_id", "userId"),
    (Opt::UserEmail, "user_email", "userEmail"),
    (Opt::UserIdType, "user_id_type", "userIdType"),
    (Opt::UserIdHash, "user_id_hash", "userIdHash"),
    (Opt::UserMetadata, "user_metadata", "userMetadata"),
    (Opt::SessionId, "session_id", "sessionId"),
    (Opt::Tags, "tags", "tags"),
    (Opt::Metadata, "metadata", "metadata"),
    (Opt::Attributes, "attributes", "attributes"),
];

impl KeyStyle {
    fn name(self, opt: Opt) -> &'static str {
        let (_, snake, camel) = OPTIONS.iter().find(|(o, _, _)| *o == opt).expect("every option is listed");
        match self {
            KeyStyle::Snake => snake,
            KeyStyle::Camel => camel,
        }
    }

    fn lookup(self, key: &str) -> Option<Opt> {
        OPTIONS.iter().find_map(|(o, snake, camel)| {
            let name = if self == KeyStyle::Snake { snake } else { camel };
            (*name == key).then_some(*o)
        })
    }

    /// The option names in this style, comma separated (for error messages).
    pub fn option_names(self) -> String {
        self.option_name_list().join(", ")
    }

    /// The option names in this style, in the core's fixed order (bindings index their positional
    /// fast paths by it): `user_id`, `user_email`, `user_id_type`, `user_id_hash`,
    /// `user_metadata`, `session_id`, `tags`, `metadata`, `attributes` (camelCase for
    /// [`KeyStyle::Camel`]).
    pub fn option_name_list(self) -> &'static [&'static str] {
        const fn names(snake: bool) -> [&'static str; OPTIONS.len()] {
            let mut out = [""; OPTIONS.len()];
            let mut i = 0;
            while i < OPTIONS.len() {
                out[i] = if snake { OPTIONS[i].1 } else { OPTIONS[i].2 };
                i += 1;
            }
            out
        }
        const SNAKE: [&str; OPTIONS.len()] = names(true);
        const CAMEL: [&str; OPTIONS.len()] = names(false);
        match self {
            KeyStyle::Snake => &SNAKE,
            KeyStyle::Camel => &CAMEL,
        }
    }
}

/// A host value handed over by a binding, before validation. Bindings translate their native
/// values into this (and nothing more); [`Attributes::from_options`] does all the checking.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// `None` / `null` / `undefined`: the option is unset.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in i64.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string. Shared, so a binding that reads the host's text once hands it over without a
    /// second copy: an id that needs no truncation is stored as given.
    Str(Arc<str>),
    /// A list / array.
    List(Vec<OptionValue>),
    /// A dict / plain object, entries in the host's order.
    Map(Vec<(String, OptionValue)>),
    /// Anything else; the string names the host type (for the error message).
    Other(String),
}

impl OptionValue {
    /// What the value is, for error messages ("a string", "an integer", "a mapping", ...).
    pub fn describe(&self) -> String {
        match self {
            OptionValue::Null => "null".into(),
            OptionValue::Bool(_) => "a boolean".into(),
            OptionValue::Int(_) => "an integer".into(),
            OptionValue::Float(_) => "a float".into(),
            OptionValue::Str(_) => "a string".into(),
            OptionValue::List(_) => "a list".into(),
            OptionValue::Map(_) => "a mapping".into(),
            OptionValue::Other(t) => format!("an object of type {t}"),
        }
    }
}

impl From<&Json> for OptionValue {
    fn from(v: &Json) -> Self {
        match v {
            Json::Null => OptionValue::Null,
            Json::Bool(b) => OptionValue::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => OptionValue::Int(i),
                None => OptionValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => OptionValue::Str(s.as_str().into()),
            Json::Array(a) => OptionValue::List(a.iter().map(OptionValue::from).collect()),
            Json::Object(o) => OptionValue::Map(o.iter().map(|(k, v)| (k.clone(), v.into())).collect()),
        }
    }
}

/// The attributes of a scope: end-user identity, session, tags, metadata and extra span attributes.
///
/// Build it with the setters (`Attributes::new().user_id("u-1").session_id("s-1")`) or, from a
/// binding, with [`Attributes::from_options`]. Over-long values are truncated at the setter
/// (ids, e-mail, session and each tag over [`conv::MAX_ID_CHARS`] characters) and counted in
/// [`crate::Stats::values_truncated`]; an empty string means "unset".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    user_id: Option<Arc<str>>,
    user_id_type: Option<UserIdType>,
    user_id_hash: Option<Arc<str>>,
    user_email: Option<Arc<str>>,
    user_metadata: Option<Map<String, Json>>,
    session_id: Option<Arc<str>>,
    tags: Vec<Arc<str>>,
    metadata: Option<Map<String, Json>>,
    extra: Vec<KeyValue>,
}

/// Where an id-like value must be cut: `None` when it is empty (unset), `Some(None)` when it fits,
/// `Some(Some(byte))` when it is over [`conv::MAX_ID_CHARS`] characters (counted as a truncation).
fn cut_point(field: &str, value: &str) -> Option<Option<usize>> {
    if value.is_empty() {
        return None;
    }
    if value.len() <= conv::MAX_ID_CHARS {
        return Some(None); // at most 256 bytes, so at most 256 characters
    }
    let cut = value.char_indices().nth(conv::MAX_ID_CHARS).map(|(cut, _)| cut);
    if cut.is_some() {
        count_truncation(field, "256 characters");
    }
    Some(cut)
}

/// `value` as stored (copied once), after [`cut_point`].
fn clip(field: &str, value: &str) -> Option<Arc<str>> {
    let cut = cut_point(field, value)?;
    Some(value[..cut.unwrap_or(value.len())].into())
}

/// [`clip`] for a value the caller already shares: kept as it is unless it must be cut.
fn clip_shared(field: &str, value: Arc<str>) -> Option<Arc<str>> {
    match cut_point(field, &value)? {
        None => Some(value),
        Some(cut) => Some(value[..cut].into()),
    }
}

impl Attributes {
    /// An empty attribute set.
    pub fn new() -> Self {
        Self::default()
    }

    /// End-user id (`user.id`). Empty = unset; over 256 characters is truncated and counted.
    #[inline]
    pub fn user_id(mut self, id: impl AsRef<str>) -> Self {
        self.user_id = clip("user_id", id.as_ref());
        self
    }
    /// Kind of the id (`user.id.type`).
    #[inline]
    pub fn user_id_type(mut self, kind: UserIdType) -> Self {
        self.user_id_type = Some(kind);
        self
    }
    /// App-computed hash of the id (`user.id.hash`, also sent as OTel semconv `user.hash`).
    #[inline]
    pub fn user_id_hash(mut self, hash: impl AsRef<str>) -> Self {
        self.user_id_hash = clip("user_id_hash", hash.as_ref());
        self
    }
    /// End-user e-mail (`user.email`).
    #[inline]
    pub fn user_email(mut self, email: impl AsRef<str>) -> Self {
        self.user_email = clip("user_email", email.as_ref());
        self
    }
    /// End-user metadata (`user.metadata`, sent as JSON text; at most 4 KiB).
    #[inline]
    pub fn user_metadata(mut self, metadata: Map<String, Json>) -> Self {
        self.user_metadata = Some(metadata);
        self
    }
    /// Session id (`session.id`).
    #[inline]
    pub fn session_id(mut self, id: impl AsRef<str>) -> Self {
        self.session_id = clip("session_id", id.as_ref());
        self
    }
    /// Adds one tag (`tag.tags`); duplicates are dropped, order is kept.
    #[inline]
    pub fn tag(mut self, tag: impl AsRef<str>) -> Self {
        self.push_tag(tag.as_ref());
        self
    }
    fn push_tag(&mut self, tag: &str) {
        self.push_clipped_tag(clip("tags", tag));
    }
    fn push_clipped_tag(&mut self, tag: Option<Arc<str>>) {
        if let Some(t) = tag {
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
    }
    /// Adds several tags.
    #[inline]
    pub fn tags<I: IntoIterator<Item = S>, S: AsRef<str>>(self, tags: I) -> Self {
        tags.into_iter().fold(self, |a, t| a.tag(t))
    }
    /// Free-form metadata (`metadata`, OpenInference; sent as JSON text; at most 4 KiB).
    #[inline]
    pub fn metadata(mut self, metadata: Map<String, Json>) -> Self {
        self.metadata = Some(metadata);
        self
    }
    /// One extra span attribute (any OTel value), replacing an earlier one with the same key.
    #[inline]
    pub fn attribute(mut self, kv: KeyValue) -> Self {
        self.put_attribute(kv);
        self
    }
    fn put_attribute(&mut self, kv: KeyValue) {
        self.extra.retain(|e| e.key != kv.key);
        self.extra.push(kv);
    }

    /// The end-user id, if set.
    pub fn get_user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }
    /// The session id, if set.
    pub fn get_session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }
    /// The tags, in order.
    pub fn get_tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|t| &**t)
    }
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        // Field by field: comparing with `Attributes::default()` builds one per call.
        let Attributes {
            user_id,
            user_id_type,
            user_id_hash,
            user_email,
            user_metadata,
            session_id,
            tags,
            metadata,
            extra,
        } = self;
        user_id.is_none()
            && user_id_type.is_none()
            && user_id_hash.is_none()
            && user_email.is_none()
            && user_metadata.is_none()
            && session_id.is_none()
            && tags.is_empty()
            && metadata.is_none()
            && extra.is_empty()
    }

    /// Validates host options (a dict / object already translated to [`OptionValue`]s).
    ///
    /// Keys are the option names in `style`; `null` values mean unset.
    ///
    /// # Errors
    /// - [`Error::UnknownOption`] for a key that is not an option (the message lists them);
    /// - [`Error::InvalidType`] for a wrong type (ids must be strings, `tags` a list of strings,
    ///   `metadata`/`user_metadata` a mapping of JSON-able values, `attributes` a mapping of
    ///   string / number / boolean / homogeneous list values);
    /// - [`Error::InvalidValue`] for `user_id_type` outside `email`, `phone`, `uuid`, `custom`.
    pub fn from_options<I, K>(options: I, style: KeyStyle) -> Result<Attributes>
    where
        I: IntoIterator<Item = (K, OptionValue)>,
        K: AsRef<str>,
    {
        let mut a = Attributes::default();
        for (key, value) in options {
            let key = key.as_ref();
            let opt = style
                .lookup(key)
                .ok_or_else(|| Error::UnknownOption { field: key.to_string(), allowed: style.option_names() })?;
            a.set(opt, style, value)?;
        }
        Ok(a)
    }

    /// Sets option number `index` of [`KeyStyle::option_name_list`] to `value`, with the checks of
    /// [`Attributes::from_options`] (which it shares): the bindings' positional fast path, which
    /// spares naming each option and collecting them first. `null` leaves the option as it is.
    ///
    /// # Errors
    /// As [`Attributes::from_options`]; an `index` past the list is [`Error::UnknownOption`].
    pub fn set_option(&mut self, index: usize, value: OptionValue, style: KeyStyle) -> Result<()> {
        let Some((opt, _, _)) = OPTIONS.get(index) else {
            return Err(Error::UnknownOption { field: format!("option #{index}"), allowed: style.option_names() });
        };
        self.set(*opt, style, value)
    }

    fn set(&mut self, opt: Opt, style: KeyStyle, value: OptionValue) -> Result<()> {
        let name = style.name(opt);
        let a = self;
        if value == OptionValue::Null {
            return Ok(());
        }
        match opt {
            // Fields are set in place (`a = a.user_id(..)` would move the whole set per option);
            // a truncation warning names the option as the caller spelled it.
            Opt::UserId => a.user_id = clip_shared(name, expect_str(name, value)?),
            Opt::UserEmail => a.user_email = clip_shared(name, expect_str(name, value)?),
            Opt::UserIdHash => a.user_id_hash = clip_shared(name, expect_str(name, value)?),
            Opt::SessionId => a.session_id = clip_shared(name, expect_str(name, value)?),
            Opt::UserIdType => {
                let s = expect_str(name, value)?;
                let kind = s.parse::<UserIdType>().map_err(|_| Error::InvalidValue {
                    field: name.into(),
                    allowed: allowed_id_types(),
                    got: format!("{s:?}"),
                })?;
                a.user_id_type = Some(kind);
            }
            Opt::Tags => {
                let OptionValue::List(items) = value else {
                    return Err(type_error(name, "a list of strings", &value));
                };
                for (i, item) in items.into_iter().enumerate() {
                    // The indexed name is only built for the error: valid tags are the hot path.
                    let OptionValue::Str(tag) = item else {
                        return Err(type_error(&format!("{name}[{i}]"), "a string", &item));
                    };
                    a.push_clipped_tag(clip_shared(name, tag));
                }
            }
            Opt::Metadata | Opt::UserMetadata => {
                let map = to_json_object(name, value)?;
                *(if opt == Opt::Metadata { &mut a.metadata } else { &mut a.user_metadata }) = Some(map);
            }
            Opt::Attributes => {
                let OptionValue::Map(entries) = value else {
                    return Err(type_error(name, "a mapping of attribute names to values", &value));
                };
                for (k, v) in entries {
                    let field = format!("{name}.{k}");
                    if k.is_empty() {
                        return Err(Error::InvalidType {
                            field,
                            expected: "a non-empty attribute name".into(),
                            got: "an empty string".into(),
                        });
                    }
                    if let Some(val) = to_otel_value(&field, v)? {
                        a.put_attribute(KeyValue::new(k, val));
                    }
                }
            }
        }
        Ok(())
    }

    /// [`Attributes::from_options`] over a JSON object (used by the conformance vectors and by
    /// bindings whose host values are JSON already).
    pub fn from_json(options: &Map<String, Json>, style: KeyStyle) -> Result<Attributes> {
        Self::from_options(options.iter().map(|(k, v)| (k.as_str(), OptionValue::from(v))), style)
    }

    /// Nested-scope merge: `inner`'s scalars win; tags are the union (outer's order first,
    /// duplicates dropped); `metadata`, `user_metadata` and extra attributes merge shallowly with
    /// `inner`'s keys winning.
    pub fn merge(&self, inner: &Attributes) -> Attributes {
        fn pick<T: Clone>(outer: &Option<T>, inner: &Option<T>) -> Option<T> {
            inner.clone().or_else(|| outer.clone())
        }
        fn shallow(outer: &Option<Map<String, Json>>, inner: &Option<Map<String, Json>>) -> Option<Map<String, Json>> {
            match (outer, inner) {
                (Some(o), Some(i)) => {
                    let mut m = o.clone();
                    m.extend(i.iter().map(|(k, v)| (k.clone(), v.clone())));
                    Some(m)
                }
                _ => pick(outer, inner),
            }
        }
        let mut tags = self.tags.clone();
        for t in &inner.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        let mut extra: Vec<KeyValue> =
            self.extra.iter().filter(|e| !inner.extra.iter().any(|i| i.key == e.key)).cloned().collect();
        extra.extend(inner.extra.iter().cloned());
        Attributes {
            user_id: pick(&self.user_id, &inner.user_id),
            user_id_type: pick(&self.user_id_type, &inner.user_id_type),
            user_id_hash: pick(&self.user_id_hash, &inner.user_id_hash),
            user_email: pick(&self.user_email, &inner.user_email),
            user_metadata: shallow(&self.user_metadata, &inner.user_metadata),
            session_id: pick(&self.session_id, &inner.session_id),
            tags,
            metadata: shallow(&self.metadata, &inner.metadata),
            extra,
        }
    }

    /// The span attributes this set stamps, after the privacy mode: extra attributes first, then
    /// `user.id`, `user.id.type`, `user.id.hash` and `user.hash` (the same hash under the OTel
    /// semconv key), `user.email`, `user.metadata`, `session.id`,
    /// `tag.tags`, `metadata` (typed options win over an extra attribute of the same key).
    /// Metadata JSON over 4 KiB is truncated here and counted.
    pub fn render(&self, privacy: &Privacy) -> Vec<KeyValue> {
        let mut out = Vec::with_capacity(self.extra.len() + 9);
        self.emit(privacy, &self.derive(privacy), |kv| out.push(kv));
        out
    }

    /// The costly parts of rendering (metadata JSON text, the id's HMAC), computed once per scope.
    pub(crate) fn derive(&self, privacy: &Privacy) -> Derived {
        let hash = match (&self.user_id, privacy.mode) {
            (Some(id), UserIdHashing::Add | UserIdHashing::Replace) => Some(privacy.hash(id).into()),
            _ => self.user_id_hash.clone(),
        };
        Derived {
            hash,
            user_metadata: self.user_metadata.as_ref().map(|m| metadata_text("user_metadata", m).into()),
            metadata: self.metadata.as_ref().map(|m| metadata_text("metadata", m).into()),
        }
    }

    /// Whether [`Attributes::derive`] does real work under `privacy` (an HMAC, metadata JSON),
    /// worth computing once per scope; otherwise it only clones `user_id_hash`.
    pub(crate) fn derive_is_costly(&self, privacy: &Privacy) -> bool {
        self.metadata.is_some()
            || self.user_metadata.is_some()
            || (self.user_id.is_some() && privacy.mode != UserIdHashing::Off)
    }

    fn emits(&self, key: &str, privacy: &Privacy, d: &Derived) -> bool {
        match key {
            conv::USER_ID => self.user_id.is_some(),
            conv::USER_ID_TYPE => self.user_id_type.is_some(),
            conv::USER_ID_HASH | conv::USER_HASH => d.hash.is_some(),
            conv::USER_EMAIL => self.user_email.is_some() || privacy.mode == UserIdHashing::Replace,
            conv::USER_METADATA => d.user_metadata.is_some(),
            conv::SESSION_ID => self.session_id.is_some(),
            conv::TAGS => !self.tags.is_empty(),
            conv::METADATA => d.metadata.is_some(),
            _ => false,
        }
    }

    /// Calls `f` with each span attribute, in [`Attributes::render`]'s order, without building a
    /// vector (the stamping processor's hot path).
    pub(crate) fn emit(&self, privacy: &Privacy, d: &Derived, mut f: impl FnMut(KeyValue)) {
        let string = |s: &Arc<str>| Value::String(StringValue::from(s.clone()));
        let kv = |key: &'static str, value: Value| KeyValue::new(Key::from_static_str(key), value);
        for e in &self.extra {
            if !self.emits(e.key.as_str(), privacy, d) {
                f(e.clone());
            }
        }
        let replace = privacy.mode == UserIdHashing::Replace;
        if let Some(id) = &self.user_id {
            let sent = if replace { d.hash.as_ref().unwrap_or(id) } else { id };
            f(kv(conv::USER_ID, string(sent)));
        }
        if let Some(t) = self.user_id_type {
            f(kv(conv::USER_ID_TYPE, Value::from(t.as_str())));
        }
        if let Some(h) = &d.hash {
            f(kv(conv::USER_ID_HASH, string(h)));
            f(kv(conv::USER_HASH, string(h)));
        }
        if let (Some(e), false) = (&self.user_email, replace) {
            f(kv(conv::USER_EMAIL, string(e)));
        }
        if let Some(m) = &d.user_metadata {
            f(kv(conv::USER_METADATA, string(m)));
        }
        if let Some(s) = &self.session_id {
            f(kv(conv::SESSION_ID, string(s)));
        }
        if !self.tags.is_empty() {
            let tags: Vec<StringValue> = self.tags.iter().map(|t| StringValue::from(t.clone())).collect();
            f(kv(conv::TAGS, Value::Array(Array::String(tags))));
        }
        if let Some(m) = &d.metadata {
            f(kv(conv::METADATA, string(m)));
        }
    }

    /// The options as a JSON object in `style` (what `get_attributes()` returns in the bindings).
    /// `metadata`/`user_metadata` are objects, `attributes` maps keys to JSON values.
    pub fn to_options(&self, style: KeyStyle) -> Map<String, Json> {
        let mut m = Map::new();
        let mut put = |opt: Opt, v: Json| {
            m.insert(style.name(opt).to_string(), v);
        };
        let s = |v: &Option<Arc<str>>| v.as_ref().map(|x| Json::String(x.to_string()));
        if let Some(v) = s(&self.user_id) {
            put(Opt::UserId, v)
        }
        if let Some(v) = s(&self.user_email) {
            put(Opt::UserEmail, v)
        }
        if let Some(t) = self.user_id_type {
            put(Opt::UserIdType, Json::String(t.as_str().into()))
        }
        if let Some(v) = s(&self.user_id_hash) {
            put(Opt::UserIdHash, v)
        }
        if let Some(v) = &self.user_metadata {
            put(Opt::UserMetadata, Json::Object(v.clone()))
        }
        if let Some(v) = s(&self.session_id) {
            put(Opt::SessionId, v)
        }
        if !self.tags.is_empty() {
            put(Opt::Tags, Json::Array(self.tags.iter().map(|t| Json::String(t.to_string())).collect()))
        }
        if let Some(v) = &self.metadata {
            put(Opt::Metadata, Json::Object(v.clone()))
        }
        if !self.extra.is_empty() {
            let attrs = self.extra.iter().map(|kv| (kv.key.to_string(), value_to_json(&kv.value))).collect();
            put(Opt::Attributes, Json::Object(attrs))
        }
        m
    }
}

/// What [`Attributes::derive`] computes once per scope and privacy configuration.
#[derive(Debug)]
pub(crate) struct Derived {
    hash: Option<Arc<str>>,
    user_metadata: Option<Arc<str>>,
    metadata: Option<Arc<str>>,
}

/// JSON text of a metadata object, keys sorted; over 4 KiB the last keys are dropped until it
/// fits with `"_truncated": true` added (counted once).
fn metadata_text(field: &str, m: &Map<String, Json>) -> String {
    let text = Json::Object(m.clone()).to_string();
    if text.len() <= conv::MAX_METADATA_BYTES {
        return text;
    }
    count_truncation(field, "4 KiB of JSON");
    let mut kept = m.clone();
    kept.insert("_truncated".into(), Json::Bool(true));
    let mut keys: Vec<String> = m.keys().cloned().collect();
    loop {
        let text = Json::Object(kept.clone()).to_string();
        if text.len() <= conv::MAX_METADATA_BYTES {
            return text;
        }
        match keys.pop() {
            Some(k) => {
                kept.remove(&k);
            }
            None => return "{\"_truncated\":true}".into(),
        }
    }
}

fn type_error(field: &str, expected: &str, got: &OptionValue) -> Error {
    Error::InvalidType { field: field.into(), expected: expected.into(), got: got.describe() }
}

fn expect_str(field: &str, v: OptionValue) -> Result<Arc<str>> {
    match v {
        OptionValue::Str(s) => Ok(s),
        other => Err(type_error(field, "a string", &other)),
    }
}

fn to_json(field: &str, v: OptionValue) -> Result<Json> {
    Ok(match v {
        OptionValue::Null => Json::Null,
        OptionValue::Bool(b) => Json::Bool(b),
        OptionValue::Int(i) => Json::from(i),
        OptionValue::Float(f) => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null),
        OptionValue::Str(s) => Json::String(s.to_string()),
        OptionValue::List(items) => Json::Array(
            items.into_iter().enumerate().map(|(i, x)| to_json(&format!("{field}[{i}]"), x)).collect::<Result<_>>()?,
        ),
        OptionValue::Map(entries) => Json::Object(
            entries
                .into_iter()
                .map(|(k, x)| Ok((k.clone(), to_json(&format!("{field}.{k}"), x)?)))
                .collect::<Result<_>>()?,
        ),
        other @ OptionValue::Other(_) => {
            return Err(type_error(field, "JSON-serialisable (string, number, boolean, null, list, mapping)", &other))
        }
    })
}

fn to_json_object(field: &str, v: OptionValue) -> Result<Map<String, Json>> {
    match v {
        OptionValue::Map(_) => match to_json(field, v)? {
            Json::Object(m) => Ok(m),
            _ => unreachable!("a mapping converts to an object"),
        },
        other => Err(type_error(field, "a mapping (JSON object)", &other)),
    }
}

fn to_otel_value(field: &str, v: OptionValue) -> Result<Option<Value>> {
    const EXPECTED: &str = "a string, number, boolean, or a list of one of those";
    Ok(Some(match v {
        OptionValue::Null => return Ok(None),
        OptionValue::Bool(b) => Value::Bool(b),
        OptionValue::Int(i) => Value::I64(i),
        OptionValue::Float(f) => Value::F64(f),
        OptionValue::Str(s) => Value::String(StringValue::from(s)),
        OptionValue::List(items) => {
            if items.iter().all(|x| matches!(x, OptionValue::Str(_))) {
                Value::Array(Array::String(
                    items
                        .into_iter()
                        .map(|x| if let OptionValue::Str(s) = x { StringValue::from(s) } else { unreachable!() })
                        .collect(),
                ))
            } else if items.iter().all(|x| matches!(x, OptionValue::Bool(_))) {
                Value::Array(Array::Bool(items.into_iter().map(|x| matches!(x, OptionValue::Bool(true))).collect()))
            } else if items.iter().all(|x| matches!(x, OptionValue::Int(_))) {
                Value::Array(Array::I64(
                    items.into_iter().map(|x| if let OptionValue::Int(i) = x { i } else { 0 }).collect(),
                ))
            } else if items.iter().all(|x| matches!(x, OptionValue::Int(_) | OptionValue::Float(_))) {
                Value::Array(Array::F64(
                    items
                        .into_iter()
                        .map(|x| match x {
                            OptionValue::Int(i) => i as f64,
                            OptionValue::Float(f) => f,
                            _ => unreachable!(),
                        })
                        .collect(),
                ))
            } else {
                return Err(Error::InvalidType {
                    field: field.into(),
                    expected: "a list whose items are all strings, all booleans or all numbers".into(),
                    got: "a mixed or nested list".into(),
                });
            }
        }
        other => return Err(type_error(field, EXPECTED, &other)),
    }))
}

/// An OTel attribute value as JSON (arrays as arrays, non-finite floats as strings).
pub fn value_to_json(v: &Value) -> Json {
    fn num(f: f64) -> Json {
        serde_json::Number::from_f64(f).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string()))
    }
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(i) => Json::from(*i),
        Value::F64(f) => num(*f),
        Value::String(s) => Json::String(s.to_string()),
        Value::Array(Array::Bool(a)) => Json::Array(a.iter().map(|b| Json::Bool(*b)).collect()),
        Value::Array(Array::I64(a)) => Json::Array(a.iter().map(|i| Json::from(*i)).collect()),
        Value::Array(Array::F64(a)) => Json::Array(a.iter().map(|f| num(*f)).collect()),
        Value::Array(Array::String(a)) => Json::Array(a.iter().map(|s| Json::String(s.to_string())).collect()),
        other => Json::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(v: Json) -> Result<Attributes> {
        Attributes::from_json(v.as_object().unwrap(), KeyStyle::Snake)
    }

    #[test]
    fn unknown_option_names_the_key_and_lists_the_allowed_ones() {
        let err = opts(json!({"userid": "u"})).unwrap_err();
        assert_eq!(err.kind(), "unknown_option");
        assert_eq!(err.field(), Some("userid"));
        assert!(err.to_string().contains("user_id, user_email"), "{err}");
        let camel = Attributes::from_json(json!({"user_id": "u"}).as_object().unwrap(), KeyStyle::Camel).unwrap_err();
        assert!(camel.to_string().contains("userId, userEmail"), "{camel}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        assert_eq!(opts(json!({"user_id": 42})).unwrap_err().field(), Some("user_id"));
        assert_eq!(opts(json!({"tags": ["a", 1]})).unwrap_err().field(), Some("tags[1]"));
        assert_eq!(opts(json!({"metadata": "x"})).unwrap_err().field(), Some("metadata"));
        assert_eq!(opts(json!({"attributes": {"k": {"n": 1}}})).unwrap_err().field(), Some("attributes.k"));
        let e = opts(json!({"user_id_type": "phone-number"})).unwrap_err();
        assert_eq!(e.kind(), "value");
        assert!(e.to_string().contains("\"email\", \"phone\", \"uuid\", \"custom\""), "{e}");
    }

    #[test]
    fn merge_follows_the_scope_rules() {
        let outer =
            opts(json!({"user_id": "a", "tags": ["x", "y"], "metadata": {"k": 1, "o": 1}, "session_id": "s"})).unwrap();
        let inner = opts(json!({"user_id": "b", "tags": ["y", "z"], "metadata": {"k": 2}})).unwrap();
        let m = outer.merge(&inner);
        assert_eq!(m.get_user_id(), Some("b"));
        assert_eq!(m.get_session_id(), Some("s"));
        assert_eq!(m.get_tags().collect::<Vec<_>>(), ["x", "y", "z"]);
        assert_eq!(m.to_options(KeyStyle::Snake)["metadata"], json!({"k": 2, "o": 1}));
    }

    #[test]
    fn empty_string_means_unset() {
        assert!(opts(json!({"user_id": "", "session_id": null})).unwrap().is_empty());
    }
}
