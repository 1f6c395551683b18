//! The Suno half of the task poller (new-api's `UpdateSunoTasks`): the claimed unfinished Suno
//! tasks are asked about in one `POST {base}/suno/fetch` (`{"ids": [upstream ids]}`) per
//! channel and key that made them, and each task the answer names takes its status, times and
//! data; a failed one is marked failed and refunded once (`poll::fail`), as is a task whose
//! channel was deleted or that stayed unfinished too long. Tasks the answer leaves out, and
//! those of an upstream that could not be asked, are freed for the next poll.

use super::poll::{TIMEOUT_SECS, fail};
use crate::app::AppState;
use pylon_shared::db::{
    TASK_FAILURE, TASK_IN_PROGRESS, TASK_SUCCESS, TaskProgress, TaskRow, now_secs,
};
use pylon_shared::suno::{self, FetchedTask};
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks;
use std::collections::BTreeMap;

/// At most this much of an upstream answer is read.
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Polls the claimed Suno `tasks`.
pub async fn poll_all(app: &AppState, client: &reqwest::Client, tasks: &[&TaskRow]) {
    let mut batches: BTreeMap<(i64, &str), Vec<&TaskRow>> = BTreeMap::new();
    let now = now_secs();
    for task in tasks {
        if task.submit_time < now - TIMEOUT_SECS {
            finish_failed(app, task, "task timed out", &task.data).await;
        } else {
            batches
                .entry((task.channel_id, task.key_fingerprint.as_str()))
                .or_default()
                .push(task);
        }
    }
    for ((channel_id, fingerprint), batch) in batches {
        if let Err(error) = poll_batch(app, client, channel_id, fingerprint, &batch).await {
            tracing::warn!(%error, channel = channel_id, tasks = batch.len(), "polling Suno tasks failed");
            release(app, &batch).await;
        }
    }
}

/// Asks channel `channel_id` about `batch` (made with the key of `fingerprint`).
async fn poll_batch(
    app: &AppState,
    client: &reqwest::Client,
    channel_id: i64,
    fingerprint: &str,
    batch: &[&TaskRow],
) -> anyhow::Result<()> {
    let Some(channel) = app.db.channel_by_id(channel_id).await? else {
        for task in batch {
            finish_failed(
                app,
                task,
                "the channel that ran the task was deleted",
                &task.data,
            )
            .await;
        }
        return Ok(());
    };
    let keys = upstream_keys::split(channel.r#type, &channel.keys);
    let Some(key) = video_tasks::channel_key(&keys, fingerprint) else {
        anyhow::bail!("channel #{} has no key", channel.id);
    };
    let ids: Vec<&str> = batch.iter().map(|t| t.upstream_task_id.as_str()).collect();
    let url = format!("{}/suno/fetch", suno::base_url(&channel.base_url));
    let mut response = client
        .post(&url)
        .bearer_auth(key)
        .json(&serde_json::json!({ "ids": ids }))
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
        // Asked again at the next poll (a task that never answers times out).
        anyhow::bail!(
            "the upstream answered {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    let fetched = suno::fetch_answer(&body).map_err(anyhow::Error::msg)?;
    let by_id: BTreeMap<&str, &FetchedTask> = fetched
        .iter()
        .map(|item| (item.task_id.as_str(), item))
        .collect();
    for task in batch {
        match by_id.get(task.upstream_task_id.as_str()) {
            Some(item) => {
                if let Err(error) = record(app, task, item).await {
                    tracing::warn!(%error, task = %task.task_id, "recording a Suno task's news failed");
                    release(app, &[task]).await;
                }
            }
            None => {
                tracing::info!(task = %task.task_id, "the upstream did not answer about the task; asking again later");
                release(app, &[task]).await;
            }
        }
    }
    Ok(())
}

/// Records what the upstream said about `task`.
async fn record(app: &AppState, task: &TaskRow, item: &FetchedTask) -> anyhow::Result<()> {
    let data = if item.data.is_null() {
        task.data.clone()
    } else {
        suno::stored_data(&item.data)
    };
    let Some(status) = item.status() else {
        tracing::info!(task = %task.task_id, status = %item.status, "the upstream's task status is unknown; asking again later");
        app.db.release_task(task.id).await?;
        return Ok(());
    };
    if status == TASK_FAILURE {
        return fail(app, task, &item.reason(), &data).await;
    }
    let now = now_secs();
    let started = matches!(status, TASK_IN_PROGRESS | TASK_SUCCESS);
    let start_time = if item.start_time > 0 {
        item.start_time
    } else if task.start_time == 0 && started {
        now
    } else {
        task.start_time
    };
    let finish_time = match (status == TASK_SUCCESS, item.finish_time) {
        (true, 0) => now,
        (true, at) => at,
        (false, _) => 0,
    };
    let progress = TaskProgress {
        status: status.to_string(),
        progress: if status == TASK_SUCCESS {
            "100%".to_string()
        } else {
            task.progress.clone()
        },
        start_time,
        finish_time,
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

/// Fails and refunds `task`, or frees it for the next poll when that could not be done.
async fn finish_failed(app: &AppState, task: &TaskRow, reason: &str, data: &str) {
    if let Err(error) = fail(app, task, reason, data).await {
        tracing::warn!(%error, task = %task.task_id, "failing a Suno task failed");
        release(app, &[task]).await;
    }
}

/// Frees `tasks` for the next poll.
async fn release(app: &AppState, tasks: &[&TaskRow]) {
    for task in tasks {
        if let Err(error) = app.db.release_task(task.id).await {
            tracing::warn!(%error, task = %task.task_id, "freeing a task failed");
        }
    }
}
