//! Writing relay outcomes: log rows and the balance deltas they imply, in batches, in one
//! transaction per batch. A log row's `request_id` is unique, so re-sending a batch after an
//! uncertain failure (the commit may have happened) never bills twice.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Log type of a relayed request (new-api's "consume").
pub const LOG_TYPE_CONSUME: i64 = 2;
/// Log type of an error (new-api's "error").
pub const LOG_TYPE_ERROR: i64 = 5;

/// The outcome of one relayed request. Serializable: the proxy's settlement journal keeps
/// records on disk until the database has them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RelayRecord {
    pub request_id: String,
    pub created_at: i64,
    pub log_type: i64,
    pub user_id: i64,
    pub username: String,
    pub token_id: i64,
    pub token_name: String,
    /// False when the key's quota is unlimited (its remain_quota is not charged).
    pub charge_token: bool,
    /// The subscription that paid (its `amount_used` grows instead of the user's quota
    /// falling); 0: the wallet paid.
    pub subscription_id: i64,
    pub channel_id: i64,
    pub group: String,
    pub model_name: String,
    pub upstream_model: String,
    pub quota: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub use_time_ms: i64,
    pub ttft_ms: i64,
    pub is_stream: bool,
    pub is_estimated: bool,
    pub ip: String,
    pub status_code: i64,
    pub retries: i64,
    pub content: String,
    pub other: String,
}

/// A user row as the proxy's snapshot needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserBrief {
    pub id: i64,
    pub username: String,
    pub role: i64,
    pub status: i64,
    pub group: String,
    pub quota: i64,
    /// The user's settings (JSON); the relay reads the billing preference from them.
    pub setting: String,
    /// The subscriptions in force, the soonest to end first (see [`Db::attach_subscriptions`]).
    #[sqlx(skip)]
    pub subscriptions: Vec<SubscriptionBrief>,
}

/// A subscription in force, as admission needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionBrief {
    pub id: i64,
    pub user_id: i64,
    /// Quota per period (0: unlimited).
    pub amount_total: i64,
    pub amount_used: i64,
    pub end_time: i64,
}

const USER_BRIEF: &str = "SELECT id, username, role, status, `group`, quota, setting FROM users \
     WHERE deleted_at IS NULL";

impl Db {
    /// One live user, briefly, with its subscriptions.
    pub async fn user_brief(&self, id: i64) -> Result<Option<UserBrief>, DbError> {
        let query = sqlx::query(AssertSqlSafe(format!("{USER_BRIEF} AND id = ?"))).bind(id);
        let mut user: Option<UserBrief> = self.fetch_optional_decoded("users", query).await?;
        self.attach_subscriptions(user.as_mut_slice()).await?;
        Ok(user)
    }

    /// Fills each user's subscriptions in force (one query per 500 users).
    pub async fn attach_subscriptions(&self, users: &mut [UserBrief]) -> Result<(), DbError> {
        let now = super::now_secs();
        for chunk in users.chunks_mut(IDS_PER_LOOKUP) {
            let sql = format!(
                "SELECT id, user_id, amount_total, amount_used, end_time FROM user_subscriptions \
                 WHERE status = 'active' AND end_time > ? AND user_id IN ({}) \
                 ORDER BY end_time, id",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query_as::<_, SubscriptionBrief>(AssertSqlSafe(sql)).bind(now);
            for user in chunk.iter() {
                query = query.bind(user.id);
            }
            let rows = query.fetch_all(self.pool()).await?;
            for user in chunk.iter_mut() {
                user.subscriptions = rows
                    .iter()
                    .filter(|s| s.user_id == user.id)
                    .copied()
                    .collect();
            }
        }
        Ok(())
    }

    /// The database balances of `users` (quota) and `tokens` (remain_quota), by id; deleted
    /// accounts are absent. Re-syncs the proxies' shared admission counters.
    pub async fn balances_of(
        &self,
        users: &[i64],
        tokens: &[i64],
    ) -> Result<(HashMap<i64, i64>, HashMap<i64, i64>), DbError> {
        // Users are deleted softly; keys are removed.
        let mut balances = (HashMap::new(), HashMap::new());
        for ids in users.chunks(IDS_PER_LOOKUP) {
            let from = "SELECT id, quota FROM users WHERE deleted_at IS NULL AND";
            balances.0.extend(self.id_values(from, ids).await?);
        }
        for ids in tokens.chunks(IDS_PER_LOOKUP) {
            let from = "SELECT id, remain_quota FROM tokens WHERE";
            balances.1.extend(self.id_values(from, ids).await?);
        }
        Ok(balances)
    }

    /// `(id, value)` rows of `select_where` (ending in `WHERE ...` or `WHERE`) for `ids`.
    async fn id_values(&self, select_where: &str, ids: &[i64]) -> Result<Vec<(i64, i64)>, DbError> {
        let sql = format!("{select_where} id IN ({})", vec!["?"; ids.len()].join(", "));
        let mut query = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Writes a batch of records in one transaction: the log rows (several per statement), their
    /// per-hour usage aggregates and the balance moves they imply, summed per user, key and
    /// channel (one statement each, in id order so that nodes writing at once never deadlock).
    /// Records whose `request_id` is already logged are skipped entirely, so a batch may be
    /// retried safely after an uncertain failure. Returns how many records were newly applied.
    pub async fn apply_relay_records(&self, records: &[RelayRecord]) -> Result<usize, DbError> {
        let records: Vec<&RelayRecord> = records.iter().collect();
        self.apply_relay_batch(&records, Written::Maybe).await
    }

    /// [`Db::apply_relay_records`] for a batch the caller knows more about: with
    /// [`Written::Never`] the database is not searched for its request ids first (a record
    /// that is there after all fails the batch on the unique index, which changes nothing; the
    /// caller retries it with [`Written::Maybe`]).
    pub async fn apply_relay_batch(
        &self,
        records: &[&RelayRecord],
        written: Written,
    ) -> Result<usize, DbError> {
        let mut tx = self.pool().begin().await?;
        let logged = match written {
            Written::Maybe => logged_request_ids(&mut tx, records).await?,
            Written::Never => HashSet::new(),
        };
        let mut seen: HashSet<&str> = HashSet::with_capacity(records.len());
        let fresh: Vec<&RelayRecord> = records
            .iter()
            .copied()
            .filter(|r| !logged.contains(&r.request_id) && seen.insert(r.request_id.as_str()))
            .collect();
        for rows in fresh.chunks(ROWS_PER_INSERT) {
            insert_logs(&mut tx, rows).await?;
        }
        // Only fresh records: one already logged was counted when it was.
        super::usage_stats::add_usage(&mut tx, self.dialect, &fresh).await?;
        let moves = BalanceMoves::of(&fresh);
        for (user_id, (from_wallet, used, requests)) in &moves.users {
            sqlx::query(
                "UPDATE users SET quota = quota - ?, used_quota = used_quota + ?, \
                 request_count = request_count + ? WHERE id = ?",
            )
            .bind(from_wallet)
            .bind(used)
            .bind(requests)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        for (token_id, moved) in &moves.tokens {
            sqlx::query(
                "UPDATE tokens SET remain_quota = remain_quota - ?, used_quota = used_quota + ?, \
                 accessed_time = CASE WHEN accessed_time > ? THEN accessed_time ELSE ? END \
                 WHERE id = ?",
            )
            .bind(moved.remain)
            .bind(moved.used)
            .bind(moved.accessed)
            .bind(moved.accessed)
            .bind(token_id)
            .execute(&mut *tx)
            .await?;
        }
        for (subscription_id, quota) in &moves.subscriptions {
            sqlx::query("UPDATE user_subscriptions SET amount_used = amount_used + ? WHERE id = ?")
                .bind(quota)
                .bind(subscription_id)
                .execute(&mut *tx)
                .await?;
        }
        for (channel_id, quota) in &moves.channels {
            sqlx::query("UPDATE channels SET used_quota = used_quota + ? WHERE id = ?")
                .bind(quota)
                .bind(channel_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(fresh.len())
    }
}

/// Whether some records of a batch may already be in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Possibly: replayed from a journal, or retried after a failure that may have committed.
    Maybe,
    /// Certainly not: their first write.
    Never,
}

/// Log rows per `INSERT` statement (24 parameters each: well under SQLite's and MySQL's limits).
const ROWS_PER_INSERT: usize = 100;
/// Request ids per `IN (...)` list when looking for rows already logged.
const IDS_PER_LOOKUP: usize = 500;

const LOG_COLUMNS: &str = "request_id, user_id, created_at, type, content, username, token_name, \
     token_id, model_name, upstream_model, quota, prompt_tokens, completion_tokens, \
     cached_tokens, use_time_ms, ttft_ms, is_stream, is_estimated, channel_id, `group`, ip, \
     status_code, retries, other";
const LOG_PLACEHOLDERS: &str =
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// The request ids of `records` that already have a log row.
async fn logged_request_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    records: &[&RelayRecord],
) -> Result<HashSet<String>, DbError> {
    let mut logged = HashSet::new();
    for ids in records.chunks(IDS_PER_LOOKUP) {
        let sql = format!(
            "SELECT request_id FROM logs WHERE request_id IN ({})",
            vec!["?"; ids.len()].join(", ")
        );
        let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for r in ids {
            query = query.bind(&r.request_id);
        }
        logged.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(logged)
}

/// One multi-row `INSERT` of log rows.
async fn insert_logs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[&RelayRecord],
) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO logs ({LOG_COLUMNS}) VALUES {}",
        vec![LOG_PLACEHOLDERS; rows.len()].join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for r in rows {
        query = query
            .bind(&r.request_id)
            .bind(r.user_id)
            .bind(r.created_at)
            .bind(r.log_type)
            .bind(&r.content)
            .bind(&r.username)
            .bind(&r.token_name)
            .bind(r.token_id)
            .bind(&r.model_name)
            .bind(&r.upstream_model)
            .bind(r.quota)
            .bind(r.prompt_tokens)
            .bind(r.completion_tokens)
            .bind(r.cached_tokens)
            .bind(r.use_time_ms)
            .bind(r.ttft_ms)
            .bind(i64::from(r.is_stream))
            .bind(i64::from(r.is_estimated))
            .bind(r.channel_id)
            .bind(&r.group)
            .bind(&r.ip)
            .bind(r.status_code)
            .bind(r.retries)
            .bind(&r.other);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// What one key's balance moves by in a batch.
#[derive(Debug, Default, PartialEq, Eq)]
struct TokenMove {
    /// Taken from `remain_quota` (0 for unlimited keys).
    remain: i64,
    /// Added to `used_quota`.
    used: i64,
    /// The latest request's time.
    accessed: i64,
}

/// The balance moves of a batch's charged records, summed per account, in id order.
#[derive(Debug, Default, PartialEq, Eq)]
struct BalanceMoves {
    /// user id -> (quota taken from the wallet, quota used in all, requests)
    users: BTreeMap<i64, (i64, i64, i64)>,
    /// subscription id -> quota it paid
    subscriptions: BTreeMap<i64, i64>,
    tokens: BTreeMap<i64, TokenMove>,
    channels: BTreeMap<i64, i64>,
}

impl BalanceMoves {
    fn of(records: &[&RelayRecord]) -> Self {
        let mut moves = Self::default();
        for r in records.iter().filter(|r| r.log_type == LOG_TYPE_CONSUME) {
            // Saturating: no batch can wrap a balance, whatever a record says.
            let user = moves.users.entry(r.user_id).or_default();
            if r.subscription_id > 0 {
                let paid = moves.subscriptions.entry(r.subscription_id).or_default();
                *paid = paid.saturating_add(r.quota);
            } else {
                user.0 = user.0.saturating_add(r.quota);
            }
            user.1 = user.1.saturating_add(r.quota);
            user.2 += 1;
            if r.token_id > 0 {
                let token = moves.tokens.entry(r.token_id).or_default();
                if r.charge_token {
                    token.remain = token.remain.saturating_add(r.quota);
                }
                token.used = token.used.saturating_add(r.quota);
                token.accessed = token.accessed.max(r.created_at);
            }
            if r.channel_id > 0 {
                let channel = moves.channels.entry(r.channel_id).or_default();
                *channel = channel.saturating_add(r.quota);
            }
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, user: i64, token: i64, channel: i64, quota: i64, at: i64) -> RelayRecord {
        RelayRecord {
            request_id: id.into(),
            log_type: LOG_TYPE_CONSUME,
            user_id: user,
            token_id: token,
            channel_id: channel,
            charge_token: token != 3,
            quota,
            created_at: at,
            ..RelayRecord::default()
        }
    }

    #[test]
    fn a_subscription_pays_instead_of_the_wallet() {
        let records = [
            record("a", 1, 2, 7, 10, 100),
            RelayRecord {
                subscription_id: 9,
                ..record("b", 1, 2, 7, 30, 110)
            },
        ];
        let refs: Vec<&RelayRecord> = records.iter().collect();
        let moves = BalanceMoves::of(&refs);
        assert_eq!(moves.users, BTreeMap::from([(1, (10, 40, 2))]));
        assert_eq!(moves.subscriptions, BTreeMap::from([(9, 30)]));
        assert_eq!(moves.tokens[&2].remain, 40, "the key is charged either way");
    }

    #[test]
    fn moves_are_summed_per_account_and_errors_move_nothing() {
        let records = [
            record("a", 1, 2, 7, 10, 100),
            record("b", 1, 2, 8, 5, 90),
            record("c", 4, 3, 7, 1, 120),
            RelayRecord {
                log_type: LOG_TYPE_ERROR,
                ..record("d", 1, 2, 7, 999, 200)
            },
        ];
        let refs: Vec<&RelayRecord> = records.iter().collect();
        let moves = BalanceMoves::of(&refs);
        assert_eq!(
            moves.users,
            BTreeMap::from([(1, (15, 15, 2)), (4, (1, 1, 1))])
        );
        assert_eq!(
            moves.tokens,
            BTreeMap::from([
                (
                    2,
                    TokenMove {
                        remain: 15,
                        used: 15,
                        accessed: 100
                    }
                ),
                (
                    3,
                    TokenMove {
                        remain: 0,
                        used: 1,
                        accessed: 120
                    }
                ),
            ])
        );
        assert_eq!(moves.channels, BTreeMap::from([(7, 11), (8, 5)]));
    }
}
