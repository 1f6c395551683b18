//! One change at a time per provider id, across every control-plane node: the `users` columns
//! of the built-in providers have no unique index, so two concurrent first sign-ins (or binds)
//! of the same id must not both find it free and both take it.

use super::sign_in_id::Slot;
use crate::app::App;
use crate::error::ApiError;
use pylon_shared::crypto::sha256_hex;
use std::future::Future;
use std::time::Duration;

/// Longest a lock is held should its holder die before releasing it.
const LOCK_TTL: Duration = Duration::from_secs(30);

/// Runs `work` while holding the lock of `id` at the provider of `slot`; refuses when another
/// request holds it.
pub async fn with_id<T>(
    app: &App,
    slot: &Slot,
    id: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let key = format!(
        "signin:lock:{}",
        sha256_hex(format!("{}:{id}", slot.name).as_bytes())
    );
    // The counter is atomic on both cache backends: only the first taker sees 1.
    if app.cache.hit(&key, LOCK_TTL).await? != 1 {
        return Err(ApiError::invalid(format!(
            "Another sign-in with this {} account is in progress, please try again",
            slot.name
        )));
    }
    let result = work.await;
    if let Err(error) = app.cache.delete(&key).await {
        tracing::warn!(%error, "releasing a sign-in lock failed; it expires by itself");
    }
    result
}
