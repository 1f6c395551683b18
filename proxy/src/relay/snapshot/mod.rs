//! In-memory copies of what the hot path reads: keys, users, channels and prices. Loaded at
//! start, then kept current by the change feed (the entity that changed is reloaded; on a lost
//! event, everything is). Readers never wait on the database.

mod channels;
mod keys;
mod users;

pub use channels::{ChannelEntry, RoutingTable};

/// Routing types.
pub mod routes {
    pub use super::channels::Tier;
}
pub use keys::{TOKEN_ENABLED, TokenEntry};
pub use users::UserEntry;

use crate::relay::billing::Balances;
use arc_swap::ArcSwap;
use dashmap::DashMap;
use pylon_shared::db::{ChangeEvent, Db, DbError};
use pylon_shared::pricing::PriceTable;
use std::sync::Arc;

/// Everything the relay looks up per request.
pub struct Snapshot {
    /// Keys by lookup hash.
    pub tokens: DashMap<String, Arc<TokenEntry>>,
    /// Key hash by key id, to drop a key whose row is gone.
    token_hashes: DashMap<i64, String>,
    /// Users by id.
    pub users: DashMap<i64, Arc<UserEntry>>,
    /// Channels and the routes through them.
    pub routes: ArcSwap<RoutingTable>,
    /// Prices from the options.
    pub prices: ArcSwap<PriceTable>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self::new()
    }
}

impl Snapshot {
    /// An empty snapshot (filled by [`Snapshot::reload_all`]).
    pub fn new() -> Self {
        Self {
            tokens: DashMap::new(),
            token_hashes: DashMap::new(),
            users: DashMap::new(),
            routes: ArcSwap::from_pointee(RoutingTable::default()),
            prices: ArcSwap::from_pointee(PriceTable::default()),
        }
    }

    /// Reads everything from the database.
    pub async fn reload_all(&self, db: &Db, balances: &Balances) -> Result<(), DbError> {
        let tokens = db.all_tokens().await?;
        let live: std::collections::HashSet<i64> = tokens.iter().map(|t| t.id).collect();
        for row in tokens {
            self.put_token(&row, balances);
        }
        let gone: Vec<i64> = self
            .token_hashes
            .iter()
            .filter(|e| !live.contains(e.key()))
            .map(|e| *e.key())
            .collect();
        for id in gone {
            self.remove_token(id);
        }
        for row in db.all_user_briefs().await? {
            balances.set_user_stored(row.id, row.quota);
            self.users.insert(row.id, Arc::new(UserEntry::from(row)));
        }
        self.reload_channels(db).await?;
        self.reload_prices(db).await?;
        Ok(())
    }

    /// Applies one change event.
    pub async fn apply(
        &self,
        event: &ChangeEvent,
        db: &Db,
        balances: &Balances,
    ) -> Result<(), DbError> {
        match event.topic.as_str() {
            "token" => match db.token_by_id(event.entity_id).await? {
                Some(row) => {
                    self.put_token(&row, balances);
                    // A key may be the first thing we hear of its owner.
                    if !self.users.contains_key(&row.user_id) {
                        self.reload_user(row.user_id, db, balances).await?;
                    }
                }
                None => self.remove_token(event.entity_id),
            },
            "user" => self.reload_user(event.entity_id, db, balances).await?,
            "channel" => self.reload_channels(db).await?,
            "option" => self.reload_prices(db).await?,
            _ => {}
        }
        Ok(())
    }

    async fn reload_user(&self, id: i64, db: &Db, balances: &Balances) -> Result<(), DbError> {
        match db.user_brief(id).await? {
            Some(row) => {
                balances.set_user_stored(row.id, row.quota);
                self.users.insert(row.id, Arc::new(UserEntry::from(row)));
            }
            None => {
                self.users.remove(&id);
            }
        }
        Ok(())
    }

    fn put_token(&self, row: &pylon_shared::db::TokenRow, balances: &Balances) {
        let entry = TokenEntry::from_row(row);
        balances.set_token_stored(row.id, row.remain_quota);
        if let Some(old) = self
            .token_hashes
            .insert(row.id, row.key_hash.clone())
            .filter(|old| *old != row.key_hash)
        {
            self.tokens.remove(&old);
        }
        self.tokens.insert(row.key_hash.clone(), Arc::new(entry));
    }

    fn remove_token(&self, id: i64) {
        if let Some((_, hash)) = self.token_hashes.remove(&id) {
            self.tokens.remove(&hash);
        }
    }

    async fn reload_channels(&self, db: &Db) -> Result<(), DbError> {
        let rows = db.all_channels().await?;
        self.routes.store(Arc::new(RoutingTable::build(&rows)));
        Ok(())
    }

    async fn reload_prices(&self, db: &Db) -> Result<(), DbError> {
        let options = db.all_options().await?;
        let (table, problems) =
            PriceTable::from_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for problem in problems {
            tracing::warn!(%problem, "pricing option ignored");
        }
        self.prices.store(Arc::new(table));
        Ok(())
    }
}
