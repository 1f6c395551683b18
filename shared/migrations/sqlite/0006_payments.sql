-- Taking money (SQLite). Kept column-for-column identical to ../mysql/0006_payments.sql.
-- Amounts of money are integer cents of `currency`; quota is in quota units (500 000 = 1 USD).

-- Redemption codes, with new-api's columns. status: 1 enabled, 2 disabled, 3 used.
-- The unique `key` finds a code; `status` flips 1 -> 3 once, by a conditional UPDATE, in the
-- transaction that credits the code.
CREATE TABLE redemptions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        BIGINT       NOT NULL DEFAULT 0,
    `key`          VARCHAR(64)  NOT NULL UNIQUE,
    status         BIGINT       NOT NULL DEFAULT 1,
    name           VARCHAR(64)  NOT NULL DEFAULT '',
    quota          BIGINT       NOT NULL DEFAULT 0,
    created_time   BIGINT       NOT NULL DEFAULT 0,
    redeemed_time  BIGINT       NOT NULL DEFAULT 0,
    used_user_id   BIGINT       NOT NULL DEFAULT 0,
    expired_time   BIGINT       NOT NULL DEFAULT 0
);
CREATE INDEX idx_redemptions_name ON redemptions (name);
CREATE INDEX idx_redemptions_used_user ON redemptions (used_user_id);

-- Top-up orders (new-api's `top_ups`). status: pending -> success | expired | failed, never
-- back. `quota` is what the order credits, fixed when it is created; `money_cents` is what the
-- gateway must report as paid. `gateway_trade_no` is the gateway's own id of the payment.
CREATE TABLE top_ups (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           BIGINT       NOT NULL,
    amount            BIGINT       NOT NULL DEFAULT 0,
    quota             BIGINT       NOT NULL DEFAULT 0,
    money_cents       BIGINT       NOT NULL DEFAULT 0,
    currency          VARCHAR(8)   NOT NULL DEFAULT '',
    trade_no          VARCHAR(255) NOT NULL UNIQUE,
    gateway_trade_no  VARCHAR(255) NOT NULL DEFAULT '',
    payment_method    VARCHAR(50)  NOT NULL DEFAULT '',
    payment_provider  VARCHAR(50)  NOT NULL DEFAULT '',
    status            VARCHAR(16)  NOT NULL DEFAULT 'pending',
    create_time       BIGINT       NOT NULL DEFAULT 0,
    complete_time     BIGINT       NOT NULL DEFAULT 0
);
CREATE INDEX idx_top_ups_user_time ON top_ups (user_id, create_time);

-- Every gateway callback that credited something, unique per provider and event: a replay of
-- the same event cannot insert a second row, so it cannot credit twice.
CREATE TABLE payment_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    provider    VARCHAR(32)  NOT NULL,
    event_id    VARCHAR(255) NOT NULL,
    trade_no    VARCHAR(255) NOT NULL DEFAULT '',
    created_at  BIGINT       NOT NULL,
    UNIQUE (provider, event_id)
);
