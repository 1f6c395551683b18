//! Request extractors whose rejections speak the new-api envelope: JSON bodies and path ids.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body. Like new-api (gin's `ShouldBindJSON`) it does not insist on a Content-Type;
/// malformed JSON or a wrong field type is an "Invalid parameters" error naming the problem.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::invalid("Invalid parameters: unreadable request body")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body that was taken as bytes (for handlers that must act before parsing).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))
}

/// The `{id}` of a path: a positive 64-bit integer. The route table's guard has already answered
/// 404 for a segment that is not digits; what is left (0, or beyond 64 bits) is "Invalid ID".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub i64);

impl PathId {
    /// Reads an id; anything but a positive integer that fits in 64 bits is refused.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(PathId)
            .ok_or_else(|| ApiError::invalid(INVALID_ID))
    }
}

/// The answer to an id that is not a positive 64-bit integer (new-api's wording).
pub const INVALID_ID: &str = "Invalid ID";

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid(INVALID_ID))?;
        let raw = params
            .iter()
            .find_map(|(name, value)| (name == "id").then_some(value))
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("{} has no {{id}}", parts.uri.path()))
            })?;
        Self::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_64_bit_integers() {
        assert_eq!(PathId::parse("7").ok(), Some(PathId(7)));
        assert_eq!(
            PathId::parse("9223372036854775807").ok(),
            Some(PathId(i64::MAX))
        );
        for bad in [
            "0",
            "9223372036854775808",
            "99999999999999999999",
            "-1",
            "",
            "x",
        ] {
            assert!(PathId::parse(bad).is_err(), "{bad}");
        }
    }
}
