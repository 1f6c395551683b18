//! new-api's model deployments on io.net (`/api/deployments/*`, administrators only): the
//! settings and connection test ([`settings`]), the deployments list ([`list`]), what can be
//! deployed and at what price ([`catalog`]), one deployment and its containers ([`view`]), and
//! creating, changing and ending deployments ([`manage`]). Each call goes to io.net through
//! [`crate::ionet`] with the key of the option `model_deployment.ionet.api_key`; nothing is
//! stored in Pylon. While the option `model_deployment.ionet.enabled` is off or the key is
//! empty, every route but the settings answers new-api's "not enabled" error. io.net's
//! refusals and failures come back as an envelope error naming them.

pub(super) mod catalog;
pub(super) mod list;
pub(super) mod manage;
mod map;
pub(super) mod settings;
pub(super) mod view;

use crate::app::App;
use crate::error::ApiError;
use crate::ionet::{Api, Client, IoNetError};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use std::time::Duration;

const ENABLED: &str = "model_deployment.ionet.enabled";
const API_KEY: &str = "model_deployment.ionet.api_key";

/// The configured key, when the feature is on (new-api's `getIoAPIKey`).
fn key(app: &App) -> Result<String, ApiError> {
    let options = app.settings.now();
    let key = options.text(API_KEY).trim().to_string();
    if !options.flag(ENABLED) || key.is_empty() {
        return Err(ApiError::invalid(
            "io.net model deployment is not enabled or api key missing",
        ));
    }
    Ok(key)
}

/// A route on one deployment: io.net's key (the feature is on) and the deployment's id from
/// the path, checked.
struct OnDeployment {
    key: String,
    id: String,
}

impl OnDeployment {
    fn of(app: &App, deployment: Result<Path<String>, PathRejection>) -> Result<Self, ApiError> {
        let key = key(app)?;
        let deployment = path(deployment)?;
        let id = checked_id(&deployment, "deployment")?.to_string();
        Ok(Self { key, id })
    }

    /// A client of `api` with the key.
    fn client<'a>(&'a self, app: &App, api: Api) -> Client<'a> {
        client(app, api, &self.key)
    }
}

/// A client of `api` with `key`.
fn client<'a>(app: &App, api: Api, key: &'a str) -> Client<'a> {
    Client::new(
        &app.config.control_plane.ionet_api_url,
        api,
        key,
        Duration::from_secs(app.config.control_plane.ionet_timeout_secs),
    )
}

/// An io.net failure as the caller sees it: what was being done, then io.net's reason.
fn failed(doing: &'static str) -> impl Fn(IoNetError) -> ApiError {
    move |error| ApiError::invalid(format!("{doing}: {error}"))
}

/// A query string, or the envelope's error naming what is wrong with it.
fn query<T>(read: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    read.map(|Query(q)| q)
        .map_err(|e| ApiError::invalid(format!("Invalid parameters: {}", e.body_text())))
}

/// The path's ids, or the envelope's error (a segment that is not UTF-8 once decoded).
fn path<T>(read: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    read.map(|Path(p)| p)
        .map_err(|e| ApiError::invalid(format!("Invalid parameters: {}", e.body_text())))
}

/// A deployment or container id from the path, checked before it goes into io.net's URL:
/// io.net's ids are letters, digits, `-`, `_` and `.` (never a bare `.` or `..`).
fn checked_id<'a>(raw: &'a str, what: &str) -> Result<&'a str, ApiError> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(ApiError::invalid(format!("{what} ID is required")));
    }
    let fits = id.len() <= 128
        && id.chars().any(|c| c != '.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !fits {
        return Err(ApiError::invalid(format!("invalid {what} ID")));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_they_reach_io_net() {
        assert_eq!(
            checked_id(" dep-1_a.b ", "deployment").unwrap(),
            "dep-1_a.b"
        );
        assert!(checked_id("", "deployment").is_err());
        assert!(checked_id("..", "deployment").is_err());
        assert!(checked_id("a%2Fb", "deployment").is_err());
        assert!(checked_id("a b", "container").is_err());
        assert!(checked_id(&"x".repeat(129), "container").is_err());
    }
}
