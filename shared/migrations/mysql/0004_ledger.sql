-- The ledger (MySQL/MariaDB): one row per money movement that is not a relayed request (admin
-- adjustments, check-ins, invitation rewards and transfers, sign-up grants, top-ups,
-- redemptions, refunds, key limit changes). Kept column-for-column identical to
-- ../sqlite/0004_ledger.sql. The unique `idempotency_key` is what makes a movement happen at
-- most once: the same key twice changes nothing. Relay charges are not here: their log rows
-- carry a unique `request_id` and settle in batches (see shared/src/db/settlement.rs).
-- VARCHAR(191): the longest utf8mb4 column an InnoDB unique index takes on older row formats.

CREATE TABLE ledger_movements (
    id               BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    idempotency_key  VARCHAR(191) NOT NULL,
    kind             VARCHAR(32)  NOT NULL,
    user_id          BIGINT       NOT NULL,
    token_id         BIGINT       NULL,
    user_delta       BIGINT       NOT NULL DEFAULT 0,
    aff_delta        BIGINT       NOT NULL DEFAULT 0,
    token_delta      BIGINT       NOT NULL DEFAULT 0,
    log_id           BIGINT       NULL,
    created_at       BIGINT       NOT NULL,
    UNIQUE KEY uniq_ledger_movements_key (idempotency_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_ledger_movements_user_time ON ledger_movements (user_id, created_at);
