//! One deployment: `GET /api/deployments/{deployment}` (io.net's details), `GET
//! /api/deployments/{deployment}/logs?container_id=&level=&stream=&cursor=&limit=&follow=&start_time=&end_time=`
//! (a container's raw log text; at most 1000 lines a call, 100 unless asked), `GET
//! /api/deployments/{deployment}/containers` and `GET
//! /api/deployments/{deployment}/containers/{container}`.

use super::map::container;
use super::{OnDeployment, checked_id, client, failed, key, path, query};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::ionet::Api;
use crate::ionet::shapes::{Container, ContainerList, DeploymentDetail};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

pub async fn one(
    State(app): State<AppState>,
    _: AdminUser,
    deployment: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let on = OnDeployment::of(&app, deployment)?;
    let id = on.id.as_str();
    let d: DeploymentDetail = on
        .client(&app, Api::Enterprise)
        .get_data(&format!("/deployment/{id}"), &[])
        .await
        .map_err(failed("failed to get deployment details"))?;
    let created = d.created_at.unwrap_or(0);
    Ok(envelope::ok(json!({
        "id": d.id,
        "deployment_name": d.id,
        "model_name": "",
        "model_version": "",
        "status": d.status.to_lowercase(),
        "instance_count": d.total_containers,
        "hardware_id": d.hardware_id,
        "resource_config": {"cpu": "", "memory": "", "gpu": d.total_gpus.to_string()},
        "created_at": created,
        "updated_at": created,
        "description": "",
        "amount_paid": d.amount_paid,
        "completed_percent": d.completed_percent,
        "gpus_per_container": d.gpus_per_container,
        "total_gpus": d.total_gpus,
        "total_containers": d.total_containers,
        "hardware_name": d.hardware_name,
        "brand_name": d.brand_name,
        "compute_minutes_served": d.compute_minutes_served,
        "compute_minutes_remaining": d.compute_minutes_remaining,
        "locations": d.locations,
        "container_config": d.container_config,
    })))
}

#[derive(Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    container_id: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    stream: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    limit: String,
    #[serde(default)]
    follow: String,
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_time: String,
}

pub async fn logs(
    State(app): State<AppState>,
    _: AdminUser,
    deployment: Result<Path<String>, PathRejection>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult {
    let on = OnDeployment::of(&app, deployment)?;
    let id = on.id.as_str();
    let q = query(q)?;
    if q.container_id.is_empty() {
        return Err(ApiError::invalid("container_id parameter is required"));
    }
    let container_id = checked_id(&q.container_id, "container")?;
    // As new-api: an unreadable or non-positive limit is 100, a larger one 1000.
    let limit = q
        .limit
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map_or(100, |n| n.min(1000));
    let mut params = vec![("limit", limit.to_string())];
    for (name, value) in [
        ("level", &q.level),
        ("stream", &q.stream),
        ("cursor", &q.cursor),
    ] {
        if !value.is_empty() {
            params.push((name, value.clone()));
        }
    }
    if q.follow == "true" {
        params.push(("follow", "true".into()));
    }
    // Times that are not RFC 3339 are ignored, as in new-api.
    for (name, value) in [("start_time", &q.start_time), ("end_time", &q.end_time)] {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value.trim()) {
            params.push((name, t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        }
    }
    let text = on
        .client(&app, Api::Public)
        .get_text(&format!("/deployment/{id}/log/{container_id}"), &params)
        .await
        .map_err(failed("failed to get container logs"))?;
    Ok(envelope::ok(text))
}

pub async fn containers(
    State(app): State<AppState>,
    _: AdminUser,
    deployment: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let on = OnDeployment::of(&app, deployment)?;
    let id = on.id.as_str();
    let list: ContainerList = on
        .client(&app, Api::Enterprise)
        .get_data(&format!("/deployment/{id}/containers"), &[])
        .await
        .map_err(failed("failed to list containers"))?;
    let items: Vec<Value> = list.workers.iter().map(container).collect();
    Ok(envelope::ok(
        json!({ "total": list.total, "containers": items }),
    ))
}

pub async fn one_container(
    State(app): State<AppState>,
    _: AdminUser,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let key = key(&app)?;
    let (deployment, container_id) = path(ids)?;
    let id = checked_id(&deployment, "deployment")?;
    let container_id = checked_id(&container_id, "container")?;
    let details: Container = client(&app, Api::Enterprise, &key)
        .get_data(&format!("/deployment/{id}/container/{container_id}"), &[])
        .await
        .map_err(failed("failed to get container details"))?;
    let mut data = container(&details);
    data["deployment_id"] = json!(id);
    Ok(envelope::ok(data))
}
