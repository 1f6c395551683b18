//! `GET /api/option/channel_affinity_cache` (new-api's statistics of the channel affinity
//! bindings) and `DELETE /api/option/channel_affinity_cache?all=true` or `?rule_name=` (drops
//! all of them, or those of one rule that includes its name in their keys), root only.
//!
//! The bindings live in pylon-proxy (its memory, or Redis), which forwards these requests
//! here with its statistics in a header; clearing is ordered back to it in a header of the
//! answer, which it carries out before the answer reaches the caller (see
//! `pylon_shared::channel_affinity::wire`).

use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use pylon_shared::channel_affinity::setting::{self, RULES};
use pylon_shared::channel_affinity::wire::{CLEAR_HEADER, CacheStats, Clear, STATE_HEADER};
use serde::Deserialize;
use serde_json::json;

pub async fn stats(headers: HeaderMap, _root: RootUser) -> ApiResult {
    Ok(envelope::ok(proxy_state::<CacheStats>(&headers)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClearQuery {
    all: String,
    rule_name: String,
}

pub async fn clear(
    State(app): State<AppState>,
    headers: HeaderMap,
    RootUser(root): RootUser,
    query: Result<Query<ClearQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let stats: CacheStats = proxy_state(&headers)?;
    let (clear, deleted) = if query.all.trim() == "true" {
        (Clear::All, stats.total)
    } else {
        let name = query.rule_name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(
                "Missing parameter: rule_name, or all=true to clear everything",
            ));
        }
        let rules = setting::rules(app.settings.now().text(RULES))
            .map_err(|_| ApiError::invalid("The channel affinity rules do not parse"))?;
        let rule = rules
            .iter()
            .find(|rule| rule.name == name)
            .ok_or_else(|| ApiError::invalid(format!("Unknown rule name: {name}")))?;
        if !rule.include_rule_name {
            return Err(ApiError::invalid(
                "This rule does not include its name in its keys (include_rule_name): its \
                 bindings cannot be cleared by rule",
            ));
        }
        let deleted = stats.by_rule_name.get(name).copied().unwrap_or(0);
        (Clear::Rule(name.to_string()), deleted)
    };
    let order = serde_json::to_vec(&clear).map_err(|e| ApiError::Internal(e.into()))?;
    let order = HeaderValue::from_bytes(&order).map_err(|e| ApiError::Internal(e.into()))?;
    tracing::info!(
        root = root.user.id,
        ?clear,
        "channel affinity bindings cleared"
    );
    let mut answer = envelope::ok(json!({ "deleted": deleted }));
    answer.headers_mut().insert(CLEAR_HEADER, order);
    Ok(answer)
}

/// What pylon-proxy said about its bindings on the forwarded request.
pub fn proxy_state<T: serde::de::DeserializeOwned>(headers: &HeaderMap) -> Result<T, ApiError> {
    headers
        .get(STATE_HEADER)
        .and_then(|value| serde_json::from_slice(value.as_bytes()).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "The channel affinity bindings are held by pylon-proxy: call this route through it",
            )
        })
}
