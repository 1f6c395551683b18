//! What every authorization code callback (a custom provider's, or a built-in one's of
//! `routes::social`) does around its provider's work, as new-api's `HandleOAuth`: it reads the
//! query, redeems the flow's state (a refused state is HTTP 403, before anything else is
//! done), and once the flow is finished, whatever the outcome, makes the browser forget the
//! spent state.

use super::clearing_state;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::routes::oidc::pending::{self, Pending};
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;

/// A callback whose state was redeemed: the flow it finishes, and the query that finishes it.
pub struct Redeemed {
    pub pending: Pending,
    query: HashMap<String, String>,
    /// `ServerAddress`, without a trailing slash.
    pub address: String,
}

impl Redeemed {
    /// Redeems the state of the callback whose query is `raw_query`, for the browser whose
    /// request carries `headers`.
    pub async fn take(
        app: &App,
        headers: &HeaderMap,
        raw_query: Option<String>,
    ) -> Result<Self, Response> {
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let address = pending::server_address(app).map_err(IntoResponse::into_response)?;
        let pending = match pending::take(app, headers, param(&query, "state")).await {
            Ok(pending) => pending,
            Err(ApiError::Invalid(message)) => {
                return Err((
                    StatusCode::FORBIDDEN,
                    Json(json!({ "success": false, "message": message })),
                )
                    .into_response());
            }
            Err(other) => return Err(other.into_response()),
        };
        Ok(Self {
            pending,
            query,
            address,
        })
    }

    /// The code the provider `name` (`slug` in paths) sent back: refused when the provider
    /// reported an error instead, when another provider's flow started this one, or when
    /// there is none.
    pub fn code(&self, name: &str, slug: &str) -> Result<&str, ApiError> {
        if let Some(reason) = refusal(&self.query) {
            return Err(ApiError::invalid(format!(
                "{name} refused the sign-in: {reason}"
            )));
        }
        // A flow another provider started (its code is for another client) is refused.
        if !self.pending.is_for(slug) {
            return Err(ApiError::invalid(pending::INVALID_STATE));
        }
        let code = param(&self.query, "code");
        if code.is_empty() {
            return Err(ApiError::invalid("Invalid parameters: code is missing"));
        }
        Ok(code)
    }

    /// The redirect URI of the flow's authorization request: its own, or for a bare state the
    /// console's page of the provider (`ServerAddress/oauth/{slug}`).
    pub fn redirect_uri(&self, slug: &str) -> String {
        if self.pending.redirect_uri.is_empty() {
            format!("{}/oauth/{slug}", self.address)
        } else {
            self.pending.redirect_uri.clone()
        }
    }

    /// The callback's answer, with the spent state's cookie cleared.
    pub fn end(&self, outcome: ApiResult) -> Response {
        let answer = outcome.unwrap_or_else(IntoResponse::into_response);
        clearing_state(answer, pending::is_https(&self.address))
            .unwrap_or_else(IntoResponse::into_response)
    }
}

/// Why the provider refused the sign-in, when its redirect says it did (`error`, and the
/// clearer `error_description` when it gives one), shortened for a message.
pub fn refusal(query: &HashMap<String, String>) -> Option<String> {
    let error = param(query, "error");
    if error.is_empty() {
        return None;
    }
    let description = param(query, "error_description");
    let reason = if description.is_empty() {
        error
    } else {
        description
    };
    Some(reason.chars().take(200).collect())
}

/// A query parameter, trimmed; empty when absent.
pub fn param<'q>(query: &'q HashMap<String, String>, name: &str) -> &'q str {
    query.get(name).map_or("", |v| v.trim())
}
