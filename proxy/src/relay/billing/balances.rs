//! Available balances of users and keys, held in memory so admission never waits on the
//! database. For each account: `stored` is the database balance as last read (minus charges
//! this process has since written), `held` is what this process has reserved or charged but not
//! yet written. Available = stored - held. A reservation succeeds only if it fits, atomically.
//!
//! Reloads from the database and flushes to it are serialized by `flush_lock`, so a reload never
//! sees a flushed charge that `held` still counts.

use dashmap::DashMap;
use pylon_shared::cache::balances::Account;
use pylon_shared::pricing::Bounds;
use std::sync::{Arc, Mutex};

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
    /// The subscription's quota left does not cover the smallest reservation.
    Subscription,
    /// The key's balance does not cover the smallest reservation.
    Token,
    /// The shared ledger cannot be reached.
    Unavailable,
}

/// What pays for a request: the user's wallet or one of their subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Payer {
    Wallet,
    Subscription {
        id: i64,
        /// Whether its quota is limited (it has a balance; an unlimited one holds nothing).
        limited: bool,
    },
}

/// An amount held for one request, to be settled exactly once.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    pub user_id: i64,
    pub payer: Payer,
    /// The key charged, unless its quota is unlimited.
    pub token_id: Option<i64>,
    pub amount: i64,
}

impl Reservation {
    /// The balances the reservation holds from: the payer's (unless an unlimited
    /// subscription), then the key's.
    pub fn accounts(&self) -> Vec<Account> {
        accounts(self.user_id, self.payer, self.token_id)
    }

    /// The subscription that pays, if any.
    pub fn subscription_id(&self) -> Option<i64> {
        match self.payer {
            Payer::Wallet => None,
            Payer::Subscription { id, .. } => Some(id),
        }
    }
}

/// The balances a request paid by `payer` holds from, the payer's first.
pub fn accounts(user_id: i64, payer: Payer, token_id: Option<i64>) -> Vec<Account> {
    let mut accounts = Vec::with_capacity(2);
    match payer {
        Payer::Wallet => accounts.push(Account::User(user_id)),
        Payer::Subscription { id, limited: true } => accounts.push(Account::Subscription(id)),
        Payer::Subscription { limited: false, .. } => {}
    }
    accounts.extend(token_id.map(Account::Token));
    accounts
}

/// Every balance this process knows.
#[derive(Default)]
pub struct Balances {
    /// Each balance behind its own lock: a reservation takes two (payer, then key) without
    /// holding the map's shard lock, which two accounts may share.
    accounts: DashMap<Account, Arc<Mutex<Balance>>>,
    /// Serializes database reads of balances with flushes of charges.
    pub flush_lock: tokio::sync::Mutex<()>,
}

fn lock(entry: &Mutex<Balance>) -> std::sync::MutexGuard<'_, Balance> {
    entry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Balances {
    /// The balance of `account` (created empty), out of the map.
    fn cell(&self, account: Account) -> Arc<Mutex<Balance>> {
        Arc::clone(&self.accounts.entry(account).or_default())
    }

    fn with<T>(&self, account: Account, f: impl FnOnce(&mut Balance) -> T) -> T {
        let cell = self.cell(account);
        let mut guard = lock(&cell);
        f(&mut guard)
    }

    /// Records the user's balance as stored in the database.
    pub fn set_user_stored(&self, user_id: i64, stored: i64) {
        self.with(Account::User(user_id), |b| b.stored = stored);
    }

    /// Records the key's balance as stored in the database.
    pub fn set_token_stored(&self, token_id: i64, stored: i64) {
        self.with(Account::Token(token_id), |b| b.stored = stored);
    }

    /// Records what is left of a subscription's quota as stored in the database.
    pub fn set_subscription_stored(&self, subscription_id: i64, stored: i64) {
        self.with(Account::Subscription(subscription_id), |b| {
            b.stored = stored
        });
    }

    /// What the account can still spend.
    #[cfg(test)]
    pub fn available(&self, account: Account) -> i64 {
        self.with(account, |b| b.available())
    }

    /// Holds from the payer (unless an unlimited subscription) and (unless unlimited) the
    /// key, as much as both have available up to `bounds.ceiling`; refuses when either has
    /// nothing or less than `bounds.floor`. Both accounts are locked together (the payer's
    /// first, always), so the check and the hold are one step.
    pub fn reserve(
        &self,
        user_id: i64,
        payer: Payer,
        token_id: Option<i64>,
        bounds: Bounds,
    ) -> Result<Reservation, Refusal> {
        let payer_account = match payer {
            Payer::Wallet => Some(Account::User(user_id)),
            Payer::Subscription { id, limited: true } => Some(Account::Subscription(id)),
            Payer::Subscription { limited: false, .. } => None,
        };
        let payer_cell = payer_account.map(|a| self.cell(a));
        let token_cell = token_id.map(|id| self.cell(Account::Token(id)));
        let mut paying = payer_cell.as_deref().map(lock);
        let mut token = token_cell.as_deref().map(lock);
        let covers = |b: &Balance| b.available() > 0 && b.available() >= bounds.floor;
        if paying.as_deref().is_some_and(|p| !covers(p)) {
            return Err(match payer {
                Payer::Wallet => Refusal::User,
                Payer::Subscription { .. } => Refusal::Subscription,
            });
        }
        if token.as_deref().is_some_and(|t| !covers(t)) {
            return Err(Refusal::Token);
        }
        let available = [paying.as_deref(), token.as_deref()]
            .into_iter()
            .flatten()
            .map(Balance::available)
            .min()
            .unwrap_or(bounds.ceiling);
        let amount = bounds.ceiling.min(available).max(0);
        for balance in [paying.as_deref_mut(), token.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            balance.held = balance.held.saturating_add(amount);
        }
        Ok(Reservation {
            user_id,
            payer,
            token_id,
            amount,
        })
    }

    /// Replaces a reservation by the real charge (which stays held until flushed).
    pub fn settle(&self, reservation: &Reservation, charge: i64) {
        let delta = charge.saturating_sub(reservation.amount);
        for account in reservation.accounts() {
            self.with(account, |b| b.held = b.held.saturating_add(delta));
        }
    }

    /// A charge this process did not hold (replayed from the journal) is now in the database.
    pub fn written_elsewhere(&self, accounts: &[Account], charge: i64) {
        for account in accounts {
            self.with(*account, |b| b.stored = b.stored.saturating_sub(charge));
        }
    }

    /// A charge is now in the database: move it from `held` into `stored`.
    pub fn flushed(&self, accounts: &[Account], charge: i64) {
        for account in accounts {
            self.with(*account, |b| {
                b.stored = b.stored.saturating_sub(charge);
                b.held = b.held.saturating_sub(charge);
            });
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
        let a = balances
            .reserve(1, Payer::Wallet, Some(7), exactly(30))
            .unwrap();
        assert_eq!(
            balances
                .reserve(1, Payer::Wallet, Some(7), exactly(30))
                .unwrap_err(),
            Refusal::Token
        );
        assert_eq!(
            balances.available(Account::User(1)),
            70,
            "a refused key holds nothing from the user"
        );
        balances.settle(&a, 10);
        assert_eq!(balances.available(Account::Token(7)), 40);
        balances.flushed(&[Account::User(1), Account::Token(7)], 10);
        assert_eq!(
            (
                balances.available(Account::User(1)),
                balances.available(Account::Token(7))
            ),
            (90, 40)
        );
        assert_eq!(
            balances
                .reserve(1, Payer::Wallet, None, exactly(91))
                .unwrap_err(),
            Refusal::User
        );
        assert!(
            balances
                .reserve(1, Payer::Wallet, None, exactly(90))
                .is_ok()
        );
        assert_eq!(
            balances
                .reserve(1, Payer::Wallet, None, exactly(0))
                .unwrap_err(),
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
        let held = balances.reserve(1, Payer::Wallet, Some(7), bounds).unwrap();
        assert_eq!(held.amount, 78, "the key's whole balance, not the ceiling");
        assert_eq!(
            balances
                .reserve(1, Payer::Wallet, Some(7), bounds)
                .unwrap_err(),
            Refusal::Token
        );
        balances.settle(&held, 0);
        balances.set_token_stored(7, 62);
        assert_eq!(
            balances
                .reserve(1, Payer::Wallet, Some(7), bounds)
                .unwrap_err(),
            Refusal::Token,
            "below the floor"
        );
    }

    #[test]
    fn a_subscription_holds_from_its_own_balance() {
        let balances = Balances::default();
        balances.set_user_stored(1, 1_000);
        balances.set_subscription_stored(4, 50);
        let limited = Payer::Subscription {
            id: 4,
            limited: true,
        };
        let held = balances.reserve(1, limited, None, exactly(40)).unwrap();
        assert_eq!(held.accounts(), [Account::Subscription(4)]);
        assert_eq!(
            balances.available(Account::User(1)),
            1_000,
            "the wallet is untouched"
        );
        assert_eq!(
            balances.reserve(1, limited, None, exactly(40)).unwrap_err(),
            Refusal::Subscription
        );
        let unlimited = Payer::Subscription {
            id: 5,
            limited: false,
        };
        let free = balances.reserve(1, unlimited, Some(7), exactly(40));
        assert_eq!(free.unwrap_err(), Refusal::Token, "the key still limits");
        balances.set_token_stored(7, 100);
        let held = balances
            .reserve(1, unlimited, Some(7), exactly(40))
            .unwrap();
        assert_eq!(held.accounts(), [Account::Token(7)]);
        assert_eq!(held.subscription_id(), Some(5));
    }

    #[test]
    fn accounts_in_one_shard_of_the_map_do_not_block_each_other() {
        // A user and a key whose balances share a shard of the map are taken together.
        let balances = Balances::default();
        balances.set_user_stored(1, 1_000_000);
        for token in 1..=512 {
            balances.set_token_stored(token, 10);
            assert!(
                balances
                    .reserve(1, Payer::Wallet, Some(token), exactly(10))
                    .is_ok()
            );
        }
        assert_eq!(balances.available(Account::User(1)), 1_000_000 - 5_120);
    }

    #[test]
    fn an_overrun_blocks_the_account_until_covered() {
        let balances = Balances::default();
        balances.set_user_stored(1, 100);
        let held = balances
            .reserve(1, Payer::Wallet, None, exactly(100))
            .unwrap();
        balances.settle(&held, 150);
        assert_eq!(balances.available(Account::User(1)), -50);
        assert_eq!(
            balances
                .reserve(1, Payer::Wallet, None, exactly(0))
                .unwrap_err(),
            Refusal::User
        );
        balances.set_user_stored(1, 200);
        assert!(
            balances
                .reserve(1, Payer::Wallet, None, exactly(10))
                .is_ok()
        );
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
                        .filter_map(|_| b.reserve(1, Payer::Wallet, Some(2), bounds).ok())
                        .map(|r| r.amount)
                        .sum::<i64>()
                })
            })
            .collect();
        let held: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(held <= 700 && held > 700 - 5, "{held}");
        assert!(balances.available(Account::Token(2)) >= 0);
    }
}
