//! Semantic checks of a loaded configuration: ranges, formats and combinations that types alone
//! cannot express. Every failed check is reported together.

use super::{Config, ConfigError};
use std::net::SocketAddr;

pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, message: &str| {
        if !ok {
            problems.push(message.to_string());
        }
    };

    need(
        config.server.listen.parse::<SocketAddr>().is_ok(),
        "`server.listen` must be an address like 0.0.0.0:3000",
    );
    need(
        config.server.metrics_listen.is_empty()
            || config.server.metrics_listen.parse::<SocketAddr>().is_ok(),
        "`server.metrics_listen` must be empty or an address like 127.0.0.1:9464",
    );
    need(
        config.control_plane.listen.parse::<SocketAddr>().is_ok(),
        "`control_plane.listen` must be an address like 127.0.0.1:3001",
    );
    need(
        config.control_plane.max_body_bytes >= 1024,
        "`control_plane.max_body_bytes` must be at least 1024",
    );
    need(
        (1..=10_000).contains(&config.control_plane.log_retention_batch),
        "`control_plane.log_retention_batch` must be 1 to 10000",
    );
    need(
        config.control_plane.log_retention_interval_secs >= 1,
        "`control_plane.log_retention_interval_secs` must be at least 1",
    );
    need(
        config.control_plane.subscription_tick_secs >= 1,
        "`control_plane.subscription_tick_secs` must be at least 1",
    );
    need(
        (1..=300).contains(&config.control_plane.model_metadata_timeout_secs),
        "`control_plane.model_metadata_timeout_secs` must be 1 to 300",
    );
    need(
        (1..=300).contains(&config.control_plane.ionet_timeout_secs),
        "`control_plane.ionet_timeout_secs` must be 1 to 300",
    );
    need(
        config.control_plane.monitor_tick_secs >= 1,
        "`control_plane.monitor_tick_secs` must be at least 1",
    );
    need(
        config.control_plane.task_poll_ms >= 10,
        "`control_plane.task_poll_ms` must be at least 10",
    );
    let control_plane = &config.control_plane;
    for (name, url) in [
        ("codex_auth_url", &control_plane.codex_auth_url),
        ("github_url", &control_plane.github_url),
        ("github_api_url", &control_plane.github_api_url),
        ("discord_api_url", &control_plane.discord_api_url),
        ("linuxdo_url", &control_plane.linuxdo_url),
        ("model_metadata_url", &control_plane.model_metadata_url),
        ("ionet_api_url", &control_plane.ionet_api_url),
    ] {
        need(
            url.starts_with("https://") || url.starts_with("http://"),
            &format!("`control_plane.{name}` must be an http(s) URL"),
        );
    }
    need(
        config.database.url.starts_with("sqlite:") || config.database.url.starts_with("mysql:"),
        "`database.url` must start with sqlite: or mysql:",
    );
    need(
        (1..=1000).contains(&config.database.max_connections),
        "`database.max_connections` must be between 1 and 1000",
    );
    need(
        config.database.acquire_timeout_secs >= 1,
        "`database.acquire_timeout_secs` must be at least 1",
    );
    need(
        config.cache.redis_url.is_empty()
            || config.cache.redis_url.starts_with("redis://")
            || config.cache.redis_url.starts_with("rediss://"),
        "`cache.redis_url` must be empty or start with redis:// or rediss://",
    );
    need(
        (50..=10_000).contains(&config.cache.change_poll_ms),
        "`cache.change_poll_ms` must be between 50 and 10000",
    );
    need(
        config.auth.session_secret.is_empty() || config.auth.session_secret.len() >= 32,
        "`auth.session_secret` must be empty (generated) or at least 32 characters",
    );
    need(
        config.security.key_encryption_secret.is_empty()
            || config.security.key_encryption_secret.len() >= 32,
        "`security.key_encryption_secret` must be empty (generated) or at least 32 characters",
    );
    need(
        config.auth.session_ttl_hours >= 1,
        "`auth.session_ttl_hours` must be at least 1",
    );
    need(
        config.auth.login_window_secs >= 1,
        "`auth.login_window_secs` must be at least 1",
    );
    need(
        config.auth.login_attempts_per_ip >= 1 && config.auth.login_failures_per_account >= 1,
        "`auth.login_attempts_per_ip` and `auth.login_failures_per_account` must be at least 1",
    );
    for proxy in &config.auth.trusted_proxies {
        need(
            crate::net::IpNet::parse(proxy).is_some(),
            &format!("`auth.trusted_proxies` entry `{proxy}` is not an IP or CIDR"),
        );
    }
    need(
        config.relay.max_body_bytes >= 1024,
        "`relay.max_body_bytes` must be at least 1024",
    );
    need(
        config.relay.max_retries <= 20,
        "`relay.max_retries` must be at most 20",
    );
    need(
        config.relay.connect_timeout_secs >= 1
            && config.relay.response_header_timeout_secs >= 1
            && config.relay.idle_timeout_secs >= 1
            && config.relay.request_timeout_secs >= 1,
        "`relay.connect_timeout_secs`, `relay.response_header_timeout_secs`, \
         `relay.idle_timeout_secs` and `relay.request_timeout_secs` must be at least 1",
    );
    need(
        config.relay.default_max_tokens >= 1,
        "`relay.default_max_tokens` must be at least 1",
    );
    need(
        (1..=config.relay.default_max_tokens).contains(&config.relay.min_completion_tokens),
        "`relay.min_completion_tokens` must be between 1 and `relay.default_max_tokens`",
    );
    need(
        config.relay.max_usage_tokens >= 1_000,
        "`relay.max_usage_tokens` must be at least 1000",
    );
    need(
        (10..=60_000).contains(&config.relay.flush_interval_ms),
        "`relay.flush_interval_ms` must be between 10 and 60000",
    );
    need(
        (1..=10_000).contains(&config.relay.flush_batch),
        "`relay.flush_batch` must be between 1 and 10000",
    );
    need(
        (300..=600_000).contains(&config.billing.lease_ms),
        "`billing.lease_ms` must be between 300 and 600000",
    );
    need(
        (1..=600_000).contains(&config.billing.settle_fold_ms),
        "`billing.settle_fold_ms` must be between 1 and 600000",
    );
    need(
        (1..=86_400).contains(&config.billing.resync_secs),
        "`billing.resync_secs` must be between 1 and 86400",
    );
    need(
        (1..=3_600).contains(&config.server.header_timeout_secs),
        "`server.header_timeout_secs` must be between 1 and 3600",
    );
    need(
        (1..=86_400).contains(&config.server.keepalive_idle_secs),
        "`server.keepalive_idle_secs` must be between 1 and 86400",
    );
    need(
        (10..=60_000).contains(&config.cache.command_timeout_ms),
        "`cache.command_timeout_ms` must be between 10 and 60000",
    );
    need(
        config.billing.shutdown_grace_secs <= 3_600,
        "`billing.shutdown_grace_secs` must be at most 3600",
    );
    need(
        (100..=100_000_000).contains(&config.billing.queue_capacity),
        "`billing.queue_capacity` must be between 100 and 100000000",
    );
    need(
        (1..=100).contains(&config.billing.dead_letter_after),
        "`billing.dead_letter_after` must be between 1 and 100",
    );
    need(
        config.relay.circuit_failures >= 1,
        "`relay.circuit_failures` must be at least 1",
    );
    need(
        config.relay.key_cache_capacity >= 1,
        "`relay.key_cache_capacity` must be at least 1",
    );
    need(
        config.relay.unknown_key_ttl_ms <= 3_600_000,
        "`relay.unknown_key_ttl_ms` must be at most 3600000",
    );
    need(
        tracing_subscriber::EnvFilter::try_new(&config.log.level).is_ok(),
        "`log.level` is not a valid filter (e.g. \"info\")",
    );

    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(problems))
    }
}
