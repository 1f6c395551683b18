-- Core schema (SQLite). Kept column-for-column identical to ../mysql/0001_core.sql.
-- Money columns are 64-bit integers in quota units (500 000 = 1 USD); times are unix seconds.

CREATE TABLE users (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    username               VARCHAR(64)  NOT NULL UNIQUE,
    password               VARCHAR(255) NOT NULL DEFAULT '',
    display_name           VARCHAR(64)  NOT NULL DEFAULT '',
    role                   BIGINT       NOT NULL DEFAULT 1,
    status                 BIGINT       NOT NULL DEFAULT 1,
    email                  VARCHAR(255) NOT NULL DEFAULT '',
    github_id              VARCHAR(128) NOT NULL DEFAULT '',
    discord_id             VARCHAR(128) NOT NULL DEFAULT '',
    oidc_id                VARCHAR(255) NOT NULL DEFAULT '',
    wechat_id              VARCHAR(128) NOT NULL DEFAULT '',
    telegram_id            VARCHAR(128) NOT NULL DEFAULT '',
    linux_do_id            VARCHAR(128) NOT NULL DEFAULT '',
    access_token_hash      VARCHAR(64)  NULL UNIQUE,
    access_token_expires_at BIGINT      NOT NULL DEFAULT 0,
    quota                  BIGINT       NOT NULL DEFAULT 0,
    used_quota             BIGINT       NOT NULL DEFAULT 0,
    request_count          BIGINT       NOT NULL DEFAULT 0,
    `group`                VARCHAR(64)  NOT NULL DEFAULT 'default',
    aff_code               VARCHAR(32)  NULL UNIQUE,
    aff_count              BIGINT       NOT NULL DEFAULT 0,
    aff_quota              BIGINT       NOT NULL DEFAULT 0,
    aff_history_quota      BIGINT       NOT NULL DEFAULT 0,
    inviter_id             BIGINT       NOT NULL DEFAULT 0,
    setting                TEXT         NOT NULL DEFAULT '',
    remark                 VARCHAR(255) NOT NULL DEFAULT '',
    stripe_customer        VARCHAR(64)  NOT NULL DEFAULT '',
    created_at             BIGINT       NOT NULL DEFAULT 0,
    last_login_at          BIGINT       NOT NULL DEFAULT 0,
    deleted_at             BIGINT       NULL
);
CREATE INDEX idx_users_email ON users (email);
CREATE INDEX idx_users_inviter ON users (inviter_id);

CREATE TABLE sessions (
    id          VARCHAR(64)  NOT NULL PRIMARY KEY,
    user_id     BIGINT       NOT NULL,
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    ip          VARCHAR(64)  NOT NULL DEFAULT '',
    user_agent  VARCHAR(255) NOT NULL DEFAULT ''
);
CREATE INDEX idx_sessions_user ON sessions (user_id);
CREATE INDEX idx_sessions_expires ON sessions (expires_at);

CREATE TABLE tokens (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id               BIGINT       NOT NULL,
    name                  VARCHAR(255) NOT NULL DEFAULT '',
    key_hash              VARCHAR(64)  NOT NULL UNIQUE,
    key_ciphertext        TEXT         NOT NULL,
    status                BIGINT       NOT NULL DEFAULT 1,
    created_time          BIGINT       NOT NULL DEFAULT 0,
    accessed_time         BIGINT       NOT NULL DEFAULT 0,
    expired_time          BIGINT       NOT NULL DEFAULT -1,
    remain_quota          BIGINT       NOT NULL DEFAULT 0,
    unlimited_quota       BIGINT       NOT NULL DEFAULT 0,
    model_limits_enabled  BIGINT       NOT NULL DEFAULT 0,
    model_limits          TEXT         NOT NULL DEFAULT '',
    allow_ips             TEXT         NOT NULL DEFAULT '',
    used_quota            BIGINT       NOT NULL DEFAULT 0,
    `group`               VARCHAR(64)  NOT NULL DEFAULT '',
    cross_group_retry     BIGINT       NOT NULL DEFAULT 0
);
CREATE INDEX idx_tokens_user ON tokens (user_id);

CREATE TABLE channels (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    type                  BIGINT       NOT NULL DEFAULT 1,
    name                  VARCHAR(255) NOT NULL DEFAULT '',
    `keys`                TEXT         NOT NULL,
    key_mode              VARCHAR(16)  NOT NULL DEFAULT 'random',
    status                BIGINT       NOT NULL DEFAULT 1,
    status_reason         TEXT         NOT NULL DEFAULT '',
    base_url              VARCHAR(512) NOT NULL DEFAULT '',
    models                TEXT         NOT NULL DEFAULT '',
    `group`               VARCHAR(255) NOT NULL DEFAULT 'default',
    model_mapping         TEXT         NOT NULL DEFAULT '',
    header_override       TEXT         NOT NULL DEFAULT '',
    priority              BIGINT       NOT NULL DEFAULT 0,
    weight                BIGINT       NOT NULL DEFAULT 0,
    test_model            VARCHAR(255) NOT NULL DEFAULT '',
    openai_organization   VARCHAR(255) NOT NULL DEFAULT '',
    auto_ban              BIGINT       NOT NULL DEFAULT 1,
    tag                   VARCHAR(255) NOT NULL DEFAULT '',
    other                 TEXT         NOT NULL DEFAULT '',
    setting               TEXT         NOT NULL DEFAULT '',
    remark                VARCHAR(255) NOT NULL DEFAULT '',
    balance               DOUBLE       NOT NULL DEFAULT 0,
    balance_updated_time  BIGINT       NOT NULL DEFAULT 0,
    response_time         BIGINT       NOT NULL DEFAULT 0,
    test_time             BIGINT       NOT NULL DEFAULT 0,
    used_quota            BIGINT       NOT NULL DEFAULT 0,
    created_time          BIGINT       NOT NULL DEFAULT 0
);

CREATE TABLE abilities (
    `group`     VARCHAR(64)  NOT NULL,
    model       VARCHAR(255) NOT NULL,
    channel_id  BIGINT       NOT NULL,
    enabled     BIGINT       NOT NULL DEFAULT 1,
    priority    BIGINT       NOT NULL DEFAULT 0,
    weight      BIGINT       NOT NULL DEFAULT 0,
    tag         VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (`group`, model, channel_id)
);
CREATE INDEX idx_abilities_channel ON abilities (channel_id);

CREATE TABLE options (
    `key`  VARCHAR(128) NOT NULL PRIMARY KEY,
    value  TEXT         NOT NULL
);

CREATE TABLE logs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id         VARCHAR(64)  NOT NULL UNIQUE,
    user_id            BIGINT       NOT NULL DEFAULT 0,
    created_at         BIGINT       NOT NULL,
    type               BIGINT       NOT NULL DEFAULT 0,
    content            TEXT         NOT NULL,
    username           VARCHAR(64)  NOT NULL DEFAULT '',
    token_name         VARCHAR(255) NOT NULL DEFAULT '',
    token_id           BIGINT       NOT NULL DEFAULT 0,
    model_name         VARCHAR(255) NOT NULL DEFAULT '',
    upstream_model     VARCHAR(255) NOT NULL DEFAULT '',
    quota              BIGINT       NOT NULL DEFAULT 0,
    prompt_tokens      BIGINT       NOT NULL DEFAULT 0,
    completion_tokens  BIGINT       NOT NULL DEFAULT 0,
    cached_tokens      BIGINT       NOT NULL DEFAULT 0,
    use_time_ms        BIGINT       NOT NULL DEFAULT 0,
    ttft_ms            BIGINT       NOT NULL DEFAULT 0,
    is_stream          BIGINT       NOT NULL DEFAULT 0,
    is_estimated       BIGINT       NOT NULL DEFAULT 0,
    channel_id         BIGINT       NOT NULL DEFAULT 0,
    `group`            VARCHAR(64)  NOT NULL DEFAULT '',
    ip                 VARCHAR(64)  NOT NULL DEFAULT '',
    status_code        BIGINT       NOT NULL DEFAULT 0,
    retries            BIGINT       NOT NULL DEFAULT 0,
    other              TEXT         NOT NULL
);
CREATE INDEX idx_logs_user_time ON logs (user_id, created_at);
CREATE INDEX idx_logs_time ON logs (created_at);
CREATE INDEX idx_logs_token ON logs (token_id);
CREATE INDEX idx_logs_channel ON logs (channel_id);
CREATE INDEX idx_logs_model ON logs (model_name);

CREATE TABLE setups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    version         VARCHAR(50) NOT NULL,
    initialized_at  BIGINT      NOT NULL
);

-- Change feed: every change the hot path caches, so that every process (and, without Redis,
-- the other process on this machine) reloads what changed.
CREATE TABLE change_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    topic       VARCHAR(32) NOT NULL,
    entity_id   BIGINT      NOT NULL DEFAULT 0,
    created_at  BIGINT      NOT NULL
);
CREATE INDEX idx_change_events_time ON change_events (created_at);

-- Generated secrets shared by every node of a MySQL deployment.
CREATE TABLE secrets (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    value       VARCHAR(255) NOT NULL,
    created_at  BIGINT       NOT NULL
);
