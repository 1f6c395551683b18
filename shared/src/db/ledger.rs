//! The ledger: every movement of money that is not a relayed request (administrators'
//! adjustments, check-ins, invitation rewards and transfers, sign-up grants, top-ups,
//! redemptions, refunds, subscriptions, key limits) is one [`Movement`], applied by
//! [`Db::apply_movement`] (its own transaction) or [`Db::apply_movement_in`] (inside the
//! caller's transaction, next to the caller's own rows: "mark the order paid + credit").
//!
//! One movement, one transaction, all or nothing:
//! 1. its `ledger_movements` row, whose unique `idempotency_key` makes a repeated movement a
//!    [`MovementOutcome::Duplicate`] that changes nothing;
//! 2. the balances, by conditional updates: a debit that would take a balance below zero is
//!    [`MovementOutcome::Refused`] (unless `allow_negative`), and nothing is written;
//! 3. its log row (new-api's log types), linked from the ledger row;
//! 4. the `change_events` rows that tell every proxy to reload the accounts.
//!
//! Caches (the Redis balance mirror, pub/sub) are updated by the caller after the commit, and
//! their failure never undoes or hides a committed movement: the change events are durable and
//! the proxies re-read the database.
//!
//! Relay charges follow the same rule in batched form (`settlement.rs`): one transaction per
//! batch writes the log rows, whose unique `request_id` is the idempotency key, and the
//! balance deltas they imply; they are not repeated here, one row per request.
//!
//! The first statement of a movement is a write (the ledger row), so that on SQLite the
//! transaction holds the write lock from its start and never fails on a stale read snapshot.
//! A caller's own transaction should also write before it reads.

use super::{ChangeEvent, Db, DbError, Dialect, now_secs};
use crate::changes::Topic;
use sqlx::{Any, AnyConnection, Connection, Transaction};

/// The longest idempotency key (the column is VARCHAR(191), the longest utf8mb4 unique key).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 191;

/// Why money moved. Stored as [`MovementKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    /// An administrator set, added to or subtracted from a balance.
    AdminAdjustment,
    /// The daily check-in reward.
    Checkin,
    /// A reward for an invitation: the inviter's invitation quota or the invitee's bonus.
    InviteReward,
    /// Invitation quota moved into quota by its owner.
    AffTransfer,
    /// The quota a new account starts with.
    RegistrationGrant,
    /// A paid top-up.
    TopUp,
    /// A redemption code.
    Redemption,
    /// Money given back.
    Refund,
    /// A subscription's grant or charge.
    Subscription,
    /// An owner's change of a key's own limit (`remain_quota`).
    TokenLimit,
}

impl MovementKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::AdminAdjustment => "admin_adjustment",
            MovementKind::Checkin => "checkin",
            MovementKind::InviteReward => "invite_reward",
            MovementKind::AffTransfer => "aff_transfer",
            MovementKind::RegistrationGrant => "registration_grant",
            MovementKind::TopUp => "topup",
            MovementKind::Redemption => "redemption",
            MovementKind::Refund => "refund",
            MovementKind::Subscription => "subscription",
            MovementKind::TokenLimit => "token_limit",
        }
    }
}

/// The log row a movement writes on its user's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementLog {
    /// new-api's log type: `LOG_TYPE_TOPUP` (1), `LOG_TYPE_MANAGE` (3), `LOG_TYPE_SYSTEM` (4).
    pub log_type: i64,
    /// What the user reads.
    pub content: String,
    /// The log row's `quota` column.
    pub quota: i64,
}

/// One movement of money. Build it with [`Movement::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// Unique per movement (1..=191 bytes): the same key twice moves money once.
    pub idempotency_key: String,
    /// Why.
    pub kind: MovementKind,
    /// The account whose balances move.
    pub user_id: i64,
    /// Added to the user's `quota` (negative: a debit).
    pub user_delta: i64,
    /// Added to the user's invitation quota (`aff_quota`); a positive amount is also added to
    /// `aff_history_quota` (what the user ever earned by inviting). Never taken below zero.
    pub aff_delta: i64,
    /// The user's key whose `remain_quota` moves by `token_delta`.
    pub token_id: Option<i64>,
    /// Added to the key's `remain_quota` (with `token_id`).
    pub token_delta: Option<i64>,
    /// The log row to write, if any.
    pub log: Option<MovementLog>,
    /// Lets a debit take `quota` or `remain_quota` below zero (administrators' corrections).
    pub allow_negative: bool,
}

impl Movement {
    /// A movement of `user_delta` on `user_id`'s quota, with no log row yet.
    pub fn new(
        idempotency_key: impl Into<String>,
        kind: MovementKind,
        user_id: i64,
        user_delta: i64,
    ) -> Self {
        Self {
            idempotency_key: idempotency_key.into(),
            kind,
            user_id,
            user_delta,
            aff_delta: 0,
            token_id: None,
            token_delta: None,
            log: None,
            allow_negative: false,
        }
    }

    /// Also moves `delta` on the invitation quota.
    pub fn with_aff_delta(mut self, delta: i64) -> Self {
        self.aff_delta = delta;
        self
    }

    /// Also moves `delta` on the user's key `token_id`.
    pub fn with_token_delta(mut self, token_id: i64, delta: i64) -> Self {
        self.token_id = Some(token_id);
        self.token_delta = Some(delta);
        self
    }

    /// Writes a log row of `log_type` saying `content`, with `quota` in its quota column.
    pub fn with_log(mut self, log_type: i64, content: impl Into<String>, quota: i64) -> Self {
        self.log = Some(MovementLog {
            log_type,
            content: content.into(),
            quota,
        });
        self
    }

    /// Lets a debit take a balance below zero.
    pub fn allowing_negative(mut self) -> Self {
        self.allow_negative = true;
        self
    }

    /// Whether the movement changes the user row at all.
    fn moves_user(&self) -> bool {
        self.user_delta != 0 || self.aff_delta != 0
    }

    /// The key's delta, when the movement changes a key.
    fn token_move(&self) -> Option<(i64, i64)> {
        match (self.token_id, self.token_delta) {
            (Some(id), Some(delta)) => Some((id, delta)),
            _ => None,
        }
    }
}

/// Why a movement was refused. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} bytes")]
    InvalidKey,
    #[error("the user does not exist")]
    NoSuchUser,
    #[error("the token does not exist or is not the user's")]
    NoSuchToken,
    #[error("the quota does not cover the debit")]
    InsufficientQuota,
    #[error("the invitation quota does not cover the debit")]
    InsufficientAffQuota,
    #[error("the token's remaining quota does not cover the debit")]
    InsufficientTokenQuota,
}

/// What became of a movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MovementOutcome {
    /// Written (committed, for [`Db::apply_movement`]).
    Applied {
        /// The `ledger_movements` row.
        movement_id: i64,
        /// The user's quota after the movement.
        user_quota_after: i64,
        /// The user's invitation quota after the movement.
        aff_quota_after: i64,
        /// The key's `remain_quota` after the movement, when it moved a key.
        token_remain_after: Option<i64>,
        /// The change events written with it: announce them after the commit.
        changes: Vec<ChangeEvent>,
    },
    /// A movement with this idempotency key exists already; nothing was written.
    Duplicate,
    /// Refused; nothing was written.
    Refused(Refusal),
}

impl Db {
    /// Applies `movement` in a transaction of its own (see the module documentation).
    pub async fn apply_movement(&self, movement: &Movement) -> Result<MovementOutcome, DbError> {
        let mut tx = self.pool().begin().await?;
        let outcome = self.apply_movement_in(&mut tx, movement).await?;
        if matches!(outcome, MovementOutcome::Applied { .. }) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    /// Applies `movement` inside the caller's transaction `tx`, in a savepoint: when the
    /// outcome is not `Applied`, none of the movement's rows remain and the caller's earlier
    /// statements are untouched (the caller decides whether to roll back or go on). Nothing is
    /// final before the caller commits; announce `changes` only after that.
    pub async fn apply_movement_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        movement: &Movement,
    ) -> Result<MovementOutcome, DbError> {
        let key_len = movement.idempotency_key.len();
        if key_len == 0 || key_len > MAX_IDEMPOTENCY_KEY_LEN {
            return Ok(MovementOutcome::Refused(Refusal::InvalidKey));
        }
        let mut savepoint = Connection::begin(&mut **tx).await?;
        let outcome = write_movement(&mut savepoint, self.dialect(), movement).await?;
        if matches!(outcome, MovementOutcome::Applied { .. }) {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        Ok(outcome)
    }

    /// The idempotency keys of `user_id`'s movements of `kind`, oldest first (for tests and
    /// audits).
    pub async fn movement_keys(
        &self,
        user_id: i64,
        kind: MovementKind,
    ) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT idempotency_key FROM ledger_movements WHERE user_id = ? AND kind = ? \
             ORDER BY id",
        )
        .bind(user_id)
        .bind(kind.as_str())
        .fetch_all(self.pool())
        .await?)
    }
}

/// A new account and the movements that gave it its starting money (and rewarded whoever
/// invited it), committed with it in one transaction. Announce `changes` after the commit.
#[derive(Debug, Clone)]
pub struct Signup {
    /// The new user's id.
    pub id: i64,
    /// The movements applied.
    pub movements: Vec<Movement>,
    /// Their change events.
    pub changes: Vec<ChangeEvent>,
}

impl Db {
    /// The quota each of the log rows `log_ids` moved on its user's balance (`user_delta`, signed),
    /// by log id, for those written by a movement (read through the `log_id` index).
    pub async fn movement_deltas_of_logs(
        &self,
        log_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, i64>, DbError> {
        if log_ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let sql = format!(
            "SELECT log_id, user_delta FROM ledger_movements WHERE log_id IN ({})",
            vec!["?"; log_ids.len()].join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql));
        for id in log_ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?.into_iter().collect())
    }

    /// Inside the transaction that created user `user_id`: grants its starting `quota` (when
    /// positive; one movement keyed `signup:<id>`, logged as a registration bonus) and applies
    /// `extra` movements (invitation rewards). A refused movement on another account (an
    /// inviter deleted meanwhile) is skipped; any other outcome but `Applied` is an error, so
    /// that the account is not created without its money.
    pub(crate) async fn grant_signup(
        &self,
        tx: &mut Transaction<'_, Any>,
        user_id: i64,
        quota: i64,
        extra: Vec<Movement>,
    ) -> Result<Signup, DbError> {
        let mut planned = Vec::new();
        if quota > 0 {
            planned.push(
                Movement::new(
                    format!("signup:{user_id}"),
                    MovementKind::RegistrationGrant,
                    user_id,
                    quota,
                )
                .with_log(
                    super::LOG_TYPE_SYSTEM,
                    format!("New user registration bonus {}", quota_text(quota)),
                    quota,
                ),
            );
        }
        planned.extend(extra);
        let mut movements = Vec::new();
        let mut changes = Vec::new();
        for movement in planned {
            match self.apply_movement_in(tx, &movement).await? {
                MovementOutcome::Applied { changes: c, .. } => {
                    changes.extend(c);
                    movements.push(movement);
                }
                MovementOutcome::Refused(_) if movement.user_id != user_id => {}
                other => {
                    return Err(DbError::MovementNotApplied(format!(
                        "{}: {other:?}",
                        movement.idempotency_key
                    )));
                }
            }
        }
        Ok(Signup {
            id: user_id,
            movements,
            changes,
        })
    }
}

/// A quota as logs show it: the units and their value in USD.
pub fn quota_text(quota: i64) -> String {
    let usd = quota as f64 / crate::roles::QUOTA_PER_UNIT as f64;
    format!("{quota} (${usd:.2})")
}

/// The statements of one movement, on a connection inside a (nested) transaction.
async fn write_movement(
    conn: &mut AnyConnection,
    dialect: Dialect,
    movement: &Movement,
) -> Result<MovementOutcome, DbError> {
    let now = now_secs();
    let inserted = sqlx::query(
        "INSERT INTO ledger_movements (idempotency_key, kind, user_id, token_id, user_delta, \
         aff_delta, token_delta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&movement.idempotency_key)
    .bind(movement.kind.as_str())
    .bind(movement.user_id)
    .bind(movement.token_id)
    .bind(movement.user_delta)
    .bind(movement.aff_delta)
    .bind(movement.token_delta.unwrap_or(0))
    .bind(now)
    .execute(&mut *conn)
    .await;
    let inserted = match inserted {
        Ok(result) => result,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Ok(MovementOutcome::Duplicate);
        }
        Err(e) => return Err(e.into()),
    };
    let movement_id = super::inserted_id(conn, dialect, &inserted).await?;

    if let Some(refusal) = move_user(conn, movement).await? {
        return Ok(MovementOutcome::Refused(refusal));
    }
    let token_remain_after = match movement.token_move() {
        Some((token_id, delta)) => match move_token(conn, movement, token_id, delta).await? {
            Ok(remain) => Some(remain),
            Err(refusal) => return Ok(MovementOutcome::Refused(refusal)),
        },
        None => None,
    };
    let balances: Option<(i64, i64)> =
        sqlx::query_as("SELECT quota, aff_quota FROM users WHERE id = ? AND deleted_at IS NULL")
            .bind(movement.user_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((user_quota_after, aff_quota_after)) = balances else {
        return Ok(MovementOutcome::Refused(Refusal::NoSuchUser));
    };

    if let Some(log) = &movement.log {
        let log_id = write_log(conn, dialect, movement, log, now).await?;
        sqlx::query("UPDATE ledger_movements SET log_id = ? WHERE id = ?")
            .bind(log_id)
            .bind(movement_id)
            .execute(&mut *conn)
            .await?;
    }

    let mut changes = Vec::new();
    if movement.moves_user() {
        changes.push(
            super::changes::append_change_in(conn, dialect, Topic::User, movement.user_id).await?,
        );
    }
    if let Some((token_id, _)) = movement.token_move() {
        changes
            .push(super::changes::append_change_in(conn, dialect, Topic::Token, token_id).await?);
    }
    Ok(MovementOutcome::Applied {
        movement_id,
        user_quota_after,
        aff_quota_after,
        token_remain_after,
        changes,
    })
}

/// The conditional update of the user row: `None` when done, else why it was refused.
async fn move_user(
    conn: &mut AnyConnection,
    movement: &Movement,
) -> Result<Option<Refusal>, DbError> {
    if !movement.moves_user() {
        return Ok(None);
    }
    let result = sqlx::query(
        "UPDATE users SET quota = quota + ?, aff_quota = aff_quota + ?, \
         aff_history_quota = aff_history_quota + ? \
         WHERE id = ? AND deleted_at IS NULL \
         AND (? >= 0 OR ? = 1 OR quota + ? >= 0) AND (? >= 0 OR aff_quota + ? >= 0)",
    )
    .bind(movement.user_delta)
    .bind(movement.aff_delta)
    .bind(movement.aff_delta.max(0))
    .bind(movement.user_id)
    .bind(movement.user_delta)
    .bind(i64::from(movement.allow_negative))
    .bind(movement.user_delta)
    .bind(movement.aff_delta)
    .bind(movement.aff_delta)
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 1 {
        return Ok(None);
    }
    let balances: Option<(i64, i64)> =
        sqlx::query_as("SELECT quota, aff_quota FROM users WHERE id = ? AND deleted_at IS NULL")
            .bind(movement.user_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(Some(match balances {
        None => Refusal::NoSuchUser,
        Some((_, aff_quota)) if aff_quota + movement.aff_delta < 0 => Refusal::InsufficientAffQuota,
        Some(_) => Refusal::InsufficientQuota,
    }))
}

/// The conditional update of the user's key: its `remain_quota` after, or why it was refused.
async fn move_token(
    conn: &mut AnyConnection,
    movement: &Movement,
    token_id: i64,
    delta: i64,
) -> Result<Result<i64, Refusal>, DbError> {
    let result = sqlx::query(
        "UPDATE tokens SET remain_quota = remain_quota + ? \
         WHERE id = ? AND user_id = ? AND (? >= 0 OR ? = 1 OR remain_quota + ? >= 0)",
    )
    .bind(delta)
    .bind(token_id)
    .bind(movement.user_id)
    .bind(delta)
    .bind(i64::from(movement.allow_negative))
    .bind(delta)
    .execute(&mut *conn)
    .await?;
    let remain: Option<i64> =
        sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ? AND user_id = ?")
            .bind(token_id)
            .bind(movement.user_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match (result.rows_affected(), remain) {
        (_, None) => Err(Refusal::NoSuchToken),
        (1, Some(remain)) => Ok(remain),
        (_, Some(_)) => Err(Refusal::InsufficientTokenQuota),
    })
}

/// The movement's log row on its user's log; returns its id.
async fn write_log(
    conn: &mut AnyConnection,
    dialect: Dialect,
    movement: &Movement,
    log: &MovementLog,
    now: i64,
) -> Result<i64, DbError> {
    let result = sqlx::query(
        "INSERT INTO logs (request_id, user_id, created_at, type, content, username, token_id, \
         quota, other) \
         SELECT ?, id, ?, ?, ?, username, ?, ?, '{}' FROM users WHERE id = ?",
    )
    .bind(format!("ledger_{}", crate::crypto::random_alphanumeric(24)))
    .bind(now)
    .bind(log.log_type)
    .bind(&log.content)
    .bind(movement.token_id.unwrap_or(0))
    .bind(log.quota)
    .bind(movement.user_id)
    .execute(&mut *conn)
    .await?;
    super::inserted_id(conn, dialect, &result).await
}
