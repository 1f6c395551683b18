-- identical to ../sqlite/0009_usage_hourly.sql.

-- Per-hour usage aggregates, written by the settlement batch in the same transaction as the log
-- rows: one row per hour x user x key x model x channel x group. Statistics and dashboards read
-- these instead of scanning the logs. `hour` is the unix second the hour starts at; `requests`
-- counts relayed (consume) requests, `errors` failed ones; quota and tokens are consume sums.
CREATE TABLE usage_hourly (
    id                 BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    hour               BIGINT       NOT NULL,
    user_id            BIGINT       NOT NULL,
    token_id           BIGINT       NOT NULL,
    model_name         VARCHAR(255) NOT NULL,
    channel_id         BIGINT       NOT NULL,
    `group`            VARCHAR(64)  NOT NULL,
    requests           BIGINT       NOT NULL DEFAULT 0,
    errors             BIGINT       NOT NULL DEFAULT 0,
    prompt_tokens      BIGINT       NOT NULL DEFAULT 0,
    completion_tokens  BIGINT       NOT NULL DEFAULT 0,
    cached_tokens      BIGINT       NOT NULL DEFAULT 0,
    quota              BIGINT       NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX uq_usage_hourly_key
    ON usage_hourly (hour, user_id, token_id, model_name, channel_id, `group`);
CREATE INDEX idx_usage_hourly_user_hour ON usage_hourly (user_id, hour);
CREATE INDEX idx_usage_hourly_model_hour ON usage_hourly (model_name, hour);
CREATE INDEX idx_usage_hourly_channel_hour ON usage_hourly (channel_id, hour);

-- The logs written before this migration, aggregated once, so that statistics over earlier
-- hours stay what they were.
INSERT INTO usage_hourly (hour, user_id, token_id, model_name, channel_id, `group`, requests,
    errors, prompt_tokens, completion_tokens, cached_tokens, quota)
SELECT created_at - created_at % 3600, user_id, token_id, model_name, channel_id, `group`,
    SUM(CASE WHEN type = 2 THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 5 THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 2 THEN prompt_tokens ELSE 0 END),
    SUM(CASE WHEN type = 2 THEN completion_tokens ELSE 0 END),
    SUM(CASE WHEN type = 2 THEN cached_tokens ELSE 0 END),
    SUM(CASE WHEN type = 2 THEN quota ELSE 0 END)
FROM logs WHERE type IN (2, 5)
GROUP BY created_at - created_at % 3600, user_id, token_id, model_name, channel_id, `group`;
