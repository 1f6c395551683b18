-- Per-hour usage of every model, channel and group for everyone together: the usage_hourly
-- rows summed over users and keys, written by the settlement batch in the same transaction.
-- The admin's statistics and dashboard (no user or key filter) read these: at most a few rows
-- per hour, where usage_hourly holds one per active key.
CREATE TABLE usage_hourly_models (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    hour               BIGINT       NOT NULL,
    model_name         VARCHAR(255) NOT NULL,
    channel_id         BIGINT       NOT NULL,
    `group`            VARCHAR(64)  NOT NULL,
    requests           BIGINT       NOT NULL DEFAULT 0,
    errors             BIGINT       NOT NULL DEFAULT 0,
    prompt_tokens      BIGINT       NOT NULL DEFAULT 0,
    completion_tokens  BIGINT       NOT NULL DEFAULT 0,
    cached_tokens      BIGINT       NOT NULL DEFAULT 0,
    quota              BIGINT       NOT NULL DEFAULT 0,
    use_time_ms        BIGINT       NOT NULL DEFAULT 0,
    ttft_ms            BIGINT       NOT NULL DEFAULT 0,
    ttft_count         BIGINT       NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_usage_hourly_models_key
    ON usage_hourly_models (hour, model_name, channel_id, `group`);
CREATE INDEX idx_usage_hourly_models_model_hour ON usage_hourly_models (model_name, hour);
CREATE INDEX idx_usage_hourly_models_channel_hour ON usage_hourly_models (channel_id, hour);

-- What was aggregated before, summed once.
INSERT INTO usage_hourly_models (hour, model_name, channel_id, `group`, requests, errors,
    prompt_tokens, completion_tokens, cached_tokens, quota, use_time_ms, ttft_ms, ttft_count)
SELECT hour, model_name, channel_id, `group`, SUM(requests), SUM(errors), SUM(prompt_tokens),
    SUM(completion_tokens), SUM(cached_tokens), SUM(quota), SUM(use_time_ms), SUM(ttft_ms),
    SUM(ttft_count)
FROM usage_hourly GROUP BY hour, model_name, channel_id, `group`;
