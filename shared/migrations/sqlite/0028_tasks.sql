-- identical to ../mysql/0028_tasks.sql but for the id column and table options.

-- new-api's asynchronous generation tasks (OpenAI videos): one row per task an upstream
-- accepted. task_id is Pylon's own id (`task_` + random), the one clients see;
-- upstream_task_id the upstream's, asked for by the poller. The charge was settled with the
-- submit's log row; a failed task gives it back once (refunded = 1, in the same transaction as
-- the ledger movement keyed `task_refund:<task_id>`). lease_until: the poller of one node owns
-- the row until then (a conditional UPDATE claims it), so several nodes never poll one task at
-- once. key_fingerprint names the channel key that created the task (its upstream owner).
CREATE TABLE tasks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at        BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL,
    task_id           VARCHAR(191) NOT NULL,
    platform          VARCHAR(30)  NOT NULL DEFAULT '',
    user_id           BIGINT       NOT NULL,
    username          VARCHAR(64)  NOT NULL DEFAULT '',
    token_id          BIGINT       NOT NULL DEFAULT 0,
    charged_token     BIGINT       NOT NULL DEFAULT 0,
    subscription_id   BIGINT       NOT NULL DEFAULT 0,
    task_group        VARCHAR(64)  NOT NULL DEFAULT '',
    channel_id        BIGINT       NOT NULL DEFAULT 0,
    key_fingerprint   VARCHAR(64)  NOT NULL DEFAULT '',
    model             VARCHAR(191) NOT NULL DEFAULT '',
    upstream_model    VARCHAR(191) NOT NULL DEFAULT '',
    upstream_task_id  VARCHAR(191) NOT NULL DEFAULT '',
    quota             BIGINT       NOT NULL DEFAULT 0,
    action            VARCHAR(40)  NOT NULL DEFAULT '',
    status            VARCHAR(20)  NOT NULL DEFAULT '',
    fail_reason       TEXT         NOT NULL,
    submit_time       BIGINT       NOT NULL DEFAULT 0,
    start_time        BIGINT       NOT NULL DEFAULT 0,
    finish_time       BIGINT       NOT NULL DEFAULT 0,
    progress          VARCHAR(20)  NOT NULL DEFAULT '',
    prompt            TEXT         NOT NULL,
    data              TEXT         NOT NULL,
    refunded          BIGINT       NOT NULL DEFAULT 0,
    lease_until       BIGINT       NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uniq_tasks_task_id ON tasks (task_id);
CREATE INDEX idx_tasks_user ON tasks (user_id, id);
CREATE INDEX idx_tasks_status ON tasks (status, id);
CREATE INDEX idx_tasks_submit_time ON tasks (submit_time);
CREATE INDEX idx_tasks_channel ON tasks (channel_id);
