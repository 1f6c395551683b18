//! `GET /api/export/self`: the caller's own data as JSON: their account (never a secret), their
//! usage in all, their orders and their latest log rows (at most 1 000 of each).

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::{LogFilter, LogPaging, TopUpFilter, now_secs};
use serde_json::json;

/// The most orders and log rows exported.
const MOST: i64 = 1_000;

pub async fn export(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let own = LogFilter {
        user_id: Some(user.id),
        ..LogFilter::default()
    };
    let usage = app.db.usage_stat(&own).await?;
    let orders = TopUpFilter {
        user_id: Some(user.id),
        ..TopUpFilter::default()
    };
    let (orders, _) = app.db.top_ups_page(orders, 0, MOST).await?;
    let logs = app
        .db
        .logs_page(
            &own,
            LogPaging::Offset {
                offset: 0,
                limit: MOST,
            },
        )
        .await?;
    Ok(envelope::ok(json!({
        "exported_at": now_secs(),
        "user": {
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "email": user.email,
            "group": user.group,
            "quota": user.quota,
            "used_quota": user.used_quota,
            "request_count": user.request_count,
            "created_at": user.created_at,
        },
        "usage": usage,
        "orders": orders.iter().map(|o| json!({
            "trade_no": o.trade_no,
            "status": o.status,
            "payment_method": o.payment_method,
            "money_cents": o.money_cents,
            "currency": o.currency,
            "quota": o.quota,
            "create_time": o.create_time,
            "complete_time": o.complete_time,
        })).collect::<Vec<_>>(),
        "logs": logs.rows,
    })))
}
