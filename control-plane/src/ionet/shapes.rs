//! io.net's request and answer shapes, as new-api's `pkg/ionet/types.go` reads and writes
//! them. Missing answer fields read as zero values (as Go's decoder does); times are RFC 3339,
//! or without a zone (read as UTC, new-api's "flexible times"), kept as unix seconds.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A time of an answer as unix seconds; `None` when absent, null or unreadable.
fn flexible_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw = Option::<Value>::deserialize(d)?;
    Ok(raw.as_ref().and_then(Value::as_str).and_then(parse_time))
}

/// Reads RFC 3339, or a zone-less `YYYY-MM-DDTHH:MM:SS[.frac]` as UTC.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// `POST /deploy` (new-api's `DeploymentRequest`), as the admin sends it and io.net takes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeploymentRequest {
    #[serde(default)]
    pub resource_private_name: String,
    #[serde(default)]
    pub duration_hours: i64,
    #[serde(default)]
    pub gpus_per_container: i64,
    #[serde(default)]
    pub hardware_id: i64,
    #[serde(default)]
    pub location_ids: Vec<i64>,
    #[serde(default)]
    pub container_config: ContainerConfig,
    #[serde(default)]
    pub registry_config: RegistryConfig,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContainerConfig {
    #[serde(default)]
    pub replica_count: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env_variables: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_env_variables: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub traffic_port: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RegistryConfig {
    #[serde(default)]
    pub image_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registry_username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registry_secret: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `PATCH /deployment/{id}` (new-api's `UpdateDeploymentRequest`): only the fields given.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UpdateDeploymentRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_variables: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env_variables: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// `POST /deploy`, `PATCH` and `DELETE /deployment/{id}` answer `{status, deployment_id}`.
#[derive(Debug, Default, Deserialize)]
pub struct StatusAnswer {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub deployment_id: String,
    #[serde(default)]
    pub message: String,
}

/// One deployment of `GET /deployments`.
#[derive(Debug, Default, Deserialize)]
pub struct Deployment {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub completed_percent: f64,
    #[serde(default)]
    pub hardware_quantity: i64,
    #[serde(default)]
    pub brand_name: String,
    #[serde(default)]
    pub hardware_name: String,
    #[serde(default)]
    pub compute_minutes_served: i64,
    #[serde(default)]
    pub compute_minutes_remaining: i64,
    #[serde(default, deserialize_with = "flexible_time")]
    pub created_at: Option<i64>,
}

/// `GET /deployments` (in `data`).
#[derive(Debug, Default, Deserialize)]
pub struct DeploymentList {
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    #[serde(default)]
    pub total: i64,
}

/// `GET /deployment/{id}` and `POST /deployment/{id}/extend` (in `data`).
#[derive(Debug, Default, Deserialize)]
pub struct DeploymentDetail {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "flexible_time")]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub amount_paid: f64,
    #[serde(default)]
    pub completed_percent: f64,
    #[serde(default)]
    pub total_gpus: i64,
    #[serde(default)]
    pub gpus_per_container: i64,
    #[serde(default)]
    pub total_containers: i64,
    #[serde(default)]
    pub hardware_name: String,
    #[serde(default)]
    pub hardware_id: i64,
    #[serde(default)]
    pub locations: Vec<DeploymentLocation>,
    #[serde(default)]
    pub brand_name: String,
    #[serde(default)]
    pub compute_minutes_served: i64,
    #[serde(default)]
    pub compute_minutes_remaining: i64,
    #[serde(default)]
    pub container_config: DetailContainerConfig,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct DeploymentLocation {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub iso2: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct DetailContainerConfig {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub env_variables: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub traffic_port: i64,
    #[serde(default)]
    pub image_url: String,
}

/// One container (worker) of a deployment.
#[derive(Debug, Default, Deserialize)]
pub struct Container {
    #[serde(default)]
    pub device_id: String,
    #[serde(default)]
    pub container_id: String,
    #[serde(default)]
    pub hardware: String,
    #[serde(default)]
    pub brand_name: String,
    #[serde(default, deserialize_with = "flexible_time")]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub uptime_percent: i64,
    #[serde(default)]
    pub gpus_per_container: i64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub container_events: Vec<ContainerEvent>,
    #[serde(default)]
    pub public_url: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ContainerEvent {
    #[serde(default, deserialize_with = "flexible_time")]
    pub time: Option<i64>,
    #[serde(default)]
    pub message: String,
}

/// `GET /deployment/{id}/containers` (in `data`).
#[derive(Debug, Default, Deserialize)]
pub struct ContainerList {
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub workers: Vec<Container>,
}

/// `GET /hardware/max-gpus-per-container` (in `data`).
#[derive(Debug, Default, Deserialize)]
pub struct MaxGpus {
    #[serde(default)]
    pub hardware: Vec<MaxGpuInfo>,
    #[serde(default)]
    pub total: i64,
}

#[derive(Debug, Default, Deserialize)]
pub struct MaxGpuInfo {
    #[serde(default)]
    pub max_gpus_per_container: i64,
    #[serde(default)]
    pub available: i64,
    #[serde(default)]
    pub hardware_id: i64,
    #[serde(default)]
    pub hardware_name: String,
    #[serde(default)]
    pub brand_name: String,
}

impl MaxGpus {
    /// io.net's total, or the sum of the hardware's availability when it gives none.
    pub fn total_available(&self) -> i64 {
        if self.total != 0 {
            return self.total;
        }
        self.hardware.iter().map(|h| h.available).sum()
    }
}

/// A location of `GET /locations`, passed on as new-api does (empty fields left out).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Location {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub iso2: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub country: String,
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub latitude: f64,
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub available: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

/// `GET /locations` (in `data`).
#[derive(Debug, Default, Deserialize)]
pub struct Locations {
    #[serde(default)]
    pub locations: Vec<Location>,
    #[serde(default)]
    pub total: i64,
}

/// One location of `GET /available-replicas` (in `data`).
#[derive(Debug, Default, Deserialize)]
pub struct ReplicaAvailability {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub available_replicas: i64,
}

/// `GET /price` (in `data`).
#[derive(Debug, Default, Deserialize)]
pub struct Pricing {
    #[serde(default)]
    pub ionet_fee: f64,
    #[serde(default)]
    pub currency_conversion_fee: f64,
    #[serde(default)]
    pub total_cost_usdc: f64,
}

/// `POST /api/deployments/price-estimation` (new-api's `PriceEstimationRequest`).
#[derive(Debug, Default, Deserialize)]
pub struct PriceEstimationRequest {
    #[serde(default)]
    pub location_ids: Vec<i64>,
    #[serde(default)]
    pub hardware_id: i64,
    #[serde(default)]
    pub gpus_per_container: i64,
    #[serde(default)]
    pub duration_hours: i64,
    #[serde(default)]
    pub replica_count: i64,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub duration_type: String,
    #[serde(default)]
    pub duration_qty: i64,
    #[serde(default)]
    pub hardware_qty: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_zone() {
        assert_eq!(parse_time("2025-01-02T03:04:05Z"), Some(1_735_787_045));
        assert_eq!(
            parse_time("2025-01-02T03:04:05.123456"),
            Some(1_735_787_045)
        );
        assert_eq!(parse_time("2025-01-02T05:04:05+02:00"), Some(1_735_787_045));
        assert_eq!(parse_time("yesterday"), None);
        let d: Deployment =
            serde_json::from_str(r#"{"id": "d", "created_at": "2025-01-02T03:04:05"}"#).unwrap();
        assert_eq!(d.created_at, Some(1_735_787_045));
    }
}
