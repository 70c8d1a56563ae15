//! The feedback endpoints of the JSON API (`docs/design.md`, "Feedback ingest" and
//! "Feedback"): `POST /api/feedback` (a JSON batch, all-or-nothing) and
//! `GET /api/users/{user_id}/feedback` (summary, trends, distribution, top keys, records).

use super::export::{store_feedback, ExportError};
use super::params::Params;
use super::{ApiError, AppState};
use crate::feedback::{parse_api_batch, Source, MAX_API_BODY_BYTES};
use crate::ingest::IngestCounts;
use crate::metrics::detail::find_user;
use crate::metrics::feedback::{user_feedback as compute_feedback, FeedbackQuery};
use crate::model::UserIdent;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use userspan::conventions::{FEEDBACK_SOURCES, USER_ID_TYPES};

type Q = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// An [`ExportError`] of the writer hand-off (or the body) as a JSON API error (`503` with
/// `Retry-After` when retrying can help).
fn api_error(e: &ExportError) -> Response {
    let mut r = (e.http_status(), Json(json!({ "error": e.to_string() }))).into_response();
    if let Some(d) = e.retry_after() {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(d.as_secs()));
    }
    if e.http_status() == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// `POST /api/feedback?project` with `{"records": [...]}` (JSON, ≤ 8 MiB after gzip, at most
/// 1000 records; any valid key of the project) → `200 {"stored": N}` (records stored or
/// replaced) after the COMMIT; a bad record is a `400` naming it (`records[2].value: ...`) and
/// nothing is stored; `415` for another content type; `503` + `Retry-After` when the writer's
/// queue is full.
pub async fn post(State(st): State<AppState>, headers: HeaderMap, q: Q, body: Body) -> Response {
    let p = match Params::new(q, &["project"]) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let project = match st.keys.authorize_feedback(&headers, p.get("project")) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        let e = ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!("unsupported Content-Type {ct:?}: send application/json"),
        };
        return e.into_response();
    }
    let raw = async {
        let gzip = super::otlp::gzip_of(&headers)?;
        let raw = super::otlp::read_capped_to(body, MAX_API_BODY_BYTES).await?;
        if !gzip {
            return Ok(raw.to_vec());
        }
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .take(MAX_API_BODY_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ExportError::Invalid(format!("invalid gzip body: {e}")))?;
        if out.len() > MAX_API_BODY_BYTES {
            return Err(ExportError::TooLarge);
        }
        Ok(out)
    }
    .await;
    let raw = match raw {
        Ok(r) => r,
        Err(ExportError::TooLarge) => {
            return ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!("the body is larger than {MAX_API_BODY_BYTES} bytes (after decompression)"),
            }
            .into_response()
        }
        Err(e) => return api_error(&e),
    };
    let rows = match parse_api_batch(&project, &raw, crate::timefmt::now_ns()) {
        Ok(rows) => rows,
        Err(msg) => return ApiError::bad_request(msg).into_response(),
    };
    match store_feedback(&st, rows).await {
        Ok(n) => {
            st.ingest.record(vec![(
                Arc::from(project.as_str()),
                IngestCounts { feedback_records: n as i64, ..Default::default() },
            )]);
            Json(json!({ "stored": n })).into_response()
        }
        Err(e) => api_error(&e),
    }
}

/// `GET /api/users/{user_id}/feedback?from&to&type&source&name&trace_id&limit&offset&project` →
/// `{user_id, user_id_type, from, to, bucket, source, summary, trends, distribution, top_keys,
/// records, total, limit, offset}` (`docs/design.md`, "Feedback"). `404` for a user with neither
/// a user record nor a feedback record.
pub async fn user_feedback(
    State(st): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Q,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = Params::new(q, &["from", "to", "type", "source", "name", "trace_id", "limit", "offset", "project"])?;
    let project = st.keys.authorize_read(&headers, p.get("project"))?;
    let id = id.map(|Path(id)| id).map_err(|e| ApiError::bad_request(format!("invalid user id in the path: {e}")))?;
    let id_type = match p.get("type") {
        None => None,
        Some(t) if USER_ID_TYPES.contains(&t) => Some(t.to_string()),
        Some(t) => {
            return Err(ApiError::bad_request(format!("type must be one of {}, got {t:?}", USER_ID_TYPES.join(", "))))
        }
    };
    let period = p.period(true)?;
    let mut sources: Vec<&str> = FEEDBACK_SOURCES.to_vec();
    sources.push("all");
    let source_name = p.choice("source", &sources, userspan::conventions::FEEDBACK_SOURCE_END_USER)?.to_string();
    let source = Source::parse(&source_name);
    let name = p.get("name").map(str::to_string);
    let trace_id = match p.get("trace_id") {
        None => None,
        Some(t) => Some(
            hex::decode(t)
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| ApiError::bad_request(format!("trace_id must be 32 hex characters, got {t:?}")))?,
        ),
    };
    let limit = p.int("limit", 1, 1000, 50)? as usize;
    let offset = p.int("offset", 0, i64::from(u32::MAX), 0)? as usize;
    tokio::task::spawn_blocking(move || {
        let idx = st.index.read();
        let pd = idx.project(&project);
        let (ident, key) = match find_user(pd, &id, id_type.as_deref()) {
            Some(u) => (u.ident.clone(), Some(u.key)),
            None => {
                // A user known only from feedback without a trace (their own `user.id`).
                let own = pd
                    .feedback
                    .values()
                    .filter_map(|r| pd.feedback_owner(r))
                    .find(|u| u.id == id && id_type.as_ref().is_none_or(|t| &u.id_type == t))
                    .cloned();
                match own {
                    Some(u) => (u, None),
                    None => return Err(ApiError::not_found(format!("no user {id:?}"))),
                }
            }
        };
        let ident: UserIdent = ident;
        let fq = FeedbackQuery { period, source, name, trace_id, limit, offset };
        let a = compute_feedback(pd, &ident, key, &fq);
        Ok(Json(json!({
            "user_id": ident.id,
            "user_id_type": ident.id_type,
            "from": crate::timefmt::fmt_time(period.from_ns),
            "to": crate::timefmt::fmt_time(period.to_ns),
            "bucket": period.bucket_name(),
            "source": source_name,
            "summary": a.summary,
            "trends": a.trends,
            "distribution": a.distribution,
            "top_keys": a.top_keys,
            "records": a.records,
            "total": a.total,
            "limit": limit,
            "offset": offset,
        })))
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::bad_request(format!("request failed: {e}"))))
}
