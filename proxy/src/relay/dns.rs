//! Upstream host names resolved asynchronously and cached, so that Pingora is always handed a
//! socket address (its own resolution blocks the worker and panics on failure).

use dashmap::DashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a resolution is reused.
const TTL: Duration = Duration::from_secs(60);

/// A cache of resolved upstream addresses.
#[derive(Default)]
pub struct Resolver {
    cache: DashMap<(String, u16), (SocketAddr, Instant)>,
}

impl Resolver {
    /// The address of `host:port`.
    pub async fn resolve(&self, host: &str, port: u16) -> std::io::Result<SocketAddr> {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let key = (host.to_string(), port);
        if let Some(entry) = self.cache.get(&key).filter(|e| e.1.elapsed() < TTL) {
            return Ok(entry.0);
        }
        let addr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host} has no address"),
                )
            })?;
        self.cache.insert(key, (addr, Instant::now()));
        Ok(addr)
    }
}
