//! io.net's deployments and containers in the shapes new-api's console reads.

use crate::ionet::shapes::{Container, Deployment};
use serde_json::{Value, json};

/// A deployment of a list (new-api's `mapIoNetDeployment`).
pub(super) fn summary(d: &Deployment) -> Value {
    let created = d
        .created_at
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let minutes = d.compute_minutes_remaining;
    let (hours, rest) = (minutes / 60, minutes % 60);
    let time_remaining = if hours > 0 {
        format!("{hours} hour {rest} minutes")
    } else if rest > 0 {
        format!("{rest} minutes")
    } else {
        "completed".to_string()
    };
    json!({
        "id": d.id,
        "deployment_name": d.name,
        "container_name": d.name,
        "status": d.status.to_lowercase(),
        "type": "Container",
        "time_remaining": time_remaining,
        "time_remaining_minutes": minutes,
        "hardware_info": format!("{} {} x{}", d.brand_name, d.hardware_name, d.hardware_quantity),
        "hardware_name": d.hardware_name,
        "brand_name": d.brand_name,
        "hardware_quantity": d.hardware_quantity,
        "completed_percent": d.completed_percent,
        "compute_minutes_served": d.compute_minutes_served,
        "compute_minutes_remaining": minutes,
        "created_at": created,
        "updated_at": created,
        "model_name": "",
        "model_version": "",
        "instance_count": d.hardware_quantity,
        "resource_config": {"cpu": "", "memory": "", "gpu": d.hardware_quantity.to_string()},
        "description": "",
        "provider": "io.net",
    })
}

/// A container with its events (new-api's `ListDeploymentContainers` item).
pub(super) fn container(c: &Container) -> Value {
    let events: Vec<Value> = c
        .container_events
        .iter()
        .map(|e| json!({"time": e.time.unwrap_or(0), "message": e.message}))
        .collect();
    json!({
        "container_id": c.container_id,
        "device_id": c.device_id,
        "status": c.status.trim().to_lowercase(),
        "hardware": c.hardware,
        "brand_name": c.brand_name,
        "created_at": c.created_at.unwrap_or(0),
        "uptime_percent": c.uptime_percent,
        "gpus_per_container": c.gpus_per_container,
        "public_url": c.public_url,
        "events": events,
    })
}
