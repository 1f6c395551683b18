//! The pricing options the relay bills with. A bad value would make it misprice every request,
//! so each must be a JSON object mapping names (models, or groups for `GroupRatio`) to
//! non-negative numbers before it is stored.

use crate::error::ApiError;
use serde_json::Value;

/// Options holding a name -> number table.
const PRICING_OPTIONS: [&str; 5] = [
    "ModelRatio",
    "CompletionRatio",
    "ModelPrice",
    "GroupRatio",
    "CacheRatio",
];

/// Checks `value` when `key` is a pricing option.
pub fn check(key: &str, value: &str) -> Result<(), ApiError> {
    if !PRICING_OPTIONS.contains(&key) {
        return Ok(());
    }
    let table: serde_json::Map<String, Value> = serde_json::from_str(value).map_err(|e| {
        ApiError::invalid(format!(
            "{key} must be a JSON object mapping names to non-negative numbers: {e}"
        ))
    })?;
    for (name, ratio) in &table {
        let valid = ratio.as_f64().is_some_and(|r| r.is_finite() && r >= 0.0);
        if !valid {
            return Err(ApiError::invalid(format!(
                "{key}: the value for {name:?} must be a non-negative number, not {ratio}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn pricing_tables_are_checked() {
        assert!(check("ModelRatio", r#"{"gpt-4o": 1.25, "free": 0}"#).is_ok());
        assert!(check("GroupRatio", "{}").is_ok());
        assert!(check("ModelRatio", r#"{"gpt-4o": -1}"#).is_err());
        assert!(check("CacheRatio", r#"{"gpt-4o": "1"}"#).is_err());
        assert!(check("ModelPrice", "[1, 2]").is_err());
        assert!(check("CompletionRatio", "").is_err());
        assert!(check("SystemName", "anything").is_ok());
    }
}
