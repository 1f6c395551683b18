//! `GET /api/turnover?page=&pageSize=` (seed 004, "获取消费记录"): the caller's points ledger,
//! newest first, as `{count, rows}` in the seed's envelope. Pylon's points are quota and its
//! points ledger is the log (DESIGN.md), so a row is one of the caller's log rows: relayed
//! requests (what they cost, negative), top-ups, check-ins, rewards and administrators'
//! adjustments (the signed amount their ledger movement moved); failed requests moved nothing
//! and are left out. A row is `{id, user_id, value, describe, create_time, update_time}` as
//! the seed shows it (`value` is the signed amount with the seed's unit, "-1500积分"), plus
//! `quota`, the signed amount as an integer. `count` counts up to 10 000 rows, as the log
//! lists do; pages are the shared pagination (`page` and `pageSize`, 10 by default, at most
//! 100; a page beyond 64 bits is refused), or, at any depth as fast, the rows after the cursor
//! `before` (the previous page's `next_before`, as the log lists). The seed's `token` header
//! is a later issue: the caller authenticates as on every other route (session cookie or
//! access token, with `New-Api-User`).

use super::product::datetime;
use super::{shop_answer, shop_ok};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::pagination::Page;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use pylon_shared::db::{LOG_TYPE_CONSUME, LOG_TYPE_ERROR, LogFilter, LogPaging, LogRow};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The cursor of a deeper page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Cursor {
    before: Option<i64>,
}

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    page: Result<Page, ApiError>,
    cursor: Result<Query<Cursor>, QueryRejection>,
) -> Response {
    let result = async {
        let page = page?;
        let Query(cursor) =
            cursor.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
        let paging = match cursor.before {
            Some(before) if before > 0 => LogPaging::Before {
                before,
                limit: page.size,
            },
            Some(_) => return Err(ApiError::invalid("before must be a positive id")),
            None => LogPaging::Offset {
                offset: page.offset(),
                limit: page.size,
            },
        };
        let filter = LogFilter {
            user_id: Some(user.id),
            exclude_type: LOG_TYPE_ERROR,
            ..LogFilter::default()
        };
        let found = app.db.logs_page(&filter, paging).await?;
        let ids: Vec<i64> = found.rows.iter().map(|row| row.id).collect();
        let moved = app.db.movement_deltas_of_logs(&ids).await?;
        let rows: Vec<Value> = found.rows.iter().map(|row| row_view(row, &moved)).collect();
        let data = json!({ "count": found.total, "rows": rows, "next_before": found.next_before });
        Ok(shop_ok(data, ""))
    };
    shop_answer(result.await)
}

/// One log row as a ledger line.
fn row_view(row: &LogRow, moved: &HashMap<i64, i64>) -> Value {
    let amount = if row.log_type == LOG_TYPE_CONSUME {
        -row.quota
    } else {
        moved.get(&row.id).copied().unwrap_or(row.quota)
    };
    let describe = if row.log_type == LOG_TYPE_CONSUME {
        format!("Request to {}", row.model_name)
    } else {
        row.content.clone()
    };
    json!({
        "id": row.id.to_string(),
        "user_id": row.user_id.to_string(),
        "value": format!("{amount}积分"),
        "quota": amount,
        "describe": describe,
        "create_time": datetime(row.created_at),
        "update_time": datetime(row.created_at),
    })
}
