//! `/api/user/*`: the signed-in user's own account.

pub(super) mod access_token;
pub(super) mod aff;
pub(super) mod aff_transfer;
pub(super) mod checkin;
pub(super) mod checkin_config;
pub(super) mod checkin_records;
pub(super) mod checkin_status;
pub(crate) mod groups;
pub(super) mod login;
pub(super) mod logout;
pub(super) mod models;
pub(super) mod self_delete;
pub(super) mod self_info;
pub(super) mod self_update;
pub(super) mod setting;
