//! The operator's texts for the public pages, as new-api serves them to its console: `GET
//! /api/notice` (the `Notice` option), `/api/about` (`About`) and `/api/home_page_content`
//! (`HomePageContent`), `/api/user-agreement` (`legal.user_agreement`) and
//! `/api/privacy-policy` (`legal.privacy_policy`), each the stored text (Markdown, HTML or a
//! URL) in `data`, empty while unset.

use crate::app::AppState;
use crate::envelope;
use axum::extract::State;
use axum::response::Response;

pub async fn notice(State(app): State<AppState>) -> Response {
    envelope::ok(app.settings.now().text("Notice"))
}

pub async fn about(State(app): State<AppState>) -> Response {
    envelope::ok(app.settings.now().text("About"))
}

pub async fn home_page_content(State(app): State<AppState>) -> Response {
    envelope::ok(app.settings.now().text("HomePageContent"))
}

pub async fn user_agreement(State(app): State<AppState>) -> Response {
    envelope::ok(app.settings.now().text("legal.user_agreement"))
}

pub async fn privacy_policy(State(app): State<AppState>) -> Response {
    envelope::ok(app.settings.now().text("legal.privacy_policy"))
}
