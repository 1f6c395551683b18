//! Shared balance counters in Redis, for admission across proxy nodes. Per account (a user or
//! a key) two counters: `stored` mirrors the database balance, and `pend` counts what every node
//! has reserved or charged but not yet written to the database. Available = stored - pend.
//!
//! - A proxy starts `stored` from a fresh database read when it is missing.
//! - Reserving adds to `pend` if the amount is available; settling moves `pend` to the charge.
//! - Writing a charge to the database takes it off both `stored` and `pend`.
//! - The control plane, when it changes a balance in the database, changes `stored` too.

use super::{CacheError, SharedCache};
use fred::prelude::*;

/// Whose balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    User(i64),
    Token(i64),
}

impl Account {
    fn base(self) -> String {
        match self {
            Account::User(id) => format!("bal:u:{id}"),
            Account::Token(id) => format!("bal:t:{id}"),
        }
    }

    /// The counter mirroring the database balance (without the deployment prefix).
    pub fn stored_key(self) -> String {
        format!("{}:stored", self.base())
    }

    /// The counter of reserved and unwritten charges (without the deployment prefix).
    pub fn pending_key(self) -> String {
        format!("{}:pend", self.base())
    }
}

/// Sets the mirrored balance of `account` after the database was changed to `value`, if the
/// counter exists (a missing one is started from the database when next needed).
pub async fn set_stored(
    cache: &SharedCache,
    account: Account,
    value: i64,
) -> Result<(), CacheError> {
    if let Some(redis) = cache.redis() {
        let _: Option<String> = redis
            .pool()
            .set(
                redis.key(&account.stored_key()),
                value,
                None,
                Some(SetOptions::XX),
                false,
            )
            .await?;
    }
    Ok(())
}

/// Adds `delta` to the mirrored balance of `account` after the database balance changed by
/// `delta` (top-ups, admin adjustments), if the counter exists.
pub async fn add_stored(
    cache: &SharedCache,
    account: Account,
    delta: i64,
) -> Result<(), CacheError> {
    if let Some(redis) = cache.redis() {
        let _: i64 = redis
            .pool()
            .next()
            .eval(
                "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end return 0",
                vec![redis.key(&account.stored_key())],
                vec![delta.to_string()],
            )
            .await?;
    }
    Ok(())
}

/// Forgets both counters of an account that no longer exists.
pub async fn forget(cache: &SharedCache, account: Account) -> Result<(), CacheError> {
    if let Some(redis) = cache.redis() {
        let _: i64 = redis
            .pool()
            .del(vec![
                redis.key(&account.stored_key()),
                redis.key(&account.pending_key()),
            ])
            .await?;
    }
    Ok(())
}
