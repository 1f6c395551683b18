//! The two perf-metrics routes (see the module documentation).

use super::{Counters, Point, hours_of};
use crate::app::AppState;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
use pylon_shared::db::now_secs;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How many of a model's latest hours `recent_success_rates` shows.
const RECENT_HOURS: usize = 3;

/// One model of the summary (new-api's `ModelSummary`).
#[derive(Debug, Serialize)]
struct ModelSummary {
    model_name: String,
    channel_id: i64,
    avg_latency_ms: i64,
    avg_ttft_ms: i64,
    success_rate: f64,
    avg_tps: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recent_success_rates: Vec<f64>,
    #[serde(skip)]
    requests: i64,
}

/// One group of a model (new-api's `GroupResult`).
#[derive(Debug, Serialize)]
struct GroupResult {
    group: String,
    channel_id: i64,
    avg_ttft_ms: i64,
    avg_latency_ms: i64,
    success_rate: f64,
    avg_tps: f64,
    series: Vec<Point>,
}

/// The first hour of a window of `hours` ending now.
fn window_start(hours: i64) -> i64 {
    let start = now_secs() - hours * 3600;
    start - start.rem_euclid(3600)
}

pub async fn summary(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let hours = hours_of(query.get("hours").map(String::as_str));
    let buckets = app
        .db
        .perf_buckets(window_start(hours), now_secs(), None)
        .await?;
    let mut per_model: BTreeMap<&str, BTreeMap<i64, Counters>> = BTreeMap::new();
    for bucket in &buckets {
        per_model
            .entry(bucket.model_name.as_str())
            .or_default()
            .entry(bucket.hour)
            .or_default()
            .add(bucket);
    }
    let mut models: Vec<ModelSummary> = per_model
        .into_iter()
        .map(|(model, hours)| {
            let mut total = Counters::default();
            for counters in hours.values() {
                total.requests += counters.requests;
                total.successes += counters.successes;
                total.use_time_ms += counters.use_time_ms;
                total.ttft_ms += counters.ttft_ms;
                total.ttft_count += counters.ttft_count;
                total.output_tokens += counters.output_tokens;
            }
            let recent: Vec<f64> = hours
                .values()
                .rev()
                .take(RECENT_HOURS)
                .map(Counters::success_rate)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            ModelSummary {
                model_name: model.to_string(),
                channel_id: 0,
                avg_latency_ms: total.avg_latency_ms(),
                avg_ttft_ms: total.avg_ttft_ms(),
                success_rate: total.success_rate(),
                avg_tps: total.avg_tps(),
                recent_success_rates: recent,
                requests: total.requests,
            }
        })
        .collect();
    models.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.model_name.cmp(&b.model_name))
    });
    Ok(envelope::ok(serde_json::json!({ "models": models })))
}

pub async fn model(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let model = query.get("model").map(|m| m.trim()).unwrap_or("");
    if model.is_empty() {
        return Err(ApiError::invalid("model is required"));
    }
    let group = query.get("group").map(|g| g.trim()).unwrap_or("");
    let hours = hours_of(query.get("hours").map(String::as_str));
    let buckets = app
        .db
        .perf_buckets(window_start(hours), now_secs(), Some(model))
        .await?;
    let mut per_group: BTreeMap<&str, BTreeMap<i64, Counters>> = BTreeMap::new();
    for bucket in buckets
        .iter()
        .filter(|b| group.is_empty() || b.group == group)
    {
        per_group
            .entry(bucket.group.as_str())
            .or_default()
            .entry(bucket.hour)
            .or_default()
            .add(bucket);
    }
    let groups: Vec<GroupResult> = per_group
        .into_iter()
        .map(|(group, hours)| {
            let mut total = Counters::default();
            let series = hours
                .iter()
                .map(|(ts, c)| {
                    total.requests += c.requests;
                    total.successes += c.successes;
                    total.use_time_ms += c.use_time_ms;
                    total.ttft_ms += c.ttft_ms;
                    total.ttft_count += c.ttft_count;
                    total.output_tokens += c.output_tokens;
                    Point::of(*ts, c)
                })
                .collect();
            GroupResult {
                group: group.to_string(),
                channel_id: 0,
                avg_ttft_ms: total.avg_ttft_ms(),
                avg_latency_ms: total.avg_latency_ms(),
                success_rate: total.success_rate(),
                avg_tps: total.avg_tps(),
                series,
            }
        })
        .collect();
    Ok(envelope::ok(serde_json::json!({
        "model_name": model,
        "series_schema": "hourly",
        "groups": groups,
    })))
}
