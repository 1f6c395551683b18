//! OIDC sign-in and account binding: the authorization code flow with PKCE (S256) against the
//! provider the `oidc.*` options describe, in new-api's dialect.
//!
//! A flow starts at one of:
//! - `GET /api/oauth/state` (new-api's console): a state only; the console builds the
//!   authorization URL itself, so this flow cannot carry a PKCE challenge;
//! - `GET /api/oauth/oidc/start`: the whole authorization URL, with PKCE and a nonce;
//! - `GET /auth/login` (seed 001): a redirect to that URL, for a plain browser link;
//! - `POST /api/user/oidc/bind-url` (seed 001): the URL to bind the caller's account.
//!
//! The provider sends the browser back with `code` and `state`, and the callback
//! (`GET /api/oauth/oidc` as new-api's console calls it, or `GET /auth/callback`) redeems them:
//! it signs the user in (creating the account when registration is open) or binds the subject.
//! A state is single-use, expires, and only counts in the browser that started the flow.

mod bind;
mod bind_url;
mod callback;
mod lock;
mod login;
mod pending;
mod provider;
mod settings;
mod signup;
mod start;
mod state;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, post};

/// Where the provider sends the browser back in new-api's flow (a console page, which calls
/// `GET /api/oauth/oidc`).
const CONSOLE_CALLBACK_PATH: &str = "/oauth/oidc";
/// Where the provider sends the browser back in the server-driven flow of `/auth/login`.
const SERVER_CALLBACK_PATH: &str = "/auth/callback";

/// The OIDC routes, with full paths.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/oauth/state", get(state::state))
        .route("/api/oauth/oidc/start", get(start::start))
        .route("/auth/login", get(start::redirect))
        .route("/api/user/oidc/bind-url", post(bind_url::bind_url))
        .route("/api/oauth/oidc", get(callback::callback))
        .route("/auth/callback", get(callback::callback))
}
