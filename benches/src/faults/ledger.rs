//! What was billed, against what the client saw: every request has its own source address
//! and its log row records it, so each completed request is matched with its charges. Lost:
//! completed at the client, never billed. Double-charged: more than one charge row. The
//! balances reconcile when each key's drop equals the sum of its logged charges.

use super::outcome::{Outcome, Result};
use sqlx::AnyPool;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// new-api's log type of a charged request.
pub const LOG_TYPE_CONSUME: i64 = 2;

/// One log row of the load's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The client address it records.
    pub ip: String,
    pub token_id: i64,
    /// Log type: [`LOG_TYPE_CONSUME`] for a charge, 5 for a failed request.
    pub log_type: i64,
    pub quota: i64,
    /// Billed on an estimate (the upstream's usage was missing or out of range).
    pub estimated: bool,
    /// Failed attempts before the one that answered.
    pub retries: i64,
}

/// A key of the load: its id, its balance when the load began and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyBalance {
    pub id: i64,
    pub start: i64,
    pub now: i64,
}

/// The billing figures of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Completed at the client, no charge row.
    pub lost: usize,
    /// When each lost request ended (offsets from the start of the load).
    pub lost_ended: Vec<Duration>,
    /// More than one charge row for one request.
    pub double_charged: usize,
    /// Failed at the client (cut mid-answer) but charged for what was delivered.
    pub charged_failed: usize,
    /// Charge rows whose address is no request of the load (should be 0).
    pub unmatched_rows: usize,
    /// Charge rows billed on an estimate.
    pub estimated: usize,
    /// Charge rows of requests that failed over (retries > 0).
    pub failed_over: usize,
    /// Sum of the charge rows' quota.
    pub charged_quota: i64,
    /// Keys whose balance drop equals their logged charges.
    pub reconciled_keys: usize,
    /// Keys in all.
    pub keys: usize,
    /// Sum over keys of (balance drop − logged charges): 0 when everything reconciles.
    pub balance_gap: i64,
}

impl Figures {
    /// Whether every key's balance reconciles with its charges.
    pub fn reconciled(&self) -> bool {
        self.reconciled_keys == self.keys
    }
}

/// Matches the client's outcomes with the log rows and the keys' balances.
pub fn reconcile(outcomes: &[Outcome], rows: &[Row], keys: &[KeyBalance]) -> Figures {
    let mut charges: HashMap<&str, usize> = HashMap::new();
    let mut figures = Figures {
        keys: keys.len(),
        ..Figures::default()
    };
    let mut charged_per_key: HashMap<i64, i64> = HashMap::new();
    for row in rows.iter().filter(|r| r.log_type == LOG_TYPE_CONSUME) {
        *charges.entry(row.ip.as_str()).or_insert(0) += 1;
        *charged_per_key.entry(row.token_id).or_insert(0) += row.quota;
        figures.charged_quota += row.quota;
        figures.estimated += usize::from(row.estimated);
        figures.failed_over += usize::from(row.retries > 0);
    }
    let mut matched = 0;
    for outcome in outcomes {
        let ip = outcome.ip.to_string();
        let count = charges.get(ip.as_str()).copied().unwrap_or(0);
        matched += count;
        match (outcome.result, count) {
            (Result::Ok, 0) => {
                figures.lost += 1;
                figures.lost_ended.push(outcome.ended);
            }
            (_, n) if n > 1 => figures.double_charged += 1,
            (Result::Ok, _) => {}
            (_, _) => figures.charged_failed += count,
        }
    }
    figures.unmatched_rows = charges.values().sum::<usize>() - matched;
    for key in keys {
        let logged = charged_per_key.get(&key.id).copied().unwrap_or(0);
        let gap = (key.start - key.now) - logged;
        figures.balance_gap += gap;
        figures.reconciled_keys += usize::from(gap == 0);
    }
    figures
}

/// Log rows of the keys `ids`.
pub async fn rows(db: &AnyPool, ids: &[i64]) -> anyhow::Result<Vec<Row>> {
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT ip, token_id, type, quota, is_estimated, retries FROM logs \
         WHERE token_id IN ({list})"
    );
    let found: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(db)
        .await?;
    Ok(found
        .into_iter()
        .map(|(ip, token_id, log_type, quota, estimated, retries)| Row {
            ip,
            token_id,
            log_type,
            quota,
            estimated: estimated != 0,
            retries,
        })
        .collect())
}

/// The keys' balances now, given their balances at the start (`(id, start)`).
pub async fn balances(db: &AnyPool, keys: &[(i64, i64)]) -> anyhow::Result<Vec<KeyBalance>> {
    let mut out = Vec::with_capacity(keys.len());
    for (id, start) in keys {
        let now: i64 = sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
            .bind(*id)
            .fetch_one(db)
            .await?;
        out.push(KeyBalance {
            id: *id,
            start: *start,
            now,
        });
    }
    Ok(out)
}

/// Reads rows and balances until the settlement is done: the balances reconcile and the row
/// count has not moved for `quiet`, or `limit` passed (then the last reading stands).
/// Returns the figures and when (after the call) the balances first reconciled for good.
pub async fn settled(
    db: &AnyPool,
    outcomes: &[Outcome],
    keys: &[(i64, i64)],
    quiet: Duration,
    limit: Duration,
) -> anyhow::Result<(Figures, Option<Duration>)> {
    let asked = Instant::now();
    let ids: Vec<i64> = keys.iter().map(|(id, _)| *id).collect();
    let mut last_count = usize::MAX;
    let mut still_since = Instant::now();
    let mut reconciled_at = None;
    loop {
        let found = rows(db, &ids).await;
        let balances = balances(db, keys).await;
        if let (Ok(found), Ok(balances)) = (found, balances) {
            let figures = reconcile(outcomes, &found, &balances);
            if found.len() != last_count {
                last_count = found.len();
                still_since = Instant::now();
            }
            if !figures.reconciled() {
                reconciled_at = None;
            } else if reconciled_at.is_none() {
                reconciled_at = Some(asked.elapsed());
            }
            let done = reconciled_at.is_some() && still_since.elapsed() >= quiet;
            if done || asked.elapsed() >= limit {
                return Ok((figures, reconciled_at));
            }
        } else if asked.elapsed() >= limit {
            anyhow::bail!("the database did not answer within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
