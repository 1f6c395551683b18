//! The rules a key's settings must follow on create and update, with new-api's messages.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::UserRow;
use pylon_shared::net::IpNet;

/// new-api refuses longer names (it counts bytes).
const MAX_NAME_BYTES: usize = 50;
/// new-api's ceiling on a key's quota: 1 000 000 000 USD at 500 000 quota per USD.
const MAX_QUOTA: i64 = 1_000_000_000 * 500_000;
/// The pseudo-group that picks a group per request; the only one where cross-group retry means
/// anything.
const AUTO_GROUP: &str = "auto";

pub(super) fn check_name(name: &str) -> Result<(), ApiError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid("Token name is too long"));
    }
    Ok(())
}

pub(super) fn check_quota(quota: i64) -> Result<(), ApiError> {
    if quota < 0 {
        return Err(ApiError::invalid("Quota value cannot be negative"));
    }
    if quota > MAX_QUOTA {
        return Err(ApiError::invalid(format!(
            "Quota value exceeds valid range, maximum is {MAX_QUOTA}"
        )));
    }
    Ok(())
}

/// `-1` (never) or a moment in the future.
pub(super) fn check_expiry(expired_time: i64, now: i64) -> Result<(), ApiError> {
    if expired_time == -1 || expired_time > now {
        return Ok(());
    }
    Err(ApiError::invalid(
        "Expiration time cannot be earlier than current time",
    ))
}

/// Every entry (one per line, or comma-separated) must be an IP address or a CIDR network.
pub(super) fn check_allow_ips(allow_ips: &str) -> Result<(), ApiError> {
    for entry in allow_ips
        .split(['\n', ','])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if IpNet::parse(entry).is_none() {
            return Err(ApiError::invalid(format!(
                "Invalid IP address or CIDR: {entry}"
            )));
        }
    }
    Ok(())
}

/// A key may name no group (it then uses its owner's), the owner's own group, or any group the
/// operator priced in the `GroupRatio` option.
pub(super) async fn check_group(app: &App, user: &UserRow, group: &str) -> Result<(), ApiError> {
    if group.is_empty() || group == user.group {
        return Ok(());
    }
    let priced = app
        .settings
        .now()
        .get("GroupRatio")
        .and_then(|json| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).ok()
        })
        .is_some_and(|ratios| ratios.contains_key(group));
    if priced {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "No permission to access group {group}"
    )))
}

/// Cross-group retry is kept only for the `auto` group, as new-api does.
/// The most requests per minute a key's own limit may be (0: no limit).
const MAX_RPM_LIMIT: i64 = 1_000_000;

/// A key's requests-per-minute limit: 0 (none) to [`MAX_RPM_LIMIT`].
pub(super) fn check_rpm_limit(limit: i64) -> Result<(), ApiError> {
    if (0..=MAX_RPM_LIMIT).contains(&limit) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "rpm_limit must be 0 (no limit) to {MAX_RPM_LIMIT}"
        )))
    }
}

pub(super) fn cross_group_retry(group: &str, requested: bool) -> bool {
    requested && group == AUTO_GROUP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_limited_in_bytes() {
        assert!(check_name(&"a".repeat(50)).is_ok());
        assert!(check_name(&"a".repeat(51)).is_err());
        // 17 three-byte characters are 51 bytes.
        assert!(check_name(&"名".repeat(17)).is_err());
    }

    #[test]
    fn quotas_are_bounded() {
        assert!(check_quota(0).is_ok());
        assert!(check_quota(MAX_QUOTA).is_ok());
        assert!(check_quota(-1).is_err());
        assert!(check_quota(MAX_QUOTA + 1).is_err());
    }

    #[test]
    fn expiry_is_never_or_future() {
        assert!(check_expiry(-1, 100).is_ok());
        assert!(check_expiry(101, 100).is_ok());
        assert!(check_expiry(100, 100).is_err());
        assert!(check_expiry(0, 100).is_err());
        assert!(check_expiry(-2, 100).is_err());
    }

    #[test]
    fn allow_lists_hold_addresses_and_networks() {
        assert!(check_allow_ips("").is_ok());
        assert!(check_allow_ips("10.0.0.0/8\n127.0.0.1, ::1\n").is_ok());
        assert!(check_allow_ips("10.0.0.0/33").is_err());
        assert!(check_allow_ips("127.0.0.1\nlocalhost").is_err());
    }

    #[test]
    fn cross_group_retry_only_for_auto() {
        assert!(cross_group_retry("auto", true));
        assert!(!cross_group_retry("default", true));
        assert!(!cross_group_retry("auto", false));
    }
}
