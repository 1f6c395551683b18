//! `/api/user/*`: the signed-in user's own account.

mod access_token;
mod login;
mod logout;
mod self_info;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login::login))
        .route("/logout", get(logout::logout))
        .route("/self", get(self_info::get_self))
        .route("/token", get(access_token::generate))
}
