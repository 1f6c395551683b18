//! new-api's comparison of prices (its `buildDifferences`): for every model and price field
//! where some upstream disagrees with the prices in force, the current value, each upstream's
//! value (`"same"` when it agrees, `null` when it has none) and whether that value is trusted.
//! A model charged per request (`model_price`) is compared by that price alone, and a model with
//! neither a price nor a ratio is left out, on both sides. An upstream quoting new-api's
//! fallback (ratio 37.5 with completion ratio 1) for a model is not trusted for it.

use super::FIELDS;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Values closer than this are equal (new-api's epsilon).
const EPSILON: f64 = 1e-9;

/// One source's prices: field → model → value.
pub type Prices = BTreeMap<String, BTreeMap<String, f64>>;

/// The ratio config shape as [`Prices`], keeping only non-negative numbers and only the
/// values that price each model (see the module's doc).
pub fn effective(config: &Map<String, Value>) -> Prices {
    let mut prices: Prices = FIELDS
        .iter()
        .map(|(_, field)| {
            let table = config
                .get(*field)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(model, v)| {
                    let v = v.as_f64().filter(|v| v.is_finite() && *v >= 0.0)?;
                    Some((model.clone(), v))
                })
                .collect();
            (field.to_string(), table)
        })
        .collect();
    let models: BTreeSet<String> = prices.values().flat_map(|t| t.keys().cloned()).collect();
    for model in models {
        let fixed = prices["model_price"].contains_key(&model);
        let by_tokens = prices["model_ratio"].contains_key(&model);
        for (field, table) in prices.iter_mut() {
            if (fixed && field != "model_price") || (!fixed && !by_tokens) {
                table.remove(&model);
            }
        }
    }
    prices
}

fn equal(a: f64, b: f64) -> bool {
    (a - b).abs() < EPSILON
}

/// Whether `source` is trusted for `model`: not new-api's unpriced fallback.
fn trusted(source: &Prices, model: &str) -> bool {
    let ratio = source.get("model_ratio").and_then(|t| t.get(model));
    let completion = source.get("completion_ratio").and_then(|t| t.get(model));
    !matches!((ratio, completion), (Some(r), Some(c)) if equal(*r, 37.5) && equal(*c, 1.0))
}

/// One field of one model where some upstream disagrees: the current value, each upstream's
/// value and whether it is trusted.
type Found = (Option<f64>, Map<String, Value>, Map<String, Value>);

/// Every disagreement between `local` and the named `upstreams`.
pub fn differences(local: &Prices, upstreams: &[(String, Prices)]) -> Map<String, Value> {
    let models: BTreeSet<&String> = std::iter::once(local)
        .chain(upstreams.iter().map(|(_, p)| p))
        .flat_map(|p| p.values().flat_map(BTreeMap::keys))
        .collect();
    let mut found: BTreeMap<String, BTreeMap<String, Found>> = BTreeMap::new();
    for model in models {
        for (_, field) in FIELDS {
            let current = local.get(field).and_then(|t| t.get(model)).copied();
            let (mut values, mut confidence) = (Map::new(), Map::new());
            let (mut any_value, mut differs) = (false, false);
            for (name, prices) in upstreams {
                let theirs = prices.get(field).and_then(|t| t.get(model)).copied();
                let shown = match (current, theirs) {
                    (_, Some(v)) => {
                        any_value = true;
                        match current {
                            Some(c) if equal(c, v) => json!("same"),
                            _ => {
                                differs = true;
                                json!(v)
                            }
                        }
                    }
                    (None, None) => json!("same"),
                    (Some(_), None) => Value::Null,
                };
                values.insert(name.clone(), shown);
                confidence.insert(name.clone(), json!(trusted(prices, model)));
            }
            let include = if current.is_some() {
                differs
            } else {
                any_value
            };
            if include {
                found
                    .entry(model.clone())
                    .or_default()
                    .insert(field.to_string(), (current, values, confidence));
            }
        }
    }
    // An upstream that agrees on everything is left out of every entry.
    let disagreeing: BTreeSet<String> = found
        .values()
        .flat_map(|fields| fields.values())
        .flat_map(|(_, values, _)| values.iter())
        .filter(|(_, v)| !v.is_null() && **v != json!("same"))
        .map(|(name, _)| name.clone())
        .collect();
    let mut answer = Map::new();
    for (model, fields) in found {
        let mut entry = Map::new();
        for (field, (current, mut values, mut confidence)) in fields {
            values.retain(|name, _| disagreeing.contains(name));
            confidence.retain(|name, _| disagreeing.contains(name));
            if values.is_empty() || values.values().all(|v| *v == json!("same")) {
                continue;
            }
            entry.insert(
                field,
                json!({"current": current, "upstreams": values, "confidence": confidence}),
            );
        }
        if !entry.is_empty() {
            answer.insert(model, Value::Object(entry));
        }
    }
    answer
}

/// The fields of `prices` that price `model`.
fn values_of(prices: &Prices, model: &str) -> Map<String, Value> {
    prices
        .iter()
        .filter_map(|(field, table)| Some((field.clone(), json!(table.get(model)?))))
        .collect()
}

/// For each model of `differences`: its prices in force and each upstream's that prices it.
pub fn prices_of(
    differences: &Map<String, Value>,
    local: &Prices,
    upstreams: &[(String, Prices)],
) -> Map<String, Value> {
    differences
        .keys()
        .map(|model| {
            let theirs: Map<String, Value> = upstreams
                .iter()
                .map(|(name, prices)| (name.clone(), values_of(prices, model)))
                .filter(|(_, v)| v.contains_key("model_ratio") || v.contains_key("model_price"))
                .map(|(name, v)| (name, Value::Object(v)))
                .collect();
            (
                model.clone(),
                json!({"current": values_of(local, model), "upstreams": theirs}),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(config: Value) -> Prices {
        effective(config.as_object().unwrap())
    }

    #[test]
    fn only_disagreements_are_listed() {
        let local = prices(json!({"model_ratio": {"a": 1, "b": 2, "c": 3},
            "completion_ratio": {"a": 4}, "model_price": {"p": 0.01, "b": 0.5}}));
        let same = prices(json!({"model_ratio": {"a": 1}}));
        let other = prices(json!({"model_ratio": {"a": 1.5, "n": 37.5},
            "completion_ratio": {"a": 4, "n": 1}, "model_price": {"p": 0.01}}));
        let upstreams = vec![("same".to_string(), same), ("other(2)".to_string(), other)];
        let found = differences(&local, &upstreams);
        assert_eq!(
            Value::Object(found.clone()),
            json!({
                "a": {"model_ratio": {"current": 1.0, "upstreams": {"other(2)": 1.5},
                    "confidence": {"other(2)": true}}},
                "n": {"model_ratio": {"current": null, "upstreams": {"other(2)": 37.5},
                        "confidence": {"other(2)": false}},
                      "completion_ratio": {"current": null, "upstreams": {"other(2)": 1.0},
                        "confidence": {"other(2)": false}}}
            })
        );
        let shown = prices_of(&found, &local, &upstreams);
        assert_eq!(
            shown["a"]["current"],
            json!({"model_ratio": 1.0, "completion_ratio": 4.0})
        );
        assert_eq!(
            shown["a"]["upstreams"]["other(2)"]["model_ratio"],
            json!(1.5)
        );
    }
}
