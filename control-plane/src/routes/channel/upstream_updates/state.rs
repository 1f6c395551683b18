//! A channel's upstream model update state, kept in new-api's channel `settings` object under
//! its names: `upstream_model_update_check_enabled` (the channel is checked by the "all"
//! routes), `..._last_check_time`, `..._last_detected_models` (listed upstream, not served),
//! `..._last_removed_models` (served, no longer listed) and `..._ignored_models` (names or
//! `regex:` rules never proposed). Every other field of the object is kept as it is.

use serde_json::{Map, Value, json};

const CHECK_ENABLED: &str = "upstream_model_update_check_enabled";
const LAST_CHECK_TIME: &str = "upstream_model_update_last_check_time";
const DETECTED: &str = "upstream_model_update_last_detected_models";
const REMOVED: &str = "upstream_model_update_last_removed_models";
const IGNORED: &str = "upstream_model_update_ignored_models";

/// The `settings` object of one channel.
pub struct UpdateState {
    fields: Map<String, Value>,
}

impl UpdateState {
    /// The state stored in `settings` (empty, or not an object: none).
    pub fn read(settings: &str) -> Self {
        let fields = serde_json::from_str::<Map<String, Value>>(settings).unwrap_or_default();
        Self { fields }
    }

    /// The settings text to store.
    pub fn text(&self) -> String {
        Value::Object(self.fields.clone()).to_string()
    }

    /// Whether the "all" routes check this channel.
    pub fn check_enabled(&self) -> bool {
        self.fields.get(CHECK_ENABLED).and_then(Value::as_bool) == Some(true)
    }

    pub fn detected(&self) -> Vec<String> {
        self.list(DETECTED)
    }

    pub fn removed(&self) -> Vec<String> {
        self.list(REMOVED)
    }

    pub fn ignored(&self) -> Vec<String> {
        self.list(IGNORED)
    }

    pub fn set_last_check_time(&mut self, time: i64) {
        self.fields.insert(LAST_CHECK_TIME.into(), json!(time));
    }

    pub fn set_detected(&mut self, models: &[String]) {
        self.fields.insert(DETECTED.into(), json!(models));
    }

    pub fn set_removed(&mut self, models: &[String]) {
        self.fields.insert(REMOVED.into(), json!(models));
    }

    pub fn set_ignored(&mut self, models: &[String]) {
        self.fields.insert(IGNORED.into(), json!(models));
    }

    fn list(&self, name: &str) -> Vec<String> {
        let names: Vec<&str> = self
            .fields
            .get(name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        super::lists::normalize(&names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_fields_are_kept() {
        let mut state = UpdateState::read(
            r#"{"proxy": "x", "upstream_model_update_check_enabled": true,
                "upstream_model_update_last_detected_models": [" a", "a", "b"]}"#,
        );
        assert!(state.check_enabled());
        assert_eq!(state.detected(), vec!["a", "b"]);
        state.set_removed(&["c".to_string()]);
        let back: Value = serde_json::from_str(&state.text()).unwrap();
        assert_eq!(back["proxy"], json!("x"));
        assert_eq!(back[REMOVED], json!(["c"]));
        assert!(!UpdateState::read("").check_enabled());
        assert_eq!(UpdateState::read("not json").text(), "{}");
    }
}
