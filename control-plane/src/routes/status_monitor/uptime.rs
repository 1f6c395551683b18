//! `GET /api/uptime/status`: the public monitors in new-api's Uptime Kuma answer, so that its
//! console's status panel shows them: a list of categories `{"categoryName", "monitors":
//! [{"name", "uptime", "status", "group"}]}`. new-api reads those from Uptime Kuma status
//! pages; Pylon checks its own monitors, so a category is a kind of monitor (HTTP addresses are
//! "Services", channels "Channels"). `uptime` is the share of the last 24 hours' checks that
//! were up (0 to 1, as Uptime Kuma reports it; 0 before the first check); `status` is Uptime
//! Kuma's: 1 up, 0 down, 2 pending (not checked yet).

use crate::app::AppState;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::now_secs;
use serde_json::{Value, json};

/// The category of a monitor kind.
fn category(kind: &str) -> &'static str {
    match kind {
        "channel" => "Channels",
        _ => "Services",
    }
}

/// Uptime Kuma's status number of a monitor's last status.
fn kuma_status(last_status: &str) -> i64 {
    match last_status {
        "up" => 1,
        "down" => 0,
        _ => 2,
    }
}

pub async fn status(State(app): State<AppState>) -> ApiResult {
    let since = now_secs() - 86_400;
    let mut categories: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for monitor in app.db.status_monitors(true).await? {
        let day = app.db.status_history(monitor.id, since, 0).await?;
        let uptime = if day.checks == 0 {
            0.0
        } else {
            // A display ratio, not money: four decimals are what Uptime Kuma shows.
            let ten_thousandths = day.up * 10_000 / day.checks;
            ten_thousandths as f64 / 10_000.0
        };
        let name = category(&monitor.kind);
        let shown = json!({
            "name": monitor.name,
            "uptime": uptime,
            "status": kuma_status(&monitor.last_status),
            "group": name,
        });
        match categories
            .iter_mut()
            .find(|(category, _)| *category == name)
        {
            Some((_, monitors)) => monitors.push(shown),
            None => categories.push((name, vec![shown])),
        }
    }
    let data: Vec<Value> = categories
        .into_iter()
        .map(|(name, monitors)| json!({ "categoryName": name, "monitors": monitors }))
        .collect();
    Ok(envelope::ok(data))
}
