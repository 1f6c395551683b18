//! The task poller (new-api's `UpdateTaskBulk` for OpenAI videos): every
//! `control_plane.task_poll_ms`, claims the unfinished tasks (a lease per row, so that with
//! several control planes each task is asked about by one node at a time), asks each task's
//! upstream `GET {base}/v1/videos/{upstream id}` with the channel key that created it, and
//! records what it says. A failed task, a task whose channel is gone, and one unfinished for
//! [`TIMEOUT_SECS`] are marked failed and refunded in one transaction, once
//! (`Db::fail_task_and_refund`); the caches follow after the commit. Suno's tasks are asked
//! about in batches, per channel, by [`super::suno_poll`].

use crate::app::AppState;
use crate::ledger;
use pylon_shared::cache::balances::{self, Account};
use pylon_shared::db::{
    TASK_IN_PROGRESS, TASK_SUCCESS, TaskFailed, TaskProgress, TaskRow, now_secs,
};
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks;
use serde_json::{Value, json};
use std::time::Duration;

/// Tasks claimed per poll.
const BATCH: i64 = 50;
/// How long a claim lasts: a node that died mid-poll frees its tasks after this.
const LEASE_SECS: i64 = 120;
/// How long one upstream question may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A task unfinished this long after its submission fails (and is refunded).
pub(super) const TIMEOUT_SECS: i64 = 24 * 3600;
/// At most this much of an upstream answer is read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Runs until the process ends.
pub async fn run(app: AppState) {
    let every = Duration::from_millis(app.config.control_plane.task_poll_ms.max(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "the task poller cannot build its HTTP client");
            return;
        }
    };
    loop {
        tick.tick().await;
        let claimed = match app.db.claim_unfinished_tasks(BATCH, LEASE_SECS).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "claiming unfinished tasks failed");
                continue;
            }
        };
        let (suno, claimed): (Vec<&TaskRow>, Vec<&TaskRow>) = claimed
            .iter()
            .partition(|task| task.platform == pylon_shared::suno::PLATFORM);
        if !suno.is_empty() {
            super::suno_poll::poll_all(&app, &client, &suno).await;
        }
        for task in claimed {
            if let Err(error) = poll(&app, &client, task).await {
                tracing::warn!(%error, task = %task.task_id, "polling a task failed");
                if let Err(error) = app.db.release_task(task.id).await {
                    tracing::warn!(%error, task = %task.task_id, "freeing a task failed");
                }
            }
        }
    }
}

/// Asks the upstream about `task` and records the answer.
async fn poll(app: &AppState, client: &reqwest::Client, task: &TaskRow) -> anyhow::Result<()> {
    if task.submit_time < now_secs() - TIMEOUT_SECS {
        return fail(app, task, "task timed out", &task.data).await;
    }
    let Some(channel) = app.db.channel_by_id(task.channel_id).await? else {
        return fail(
            app,
            task,
            "the channel that ran the task was deleted",
            &task.data,
        )
        .await;
    };
    let keys = upstream_keys::split(channel.r#type, &channel.keys);
    let Some(key) = video_tasks::channel_key(&keys, &task.key_fingerprint) else {
        anyhow::bail!("channel #{} has no key", channel.id);
    };
    let url = format!(
        "{}/v1/videos/{}",
        video_tasks::base_url(&channel.base_url),
        task.upstream_task_id
    );
    let mut response = client.get(&url).bearer_auth(key).send().await?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            anyhow::bail!("the upstream's answer is larger than {MAX_ANSWER_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        // Asked again at the next poll (a task that never answers times out).
        anyhow::bail!(
            "the upstream answered {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    let mut answer: Value = serde_json::from_slice(&body)?;
    let state = video_tasks::upstream_state(&answer);
    if let Some(object) = answer.as_object_mut() {
        // The client only ever sees Pylon's id and the model it asked for.
        object.insert("id".into(), json!(task.task_id));
        object.remove("task_id");
        object.insert("model".into(), json!(task.model));
    }
    let data = video_tasks::stored_data(&answer);
    let Some(new_status) = state.status else {
        tracing::info!(task = %task.task_id, "the upstream's task status is unknown; asking again later");
        app.db.release_task(task.id).await?;
        return Ok(());
    };
    if new_status == pylon_shared::db::TASK_FAILURE {
        return fail(app, task, &state.reason, &data).await;
    }
    let now = now_secs();
    let started = matches!(new_status, TASK_IN_PROGRESS | TASK_SUCCESS);
    let progress = TaskProgress {
        status: new_status.to_string(),
        progress: if new_status == TASK_SUCCESS {
            "100%".to_string()
        } else {
            state.progress.unwrap_or_else(|| task.progress.clone())
        },
        start_time: if task.start_time == 0 && started {
            now
        } else {
            task.start_time
        },
        finish_time: if new_status == TASK_SUCCESS { now } else { 0 },
        data,
    };
    if !app
        .db
        .update_task_progress(task.id, &task.status, &progress)
        .await?
    {
        tracing::info!(task = %task.task_id, "the task moved meanwhile; its news were dropped");
    }
    Ok(())
}

/// Marks `task` failed and refunds it (once), then brings the caches along.
pub(super) async fn fail(
    app: &AppState,
    task: &TaskRow,
    reason: &str,
    data: &str,
) -> anyhow::Result<()> {
    match app.db.fail_task_and_refund(task, reason, data).await? {
        TaskFailed::Refunded { movement, changes } => {
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
                tracing::warn!(%error, task = %task.task_id, "mirroring a subscription refund failed");
            }
            tracing::info!(task = %task.task_id, %reason, quota = task.quota, "task failed; refunded");
        }
        TaskFailed::AlreadyFinished => {
            tracing::info!(task = %task.task_id, "the task had ended already; nothing refunded");
        }
    }
    Ok(())
}
