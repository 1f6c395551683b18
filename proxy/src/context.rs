//! Per-request state of the proxy, typed (not a string-keyed map).

use crate::relay::RelaySummary;
use crate::route::Route;
use std::time::Instant;

/// What the proxy knows about one request as it moves through Pingora's phases.
#[derive(Debug)]
pub struct RequestContext {
    /// Where the request goes.
    pub route: Route,
    /// When the proxy started on it.
    pub started: Instant,
    /// What the relay did (model, channel, retries), for metrics.
    pub relay: RelaySummary,
}

impl Default for RequestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestContext {
    /// A context for a request that just arrived.
    pub fn new() -> Self {
        Self {
            route: Route::default(),
            started: Instant::now(),
            relay: RelaySummary::default(),
        }
    }
}
