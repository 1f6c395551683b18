//! Bindings and usage counters in this process (embedded mode, or a node without Redis): at
//! most `max_entries` of each (the least used go first when more arrive), each until it
//! expires. Nothing is allocated until the first binding.

use pylon_shared::channel_affinity::wire::UsageCounters;
use quick_cache::sync::Cache;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The in-process store.
#[derive(Default)]
pub struct MemoryStore {
    bindings: Held<i64>,
    usage: Held<UsageCounters>,
    /// Counters are read, changed and written back under it.
    usage_update: Mutex<()>,
}

impl MemoryStore {
    pub fn get(&self, key: &str) -> Option<i64> {
        self.bindings.get(key)
    }

    pub fn set(&self, key: &str, channel: i64, ttl: Duration, max_entries: usize) {
        self.bindings.put(key, channel, ttl, max_entries);
    }

    pub fn delete(&self, key: &str) {
        self.bindings.remove(key);
    }

    /// The keys of the bindings held.
    pub fn keys(&self) -> Vec<String> {
        self.bindings.live_keys()
    }

    /// Drops the bindings whose key `doomed` picks; returns how many.
    pub fn clear(&self, doomed: impl Fn(&str) -> bool) -> u64 {
        self.bindings.remove_where(doomed)
    }

    pub fn usage(&self, key: &str) -> Option<UsageCounters> {
        self.usage.get(key)
    }

    /// Changes the counters of `key` with `change`, which keep living for `window` from now.
    pub fn observe(
        &self,
        key: &str,
        window: Duration,
        max_entries: usize,
        change: impl FnOnce(&mut UsageCounters),
    ) {
        let _update = self
            .usage_update
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut counters = self.usage.get(key).unwrap_or_default();
        change(&mut counters);
        self.usage.put(key, counters, window, max_entries);
    }
}

/// Values with an expiry in a bounded cache.
struct Held<V: Clone> {
    cache: OnceLock<Cache<String, (V, Instant)>>,
}

impl<V: Clone> Default for Held<V> {
    fn default() -> Self {
        Self {
            cache: OnceLock::new(),
        }
    }
}

impl<V: Clone> Held<V> {
    fn get(&self, key: &str) -> Option<V> {
        let cache = self.cache.get()?;
        let (value, expires) = cache.get(key)?;
        if expires > Instant::now() {
            return Some(value);
        }
        cache.remove(key);
        None
    }

    fn put(&self, key: &str, value: V, ttl: Duration, capacity: usize) {
        let capacity = capacity.max(1);
        let cache = self.cache.get_or_init(|| Cache::new(capacity));
        let wanted = u64::try_from(capacity).unwrap_or(u64::MAX);
        if cache.capacity() != wanted {
            cache.set_capacity(wanted);
        }
        cache.insert(key.to_string(), (value, Instant::now() + ttl));
    }

    fn remove(&self, key: &str) {
        if let Some(cache) = self.cache.get() {
            cache.remove(key);
        }
    }

    fn live_keys(&self) -> Vec<String> {
        let now = Instant::now();
        self.cache.get().map_or_else(Vec::new, |cache| {
            cache
                .iter()
                .filter(|(_, (_, expires))| *expires > now)
                .map(|(key, _)| key)
                .collect()
        })
    }

    fn remove_where(&self, doomed: impl Fn(&str) -> bool) -> u64 {
        let Some(cache) = self.cache.get() else {
            return 0;
        };
        let now = Instant::now();
        let removed = std::sync::atomic::AtomicU64::new(0);
        cache.retain(|key, (_, expires)| {
            let remove = doomed(key);
            if remove && *expires > now {
                removed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            !remove
        });
        removed.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_expire_and_stay_bounded() {
        let store = MemoryStore::default();
        assert_eq!(store.get("a"), None);
        store.set("a", 1, Duration::from_secs(60), 10);
        store.set("gone", 2, Duration::ZERO, 10);
        assert_eq!(store.get("a"), Some(1));
        assert_eq!(store.get("gone"), None);
        assert_eq!(store.keys(), ["a"]);
        for n in 0..100 {
            store.set(&format!("k{n}"), n, Duration::from_secs(60), 10);
        }
        let held = store.keys();
        assert!(held.len() <= 12, "{}", held.len());
        let numbered = held.iter().filter(|key| key.starts_with('k')).count();
        assert_eq!(store.clear(|key| key.starts_with('k')), numbered as u64);
        assert!(store.keys().iter().all(|key| !key.starts_with('k')));
    }

    #[test]
    fn usage_counters_add_up() {
        let store = MemoryStore::default();
        for _ in 0..3 {
            store.observe("u", Duration::from_secs(60), 10, |c| c.total += 1);
        }
        assert_eq!(store.usage("u").map(|c| c.total), Some(3));
    }
}
