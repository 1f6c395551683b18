//! What admission holds for a request and what a reservation pays for: the floor (prompt plus
//! a minimum completion, below which a request is refused), the ceiling (the most the request
//! can cost), and the completion limit a smaller reservation still affords. Per-request prices
//! (`ModelPrice`) have floor = ceiling = their price, scaled for image requests as new-api does.

use super::decimal::Dec;
use super::{Price, Usage, per_request_exact};

/// How much of a per-request price one request buys: `count` items (images) at a size and
/// quality factor, in hundredths (100 = 1). Ordinary requests are one unit at factor 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestUnits {
    /// Items requested (an image request's `n`, at least 1).
    pub count: i64,
    /// Size factor in hundredths.
    pub size_hundredths: i64,
    /// Quality factor in hundredths.
    pub quality_hundredths: i64,
}

impl RequestUnits {
    /// One item at factor 1.
    pub const ONE: RequestUnits = RequestUnits {
        count: 1,
        size_hundredths: 100,
        quality_hundredths: 100,
    };

    /// An image generation request's units, as new-api prices `/v1/images/generations`: `n`
    /// images (1 when absent, at most 128), size 256x256 0.4, 512x512 0.45, 1024x1792 and
    /// 1792x1024 2, anything else 1; DALL-E 3 in `hd` quality 2 (1.5 at the tall sizes).
    pub fn of_image_request(body: &[u8]) -> RequestUnits {
        #[derive(serde::Deserialize)]
        struct ImageRequest<'a> {
            #[serde(default)]
            n: Option<i64>,
            #[serde(borrow, default)]
            size: Option<&'a str>,
            #[serde(borrow, default)]
            quality: Option<&'a str>,
            #[serde(borrow, default)]
            model: Option<&'a str>,
        }
        let Ok(request) = serde_json::from_slice::<ImageRequest<'_>>(body) else {
            return RequestUnits::ONE;
        };
        let size = request.size.unwrap_or("");
        let tall = matches!(size, "1024x1792" | "1792x1024");
        let size_hundredths = match size {
            "256x256" => 40,
            "512x512" => 45,
            _ if tall => 200,
            _ => 100,
        };
        let quality_hundredths =
            if request.model == Some("dall-e-3") && request.quality == Some("hd") {
                if tall { 150 } else { 200 }
            } else {
                100
            };
        RequestUnits {
            count: request.n.unwrap_or(1).clamp(1, 128),
            size_hundredths,
            quality_hundredths,
        }
    }
}

/// The range admission reserves within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Refuse unless this much is available.
    pub floor: i64,
    /// Never hold more than this.
    pub ceiling: i64,
}

impl Price {
    /// What a request may hold: by tokens, from `prompt` with `min_completion` completion
    /// tokens (floor) to `prompt` with `max_completion` (ceiling); per request, exactly its
    /// price for `units`.
    pub fn bounds(
        &self,
        prompt: i64,
        min_completion: i64,
        max_completion: i64,
        units: RequestUnits,
    ) -> Bounds {
        match self {
            Price::PerRequest { .. } => {
                let price = self.request_quota(units);
                Bounds {
                    floor: price,
                    ceiling: price,
                }
            }
            Price::PerToken { .. } => {
                let max_completion = max_completion.max(0);
                let ceiling = self.estimate(prompt, max_completion);
                Bounds {
                    floor: self
                        .estimate(prompt, min_completion.clamp(0, max_completion))
                        .min(ceiling),
                    ceiling,
                }
            }
        }
    }

    /// The quota a per-request price charges for `units` (new-api: `int(price * 500 000 *
    /// group * size * quality) * n`, exact decimals, saturating); by tokens, 0.
    pub fn request_quota(&self, units: RequestUnits) -> i64 {
        let Price::PerRequest {
            model_price,
            group_ratio,
            quota,
            multiplier,
        } = *self
        else {
            return 0;
        };
        let one = per_request_exact(model_price, group_ratio, multiplier)
            .and_then(|d| d.mul(Dec::hundredths(units.size_hundredths)))
            .and_then(|d| d.mul(Dec::hundredths(units.quality_hundredths)))
            .map(Dec::trunc)
            // Absurd prices: the plain price, scaled in integers.
            .unwrap_or_else(|| {
                quota.saturating_mul(units.size_hundredths * units.quality_hundredths) / 10_000
            });
        one.max(0).saturating_mul(units.count.max(1))
    }

    /// The most completion tokens (at most `max_completion`) whose cost with `prompt` prompt
    /// tokens fits in `budget`; 0 when not even the prompt fits. Exact: a binary search over
    /// [`Price::quota`], which never decreases as the completion grows.
    pub fn affordable_completion(&self, prompt: i64, budget: i64, max_completion: i64) -> i64 {
        let fits = |completion: i64| self.estimate(prompt, completion) <= budget;
        let (mut low, mut high) = (0i64, max_completion.max(0));
        if fits(high) {
            return high;
        }
        if !fits(0) {
            return 0;
        }
        // Invariant: fits(low) and !fits(high).
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if fits(mid) {
                low = mid;
            } else {
                high = mid;
            }
        }
        low
    }

    /// The charge of a finished request: its price for `units` when per request (the request
    /// succeeded, so it is owed whatever the usage says), else [`Price::quota`] of `usage`.
    pub fn charge(&self, usage: &Usage, units: RequestUnits) -> i64 {
        match self {
            Price::PerRequest { .. } => self.request_quota(units),
            Price::PerToken { .. } => self.quota(usage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_token(model_ratio: f64, completion_ratio: f64) -> Price {
        Price::PerToken {
            model_ratio,
            completion_ratio,
            cache_ratio: 1.0,
            create_cache_ratio: 1.0,
            image_output_ratio: 1.0,
            group_ratio: 1.0,
            multiplier: super::super::Multiplier::ONE,
        }
    }

    #[test]
    fn bounds_span_minimum_to_maximum_completion() {
        let price = per_token(1.5, 2.0);
        // floor: (10 + 16 * 2) * 1.5 = 63; ceiling: (10 + 4096 * 2) * 1.5 = 12303
        assert_eq!(
            price.bounds(10, 16, 4096, RequestUnits::ONE),
            Bounds {
                floor: 63,
                ceiling: 12_303
            }
        );
        // A client limit below the minimum is the ceiling and the floor.
        assert_eq!(price.bounds(10, 16, 5, RequestUnits::ONE).floor, 30);
    }

    #[test]
    fn affordable_completion_is_the_largest_that_fits() {
        let price = per_token(1.5, 2.0);
        // (10 + c * 2) * 1.5 <= 78  <=>  c <= 21
        assert_eq!(price.affordable_completion(10, 78, 4096), 21);
        assert!(price.estimate(10, 21) <= 78 && price.estimate(10, 22) > 78);
        assert_eq!(price.affordable_completion(10, 1_000_000, 4096), 4096);
        assert_eq!(
            price.affordable_completion(10, 5, 4096),
            0,
            "prompt alone too dear"
        );
        // Saturated arithmetic: no wrap, no panic.
        assert_eq!(
            price.affordable_completion(i64::MAX, i64::MAX - 1, i64::MAX),
            0
        );
    }

    #[test]
    fn image_requests_scale_the_per_request_price_as_new_api() {
        let (table, _) = super::super::PriceTable::from_options([(
            "ModelPrice",
            r#"{"gpt-image-1": 0.04, "dall-e-3": 0.04}"#,
        )]);
        let image = table.price("gpt-image-1", "default").unwrap();
        let units = |body: &str| RequestUnits::of_image_request(body.as_bytes());
        // 0.04 * 500 000 = 20 000
        assert_eq!(image.request_quota(units(r#"{"prompt":"a cat"}"#)), 20_000);
        assert_eq!(image.request_quota(units(r#"{"n":3}"#)), 60_000);
        // 20 000 * 0.45 = 9 000
        assert_eq!(image.request_quota(units(r#"{"size":"512x512"}"#)), 9_000);
        let dalle = table.price("dall-e-3", "default").unwrap();
        // 20 000 * 2 (tall) * 1.5 (hd at a tall size) = 60 000
        assert_eq!(
            dalle.request_quota(units(
                r#"{"model":"dall-e-3","size":"1792x1024","quality":"hd"}"#
            )),
            60_000
        );
        assert_eq!(
            image.bounds(100, 16, 4096, units(r#"{"n":2}"#)),
            Bounds {
                floor: 40_000,
                ceiling: 40_000
            }
        );
        assert_eq!(
            image.charge(&Usage::default(), RequestUnits::ONE),
            20_000,
            "owed even without usage"
        );
        assert_eq!(
            image.request_quota(units(r#"{"n":-5}"#)),
            20_000,
            "n below 1 is 1"
        );
    }
}
