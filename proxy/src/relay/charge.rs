//! What a delivered answer costs: the upstream's usage when it is believable (else the relay's
//! estimate, marked as such), priced exactly; a charge above the reservation is still charged
//! (the database is the truth) but recorded as an overrun on the log row and in a metric. The
//! log row's `other` shows cache reads and writes with their ratios, as new-api's does
//! (`cache_tokens`, `cache_ratio`, `cache_creation_tokens`, `cache_creation_ratio`).

use super::admission::Admission;
use super::exchange::Delivery;
use super::routing::Served;
use crate::metrics::{BillingAnomaly, ProxyMetrics};
use pylon_shared::pricing::{Price, Usage, UsageCheck, check_usage};

/// The billing of one delivered answer.
#[derive(Debug, Clone)]
pub struct Bill {
    pub usage: Usage,
    pub estimated: bool,
    pub quota: i64,
    /// The log row's `other` JSON.
    pub other: String,
}

/// Bills `delivery` (charged only when `success`) at `price`, which has `served`'s multipliers
/// applied (shown in `other`, as new-api shows the ratios it applied).
pub fn bill(
    price: &Price,
    served: &Served,
    admission: &Admission,
    delivery: &Delivery,
    success: bool,
    max_usage_tokens: i64,
    metrics: &ProxyMetrics,
) -> Bill {
    let estimate = || Usage {
        prompt_tokens: admission.prompt_estimate,
        completion_tokens: i64::try_from(delivery.content_events).unwrap_or(i64::MAX),
        ..Usage::default()
    };
    let mut other = serde_json::Map::new();
    let (usage, estimated) = match check_usage(delivery.usage, max_usage_tokens) {
        UsageCheck::Reported(usage) => (usage, false),
        UsageCheck::Missing => (estimate(), true),
        UsageCheck::OutOfRange(reported) => {
            tracing::warn!(
                ?reported,
                max_usage_tokens,
                "upstream usage out of range; billing the estimate"
            );
            metrics.billing_anomaly(BillingAnomaly::UsageOutOfRange);
            other.insert(
                "usage_out_of_range".into(),
                serde_json::json!([
                    reported.prompt_tokens,
                    reported.completion_tokens,
                    reported.cached_tokens,
                    reported.cache_creation_tokens
                ]),
            );
            (estimate(), true)
        }
    };
    let quota = if success {
        price.charge(&usage, admission.units)
    } else {
        0
    };
    cache_info(price, &usage, &mut other);
    served.describe(&mut other);
    if let Some(id) = admission.reservation.subscription_id() {
        other.insert("billing_source".into(), "subscription".into());
        other.insert("subscription_id".into(), id.into());
    }
    let overrun = quota.saturating_sub(admission.reservation.amount);
    if overrun > 0 {
        tracing::warn!(
            quota,
            reserved = admission.reservation.amount,
            user = admission.reservation.user_id,
            "charge above the reservation"
        );
        metrics.billing_anomaly(BillingAnomaly::Overrun);
        other.insert("overrun".into(), overrun.into());
    }
    Bill {
        usage,
        estimated,
        quota,
        other: serde_json::Value::Object(other).to_string(),
    }
}

/// new-api's cache fields of the log row's `other`: reads and writes, each with its ratio, when
/// the answer had any and was priced by tokens.
fn cache_info(
    price: &Price,
    usage: &Usage,
    other: &mut serde_json::Map<String, serde_json::Value>,
) {
    let Price::PerToken {
        cache_ratio,
        create_cache_ratio,
        ..
    } = *price
    else {
        return;
    };
    if usage.cached_tokens > 0 {
        other.insert("cache_tokens".into(), usage.cached_tokens.into());
        other.insert("cache_ratio".into(), cache_ratio.into());
    }
    if usage.cache_creation_tokens > 0 {
        other.insert(
            "cache_creation_tokens".into(),
            usage.cache_creation_tokens.into(),
        );
        other.insert("cache_creation_ratio".into(), create_cache_ratio.into());
    }
}
