//! The decode budget: the memory decoding an OTLP export request would take, estimated from the
//! body *before* decoding it, and a refusal over [`MAX_DECODED_BYTES`] (256 MiB). One check for
//! both transports, run by [`super::export::export`] after decompression and before decoding.
//!
//! Why: the body cap ([`crate::ingest::MAX_BODY_BYTES`]) bounds the bytes on the wire, not what
//! they decode to. An empty repeated message is 2 bytes of protobuf (`{}` is 3 of JSON) but a
//! whole struct in memory (a `Span` is over 200 bytes), so 8 MiB of empty spans or attributes
//! would decode to gigabytes. OTLP/JSON adds serde's buffering of every `AnyValue` (its
//! flattened `oneof`), which copies a nested value once per enclosing `AnyValue`.
//!
//! How: one pass over the body that follows the OTLP trace schema without building anything —
//! protobuf with prost's own wire primitives ([`prost::encoding::decode_key`],
//! [`prost::encoding::decode_varint`], [`prost::encoding::skip_field`]), JSON with serde_json's
//! parser driving a visitor that allocates nothing — and adds up what the decoder would allocate:
//! every element of a repeated field (its `Vec`'s growth by doubling), every string and byte
//! string, each rounded up to a malloc chunk; for JSON also the serde `Content` copies of
//! `AnyValue`s. The pass stops as soon as the sum is over the budget. Where the body is malformed
//! it stops too and leaves the error to the decoder, which then fails at (or before) the same
//! point, having allocated no more than what was counted.
//!
//! Nesting is bounded by the decoders themselves: prost refuses messages nested deeper than 100
//! levels ([`PROTOBUF_MAX_DEPTH`]) and serde_json JSON nested deeper than 128; the scan stops at
//! the same depths, so it cannot overflow the stack either.

use crate::ingest::Encoding;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::fmt;
use std::mem::size_of;

/// Most memory one request may take once decoded (256 MiB, four times the 64 MiB body cap): the
/// estimate of [`estimate`]. A realistic request decodes to 1–4 times its protobuf size, so any
/// body under the cap that is not made of tiny repeated messages passes.
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

/// Deepest protobuf message nesting decoded, below the request (prost's recursion limit). An
/// `AnyValue` array in an attribute of a span is 7 levels down; each array level adds 2.
pub const PROTOBUF_MAX_DEPTH: u32 = 100;

/// The most the scan's estimate can be per byte of protobuf (2 × the largest message + 12): every
/// allocation comes from a field of at least 2 bytes (key, length); a repeated element costs at
/// most 4 × its size + 24 (a `Vec` of `n` holds at most `max(4, 2n)`, plus the malloc chunk's
/// rounding), a string or byte string of `len` bytes at most `max(32, len + 23)`. A body of at
/// most `limit / PROTOBUF_MAX_RATIO` bytes (about 550 KiB for the default budget: an SDK's batch of
/// 512 spans) is therefore within any `limit` and not scanned.
pub const PROTOBUF_MAX_RATIO: u64 = 2 * Msg::LARGEST + 12;

/// What decoding a body would take, as far as the scan went (for a small protobuf not scanned,
/// [`PROTOBUF_MAX_RATIO`] × its size, and no messages counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Heap bytes the decoder would allocate (an upper estimate, in malloc chunks).
    pub bytes: u64,
    /// Messages (protobuf) or JSON objects of known OTLP messages seen.
    pub messages: u64,
}

/// A request whose decoded form would be over the budget: the limit, and the messages seen when
/// the scan passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// The budget passed, bytes ([`MAX_DECODED_BYTES`] for [`check`]).
    pub limit: u64,
    /// Messages seen before the estimate passed the limit.
    pub messages: u64,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request would take more than {} MiB of memory once decoded (the receiver's decode budget; {} \
             messages, such as spans, attributes or values, before the limit): send fewer spans or attributes \
             per request",
            self.limit >> 20,
            self.messages
        )
    }
}

impl std::error::Error for OverBudget {}

/// [`estimate`] with [`MAX_DECODED_BYTES`].
pub fn check(body: &[u8], encoding: Encoding) -> Result<Estimate, OverBudget> {
    estimate(body, encoding, MAX_DECODED_BYTES)
}

/// Which OTLP export request a body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `ExportTraceServiceRequest` (`/v1/traces`, `TraceService/Export`).
    Traces,
    /// `ExportLogsServiceRequest` (`/v1/logs`, `LogsService/Export`).
    Logs,
}

/// [`check`] for a request of `signal` (the logs schema walked like the trace schema).
pub fn check_signal(body: &[u8], encoding: Encoding, signal: Signal) -> Result<Estimate, OverBudget> {
    let root = match signal {
        Signal::Traces => Msg::Request,
        Signal::Logs => Msg::LogsRequest,
    };
    if encoding == Encoding::Protobuf && (body.len() as u64).saturating_mul(PROTOBUF_MAX_RATIO) <= MAX_DECODED_BYTES {
        return Ok(Estimate { bytes: body.len() as u64 * PROTOBUF_MAX_RATIO, messages: 0 });
    }
    scan_root(body, encoding, MAX_DECODED_BYTES, root)
}

/// Whether decoding `body` (an `ExportTraceServiceRequest` in `encoding`, decompressed) stays
/// within `limit` bytes: [`scan`], except for a protobuf too small to pass the limit whatever it
/// holds (see [`PROTOBUF_MAX_RATIO`]).
pub fn estimate(body: &[u8], encoding: Encoding, limit: u64) -> Result<Estimate, OverBudget> {
    if encoding == Encoding::Protobuf && (body.len() as u64).saturating_mul(PROTOBUF_MAX_RATIO) <= limit {
        return Ok(Estimate { bytes: body.len() as u64 * PROTOBUF_MAX_RATIO, messages: 0 });
    }
    scan(body, encoding, limit)
}

/// The memory decoding `body` (an `ExportTraceServiceRequest` in `encoding`, decompressed) would
/// take, by one pass over it, or [`OverBudget`] as soon as it passes `limit` bytes. A malformed
/// body is estimated up to where it stops being decodable (the decoder then refuses it there).
pub fn scan(body: &[u8], encoding: Encoding, limit: u64) -> Result<Estimate, OverBudget> {
    scan_root(body, encoding, limit, Msg::Request)
}

fn scan_root(body: &[u8], encoding: Encoding, limit: u64, root: Msg) -> Result<Estimate, OverBudget> {
    let mut acc = Acc { limit, ..Acc::default() };
    let stop = match encoding {
        Encoding::Protobuf => scan_protobuf(body, root, 0, &mut acc).err(),
        Encoding::Json => {
            let cell = RefCell::new(acc);
            let stop = scan_json(body, &cell, root).err();
            acc = cell.into_inner();
            stop
        }
    };
    match stop {
        Some(Stop::Over) => Err(OverBudget { limit, messages: acc.messages }),
        _ => Ok(Estimate { bytes: acc.total(), messages: acc.messages }),
    }
}

// ------------------------------------------------------------------------------------------------
// The memory model
// ------------------------------------------------------------------------------------------------

/// Bytes a heap allocation of `len` bytes takes: glibc malloc's chunk (8 bytes of header, 16-byte
/// granules, 32 at least); 0 for none.
const fn chunk(len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let c = (len + 8 + 15) & !15;
    if c < 32 {
        32
    } else {
        c
    }
}

/// Capacity of a `Vec` after `n` pushes onto an empty one (amortised doubling from at least 4
/// elements of up to 1 KiB, 1 above).
const fn capacity(n: u64, elem: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let min = if elem <= 1024 { 4 } else { 1 };
    let c = n.next_power_of_two();
    if c < min {
        min
    } else {
        c
    }
}

/// Bytes the `n+1`-th push onto a `Vec` of `elem`-byte elements adds.
const fn push_cost(n: u64, elem: u64) -> u64 {
    chunk(capacity(n + 1, elem) * elem) - chunk(capacity(n, elem) * elem)
}

/// Bytes of serde's `Content` (its buffered form of a JSON value: a tag and a `String` / `Vec`).
const CONTENT: u64 = 32;

/// Bytes of a `String` / `Vec` header (an element of `Vec<String>`).
const STRING: u64 = size_of::<String>() as u64;

/// The sums of a scan: what the decoded request keeps, and what decoding holds for a while.
#[derive(Default)]
struct Acc {
    /// Bytes of the decoded request.
    bytes: u64,
    /// Bytes held while decoding the current top-level JSON `AnyValue` (serde's `Content`),
    /// freed when it is done.
    transient: u64,
    /// The most `transient` was.
    transient_peak: u64,
    /// serde_json's scratch buffer (kept for the whole parse): bytes, at the longest string with
    /// escapes.
    scratch: u64,
    messages: u64,
    limit: u64,
}

impl Acc {
    /// The peak estimate: what the request keeps plus the most held at once on the way.
    fn total(&self) -> u64 {
        self.bytes.saturating_add(self.transient_peak).saturating_add(self.scratch)
    }

    fn check(&self) -> Result<(), Stop> {
        if self.total() > self.limit {
            Err(Stop::Over)
        } else {
            Ok(())
        }
    }

    fn add(&mut self, n: u64) -> Result<(), Stop> {
        self.bytes = self.bytes.saturating_add(n);
        self.check()
    }

    fn add_transient(&mut self, n: u64) -> Result<(), Stop> {
        self.transient = self.transient.saturating_add(n);
        self.transient_peak = self.transient_peak.max(self.transient);
        self.check()
    }
}

/// Why a scan stopped early.
#[derive(Debug)]
enum Stop {
    /// Past the limit.
    Over,
    /// Not decodable from here: the decoder fails at this point or before.
    Malformed,
}

// ------------------------------------------------------------------------------------------------
// The schema: the OTLP trace messages and the fields that allocate
// ------------------------------------------------------------------------------------------------

/// The messages of an `ExportTraceServiceRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    LogsRequest,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
}

/// What a field holds, as far as memory goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A singular message (stored inline in its parent).
    One(Msg),
    /// A repeated message (a `Vec`).
    Many(Msg),
    /// A string or, in protobuf, a byte string.
    Text,
    /// A repeated string.
    Texts,
    /// Bytes that OTLP/JSON writes as hex (trace and span ids).
    Hex,
    /// Bytes that OTLP/JSON writes as base64 (`AnyValue.bytes_value`).
    Base64,
    /// OTLP/JSON only (field number 0, which protobuf never has): a value whose text is copied
    /// while it is decoded, then dropped (`AnyValue.intValue` as a string).
    Scratch,
}

/// (protobuf field number, OTLP/JSON name, kind) of every field that allocates or nests. Other
/// fields (numbers, enums, fixed times) take no heap memory and are skipped.
type Fields = &'static [(u32, &'static str, Kind)];

impl Msg {
    /// Every message.
    const ALL: [Msg; 18] = [
        Msg::LogsRequest,
        Msg::ResourceLogs,
        Msg::ScopeLogs,
        Msg::LogRecord,
        Msg::Request,
        Msg::ResourceSpans,
        Msg::Resource,
        Msg::EntityRef,
        Msg::ScopeSpans,
        Msg::Scope,
        Msg::Span,
        Msg::Event,
        Msg::Link,
        Msg::Status,
        Msg::KeyValue,
        Msg::AnyValue,
        Msg::ArrayValue,
        Msg::KeyValueList,
    ];

    /// The largest [`Msg::size`].
    const LARGEST: u64 = {
        let (mut i, mut max) = (0, 0);
        while i < Msg::ALL.len() {
            if Msg::ALL[i].size() > max {
                max = Msg::ALL[i].size();
            }
            i += 1;
        }
        max
    };

    /// Bytes of one value in a `Vec`.
    const fn size(self) -> u64 {
        (match self {
            Msg::Request => size_of::<ExportTraceServiceRequest>(),
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::EntityRef => size_of::<EntityRef>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::Span => size_of::<Span>(),
            Msg::Event => size_of::<Event>(),
            Msg::Link => size_of::<Link>(),
            Msg::Status => size_of::<Status>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
            Msg::LogsRequest => size_of::<ExportLogsServiceRequest>(),
            Msg::ResourceLogs => size_of::<ResourceLogs>(),
            Msg::ScopeLogs => size_of::<ScopeLogs>(),
            Msg::LogRecord => size_of::<LogRecord>(),
        }) as u64
    }

    /// The fields (opentelemetry-proto's `trace.proto`, `common.proto`, `resource.proto`).
    const fn fields(self) -> Fields {
        use Kind::*;
        match self {
            Msg::Request => &[(1, "resourceSpans", Many(Msg::ResourceSpans))],
            Msg::ResourceSpans => {
                &[(1, "resource", One(Msg::Resource)), (2, "scopeSpans", Many(Msg::ScopeSpans)), (3, "schemaUrl", Text)]
            }
            Msg::Resource => &[(1, "attributes", Many(Msg::KeyValue)), (3, "entityRefs", Many(Msg::EntityRef))],
            Msg::EntityRef => {
                &[(1, "schemaUrl", Text), (2, "type", Text), (3, "idKeys", Texts), (4, "descriptionKeys", Texts)]
            }
            Msg::ScopeSpans => &[(1, "scope", One(Msg::Scope)), (2, "spans", Many(Msg::Span)), (3, "schemaUrl", Text)],
            Msg::Scope => &[(1, "name", Text), (2, "version", Text), (3, "attributes", Many(Msg::KeyValue))],
            Msg::Span => &[
                (1, "traceId", Hex),
                (2, "spanId", Hex),
                (3, "traceState", Text),
                (4, "parentSpanId", Hex),
                (5, "name", Text),
                (9, "attributes", Many(Msg::KeyValue)),
                (11, "events", Many(Msg::Event)),
                (13, "links", Many(Msg::Link)),
                (15, "status", One(Msg::Status)),
            ],
            Msg::Event => &[(2, "name", Text), (3, "attributes", Many(Msg::KeyValue))],
            Msg::Link => &[
                (1, "traceId", Hex),
                (2, "spanId", Hex),
                (3, "traceState", Text),
                (4, "attributes", Many(Msg::KeyValue)),
            ],
            Msg::Status => &[(2, "message", Text)],
            Msg::KeyValue => &[(1, "key", Text), (2, "value", One(Msg::AnyValue))],
            Msg::AnyValue => &[
                (1, "stringValue", Text),
                (5, "arrayValue", One(Msg::ArrayValue)),
                (6, "kvlistValue", One(Msg::KeyValueList)),
                (7, "bytesValue", Base64),
                (0, "intValue", Scratch),
            ],
            Msg::ArrayValue => &[(1, "values", Many(Msg::AnyValue))],
            Msg::KeyValueList => &[(1, "values", Many(Msg::KeyValue))],
            // `logs.proto`.
            Msg::LogsRequest => &[(1, "resourceLogs", Many(Msg::ResourceLogs))],
            Msg::ResourceLogs => {
                &[(1, "resource", One(Msg::Resource)), (2, "scopeLogs", Many(Msg::ScopeLogs)), (3, "schemaUrl", Text)]
            }
            Msg::ScopeLogs => {
                &[(1, "scope", One(Msg::Scope)), (2, "logRecords", Many(Msg::LogRecord)), (3, "schemaUrl", Text)]
            }
            Msg::LogRecord => &[
                (3, "severityText", Text),
                (5, "body", One(Msg::AnyValue)),
                (6, "attributes", Many(Msg::KeyValue)),
                (9, "traceId", Hex),
                (10, "spanId", Hex),
                (12, "eventName", Text),
            ],
        }
    }
}

/// Most fields of one message in [`Msg::fields`] (`Span`'s).
const MAX_FIELDS: usize = 9;

// ------------------------------------------------------------------------------------------------
// Protobuf
// ------------------------------------------------------------------------------------------------

/// Adds the allocations of message `msg` encoded in `buf` (its fields, without the length prefix)
/// at nesting `depth` below the request.
fn scan_protobuf(mut buf: &[u8], msg: Msg, depth: u32, acc: &mut Acc) -> Result<(), Stop> {
    let fields = msg.fields();
    let mut counts = [0u64; MAX_FIELDS];
    while !buf.is_empty() {
        let (number, wire_type) = decode_key(&mut buf).map_err(|_| Stop::Malformed)?;
        let Some(i) = fields.iter().position(|f| f.0 == number) else {
            skip_field(wire_type, number, &mut buf, DecodeContext::default()).map_err(|_| Stop::Malformed)?;
            continue;
        };
        // Every listed field is length-delimited; prost refuses another wire type.
        if wire_type != WireType::LengthDelimited {
            return Err(Stop::Malformed);
        }
        let len = decode_varint(&mut buf).map_err(|_| Stop::Malformed)?;
        if len > buf.len() as u64 {
            return Err(Stop::Malformed);
        }
        let (inner, rest) = buf.split_at(len as usize);
        buf = rest;
        match fields[i].2 {
            Kind::One(m) | Kind::Many(m) => {
                if let Kind::Many(_) = fields[i].2 {
                    acc.add(push_cost(counts[i], m.size()))?;
                    counts[i] += 1;
                }
                if depth >= PROTOBUF_MAX_DEPTH {
                    return Err(Stop::Malformed); // prost's recursion limit
                }
                acc.messages += 1;
                scan_protobuf(inner, m, depth + 1, acc)?;
            }
            Kind::Texts => {
                acc.add(push_cost(counts[i], STRING) + chunk(len))?;
                counts[i] += 1;
            }
            Kind::Text | Kind::Hex | Kind::Base64 | Kind::Scratch => acc.add(chunk(len))?,
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// JSON
// ------------------------------------------------------------------------------------------------

fn scan_json(body: &[u8], acc: &RefCell<Acc>, root: Msg) -> Result<(), Stop> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let walked = Walk { role: Role::Msg(root), copies: 0, acc }.deserialize(&mut de).and_then(|()| de.end());
    match walked {
        Ok(()) => Ok(()),
        Err(_) if acc.borrow().check().is_err() => Err(Stop::Over),
        Err(_) => Err(Stop::Malformed),
    }
}

/// What the decoder makes of a JSON value.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// A message.
    Msg(Msg),
    /// A field of `kind`.
    Field(Kind),
    /// Nothing (an unknown field, a number): skipped.
    Ignored,
}

/// A JSON value walked as `role`. `copies`: how many times serde holds it as `Content` — once
/// per enclosing `AnyValue` (each buffers its flattened object, and a nested one clones its part
/// of the buffer again).
#[derive(Clone, Copy)]
struct Walk<'a> {
    role: Role,
    copies: u64,
    acc: &'a RefCell<Acc>,
}

impl Walk<'_> {
    /// Adds `typed` bytes the decoded request keeps and `content` bytes of `Content` per copy.
    fn add<E: de::Error>(&self, typed: u64, content: u64) -> Result<(), E> {
        let mut acc = self.acc.borrow_mut();
        let kept = acc.add(typed);
        kept.and_then(|()| acc.add_transient(self.copies * content)).map_err(|_| E::custom("over the decode budget"))
    }

    /// A string of `len` bytes; `owned` when it had escapes (serde then holds a copy).
    fn string<E: de::Error>(&self, len: u64, owned: bool) -> Result<(), E> {
        let typed = match self.role {
            Role::Field(Kind::Text) => chunk(len),
            // The bytes the text encodes (hex is decoded from the borrowed text; base64 from a
            // copy).
            Role::Field(Kind::Hex) => chunk(len / 2),
            Role::Field(Kind::Base64) => chunk(len) + chunk(len / 4 * 3 + 3),
            _ => 0,
        };
        if owned {
            // serde_json unescapes into its scratch `Vec<u8>` (grown by doubling, from 8).
            let mut acc = self.acc.borrow_mut();
            acc.scratch = acc.scratch.max(chunk(2 * len + 8));
        }
        if let Role::Field(Kind::Scratch) = self.role {
            self.acc.borrow_mut().add_transient(chunk(len)).map_err(|_| E::custom("over the decode budget"))?;
        }
        self.add(typed, if owned { chunk(len) } else { 0 })
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.string(v.len() as u64, false)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.string(v.len() as u64, true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (element, typed) = match self.role {
            Role::Field(Kind::Many(m)) => (Role::Msg(m), m.size()),
            Role::Field(Kind::Texts) => (Role::Field(Kind::Text), STRING),
            _ => (Role::Ignored, 0),
        };
        let mut n = 0;
        while seq.next_element_seed(Walk { role: element, ..self })?.is_some() {
            let typed = if typed > 0 { push_cost(n, typed) } else { 0 };
            self.add(typed, push_cost(n, CONTENT))?;
            n += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (fields, copies) = match self.role {
            Role::Msg(m) => {
                self.acc.borrow_mut().messages += 1;
                // An `AnyValue` buffers its whole object (serde's `flatten`).
                (m.fields(), if m == Msg::AnyValue { self.copies + 1 } else { self.copies })
            }
            _ => (&[][..], self.copies),
        };
        let (walk, mut n) = (Walk { copies, ..self }, 0);
        let held = self.acc.borrow().transient;
        while let Some((field, owned_key, key_len)) = map.next_key_seed(Key(fields))? {
            walk.add(0, push_cost(n, 2 * CONTENT) + owned_key)?;
            if owned_key > 0 {
                let mut acc = walk.acc.borrow_mut();
                acc.scratch = acc.scratch.max(chunk(2 * key_len + 8));
            }
            if copies > self.copies {
                // `AnyValue`'s visitor reads each key into a `String`.
                walk.acc.borrow_mut().add_transient(chunk(key_len)).map_err(|_| de::Error::custom("over"))?;
            }
            let role = match field {
                Some(Kind::One(m)) => Role::Msg(m),
                Some(kind) => Role::Field(kind),
                None => Role::Ignored,
            };
            map.next_value_seed(Walk { role, ..walk })?;
            n += 1;
        }
        if self.copies == 0 && copies == 1 {
            // A top-level `AnyValue` is decoded: serde frees its buffers.
            self.acc.borrow_mut().transient = held;
        }
        Ok(())
    }
}

/// An object key: the field of `.0` it names, the bytes serde holds when it had escapes, and its
/// length.
struct Key(Fields);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = (Option<Kind>, u64, u64);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = (Option<Kind>, u64, u64);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((self.0.iter().find(|f| f.1 == v).map(|f| f.2), 0, v.len() as u64))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((self.0.iter().find(|f| f.1 == v).map(|f| f.2), chunk(v.len() as u64), v.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_malloc_model_rounds_like_glibc() {
        assert_eq!((chunk(0), chunk(1), chunk(24), chunk(25), chunk(100)), (0, 32, 32, 48, 112));
        assert_eq!((capacity(1, 8), capacity(5, 8), capacity(1, 2048)), (4, 8, 1));
        assert_eq!((1..=9).map(|n| push_cost(n - 1, 16)).sum::<u64>(), chunk(16 * 16));
    }

    #[test]
    fn every_field_number_and_name_is_listed_once() {
        for m in Msg::ALL {
            let f = m.fields();
            assert!(f.len() <= MAX_FIELDS, "{m:?}");
            for (i, a) in f.iter().enumerate() {
                assert!(f[i + 1..].iter().all(|b| b.0 != a.0 && b.1 != a.1), "{m:?} {a:?}");
            }
        }
    }
}
