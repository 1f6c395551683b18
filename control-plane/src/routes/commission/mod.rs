//! `GET /api/referral-commissions` (seed 001, administrators): what inviters earned on their
//! invitees' paid orders, newest first, paged; `?inviter_id=` narrows to one inviter. The
//! share is the `ReferralCommissionRate` option; commissions are credited to the inviter's
//! invitation quota by the transaction that credits the order (`pylon_shared::db::payments`).

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::{Page, PageQuery};
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use pylon_shared::db::CommissionRow;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/referral-commissions", get(list))
}

#[derive(Deserialize)]
pub struct Filter {
    #[serde(default)]
    inviter_id: Option<String>,
}

async fn list(
    State(app): State<AppState>,
    _: AdminUser,
    Query(page): Query<PageQuery>,
    Query(filter): Query<Filter>,
) -> ApiResult {
    let page = Page::from_query(&page);
    let inviter = filter
        .inviter_id
        .and_then(|id| id.trim().parse::<i64>().ok());
    let (rows, total) = app
        .db
        .commissions_page(inviter, page.offset(), page.size)
        .await?;
    Ok(envelope::ok(
        page.body(rows.iter().map(view).collect(), total),
    ))
}

fn view(row: &CommissionRow) -> Value {
    json!({
        "id": row.id,
        "inviter_id": row.inviter_id,
        "invitee_id": row.invitee_id,
        "trade_no": row.trade_no,
        "order_quota": row.order_quota,
        "rate": row.rate,
        "commission": row.commission,
        "created_time": row.created_time,
    })
}
