//! pylon-control-plane: the new-api compatible `/api` service, as a library so that tests can
//! call it in process: [`App::start`] connects the database and cache and runs the migrations,
//! [`app`] is the whole HTTP service. The binary (`main.rs`) only binds and serves it.

#![recursion_limit = "256"]

mod app;
mod auth;
mod client_ip;
mod cors;
mod envelope;
mod error;
mod extract;
mod ionet;
mod ledger;
mod log_retention;
mod mail;
mod metrics;
mod pagination;
mod rate_limit;
mod routes;
pub mod settings;
pub mod supervision;
mod verification;

pub use app::{App, AppState};
pub use routes::table;

/// The whole HTTP service on `state`: every route of the table, its guard, metrics and limits.
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (handlers read the peer
/// address).
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}
