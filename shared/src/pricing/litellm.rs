//! LiteLLM's `model_prices_and_context_window.json` as a price source: an object of models,
//! each with per-token USD prices (`input_cost_per_token`, `output_cost_per_token`,
//! `cache_read_input_token_cost`, `cache_creation_input_token_cost`), turned into new-api's
//! ratios with exact decimal arithmetic (a ratio of 1 is $2 per million prompt tokens):
//! - `model_ratio` = input price per token × 500 000, exactly;
//! - `completion_ratio`, `cache_ratio`, `create_cache_ratio` = output (cache read, cache write)
//!   price ÷ input price, rounded half up to 6 decimal places (new-api's rounding of the ratios
//!   it derives from other price lists) when the quotient does not end sooner.
//!
//! Each price is taken at its shortest decimal form (how the file writes it: `2.5e-06` is
//! 0.0000025), so `2.5e-06 × 500 000` is 1.25, not 1.2499999999999998. A model free on both
//! sides has ratio 0; one whose input is free but whose output is not cannot be expressed as a
//! ratio and is left out, as are models priced per request or per image only, and the file's
//! `sample_spec` entry.

use serde_json::{Map, Number, Value};

/// USD per prompt token × this = model ratio ($2 per million tokens is ratio 1).
const RATIO_PER_USD_PER_TOKEN: u128 = 500_000;
/// Decimal places kept of a quotient of two prices.
const QUOTIENT_PLACES: u32 = 6;
/// LiteLLM's entry that documents the fields rather than pricing a model.
const SAMPLE_SPEC: &str = "sample_spec";

/// Whether `answer` looks like LiteLLM's file: some entry is an object with LiteLLM's fields.
pub fn recognises(answer: &Map<String, Value>) -> bool {
    answer.iter().any(|(name, entry)| {
        name != SAMPLE_SPEC
            && (entry.get("input_cost_per_token").is_some()
                || entry.get("litellm_provider").is_some())
    })
}

/// The file's prices in new-api's ratio config shape.
pub fn ratios(models: &Map<String, Value>) -> Map<String, Value> {
    let mut tables: [(&str, Map<String, Value>); 4] = [
        ("model_ratio", Map::new()),
        ("completion_ratio", Map::new()),
        ("cache_ratio", Map::new()),
        ("create_cache_ratio", Map::new()),
    ];
    for (model, entry) in models {
        if model == SAMPLE_SPEC {
            continue;
        }
        let price = |field: &str| {
            entry
                .get(field)
                .and_then(Value::as_f64)
                .and_then(Decimal::of)
        };
        let Some(input) = price("input_cost_per_token") else {
            continue;
        };
        let output = price("output_cost_per_token");
        if input.is_zero() {
            if output.is_none_or(|o| o.is_zero()) {
                tables[0]
                    .1
                    .insert(model.clone(), Value::Number(Number::from(0)));
            }
            continue;
        }
        let Some(ratio) = input.times(RATIO_PER_USD_PER_TOKEN) else {
            continue;
        };
        tables[0].1.insert(model.clone(), ratio.number());
        let relative = [
            (1, output),
            (2, price("cache_read_input_token_cost")),
            (3, price("cache_creation_input_token_cost")),
        ];
        for (table, value) in relative {
            if let Some(quotient) = value.and_then(|v| v.divided_by(input, QUOTIENT_PLACES)) {
                tables[table].1.insert(model.clone(), quotient.number());
            }
        }
    }
    tables
        .into_iter()
        .filter(|(_, table)| !table.is_empty())
        .map(|(field, table)| (field.to_string(), Value::Object(table)))
        .collect()
}

/// A non-negative decimal `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    scale: u32,
}

impl Decimal {
    /// The shortest decimal that reads back as `value` (Rust prints exactly that, without an
    /// exponent); `None` for negative or non-finite values, or ones too long to hold.
    fn of(value: f64) -> Option<Decimal> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        let text = value.to_string();
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let mut mantissa: u128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(u128::from(digit.checked_sub(b'0').filter(|d| *d < 10)?))?;
        }
        let scale = u32::try_from(fraction.len()).ok()?;
        Some(Decimal { mantissa, scale }.trimmed())
    }

    fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// Without trailing zeros after the point.
    fn trimmed(mut self) -> Decimal {
        while self.scale > 0 && self.mantissa.is_multiple_of(10) {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        self
    }

    fn times(self, factor: u128) -> Option<Decimal> {
        Some(
            Decimal {
                mantissa: self.mantissa.checked_mul(factor)?,
                scale: self.scale,
            }
            .trimmed(),
        )
    }

    /// `self / divisor`, rounded half up to `places` decimal places.
    fn divided_by(self, divisor: Decimal, places: u32) -> Option<Decimal> {
        if divisor.is_zero() {
            return None;
        }
        // self / divisor = (a / 10^sa) / (b / 10^sb) = a * 10^sb / (b * 10^sa).
        let numerator = self
            .mantissa
            .checked_mul(10u128.checked_pow(divisor.scale + places)?)?;
        let denominator = divisor
            .mantissa
            .checked_mul(10u128.checked_pow(self.scale)?)?;
        let (quotient, remainder) = (numerator / denominator, numerator % denominator);
        let rounded = if remainder.checked_mul(2)? >= denominator {
            quotient + 1
        } else {
            quotient
        };
        Some(
            Decimal {
                mantissa: rounded,
                scale: places,
            }
            .trimmed(),
        )
    }

    /// The JSON number of this decimal. Its `f64` is the nearest to the decimal, which prints
    /// back as the same decimal (it has far fewer than 15 significant digits).
    fn number(self) -> Value {
        let digits = self.mantissa.to_string();
        let scale = usize::try_from(self.scale).unwrap_or(usize::MAX);
        let text = if scale == 0 {
            digits
        } else if digits.len() > scale {
            format!(
                "{}.{}",
                &digits[..digits.len() - scale],
                &digits[digits.len() - scale..]
            )
        } else {
            format!("0.{}{digits}", "0".repeat(scale - digits.len()))
        };
        if self.scale == 0
            && let Ok(whole) = text.parse::<u64>()
        {
            return Value::Number(Number::from(whole));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn per_token_prices_become_exact_ratios() {
        let file = json!({
            "sample_spec": {"input_cost_per_token": 0, "litellm_provider": "x"},
            "gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
                "cache_read_input_token_cost": 1.25e-06, "litellm_provider": "openai"},
            "claude-sonnet-4-5": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
                "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06},
            "gpt-4o-mini": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07},
            "odd": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1e-06},
            "free": {"input_cost_per_token": 0, "output_cost_per_token": 0},
            "unpriceable": {"input_cost_per_token": 0, "output_cost_per_token": 1e-06},
            "dall-e-3": {"output_cost_per_image": 0.04, "litellm_provider": "openai"}
        });
        let Value::Object(file) = file else {
            unreachable!()
        };
        assert!(recognises(&file));
        let ratios = Value::Object(ratios(&file));
        assert_eq!(
            ratios,
            json!({
                "model_ratio": {"gpt-4o": 1.25, "claude-sonnet-4-5": 1.5, "gpt-4o-mini": 0.075,
                    "odd": 1.5, "free": 0},
                "completion_ratio": {"gpt-4o": 4, "claude-sonnet-4-5": 5, "gpt-4o-mini": 4,
                    "odd": 0.333333},
                "cache_ratio": {"gpt-4o": 0.5, "claude-sonnet-4-5": 0.1},
                "create_cache_ratio": {"claude-sonnet-4-5": 1.25}
            })
        );
        // The decimal itself, not the nearest binary product.
        assert_eq!(ratios["model_ratio"]["gpt-4o"].to_string(), "1.25");
    }

    #[test]
    fn decimals_round_half_up() {
        let d = |v: f64| Decimal::of(v).unwrap();
        assert_eq!(
            d(2.0).divided_by(d(3.0), 6),
            Some(Decimal {
                mantissa: 666_667,
                scale: 6
            })
        );
        assert_eq!(
            d(0.0000025),
            Decimal {
                mantissa: 25,
                scale: 7
            }
        );
        assert_eq!(d(1e-10).times(500_000).unwrap().number(), json!(0.00005));
        assert!(Decimal::of(-1.0).is_none());
    }
}
