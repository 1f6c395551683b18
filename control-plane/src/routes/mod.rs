//! The HTTP surface of the control plane: the route table ([`table`]) and one module per
//! resource, one file per action.

mod account;
mod announcement;
mod audit;
mod channel;
mod channel_model;
mod commission;
mod content;
mod custom_oauth;
mod data;
mod deployment;
mod export;
mod group;
mod health;
mod invitation;
mod log;
mod metadata_sync;
mod metrics;
mod midjourney;
mod model;
mod model_sync;
mod oidc;
mod option;
mod order;
mod passkey;
mod payment;
mod payment_orders;
mod perf;
mod performance;
mod plan;
mod prefill_group;
mod price_sync;
mod pricing;
mod public;
mod rankings;
mod redemption;
mod secure_verification;
mod setup;
mod shop;
mod social;
mod stats;
mod status;
mod status_monitor;
mod subscription;
mod system_info;
pub mod table;
mod task;
mod token;
mod topup;
mod two_factor;
mod usage;
mod user;
mod user_admin;
mod user_channel;
mod vendor;

use crate::app::AppState;

/// The subscriptions' clock (quota resets and expiries), run by the control plane.
pub async fn subscription_clock(app: AppState) {
    subscription::reset::run(app).await;
}

/// The asynchronous tasks' poller, run by the control plane.
pub async fn task_poller(app: AppState) {
    task::poll::run(app).await;
}

/// The Midjourney tasks' poller, run by the control plane.
pub async fn midjourney_poller(app: AppState) {
    midjourney::poll::run(app).await;
}

/// The status monitors' clock, run by the control plane.
pub async fn monitor_clock(app: AppState) {
    status_monitor::clock::run(app).await;
}
use crate::error::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{DefaultBodyLimit, RawPathParams, Request};
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::MethodRouter;
use std::collections::BTreeMap;

/// The whole service: every route of the table behind its guard, unknown paths and methods
/// answered in the envelope, request metrics and the body limit.
pub fn router(app: AppState) -> Router {
    let body_limit = app.config.control_plane.max_body_bytes;
    let mut paths: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for route in table::routes() {
        let path = route.routed_path();
        let served = route.into_method_router(&app);
        let merged = match paths.remove(path) {
            Some(other) => other.merge(served),
            None => served,
        };
        paths.insert(path, merged);
    }
    let routed = paths
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::metrics::track,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app);
    // Routing sees the path without new-api's trailing slash, so that both spellings of every
    // path are served by one entry.
    Router::new()
        .fallback_service(routed)
        .layer(axum::middleware::map_request(trim_trailing_slash))
}

/// No route has this path. The body is read first (within the body limit): a connection whose
/// request was not read to its end cannot be reused, and the proxy's next request on it fails.
async fn not_found(uri: Uri, body: Result<Bytes, BytesRejection>) -> impl IntoResponse {
    drop(body);
    ApiError::NotFound(uri.path().to_string())
}

/// A path the table serves, but not with this method (the body is read as in [`not_found`]); unless its `{id}` is malformed, which
/// makes it no path of the table at all.
async fn method_not_allowed(
    uri: Uri,
    params: Result<RawPathParams, RawPathParamsRejection>,
    body: Result<Bytes, BytesRejection>,
) -> impl IntoResponse {
    drop(body);
    match params {
        Ok(params) if crate::auth::guard::has_malformed_id(&params) => {
            ApiError::NotFound(uri.path().to_string())
        }
        _ => ApiError::MethodNotAllowed,
    }
}

/// Removes one trailing slash from the path (keeping the query), unless the route table keeps
/// it for this method and path.
async fn trim_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if table::keeps_trailing_slash(request.method(), path) {
        return request;
    }
    let trimmed = table::routed(path);
    if trimmed.len() != path.len() {
        let rewritten = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(path_and_query) = rewritten.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}
