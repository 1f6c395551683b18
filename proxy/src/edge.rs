//! The client side of the edge: caps on connections (in all and per client address) and a
//! deadline for each request's headers, around Pingora's HTTP application.
//!
//! Pingora times out each *read* of a request header (60 s), not the header as a whole, so a
//! client that trickles a byte every few seconds holds its connection (and a file descriptor)
//! for ever; enough of them exhaust the process. Here, each connection gets
//! `server.header_timeout_secs` to deliver a complete request header (after a response on a
//! kept-alive connection: `server.keepalive_idle_secs`), or it is closed. A connection over
//! `server.max_connections` or `server.max_connections_per_ip` is answered 503 with
//! `Retry-After` at once and closed, before any parsing.

use crate::metrics::ProxyMetrics;
use async_trait::async_trait;
use dashmap::DashMap;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The answer to a connection over a cap.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: application/json\r\nContent-Length: 97\r\nConnection: close\r\n\r\n\
{\"error\":{\"message\":\"Too many connections, retry shortly\",\"type\":\"server_error\",\"code\":null}}";

/// The edge's limits (`[server]` settings).
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// Open client connections at most; 0: no cap.
    pub max_connections: usize,
    /// Open connections per client address at most; 0: no cap.
    pub max_per_ip: usize,
    /// Time a new connection has to deliver its first request header.
    pub header_timeout: Duration,
    /// Time a kept-alive connection has to deliver its next request header.
    pub keepalive_idle: Duration,
}

/// Open connections and their state, shared by the wrapper and the proxy's request filter.
pub struct Edge {
    limits: EdgeLimits,
    open: AtomicUsize,
    per_ip: DashMap<IpAddr, usize>,
    /// By connection (file descriptor, unique while the connection is open): whether its
    /// current request header has arrived. `serial` tells a connection from an earlier one
    /// that had the same descriptor.
    connections: DashMap<i32, Connection>,
    next_serial: AtomicU64,
    metrics: Arc<ProxyMetrics>,
}

struct Connection {
    serial: u64,
    header_arrived: Arc<AtomicBool>,
}

impl Edge {
    pub fn new(limits: EdgeLimits, metrics: Arc<ProxyMetrics>) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: AtomicUsize::new(0),
            per_ip: DashMap::new(),
            connections: DashMap::new(),
            next_serial: AtomicU64::new(0),
            metrics,
        })
    }

    /// Called by the proxy once a request header has arrived on connection `id`.
    pub fn header_arrived(&self, id: i32) {
        if let Some(connection) = self.connections.get(&id) {
            connection.header_arrived.store(true, Ordering::Relaxed);
        }
    }

    /// Counts a new connection, unless a cap refuses it.
    fn admit(&self, ip: Option<IpAddr>) -> bool {
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        if self.limits.max_connections > 0 && open > self.limits.max_connections {
            self.open.fetch_sub(1, Ordering::SeqCst);
            self.metrics.shed("connections");
            return false;
        }
        if let Some(ip) = ip {
            let mut count = self.per_ip.entry(ip).or_insert(0);
            if self.limits.max_per_ip > 0 && *count >= self.limits.max_per_ip {
                drop(count);
                self.open.fetch_sub(1, Ordering::SeqCst);
                self.metrics.shed("connections_per_ip");
                return false;
            }
            *count += 1;
        }
        self.metrics.client_connections(open);
        true
    }

    /// Uncounts a closed connection.
    fn release(&self, ip: Option<IpAddr>) {
        let open = self.open.fetch_sub(1, Ordering::SeqCst) - 1;
        self.metrics.client_connections(open);
        if let Some(ip) = ip {
            let emptied = self.per_ip.get_mut(&ip).is_some_and(|mut count| {
                *count = count.saturating_sub(1);
                *count == 0
            });
            if emptied {
                self.per_ip.remove_if(&ip, |_, count| *count == 0);
            }
        }
    }
}

/// Pingora's HTTP application behind the edge's caps and header deadline.
pub struct Guarded<A> {
    inner: Arc<A>,
    edge: Arc<Edge>,
}

impl<A> Guarded<A> {
    pub fn new(inner: A, edge: Arc<Edge>) -> Self {
        Self {
            inner: Arc::new(inner),
            edge,
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    /// Serves the connection's requests one after the other (keep-alive handled here, so the
    /// connection's end is known: it is never handed back to the listener).
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let edge = &self.edge;
        let id = stream.id();
        let ip = stream
            .get_socket_digest()
            .and_then(|digest| digest.peer_addr().cloned())
            .and_then(|addr| addr.as_inet().map(|inet| inet.ip()));
        if !edge.admit(ip) {
            let _ = stream.write_all(REFUSAL).await;
            let _ = stream.flush().await;
            return None;
        }
        let serial = edge.next_serial.fetch_add(1, Ordering::Relaxed);
        let arrived = Arc::new(AtomicBool::new(false));
        edge.connections.insert(
            id,
            Connection {
                serial,
                header_arrived: Arc::clone(&arrived),
            },
        );
        let mut limit = edge.limits.header_timeout;
        let mut next = Some(stream);
        while let Some(stream) = next.take() {
            arrived.store(false, Ordering::Relaxed);
            let deadline = async {
                tokio::time::sleep(limit).await;
                if arrived.load(Ordering::Relaxed) {
                    std::future::pending::<()>().await;
                }
            };
            next = tokio::select! {
                kept = self.inner.process_new(stream, shutdown) => kept,
                () = deadline => {
                    // Dropping the session closes the connection.
                    edge.metrics.shed("header_timeout");
                    None
                }
            };
            limit = edge.limits.keepalive_idle;
        }
        edge.connections
            .remove_if(&id, |_, connection| connection.serial == serial);
        edge.release(ip);
        None
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}
