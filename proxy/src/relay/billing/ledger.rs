//! Where admission holds money. Embedded mode: this process's memory ([`Balances`]), exact
//! for the one proxy there is. With Redis: the shared counters of
//! `pylon_shared::cache::balances` (`stored` minus the live nodes' `held` = available), so that
//! any number of proxy nodes together cannot admit more than an account has. The invariant the
//! scripts below keep is written down there.
//!
//! With Redis, a request costs one round trip: its reservation, on the calling thread's own
//! connection, carrying the settlements of requests finished since (see `pending`).
//!
//! With Redis, this node's holds are a field of its own in each account's `held` hash, alive
//! while the node's lease is: [`Ledger::maintain`] renews the lease every third of
//! `billing.lease_ms` and re-syncs `stored` with the database every `billing.resync_secs` for
//! the accounts this node used lately; the settlement writer re-syncs the accounts of every
//! batch it wrote.

use super::balances::accounts;
use super::pending::PendingSettlements;
use super::{Balances, Payer, Refusal, Reservation};
use crate::metrics::ProxyMetrics;
use dashmap::DashMap;
use fred::prelude::*;
use pylon_shared::cache::balances::{Account, NODES_KEY};
use pylon_shared::cache::{LuaScript, SharedCache};
use pylon_shared::db::Db;
use pylon_shared::pricing::Bounds;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// KEYS: nodes, then (stored, held) per account, then the `held` hashes of settlements carried
/// along; ARGV: node, lease ms, floor, ceiling, number of accounts, then one delta per carried
/// settlement. Applies the carried settlements to the node's fields first (see `pending`);
/// renews the node's lease; sums each account's holds of live nodes (deleting dead nodes'
/// fields); holds in this node's field as much as every account has available up to the
/// ceiling, if each has more than 0 and at least the floor. Returns the amount held (>= 0);
/// -1/-2 when the user/key is short; -3/-4 when the user's/key's `stored` is missing (start it
/// from the database and call again).
static RESERVE: LuaScript = LuaScript::new(
    r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node = ARGV[1]
local last = 1 + 2 * tonumber(ARGV[5])
for k = last + 1, #KEYS do
  if redis.call('HINCRBY', KEYS[k], node, ARGV[5 + k - last]) <= 0 then redis.call('HDEL', KEYS[k], node) end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), node)
local floor = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
for i = 2, last, 2 do
  local stored = redis.call('GET', KEYS[i])
  if not stored then return -3 - (i - 2) / 2 end
  local held = 0
  local fields = redis.call('HGETALL', KEYS[i + 1])
  for j = 1, #fields, 2 do
    local expiry = redis.call('ZSCORE', KEYS[1], fields[j])
    if expiry and tonumber(expiry) >= now then
      held = held + tonumber(fields[j + 1])
    else
      redis.call('HDEL', KEYS[i + 1], fields[j])
    end
  end
  local available = tonumber(stored) - held
  if available <= 0 or available < floor then return -1 - (i - 2) / 2 end
  if available < amount then amount = available end
end
if amount < 0 then amount = 0 end
for i = 3, last, 2 do redis.call('HINCRBY', KEYS[i], node, amount) end
return amount
"#,
);

/// KEYS: held hashes; ARGV: node, then one delta per hash. Moves the node's holds by the
/// deltas (a field at or below zero is removed: its holds were already dropped with a lapsed
/// lease). Sends the settlements no reservation carried (see `pending`).
static SETTLE: LuaScript = LuaScript::new(
    r#"
for i = 1, #KEYS do
  if redis.call('HINCRBY', KEYS[i], ARGV[1], ARGV[i + 1]) <= 0 then redis.call('HDEL', KEYS[i], ARGV[1]) end
end
return 1
"#,
);

/// KEYS: (stored, held, seq) per account; ARGV: node, charge now in the database, the part of
/// it this node holds (0 for records replayed from the journal). Takes the charge off
/// `stored` and the held part off the node's holds; counts the change.
static WRITTEN: LuaScript = LuaScript::new(
    r#"
for i = 1, #KEYS, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECRBY', KEYS[i], ARGV[2]) end
  if tonumber(ARGV[3]) ~= 0 and redis.call('HINCRBY', KEYS[i + 1], ARGV[1], -tonumber(ARGV[3])) <= 0 then
    redis.call('HDEL', KEYS[i + 1], ARGV[1])
  end
  redis.call('INCR', KEYS[i + 2])
end
return 1
"#,
);

/// KEYS: stored, seq; ARGV: seq before the database read, the database value. Sets `stored`
/// unless it changed since. Returns 2 when it corrected `stored`, 1 when it already matched, 0
/// when skipped.
static RESYNC: LuaScript = LuaScript::new(
    r#"
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
local before = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2])
if before == ARGV[2] then return 1 end
return 2
"#,
);

/// KEYS: nodes; ARGV: node, lease ms. Renews the lease; forgets leases dead for a day.
static RENEW: LuaScript = LuaScript::new(
    r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 86400000)
return 1
"#,
);

/// Attempts at a Redis update that must not be lost.
const ATTEMPTS: u32 = 5;
/// Accounts not used for this long are no longer re-synced by this node.
const TOUCHED_FOR: Duration = Duration::from_secs(600);

/// The shared (Redis) side of the ledger.
pub struct Shared {
    cache: SharedCache,
    db: Db,
    /// This process's id in the lease set and the `held` hashes.
    node: String,
    lease: Duration,
    /// Accounts this node reserved for, and when last.
    touched: DashMap<Account, Instant>,
    /// Settlements not yet sent, and how long one waits for a reservation to carry it.
    pending: PendingSettlements,
    fold_window: Duration,
    metrics: Arc<ProxyMetrics>,
}

/// A charge the database now holds, summed per (payer, key) over a written batch.
#[derive(Debug, Clone, Copy)]
pub struct WrittenCharge {
    pub user_id: i64,
    pub payer: Payer,
    /// The key charged (None for unlimited keys).
    pub token_id: Option<i64>,
    pub charge: i64,
    /// Whether this node held it (false for records replayed from the journal).
    pub held: bool,
}

/// The admission ledger of this process.
pub enum Ledger {
    /// Holds in memory (embedded mode).
    Memory(Arc<Balances>),
    /// Holds in Redis (any number of nodes).
    Redis(Box<Shared>),
}

impl Ledger {
    /// The ledger for the configured cache; with Redis, this node's holds live as long as its
    /// lease of `lease`, and a settlement waits up to `fold_window` for a reservation to carry it.
    pub fn new(
        balances: Arc<Balances>,
        cache: SharedCache,
        db: Db,
        lease: Duration,
        fold_window: Duration,
        metrics: Arc<ProxyMetrics>,
    ) -> Self {
        if cache.redis().is_some() {
            Ledger::Redis(Box::new(Shared {
                cache,
                db,
                node: format!(
                    "{}-{}",
                    std::process::id(),
                    pylon_shared::crypto::random_alphanumeric(12)
                ),
                lease,
                touched: DashMap::new(),
                pending: PendingSettlements::default(),
                fold_window,
                metrics,
            }))
        } else {
            Ledger::Memory(balances)
        }
    }

    /// Whether holds live in this process (so written charges move from held to stored there).
    pub fn in_memory(&self) -> bool {
        matches!(self, Ledger::Memory(_))
    }

    /// Holds from the payer (the user's wallet or a limited subscription) and (unless
    /// unlimited) the key, as much as all have available up to `bounds.ceiling`; refuses when
    /// one has less than `bounds.floor` (or nothing at all).
    pub async fn reserve(
        &self,
        user_id: i64,
        payer: Payer,
        token_id: Option<i64>,
        bounds: Bounds,
    ) -> Result<Reservation, Refusal> {
        let bounds = Bounds {
            floor: bounds.floor.max(0),
            ceiling: bounds.ceiling.max(bounds.floor).max(0),
        };
        let shared = match self {
            Ledger::Memory(balances) => {
                return balances.reserve(user_id, payer, token_id, bounds);
            }
            Ledger::Redis(shared) => shared,
        };
        let reservation = |amount| Reservation {
            user_id,
            payer,
            token_id,
            amount,
        };
        let accounts = accounts(user_id, payer, token_id);
        if accounts.is_empty() {
            // An unlimited subscription and an unlimited key: nothing to hold from.
            return Ok(reservation(bounds.ceiling));
        }
        let now = Instant::now();
        for account in &accounts {
            shared.touched.insert(*account, now);
        }
        let mut keys = vec![shared.key(NODES_KEY)];
        for account in &accounts {
            keys.push(shared.key(&account.stored_key()));
            keys.push(shared.key(&account.held_key()));
        }
        let args = vec![
            shared.node.clone(),
            millis(shared.lease).to_string(),
            bounds.floor.to_string(),
            bounds.ceiling.to_string(),
            accounts.len().to_string(),
        ];
        // The first call carries this node's waiting settlements; they are applied by then.
        let mut carried = Some(shared.pending.carry().await);
        // At most one start per account, then the answer is final.
        for _ in 0..=accounts.len() {
            let answer = match carried.as_ref().filter(|c| !c.deltas.is_empty()) {
                Some(carried) => {
                    let (mut keys, mut args) = (keys.clone(), args.clone());
                    for (key, delta) in &carried.deltas {
                        keys.push(key.clone());
                        args.push(delta.to_string());
                    }
                    shared.eval_local(&RESERVE, keys, args).await
                }
                None => {
                    shared
                        .eval_local(&RESERVE, keys.clone(), args.clone())
                        .await
                }
            };
            if let Some(carried) = carried.take()
                && answer.is_err()
            {
                // Not answered: the settlements wait for the next carrier or the flusher.
                shared.pending.restore(carried.deltas);
            }
            match answer {
                Ok(amount) if amount >= 0 => return Ok(reservation(amount)),
                Ok(short @ (-1 | -2)) => {
                    return Err(match accounts[usize::from(short == -2)] {
                        Account::User(_) => Refusal::User,
                        Account::Subscription(_) => Refusal::Subscription,
                        Account::Token(_) => Refusal::Token,
                    });
                }
                Ok(missing @ (-3 | -4)) => {
                    let account = accounts[usize::from(missing == -4)];
                    if let Err(error) = shared.start_counter(account).await {
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

    /// Replaces a reservation by the real charge. In memory at once; with Redis, the
    /// settlement waits for this node's next reservation to carry it (or, after `fold_window`,
    /// for the flusher; see `pending`): the answer's end waits for no round trip.
    pub fn settle(&self, reservation: &Reservation, charge: i64) {
        match self {
            Ledger::Memory(balances) => balances.settle(reservation, charge),
            Ledger::Redis(shared) => {
                let keys = reservation
                    .accounts()
                    .into_iter()
                    .map(|a| shared.key(&a.held_key()));
                shared
                    .pending
                    .add(keys, charge.saturating_sub(reservation.amount));
            }
        }
    }

    /// With Redis: sends every waiting settlement now (once no reservation carrying some is in
    /// flight). Before charges written to the database come off the holds, and at shutdown.
    pub async fn flush_settlements(&self) {
        if let Ledger::Redis(shared) = self {
            shared.flush().await;
        }
    }

    /// Charges now in the database, summed per (user, key): take them off the shared counters,
    /// then re-read `stored` from the database for every account. `held` is false for charges
    /// this node never held (records replayed from the journal).
    pub async fn written(&self, charges: &[WrittenCharge]) {
        let Ledger::Redis(shared) = self else {
            return;
        };
        // The settlements that set these charges' holds reach Redis first.
        shared.flush().await;
        let mut touched = Vec::new();
        for written in charges {
            let (charge, held) = (written.charge, written.held);
            let accounts = accounts(written.user_id, written.payer, written.token_id);
            let keys: Vec<String> = accounts
                .iter()
                .flat_map(|a| {
                    [
                        shared.key(&a.stored_key()),
                        shared.key(&a.held_key()),
                        shared.key(&a.seq_key()),
                    ]
                })
                .collect();
            let held_part = if held { charge } else { 0 };
            let args = vec![
                shared.node.clone(),
                charge.to_string(),
                held_part.to_string(),
            ];
            eval_with_retries(&shared.cache, &WRITTEN, keys, args).await;
            touched.extend(accounts);
        }
        touched.sort();
        touched.dedup();
        shared.resync(&touched).await;
    }

    /// With Redis: renews this node's lease every third of it and re-syncs the accounts used
    /// lately every `resync`. Runs until the process ends.
    pub async fn maintain(self: Arc<Self>, resync: Duration) {
        let Ledger::Redis(shared) = &*self else {
            return;
        };
        tokio::spawn({
            let ledger = Arc::clone(&self);
            async move { ledger.flush_settlements_regularly().await }
        });
        let mut renew = tokio::time::interval(shared.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sync = tokio::time::interval(resync);
        sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        sync.tick().await;
        loop {
            tokio::select! {
                _ = renew.tick() => {
                    let keys = vec![shared.key(NODES_KEY)];
                    let args = vec![shared.node.clone(), millis(shared.lease).to_string()];
                    if let Err(error) = shared.eval(&RENEW, keys, args).await {
                        tracing::warn!(%error, "renewing this node's lease failed");
                    }
                }
                _ = sync.tick() => {
                    let now = Instant::now();
                    shared.touched.retain(|_, at| now.duration_since(*at) < TOUCHED_FOR);
                    let accounts: Vec<Account> = shared.touched.iter().map(|e| *e.key()).collect();
                    shared.resync(&accounts).await;
                }
            }
        }
    }
}

impl Ledger {
    /// Sends the settlements no reservation carried within `billing.settle_fold_ms`.
    async fn flush_settlements_regularly(self: Arc<Self>) {
        let Ledger::Redis(shared) = &*self else {
            return;
        };
        loop {
            shared.pending.ready().await;
            let takes = shared.pending.takes();
            tokio::time::sleep(shared.fold_window).await;
            // Under load, reservations carry every settlement within the window: nothing to do
            // (and no pause of the carriers for a flush).
            if shared.pending.takes() == takes && !shared.pending.is_empty() {
                shared.flush().await;
            }
        }
    }
}

impl Shared {
    /// Sends every waiting settlement in one call (retried: a settlement must not be lost).
    async fn flush(&self) {
        let drained = self.pending.drained().await;
        if drained.deltas.is_empty() {
            return;
        }
        let mut keys = Vec::with_capacity(drained.deltas.len());
        let mut args = Vec::with_capacity(drained.deltas.len() + 1);
        args.push(self.node.clone());
        for (key, delta) in &drained.deltas {
            keys.push(key.clone());
            args.push(delta.to_string());
        }
        eval_with_retries(&self.cache, &SETTLE, keys, args).await;
    }

    fn key(&self, key: &str) -> String {
        self.cache
            .redis()
            .map_or_else(|| key.to_string(), |r| r.key(key))
    }

    async fn eval(
        &self,
        script: &LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<i64, fred::error::Error> {
        eval(&self.cache, script, keys, args).await
    }

    /// [`Self::eval`] on the calling thread's own connection (a request's path).
    async fn eval_local(
        &self,
        script: &LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<i64, fred::error::Error> {
        match self.cache.redis() {
            Some(redis) => script.run(&redis.local(), keys, args).await,
            None => Ok(0),
        }
    }

    /// Sets each account's `stored` to the database balance, unless a write moved it between
    /// the read and the set (see the invariant in `pylon_shared::cache::balances`).
    async fn resync(&self, accounts: &[Account]) {
        for chunk in accounts.chunks(500) {
            if let Err(error) = self.resync_chunk(chunk).await {
                tracing::warn!(%error, "re-syncing balance counters failed");
                self.metrics.balance_resync("failed");
            }
        }
    }

    async fn resync_chunk(&self, accounts: &[Account]) -> anyhow::Result<()> {
        let Some(redis) = self.cache.redis() else {
            return Ok(());
        };
        if accounts.is_empty() {
            return Ok(());
        }
        let seq_keys: Vec<String> = accounts.iter().map(|a| self.key(&a.seq_key())).collect();
        let before: Vec<Option<String>> = redis.pool().mget(seq_keys).await?;
        let ids = |kind: fn(&Account) -> Option<i64>| accounts.iter().filter_map(kind).collect();
        let users: Vec<i64> = ids(|a| match a {
            Account::User(id) => Some(*id),
            _ => None,
        });
        let tokens: Vec<i64> = ids(|a| match a {
            Account::Token(id) => Some(*id),
            _ => None,
        });
        let subscriptions: Vec<i64> = ids(|a| match a {
            Account::Subscription(id) => Some(*id),
            _ => None,
        });
        let (user_balances, token_balances) = self.db.balances_of(&users, &tokens).await?;
        let subscription_balances = self.db.subscription_balances(&subscriptions).await?;
        for (account, seq) in accounts.iter().zip(before) {
            let value = match account {
                Account::User(id) => user_balances.get(id),
                Account::Token(id) => token_balances.get(id),
                Account::Subscription(id) => subscription_balances.get(id),
            };
            // A deleted account: its counters are forgotten by the control plane.
            let Some(value) = value else { continue };
            let keys = vec![
                self.key(&account.stored_key()),
                self.key(&account.seq_key()),
            ];
            let args = vec![seq.unwrap_or_else(|| "0".into()), value.to_string()];
            let result = match self.eval(&RESYNC, keys, args).await? {
                2 => "corrected",
                1 => "unchanged",
                _ => "skipped",
            };
            self.metrics.balance_resync(result);
        }
        Ok(())
    }

    /// Starts an account's `stored` counter from the database (which holds every written
    /// charge; unwritten ones are in the nodes' `held`).
    async fn start_counter(&self, account: Account) -> anyhow::Result<()> {
        let balance = match account {
            Account::User(id) => self.db.user_brief(id).await?.map_or(0, |u| u.quota),
            Account::Token(id) => self.db.token_by_id(id).await?.map_or(0, |t| t.remain_quota),
            Account::Subscription(id) => self
                .db
                .subscription_balances(&[id])
                .await?
                .get(&id)
                .copied()
                .unwrap_or(0),
        };
        if let Some(redis) = self.cache.redis() {
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
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

async fn eval(
    cache: &SharedCache,
    script: &LuaScript,
    keys: Vec<String>,
    args: Vec<String>,
) -> Result<i64, fred::error::Error> {
    match cache.redis() {
        Some(redis) => script.run(redis.pool().next(), keys, args).await,
        None => Ok(0),
    }
}

async fn eval_with_retries(
    cache: &SharedCache,
    script: &LuaScript,
    keys: Vec<String>,
    args: Vec<String>,
) {
    for attempt in 1..=ATTEMPTS {
        match eval(cache, script, keys.clone(), args.clone()).await {
            Ok(_) => return,
            Err(error) if attempt == ATTEMPTS => {
                tracing::error!(%error, ?keys, ?args, "updating a shared balance counter failed");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50 << attempt)).await,
        }
    }
}
