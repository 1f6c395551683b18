-- Daily check-in records (MySQL/MariaDB). Kept column-for-column identical to
-- ../sqlite/0003_checkins.sql. `day` is the calendar day (YYYY-MM-DD) in the check-in time
-- zone; the unique key on (user_id, day) is what lets exactly one of many concurrent check-ins
-- of a day win.

CREATE TABLE checkins (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT       NOT NULL,
    day         VARCHAR(10)  NOT NULL,
    quota       BIGINT       NOT NULL DEFAULT 0,
    created_at  BIGINT       NOT NULL,
    UNIQUE KEY uniq_checkins_user_day (user_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
