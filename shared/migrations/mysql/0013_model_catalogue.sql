-- identical to ../sqlite/0013_model_catalogue.sql but for the id column and the table options.

-- new-api's model meta: vendors, and one record per model name (or name rule) with what the
-- consoles show of it. Prices are not here: they stay in the price options (ModelRatio,
-- ModelPrice, ...), the one source the relay charges by. Times are unix seconds.
CREATE TABLE vendors (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(128)  NOT NULL,
    description   TEXT          NOT NULL,
    icon          VARCHAR(128)  NOT NULL DEFAULT '',
    status        BIGINT        NOT NULL DEFAULT 1,
    created_time  BIGINT        NOT NULL DEFAULT 0,
    updated_time  BIGINT        NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX uk_vendors_name ON vendors (name);

-- name_rule: 0 exact, 1 prefix, 2 contains, 3 suffix (new-api's NameRule*).
CREATE TABLE models (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    model_name     VARCHAR(128)  NOT NULL,
    description    TEXT          NOT NULL,
    icon           VARCHAR(128)  NOT NULL DEFAULT '',
    tags           VARCHAR(255)  NOT NULL DEFAULT '',
    vendor_id      BIGINT        NOT NULL DEFAULT 0,
    endpoints      TEXT          NOT NULL,
    status         BIGINT        NOT NULL DEFAULT 1,
    sync_official  BIGINT        NOT NULL DEFAULT 1,
    name_rule      BIGINT        NOT NULL DEFAULT 0,
    created_time   BIGINT        NOT NULL DEFAULT 0,
    updated_time   BIGINT        NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX uk_models_model_name ON models (model_name);
CREATE INDEX idx_models_vendor_id ON models (vendor_id);
