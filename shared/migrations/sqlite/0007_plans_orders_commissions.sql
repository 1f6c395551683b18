-- Plans, their orders and referral commissions (SQLite). Kept column-for-column identical to
-- ../mysql/0007_plans_orders_commissions.sql.

-- An order may be for a plan (seed 002's `/api/orders`): the plan's quota and price are
-- copied onto the order when it is created, so later edits of the plan change no order.
-- status gains `cancelled` (by its owner, while pending).
ALTER TABLE top_ups ADD COLUMN plan_id BIGINT NOT NULL DEFAULT 0;
-- Expiring the pending orders past their time is one UPDATE on (status, create_time).
CREATE INDEX idx_top_ups_status_time ON top_ups (status, create_time);

-- Plans: products with a quota and a price, managed by administrators. `code` is the
-- client-facing id (`starter_monthly`).
CREATE TABLE plans (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    code          VARCHAR(64)   NOT NULL UNIQUE,
    name          VARCHAR(128)  NOT NULL DEFAULT '',
    description   VARCHAR(1024) NOT NULL DEFAULT '',
    quota         BIGINT        NOT NULL,
    price_cents   BIGINT        NOT NULL,
    currency      VARCHAR(8)    NOT NULL DEFAULT 'CNY',
    enabled       BIGINT        NOT NULL DEFAULT 1,
    sort_order    BIGINT        NOT NULL DEFAULT 0,
    created_time  BIGINT        NOT NULL DEFAULT 0,
    updated_time  BIGINT        NOT NULL DEFAULT 0
);

-- One row per paid order of an invitee that earned their inviter a commission, written in the
-- transaction that credits the order; unique per order, so a commission is paid once.
CREATE TABLE referral_commissions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    inviter_id    BIGINT        NOT NULL,
    invitee_id    BIGINT        NOT NULL,
    trade_no      VARCHAR(255)  NOT NULL UNIQUE,
    order_quota   BIGINT        NOT NULL,
    rate          VARCHAR(32)   NOT NULL,
    commission    BIGINT        NOT NULL,
    created_time  BIGINT        NOT NULL
);
CREATE INDEX idx_referral_commissions_inviter ON referral_commissions (inviter_id, created_time);
