//! `GET /api/log/channel_affinity_usage_cache?rule_name=&using_group=&key_fp=` (admin):
//! new-api's usage of one channel affinity key within its rule's TTL (requests, prompt cache
//! hits, tokens), the key named as a log row's `other.admin_info.channel_affinity` shows it.
//! The counters live in pylon-proxy, which passes them along on the forwarded request (see
//! `option::channel_affinity`).

use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::routes::option::channel_affinity::proxy_state;
use axum::extract::Query;
use axum::http::HeaderMap;
use pylon_shared::channel_affinity::wire::UsageCounters;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UsageQuery {
    rule_name: String,
    using_group: String,
    key_fp: String,
}

pub async fn usage(
    headers: HeaderMap,
    _admin: crate::auth::AdminUser,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let (rule_name, using_group, key_fp) = (
        query.rule_name.trim(),
        query.using_group.trim(),
        query.key_fp.trim(),
    );
    if rule_name.is_empty() {
        return Err(ApiError::invalid("missing param: rule_name"));
    }
    if key_fp.is_empty() {
        return Err(ApiError::invalid("missing param: key_fp"));
    }
    let counters: Option<UsageCounters> = proxy_state(&headers)?;
    let mut data = serde_json::to_value(counters.unwrap_or_default())
        .map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(fields) = data.as_object_mut() {
        fields.insert("rule_name".into(), rule_name.into());
        fields.insert("using_group".into(), using_group.into());
        fields.insert("key_fp".into(), key_fp.into());
    }
    Ok(envelope::ok(data))
}
