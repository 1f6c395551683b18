//! Seed 002's exports. For administrators, CSV downloads streamed a batch of rows at a time
//! (never built whole in memory): `GET /api/export/users.csv`, `orders.csv`, `usage.csv` (the
//! per-hour aggregates) and `upstream_keys.csv` (a row per upstream key: its channel, status and
//! balance, the key masked). For the caller, `GET /api/export/self`: their account, usage, orders
//! and latest logs as JSON.

pub mod csv;
pub mod own;
