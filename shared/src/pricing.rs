//! new-api compatible billing math: the price options (`ModelRatio`, `CompletionRatio`,
//! `ModelPrice`, `GroupRatio`, `GroupGroupRatio`, `CacheRatio`, `CreateCacheRatio`,
//! `ImageRatio`, `ImageCompletionRatio`) laid over
//! the shipped default prices ([`defaults`]) into a [`PriceTable`], and the quota a request
//! costs. Pure and allocation-free on the hot path.
//!
//! Units, as in new-api: 500 000 quota = 1 USD ([`QUOTA_PER_UNIT`]); model ratio 1 means
//! $0.002 per 1K prompt tokens, i.e. one quota per prompt token. A model neither the operator
//! nor the defaults price is refused, unless the operator turned on self-use mode
//! (`SelfUseModeEnabled`): then it costs new-api's fallback ratio, 37.5.

mod admission;
mod decimal;
mod defaults;
mod estimate;
pub mod litellm;
mod multiplier;
#[cfg(test)]
mod tests;
mod usage_check;

pub use admission::{Bounds, RequestUnits};
pub use estimate::{MediaBounds, estimate_prompt};
pub use multiplier::{
    GROUP_MULTIPLIERS_MAX, GroupMultipliers, MULTIPLIER_MAX, MULTIPLIER_MAX_DECIMALS, Multiplier,
};
pub use usage_check::{UsageCheck, check_usage};

use std::collections::HashMap;

use crate::roles::QUOTA_PER_UNIT;
use decimal::Dec;

/// Option key: `{model: ratio}`; ratio 1 = $0.002 / 1K prompt tokens.
pub const OPTION_MODEL_RATIO: &str = "ModelRatio";
/// Option key: `{model: ratio}` of completion to prompt token price (1 when absent).
pub const OPTION_COMPLETION_RATIO: &str = "CompletionRatio";
/// Option key: `{model: USD per request}`; takes precedence over the ratios.
pub const OPTION_MODEL_PRICE: &str = "ModelPrice";
/// Option key: `{group: ratio}` multiplying every price (1 for groups not listed).
pub const OPTION_GROUP_RATIO: &str = "GroupRatio";
/// Option key: `{user group: {using group: ratio}}` overriding `GroupRatio` for users of one
/// group calling through another.
pub const OPTION_GROUP_GROUP_RATIO: &str = "GroupGroupRatio";
/// Option key: `{model: ratio}` for cached prompt tokens relative to ordinary ones (1 when
/// absent).
pub const OPTION_CACHE_RATIO: &str = "CacheRatio";
/// Option key: `{model: ratio}` for prompt tokens written to the provider's cache, relative to
/// ordinary ones ([`DEFAULT_CREATE_CACHE_RATIO`] when absent).
pub const OPTION_CREATE_CACHE_RATIO: &str = "CreateCacheRatio";
/// The cache write ratio of a model `CreateCacheRatio` does not list (new-api's
/// `GetCreateCacheRatio` fallback: Anthropic's 5-minute cache write price).
pub const DEFAULT_CREATE_CACHE_RATIO: f64 = 1.25;
/// Option key: `{model: ratio}` of an image token relative to a prompt token (new-api's; here
/// the price of image output when `ImageCompletionRatio` does not list the model).
pub const OPTION_IMAGE_RATIO: &str = "ImageRatio";
/// Option key: `{model: ratio}` of an image output token relative to a prompt token.
pub const OPTION_IMAGE_COMPLETION_RATIO: &str = "ImageCompletionRatio";
/// Option key: `"true"` prices every model the table lacks at [`SELF_USE_MODEL_RATIO`].
pub const OPTION_SELF_USE_MODE: &str = "SelfUseModeEnabled";
/// The model ratio of an unpriced model in self-use mode (new-api's `GetModelRatio` fallback).
pub const SELF_USE_MODEL_RATIO: f64 = 37.5;

/// The model key new-api consults for any `*-openai-compact` model that has no entry of its own.
const COMPACT_SUFFIX: &str = "-openai-compact";
const COMPACT_WILDCARD: &str = "*-openai-compact";

/// Token counts of one request, as the upstream reported them (or as estimated).
///
/// `prompt_tokens` includes `cached_tokens` and `cache_creation_tokens` (OpenAI's convention);
/// Anthropic's separate counts are folded in by the usage readers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub prompt_tokens: i64,
    /// Generated tokens (reasoning included).
    pub completion_tokens: i64,
    /// The part of `prompt_tokens` served from the provider's prompt cache.
    pub cached_tokens: i64,
    /// The part of `prompt_tokens` written to the provider's prompt cache (Anthropic's
    /// `cache_creation_input_tokens`).
    pub cache_creation_tokens: i64,
    /// The part of `completion_tokens` that is image output (Gemini image models report it
    /// per modality), priced at the image output ratio instead of the completion ratio.
    pub image_output_tokens: i64,
}

/// The prices configured in the options, parsed once per options change.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    model_ratio: HashMap<String, f64>,
    completion_ratio: HashMap<String, f64>,
    model_price: HashMap<String, f64>,
    group_ratio: HashMap<String, f64>,
    group_group_ratio: HashMap<String, HashMap<String, f64>>,
    cache_ratio: HashMap<String, f64>,
    create_cache_ratio: HashMap<String, f64>,
    image_ratio: HashMap<String, f64>,
    image_completion_ratio: HashMap<String, f64>,
    /// Self-use mode: unpriced models cost [`SELF_USE_MODEL_RATIO`].
    self_use: bool,
}

/// A model's rates as new-api's pricing page shows them (before any group ratio).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// 1 when charged per request (`model_price`), 0 when by tokens.
    pub quota_type: i64,
    /// Quota per prompt token (new-api's fallback 37.5 when unpriced).
    pub model_ratio: f64,
    /// USD per request; 0 when charged by tokens.
    pub model_price: f64,
    /// Completion token price relative to a prompt token.
    pub completion_ratio: f64,
    /// Cache read price relative to a prompt token, when set.
    pub cache_ratio: Option<f64>,
    /// Cache write price relative to a prompt token, when set.
    pub create_cache_ratio: Option<f64>,
    /// Whether the model is priced (by the operator, the defaults or self-use mode).
    pub priced: bool,
}

/// How one model is charged for one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Price {
    /// A fixed price per request (`ModelPrice`), group ratio already applied.
    PerRequest {
        /// Quota charged per request: `round(model_price * 500 000 * group_ratio)`.
        quota: i64,
        /// The configured USD price per request.
        model_price: f64,
        /// The group ratio that was applied.
        group_ratio: f64,
        /// Seed 001's multiplier of the channel (and user channel) that serves the request,
        /// already applied to `quota` ([`Price::with_multiplier`]).
        multiplier: Multiplier,
    },
    /// Charged by tokens (`ModelRatio` and friends).
    PerToken {
        /// Quota per prompt token before the group ratio.
        model_ratio: f64,
        /// Completion token price relative to a prompt token.
        completion_ratio: f64,
        /// Cached prompt token price relative to an ordinary prompt token.
        cache_ratio: f64,
        /// Price of a prompt token written to the cache relative to an ordinary one.
        create_cache_ratio: f64,
        /// Price of an image output token relative to a prompt token (new-api's order:
        /// `ImageCompletionRatio`, else `ImageRatio`, else 1).
        image_output_ratio: f64,
        /// Multiplier of the caller's group.
        group_ratio: f64,
        /// Seed 001's multiplier of the channel (and user channel) that serves the request.
        multiplier: Multiplier,
    },
}

impl PriceTable {
    /// The operator's price options (all `(key, value)` rows of the `options` table; other keys
    /// are ignored) laid over the shipped defaults, model by model: an operator's entry replaces
    /// the default for that model in that option, and a model the operator prices by
    /// `ModelRatio` alone loses a default `ModelPrice`. A malformed option contributes nothing
    /// (as if absent) and is described in the returned problems, as is every negative ratio or
    /// price (the entry is dropped), so the caller can log them or keep serving its previous
    /// table. An empty value means `{}`.
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (PriceTable, Vec<String>) {
        let (operator, problems) = PriceTable::parse(options);
        (defaults::table().clone().overlaid(operator), problems)
    }

    /// The table of the given options alone, without the defaults.
    fn parse<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (PriceTable, Vec<String>) {
        let mut table = PriceTable::default();
        let mut problems = Vec::new();
        for (key, value) in options {
            let target = match key {
                OPTION_MODEL_RATIO => &mut table.model_ratio,
                OPTION_COMPLETION_RATIO => &mut table.completion_ratio,
                OPTION_MODEL_PRICE => &mut table.model_price,
                OPTION_GROUP_RATIO => &mut table.group_ratio,
                OPTION_CACHE_RATIO => &mut table.cache_ratio,
                OPTION_CREATE_CACHE_RATIO => &mut table.create_cache_ratio,
                OPTION_IMAGE_RATIO => &mut table.image_ratio,
                OPTION_IMAGE_COMPLETION_RATIO => &mut table.image_completion_ratio,
                OPTION_SELF_USE_MODE => {
                    table.self_use = value.trim() == "true";
                    continue;
                }
                OPTION_GROUP_GROUP_RATIO => {
                    table.group_group_ratio = parse_nested(key, value, &mut problems);
                    continue;
                }
                _ => continue,
            };
            *target = parse_flat(key, value, &mut problems);
        }
        (table, problems)
    }

    /// `self` (the defaults) with `operator`'s entries laid over it.
    fn overlaid(mut self, operator: PriceTable) -> PriceTable {
        for name in operator.model_ratio.keys() {
            if !operator.model_price.contains_key(name) {
                self.model_price.remove(name);
            }
        }
        self.model_ratio.extend(operator.model_ratio);
        self.completion_ratio.extend(operator.completion_ratio);
        self.model_price.extend(operator.model_price);
        self.cache_ratio.extend(operator.cache_ratio);
        self.create_cache_ratio.extend(operator.create_cache_ratio);
        self.image_ratio.extend(operator.image_ratio);
        self.image_completion_ratio
            .extend(operator.image_completion_ratio);
        self.group_ratio.extend(operator.group_ratio);
        self.group_group_ratio.extend(operator.group_group_ratio);
        self.self_use = operator.self_use;
        self
    }

    /// How `model` is charged for a caller whose own group is also the group it calls through
    /// (the usual case); `None` when the model has no price configured.
    pub fn price(&self, model: &str, group: &str) -> Option<Price> {
        self.price_for(model, group, group)
    }

    /// How `model` is charged for a user of `user_group` calling through `using_group`:
    /// `GroupGroupRatio[user_group][using_group]` when set, else `GroupRatio[using_group]`.
    pub fn price_for(&self, model: &str, user_group: &str, using_group: &str) -> Option<Price> {
        let group_ratio = self.group_ratio_for(user_group, using_group);
        let name = matching_name(model);
        if let Some(&model_price) = lookup(&self.model_price, name) {
            return Some(Price::PerRequest {
                quota: per_request_quota(model_price, group_ratio, Multiplier::ONE),
                model_price,
                group_ratio,
                multiplier: Multiplier::ONE,
            });
        }
        let model_ratio = self.model_ratio_of(name)?;
        Some(Price::PerToken {
            model_ratio,
            completion_ratio: self.completion_ratio.get(name).copied().unwrap_or(1.0),
            // new-api looks the cache ratio up by the model name as requested, unnormalised.
            cache_ratio: self.cache_ratio.get(model).copied().unwrap_or(1.0),
            create_cache_ratio: self
                .create_cache_ratio
                .get(model)
                .copied()
                .unwrap_or(DEFAULT_CREATE_CACHE_RATIO),
            image_output_ratio: self.image_output_ratio(name),
            group_ratio,
            multiplier: Multiplier::ONE,
        })
    }

    /// The price of an image output token relative to a prompt token: `ImageCompletionRatio`,
    /// else `ImageRatio`, else 1 (new-api's fallback order; 0 or less counts as unset).
    fn image_output_ratio(&self, name: &str) -> f64 {
        [&self.image_completion_ratio, &self.image_ratio]
            .into_iter()
            .filter_map(|ratios| ratios.get(name).copied())
            .find(|ratio| *ratio > 0.0)
            .unwrap_or(1.0)
    }

    /// The model ratio of a normalised name: configured, else the self-use fallback.
    fn model_ratio_of(&self, name: &str) -> Option<f64> {
        match lookup(&self.model_ratio, name) {
            Some(&ratio) => Some(ratio),
            None => self.self_use.then_some(SELF_USE_MODEL_RATIO),
        }
    }

    /// `model`'s rates as new-api's pricing page lists them: its price per request when it has
    /// one, else its ratios (new-api's 37.5 when unpriced, with `priced` false).
    pub fn rates(&self, model: &str) -> Rates {
        let name = matching_name(model);
        let cache_ratio = self.cache_ratio.get(model).copied();
        let create_cache_ratio = self.create_cache_ratio.get(model).copied();
        if let Some(&model_price) = lookup(&self.model_price, name) {
            return Rates {
                quota_type: 1,
                model_ratio: 0.0,
                model_price,
                completion_ratio: 0.0,
                cache_ratio,
                create_cache_ratio,
                priced: true,
            };
        }
        let model_ratio = self.model_ratio_of(name);
        Rates {
            quota_type: 0,
            model_ratio: model_ratio.unwrap_or(SELF_USE_MODEL_RATIO),
            model_price: 0.0,
            completion_ratio: self.completion_ratio.get(name).copied().unwrap_or(1.0),
            cache_ratio,
            create_cache_ratio,
            priced: model_ratio.is_some(),
        }
    }

    /// Every group of `GroupRatio` with its ratio.
    pub fn group_ratios(&self) -> impl Iterator<Item = (&str, f64)> {
        self.group_ratio.iter().map(|(g, r)| (g.as_str(), *r))
    }

    /// The ratio of `group` (`GroupRatio`), 1 for groups not listed.
    pub fn group_ratio(&self, group: &str) -> f64 {
        self.group_ratio.get(group).copied().unwrap_or(1.0)
    }

    /// The ratio a user of `user_group` pays calling through `using_group`.
    pub fn group_ratio_for(&self, user_group: &str, using_group: &str) -> f64 {
        self.group_group_ratio
            .get(user_group)
            .and_then(|by_group| by_group.get(using_group))
            .copied()
            .unwrap_or_else(|| self.group_ratio(using_group))
    }

    /// The per-model price tables in force, by option key (`ModelRatio`, `CompletionRatio`,
    /// `CacheRatio`, `CreateCacheRatio`, `ModelPrice`): what new-api's `GET /api/ratio_config`
    /// exposes and its price sync compares.
    pub fn model_tables(&self) -> [(&'static str, &HashMap<String, f64>); 5] {
        [
            (OPTION_MODEL_RATIO, &self.model_ratio),
            (OPTION_COMPLETION_RATIO, &self.completion_ratio),
            (OPTION_CACHE_RATIO, &self.cache_ratio),
            (OPTION_CREATE_CACHE_RATIO, &self.create_cache_ratio),
            (OPTION_MODEL_PRICE, &self.model_price),
        ]
    }

    /// Whether `model` has any price configured (per request or by tokens).
    pub fn is_priced(&self, model: &str) -> bool {
        let name = matching_name(model);
        lookup(&self.model_price, name).is_some() || self.model_ratio_of(name).is_some()
    }
}

impl Price {
    /// This price multiplied by `multiplier` (replacing any multiplier it had): a channel's
    /// (or channel-model's) group multiplier, times a user channel's.
    pub fn with_multiplier(mut self, applied: Multiplier) -> Price {
        match &mut self {
            Price::PerRequest {
                quota,
                model_price,
                group_ratio,
                multiplier,
            } => {
                *quota = per_request_quota(*model_price, *group_ratio, applied);
                *multiplier = applied;
            }
            Price::PerToken { multiplier, .. } => *multiplier = applied,
        }
        self
    }

    /// The seed 001 multiplier applied.
    pub fn multiplier(&self) -> Multiplier {
        match *self {
            Price::PerRequest { multiplier, .. } | Price::PerToken { multiplier, .. } => multiplier,
        }
    }

    /// The quota a request with `usage` costs, exactly as new-api settles a text request:
    ///
    /// - negative counts are treated as 0; a request with no prompt and no completion tokens
    ///   costs nothing (new-api charges only "billable usage", even for per-request prices);
    /// - per request: the fixed quota;
    /// - by tokens: `((prompt - cached - created) + cached * cache_ratio + created *
    ///   create_cache_ratio + (completion - image) * completion_ratio + image *
    ///   image_output_ratio) * model_ratio * group_ratio * multiplier` (`created` = cache
    ///   writes, `image` = image output tokens, at most `completion`), the uncached part never
    ///   below 0, computed in exact decimal arithmetic on the ratios' shortest decimal forms
    ///   (as new-api's `decimal.NewFromFloat`) and rounded half away from zero;
    /// - at least 1 when `model_ratio * group_ratio` is not 0;
    /// - saturated to `i64`, never panicking.
    pub fn quota(&self, usage: &Usage) -> i64 {
        let prompt = usage.prompt_tokens.max(0);
        let completion = usage.completion_tokens.max(0);
        let cached = usage.cached_tokens.max(0);
        let created = usage.cache_creation_tokens.max(0);
        let image = usage.image_output_tokens.clamp(0, completion);
        if prompt == 0 && completion == 0 {
            return 0;
        }
        match *self {
            Price::PerRequest { quota, .. } => quota,
            Price::PerToken {
                model_ratio,
                completion_ratio,
                cache_ratio,
                create_cache_ratio,
                image_output_ratio,
                group_ratio,
                multiplier,
            } => {
                let uncached = prompt.saturating_sub(cached).saturating_sub(created);
                let quota = token_quota(
                    [uncached.max(0), cached, created, completion - image, image],
                    [
                        cache_ratio,
                        create_cache_ratio,
                        completion_ratio,
                        image_output_ratio,
                        model_ratio,
                        group_ratio,
                    ],
                    multiplier,
                );
                // A ratio of 0 is a free model; anything else costs at least one quota.
                if quota <= 0 && model_ratio * group_ratio != 0.0 {
                    1
                } else {
                    quota.max(0)
                }
            }
        }
    }

    /// The quota to reserve at admission for a request of about `prompt_tokens` that may
    /// generate up to `max_completion_tokens` (the request's `max_tokens`, or the caller's own
    /// cap when it sets none): [`Price::quota`] on that estimate (no cache reads or writes, so
    /// it bounds the real charge for the same counts unless cache writes cost more than
    /// ordinary prompt tokens; a charge above it is recorded as an overrun). new-api's own
    /// pre-consumption leaves out the completion ratio; Pylon keeps it so the reservation covers
    /// the real charge.
    pub fn estimate(&self, prompt_tokens: i64, max_completion_tokens: i64) -> i64 {
        self.quota(&Usage {
            prompt_tokens,
            completion_tokens: max_completion_tokens,
            ..Usage::default()
        })
    }

    /// Whether this price is zero (a free model or a group with ratio 0).
    pub fn is_free(&self) -> bool {
        match *self {
            Price::PerRequest { quota, .. } => quota == 0,
            Price::PerToken {
                model_ratio,
                group_ratio,
                ..
            } => model_ratio * group_ratio == 0.0,
        }
    }
}

/// A cheap, rather high estimate of the prompt tokens in a request body of `body_len_bytes`
/// bytes, for admission reservations before the upstream reports the real count: one token
/// per 3 bytes, rounded up, at least 1. English averages about 4 bytes per token and CJK text 3
/// bytes per character (about one token), so this rarely underestimates text; JSON structure
/// and especially base64 images make it overestimate, which only makes the reservation (not
/// the charge) larger.
pub fn estimate_prompt_tokens(body_len_bytes: usize) -> i64 {
    let tokens = body_len_bytes.div_ceil(3).max(1);
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

/// new-api's `FormatMatchingModelName`: models with a thinking budget in their name share the
/// price of a wildcard key, and every GPT "gizmo" shares one key.
fn matching_name(model: &str) -> &str {
    const THINKING: [(&str, &str); 3] = [
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite-thinking-*"),
        ("gemini-2.5-flash", "gemini-2.5-flash-thinking-*"),
        ("gemini-2.5-pro", "gemini-2.5-pro-thinking-*"),
    ];
    // Only the first matching prefix applies, as in new-api's if/else chain.
    let thinking = THINKING
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix));
    if let Some((_, wildcard)) = thinking
        && model.contains("-thinking-")
    {
        return wildcard;
    }
    if model.starts_with("gpt-4-gizmo") {
        return "gpt-4-gizmo-*";
    }
    if model.starts_with("gpt-4o-gizmo") {
        return "gpt-4o-gizmo-*";
    }
    model
}

/// Looks a (normalised) model up, falling back to the `*-openai-compact` key for compact
/// variants as new-api does for prices and model ratios.
fn lookup<'a>(map: &'a HashMap<String, f64>, name: &str) -> Option<&'a f64> {
    map.get(name).or_else(|| {
        name.ends_with(COMPACT_SUFFIX)
            .then(|| map.get(COMPACT_WILDCARD))
            .flatten()
    })
}

/// `round(model_price * QUOTA_PER_UNIT * group_ratio * multiplier)`, negative results as 0.
fn per_request_quota(model_price: f64, group_ratio: f64, multiplier: Multiplier) -> i64 {
    let quota = match per_request_exact(model_price, group_ratio, multiplier) {
        Some(value) => value.round(),
        None => saturate(model_price * QUOTA_PER_UNIT as f64 * group_ratio * multiplier.to_f64()),
    };
    quota.max(0)
}

/// `model_price * QUOTA_PER_UNIT * group_ratio * multiplier` exactly, when it fits.
fn per_request_exact(model_price: f64, group_ratio: f64, multiplier: Multiplier) -> Option<Dec> {
    Dec::from_f64(model_price)?
        .mul(Dec::int(QUOTA_PER_UNIT))?
        .mul(Dec::from_f64(group_ratio)?)?
        .mul(multiplier.dec())
}

/// `(uncached + cached * cache_ratio + created * create_cache_ratio + completion *
/// completion_ratio + image * image_output_ratio) * (model_ratio * group_ratio * multiplier)`
/// (`completion`
/// is the text part of the output here), rounded half away from zero; floating
/// point only when the exact form would not fit in 128 bits (absurd ratios), saturating either
/// way.
fn token_quota(counts: [i64; 5], ratios: [f64; 6], multiplier: Multiplier) -> i64 {
    let [uncached, cached, created, completion, image] = counts;
    let [
        cache_ratio,
        create_cache_ratio,
        completion_ratio,
        image_output_ratio,
        model_ratio,
        group_ratio,
    ] = ratios;
    let exact = || {
        let prompt = Dec::int(uncached)
            .add(Dec::int(cached).mul(Dec::from_f64(cache_ratio)?)?)?
            .add(Dec::int(created).mul(Dec::from_f64(create_cache_ratio)?)?)?;
        let output = Dec::int(completion)
            .mul(Dec::from_f64(completion_ratio)?)?
            .add(Dec::int(image).mul(Dec::from_f64(image_output_ratio)?)?)?;
        let ratio = Dec::from_f64(model_ratio)?
            .mul(Dec::from_f64(group_ratio)?)?
            .mul(multiplier.dec())?;
        prompt.add(output)?.mul(ratio)
    };
    match exact() {
        Some(value) => value.round(),
        None => saturate(
            (uncached as f64
                + cached as f64 * cache_ratio
                + created as f64 * create_cache_ratio
                + completion as f64 * completion_ratio
                + image as f64 * image_output_ratio)
                * (model_ratio * group_ratio * multiplier.to_f64()),
        ),
    }
}

/// Rounds half away from zero into `i64`, saturating (NaN counts as 0).
fn saturate(value: f64) -> i64 {
    // `as` saturates at the i64 bounds and maps NaN to 0.
    value.round() as i64
}

/// Parses a `{name: number}` option, dropping (and reporting) negative entries.
fn parse_flat(key: &str, value: &str, problems: &mut Vec<String>) -> HashMap<String, f64> {
    if value.trim().is_empty() {
        return HashMap::new();
    }
    match serde_json::from_str::<HashMap<String, f64>>(value) {
        Ok(mut map) => {
            map.retain(|name, ratio| keep_ratio(key, name, *ratio, problems));
            map
        }
        Err(err) => {
            problems.push(format!(
                "option {key} is not a JSON object of numbers ({err}); ignored"
            ));
            HashMap::new()
        }
    }
}

/// Parses the `{group: {group: number}}` option, dropping (and reporting) negative entries.
fn parse_nested(
    key: &str,
    value: &str,
    problems: &mut Vec<String>,
) -> HashMap<String, HashMap<String, f64>> {
    if value.trim().is_empty() {
        return HashMap::new();
    }
    match serde_json::from_str::<HashMap<String, HashMap<String, f64>>>(value) {
        Ok(mut map) => {
            for (user_group, by_group) in map.iter_mut() {
                by_group.retain(|using_group, ratio| {
                    keep_ratio(
                        key,
                        &format!("{user_group}.{using_group}"),
                        *ratio,
                        problems,
                    )
                });
            }
            map
        }
        Err(err) => {
            problems.push(format!(
                "option {key} is not a JSON object of objects of numbers ({err}); ignored"
            ));
            HashMap::new()
        }
    }
}

fn keep_ratio(key: &str, name: &str, ratio: f64, problems: &mut Vec<String>) -> bool {
    // JSON has no NaN or infinity, but serde_json reads 1e999 as infinity.
    if ratio >= 0.0 && ratio.is_finite() {
        return true;
    }
    problems.push(format!(
        "option {key}: {name} = {ratio} is not a non-negative finite number; ignored"
    ));
    false
}
