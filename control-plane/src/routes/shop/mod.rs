//! Seed 004's shop dialect: redeeming a card key (`POST /api/use_carmi`, a card key is a
//! redemption code), the products on sale (`GET /api/product`, products are plans) and an
//! order for one paid through the EPay-compatible YiPay channel (`POST /api/pay/precreate`,
//! notified at `/api/payment/yipay/notify`). Callers authenticate as on every other route
//! (new-api's session or access token); answers are in the seed's shape
//! `{"code": 0, "data": ..., "message": ...}`, a refusal with `code` 1 and the reason.
//! Administrators manage the products (`/api/admin/products`, see `admin_products`) and the
//! payment channel (`/api/admin/payment`, see `admin_payment`), and see every order
//! (`GET /api/admin/orders`) and the card keys (`/api/admin/carmi`, see `admin_carmi`).
//! Membership products (days of access) are subscription plans (see `membership`). The
//! caller's points ledger is `GET /api/turnover` (see `turnover`).

mod admin_carmi;
mod admin_orders;
mod admin_payment;
mod admin_products;
mod carmi;
mod membership;
mod precreate;
mod product;
pub(super) mod turnover;

use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/use_carmi", post(carmi::use_carmi))
        .route("/api/product", get(product::list))
        .route("/api/pay/precreate", post(precreate::precreate))
        .route(
            "/api/admin/payment",
            get(admin_payment::list)
                .post(admin_payment::save)
                .put(admin_payment::save),
        )
        .route("/api/admin/orders", get(admin_orders::list))
        .route("/api/admin/payment/{id}", delete(admin_payment::delete))
        .route(
            "/api/admin/products",
            get(admin_products::list)
                .post(admin_products::create)
                .put(admin_products::update),
        )
        .route(
            "/api/admin/products/{product}",
            delete(admin_products::delete),
        )
        .route(
            "/api/admin/carmi",
            get(admin_carmi::list).post(admin_carmi::create),
        )
        .route("/api/admin/carmi/check", get(admin_carmi::check))
        .route("/api/admin/carmi/{id}", delete(admin_carmi::delete))
}

/// Seed 004's admin list paging: `page` (1-based) and `page_size` (10 by default, at most 100);
/// a missing or non-positive value reads as its default.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct ShopPage {
    page: Option<i64>,
    page_size: Option<i64>,
}

impl ShopPage {
    /// Rows per page.
    fn size(self) -> i64 {
        self.page_size.filter(|n| *n > 0).unwrap_or(10).min(100)
    }

    /// Rows before the page.
    fn offset(self) -> i64 {
        (self.page.filter(|n| *n > 0).unwrap_or(1) - 1).saturating_mul(self.size())
    }
}

/// The seed's success answer.
fn shop_ok(data: Value, message: &str) -> Response {
    Json(json!({ "code": 0, "data": data, "message": message })).into_response()
}

/// The seed's answer for a refusal; other errors (not signed in, internal) keep their status
/// and the common envelope.
fn shop_answer(result: Result<Response, ApiError>) -> Response {
    match result {
        Ok(answer) => answer,
        Err(ApiError::Invalid(reason)) => {
            Json(json!({ "code": 1, "data": null, "message": reason })).into_response()
        }
        Err(other) => other.into_response(),
    }
}
