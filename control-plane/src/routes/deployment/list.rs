//! `GET /api/deployments/` (`?p=&page_size=&status=`) lists io.net's deployments, newest first,
//! with the count of each status on the page; `GET /api/deployments/search` adds `keyword`
//! (part of the name, any case), filtered on the page io.net returned, as new-api does.

use super::map::summary;
use super::{client, failed, key, query};
use crate::app::{App, AppState};
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::ionet::Api;
use crate::ionet::shapes::DeploymentList;
use crate::pagination::Page;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The statuses always counted (new-api's list).
const STATUSES: [&str; 6] = [
    "running",
    "completed",
    "failed",
    "deployment requested",
    "termination requested",
    "destroyed",
];

#[derive(Deserialize)]
pub struct Filter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    keyword: String,
}

pub async fn all(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    filter: Result<Query<Filter>, QueryRejection>,
) -> ApiResult {
    let filter = query(filter)?;
    let list = fetch(&app, page, &filter.status).await?;
    let mut counts = Map::new();
    counts.insert("all".into(), json!(list.total));
    for status in STATUSES {
        counts.insert(status.into(), json!(0));
    }
    for d in &list.deployments {
        let status = d.status.trim().to_lowercase();
        let n = counts.get(&status).and_then(Value::as_i64).unwrap_or(0);
        counts.insert(status, json!(n + 1));
    }
    let items: Vec<Value> = list.deployments.iter().map(summary).collect();
    Ok(envelope::ok(json!({
        "page": page.page,
        "page_size": page.size,
        "total": list.total,
        "items": items,
        "status_counts": counts,
    })))
}

pub async fn search(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    filter: Result<Query<Filter>, QueryRejection>,
) -> ApiResult {
    let filter = query(filter)?;
    let list = fetch(&app, page, &filter.status).await?;
    let keyword = filter.keyword.trim().to_lowercase();
    let items: Vec<Value> = list
        .deployments
        .iter()
        .filter(|d| keyword.is_empty() || d.name.to_lowercase().contains(&keyword))
        .map(summary)
        .collect();
    let total = if keyword.is_empty() {
        list.total
    } else {
        items.len() as i64
    };
    Ok(envelope::ok(json!({
        "page": page.page,
        "page_size": page.size,
        "total": total,
        "items": items,
    })))
}

/// One page of io.net's deployments, with `status` (any case) when given.
async fn fetch(
    app: &App,
    page: Page,
    status: &str,
) -> Result<DeploymentList, crate::error::ApiError> {
    let key = key(app)?;
    let mut params = vec![
        ("page", page.page.to_string()),
        ("page_size", page.size.to_string()),
        ("sort_by", "created_at".to_string()),
        ("sort_order", "desc".to_string()),
    ];
    let status = status.trim().to_lowercase();
    if !status.is_empty() {
        params.push(("status", status));
    }
    client(app, Api::Enterprise, &key)
        .get_data("/deployments", &params)
        .await
        .map_err(failed("failed to list deployments"))
}
