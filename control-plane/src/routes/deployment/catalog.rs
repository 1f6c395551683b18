//! What can be deployed: `GET /api/deployments/hardware-types` (io.net's hardware with its most
//! GPUs per container), `GET /api/deployments/locations`, `GET
//! /api/deployments/available-replicas?hardware_id=&gpu_count=`, `POST
//! /api/deployments/price-estimation` (io.net's price for a deployment, with new-api's
//! breakdown) and `GET /api/deployments/check-name?name=`.

use super::{client, failed, key, query};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ionet::Api;
use crate::ionet::shapes::{
    Locations, MaxGpus, PriceEstimationRequest, Pricing, ReplicaAvailability,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

pub async fn hardware_types(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let key = key(&app)?;
    let answer: MaxGpus = client(&app, Api::Enterprise, &key)
        .get_data("/hardware/max-gpus-per-container", &[])
        .await
        .map_err(failed("failed to list hardware types"))?;
    let types: Vec<Value> = answer
        .hardware
        .iter()
        .map(|hw| {
            let name = hw.hardware_name.trim();
            let name = if name.is_empty() {
                format!("hardware-{}", hw.hardware_id)
            } else {
                name.to_string()
            };
            let mut entry = json!({
                "id": hw.hardware_id,
                "name": name,
                "gpu_type": "",
                "gpu_memory": 0,
                "max_gpus": hw.max_gpus_per_container,
                "hourly_rate": 0,
                "available": hw.available > 0,
            });
            let brand = hw.brand_name.trim();
            if !brand.is_empty() {
                entry["brand_name"] = json!(brand);
            }
            if hw.available != 0 {
                entry["available_count"] = json!(hw.available);
            }
            entry
        })
        .collect();
    Ok(envelope::ok(json!({
        "hardware_types": types,
        "total": types.len(),
        "total_available": answer.total_available(),
    })))
}

pub async fn locations(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let key = key(&app)?;
    let mut answer: Locations = client(&app, Api::Public, &key)
        .get_data("/locations", &[])
        .await
        .map_err(failed("failed to list locations"))?;
    for location in &mut answer.locations {
        location.iso2 = location.iso2.trim().to_uppercase();
    }
    let mut total = answer.total;
    if total == 0 {
        total = answer.locations.iter().map(|l| l.available).sum();
    }
    if total == 0 {
        total = answer.locations.len() as i64;
    }
    Ok(envelope::ok(json!({
        "locations": answer.locations,
        "total": total,
    })))
}

#[derive(Deserialize)]
pub struct ReplicaQuery {
    #[serde(default)]
    hardware_id: String,
    #[serde(default)]
    gpu_count: String,
}

pub async fn available_replicas(
    State(app): State<AppState>,
    _: AdminUser,
    raw: Result<Query<ReplicaQuery>, QueryRejection>,
) -> ApiResult {
    let key = key(&app)?;
    let params = query(raw)?;
    if params.hardware_id.is_empty() {
        return Err(ApiError::invalid("hardware_id parameter is required"));
    }
    let hardware_id = params
        .hardware_id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("invalid hardware_id parameter"))?;
    // As new-api: an unreadable or non-positive count is one GPU.
    let gpu_count = params
        .gpu_count
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let answer: Vec<ReplicaAvailability> = client(&app, Api::Enterprise, &key)
        .get_data(
            "/available-replicas",
            &[
                ("hardware_id", hardware_id.to_string()),
                ("hardware_qty", gpu_count.to_string()),
            ],
        )
        .await
        .map_err(failed("failed to get available replicas"))?;
    let replicas: Vec<Value> = answer
        .iter()
        .map(|r| {
            json!({
                "location_id": r.id,
                "location_name": r.name,
                "hardware_id": hardware_id,
                "hardware_name": "",
                "available_count": r.available_replicas,
                "max_gpus": gpu_count,
            })
        })
        .collect();
    Ok(envelope::ok(json!({ "replicas": replicas })))
}

pub async fn price_estimation(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(request): ApiJson<PriceEstimationRequest>,
) -> ApiResult {
    let key = key(&app)?;
    let price = price_query(&request)?;
    let pricing: Pricing = client(&app, Api::Enterprise, &key)
        .get_data("/price", &price.params)
        .await
        .map_err(failed("failed to get price estimation"))?;
    let total = pricing.total_cost_usdc;
    Ok(envelope::ok(json!({
        "estimated_cost": total,
        "currency": price.currency.to_uppercase(),
        "price_breakdown": {
            "compute_cost": total - pricing.ionet_fee - pricing.currency_conversion_fee,
            "total_cost": total,
            "hourly_rate": total / price.hours as f64,
        },
        "estimation_valid": true,
    })))
}

/// io.net's `/price` query for a request, with the hours the rate is spread over.
struct PriceQuery {
    params: Vec<(&'static str, String)>,
    currency: String,
    hours: i64,
}

/// new-api's defaults and checks: a currency (`usdc`), a duration unit (`hour`, `day`, `week`
/// or `month`), a quantity of it (else `duration_hours`) and of hardware (else
/// `gpus_per_container`).
fn price_query(r: &PriceEstimationRequest) -> Result<PriceQuery, ApiError> {
    if r.location_ids.is_empty() {
        return Err(ApiError::invalid("location_ids is required"));
    }
    if r.hardware_id == 0 {
        return Err(ApiError::invalid("hardware_id is required"));
    }
    if r.replica_count < 1 {
        return Err(ApiError::invalid("replica_count must be at least 1"));
    }
    let currency = match r.currency.trim() {
        "" => "usdc".to_string(),
        given => given.to_string(),
    };
    let duration_qty = if r.duration_qty >= 1 {
        r.duration_qty
    } else {
        r.duration_hours
    };
    if duration_qty < 1 {
        return Err(ApiError::invalid("duration_qty must be at least 1"));
    }
    let hardware_qty = if r.hardware_qty >= 1 {
        r.hardware_qty
    } else {
        r.gpus_per_container
    };
    if hardware_qty < 1 {
        return Err(ApiError::invalid("hardware_qty must be at least 1"));
    }
    let unit = match r.duration_type.trim() {
        "" => "hour".to_string(),
        given => given.to_lowercase(),
    };
    let (api_unit, hours_per_unit) = match unit.as_str() {
        "day" | "days" | "daily" => ("daily", 24),
        "week" | "weeks" | "weekly" => ("weekly", 24 * 7),
        "month" | "months" | "monthly" => ("monthly", 24 * 30),
        _ => ("hourly", 1),
    };
    let hours = duration_qty.saturating_mul(hours_per_unit).max(1);
    let locations =
        serde_json::to_string(&r.location_ids).map_err(|e| ApiError::Internal(e.into()))?;
    // As new-api's query builder: zero numbers are left out.
    let mut params = vec![("location_ids", locations)];
    for (name, value) in [
        ("hardware_id", r.hardware_id),
        ("hardware_qty", hardware_qty),
        ("gpus_per_container", r.gpus_per_container),
        ("duration_qty", duration_qty),
        ("duration_hours", r.duration_hours),
        ("replica_count", r.replica_count),
    ] {
        if value != 0 {
            params.push((name, value.to_string()));
        }
    }
    params.push(("duration_type", api_unit.to_string()));
    params.push(("currency", currency.clone()));
    Ok(PriceQuery {
        params,
        currency,
        hours,
    })
}

#[derive(Deserialize)]
pub struct NameQuery {
    #[serde(default)]
    name: String,
}

pub async fn check_name(
    State(app): State<AppState>,
    _: AdminUser,
    raw: Result<Query<NameQuery>, QueryRejection>,
) -> ApiResult {
    let key = key(&app)?;
    let params = query(raw)?;
    let name = params.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name parameter is required"));
    }
    let available = name_available(&app, &key, name)
        .await
        .map_err(failed("failed to check cluster name availability"))?;
    Ok(envelope::ok(
        json!({ "available": available, "name": name }),
    ))
}

/// Whether io.net would accept `name` for a deployment (its answer is a bare boolean).
pub(super) async fn name_available(
    app: &crate::app::App,
    key: &str,
    name: &str,
) -> Result<bool, crate::ionet::IoNetError> {
    client(app, Api::Enterprise, key)
        .get_bare(
            "/clusters/check_cluster_name_availability",
            &[("cluster_name", name.to_string())],
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> PriceEstimationRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn price_queries_follow_new_apis_defaults() {
        let q = price_query(&request(json!({"location_ids": [1, 2], "hardware_id": 7,
            "gpus_per_container": 2, "duration_hours": 3, "replica_count": 1})))
        .unwrap();
        assert_eq!(q.currency, "usdc");
        assert_eq!(q.hours, 3);
        assert!(q.params.contains(&("location_ids", "[1,2]".into())));
        assert!(q.params.contains(&("hardware_qty", "2".into())));
        assert!(q.params.contains(&("duration_type", "hourly".into())));
        let q = price_query(&request(json!({"location_ids": [1], "hardware_id": 7,
            "hardware_qty": 1, "duration_type": "Days", "duration_qty": 2, "replica_count": 1})))
        .unwrap();
        assert_eq!(q.hours, 48);
        assert!(!q.params.iter().any(|(k, _)| *k == "duration_hours"));
        for bad in [
            json!({"hardware_id": 7, "duration_hours": 1, "gpus_per_container": 1, "replica_count": 1}),
            json!({"location_ids": [1], "duration_hours": 1, "gpus_per_container": 1, "replica_count": 1}),
            json!({"location_ids": [1], "hardware_id": 7, "duration_hours": 1, "gpus_per_container": 1}),
            json!({"location_ids": [1], "hardware_id": 7, "gpus_per_container": 1, "replica_count": 1}),
            json!({"location_ids": [1], "hardware_id": 7, "duration_hours": 1, "replica_count": 1}),
        ] {
            assert!(price_query(&request(bad.clone())).is_err(), "{bad}");
        }
    }
}
