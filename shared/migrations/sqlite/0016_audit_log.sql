-- identical to ../mysql/0016_audit_log.sql but for the id column and table options.

-- Every change an administrator asked for (a non-GET call of an admin or root route): who,
-- which route and path, from where, when, and whether it succeeded (the answer's status and
-- new-api's success flag). Request bodies are not kept: they may carry secrets.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT       NOT NULL,
    username    VARCHAR(64)  NOT NULL DEFAULT '',
    method      VARCHAR(8)   NOT NULL,
    route       VARCHAR(191) NOT NULL,
    path        VARCHAR(512) NOT NULL,
    status      BIGINT       NOT NULL,
    success     BIGINT       NOT NULL,
    ip          VARCHAR(64)  NOT NULL DEFAULT '',
    created_at  BIGINT       NOT NULL
);
CREATE INDEX idx_audit_log_user ON audit_log (user_id, id);
CREATE INDEX idx_audit_log_time ON audit_log (created_at);
