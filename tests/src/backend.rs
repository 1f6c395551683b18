//! The two storage backends every capability is tested on, and fresh databases for them.

use sqlx::{AnyPool, Executor};

/// Which database and cache a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + in-process cache (the embedded default).
    Sqlite,
    /// MySQL (MariaDB) + Redis.
    MySqlRedis,
}

/// The MySQL server URL (without a database) the tests use.
pub fn mysql_server_url() -> String {
    std::env::var("PYLON_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// The Redis URL the tests use.
pub fn redis_url() -> String {
    std::env::var("PYLON_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A unique name for this test's database, key prefix and files.
pub fn unique_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "pylon_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

/// Creates an empty MySQL database and returns its URL. Panics (fails the test) when MySQL
/// cannot be reached.
pub async fn create_mysql_database(name: &str) -> String {
    sqlx::any::install_default_drivers();
    let server = mysql_server_url();
    let pool = AnyPool::connect(&format!("{server}/mysql"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "MySQL at {server} is unreachable ({e}); start MariaDB or set PYLON_TEST_MYSQL_URL"
            )
        });
    pool.execute(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    )))
    .await
    .expect("create test database");
    pool.close().await;
    format!("{server}/{name}")
}

/// Drops a test database (best effort, from a thread of its own so it works inside `Drop`).
pub fn drop_mysql_database(name: &str) {
    let name = name.to_string();
    let _ = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            sqlx::any::install_default_drivers();
            if let Ok(pool) = AnyPool::connect(&format!("{}/mysql", mysql_server_url())).await {
                let _ = pool
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS `{name}`"
                    )))
                    .await;
                pool.close().await;
            }
        });
    })
    .join();
}

/// Checks Redis answers. Panics (fails the test) when it cannot be reached.
pub async fn require_redis() {
    use fred::prelude::*;
    let url = redis_url();
    let config = fred::types::config::Config::from_url(&url).expect("valid Redis URL");
    let client = Builder::from_config(config).build().expect("Redis client");
    let connected = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        client.init().await?;
        client.ping::<String>(None).await
    })
    .await;
    match connected {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!(
            "Redis at {url} is unreachable ({e}); start redis-server or set PYLON_TEST_REDIS_URL"
        ),
        Err(_) => panic!("Redis at {url} did not answer within 5 s"),
    }
    let _ = client.quit().await;
}
