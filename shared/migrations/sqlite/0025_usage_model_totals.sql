-- The same as ../mysql/0025_usage_model_totals.sql in SQLite's words (WITHOUT ROWID tables,
-- strftime for the time).

-- Everyone's usage per hour and model (usage_hourly_models summed over channels and groups)
-- and per minute and model, written by the settlement batch in the same transaction as the log
-- rows. The dashboard (`/api/data/`) and everyone's statistics read the hours: one row per
-- model and hour, however many channels serve it. The minutes answer the whole minutes of a
-- statistic's partial hours, which the logs answered row by row before.
CREATE TABLE usage_model_hours (
    hour               BIGINT       NOT NULL,
    model_name         VARCHAR(255) NOT NULL,
    requests           BIGINT       NOT NULL DEFAULT 0,
    errors             BIGINT       NOT NULL DEFAULT 0,
    prompt_tokens      BIGINT       NOT NULL DEFAULT 0,
    completion_tokens  BIGINT       NOT NULL DEFAULT 0,
    cached_tokens      BIGINT       NOT NULL DEFAULT 0,
    quota              BIGINT       NOT NULL DEFAULT 0,
    use_time_ms        BIGINT       NOT NULL DEFAULT 0,
    ttft_ms            BIGINT       NOT NULL DEFAULT 0,
    ttft_count         BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, model_name)
) WITHOUT ROWID;

CREATE TABLE usage_model_minutes (
    minute             BIGINT       NOT NULL,
    model_name         VARCHAR(255) NOT NULL,
    requests           BIGINT       NOT NULL DEFAULT 0,
    errors             BIGINT       NOT NULL DEFAULT 0,
    prompt_tokens      BIGINT       NOT NULL DEFAULT 0,
    completion_tokens  BIGINT       NOT NULL DEFAULT 0,
    cached_tokens      BIGINT       NOT NULL DEFAULT 0,
    quota              BIGINT       NOT NULL DEFAULT 0,
    use_time_ms        BIGINT       NOT NULL DEFAULT 0,
    ttft_ms            BIGINT       NOT NULL DEFAULT 0,
    ttft_count         BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, model_name)
) WITHOUT ROWID;

-- Since when an aggregate level holds every record (unix seconds). The hours are summed once
-- from what was aggregated before, so they hold everything; the minutes start empty at the
-- next whole minute (summing them from the logs would read every log row at the upgrade):
-- the partial hours before it are still read from the logs.
CREATE TABLE usage_levels (
    name   VARCHAR(64) NOT NULL PRIMARY KEY,
    since  BIGINT      NOT NULL
);
INSERT INTO usage_levels (name, since)
VALUES ('model_minutes', (CAST(strftime('%s', 'now') AS INTEGER) / 60 + 1) * 60);

INSERT INTO usage_model_hours (hour, model_name, requests, errors, prompt_tokens,
    completion_tokens, cached_tokens, quota, use_time_ms, ttft_ms, ttft_count)
SELECT hour, model_name, SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(completion_tokens),
    SUM(cached_tokens), SUM(quota), SUM(use_time_ms), SUM(ttft_ms), SUM(ttft_count)
FROM usage_hourly_models GROUP BY hour, model_name;
