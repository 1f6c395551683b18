//! `GET /api/public/settings`: the settings a console reads at start, in Veloce's fields, from
//! the same options `/api/status` reads. Features Pylon does not have (themes, custom
//! navigation, dashboard widgets, a chat page, a status page, sign-up agreements) are reported
//! empty or off.

use crate::app::AppState;
use crate::envelope;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

pub async fn settings(State(app): State<AppState>) -> Response {
    let options = app.settings.now();
    let password = options.flag("PasswordLoginEnabled");
    let oidc = options.flag("oidc.enabled");
    let passkey = options.flag("passkey.enabled");
    let login_methods: Vec<&str> = [(password, "password"), (oidc, "oidc"), (passkey, "passkey")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    let logo = options.text("Logo");
    envelope::ok(json!({
        "site_name": options.text("SystemName"),
        "site_description": "",
        "logo_url": logo,
        "favicon_url": logo,
        "login_methods": login_methods,
        "registration_enabled": options.flag("RegisterEnabled"),
        "password_login_enabled": password,
        "oidc_enabled": oidc,
        "passkey_enabled": passkey,
        "auth_agreement_required": false,
        "privacy_url": "",
        "terms_url": "",
        "nav_items": [],
        "dashboard_widgets": [],
        "chat_page_mode": "",
        "pricing_endpoint_enabled": true,
        "status_page_enabled": false,
    }))
}
