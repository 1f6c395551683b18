//! The price table Pylon ships: the widely used models of OpenAI, Anthropic, Google Gemini,
//! DeepSeek, Qwen, xAI, Mistral and Zhipu, in new-api's terms, kept as data in
//! `defaults.json` (one object per option: `ModelRatio`, `CompletionRatio`, `CacheRatio` for
//! cache reads, `CreateCacheRatio` for cache writes, `ModelPrice` in USD per request, with
//! new-api's default prices of the Midjourney actions: `mj_imagine`, `mj_upscale`, ..., and of
//! Suno's `suno_music` and `suno_lyrics`).
//!
//! A ratio of 1 is $2 per million prompt tokens, so a model's ratio is half its USD input
//! price per million tokens; its completion ratio is output price / input price, its cache
//! ratios cache read (write) price / input price. The operator's options override these model
//! by model (see [`super::PriceTable::from_options`]).

use std::sync::LazyLock;

use super::PriceTable;

/// The shipped table, parsed once.
static DEFAULTS: LazyLock<PriceTable> = LazyLock::new(|| {
    let options = options();
    let (table, problems) =
        PriceTable::parse(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    debug_assert!(problems.is_empty(), "defaults.json: {problems:?}");
    table
});

/// The shipped table.
pub(super) fn table() -> &'static PriceTable {
    &DEFAULTS
}

/// `defaults.json` as `(option key, JSON value)` pairs.
fn options() -> Vec<(String, String)> {
    let all: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(include_str!("defaults.json")).unwrap_or_default();
    all.into_iter()
        .map(|(key, value)| (key, value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_every_token_model_has_a_completion_ratio() {
        let options = options();
        let (table, problems) =
            PriceTable::parse(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(table.model_ratio.len() >= 40, "the common families");
        for model in table.model_ratio.keys() {
            assert!(
                table.completion_ratio.contains_key(model) || model.starts_with("text-embedding"),
                "{model} has no completion ratio"
            );
        }
        for model in table
            .cache_ratio
            .keys()
            .chain(table.create_cache_ratio.keys())
        {
            assert!(table.model_ratio.contains_key(model), "{model} unpriced");
        }
    }
}
