//! YiPay's callbacks. The notification (`GET` query string or `POST` form) is EPay's, checked
//! and credited by the same code (signature, merchant, amount, once per payment) for the
//! orders created for YiPay; the browser's return goes back to the console's top-up page.

use crate::app::AppState;
use crate::routes::payment::epay_notify::notify_for;
use crate::routes::payment::epay_pay::YIPAY;
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::response::Redirect;
use bytes::Bytes;

pub async fn notify(
    State(app): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> &'static str {
    notify_for(&app, &method, query, &body, YIPAY).await
}

/// The browser's return from the gateway: the top-up page shows the order's state (the
/// return itself proves nothing and credits nothing).
pub async fn back(State(app): State<AppState>) -> Redirect {
    let base = PaymentSettings::load(&app)
        .await
        .map(|s| s.server_address)
        .unwrap_or_default();
    Redirect::to(&format!("{base}/console/topup"))
}
