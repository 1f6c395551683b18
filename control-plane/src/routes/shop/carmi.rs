//! `POST /api/use_carmi` with `{"carmi"}` (the seed's example names it `carmiHandlers`, which
//! is accepted too): redeems the card key, a redemption code, through the same transaction as
//! `POST /api/user/topup`, so that a key credits once however many redeem it at once.

use super::{shop_answer, shop_ok};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::routes::topup::redeem::redeem_for;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct UseCarmi {
    #[serde(default, alias = "carmiHandlers")]
    carmi: String,
}

pub async fn use_carmi(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<UseCarmi>,
) -> Response {
    shop_answer(
        redeem_for(&app, &user, &request.carmi)
            .await
            .map(|_| shop_ok(json!([]), "充值成功")),
    )
}
