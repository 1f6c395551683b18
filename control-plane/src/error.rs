//! The one error type of the control plane. Each variant knows its HTTP status and renders the
//! new-api envelope `{"success": false, "message": ...}`. Statuses follow new-api: failures
//! to authenticate are 401, everything else it reports with 200 and `success: false`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// Not authenticated, or the credentials do not fit (HTTP 401).
    Unauthorized(&'static str),
    /// Authenticated but not allowed: disabled user, too low a role (HTTP 200, as new-api).
    Forbidden(&'static str),
    /// Bad input or a refused operation (HTTP 200, as new-api).
    Invalid(String),
    /// No route has this path (HTTP 404).
    NotFound(String),
    /// The path exists, but not for this method (HTTP 405).
    MethodNotAllowed,
    /// Too many attempts (HTTP 429).
    TooManyRequests,
    /// The request body is larger than allowed (HTTP 413).
    TooLarge,
    /// An unexpected failure; details go to the log, not to the client (HTTP 500).
    Internal(anyhow::Error),
}

impl ApiError {
    /// Bad input with a message for the user.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::Invalid(message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, message.to_string()),
            ApiError::Forbidden(message) => (StatusCode::OK, message.to_string()),
            ApiError::Invalid(message) => (StatusCode::OK, message),
            ApiError::NotFound(path) => (StatusCode::NOT_FOUND, format!("Not found: {path}")),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed".to_string(),
            ),
            ApiError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests, please try again later".to_string(),
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is too large".to_string(),
            ),
            ApiError::Internal(error) => {
                tracing::error!("internal error: {error:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error, please try again later".to_string(),
                )
            }
        };
        (
            status,
            Json(json!({ "success": false, "message": message })),
        )
            .into_response()
    }
}

impl From<pylon_shared::db::DbError> for ApiError {
    fn from(error: pylon_shared::db::DbError) -> Self {
        match error {
            too_long @ pylon_shared::db::DbError::TooLong { .. } => {
                ApiError::Invalid(too_long.to_string())
            }
            error => ApiError::Internal(error.into()),
        }
    }
}

impl From<pylon_shared::cache::CacheError> for ApiError {
    fn from(error: pylon_shared::cache::CacheError) -> Self {
        ApiError::Internal(error.into())
    }
}

/// Result of a handler.
pub type ApiResult<T = Response> = Result<T, ApiError>;
