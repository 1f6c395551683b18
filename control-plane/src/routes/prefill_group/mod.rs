//! new-api's prefill groups (administrators): `GET /api/prefill_group/?type=` lists them (most
//! recently changed first), `POST /api/prefill_group/` `{name, type, items, description}`
//! creates one, `PUT /api/prefill_group/` `{id, ...}` replaces one, `DELETE
//! /api/prefill_group/{id}` deletes one. `items` is a JSON array (of model names, tags or
//! endpoints); names are unique.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::extract::{Query, State};
use pylon_shared::db::{PrefillGroupFields, PrefillGroupRow, PrefillWrite};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Deserialize)]
pub struct PrefillInput {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    items: Value,
    #[serde(default)]
    description: String,
}

/// A group as new-api shows it (`items` as JSON, `description` omitted when empty).
fn view(row: &PrefillGroupRow) -> Value {
    let mut view = json!({
        "id": row.id,
        "name": row.name,
        "type": row.kind,
        "items": serde_json::from_str::<Value>(&row.items).unwrap_or(Value::Null),
        "created_time": row.created_time,
        "updated_time": row.updated_time,
    });
    if !row.description.is_empty() {
        view["description"] = json!(row.description);
    }
    view
}

/// The stored form of `input`'s fields, checked.
fn fields(input: &PrefillInput) -> Result<(String, String, String), ApiError> {
    let name = input.name.trim().to_string();
    let kind = input.kind.trim().to_string();
    if name.is_empty() || kind.is_empty() {
        return Err(ApiError::invalid(
            "The group name and type must not be empty",
        ));
    }
    let items = match &input.items {
        Value::Null => "[]".to_string(),
        Value::Array(items) if items.iter().all(Value::is_string) => input.items.to_string(),
        _ => return Err(ApiError::invalid("items must be a list of strings")),
    };
    Ok((name, kind, items))
}

fn answer(write: PrefillWrite) -> ApiResult {
    match write {
        PrefillWrite::Done(row) => Ok(envelope::ok(view(&row))),
        PrefillWrite::NameTaken => Err(ApiError::invalid("A group with this name already exists")),
        PrefillWrite::NotFound => Err(ApiError::invalid("Group not found")),
    }
}

pub async fn list(
    State(app): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let kind = query.get("type").map(|t| t.trim()).unwrap_or("");
    let rows = app.db.prefill_groups(kind).await?;
    Ok(envelope::ok(rows.iter().map(view).collect::<Vec<_>>()))
}

pub async fn create(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(input): ApiJson<PrefillInput>,
) -> ApiResult {
    let (name, kind, items) = fields(&input)?;
    answer(
        app.db
            .create_prefill_group(PrefillGroupFields {
                name: &name,
                kind: &kind,
                items: &items,
                description: input.description.trim(),
            })
            .await?,
    )
}

pub async fn update(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(input): ApiJson<PrefillInput>,
) -> ApiResult {
    if input.id <= 0 {
        return Err(ApiError::invalid("The group id is missing"));
    }
    let (name, kind, items) = fields(&input)?;
    answer(
        app.db
            .update_prefill_group(
                input.id,
                PrefillGroupFields {
                    name: &name,
                    kind: &kind,
                    items: &items,
                    description: input.description.trim(),
                },
            )
            .await?,
    )
}

pub async fn delete(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    if !app.db.delete_prefill_group(id).await? {
        return Err(ApiError::invalid("Group not found"));
    }
    Ok(envelope::ok_message(""))
}
