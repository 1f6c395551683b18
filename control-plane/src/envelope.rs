//! new-api's response envelope: `{"success": bool, "message": str, "data": ...}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

/// A successful answer carrying `data`.
pub fn ok<T: Serialize>(data: T) -> Response {
    Json(json!({ "success": true, "message": "", "data": data })).into_response()
}

/// A successful answer with a message and no data.
pub fn ok_message(message: &str) -> Response {
    Json(json!({ "success": true, "message": message })).into_response()
}
