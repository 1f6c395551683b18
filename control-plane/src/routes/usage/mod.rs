//! Seed 002's usage routes: `GET /api/usage/stats` (the caller's budget and use, see
//! [`stats`]) and `GET /api/admin/stats` (the system overview for administrators, see
//! [`admin_stats`]); its `GET /api/usage/log` is the log routes' own list of the caller's rows
//! (`routes::log::list::own`). Numbers come from the per-hour usage aggregates and the
//! account's balances, never from a scan of the logs.
//!
//! The seed shows its answers as bare objects; they are answered in new-api's envelope with the
//! same fields also at the top level (as `/api/payment/qrcode`), so that both the seed's
//! clients and new-api's read them. The seed's JWT Bearer scheme is a later issue: the caller
//! authenticates as on every other route (session cookie or access token, with
//! `New-Api-User`).

pub(super) mod admin_stats;
pub(super) mod stats;
