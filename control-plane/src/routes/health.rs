//! `GET /health`: the process is up and its database answers; `GET /api/status/test` the same
//! for administrators in new-api's answer (`TestStatus`), with the requests in flight.

use crate::app::AppState;
use crate::auth::AdminUser;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

pub async fn health(State(app): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match app.db.check_schema().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "error": error.to_string() })),
        ),
    }
}

/// `GET /api/status/test`: `{"success": true, "message": "Server is running", "http_stats":
/// {"active_connections": n}}`, or 503 when the database does not answer.
pub async fn status_test(
    State(app): State<AppState>,
    _admin: AdminUser,
) -> (StatusCode, Json<serde_json::Value>) {
    if let Err(error) = app.db.ping().await {
        tracing::warn!(%error, "status test: the database does not answer");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "success": false, "message": "Database connection failed" })),
        );
    }
    (
        StatusCode::OK,
        Json(json!({
            "success": true,
            "message": "Server is running",
            "http_stats": { "active_connections": app.metrics.in_flight() },
        })),
    )
}
