//! Shared balance counters in Redis, for admission across proxy nodes. Per account (a user, a
//! key or a subscription):
//!
//! - `stored`: the database balance, as last read (lowered by each charge written since);
//! - `held`: a hash, one field per proxy node: what that node has reserved or charged and not
//!   yet written to the database;
//! - `seq`: counts every change of `stored` other than a re-sync.
//!
//! Nodes hold a lease (`bal:nodes`, a sorted set of lease expiry times) that each renews well
//! within `billing.lease_ms`; the fields of a node whose lease has expired are ignored and
//! deleted, so a dead node's holds vanish within the lease.
//!
//! **The invariant the scripts keep:** available = `stored` − Σ `held[n]` over nodes `n` with a
//! live lease, and every script changes it only as its meaning says:
//!
//! - reserve: adds `a` to `held[node]` only if available ≥ floor and > 0, with
//!   `a = min(ceiling, available)` (so available never goes below zero through reservations);
//! - settle: moves `held[node]` by charge − reservation (an overrun can make available
//!   negative: the account is then refused until covered);
//! - written (after the database committed a charge `c`): `stored -= c` and `held[node] -= c`
//!   in one script, so available does not move; `seq += 1`;
//! - a balance change by the control plane: `stored += delta` (or set), `seq += 1`;
//! - re-sync: `stored := database value` only if `seq` has not moved since before the database
//!   read, so a write that happened in between is never lost. A write committed before the read
//!   whose `written` runs after the re-sync lowers `stored` once more: the error is on the safe
//!   side (too little available) and the next re-sync repairs it.
//!
//! A crash between a step's database commit and its script leaves available too low (never too
//! high) until the next re-sync; a crash of a node makes its `held` vanish with its lease; a
//! Redis restart loses counters, which restart from the database.

use super::{CacheError, LuaScript, SharedCache};
use fred::prelude::*;

/// The sorted set of node leases (member: node id, score: lease expiry in ms).
pub const NODES_KEY: &str = "bal:nodes";

/// Whose balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    User(i64),
    Token(i64),
    /// A subscription with a quota per period (its balance: what is left of it).
    Subscription(i64),
}

impl Account {
    fn base(self) -> String {
        match self {
            Account::User(id) => format!("bal:u:{id}"),
            Account::Token(id) => format!("bal:t:{id}"),
            Account::Subscription(id) => format!("bal:s:{id}"),
        }
    }

    /// The counter mirroring the database balance (without the deployment prefix).
    pub fn stored_key(self) -> String {
        format!("{}:stored", self.base())
    }

    /// The hash of each node's holds (without the deployment prefix).
    pub fn held_key(self) -> String {
        format!("{}:held", self.base())
    }

    /// The count of changes of `stored` (without the deployment prefix).
    pub fn seq_key(self) -> String {
        format!("{}:seq", self.base())
    }
}

/// KEYS: stored, seq; ARGV: value. Sets `stored` if it exists and counts the change.
static SET_STORED: LuaScript = LuaScript::new(
    r#"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('INCR', KEYS[2])
end
return 0
"#,
);

/// KEYS: stored, seq; ARGV: delta. Moves `stored` if it exists and counts the change.
static ADD_STORED: LuaScript = LuaScript::new(
    r#"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('INCR', KEYS[2])
end
return 0
"#,
);

async fn change_stored(
    cache: &SharedCache,
    script: &LuaScript,
    account: Account,
    value: i64,
) -> Result<(), CacheError> {
    if let Some(redis) = cache.redis() {
        let _: i64 = script
            .run(
                redis.pool().next(),
                vec![
                    redis.key(&account.stored_key()),
                    redis.key(&account.seq_key()),
                ],
                vec![value.to_string()],
            )
            .await?;
    }
    Ok(())
}

/// Sets the mirrored balance of `account` after the database was changed to `value`, if the
/// counter exists (a missing one is started from the database when next needed).
pub async fn set_stored(
    cache: &SharedCache,
    account: Account,
    value: i64,
) -> Result<(), CacheError> {
    change_stored(cache, &SET_STORED, account, value).await
}

/// Adds `delta` to the mirrored balance of `account` after the database balance changed by
/// `delta` (top-ups, admin adjustments), if the counter exists.
pub async fn add_stored(
    cache: &SharedCache,
    account: Account,
    delta: i64,
) -> Result<(), CacheError> {
    change_stored(cache, &ADD_STORED, account, delta).await
}

/// Forgets the counters of an account that no longer exists.
pub async fn forget(cache: &SharedCache, account: Account) -> Result<(), CacheError> {
    if let Some(redis) = cache.redis() {
        let _: i64 = redis
            .pool()
            .del(vec![
                redis.key(&account.stored_key()),
                redis.key(&account.held_key()),
                redis.key(&account.seq_key()),
            ])
            .await?;
    }
    Ok(())
}
