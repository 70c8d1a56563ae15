//! The one trace export pipeline behind both OTLP transports, OTLP/HTTP ([`super::otlp`]) and
//! OTLP/gRPC ([`super::grpc`]): API-key authentication, decompression and decoding under the
//! size cap, span mapping, the writer hand-off and the wait for its COMMIT, and the error type
//! whose [`ExportError::http_status`] and [`ExportError::grpc_code`] are the single status
//! mapping of both transports (the layout of the OpenTelemetry Collector's OTLP receiver, where
//! one error value is rendered per transport).
//!
//! Every body is checked against the decode budget ([`super::budget`]) after decompression and
//! before decoding: the memory its decoded form would take is bounded, not only its size.
//!
//! Status codes follow the OTLP specification (`opentelemetry-proto` `docs/specification.md`,
//! "OTLP/gRPC Response" and "OTLP/HTTP Response"): bad data is `INVALID_ARGUMENT` / 400 (not
//! retryable), a missing key `UNAUTHENTICATED` / 401, a key without the right
//! (a read key) `PERMISSION_DENIED` / 403, a request over the cap
//! `RESOURCE_EXHAUSTED` / 413 *without* `RetryInfo` (so clients do not retry it), and a busy or
//! stopping receiver `UNAVAILABLE` / 503 with `google.rpc.RetryInfo` / `Retry-After` of
//! [`RETRY_AFTER`].

use super::budget::{self, OverBudget};
use super::AppState;
use crate::ingest::{
    decode_request, gunzip_capped, map_request_with, DecodeError, Encoding, IngestContext, MAX_BODY_BYTES,
};
use crate::store::writer::WriteJob;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use std::fmt;
use std::time::Duration;
use tokio::sync::{mpsc::error::TrySendError, oneshot};
use tonic_types::{ErrorDetails, StatusExt};

/// How long a client should wait before retrying an `UNAVAILABLE` / 503 answer: the HTTP
/// `Retry-After` header and the gRPC `google.rpc.RetryInfo.retry_delay` (1 s).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why an export request was refused. Every refusal of either transport is one of these, and
/// its status codes come only from [`ExportError::http_status`] and [`ExportError::grpc_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// API keys are configured and the request has no `Authorization: Bearer KEY` naming one
    /// (401 / `UNAUTHENTICATED`).
    Unauthenticated,
    /// The key is valid but may not send OTLP (a `read` key, see [`crate::auth`]); why
    /// (403 / `PERMISSION_DENIED`).
    PermissionDenied(String),
    /// OTLP/HTTP only: a `Content-Type` that is neither protobuf nor JSON, the value given
    /// (415 / `INVALID_ARGUMENT`).
    UnsupportedContentType(String),
    /// OTLP/HTTP only: a `Content-Encoding` other than gzip or identity, the value given
    /// (415 / `INVALID_ARGUMENT`). On gRPC, tonic answers an unknown `grpc-encoding` itself
    /// (`UNIMPLEMENTED`, as the gRPC compression spec says).
    UnsupportedContentEncoding(String),
    /// Larger than [`MAX_BODY_BYTES`] (64 MiB) after decompression (413 / `RESOURCE_EXHAUSTED`,
    /// no retry info: retrying the same request cannot succeed).
    TooLarge,
    /// Would take more than [`budget::MAX_DECODED_BYTES`] (256 MiB) of memory once decoded, by
    /// [`budget::check`]'s estimate before decoding (413 / `RESOURCE_EXHAUSTED`, no retry info).
    OverBudget(OverBudget),
    /// Not decodable: bad gzip, bad protobuf, bad JSON; the decoder's message
    /// (400 / `INVALID_ARGUMENT`).
    Invalid(String),
    /// The writer's queue is full (503 / `UNAVAILABLE` + retry delay).
    Busy,
    /// The receiver is stopping (503 / `UNAVAILABLE` + retry delay).
    ShuttingDown,
    /// The writer could not commit the batch; its message (503 / `UNAVAILABLE` + retry delay).
    WriteFailed(String),
}

impl ExportError {
    /// The OTLP/HTTP status.
    pub fn http_status(&self) -> StatusCode {
        match self {
            ExportError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ExportError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            ExportError::UnsupportedContentType(_) | ExportError::UnsupportedContentEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ExportError::TooLarge | ExportError::OverBudget(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ExportError::Invalid(_) => StatusCode::BAD_REQUEST,
            ExportError::Busy | ExportError::ShuttingDown | ExportError::WriteFailed(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The gRPC status code: the OTLP/gRPC answer, and the `code` of the `google.rpc.Status`
    /// body of an OTLP/HTTP error.
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            ExportError::Unauthenticated => tonic::Code::Unauthenticated,
            ExportError::PermissionDenied(_) => tonic::Code::PermissionDenied,
            ExportError::UnsupportedContentType(_)
            | ExportError::UnsupportedContentEncoding(_)
            | ExportError::Invalid(_) => tonic::Code::InvalidArgument,
            ExportError::TooLarge | ExportError::OverBudget(_) => tonic::Code::ResourceExhausted,
            ExportError::Busy | ExportError::ShuttingDown | ExportError::WriteFailed(_) => tonic::Code::Unavailable,
        }
    }

    /// The delay a client should wait before retrying, when retrying can help.
    pub fn retry_after(&self) -> Option<Duration> {
        matches!(self, ExportError::Busy | ExportError::ShuttingDown | ExportError::WriteFailed(_))
            .then_some(RETRY_AFTER)
    }

    /// The gRPC status: [`Self::grpc_code`], the message, and a `google.rpc.RetryInfo` detail
    /// carrying [`Self::retry_after`] when there is one.
    pub fn grpc_status(&self) -> tonic::Status {
        match self.retry_after() {
            Some(d) => tonic::Status::with_error_details(
                self.grpc_code(),
                self.to_string(),
                ErrorDetails::with_retry_info(Some(d)),
            ),
            None => tonic::Status::new(self.grpc_code(), self.to_string()),
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Unauthenticated => f.write_str(crate::auth::UNAUTHENTICATED),
            ExportError::PermissionDenied(why) => f.write_str(why),
            ExportError::UnsupportedContentType(ct) => {
                write!(f, "unsupported Content-Type {ct:?}: send application/x-protobuf or application/json")
            }
            ExportError::UnsupportedContentEncoding(e) => {
                write!(f, "unsupported Content-Encoding {e:?}: send gzip or no encoding")
            }
            ExportError::TooLarge => {
                write!(f, "the request is larger than {MAX_BODY_BYTES} bytes (after decompression)")
            }
            ExportError::OverBudget(over) => over.fmt(f),
            ExportError::Invalid(msg) | ExportError::WriteFailed(msg) => f.write_str(msg),
            ExportError::Busy => f.write_str("the receiver is busy storing earlier requests; retry after the delay"),
            ExportError::ShuttingDown => f.write_str("the receiver is shutting down"),
        }
    }
}

impl std::error::Error for ExportError {}

impl From<DecodeError> for ExportError {
    fn from(e: DecodeError) -> ExportError {
        match e {
            DecodeError::TooLarge => ExportError::TooLarge,
            DecodeError::Invalid(msg) => ExportError::Invalid(msg),
        }
    }
}

/// The project a request writes to: [`crate::auth::Keys::authorize_write`] (`None` when no keys
/// are configured, else the home project of its key; 401 / 403 otherwise).
pub fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Option<String>, ExportError> {
    st.keys.authorize_write(headers)
}

/// A request the writer committed: spans rejected as invalid, if any, and the first reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Spans not stored (bad trace or span ids): `partial_success.rejected_spans`.
    pub rejected: i64,
    /// The first rejection's reason: `partial_success.error_message`.
    pub reason: Option<String>,
}

impl Accepted {
    /// The `ExportTraceServiceResponse`: `partial_success` only when spans were rejected (the
    /// OTLP spec: the field is left unset on full success).
    pub fn response(self) -> ExportTraceServiceResponse {
        let partial_success = (self.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: self.rejected,
            error_message: self.reason.unwrap_or_default(),
        });
        ExportTraceServiceResponse { partial_success }
    }
}

/// Exports one request: gunzips `payload` when `gzip` (capped at [`MAX_BODY_BYTES`]), checks
/// the memory its decoded form would take ([`budget::check`], before decoding), decodes it as
/// `enc`, maps its spans into `project` (see [`authenticate`]), hands them to the writer and
/// returns once the writer has COMMITTED them (durable), or why not. Decoding runs on the
/// blocking pool, off the I/O threads.
pub async fn export(
    st: &AppState,
    payload: Bytes,
    gzip: bool,
    enc: Encoding,
    project: Option<String>,
) -> Result<Accepted, ExportError> {
    let ingest = st.ingest.clone();
    let mapped = tokio::task::spawn_blocking(move || {
        let unzipped;
        let plain: &[u8] = if gzip {
            unzipped = gunzip_capped(&payload)?;
            &unzipped
        } else {
            &payload
        };
        // The memory the decoded request would take is bounded before anything is allocated.
        budget::check(plain, enc).map_err(ExportError::OverBudget)?;
        let req = decode_request(plain, enc)?;
        Ok::<_, ExportError>(map_request_with(req, project.as_deref(), &ingest.pricer))
    })
    .await
    .map_err(|e| ExportError::Invalid(format!("decoder failed: {e}")))??;
    let accepted = Accepted { rejected: mapped.rejected, reason: mapped.reject_reason };
    if mapped.rows.is_empty() {
        return Ok(accepted);
    }
    let tally = IngestContext::tally(&mapped.rows);
    let (reply, wait) = oneshot::channel();
    match st.writer.try_send(WriteJob { rows: mapped.rows, feedback: Vec::new(), reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => return Err(ExportError::Busy),
        Err(TrySendError::Closed(_)) => return Err(ExportError::ShuttingDown),
    }
    match wait.await {
        Ok(Ok(_)) => {
            st.ingest.record(tally);
            Ok(accepted)
        }
        Ok(Err(msg)) => Err(ExportError::WriteFailed(msg)),
        Err(_) => Err(ExportError::WriteFailed("the writer stopped".into())),
    }
}

impl Accepted {
    /// The `ExportLogsServiceResponse`: `partial_success` only when log records were rejected.
    pub fn logs_response(self) -> ExportLogsServiceResponse {
        let partial_success = (self.rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: self.rejected,
            error_message: self.reason.unwrap_or_default(),
        });
        ExportLogsServiceResponse { partial_success }
    }
}

/// Decodes an `ExportLogsServiceRequest` in `encoding` (the rules of
/// [`crate::ingest::decode_request`]).
pub fn decode_logs_request(body: &[u8], encoding: Encoding) -> Result<ExportLogsServiceRequest, DecodeError> {
    use prost::Message;
    match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body)
            .map_err(|e| DecodeError::Invalid(format!("invalid OTLP protobuf: {e}"))),
        Encoding::Json => {
            if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(DecodeError::Invalid("invalid OTLP JSON: the body must be a JSON object".into()));
            }
            serde_json::from_slice(body).map_err(|e| DecodeError::Invalid(format!("invalid OTLP JSON: {e}")))
        }
    }
}

/// Hands feedback records to the writer and waits for their COMMIT; counts them in
/// `GET /api/stats` once committed. `Ok(n)`: records stored or replaced.
pub async fn store_feedback(st: &AppState, rows: Vec<crate::feedback::FeedbackRow>) -> Result<usize, ExportError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let (reply, wait) = oneshot::channel();
    match st.writer.try_send(WriteJob { rows: Vec::new(), feedback: rows, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => return Err(ExportError::Busy),
        Err(TrySendError::Closed(_)) => return Err(ExportError::ShuttingDown),
    }
    match wait.await {
        Ok(Ok(o)) => Ok(o.feedback_stored),
        Ok(Err(msg)) => Err(ExportError::WriteFailed(msg)),
        Err(_) => Err(ExportError::WriteFailed("the writer stopped".into())),
    }
}

/// The logs twin of [`export`] (`POST /v1/logs`, `LogsService/Export`): the same gunzip, cap,
/// decode budget (the logs schema), decoding and writer hand-off; feedback records
/// (`gen_ai.evaluation.result`, [`crate::feedback`]) are stored, other log records acknowledged
/// and dropped, invalid feedback records rejected in `partial_success`. Returns once the
/// writer has COMMITTED the records.
pub async fn export_logs(
    st: &AppState,
    payload: Bytes,
    gzip: bool,
    enc: Encoding,
    project: Option<String>,
) -> Result<Accepted, ExportError> {
    let key_project = project.clone();
    let mapped = tokio::task::spawn_blocking(move || {
        let unzipped;
        let plain: &[u8] = if gzip {
            unzipped = gunzip_capped(&payload)?;
            &unzipped
        } else {
            &payload
        };
        budget::check_signal(plain, enc, budget::Signal::Logs).map_err(ExportError::OverBudget)?;
        let req = decode_logs_request(plain, enc)?;
        Ok::<_, ExportError>(crate::feedback::map_logs_request(req, project.as_deref(), crate::timefmt::now_ns()))
    })
    .await
    .map_err(|e| ExportError::Invalid(format!("decoder failed: {e}")))??;
    let accepted = Accepted { rejected: mapped.rejected, reason: mapped.reject_reason };
    let mut per: Vec<(std::sync::Arc<str>, crate::ingest::IngestCounts)> = Vec::new();
    let project_of = mapped.rows.first().map(|r| r.project.clone());
    let stored = store_feedback(st, mapped.rows).await?;
    // Counted per project of the request (one project per key; without keys, the first
    // resource's).
    let p = key_project
        .map(std::sync::Arc::<str>::from)
        .or(project_of)
        .unwrap_or_else(|| std::sync::Arc::from(userspan::conventions::DEFAULT_PROJECT));
    per.push((
        p,
        crate::ingest::IngestCounts {
            log_records: mapped.received,
            feedback_records: stored as i64,
            rejected_feedback_records: mapped.rejected,
            dropped_log_records: mapped.dropped,
            ..Default::default()
        },
    ));
    st.ingest.record(per);
    Ok(accepted)
}
