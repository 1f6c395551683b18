//! Users as the relay checks them.

use pylon_shared::db::UserBrief;

/// One user. The balance lives in [`crate::relay::billing::Balances`].
#[derive(Debug)]
pub struct UserEntry {
    pub id: i64,
    pub username: String,
    pub status: i64,
    pub group: String,
}

impl From<UserBrief> for UserEntry {
    fn from(row: UserBrief) -> Self {
        Self {
            id: row.id,
            username: row.username,
            status: row.status,
            group: row.group,
        }
    }
}
