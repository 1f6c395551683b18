//! The `checkins` table: one row per user and calendar day on which the user checked in, with
//! the quota it earned. The unique key on (user_id, day) decides which of several concurrent
//! check-ins of one day wins; the day itself is computed by the caller in the configured zone.

use super::{Db, DbError, Movement, MovementOutcome, now_secs};

/// One check-in, as listed to its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckinRow {
    pub id: i64,
    /// `YYYY-MM-DD` in the check-in time zone.
    pub day: String,
    /// The quota awarded.
    pub quota: i64,
    pub created_at: i64,
}

/// A user's check-in totals over all time.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckinTotals {
    pub count: i64,
    pub quota: i64,
}

impl Db {
    /// Records that `movement.user_id` checked in on `day` and credits the reward
    /// (`movement.user_delta`, logged as the movement says), in one transaction. A second
    /// check-in of the day (by the unique key of `checkins`, or by the movement's idempotency
    /// key) is [`MovementOutcome::Duplicate`]; a refused movement (the user is gone) leaves the
    /// day open. Nothing is written unless everything is.
    pub async fn check_in(
        &self,
        day: &str,
        movement: &Movement,
    ) -> Result<MovementOutcome, DbError> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO checkins (user_id, day, quota, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(movement.user_id)
        .bind(day)
        .bind(movement.user_delta)
        .bind(now_secs())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(MovementOutcome::Duplicate);
            }
            Err(e) => return Err(e.into()),
        }
        let outcome = self.apply_movement_in(&mut tx, movement).await?;
        if matches!(outcome, MovementOutcome::Applied { .. }) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    /// Whether `user_id` has checked in on `day`.
    pub async fn has_checkin(&self, user_id: i64, day: &str) -> Result<bool, DbError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM checkins WHERE user_id = ? AND day = ?")
                .bind(user_id)
                .bind(day)
                .fetch_one(self.pool())
                .await?;
        Ok(count > 0)
    }

    /// The user's check-ins with `from <= day <= to` (both `YYYY-MM-DD`), newest first.
    pub async fn checkins_between(
        &self,
        user_id: i64,
        from: &str,
        to: &str,
    ) -> Result<Vec<CheckinRow>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, day, quota, created_at FROM checkins \
             WHERE user_id = ? AND day >= ? AND day <= ? ORDER BY day DESC",
        )
        .bind(user_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?)
    }

    /// One page of the user's check-ins, newest first, and how many there are in all.
    pub async fn checkin_page(
        &self,
        user_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<CheckinRow>, i64), DbError> {
        let rows = sqlx::query_as(
            "SELECT id, day, quota, created_at FROM checkins WHERE user_id = ? \
             ORDER BY day DESC LIMIT ? OFFSET ?",
        )
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM checkins WHERE user_id = ?")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }

    /// How often the user checked in and how much quota that earned, over all time.
    pub async fn checkin_totals(&self, user_id: i64) -> Result<CheckinTotals, DbError> {
        let (count, quota): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM checkins \
             WHERE user_id = ?",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(CheckinTotals { count, quota })
    }
}
