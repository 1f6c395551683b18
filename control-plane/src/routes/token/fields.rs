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

/// The most tokens per minute a key's own limit may be (0: no limit).
const MAX_TPM_LIMIT: i64 = 1_000_000_000_000;
/// The stored size of a per-model limit map (the column's width).
const MAX_MODEL_LIMITS_BYTES: usize = 4096;

/// A key's tokens-per-minute limit: 0 (none) to [`MAX_TPM_LIMIT`].
pub(super) fn check_tpm_limit(limit: i64) -> Result<(), ApiError> {
    if (0..=MAX_TPM_LIMIT).contains(&limit) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "tpm_limit must be 0 (no limit) to {MAX_TPM_LIMIT}"
        )))
    }
}

/// A per-model limit map (`model_rpm_limit`, `model_tpm_limit`) as stored: `null` or `{}` is
/// none (empty text); otherwise an object of model names to positive integers up to `max`,
/// stored as compact JSON of at most [`MAX_MODEL_LIMITS_BYTES`].
pub(super) fn model_limit_map(
    field: &str,
    value: &serde_json::Value,
    max: i64,
) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::invalid(format!(
            "{field} must be an object of model names to limits from 1 to {max}"
        ))
    };
    let map = match value {
        serde_json::Value::Null => return Ok(String::new()),
        serde_json::Value::Object(map) => map,
        _ => return Err(invalid()),
    };
    if map.is_empty() {
        return Ok(String::new());
    }
    for (model, limit) in map {
        let in_range = limit.as_i64().is_some_and(|n| (1..=max).contains(&n));
        if model.trim().is_empty() || !in_range {
            return Err(invalid());
        }
    }
    let stored = value.to_string();
    if stored.len() > MAX_MODEL_LIMITS_BYTES {
        return Err(ApiError::invalid(format!(
            "{field} is too long: at most {MAX_MODEL_LIMITS_BYTES} bytes"
        )));
    }
    Ok(stored)
}

/// [`model_limit_map`] for requests per minute.
pub(super) fn model_rpm_limit(value: &serde_json::Value) -> Result<String, ApiError> {
    model_limit_map("model_rpm_limit", value, MAX_RPM_LIMIT)
}

/// [`model_limit_map`] for tokens per minute.
pub(super) fn model_tpm_limit(value: &serde_json::Value) -> Result<String, ApiError> {
    model_limit_map("model_tpm_limit", value, MAX_TPM_LIMIT)
}

/// A stored per-model limit map as the API shows it (an object; `{}` when none).
pub(super) fn model_limit_view(stored: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(stored)
        .ok()
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}))
}

pub(super) fn cross_group_retry(group: &str, requested: bool) -> bool {
    requested && group == AUTO_GROUP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_model_limits_are_objects_of_positive_counts() {
        use serde_json::json;
        assert_eq!(model_rpm_limit(&json!(null)).unwrap(), "");
        assert_eq!(model_rpm_limit(&json!({})).unwrap(), "");
        assert_eq!(
            model_rpm_limit(&json!({"gpt-4o": 10})).unwrap(),
            r#"{"gpt-4o":10}"#
        );
        for bad in [
            json!([1]),
            json!("x"),
            json!({"gpt-4o": 0}),
            json!({"gpt-4o": -1}),
            json!({"gpt-4o": 1.5}),
            json!({"gpt-4o": "10"}),
            json!({"": 10}),
            json!({"m": MAX_RPM_LIMIT + 1}),
        ] {
            assert!(model_rpm_limit(&bad).is_err(), "{bad}");
        }
        let many: serde_json::Map<String, serde_json::Value> = (0..400)
            .map(|i| (format!("model-number-{i}"), json!(1)))
            .collect();
        assert!(model_tpm_limit(&serde_json::Value::Object(many)).is_err());
        assert_eq!(model_limit_view(""), json!({}));
        assert_eq!(model_limit_view(r#"{"m":2}"#), json!({"m": 2}));
    }

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
