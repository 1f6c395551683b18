//! Token rankings (new-api's `/api/rankings`) read from the per-hour usage aggregates: tokens
//! per model over a range, per model and bucket of hours, per user, and the catalogue's vendor
//! of each model. Tokens are prompt plus completion tokens of relayed requests.

use super::{Db, DbError};

/// A user's tokens and requests over a range.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RankingUser {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub tokens: i64,
    pub requests: i64,
}

impl Db {
    /// Tokens per model for hours starting in `[from, until]`, most first (then by name).
    pub async fn ranking_model_totals(
        &self,
        from: i64,
        until: i64,
    ) -> Result<Vec<(String, i64)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT model_name, CAST(SUM(prompt_tokens) + SUM(completion_tokens) AS SIGNED) AS t \
             FROM usage_model_hours WHERE hour >= ? AND hour <= ? GROUP BY model_name \
             HAVING SUM(prompt_tokens) + SUM(completion_tokens) > 0 ORDER BY t DESC, model_name",
        )
        .bind(from)
        .bind(until)
        .fetch_all(self.pool())
        .await?)
    }

    /// Tokens per bucket of `size` seconds (its first second) and model.
    pub async fn ranking_buckets(
        &self,
        from: i64,
        until: i64,
        size: i64,
    ) -> Result<Vec<(i64, String, i64)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT hour - (hour % ?) AS bucket, model_name, \
             CAST(SUM(prompt_tokens) + SUM(completion_tokens) AS SIGNED) AS t \
             FROM usage_model_hours WHERE hour >= ? AND hour <= ? \
             GROUP BY bucket, model_name \
             HAVING SUM(prompt_tokens) + SUM(completion_tokens) > 0 ORDER BY bucket, model_name",
        )
        .bind(size.max(1))
        .bind(from)
        .bind(until)
        .fetch_all(self.pool())
        .await?)
    }

    /// The `limit` users with the most tokens, most first.
    pub async fn ranking_users(
        &self,
        from: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<RankingUser>, DbError> {
        Ok(sqlx::query_as(
            "SELECT h.user_id, COALESCE(u.username, '') AS username, \
             COALESCE(u.display_name, '') AS display_name, \
             CAST(SUM(h.prompt_tokens) + SUM(h.completion_tokens) AS SIGNED) AS tokens, \
             CAST(SUM(h.requests) AS SIGNED) AS requests \
             FROM usage_hourly h LEFT JOIN users u ON u.id = h.user_id \
             WHERE h.hour >= ? AND h.hour <= ? \
             GROUP BY h.user_id, u.username, u.display_name \
             HAVING SUM(h.prompt_tokens) + SUM(h.completion_tokens) > 0 \
             ORDER BY tokens DESC, h.user_id LIMIT ?",
        )
        .bind(from)
        .bind(until)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// A user's tokens per model over the range, most first.
    pub async fn ranking_user_models(
        &self,
        user_id: i64,
        from: i64,
        until: i64,
    ) -> Result<Vec<(String, i64)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT model_name, CAST(SUM(prompt_tokens) + SUM(completion_tokens) AS SIGNED) AS t \
             FROM usage_hourly WHERE user_id = ? AND hour >= ? AND hour <= ? \
             GROUP BY model_name ORDER BY t DESC, model_name LIMIT 1",
        )
        .bind(user_id)
        .bind(from)
        .bind(until)
        .fetch_all(self.pool())
        .await?)
    }

    /// Each catalogued model's vendor name and icon.
    pub async fn model_vendors(&self) -> Result<Vec<(String, String, String)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT m.model_name, v.name, v.icon FROM models m \
             JOIN vendors v ON v.id = m.vendor_id",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
