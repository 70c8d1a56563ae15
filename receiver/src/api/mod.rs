//! HTTP: the OTLP/HTTP trace endpoint ([`otlp`]) and the JSON API ([`users`]) on one axum router;
//! OTLP/gRPC ([`grpc`]) on its own port. Both OTLP transports share [`export`].

pub mod budget;
pub mod cohorts;
pub mod export;
pub mod feedback;
pub mod grpc;
pub mod otlp;
pub mod params;
pub mod users;

use crate::store::index::Index;
use crate::store::writer::WriteJob;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use tokio::sync::mpsc;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// Queue to the writer.
    pub writer: mpsc::Sender<WriteJob>,
    /// Committed rollups.
    pub index: Arc<Index>,
    /// The keys and what each may do ([`crate::auth`]); `Default` is the open receiver.
    pub keys: Arc<crate::auth::Keys>,
    /// The pricer and the per-project ingest counts (`GET /api/stats`).
    pub ingest: Arc<crate::ingest::IngestContext>,
    /// Erasure jobs for the writer (`DELETE /api/users/{user_id}`).
    pub maintenance: crate::store::erase::Maintenance,
}

/// A JSON API error: `{"error": message}` with a 4xx status.
#[derive(Debug)]
pub struct ApiError {
    /// Status.
    pub status: StatusCode,
    /// What was wrong.
    pub message: String,
}

impl ApiError {
    /// A 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    /// A 401 (answered with `WWW-Authenticate: Bearer`).
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::UNAUTHORIZED, message: message.into() }
    }

    /// A 403: a valid key without the right.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::FORBIDDEN, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// The bearer token of a request (`Authorization: Bearer KEY`).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `GET /api/projects` → `{"projects": [{"project": NAME, "default": BOOL}, ...]}`: the projects
/// the request's key may read, its home project first and `default: true` (what reads without
/// `?project` show); without keys configured, every project that has data plus `default`
/// (sorted; `default: true` on `default`). 401 without a valid key, 403 for an ingest key.
pub async fn projects(
    axum::extract::State(st): axum::extract::State<AppState>,
    headers: HeaderMap,
    q: Result<axum::extract::Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    params::Params::new(q, &[])?;
    let (names, home) = match st.keys.readable(&headers)? {
        Some(names) => {
            let home = names[0].clone();
            (names, home)
        }
        None => {
            let mut names = st.index.read().project_names();
            if !names.iter().any(|n| n == userspan::conventions::DEFAULT_PROJECT) {
                names.push(userspan::conventions::DEFAULT_PROJECT.to_string());
                names.sort();
            }
            (names, userspan::conventions::DEFAULT_PROJECT.to_string())
        }
    };
    let projects: Vec<_> = names.iter().map(|n| serde_json::json!({ "project": n, "default": *n == home })).collect();
    Ok(Json(serde_json::json!({ "projects": projects })))
}

/// The full router: `/v1/traces` (with CORS for browsers), `/healthz` and `/api/...`.
pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::CONTENT_ENCODING])
        .max_age(std::time::Duration::from_secs(3600));
    let otlp = Router::new()
        .route("/v1/traces", post(otlp::export))
        .route("/v1/logs", post(otlp::export_logs))
        .layer(DefaultBodyLimit::disable())
        .layer(cors);
    Router::new()
        .route("/healthz", get(|| async { Json(serde_json::json!({ "status": "ok" })) }))
        .route("/api/overview", get(users::overview))
        .route("/api/users", get(users::list))
        .route("/api/users/{user_id}", get(users::detail).delete(users::erase))
        .route("/api/users/{user_id}/sessions", get(users::sessions))
        .route("/api/users/{user_id}/traces", get(users::traces))
        .route("/api/users/{user_id}/feedback", get(feedback::user_feedback))
        .route("/api/feedback", post(feedback::post).layer(DefaultBodyLimit::disable()))
        .route("/api/cohorts", get(cohorts::list))
        .route("/api/stats", get(users::stats))
        .route("/api/projects", get(projects))
        .merge(crate::web::routes())
        .merge(otlp)
        .fallback(|| async {
            ApiError::not_found("no such endpoint; see GET /api/users, /api/overview, POST /v1/traces")
        })
        .with_state(state)
}
