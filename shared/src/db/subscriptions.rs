//! Subscriptions (new-api's): `subscription_plans` sold for a price, and `user_subscriptions`,
//! each a user's copy of a plan's quota and periods. A subscription pays for relayed requests
//! (as its owner's billing preference says) until its quota for the period is used; its
//! `amount_used` is written by the proxies' settlement batches (`settlement.rs`), returns to 0
//! at each reset, and the subscription ends at `end_time`.
//!
//! A grant is keyed (`grant_key`, unique): an order activates at most one subscription however
//! often its payment is reported. Every change to a user's subscriptions or preference appends
//! a `user` change event, so proxies re-read the user with its subscriptions.

use super::changes::append_change_in;
use super::ledger::{Movement, MovementKind, MovementOutcome, Refusal};
use super::{ChangeEvent, Db, DbError, now_secs};
use crate::changes::Topic;
use sqlx::{Any, AssertSqlSafe, Transaction};

/// A subscription in force (until its `end_time`).
pub const SUBSCRIPTION_ACTIVE: &str = "active";
/// Past its `end_time`.
pub const SUBSCRIPTION_EXPIRED: &str = "expired";
/// Ended early by an administrator.
pub const SUBSCRIPTION_CANCELLED: &str = "cancelled";

/// How a subscription's length is counted (new-api's `duration_unit`).
pub const DURATION_UNITS: [&str; 5] = ["year", "month", "day", "hour", "custom"];
/// How often a subscription's quota is restored (new-api's `quota_reset_period`).
pub const RESET_PERIODS: [&str; 5] = ["never", "daily", "weekly", "monthly", "custom"];

/// The user setting (`users.setting`, JSON) that says what pays for a request.
pub const BILLING_PREFERENCES: [&str; 4] = [
    "subscription_first",
    "wallet_first",
    "subscription_only",
    "wallet_only",
];

pub(super) const PLAN_COLUMNS: &str = "id, title, subtitle, price_cents, currency, duration_unit, \
    duration_value, custom_seconds, enabled, sort_order, stripe_price_id, creem_product_id, \
    max_purchase_per_user, upgrade_group, total_amount, quota_reset_period, \
    quota_reset_custom_seconds, created_at, updated_at";

/// How many subscriptions of a plan (`?` 2) a user (`?` 1) bought (administrators' grants do
/// not count against `max_purchase_per_user`).
const PURCHASES_OF_PLAN: &str = "SELECT COUNT(*) FROM user_subscriptions WHERE user_id = ? \
    AND plan_id = ? AND source <> 'admin'";

const SUBSCRIPTION_COLUMNS: &str = "id, user_id, plan_id, amount_total, amount_used, start_time, \
    end_time, status, source, quota_reset_period, quota_reset_custom_seconds, last_reset_time, \
    next_reset_time, upgrade_group, created_at, updated_at";

/// One plan.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionPlanRow {
    pub id: i64,
    pub title: String,
    pub subtitle: String,
    /// The price in cents of `currency`.
    pub price_cents: i64,
    pub currency: String,
    pub duration_unit: String,
    pub duration_value: i64,
    pub custom_seconds: i64,
    /// 1 on sale, 0 withdrawn (subscriptions already sold run on).
    pub enabled: i64,
    /// Higher first in lists (new-api's order).
    pub sort_order: i64,
    pub stripe_price_id: String,
    pub creem_product_id: String,
    /// How many of this plan one user may buy (0: any number).
    pub max_purchase_per_user: i64,
    /// The group a buyer is moved to while the subscription runs ('' keeps theirs).
    pub upgrade_group: String,
    /// Quota per period (0: unlimited).
    pub total_amount: i64,
    pub quota_reset_period: String,
    pub quota_reset_custom_seconds: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an administrator sets on a plan.
#[derive(Debug, Clone)]
pub struct SubscriptionPlanFields<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    pub price_cents: i64,
    pub currency: &'a str,
    pub duration_unit: &'a str,
    pub duration_value: i64,
    pub custom_seconds: i64,
    pub enabled: bool,
    pub sort_order: i64,
    pub stripe_price_id: &'a str,
    pub creem_product_id: &'a str,
    pub max_purchase_per_user: i64,
    pub upgrade_group: &'a str,
    pub total_amount: i64,
    pub quota_reset_period: &'a str,
    pub quota_reset_custom_seconds: i64,
}

impl SubscriptionPlanFields<'_> {
    fn check_lengths(&self) -> Result<(), DbError> {
        super::check_lengths(
            "subscription_plans",
            &[
                ("title", self.title),
                ("subtitle", self.subtitle),
                ("currency", self.currency),
                ("duration_unit", self.duration_unit),
                ("stripe_price_id", self.stripe_price_id),
                ("creem_product_id", self.creem_product_id),
                ("upgrade_group", self.upgrade_group),
                ("quota_reset_period", self.quota_reset_period),
            ],
        )
    }
}

/// One user's subscription.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct UserSubscriptionRow {
    pub id: i64,
    pub user_id: i64,
    pub plan_id: i64,
    /// Quota per period (0: unlimited).
    pub amount_total: i64,
    /// Quota spent this period.
    pub amount_used: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub status: String,
    /// `order`, `balance` or `admin`.
    pub source: String,
    pub quota_reset_period: String,
    pub quota_reset_custom_seconds: i64,
    pub last_reset_time: i64,
    /// When `amount_used` returns to 0 next (0: never).
    pub next_reset_time: i64,
    pub upgrade_group: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserSubscriptionRow {
    /// The status as of `now` (an active row past its end reads as expired).
    pub fn status_at(&self, now: i64) -> &str {
        if self.status == SUBSCRIPTION_ACTIVE && self.end_time <= now {
            SUBSCRIPTION_EXPIRED
        } else {
            &self.status
        }
    }
}

/// What became of a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantOutcome {
    /// Granted; announce `change` after the commit.
    Granted {
        subscription: Box<UserSubscriptionRow>,
        change: ChangeEvent,
    },
    /// A grant with this key exists already; nothing was written.
    Duplicate,
    /// The plan's length is not a valid duration; nothing was written.
    InvalidPlan,
}

/// A subscription whose quota was restored by [`Db::reset_due_subscriptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionReset {
    pub id: i64,
    pub user_id: i64,
    /// What was used before the reset (added back to the shared admission counter).
    pub restored: i64,
    pub change: ChangeEvent,
}

impl Db {
    /// Every plan (or only those on sale), higher `sort_order` first, then newest.
    pub async fn subscription_plans(
        &self,
        enabled_only: bool,
    ) -> Result<Vec<SubscriptionPlanRow>, DbError> {
        let filter = if enabled_only {
            "WHERE enabled = 1"
        } else {
            ""
        };
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM subscription_plans {filter} \
             ORDER BY sort_order DESC, id DESC"
        )))
        .fetch_all(self.pool())
        .await?)
    }

    /// One plan.
    pub async fn subscription_plan(&self, id: i64) -> Result<Option<SubscriptionPlanRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM subscription_plans WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a plan; returns its id.
    pub async fn create_subscription_plan(
        &self,
        plan: &SubscriptionPlanFields<'_>,
    ) -> Result<i64, DbError> {
        plan.check_lengths()?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let result = bind_plan(
            sqlx::query(
                "INSERT INTO subscription_plans (title, subtitle, price_cents, currency, \
                 duration_unit, duration_value, custom_seconds, enabled, sort_order, \
                 stripe_price_id, creem_product_id, max_purchase_per_user, upgrade_group, \
                 total_amount, quota_reset_period, quota_reset_custom_seconds, updated_at, \
                 created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            plan,
            now,
        )
        .bind(now)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// Replaces a plan's fields; false when there is no such plan. Subscriptions already
    /// granted keep the copy they took.
    pub async fn update_subscription_plan(
        &self,
        id: i64,
        plan: &SubscriptionPlanFields<'_>,
    ) -> Result<bool, DbError> {
        plan.check_lengths()?;
        let updated = bind_plan(
            sqlx::query(
                "UPDATE subscription_plans SET title = ?, subtitle = ?, price_cents = ?, \
                 currency = ?, duration_unit = ?, duration_value = ?, custom_seconds = ?, \
                 enabled = ?, sort_order = ?, stripe_price_id = ?, creem_product_id = ?, \
                 max_purchase_per_user = ?, upgrade_group = ?, total_amount = ?, \
                 quota_reset_period = ?, quota_reset_custom_seconds = ?, updated_at = ? \
                 WHERE id = ?",
            ),
            plan,
            now_secs(),
        )
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(updated == 1 || self.subscription_plan(id).await?.is_some())
    }

    /// Puts a plan on sale or withdraws it; false when there is no such plan.
    pub async fn set_subscription_plan_enabled(
        &self,
        id: i64,
        enabled: bool,
    ) -> Result<bool, DbError> {
        sqlx::query("UPDATE subscription_plans SET enabled = ?, updated_at = ? WHERE id = ?")
            .bind(i64::from(enabled))
            .bind(now_secs())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(self.subscription_plan(id).await?.is_some())
    }

    /// Every subscription of `user_id`, latest end first.
    pub async fn user_subscriptions(
        &self,
        user_id: i64,
    ) -> Result<Vec<UserSubscriptionRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM user_subscriptions WHERE user_id = ? \
             ORDER BY end_time DESC, id DESC"
        )))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many subscriptions of `plan_id` were ever granted to `user_id` by purchase.
    pub async fn purchases_of_plan(&self, user_id: i64, plan_id: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(PURCHASES_OF_PLAN)
            .bind(user_id)
            .bind(plan_id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Grants `plan` to `user_id` in its own transaction (an administrator's binding).
    pub async fn grant_subscription(
        &self,
        user_id: i64,
        plan: &SubscriptionPlanRow,
        grant_key: &str,
        source: &str,
    ) -> Result<GrantOutcome, DbError> {
        let mut tx = self.pool().begin().await?;
        let outcome = self
            .grant_subscription_in(&mut tx, user_id, plan, grant_key, source)
            .await?;
        if matches!(outcome, GrantOutcome::Granted { .. }) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    /// Grants `plan` to `user_id` inside the caller's transaction: the subscription row (unique
    /// on `grant_key`), the buyer's group change if the plan has one, and the change event.
    /// The insert is the first statement (on SQLite the transaction holds the write lock).
    pub async fn grant_subscription_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        user_id: i64,
        plan: &SubscriptionPlanRow,
        grant_key: &str,
        source: &str,
    ) -> Result<GrantOutcome, DbError> {
        let now = now_secs();
        let Some(end_time) = period_end(
            now,
            &plan.duration_unit,
            plan.duration_value,
            plan.custom_seconds,
        ) else {
            return Ok(GrantOutcome::InvalidPlan);
        };
        let next_reset = next_reset_time(
            now,
            &plan.quota_reset_period,
            plan.quota_reset_custom_seconds,
        )
        .filter(|at| *at < end_time)
        .unwrap_or(0);
        let inserted = sqlx::query(
            "INSERT INTO user_subscriptions (user_id, plan_id, grant_key, amount_total, \
             amount_used, start_time, end_time, status, source, quota_reset_period, \
             quota_reset_custom_seconds, last_reset_time, next_reset_time, upgrade_group, \
             created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(plan.id)
        .bind(grant_key)
        .bind(plan.total_amount.max(0))
        .bind(now)
        .bind(end_time)
        .bind(SUBSCRIPTION_ACTIVE)
        .bind(source)
        .bind(&plan.quota_reset_period)
        .bind(plan.quota_reset_custom_seconds)
        .bind(now)
        .bind(next_reset)
        .bind(&plan.upgrade_group)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await;
        let inserted = match inserted {
            Ok(result) => result,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(GrantOutcome::Duplicate);
            }
            Err(e) => return Err(e.into()),
        };
        let id = super::inserted_id(tx, self.dialect(), &inserted).await?;
        if !plan.upgrade_group.is_empty() {
            sqlx::query("UPDATE users SET `group` = ? WHERE id = ?")
                .bind(&plan.upgrade_group)
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        let change = append_change_in(tx, self.dialect(), Topic::User, user_id).await?;
        let subscription = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM user_subscriptions WHERE id = ?"
        )))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        Ok(GrantOutcome::Granted {
            subscription: Box::new(subscription),
            change,
        })
    }

    /// Ends subscription `id` now (an administrator's act); its owner and the change event, or
    /// None when there is no such subscription.
    pub async fn cancel_user_subscription(
        &self,
        id: i64,
    ) -> Result<Option<(i64, ChangeEvent)>, DbError> {
        let now = now_secs();
        let query = sqlx::query(
            "UPDATE user_subscriptions SET status = ?, end_time = CASE WHEN end_time > ? \
             THEN ? ELSE end_time END, updated_at = ? WHERE id = ?",
        )
        .bind(SUBSCRIPTION_CANCELLED)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(id);
        self.change_subscription(id, query).await
    }

    /// Deletes subscription `id`; its owner and the change event, or None when there is no
    /// such subscription.
    pub async fn delete_user_subscription(
        &self,
        id: i64,
    ) -> Result<Option<(i64, ChangeEvent)>, DbError> {
        let query = sqlx::query("DELETE FROM user_subscriptions WHERE id = ?").bind(id);
        self.change_subscription(id, query).await
    }

    /// Runs `change` on subscription `id` in a transaction with the owner's change event;
    /// None (nothing changed) when there is no such subscription.
    async fn change_subscription(
        &self,
        id: i64,
        change: sqlx::query::Query<'_, Any, sqlx::any::AnyArguments>,
    ) -> Result<Option<(i64, ChangeEvent)>, DbError> {
        let mut tx = self.pool().begin().await?;
        let owner: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM user_subscriptions WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(owner) = owner else {
            tx.rollback().await?;
            return Ok(None);
        };
        change.execute(&mut *tx).await?;
        let event = append_change_in(&mut tx, self.dialect(), Topic::User, owner).await?;
        tx.commit().await?;
        Ok(Some((owner, event)))
    }

    /// Restores the quota of active subscriptions whose reset time has come (at most `limit`),
    /// each in its own transaction: `amount_used` back to 0 and the next reset time set.
    pub async fn reset_due_subscriptions(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<SubscriptionReset>, DbError> {
        let due: Vec<UserSubscriptionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM user_subscriptions WHERE status = ? \
             AND next_reset_time > 0 AND next_reset_time <= ? AND end_time > ? \
             ORDER BY next_reset_time LIMIT ?"
        )))
        .bind(SUBSCRIPTION_ACTIVE)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut resets = Vec::with_capacity(due.len());
        for row in due {
            // The next reset after `now` (a process that was down skips the missed ones).
            let mut next = row.next_reset_time;
            while next > 0 && next <= now {
                next = next_reset_time(
                    next,
                    &row.quota_reset_period,
                    row.quota_reset_custom_seconds,
                )
                .unwrap_or(0);
            }
            if next >= row.end_time {
                next = 0;
            }
            let mut tx = self.pool().begin().await?;
            // Conditional on the reset time read: two control planes reset once.
            let updated = sqlx::query(
                "UPDATE user_subscriptions SET amount_used = 0, last_reset_time = ?, \
                 next_reset_time = ?, updated_at = ? WHERE id = ? AND next_reset_time = ?",
            )
            .bind(now)
            .bind(next)
            .bind(now)
            .bind(row.id)
            .bind(row.next_reset_time)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                tx.rollback().await?;
                continue;
            }
            let change =
                append_change_in(&mut tx, self.dialect(), Topic::User, row.user_id).await?;
            tx.commit().await?;
            resets.push(SubscriptionReset {
                id: row.id,
                user_id: row.user_id,
                restored: row.amount_used,
                change,
            });
        }
        Ok(resets)
    }

    /// Marks subscriptions past their end expired and gives their owners back the group they
    /// had before an upgrade (when no other active subscription upgrades them). Answers the
    /// change events.
    pub async fn expire_ended_subscriptions(
        &self,
        now: i64,
        default_group: &str,
    ) -> Result<Vec<ChangeEvent>, DbError> {
        let ended: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT id, user_id, upgrade_group FROM user_subscriptions WHERE status = ? \
             AND end_time <= ? ORDER BY id LIMIT 500",
        )
        .bind(SUBSCRIPTION_ACTIVE)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let mut changes = Vec::new();
        for (id, user_id, upgrade_group) in ended {
            let mut tx = self.pool().begin().await?;
            let updated = sqlx::query(
                "UPDATE user_subscriptions SET status = ?, updated_at = ? WHERE id = ? \
                 AND status = ?",
            )
            .bind(SUBSCRIPTION_EXPIRED)
            .bind(now)
            .bind(id)
            .bind(SUBSCRIPTION_ACTIVE)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                tx.rollback().await?;
                continue;
            }
            if !upgrade_group.is_empty() {
                let still_upgraded: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM user_subscriptions WHERE user_id = ? AND status = ? \
                     AND end_time > ? AND upgrade_group = ?",
                )
                .bind(user_id)
                .bind(SUBSCRIPTION_ACTIVE)
                .bind(now)
                .bind(&upgrade_group)
                .fetch_one(&mut *tx)
                .await?;
                if still_upgraded == 0 {
                    sqlx::query("UPDATE users SET `group` = ? WHERE id = ? AND `group` = ?")
                        .bind(default_group)
                        .bind(user_id)
                        .bind(&upgrade_group)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            changes.push(append_change_in(&mut tx, self.dialect(), Topic::User, user_id).await?);
            tx.commit().await?;
        }
        Ok(changes)
    }

    /// Stores `user_id`'s billing preference in its settings (JSON, other keys kept); answers
    /// the change event, or None when there is no such user.
    pub async fn set_billing_preference(
        &self,
        user_id: i64,
        preference: &str,
    ) -> Result<Option<ChangeEvent>, DbError> {
        let mut tx = self.pool().begin().await?;
        let setting: Option<String> =
            sqlx::query_scalar("SELECT setting FROM users WHERE id = ? AND deleted_at IS NULL")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(setting) = setting else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut map = match serde_json::from_str::<serde_json::Value>(&setting) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        map.insert("billing_preference".into(), preference.into());
        sqlx::query("UPDATE users SET setting = ? WHERE id = ?")
            .bind(serde_json::Value::Object(map).to_string())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let change = append_change_in(&mut tx, self.dialect(), Topic::User, user_id).await?;
        tx.commit().await?;
        Ok(Some(change))
    }

    /// The remaining quota of each of `ids` (`amount_total - amount_used`), by id; absent when
    /// the subscription is gone or unlimited. Re-syncs the proxies' shared admission counters.
    pub async fn subscription_balances(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, i64>, DbError> {
        let mut balances = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id, amount_total - amount_used FROM user_subscriptions \
                 WHERE amount_total > 0 AND id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            balances.extend(query.fetch_all(self.pool()).await?);
        }
        Ok(balances)
    }
}

/// What became of a purchase with the balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalancePurchase {
    /// Paid and granted; bring the caches along with `movement` and `changes` after the commit.
    Bought {
        subscription: Box<UserSubscriptionRow>,
        movement: Movement,
        changes: Vec<ChangeEvent>,
    },
    /// The balance does not cover the price; nothing changed.
    InsufficientBalance,
    /// The user bought this plan as often as it allows; nothing changed.
    LimitReached,
    /// The ledger refused (the user is gone) or the plan is not valid; nothing changed.
    Refused,
}

impl Db {
    /// Buys `plan` for `user_id` with `price_quota` of their balance, in one transaction: the
    /// order record (paid, `payment_method` `balance`), the ledger debit (keyed by the order)
    /// and the subscription (keyed by the order).
    pub async fn buy_subscription_with_balance(
        &self,
        user_id: i64,
        plan: &SubscriptionPlanRow,
        price_quota: i64,
        trade_no: &str,
    ) -> Result<BalancePurchase, DbError> {
        let now = now_secs();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO top_ups (user_id, amount, quota, money_cents, currency, trade_no, \
             payment_method, payment_provider, status, create_time, complete_time, \
             subscription_plan_id) VALUES (?, 0, 0, ?, ?, ?, 'balance', 'balance', ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(plan.price_cents)
        .bind(&plan.currency)
        .bind(trade_no)
        .bind(super::TOPUP_SUCCESS)
        .bind(now)
        .bind(now)
        .bind(plan.id)
        .execute(&mut *tx)
        .await?;
        if plan.max_purchase_per_user > 0 {
            let bought: i64 = sqlx::query_scalar(PURCHASES_OF_PLAN)
                .bind(user_id)
                .bind(plan.id)
                .fetch_one(&mut *tx)
                .await?;
            if bought >= plan.max_purchase_per_user {
                tx.rollback().await?;
                return Ok(BalancePurchase::LimitReached);
            }
        }
        let movement = Movement::new(
            format!("subscription:{trade_no}"),
            MovementKind::Subscription,
            user_id,
            -price_quota,
        )
        .with_log(
            super::LOG_TYPE_SYSTEM,
            format!(
                "Bought the subscription plan {} with the balance: {}",
                plan.title,
                super::ledger::quota_text(price_quota)
            ),
            price_quota,
        );
        let mut changes = match self.apply_movement_in(&mut tx, &movement).await? {
            MovementOutcome::Applied { changes, .. } => changes,
            MovementOutcome::Refused(Refusal::InsufficientQuota) => {
                tx.rollback().await?;
                return Ok(BalancePurchase::InsufficientBalance);
            }
            MovementOutcome::Refused(_) | MovementOutcome::Duplicate => {
                tx.rollback().await?;
                return Ok(BalancePurchase::Refused);
            }
        };
        let grant_key = format!("order:{trade_no}");
        match self
            .grant_subscription_in(&mut tx, user_id, plan, &grant_key, "balance")
            .await?
        {
            GrantOutcome::Granted {
                subscription,
                change,
            } => {
                tx.commit().await?;
                changes.push(change);
                Ok(BalancePurchase::Bought {
                    subscription,
                    movement,
                    changes,
                })
            }
            GrantOutcome::Duplicate | GrantOutcome::InvalidPlan => {
                tx.rollback().await?;
                Ok(BalancePurchase::Refused)
            }
        }
    }
}

/// The billing preference in a user's settings JSON (new-api's default when absent or unknown).
pub fn billing_preference_of(setting: &str) -> &'static str {
    let stored = serde_json::from_str::<serde_json::Value>(setting)
        .ok()
        .and_then(|v| {
            v.get("billing_preference")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
    normalize_billing_preference(stored.as_deref().unwrap_or(""))
}

/// new-api's `normalizeBillingPreference`: one of [`BILLING_PREFERENCES`], else the first.
pub fn normalize_billing_preference(preference: &str) -> &'static str {
    BILLING_PREFERENCES
        .iter()
        .find(|p| **p == preference.trim())
        .copied()
        .unwrap_or(BILLING_PREFERENCES[0])
}

fn bind_plan<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    plan: &SubscriptionPlanFields<'q>,
    now: i64,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    query
        .bind(plan.title)
        .bind(plan.subtitle)
        .bind(plan.price_cents)
        .bind(plan.currency)
        .bind(plan.duration_unit)
        .bind(plan.duration_value)
        .bind(plan.custom_seconds)
        .bind(i64::from(plan.enabled))
        .bind(plan.sort_order)
        .bind(plan.stripe_price_id)
        .bind(plan.creem_product_id)
        .bind(plan.max_purchase_per_user)
        .bind(plan.upgrade_group)
        .bind(plan.total_amount)
        .bind(plan.quota_reset_period)
        .bind(plan.quota_reset_custom_seconds)
        .bind(now)
}

const DAY: i64 = 86_400;

/// When a subscription granted at `start` ends, as new-api counts it (calendar years and
/// months in UTC, fixed days and hours, or seconds); None for an invalid length.
pub fn period_end(start: i64, unit: &str, value: i64, custom_seconds: i64) -> Option<i64> {
    match unit {
        "custom" => (custom_seconds > 0).then(|| start.checked_add(custom_seconds))?,
        _ if value <= 0 => None,
        "year" => add_months(start, value.checked_mul(12)?),
        "month" => add_months(start, value),
        "day" => start.checked_add(value.checked_mul(DAY)?),
        "hour" => start.checked_add(value.checked_mul(3_600)?),
        _ => None,
    }
}

/// The reset after `from` for `period` (None for `never` or an invalid custom period): the next
/// UTC midnight, the next Monday 00:00, the first of the next month, or `from` plus the custom
/// seconds.
pub fn next_reset_time(from: i64, period: &str, custom_seconds: i64) -> Option<i64> {
    let midnight = from.div_euclid(DAY) * DAY;
    match period {
        "daily" => Some(midnight + DAY),
        "weekly" => {
            // 1970-01-01 was a Thursday: days since the last Monday.
            let weekday = (from.div_euclid(DAY) + 3).rem_euclid(7);
            Some(midnight + (7 - weekday) * DAY)
        }
        "monthly" => {
            let (y, m, _) = civil_from_days(from.div_euclid(DAY));
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some(days_from_civil(y, m, 1) * DAY)
        }
        "custom" if custom_seconds > 0 => from.checked_add(custom_seconds),
        _ => None,
    }
}

/// `at` plus `months` calendar months (the day clamped to the month's last, as a person would
/// count; Go's AddDate overflows into the next month instead).
fn add_months(at: i64, months: i64) -> Option<i64> {
    let days = at.div_euclid(DAY);
    let seconds = at.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let index = y.checked_mul(12)?.checked_add(m - 1)?.checked_add(months)?;
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let d = d.min(days_in_month(y, m));
    Some(days_from_civil(y, m, d) * DAY + seconds)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-31 12:00:00 UTC.
    const JAN_31: i64 = 1_769_860_800;

    #[test]
    fn calendar_lengths_clamp_to_the_month() {
        assert_eq!(civil_from_days(JAN_31.div_euclid(DAY)), (2026, 1, 31));
        let feb = period_end(JAN_31, "month", 1, 0).unwrap();
        assert_eq!(civil_from_days(feb.div_euclid(DAY)), (2026, 2, 28));
        assert_eq!(feb.rem_euclid(DAY), 12 * 3600);
        let year = period_end(JAN_31, "year", 1, 0).unwrap();
        assert_eq!(civil_from_days(year.div_euclid(DAY)), (2027, 1, 31));
        assert_eq!(period_end(JAN_31, "day", 2, 0), Some(JAN_31 + 2 * DAY));
        assert_eq!(period_end(JAN_31, "custom", 0, 90), Some(JAN_31 + 90));
        assert_eq!(period_end(JAN_31, "custom", 1, 0), None);
        assert_eq!(period_end(JAN_31, "month", 0, 0), None);
        assert_eq!(period_end(JAN_31, "fortnight", 1, 0), None);
    }

    #[test]
    fn resets_fall_on_period_boundaries() {
        let daily = next_reset_time(JAN_31, "daily", 0).unwrap();
        assert_eq!(civil_from_days(daily / DAY), (2026, 2, 1));
        assert_eq!(daily % DAY, 0);
        // 2026-01-31 is a Saturday: the next Monday is 2026-02-02.
        let weekly = next_reset_time(JAN_31, "weekly", 0).unwrap();
        assert_eq!(civil_from_days(weekly / DAY), (2026, 2, 2));
        let monthly = next_reset_time(JAN_31, "monthly", 0).unwrap();
        assert_eq!(civil_from_days(monthly / DAY), (2026, 2, 1));
        let december = days_from_civil(2026, 12, 15) * DAY;
        let january = next_reset_time(december, "monthly", 0).unwrap();
        assert_eq!(civil_from_days(january / DAY), (2027, 1, 1));
        assert_eq!(next_reset_time(JAN_31, "never", 0), None);
        assert_eq!(next_reset_time(JAN_31, "custom", 60), Some(JAN_31 + 60));
    }

    #[test]
    fn preferences_default_to_subscription_first() {
        assert_eq!(billing_preference_of(""), "subscription_first");
        assert_eq!(
            billing_preference_of(r#"{"billing_preference":"wallet_only","x":1}"#),
            "wallet_only"
        );
        assert_eq!(
            billing_preference_of(r#"{"billing_preference":"nonsense"}"#),
            "subscription_first"
        );
    }
}
