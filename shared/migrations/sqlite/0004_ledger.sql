-- The ledger (SQLite): one row per money movement that is not a relayed request (admin
-- adjustments, check-ins, invitation rewards and transfers, sign-up grants, top-ups,
-- redemptions, refunds, key limit changes). Kept column-for-column identical to
-- ../mysql/0004_ledger.sql. The unique `idempotency_key` is what makes a movement happen at
-- most once: the same key twice changes nothing. Relay charges are not here: their log rows
-- carry a unique `request_id` and settle in batches (see shared/src/db/settlement.rs).

CREATE TABLE ledger_movements (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key  VARCHAR(191) NOT NULL UNIQUE,
    kind             VARCHAR(32)  NOT NULL,
    user_id          BIGINT       NOT NULL,
    token_id         BIGINT       NULL,
    user_delta       BIGINT       NOT NULL DEFAULT 0,
    aff_delta        BIGINT       NOT NULL DEFAULT 0,
    token_delta      BIGINT       NOT NULL DEFAULT 0,
    log_id           BIGINT       NULL,
    created_at       BIGINT       NOT NULL
);
CREATE INDEX idx_ledger_movements_user_time ON ledger_movements (user_id, created_at);
