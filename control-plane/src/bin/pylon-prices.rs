//! `pylon-prices`: refreshes the shipped default price table from LiteLLM's published price
//! file. `pylon-prices LITELLM_JSON [DEFAULTS_JSON]` (the table defaults to
//! `shared/src/pricing/defaults.json`) gives every entry of the table's `ModelRatio`,
//! `CompletionRatio`, `CacheRatio` and `CreateCacheRatio` the value LiteLLM's prices give that
//! model, converted exactly as the price sync converts them
//! ([`pylon_shared::pricing::litellm`]). Entries LiteLLM does not price, and `ModelPrice`
//! (prices per request, which LiteLLM's token prices do not give), keep their values; no entry
//! is added or removed. The table is rewritten in place, line by line, so its order and layout
//! stay; what changed is reported on stderr. Rebuild afterwards: the table is compiled in.

use pylon_shared::pricing::litellm;
use serde_json::{Map, Value};
use std::process::ExitCode;

const DEFAULT_TABLE: &str = "shared/src/pricing/defaults.json";

/// Each option of the table with the ratio config field LiteLLM's prices fill.
const OPTIONS: [(&str, &str); 4] = [
    ("ModelRatio", "model_ratio"),
    ("CompletionRatio", "completion_ratio"),
    ("CacheRatio", "cache_ratio"),
    ("CreateCacheRatio", "create_cache_ratio"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(source) = args.first() else {
        eprintln!("usage: pylon-prices LITELLM_JSON [DEFAULTS_JSON]");
        return ExitCode::from(2);
    };
    let table = args.get(1).map_or(DEFAULT_TABLE, String::as_str);
    match run(source, table) {
        Ok(changed) => {
            eprintln!("{table}: {changed} price(s) changed");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pylon-prices: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(source: &str, table: &str) -> Result<usize, String> {
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    let models: Map<String, Value> = serde_json::from_str(&read(source)?)
        .map_err(|e| format!("{source} is not a JSON object: {e}"))?;
    if !litellm::recognises(&models) {
        return Err(format!("{source} is not LiteLLM's price file"));
    }
    let (text, changes) = refresh(&read(table)?, &litellm::ratios(&models));
    for change in &changes {
        eprintln!("{change}");
    }
    std::fs::write(table, text).map_err(|e| format!("{table}: {e}"))?;
    Ok(changes.len())
}

/// `table` (one `"model": value` entry a line, inside one object per option) with LiteLLM's
/// values, and a line describing each change.
fn refresh(table: &str, ratios: &Map<String, Value>) -> (String, Vec<String>) {
    let mut field: Option<&str> = None;
    let mut changes = Vec::new();
    let mut out = String::with_capacity(table.len());
    for line in table.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(option) = trimmed.strip_suffix(": {").map(|k| k.trim_matches('"')) {
            field = OPTIONS.iter().find(|(o, _)| *o == option).map(|(_, f)| *f);
        }
        let entry = trimmed
            .strip_prefix('"')
            .and_then(|rest| rest.split_once("\": "));
        let new = match (field, entry) {
            (Some(field), Some((model, old))) => ratios
                .get(field)
                .and_then(|t| t.get(model))
                .map(|value| (model, old.trim_end_matches(','), value.to_string())),
            _ => None,
        };
        match new {
            Some((model, old, value)) if old != value => {
                let indent = &line[..line.len() - line.trim_start().len()];
                let comma = if trimmed.ends_with(',') { "," } else { "" };
                let end = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(&format!("{indent}\"{model}\": {value}{comma}{end}"));
                changes.push(format!("{}.{model}: {old} -> {value}", field.unwrap_or("")));
            }
            _ => out.push_str(line),
        }
    }
    (out, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_are_replaced_in_place() {
        let table = "{\n  \"ModelRatio\": {\n    \"a\": 1,\n    \"b\": 2\n  },\n  \"CompletionRatio\": {\n    \"a\": 3\n  },\n  \"ModelPrice\": {\n    \"a\": 9\n  }\n}\n";
        let Value::Object(ratios) = json!({"model_ratio": {"a": 1.25, "c": 5},
            "completion_ratio": {"a": 3}})
        else {
            unreachable!()
        };
        let (text, changes) = refresh(table, &ratios);
        assert_eq!(text, table.replace("\"a\": 1,", "\"a\": 1.25,"));
        assert_eq!(changes, vec!["model_ratio.a: 1 -> 1.25"]);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["ModelRatio"], json!({"a": 1.25, "b": 2}));
    }
}
