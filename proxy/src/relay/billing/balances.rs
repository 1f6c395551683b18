//! Available balances of users and keys, held in memory so admission never waits on the
//! database. For each account: `stored` is the database balance as last read (minus charges
//! this process has since written), `held` is what this process has reserved or charged but not
//! yet written. Available = stored - held. A reservation succeeds only if it fits, atomically.
//!
//! Reloads from the database and flushes to it are serialized by `flush_lock`, so a reload never
//! sees a flushed charge that `held` still counts.

use dashmap::DashMap;
use pylon_shared::pricing::Bounds;
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
    /// The user's balance does not cover the smallest reservation.
    User,
    /// The key's balance does not cover the smallest reservation.
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

fn lock(entry: &Mutex<Balance>) -> std::sync::MutexGuard<'_, Balance> {
    entry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn with<T>(map: &DashMap<i64, Mutex<Balance>>, id: i64, f: impl FnOnce(&mut Balance) -> T) -> T {
    let entry = map.entry(id).or_default();
    let mut guard = lock(&entry);
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

    /// Holds from the user and (unless unlimited) the key, or from neither, as much as both
    /// have available up to `bounds.ceiling`; refuses when either has nothing or less than
    /// `bounds.floor`. Both accounts are locked together (user first, always), so the check and
    /// the hold are one step.
    pub fn reserve(
        &self,
        user_id: i64,
        token_id: Option<i64>,
        bounds: Bounds,
    ) -> Result<Reservation, Refusal> {
        let user_entry = self.users.entry(user_id).or_default();
        let mut user = lock(&user_entry);
        let token_entry = token_id.map(|id| self.tokens.entry(id).or_default());
        let mut token = token_entry.as_ref().map(|entry| lock(entry));
        let covers = |b: &Balance| b.available() > 0 && b.available() >= bounds.floor;
        if !covers(&user) {
            return Err(Refusal::User);
        }
        if token.as_deref().is_some_and(|t| !covers(t)) {
            return Err(Refusal::Token);
        }
        let available = token
            .as_deref()
            .map_or(user.available(), |t| t.available().min(user.available()));
        let amount = bounds.ceiling.min(available).max(0);
        user.held = user.held.saturating_add(amount);
        if let Some(token) = token.as_deref_mut() {
            token.held = token.held.saturating_add(amount);
        }
        Ok(Reservation {
            user_id,
            token_id,
            amount,
        })
    }

    /// Replaces a reservation by the real charge (which stays held until flushed).
    pub fn settle(&self, reservation: &Reservation, charge: i64) {
        let delta = charge.saturating_sub(reservation.amount);
        with(&self.users, reservation.user_id, |b| {
            b.held = b.held.saturating_add(delta);
        });
        if let Some(token_id) = reservation.token_id {
            with(&self.tokens, token_id, |b| {
                b.held = b.held.saturating_add(delta)
            });
        }
    }

    /// A charge this process did not hold (replayed from the journal) is now in the database.
    pub fn written_elsewhere(&self, user_id: i64, token_id: Option<i64>, charge: i64) {
        let apply = |b: &mut Balance| b.stored = b.stored.saturating_sub(charge);
        with(&self.users, user_id, apply);
        if let Some(token_id) = token_id {
            with(&self.tokens, token_id, apply);
        }
    }

    /// A charge is now in the database: move it from `held` into `stored`.
    pub fn flushed(&self, user_id: i64, token_id: Option<i64>, charge: i64) {
        let apply = |b: &mut Balance| {
            b.stored = b.stored.saturating_sub(charge);
            b.held = b.held.saturating_sub(charge);
        };
        with(&self.users, user_id, apply);
        if let Some(token_id) = token_id {
            with(&self.tokens, token_id, apply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exactly(amount: i64) -> Bounds {
        Bounds {
            floor: amount,
            ceiling: amount,
        }
    }

    #[test]
    fn reservations_never_exceed_the_balance() {
        let balances = Balances::default();
        balances.set_user_stored(1, 100);
        balances.set_token_stored(7, 50);
        let a = balances.reserve(1, Some(7), exactly(30)).unwrap();
        assert_eq!(
            balances.reserve(1, Some(7), exactly(30)).unwrap_err(),
            Refusal::Token
        );
        assert_eq!(
            balances.user_available(1),
            70,
            "a refused key holds nothing from the user"
        );
        balances.settle(&a, 10);
        assert_eq!(balances.token_available(7), 40);
        balances.flushed(1, Some(7), 10);
        assert_eq!(
            (balances.user_available(1), balances.token_available(7)),
            (90, 40)
        );
        assert_eq!(
            balances.reserve(1, None, exactly(91)).unwrap_err(),
            Refusal::User
        );
        assert!(balances.reserve(1, None, exactly(90)).is_ok());
        assert_eq!(
            balances.reserve(1, None, exactly(0)).unwrap_err(),
            Refusal::User,
            "nothing left"
        );
    }

    #[test]
    fn a_small_balance_gets_what_it_has_above_the_floor() {
        let balances = Balances::default();
        balances.set_user_stored(1, 1_000);
        balances.set_token_stored(7, 78);
        let bounds = Bounds {
            floor: 63,
            ceiling: 12_303,
        };
        let held = balances.reserve(1, Some(7), bounds).unwrap();
        assert_eq!(held.amount, 78, "the key's whole balance, not the ceiling");
        assert_eq!(
            balances.reserve(1, Some(7), bounds).unwrap_err(),
            Refusal::Token
        );
        balances.settle(&held, 0);
        balances.set_token_stored(7, 62);
        assert_eq!(
            balances.reserve(1, Some(7), bounds).unwrap_err(),
            Refusal::Token,
            "below the floor"
        );
    }

    #[test]
    fn an_overrun_blocks_the_account_until_covered() {
        let balances = Balances::default();
        balances.set_user_stored(1, 100);
        let held = balances.reserve(1, None, exactly(100)).unwrap();
        balances.settle(&held, 150);
        assert_eq!(balances.user_available(1), -50);
        assert_eq!(
            balances.reserve(1, None, exactly(0)).unwrap_err(),
            Refusal::User
        );
        balances.set_user_stored(1, 200);
        assert!(balances.reserve(1, None, exactly(10)).is_ok());
    }

    #[test]
    fn concurrent_reservations_hold_at_most_the_balance() {
        let balances = std::sync::Arc::new(Balances::default());
        balances.set_user_stored(1, 1000);
        balances.set_token_stored(2, 700);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let b = std::sync::Arc::clone(&balances);
                std::thread::spawn(move || {
                    let bounds = Bounds {
                        floor: 5,
                        ceiling: 7,
                    };
                    (0..100)
                        .filter_map(|_| b.reserve(1, Some(2), bounds).ok())
                        .map(|r| r.amount)
                        .sum::<i64>()
                })
            })
            .collect();
        let held: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(held <= 700 && held > 700 - 5, "{held}");
        assert!(balances.token_available(2) >= 0);
    }
}
