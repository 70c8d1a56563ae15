//! `GET /api/cohorts?key&from&to` → `{key, keys, cohorts}`: users of the period grouped by a
//! `user.metadata` key (see [`crate::metrics::cohorts`]). Without `key`, only the available keys.

use super::params::Params;
use super::{ApiError, AppState};
use crate::metrics::cohorts::{cohorts, keys};
use crate::metrics::users::user_rows;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

/// The handler.
pub async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::new(q, &["key", "from", "to", "project"])?;
    let project = st.keys.authorize_read(&headers, p.get("project"))?;
    let period = p.period(true)?;
    let key = p.get("key").filter(|k| !k.is_empty()).map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let idx = st.index.read();
        let rows = user_rows(idx.project(&project), &period);
        let groups = key.as_deref().map(|k| cohorts(&rows, k)).unwrap_or_default();
        Json(json!({ "key": key, "keys": keys(&rows), "cohorts": groups }))
    })
    .await
    .map_err(|e| ApiError::bad_request(format!("request failed: {e}")))
}
