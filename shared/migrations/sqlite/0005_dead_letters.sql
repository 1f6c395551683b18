-- Settlement dead letters (SQLite): finished requests whose log row and charge the database
-- refused again and again (a row that can never be written), set aside so that they stop
-- blocking the records behind them. Shown to administrators (GET /api/log/dead_letters); the
-- full record is kept as JSON. Kept column-for-column identical to ../mysql/0005_dead_letters.sql.

CREATE TABLE settlement_dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  VARCHAR(64)  NOT NULL UNIQUE,
    user_id     BIGINT       NOT NULL,
    token_id    BIGINT       NOT NULL DEFAULT 0,
    quota       BIGINT       NOT NULL DEFAULT 0,
    attempts    BIGINT       NOT NULL DEFAULT 0,
    error       TEXT         NOT NULL,
    record      TEXT         NOT NULL,
    created_at  BIGINT       NOT NULL
);
CREATE INDEX idx_settlement_dead_letters_time ON settlement_dead_letters (created_at);
