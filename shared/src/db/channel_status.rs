//! Automatic channel status changes made by the relay (the admin API owns every other write).

use super::channels::CHANNEL_AUTO_DISABLED;
use super::{Db, DbError};

impl Db {
    /// Disables an enabled channel with the reason recorded, and its abilities with it.
    /// Returns false when the channel was not enabled (already disabled, or gone).
    pub async fn auto_disable_channel(&self, id: i64, reason: &str) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE channels SET status = ?, status_reason = ? WHERE id = ? AND status = 1",
        )
        .bind(CHANNEL_AUTO_DISABLED)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            sqlx::query("UPDATE abilities SET enabled = 0 WHERE channel_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }
}
