//! One change at a time per provider subject, across every control-plane node: `users.oidc_id`
//! has no unique index, so two concurrent first sign-ins (or binds) of the same subject must
//! not both find it free and both take it.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::crypto::sha256_hex;
use std::future::Future;
use std::time::Duration;

/// Longest a lock is held should its holder die before releasing it.
const LOCK_TTL: Duration = Duration::from_secs(30);

/// Runs `work` while holding the lock of `subject`; refuses when another request holds it.
pub async fn with_subject<T>(
    app: &App,
    subject: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let key = format!("oidc:lock:{}", sha256_hex(subject.as_bytes()));
    // The counter is atomic on both cache backends: only the first taker sees 1.
    if app.cache.hit(&key, LOCK_TTL).await? != 1 {
        return Err(ApiError::invalid(
            "Another sign-in with this OIDC account is in progress, please try again",
        ));
    }
    let result = work.await;
    if let Err(error) = app.cache.delete(&key).await {
        tracing::warn!(%error, "releasing an OIDC subject lock failed; it expires by itself");
    }
    result
}
