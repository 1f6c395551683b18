//! The `tasks` table: new-api's asynchronous generation tasks (OpenAI videos). The relay
//! inserts a row when an upstream accepted a task (its charge settles with the submit's log
//! row); the poller claims unfinished rows with a lease, moves their status forward with a
//! conditional update, and gives a failed task's charge back once
//! ([`Db::fail_task_and_refund`]); the task lists read them with new-api's filters.

use super::ledger::{Movement, MovementKind, MovementOutcome, quota_text};
use super::task_leases::{LeasedTasks, TaskId};
use super::{ChangeEvent, Db, DbError, now_secs};
use crate::changes::Topic;
use sqlx::AssertSqlSafe;

/// new-api's log type of a refund.
pub const LOG_TYPE_REFUND: i64 = 6;

/// Statuses (new-api's `TaskStatus`).
pub const TASK_NOT_START: &str = "NOT_START";
pub const TASK_SUBMITTED: &str = "SUBMITTED";
pub const TASK_QUEUED: &str = "QUEUED";
pub const TASK_IN_PROGRESS: &str = "IN_PROGRESS";
pub const TASK_FAILURE: &str = "FAILURE";
pub const TASK_SUCCESS: &str = "SUCCESS";

const COLUMNS: &str = "id, created_at, updated_at, task_id, platform, user_id, username, \
     token_id, charged_token, subscription_id, task_group, channel_id, key_fingerprint, model, \
     upstream_model, upstream_task_id, quota, action, status, fail_reason, submit_time, \
     start_time, finish_time, progress, prompt, data, refunded";

/// The video and Suno tasks, polled under leases.
const LEASED: LeasedTasks = LeasedTasks {
    table: "tasks",
    columns: COLUMNS,
    also_unfinished: "",
};

impl TaskId for TaskRow {
    fn id(&self) -> i64 {
        self.id
    }
}

/// One task.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Pylon's id, the one the client knows (`task_` + random).
    pub task_id: String,
    /// new-api's platform: the channel type's number.
    pub platform: String,
    pub user_id: i64,
    pub username: String,
    pub token_id: i64,
    /// 1 when the key's own quota was charged (it is refunded too).
    pub charged_token: i64,
    /// The subscription that paid (0: the wallet).
    pub subscription_id: i64,
    pub task_group: String,
    pub channel_id: i64,
    /// The fingerprint of the channel key that created the task upstream.
    pub key_fingerprint: String,
    /// The model the client asked for.
    pub model: String,
    /// The model name sent upstream.
    pub upstream_model: String,
    pub upstream_task_id: String,
    /// What was charged.
    pub quota: i64,
    /// new-api's action: `textGenerate`, or `generate` with an input reference.
    pub action: String,
    pub status: String,
    pub fail_reason: String,
    pub submit_time: i64,
    pub start_time: i64,
    pub finish_time: i64,
    /// `"0%"` .. `"100%"`.
    pub progress: String,
    pub prompt: String,
    /// The upstream's last answer about the task (JSON), with Pylon's id in it.
    pub data: String,
    /// 1 once the charge was given back.
    pub refunded: i64,
}

impl TaskRow {
    /// Whether the task reached an end (no more polling).
    pub fn finished(&self) -> bool {
        self.status == TASK_SUCCESS || self.status == TASK_FAILURE
    }
}

/// A task to insert (the rest of the row starts empty).
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub task_id: String,
    pub platform: String,
    pub user_id: i64,
    pub username: String,
    pub token_id: i64,
    pub charged_token: bool,
    pub subscription_id: i64,
    pub group: String,
    pub channel_id: i64,
    pub key_fingerprint: String,
    pub model: String,
    pub upstream_model: String,
    pub upstream_task_id: String,
    pub quota: i64,
    pub action: String,
    pub status: String,
    pub progress: String,
    pub prompt: String,
    pub data: String,
}

/// new-api's task list filters (empty / 0: no filter).
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Only this user's tasks (the user's own list).
    pub user_id: Option<i64>,
    pub platform: String,
    pub task_id: String,
    pub status: String,
    pub action: String,
    /// Admin only.
    pub channel_id: i64,
    /// `submit_time >=`.
    pub start_timestamp: i64,
    /// `submit_time <=`.
    pub end_timestamp: i64,
}

/// What a poll found out about a task that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskProgress {
    pub status: String,
    pub progress: String,
    pub start_time: i64,
    pub finish_time: i64,
    pub data: String,
}

/// What became of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFailed {
    /// The task was marked failed now and its charge given back by `movement` (None: nothing
    /// was charged). Announce `changes` after the commit.
    Refunded {
        movement: Option<Box<Movement>>,
        changes: Vec<ChangeEvent>,
    },
    /// The task had reached an end already (another poll got there first): nothing changed.
    AlreadyFinished,
}

impl Db {
    /// Inserts an accepted task; answers its row id.
    pub async fn insert_task(&self, task: &NewTask) -> Result<i64, DbError> {
        super::check_lengths(
            "tasks",
            &[
                ("task_id", task.task_id.as_str()),
                ("model", task.model.as_str()),
                ("upstream_task_id", task.upstream_task_id.as_str()),
            ],
        )?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO tasks (created_at, updated_at, task_id, platform, user_id, username, \
             token_id, charged_token, subscription_id, task_group, channel_id, key_fingerprint, \
             model, upstream_model, upstream_task_id, quota, action, status, fail_reason, \
             submit_time, progress, prompt, data) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)",
        )
        .bind(now)
        .bind(now)
        .bind(&task.task_id)
        .bind(&task.platform)
        .bind(task.user_id)
        .bind(&task.username)
        .bind(task.token_id)
        .bind(i64::from(task.charged_token))
        .bind(task.subscription_id)
        .bind(&task.group)
        .bind(task.channel_id)
        .bind(&task.key_fingerprint)
        .bind(&task.model)
        .bind(&task.upstream_model)
        .bind(&task.upstream_task_id)
        .bind(task.quota)
        .bind(&task.action)
        .bind(&task.status)
        .bind(now)
        .bind(&task.progress)
        .bind(&task.prompt)
        .bind(&task.data)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// User `user_id`'s task `task_id` (None: unknown, or another user's).
    pub async fn user_task(&self, user_id: i64, task_id: &str) -> Result<Option<TaskRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tasks WHERE task_id = ? AND user_id = ?"
        )))
        .bind(task_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Task `task_id`, whoever owns it.
    pub async fn task(&self, task_id: &str) -> Result<Option<TaskRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tasks WHERE task_id = ?"
        )))
        .bind(task_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// User `user_id`'s tasks among `task_ids` (new-api's `GetByTaskIds`), oldest first; ids
    /// that are unknown or another user's are left out.
    pub async fn user_tasks_by_ids(
        &self,
        user_id: i64,
        task_ids: &[String],
    ) -> Result<Vec<TaskRow>, DbError> {
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; task_ids.len()].join(", ");
        let sql = format!(
            "SELECT {COLUMNS} FROM tasks WHERE user_id = ? AND task_id IN ({placeholders}) \
             ORDER BY id"
        );
        let mut rows = sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql)).bind(user_id);
        for id in task_ids {
            rows = rows.bind(id);
        }
        Ok(rows.fetch_all(self.pool()).await?)
    }

    /// One page of tasks matching `filter`, newest first, and how many match.
    pub async fn tasks_page(
        &self,
        filter: &TaskFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<TaskRow>, i64), DbError> {
        let mut conditions = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        // Placeholders are bound in one order: texts first, then integers.
        for (column, value) in [
            ("platform", &filter.platform),
            ("task_id", &filter.task_id),
            ("status", &filter.status),
            ("action", &filter.action),
        ] {
            if !value.is_empty() {
                conditions.push(format!("{column} = ?"));
                texts.push(value);
            }
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
            "SELECT {COLUMNS} FROM tasks WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?"
        );
        let mut rows = sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql));
        for text in &texts {
            rows = rows.bind(*text);
        }
        for int in &ints {
            rows = rows.bind(*int);
        }
        let rows = rows.bind(limit).bind(offset).fetch_all(self.pool()).await?;
        let sql = format!("SELECT COUNT(*) FROM tasks WHERE {condition}");
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql));
        for text in &texts {
            count = count.bind(*text);
        }
        for int in &ints {
            count = count.bind(*int);
        }
        let total = count.fetch_one(self.pool()).await?;
        Ok((rows, total))
    }

    /// Claims up to `limit` unfinished tasks for one poll, oldest first: each row is taken by
    /// a conditional update of its lease (free, or expired), so that a task is polled by one
    /// node at a time; the lease lasts `lease_secs`. Answers the rows claimed.
    pub async fn claim_unfinished_tasks(
        &self,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<TaskRow>, DbError> {
        self.claim_leased(&LEASED, limit, lease_secs).await
    }

    /// Records a poll's news about task `id` if its status is still `from_status` (another
    /// node's poll may have moved it), and frees its lease; answers whether it was written.
    pub async fn update_task_progress(
        &self,
        id: i64,
        from_status: &str,
        progress: &TaskProgress,
    ) -> Result<bool, DbError> {
        let written = sqlx::query(
            "UPDATE tasks SET status = ?, progress = ?, start_time = ?, finish_time = ?, \
             data = ?, updated_at = ?, lease_until = 0 WHERE id = ? AND status = ?",
        )
        .bind(&progress.status)
        .bind(&progress.progress)
        .bind(progress.start_time)
        .bind(progress.finish_time)
        .bind(&progress.data)
        .bind(now_secs())
        .bind(id)
        .bind(from_status)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    /// Frees the lease of task `id` (a poll that learned nothing), so the next poll takes it.
    pub async fn release_task(&self, id: i64) -> Result<(), DbError> {
        self.release_leased(&LEASED, id).await
    }

    /// Marks `task` failed with `reason` and gives its charge back, in one transaction: the
    /// conditional update (only an unfinished task fails) and the ledger movement keyed
    /// `task_refund:<task_id>` (its refund log row, new-api's type 6; the wallet or the
    /// subscription that paid, and the key when its quota was charged). However often a
    /// failure is seen, the charge comes back once.
    pub async fn fail_task_and_refund(
        &self,
        task: &TaskRow,
        reason: &str,
        data: &str,
    ) -> Result<TaskFailed, DbError> {
        let now = now_secs();
        let mut tx = self.pool().begin().await?;
        let failed = sqlx::query(
            "UPDATE tasks SET status = ?, fail_reason = ?, progress = '100%', finish_time = ?, \
             data = ?, updated_at = ?, refunded = ?, lease_until = 0 \
             WHERE id = ? AND status <> ? AND status <> ?",
        )
        .bind(TASK_FAILURE)
        .bind(reason)
        .bind(now)
        .bind(data)
        .bind(now)
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
                table: "tasks",
                row_id: task.id,
                key: format!("task_refund:{}", task.task_id),
                user_id: task.user_id,
                token_id: task.token_id,
                charged_token: task.charged_token == 1,
                subscription_id: task.subscription_id,
                quota: task.quota,
                content: format!(
                    "Async task {} failed ({}): refunded {}",
                    task.task_id,
                    task.model,
                    quota_text(task.quota)
                ),
            },
        )
        .await
    }
}

/// A charge held by a task row (`tasks` or `midjourneys`) that a failure gives back.
pub(super) struct HeldCharge {
    /// The row's table (it has `refunded`).
    pub table: &'static str,
    pub row_id: i64,
    /// The ledger movement's idempotency key.
    pub key: String,
    pub user_id: i64,
    pub token_id: i64,
    /// The key's own quota was charged (it is refunded too).
    pub charged_token: bool,
    /// The subscription that paid (0: the wallet).
    pub subscription_id: i64,
    pub quota: i64,
    /// The refund log row's content.
    pub content: String,
}

impl Db {
    /// Ends the failure `tx` began with its conditional update: when that update failed the row
    /// (`failed_rows` is 1), gives `charge` back and commits; otherwise (another poller or the
    /// upstream's success got there first) rolls back, and the money moves once.
    pub(super) async fn refund_if_failed(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        failed_rows: u64,
        charge: HeldCharge,
    ) -> Result<TaskFailed, DbError> {
        if failed_rows != 1 {
            tx.rollback().await?;
            return Ok(TaskFailed::AlreadyFinished);
        }
        let failed = self.refund_held_charge_in(&mut tx, &charge).await?;
        tx.commit().await?;
        Ok(failed)
    }

    /// Gives `charge` back inside `tx`, after the caller's conditional update marked its row
    /// failed (with `refunded = 1` when it held a charge): one ledger movement keyed
    /// `charge.key` (its refund log row, new-api's type 6; the wallet or the subscription that
    /// paid, and the key when its quota was charged). The caller commits.
    pub(super) async fn refund_held_charge_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        charge: &HeldCharge,
    ) -> Result<TaskFailed, DbError> {
        if charge.quota <= 0 {
            return Ok(TaskFailed::Refunded {
                movement: None,
                changes: Vec::new(),
            });
        }
        let now = now_secs();
        let wallet = if charge.subscription_id == 0 {
            charge.quota
        } else {
            0
        };
        let mut movement = Movement::new(
            charge.key.clone(),
            MovementKind::Refund,
            charge.user_id,
            wallet,
        )
        .with_log(LOG_TYPE_REFUND, charge.content.clone(), charge.quota);
        if charge.charged_token {
            movement = movement.with_token_delta(charge.token_id, charge.quota);
        }
        let mut outcome = self.apply_movement_in(tx, &movement).await?;
        if let MovementOutcome::Refused(refusal) = &outcome {
            // The key was deleted meanwhile: the payer still gets the money back.
            tracing::warn!(key = %charge.key, %refusal, "refunding the key failed; refunding the payer only");
            movement.token_id = None;
            movement.token_delta = None;
            outcome = self.apply_movement_in(tx, &movement).await?;
        }
        let mut changes = match outcome {
            MovementOutcome::Applied { changes, .. } => changes,
            MovementOutcome::Duplicate => {
                // Refunded before (the row was repaired by hand): the money moves once.
                return Ok(TaskFailed::Refunded {
                    movement: None,
                    changes: Vec::new(),
                });
            }
            MovementOutcome::Refused(refusal) => {
                // The user is gone: the task ends without a refund (there is no one to pay),
                // rather than being failed again at every poll.
                tracing::warn!(key = %charge.key, %refusal, "the failed task's charge cannot be refunded");
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {} SET refunded = 0 WHERE id = ?",
                    charge.table
                )))
                .bind(charge.row_id)
                .execute(&mut **tx)
                .await?;
                return Ok(TaskFailed::Refunded {
                    movement: None,
                    changes: Vec::new(),
                });
            }
        };
        if charge.subscription_id != 0 {
            sqlx::query(
                "UPDATE user_subscriptions SET amount_used = CASE WHEN amount_used > ? \
                 THEN amount_used - ? ELSE 0 END, updated_at = ? WHERE id = ?",
            )
            .bind(charge.quota)
            .bind(charge.quota)
            .bind(now)
            .bind(charge.subscription_id)
            .execute(&mut **tx)
            .await?;
            changes.push(
                super::changes::append_change_in(tx, self.dialect(), Topic::User, charge.user_id)
                    .await?,
            );
        }
        Ok(TaskFailed::Refunded {
            movement: Some(Box::new(movement)),
            changes,
        })
    }
}
