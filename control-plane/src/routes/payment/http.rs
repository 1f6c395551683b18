//! The one HTTP client that calls payment gateways' APIs (Stripe, Creem, WeChat Pay), shared
//! so that connections are reused, with a bound on how long a call may take.

use crate::error::ApiError;
use std::sync::OnceLock;
use std::time::Duration;

/// How long a call to a gateway's API may take.
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(15);

/// The client; built on first use.
pub fn client() -> Result<&'static reqwest::Client, ApiError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let built = reqwest::Client::builder()
        .timeout(GATEWAY_TIMEOUT)
        .build()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(CLIENT.get_or_init(|| built))
}
