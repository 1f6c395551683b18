//! Where admission holds money. Embedded mode: this process's memory ([`Balances`]), exact
//! for the one proxy there is. With Redis: the shared counters of
//! `pylon_shared::cache::balances` (stored - pending = available), so that any number of proxy
//! nodes together cannot admit more than an account has.

use super::{Balances, Refusal, Reservation};
use fred::prelude::*;
use pylon_shared::cache::SharedCache;
use pylon_shared::cache::balances::Account;
use pylon_shared::db::Db;
use std::sync::Arc;
use std::time::Duration;

/// KEYS: (stored, pend) per account; ARGV[1]: amount. Adds the amount to every `pend` if every
/// account has it available. Returns 1; -1/-2 when the user/key is short; -3/-4 when the
/// user's/key's `stored` counter is missing (start it from the database and call again).
const RESERVE: &str = r#"
local amount = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  local stored = redis.call('GET', KEYS[i])
  if not stored then return -3 - (i - 1) / 2 end
  local available = tonumber(stored) - tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  if available <= 0 or available < amount then return -1 - (i - 1) / 2 end
end
for i = 2, #KEYS, 2 do redis.call('INCRBY', KEYS[i], amount) end
return 1
"#;

/// KEYS: `pend` counters; ARGV[1]: delta. Moves each by the delta.
const SETTLE: &str = r#"
for i = 1, #KEYS do redis.call('INCRBY', KEYS[i], ARGV[1]) end
return 1
"#;

/// KEYS: (stored, pend) per account; ARGV[1]: a charge now in the database. Takes it off both
/// (`pend` never below zero, which only a Redis restart could cause).
const WRITTEN: &str = r#"
local charge = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECRBY', KEYS[i], charge) end
  if redis.call('DECRBY', KEYS[i + 1], charge) < 0 then redis.call('SET', KEYS[i + 1], 0) end
end
return 1
"#;

/// Attempts at a Redis update that must not be lost.
const ATTEMPTS: u32 = 5;

/// The admission ledger of this process.
pub enum Ledger {
    /// Holds in memory (embedded mode).
    Memory(Arc<Balances>),
    /// Holds in Redis (any number of nodes).
    Redis { cache: SharedCache, db: Db },
}

impl Ledger {
    /// The ledger for the configured cache.
    pub fn new(balances: Arc<Balances>, cache: SharedCache, db: Db) -> Self {
        if cache.redis().is_some() {
            Ledger::Redis { cache, db }
        } else {
            Ledger::Memory(balances)
        }
    }

    /// Whether holds live in this process (so written charges move from held to stored there).
    pub fn in_memory(&self) -> bool {
        matches!(self, Ledger::Memory(_))
    }

    /// Holds `amount` from the user and (unless unlimited) the key, or from neither.
    pub async fn reserve(
        &self,
        user_id: i64,
        token_id: Option<i64>,
        amount: i64,
    ) -> Result<Reservation, Refusal> {
        let amount = amount.max(0);
        let (cache, db) = match self {
            Ledger::Memory(balances) => return balances.reserve(user_id, token_id, amount),
            Ledger::Redis { cache, db } => (cache, db),
        };
        let accounts = accounts(user_id, token_id);
        // At most one start per account, then the answer is final.
        for _ in 0..=accounts.len() {
            let answer = eval(cache, RESERVE, counter_keys(cache, &accounts), amount).await;
            match answer {
                Ok(1) => {
                    return Ok(Reservation {
                        user_id,
                        token_id,
                        amount,
                    });
                }
                Ok(-1) => return Err(Refusal::User),
                Ok(-2) => return Err(Refusal::Token),
                Ok(missing @ (-3 | -4)) => {
                    let account = accounts[usize::from(missing == -4)];
                    if let Err(error) = start_counter(cache, db, account).await {
                        tracing::error!(%error, ?account, "starting a balance counter failed");
                        return Err(Refusal::Unavailable);
                    }
                }
                Ok(other) => {
                    tracing::error!(other, "unexpected answer from the admission script");
                    return Err(Refusal::Unavailable);
                }
                Err(error) => {
                    // Without the shared ledger, refusing is the only answer that cannot overdraw.
                    tracing::error!(%error, "Redis admission failed; refusing the request");
                    return Err(Refusal::Unavailable);
                }
            }
        }
        Err(Refusal::Unavailable)
    }

    /// Replaces a reservation by the real charge.
    pub fn settle(&self, reservation: &Reservation, charge: i64) {
        let cache = match self {
            Ledger::Memory(balances) => return balances.settle(reservation, charge),
            Ledger::Redis { cache, .. } => cache,
        };
        let delta = charge - reservation.amount;
        if delta == 0 {
            return;
        }
        let keys: Vec<String> = accounts(reservation.user_id, reservation.token_id)
            .into_iter()
            .map(|a| redis_key(cache, &a.pending_key()))
            .collect();
        let cache = cache.clone();
        // Off the request path: a settlement may outlive the request's task.
        tokio::spawn(async move { eval_with_retries(&cache, SETTLE, keys, delta).await });
    }

    /// A charge is now in the database: take it off the shared counters.
    pub async fn written(&self, user_id: i64, token_id: Option<i64>, charge: i64) {
        if let Ledger::Redis { cache, .. } = self {
            let keys = counter_keys(cache, &accounts(user_id, token_id));
            eval_with_retries(cache, WRITTEN, keys, charge).await;
        }
    }
}

fn accounts(user_id: i64, token_id: Option<i64>) -> Vec<Account> {
    let mut accounts = vec![Account::User(user_id)];
    accounts.extend(token_id.map(Account::Token));
    accounts
}

fn redis_key(cache: &SharedCache, key: &str) -> String {
    cache
        .redis()
        .map_or_else(|| key.to_string(), |r| r.key(key))
}

fn counter_keys(cache: &SharedCache, accounts: &[Account]) -> Vec<String> {
    accounts
        .iter()
        .flat_map(|a| {
            [
                redis_key(cache, &a.stored_key()),
                redis_key(cache, &a.pending_key()),
            ]
        })
        .collect()
}

async fn eval(
    cache: &SharedCache,
    script: &str,
    keys: Vec<String>,
    arg: i64,
) -> Result<i64, fred::error::Error> {
    match cache.redis() {
        Some(redis) => {
            redis
                .pool()
                .next()
                .eval(script, keys, vec![arg.to_string()])
                .await
        }
        None => Ok(0),
    }
}

async fn eval_with_retries(cache: &SharedCache, script: &str, keys: Vec<String>, arg: i64) {
    for attempt in 1..=ATTEMPTS {
        match eval(cache, script, keys.clone(), arg).await {
            Ok(_) => return,
            Err(error) if attempt == ATTEMPTS => {
                tracing::error!(%error, ?keys, arg, "updating a shared balance counter failed");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50 << attempt)).await,
        }
    }
}

/// Starts an account's `stored` counter from the database (which holds every written charge;
/// unwritten ones are in `pend`).
async fn start_counter(cache: &SharedCache, db: &Db, account: Account) -> anyhow::Result<()> {
    let balance = match account {
        Account::User(id) => db.user_brief(id).await?.map_or(0, |u| u.quota),
        Account::Token(id) => db.token_by_id(id).await?.map_or(0, |t| t.remain_quota),
    };
    if let Some(redis) = cache.redis() {
        let _: Option<String> = redis
            .pool()
            .set(
                redis.key(&account.stored_key()),
                balance,
                None,
                Some(SetOptions::NX),
                false,
            )
            .await?;
    }
    Ok(())
}
