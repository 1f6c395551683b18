-- identical to ../mysql/0023_channel_keys.sql but for the table options.

-- The state of each upstream key of a channel (new-api's multi-key channels: per-key status,
-- disabled reason and time), and its last known balance. A key is named by the SHA-256 of its
-- text, so that its state follows it when the channel's key list is edited or reordered; a
-- key without a row is enabled, its balance unknown. status: 1 enabled, 2 disabled by an
-- administrator, 3 disabled automatically (its upstream refused it). balance_micros: millionths
-- of a US dollar (exact), as of balance_updated_time (0: never checked).
CREATE TABLE channel_keys (
    channel_id            BIGINT      NOT NULL,
    key_hash              VARCHAR(64) NOT NULL,
    status                BIGINT      NOT NULL DEFAULT 1,
    disabled_reason       TEXT        NOT NULL DEFAULT '',
    disabled_time         BIGINT      NOT NULL DEFAULT 0,
    balance_micros        BIGINT      NOT NULL DEFAULT 0,
    balance_updated_time  BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, key_hash)
);
