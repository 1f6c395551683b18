-- Taking money (MySQL/MariaDB). Kept column-for-column identical to ../sqlite/0006_payments.sql.
-- Amounts of money are integer cents of `currency`; quota is in quota units (500 000 = 1 USD).

-- Redemption codes, with new-api's columns. status: 1 enabled, 2 disabled, 3 used.
-- The unique `key` finds a code; `status` flips 1 -> 3 once, by a conditional UPDATE, in the
-- transaction that credits the code.
CREATE TABLE redemptions (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id        BIGINT       NOT NULL DEFAULT 0,
    `key`          VARCHAR(64)  NOT NULL,
    status         BIGINT       NOT NULL DEFAULT 1,
    name           VARCHAR(64)  NOT NULL DEFAULT '',
    quota          BIGINT       NOT NULL DEFAULT 0,
    created_time   BIGINT       NOT NULL DEFAULT 0,
    redeemed_time  BIGINT       NOT NULL DEFAULT 0,
    used_user_id   BIGINT       NOT NULL DEFAULT 0,
    expired_time   BIGINT       NOT NULL DEFAULT 0,
    UNIQUE KEY uniq_redemptions_key (`key`),
    KEY idx_redemptions_name (name),
    KEY idx_redemptions_used_user (used_user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Top-up orders (new-api's `top_ups`). status: pending -> success | expired | failed, never
-- back. `quota` is what the order credits, fixed when it is created; `money_cents` is what the
-- gateway must report as paid. `gateway_trade_no` is the gateway's own id of the payment.
CREATE TABLE top_ups (
    id                BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id           BIGINT       NOT NULL,
    amount            BIGINT       NOT NULL DEFAULT 0,
    quota             BIGINT       NOT NULL DEFAULT 0,
    money_cents       BIGINT       NOT NULL DEFAULT 0,
    currency          VARCHAR(8)   NOT NULL DEFAULT '',
    trade_no          VARCHAR(255) NOT NULL,
    gateway_trade_no  VARCHAR(255) NOT NULL DEFAULT '',
    payment_method    VARCHAR(50)  NOT NULL DEFAULT '',
    payment_provider  VARCHAR(50)  NOT NULL DEFAULT '',
    status            VARCHAR(16)  NOT NULL DEFAULT 'pending',
    create_time       BIGINT       NOT NULL DEFAULT 0,
    complete_time     BIGINT       NOT NULL DEFAULT 0,
    UNIQUE KEY uniq_top_ups_trade_no (trade_no),
    KEY idx_top_ups_user_time (user_id, create_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every gateway callback that credited something, unique per provider and event: a replay of
-- the same event cannot insert a second row, so it cannot credit twice.
CREATE TABLE payment_events (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    provider    VARCHAR(32)  NOT NULL,
    event_id    VARCHAR(255) NOT NULL,
    trade_no    VARCHAR(255) NOT NULL DEFAULT '',
    created_at  BIGINT       NOT NULL,
    UNIQUE KEY uniq_payment_events (provider, event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
