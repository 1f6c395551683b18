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

pub(super) mod bind;
pub(super) mod bind_url;
pub(super) mod callback;
pub(super) mod lock;
pub(super) mod login;
pub(super) mod pending;
pub(super) mod person;
pub(super) mod provider;
pub(super) mod settings;
pub(super) mod sign_in_id;
pub(super) mod signup;
pub(super) mod start;
pub(super) mod state;

/// The OIDC provider's name in a flow's state (custom providers use their slug).
const PROVIDER: &str = "oidc";
/// Where the provider sends the browser back in new-api's flow (a console page, which calls
/// `GET /api/oauth/oidc`).
const CONSOLE_CALLBACK_PATH: &str = "/oauth/oidc";
/// Where the provider sends the browser back in the server-driven flow of `/auth/login`.
const SERVER_CALLBACK_PATH: &str = "/auth/callback";
