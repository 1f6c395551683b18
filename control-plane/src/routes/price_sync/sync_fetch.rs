//! `POST /api/ratio_sync/fetch` (root, new-api's `FetchUpstreamRatios`): reads the prices of
//! several upstreams and answers where they differ from the prices in force, changing nothing
//! (the console then writes the chosen prices through `PUT /api/option/`). The body names the
//! upstreams either directly, `"upstreams": [{"id", "name", "base_url", "endpoint"}]` (an
//! `endpoint` that is a whole URL is used as it is, a path is joined to `base_url`; the default
//! is new-api's `/api/pricing`), or as `"channel_ids"` (each channel's base URL); `timeout` is
//! in seconds (default 10). The answer is `{differences, prices, test_results}`: each upstream
//! is named `name`, or `name(id)` when it has an id, and reported `success` or `error`.

use super::differences::{Prices, differences, effective, prices_of};
use super::ratio_config::tables_in_force;
use super::source;
use crate::app::AppState;
use crate::auth::RootUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// new-api's default path of an upstream's prices.
const DEFAULT_ENDPOINT: &str = "/api/pricing";
/// new-api's default and this bound on the seconds an upstream may take.
const DEFAULT_TIMEOUT_SECS: u64 = 10;
const MAX_TIMEOUT_SECS: u64 = 120;
/// Upstreams read at once (new-api's).
const CONCURRENT_FETCHES: usize = 8;
/// More upstreams than this in one request is refused.
const MAX_UPSTREAMS: usize = 100;

/// One upstream (new-api's `UpstreamDTO`).
#[derive(Deserialize, Clone)]
pub struct Upstream {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    endpoint: String,
}

/// new-api's `UpstreamRequest`.
#[derive(Deserialize)]
pub struct FetchRequest {
    #[serde(default)]
    channel_ids: Vec<i64>,
    #[serde(default)]
    upstreams: Vec<Upstream>,
    #[serde(default)]
    timeout: i64,
}

impl Upstream {
    fn label(&self) -> String {
        if self.id == 0 {
            self.name.clone()
        } else {
            format!("{}({})", self.name, self.id)
        }
    }

    /// The URL of its prices.
    fn url(&self) -> Result<url::Url, String> {
        let endpoint = self.endpoint.trim();
        let full = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            endpoint.to_string()
        } else if endpoint == "openrouter" {
            return Err("OpenRouter model lists are not a supported price source".into());
        } else if endpoint.is_empty() {
            format!("{}{DEFAULT_ENDPOINT}", self.base_url)
        } else if endpoint.starts_with('/') {
            format!("{}{endpoint}", self.base_url)
        } else {
            format!("{}/{endpoint}", self.base_url)
        };
        url::Url::parse(&full)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| format!("{full} is not an http or https URL"))
    }
}

/// The upstreams the request names (those with an http(s) base URL).
async fn upstreams(app: &AppState, request: FetchRequest) -> Result<Vec<Upstream>, ApiError> {
    if request.upstreams.len() > MAX_UPSTREAMS || request.channel_ids.len() > MAX_UPSTREAMS {
        return Err(ApiError::invalid(format!(
            "At most {MAX_UPSTREAMS} upstreams can be compared at once"
        )));
    }
    let web = |base: &str| base.starts_with("http://") || base.starts_with("https://");
    if !request.upstreams.is_empty() {
        return Ok(request
            .upstreams
            .into_iter()
            .filter(|u| web(u.base_url.trim()))
            .map(|mut u| {
                u.base_url = u.base_url.trim().trim_end_matches('/').to_string();
                u
            })
            .collect());
    }
    let mut channels = app.db.all_channels().await?;
    channels.retain(|c| request.channel_ids.contains(&c.id) && web(c.base_url.trim()));
    channels.sort_by_key(|c| c.id);
    Ok(channels
        .into_iter()
        .map(|c| Upstream {
            id: c.id,
            name: c.name,
            base_url: c.base_url.trim().trim_end_matches('/').to_string(),
            endpoint: String::new(),
        })
        .collect())
}

pub async fn fetch(
    State(app): State<AppState>,
    _: RootUser,
    ApiJson(request): ApiJson<FetchRequest>,
) -> ApiResult {
    let timeout = match u64::try_from(request.timeout) {
        Ok(0) | Err(_) => DEFAULT_TIMEOUT_SECS,
        Ok(seconds) => seconds.min(MAX_TIMEOUT_SECS),
    };
    let upstreams = upstreams(&app, request).await?;
    if upstreams.is_empty() {
        return Err(ApiError::invalid("No valid upstream channels"));
    }
    let read: Vec<(String, Result<Prices, String>)> = futures::stream::iter(upstreams)
        .map(|upstream| async move {
            let prices = match upstream.url() {
                Ok(url) => source::fetch(&url, Some(Duration::from_secs(timeout)))
                    .await
                    .map(|config| effective(&config)),
                Err(reason) => Err(reason),
            };
            (upstream.label(), prices)
        })
        .buffered(CONCURRENT_FETCHES)
        .collect()
        .await;
    let mut results = Vec::new();
    let mut answered = Vec::new();
    for (name, prices) in read {
        match prices {
            Ok(prices) => {
                results.push(json!({"name": name, "status": "success"}));
                answered.push((name, prices));
            }
            Err(error) => results.push(json!({"name": name, "status": "error", "error": error})),
        }
    }
    let local = effective(&tables_in_force(&app));
    let found = differences(&local, &answered);
    let prices = prices_of(&found, &local, &answered);
    Ok(Json(json!({
        "success": true,
        "message": "",
        "data": {"differences": Value::Object(found), "prices": Value::Object(prices),
            "test_results": results},
    }))
    .into_response())
}
