//! `/api/user/*`: the signed-in user's own account.

mod access_token;
mod aff;
mod aff_transfer;
mod checkin;
mod checkin_config;
mod checkin_records;
mod checkin_status;
mod groups;
pub(super) mod login;
mod logout;
mod models;
mod self_delete;
mod self_info;
mod self_update;
mod setting;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, post, put};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login::login))
        .route("/logout", get(logout::logout))
        .route(
            "/self",
            get(self_info::get_self)
                .put(self_update::update)
                .delete(self_delete::delete),
        )
        .route("/token", get(access_token::generate))
        .route("/self/groups", get(groups::own))
        .route("/groups", get(groups::public))
        .route("/models", get(models::list))
        .route("/setting", put(setting::update))
        .route("/aff", get(aff::get))
        .route("/aff_transfer", post(aff_transfer::transfer))
        .route(
            "/checkin",
            get(checkin_status::status).post(checkin::check_in),
        )
        .route("/check-in", post(checkin::check_in))
        .route("/check-in/status", get(checkin_status::status))
        .route("/check-in/records", get(checkin_records::list))
}
