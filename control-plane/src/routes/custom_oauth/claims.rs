//! Reading who signed in from what a provider sent (a user info answer or a JWT's claims):
//! the fields the provider's configuration names, as paths into the JSON (`sub`, `data.user.id`,
//! `groups.0`, new-api's gjson paths in their common form), and the group and role its
//! mappings give.

use super::config::Settings;
use serde_json::{Map, Value};

/// The provider account, as the provider describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalUser {
    /// The provider's stable id of the account.
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
}

/// Who signed in, and what the provider's mappings make of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub user: ExternalUser,
    /// The group the mapping gives (an existing group), or empty.
    pub group: String,
    /// The role the mapping gives (1 or 10), or 0.
    pub role: i64,
}

/// The value at `path` (dot-separated keys; a number indexes an array).
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let path = path.trim();
    if path.is_empty() {
        return None;
    }
    path.split('.')
        .try_fold(value, |current, key| match current {
            Value::Object(fields) => fields.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// A scalar as text (a number as its digits, as gjson's `String()`); empty for anything else.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.trim().to_string(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => String::new(),
    }
}

/// The text at `path`, or empty.
pub fn text_at(value: &Value, path: &str) -> String {
    lookup(value, path).map(text).unwrap_or_default()
}

/// The non-empty texts at `path`: each item of an array, or the one scalar.
pub fn candidates_at(value: &Value, path: &str) -> Vec<String> {
    match lookup(value, path) {
        Some(Value::Array(items)) => items.iter().map(text).filter(|t| !t.is_empty()).collect(),
        Some(scalar) => Some(text(scalar))
            .filter(|t| !t.is_empty())
            .into_iter()
            .collect(),
        None => Vec::new(),
    }
}

/// The account the provider described in `claims`, per the provider's field mapping.
pub fn external_user(claims: &Value, settings: &Settings) -> ExternalUser {
    ExternalUser {
        id: text_at(claims, &settings.user_id_field),
        username: text_at(claims, &settings.username_field),
        display_name: text_at(claims, &settings.display_name_field),
        email: text_at(claims, &settings.email_field),
    }
}

/// The group the first of `candidates` maps to that is one of `known` groups: the mapping's
/// target, or (in `mapping_first` mode) an unmapped candidate that is itself a known group.
pub fn mapped_group(
    candidates: &[String],
    settings: &Settings,
    known: &dyn Fn(&str) -> bool,
) -> String {
    let mapping = string_mapping(&settings.group_mapping);
    let mapping_first = settings.group_mapping_mode == "mapping_first";
    for candidate in candidates {
        match mapping.get(candidate) {
            Some(mapped) if known(mapped) => return mapped.clone(),
            Some(_) => continue,
            None if mapping_first && known(candidate) => return candidate.clone(),
            None => {}
        }
    }
    String::new()
}

/// The role (1 or 10) the first of `candidates` maps to, or 0.
pub fn mapped_role(candidates: &[String], settings: &Settings) -> i64 {
    let mapping = string_mapping(&settings.role_mapping);
    let mapping_first = settings.role_mapping_mode == "mapping_first";
    for candidate in candidates {
        match mapping.get(candidate) {
            Some(mapped) => {
                if let Some(role) = role_of(mapped) {
                    return role;
                }
            }
            None if mapping_first => {
                if let Some(role) = role_of(candidate) {
                    return role;
                }
            }
            None => {}
        }
    }
    0
}

/// new-api's role names: a common user (1) or an administrator (10); never root.
fn role_of(name: &str) -> Option<i64> {
    match name.trim().to_lowercase().as_str() {
        "common" | "user" | "member" | "1" => Some(pylon_shared::roles::ROLE_COMMON),
        "admin" | "administrator" | "10" => Some(pylon_shared::roles::ROLE_ADMIN),
        _ => None,
    }
}

/// A JSON object of texts (`{"external": "internal"}`), keys and values trimmed; anything
/// unreadable is no mapping.
fn string_mapping(raw: &str) -> std::collections::HashMap<String, String> {
    serde_json::from_str::<Map<String, Value>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.trim().to_string(),
                other => other.to_string(),
            };
            let key = key.trim().to_string();
            (!key.is_empty() && !value.is_empty()).then_some((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_nested_fields_and_numbers_read_as_text() {
        let claims = json!({"sub": 42, "data": {"user": {"name": " Ada "}},
            "groups": ["eng", "ops"], "ok": true});
        assert_eq!(text_at(&claims, "sub"), "42");
        assert_eq!(text_at(&claims, "data.user.name"), "Ada");
        assert_eq!(text_at(&claims, "groups.1"), "ops");
        assert_eq!(text_at(&claims, "groups"), "");
        assert_eq!(text_at(&claims, "missing.path"), "");
        assert_eq!(text_at(&claims, ""), "");
        assert_eq!(candidates_at(&claims, "groups"), vec!["eng", "ops"]);
        assert_eq!(candidates_at(&claims, "ok"), vec!["true"]);
        assert!(candidates_at(&claims, "none").is_empty());
    }

    #[test]
    fn mappings_follow_their_mode() {
        let known = |group: &str| matches!(group, "vip" | "default" | "eng");
        let mut settings = Settings {
            group_mapping: r#"{"staff": "vip", "ghost": "nowhere"}"#.into(),
            group_mapping_mode: "explicit_only".into(),
            role_mapping: r#"{"root-ish": "admin"}"#.into(),
            role_mapping_mode: "explicit_only".into(),
            ..Settings::default()
        };
        let groups = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            mapped_group(&groups(&["ghost", "staff"]), &settings, &known),
            "vip"
        );
        assert_eq!(mapped_group(&groups(&["eng"]), &settings, &known), "");
        settings.group_mapping_mode = "mapping_first".into();
        assert_eq!(mapped_group(&groups(&["eng"]), &settings, &known), "eng");
        assert_eq!(mapped_role(&groups(&["root-ish"]), &settings), 10);
        assert_eq!(mapped_role(&groups(&["admin"]), &settings), 0);
        settings.role_mapping_mode = "mapping_first".into();
        assert_eq!(mapped_role(&groups(&["admin"]), &settings), 10);
        assert_eq!(mapped_role(&groups(&["100"]), &settings), 0);
    }
}
