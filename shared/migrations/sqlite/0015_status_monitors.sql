-- identical to ../mysql/0015_status_monitors.sql but for the id columns and table options.

-- Seed 001's status monitors: what the public status page shows. kind 'http' GETs target (a
-- URL; up on 2xx/3xx within timeout_secs), kind 'channel' sends the channel test's minimal chat
-- request through channel target (an id). The control plane checks each enabled monitor every
-- interval_secs; the last outcome is kept on the monitor, every outcome in status_checks.
CREATE TABLE status_monitors (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             VARCHAR(128) NOT NULL,
    kind             VARCHAR(16)  NOT NULL,
    target           VARCHAR(512) NOT NULL,
    interval_secs    BIGINT       NOT NULL DEFAULT 60,
    timeout_secs     BIGINT       NOT NULL DEFAULT 10,
    enabled          BIGINT       NOT NULL DEFAULT 1,
    public           BIGINT       NOT NULL DEFAULT 1,
    sort_order       BIGINT       NOT NULL DEFAULT 0,
    last_status      VARCHAR(16)  NOT NULL DEFAULT 'unknown',
    last_checked_at  BIGINT       NOT NULL DEFAULT 0,
    last_latency_ms  BIGINT       NOT NULL DEFAULT 0,
    last_message     VARCHAR(512) NOT NULL DEFAULT '',
    created_at       BIGINT       NOT NULL DEFAULT 0,
    updated_at       BIGINT       NOT NULL DEFAULT 0
);

CREATE TABLE status_checks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id  BIGINT       NOT NULL,
    checked_at  BIGINT       NOT NULL,
    up          BIGINT       NOT NULL,
    latency_ms  BIGINT       NOT NULL DEFAULT 0,
    message     VARCHAR(512) NOT NULL DEFAULT ''
);
CREATE INDEX idx_status_checks_monitor_time ON status_checks (monitor_id, checked_at);
