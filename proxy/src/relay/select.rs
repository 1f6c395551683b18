//! Choosing a channel: the highest-priority tier that still has a healthy channel not yet tried
//! in this request, weighted-random inside it (weight + 10, as new-api smooths it). With a
//! sticky key, rendezvous hashing picks the same channel for the same key while it stays
//! healthy, so prompt caches keep hitting.

use super::health::ChannelHealth;
use super::snapshot::{ChannelEntry, routes::Tier};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Added to every weight so that weight-0 channels still get some traffic, as in new-api.
const WEIGHT_SMOOTHING: u64 = 10;

/// The next channel to try, or None when every candidate was tried or is unhealthy.
pub fn choose(
    tiers: &[Tier],
    tried: &[i64],
    health: &ChannelHealth,
    sticky: Option<&str>,
) -> Option<Arc<ChannelEntry>> {
    for tier in tiers {
        let candidates: Vec<&Arc<ChannelEntry>> = tier
            .members
            .iter()
            .filter(|c| !tried.contains(&c.id) && health.is_available(c.id))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let picked = match sticky {
            Some(key) => rendezvous(&candidates, key),
            None => weighted(&candidates),
        };
        if let Some(channel) = picked.filter(|c| health.admit(c.id)) {
            return Some(Arc::clone(channel));
        }
    }
    None
}

fn weight(channel: &ChannelEntry) -> u64 {
    u64::try_from(channel.weight.max(0)).unwrap_or(0) + WEIGHT_SMOOTHING
}

fn weighted<'a>(candidates: &[&'a Arc<ChannelEntry>]) -> Option<&'a Arc<ChannelEntry>> {
    let total: u64 = candidates.iter().map(|c| weight(c)).sum();
    let mut point = rand::random_range(0..total.max(1));
    for channel in candidates {
        let w = weight(channel);
        if point < w {
            return Some(channel);
        }
        point -= w;
    }
    candidates.last().copied()
}

fn rendezvous<'a>(
    candidates: &[&'a Arc<ChannelEntry>],
    key: &str,
) -> Option<&'a Arc<ChannelEntry>> {
    candidates.iter().copied().max_by_key(|channel| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        channel.id.hash(&mut hasher);
        // Scale by weight so heavier channels own more keys.
        u128::from(hasher.finish()) * u128::from(weight(channel))
    })
}
