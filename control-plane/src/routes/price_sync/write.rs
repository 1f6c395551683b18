//! Writes model prices into the price options (`ModelRatio`, `CompletionRatio`, ...), the one
//! source the relay charges by: every option touched changes at once, and only if none changed
//! since the snapshot the caller read (a compare-and-set), so a concurrent price edit is never
//! overwritten.

use crate::app::App;
use crate::settings::Options;
use pylon_shared::db::{DbError, OptionSwap};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// One model's entry in one price option: set to a value, or removed (`None`).
pub(crate) struct PriceEntry {
    pub option: &'static str,
    pub model: String,
    pub value: Option<Number>,
}

/// Applies `entries` over the price options of `options`; false (nothing written) when one of
/// them changed since.
pub(crate) async fn write_prices(
    app: &App,
    options: &Options,
    entries: &[PriceEntry],
) -> Result<bool, DbError> {
    let mut tables: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for entry in entries {
        let table = tables.entry(entry.option).or_insert_with(|| {
            options
                .get(entry.option)
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default()
        });
        match &entry.value {
            Some(value) => table.insert(entry.model.clone(), Value::Number(value.clone())),
            None => table.remove(&entry.model),
        };
    }
    let texts: Vec<(&str, String)> = tables
        .into_iter()
        .map(|(option, table)| (option, Value::Object(table).to_string()))
        .collect();
    let swaps: Vec<OptionSwap<'_>> = texts
        .iter()
        .map(|(option, text)| OptionSwap {
            key: option,
            old: options.get(option),
            new: text,
        })
        .collect();
    app.settings.swap(&app.db, &app.changes, &swaps).await
}
