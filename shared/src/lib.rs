//! What Pylon's processes share: configuration, the database, the cache and change feed,
//! secrets, and the small pieces of domain logic both sides need.

pub mod cache;
pub mod changes;
pub mod channel_affinity;
pub mod config;
pub mod crypto;
pub mod db;
pub mod fetch_setting;
pub mod groups;
pub mod keys;
pub mod llm;
pub mod memory;
pub mod midjourney;
pub mod net;
pub mod payment;
pub mod pricing;
pub mod process_stats;
pub mod roles;
pub mod secrets;
pub mod session;
pub mod suno;
pub mod telemetry;
pub mod upstream_keys;
pub mod usage;
pub mod video_tasks;

/// The version reported by /api/status and recorded at setup.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
