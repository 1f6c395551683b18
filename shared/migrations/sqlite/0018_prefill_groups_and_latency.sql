-- identical to ../mysql/0018_prefill_groups_and_latency.sql but for the id column and table options.

-- new-api's prefill groups: named, reusable lists (of models, tags or endpoints, by type) that
-- the console offers when filling in a channel or a key. items is a JSON array of strings.
CREATE TABLE prefill_groups (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          VARCHAR(64)  NOT NULL,
    type          VARCHAR(32)  NOT NULL,
    items         TEXT         NOT NULL,
    description   VARCHAR(255) NOT NULL DEFAULT '',
    created_time  BIGINT       NOT NULL,
    updated_time  BIGINT       NOT NULL
);
CREATE UNIQUE INDEX uq_prefill_groups_name ON prefill_groups (name);
CREATE INDEX idx_prefill_groups_type ON prefill_groups (type, updated_time);

-- Latency in the per-hour aggregates, for new-api's performance metrics: the summed request
-- time of the relayed requests, and the summed time to first token of the streamed ones with
-- how many those are. Hours aggregated before this migration read as unmeasured (0).
ALTER TABLE usage_hourly ADD COLUMN use_time_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN ttft_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN ttft_count BIGINT NOT NULL DEFAULT 0;
