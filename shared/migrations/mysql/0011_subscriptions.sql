-- identical to ../sqlite/0011_subscriptions.sql but for the id columns and table options.

-- new-api's subscription plans: a price for a quota granted per period (total_amount quota
-- units, 0 = unlimited) over a duration, reset every quota_reset_period. The price is kept in
-- integer cents of currency (new-api keeps a float); times are unix seconds.
CREATE TABLE subscription_plans (
    id                          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title                       VARCHAR(128) NOT NULL,
    subtitle                    VARCHAR(255) NOT NULL DEFAULT '',
    price_cents                 BIGINT       NOT NULL DEFAULT 0,
    currency                    VARCHAR(8)   NOT NULL DEFAULT 'USD',
    duration_unit               VARCHAR(16)  NOT NULL DEFAULT 'month',
    duration_value              BIGINT       NOT NULL DEFAULT 1,
    custom_seconds              BIGINT       NOT NULL DEFAULT 0,
    enabled                     BIGINT       NOT NULL DEFAULT 1,
    sort_order                  BIGINT       NOT NULL DEFAULT 0,
    stripe_price_id             VARCHAR(128) NOT NULL DEFAULT '',
    creem_product_id            VARCHAR(128) NOT NULL DEFAULT '',
    max_purchase_per_user       BIGINT       NOT NULL DEFAULT 0,
    upgrade_group               VARCHAR(64)  NOT NULL DEFAULT '',
    total_amount                BIGINT       NOT NULL DEFAULT 0,
    quota_reset_period          VARCHAR(16)  NOT NULL DEFAULT 'never',
    quota_reset_custom_seconds  BIGINT       NOT NULL DEFAULT 0,
    created_at                  BIGINT       NOT NULL DEFAULT 0,
    updated_at                  BIGINT       NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One user's subscription: a copy of its plan's quota and periods, taken when it was granted
-- (editing the plan changes no subscription). grant_key is the grant's idempotency key
-- (order:<trade_no>, admin:<random>), so an order activates at most one subscription.
-- amount_used grows with the relayed requests it pays for (written by the proxies' settlement
-- batches) and returns to 0 at next_reset_time.
CREATE TABLE user_subscriptions (
    id                          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id                     BIGINT       NOT NULL,
    plan_id                     BIGINT       NOT NULL,
    grant_key                   VARCHAR(191) NOT NULL,
    amount_total                BIGINT       NOT NULL DEFAULT 0,
    amount_used                 BIGINT       NOT NULL DEFAULT 0,
    start_time                  BIGINT       NOT NULL DEFAULT 0,
    end_time                    BIGINT       NOT NULL DEFAULT 0,
    status                      VARCHAR(32)  NOT NULL DEFAULT 'active',
    source                      VARCHAR(32)  NOT NULL DEFAULT 'order',
    quota_reset_period          VARCHAR(16)  NOT NULL DEFAULT 'never',
    quota_reset_custom_seconds  BIGINT       NOT NULL DEFAULT 0,
    last_reset_time             BIGINT       NOT NULL DEFAULT 0,
    next_reset_time             BIGINT       NOT NULL DEFAULT 0,
    upgrade_group               VARCHAR(64)  NOT NULL DEFAULT '',
    created_at                  BIGINT       NOT NULL DEFAULT 0,
    updated_at                  BIGINT       NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX uniq_user_subscriptions_grant ON user_subscriptions (grant_key);
CREATE INDEX idx_user_subscriptions_user ON user_subscriptions (user_id, status, end_time);
CREATE INDEX idx_user_subscriptions_reset ON user_subscriptions (status, next_reset_time);

-- An order that buys a subscription plan (0: the order credits quota).
ALTER TABLE top_ups ADD COLUMN subscription_plan_id BIGINT NOT NULL DEFAULT 0;
