//! `GET /api/pricing`: every model a usable group's enabled channel serves, with its price, as
//! new-api's pricing page reads it (`controller/pricing.go`): `data` (one entry per model:
//! `model_name`, `quota_type` 0 by tokens / 1 per request, `model_ratio`, `model_price`,
//! `completion_ratio`, `cache_ratio` and `create_cache_ratio` when set, `enable_groups`,
//! `supported_endpoint_types`, and what the model records say: `description`, `icon`, `tags`,
//! `vendor_id`), `vendors`, `group_ratio` (as the caller pays it),
//! `usable_group`, `supported_endpoint` and `auto_groups`. Prices are the operator's options
//! laid over the shipped defaults, exactly as the proxy charges them.

use crate::app::{App, AppState};
use crate::auth::{AuthUser, MaybeUser};
use crate::error::{ApiError, ApiResult};
use crate::routes::model::meta::ModelMeta;
use crate::routes::user::groups::GroupOptions;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::ChannelRow;
use pylon_shared::pricing::PriceTable;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A channel that serves requests (new-api's `ChannelStatusEnabled`).
const CHANNEL_ENABLED: i64 = 1;

/// `GET /api/pricing` (public; a signed-in caller sees the groups and ratios of their group).
pub async fn pricing(State(app): State<AppState>, MaybeUser(caller): MaybeUser) -> ApiResult {
    let user_group = caller.map(|AuthUser { user }| user.group);
    let user_group = user_group.as_deref();
    let groups = GroupOptions::load(&app).await?;
    let usable = groups.usable(user_group);
    let prices = prices(&app);
    let catalogue = Catalogue::of(&app.db.all_channels().await.map_err(ApiError::from)?);

    let mut meta = ModelMeta::load(&app).await?;

    let mut endpoints_used = BTreeSet::new();
    let data: Vec<Value> = catalogue
        .offered(&usable)
        .filter_map(|(model, groups, endpoints)| {
            if !meta.shown(model) {
                return None;
            }
            endpoints_used.extend(endpoints.iter().copied());
            let mut entry = entry(model, &prices, groups, endpoints);
            meta.describe(model, &mut entry);
            Some(entry)
        })
        .collect();

    let group_ratio: Map<String, Value> = prices
        .group_ratios()
        .filter(|(group, _)| usable.contains_key(*group))
        .map(|(group, ratio)| {
            let ratio = match user_group {
                Some(user_group) => prices.group_ratio_for(user_group, group),
                None => ratio,
            };
            (group.to_string(), json!(ratio))
        })
        .collect();
    let supported_endpoint: Map<String, Value> = endpoints_used
        .into_iter()
        .map(|kind| (kind.to_string(), endpoint_info(kind)))
        .collect();
    Ok(Json(json!({
        "success": true,
        "message": "",
        "data": data,
        "vendors": meta.vendors(),
        "group_ratio": group_ratio,
        "usable_group": usable,
        "supported_endpoint": supported_endpoint,
        "auto_groups": groups.auto_groups(user_group),
    }))
    .into_response())
}

/// The price table the proxy charges by: the stored options over the defaults.
pub(crate) fn prices(app: &App) -> PriceTable {
    let snapshot = app.settings.now();
    let (table, _problems) = PriceTable::from_options(
        snapshot
            .stored()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    table
}

/// One model's entry of `data`.
fn entry(
    model: &str,
    prices: &PriceTable,
    groups: Vec<&String>,
    endpoints: &BTreeSet<&str>,
) -> Value {
    let rates = prices.rates(model);
    let mut entry = json!({
        "model_name": model,
        "quota_type": rates.quota_type,
        "model_ratio": rates.model_ratio,
        "model_price": rates.model_price,
        "owner_by": "",
        "completion_ratio": rates.completion_ratio,
        "enable_groups": groups,
        "supported_endpoint_types": endpoints,
    });
    if let Some(ratio) = rates.cache_ratio {
        entry["cache_ratio"] = json!(ratio);
    }
    if let Some(ratio) = rates.create_cache_ratio {
        entry["create_cache_ratio"] = json!(ratio);
    }
    entry
}

/// Where a client calls an endpoint type (new-api's `EndpointInfo`).
fn endpoint_info(kind: &str) -> Value {
    let path = match kind {
        "anthropic" => "/v1/messages",
        "gemini" => "/v1beta/models/{model}:generateContent",
        _ => "/v1/chat/completions",
    };
    json!({ "path": path, "method": "POST" })
}

/// What the enabled channels serve: per model, its groups and endpoint types.
#[derive(Default)]
pub(crate) struct Catalogue {
    models: BTreeMap<String, Served>,
}

#[derive(Default)]
struct Served {
    groups: BTreeSet<String>,
    endpoints: BTreeSet<&'static str>,
}

impl Catalogue {
    pub(crate) fn of(channels: &[ChannelRow]) -> Self {
        let mut catalogue = Catalogue::default();
        for channel in channels.iter().filter(|c| c.status == CHANNEL_ENABLED) {
            for model in names(&channel.models) {
                let served = catalogue.models.entry(model.to_string()).or_default();
                served
                    .groups
                    .extend(names(&channel.group).map(str::to_string));
                served.endpoints.extend(endpoint_types(channel.r#type));
            }
        }
        catalogue
    }

    /// The models served to a caller of the `usable` groups: each with those of its groups
    /// the caller may use (`all` included) and its endpoint types.
    pub(crate) fn offered<'a>(
        &'a self,
        usable: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = (&'a String, Vec<&'a String>, &'a BTreeSet<&'static str>)> {
        self.models.iter().filter_map(move |(model, served)| {
            let groups: Vec<&String> = served
                .groups
                .iter()
                .filter(|g| g.as_str() == "all" || usable.contains_key(*g))
                .collect();
            (!groups.is_empty()).then_some((model, groups, &served.endpoints))
        })
    }
}

/// The endpoint types a channel type answers (new-api's `GetEndpointTypesByChannelType`):
/// its native format, and OpenAI's through the formats layer.
pub(crate) fn endpoint_types(channel_type: i64) -> &'static [&'static str] {
    match channel_type {
        14 => &["anthropic", "openai"],
        24 => &["gemini", "openai"],
        _ => &["openai"],
    }
}

/// The non-empty names of a comma-separated list.
fn names(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|n| !n.is_empty())
}
