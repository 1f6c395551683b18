//! The operator's settings (new-api's options) as one in-memory snapshot, so that no request
//! reads the `options` table. The snapshot is loaded at start and replaced whole whenever the
//! change feed announces an option change (from any process or node), and at once in the
//! process that wrote it, so that a change answers only once it applies here.
//!
//! Values are new-api's stored text; [`Options`] reads them with the defaults of the registry
//! ([`registry`]), which also lists every option `GET /api/option/` shows.

pub mod registry;

use arc_swap::ArcSwap;
use pylon_shared::changes::{ChangeFeed, Topic};
use pylon_shared::db::{Db, DbError, OptionRemoval, OptionSwap};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// The current settings of this process.
pub struct Settings {
    current: ArcSwap<Options>,
}

/// One consistent view of every stored option.
#[derive(Debug, Default)]
pub struct Options {
    stored: HashMap<String, String>,
}

impl Settings {
    /// Loads the options and keeps them current from `changes` for as long as the process runs.
    pub async fn start(db: &Db, changes: &ChangeFeed) -> Result<Arc<Self>, DbError> {
        // Subscribed before loading, so that no change between the two is missed.
        let mut events = changes.subscribe();
        let settings = Arc::new(Self {
            current: ArcSwap::from_pointee(Options::read(db).await?),
        });
        let follower = Arc::clone(&settings);
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) if event.topic != Topic::Option.as_str() => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                if let Err(error) = follower.reload(&db).await {
                    tracing::warn!(%error, "reloading the options failed; keeping the old ones");
                }
            }
        });
        Ok(settings)
    }

    /// The snapshot to read for the rest of a request.
    pub fn now(&self) -> Arc<Options> {
        self.current.load_full()
    }

    /// Reads every option again.
    pub async fn reload(&self, db: &Db) -> Result<(), DbError> {
        self.current.store(Arc::new(Options::read(db).await?));
        Ok(())
    }

    /// Stores one option, announces it to every process, and applies it here before returning.
    pub async fn store(
        &self,
        db: &Db,
        changes: &ChangeFeed,
        key: &str,
        value: &str,
    ) -> Result<(), DbError> {
        db.set_option(key, value).await?;
        changes.publish(Topic::Option, 0).await?;
        self.reload(db).await
    }

    /// Writes several options together, each only if it still holds the value it was read
    /// with ([`Db::swap_options`]); announces and applies them when written. False when
    /// another writer came first (nothing was written).
    pub async fn swap(
        &self,
        db: &Db,
        changes: &ChangeFeed,
        swaps: &[OptionSwap<'_>],
    ) -> Result<bool, DbError> {
        if !db.swap_options(swaps).await? {
            return Ok(false);
        }
        changes.publish(Topic::Option, 0).await?;
        self.reload(db).await?;
        Ok(true)
    }

    /// Sets `writes` and removes `removals` together, each removal only if the option still
    /// holds the value it was read with ([`Db::move_options`]); announces and applies them
    /// when written. False when another writer came first (nothing was written).
    pub async fn relocate(
        &self,
        db: &Db,
        changes: &ChangeFeed,
        writes: &[(&str, &str)],
        removals: &[OptionRemoval<'_>],
    ) -> Result<bool, DbError> {
        if !db.move_options(writes, removals).await? {
            return Ok(false);
        }
        changes.publish(Topic::Option, 0).await?;
        self.reload(db).await?;
        Ok(true)
    }
}

impl Options {
    async fn read(db: &Db) -> Result<Self, DbError> {
        Ok(Self {
            stored: db.all_options().await?.into_iter().collect(),
        })
    }

    /// Options from stored pairs (for tests and tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            stored: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The stored text of an option, if it was ever set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.stored.get(key).map(String::as_str)
    }

    /// Every stored option.
    pub fn stored(&self) -> &HashMap<String, String> {
        &self.stored
    }

    /// The text of an option: stored, else its registry default, else empty.
    pub fn text(&self, key: &str) -> &str {
        self.get(key)
            .or_else(|| registry::find(key).map(|o| o.default))
            .unwrap_or("")
    }

    /// A switch as new-api stores it (`"true"`); unset reads its registry default.
    pub fn flag(&self, key: &str) -> bool {
        self.text(key).trim() == "true"
    }

    /// A number as new-api stores it (it may write `1000` or `1000.0`); `None` when the text is
    /// no number.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.text(key)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_win_over_defaults() {
        let options = Options::from_pairs([("SystemName", "Relay"), ("QuotaForNewUser", "12.0")]);
        assert_eq!(options.text("SystemName"), "Relay");
        assert_eq!(options.number("QuotaForNewUser"), Some(12.0));
        assert_eq!(Options::default().text("SystemName"), "Pylon");
        assert!(Options::default().flag("RegisterEnabled"));
        assert!(!Options::from_pairs([("RegisterEnabled", "false")]).flag("RegisterEnabled"));
        assert_eq!(Options::default().text("NoSuchOption"), "");
        assert_eq!(Options::from_pairs([("X", "nan")]).number("X"), None);
    }
}
