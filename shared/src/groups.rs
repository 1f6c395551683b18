//! The groups a user may pick beyond their own: new-api's option `UserUsableGroups`
//! (`{group: description}`), with new-api's default when the operator set none. The control
//! plane lists and edits them; the proxy checks the group a playground request names.

use std::collections::BTreeMap;

/// Option key: `{group: description}` of the groups users may choose.
pub const OPTION_USABLE_GROUPS: &str = "UserUsableGroups";

/// new-api's `UserUsableGroups` when the operator set none.
pub const DEFAULT_USABLE_GROUPS: [(&str, &str); 2] = [("default", "默认分组"), ("vip", "vip分组")];

/// The usable groups of the stored option (`None`: not set, new-api's default), with their
/// descriptions; an option that is not a JSON object reads as the default.
pub fn usable_groups(stored: Option<&str>) -> BTreeMap<String, String> {
    stored
        .and_then(|text| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).ok()
        })
        .map(|map| {
            map.into_iter()
                .map(|(name, desc)| {
                    let desc = match desc {
                        serde_json::Value::String(text) => text,
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (name, desc)
                })
                .collect()
        })
        .unwrap_or_else(|| {
            DEFAULT_USABLE_GROUPS
                .iter()
                .map(|(name, desc)| ((*name).to_string(), (*desc).to_string()))
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_or_the_default() {
        assert_eq!(
            usable_groups(None).keys().collect::<Vec<_>>(),
            ["default", "vip"]
        );
        assert_eq!(
            usable_groups(Some(r#"{"pro": "Pro"}"#))
                .keys()
                .collect::<Vec<_>>(),
            ["pro"]
        );
        assert!(usable_groups(Some("{}")).is_empty());
        assert_eq!(usable_groups(Some("not json")).len(), 2);
    }
}
