//! Checking a monitor: `POST /api/status-monitors/{id}/check` runs one check now and answers the
//! monitor with its new status; the clock runs the same check.

use super::view;
use crate::app::{App, AppState};
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use crate::routes::channel::upstream::test_chat;
use axum::extract::State;
use pylon_shared::db::{CheckOutcome, StatusMonitorRow, now_secs};
use std::time::{Duration, Instant};

pub async fn check_now(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let Some(monitor) = app.db.status_monitor(id).await? else {
        return Err(ApiError::invalid("The monitor does not exist"));
    };
    check(&app, &monitor).await?;
    let row = app.db.status_monitor(id).await?;
    let row = row.ok_or_else(|| ApiError::invalid("The monitor does not exist"))?;
    Ok(envelope::ok(view(&row)))
}

/// Checks `monitor` and records the outcome.
pub async fn check(app: &App, monitor: &StatusMonitorRow) -> Result<CheckOutcome, ApiError> {
    let timeout = Duration::from_secs(u64::try_from(monitor.timeout_secs.max(1)).unwrap_or(10));
    let outcome = match monitor.kind.as_str() {
        "channel" => check_channel(app, monitor, timeout).await?,
        _ => check_http(&monitor.target, timeout).await,
    };
    app.db
        .record_status_check(monitor.id, now_secs(), &outcome)
        .await?;
    Ok(outcome)
}

async fn check_http(target: &str, timeout: Duration) -> CheckOutcome {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let answer = match client {
        Ok(client) => client.get(target).send().await,
        Err(error) => {
            return down(started, format!("no HTTP client: {error}"));
        }
    };
    match answer {
        Ok(answer) => {
            let status = answer.status();
            if status.is_success() || status.is_redirection() {
                CheckOutcome {
                    up: true,
                    latency_ms: elapsed_ms(started),
                    message: String::new(),
                }
            } else {
                down(started, format!("answered {status}"))
            }
        }
        Err(error) if error.is_timeout() => down(started, format!("no answer in {timeout:?}")),
        Err(error) => down(started, format!("unreachable: {error}")),
    }
}

async fn check_channel(
    app: &App,
    monitor: &StatusMonitorRow,
    timeout: Duration,
) -> Result<CheckOutcome, ApiError> {
    let started = Instant::now();
    let id = monitor.target.parse::<i64>().unwrap_or(0);
    let Some(channel) = app.db.channel_by_id(id).await? else {
        return Ok(down(started, format!("channel {id} does not exist")));
    };
    Ok(
        match tokio::time::timeout(timeout, test_chat(&channel, None)).await {
            Ok(outcome) if outcome.success => CheckOutcome {
                up: true,
                latency_ms: outcome.elapsed_ms,
                message: String::new(),
            },
            Ok(outcome) => down(started, outcome.message),
            Err(_) => down(started, format!("no answer in {timeout:?}")),
        },
    )
}

fn down(started: Instant, message: String) -> CheckOutcome {
    CheckOutcome {
        up: false,
        latency_ms: elapsed_ms(started),
        message,
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}
