//! Channels and the routing table: for each group and model, the channels that serve it,
//! grouped in priority tiers (highest first), each channel with its group multipliers; and the
//! user channels over them (see [`super::user_channels`]).

use super::user_channels::{UserChannelEntry, UserChannelSource};
use pylon_shared::db::{ChannelModelRow, ChannelRow, report_bad_row};
use pylon_shared::llm::{ChannelCaps, ChannelType};
use pylon_shared::pricing::{GroupMultipliers, Multiplier};
use pylon_shared::upstream_keys;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Channel status: enabled.
pub const CHANNEL_ENABLED: i64 = 1;
/// Where requests go when a channel has no base URL.
const DEFAULT_OPENAI_BASE: &str = "https://api.openai.com";

/// An upstream's parsed base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path prefix before `/v1/...` (no trailing slash), e.g. `/openai` for a gateway.
    pub path_prefix: String,
}

impl Upstream {
    /// Parses `http(s)://host[:port][/prefix]`. A trailing `/v1` is dropped, as clients append
    /// the full `/v1/...` path themselves.
    pub fn parse(base_url: &str) -> Option<Self> {
        let url = if base_url.trim().is_empty() {
            DEFAULT_OPENAI_BASE
        } else {
            base_url.trim()
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return None;
        };
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse().ok()?)
            }
            _ => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return None;
        }
        let mut prefix = format!("/{}", path.trim_matches('/'));
        if prefix == "/" {
            prefix.clear();
        }
        if let Some(stripped) = prefix.strip_suffix("/v1") {
            prefix = stripped.to_string();
        }
        Some(Self {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            path_prefix: prefix,
        })
    }
}

/// One channel, parsed for the hot path.
#[derive(Debug)]
pub struct ChannelEntry {
    pub id: i64,
    pub name: String,
    /// The provider type (new-api's types Pylon does not know are OpenAI-compatible).
    pub kind: ChannelType,
    /// new-api's channel type number as stored (Midjourney Proxy 2 and Plus 5, Suno 36: types
    /// `kind` does not tell apart).
    pub type_number: i64,
    /// The base URL as configured (the formats layer builds other types' URLs from it).
    pub base_url: String,
    /// new-api's `other` (Azure `api-version`, Vertex and Bedrock region).
    pub other: String,
    /// Where OpenAI-compatible requests go (the base URL parsed, OpenAI's when empty).
    pub upstream: Upstream,
    /// The upstream keys, with whether each may be used.
    keys: Vec<PoolKey>,
    round_robin: bool,
    next_key: AtomicUsize,
    /// Requested model -> upstream model.
    pub model_mapping: HashMap<String, String>,
    /// Headers set on every upstream request.
    pub header_override: Vec<(String, String)>,
    pub priority: i64,
    pub weight: i64,
    pub auto_ban: bool,
    pub openai_organization: String,
    /// An OpenAI-compatible upstream serves `/v1/responses` itself (`setting.responses_api`).
    pub responses_api: bool,
    /// Seed 001's group multipliers of the channel.
    multipliers: GroupMultipliers,
    /// Seed 001's group multipliers of some of its models (channel-models), by model.
    model_multipliers: HashMap<String, GroupMultipliers>,
}

/// One upstream key of a channel. A key the database holds disabled is left out of the entry;
/// `usable` turns false when this node saw the upstream refuse it, so that the node stops
/// using it at once, before the snapshot that leaves it out arrives.
#[derive(Debug)]
struct PoolKey {
    value: String,
    usable: AtomicBool,
}

impl ChannelEntry {
    /// Parses a stored row, leaving out the keys whose fingerprints are in `disabled`; `Err`
    /// says what in it cannot be used.
    fn from_row(
        row: &ChannelRow,
        disabled: Option<&HashSet<String>>,
    ) -> Result<Self, &'static str> {
        let upstream = Upstream::parse(&row.base_url).ok_or("bad base_url")?;
        let kind = ChannelType::from_number(row.r#type).unwrap_or(ChannelType::OpenAi);
        let keys: Vec<PoolKey> = upstream_keys::split(row.r#type, &row.keys)
            .into_iter()
            .filter(|key| disabled.is_none_or(|d| !d.contains(&upstream_keys::fingerprint(key))))
            .map(|key| PoolKey {
                value: key.to_string(),
                usable: AtomicBool::new(true),
            })
            .collect();
        let model_mapping = json_object::<String>(&row.model_mapping)
            .ok_or("model_mapping is not a JSON object of model names")?
            .into_iter()
            .filter(|(from, to)| !from.is_empty() && !to.is_empty())
            .collect();
        let header_override = json_object::<serde_json::Value>(&row.header_override)
            .ok_or("header_override is not a JSON object")?
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(value) => Some((name, value)),
                _ => None,
            })
            .collect();
        Ok(Self {
            id: row.id,
            name: row.name.clone(),
            kind,
            type_number: row.r#type,
            base_url: row.base_url.clone(),
            other: row.other.clone(),
            upstream,
            keys,
            round_robin: row.key_mode == "round_robin",
            next_key: AtomicUsize::new(0),
            model_mapping,
            header_override,
            priority: row.priority,
            weight: row.weight,
            auto_ban: row.auto_ban != 0,
            openai_organization: row.openai_organization.clone(),
            responses_api: responses_api(&row.setting),
            multipliers: GroupMultipliers::parse_stored(&row.group_multipliers)
                .map_err(|_| "group_multipliers is not a map of groups to multipliers")?,
            model_multipliers: HashMap::new(),
        })
    }

    /// The multiplier of a request for `model` by a user of `group` that this channel serves:
    /// the channel-model's for the group, else the channel's, else 1.
    pub fn multiplier(&self, group: &str, model: &str) -> Multiplier {
        if self.multipliers.is_empty() && self.model_multipliers.is_empty() {
            return Multiplier::ONE;
        }
        self.model_multipliers
            .get(model)
            .and_then(|by_group| by_group.get(group))
            .or_else(|| self.multipliers.get(group))
            .unwrap_or(Multiplier::ONE)
    }

    /// What the request planner needs to know of it.
    pub fn caps(&self) -> ChannelCaps {
        ChannelCaps {
            kind: self.kind,
            responses_api: self.responses_api,
        }
    }

    /// The usable key whose fingerprint is `fingerprint` (the key that made an upstream task),
    /// else the next one as [`ChannelEntry::pick_key`] picks it.
    pub fn key_like(&self, fingerprint: &str) -> Option<&str> {
        self.usable_keys()
            .map(|key| key.value.as_str())
            .find(|key| upstream_keys::fingerprint(key) == fingerprint)
            .or_else(|| self.pick_key())
    }

    /// The upstream key for the next request among the usable ones: random, or round-robin
    /// (each usable key in turn, as new-api's polling skips disabled keys).
    pub fn pick_key(&self) -> Option<&str> {
        let usable = self.usable_keys().count();
        if usable == 0 {
            return None;
        }
        let index = if self.round_robin {
            self.next_key.fetch_add(1, Ordering::Relaxed) % usable
        } else {
            rand::random_range(0..usable)
        };
        self.usable_keys().nth(index).map(|key| key.value.as_str())
    }

    fn usable_keys(&self) -> impl Iterator<Item = &PoolKey> {
        self.keys
            .iter()
            .filter(|key| key.usable.load(Ordering::Relaxed))
    }

    /// Whether the channel has several keys (new-api's multi-key channel): a refused key is
    /// then disabled alone, not the channel.
    pub fn is_multi_key(&self) -> bool {
        self.keys.len() > 1
    }

    /// Stops using `key` on this node (its upstream refused it); says whether a usable key is
    /// left.
    pub fn stop_using_key(&self, key: &str) -> bool {
        for pool_key in self.keys.iter().filter(|k| k.value == key) {
            pool_key.usable.store(false, Ordering::Relaxed);
        }
        self.usable_keys().next().is_some()
    }

    /// The model name to send upstream for `requested`.
    pub fn upstream_model<'a>(&'a self, requested: &'a str) -> &'a str {
        self.model_mapping
            .get(requested)
            .map_or(requested, String::as_str)
    }
}

/// Channels of one priority.
#[derive(Debug, Clone)]
pub struct Tier {
    pub priority: i64,
    pub members: Vec<Arc<ChannelEntry>>,
}

/// Group -> model -> tiers, highest priority first. Only enabled channels appear. With the user
/// channels, by id (only enabled ones).
#[derive(Debug, Default)]
pub struct RoutingTable {
    routes: HashMap<String, HashMap<String, Vec<Tier>>>,
    user_channels: HashMap<i64, UserChannelEntry>,
}

impl RoutingTable {
    /// Builds the table from every channel row alone.
    pub fn build(rows: &[ChannelRow]) -> Self {
        Self::build_with(rows, &[], &UserChannelSource::default(), &[])
    }

    /// Builds the table from every channel row, the channel-models that have multipliers, the
    /// user channels, and the keys that are disabled (channel id, key fingerprint).
    pub fn build_with(
        rows: &[ChannelRow],
        channel_models: &[ChannelModelRow],
        user_channels: &UserChannelSource,
        disabled_keys: &[(i64, String)],
    ) -> Self {
        let mut disabled: HashMap<i64, HashSet<String>> = HashMap::new();
        for (channel, hash) in disabled_keys {
            disabled.entry(*channel).or_default().insert(hash.clone());
        }
        let mut routes: HashMap<String, HashMap<String, Vec<Tier>>> = HashMap::new();
        let mut entries: HashMap<i64, (Arc<ChannelEntry>, &str)> = HashMap::new();
        for row in rows.iter().filter(|r| r.status == CHANNEL_ENABLED) {
            let mut entry = match ChannelEntry::from_row(row, disabled.get(&row.id)) {
                Ok(entry) => entry,
                Err(problem) => {
                    report_bad_row("channels", &row.id.to_string(), &problem);
                    continue;
                }
            };
            for model in channel_models.iter().filter(|m| m.channel_id == row.id) {
                match GroupMultipliers::parse_stored(&model.group_multipliers) {
                    Ok(multipliers) => {
                        entry
                            .model_multipliers
                            .insert(model.model.clone(), multipliers);
                    }
                    Err(problem) => {
                        report_bad_row("channel_models", &model.id.to_string(), &problem);
                    }
                }
            }
            let entry = Arc::new(entry);
            entries.insert(row.id, (Arc::clone(&entry), row.models.as_str()));
            for group in split_list(&row.group) {
                for model in split_list(&row.models) {
                    let tiers = routes
                        .entry(group.to_string())
                        .or_default()
                        .entry(model.to_string())
                        .or_default();
                    match tiers.iter_mut().find(|t| t.priority == entry.priority) {
                        Some(tier) => tier.members.push(Arc::clone(&entry)),
                        None => tiers.push(Tier {
                            priority: entry.priority,
                            members: vec![Arc::clone(&entry)],
                        }),
                    }
                }
            }
        }
        for models in routes.values_mut() {
            for tiers in models.values_mut() {
                tiers.sort_by_key(|t| std::cmp::Reverse(t.priority));
            }
        }
        let user_channels = user_channels.build(|id| {
            entries.get(&id).map(|(entry, models)| {
                (
                    Arc::clone(entry),
                    split_list(models).map(str::to_string).collect(),
                )
            })
        });
        Self {
            routes,
            user_channels,
        }
    }

    /// Takes over the round robin turns of `previous`'s user channels (see
    /// [`UserChannelEntry::keep_turns`]).
    pub fn keep_turns(&self, previous: &RoutingTable) {
        for (id, entry) in &self.user_channels {
            if let Some(old) = previous.user_channels.get(id) {
                entry.keep_turns(old);
            }
        }
    }

    /// The enabled user channel with this id.
    pub fn user_channel(&self, id: i64) -> Option<&UserChannelEntry> {
        self.user_channels.get(&id)
    }

    /// The tiers serving `model` for `group`.
    pub fn tiers(&self, group: &str, model: &str) -> &[Tier] {
        self.routes
            .get(group)
            .and_then(|models| models.get(model))
            .map_or(&[], Vec::as_slice)
    }

    /// Every model `group` can reach, sorted.
    pub fn models(&self, group: &str) -> Vec<&str> {
        let mut models: Vec<&str> = self
            .routes
            .get(group)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        models.sort_unstable();
        models
    }
}

/// A stored JSON object (empty text and `null` are an empty one); `None` when it is not one.
fn json_object<V: serde::de::DeserializeOwned>(text: &str) -> Option<HashMap<String, V>> {
    if text.trim().is_empty() {
        return Some(HashMap::new());
    }
    serde_json::from_str::<Option<HashMap<String, V>>>(text)
        .ok()
        .map(Option::unwrap_or_default)
}

/// `setting.responses_api`: `false` marks a chat-only OpenAI-compatible upstream. Anything else
/// (absent, not JSON, another type) keeps the default, yes: `setting` holds new-api's other
/// channel settings too, which the relay does not read.
fn responses_api(setting: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(setting)
        .ok()
        .and_then(|setting| setting.get("responses_api")?.as_bool())
        .unwrap_or(true)
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base_urls() {
        let u = Upstream::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path_prefix.as_str()),
            (false, "127.0.0.1", 8080, "")
        );
        let u = Upstream::parse("https://gateway.example.com/openai/v1/").unwrap();
        assert_eq!(
            (u.tls, u.port, u.path_prefix.as_str()),
            (true, 443, "/openai")
        );
        let u = Upstream::parse("").unwrap();
        assert_eq!(u.host, "api.openai.com");
        assert!(Upstream::parse("ftp://x").is_none());
        assert!(Upstream::parse("http://:80").is_none());
    }

    #[test]
    fn reads_whether_the_upstream_has_the_responses_api() {
        assert!(responses_api(""));
        assert!(responses_api("not json"));
        assert!(responses_api(r#"{"proxy":"x"}"#));
        assert!(responses_api(r#"{"responses_api":"no"}"#));
        assert!(!responses_api(r#"{"responses_api":false}"#));
    }
}
