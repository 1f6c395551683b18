//! Checking a code a user typed against their enabled 2FA: a TOTP code (never one of a step
//! already used) or, where allowed, a backup code (spent on use). Failures are counted per
//! account and per client IP in the shared cache; past the limit every attempt is refused for
//! the rest of the window, right code or not (new-api locks after 5 failures for 300 s).

use super::codes;
use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::TwoFactorRow;
use std::net::IpAddr;
use std::time::Duration;

/// Failures an account may have within [`LOCK_WINDOW`] (new-api's `MaxFailAttempts`).
const ACCOUNT_MAX_FAILURES: u64 = 5;
/// Failures one client IP may have within [`LOCK_WINDOW`], over every account it tries.
const IP_MAX_FAILURES: u64 = 20;
/// How long failures are remembered (new-api's `LockoutDuration`).
const LOCK_WINDOW: Duration = Duration::from_secs(300);

/// The answer to a wrong code, whichever kind it was.
pub const WRONG_CODE: &str = "Invalid verification code or backup code, please try again";

/// Which kinds of code an action takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// Only a code from the authenticator app.
    Totp,
    /// An authenticator code or a backup code.
    TotpOrBackup,
}

fn account_key(user_id: i64) -> String {
    format!("2fa:failures:user:{user_id}")
}

fn ip_key(ip: IpAddr) -> String {
    format!("2fa:failures:ip:{ip}")
}

async fn count(app: &App, key: &str) -> Result<u64, ApiError> {
    Ok(app
        .cache
        .get(key)
        .await?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0))
}

/// True while the account is locked by too many wrong codes.
pub async fn is_locked(app: &App, user_id: i64) -> Result<bool, ApiError> {
    Ok(count(app, &account_key(user_id)).await? >= ACCOUNT_MAX_FAILURES)
}

/// Refuses (HTTP 429) while the account or the client IP is locked.
pub async fn ensure_not_locked(app: &App, user_id: i64, ip: IpAddr) -> Result<(), ApiError> {
    if is_locked(app, user_id).await? || count(app, &ip_key(ip)).await? >= IP_MAX_FAILURES {
        return Err(ApiError::TooManyRequests);
    }
    Ok(())
}

/// Counts a wrong code against the account and the IP; returns the error to answer with.
pub async fn record_failure(app: &App, user_id: i64, ip: IpAddr) -> Result<ApiError, ApiError> {
    app.cache.hit(&account_key(user_id), LOCK_WINDOW).await?;
    app.cache.hit(&ip_key(ip), LOCK_WINDOW).await?;
    Ok(ApiError::invalid(WRONG_CODE))
}

/// Forgets the account's failures after a right code (as new-api resets `FailedAttempts`).
pub async fn record_success(app: &App, user_id: i64) -> Result<(), ApiError> {
    app.cache.delete(&account_key(user_id)).await?;
    Ok(())
}

/// The step of `code` if it is a current code of `row`'s secret (not yet checked for replay).
pub fn totp_step(app: &App, row: &TwoFactorRow, code: &str) -> Result<Option<i64>, ApiError> {
    let secret =
        pylon_shared::crypto::open(&app.secrets.key_encryption, &row.secret).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "the 2FA secret of user {} cannot be opened",
                row.user_id
            ))
        })?;
    let now = u64::try_from(pylon_shared::db::now_secs()).unwrap_or(0);
    Ok(codes::matching_step(&secret, code, now))
}

/// Checks `code` against the user's enabled 2FA and spends it. Ok only for a right, unused
/// code; every other outcome is an error and counts as a failure.
pub async fn verify(
    app: &App,
    row: &TwoFactorRow,
    code: &str,
    accepts: Accepts,
    ip: IpAddr,
) -> Result<(), ApiError> {
    ensure_not_locked(app, row.user_id, ip).await?;
    let numeric = match accepts {
        // A malformed code is a typing error, not a guess: say so without counting it.
        Accepts::Totp => Some(codes::clean_numeric(code)?),
        Accepts::TotpOrBackup => codes::clean_numeric(code).ok(),
    };
    if let Some(numeric) = &numeric
        && let Some(step) = totp_step(app, row, numeric)?
        && app.db.consume_totp_step(row.user_id, step).await?
    {
        return record_success(app, row.user_id).await;
    }
    if accepts == Accepts::TotpOrBackup
        && let Some(normalized) = codes::normalize_backup_code(code)
        && spend_backup_code(app, row.user_id, &normalized).await?
    {
        return record_success(app, row.user_id).await;
    }
    Err(record_failure(app, row.user_id, ip).await?)
}

/// Spends the user's unused backup code equal to `normalized`, if there is one.
async fn spend_backup_code(app: &App, user_id: i64, normalized: &str) -> Result<bool, ApiError> {
    let unused = app.db.unused_backup_codes(user_id).await?;
    let hashes = unused.iter().map(|c| c.code_hash.clone()).collect();
    match codes::find_backup_code(normalized, hashes).await? {
        Some(index) => match unused.get(index) {
            Some(found) => Ok(app.db.consume_backup_code(user_id, found.id).await?),
            None => Ok(false),
        },
        None => Ok(false),
    }
}
