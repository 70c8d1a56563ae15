//! The JSON API: overview, users list (with overview and rollups), user detail, sessions, traces.

use super::params::Params;
use super::{ApiError, AppState};
use crate::metrics::detail::{self, find_user};
use crate::metrics::overview;
use crate::metrics::users::{filter_sort, rollups, user_rows, ListQuery, SORT_COLUMNS};
use crate::model::UserRec;
use crate::store::index::ProjectData;
use crate::timefmt::now_ns;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use userspan::conventions::USER_ID_TYPES;

type Q = Result<Query<Vec<(String, String)>>, QueryRejection>;
type ApiResult = Result<Json<Value>, ApiError>;

/// Runs a computation on the blocking pool (metrics scan every trace of the period).
async fn compute<F>(f: F) -> ApiResult
where
    F: FnOnce() -> ApiResult + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(ApiError::bad_request(format!("request failed: {e}"))))
}

/// The user `id` (of `id_type` when given) of the project, else a 404 naming it.
fn user<'a>(pd: &'a ProjectData, id: &str, id_type: Option<&str>) -> Result<&'a UserRec, ApiError> {
    find_user(pd, id, id_type).ok_or_else(|| ApiError::not_found(format!("no user {id:?}")))
}

/// One page (`offset`, at most `limit` rows) of a user's `rows` under `key`, with the total.
fn page<T: Serialize>(u: &UserRec, key: &str, rows: Vec<T>, limit: usize, offset: usize) -> Value {
    let total = rows.len();
    let page: Vec<T> = rows.into_iter().skip(offset).take(limit).collect();
    json!({ "user_id": u.ident.id, "user_id_type": u.ident.id_type, key: page, "total": total, "limit": limit, "offset": offset })
}

fn project(st: &AppState, headers: &HeaderMap, p: &Params) -> Result<String, ApiError> {
    st.keys.authorize_read(headers, p.get("project"))
}

fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(id)| id).map_err(|e| ApiError::bad_request(format!("invalid user id in the path: {e}")))
}

fn id_type(p: &Params) -> Result<Option<String>, ApiError> {
    match p.get("type") {
        None => Ok(None),
        Some(t) if USER_ID_TYPES.contains(&t) => Ok(Some(t.to_string())),
        Some(t) => Err(ApiError::bad_request(format!("type must be one of {}, got {t:?}", USER_ID_TYPES.join(", ")))),
    }
}

/// `GET /api/overview?from&to`
pub async fn overview(State(st): State<AppState>, headers: HeaderMap, q: Q) -> ApiResult {
    let p = Params::new(q, &["from", "to", "project"])?;
    let project = project(&st, &headers, &p)?;
    let period = p.period(true)?;
    compute(move || {
        let idx = st.index.read();
        Ok(Json(json!(overview::overview(idx.project(&project), &period))))
    })
    .await
}

/// `GET /api/users?from&to&q&sort&order&limit&offset` → `{overview, users, rollups, total}`
pub async fn list(State(st): State<AppState>, headers: HeaderMap, q: Q) -> ApiResult {
    let p = Params::new(q, &["from", "to", "q", "sort", "order", "limit", "offset", "project", "filter"])?;
    let project = project(&st, &headers, &p)?;
    let period = p.period(true)?;
    let filters = p
        .all("filter")
        .into_iter()
        .map(crate::metrics::users::parse_filter)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::bad_request)?;
    let sort = p.choice("sort", SORT_COLUMNS, "last_seen")?.to_string();
    let order = p.choice("order", &["asc", "desc"], "desc")?.to_string();
    let limit = p.int("limit", 1, 1000, 50)? as usize;
    let offset = p.int("offset", 0, i64::from(u32::MAX), 0)? as usize;
    let lq = ListQuery { q: p.get("q").map(str::to_string), sort: sort.clone(), desc: order == "desc" };
    compute(move || {
        let idx = st.index.read();
        let pd = idx.project(&project);
        let ov = overview::overview(pd, &period);
        let mut rows = user_rows(pd, &period);
        rows.retain(|r| filters.iter().all(|f| f.matches(r)));
        let rows = filter_sort(rows, &lq);
        let roll = rollups(&rows);
        let total = rows.len();
        let page: Vec<_> = rows.into_iter().skip(offset).take(limit).collect();
        Ok(Json(json!({
            "overview": ov,
            "users": page,
            "rollups": roll,
            "total": total,
            "limit": limit,
            "offset": offset,
            "sort": sort,
            "order": order,
        })))
    })
    .await
}

/// `GET /api/users/{user_id}?type` → lifetime detail
pub async fn detail(
    State(st): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Q,
) -> ApiResult {
    let p = Params::new(q, &["type", "project"])?;
    let project = project(&st, &headers, &p)?;
    let id = path_id(id)?;
    let t = id_type(&p)?;
    compute(move || {
        let idx = st.index.read();
        let pd = idx.project(&project);
        let u = user(pd, &id, t.as_deref())?;
        Ok(Json(json!(detail::detail(pd, u, now_ns()))))
    })
    .await
}

/// `GET /api/users/{user_id}/sessions?from&to&errors_only&type&limit&offset`
pub async fn sessions(
    State(st): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Q,
) -> ApiResult {
    let p = Params::new(q, &["from", "to", "errors_only", "type", "limit", "offset", "project"])?;
    let project = project(&st, &headers, &p)?;
    let id = path_id(id)?;
    let t = id_type(&p)?;
    let period = p.open_period()?;
    let errors_only = p.flag("errors_only")?;
    let limit = p.int("limit", 1, 1000, 100)? as usize;
    let offset = p.int("offset", 0, i64::from(u32::MAX), 0)? as usize;
    compute(move || {
        let idx = st.index.read();
        let pd = idx.project(&project);
        let u = user(pd, &id, t.as_deref())?;
        let rows = detail::sessions(pd, u, &period, errors_only);
        Ok(Json(page(u, "sessions", rows, limit, offset)))
    })
    .await
}

/// `GET /api/users/{user_id}/traces?session_id&tag&errors_only&type&limit&offset`
pub async fn traces(
    State(st): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Q,
) -> ApiResult {
    let p = Params::new(q, &["session_id", "tag", "errors_only", "type", "limit", "offset", "project"])?;
    let project = project(&st, &headers, &p)?;
    let id = path_id(id)?;
    let t = id_type(&p)?;
    let errors_only = p.flag("errors_only")?;
    let session = p.get("session_id").map(str::to_string);
    let tag = p.get("tag").map(str::to_string);
    let limit = p.int("limit", 1, 1000, 50)? as usize;
    let offset = p.int("offset", 0, i64::from(u32::MAX), 0)? as usize;
    compute(move || {
        let idx = st.index.read();
        let pd = idx.project(&project);
        let u = user(pd, &id, t.as_deref())?;
        let rows = detail::traces(pd, u, session.as_deref(), tag.as_deref(), errors_only);
        Ok(Json(page(u, "traces", rows, limit, offset)))
    })
    .await
}

/// `GET /api/stats?project` → `{project, ingest, prices}`: what ingest stored since the receiver
/// started (`ingest`: spans, spans per cost source, invalid token counts and reported costs, see
/// [`crate::ingest::IngestCounts`]) and the price table in use (`prices`: `source`
/// `genai-prices`, its `version`, and the number of `--prices` `overrides`).
pub async fn stats(State(st): State<AppState>, headers: HeaderMap, q: Q) -> ApiResult {
    let p = Params::new(q, &["project"])?;
    let project = project(&st, &headers, &p)?;
    Ok(Json(json!({
        "project": project,
        "ingest": st.ingest.counts(&project),
        "prices": {
            "source": "genai-prices",
            "version": crate::pricing::GENAI_PRICES_VERSION,
            "overrides": st.ingest.pricer.overrides().len(),
        },
    })))
}

/// `DELETE /api/users/{user_id}?type&project` → `{user_id, type, project, removed: {spans,
/// traces, sessions}, recomputed_traces}`: erases the user (`docs/design.md`, "Erasure and
/// retention"; [`crate::store::erase::erase_user`]), answered once the deletion is committed.
/// `type` as for the user detail (default: the most recently active type of the id). Erasing an
/// unknown or already erased user answers `200` with zero counts. A storage failure is a `503`
/// (nothing was deleted). Only an `api` key may erase: a read key (the dashboard's) or an ingest
/// key answers `403` ([`crate::auth::Keys::authorize_manage`]).
pub async fn erase(
    State(st): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Q,
) -> ApiResult {
    let p = Params::new(q, &["type", "project"])?;
    let project = st.keys.authorize_manage(&headers, p.get("project"))?;
    let id = path_id(id)?;
    let t = id_type(&p)?;
    match st.maintenance.erase(project, id, t).await {
        Ok(e) => Ok(Json(json!(e))),
        Err(message) => Err(ApiError { status: axum::http::StatusCode::SERVICE_UNAVAILABLE, message }),
    }
}
