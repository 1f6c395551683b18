//! Fixed-window throttles kept in the shared cache, so every control-plane node counts together.

use crate::app::App;
use crate::error::ApiError;
use std::net::IpAddr;
use std::time::Duration;

/// Counts one attempt of `action` by `who` (an IP, an account, an email; hashed before use) and
/// refuses once `limit` attempts were made within `window`.
pub async fn check(
    app: &App,
    action: &str,
    who: &str,
    limit: u64,
    window: Duration,
) -> Result<(), ApiError> {
    let who = pylon_shared::crypto::sha256_hex(who.to_lowercase().as_bytes());
    if app.cache.hit(&format!("rl:{action}:{who}"), window).await? > limit {
        return Err(ApiError::TooManyRequests);
    }
    Ok(())
}

fn window(app: &App) -> Duration {
    Duration::from_secs(app.config.auth.login_window_secs)
}

/// Counts a login attempt from `ip`; refuses once the per-IP budget of the window is spent.
pub async fn login_attempt(app: &App, ip: IpAddr) -> Result<(), ApiError> {
    let count = app
        .cache
        .hit(&format!("rl:login:ip:{ip}"), window(app))
        .await?;
    if count > app.config.auth.login_attempts_per_ip {
        return Err(ApiError::TooManyRequests);
    }
    Ok(())
}

/// Refuses a password login to an account whose failure budget of the window is spent.
pub async fn account_locked(app: &App, account: &str) -> Result<(), ApiError> {
    let key = account_key(account);
    let failures = app
        .cache
        .get(&key)
        .await?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if failures >= app.config.auth.login_failures_per_account {
        return Err(ApiError::TooManyRequests);
    }
    Ok(())
}

/// Counts a failed login against `account`.
pub async fn login_failed(app: &App, account: &str) -> Result<(), ApiError> {
    app.cache.hit(&account_key(account), window(app)).await?;
    Ok(())
}

fn account_key(account: &str) -> String {
    // Hash so that arbitrary user input never becomes a raw cache key.
    format!(
        "rl:login:account:{}",
        pylon_shared::crypto::sha256_hex(account.to_lowercase().as_bytes())
    )
}
