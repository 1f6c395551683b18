//! The group options that are not prices: `UserUsableGroups` maps each group a user may pick
//! for their keys to its description (new-api's `map[string]string`). Anything else would be
//! silently ignored by every reader, so it is refused before it is stored.

use crate::error::ApiError;
use serde_json::Value;

use crate::routes::group::records::OPTION_USABLE_GROUPS as USER_USABLE_GROUPS;

/// Checks `value` when `key` is a group option.
pub fn check(key: &str, value: &str) -> Result<(), ApiError> {
    if key != USER_USABLE_GROUPS {
        return Ok(());
    }
    let table: serde_json::Map<String, Value> = serde_json::from_str(value).map_err(|e| {
        ApiError::invalid(format!(
            "{key} must be a JSON object mapping group names to descriptions: {e}"
        ))
    })?;
    for (group, description) in &table {
        if group.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "{key}: group names must not be empty"
            )));
        }
        if !description.is_string() {
            return Err(ApiError::invalid(format!(
                "{key}: the description of {group:?} must be a string, not {description}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn usable_groups_are_objects_of_strings() {
        assert!(check("UserUsableGroups", r#"{"default": "Default", "vip": ""}"#).is_ok());
        assert!(check("UserUsableGroups", "{}").is_ok());
        assert!(check("UserUsableGroups", r#"{"vip": 1}"#).is_err());
        assert!(check("UserUsableGroups", r#"["vip"]"#).is_err());
        assert!(check("UserUsableGroups", r#"{"": "x"}"#).is_err());
        assert!(check("UserUsableGroups", "").is_err());
        assert!(check("SystemName", "anything").is_ok());
    }
}
