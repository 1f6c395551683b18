//! `POST /api/option/migrate_console_setting` (root): moves the console settings of older
//! new-api versions into the `console_setting.*` options, as new-api's `MigrateConsoleSetting`
//! does, for a database carried over from such a version:
//!
//! - `ApiInfo` (a JSON list) becomes `console_setting.api_info`, its first 50 entries;
//! - `Announcements` becomes `console_setting.announcements` as it is;
//! - `FAQ` becomes `console_setting.faq`: each entry's `question` (else `title`) and `answer`
//!   (else `content`), entries missing either dropped, the first 50 kept;
//! - `UptimeKumaUrl` with `UptimeKumaSlug` (both set) become one group of
//!   `console_setting.uptime_kuma_groups` named `old`.
//!
//! The old keys are then removed, the writes and removals in one transaction. A list that does
//! not parse is not moved, and its old key is removed all the same (new-api drops it too; the
//! log names it). Once moved, nothing old is left: a second call changes nothing.

use crate::app::AppState;
use crate::auth::RootUser;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::OptionRemoval;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The keys older new-api versions kept the console settings in.
const OLD_KEYS: [&str; 5] = [
    "ApiInfo",
    "Announcements",
    "FAQ",
    "UptimeKumaUrl",
    "UptimeKumaSlug",
];

/// How many entries of a list new-api keeps.
const MAX_ENTRIES: usize = 50;

/// How often the move is tried again when another writer changed an old key meanwhile.
const ATTEMPTS: usize = 3;

pub async fn migrate(State(app): State<AppState>, RootUser(root): RootUser) -> ApiResult {
    for _ in 0..ATTEMPTS {
        let options = app.settings.now();
        let old: Vec<(&str, &str)> = OLD_KEYS
            .iter()
            .filter_map(|&key| options.get(key).map(|value| (key, value)))
            .collect();
        let plan = plan(&old.iter().copied().collect());
        for key in &plan.dropped {
            tracing::warn!(%key, "console setting does not parse as a JSON list; removed unmoved");
        }
        let writes: Vec<(&str, &str)> = plan
            .writes
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        let removals: Vec<OptionRemoval<'_>> = old
            .iter()
            .map(|&(key, old)| OptionRemoval { key, old })
            .collect();
        if removals.is_empty()
            || app
                .settings
                .relocate(&app.db, &app.changes, &writes, &removals)
                .await?
        {
            tracing::info!(
                root = root.user.id,
                moved = writes.len(),
                removed = removals.len(),
                "console settings migrated"
            );
            return Ok(Json(json!({
                "success": true,
                "message": "Operation successful",
                "data": null,
            }))
            .into_response());
        }
        // Another writer changed an old key between the read and the move: read again.
        app.settings.reload(&app.db).await?;
    }
    Err(ApiError::invalid(
        "The console settings changed while they were moved, please try again",
    ))
}

/// What moving the old keys writes.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// The new options and their values.
    writes: Vec<(&'static str, String)>,
    /// Old keys whose list did not parse (removed without being moved).
    dropped: Vec<&'static str>,
}

/// The new options for the stored old ones (`old`: key -> stored text).
fn plan(old: &HashMap<&str, &str>) -> Plan {
    let mut plan = Plan::default();
    let set = |key: &str| old.get(key).copied().filter(|v| !v.is_empty());
    if let Some(text) = set("ApiInfo") {
        match objects(text) {
            Some(mut entries) => {
                entries.truncate(MAX_ENTRIES);
                plan.writes
                    .push(("console_setting.api_info", list(entries)));
            }
            None => plan.dropped.push("ApiInfo"),
        }
    }
    if let Some(text) = set("Announcements") {
        plan.writes
            .push(("console_setting.announcements", text.to_string()));
    }
    if let Some(text) = set("FAQ") {
        match objects(text) {
            Some(entries) => {
                let faq: Vec<Value> = entries
                    .iter()
                    .filter_map(|entry| {
                        let question = text_of(entry, "question", "title")?;
                        let answer = text_of(entry, "answer", "content")?;
                        Some(json!({ "question": question, "answer": answer }))
                    })
                    .take(MAX_ENTRIES)
                    .collect();
                plan.writes.push(("console_setting.faq", list(faq)));
            }
            None => plan.dropped.push("FAQ"),
        }
    }
    if let (Some(url), Some(slug)) = (set("UptimeKumaUrl"), set("UptimeKumaSlug")) {
        let groups = vec![json!({
            "id": 1,
            "categoryName": "old",
            "url": url,
            "slug": slug,
            "description": "",
        })];
        plan.writes
            .push(("console_setting.uptime_kuma_groups", list(groups)));
    }
    plan
}

/// The entries of a JSON list of objects (`null` entries kept, as Go reads them); `None` when
/// the text is anything else.
fn objects(text: &str) -> Option<Vec<Value>> {
    let Value::Array(entries) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    entries
        .iter()
        .all(|e| e.is_object() || e.is_null())
        .then_some(entries)
}

/// The non-empty string under `key`, else under `fallback`.
fn text_of(entry: &Value, key: &str, fallback: &str) -> Option<String> {
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    field(key).or_else(|| field(fallback))
}

/// The JSON text of a list (object keys sorted, as Go writes maps).
fn list(entries: Vec<Value>) -> String {
    let sorted: Vec<Value> = entries.into_iter().map(sorted).collect();
    Value::Array(sorted).to_string()
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut pairs: Vec<(String, Value)> = fields.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(pairs: &[(&str, &str)]) -> Plan {
        plan(&pairs.iter().copied().collect())
    }

    #[test]
    fn lists_are_moved_in_new_api_shapes() {
        let api_info: Vec<Value> = (0..60).map(|i| json!({"url": format!("u{i}")})).collect();
        let api_info = Value::Array(api_info).to_string();
        let plan = plan_of(&[
            ("ApiInfo", &api_info),
            ("Announcements", "not even json"),
            (
                "FAQ",
                r#"[{"title":"T","content":"C"},{"question":"Q","answer":""},{"question":"Q2","answer":"A2"}]"#,
            ),
            ("UptimeKumaUrl", "https://kuma"),
            ("UptimeKumaSlug", "main"),
        ]);
        assert!(plan.dropped.is_empty());
        let written: HashMap<_, _> = plan.writes.into_iter().collect();
        let moved: Vec<Value> = serde_json::from_str(&written["console_setting.api_info"]).unwrap();
        assert_eq!(moved.len(), MAX_ENTRIES);
        assert_eq!(written["console_setting.announcements"], "not even json");
        assert_eq!(
            written["console_setting.faq"],
            r#"[{"answer":"C","question":"T"},{"answer":"A2","question":"Q2"}]"#
        );
        assert_eq!(
            written["console_setting.uptime_kuma_groups"],
            r#"[{"categoryName":"old","description":"","id":1,"slug":"main","url":"https://kuma"}]"#
        );
    }

    #[test]
    fn unparsable_lists_and_half_uptime_settings_move_nothing() {
        let plan = plan_of(&[
            ("ApiInfo", "{\"not\": \"a list\"}"),
            ("FAQ", "[1, 2]"),
            ("UptimeKumaUrl", "https://kuma"),
            ("UptimeKumaSlug", ""),
        ]);
        assert!(plan.writes.is_empty());
        assert_eq!(plan.dropped, vec!["ApiInfo", "FAQ"]);
        assert_eq!(plan_of(&[]), Plan::default());
    }
}
