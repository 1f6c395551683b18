//! The subscriptions' clock: every `control_plane.subscription_tick_secs`, restores the quota
//! of subscriptions whose reset time has come (and adds what they had used back to the Redis
//! admission counter) and expires the ended ones (giving back the group an upgrade replaced).
//! Each change appends a `user` change event, so proxies re-read the owner. Several control
//! planes may run it: each reset is a conditional update, applied once.

use crate::app::{App, AppState};
use pylon_shared::cache::balances::{self, Account};
use pylon_shared::db::now_secs;
use std::time::Duration;

/// Subscriptions reset per pass.
const BATCH: i64 = 500;

/// Runs until the process ends.
pub async fn run(app: AppState) {
    let every = Duration::from_secs(app.config.control_plane.subscription_tick_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = pass(&app).await {
            tracing::warn!(%error, "the subscription clock failed; trying again next tick");
        }
    }
}

/// One pass: resets, then expiries.
pub async fn pass(app: &App) -> anyhow::Result<()> {
    let now = now_secs();
    let resets = app.db.reset_due_subscriptions(now, BATCH).await?;
    for reset in &resets {
        if let Err(error) =
            balances::add_stored(&app.cache, Account::Subscription(reset.id), reset.restored).await
        {
            tracing::warn!(%error, subscription = reset.id, "restoring a subscription's counter failed; the proxies re-sync it");
        }
        tracing::info!(
            subscription = reset.id,
            user = reset.user_id,
            restored = reset.restored,
            "subscription quota reset"
        );
    }
    let changes: Vec<_> = resets.into_iter().map(|r| r.change).collect();
    let expired = app.db.expire_ended_subscriptions(now, "default").await?;
    crate::ledger::after_commit(app, &[], &changes).await;
    crate::ledger::after_commit(app, &[], &expired).await;
    Ok(())
}
