//! The control plane's side of a money movement: apply it through the database's one ledger
//! operation (`Db::apply_movement`: balances, log row, change events and idempotency key in one
//! transaction), then, after the commit, bring the caches along: the Redis balance mirror that
//! proxies admit against (`stored`) and the change feed's pub/sub. Those steps are best effort:
//! a failure is logged and counted (`pylon_control_plane_ledger_post_commit_failures_total`)
//! and never turns the committed movement into an error answer; the change events are durable,
//! so every proxy still learns of the change by polling and re-reads the database.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::cache::balances::{self, Account};
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{ChangeEvent, Movement, MovementOutcome};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The longest the post-commit cache steps of one answer may take together: a Redis that hangs
/// must not hold the answer.
const POST_COMMIT_TIMEOUT: Duration = Duration::from_secs(2);

/// A fresh idempotency key for a movement that its caller cannot repeat by accident (a click
/// in the console): `prefix` names the operation, random characters make it unique.
pub fn fresh_key(prefix: &str) -> String {
    format!("{prefix}:{}", random_alphanumeric(32))
}

/// Applies `movement` in its own transaction and, when it was applied, updates the caches.
pub async fn apply(app: &App, movement: &Movement) -> Result<MovementOutcome, ApiError> {
    let outcome = app.db.apply_movement(movement).await?;
    if let MovementOutcome::Applied { changes, .. } = &outcome {
        after_commit(app, std::slice::from_ref(movement), changes).await;
    }
    Ok(outcome)
}

/// The caches' share of `movements`, committed (in one transaction or several) with the change
/// events `changes`: every balance they moved is added to its Redis mirror, and every event is
/// announced. Never fails; failures are logged and counted.
pub async fn after_commit(app: &App, movements: &[Movement], changes: &[ChangeEvent]) {
    let deadline = Instant::now() + POST_COMMIT_TIMEOUT;
    for movement in movements {
        for (account, delta) in mirrored_deltas(movement) {
            let step = balances::add_stored(&app.cache, account, delta);
            best_effort(app, BALANCE_MIRROR, deadline, step).await;
        }
    }
    for event in changes {
        let step = app.changes.announce(event.clone());
        best_effort(app, CHANGE_FEED, deadline, step).await;
    }
}

/// Forgets the Redis balance counters of deleted keys, after the commit (best effort).
pub async fn forget_tokens(app: &App, token_ids: &[i64]) {
    let deadline = Instant::now() + POST_COMMIT_TIMEOUT;
    for id in token_ids {
        let step = balances::forget(&app.cache, Account::Token(*id));
        best_effort(app, BALANCE_MIRROR, deadline, step).await;
    }
}

/// The metric label of the Redis balance mirror step.
const BALANCE_MIRROR: &str = "balance_mirror";
/// The metric label of the change feed's pub/sub step.
const CHANGE_FEED: &str = "change_feed";

/// Runs one post-commit cache step until `deadline`; a failure is logged and counted under
/// `step`, never returned.
async fn best_effort<E: std::fmt::Display>(
    app: &App,
    step: &str,
    deadline: Instant,
    work: impl Future<Output = Result<(), E>>,
) {
    let failure = match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {POST_COMMIT_TIMEOUT:?} of the commit"),
    };
    tracing::warn!(step, error = %failure, "cache step after a committed change failed");
    app.metrics
        .ledger_post_commit_failures
        .with_label_values(&[step])
        .inc();
}

/// The balances of `movement` that proxies mirror: the user's quota and the key's
/// `remain_quota` (the invitation quota is not spent by requests).
fn mirrored_deltas(movement: &Movement) -> Vec<(Account, i64)> {
    let mut deltas = Vec::new();
    if movement.user_delta != 0 {
        deltas.push((Account::User(movement.user_id), movement.user_delta));
    }
    if let (Some(token_id), Some(delta)) = (movement.token_id, movement.token_delta)
        && delta != 0
    {
        deltas.push((Account::Token(token_id), delta));
    }
    deltas
}

#[cfg(test)]
mod tests {
    use super::*;
    use pylon_shared::db::MovementKind;

    #[test]
    fn mirrors_quota_and_key_deltas_only() {
        let movement = Movement::new("k", MovementKind::AffTransfer, 7, 100).with_aff_delta(-100);
        assert_eq!(mirrored_deltas(&movement), vec![(Account::User(7), 100)]);
        let limit = Movement::new("k", MovementKind::TokenLimit, 7, 0).with_token_delta(3, -5);
        assert_eq!(mirrored_deltas(&limit), vec![(Account::Token(3), -5)]);
    }
}
