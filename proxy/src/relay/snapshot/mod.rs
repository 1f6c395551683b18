//! In-memory copies of what the hot path reads: channels and prices (loaded at start), and the
//! keys and users in use (a bounded cache that loads what it lacks, see [`KeyCache`]). The
//! change feed keeps them current (the entity that changed is re-read; on a lost event,
//! everything held is). Readers of keys held and of channels never wait on the database.

mod channels;
mod key_cache;
mod keys;
mod user_channels;
mod users;

pub use channels::{ChannelEntry, RoutingTable, Upstream};
pub use key_cache::{KeyCache, KeyCacheSettings, KeySource};

/// Routing types.
pub mod routes {
    pub use super::channels::Tier;
    pub use super::user_channels::{Algorithm, Pool, UserChannelEntry, UserChannelSource};
}
pub use keys::{TOKEN_ENABLED, TokenEntry};
pub use users::{BillingPreference, SubscriptionEntry, UserEntry};

use super::rate_limit::UserLimits;
use arc_swap::ArcSwap;
use pylon_shared::channel_affinity;
use pylon_shared::db::{ChangeEvent, Db, DbError};
use pylon_shared::fetch_setting::FetchSetting;
use pylon_shared::midjourney;
use pylon_shared::pricing::PriceTable;
use std::sync::Arc;

/// Everything the relay looks up per request.
pub struct Snapshot {
    /// The keys and users in use.
    pub keys: KeyCache,
    /// Channels and the routes through them.
    pub routes: ArcSwap<RoutingTable>,
    /// Prices from the options.
    pub prices: ArcSwap<PriceTable>,
    /// new-api's per-user rate limits from the options.
    pub user_limits: ArcSwap<UserLimits>,
    /// new-api's channel affinity setting from the options.
    pub affinity: ArcSwap<channel_affinity::Setting>,
    /// new-api's Midjourney options (`Mj*Enabled`) and `ServerAddress`.
    pub midjourney: ArcSwap<midjourney::Settings>,
    /// new-api's `fetch_setting.*`: what the proxy may fetch on an upstream's word.
    pub fetch: ArcSwap<FetchSetting>,
}

impl Snapshot {
    /// An empty snapshot whose key cache loads from `source` (filled by
    /// [`Snapshot::reload_all`]; `None`: keys are only what [`KeyCache::put`] holds).
    pub fn new(settings: KeyCacheSettings, source: Option<KeySource>) -> Self {
        Self {
            keys: KeyCache::new(settings, source),
            routes: ArcSwap::from_pointee(RoutingTable::default()),
            prices: ArcSwap::from_pointee(PriceTable::default()),
            user_limits: ArcSwap::from_pointee(UserLimits::default()),
            affinity: ArcSwap::from_pointee(channel_affinity::Setting::default()),
            midjourney: ArcSwap::from_pointee(midjourney::Settings::default()),
            fetch: ArcSwap::from_pointee(FetchSetting::default()),
        }
    }

    /// Reads channels and prices, and re-reads the keys and users held. Embedded mode: the
    /// caller holds the flush lock (balances are read).
    pub async fn reload_all(&self, db: &Db) -> Result<(), DbError> {
        self.keys.refresh().await?;
        self.reload_channels(db).await?;
        self.reload_options(db).await?;
        Ok(())
    }

    /// Applies one change event. Embedded mode: the caller holds the flush lock.
    pub async fn apply(&self, event: &ChangeEvent, db: &Db) -> Result<(), DbError> {
        match event.topic.as_str() {
            "token" => self.keys.token_changed(event.entity_id).await?,
            "user" => self.keys.user_changed(event.entity_id).await?,
            "channel" => self.reload_channels(db).await?,
            "option" => self.reload_options(db).await?,
            _ => {}
        }
        Ok(())
    }

    /// Channels, their disabled keys, the channel-models with multipliers and the user channels:
    /// all that routing and seed 001's multipliers read (a user channel edit is announced as a channel change).
    async fn reload_channels(&self, db: &Db) -> Result<(), DbError> {
        let rows = db.all_channels().await?;
        let channel_models = db.channel_model_multipliers().await?;
        let user_channels = routes::UserChannelSource {
            rows: db.all_user_channels().await?,
            members: db.all_user_channel_members().await?,
        };
        let disabled_keys = db.disabled_channel_keys().await?;
        let table =
            RoutingTable::build_with(&rows, &channel_models, &user_channels, &disabled_keys);
        table.keep_turns(&self.routes.load());
        self.routes.store(Arc::new(table));
        Ok(())
    }

    /// Prices and the other options the relay reads.
    async fn reload_options(&self, db: &Db) -> Result<(), DbError> {
        let options = db.all_options().await?;
        let (table, problems) =
            PriceTable::from_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for problem in problems {
            pylon_shared::db::report_bad_row("options", "pricing", &problem);
        }
        self.prices.store(Arc::new(table));
        let limits =
            UserLimits::from_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.user_limits.store(Arc::new(limits));
        let (affinity, problems) = channel_affinity::Setting::from_options(
            options.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        for problem in problems {
            pylon_shared::db::report_bad_row("options", "channel_affinity_setting", &problem);
        }
        self.affinity.store(Arc::new(affinity));
        let pairs = || options.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        self.midjourney
            .store(Arc::new(midjourney::Settings::from_options(pairs())));
        let (fetch, problems) = FetchSetting::from_options(pairs());
        for problem in problems {
            pylon_shared::db::report_bad_row("options", "fetch_setting", &problem);
        }
        self.fetch.store(Arc::new(fetch));
        Ok(())
    }
}
