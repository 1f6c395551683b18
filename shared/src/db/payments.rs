//! Crediting money that came in: a redemption code or a paid top-up order. Each credit is one
//! transaction that starts with a conditional write (so on SQLite it holds the write lock from
//! its first statement, and on MySQL concurrent attempts queue on the row) and holds every
//! row of the credit: the code marked used or the order marked paid, the gateway's event id
//! (unique), the top-up record, and the ledger movement (whose idempotency key is unique too).
//! Whatever the concurrency and however often a callback repeats, one of them credits.
//! A gateway's payment of an order past its time expires the order instead; the payer's
//! inviter, if any, earns their commission in the same transaction (keyed by the order).

use super::ledger::{Movement, MovementKind, MovementOutcome, Refusal, quota_text};
use super::subscriptions::{GrantOutcome, SubscriptionPlanRow};
use super::top_ups::COLUMNS;
use super::{
    ChangeEvent, Db, DbError, LOG_TYPE_SYSTEM, LOG_TYPE_TOPUP, PAYMENT_METHOD_REDEMPTION,
    REDEMPTION_ENABLED, REDEMPTION_USED, RedemptionRow, TOPUP_EXPIRED, TOPUP_PENDING,
    TOPUP_SUCCESS, TopUpRow, now_secs,
};
use crate::payment::money::{Decimal6, share_of};
use sqlx::{Any, AssertSqlSafe, Transaction};

/// What became of a redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// The code was credited: `quota` to the user.
    Credited {
        code_id: i64,
        quota: i64,
        /// The movement that credited it, and its change events: for the caches, after the
        /// commit.
        movement: Movement,
        changes: Vec<ChangeEvent>,
    },
    /// No code has this key.
    Unknown,
    /// The code was used already.
    Used,
    /// The code is past its expiry.
    Expired,
    /// An administrator disabled the code.
    Disabled,
    /// The ledger refused the credit (the user is gone); nothing changed.
    Refused(Refusal),
}

/// What a paid order must look like to be credited.
#[derive(Debug, Clone)]
pub struct PaymentProof<'a> {
    /// The gateway that reported it (`epay`, `stripe`, `creem`, `admin`).
    pub provider: &'a str,
    /// The gateway's unique id of this event or payment; a second callback with the same id
    /// changes nothing. `None` for an administrator's manual completion.
    pub event_id: Option<&'a str>,
    /// The amount paid, in cents; `None` when the caller vouches for it (an administrator).
    pub money_cents: Option<i64>,
    /// The currency paid, lower or upper case; `None` when the gateway does not report one.
    pub currency: Option<&'a str>,
    /// The gateway's id of the payment, recorded on the order.
    pub gateway_trade_no: &'a str,
    /// The payment method the gateway reports (EPay: `alipay`, `wxpay`); empty keeps the
    /// order's.
    pub payment_method: &'a str,
}

/// The operator's rules for a completion.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompletionRules {
    /// Orders created before this time are expired for gateways (`None`: no limit, as for an
    /// administrator).
    pub created_after: Option<i64>,
    /// The inviter's share of the order's quota, credited to their invitation quota.
    pub commission_rate: Decimal6,
}

/// The provider name of an administrator's manual completion.
pub const ADMIN_COMPLETION: &str = "admin";

/// What became of a payment callback or a manual completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// The order was paid now and credited.
    Credited {
        /// Boxed: the row is large beside the other outcomes.
        order: Box<TopUpRow>,
        /// The movements of the credit (the payer's, then the inviter's commission if any)
        /// and their change events: for the caches, after the commit.
        movements: Vec<Movement>,
        changes: Vec<ChangeEvent>,
    },
    /// The order (or this event) was credited before; nothing changed.
    AlreadyDone,
    /// No order has this number.
    NotFound,
    /// The order belongs to another gateway.
    ProviderMismatch,
    /// The amount or currency paid is not the order's.
    AmountMismatch,
    /// The order is expired (now, or before) or cancelled: only an administrator may still
    /// complete an expired one.
    NotPending,
    /// The ledger refused the credit; nothing changed.
    Refused(Refusal),
}

impl Db {
    /// Redeems the code `key` for `user_id` (see the module documentation). `describe` writes
    /// the log line for the credited quota.
    pub async fn redeem_code(
        &self,
        key: &str,
        user_id: i64,
        describe: impl Fn(&RedemptionRow) -> String,
    ) -> Result<RedeemOutcome, DbError> {
        let now = now_secs();
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE redemptions SET status = ?, redeemed_time = ?, used_user_id = ? \
             WHERE `key` = ? AND status = ? AND (expired_time = 0 OR expired_time >= ?)",
        )
        .bind(REDEMPTION_USED)
        .bind(now)
        .bind(user_id)
        .bind(key)
        .bind(REDEMPTION_ENABLED)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(match self.redemption_by_key(key).await? {
                None => RedeemOutcome::Unknown,
                Some(code) if code.status == REDEMPTION_USED => RedeemOutcome::Used,
                Some(code) if code.status != REDEMPTION_ENABLED => RedeemOutcome::Disabled,
                Some(_) => RedeemOutcome::Expired,
            });
        }
        let code: RedemptionRow = sqlx::query_as(
            "SELECT id, user_id, `key`, status, name, quota, created_time, redeemed_time, \
             used_user_id, expired_time FROM redemptions WHERE `key` = ?",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        insert_success_record(
            &mut tx,
            &TopUpRecord {
                user_id,
                quota: code.quota,
                trade_no: &format!("REDEMPTION{}", code.id),
                method: PAYMENT_METHOD_REDEMPTION,
                now,
            },
        )
        .await?;
        let movement = Movement::new(
            format!("redemption:{}", code.id),
            MovementKind::Redemption,
            user_id,
            code.quota,
        )
        .with_log(LOG_TYPE_TOPUP, describe(&code), code.quota);
        match self.apply_movement_in(&mut tx, &movement).await? {
            MovementOutcome::Applied { changes, .. } => {
                tx.commit().await?;
                Ok(RedeemOutcome::Credited {
                    code_id: code.id,
                    quota: code.quota,
                    movement,
                    changes,
                })
            }
            MovementOutcome::Duplicate => {
                tx.rollback().await?;
                Ok(RedeemOutcome::Used)
            }
            MovementOutcome::Refused(refusal) => {
                tx.rollback().await?;
                Ok(RedeemOutcome::Refused(refusal))
            }
        }
    }

    /// Marks the pending order `trade_no` paid and credits it, if `proof` matches it and
    /// `rules` allow it (see the module documentation). `describe` writes the log line.
    pub async fn complete_top_up(
        &self,
        trade_no: &str,
        proof: &PaymentProof<'_>,
        rules: &CompletionRules,
        describe: impl Fn(&TopUpRow) -> String,
    ) -> Result<CompleteOutcome, DbError> {
        let now = now_secs();
        let admin = proof.provider == ADMIN_COMPLETION;
        let mut tx = self.pool().begin().await?;
        if let Some(event_id) = proof.event_id {
            let inserted = sqlx::query(
                "INSERT INTO payment_events (provider, event_id, trade_no, created_at) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(proof.provider)
            .bind(event_id)
            .bind(trade_no)
            .bind(now)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    tx.rollback().await?;
                    return Ok(CompleteOutcome::AlreadyDone);
                }
                Err(e) => return Err(e.into()),
            }
        }
        // A gateway pays only a pending order still in its time; an administrator may also
        // complete an expired one.
        let paid = sqlx::query(
            "UPDATE top_ups SET status = ?, complete_time = ?, gateway_trade_no = ?, \
             payment_method = CASE WHEN ? = '' THEN payment_method ELSE ? END \
             WHERE trade_no = ? AND (status = ? OR status = ?) AND create_time >= ?",
        )
        .bind(TOPUP_SUCCESS)
        .bind(now)
        .bind(proof.gateway_trade_no)
        .bind(proof.payment_method)
        .bind(proof.payment_method)
        .bind(trade_no)
        .bind(TOPUP_PENDING)
        .bind(if admin { TOPUP_EXPIRED } else { TOPUP_PENDING })
        .bind(rules.created_after.unwrap_or(i64::MIN))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let order = sqlx::query_as::<_, TopUpRow>(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM top_ups WHERE trade_no = ?"
        )))
        .bind(trade_no)
        .fetch_optional(&mut *tx)
        .await?;
        let refusal = match &order {
            None => Some(CompleteOutcome::NotFound),
            Some(order) if !admin && order.payment_provider != proof.provider => {
                Some(CompleteOutcome::ProviderMismatch)
            }
            Some(order) if order.status == TOPUP_SUCCESS && paid == 0 => {
                Some(CompleteOutcome::AlreadyDone)
            }
            Some(_) if paid == 0 => Some(CompleteOutcome::NotPending),
            Some(order) if !amount_matches(order, proof) => Some(CompleteOutcome::AmountMismatch),
            Some(_) => None,
        };
        let order = match (order, refusal) {
            (Some(order), None) => order,
            (order, refusal) => {
                tx.rollback().await?;
                let out_of_time = order.is_some_and(|o| o.status == TOPUP_PENDING)
                    && matches!(refusal, Some(CompleteOutcome::NotPending));
                if let (true, Some(created_after)) = (out_of_time, rules.created_after) {
                    // Pending but out of time: it expires now, for everyone to see.
                    self.expire_stale_top_ups(created_after).await?;
                }
                return Ok(refusal.unwrap_or(CompleteOutcome::NotFound));
            }
        };
        if order.subscription_plan_id > 0 {
            return self.activate_paid_subscription(tx, order).await;
        }
        let movement = Movement::new(
            format!("topup:{}", order.trade_no),
            MovementKind::TopUp,
            order.user_id,
            order.quota,
        )
        .with_log(LOG_TYPE_TOPUP, describe(&order), order.quota);
        let mut changes = match self.apply_movement_in(&mut tx, &movement).await? {
            MovementOutcome::Applied { changes, .. } => changes,
            MovementOutcome::Duplicate => {
                tx.rollback().await?;
                return Ok(CompleteOutcome::AlreadyDone);
            }
            MovementOutcome::Refused(refusal) => {
                tx.rollback().await?;
                return Ok(CompleteOutcome::Refused(refusal));
            }
        };
        let mut movements = vec![movement];
        let commission = self
            .pay_commission_in(&mut tx, &order, rules.commission_rate, now)
            .await?;
        if let Some((movement, more)) = commission {
            changes.extend(more);
            movements.push(movement);
        }
        tx.commit().await?;
        Ok(CompleteOutcome::Credited {
            order: Box::new(order),
            movements,
            changes,
        })
    }

    /// The rest of a paid subscription order's transaction: the subscription it buys, keyed by
    /// the order (a repeated activation changes nothing), then the commit.
    async fn activate_paid_subscription(
        &self,
        mut tx: Transaction<'_, Any>,
        order: TopUpRow,
    ) -> Result<CompleteOutcome, DbError> {
        let plan = sqlx::query_as::<_, SubscriptionPlanRow>(AssertSqlSafe(format!(
            "SELECT {} FROM subscription_plans WHERE id = ?",
            super::subscriptions::PLAN_COLUMNS
        )))
        .bind(order.subscription_plan_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(plan) = plan else {
            tx.rollback().await?;
            return Err(DbError::MovementNotApplied(format!(
                "order {}: subscription plan {} is gone",
                order.trade_no, order.subscription_plan_id
            )));
        };
        let grant_key = format!("order:{}", order.trade_no);
        match self
            .grant_subscription_in(&mut tx, order.user_id, &plan, &grant_key, "order")
            .await?
        {
            GrantOutcome::Granted { change, .. } => {
                tx.commit().await?;
                Ok(CompleteOutcome::Credited {
                    order: Box::new(order),
                    movements: Vec::new(),
                    changes: vec![change],
                })
            }
            GrantOutcome::Duplicate => {
                tx.rollback().await?;
                Ok(CompleteOutcome::AlreadyDone)
            }
            GrantOutcome::InvalidPlan => {
                tx.rollback().await?;
                Err(DbError::MovementNotApplied(format!(
                    "order {}: subscription plan {} has no valid duration",
                    order.trade_no, plan.id
                )))
            }
        }
    }

    /// The inviter's commission on `order`, inside the crediting transaction: a ledger
    /// movement on the inviter's invitation quota (keyed by the order) and its record. None
    /// when the payer has no inviter, the rate or the share is zero, or the inviter is gone.
    async fn pay_commission_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        order: &TopUpRow,
        rate: Decimal6,
        now: i64,
    ) -> Result<Option<(Movement, Vec<ChangeEvent>)>, DbError> {
        let share = share_of(order.quota, rate);
        if share <= 0 {
            return Ok(None);
        }
        let inviter: Option<i64> =
            sqlx::query_scalar("SELECT inviter_id FROM users WHERE id = ? AND inviter_id > 0")
                .bind(order.user_id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some(inviter) = inviter else {
            return Ok(None);
        };
        let movement = Movement::new(
            format!("commission:{}", order.trade_no),
            MovementKind::InviteReward,
            inviter,
            0,
        )
        .with_aff_delta(share)
        .with_log(
            LOG_TYPE_SYSTEM,
            format!(
                "Referral commission: {} of invitee {}'s top-up {} ({} quota)",
                quota_text(share),
                order.user_id,
                order.trade_no,
                order.quota
            ),
            share,
        );
        let MovementOutcome::Applied { changes, .. } =
            self.apply_movement_in(tx, &movement).await?
        else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO referral_commissions (inviter_id, invitee_id, trade_no, order_quota, \
             rate, commission, created_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(inviter)
        .bind(order.user_id)
        .bind(&order.trade_no)
        .bind(order.quota)
        .bind(rate.to_string())
        .bind(share)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(Some((movement, changes)))
    }
}

/// Whether the amount and currency in `proof` are the order's (when the proof states them).
fn amount_matches(order: &TopUpRow, proof: &PaymentProof<'_>) -> bool {
    let money = proof
        .money_cents
        .is_none_or(|paid| paid == order.money_cents);
    let currency = proof
        .currency
        .is_none_or(|paid| paid.eq_ignore_ascii_case(&order.currency));
    money && currency
}

/// A completed top-up record written in the same transaction as its credit.
struct TopUpRecord<'a> {
    user_id: i64,
    quota: i64,
    trade_no: &'a str,
    method: &'a str,
    now: i64,
}

async fn insert_success_record(
    tx: &mut Transaction<'_, Any>,
    record: &TopUpRecord<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO top_ups (user_id, amount, quota, money_cents, currency, trade_no, \
         payment_method, payment_provider, status, create_time, complete_time) \
         VALUES (?, 0, ?, 0, '', ?, ?, ?, ?, ?, ?)",
    )
    .bind(record.user_id)
    .bind(record.quota)
    .bind(record.trade_no)
    .bind(record.method)
    .bind(record.method)
    .bind(TOPUP_SUCCESS)
    .bind(record.now)
    .bind(record.now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
