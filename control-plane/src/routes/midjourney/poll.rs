//! The Midjourney poller (new-api's `UpdateMidjourneyTaskBulk`): every
//! `control_plane.task_poll_ms`, claims the unfinished tasks (a lease per row, so that with
//! several control planes each task is asked about by one node at a time), asks each channel
//! about its tasks at once (`POST {base}/mj/task/list-by-condition {"ids": [...]}` with
//! `mj-api-secret: <key that made them>`) and records what it says. A failed task (the
//! upstream's `FAILURE`, a fail reason, an hour without finishing, a deleted channel) is marked
//! failed and refunded in one transaction, once (`Db::fail_midjourney_and_refund`); the caches
//! follow after the commit. midjourney-proxy's callback (`/mj/notify`, [`super::notify`])
//! asks about its task through the same path.

use crate::app::AppState;
use crate::ledger;
use pylon_shared::cache::balances::{self, Account};
use pylon_shared::db::{MidjourneyRow, MidjourneyUpdate, TaskFailed};
use pylon_shared::midjourney;
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Tasks claimed per poll.
const BATCH: i64 = 100;
/// How long a claim lasts: a node that died mid-poll frees its tasks after this.
const LEASE_SECS: i64 = 120;
/// How long one upstream question may take (new-api: 15 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// At most this much of an upstream answer is read.
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Runs until the process ends.
pub async fn run(app: AppState) {
    let every = Duration::from_millis(app.config.control_plane.task_poll_ms.max(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let client = match http_client() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "the Midjourney poller cannot build its HTTP client");
            return;
        }
    };
    loop {
        tick.tick().await;
        poll_once(&app, &client).await;
    }
}

/// The client that asks channels about their tasks (the `/mj/notify` callback's too).
pub(super) fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
}

/// One round: claims, asks and records.
pub async fn poll_once(app: &AppState, client: &reqwest::Client) {
    let claimed = match app.db.claim_unfinished_midjourneys(BATCH, LEASE_SECS).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(%error, "claiming unfinished Midjourney tasks failed");
            return;
        }
    };
    let mut by_channel: BTreeMap<(i64, String), Vec<MidjourneyRow>> = BTreeMap::new();
    for task in claimed {
        if task.mj_id.is_empty() {
            let update = failure(&task, "the upstream gave the task no id");
            finish_failed(app, &task, &update).await;
            continue;
        }
        by_channel
            .entry((task.channel_id, task.key_fingerprint.clone()))
            .or_default()
            .push(task);
    }
    for ((channel_id, _), tasks) in by_channel {
        if let Err(error) = poll_channel(app, client, channel_id, &tasks).await {
            tracing::warn!(%error, channel = channel_id, "polling Midjourney tasks failed");
            for task in &tasks {
                if let Err(error) = app.db.release_midjourney(task.id).await {
                    tracing::warn!(%error, task = task.id, "freeing a Midjourney task failed");
                }
            }
        }
    }
}

/// A failure of `task` for `reason`, keeping what it had.
fn failure(task: &MidjourneyRow, reason: &str) -> MidjourneyUpdate {
    MidjourneyUpdate {
        status: pylon_shared::db::TASK_FAILURE.into(),
        progress: "100%".into(),
        prompt_en: task.prompt_en.clone(),
        state: task.state.clone(),
        submit_time: task.submit_time,
        start_time: task.start_time,
        finish_time: task.finish_time,
        image_url: task.image_url.clone(),
        video_url: task.video_url.clone(),
        video_urls: task.video_urls.clone(),
        fail_reason: reason.to_string(),
        buttons: task.buttons.clone(),
        properties: task.properties.clone(),
    }
}

/// Asks channel `channel_id` about `tasks` (all made with one key) and records the answers
/// (the `/mj/notify` callback asks through here too, for the one task it names).
pub(super) async fn poll_channel(
    app: &AppState,
    client: &reqwest::Client,
    channel_id: i64,
    tasks: &[MidjourneyRow],
) -> anyhow::Result<()> {
    let Some(channel) = app.db.channel_by_id(channel_id).await? else {
        let reason = format!("the channel of the task (#{channel_id}) no longer exists");
        for task in tasks {
            finish_failed(app, task, &failure(task, &reason)).await;
        }
        return Ok(());
    };
    let keys = upstream_keys::split(channel.r#type, &channel.keys);
    let Some(key) = video_tasks::channel_key(&keys, &tasks[0].key_fingerprint) else {
        anyhow::bail!("channel #{channel_id} has no key");
    };
    let url = format!(
        "{}/mj/task/list-by-condition",
        midjourney::base_url(&channel.base_url)
    );
    let ids: Vec<&str> = tasks.iter().map(|t| t.mj_id.as_str()).collect();
    let mut response = client
        .post(&url)
        .header("mj-api-secret", key)
        .json(&json!({ "ids": ids }))
        .send()
        .await?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            anyhow::bail!("the upstream's answer is larger than {MAX_ANSWER_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    if status != reqwest::StatusCode::OK {
        anyhow::bail!("the upstream answered {status}");
    }
    let items: Vec<Value> = serde_json::from_slice(&body)?;
    let now_ms = pylon_shared::db::now_secs().saturating_mul(1000);
    for task in tasks {
        let item = items
            .iter()
            .find(|item| item.get("id").and_then(Value::as_str) == Some(task.mj_id.as_str()));
        let news = match item {
            Some(item) => midjourney::update_of(task, item, now_ms),
            None if now_ms - task.submit_time > midjourney::TIMEOUT_MS => {
                Some((failure(task, "upstream task timed out (over 1 hour)"), true))
            }
            None => None,
        };
        match news {
            Some((update, true)) => finish_failed(app, task, &update).await,
            Some((update, false)) => {
                if !app
                    .db
                    .update_midjourney(task.id, &task.status, &update)
                    .await?
                {
                    tracing::info!(
                        task = task.id,
                        "the Midjourney task moved meanwhile; its news were dropped"
                    );
                }
            }
            None => app.db.release_midjourney(task.id).await?,
        }
    }
    Ok(())
}

/// Marks `task` failed and refunds it (once), then brings the caches along.
async fn finish_failed(app: &AppState, task: &MidjourneyRow, update: &MidjourneyUpdate) {
    match app.db.fail_midjourney_and_refund(task, update).await {
        Ok(TaskFailed::Refunded { movement, changes }) => {
            let movements: Vec<_> = movement.into_iter().map(|m| *m).collect();
            ledger::after_commit(app, &movements, &changes).await;
            if task.subscription_id != 0
                && !movements.is_empty()
                && let Err(error) = balances::add_stored(
                    &app.cache,
                    Account::Subscription(task.subscription_id),
                    task.quota,
                )
                .await
            {
                tracing::warn!(%error, task = task.id, "mirroring a subscription refund failed");
            }
            tracing::info!(task = task.id, mj_id = %task.mj_id, reason = %update.fail_reason, quota = task.quota, "Midjourney task failed; refunded");
        }
        Ok(TaskFailed::AlreadyFinished) => {
            tracing::info!(
                task = task.id,
                "the Midjourney task had ended already; nothing refunded"
            );
        }
        Err(error) => {
            tracing::warn!(%error, task = task.id, "failing a Midjourney task failed");
            if let Err(error) = app.db.release_midjourney(task.id).await {
                tracing::warn!(%error, task = task.id, "freeing a Midjourney task failed");
            }
        }
    }
}
