//! The HTTP surface of the control plane: one module per resource, one function per action.

mod account;
mod channel;
mod commission;
mod group;
mod health;
mod log;
mod metrics;
mod oidc;
mod option;
mod order;
mod passkey;
mod payment;
mod payment_orders;
mod plan;
mod redemption;
mod setup;
mod shop;
mod status;
mod token;
mod topup;
mod two_factor;
mod user;
mod user_admin;

use crate::app::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

/// Every route, with body limits and request metrics.
pub fn router(app: AppState) -> Router {
    let body_limit = app.config.control_plane.max_body_bytes;
    Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(metrics::metrics))
        .route("/api/status", get(status::status))
        .route("/api/setup", get(setup::get_setup).post(setup::post_setup))
        .route("/api/setup/status", get(setup::get_setup))
        .nest("/api/user", user::router())
        .merge(log::router())
        .nest("/api/channel", channel::router())
        .route("/api/channel/", channel::root())
        .nest("/api/option", option::router())
        .route("/api/option/", option::root())
        .merge(token::router())
        .merge(user_admin::router())
        .merge(group::router())
        .merge(account::router())
        .merge(two_factor::router())
        .merge(passkey::router())
        .merge(oidc::router())
        .merge(redemption::router())
        .merge(topup::router())
        .merge(payment::router())
        .merge(payment_orders::router())
        .merge(shop::router())
        .merge(plan::router())
        .merge(order::router())
        .merge(commission::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::metrics::track,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}

async fn not_found(uri: axum::http::Uri) -> impl IntoResponse {
    let mut response = ApiError::invalid(format!("Not found: {}", uri.path())).into_response();
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
