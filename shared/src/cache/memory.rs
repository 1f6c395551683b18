//! In-process cache for embedded mode.

use super::{Cache, CacheError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries beyond this count trigger a sweep of expired ones, so abandoned keys (rate-limit
/// windows of one-off clients) cannot grow the map without bound.
const SWEEP_THRESHOLD: usize = 10_000;

struct Entry {
    value: String,
    expires: Instant,
}

/// A map with per-entry expiry, behind one mutex (the control plane's traffic is light).
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        let mut guard = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let now = Instant::now();
        Ok(self.with_entries(|entries| {
            entries
                .get(key)
                .filter(|e| e.expires > now)
                .map(|e| e.value.clone())
        }))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let now = Instant::now();
        self.with_entries(|entries| {
            if entries.len() >= SWEEP_THRESHOLD {
                entries.retain(|_, e| e.expires > now);
            }
            entries.insert(
                key.to_string(),
                Entry {
                    value: value.to_string(),
                    expires: now + ttl,
                },
            );
        });
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.with_entries(|entries| entries.remove(key));
        Ok(())
    }

    async fn hit(&self, key: &str, window: Duration) -> Result<u64, CacheError> {
        let now = Instant::now();
        Ok(self.with_entries(|entries| {
            if entries.len() >= SWEEP_THRESHOLD {
                entries.retain(|_, e| e.expires > now);
            }
            let entry = entries.entry(key.to_string()).or_insert_with(|| Entry {
                value: "0".into(),
                expires: now + window,
            });
            if entry.expires <= now {
                entry.value = "0".into();
                entry.expires = now + window;
            }
            let count = entry.value.parse::<u64>().unwrap_or(0) + 1;
            entry.value = count.to_string();
            count
        }))
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}
