//! `POST /v1/traces`: OTLP/HTTP per the OTLP spec. Protobuf or JSON by `Content-Type`
//! (parameters ignored), optional gzip, 64 MiB cap after decompression (413), 256 MiB decode
//! budget ([`super::budget`], 413 before decoding), undecodable → 400
//! with a `google.rpc.Status`, unsupported type → 415, missing/invalid key → 401, writer queue
//! full → 503 + `Retry-After`, invalid spans → `partial_success`. The response is encoded like
//! the request. 200 only after the writer's COMMIT. The pipeline and the status mapping are
//! [`super::export`]'s, shared with OTLP/gRPC; this module only reads HTTP and writes HTTP.

use super::export::{authenticate, export as export_request, export_logs as export_logs_request, ExportError};
use super::AppState;
use crate::ingest::{Encoding, MAX_BODY_BYTES};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

/// Seconds a client should wait after a 503 (`Retry-After`): [`super::export::RETRY_AFTER`].
pub const RETRY_AFTER_SECS: u64 = super::export::RETRY_AFTER.as_secs();

/// `google.rpc.Status` (code, message; no details).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    /// gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// Developer-facing message.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The error response of `err`: its [`ExportError::http_status`], a `google.rpc.Status` body
/// (code [`ExportError::grpc_code`]) in the request's encoding (JSON when unknown),
/// `Retry-After` when [`ExportError::retry_after`] says, `WWW-Authenticate: Bearer` on 401.
pub fn error_response(err: &ExportError, enc: Option<Encoding>) -> Response {
    let status = RpcStatus { code: err.grpc_code() as i32, message: err.to_string() };
    let (ct, body) = match enc {
        Some(Encoding::Protobuf) => (Encoding::Protobuf.content_type(), status.encode_to_vec()),
        _ => (
            Encoding::Json.content_type(),
            serde_json::to_vec(&serde_json::json!({ "code": status.code, "message": status.message, "details": [] }))
                .unwrap_or_default(),
        ),
    };
    let http = err.http_status();
    let mut r = (http, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Some(d) = err.retry_after() {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(d.as_secs()));
    }
    if http == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

fn ok_response(enc: Encoding, resp: ExportTraceServiceResponse) -> Response {
    let body = match enc {
        Encoding::Protobuf => resp.encode_to_vec(),
        Encoding::Json => match &resp.partial_success {
            None => b"{}".to_vec(),
            Some(p) => serde_json::to_vec(&serde_json::json!({
                "partialSuccess": { "rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message }
            }))
            .unwrap_or_default(),
        },
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(enc.content_type()));
    r
}

fn ok_logs_response(enc: Encoding, resp: ExportLogsServiceResponse) -> Response {
    let body = match enc {
        Encoding::Protobuf => resp.encode_to_vec(),
        Encoding::Json => match &resp.partial_success {
            None => b"{}".to_vec(),
            Some(p) => serde_json::to_vec(&serde_json::json!({
                "partialSuccess": {
                    "rejectedLogRecords": p.rejected_log_records.to_string(),
                    "errorMessage": p.error_message,
                }
            }))
            .unwrap_or_default(),
        },
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(enc.content_type()));
    r
}

/// Reads a request body of at most [`MAX_BODY_BYTES`] (`TooLarge` beyond).
pub async fn read_capped(body: Body) -> Result<Bytes, ExportError> {
    read_capped_to(body, MAX_BODY_BYTES).await
}

/// Reads a request body of at most `max` bytes (`TooLarge` beyond).
pub async fn read_capped_to(body: Body, max: usize) -> Result<Bytes, ExportError> {
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ExportError::TooLarge),
        Err(e) => Err(ExportError::Invalid(format!("cannot read the request body: {e}"))),
    }
}

/// `true` for `Content-Encoding: gzip`, `false` for none or identity.
pub fn gzip_of(headers: &HeaderMap) -> Result<bool, ExportError> {
    match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(e) if e.is_empty() || e == "identity" => Ok(false),
        Some(e) if e == "gzip" => Ok(true),
        Some(e) => Err(ExportError::UnsupportedContentEncoding(e)),
    }
}

/// The handler.
pub async fn export(
    axum::extract::State(st): axum::extract::State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(enc) = Encoding::from_content_type(ct) else {
        return error_response(&ExportError::UnsupportedContentType(ct.to_string()), None);
    };
    let result = async {
        let project = authenticate(&st, &headers)?;
        let gzip = gzip_of(&headers)?;
        let raw = read_capped(body).await?;
        export_request(&st, raw, gzip, enc, project).await
    }
    .await;
    match result {
        Ok(accepted) => ok_response(enc, accepted.response()),
        Err(e) => error_response(&e, Some(enc)),
    }
}

/// `POST /v1/logs`: OTLP/HTTP logs with the policy of `/v1/traces` (see the module docs); the
/// records go through [`super::export::export_logs`]. Feedback records
/// (`gen_ai.evaluation.result`) are stored, other log records acknowledged and dropped.
pub async fn export_logs(
    axum::extract::State(st): axum::extract::State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(enc) = Encoding::from_content_type(ct) else {
        return error_response(&ExportError::UnsupportedContentType(ct.to_string()), None);
    };
    let result = async {
        let project = authenticate(&st, &headers)?;
        let gzip = gzip_of(&headers)?;
        let raw = read_capped(body).await?;
        export_logs_request(&st, raw, gzip, enc, project).await
    }
    .await;
    match result {
        Ok(accepted) => ok_logs_response(enc, accepted.logs_response()),
        Err(e) => error_response(&e, Some(enc)),
    }
}
