//! The `midjourneys` table: new-api's Midjourney tasks (midjourney-proxy). The relay inserts a
//! row per submission (a charged one when the upstream accepted it); the poller claims
//! unfinished rows with a lease, records what the upstream's `list-by-condition` says with a
//! conditional update, and gives a failed task's charge back once
//! ([`Db::fail_midjourney_and_refund`], through the same refund as the `tasks` table's); the
//! lists read them with new-api's filters; midjourney-proxy's callback finds its task by the
//! upstream id and has it polled at once. Times are milliseconds, as in new-api.

use super::ledger::quota_text;
use super::task_leases::{LeasedTasks, TaskId};
use super::tasks::{HeldCharge, TASK_FAILURE, TASK_SUCCESS, TaskFailed};
use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

const COLUMNS: &str = "id, created_at, updated_at, code, user_id, username, token_id, \
     charged_token, subscription_id, task_group, action, mj_id, model, prompt, prompt_en, \
     description, state, submit_time, start_time, finish_time, image_url, video_url, video_urls, \
     status, progress, fail_reason, channel_id, key_fingerprint, quota, buttons, properties, \
     refunded";

/// The Midjourney tasks, polled under leases (a task at 100% is finished whatever its status).
const LEASED: LeasedTasks = LeasedTasks {
    table: "midjourneys",
    columns: COLUMNS,
    also_unfinished: "progress <> '100%' AND",
};

impl TaskId for MidjourneyRow {
    fn id(&self) -> i64 {
        self.id
    }
}

/// One Midjourney task.
#[derive(Debug, Clone, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct MidjourneyRow {
    pub id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The upstream's answer code to the submission (1 once a poll saw the task).
    pub code: i64,
    pub user_id: i64,
    pub username: String,
    pub token_id: i64,
    /// 1 when the key's own quota was charged (it is refunded too).
    pub charged_token: i64,
    /// The subscription that paid (0: the wallet).
    pub subscription_id: i64,
    pub task_group: String,
    /// midjourney-proxy's action: `IMAGINE`, `UPSCALE`, ...
    pub action: String,
    /// The upstream's task id (the one the client knows).
    pub mj_id: String,
    /// The model name the action was billed as (`mj_imagine`, ...).
    pub model: String,
    pub prompt: String,
    pub prompt_en: String,
    pub description: String,
    pub state: String,
    pub submit_time: i64,
    pub start_time: i64,
    pub finish_time: i64,
    pub image_url: String,
    pub video_url: String,
    /// JSON array of `{"url": ...}`, or empty.
    pub video_urls: String,
    pub status: String,
    pub progress: String,
    pub fail_reason: String,
    pub channel_id: i64,
    /// The fingerprint of the channel key that made the task upstream.
    pub key_fingerprint: String,
    /// What was charged.
    pub quota: i64,
    /// JSON array of the upstream's buttons, or empty.
    pub buttons: String,
    /// JSON object, or empty.
    pub properties: String,
    pub refunded: i64,
}

impl MidjourneyRow {
    /// Whether the task reached an end (no more polling).
    pub fn finished(&self) -> bool {
        self.progress == "100%" || self.status == TASK_SUCCESS || self.status == TASK_FAILURE
    }
}

/// new-api's Midjourney list filters (empty / 0: no filter).
#[derive(Debug, Clone, Default)]
pub struct MidjourneyFilter {
    /// Only this user's tasks (the user's own list).
    pub user_id: Option<i64>,
    /// Admin only.
    pub channel_id: i64,
    pub mj_id: String,
    /// `submit_time >=`.
    pub start_timestamp: i64,
    /// `submit_time <=`.
    pub end_timestamp: i64,
}

/// What a poll found out about a task that did not fail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MidjourneyUpdate {
    pub status: String,
    pub progress: String,
    pub prompt_en: String,
    pub state: String,
    pub submit_time: i64,
    pub start_time: i64,
    pub finish_time: i64,
    pub image_url: String,
    pub video_url: String,
    pub video_urls: String,
    pub fail_reason: String,
    pub buttons: String,
    pub properties: String,
}

impl Db {
    /// Inserts a submission's row (its `id` is ignored); answers its row id.
    pub async fn insert_midjourney(&self, task: &MidjourneyRow) -> Result<i64, DbError> {
        super::check_lengths(
            "midjourneys",
            &[
                ("mj_id", task.mj_id.as_str()),
                ("model", task.model.as_str()),
                ("action", task.action.as_str()),
            ],
        )?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO midjourneys (created_at, updated_at, code, user_id, username, token_id, \
             charged_token, subscription_id, task_group, action, mj_id, model, prompt, prompt_en, \
             description, state, submit_time, start_time, finish_time, image_url, video_url, \
             video_urls, status, progress, fail_reason, channel_id, key_fingerprint, quota, \
             buttons, properties) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
             ?, ?, ?, ?)",
        )
        .bind(now)
        .bind(now)
        .bind(task.code)
        .bind(task.user_id)
        .bind(&task.username)
        .bind(task.token_id)
        .bind(task.charged_token)
        .bind(task.subscription_id)
        .bind(&task.task_group)
        .bind(&task.action)
        .bind(&task.mj_id)
        .bind(&task.model)
        .bind(&task.prompt)
        .bind(&task.prompt_en)
        .bind(&task.description)
        .bind(&task.state)
        .bind(task.submit_time)
        .bind(task.start_time)
        .bind(task.finish_time)
        .bind(&task.image_url)
        .bind(&task.video_url)
        .bind(&task.video_urls)
        .bind(&task.status)
        .bind(&task.progress)
        .bind(&task.fail_reason)
        .bind(task.channel_id)
        .bind(&task.key_fingerprint)
        .bind(task.quota)
        .bind(&task.buttons)
        .bind(&task.properties)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// User `user_id`'s task `mj_id` (None: unknown, or another user's).
    pub async fn user_midjourney(
        &self,
        user_id: i64,
        mj_id: &str,
    ) -> Result<Option<MidjourneyRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM midjourneys WHERE user_id = ? AND mj_id = ? ORDER BY id LIMIT 1"
        )))
        .bind(user_id)
        .bind(mj_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// User `user_id`'s tasks among `mj_ids` (at most 1000 ids are looked at).
    pub async fn user_midjourneys(
        &self,
        user_id: i64,
        mj_ids: &[String],
    ) -> Result<Vec<MidjourneyRow>, DbError> {
        let ids: Vec<&String> = mj_ids.iter().take(1000).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT {COLUMNS} FROM midjourneys WHERE user_id = ? AND mj_id IN ({marks}) ORDER BY id"
        );
        let mut query = sqlx::query_as::<_, MidjourneyRow>(AssertSqlSafe(sql)).bind(user_id);
        for id in ids {
            query = query.bind(id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Task `mj_id`, whoever owns it (the image route).
    pub async fn midjourney_by_mj_id(&self, mj_id: &str) -> Result<Option<MidjourneyRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM midjourneys WHERE mj_id = ? ORDER BY id LIMIT 1"
        )))
        .bind(mj_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The first `limit` tasks with upstream id `mj_id`, whoever owns them (the callback: two
    /// channels may give one id).
    pub async fn midjourneys_by_mj_id(
        &self,
        mj_id: &str,
        limit: i64,
    ) -> Result<Vec<MidjourneyRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM midjourneys WHERE mj_id = ? ORDER BY id LIMIT ?"
        )))
        .bind(mj_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// One page of tasks matching `filter`, newest first, and how many match.
    pub async fn midjourneys_page(
        &self,
        filter: &MidjourneyFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<MidjourneyRow>, i64), DbError> {
        let mut conditions = Vec::new();
        let mut text: Option<&str> = None;
        let mut ints: Vec<i64> = Vec::new();
        // Placeholders are bound in one order: the text first, then integers.
        if !filter.mj_id.is_empty() {
            conditions.push("mj_id = ?".to_string());
            text = Some(&filter.mj_id);
        }
        if let Some(user_id) = filter.user_id {
            conditions.push("user_id = ?".into());
            ints.push(user_id);
        } else if filter.channel_id != 0 {
            conditions.push("channel_id = ?".into());
            ints.push(filter.channel_id);
        }
        if filter.start_timestamp != 0 {
            conditions.push("submit_time >= ?".into());
            ints.push(filter.start_timestamp);
        }
        if filter.end_timestamp != 0 {
            conditions.push("submit_time <= ?".into());
            ints.push(filter.end_timestamp);
        }
        let condition = if conditions.is_empty() {
            "1 = 1".to_string()
        } else {
            conditions.join(" AND ")
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM midjourneys WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?"
        );
        let mut rows = sqlx::query_as::<_, MidjourneyRow>(AssertSqlSafe(sql));
        if let Some(text) = text {
            rows = rows.bind(text);
        }
        for int in &ints {
            rows = rows.bind(*int);
        }
        let rows = rows.bind(limit).bind(offset).fetch_all(self.pool()).await?;
        let sql = format!("SELECT COUNT(*) FROM midjourneys WHERE {condition}");
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql));
        if let Some(text) = text {
            count = count.bind(text);
        }
        for int in &ints {
            count = count.bind(*int);
        }
        let total = count.fetch_one(self.pool()).await?;
        Ok((rows, total))
    }

    /// Claims up to `limit` unfinished tasks for one poll, oldest first, each by a conditional
    /// update of its lease (free, or expired), so that one node at a time polls a task; the
    /// lease lasts `lease_secs`. Answers the rows claimed.
    pub async fn claim_unfinished_midjourneys(
        &self,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<MidjourneyRow>, DbError> {
        self.claim_leased(&LEASED, limit, lease_secs).await
    }

    /// Records a poll's news about task `id` if its status is still `from_status` (another
    /// node's poll may have moved it), and frees its lease; answers whether it was written.
    pub async fn update_midjourney(
        &self,
        id: i64,
        from_status: &str,
        update: &MidjourneyUpdate,
    ) -> Result<bool, DbError> {
        let written = sqlx::query(
            "UPDATE midjourneys SET code = 1, status = ?, progress = ?, prompt_en = ?, state = ?, \
             submit_time = ?, start_time = ?, finish_time = ?, image_url = ?, video_url = ?, \
             video_urls = ?, fail_reason = ?, buttons = ?, properties = ?, updated_at = ?, \
             lease_until = 0 WHERE id = ? AND status = ? AND progress <> '100%'",
        )
        .bind(&update.status)
        .bind(&update.progress)
        .bind(&update.prompt_en)
        .bind(&update.state)
        .bind(update.submit_time)
        .bind(update.start_time)
        .bind(update.finish_time)
        .bind(&update.image_url)
        .bind(&update.video_url)
        .bind(&update.video_urls)
        .bind(&update.fail_reason)
        .bind(&update.buttons)
        .bind(&update.properties)
        .bind(now_secs())
        .bind(id)
        .bind(from_status)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    /// Frees the lease of task `id` (a poll that learned nothing), so the next poll takes it.
    pub async fn release_midjourney(&self, id: i64) -> Result<(), DbError> {
        self.release_leased(&LEASED, id).await
    }

    /// Marks `task` failed with `update` (its status is set to `FAILURE` and its progress to
    /// `100%`) and gives its charge back, in one transaction: the conditional update (only an
    /// unfinished task fails) and the ledger movement keyed `mj_refund:<id>`. However often a
    /// failure is seen, and by however many pollers, the charge comes back once.
    pub async fn fail_midjourney_and_refund(
        &self,
        task: &MidjourneyRow,
        update: &MidjourneyUpdate,
    ) -> Result<TaskFailed, DbError> {
        let mut tx = self.pool().begin().await?;
        let failed = sqlx::query(
            "UPDATE midjourneys SET status = ?, progress = '100%', prompt_en = ?, state = ?, \
             start_time = ?, finish_time = ?, image_url = ?, video_url = ?, video_urls = ?, \
             fail_reason = ?, buttons = ?, properties = ?, updated_at = ?, refunded = ?, \
             lease_until = 0 WHERE id = ? AND progress <> '100%' AND status <> ? AND status <> ?",
        )
        .bind(TASK_FAILURE)
        .bind(&update.prompt_en)
        .bind(&update.state)
        .bind(update.start_time)
        .bind(update.finish_time)
        .bind(&update.image_url)
        .bind(&update.video_url)
        .bind(&update.video_urls)
        .bind(&update.fail_reason)
        .bind(&update.buttons)
        .bind(&update.properties)
        .bind(now_secs())
        .bind(i64::from(task.quota > 0))
        .bind(task.id)
        .bind(TASK_SUCCESS)
        .bind(TASK_FAILURE)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.refund_if_failed(
            tx,
            failed,
            HeldCharge {
                table: "midjourneys",
                row_id: task.id,
                key: format!("mj_refund:{}", task.id),
                user_id: task.user_id,
                token_id: task.token_id,
                charged_token: task.charged_token == 1,
                subscription_id: task.subscription_id,
                quota: task.quota,
                content: format!(
                    "Midjourney task {} failed ({}): refunded {}",
                    task.mj_id,
                    task.model,
                    quota_text(task.quota)
                ),
            },
        )
        .await
    }
}
