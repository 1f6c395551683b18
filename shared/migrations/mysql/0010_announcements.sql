-- identical to ../sqlite/0010_announcements.sql.

-- Seed 001's announcements: administrators write them, everyone reads the enabled ones (lower
-- sort_order first). Times are unix seconds.
CREATE TABLE announcements (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title         VARCHAR(255)  NOT NULL,
    content       TEXT          NOT NULL,
    enabled       BIGINT        NOT NULL DEFAULT 1,
    sort_order    BIGINT        NOT NULL DEFAULT 0,
    created_time  BIGINT        NOT NULL DEFAULT 0,
    updated_time  BIGINT        NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_announcements_enabled_order ON announcements (enabled, sort_order);
