-- identical to ../mysql/0021_user_channels.sql but for the id columns and table options.

-- Seed 001's per-channel group multipliers: {"group": "1.5"} JSON (exact decimal text, each
-- > 0; empty: none). The price of a request a channel serves for a user of that group is
-- multiplied by it, on top of the group ratio.
ALTER TABLE channels ADD COLUMN group_multipliers VARCHAR(4096) NOT NULL DEFAULT '';

-- One row per model of a channel (seed 001's channel-models), kept in step with the channel's
-- comma-separated `models` by every write to the channel (like `abilities`), so that a model of
-- a channel has an id. Its group multipliers win over the channel's for that model.
CREATE TABLE channel_models (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id         BIGINT        NOT NULL,
    model              VARCHAR(255)  NOT NULL,
    group_multipliers  VARCHAR(4096) NOT NULL DEFAULT '',
    created_time       BIGINT        NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_channel_models ON channel_models (channel_id, model);

-- Seed 001's user channels: the tier of channels customers see, above the upstream channels.
-- multiplier: exact decimal text (> 0); algorithm: priority, round_robin or
-- weighted_round_robin; allowed_groups: comma-separated, empty: every group.
CREATE TABLE user_channels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            VARCHAR(128)  NOT NULL,
    description     VARCHAR(1024) NOT NULL DEFAULT '',
    status          BIGINT        NOT NULL DEFAULT 1,
    multiplier      VARCHAR(32)   NOT NULL DEFAULT '1',
    algorithm       VARCHAR(32)   NOT NULL DEFAULT 'priority',
    allowed_groups  VARCHAR(1024) NOT NULL DEFAULT '',
    created_time    BIGINT        NOT NULL DEFAULT 0,
    updated_time    BIGINT        NOT NULL DEFAULT 0
);

-- The upstream channels of a user channel, each with its priority and weight there.
CREATE TABLE user_channel_members (
    user_channel_id  BIGINT NOT NULL,
    channel_id       BIGINT NOT NULL,
    priority         BIGINT NOT NULL DEFAULT 0,
    weight           BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (user_channel_id, channel_id)
);
CREATE INDEX idx_user_channel_members_channel ON user_channel_members (channel_id);

-- The user channels a key is limited to (comma-separated ids, in the order they are tried);
-- empty: the key routes as any key of its group.
ALTER TABLE tokens ADD COLUMN user_channel_ids VARCHAR(1024) NOT NULL DEFAULT '';
