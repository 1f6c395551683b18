//! Changing deployments at io.net: `POST /api/deployments/` creates one (io.net's deploy request,
//! checked first as new-api does), `PUT /api/deployments/{deployment}` changes its container
//! (only the fields given), `PUT /api/deployments/{deployment}/name` renames it once io.net
//! says the name is free, `POST /api/deployments/{deployment}/extend` adds hours, `DELETE
//! /api/deployments/{deployment}` asks io.net to end it.

use super::catalog::name_available;
use super::map::summary;
use super::{OnDeployment, client, failed, key};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ionet::Api;
use crate::ionet::shapes::{
    Deployment, DeploymentDetail, DeploymentRequest, StatusAnswer, UpdateDeploymentRequest,
};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

pub async fn create(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(request): ApiJson<DeploymentRequest>,
) -> ApiResult {
    let key = key(&app)?;
    check_deploy(&request)?;
    let answer: StatusAnswer = client(&app, Api::Enterprise, &key)
        .send(Method::POST, "/deploy", Some(&request), false)
        .await
        .map_err(failed("failed to deploy container"))?;
    Ok(envelope::ok(json!({
        "deployment_id": answer.deployment_id,
        "status": answer.status,
        "message": "Deployment created successfully",
    })))
}

/// new-api's checks of a deploy request.
fn check_deploy(r: &DeploymentRequest) -> Result<(), ApiError> {
    let problem = if r.resource_private_name.trim().is_empty() {
        "resource_private_name is required"
    } else if r.location_ids.is_empty() {
        "location_ids is required"
    } else if r.hardware_id <= 0 {
        "hardware_id is required"
    } else if r.registry_config.image_url.trim().is_empty() {
        "registry_config.image_url is required"
    } else if r.gpus_per_container < 1 {
        "gpus_per_container must be at least 1"
    } else if r.duration_hours < 1 {
        "duration_hours must be at least 1"
    } else if r.container_config.replica_count < 1 {
        "container_config.replica_count must be at least 1"
    } else {
        return Ok(());
    };
    Err(ApiError::invalid(problem))
}

pub async fn update(
    State(app): State<AppState>,
    _: AdminUser,
    deployment: Result<Path<String>, PathRejection>,
    ApiJson(request): ApiJson<UpdateDeploymentRequest>,
) -> ApiResult {
    let on = OnDeployment::of(&app, deployment)?;
    let id = on.id.as_str();
    let answer: StatusAnswer = on
        .client(&app, Api::Enterprise)
        .send(
            Method::PATCH,
            &format!("/deployment/{id}"),
            Some(&request),
            false,
        )
        .await
        .map_err(failed("failed to update deployment"))?;
    Ok(envelope::ok(json!({
        "status": answer.status,
        "deployment_id": answer.deployment_id,
    })))
}

#[derive(Deserialize)]
pub struct NameInput {
    #[serde(default)]
    name: String,
}

pub async fn rename(
    State(app): State<AppState>,
    _: AdminUser,
    deployment: Result<Path<String>, PathRejection>,
    ApiJson(input): ApiJson<NameInput>,
) -> ApiResult {
    let on = OnDeployment::of(&app, deployment)?;
    let id = on.id.as_str();
    let name = input.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("deployment name cannot be empty"));
    }
    let available = name_available(&app, &on.key, name)
        .await
        .map_err(failed("failed to check name availability"))?;
    if !available {
        return Err(ApiError::invalid(
            "deployment name is not available, please choose a different name",
        ));
    }
    let answer: StatusAnswer = on
        .client(&app, Api::Enterprise)
        .send(
            Method::PUT,
            &format!("/clusters/{id}/update-name"),
            Some(&json!({ "cluster_name": name })),
            false,
        )
        .await
        .map_err(failed("failed to update cluster name"))?;
    Ok(envelope::ok(json!({
        "status": answer.status,
        "message": answer.message,
        "id": id,
        "name": name,
    })))
}

#[derive(Deserialize)]
pub struct ExtendInput {
    #[serde(default)]
    duration_hours: i64,
}

pub async fn extend(
    State(app): State<AppState>,
    _: AdminUser,
    deployment: Result<Path<String>, PathRejection>,
    ApiJson(input): ApiJson<ExtendInput>,
) -> ApiResult {
    let on = OnDeployment::of(&app, deployment)?;
    let id = on.id.as_str();
    if input.duration_hours < 1 {
        return Err(ApiError::invalid("duration_hours must be at least 1"));
    }
    let d: DeploymentDetail = on
        .client(&app, Api::Enterprise)
        .send(
            Method::POST,
            &format!("/deployment/{id}/extend"),
            Some(&json!({ "duration_hours": input.duration_hours })),
            true,
        )
        .await
        .map_err(failed("failed to extend deployment"))?;
    Ok(envelope::ok(summary(&Deployment {
        id: d.id,
        status: d.status,
        name: id.to_string(),
        completed_percent: d.completed_percent,
        hardware_quantity: d.total_gpus,
        brand_name: d.brand_name,
        hardware_name: d.hardware_name,
        compute_minutes_served: d.compute_minutes_served,
        compute_minutes_remaining: d.compute_minutes_remaining,
        created_at: d.created_at,
    })))
}

pub async fn delete(
    State(app): State<AppState>,
    _: AdminUser,
    deployment: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let on = OnDeployment::of(&app, deployment)?;
    let id = on.id.as_str();
    let answer: StatusAnswer = on
        .client(&app, Api::Enterprise)
        .send(
            Method::DELETE,
            &format!("/deployment/{id}"),
            None::<&()>,
            false,
        )
        .await
        .map_err(failed("failed to delete deployment"))?;
    Ok(envelope::ok(json!({
        "status": answer.status,
        "deployment_id": answer.deployment_id,
        "message": "Deployment termination requested successfully",
    })))
}
