//! One request's affinity: the first rule (in the setting's order) that applies to its model,
//! path and user agent and finds a session key in it makes the binding's key; the store says
//! which channel the key is bound to.

use super::super::auth::Caller;
use super::super::request::RelayRequest;
use pingora::http::RequestHeader;
use pylon_shared::channel_affinity::{KeySource, Rule, Setting, SourceKind};
use pylon_shared::crypto::sha256_hex;
use std::sync::Arc;
use std::time::Duration;

/// Key values longer than this are keyed by their hash (a header or a body field can be long;
/// a binding's key is held in memory or Redis).
const LONGEST_KEYED_VALUE: usize = 128;

/// What a request offers the rules.
pub struct Facts<'a> {
    pub request: &'a RelayRequest,
    /// The request's path (what the rules' `path_regex` match).
    pub path: &'a str,
    pub header: &'a RequestHeader,
    pub caller: &'a Caller,
    /// The group the request routes as (new-api's using group).
    pub group: &'a str,
}

/// A request's binding: its rule, its key, and the channel the key is bound to.
pub struct Binding {
    pub(super) setting: Arc<Setting>,
    rule: usize,
    source: usize,
    /// The store's key (new-api's cache key suffix).
    pub(super) key: String,
    /// The first 8 hex digits of the value's SHA-256 (new-api's `key_fp`).
    pub(super) key_fp: String,
    key_hint: String,
    pub(super) group: String,
    model: String,
    path: String,
    /// The channel the key is bound to, if any.
    pub(super) bound: Option<i64>,
    /// The binding chose the channel of the request's first attempt.
    pub(super) used: bool,
}

impl Binding {
    /// The binding of a request, when the setting is on and a rule finds its key (not yet
    /// looked up: `bound` is None). Boxed: the relay holds it for the request's life.
    pub fn find(setting: &Arc<Setting>, facts: &Facts<'_>) -> Option<Box<Self>> {
        if !setting.enabled {
            return None;
        }
        let agent = facts
            .header
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let model = facts.request.model.as_str();
        let (rule, source, value) = setting.rules.iter().enumerate().find_map(|(r, rule)| {
            if !rule.applies(model, facts.path, agent) {
                return None;
            }
            let (source, value) = rule
                .sources
                .iter()
                .enumerate()
                .find_map(|(s, source)| value_of(source, facts).map(|value| (s, value)))?;
            rule.accepts(&value).then_some((r, source, value))
        })?;
        let rule_entry = setting.rules.get(rule)?;
        let hash = sha256_hex(value.as_bytes());
        let keyed = if value.len() > LONGEST_KEYED_VALUE {
            format!("sha256:{hash}")
        } else {
            value.clone()
        };
        Some(Box::new(Self {
            setting: Arc::clone(setting),
            rule,
            source,
            key: rule_entry.cache_key(model, facts.group, &keyed),
            key_fp: hash.get(..8).unwrap_or_default().to_string(),
            key_hint: hint(&value),
            group: facts.group.to_string(),
            model: model.to_string(),
            path: facts.path.to_string(),
            bound: None,
            used: false,
        }))
    }

    pub(super) fn rule(&self) -> Option<&Rule> {
        self.setting.rules.get(self.rule)
    }

    /// How long the binding lives once written.
    pub(super) fn ttl(&self) -> Duration {
        self.rule()
            .map_or(self.setting.default_ttl, |rule| self.setting.ttl(rule))
    }

    /// Whether the request, once its first attempt failed, tries no other channel: the binding
    /// chose that channel and its rule says so (the same channel may still be tried with
    /// another of its keys).
    pub fn stops_retries(&self) -> bool {
        self.used && self.rule().is_some_and(|rule| rule.skip_retry_on_failure)
    }

    /// new-api's `admin_info.channel_affinity` of the log row, when the binding chose the
    /// channel.
    pub(super) fn log_info(&self, channel: i64) -> Option<serde_json::Value> {
        if !self.used {
            return None;
        }
        let rule = self.rule()?;
        let source: Option<&KeySource> = rule.sources.get(self.source);
        Some(serde_json::json!({
            "reason": rule.name,
            "rule_name": rule.name,
            "using_group": self.group,
            "selected_group": self.group,
            "model": self.model,
            "request_path": self.path,
            "channel_id": channel,
            "key_source": source.map_or("", KeySource::type_name),
            "key_key": source.map_or("", KeySource::key),
            "key_path": source.map_or("", KeySource::path),
            "key_hint": self.key_hint,
            "key_fp": self.key_fp,
        }))
    }
}

/// The value `source` finds in the request, trimmed, if any.
fn value_of(source: &KeySource, facts: &Facts<'_>) -> Option<String> {
    let value = match &source.kind {
        SourceKind::ContextInt(key) => context_number(facts, key)
            .filter(|n| *n > 0)
            .map(|n| n.to_string()),
        SourceKind::ContextString(key) => context_text(facts, key).map(str::to_string),
        SourceKind::RequestHeader(name) => facts
            .header
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        SourceKind::Body(path) => match facts.request.session_fields.get(path.root()) {
            Some(kept) => kept.and_then(|json| path.find_below_root(json)),
            None => path.find(&facts.request.body),
        },
    }?;
    let value = value.trim();
    let value = match &source.nested {
        Some(nested) => nested.find(value.as_bytes())?,
        None => value.to_string(),
    };
    (!value.is_empty()).then_some(value)
}

/// new-api's context numbers a rule may read.
fn context_number(facts: &Facts<'_>, key: &str) -> Option<i64> {
    match key {
        "id" => Some(facts.caller.user.id),
        "token_id" => Some(facts.caller.token.id),
        _ => None,
    }
}

/// new-api's context texts a rule may read (never the key itself).
fn context_text<'a>(facts: &Facts<'a>, key: &str) -> Option<&'a str> {
    match key {
        "group" => Some(facts.group),
        "user_group" => Some(&facts.caller.user.group),
        "token_group" => Some(&facts.caller.token.group),
        "username" => Some(&facts.caller.user.username),
        "token_name" => Some(&facts.caller.token.name),
        _ => None,
    }
}

/// new-api's `key_hint`: the value, or its first and last four characters when longer than 12.
fn hint(value: &str) -> String {
    let value = value.replace(['\n', '\r'], " ");
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 12 {
        return value;
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::hint;

    #[test]
    fn hints_show_the_ends_of_long_values() {
        assert_eq!(hint("short"), "short");
        assert_eq!(hint("session-0123456789"), "sess...6789");
        assert_eq!(hint("ééééé-ééééé-ééééé"), "éééé...éééé");
    }
}
