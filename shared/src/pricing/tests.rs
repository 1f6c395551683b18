//! Worked examples of the billing math; each states its arithmetic.

use super::*;

fn parse(options: &[(&str, &str)]) -> PriceTable {
    let (table, problems) = PriceTable::from_options(options.iter().copied());
    assert!(problems.is_empty(), "{problems:?}");
    table
}

fn usage(prompt: i64, completion: i64, cached: i64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        cache_creation_tokens: 0,
        image_output_tokens: 0,
    }
}

fn standard() -> PriceTable {
    parse(&[
        (
            "ModelRatio",
            r#"{"gpt-4o": 1.25, "free-model": 0, "tiny": 0.001}"#,
        ),
        ("CompletionRatio", r#"{"gpt-4o": 4}"#),
        ("CacheRatio", r#"{"gpt-4o": 0.5}"#),
        ("ModelPrice", r#"{"dall-e-3": 0.04, "both": 0.1}"#),
        (
            "GroupRatio",
            r#"{"default": 1, "vip": 0.8, "svip": 1.5, "free": 0}"#,
        ),
        ("SomethingElse", "not json at all"),
    ])
}

#[test]
fn prompt_and_completion_tokens_with_completion_ratio() {
    let price = standard().price("gpt-4o", "default").unwrap();
    assert_eq!(
        price,
        Price::PerToken {
            model_ratio: 1.25,
            completion_ratio: 4.0,
            cache_ratio: 0.5,
            create_cache_ratio: 1.25,
            image_output_ratio: 1.0,
            group_ratio: 1.0,
            multiplier: Multiplier::ONE,
        }
    );
    // (1000 + 500 * 4) * 1.25 = 3000 * 1.25 = 3750
    assert_eq!(price.quota(&usage(1000, 500, 0)), 3750);
}

#[test]
fn group_ratio_multiplies_and_unknown_groups_pay_one() {
    let table = standard();
    // (1000 + 500 * 4) * 1.25 * 0.8 = 3000
    let vip = table.price("gpt-4o", "vip").unwrap();
    assert_eq!(vip.quota(&usage(1000, 500, 0)), 3000);
    // A group missing from GroupRatio pays ratio 1: 3750
    let unknown = table.price("gpt-4o", "nobody").unwrap();
    assert_eq!(unknown.quota(&usage(1000, 500, 0)), 3750);
    assert_eq!(table.group_ratio("nobody"), 1.0);
    assert_eq!(table.group_ratio("svip"), 1.5);
}

#[test]
fn cached_prompt_tokens_use_the_cache_ratio() {
    let price = standard().price("gpt-4o", "default").unwrap();
    // uncached 1000 - 400 = 600, cached 400 * 0.5 = 200, completion 100 * 4 = 400
    // (600 + 200 + 400) * 1.25 = 1500
    assert_eq!(price.quota(&usage(1000, 100, 400)), 1500);
    // More cached than prompt tokens: the uncached part stays at 0, the cached part is still
    // charged (new-api does the same): (0 + 50 * 0.5 + 0) * 1.25 = 31.25 -> 31
    assert_eq!(price.quota(&usage(10, 0, 50)), 31);
}

#[test]
fn cache_ratio_defaults_to_one() {
    let table = parse(&[("ModelRatio", r#"{"m": 2}"#)]);
    let price = table.price("m", "default").unwrap();
    // Cached tokens cost as much as the others: (60 + 40 * 1 + 10 * 1) * 2 = 220
    assert_eq!(price.quota(&usage(100, 10, 40)), 220);
}

#[test]
fn per_request_price_takes_precedence_over_ratios() {
    let table = standard();
    // 0.04 USD * 500 000 = 20 000 quota, whatever the token counts
    let price = table.price("dall-e-3", "default").unwrap();
    assert_eq!(
        price,
        Price::PerRequest {
            quota: 20_000,
            model_price: 0.04,
            group_ratio: 1.0,
            multiplier: Multiplier::ONE,
        }
    );
    assert_eq!(price.quota(&usage(1, 0, 0)), 20_000);
    assert_eq!(price.quota(&usage(100_000, 5_000, 0)), 20_000);
    assert_eq!(price.estimate(10, 10), 20_000);
    // 0.04 * 500 000 * 1.5 = 30 000
    let svip = table.price("dall-e-3", "svip").unwrap();
    assert_eq!(svip.quota(&usage(1, 0, 0)), 30_000);
    // A model in both ModelPrice and ModelRatio is charged per request: 0.1 * 500 000
    let t = parse(&[
        ("ModelRatio", r#"{"both": 3}"#),
        ("ModelPrice", r#"{"both": 0.1}"#),
    ]);
    assert!(matches!(
        t.price("both", "x"),
        Some(Price::PerRequest { quota: 50_000, .. })
    ));
}

#[test]
fn requests_without_tokens_cost_nothing() {
    // new-api only charges "billable usage": zero prompt and completion tokens cost 0, even
    // at a per-request price.
    let table = standard();
    assert_eq!(
        table
            .price("gpt-4o", "default")
            .unwrap()
            .quota(&usage(0, 0, 0)),
        0
    );
    assert_eq!(
        table
            .price("dall-e-3", "default")
            .unwrap()
            .quota(&usage(0, 0, 0)),
        0
    );
}

#[test]
fn unpriced_models_have_no_price() {
    let table = standard();
    assert_eq!(table.price("gpt-unknown-9", "default"), None);
    assert!(!table.is_priced("gpt-unknown-9"));
    assert!(table.is_priced("gpt-4o"));
    assert!(table.is_priced("dall-e-3"));
    // An empty table (before the first load) prices nothing.
    assert_eq!(PriceTable::default().price("gpt-4o", "default"), None);
    // Exact match only: no date-suffix fallback, as new-api.
    assert_eq!(table.price("gpt-4o-2099-01-01", "default"), None);
}

#[test]
fn defaults_price_common_models_and_the_operator_overrides_them() {
    let (table, problems) = PriceTable::from_options([]);
    assert!(problems.is_empty());
    // gpt-4o-mini: $0.15 in, $0.60 out, cached reads at half price.
    assert_eq!(
        table.price("gpt-4o-mini", "default"),
        Some(Price::PerToken {
            model_ratio: 0.075,
            completion_ratio: 4.0,
            cache_ratio: 0.5,
            create_cache_ratio: 1.25,
            image_output_ratio: 1.0,
            group_ratio: 1.0,
            multiplier: Multiplier::ONE,
        })
    );
    // (1000 + 100 * 4) * 0.075 = 105
    let bill = |t: &PriceTable| {
        t.price("gpt-4o-mini", "default")
            .unwrap()
            .quota(&usage(1000, 100, 0))
    };
    assert_eq!(bill(&table), 105);
    for model in [
        "claude-sonnet-4-20250514",
        "gemini-2.5-pro",
        "deepseek-chat",
        "qwen-plus",
    ] {
        assert!(table.is_priced(model), "{model}");
    }
    assert_eq!(
        table.rates("claude-sonnet-4-20250514").create_cache_ratio,
        Some(1.25)
    );
    assert_eq!(table.rates("dall-e-3").quota_type, 1);

    // The operator's ratio replaces the default for that model only; other options' defaults
    // for it stay.
    let (table, _) = PriceTable::from_options([("ModelRatio", r#"{"gpt-4o-mini": 1.5}"#)]);
    assert_eq!(bill(&table), 2100);
    assert!(table.is_priced("gpt-4o"));
    // A ratio set by the operator wins over a default per-request price.
    let (table, _) = PriceTable::from_options([("ModelRatio", r#"{"dall-e-3": 2}"#)]);
    assert!(matches!(
        table.price("dall-e-3", "default"),
        Some(Price::PerToken { .. })
    ));
}

#[test]
fn self_use_mode_prices_unknown_models_at_new_apis_fallback() {
    let (table, _) = PriceTable::from_options([("SelfUseModeEnabled", "false")]);
    assert_eq!(table.price("my-local-model", "default"), None);
    assert!(!table.rates("my-local-model").priced);
    let (table, _) = PriceTable::from_options([("SelfUseModeEnabled", "true")]);
    assert!(table.is_priced("my-local-model"));
    // (10 + 10) * 37.5 = 750
    assert_eq!(
        table
            .price("my-local-model", "default")
            .unwrap()
            .quota(&usage(10, 10, 0)),
        750
    );
    // Priced models keep their price.
    assert_eq!(table.rates("gpt-4o-mini").model_ratio, 0.075);
}

#[test]
fn small_charges_are_at_least_one_and_free_models_are_free() {
    let table = standard();
    // 1 * 0.001 = 0.001 -> rounds to 0 -> charged the minimum 1
    let tiny = table.price("tiny", "default").unwrap();
    assert_eq!(tiny.quota(&usage(1, 0, 0)), 1);
    // ratio 0: free, no minimum
    let free = table.price("free-model", "default").unwrap();
    assert!(free.is_free());
    assert_eq!(free.quota(&usage(1_000_000, 1_000_000, 0)), 0);
    // group ratio 0: free too
    let free_group = table.price("gpt-4o", "free").unwrap();
    assert_eq!(free_group.quota(&usage(1000, 1000, 0)), 0);
    assert_eq!(
        table
            .price("dall-e-3", "free")
            .unwrap()
            .quota(&usage(5, 5, 0)),
        0
    );
}

#[test]
fn rounding_is_exact_decimal_half_away_from_zero() {
    let table = parse(&[("ModelRatio", r#"{"m": 0.145, "half": 0.5}"#)]);
    // 100 * 0.145 = 14.5 exactly -> 15 (binary floating point would say 14.4999… -> 14)
    assert_eq!(table.price("m", "d").unwrap().quota(&usage(100, 0, 0)), 15);
    // 3 * 0.5 = 1.5 -> 2; 5 * 0.5 = 2.5 -> 3
    let half = table.price("half", "d").unwrap();
    assert_eq!(half.quota(&usage(3, 0, 0)), 2);
    assert_eq!(half.quota(&usage(5, 0, 0)), 3);
    // 1 * 0.5 = 0.5 -> 1
    assert_eq!(half.quota(&usage(1, 0, 0)), 1);
}

#[test]
fn negative_counts_are_zero_and_huge_ones_saturate() {
    let table = parse(&[
        ("ModelRatio", r#"{"m": 2, "absurd": 1e300}"#),
        ("ModelPrice", r#"{"pricey": 1e300}"#),
    ]);
    let price = table.price("m", "d").unwrap();
    // -5 prompt -> 0; completion 10 * 1 * 2 = 20; negative cached -> 0
    assert_eq!(price.quota(&usage(-5, 10, -3)), 20);
    assert_eq!(price.quota(&usage(-5, -10, 0)), 0);
    assert_eq!(price.quota(&usage(i64::MAX, i64::MAX, 0)), i64::MAX);
    let absurd = table.price("absurd", "d").unwrap();
    assert_eq!(absurd.quota(&usage(i64::MAX, i64::MAX, i64::MAX)), i64::MAX);
    assert_eq!(absurd.estimate(i64::MAX, i64::MAX), i64::MAX);
    let pricey = table.price("pricey", "d").unwrap();
    assert_eq!(pricey.quota(&usage(1, 0, 0)), i64::MAX);
}

#[test]
fn estimate_charges_prompt_and_max_completion_without_cache() {
    let price = standard().price("gpt-4o", "vip").unwrap();
    // (2000 + 1000 * 4) * 1.25 * 0.8 = 6000
    assert_eq!(price.estimate(2000, 1000), 6000);
    assert_eq!(estimate_prompt_tokens(0), 1);
    assert_eq!(estimate_prompt_tokens(1), 1);
    assert_eq!(estimate_prompt_tokens(3), 1);
    assert_eq!(estimate_prompt_tokens(4), 2);
    assert_eq!(estimate_prompt_tokens(3000), 1000);
}

#[test]
fn malformed_options_are_reported_and_ignored() {
    let (table, problems) = PriceTable::from_options([
        ("ModelRatio", "{not json"),
        ("CompletionRatio", r#"{"m": "four"}"#),
        ("GroupRatio", r#"{"vip": -1, "ok": 2}"#),
        ("GroupGroupRatio", r#"{"vip": 3}"#),
        ("ModelPrice", r#"{"p": 0.5}"#),
        ("CacheRatio", ""),
    ]);
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("ModelRatio")));
    assert!(problems.iter().any(|p| p.contains("CompletionRatio")));
    assert!(problems.iter().any(|p| p.contains("GroupRatio: vip")));
    assert!(problems.iter().any(|p| p.contains("GroupGroupRatio")));
    // What parsed still applies; the negative group ratio fell back to 1.
    assert_eq!(table.group_ratio("vip"), 1.0);
    assert_eq!(table.group_ratio("ok"), 2.0);
    assert_eq!(table.price("m", "vip"), None);
    assert!(matches!(
        table.price("p", "ok"),
        Some(Price::PerRequest { quota: 500_000, .. })
    ));
}

#[test]
fn group_group_ratio_overrides_the_group_ratio() {
    let table = parse(&[
        ("ModelRatio", r#"{"m": 1}"#),
        ("GroupRatio", r#"{"default": 1, "vip": 2}"#),
        ("GroupGroupRatio", r#"{"vip": {"default": 0.5}}"#),
    ]);
    // A vip user calling through "default" pays 0.5: 100 * 1 * 0.5 = 50
    let special = table.price_for("m", "vip", "default").unwrap();
    assert_eq!(special.quota(&usage(100, 0, 0)), 50);
    // Anyone else pays the using group's ratio: 100 * 1 * 2 = 200
    assert_eq!(
        table.price("m", "vip").unwrap().quota(&usage(100, 0, 0)),
        200
    );
    assert_eq!(
        table
            .price_for("m", "default", "vip")
            .unwrap()
            .quota(&usage(100, 0, 0)),
        200
    );
}

#[test]
fn new_api_name_fallbacks() {
    let table = parse(&[
        (
            "ModelRatio",
            r#"{"gemini-2.5-flash-thinking-*": 0.15, "gpt-4-gizmo-*": 15, "*-openai-compact": 2, "gemini-2.5-flash": 0.3}"#,
        ),
        (
            "CompletionRatio",
            r#"{"gemini-2.5-flash-thinking-*": 2, "gemini-2.5-flash": 1}"#,
        ),
    ]);
    // A thinking-budget variant shares the wildcard's ratio and completion ratio:
    // (10 + 10 * 2) * 0.15 = 4.5 -> 5
    let thinking = table.price("gemini-2.5-flash-thinking-1024", "d").unwrap();
    assert_eq!(thinking.quota(&usage(10, 10, 0)), 5);
    // The plain model keeps its own entry: (10 + 10) * 0.3 = 6
    let plain = table.price("gemini-2.5-flash", "d").unwrap();
    assert_eq!(plain.quota(&usage(10, 10, 0)), 6);
    assert!(table.price("gpt-4-gizmo-g-abc123", "d").is_some());
    // Compact variants fall back to the compact wildcard: 10 * 2 = 20
    let compact = table.price("gpt-5-openai-compact", "d").unwrap();
    assert_eq!(compact.quota(&usage(10, 0, 0)), 20);
}

#[test]
fn cache_writes_use_the_create_cache_ratio_and_default_to_one_and_a_quarter() {
    let (table, problems) = PriceTable::from_options([
        ("ModelRatio", r#"{"claude-x": 1.5, "claude-y": 1.5}"#),
        ("CompletionRatio", r#"{"claude-x": 5, "claude-y": 5}"#),
        ("CacheRatio", r#"{"claude-x": 0.1, "claude-y": 0.1}"#),
        ("CreateCacheRatio", r#"{"claude-x": 2}"#),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    // Anthropic's counts: 20 fresh, 400 read, 300 written (Pylon's prompt counts all 720).
    let written = Usage {
        cache_creation_tokens: 300,
        ..usage(720, 10, 400)
    };
    // (20 + 400 * 0.1 + 300 * 2 + 10 * 5) * 1.5 = 710 * 1.5 = 1065
    let x = table.price("claude-x", "default").unwrap();
    assert_eq!(x.quota(&written), 1065);
    // Unset: new-api's 1.25. (20 + 40 + 375 + 50) * 1.5 = 727.5 -> 728
    let y = table.price("claude-y", "default").unwrap();
    assert_eq!(y.quota(&written), 728);
    // More cache than prompt: the fresh part stays at 0.
    let odd = Usage {
        cache_creation_tokens: 300,
        ..usage(100, 0, 400)
    };
    // (0 + 40 + 375) * 1.5 = 622.5 -> 623
    assert_eq!(y.quota(&odd), 623);
}

#[test]
fn image_output_tokens_cost_the_image_ratio() {
    let table = parse(&[
        (
            "ModelRatio",
            r#"{"img": 0.15, "img-b": 0.15, "img-c": 0.15}"#,
        ),
        ("CompletionRatio", r#"{"img": 4, "img-b": 4, "img-c": 4}"#),
        ("ImageRatio", r#"{"img": 80, "img-b": 80}"#),
        ("ImageCompletionRatio", r#"{"img-b": 120, "img-c": 0}"#),
    ]);
    let with_image = Usage {
        image_output_tokens: 1290,
        ..usage(20, 1296, 0)
    };
    // (20 + 6 * 4 + 1290 * 80) * 0.15 = 103 244 * 0.15 = 15 486.6
    let img = table.price("img", "default").unwrap();
    assert_eq!(img.quota(&with_image), 15_487);
    // ImageCompletionRatio first: (20 + 24 + 1290 * 120) * 0.15 = 23 226.6
    assert_eq!(
        table.price("img-b", "default").unwrap().quota(&with_image),
        23_227
    );
    // Neither set (0 counts as unset): an image token costs a prompt token.
    // (20 + 24 + 1290) * 0.15 = 200.1
    assert_eq!(
        table.price("img-c", "default").unwrap().quota(&with_image),
        200
    );
    // Without image tokens the image ratio plays no part; an image count beyond the output
    // is capped at it.
    assert_eq!(img.quota(&usage(20, 6, 0)), 7);
    let absurd = Usage {
        image_output_tokens: i64::MAX,
        ..usage(20, 6, 0)
    };
    // (20 + 6 * 80) * 0.15 = 75
    assert_eq!(img.quota(&absurd), 75);
}

#[test]
fn multipliers_scale_the_price_exactly() {
    let table = standard();
    let price = table.price("gpt-4o", "vip").unwrap();
    let times = |text: &str| price.with_multiplier(Multiplier::parse(text).unwrap());
    // (1000 + 500 * 4) * 1.25 * 0.8 = 3000; * 1.1 = 3300 (f64 would give 3300.0000000000005)
    assert_eq!(times("1.1").quota(&usage(1000, 500, 0)), 3300);
    // 3000 * 0.000001 = 0.003: still at least 1
    assert_eq!(times("0.000001").quota(&usage(1000, 500, 0)), 1);
    assert_eq!(times("1").quota(&usage(1000, 500, 0)), 3000);
    assert_eq!(times("1.5").multiplier().to_string(), "1.5");
    // Per request: 0.04 USD * 500 000 * 1.15 = 23 000, admission's bounds agree.
    let image = table.price("dall-e-3", "default").unwrap();
    let dear = image.with_multiplier(Multiplier::parse("1.15").unwrap());
    assert_eq!(dear.quota(&usage(1, 1, 0)), 23_000);
    assert_eq!(dear.request_quota(RequestUnits::ONE), 23_000);
    assert_eq!(dear.bounds(10, 16, 100, RequestUnits::ONE).ceiling, 23_000);
    // Replacing, not compounding.
    assert_eq!(dear.with_multiplier(Multiplier::ONE), image);
}
