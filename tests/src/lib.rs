//! Test harness: starts the real `pylon-proxy` binary (which starts `pylon-control-plane`) on
//! free ports against a fresh database, on the embedded default (SQLite + in-process cache) or
//! on MySQL + Redis, and gives tests an HTTP client for it.
//!
//! MySQL and Redis come from `PYLON_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`) and
//! `PYLON_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). When they cannot be reached the
//! test fails: it never skips.

pub mod backend;
pub mod canned_upstream;
pub mod catalogue_fixtures;
pub mod client;
pub mod custom_oauth_fixtures;
pub mod fixtures;
pub mod in_process;
pub mod jwt_issuer;
pub mod mj_upstream;
pub mod mock_server;
pub mod oidc_provider;
pub mod outage;
pub mod passkey_fixtures;
pub mod payment_gateways;
pub mod process;
pub mod query_plans;
pub mod registration_fixtures;
pub mod smtp_sink;
pub mod social_fixtures;
pub mod social_providers;
pub mod suno_upstream;
pub mod user_admin_fixtures;
pub mod video_upstream;
pub mod waffo_gateway;

pub use backend::Backend;
pub use client::Console;
pub use process::{ProxyNode, Pylon, PylonBuilder};

/// Runs `scenario` once on each backend, as two separately reported tests.
#[macro_export]
macro_rules! on_every_backend {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql_redis() {
                super::$scenario($crate::Backend::MySqlRedis).await;
            }
        }
    };
}
