//! The `top_ups` table: orders that bring money in (new-api's columns, with the amount of money
//! in integer cents, and the plan an order buys, if any). An order is created pending and
//! moves once, by a conditional UPDATE, to success (in the transaction that credits it, see
//! `payments.rs`), expired (unpaid in time) or cancelled (by its owner); never back. Only an
//! administrator may still complete an expired order.

use super::channels::{Arg, bind_args, like_escape};
use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

/// An order waiting for its payment.
pub const TOPUP_PENDING: &str = "pending";
/// A paid and credited order.
pub const TOPUP_SUCCESS: &str = "success";
/// An order that was not paid in time.
pub const TOPUP_EXPIRED: &str = "expired";
/// An order its owner cancelled before paying.
pub const TOPUP_CANCELLED: &str = "cancelled";

/// new-api's `payment_method` of a redemption code's record.
pub const PAYMENT_METHOD_REDEMPTION: &str = "redemption";

pub(super) const COLUMNS: &str = "id, user_id, amount, quota, money_cents, currency, trade_no, \
    gateway_trade_no, payment_method, payment_provider, status, create_time, complete_time, \
    plan_id, subscription_plan_id";

/// One order.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TopUpRow {
    pub id: i64,
    pub user_id: i64,
    /// The units bought (new-api's `amount`).
    pub amount: i64,
    /// The quota the order credits.
    pub quota: i64,
    /// What the gateway must report as paid, in cents of `currency`.
    pub money_cents: i64,
    pub currency: String,
    pub trade_no: String,
    /// The gateway's id of the payment, once paid.
    pub gateway_trade_no: String,
    pub payment_method: String,
    pub payment_provider: String,
    pub status: String,
    pub create_time: i64,
    pub complete_time: i64,
    /// The plan the order buys (0: a top-up by amount or product).
    pub plan_id: i64,
    /// The subscription plan the order buys (0: the order credits quota).
    pub subscription_plan_id: i64,
}

/// An order to create.
#[derive(Debug, Clone)]
pub struct NewTopUp<'a> {
    pub user_id: i64,
    pub amount: i64,
    pub quota: i64,
    pub money_cents: i64,
    pub currency: &'a str,
    pub trade_no: &'a str,
    pub payment_method: &'a str,
    pub payment_provider: &'a str,
    /// The plan the order buys (0: none).
    pub plan_id: i64,
    /// The subscription plan the order buys (0: none).
    pub subscription_plan_id: i64,
}

/// Which orders a list shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TopUpFilter<'a> {
    /// Only this user's orders.
    pub user_id: Option<i64>,
    /// A substring of the order number.
    pub keyword: &'a str,
    /// Only orders created at or after this time.
    pub since: Option<i64>,
    /// Only orders for a plan.
    pub plans_only: bool,
}

/// What became of a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    /// The user has no such order.
    NotFound,
    /// The order is paid, expired or cancelled already; `status` says which.
    NotPending(&'static str),
}

impl Db {
    /// Records a pending order; returns its id.
    pub async fn create_top_up(&self, order: &NewTopUp<'_>) -> Result<i64, DbError> {
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO top_ups (user_id, amount, quota, money_cents, currency, trade_no, \
             payment_method, payment_provider, status, create_time, plan_id, \
             subscription_plan_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(order.user_id)
        .bind(order.amount)
        .bind(order.quota)
        .bind(order.money_cents)
        .bind(order.currency)
        .bind(order.trade_no)
        .bind(order.payment_method)
        .bind(order.payment_provider)
        .bind(TOPUP_PENDING)
        .bind(now_secs())
        .bind(order.plan_id)
        .bind(order.subscription_plan_id)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// One order by its number.
    pub async fn top_up_by_trade_no(&self, trade_no: &str) -> Result<Option<TopUpRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM top_ups WHERE trade_no = ?"
        )))
        .bind(trade_no)
        .fetch_optional(self.pool())
        .await?)
    }

    /// One order of `user_id` by its id.
    pub async fn top_up_of_user(&self, user_id: i64, id: i64) -> Result<Option<TopUpRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM top_ups WHERE id = ? AND user_id = ?"
        )))
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Marks every pending order created before `created_before` expired (one conditional
    /// UPDATE: an order being paid at the same moment is either paid or expired, never both);
    /// answers how many expired.
    pub async fn expire_stale_top_ups(&self, created_before: i64) -> Result<u64, DbError> {
        Ok(
            sqlx::query("UPDATE top_ups SET status = ? WHERE status = ? AND create_time < ?")
                .bind(TOPUP_EXPIRED)
                .bind(TOPUP_PENDING)
                .bind(created_before)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Cancels `user_id`'s pending order `id`.
    pub async fn cancel_top_up(&self, user_id: i64, id: i64) -> Result<CancelOutcome, DbError> {
        let cancelled = sqlx::query(
            "UPDATE top_ups SET status = ? WHERE id = ? AND user_id = ? AND status = ?",
        )
        .bind(TOPUP_CANCELLED)
        .bind(id)
        .bind(user_id)
        .bind(TOPUP_PENDING)
        .execute(self.pool())
        .await?
        .rows_affected();
        if cancelled == 1 {
            return Ok(CancelOutcome::Cancelled);
        }
        Ok(match self.top_up_of_user(user_id, id).await? {
            None => CancelOutcome::NotFound,
            Some(order) => CancelOutcome::NotPending(match order.status.as_str() {
                TOPUP_SUCCESS => TOPUP_SUCCESS,
                TOPUP_EXPIRED => TOPUP_EXPIRED,
                _ => TOPUP_CANCELLED,
            }),
        })
    }

    /// A page of orders, newest first, and how many match in all.
    pub async fn top_ups_page(
        &self,
        filter: TopUpFilter<'_>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<TopUpRow>, i64), DbError> {
        let mut parts = vec!["1 = 1".to_string()];
        let mut args = Vec::new();
        if let Some(user_id) = filter.user_id {
            parts.push("user_id = ?".into());
            args.push(Arg::Int(user_id));
        }
        if filter.plans_only {
            parts.push("plan_id > 0".into());
        }
        if let Some(since) = filter.since {
            parts.push("create_time >= ?".into());
            args.push(Arg::Int(since));
        }
        let keyword = filter.keyword.trim();
        if !keyword.is_empty() {
            parts.push("trade_no LIKE ? ESCAPE '!'".into());
            args.push(Arg::Text(format!("%{}%", like_escape(keyword))));
        }
        let condition = parts.join(" AND ");
        let rows_sql = format!(
            "SELECT {COLUMNS} FROM top_ups WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?"
        );
        let rows = bind_args!(sqlx::query_as(AssertSqlSafe(rows_sql)), &args)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let count_sql = format!("SELECT COUNT(*) FROM top_ups WHERE {condition}");
        let total = bind_args!(sqlx::query_scalar(AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }
}
