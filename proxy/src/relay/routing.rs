//! Where one request may go, and at what multiplier. A key limited to user channels (seed 001)
//! routes only through the members of those that are enabled, open to its group and serve the
//! model, in the key's order, each user channel choosing by its own algorithm; any other key
//! through the tiers of its group. The price is multiplied by the serving channel's group
//! multiplier (its channel-model's first) times the user channel's: admission holds at the
//! dearest candidate, the settlement charges the channel that actually served.

use super::errors::RelayError;
use super::health::ChannelHealth;
use super::select;
use super::snapshot::routes::{Pool, Tier, UserChannelEntry};
use super::snapshot::{ChannelEntry, RoutingTable, TokenEntry};
use pylon_shared::pricing::Multiplier;
use std::sync::Arc;

/// The candidates of one request.
pub enum Route<'a> {
    /// The group's tiers (a key without user channels).
    Group(&'a [Tier]),
    /// The key's usable user channels serving the model, in the key's order.
    UserChannels(Vec<(&'a UserChannelEntry, &'a Pool)>),
}

/// The channel to try next, and what it multiplies the price by.
pub struct Pick {
    pub channel: Arc<ChannelEntry>,
    pub served: Served,
}

impl Pick {
    /// `channel` serving `group`'s request for `model`, reached through `user_channel` if any.
    fn of(
        channel: Arc<ChannelEntry>,
        group: &str,
        model: &str,
        user_channel: Option<&UserChannelEntry>,
    ) -> Self {
        Pick {
            served: Served {
                channel_multiplier: channel.multiplier(group, model),
                user_channel: user_channel.map(|uc| (uc.id, uc.multiplier)),
            },
            channel,
        }
    }
}

/// What routing makes of a channel a request prefers.
pub enum Preferred {
    /// Try it first.
    Take(Pick),
    /// One of the request's candidates, but tried already or unhealthy: route as usual.
    Unavailable,
    /// Not a candidate of the request (disabled, deleted, not serving the group and model).
    NotCandidate,
}

/// The multipliers of a request served by one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// The channel's (or its channel-model's) multiplier for the caller's group.
    pub channel_multiplier: Multiplier,
    /// The user channel it was reached through, with its multiplier.
    pub user_channel: Option<(i64, Multiplier)>,
}

impl Served {
    /// Everything the price is multiplied by.
    pub fn total(&self) -> Multiplier {
        match self.user_channel {
            Some((_, multiplier)) => self.channel_multiplier.times(multiplier),
            None => self.channel_multiplier,
        }
    }

    /// The log row's `other` fields of the multipliers that applied (none when all are 1).
    pub fn describe(&self, other: &mut serde_json::Map<String, serde_json::Value>) {
        if !self.channel_multiplier.is_one() {
            other.insert(
                "channel_multiplier".into(),
                self.channel_multiplier.to_f64().into(),
            );
        }
        if let Some((id, multiplier)) = self.user_channel {
            other.insert("user_channel_id".into(), id.into());
            other.insert("user_channel_multiplier".into(), multiplier.to_f64().into());
        }
        let total = self.total();
        if !total.is_one() {
            other.insert("multiplier".into(), total.to_f64().into());
        }
    }
}

impl<'a> Route<'a> {
    /// The candidates for `model` of a key whose requests route as `group`, or the client's
    /// error when there are none.
    pub fn resolve(
        table: &'a RoutingTable,
        token: &TokenEntry,
        group: &str,
        model: &str,
    ) -> Result<Route<'a>, RelayError> {
        if token.user_channels.is_empty() {
            let tiers = table.tiers(group, model);
            if tiers.is_empty() {
                return Err(RelayError::model_not_found(format!(
                    "The model `{model}` does not exist or is not available to group {group}"
                )));
            }
            return Ok(Route::Group(tiers));
        }
        let usable = usable_user_channels(table, token, group);
        if usable.is_empty() {
            return Err(RelayError::forbidden(
                "None of the user channels this API key is limited to is available",
            ));
        }
        let pools: Vec<(&UserChannelEntry, &Pool)> = usable
            .into_iter()
            .filter_map(|channel| Some((channel, channel.pool(model)?)))
            .collect();
        if pools.is_empty() {
            return Err(RelayError::model_not_found(format!(
                "The model `{model}` is not available through this API key's user channels"
            )));
        }
        Ok(Route::UserChannels(pools))
    }

    /// The next channel to try (none tried yet in this request, healthy), or None.
    pub fn next(
        &self,
        group: &str,
        model: &str,
        tried: &[i64],
        health: &ChannelHealth,
        sticky: Option<&str>,
    ) -> Option<Pick> {
        match self {
            Route::Group(tiers) => {
                let channel = select::choose(tiers, tried, health, sticky)?;
                Some(Pick::of(channel, group, model, None))
            }
            Route::UserChannels(pools) => pools.iter().find_map(|(user_channel, pool)| {
                let channel = select::choose_member(pool, user_channel.algorithm, tried, health)?;
                Some(Pick::of(channel, group, model, Some(user_channel)))
            }),
        }
    }

    /// What becomes of channel `id`, which the request prefers (its channel affinity): taken
    /// when it is a candidate not yet tried that is healthy, whatever its priority or weight.
    pub fn preferred(
        &self,
        id: i64,
        group: &str,
        model: &str,
        tried: &[i64],
        health: &ChannelHealth,
    ) -> Preferred {
        let Some(pick) = self.candidate(id, group, model) else {
            return Preferred::NotCandidate;
        };
        if !tried.contains(&id) && health.is_available(id) && health.admit(id) {
            Preferred::Take(pick)
        } else {
            Preferred::Unavailable
        }
    }

    /// Channel `id` as this request's pick, if it is one of its candidates.
    fn candidate(&self, id: i64, group: &str, model: &str) -> Option<Pick> {
        match self {
            Route::Group(tiers) => tiers
                .iter()
                .flat_map(|tier| &tier.members)
                .find(|channel| channel.id == id)
                .map(|channel| Pick::of(Arc::clone(channel), group, model, None)),
            Route::UserChannels(pools) => pools.iter().find_map(|(user_channel, pool)| {
                let member = pool.members.iter().find(|m| m.channel.id == id)?;
                let channel = Arc::clone(&member.channel);
                Some(Pick::of(channel, group, model, Some(user_channel)))
            }),
        }
    }

    /// The largest multiplier any candidate charges (what admission holds at).
    pub fn dearest(&self, group: &str, model: &str) -> Multiplier {
        match self {
            Route::Group(tiers) => tiers
                .iter()
                .flat_map(|tier| &tier.members)
                .map(|channel| channel.multiplier(group, model))
                .reduce(Multiplier::max)
                .unwrap_or(Multiplier::ONE),
            Route::UserChannels(pools) => pools
                .iter()
                .flat_map(|(user_channel, pool)| {
                    pool.members.iter().map(|member| {
                        member
                            .channel
                            .multiplier(group, model)
                            .times(user_channel.multiplier)
                    })
                })
                .reduce(Multiplier::max)
                .unwrap_or(Multiplier::ONE),
        }
    }
}

/// The models a key may reach: its group's, or those its usable user channels serve.
pub fn models<'a>(table: &'a RoutingTable, token: &TokenEntry, group: &str) -> Vec<&'a str> {
    if token.user_channels.is_empty() {
        return table.models(group);
    }
    let mut models: Vec<&str> = usable_user_channels(table, token, group)
        .into_iter()
        .flat_map(UserChannelEntry::models)
        .collect();
    models.sort_unstable();
    models.dedup();
    models
}

/// The key's user channels that exist, are enabled and are open to `group`, in its order.
fn usable_user_channels<'a>(
    table: &'a RoutingTable,
    token: &TokenEntry,
    group: &str,
) -> Vec<&'a UserChannelEntry> {
    token
        .user_channels
        .iter()
        .filter_map(|id| table.user_channel(*id))
        .filter(|channel| channel.allows(group))
        .collect()
}
