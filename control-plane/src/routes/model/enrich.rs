//! What a model record's answer adds to the stored record, as new-api's `enrichModels` does:
//! the enabled channels that serve it (`bound_channels`), their groups (`enable_groups`), how
//! it is charged (`quota_types`), its endpoint types when the record names none, and, for a
//! name rule, the model names it matches. Pylon also answers the price (`pricing`), read from
//! the price options the relay charges by: the one source of prices.

use crate::app::App;
use crate::error::ApiError;
use crate::routes::pricing::{endpoint_types, prices};
use pylon_shared::db::{ChannelRow, ModelRow, NAME_RULE_EXACT, split_list};
use pylon_shared::pricing::PriceTable;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A channel that serves requests.
const CHANNEL_ENABLED: i64 = 1;

/// The channels and prices of one request, read once for all the records it answers.
pub(super) struct Enrichment {
    prices: PriceTable,
    /// Per model name, the enabled channels that list it.
    served: BTreeMap<String, Vec<ChannelRow>>,
}

impl Enrichment {
    pub(super) async fn load(app: &App) -> Result<Self, ApiError> {
        let mut served: BTreeMap<String, Vec<ChannelRow>> = BTreeMap::new();
        for channel in app.db.all_channels().await? {
            if channel.status != CHANNEL_ENABLED {
                continue;
            }
            for model in split_list(&channel.models) {
                served
                    .entry(model.to_string())
                    .or_default()
                    .push(channel.clone());
            }
        }
        Ok(Self {
            prices: prices(app),
            served,
        })
    }

    /// The model names a record covers among those channels serve (its own name when exact).
    fn matched<'a>(&'a self, row: &'a ModelRow) -> Vec<&'a str> {
        let name = row.model_name.as_str();
        if row.name_rule == NAME_RULE_EXACT {
            return vec![name];
        }
        self.served
            .keys()
            .map(String::as_str)
            .filter(|served| row.covers(served))
            .collect()
    }

    /// The record as new-api answers it, with Pylon's `pricing`.
    pub(super) fn view(&self, row: &ModelRow) -> Value {
        let matched = self.matched(row);
        let channels: Vec<&ChannelRow> = matched
            .iter()
            .filter_map(|name| self.served.get(*name))
            .flatten()
            .collect();
        let bound: BTreeSet<(&str, i64)> = channels
            .iter()
            .map(|c| (c.name.as_str(), c.r#type))
            .collect();
        let groups: BTreeSet<&str> = channels.iter().flat_map(|c| split_list(&c.group)).collect();
        let endpoint_kinds: BTreeSet<&str> = channels
            .iter()
            .flat_map(|c| endpoint_types(c.r#type).iter().copied())
            .collect();
        let quota_types: BTreeSet<i64> = matched
            .iter()
            .filter(|name| self.prices.is_priced(name))
            .map(|name| self.prices.rates(name).quota_type)
            .collect();
        let endpoints = if row.endpoints.is_empty() && !endpoint_kinds.is_empty() {
            json!(endpoint_kinds).to_string()
        } else {
            row.endpoints.clone()
        };
        let mut view = json!({
            "id": row.id,
            "model_name": row.model_name,
            "description": row.description,
            "icon": row.icon,
            "tags": row.tags,
            "vendor_id": row.vendor_id,
            "endpoints": endpoints,
            "status": row.status,
            "sync_official": row.sync_official,
            "created_time": row.created_time,
            "updated_time": row.updated_time,
            "name_rule": row.name_rule,
            "bound_channels": bound
                .iter()
                .map(|(name, kind)| json!({"name": name, "type": kind}))
                .collect::<Vec<_>>(),
            "enable_groups": groups,
            "quota_types": quota_types,
            "pricing": (row.name_rule == NAME_RULE_EXACT).then(|| self.pricing(&row.model_name)),
        });
        if row.name_rule != NAME_RULE_EXACT {
            view["matched_models"] = json!(matched);
            view["matched_count"] = json!(matched.len());
        }
        view
    }

    /// A model's price as the relay charges it (before the caller's group ratio).
    fn pricing(&self, model: &str) -> Value {
        let rates = self.prices.rates(model);
        json!({
            "priced": rates.priced,
            "quota_type": rates.quota_type,
            "model_ratio": rates.model_ratio,
            "model_price": rates.model_price,
            "completion_ratio": rates.completion_ratio,
            "cache_ratio": rates.cache_ratio,
            "create_cache_ratio": rates.create_cache_ratio,
        })
    }
}
