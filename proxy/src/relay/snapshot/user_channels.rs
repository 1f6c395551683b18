//! Seed 001's user channels as the relay routes through them: for each enabled user channel, its
//! multiplier, routing algorithm and allowed groups, and per model the pool of its enabled member
//! channels that serve the model (highest priority first), with the cursor its round robin
//! turns. A key limited to user channels routes only through these pools.

use super::channels::ChannelEntry;
use pylon_shared::db::{
    USER_CHANNEL_ENABLED, UserChannelMember, UserChannelRow, report_bad_row, split_list,
};
use pylon_shared::pricing::Multiplier;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a user channel picks among its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Highest priority first; the next on failure.
    Priority,
    /// Each request starts at the next member.
    RoundRobin,
    /// Each request starts at a member chosen in proportion to the weights, in turn.
    WeightedRoundRobin,
}

impl Algorithm {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "priority" => Some(Self::Priority),
            "round_robin" => Some(Self::RoundRobin),
            "weighted_round_robin" => Some(Self::WeightedRoundRobin),
            _ => None,
        }
    }
}

/// One upstream channel of a user channel.
#[derive(Debug)]
pub struct Member {
    pub channel: Arc<ChannelEntry>,
    pub priority: i64,
    pub weight: u64,
}

/// The members of one user channel that serve one model.
#[derive(Debug)]
pub struct Pool {
    /// Highest priority first, then by channel id.
    pub members: Vec<Member>,
    /// Requests started through this pool (round robin's turn).
    pub cursor: AtomicUsize,
    /// The sum of the members' weights.
    pub total_weight: u64,
}

/// One enabled user channel.
#[derive(Debug)]
pub struct UserChannelEntry {
    pub id: i64,
    pub multiplier: Multiplier,
    pub algorithm: Algorithm,
    /// Empty: every group.
    allowed_groups: Vec<String>,
    /// Model -> its pool.
    pools: HashMap<String, Pool>,
}

impl UserChannelEntry {
    /// Whether users of `group` may use it.
    pub fn allows(&self, group: &str) -> bool {
        self.allowed_groups.is_empty() || self.allowed_groups.iter().any(|g| g == group)
    }

    /// The models some member serves.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.pools.keys().map(String::as_str)
    }

    /// Its members serving `model`, when any does.
    pub fn pool(&self, model: &str) -> Option<&Pool> {
        self.pools.get(model)
    }

    /// Takes over the round robin turns of the same user channel in an earlier snapshot, so
    /// that a reload (any channel change) does not send the next requests to the first member
    /// again.
    pub(super) fn keep_turns(&self, previous: &UserChannelEntry) {
        for (model, pool) in &self.pools {
            if let Some(old) = previous.pools.get(model) {
                pool.cursor
                    .store(old.cursor.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
    }
}

/// The stored user channels and their members, as read for a routing snapshot.
#[derive(Debug, Default)]
pub struct UserChannelSource {
    pub rows: Vec<UserChannelRow>,
    pub members: Vec<UserChannelMember>,
}

impl UserChannelSource {
    /// The enabled user channels, by id; `channel` gives an enabled channel's entry and models.
    /// A user channel whose multiplier or algorithm cannot be read is reported and left out
    /// (its keys are then refused, never routed elsewhere).
    pub(super) fn build(
        &self,
        channel: impl Fn(i64) -> Option<(Arc<ChannelEntry>, Vec<String>)>,
    ) -> HashMap<i64, UserChannelEntry> {
        let mut built = HashMap::new();
        for row in self
            .rows
            .iter()
            .filter(|r| r.status == USER_CHANNEL_ENABLED)
        {
            let (Ok(multiplier), Some(algorithm)) = (
                Multiplier::parse(&row.multiplier),
                Algorithm::parse(&row.algorithm),
            ) else {
                report_bad_row(
                    "user_channels",
                    &row.id.to_string(),
                    &"multiplier or algorithm unreadable",
                );
                continue;
            };
            let mut pools: HashMap<String, Pool> = HashMap::new();
            // Members are read highest priority first, then by channel id.
            for member in self.members.iter().filter(|m| m.user_channel_id == row.id) {
                let Some((entry, models)) = channel(member.channel_id) else {
                    continue;
                };
                let weight = u64::try_from(member.weight).unwrap_or(0);
                for model in models {
                    let pool = pools.entry(model).or_insert_with(|| Pool {
                        members: Vec::new(),
                        cursor: AtomicUsize::new(0),
                        total_weight: 0,
                    });
                    pool.total_weight += weight;
                    pool.members.push(Member {
                        channel: Arc::clone(&entry),
                        priority: member.priority,
                        weight,
                    });
                }
            }
            for pool in pools.values_mut() {
                pool.members
                    .sort_by_key(|m| (std::cmp::Reverse(m.priority), m.channel.id));
            }
            built.insert(
                row.id,
                UserChannelEntry {
                    id: row.id,
                    multiplier,
                    algorithm,
                    allowed_groups: split_list(&row.allowed_groups)
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    pools,
                },
            );
        }
        built
    }
}
