-- Two-factor authentication (TOTP + backup codes) and passkeys (MySQL/MariaDB). Kept
-- column-for-column identical to ../sqlite/0002_two_factor_passkeys.sql. Times are unix seconds.

-- One TOTP secret per user. `secret` is sealed (crypto::seal with the key-encryption secret);
-- the row exists from setup on and counts only once `enabled` = 1. `last_used_step` is the
-- 30-second step of the last accepted code, so that a code is never accepted twice.
CREATE TABLE two_factor (
    user_id         BIGINT       NOT NULL PRIMARY KEY,
    secret          TEXT         NOT NULL,
    enabled         BIGINT       NOT NULL DEFAULT 0,
    last_used_step  BIGINT       NOT NULL DEFAULT 0,
    created_at      BIGINT       NOT NULL DEFAULT 0,
    enabled_at      BIGINT       NOT NULL DEFAULT 0,
    last_used_at    BIGINT       NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Single-use backup codes, stored as Argon2id hashes; `used_at` > 0 once spent.
CREATE TABLE two_factor_backup_codes (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT       NOT NULL,
    code_hash   VARCHAR(255) NOT NULL,
    used_at     BIGINT       NOT NULL DEFAULT 0,
    created_at  BIGINT       NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_two_factor_backup_codes_user ON two_factor_backup_codes (user_id);

-- WebAuthn credentials. `credential_id` is the base64url credential id, unique through
-- `credential_hash` (its SHA-256, hex: ids may be up to 1023 bytes, too long for an index);
-- `passkey` is webauthn-rs's serialized `Passkey` (public key, counter, flags).
CREATE TABLE passkeys (
    id               BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id          BIGINT       NOT NULL,
    credential_hash  VARCHAR(64)  NOT NULL UNIQUE,
    credential_id    TEXT         NOT NULL,
    name             VARCHAR(64)  NOT NULL DEFAULT '',
    passkey          TEXT         NOT NULL,
    created_at       BIGINT       NOT NULL DEFAULT 0,
    last_used_at     BIGINT       NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_passkeys_user ON passkeys (user_id);
