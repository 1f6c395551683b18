//! Choosing a channel: the highest-priority tier that still has a healthy channel not yet tried
//! in this request, weighted-random inside it (weight + 10, as new-api smooths it). With a
//! sticky key, rendezvous hashing picks the same channel for the same key while it stays
//! healthy, so prompt caches keep hitting. Through a user channel (seed 001), its own algorithm
//! decides instead ([`choose_member`]).

use super::health::ChannelHealth;
use super::snapshot::ChannelEntry;
use super::snapshot::routes::{Algorithm, Pool, Tier};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;

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

/// The next member of a user channel's pool to try, or None when every member was tried or is
/// unhealthy. Priority: the highest-priority member not yet tried. Round robin: each request
/// starts one member further. Weighted round robin: each request starts at the member owning
/// the next point of `0..total weight` (so, over the sum of the weights in requests, each member
/// starts exactly its weight's share). Failing members are passed over in the pool's order.
pub fn choose_member(
    pool: &Pool,
    algorithm: Algorithm,
    tried: &[i64],
    health: &ChannelHealth,
) -> Option<Arc<ChannelEntry>> {
    let count = pool.members.len();
    if count == 0 {
        return None;
    }
    let turn = || pool.cursor.fetch_add(1, Ordering::Relaxed);
    let start = match algorithm {
        Algorithm::Priority => 0,
        Algorithm::WeightedRoundRobin if pool.total_weight > 0 => {
            let total = usize::try_from(pool.total_weight).unwrap_or(usize::MAX);
            let mut point = u64::try_from(turn() % total).unwrap_or(0);
            pool.members
                .iter()
                .position(|member| {
                    let owns = point < member.weight;
                    point = point.saturating_sub(member.weight);
                    owns
                })
                .unwrap_or(0)
        }
        Algorithm::RoundRobin | Algorithm::WeightedRoundRobin => turn() % count,
    };
    (0..count)
        .filter_map(|offset| pool.members.get((start + offset) % count))
        .filter(|m| !tried.contains(&m.channel.id) && health.is_available(m.channel.id))
        .find(|m| health.admit(m.channel.id))
        .map(|m| Arc::clone(&m.channel))
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
