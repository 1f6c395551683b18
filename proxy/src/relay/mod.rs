//! The `/v1` relay: authenticate the key, read and parse the request, price and reserve, try
//! channels until one answers, relay the answer, and settle the exact cost.

mod admission;
pub mod affinity;
pub mod auth;
pub mod billing;
mod body_chunks;
mod charge;
mod completion_limit;
mod dns;
pub mod errors;
mod exchange;
pub mod health;
mod midjourney;
mod models;
pub mod overload;
pub mod playground;
pub mod rate_limit;
pub mod request;
mod request_write;
pub mod routing;
pub mod select;
pub mod snapshot;
mod submission;
mod tasks;
mod translated;
mod upstream;
pub mod vertex_tokens;

use auth::Caller;
use billing::{Ledger, Payer, Reservation, Settlement, Settler};
use errors::RelayError;
use exchange::{Attempt, Delivery, Outcome, Timeouts};
use pingora::connectors::http::Connector;
use pingora::proxy::Session;
use pylon_shared::changes::{ChangeFeed, Topic};
use pylon_shared::config::RelayConfig;
use pylon_shared::db::{Db, KeyDisabled, LOG_TYPE_CONSUME, LOG_TYPE_ERROR, RelayRecord, now_secs};
use pylon_shared::llm::{self, Family};
use pylon_shared::pricing::Price;
use request::{Endpoint, RelayRequest};
use snapshot::Snapshot;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use errors::write_json;
pub use health::{ChannelHealth, Circuit};
pub use midjourney::is_midjourney_path;

/// What the relay shares across requests.
pub struct Relay {
    pub config: RelayConfig,
    pub snapshot: Arc<Snapshot>,
    pub ledger: Arc<Ledger>,
    pub settler: Settler,
    pub health: ChannelHealth,
    resolver: dns::Resolver,
    connector: Connector,
    pub metrics: Arc<crate::metrics::ProxyMetrics>,
    /// For the relay's own writes: disabling a channel automatically.
    db: Db,
    changes: Arc<ChangeFeed>,
    overload: Arc<overload::Overload>,
    in_flight: InFlight,
    /// Vertex AI access tokens, cached until shortly before they expire.
    tokens: vertex_tokens::TokenCache,
    /// Keys' and users' request rate limits.
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
    /// Where channel affinity keeps its bindings.
    pub affinity: affinity::Affinity,
    /// Console sessions, for the playground (`None`: the playground refuses everyone).
    sessions: Option<playground::Sessions>,
    /// The HTTP client of the video task routes (not the chat path's connector).
    tasks_http: reqwest::Client,
    /// The HTTP client of `/mj/image/{id}`, held to the fetch settings.
    image_http: reqwest::Client,
}

/// What the relay tells the proxy's logging phase.
#[derive(Debug, Default, Clone)]
pub struct RelaySummary {
    pub model: String,
    pub channel_id: i64,
    pub retries: u32,
}

impl Relay {
    /// A relay over the loaded snapshot.
    pub fn new(
        config: RelayConfig,
        snapshot: Arc<Snapshot>,
        ledger: Arc<Ledger>,
        settler: Settler,
        metrics: Arc<crate::metrics::ProxyMetrics>,
        db: Db,
        changes: Arc<ChangeFeed>,
    ) -> Self {
        let health = ChannelHealth::new(
            config.circuit_failures,
            Duration::from_secs(config.circuit_window_secs),
            Duration::from_secs(config.circuit_cooldown_secs),
        );
        let overload = overload::Overload::new(
            Duration::from_millis(config.shed_delay_ms),
            Duration::from_millis(config.shed_after_ms),
            Some(metrics.scheduling_delay()),
        );
        let image_http = midjourney::image_client(Arc::clone(&snapshot));
        Self {
            tokens: vertex_tokens::TokenCache::default(),
            overload,
            config,
            snapshot,
            ledger,
            settler,
            health,
            resolver: dns::Resolver::default(),
            connector: Connector::new(None),
            metrics,
            db,
            changes,
            in_flight: InFlight::default(),
            rate_limiter: Arc::new(rate_limit::RateLimiter::in_memory()),
            affinity: affinity::Affinity::in_memory(),
            sessions: None,
            tasks_http: tasks::http_client(),
            image_http,
        }
    }

    /// Serves the playground for the console sessions `sessions` checks.
    pub fn with_playground(mut self, sessions: playground::Sessions) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Holds the rate limits in `limiter` (the shared cache's, across nodes).
    pub fn with_rate_limiter(mut self, limiter: rate_limit::RateLimiter) -> Self {
        self.rate_limiter = Arc::new(limiter);
        self
    }

    /// Keeps channel affinity's bindings in `affinity` (the shared cache's, across nodes).
    pub fn with_affinity(mut self, affinity: affinity::Affinity) -> Self {
        self.affinity = affinity;
        self
    }

    /// The channel affinity state that a request forwarded to the control plane carries (see
    /// `affinity::admin`): None for every request but those of new-api's affinity routes.
    pub async fn affinity_state(&self, header: &pingora::http::RequestHeader) -> Option<String> {
        let (method, uri) = (&header.method, &header.uri);
        self.affinity
            .state_for(&self.snapshot.affinity, method, uri.path(), uri.query())
            .await
    }

    /// Waits until no request is being relayed, or `limit` passed; says whether it got there.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        self.in_flight.wait_idle(limit).await
    }

    /// Handles a `/v1`, `/v1beta` or playground request completely (the response is written
    /// here).
    pub async fn handle(
        &self,
        session: &mut Session,
        summary: &mut RelaySummary,
    ) -> pingora::Result<()> {
        let _in_flight = self.in_flight.enter();
        if midjourney::is_midjourney_path(session.req_header().uri.path()) {
            // Boxed: a rare route's future does not size every relayed request's.
            return Box::pin(self.serve_midjourney(session, summary)).await;
        }
        let playground = playground::asked(session.req_header());
        if playground && let Err(error) = playground::serve_as_relay(session.req_header_mut()) {
            return error.respond(session).await;
        }
        let method = session.req_header().method.clone();
        let path = session.req_header().uri.path().to_string();
        let path_and_query = session
            .req_header()
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.as_str().to_string());
        let ingress = {
            let headers = &session.req_header().headers;
            llm::recognise(method.as_str(), &path_and_query, |name| {
                headers.get(name).and_then(|v| v.to_str().ok())
            })
        };
        let family = ingress
            .as_ref()
            .map_or_else(|| family_of_path(&path), |i| i.format.family());
        if self.overload.shedding() {
            self.metrics.shed("overload");
            return RelayError::overloaded().respond_in(family, session).await;
        }
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let caller = if playground {
            match self.playground_caller(session.req_header()).await {
                Ok(caller) => caller,
                Err(refusal) => return refusal.respond(session).await,
            }
        } else {
            match auth::authenticate(&self.snapshot, session.req_header(), client_ip, now_secs())
                .await
            {
                Ok(caller) => caller,
                Err(error) => return error.respond_in(family, session).await,
            }
        };
        if let Some(route) = tasks::TaskRoute::of(&method, &path) {
            // Boxed: a rare route's future does not size every relayed request's.
            return Box::pin(self.serve_task(session, &caller, route, client_ip, summary)).await;
        }
        let Some(ingress) = ingress else {
            return RelayError::model_not_found(format!("Invalid URL ({method} {path})"))
                .respond_in(family, session)
                .await;
        };
        if ingress.op.is_local() {
            return models::answer(&self.snapshot, &caller, &ingress, session).await;
        }
        let Some(endpoint) = Endpoint::of(&ingress, &path) else {
            return RelayError::model_not_found(format!("Invalid URL ({method} {path})"))
                .respond_in(family, session)
                .await;
        };
        match self
            .relay(session, &caller, ingress, endpoint, client_ip, summary)
            .await
        {
            Ok(()) => Ok(()),
            Err(error) => error.respond_in(family, session).await,
        }
    }

    /// The signed-in user a playground request is made for.
    async fn playground_caller(
        &self,
        header: &pingora::http::RequestHeader,
    ) -> Result<Caller, playground::Refusal> {
        let Some(sessions) = &self.sessions else {
            return Err(playground::Refusal::Relay(RelayError::unavailable(
                "The playground is not available on this node",
            )));
        };
        sessions.authenticate(&self.snapshot, header).await
    }

    /// The caller's group, if its key may use `model` (every billed request asks first).
    fn may_use(&self, caller: &Caller, model: &str) -> Result<String, RelayError> {
        if !caller.token.allows_model(model) {
            return Err(RelayError::forbidden(format!(
                "This API key may not use the model {model}"
            )));
        }
        Ok(caller.group().to_string())
    }

    /// `model`'s price for `group`, before any channel's multiplier.
    fn base_price(&self, model: &str, group: &str) -> Result<Price, RelayError> {
        self.snapshot
            .prices
            .load()
            .price(model, group)
            .ok_or_else(|| {
                RelayError::unavailable(format!("The model `{model}` has no price configured"))
            })
    }

    /// Counts the request against the key's and the group's rate limits, if any apply.
    async fn within_rate_limits(
        &self,
        caller: &Caller,
        model: &str,
        group: &str,
    ) -> Result<(), RelayError> {
        if caller.token.has_rate_limits() || self.snapshot.user_limits.load().enabled {
            let user_limits = self.snapshot.user_limits.load_full();
            self.rate_limiter
                .admit(caller, model, group, &user_limits, &self.metrics)
                .await?;
        }
        Ok(())
    }

    async fn relay(
        &self,
        session: &mut Session,
        caller: &Caller,
        ingress: llm::Ingress,
        endpoint: Endpoint,
        client_ip: Option<IpAddr>,
        summary: &mut RelaySummary,
    ) -> Result<(), RelayError> {
        let started = Instant::now();
        let body = request::read_body(session, self.config.max_body_bytes).await?;
        let picked;
        let (caller, body) = match (&self.sessions, caller.playground) {
            (Some(sessions), true) => {
                let (chosen, body) = sessions.pick_group(caller, body).await?;
                picked = chosen;
                (&picked, body)
            }
            _ => (caller, body),
        };
        let content_type = session
            .req_header()
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if self.overload.behind() && client_departed(session) {
            // It waited in a backlog until its client gave up: nobody would read the answer.
            self.metrics.shed("client_gone");
            return Ok(());
        }
        let request = RelayRequest::parse(ingress, endpoint, body, content_type)?;
        summary.model.clone_from(&request.model);
        let group = self.may_use(caller, &request.model)?;
        let routes = self.snapshot.routes.load();
        let route = routing::Route::resolve(&routes, &caller.token, &group, &request.model)?;
        let base_price = self.base_price(&request.model, &group)?;
        // Held at the dearest candidate's multiplier; charged at the one that serves.
        let price = base_price.with_multiplier(route.dearest(&group, &request.model));
        self.within_rate_limits(caller, &request.model, &group)
            .await?;
        if self.settler.saturated() {
            self.metrics.settlement("backpressure", 1);
            return Err(RelayError::billing_behind());
        }
        let admission =
            admission::admit(&self.ledger, &self.config, caller, &request, &price).await?;
        let reservation = admission.reservation;
        let mut guard = ReservationGuard::new(&self.ledger, admission.reservation);

        let path_and_query = upstream_path(session.req_header());
        let sticky = (!self.config.sticky_header.is_empty())
            .then(|| {
                session
                    .req_header()
                    .headers
                    .get(self.config.sticky_header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
            .flatten();
        let mut binding = affinity::Binding::find(
            &self.snapshot.affinity.load(),
            &affinity::Facts {
                request: &request,
                path: session.req_header().uri.path(),
                header: session.req_header(),
                caller,
                group: &group,
            },
        );
        if let Some(binding) = binding.as_deref_mut() {
            Box::pin(self.affinity.look_up(binding)).await;
        }
        let mut tried: Vec<i64> = Vec::new();
        let mut last_failure = None;
        // A channel to try again with another of its keys (its upstream refused the last one).
        let mut again: Option<routing::Pick> = None;
        while tried.len() <= self.config.max_retries {
            // A request its binding routed goes to no other channel when its rule says so.
            if again.is_none() && binding.as_ref().is_some_and(|b| b.stops_retries()) {
                break;
            }
            let Some(routing::Pick { channel, served }) = again
                .take()
                .or_else(|| {
                    let binding = binding.as_deref_mut()?;
                    let (model, health) = (&request.model, &self.health);
                    self.affinity
                        .first_choice(binding, &route, &group, model, &tried, health)
                })
                .or_else(|| {
                    route.next(
                        &group,
                        &request.model,
                        &tried,
                        &self.health,
                        sticky.as_deref(),
                    )
                })
            else {
                break;
            };
            tried.push(channel.id);
            summary.channel_id = channel.id;
            summary.retries = u32::try_from(tried.len() - 1).unwrap_or(u32::MAX);
            let Some(key) = channel.pick_key() else {
                self.health.failure(channel.id);
                continue;
            };
            let upstream_model = channel.upstream_model(&request.model).to_string();
            let target = match upstream::target(
                &channel,
                key,
                &request,
                &upstream_model,
                admission.upstream_limit,
                &path_and_query,
                session.req_header(),
                &self.tokens,
            )
            .await
            {
                Ok(target) => target,
                Err(upstream::TargetError::Client(error)) => return Err(error),
                Err(upstream::TargetError::Channel(message)) => {
                    self.health.failure(channel.id);
                    last_failure = Some((None, message));
                    continue;
                }
            };
            let addr = match self
                .resolver
                .resolve(&target.upstream.host, target.upstream.port)
                .await
            {
                Ok(addr) => addr,
                Err(error) => {
                    self.health.failure(channel.id);
                    last_failure = Some((
                        None,
                        format!("resolving channel #{} failed: {error}", channel.id),
                    ));
                    continue;
                }
            };
            let attempt = Attempt {
                channel: &channel,
                addr,
                request: &request,
                target,
                timeouts: self.timeouts(started),
                http2: self.config.upstream_http2,
            };
            let _stream = request.stream.then(|| self.metrics.stream_started());
            let outcome = exchange::run(&self.connector, attempt, session).await;
            match outcome {
                Outcome::Delivered(mut delivery) => {
                    if delivery.status < 500 {
                        self.health.success(channel.id);
                        self.metrics
                            .circuit(channel.id, self.health.circuit(channel.id));
                    }
                    let record = self.record(
                        caller,
                        &request,
                        &group,
                        &channel,
                        &upstream_model,
                        &base_price.with_multiplier(served.total()),
                        &served,
                        &delivery,
                        started,
                        client_ip,
                        tried.len() - 1,
                        &admission,
                    );
                    let record = self.affinity.settle(binding.as_deref(), &tried, record);
                    self.finish(&mut guard, caller, record, reservation).await;
                    exchange::end(session, &mut delivery).await;
                    return Ok(());
                }
                Outcome::Failed(failure) => {
                    tracing::info!(channel = channel.id, status = ?failure.status, message = %failure.message, "attempt failed; trying again");
                    self.metrics.retry(channel.id);
                    let refused = failure
                        .status
                        .filter(|s| self.config.auto_disable_statuses.contains(s));
                    // A refused key of a channel with other usable keys is the key's fault: the
                    // channel is tried again with another key, and its circuit is left alone.
                    let other_key = refused.is_some_and(|status| {
                        self.auto_disable(&channel, key, status, &failure.message)
                    });
                    if other_key {
                        again = Some(routing::Pick {
                            channel: Arc::clone(&channel),
                            served,
                        });
                    } else {
                        match failure.retry_after {
                            Some(pause) if failure.status == Some(429) => {
                                self.health.pause(channel.id, pause)
                            }
                            _ => self.health.failure(channel.id),
                        }
                    }
                    self.metrics
                        .circuit(channel.id, self.health.circuit(channel.id));
                    last_failure = Some((failure.status, failure.message));
                }
            }
        }
        // Nothing reached the client: the reservation is returned in full (guard drop) and the
        // failure is logged without charge.
        let (status, message) =
            last_failure.unwrap_or((None, "no channel is available for this model".into()));
        let record = RelayRecord {
            request_id: request_id(),
            created_at: now_secs(),
            log_type: LOG_TYPE_ERROR,
            user_id: caller.user.id,
            username: caller.user.username.clone(),
            token_id: caller.token.id,
            token_name: caller.token.name.clone(),
            channel_id: tried.last().copied().unwrap_or(0),
            group,
            model_name: request.model.clone(),
            use_time_ms: millis(started.elapsed()),
            is_stream: request.stream,
            ip: client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            status_code: i64::from(status.unwrap_or(502)),
            retries: i64::try_from(tried.len().saturating_sub(1)).unwrap_or(0),
            content: message.clone(),
            other: "{}".into(),
            ..RelayRecord::default()
        };
        let record = self.affinity.settle(binding.as_deref(), &tried, record);
        self.finish(&mut guard, caller, record, reservation).await;
        Err(match status {
            Some(status) if status < 500 && status != 429 => RelayError::upstream(502, message),
            Some(429) => RelayError::upstream(429, message),
            _ => RelayError::upstream(502, message),
        })
    }

    /// Disables what an upstream refused with `key` (e.g. a revoked key), when the channel
    /// allows it: of a channel with several keys only that key (this node stops using it at
    /// once; the database disables the channel too if it was its last enabled key), else the
    /// channel. Off the request path; the change reaches every node through the feed. Returns
    /// whether the channel has another usable key to try.
    fn auto_disable(
        &self,
        channel: &snapshot::ChannelEntry,
        key: &str,
        status: u16,
        message: &str,
    ) -> bool {
        if !channel.auto_ban {
            return false;
        }
        let (db, changes, id) = (self.db.clone(), Arc::clone(&self.changes), channel.id);
        let reason = format!("disabled automatically: upstream answered {status}: {message}");
        if !channel.is_multi_key() {
            tracing::warn!(channel = id, name = %channel.name, %reason, "disabling channel");
            tokio::spawn(async move {
                let disabled = db.auto_disable_channel(id, &reason).await;
                announce_disabled(&changes, id, disabled).await;
            });
            return false;
        }
        let other_key = channel.stop_using_key(key);
        tracing::warn!(channel = id, name = %channel.name, %reason, other_key, "disabling one key of the channel");
        let key = key.to_string();
        tokio::spawn(async move {
            let disabled = db.auto_disable_channel_key(id, &key, &reason).await;
            announce_disabled(&changes, id, disabled.map(|d| d != KeyDisabled::Nothing)).await;
        });
        other_key
    }

    fn timeouts(&self, started: Instant) -> Timeouts {
        Timeouts {
            request_deadline: started + Duration::from_secs(self.config.request_timeout_secs),
            connect: Duration::from_secs(self.config.connect_timeout_secs),
            response_header: Duration::from_secs(self.config.response_header_timeout_secs),
            first_token: (self.config.first_token_timeout_secs > 0)
                .then(|| Duration::from_secs(self.config.first_token_timeout_secs)),
            idle: Duration::from_secs(self.config.idle_timeout_secs),
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "assembles the log row from the request's parts"
    )]
    fn record(
        &self,
        caller: &Caller,
        request: &RelayRequest,
        group: &str,
        channel: &snapshot::ChannelEntry,
        upstream_model: &str,
        price: &Price,
        served: &routing::Served,
        delivery: &Delivery,
        started: Instant,
        client_ip: Option<IpAddr>,
        retries: usize,
        admission: &admission::Admission,
    ) -> RelayRecord {
        let success = (200..300).contains(&delivery.status);
        // Counting a prompt's tokens is free, as it is at Anthropic and Google.
        let billable = success && request.ingress.op != llm::Op::CountTokens;
        let charge::Bill {
            usage,
            estimated,
            quota,
            other,
        } = charge::bill(
            price,
            served,
            admission,
            delivery,
            billable,
            self.config.max_usage_tokens,
            &self.metrics,
        );
        self.metrics.tokens(
            &request.model,
            usage.prompt_tokens,
            usage.completion_tokens,
            quota,
        );
        if let Some(first) = delivery.first_byte {
            self.metrics.first_byte(&request.model, first);
        }
        let content = if let Some(error) = &delivery.upstream_error {
            format!("upstream ended the answer early ({error}); billed for what was delivered")
        } else if delivery.client_gone {
            "client disconnected; billed for what was delivered".to_string()
        } else if !delivery.complete {
            "upstream ended the answer early; billed for what was delivered".to_string()
        } else {
            String::new()
        };
        RelayRecord {
            request_id: request_id(),
            created_at: now_secs(),
            log_type: if success {
                LOG_TYPE_CONSUME
            } else {
                LOG_TYPE_ERROR
            },
            user_id: caller.user.id,
            username: caller.user.username.clone(),
            token_id: caller.token.id,
            token_name: caller.token.name.clone(),
            charge_token: !caller.token.unlimited,
            subscription_id: admission.reservation.subscription_id().unwrap_or(0),
            channel_id: channel.id,
            group: group.to_string(),
            model_name: request.model.clone(),
            upstream_model: upstream_model.to_string(),
            quota,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cached_tokens: usage.cached_tokens,
            use_time_ms: millis(started.elapsed()),
            ttft_ms: delivery.first_byte.map_or(0, millis),
            is_stream: request.stream,
            is_estimated: estimated,
            ip: client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            status_code: i64::from(delivery.status),
            retries: i64::try_from(retries).unwrap_or(0),
            content,
            other,
        }
    }

    /// Settles the reservation with the record's charge and queues the record.
    async fn finish(
        &self,
        guard: &mut ReservationGuard<'_>,
        caller: &Caller,
        record: RelayRecord,
        reservation: Reservation,
    ) {
        let charge = if record.log_type == LOG_TYPE_CONSUME {
            record.quota
        } else {
            0
        };
        guard.settle(charge);
        if record.log_type == LOG_TYPE_CONSUME {
            // Counted before the answer ends, so the client's next request sees it.
            if self.snapshot.user_limits.load().enabled {
                let limits = self.snapshot.user_limits.load_full();
                self.rate_limiter.succeeded(record.user_id, &limits).await;
            }
            // Nothing is done for a key without token limits.
            let tokens = record
                .prompt_tokens
                .max(0)
                .saturating_add(record.completion_tokens.max(0));
            self.rate_limiter
                .used_tokens(
                    &caller.token,
                    &record.model_name,
                    u64::try_from(tokens).unwrap_or(0),
                )
                .await;
        }
        self.settler.submit(Settlement {
            record,
            charged_token: reservation.token_id,
            subscription_limited: matches!(
                reservation.payer,
                Payer::Subscription { limited: true, .. }
            ),
        });
    }
}

/// Announces an automatic disable that changed something (a channel or one of its keys).
async fn announce_disabled(
    changes: &ChangeFeed,
    id: i64,
    disabled: Result<bool, pylon_shared::db::DbError>,
) {
    match disabled {
        Ok(true) => {
            if let Err(error) = changes.publish(Topic::Channel, id).await {
                tracing::warn!(%error, channel = id, "announcing the disabled channel failed");
            }
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, channel = id, "disabling automatically failed"),
    }
}

/// Requests being relayed (so that a stop can wait for them).
#[derive(Default)]
struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// One request in flight, until dropped.
struct InFlightGuard<'a>(&'a InFlight);

impl InFlight {
    fn enter(&self) -> InFlightGuard<'_> {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlightGuard(self)
    }

    async fn wait_idle(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self
            .0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

/// Returns a reservation in full if the request ends without settling (error, panic, cancel).
struct ReservationGuard<'a> {
    ledger: &'a Ledger,
    reservation: Option<Reservation>,
}

impl<'a> ReservationGuard<'a> {
    fn new(ledger: &'a Ledger, reservation: Reservation) -> Self {
        Self {
            ledger,
            reservation: Some(reservation),
        }
    }

    fn settle(&mut self, charge: i64) {
        if let Some(reservation) = self.reservation.take() {
            self.ledger.settle(&reservation, charge);
        }
    }
}

impl Drop for ReservationGuard<'_> {
    fn drop(&mut self) {
        self.settle(0);
    }
}

/// The family whose error shape a request to an unrecognised `path` gets.
fn family_of_path(path: &str) -> Family {
    if path.starts_with("/v1beta") {
        Family::Gemini
    } else if path.starts_with("/v1/messages") {
        Family::Anthropic
    } else {
        Family::OpenAi
    }
}

/// Whether the client closed its connection (HTTP/1 over TCP; other transports say no).
fn client_departed(session: &Session) -> bool {
    session
        .downstream_session
        .stream()
        .is_some_and(|stream| overload::client_departed(stream.id()))
}

/// The client's path and query, without a `key=` parameter (keys never go upstream).
fn upstream_path(header: &pingora::http::RequestHeader) -> String {
    let path = header.uri.path();
    match header.uri.query() {
        Some(query) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.starts_with("key="))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => path.to_string(),
    }
}

/// A new log row's request id: `req_`, the time in microseconds (13 hex digits, so ids sort by
/// time until the year 2112) and 11 random letters and digits. Rows arrive in about the order of
/// their ids, so the unique index on `logs.request_id` grows at its end like the time index
/// instead of taking every insert at a random page (which made each settlement batch rewrite
/// most of that index's pages).
fn request_id() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    format!(
        "req_{micros:013x}{}",
        pylon_shared::crypto::random_alphanumeric(11)
    )
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `make` returns, without calling it.
    fn size_of_future<F: Fn() -> R, R>(_: &F) -> usize {
        std::mem::size_of::<R>()
    }

    /// A held stream keeps its whole relay future (sized by its largest phase) for its life:
    /// the rare or short phases with large futures (Pingora's connect and pool return, the Vertex
    /// token exchange) are boxed so that they do not size it. It was 22.4 KiB before that.
    #[test]
    #[expect(
        unreachable_code,
        unused_variables,
        clippy::diverging_sub_expression,
        reason = "the future is only typed, never made"
    )]
    fn the_relay_future_stays_small() {
        let size = size_of_future(&|| {
            let relay: &Relay = unreachable!();
            relay.handle(unreachable!(), unreachable!())
        });
        assert!(size <= 12 * 1024, "the relay future is {size} bytes");
    }
}
