//! What new-api's routes about bindings need from the store that holds them (the proxy's
//! memory or Redis): the statistics, one key's usage counters, and clearing. The control plane
//! serves the routes; the proxy in front of it passes this state along on the forwarded
//! request and clears what the control plane's answer says (see `wire`).

use super::Affinity;
use arc_swap::ArcSwap;
use pylon_shared::channel_affinity::Setting;
use pylon_shared::channel_affinity::wire::{self, CacheStats, Clear};
use std::collections::BTreeMap;

impl Affinity {
    /// The state to pass along with a request for `path` (`query`) that goes to the control
    /// plane: the statistics for new-api's cache route, the usage counters of the query's key
    /// for its usage route; None for any other request.
    pub async fn state_for(
        &self,
        setting: &ArcSwap<Setting>,
        method: &http::Method,
        path: &str,
        query: Option<&str>,
    ) -> Option<String> {
        let path = path.trim_end_matches('/');
        if path == wire::CACHE_PATH
            && (method == http::Method::GET || method == http::Method::DELETE)
        {
            let setting = setting.load_full();
            return serde_json::to_string(&self.stats(&setting).await).ok();
        }
        if path == wire::USAGE_PATH && method == http::Method::GET {
            let (mut rule, mut group, mut key_fp) = (String::new(), String::new(), String::new());
            for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
                let value = value.trim().to_string();
                match name.as_ref() {
                    "rule_name" => rule = value,
                    "using_group" => group = value,
                    "key_fp" => key_fp = value,
                    _ => {}
                }
            }
            let usage = self
                .store
                .usage(&wire::usage_key(&rule, &group, &key_fp))
                .await;
            return serde_json::to_string(&usage).ok();
        }
        None
    }

    /// new-api's statistics of the bindings: how many, and how many per rule whose name starts
    /// its keys.
    pub async fn stats(&self, setting: &Setting) -> CacheStats {
        let keys = self.store.keys().await;
        let mut by_rule_name: BTreeMap<String, u64> = setting
            .rules
            .iter()
            .filter(|rule| rule.include_rule_name)
            .map(|rule| (rule.name.clone(), 0))
            .collect();
        let mut unknown = 0;
        for key in &keys {
            match owner(&by_rule_name, key) {
                Some(name) => {
                    if let Some(count) = by_rule_name.get_mut(&name) {
                        *count += 1;
                    }
                }
                None => unknown += 1,
            }
        }
        CacheStats {
            enabled: setting.enabled,
            total: u64::try_from(keys.len()).unwrap_or(u64::MAX),
            unknown,
            by_rule_name,
            cache_capacity: u64::try_from(setting.max_entries).unwrap_or(u64::MAX),
            cache_algo: self.store.algorithm().to_string(),
        }
    }

    /// Drops the bindings `clear` names; returns how many were held.
    pub async fn clear(&self, clear: &Clear) -> u64 {
        match clear {
            Clear::All => self.store.clear(|_| true).await,
            Clear::Rule(name) => {
                let prefix = format!("{name}:");
                self.store.clear(|key| key.starts_with(&prefix)).await
            }
        }
    }
}

/// The rule (of `rules`, those naming their keys) whose name starts `key`: the longest such
/// name, should one rule's name start another's.
fn owner(rules: &BTreeMap<String, u64>, key: &str) -> Option<String> {
    rules
        .keys()
        .filter(|name| {
            key.strip_prefix(name.as_str())
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .max_by_key(|name| name.len())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn stats_count_bindings_per_rule_and_clearing_drops_them() {
        let rules = r#"[
            {"name": "a", "model_regex": ["."], "key_sources": [{"type": "gjson", "path": "k"}],
             "include_rule_name": true},
            {"name": "a:b", "model_regex": ["."], "key_sources": [{"type": "gjson", "path": "k"}],
             "include_rule_name": true},
            {"name": "anonymous", "model_regex": ["."],
             "key_sources": [{"type": "gjson", "path": "k"}]}]"#;
        let (setting, problems) =
            Setting::from_options([(pylon_shared::channel_affinity::setting::RULES, rules)]);
        assert!(problems.is_empty(), "{problems:?}");
        let affinity = Affinity::in_memory();
        let super::super::Store::Memory(store) = affinity.store.as_ref() else {
            unreachable!("in memory");
        };
        for key in ["a:1", "a:2", "a:b:1", "plain"] {
            store.set(key, 7, Duration::from_secs(60), 100);
        }
        let stats = affinity.stats(&setting).await;
        assert_eq!((stats.total, stats.unknown), (4, 1));
        assert_eq!(stats.by_rule_name.get("a"), Some(&2));
        assert_eq!(stats.by_rule_name.get("a:b"), Some(&1));
        assert!(!stats.by_rule_name.contains_key("anonymous"));
        assert_eq!(affinity.clear(&Clear::Rule("a".into())).await, 3);
        assert_eq!(affinity.stats(&setting).await.total, 1);
        assert_eq!(affinity.clear(&Clear::All).await, 1);
        assert_eq!(affinity.stats(&setting).await.total, 0);
    }
}
