//! Available balances of users and keys, held in memory so admission never waits on the
//! database. For each account: `stored` is the database balance as last read (minus charges
//! this process has since written), `held` is what this process has reserved or charged but not
//! yet written. Available = stored - held. A reservation succeeds only if it fits, atomically.
//!
//! Reloads from the database and flushes to it are serialized by `flush_lock`, so a reload never
//! sees a flushed charge that `held` still counts.

use dashmap::DashMap;
use std::sync::Mutex;

#[derive(Debug, Default, Clone, Copy)]
struct Balance {
    stored: i64,
    held: i64,
}

impl Balance {
    fn available(&self) -> i64 {
        self.stored.saturating_sub(self.held)
    }
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user's balance does not cover the estimate.
    User,
    /// The key's balance does not cover the estimate.
    Token,
    /// The shared ledger cannot be reached.
    Unavailable,
}

/// An amount held for one request, to be settled exactly once.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    pub user_id: i64,
    /// The key charged, unless its quota is unlimited.
    pub token_id: Option<i64>,
    pub amount: i64,
}

/// Every balance this process knows.
#[derive(Default)]
pub struct Balances {
    users: DashMap<i64, Mutex<Balance>>,
    tokens: DashMap<i64, Mutex<Balance>>,
    /// Serializes database reads of balances with flushes of charges.
    pub flush_lock: tokio::sync::Mutex<()>,
}

fn with<T>(map: &DashMap<i64, Mutex<Balance>>, id: i64, f: impl FnOnce(&mut Balance) -> T) -> T {
    let entry = map.entry(id).or_default();
    let mut guard = entry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

impl Balances {
    /// Records the user's balance as stored in the database.
    pub fn set_user_stored(&self, user_id: i64, stored: i64) {
        with(&self.users, user_id, |b| b.stored = stored);
    }

    /// Records the key's balance as stored in the database.
    pub fn set_token_stored(&self, token_id: i64, stored: i64) {
        with(&self.tokens, token_id, |b| b.stored = stored);
    }

    /// What the user can still spend.
    #[cfg(test)]
    pub fn user_available(&self, user_id: i64) -> i64 {
        with(&self.users, user_id, |b| b.available())
    }

    /// What the key can still spend.
    #[cfg(test)]
    pub fn token_available(&self, token_id: i64) -> i64 {
        with(&self.tokens, token_id, |b| b.available())
    }

    /// Holds `amount` from the user and (unless unlimited) the key, or neither.
    pub fn reserve(
        &self,
        user_id: i64,
        token_id: Option<i64>,
        amount: i64,
    ) -> Result<Reservation, Refusal> {
        let amount = amount.max(0);
        let took_user = with(&self.users, user_id, |b| {
            if b.available() >= amount && b.available() > 0 {
                b.held += amount;
                true
            } else {
                false
            }
        });
        if !took_user {
            return Err(Refusal::User);
        }
        if let Some(token_id) = token_id {
            let took_token = with(&self.tokens, token_id, |b| {
                if b.available() >= amount && b.available() > 0 {
                    b.held += amount;
                    true
                } else {
                    false
                }
            });
            if !took_token {
                with(&self.users, user_id, |b| b.held -= amount);
                return Err(Refusal::Token);
            }
        }
        Ok(Reservation {
            user_id,
            token_id,
            amount,
        })
    }

    /// Replaces a reservation by the real charge (which stays held until flushed).
    pub fn settle(&self, reservation: &Reservation, charge: i64) {
        let delta = charge - reservation.amount;
        with(&self.users, reservation.user_id, |b| b.held += delta);
        if let Some(token_id) = reservation.token_id {
            with(&self.tokens, token_id, |b| b.held += delta);
        }
    }

    /// A charge is now in the database: move it from `held` into `stored`.
    pub fn flushed(&self, user_id: i64, token_id: Option<i64>, charge: i64) {
        with(&self.users, user_id, |b| {
            b.stored -= charge;
            b.held -= charge;
        });
        if let Some(token_id) = token_id {
            with(&self.tokens, token_id, |b| {
                b.stored -= charge;
                b.held -= charge;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_exceed_the_balance() {
        let balances = Balances::default();
        balances.set_user_stored(1, 100);
        balances.set_token_stored(7, 50);
        let a = balances.reserve(1, Some(7), 30).unwrap();
        assert_eq!(
            balances.reserve(1, Some(7), 30).unwrap_err(),
            Refusal::Token
        );
        assert_eq!(
            balances.user_available(1),
            70,
            "a refused key returns the user's hold"
        );
        balances.settle(&a, 10);
        assert_eq!(balances.token_available(7), 40);
        balances.flushed(1, Some(7), 10);
        assert_eq!(
            (balances.user_available(1), balances.token_available(7)),
            (90, 40)
        );
        assert_eq!(balances.reserve(1, None, 91).unwrap_err(), Refusal::User);
        assert!(balances.reserve(1, None, 90).is_ok());
        assert_eq!(
            balances.reserve(1, None, 0).unwrap_err(),
            Refusal::User,
            "nothing left"
        );
    }

    #[test]
    fn concurrent_reservations_hold_at_most_the_balance() {
        let balances = std::sync::Arc::new(Balances::default());
        balances.set_user_stored(1, 1000);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let b = std::sync::Arc::clone(&balances);
                std::thread::spawn(move || {
                    (0..100).filter(|_| b.reserve(1, None, 7).is_ok()).count()
                })
            })
            .collect();
        let granted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(granted, 1000 / 7);
        assert!(balances.user_available(1) >= 0);
    }
}
