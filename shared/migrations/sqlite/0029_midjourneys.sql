-- identical to ../mysql/0029_midjourneys.sql but for the id column and table options.

-- new-api's Midjourney tasks (midjourney-proxy): one row per submission the relay made, with
-- new-api's columns (mj_id is the upstream's task id, the one clients see; submit_time,
-- start_time and finish_time are milliseconds). A submission the upstream accepted (code 1,
-- 21 or 22) was charged with its log row; a task that fails later gives the charge back once
-- (refunded = 1, in the same transaction as the ledger movement keyed
-- `mj_refund:<id>`). lease_until: the poller of one node owns the row until then, so several
-- nodes never poll one task at once. key_fingerprint names the channel key that made it.
CREATE TABLE midjourneys (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at        BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL,
    code              BIGINT       NOT NULL DEFAULT 0,
    user_id           BIGINT       NOT NULL,
    username          VARCHAR(64)  NOT NULL DEFAULT '',
    token_id          BIGINT       NOT NULL DEFAULT 0,
    charged_token     BIGINT       NOT NULL DEFAULT 0,
    subscription_id   BIGINT       NOT NULL DEFAULT 0,
    task_group        VARCHAR(64)  NOT NULL DEFAULT '',
    action            VARCHAR(40)  NOT NULL DEFAULT '',
    mj_id             VARCHAR(191) NOT NULL DEFAULT '',
    model             VARCHAR(191) NOT NULL DEFAULT '',
    prompt            TEXT         NOT NULL,
    prompt_en         TEXT         NOT NULL,
    description       TEXT         NOT NULL,
    state             TEXT         NOT NULL,
    submit_time       BIGINT       NOT NULL DEFAULT 0,
    start_time        BIGINT       NOT NULL DEFAULT 0,
    finish_time       BIGINT       NOT NULL DEFAULT 0,
    image_url         TEXT         NOT NULL,
    video_url         TEXT         NOT NULL,
    video_urls        TEXT         NOT NULL,
    status            VARCHAR(20)  NOT NULL DEFAULT '',
    progress          VARCHAR(30)  NOT NULL DEFAULT '',
    fail_reason       TEXT         NOT NULL,
    channel_id        BIGINT       NOT NULL DEFAULT 0,
    key_fingerprint   VARCHAR(64)  NOT NULL DEFAULT '',
    quota             BIGINT       NOT NULL DEFAULT 0,
    buttons           TEXT         NOT NULL,
    properties        TEXT         NOT NULL,
    refunded          BIGINT       NOT NULL DEFAULT 0,
    lease_until       BIGINT       NOT NULL DEFAULT 0
);
CREATE INDEX idx_midjourneys_user ON midjourneys (user_id, id);
CREATE INDEX idx_midjourneys_mj_id ON midjourneys (mj_id);
CREATE INDEX idx_midjourneys_progress ON midjourneys (progress, id);
CREATE INDEX idx_midjourneys_submit_time ON midjourneys (submit_time);
CREATE INDEX idx_midjourneys_channel ON midjourneys (channel_id);
