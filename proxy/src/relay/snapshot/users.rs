//! Users as the relay checks them, with what pays for their requests.

use pylon_shared::db::{UserBrief, billing_preference_of};

/// One user. The balance lives in [`crate::relay::billing::Balances`].
#[derive(Debug)]
pub struct UserEntry {
    pub id: i64,
    pub username: String,
    pub status: i64,
    pub group: String,
    /// What pays for a request, in which order.
    pub billing: BillingPreference,
    /// The subscriptions in force when read, the soonest to end first.
    pub subscriptions: Vec<SubscriptionEntry>,
}

/// new-api's billing preference (a user setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingPreference {
    SubscriptionFirst,
    WalletFirst,
    SubscriptionOnly,
    WalletOnly,
}

impl BillingPreference {
    fn of(setting: &str) -> Self {
        match billing_preference_of(setting) {
            "wallet_first" => Self::WalletFirst,
            "subscription_only" => Self::SubscriptionOnly,
            "wallet_only" => Self::WalletOnly,
            _ => Self::SubscriptionFirst,
        }
    }
}

/// A subscription that may pay for requests until `end_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionEntry {
    pub id: i64,
    pub end_time: i64,
    /// Whether its quota per period is limited (it then has a balance to hold from).
    pub limited: bool,
}

impl From<UserBrief> for UserEntry {
    fn from(row: UserBrief) -> Self {
        Self {
            id: row.id,
            username: row.username,
            status: row.status,
            group: row.group,
            billing: BillingPreference::of(&row.setting),
            subscriptions: row
                .subscriptions
                .iter()
                .map(|s| SubscriptionEntry {
                    id: s.id,
                    end_time: s.end_time,
                    limited: s.amount_total > 0,
                })
                .collect(),
        }
    }
}
