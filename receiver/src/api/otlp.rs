//! `POST /v1/traces`: OTLP/HTTP per the OTLP spec. Protobuf or JSON by `Content-Type`
//! (parameters ignored), optional gzip, 64 MiB cap after decompression (413), undecodable → 400
//! with a `google.rpc.Status`, unsupported type → 415, missing/invalid key → 401, writer queue
//! full → 503 + `Retry-After`, invalid spans → `partial_success`. The response is encoded like
//! the request. 200 only after the writer's COMMIT.

use super::{bearer, AppState};
use crate::ingest::{decode_request, gunzip_capped, map_request, DecodeError, Encoding, MAX_BODY_BYTES};
use crate::store::writer::WriteJob;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;
use tokio::sync::{mpsc::error::TrySendError, oneshot};

/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 1;

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

const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNAVAILABLE: i32 = 14;
const UNAUTHENTICATED: i32 = 16;

/// An error response carrying a `google.rpc.Status` in the request's encoding (JSON when unknown).
pub fn status_response(http: StatusCode, code: i32, message: String, enc: Option<Encoding>) -> Response {
    let status = RpcStatus { code, message };
    let (ct, body) = match enc {
        Some(Encoding::Protobuf) => (Encoding::Protobuf.content_type(), status.encode_to_vec()),
        _ => (
            Encoding::Json.content_type(),
            serde_json::to_vec(&serde_json::json!({ "code": status.code, "message": status.message, "details": [] }))
                .unwrap_or_default(),
        ),
    };
    let mut r = (http, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if http == StatusCode::SERVICE_UNAVAILABLE || http == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    if http == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

fn ok_response(enc: Encoding, rejected: i64, reason: Option<String>) -> Response {
    let partial = (rejected > 0)
        .then(|| ExportTracePartialSuccess { rejected_spans: rejected, error_message: reason.unwrap_or_default() });
    let resp = ExportTraceServiceResponse { partial_success: partial };
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

async fn read_capped(body: Body) -> Result<Bytes, DecodeError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(DecodeError::TooLarge),
        Err(e) => Err(DecodeError::Invalid(format!("cannot read the request body: {e}"))),
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
        return status_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_ARGUMENT,
            format!("unsupported Content-Type {ct:?}: send application/x-protobuf or application/json"),
            None,
        );
    };
    let project = if st.keys.is_empty() {
        None
    } else {
        match bearer(&headers).and_then(|k| st.keys.get(k)) {
            Some(p) => Some(p.clone()),
            None => {
                return status_response(
                    StatusCode::UNAUTHORIZED,
                    UNAUTHENTICATED,
                    "a valid API key is required: send `Authorization: Bearer <key>`".into(),
                    Some(enc),
                )
            }
        }
    };
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e.is_empty() || e == "identity" => false,
        Some(e) if e == "gzip" => true,
        Some(e) => {
            return status_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                format!("unsupported Content-Encoding {e:?}: send gzip or no encoding"),
                Some(enc),
            )
        }
    };
    let too_large = |enc| {
        status_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            RESOURCE_EXHAUSTED,
            format!("the request is larger than {MAX_BODY_BYTES} bytes (after decompression)"),
            Some(enc),
        )
    };
    let decoded = async {
        let raw = read_capped(body).await?;
        // Decompressing and decoding are CPU work: keep them off the I/O threads.
        tokio::task::spawn_blocking(move || {
            let unzipped;
            let plain: &[u8] = if gzip {
                unzipped = gunzip_capped(&raw)?;
                &unzipped
            } else {
                &raw
            };
            let req = decode_request(plain, enc)?;
            Ok(map_request(req, project.as_deref()))
        })
        .await
        .unwrap_or_else(|e| Err(DecodeError::Invalid(format!("decoder failed: {e}"))))
    }
    .await;
    let mapped = match decoded {
        Ok(m) => m,
        Err(DecodeError::TooLarge) => return too_large(enc),
        Err(DecodeError::Invalid(msg)) => {
            return status_response(StatusCode::BAD_REQUEST, INVALID_ARGUMENT, msg, Some(enc))
        }
    };
    if mapped.rows.is_empty() {
        return ok_response(enc, mapped.rejected, mapped.reject_reason);
    }
    let (reply, wait) = oneshot::channel();
    match st.writer.try_send(WriteJob { rows: mapped.rows, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return status_response(
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                "the receiver is busy storing earlier requests; retry after the Retry-After delay".into(),
                Some(enc),
            )
        }
        Err(TrySendError::Closed(_)) => {
            return status_response(
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                "the receiver is shutting down".into(),
                Some(enc),
            )
        }
    }
    match wait.await {
        Ok(Ok(_)) => ok_response(enc, mapped.rejected, mapped.reject_reason),
        Ok(Err(msg)) => status_response(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE, msg, Some(enc)),
        Err(_) => status_response(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE, "the writer stopped".into(), Some(enc)),
    }
}
