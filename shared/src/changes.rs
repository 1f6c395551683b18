//! Change propagation between processes and nodes. A writer publishes "topic X, entity N
//! changed"; every process learns of it and reloads what it caches. Events are durable in the
//! database (so a process that missed a Redis message, or runs without Redis, catches up by
//! polling) and, with Redis, also published on a channel for sub-second delivery.

use crate::cache::{CacheError, SharedCache};
use crate::db::{ChangeEvent, Db, DbError};
use fred::prelude::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// What changed. The string form is stored and published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    User,
    Token,
    Channel,
    Option,
}

impl Topic {
    /// The stored name of the topic.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::User => "user",
            Topic::Token => "token",
            Topic::Channel => "channel",
            Topic::Option => "option",
        }
    }
}

/// Re-read this many ids below the newest seen: a MySQL insert can commit after one with a
/// higher id, and must not be skipped.
const POLL_OVERLAP: i64 = 64;
/// Events fetched per poll.
const POLL_BATCH: i64 = 1000;
/// Seen ids kept for de-duplication.
const SEEN_CAPACITY: usize = 4096;
/// Subscribers that fall further behind get `Lagged` and must reload everything.
const BROADCAST_CAPACITY: usize = 1024;
const PUBSUB_CHANNEL: &str = "changes";

/// The publishing and receiving ends of the change feed of one process.
pub struct ChangeFeed {
    db: Db,
    cache: SharedCache,
    sender: broadcast::Sender<ChangeEvent>,
    seen: Mutex<BTreeSet<i64>>,
}

impl ChangeFeed {
    /// Starts listening (database poll every `poll_interval`, plus Redis pub/sub when the cache
    /// is Redis) on the current runtime, from the newest existing event on.
    pub async fn start(
        db: Db,
        cache: SharedCache,
        poll_interval: Duration,
    ) -> Result<Arc<Self>, DbError> {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        let start = db.latest_change_id().await?;
        let feed = Arc::new(Self {
            db,
            cache,
            sender,
            seen: Mutex::new(BTreeSet::from([start])),
        });
        tokio::spawn(Arc::clone(&feed).poll_loop(poll_interval));
        if feed.cache.redis().is_some() {
            tokio::spawn(Arc::clone(&feed).redis_loop());
        }
        Ok(feed)
    }

    /// Records a change durably and announces it.
    pub async fn publish(&self, topic: Topic, entity_id: i64) -> Result<(), DbError> {
        let event = self.db.append_change(topic.as_str(), entity_id).await?;
        if let Err(error) = self.announce(event).await {
            // The poll loop of every process still delivers it.
            tracing::warn!(%error, "change not published on Redis; nodes catch up by polling");
        }
        Ok(())
    }

    /// Announces an event already recorded in the database (written in the transaction of the
    /// change itself): delivered to this process's subscribers, and published on Redis when
    /// there is one. A Redis error is returned (local delivery has happened); every process still
    /// learns of the event by polling.
    pub async fn announce(&self, event: ChangeEvent) -> Result<(), CacheError> {
        let Some(redis) = self.cache.redis() else {
            self.deliver(event);
            return Ok(());
        };
        let message = format!("{}:{}:{}", event.id, event.topic, event.entity_id);
        // Delivered here first: a Redis that hangs must not delay this process.
        self.deliver(event);
        redis
            .pool()
            .next()
            .publish::<i64, _, _>(redis.key(PUBSUB_CHANNEL), message)
            .await?;
        Ok(())
    }

    /// A receiver of every change from now on. `RecvError::Lagged` means events were lost to
    /// this receiver: reload everything.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.sender.subscribe()
    }

    fn deliver(&self, event: ChangeEvent) {
        let fresh = {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let fresh = seen.insert(event.id);
            while seen.len() > SEEN_CAPACITY {
                seen.pop_first();
            }
            fresh
        };
        if fresh {
            // No receiver is not an error: nobody caches this yet.
            let _ = self.sender.send(event);
        }
    }

    fn newest_seen(&self) -> i64 {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last()
            .copied()
            .unwrap_or(0)
    }

    async fn poll_loop(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let from = (self.newest_seen() - POLL_OVERLAP).max(0);
            match self.db.changes_after(from, POLL_BATCH).await {
                Ok(events) => {
                    let oldest_seen = self
                        .seen
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .first()
                        .copied()
                        .unwrap_or(0);
                    for event in events {
                        // Below the de-duplication window means already handled long ago.
                        if event.id > oldest_seen {
                            self.deliver(event);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "change feed poll failed"),
            }
        }
    }

    async fn redis_loop(self: Arc<Self>) {
        let Some(redis) = self.cache.redis() else {
            return;
        };
        let channel = redis.key(PUBSUB_CHANNEL);
        let subscriber = match redis.subscriber().await {
            Ok(subscriber) => subscriber,
            Err(error) => {
                tracing::warn!(%error, "Redis subscriber unavailable; relying on polling");
                return;
            }
        };
        let mut messages = subscriber.message_rx();
        if let Err(error) = subscriber.subscribe(channel).await {
            tracing::warn!(%error, "Redis subscribe failed; relying on polling");
            return;
        }
        while let Ok(message) = messages.recv().await {
            let Ok(text) = message.value.convert::<String>() else {
                continue;
            };
            if let Some(event) = parse_message(&text) {
                self.deliver(event);
            }
        }
    }
}

fn parse_message(text: &str) -> Option<ChangeEvent> {
    let mut parts = text.splitn(3, ':');
    let id = parts.next()?.parse().ok()?;
    let topic = parts.next()?.to_string();
    let entity_id = parts.next()?.parse().ok()?;
    Some(ChangeEvent {
        id,
        topic,
        entity_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_published_messages() {
        assert_eq!(
            parse_message("12:token:7"),
            Some(ChangeEvent {
                id: 12,
                topic: "token".into(),
                entity_id: 7
            })
        );
        assert_eq!(parse_message("x:token:7"), None);
        assert_eq!(parse_message("12:token"), None);
    }
}
