-- Daily check-in records (SQLite). Kept column-for-column identical to ../mysql/0003_checkins.sql.
-- `day` is the calendar day (YYYY-MM-DD) in the check-in time zone; the unique key on
-- (user_id, day) is what lets exactly one of many concurrent check-ins of a day win.

CREATE TABLE checkins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT       NOT NULL,
    day         VARCHAR(10)  NOT NULL,
    quota       BIGINT       NOT NULL DEFAULT 0,
    created_at  BIGINT       NOT NULL,
    UNIQUE (user_id, day)
);
